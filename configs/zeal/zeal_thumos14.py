# ZEAL (training-free zero-shot localisation, arXiv 2410.14340) on THUMOS14, zero-shot split 0 of 75/25.
# Stages (each cached and resumable):
#   1. python tools/zeal/zeal_queries.py data/thumos14/annotations/thumos14.json --config configs/zeal/zeal_thumos14.py
#          (LLM endpoint from `queries_llm` below or $OPENAI_BASE_URL, $ZEAL_LLM_MODEL)
#   2-4. python tools/zeal/zeal_lvlm.py configs/zeal/zeal_thumos14.py --videos data/thumos14/videos \
#          --lvlm /models/llava-onevision-qwen2-7b-ov-hf      # writes model.confidences_file
#   5. python tools/test.py configs/zeal/zeal_thumos14.py none
# Change the split with --cfg-options split.ratio=50 split.index=3 (scored classes follow the split).
_base_ = ['../_base_/datasets/thumos14_i3d_clip.py', '../_base_/default_runtime.py']

# CLIP frame features at 1 fps (tools/data/extract_clip_features.py) are the only feature stream, and each
# video is one item (window_size above any video's length), so ZEAL sees whole videos.
frame_features = dict(format='hdf5', path='data/thumos14/clip_features/ViT-B-16.h5', dim=512,
                      timebase=dict(sample_fps=1.0, offset_s=0.0))
test_dataloader = dict(
    batch_size=8, num_workers='auto', persistent_workers=False,
    dataset=dict(loc_features=dict(_delete_=True, **frame_features), clip_features=None, window_size=1000000,
                 window_overlap=0.0))
train_dataloader = None
val_dataloader = None
val_cfg = None
val_evaluator = None
test_cfg = dict(type='TestLoop')

model = dict(
    type='ZEAL',
    queries_file='data/thumos14/zeal/queries.json',
    confidences_file='data/thumos14/zeal/lvlm_confidences.h5',
    # Must be the CLIP that produced the frame features.
    text_encoder=dict(type='CLIPTextEncoder', model_name='ViT-B-16', pretrained='openai'),
    class_filter=dict(mode='top_k', top_k=3, num_key_frames=8),  # mode='labels': ZEAL's oracle variant
    # ZEAL's published defaults (see docs/zeal.md).
    intervals=dict(eps=0.05, top_p=0.35, min_gap=5, max_length=0.95, boundary_weight=0.1, min_class_mean=0.1,
                   nms_sigma=1.3, nms_min_score=0.1, merge_iou=0.9, merge_min_score=0.0),
    on_missing='error')

# Stage 1 backend for `tools/zeal/zeal_queries.py CLASSES --config THIS`: any OpenAI-compatible server (vLLM, Ollama,
# OpenAI); None takes $OPENAI_BASE_URL / $ZEAL_LLM_MODEL; the key is read from the named variable, never stored here.
queries_llm = dict(type='openai', base_url=None, model=None, api_key_env='OPENAI_API_KEY', timeout=60.0,
                   max_retries=3, json_mode=True)

# ZEAL already ran Soft-NMS and merging per class: the metric only collects and scores.
test_evaluator = dict(type='TADMetric', tiou_thresholds=(0.3, 0.4, 0.5, 0.6, 0.7), nms=dict(method=None),
                      pre_nms_topk=None, max_per_video=None)
