# ZEAL (training-free) on the synthetic THUMOS14-shaped dataset, zero-shot split 0 of 75/25.
#   python tools/data/make_synthetic_data.py
#   python tools/zeal/zeal_synthetic_confidences.py configs/zeal/zeal_synthetic_thumos14.py   # stands in for the LVLM
#   python tools/test.py configs/zeal/zeal_synthetic_thumos14.py none
# The synthetic CLIP frame features (2 fps) are the localisation stream, one item per whole video; the
# confidences are ground-truth-shaped bumps plus noise (`synthetic_noise`), NOT an LVLM's output.
_base_ = ['./zeal_thumos14.py']

data_root = 'data/synthetic_thumos14'
ann_file = data_root + '/annotations.json'
synthetic_noise = 0.3
frame_features = dict(format='hdf5', path=data_root + '/features/clip.h5', dim=256,
                      timebase=dict(sample_fps=2.0, offset_s=0.0))
test_dataloader = dict(dataset=dict(ann_file=ann_file, loc_features=dict(_delete_=True, **frame_features)))
model = dict(
    queries_file=data_root + '/zeal/queries.json',
    confidences_file=data_root + '/zeal/confidences_synthetic.h5',
    # The tiny random CLIP that generated the synthetic frame features (tools/data/make_synthetic_data.py).
    text_encoder=dict(_delete_=True, type='CLIPTextEncoder', model_name='zeetad-tiny-clip',
                      model_config_file='configs/_base_/clip/zeetad-tiny-clip.json',
                      pretrained=data_root + '/clip/tiny_clip.pt'))
