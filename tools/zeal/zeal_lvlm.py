#!/usr/bin/env python
"""ZEAL stages 2 and 4: filter each test video's classes with CLIP, then ask an LVLM about every frame.

    python tools/zeal/zeal_lvlm.py configs/zeal/zeal_thumos14.py --videos data/thumos14/videos \
        --lvlm /models/llava-onevision-qwen2-7b-ov-hf [--device cuda] [--batch-size 16] [--fps 1]

For each video of the config's test set, the classes kept by the model's class filter (the same code
``tools/test.py`` runs) are asked their start and end questions on frames sampled at --fps; P(yes) is
cached per video in ``model.confidences_file`` (or --out) as ``(T, C_kept, 2)``. Videos already
cached are skipped, so an interrupted run resumes; failed videos are listed and the exit status is 1.
The LVLM is any Hugging Face image-text-to-text model folder (never downloaded).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--videos', required=True, help='video folder, list file of paths, or one video')
    p.add_argument('--lvlm', required=True, help='local folder of an image-text-to-text model and its processor')
    p.add_argument('--out', help='confidence HDF5 (default: model.confidences_file)')
    p.add_argument('--fps', type=float, default=1.0, help='frames per second asked about (ZEAL: 1)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='auto', help='auto (bf16 on CUDA, fp32 on CPU), bfloat16, float16, float32')
    p.add_argument('--batch-size', type=int, default=8, help='(frame, question) pairs per forward pass')
    p.add_argument('--max-videos', type=int, default=None)
    p.add_argument('--no-progress', action='store_true')
    add_cfg_options(p)
    return p.parse_args(argv)


def plan_jobs(cfg, video_paths: dict, fps: float, max_videos=None):
    """``(jobs, model, missing video ids)``: one :class:`LVLMJob` per test video with its kept classes."""
    import numpy as np

    from zeetad.registry import DATASETS, MODELS
    from zeetad.zeal.lvlm_stage import LVLMJob
    from zeetad.video.decode import sample_count
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, verbose=False))
    model = MODELS.build(cfg.model).eval()
    jobs, missing = [], []
    for idx in range(len(dataset)):
        item = dataset[idx]
        sample, inputs = item['data_samples'], item['inputs']
        vid = sample['video_id']
        if vid not in video_paths:
            missing.append(vid)
            continue
        times = np.arange(sample_count(float(sample['duration']), fps)) / fps
        key = model.batch_feature_key(inputs)
        feats = model.frame_features(sample, None if key is None else inputs[key], times)
        classes = list(sample['classes'])
        kept = model.kept_classes(feats, classes, sample)
        jobs.append(LVLMJob(vid, video_paths[vid], tuple(classes[k] for k in kept)))
        if max_videos and len(jobs) >= max_videos:
            break
    return jobs, model, missing


def main(argv=None) -> int:
    args = parse_args(argv)
    import zeetad.datasets  # noqa: F401
    import zeetad.zeal  # noqa: F401
    from zeetad.engine.runner_setup import load_config
    from zeetad.video.sources import list_videos
    from zeetad.zeal.confidence_store import ConfidenceStore
    from zeetad.zeal.lvlm_scorer import YesNoScorer
    from zeetad.zeal.lvlm_stage import run_lvlm_stage
    from zeetad.zeal.queries import load_queries

    cfg = load_config(args.config, args.cfg_options)
    out = args.out or cfg.model.confidences_file
    videos = {v.video_id: v.path for v in list_videos(args.videos)}
    jobs, model, missing = plan_jobs(cfg, videos, args.fps, args.max_videos)
    if missing:
        print(f'{len(missing)} test videos have no file under {args.videos} (e.g. {missing[:3]}); they are left out')
    classes = sorted({c for j in jobs for c in j.classes})
    queries = load_queries(cfg.model.queries_file, classes)
    scorer = YesNoScorer.from_pretrained(args.lvlm, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    run_attrs = dict(lvlm=str(args.lvlm), prompt=scorer.prompt, fps=args.fps, queries_file=cfg.model.queries_file,
                     class_filter=dict(model.class_filter), yes_ids=scorer.yes_ids, no_ids=scorer.no_ids)
    with ConfidenceStore(out, mode='a') as store:
        report = run_lvlm_stage(jobs, scorer, queries, store, fps=args.fps, progress=not args.no_progress,
                                run_attrs=run_attrs)
    print(f'{out}: {len(report.done)} videos scored ({report.frames} frames, {report.frames_per_s:.2f} frames/s), '
          f'{len(report.skipped)} already cached, {len(report.failed)} failed')
    for vid, why in sorted(report.failed.items()):
        print(f'  {vid}: {why}')
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main())
