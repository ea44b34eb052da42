"""Find the actions you name in your own videos: open-vocabulary temporal action detection.

    zeetad detect VIDEO_OR_DIR --classes "high jump, pole vault, a person falling" \
        --config configs/zeetad/zeetad_clip_only_thumos14.py --checkpoint work_dirs/x/epoch_16.pth [--plot]
    zeetad detect VIDEO_OR_DIR --classes @names.txt --zeal --lvlm /models/llava-onevision-7b [--plot]

ZEETAD (a trained checkpoint; any class names at test time) or ZEAL (training-free: CLIP + an LVLM). The CLIP
frame features the method needs are extracted with zeetad's own extractor and cached next to the output
(``<out dir>/zeetad_cache``), so a second run re-encodes nothing. Writes the detections in seconds in the
official results format (``--out``), the same as a table (``<out stem>.txt``, also printed), and with
``--plot`` one timeline PNG per video (``<out stem>_plots/``).

Exit status: 0 all videos done; 1 some videos failed (listed); 2 bad input (the message says which: a class
named twice, two videos with the same file stem, features of the wrong shape, an output folder that is not
writable, ...).
"""
import argparse
import os
import sys


def parse_args(argv=None, prog=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('videos', help='a video file, a folder of videos, or a text file listing video paths')
    p.add_argument('--classes', required=True, action='append',
                   help='class names, comma-separated ("high jump, pole vault"), or @file with one per line')
    p.add_argument('--config', help='ZEETAD config (with --checkpoint), or a ZEAL config with --zeal '
                                    '(default configs/zeal/zeal_thumos14.py)')
    p.add_argument('--checkpoint', help='trained ZEETAD checkpoint')
    p.add_argument('--zeal', action='store_true', help='training-free ZEAL instead of ZEETAD')
    p.add_argument('--lvlm', help='ZEAL: local folder of an image-text-to-text model (never downloaded)')
    p.add_argument('--queries', help='ZEAL: queries JSON (tools/zeal/zeal_queries.py); default: template questions')
    p.add_argument('--out', default='work_dirs/detect/detections.json', help='detections JSON (official format)')
    p.add_argument('--cache-dir', help='feature cache (default: <out dir>/zeetad_cache)')
    p.add_argument('--loc-features', help='precomputed localisation features (npy folder or HDF5) for I3D/TSP '
                                          'configs; CLIP-stream configs need none')
    p.add_argument('--plot', action='store_true', help='draw a timeline PNG per video')
    p.add_argument('--score-thr', type=float, default=0.1, help='table: detections with at least this score')
    p.add_argument('--max-rows', type=int, default=20, help='table: best detections per video shown')
    p.add_argument('--plot-thr', type=float, default=0.05, help='plot: detections with at least this score')
    p.add_argument('--allow-short', action='store_true',
                   help='run videos shorter than the model\'s window as one shorter window instead of failing')
    p.add_argument('--device', default='cuda' if _cuda() else 'cpu')
    p.add_argument('--batch-size', type=int, default=8, help='windows per forward pass')
    p.add_argument('--lvlm-batch-size', type=int, default=8, help='ZEAL: (frame, question) pairs per pass')
    p.add_argument('--num-workers', type=int, default=2, help='video decoding processes (0: in this process)')
    p.add_argument('--no-progress', action='store_true')
    add_cfg_options(p)
    return p.parse_args(argv)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def main(argv=None, prog=None) -> int:
    args = parse_args(argv, prog)
    from zeetad.apis import DetectError, detect_videos, write_outputs
    from zeetad.engine.cli import user_errors
    from zeetad.utils.atomic_io import check_writable
    from zeetad.utils.heap import retain_freed_heap
    from zeetad.video.frame_loader import DecodeWorkerError
    from zeetad.zeal.queries import QueryValidationError
    retain_freed_heap()  # same numbers, less CPU per window (zeetad/utils/heap.py)
    cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.out)), 'zeetad_cache')
    try:
        check_writable(args.out)  # a read-only output is reported now, not after the detection
    except OSError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    try:
        run = detect_videos(args.videos, args.classes, config=args.config, checkpoint=args.checkpoint,
                            zeal=args.zeal, cache_dir=cache_dir, cfg_options=args.cfg_options,
                            loc_features=args.loc_features, device=args.device, allow_short=args.allow_short,
                            batch_size=args.batch_size, num_workers=args.num_workers,
                            progress=not args.no_progress, lvlm=args.lvlm, queries_file=args.queries,
                            lvlm_batch_size=args.lvlm_batch_size)
    except (DetectError, QueryValidationError, *user_errors()) as exc:  # each names its file, video or key
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except DecodeWorkerError as exc:  # shared memory full: the features finished so far stay cached
        print(f'error: {exc}\nthe videos whose features were finished are cached; give the container more shared '
              'memory (docker --shm-size) or use fewer --num-workers, and rerun', file=sys.stderr)
        return 3
    files = write_outputs(run, args.out, table_thr=args.score_thr, table_rows=args.max_rows, plot=args.plot,
                          plot_thr=args.plot_thr)
    with open(files['table'], encoding='utf-8') as f:
        print(f.read(), end='')
    print(f'detections: {files["json"]} (table: {files["table"]})')
    if files['plots']:
        print(f'timelines: {os.path.dirname(next(iter(files["plots"].values())))}/ ({len(files["plots"])} PNG)')
    if run.failed:
        print(f'{len(run.failed)} video(s) failed:', file=sys.stderr)
        for vid, reason in sorted(run.failed.items()):
            print(f'  {vid}: {reason}', file=sys.stderr)
        return 1
    return 0


cli = main  # the exit status is main's
