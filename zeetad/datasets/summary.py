"""The per-run dataset summary table."""
from __future__ import annotations

from collections import Counter
from typing import Optional, Sequence

from .annotations import VideoRecord


def format_summary(role: str, subsets: Sequence[str], split: str, records: Sequence[VideoRecord],
                   classes: Sequence[str], num_items: int, unassigned: Optional[dict] = None,
                   selection: str = '') -> str:
    """The table logged when a dataset is built; ``unassigned`` (``{label: instances}``) adds a warning row."""
    counts = Counter(i.label for r in records for i in r.instances)
    rows = [('role', role), ('subset', ', '.join(subsets)), ('split', split), ('videos', selection or len(records)),
            ('instances', sum(counts.values())), ('classes', f'{len(classes)} ({sum(1 for c in classes if counts[c])} '
                                                            'with instances)'), ('windows', num_items)]
    width = max(len(k) for k, _ in rows)
    lines = [f'  {k:<{width}} : {v}' for k, v in rows]
    shown = ', '.join(f'{c}({counts[c]})' for c in classes[:8]) + (' ...' if len(classes) > 8 else '')
    lines.append(f'  {"per class":<{width}} : {shown}')
    if unassigned:
        names = ', '.join(f'{k}({v})' for k, v in list(unassigned.items())[:8]) + (' ...' if len(unassigned) > 8 else '')
        lines.append(f'  {"left out":<{width}} : WARNING {sum(unassigned.values())} instances of {len(unassigned)} '
                     f'labels in no class list: {names}')
    return 'dataset summary\n' + '\n'.join(lines)


def unassigned_labels(records: Sequence[VideoRecord], classes: set) -> dict:
    """``{label: instances}`` of the labels in ``records`` outside ``classes`` (sorted by label)."""
    counts = Counter(i.label for r in records for i in r.instances if i.label not in classes)
    return dict(sorted(counts.items()))
