"""Evaluate official-format detections against an ActivityNet-style GT json.

    zeetad eval GT.json PRED.json --subset Test \
        --tiou 0.3 0.4 0.5 0.6 0.7 [--classes SPLIT.list] [--blocked FILE] \
        [--out RESULT.json] [--per-class]

GT.json: ``{"database": {video: {"subset", "duration", "annotations": [{"label",
"segment"}]}}}``. PRED.json: ``{"version", "results": {video: [{"label",
"score", "segment"}]}, "external_data"}``. ``--classes`` restricts the ground
truth (and the scored labels) to the listed classes, e.g. the unseen classes of
a zero-shot split; every video of the subset stays evaluated. A listed name that
labels nothing in GT.json, or listed twice, is an error (with a did-you-mean).

Malformed input (empty or invalid JSON, a missing or non-finite score, a
segment that is not [start, end], GT without a label) stops with an error
naming the file and the video. Only numpy is imported (not torch); with the
optional ``msgspec`` package PRED.json is decoded about 5x faster.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from zeetad.evaluation.annotations import load_ground_truth, load_prediction_table, read_name_list
from zeetad.evaluation.detection_map import ACTIVITYNET_TIOUS, THUMOS14_TIOUS, evaluate_detections
from zeetad.evaluation.report import format_table, save_result_files
from zeetad.utils.atomic_io import atomic_write_json


def _tiou(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f'tIoU thresholds must lie in (0, 1], got {text}')
    return value


def parse_args(argv=None, prog=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('gt', help='ground-truth json (ActivityNet / ActionFormer layout)')
    p.add_argument('pred', help='predictions json (official format)')
    p.add_argument('--subset', default=None, help='subset to evaluate, e.g. Test or validation (default: all)')
    p.add_argument('--tiou', type=_tiou, nargs='+', default=None,
                   help='tIoU thresholds (default: THUMOS14 0.3:0.1:0.7, or ActivityNet 0.5:0.05:0.95 with --anet)')
    p.add_argument('--anet', action='store_true', help='use the ActivityNet thresholds')
    p.add_argument('--classes', default=None, help='file with one class name per line (scored classes)')
    p.add_argument('--blocked', default=None, help='file with one video id per line to exclude')
    p.add_argument('--keep-duplicate-gt', action='store_true', help='count duplicate GT instances separately')
    p.add_argument('--out', default=None, help='write the result json here')
    p.add_argument('--result-dir', default=None, help='also write JSON + CSV tables (and a PNG with --plot)')
    p.add_argument('--plot', action='store_true', help='per-class AP bar chart into --result-dir')
    p.add_argument('--per-class', action='store_true', help='print per-class AP')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the evaluation; ``argv`` is a list of arguments or already parsed ones."""
    args = argv if isinstance(argv, argparse.Namespace) else parse_args(argv)
    tious = args.tiou or (ACTIVITYNET_TIOUS if args.anet else THUMOS14_TIOUS)
    try:
        gt, classes, _ = load_ground_truth(args.gt, args.subset, args.classes, check_classes=True)
        if not gt:
            raise ValueError(f'{args.gt}: no video of subset {args.subset!r}')
        preds = load_prediction_table(args.pred)
        blocked = read_name_list(args.blocked) if args.blocked else None
    except (OSError, ValueError) as err:
        raise SystemExit(f'eval_detections: error: {err}') from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = evaluate_detections(gt, preds, tious, classes=classes, blocked_videos=blocked,
                                     deduplicate_gt=not args.keep_duplicate_gt)
    for w in caught:
        print(f'warning: {w.message}', file=sys.stderr)
    print(f'{result["num_videos"]} videos, {result["num_gt"]} instances, {len(classes)} classes, '
          f'{result["num_predictions"]} predictions scored, {result["num_ignored_predictions"]} ignored')
    print(format_table(result, per_class=args.per_class))
    if args.out:
        main_keys = ('mAP', 'average', 'per_class')
        atomic_write_json(args.out, {k: result[k] for k in main_keys}
                          | {'details': {k: v for k, v in result.items() if k not in main_keys}}, indent=2)
        print(f'wrote {args.out}')
    if args.result_dir:
        for path in save_result_files(result, args.result_dir, plot=args.plot).values():
            print(f'wrote {path}')
    return result


def cli(argv=None, prog=None) -> int:
    """``zeetad eval`` / ``tools/eval_detections.py``: exit status 0, or 1 with ``eval_detections: error: ...``
    naming the file and video of a malformed input (argparse errors: 2)."""
    main(parse_args(argv, prog))
    return 0
