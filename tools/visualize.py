#!/usr/bin/env python
"""Pictures of detections: per-video timelines, and a test run's precision-recall curves and per-class AP.

    python tools/visualize.py PRED.json --gt GT.json --video video_test_0000004 [--video ...]
    python tools/visualize.py PRED.json --gt GT.json --subset Test --metrics     # PR curves + AP bars
    python tools/visualize.py work_dirs/detect/detections.json             # every video, no ground truth
    python tools/visualize.py PRED.json --gt GT.json --video ID --clip-curves CONFIG CHECKPOINT  # + CLIP cosine

PRED.json is the official results format (``tools/test.py --out``, ``tools/detect.py``); GT.json an
ActivityNet-style annotation file. Curves under each timeline come from ``--curves`` (default: the
``<PRED stem>_curves.npz`` that tools/detect.py writes, when present). PNGs go to ``--out-dir``
(default ``<PRED stem>_vis/``).
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('predictions', help='detections JSON (official results format)')
    p.add_argument('--gt', help='ground-truth JSON (ActivityNet style)')
    p.add_argument('--subset', help='ground-truth subset evaluated by --metrics (e.g. Test); default: the videos '
                                    'that have predictions')
    p.add_argument('--video', action='append', default=[], help='video id to draw (repeat); default: all')
    p.add_argument('--max-videos', type=int, default=50, help='at most this many timelines without --video')
    p.add_argument('--classes', help='restrict to these classes (comma-separated or @file); --metrics scores '
                                     'exactly these (default: ground-truth labels that also have predictions)')
    p.add_argument('--curves', help='per-frame curves (.npz from tools/detect.py)')
    p.add_argument('--clip-curves', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                   help='draw a ZEETAD checkpoint\'s per-frame CLIP frame-class cosine under each timeline, from '
                        'the config\'s test-set CLIP features')
    p.add_argument('--metrics', action='store_true', help='draw PR curves per tIoU and per-class AP (needs --gt)')
    p.add_argument('--tiou', type=float, nargs='+', default=[0.3, 0.4, 0.5, 0.6, 0.7])
    p.add_argument('--score-thr', type=float, default=0.05, help='timelines: predictions with at least this score')
    p.add_argument('--out-dir', help='output folder (default: <PRED stem>_vis)')
    return p.parse_args(_video_ids_as_values(sys.argv[1:] if argv is None else list(argv)))


def _video_ids_as_values(argv: list) -> list:
    """``--video -U4lNtzVQ8s`` -> ``--video=-U4lNtzVQ8s``: ActivityNet's YouTube ids may begin with ``-`` (even
    ``--``), which argparse would otherwise take for an option and reject the ``--video`` without a value."""
    out, k = [], 0
    while k < len(argv):
        if argv[k] == '--video' and k + 1 < len(argv):
            out.append(f'--video={argv[k + 1]}')
            k += 2
        else:
            out.append(argv[k])
            k += 1
    return out


def _clip_curves_fn(config: str, checkpoint: str):
    """``(video, names) -> {name: (t, cosine)}``: a checkpoint's text embeddings against the config's CLIP stream."""
    from zeetad.apis import clip_similarity_curves, init_detector, load_detect_config
    from zeetad.datasets.feature_store import build_feature_store
    cfg = load_detect_config(config)
    model = init_detector(cfg, checkpoint)
    clip_cfg = dict(cfg.test_dataloader.dataset.clip_features)
    store = build_feature_store(clip_cfg, 'clip_features')
    return lambda vid, names: clip_similarity_curves(model, store, vid, clip_cfg, names) if names else None


def main(argv=None) -> int:
    args = parse_args(argv)
    from zeetad.apis.class_names import parse_class_names
    from zeetad.apis.outputs import load_curves
    from zeetad.evaluation import evaluate_detections, load_ground_truth, load_predictions
    from zeetad.visualization import (plot_class_ap, plot_pr_curves, plot_timeline, precision_recall,
                                      timeline_classes)

    preds = load_predictions(args.predictions)
    stem = os.path.splitext(args.predictions)[0]
    out_dir = args.out_dir or stem + '_vis'
    classes = parse_class_names(args.classes) if args.classes else None
    gt, durations = None, {}
    if args.gt:
        gt, _, durations = load_ground_truth(args.gt, None, classes)
    elif args.metrics:
        print('error: --metrics needs --gt', file=sys.stderr)
        return 2
    curves_file = args.curves or (stem + '_curves.npz' if os.path.isfile(stem + '_curves.npz') else None)
    curves = load_curves(curves_file) if curves_file else {}

    clip_curves = _clip_curves_fn(*args.clip_curves) if args.clip_curves else None

    written = []
    videos = args.video or ([] if args.metrics else sorted(preds)[:args.max_videos])
    for vid in videos:
        if vid not in preds and (gt is None or vid not in gt):
            print(f'error: video {vid!r} is in neither the predictions nor the ground truth', file=sys.stderr)
            return 2
        dets = [d for d in preds.get(vid, []) if classes is None or d['label'] in classes]
        truth = gt.get(vid) if gt else None
        video_curves = curves.get(vid)
        if clip_curves is not None:
            video_curves = clip_curves(vid, timeline_classes(dets, truth, args.score_thr))
        written.append(plot_timeline(os.path.join(out_dir, f'{vid}.png'), dets, truth, duration=durations.get(vid),
                                     video_id=vid, curves=video_curves, score_thr=args.score_thr,
                                     curves_label='CLIP frame-class cosine' if clip_curves else 'per-frame score'))
    if args.metrics:
        if args.subset:
            gt, _, durations = load_ground_truth(args.gt, args.subset, classes)
        else:
            gt = {v: a for v, a in gt.items() if v in preds}
        if classes is None:
            predicted = {d['label'] for items in preds.values() for d in items}
            classes = sorted({a['label'] for items in gt.values() for a in items} & predicted)
        print(f'scoring {len(classes)} classes on {len(gt)} videos: {", ".join(classes)}')
        preds = {v: [d for d in items if d['label'] in classes] for v, items in preds.items() if v in gt}
        result = evaluate_detections(gt, preds, args.tiou, classes=classes)
        pr = precision_recall(gt, preds, args.tiou, classes)
        written.append(plot_pr_curves(pr, os.path.join(out_dir, 'pr_curves.png')))
        written.append(plot_class_ap(result, os.path.join(out_dir, 'class_ap.png')))
        print('mAP: ' + ', '.join(f'@{k} {100 * v:.2f}' for k, v in result['mAP'].items())
              + f', average {100 * result["average"]:.2f}')
    for path in written:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
