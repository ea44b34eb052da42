"""The dataset writers' outputs for fixed seeds, reduced to fingerprints (test_data_writers_golden.py).

Each case runs one generator at small sizes: the synthetic THUMOS14-, ActivityNet- and invented-shaped
datasets (``tools/data/make_synthetic_data.py``), the benchmark feature dataset (``benchmarks/
common/data.py``) and the tests' toy dataset (``testing_utils.write_tiny_dataset``). Text files are fingerprinted
by their bytes; arrays (``.npy`` files, HDF5 datasets) by dtype, shape and float64 sums, so that a last-bit
difference of another machine's BLAS does not fail the test while any change of content does.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from testing_utils import ROOT, write_tiny_dataset


def _text_embeddings(names):
    """Deterministic stand-in for the CLIP text tower (no torch: the same numbers on every machine)."""
    rng = np.random.default_rng(7)
    return rng.normal(size=(len(names), 16))


def _synthetic(out: Path, records, prefix: str = '', **cfg):
    from zeetad.datasets.synthetic import SyntheticConfig
    from zeetad.datasets.synthetic_io import write_synthetic_dataset
    write_synthetic_dataset(records, str(out), SyntheticConfig(loc_dim=8, seed=0, **cfg), _text_embeddings,
                            dict(type='CLIPTextEncoder', model_name='stand-in', pretrained=None), progress=False,
                            feature_prefix=prefix)


def case_thumos14(out: Path):
    from zeetad.datasets.synthetic_io import load_source_records
    records = load_source_records(str(ROOT / 'data/thumos14/annotations/thumos14.json'), None, 6)
    _synthetic(out, records)


def case_activitynet(out: Path):
    from zeetad.datasets.synthetic_anet import activitynet_shaped_records
    anet = ROOT / 'data' / 'activitynet'
    records = activitynet_shaped_records(str(anet / 'video_info_new.csv'), str(anet / 'action_name.csv'), 400, 0)
    _synthetic(out, records[::40], prefix='v_', loc_stride=16, loc_fps=15.0, clip_fps=1.0)


def case_invented(out: Path):
    from zeetad.datasets.synthetic_invented import invented_records, write_invented_splits
    records = invented_records(48, 24, 25.0, 0)
    write_invented_splits(str(out / 'splits'), 'Invented', sorted({i.label for r in records for i in r.instances}), 0)
    _synthetic(out, records[::8], clip_class_margin=0.5, clip_scene_class=0.6)


def case_benchmark(out: Path):
    from benchmarks.common.data import write_feature_dataset
    write_feature_dataset(str(out), ['A', 'B', 'C'], num_videos=2, length=64, loc_dim=8, clip_dim=4,
                          annotated_videos=3)


def case_tiny(out: Path):
    write_tiny_dataset(out)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith('case_')}


def _array_print(a: np.ndarray) -> list:
    x = np.asarray(a, dtype=np.float64)
    return [str(a.dtype), list(a.shape), float(x.sum()), float(np.abs(x).sum()), float((x * x).sum())]


def _attr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(root: Path) -> dict:
    """``{relative path: fingerprint}`` of every file under ``root`` (HDF5: one entry per dataset + attrs)."""
    import h5py
    out = {}
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix == '.npy':
            out[rel] = _array_print(np.load(path))
        elif path.suffix == '.h5':
            with h5py.File(path, 'r') as h5:
                out[rel] = {'attrs': {k: _attr(v) for k, v in sorted(h5.attrs.items())},
                            **{k: _array_print(h5[k][()]) for k in sorted(h5)}}
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


if __name__ == '__main__':  # print the golden fingerprints (run on the code to keep as the reference)
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps({name: fingerprint(Path(tmp) / name) if fn(Path(tmp) / name) is None else None
                          for name, fn in CASES.items()}, indent=1))
