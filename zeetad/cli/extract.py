"""Extract CLIP frame features from a folder (or list) of videos into one HDF5 file.

    zeetad extract VIDEO_DIR_OR_LIST OUT.h5 --model ViT-B-16 --pretrained openai \\
        [--fps 1] [--batch-size 64] [--device auto] [--num-workers 4]
    torchrun --nproc-per-node 8 -m zeetad extract videos/ OUT.h5 ...   # shards + merge
    zeetad extract --merge OUT.h5        # merge OUT.rank*.h5 by hand

Each video becomes the dataset ``OUT.h5[video_id]`` of shape (T, C), row i the frame at i / fps
seconds. Rerunning the same command resumes; Ctrl-C or a failed write (disk full) leaves a valid file and
keeps every finished video. Exit status: 0 all done, 1 some videos failed (listed in the summary; they are
retried on the next run), 2 bad arguments (e.g. OUT.h5 was written with other settings), 3 the output could
not be written (disk full, or a read-only output folder: reported before any video is decoded; the finished
videos are kept; rerun to resume), 130 interrupted. Two runs may write one OUT.h5 at once (e.g. over different
halves of a folder): each merges its videos under a lock, and every video of both ends up in OUT.h5.
"""
import argparse
import errno
import logging
import signal
import sys


def parse_args(argv=None, prog=None):
    p = argparse.ArgumentParser(prog=prog, description='Extract CLIP frame features from videos into an HDF5 file',
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('source', nargs='?', help='folder of videos, text file with one video path per line, or a video')
    p.add_argument('out', nargs='?', help='output .h5 file (created, or resumed if it exists)')
    p.add_argument('--merge', metavar='OUT_H5', help='only merge OUT.rank*.h5 shard files into OUT_H5 and exit')
    p.add_argument('--keep-shards', action='store_true', help='keep the shard files after merging')
    p.add_argument('--model', default='ViT-B-16', help='open_clip model name')
    p.add_argument('--pretrained', default=None,
                   help='open_clip pretrained tag (e.g. openai) or a local checkpoint file; omit for random weights')
    p.add_argument('--model-config', default=None, help='open_clip model-config JSON for custom architectures')
    p.add_argument('--cache-dir', default=None, help='download cache for pretrained tags')
    p.add_argument('--fps', type=float, default=1.0, help='frames per second, sampled at exact k/fps timestamps')
    p.add_argument('--batch-size', type=int, default=64, help='frames per encoder batch')
    p.add_argument('--device', default='auto', help="'auto' (this rank's GPU if any, else CPU), 'cpu', 'cuda:0', ...")
    p.add_argument('--num-workers', type=int, default=4, help='decoding worker processes (0: decode in-process)')
    p.add_argument('--decoder-threads', type=int, default=1, help='FFmpeg threads per worker (0: FFmpeg decides)')
    p.add_argument('--chunk-frames', type=int, default=256, help='frames per worker->encoder chunk')
    p.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'amp', 'bf16', 'fp16'],
                   help="'auto': amp (fp16 autocast) on CUDA, fp32 on CPU")
    p.add_argument('--dtype', default='float16', choices=['float16', 'float32'], help='stored feature dtype')
    p.add_argument('--no-normalize', action='store_true', help='store raw embeddings instead of L2-normalised ones')
    p.add_argument('--image-mean', type=float, nargs=3, default=None,
                   help="override the model's normalisation mean (local checkpoints of non-OpenAI models)")
    p.add_argument('--image-std', type=float, nargs=3, default=None, help="override the model's normalisation std")
    p.add_argument('--resize-mode', default=None, choices=['shortest', 'longest', 'squash'],
                   help="override the model's resize mode")
    p.add_argument('--recursive', action='store_true', help='also take videos from subfolders')
    p.add_argument('--overwrite', action='store_true', help='start the output file again instead of resuming')
    p.add_argument('--rank', type=int, default=None, help='this shard (without torchrun); needs --world-size')
    p.add_argument('--world-size', type=int, default=None, help='number of shards (without torchrun)')
    p.add_argument('--no-merge', action='store_true', help='under torchrun: leave the shard files unmerged')
    p.add_argument('--dist-timeout-h', type=float, default=72.0, help='how long ranks wait for each other (hours)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--plain', action='store_true', help='plain-text summary instead of a rich table')
    args = p.parse_args(argv)
    if args.merge is None and (args.source is None or args.out is None):
        p.error('give VIDEO_DIR_OR_LIST and OUT.h5 (or --merge OUT.h5)')
    if (args.rank is None) != (args.world_size is None):
        p.error('--rank and --world-size go together')
    return args


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None, prog=None) -> int:
    args = parse_args(argv, prog)
    # open_clip logs every loading step on the root logger at INFO: keep ours only.
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')
    logging.getLogger('zeetad').setLevel(logging.INFO)
    from zeetad.video.feature_file import FeatureFileMismatch, FeatureWriteError
    from zeetad.video.frame_loader import DecodeWorkerError
    # SLURM preemption and `kill` get the same clean shutdown as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        return _run(args)
    except KeyboardInterrupt:  # outside the extraction loop, which handles its own
        print('interrupted; files written so far are valid, rerun the same command to resume', file=sys.stderr)
        return 130
    except FeatureWriteError as e:  # disk full, file size limit, read-only folder: what was finished is kept
        full = e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        print(f'error: {e}\nthe videos finished before are kept; '
              f'{"free space (or raise the limit)" if full else "make the output writable"} and rerun the same '
              'command to resume', file=sys.stderr)
        return 3
    except DecodeWorkerError as e:  # shared memory full: what was finished is kept
        print(f'error: {e}\nthe videos finished before are kept; give the container more shared memory '
              '(docker --shm-size), lower --num-workers or --chunk-frames, and rerun the same command to resume',
              file=sys.stderr)
        return 3
    except (FeatureFileMismatch, FileNotFoundError, ValueError) as e:  # bad arguments, not a crash
        print(f'error: {e}', file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    from zeetad.video.launch import merge_shards, run_extraction
    from zeetad.video.report import format_summary
    if args.merge:
        result = merge_shards(args.merge, keep_shards=args.keep_shards)
        print(f'merged {result["inputs"]} shard files into {args.merge}: {result["copied"]} videos copied, '
              f'{result["already"]} already present')
        return 0
    overrides = dict(mean=args.image_mean, std=args.image_std, resize_mode=args.resize_mode)
    report, env, merged = run_extraction(
        args.source, args.out, model_name=args.model, pretrained=args.pretrained,
        model_config_file=args.model_config, cache_dir=args.cache_dir, fps=args.fps,
        batch_size=args.batch_size, num_workers=args.num_workers, device=args.device,
        precision=args.precision, dtype=args.dtype, normalize=not args.no_normalize,
        chunk_frames=args.chunk_frames, decoder_threads=args.decoder_threads, overwrite=args.overwrite,
        recursive=args.recursive, progress=not args.no_progress, rank=args.rank,
        world_size=args.world_size, merge=not args.no_merge, keep_shards=args.keep_shards,
        dist_timeout_h=args.dist_timeout_h, preprocess_overrides=overrides)
    if env.launched and env.rank != 0:
        return 0  # rank 0 reports for everyone
    print(format_summary(report, plain=args.plain))
    if merged is not None:
        print(f'merged {merged["inputs"]} shard files into {args.out}: {merged["copied"]} videos copied')
    if report.interrupted:
        return 130
    return 1 if report.failed else 0


cli = main  # the exit status is main's
