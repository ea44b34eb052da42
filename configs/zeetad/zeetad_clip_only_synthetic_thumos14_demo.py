# CLIP-stream-only localisation on the synthetic THUMOS14-shaped data: the demo model (same width, depth and
# schedule as zeetad_synthetic_thumos14_demo.py) whose localisation input is the CLIP frame stream itself
# instead of the I3D-like snippet features, so raw video -> detections needs nothing but open_clip
# (tools/detect.py extracts the stream). Compare with the I3D-fed demo (docs/detect.md):
#   python tools/train.py configs/zeetad/zeetad_clip_only_synthetic_thumos14_demo.py --work-dir work_dirs/clip_only_demo
#   python tools/test.py configs/zeetad/zeetad_clip_only_synthetic_thumos14_demo.py \
#       work_dirs/clip_only_demo/epoch_5.pth --work-dir work_dirs/clip_only_demo
_base_ = ['./zeetad_synthetic_thumos14_demo.py']

# Marks the localisation stream as CLIP frames: tools/detect.py then extracts it with the config's CLIP.
loc_stream = 'clip'
clip_stream = dict(format='hdf5', path='data/synthetic_thumos14/features/clip.h5', dim=256,
                   timebase=dict(sample_fps=2.0, offset_s=0.0))
# 64 frames at 2 fps = 32 s windows (the I3D demo's 128 snippets every 4 frames cover ~17 s).
clip_window = 64

train_dataloader = dict(dataset=dict(loc_features=dict(_delete_=True, **clip_stream), window_size=clip_window,
                                     window_overlap=0.5))
test_dataloader = dict(dataset=dict(loc_features=dict(_delete_=True, **clip_stream), window_size=clip_window,
                                    window_overlap=0.25))
val_dataloader = test_dataloader
# The same stream twice would only be added to itself: no fusion, the localiser reads CLIP directly; the
# classifier still pools CLIP features inside each proposal.
# Denoising queries (on in the I3D-fed demo) were not measured with this stream: off, as this config was measured.
model = dict(localizer=dict(loc_dim=256, clip_dim=256, fuse_clip=False), denoising=None)

# After testing: precision-recall curves per tIoU, per-class AP and three timelines in <work_dir>/<time>/tad_vis.
custom_hooks = [dict(type='TADVisualizationHook', modes=('test',), num_timelines=3)]
