"""Writing a synthetic dataset to disk: annotation JSON, per-video ``.npy`` and an HDF5 CLIP stream.

Every file is written to a temporary name and renamed into place; ``meta.json`` is written last and marks
the dataset complete, so an interrupted run is redone and a complete one is reused.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from zeetad.utils.atomic_io import atomic_path, atomic_write_json

from .annotations import Instance, VideoRecord, load_annotations
from .synthetic import SyntheticConfig, SyntheticWorld
from .timebase import make_timebase


def activitynet_shaped_records(video_info_csv: str, action_csv: str, max_videos: Optional[int],
                               seed: int) -> list[VideoRecord]:
    """ActivityNet-1.3-shaped videos (real ids, durations, fps, subsets) with synthetic labelled instances.

    The official label file is not public here, so each video gets 1-3 instances of one random class.
    """
    with open(action_csv) as f:
        classes = [row['action'] for row in csv.DictReader(f)]
    rng = np.random.default_rng(seed)
    subset_names = {'training': 'training', 'validation': 'validation'}
    records = []
    with open(video_info_csv) as f:
        for row in csv.DictReader(f):
            if row['subset'] not in subset_names:
                continue
            duration, fps = float(row['seconds']), float(row['fps'])
            label = classes[rng.integers(len(classes))]
            instances = []
            for _ in range(rng.integers(1, 4)):
                length = duration * rng.uniform(0.05, 0.5)
                start = rng.uniform(0, duration - length)
                instances.append(Instance(label, round(start, 2), round(start + length, 2)))
            records.append(VideoRecord(row['video'], subset_names[row['subset']], duration, fps, instances))
    if max_videos:
        order = rng.permutation(len(records))[:max_videos]
        records = [records[i] for i in sorted(order)]
    return records


def write_synthetic_dataset(records: Sequence[VideoRecord], out_dir: str, cfg: SyntheticConfig,
                            text_embed_fn: Callable[[list[str]], np.ndarray], text_encoder_desc: dict,
                            progress: bool = True) -> dict:
    """Write the dataset; returns its ``meta`` dict (also saved as ``meta.json``)."""
    import h5py
    out = Path(out_dir)
    (out / 'features' / 'loc').mkdir(parents=True, exist_ok=True)
    class_names = sorted({i.label for r in records for i in r.instances})
    text_emb = np.asarray(text_embed_fn(class_names), dtype=np.float64)
    world = SyntheticWorld(cfg, class_names, text_emb)
    loc_tb_cfg = dict(stride=cfg.loc_stride, window=cfg.loc_window, fps=None)
    iterator = records
    if progress:
        from tqdm import tqdm
        iterator = tqdm(records, desc='synthetic videos', unit='video')
    with atomic_path(str(out / 'features' / 'clip.h5')) as clip_tmp, h5py.File(clip_tmp, 'w') as h5:
        h5.attrs.update(sample_fps=cfg.clip_fps, offset_s=0.0, model=text_encoder_desc.get('model_name', ''),
                        pretrained=str(text_encoder_desc.get('pretrained', '')), normalized=True, synthetic=True)
        for rec in iterator:
            rng = world.video_rng(rec.video_id)
            tb = make_timebase(loc_tb_cfg, rec.fps, 'synthetic loc timebase')
            loc = world.localisation_features(rec, tb, rng)
            path = out / 'features' / 'loc' / f'{rec.video_id}.npy'
            with atomic_path(str(path)) as tmp, open(tmp, 'wb') as f:
                np.save(f, loc)
            h5.create_dataset(rec.video_id, data=world.clip_features(rec, rng))
    database = {r.video_id: {'subset': r.subset, 'duration': r.duration, 'fps': r.fps,
                             'annotations': [{'label': i.label, 'segment': [i.start, i.end]} for i in r.instances]}
                for r in records}
    atomic_write_json(str(out / 'annotations.json'), {'version': 'zeetad-synthetic', 'database': database})
    meta = {'config': cfg.to_dict(), 'text_encoder': text_encoder_desc, 'classes': class_names,
            'num_videos': len(records), 'clip_dim': int(text_emb.shape[1]),
            'num_instances': sum(len(r.instances) for r in records)}
    atomic_write_json(str(out / 'meta.json'), meta)
    return meta


def existing_dataset(out_dir: str, cfg: SyntheticConfig, text_encoder_desc: dict,
                     num_videos: int) -> Optional[dict]:
    """The meta of a complete dataset in ``out_dir`` written with the same settings, else None."""
    meta_path = Path(out_dir) / 'meta.json'
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    # fields added after a dataset was written hold their defaults there
    stored = {**SyntheticConfig().to_dict(), **meta.get('config', {})}
    same = (stored == cfg.to_dict() and meta.get('text_encoder') == text_encoder_desc
            and meta.get('num_videos') == num_videos)
    return meta if same else None


def load_source_records(ann_file: str, subsets: Optional[Sequence[str]],
                        max_videos: Optional[int]) -> list[VideoRecord]:
    """The source videos, or ``max_videos`` of them chosen so that every subset keeps every class it has
    (one video per class and subset first, then evenly spaced others), so small datasets still fit the splits."""
    records = load_annotations(ann_file, subsets)
    if not max_videos or max_videos >= len(records):
        return records
    chosen: list[int] = []
    for subset in sorted({r.subset for r in records}):
        for label in sorted({i.label for r in records if r.subset == subset for i in r.instances}):
            if not any(records[k].subset == subset and label in records[k].labels for k in chosen):
                chosen.append(next(k for k, r in enumerate(records) if r.subset == subset and label in r.labels))
    for k in np.linspace(0, len(records) - 1, max_videos).round().astype(int).tolist():
        if len(chosen) >= max_videos:
            break
        if k not in chosen:
            chosen.append(k)
    return [records[k] for k in sorted(chosen)]
