"""A THUMOS14-scale feature dataset on disk (npy and HDF5, float32/float16) and a timed training loader over it.

Used by ``benchmark_data.py``. Videos get ``length`` I3D-grid snippets (16-frame windows every 4 frames
at 30 fps) and a CLIP stream at 1 fps; annotations use the THUMOS14 class names so the real zero-shot split
files apply.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

__all__ = ['I3D_GRID', 'write_feature_dataset', 'dataset_config', 'time_loader']

I3D_GRID = dict(stride=4, window=16, fps=30.0)


def _duration_for(length: int) -> float:
    """A duration (s) whose I3D grid has exactly ``length`` snippets."""
    step, offset = I3D_GRID['stride'] / I3D_GRID['fps'], I3D_GRID['window'] / (2 * I3D_GRID['fps'])
    return round(offset + (length - 1) * step + 0.5 * step, 3)


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(src.resolve(), dst)


def write_feature_dataset(root: str, classes: Sequence[str], num_videos: int = 20, length: int = 2304,
                          loc_dim: int = 2048, clip_dim: int = 512, dtypes: Sequence[str] = ('float32', 'float16'),
                          formats: Sequence[str] = ('npy', 'hdf5'), seed: int = 0,
                          annotated_videos: Optional[int] = None) -> dict:
    """Write annotations, localisation features in every format x dtype, and one HDF5 CLIP file.

    ``num_videos`` distinct feature arrays are written; with ``annotated_videos`` > ``num_videos`` the
    annotation lists that many videos (THUMOS14 validation: 200) whose features are links to the distinct
    ones (file hard links for npy, HDF5 hard links), so per-dataset costs that grow with the annotation
    (ground truth kept in the metainfo, windows) are at full scale while the bytes on disk stay small.
    Instances (3-8 s, one every ~15 s) with labels from ``classes`` are spread over each video, so most
    training windows keep a target. HDF5 datasets are contiguous and uncompressed (the common layout).
    Returns a description with paths and the distinct bytes written per (format, dtype).
    """
    from zeetad.datasets.annotations import Instance, VideoRecord
    from zeetad.datasets.dataset_writer import open_hdf5_writer, save_npy, write_annotation_file
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    duration = _duration_for(length)
    clip_len = int(np.floor(duration)) + 1
    total = max(num_videos, annotated_videos or 0)
    records, video_ids = [], [f'video_validation_{i:07d}' for i in range(total)]
    for vid in video_ids:
        instances, t = [], float(rng.uniform(0, 10))
        while t + 8 < duration:
            seg_len = float(rng.uniform(3, 8))
            instances.append(Instance(classes[int(rng.integers(len(classes)))], round(t, 2), round(t + seg_len, 2)))
            t += seg_len + float(rng.uniform(5, 12))
        records.append(VideoRecord(vid, 'Validation', duration, I3D_GRID['fps'], instances))
    ann_file = out / 'annotations.json'
    write_annotation_file(str(ann_file), records, 'benchmark')

    written = {}
    with contextlib.ExitStack() as stack:
        h5_files = {dt: stack.enter_context(open_hdf5_writer(str(out / f'loc_{dt}.h5')))
                    for dt in dtypes if 'hdf5' in formats}
        clip_h5 = stack.enter_context(open_hdf5_writer(str(out / 'clip.h5')))
        for k, vid in enumerate(video_ids):
            if k >= num_videos:
                source = video_ids[k % num_videos]
                for dt in dtypes:
                    if 'npy' in formats:
                        _link(out / f'loc_{dt}' / f'{source}.npy', out / f'loc_{dt}' / f'{vid}.npy')
                    if 'hdf5' in formats:
                        h5_files[dt][vid] = h5_files[dt][source]
                clip_h5[vid] = clip_h5[source]
                continue
            feats = rng.standard_normal((length, loc_dim), dtype=np.float32)
            for dt in dtypes:
                arr = feats.astype(dt, copy=False)
                if 'npy' in formats:
                    save_npy(str(out / f'loc_{dt}' / f'{vid}.npy'), arr)
                if 'hdf5' in formats:
                    h5_files[dt].create_dataset(vid, data=arr)
                for fmt in formats:
                    written[(fmt, dt)] = written.get((fmt, dt), 0) + arr.nbytes
            clip = rng.standard_normal((clip_len, clip_dim), dtype=np.float32)
            clip_h5.create_dataset(vid, data=clip / np.linalg.norm(clip, axis=1, keepdims=True))
    return dict(root=str(out), ann_file=str(ann_file), num_videos=num_videos, annotated_videos=total,
                length=length, loc_dim=loc_dim,
                clip_dim=clip_dim, duration=duration, bytes=written)


def dataset_config(desc: dict, fmt: str, dtype: str, window: Optional[int], split: Optional[dict],
                   overlap: float = 0.75) -> dict:
    """A training ``TADDataset`` config over the written data (``window=None``: whole videos as one window;
    ``split=None``: closed set)."""
    root = Path(desc['root'])
    timebase = dict(stride=I3D_GRID['stride'], window=I3D_GRID['window'], fps=None)
    if fmt == 'npy':
        loc = dict(format='npy', root=str(root / f'loc_{dtype}'), dim=desc['loc_dim'], timebase=timebase)
    else:
        loc = dict(format='hdf5', path=str(root / f'loc_{dtype}.h5'), dim=desc['loc_dim'], timebase=timebase)
    return dict(type='TADDataset', ann_file=desc['ann_file'], subset='Validation', role='train', split=split,
                loc_features=loc,
                clip_features=dict(format='hdf5', path=str(root / 'clip.h5'), dim=desc['clip_dim'],
                                   timebase=dict(sample_fps=1.0, offset_s=0.0)),
                window_size=window or desc['length'], window_overlap=overlap, min_coverage=0.5,
                pipeline=[dict(type='PackTADInputs')], verbose=False)


def time_loader(dataset, batch_size: int, num_workers: int, batches: int, preprocessor=None,
                warmup_batches: int = 1, seed: int = 0) -> dict:
    """Iterate a shuffled ``DataLoader`` (``tad_collate``) and, if given, the model's data preprocessor.

    The first ``warmup_batches`` (worker start-up, first file opens) are timed apart as ``startup_s``;
    ``samples_per_s`` covers the ``batches`` after them. Sampling is with reshuffling, so small datasets can
    be drawn more than once.
    """
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    from zeetad.datasets import tad_collate
    warmup_batches = max(1, warmup_batches)  # the clock starts after a batch has arrived
    total = (batches + warmup_batches) * batch_size
    sampler = RandomSampler(dataset, num_samples=total, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                        collate_fn=tad_collate, drop_last=True)
    t0 = time.perf_counter()
    t_start, samples, snippets = None, 0, 0
    for i, batch in enumerate(loader):
        if preprocessor is not None:
            batch = preprocessor(batch, True)
            n, steps = batch['inputs']['loc'].shape[:2]
        else:
            n, steps = len(batch['inputs']), sum(x['loc'].shape[0] for x in batch['inputs']) // len(batch['inputs'])
        if i + 1 == warmup_batches:
            t_start = time.perf_counter()
        elif i + 1 > warmup_batches:
            samples += n
            snippets += n * steps
    elapsed = time.perf_counter() - t_start
    return dict(samples_per_s=samples / elapsed, snippets_per_s=snippets / elapsed, samples=samples,
                seconds=elapsed, startup_s=t_start - t0)
