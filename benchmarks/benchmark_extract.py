#!/usr/bin/env python
"""Where does CLIP feature extraction spend its time? Decoding and encoding, measured separately.

    python benchmarks/benchmark_extract.py                 # synthetic 640x360 h264 videos, CPU (+CUDA if any)
    python benchmarks/benchmark_extract.py --videos DIR --fps 1 --workers 0 2 4 --models tiny ViT-B-16

Reports (frames/s): decoding in one process (every frame, and sampled at --fps), the worker pipeline
(decode + resize in N processes, as the extractor runs it), and the image encoder alone per model and
device (random weights: speed does not depend on them). The extractor runs at about
min(pipeline, encoder) frames/s; add workers until the pipeline outruns the encoder.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--videos', help='folder or list of real videos (default: synthetic ones)')
    p.add_argument('--num-synthetic', type=int, default=4, help='synthetic videos to write')
    p.add_argument('--seconds', type=float, default=15.0, help='length of each synthetic video')
    p.add_argument('--size', default='640x360', help='synthetic video size WxH')
    p.add_argument('--video-fps', type=int, default=30, help='frame rate of the synthetic videos')
    p.add_argument('--codec', default='libx264', help='codec of the synthetic videos')
    p.add_argument('--fps', type=float, default=1.0, help='extraction sampling rate')
    p.add_argument('--workers', type=int, nargs='+', default=[0, 2], help='worker counts for the pipeline')
    p.add_argument('--image-size', type=int, default=224, help='resize target of the pipeline')
    p.add_argument('--models', nargs='+', default=['tiny', 'ViT-B-16'],
                   help="'tiny' (zeetad-tiny-clip) and/or open_clip model names")
    p.add_argument('--devices', nargs='+', default=None, help='encoder devices (default: cpu, and cuda if available)')
    p.add_argument('--batch-size', type=int, default=None, help='encoder batch (default: 8 on CPU, 128 on CUDA)')
    p.add_argument('--encode-batches', type=int, default=2, help='timed batches per model and device')
    p.add_argument('--json', help='also write the results here')
    return p.parse_args(argv)


def write_synthetic(folder, n, seconds, size, rate, codec):
    """Moving-shape videos with some texture, so the codec has real work."""
    import av
    import numpy as np
    w, h = (int(v) for v in size.lower().split('x'))
    paths = []
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    for i in range(n):
        path = os.path.join(folder, f'synthetic_{i}.mp4')
        with av.open(path, 'w') as out:
            stream = out.add_stream(codec, rate=Fraction(rate))
            stream.width, stream.height, stream.pix_fmt = w, h, 'yuv420p'
            if codec == 'libx264':
                stream.options = {'preset': 'veryfast'}  # quick to write, still CABAC + B-frames to decode
            frames = int(seconds * rate)
            for k in range(frames):
                img = texture.copy()
                x = int((w - 80) * (0.5 + 0.5 * np.sin(k / 15 + i)))
                y = int((h - 80) * (0.5 + 0.5 * np.cos(k / 23 + i)))
                img[y:y + 80, x:x + 80] = (230, 180 - 20 * i, 40 + 30 * i)
                for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        paths.append(path)
    return paths


def _cpu_seconds():
    """CPU seconds of this process and its reaped children (the DataLoader workers, once joined)."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn):
    w0, c0 = time.perf_counter(), _cpu_seconds()
    out = fn()
    return out, time.perf_counter() - w0, _cpu_seconds() - c0


def bench_decode(videos, fps, image_size):
    """One process: every frame, frames sampled at ``fps``, and the resize to the model input."""
    from zeetad.video import FramePreprocessor, iter_frames, probe_video
    infos = [probe_video(v.path) for v in videos]
    duration = sum(i.duration_s for i in infos)
    every, wall_all, cpu_all = _timed(lambda: sum(1 for v, i in zip(videos, infos)
                                                  for _ in iter_frames(v.path, i.fps, threads=1)))
    frames, wall_s, cpu_s = _timed(lambda: [f for v in videos for _, f in iter_frames(v.path, fps, threads=1)])
    pre = FramePreprocessor(dict(size=image_size))
    pre(frames[0])  # builds the transform
    _, wall_pre, cpu_pre = _timed(lambda: [pre(f) for f in frames])
    n = len(frames)
    return dict(video_seconds=duration, resolution=f'{infos[0].width}x{infos[0].height}',
                decode_all_fps=every / wall_all, decode_all_cpu_fps=every / cpu_all, sampled_frames=n,
                decode_sampled_fps=n / wall_s, decode_sampled_cpu_fps=n / cpu_s,
                decode_sampled_realtime=duration / wall_s, resize_fps=n / wall_pre, resize_cpu_fps=n / cpu_pre)


def bench_pipeline(videos, fps, image_size, workers):
    """Decode + resize through the extractor's DataLoader with ``workers`` processes (no encoding)."""
    from zeetad.video import FramePreprocessor, make_frame_loader

    def run():
        loader = make_frame_loader(videos, fps, FramePreprocessor(dict(size=image_size)), num_workers=workers,
                                   chunk_frames=64)
        return sum(len(c['frames']) for c in loader if c['error'] is None)
    frames, wall, cpu = _timed(run)
    return dict(workers=workers, fps=frames / wall, cpu_fps=frames / cpu)


def bench_worker_start(video, workers, repeats=3):
    """Seconds from creating the loader to its first chunk, per worker start method (one video, 1 fps).

    ``fork`` is only the reference: it hangs once the caller has decoded (PyAV >= 14), so it is timed here
    in a fresh process that has not. ``forkserver (first)`` includes starting the server.
    """
    import multiprocessing
    import subprocess
    code = (
        'import multiprocessing, sys, time\n'
        'from zeetad.video import frame_loader\n'
        'from zeetad.video.sources import VideoSource\n'
        'method, workers, repeats, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]\n'
        'if method != "forkserver":\n'
        '    frame_loader.worker_context = lambda: multiprocessing.get_context(method)\n'
        'for _ in range(repeats):\n'
        '    t0 = time.perf_counter()\n'
        '    next(iter(frame_loader.make_frame_loader([VideoSource("v", path)], 1.0, num_workers=workers)))\n'
        '    print(time.perf_counter() - t0)\n')
    out = {}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for method in ('fork', 'forkserver', 'spawn'):
        if method not in multiprocessing.get_all_start_methods():
            continue
        proc = subprocess.run([sys.executable, '-c', code, method, str(workers), str(repeats), video], env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        times = [float(v) for v in proc.stdout.split()]
        if method == 'forkserver':
            out['forkserver (first)'] = times[0]
            out['forkserver'] = min(times[1:])
        else:
            out[method] = min(times)
    return dict(workers=workers, seconds=out)


def bench_encoder(model, device, batch_size, batches):
    import torch
    batch_size = batch_size or (128 if device.startswith('cuda') else 8)
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
    from zeetad.video import ClipImageEncoder
    if model == 'tiny':
        enc = ClipImageEncoder(None, None, TINY_CLIP_CONFIG)
    else:
        enc = ClipImageEncoder(model, None)
    enc.to_device(device)
    frames = torch.randint(0, 256, (batch_size, *enc.input_size, 3), dtype=torch.uint8)
    if device.startswith('cuda'):
        frames = frames.pin_memory()

    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()
    enc(frames)  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(batches):
        enc(frames)
    sync()
    return dict(model=enc.model_name, device=device, precision=enc.precision, input=list(enc.input_size),
                encode_fps=batch_size * batches / (time.perf_counter() - t0))


def main(argv=None):
    args = parse_args(argv)
    import logging
    logging.getLogger().setLevel(logging.ERROR)  # open_clip's random-init warnings
    import torch
    from zeetad.video import list_videos
    devices = args.devices or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    results = dict(cpu_cores=os.cpu_count(), torch_threads=torch.get_num_threads(), fps=args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        if args.videos:
            videos = list_videos(args.videos)
        else:
            t0 = time.perf_counter()
            write_synthetic(tmp, args.num_synthetic, args.seconds, args.size, args.video_fps, args.codec)
            print(f'wrote {args.num_synthetic} synthetic {args.size} {args.codec} videos of {args.seconds:g} s '
                  f'in {time.perf_counter() - t0:.1f} s')
            videos = list_videos(tmp)
        results['decode'] = bench_decode(videos, args.fps, args.image_size)
        results['pipeline'] = [bench_pipeline(videos, args.fps, args.image_size, w) for w in args.workers]
        results['worker_start'] = bench_worker_start(videos[0].path, max(max(args.workers), 1))
    results['encode'] = [bench_encoder(m, d, args.batch_size, args.encode_batches) for d in devices
                         for m in args.models]
    print_results(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


def print_results(r):
    d = r['decode']
    print(f'\n{r["cpu_cores"]} CPU cores, {r["torch_threads"]} torch threads; {d["video_seconds"]:.0f} s of '
          f'{d["resolution"]} video; sampling at {r["fps"]:g} fps. frames/s by wall clock, and per CPU-second '
          '(what one free core would do; differs on a loaded machine)')
    rows = [('decode every frame (1 process)', d['decode_all_fps'], d['decode_all_cpu_fps']),
            (f'decode sampled at {r["fps"]:g} fps (1 process)', d['decode_sampled_fps'], d['decode_sampled_cpu_fps']),
            ('resize to the model input (1 process)', d['resize_fps'], d['resize_cpu_fps'])]
    rows += [(f'pipeline, {p["workers"]} workers (decode + resize)', p['fps'], p['cpu_fps']) for p in r['pipeline']]
    rows += [(f'encode {e["model"]} {e["input"][0]}px, {e["device"]} {e["precision"]}', e['encode_fps'], None)
             for e in r['encode']]
    width = max(len(a) for a, _, _ in rows)
    print(f'  {"":<{width}}  {"frames/s":>10}  {"per CPU-s":>10}')
    for name, wall, cpu in rows:
        print(f'  {name:<{width}}  {wall:>10,.1f}  {"" if cpu is None else f"{cpu:,.1f}":>10}')
    print(f'  sampled at {r["fps"]:g} fps, one process decodes {d["decode_sampled_realtime"]:.0f}x faster than '
          'real time')
    start = r['worker_start']
    print(f'\nloader start-up to the first chunk, {start["workers"]} workers (best of 3; the loader uses '
          'forkserver, fork only as the reference)')
    ref = start['seconds'].get('fork')
    for method, seconds in start['seconds'].items():
        ratio = f'{seconds / ref:8.1f}x fork' if ref else ''
        print(f'  {method:<20} {seconds:8.3f} s  {ratio}')


if __name__ == '__main__':
    main()
