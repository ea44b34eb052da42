"""Training-only query groups: extra decoder queries that add matched supervision, dropped at inference.

DETR's one-to-one matching gives each ground-truth segment a single positive query per step, which makes
it slow to converge on small data. Two remedies from the DETR literature share one mechanism here:

* **Group DETR** (Chen et al., 2022): ``G - 1`` extra groups of queries, each matched one-to-one to the
  ground truth on its own (``one_to_many=1``);
* **H-DETR hybrid matching** (Jia et al., 2023): an extra group matched *one-to-many*, the ground truth
  repeated ``k`` times so each segment gets ``k`` positive queries (``one_to_many=k``).

The groups are kept apart in the decoder's query self-attention by a block-diagonal mask
(:func:`group_attention_mask`), so the first group - the only one kept at inference - computes exactly what
it would compute alone. Config: ``model.query_groups=dict(num_groups=G, queries=Q_extra, one_to_many=k,
weight=w)`` (:class:`~zeetad.models.zeetad.ZEETAD`); ``None`` (default) trains the plain one-to-one model.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['configured_num_queries', 'group_attention_mask', 'group_sizes', 'split_query_groups', 'repeat_targets',
           'query_group_losses']

_GROUP_KEYS = ('num_groups', 'queries', 'one_to_many', 'weight')


def configured_num_queries(localizer: Mapping) -> int:
    """``Q`` of a localizer config: its transformer's ``num_queries``, or that transformer class's default."""
    import inspect

    from zeetad.registry import MODELS
    transformer = localizer.get('transformer') or {}
    if transformer.get('num_queries') is not None:
        return int(transformer['num_queries'])
    cls = MODELS.get(transformer.get('type', 'DeformableTransformer1D'))
    return int(inspect.signature(cls).parameters['num_queries'].default)


def group_sizes(num_queries: int, cfg: Optional[Mapping]) -> List[int]:
    """``[Q, Q_extra, ...]``: the inference group first, then every training-only group.

    Raises ``ValueError`` naming the ``model.query_groups`` key that is out of range.
    """
    if not cfg:
        return [num_queries]
    unknown = set(cfg) - set(_GROUP_KEYS)
    if unknown:
        raise KeyError(f'model.query_groups: unknown keys {sorted(unknown)}; expected {list(_GROUP_KEYS)}')
    groups = int(cfg.get('num_groups', 1))
    extra = cfg.get('queries') or num_queries
    if groups < 1:
        raise ValueError(f'model.query_groups.num_groups must be >= 1, got {groups}')
    if int(extra) < 1:
        raise ValueError(f'model.query_groups.queries must be >= 1, got {extra}')
    if int(cfg.get('one_to_many', 1)) < 1:
        raise ValueError(f"model.query_groups.one_to_many must be >= 1, got {cfg.get('one_to_many')}")
    return [num_queries] + [int(extra)] * (groups - 1)


def group_attention_mask(sizes: Sequence[int], device: Optional[torch.device] = None) -> Tensor:
    """Block-diagonal self-attention mask over the concatenated groups: ``(Q_all, Q_all)`` bool, True where
    a query may *not* attend (``nn.MultiheadAttention``'s ``attn_mask`` convention)."""
    group = torch.repeat_interleave(torch.arange(len(sizes), device=device),
                                    torch.as_tensor(list(sizes), device=device))
    return group[:, None] != group[None, :]


def _slice(value, start: int, stop: int):
    # Every per-query tensor has the query axis at dim 1 (B, Q, ...); lists are the auxiliary layers.
    if isinstance(value, Tensor):
        return value[:, start:stop]
    if isinstance(value, list):
        return [{k: _slice(v, start, stop) for k, v in layer.items()} for layer in value]
    return value


def split_query_groups(outputs: Mapping, sizes: Sequence[int]) -> List[Dict]:
    """Criterion outputs over all ``sum(sizes)`` queries -> one outputs dict per group (views, no copy).

    ``outputs``: ``pred_segments (B, Q_all, 2)``, optional ``pred_logits (B, Q_all, K)``,
    ``pred_actionness (B, Q_all)`` and ``aux_outputs`` (list of dicts of the same).
    """
    total = outputs['pred_segments'].shape[1]
    if total != sum(sizes):
        raise ValueError(f'{total} queries in the outputs, query groups {list(sizes)} sum to {sum(sizes)}')
    groups, start = [], 0
    for size in sizes:
        groups.append({k: _slice(v, start, start + size) for k, v in outputs.items()})
        start += size
    return groups


def repeat_targets(targets: Sequence[Mapping[str, Tensor]], times: int) -> List[Dict[str, Tensor]]:
    """Each video's ground truth repeated ``times`` times (``(N, ...)`` -> ``(times * N, ...)``), so a
    one-to-one matcher assigns every segment ``times`` queries (H-DETR's one-to-many matching)."""
    if times == 1:
        return [dict(t) for t in targets]
    return [{k: (v.repeat(times, *([1] * (v.dim() - 1))) if isinstance(v, Tensor) else v) for k, v in t.items()}
            for t in targets]


def query_group_losses(criterion, outputs: Mapping, targets: Sequence[Mapping[str, Tensor]], sizes: Sequence[int],
                       one_to_many: int = 1, weight: float = 1.0) -> Dict[str, Tensor]:
    """The first group's losses as without groups, plus ``groups.<loss>``: the extra groups' losses (each
    group matched on its own against the targets repeated ``one_to_many`` times), summed over groups, x
    ``weight``. With ``len(sizes) == 1`` this is ``criterion(outputs, targets)``."""
    parts = split_query_groups(outputs, sizes)
    losses = dict(criterion(parts[0], targets))
    if len(parts) == 1:
        return losses
    repeated = repeat_targets(targets, one_to_many)
    extra: Dict[str, Tensor] = {}
    for part in parts[1:]:
        for key, value in criterion(part, repeated).items():
            extra[key] = extra[key] + value if key in extra else value
    losses.update({f'groups.{key}': weight * value for key, value in extra.items()})
    return losses
