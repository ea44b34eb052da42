"""The published zero-shot class splits (EffPrompt's 10 random splits per seen/unseen ratio).

Files: ``{root}/train_{R}_test_{100-R}/{dataset}/{train,test}/split_{i}.list``, one class name a line;
``train`` lists the seen classes, ``test`` the unseen ones.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from zeetad.utils.suggest import repeats_message, unknown_keys

# eval_videos is read by TADDataset (which test videos are scored), the rest here.
SPLIT_KEYS = ('mode', 'root', 'dataset', 'ratio', 'index', 'train_classes', 'test_classes', 'train_on_all',
              'eval_videos')


@dataclass(frozen=True)
class ClassSplit:
    """Which classes train and which are scored at test time."""
    train_classes: tuple[str, ...]
    test_classes: tuple[str, ...]
    description: str


class SplitError(ValueError):
    """A split file or split option that cannot be used; the message names the file or key."""


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f'split file not found: {path}')
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise SplitError(f'split file is empty: {path}')
    repeats = repeats_message(names)
    if repeats:  # one class trained (or scored) twice; the metric would stop later, naming no file
        raise SplitError(f'{path}: class names listed more than once (case and spaces ignored): {repeats}')
    return names


def split_files(root: str, dataset: str, ratio: int, index: int) -> tuple[Path, Path]:
    folder = Path(root) / f'train_{ratio}_test_{100 - ratio}' / dataset
    return folder / 'train' / f'split_{index}.list', folder / 'test' / f'split_{index}.list'


def write_split_files(root: str, dataset: str, ratio: int, index: int, train: Sequence[str],
                      test: Sequence[str]) -> tuple[Path, Path]:
    """Write one split in the published layout (seen classes ``train``, unseen ``test``, one name a line)."""
    paths = split_files(root, dataset, ratio, index)
    for path, names in zip(paths, (train, test)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('\n'.join(names) + '\n')
    return paths


def split_problems(split, key: str = 'split') -> list[str]:
    """Unknown keys (``ratoi``, ``indx``) and non-integer ``ratio``/``index`` of a split config, key first."""
    if split is None:
        return []
    if not isinstance(split, dict):
        return [f'{key}: expected a dict or None, got {split!r}']
    problems = unknown_keys(split, SPLIT_KEYS, key)
    for name, low, high in (('ratio', 1, 99), ('index', 0, None)):
        value = split.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low
                                  or (high is not None and value > high)):
            problems.append(f'{key}.{name}: must be an integer{f" in [{low}, {high}]" if high else f" >= {low}"}'
                            f', got {value!r}')
    for name in ('train_classes', 'test_classes'):
        names = split.get(name)
        repeats = repeats_message(names) if isinstance(names, (list, tuple)) else ''
        if repeats:  # checked with the config, before any training: a doubled text, or a metric error later
            problems.append(f'{key}.{name}: class names listed more than once (case and spaces ignored): {repeats}')
    if split.get('eval_videos') not in (None, 'with_test_classes', 'all'):
        problems.append(f"{key}.eval_videos: must be 'with_test_classes' or 'all', got {split['eval_videos']!r}")
    return problems


def resolve_split(split: Optional[dict], all_classes: Sequence[str]) -> ClassSplit:
    """Turn a ``split`` config into class lists.

    ``split`` is ``None``/``dict(mode='closed')`` (all classes both ways) or
    ``dict(mode='zero_shot', root='data/splits', dataset='THUMOS14', ratio=75, index=0)``;
    ``dict(mode='custom', train_classes=[...], test_classes=[...])`` takes explicit lists.
    ``train_on_all=True`` trains on every class and still tests on the split's test classes (closed-set bound).
    """
    problems = split_problems(split)
    if problems:
        raise SplitError('; '.join(problems))
    all_classes = list(all_classes)
    split = dict(split or {})
    mode = split.get('mode', 'closed')
    if mode == 'closed':
        return ClassSplit(tuple(all_classes), tuple(all_classes), f'closed-set ({len(all_classes)} classes)')
    if mode == 'zero_shot':
        for key in ('root', 'dataset', 'ratio', 'index'):
            if key not in split:
                raise KeyError(f'split.{key} is required for split.mode="zero_shot"')
        ratio, index = int(split['ratio']), int(split['index'])
        train_file, test_file = split_files(split['root'], split['dataset'], ratio, index)
        train, test = _read_list(train_file), _read_list(test_file)
        desc = f'zero-shot {ratio}/{100 - ratio} split {index}'
        sources = {name: train_file for name in train} | {name: test_file for name in test}
    elif mode == 'custom':
        train, test = list(split.get('train_classes', [])), list(split.get('test_classes', []))
        desc = 'custom split'
        sources = {name: 'split.train_classes' for name in train} | {name: 'split.test_classes' for name in test}
    else:
        raise ValueError(f'split.mode must be "closed", "zero_shot" or "custom", got {mode!r}')
    known = set(all_classes)
    missing = [n for n in train + test if n not in known]
    if missing:
        close = difflib.get_close_matches(missing[0], sorted(known), n=1, cutoff=0.6)
        hint = f'did you mean {close[0]!r}? ' if close else ''
        raise SplitError(f'split class {missing[0]!r} (from {sources[missing[0]]}) does not occur in the '
                         f'annotations; {hint}known classes: {sorted(known)}')
    if split.get('train_on_all', False):
        # The closed-set upper bound: train on every class, still score only the split's test classes.
        return ClassSplit(tuple(all_classes), tuple(test), desc + ' (closed-set training)')
    overlap = set(train) & set(test)
    if overlap:
        raise SplitError(f'classes are both seen and unseen in {desc}: {sorted(overlap)}')
    return ClassSplit(tuple(train), tuple(test), desc)
