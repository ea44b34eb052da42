#!/usr/bin/env python
"""Write a synthetic zero-shot TAD dataset over real annotation timings (see docs/data.md).

    python tools/data/make_synthetic_data.py                       # THUMOS14-shaped, tiny random CLIP text tower
    python tools/data/make_synthetic_data.py --shape activitynet   # 1,500 real ActivityNet videos, synthetic labels
    python tools/data/make_synthetic_data.py --clip-model ViT-B-16 --clip-pretrained openai   # a real CLIP, if present
    python tools/data/make_synthetic_data.py --shape invented --preset hard    # the small hard benchmark
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# Enough for every one of the 200 classes to have ~5 training and ~2.5 validation videos, small enough for a CPU.
ANET_DEFAULT_VIDEOS = 1500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shape', choices=['thumos14', 'activitynet', 'invented'], default='thumos14',
                   help='invented: 24 made-up classes, train/test subsets, 3 zero-shot 75/25 splits in <out>/splits')
    p.add_argument('--ann-file', default='data/thumos14/annotations/thumos14.json',
                   help='source annotation file for --shape thumos14')
    p.add_argument('--anet-dir', default='data/activitynet', help='video_info_new.csv + action_name.csv')
    p.add_argument('--out', default=None, help='output folder (default data/synthetic_<shape>)')
    p.add_argument('--max-videos', type=int, default=None,
                   help='videos to write (default: all of THUMOS14; 1500 for ActivityNet, at least 400)')
    p.add_argument('--loc-dim', type=int, default=None, help='localisation feature dim (default 128)')
    p.add_argument('--loc-stride', type=int, default=None, help='frames between snippets (THUMOS 4, ANet 16)')
    p.add_argument('--loc-window', type=int, default=None, help='frames per snippet (default 16)')
    p.add_argument('--loc-fps', type=float, default=None,
                   help="frame rate of the snippet grid (default: THUMOS14 the video's own, ActivityNet 15 as TSP)")
    p.add_argument('--clip-fps', type=float, default=None, help='CLIP frames per second (THUMOS 2, ANet 1)')
    p.add_argument('--dtype', choices=['float16', 'float32'], default='float16')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--clip-model', default='zeetad-tiny-clip',
                   help='open_clip model name; the default is a tiny CLIP created with random weights')
    p.add_argument('--clip-pretrained', default=None,
                   help="open_clip pretrained tag or local checkpoint (default: <out>/clip/tiny_clip.pt, created)")
    p.add_argument('--clip-config', default='configs/_base_/clip/zeetad-tiny-clip.json',
                   help='open_clip model-config JSON for custom models')
    p.add_argument('--num-classes', type=int, default=24, help='--shape invented: number of classes')
    p.add_argument('--video-fps', type=float, default=25.0, help='--shape invented: frame rate of the videos')
    p.add_argument('--preset', choices=['hard'], default=None,
                   help='hard: smaller CLIP class margins, scene frames near class embeddings, more distractors, '
                        'weaker class cues in the localisation stream (the values of HARD_PRESET)')
    for name, help_text in (('clip-class-margin', '< 1: visual class embeddings pulled toward their mean'),
                            ('clip-scene-class', '> 0: scene vectors that far toward a random class embedding'),
                            ('distractors-per-minute', 'actionness bumps without boundaries outside instances'),
                            ('distractor-amplitude', 'their strength (instances: 1)'),
                            ('class-amplitude', 'class cue in the localisation stream'),
                            ('noise-std', 'white noise of the localisation stream'),
                            ('clip-noise', 'noise of the CLIP stream')):
        p.add_argument(f'--{name}', type=float, default=None, help=help_text)
    p.add_argument('--force', action='store_true', help='rewrite even if a complete dataset exists')
    return p.parse_args(argv)


# --preset hard (SyntheticConfig fields): chosen so the ground-truth-pooled CLIP frames still name most unseen
# instances but neither stream separates the classes cleanly (configs/zeetad/README.md).
HARD_PRESET = dict(clip_class_margin=0.6, clip_scene_class=0.4, distractors_per_minute=4.0,
                   distractor_amplitude=0.9, class_amplitude=0.15, noise_std=0.8)
# per shape: (loc_dim, loc_stride, loc_fps, clip_fps); loc_fps None: the video's own frame rate
SHAPE_DEFAULTS = {'thumos14': (128, 4, None, 2.0), 'activitynet': (512, 16, 15.0, 1.0),
                  'invented': (1024, 8, None, 2.0)}


def main(argv=None):
    args = parse_args(argv)
    from zeetad.datasets.synthetic import SyntheticConfig
    from zeetad.datasets.synthetic_anet import activitynet_shaped_records
    from zeetad.datasets.synthetic_invented import invented_records, write_invented_splits
    from zeetad.datasets.synthetic_io import existing_dataset, load_source_records, write_synthetic_dataset
    from zeetad.text.encode import encode_class_names

    out = Path(args.out or f'data/synthetic_{args.shape}' + (f'_{args.preset}' if args.preset else ''))
    anet = args.shape == 'activitynet'
    loc_dim, loc_stride, loc_fps, clip_fps = SHAPE_DEFAULTS[args.shape]
    knobs = dict(HARD_PRESET) if args.preset == 'hard' else {}
    for name in ('clip_class_margin', 'clip_scene_class', 'distractors_per_minute', 'distractor_amplitude',
                 'class_amplitude', 'noise_std', 'clip_noise'):
        if getattr(args, name) is not None:
            knobs[name] = getattr(args, name)
    cfg = SyntheticConfig(loc_dim=args.loc_dim or loc_dim, loc_stride=args.loc_stride or loc_stride,
                          loc_window=args.loc_window or 16, loc_fps=args.loc_fps or loc_fps,
                          clip_fps=args.clip_fps or clip_fps, seed=args.seed, dtype=args.dtype, **knobs)
    if anet:
        records = activitynet_shaped_records(os.path.join(args.anet_dir, 'video_info_new.csv'),
                                             os.path.join(args.anet_dir, 'action_name.csv'),
                                             args.max_videos or ANET_DEFAULT_VIDEOS, args.seed)
    elif args.shape == 'invented':
        records = invented_records(args.max_videos or 144, args.num_classes, args.video_fps, args.seed)
        write_invented_splits(str(out / 'splits'), 'Invented', sorted({i.label for r in records
                                                                      for i in r.instances}), args.seed)
    else:
        records = load_source_records(args.ann_file, None, args.max_videos)
    text_cfg = dict(type='CLIPTextEncoder', model_name=args.clip_model)
    if args.clip_model == 'zeetad-tiny-clip':
        text_cfg['model_config_file'] = args.clip_config
        if args.clip_pretrained is None:
            from zeetad.testing.tiny_clip import make_random_clip_checkpoint
            ckpt = out / 'clip' / 'tiny_clip.pt'
            if not ckpt.is_file():
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                make_random_clip_checkpoint(str(ckpt), args.clip_config, seed=args.seed)
            args.clip_pretrained = str(ckpt)
    text_cfg['pretrained'] = args.clip_pretrained
    prefix = 'v_' if anet else ''  # ActivityNet feature files are named v_<id>, as the released TSP features
    meta = None if args.force else existing_dataset(str(out), cfg, text_cfg, len(records), prefix)
    if meta is not None:
        print(f'{out}: complete synthetic dataset already present ({meta["num_videos"]} videos); '
              'use --force to rewrite')
        return meta
    tic = time.time()
    meta = write_synthetic_dataset(records, str(out), cfg, lambda names: encode_class_names(text_cfg, names),
                                   text_cfg, feature_prefix=prefix)
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 2**20
    print(f'wrote {out}: {meta["num_videos"]} videos, {meta["num_instances"]} instances, '
          f'{len(meta["classes"])} classes, {size:.0f} MiB in {time.time() - tic:.0f} s')
    return meta


if __name__ == '__main__':
    main()
