"""Writing a synthetic dataset to disk: annotation JSON, per-video ``.npy`` and an HDF5 CLIP stream, through
:mod:`.dataset_writer` (the files are those of any zeetad dataset; only the content is synthetic).

Every file is written to a temporary name and renamed into place; ``meta.json`` is written last and marks
the dataset complete, so an interrupted run is redone and a complete one is reused.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from zeetad.utils.atomic_io import atomic_write_json

from .annotations import VideoRecord, load_annotations
from .dataset_writer import open_hdf5_writer, save_npy, write_annotation_file
from .synthetic import SyntheticConfig, SyntheticWorld
from .timebase import make_timebase


def write_synthetic_dataset(records: Sequence[VideoRecord], out_dir: str, cfg: SyntheticConfig,
                            text_embed_fn: Callable[[list[str]], np.ndarray], text_encoder_desc: dict,
                            progress: bool = True, feature_prefix: str = '') -> dict:
    """Write the dataset; returns its ``meta`` dict (also saved as ``meta.json``).

    Feature files and HDF5 datasets are named ``<feature_prefix><video_id>`` (ActivityNet: ``v_``, as in the
    released TSP features, while the annotation file's ids have no prefix).
    """
    out = Path(out_dir)
    (out / 'features' / 'loc').mkdir(parents=True, exist_ok=True)
    class_names = sorted({i.label for r in records for i in r.instances})
    text_emb = np.asarray(text_embed_fn(class_names), dtype=np.float64)
    world = SyntheticWorld(cfg, class_names, text_emb)
    loc_tb_cfg = dict(stride=cfg.loc_stride, window=cfg.loc_window, fps=cfg.loc_fps)
    iterator = records
    if progress:
        from tqdm import tqdm
        iterator = tqdm(records, desc='synthetic videos', unit='video')
    clip_attrs = dict(sample_fps=cfg.clip_fps, offset_s=0.0, model=text_encoder_desc.get('model_name', ''),
                      pretrained=str(text_encoder_desc.get('pretrained', '')), normalized=True, synthetic=True)
    with open_hdf5_writer(str(out / 'features' / 'clip.h5'), clip_attrs) as h5:
        for rec in iterator:
            rng = world.video_rng(rec.video_id)
            tb = make_timebase(loc_tb_cfg, rec.fps, 'synthetic loc timebase')
            loc = world.localisation_features(rec, tb, rng)
            save_npy(str(out / 'features' / 'loc' / f'{feature_prefix}{rec.video_id}.npy'), loc)
            h5.create_dataset(feature_prefix + rec.video_id, data=world.clip_features(rec, rng))
    write_annotation_file(str(out / 'annotations.json'), records, 'zeetad-synthetic', indent=1)
    meta = {'config': cfg.to_dict(), 'text_encoder': text_encoder_desc, 'classes': class_names,
            'num_videos': len(records), 'feature_prefix': feature_prefix, 'clip_dim': int(text_emb.shape[1]),
            'num_instances': sum(len(r.instances) for r in records)}
    atomic_write_json(str(out / 'meta.json'), meta)
    return meta


def existing_dataset(out_dir: str, cfg: SyntheticConfig, text_encoder_desc: dict,
                     num_videos: int, feature_prefix: str = '') -> Optional[dict]:
    """The meta of a complete dataset in ``out_dir`` written with the same settings, else None."""
    meta_path = Path(out_dir) / 'meta.json'
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    # Settings added after a dataset was written are absent from its meta; it was written with their defaults.
    stored = {**SyntheticConfig().to_dict(), **meta.get('config', {})}
    same = (stored == cfg.to_dict() and meta.get('text_encoder') == text_encoder_desc
            and meta.get('num_videos') == num_videos and meta.get('feature_prefix', '') == feature_prefix)
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
