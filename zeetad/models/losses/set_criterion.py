"""DETR-style set criterion for temporal action detection (TadTR / Deformable-DETR losses)."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine import dist
from torch import Tensor, nn

from zeetad.registry import MODELS

from .focal_loss import sigmoid_focal_loss
from .matcher import HungarianMatcher, MatchIndices
from zeetad.structures.segments import generalized_segment_iou, segment_cw_to_t1t2, segment_iou

__all__ = ['SetCriterion', 'actionness_targets', 'DEFAULT_LOSS_WEIGHTS']

# TadTR's THUMOS14 defaults.
DEFAULT_LOSS_WEIGHTS: Dict[str, float] = dict(loss_cls=2.0, loss_seg=5.0, loss_iou=2.0, loss_actionness=4.0)


def actionness_targets(pred_segments: Tensor, targets: Sequence[Mapping[str, Tensor]]) -> Tensor:
    """Each query's best tIoU with the ground truth of its own video.

    TadTR takes the max over the ground truth of the whole batch, which lets a
    query in one video be rewarded for overlapping another video's action; here
    the max runs over the query's own video only.

    Args:
        pred_segments: ``(B, Q, 2)`` predicted (centre, width).
        targets: B dicts with ``segments (N_b, 2)`` (centre, width).

    Returns:
        ``(B, Q)`` targets in [0, 1], detached; 0 for videos without ground truth.
    """
    pred = segment_cw_to_t1t2(pred_segments.detach().float())
    batch, num_queries = pred.shape[:2]
    gt = [t['segments'].reshape(-1, 2) for t in targets]
    if sum(len(g) for g in gt) == 0:
        return pred.new_zeros(batch, num_queries)
    # All pairs at once, then keep each query's own video: no per-video loop (GPU launches).
    owner = torch.cat([torch.full((len(g), ), b, dtype=torch.long) for b, g in enumerate(gt)]).to(pred.device)
    gt_t1t2 = segment_cw_to_t1t2(torch.cat(gt).to(pred))
    iou = segment_iou(pred.flatten(0, 1), gt_t1t2).view(batch, num_queries, -1)
    own = owner.view(1, 1, -1) == torch.arange(batch, device=pred.device).view(-1, 1, 1)
    return iou.masked_fill(~own, 0).max(dim=-1).values


@MODELS.register_module()
class SetCriterion(nn.Module):
    """Hungarian-matched set losses, with auxiliary losses for earlier decoder layers.

    The number of classes K is read from ``pred_logits.shape[-1]`` at every call,
    so the same criterion serves any class vocabulary (zero-shot training with a
    per-split or per-batch class list). Class targets are one-hot over K with no
    background column: unmatched queries are pushed to 0 on every class.

    Losses (each multiplied by its weight in ``loss_weights``):

    - ``loss_cls``: sigmoid focal loss summed over queries and classes / num_segments.
    - ``loss_seg``: L1 between matched (centre, width) pairs, summed / num_segments.
    - ``loss_iou``: ``1 - tIoU`` (or ``1 - GIoU``) of matched pairs, summed / num_segments.
    - ``loss_actionness``: binary cross-entropy with logits between ``pred_actionness`` and each query's best
      tIoU with its own video's ground truth (a soft target in [0, 1]), mean over all B*Q queries. Its
      gradient in the logit, ``sigmoid(x) - target``, does not vanish when the sigmoid saturates (TadTR's L1
      on ``sigmoid(x)`` does, and a head pushed there never comes back: docs/ablations.md).

    ``num_segments`` is the batch's ground-truth count, averaged over ranks when
    distributed, clamped to >= 1. A loss is skipped when its weight is 0 or its
    prediction is missing (``pred_logits`` None for class-agnostic training,
    no ``pred_actionness``).

    Args:
        matcher: a :class:`HungarianMatcher` or its config dict.
        loss_weights: overrides of :data:`DEFAULT_LOSS_WEIGHTS` keyed by loss name.
        focal_alpha: focal ``alpha`` of ``loss_cls``.
        focal_gamma: focal ``gamma`` of ``loss_cls``.
        aux_loss: also compute losses for ``outputs['aux_outputs']``, named ``d{i}.loss_*``.
        iou_type: ``'iou'`` (TadTR) or ``'giou'`` for ``loss_iou``.
    """

    def __init__(self,
                 matcher: Union[HungarianMatcher, dict, None] = None,
                 loss_weights: Optional[Mapping[str, float]] = None,
                 focal_alpha: float = 0.25,
                 focal_gamma: float = 2.0,
                 aux_loss: bool = True,
                 iou_type: str = 'iou') -> None:
        super().__init__()
        if matcher is None:
            matcher = dict(type='HungarianMatcher')
        self.matcher = MODELS.build(matcher) if isinstance(matcher, dict) else matcher
        unknown = set(loss_weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise KeyError(f'unknown loss names {sorted(unknown)}; expected {sorted(DEFAULT_LOSS_WEIGHTS)}')
        if iou_type not in ('iou', 'giou'):
            raise ValueError(f"iou_type must be 'iou' or 'giou', got {iou_type!r}")
        self.loss_weights = {**DEFAULT_LOSS_WEIGHTS, **(loss_weights or {})}
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.aux_loss = aux_loss
        self.iou_type = iou_type

    # -- matching ---------------------------------------------------------------------------
    def match(self, outputs: Mapping[str, Tensor], targets: Sequence[Mapping[str, Tensor]]) -> MatchIndices:
        """Match one layer's ``outputs`` (``pred_logits``, ``pred_segments``) to ``targets``.

        Returns:
            B pairs ``(query_idx, target_idx)`` of int64 tensors.
        """
        return self.matcher(outputs.get('pred_logits'), outputs['pred_segments'], targets)

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def num_segments(targets: Sequence[Mapping[str, Tensor]], device: torch.device) -> Tensor:
        """The loss normaliser: ground-truth segments in the batch, averaged over ranks, at least 1."""
        num = torch.tensor(float(sum(len(t['segments']) for t in targets)), device=device)
        # Mean over ranks so every rank divides by the same global count per GPU.
        if dist.is_distributed():
            dist.all_reduce(num, op='mean')
        return num.clamp(min=1)

    @staticmethod
    def _flat_indices(indices: MatchIndices, sizes: Sequence[int],
                      device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
        """Matched (video, query) pairs and their rows in the batch-concatenated targets, each ``(M,)``."""
        empty = torch.zeros(0, dtype=torch.int64)
        batch_idx, src_idx, tgt_idx = [empty], [empty], [empty]  # keeps torch.cat valid for B = 0
        offset = 0
        for b, ((src, tgt), size) in enumerate(zip(indices, sizes)):
            batch_idx.append(torch.full_like(src, b))
            src_idx.append(src)
            tgt_idx.append(tgt + offset)
            offset += size
        return tuple(torch.cat(x).to(device) for x in (batch_idx, src_idx, tgt_idx))  # type: ignore[return-value]

    @staticmethod
    def _check_labels(logits: Tensor, targets: Sequence[Mapping[str, Tensor]]) -> None:
        labels = torch.cat([t['labels'].reshape(-1) for t in targets]) if targets else torch.zeros(0)
        if labels.numel() == 0:
            return
        num_classes = logits.shape[-1]
        low, high = (int(v) for v in torch.aminmax(labels))  # one host sync for the whole batch
        if low < -2 or high >= num_classes:  # -1 / -2: a localised instance of none of the K names / unnamed
            raise ValueError(f'labels must lie in [-2, {num_classes}) for pred_logits with K={num_classes}, '
                             f'got range [{low}, {high}]')

    # -- per-layer losses ---------------------------------------------------------------
    def layer_losses(self, outputs: Mapping[str, Tensor], targets: Sequence[Mapping[str, Tensor]],
                     indices: MatchIndices, num_segments: Tensor) -> Dict[str, Tensor]:
        """Weighted losses of one decoder layer, given its matching."""
        w = self.loss_weights
        segments = outputs['pred_segments']
        device = segments.device
        sizes = [len(t['segments']) for t in targets]
        batch_idx, src_idx, tgt_idx = self._flat_indices(indices, sizes, device)
        losses: Dict[str, Tensor] = {}

        logits = outputs.get('pred_logits')
        if logits is not None and w['loss_cls'] != 0:
            labels = torch.cat([t['labels'].reshape(-1) for t in targets]).to(device).long()[tgt_idx]
            onehot = torch.zeros_like(logits, dtype=torch.float32)
            named = labels >= 0  # -1: matched, none of the K names (all-zero target); -2: no class loss
            onehot[batch_idx[named], src_idx[named], labels[named]] = 1.0
            per_query = sigmoid_focal_loss(logits.float(), onehot, self.focal_alpha, self.focal_gamma, 'none')
            ignored = labels == -2
            if ignored.any():
                per_query = per_query.clone()
                per_query[batch_idx[ignored], src_idx[ignored]] = 0.0
            loss = per_query.sum()
            losses['loss_cls'] = w['loss_cls'] * loss / num_segments

        if w['loss_seg'] != 0 or w['loss_iou'] != 0:
            src = segments[batch_idx, src_idx].float()
            tgt = torch.cat([t['segments'].reshape(-1, 2) for t in targets]).to(src)[tgt_idx]
            if w['loss_seg'] != 0:
                losses['loss_seg'] = w['loss_seg'] * F.l1_loss(src, tgt, reduction='none').sum() / num_segments
            if w['loss_iou'] != 0:
                iou_fn = segment_iou if self.iou_type == 'iou' else generalized_segment_iou
                iou = iou_fn(segment_cw_to_t1t2(src), segment_cw_to_t1t2(tgt), aligned=True)
                losses['loss_iou'] = w['loss_iou'] * (1 - iou).sum() / num_segments

        actionness = outputs.get('pred_actionness')
        if actionness is not None and w['loss_actionness'] != 0:
            logit = actionness.float().reshape(segments.shape[:2])
            target = actionness_targets(segments, targets)
            losses['loss_actionness'] = w['loss_actionness'] * F.binary_cross_entropy_with_logits(logit, target)
        return losses

    # -- public entry -------------------------------------------------------------------
    def forward(self,
                outputs: Mapping,
                targets: Sequence[Mapping[str, Tensor]],
                indices: Optional[MatchIndices] = None) -> Dict[str, Tensor]:
        """Compute all weighted losses.

        Args:
            outputs: ``pred_segments (B, Q, 2)`` (centre, width); optional
                ``pred_logits (B, Q, K)`` raw scores, ``pred_actionness (B, Q)``
                raw logits, ``aux_outputs`` (list of dicts with the same keys, one
                per earlier decoder layer, ``pred_actionness`` optional).
            targets: B dicts with ``labels (N_b,)`` long and ``segments (N_b, 2)``
                normalised (centre, width).
            indices: precomputed matching of the final layer (from :meth:`match`)
                to reuse; matched here when None.

        Returns:
            ``{'loss_cls', 'loss_seg', 'loss_iou', 'loss_actionness'}`` for the
            final layer plus ``'d{i}.loss_*'`` for aux layer i (0 = first decoder layer).
        """
        segments = outputs['pred_segments']
        if len(targets) != segments.shape[0]:
            raise ValueError(f'{len(targets)} targets for a batch of {segments.shape[0]}')
        if outputs.get('pred_logits') is not None:
            self._check_labels(outputs['pred_logits'], targets)
        num_segments = self.num_segments(targets, segments.device)
        if indices is None:
            indices = self.match(outputs, targets)
        losses = self.layer_losses(outputs, targets, indices, num_segments)
        if self.aux_loss:
            aux_list: List[Mapping[str, Tensor]] = outputs.get('aux_outputs') or []
            for i, aux in enumerate(aux_list):
                aux_losses = self.layer_losses(aux, targets, self.match(aux, targets), num_segments)
                losses.update({f'd{i}.{k}': v for k, v in aux_losses.items()})
        return losses

    def extra_repr(self) -> str:
        return (f'loss_weights={self.loss_weights}, focal_alpha={self.focal_alpha}, '
                f'focal_gamma={self.focal_gamma}, aux_loss={self.aux_loss}, iou_type={self.iou_type!r}')
