# Synthetic features over the real THUMOS14 annotations (tools/data/make_synthetic_data.py): 128-d snippet features
# on I3D's grid (16-frame windows every 4 frames) and 256-d tiny-CLIP frame features at 2 fps.
_base_ = ['./thumos14_i3d_clip.py']
data_root = 'data/synthetic_thumos14'
ann_file = data_root + '/annotations.json'
loc_features = dict(format='npy', root=data_root + '/features/loc', suffix='.npy', dim=128,
                    timebase=dict(stride=4, window=16, fps=None))
clip_features = dict(format='hdf5', path=data_root + '/features/clip.h5', dim=256,
                     timebase=dict(sample_fps=2.0, offset_s=0.0))
# The tiny CLIP whose text embeddings generated the data (random weights, written by the generator).
text_encoder = dict(type='CLIPTextEncoder', model_name='zeetad-tiny-clip',
                    model_config_file='configs/_base_/clip/zeetad-tiny-clip.json',
                    pretrained=data_root + '/clip/tiny_clip.pt', num_adapter_blocks=2, adapter_width=64)

train_dataloader = dict(dataset=dict(ann_file=ann_file, loc_features=loc_features, clip_features=clip_features))
test_dataloader = dict(dataset=dict(ann_file=ann_file, loc_features=loc_features, clip_features=clip_features))
val_dataloader = test_dataloader
