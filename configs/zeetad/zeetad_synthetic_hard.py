# The small hard benchmark (configs/zeetad/README.md): 144 invented videos at 25 fps, 24 invented classes
# (18 seen / 6 unseen, 3 random splits), 1024-d localisation features every 8 frames, CLIP frames at 2 fps, small
# class margins in the CLIP stream, scene frames near class embeddings, 4 distractor bumps a minute.
#   python tools/data/make_synthetic_data.py --shape invented --preset hard
#   python tools/experiments/run_baselines.py --config configs/zeetad/zeetad_synthetic_hard.py --ratios 75 --seeds 0 1 2
# It inherits the demo config as a new user's dataset would; only data, split and the budget change.
_base_ = ['./zeetad_synthetic_thumos14_demo.py']
data_root = 'data/synthetic_invented_hard'
ann_file = data_root + '/annotations.json'
split = dict(mode='zero_shot', root=data_root + '/splits', dataset='Invented', ratio=75, index=0)
loc_features = dict(format='npy', root=data_root + '/features/loc', suffix='.npy', dim=1024,
                    timebase=dict(stride=8, window=16, fps=None))
clip_features = dict(format='hdf5', path=data_root + '/features/clip.h5', dim=256,
                     timebase=dict(sample_fps=2.0, offset_s=0.0))
text_encoder = dict(pretrained=data_root + '/clip/tiny_clip.pt')
train_dataloader = dict(batch_size=8, dataset=dict(ann_file=ann_file, subset='train', split=split,
                                                   loc_features=loc_features, clip_features=clip_features))
test_dataloader = dict(dataset=dict(ann_file=ann_file, subset='test', split=split, loc_features=loc_features,
                                    clip_features=clip_features))
val_dataloader = test_dataloader
model = dict(localizer=dict(loc_dim=1024, clip_dim=256), classifier=dict(text_encoder=text_encoder))
# A short budget so that 3 seeds x 4 trainings fit on 2 CPU cores; iterations, not epochs (docs/schedules.md).
train_cfg = dict(target_iters=400)
