# ZEETAD on THUMOS14 with CLIP-stream-only localisation: CLIP ViT-B/16 frame features at 2 fps are both the
# localisation input and the recognition stream, so tools/detect.py goes from raw video to detections with
# nothing but open_clip. Features: python tools/data/extract_clip_features.py VIDEOS \
#     data/thumos14/clip_features/ViT-B-16_2fps.h5 --model ViT-B-16 --pretrained openai --fps 2
_base_ = ['./zeetad_thumos14_i3d_clip.py']

loc_stream = 'clip'
clip_stream = dict(format='hdf5', path='data/thumos14/clip_features/ViT-B-16_2fps.h5', dim=512,
                   timebase=dict(sample_fps=2.0, offset_s=0.0))
clip_window = 64  # 32 s at 2 fps

train_dataloader = dict(dataset=dict(loc_features=dict(_delete_=True, **clip_stream), clip_features=clip_stream,
                                     window_size=clip_window, window_overlap=0.75))
test_dataloader = dict(dataset=dict(loc_features=dict(_delete_=True, **clip_stream), clip_features=clip_stream,
                                    window_size=clip_window, window_overlap=0.25))
val_dataloader = test_dataloader
model = dict(localizer=dict(loc_dim=512, clip_dim=512, fuse_clip=False))

custom_hooks = [dict(type='TADVisualizationHook', modes=('test',), num_timelines=3)]
