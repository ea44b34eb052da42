# THUMOS14 with ActionFormer's I3D features (2048-d, 16-frame snippets every 4 frames) for localisation and
# CLIP frame features (tools/data/extract_clip_features.py) for recognition. Zero-shot split: 75/25, split 0;
# change with --cfg-options split.ratio=50 split.index=3 (applied to every dataset; see docs/data.md).
data_root = 'data/thumos14'
ann_file = data_root + '/annotations/thumos14.json'
split = dict(mode='zero_shot', root='data/splits', dataset='THUMOS14', ratio=75, index=0)

loc_features = dict(format='npy', root=data_root + '/i3d_features', prefix='', suffix='.npy', dim=2048,
                    timebase=dict(stride=4, window=16, fps=None))
clip_features = dict(format='hdf5', path=data_root + '/clip_features/ViT-B-16.h5', dim=512,
                     timebase=dict(sample_fps=1.0, offset_s=0.0))

# Test-video exclusions: an explicit list (empty by default: all 212 test videos are kept).
blocked_videos = []

train_dataset = dict(
    type='TADDataset', ann_file=ann_file, subset='Validation', role='train', split=split,
    loc_features=loc_features, clip_features=clip_features, window_size=128, window_overlap=0.75,
    min_coverage=0.5, blocked_videos=blocked_videos, pipeline=[dict(type='PackTADInputs')])
test_dataset = dict(
    type='TADDataset', ann_file=ann_file, subset='Test', role='test', split=split,
    loc_features=loc_features, clip_features=clip_features, window_size=128, window_overlap=0.25,
    blocked_videos=blocked_videos, test_mode=True, pipeline=[dict(type='PackTADInputs')])

# num_workers='auto': from the usable cores, 0 on <= 2 (zeetad.engine.runner_setup.loader_workers).
train_dataloader = dict(
    batch_size=16, num_workers='auto', persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True), collate_fn=dict(type='zeetad.tad_collate'),
    dataset=train_dataset)
test_dataloader = dict(  # read once: persistent workers would only delay the exit
    batch_size=32, num_workers='auto', persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='zeetad.tad_collate'),
    dataset=test_dataset)
val_dataloader = dict(test_dataloader, persistent_workers=True)  # read every val_interval epochs

tiou_thresholds = (0.3, 0.4, 0.5, 0.6, 0.7)
test_evaluator = dict(type='TADMetric', tiou_thresholds=tiou_thresholds,
                      nms=dict(method='gaussian', sigma=0.5, min_score=0.001, max_seg_num=200),
                      pre_nms_topk=2000, max_per_video=200)
val_evaluator = test_evaluator
