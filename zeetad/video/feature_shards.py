"""Rank shards of a feature file (``feats.rank{r}.h5``, one per extraction process): naming, discovery, and
the resumable merge of their complete videos into the final file."""
from __future__ import annotations

import glob
import os
import re
from typing import Dict, Iterable, List

from .feature_file import (COMPLETE, RUN_KEYS, FeatureFileWriter, part_files, check_run_attrs,
                           remove_feature_file, run_attrs_of)


def shard_path(out_path: str, rank: int) -> str:
    """``feats.h5`` -> ``feats.rank{rank}.h5`` (same folder)."""
    root, ext = os.path.splitext(out_path)
    return f'{root}.rank{rank}{ext or ".h5"}'


def find_shards(out_path: str) -> List[str]:
    """Existing shard files of ``out_path`` (or shards with unmerged videos only), ordered by rank."""
    root, ext = os.path.splitext(out_path)
    ext = ext or '.h5'
    pattern = re.compile(re.escape(os.path.basename(root)) + r'\.rank(\d+)' + re.escape(ext) + r'(\.parts)?$')
    found = set()
    for path in glob.glob(glob.escape(root) + '.rank*' + ext) + glob.glob(glob.escape(root) + '.rank*.parts'):
        match = pattern.match(os.path.basename(path))
        if match:
            found.add((int(match.group(1)), path[:-len('.parts')] if match.group(2) else path))
    return [p for _, p in sorted(found)]



def merge_feature_files(out_path: str, inputs: Iterable[str], remove_inputs: bool = False) -> Dict[str, int]:
    """Copy the complete videos of ``inputs`` (e.g. rank shards) into ``out_path``.

    Resumable: videos already complete in ``out_path`` are kept, and a video in
    several inputs is taken from the first. All inputs must share the run
    settings (and those of ``out_path`` if it exists). With ``remove_inputs``
    each input is deleted once everything in it is in ``out_path``.

    Returns:
        ``dict(copied=..., already=..., inputs=...)`` counts.
    """
    import h5py
    inputs = [p for p in inputs if os.path.abspath(p) != os.path.abspath(out_path)]
    if not inputs:
        raise FileNotFoundError(f'nothing to merge into {out_path}: no input (shard) files')
    for path in inputs:  # a shard whose own final merge failed: finish it first
        parts = part_files(path)
        if parts:
            attrs = run_attrs_of(path if os.path.isfile(path) else next(iter(parts.values())))
            FeatureFileWriter(path, {k: v for k, v in attrs.items() if k in RUN_KEYS}).close()
    run_attrs = None
    for path in inputs:
        attrs = run_attrs_of(path)
        if run_attrs is None:
            run_attrs = {k: v for k, v in attrs.items() if k in RUN_KEYS}
        else:
            check_run_attrs(path, attrs, run_attrs)
    copied = already = 0
    with FeatureFileWriter(out_path, run_attrs) as writer:
        done = writer.complete_ids()
        for path in inputs:
            with h5py.File(path, 'r') as src:
                for key, ds in src.items():
                    if not ds.attrs.get(COMPLETE, False):
                        continue
                    if key in done:
                        already += 1
                        continue
                    extra = {k: v for k, v in ds.attrs.items() if k not in (COMPLETE, 'timestamps')}
                    writer.write(key, ds[()], ds.attrs['timestamps'], extra)
                    done.add(key)
                    copied += 1
    if remove_inputs:
        for path in inputs:
            remove_feature_file(path)
    return dict(copied=copied, already=already, inputs=len(inputs))
