"""One-to-one Hungarian matching of predicted segments (queries) to ground truth."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zeetad.registry import MODELS

from zeetad.structures.segments import generalized_segment_iou, segment_cw_to_t1t2, segment_iou

__all__ = ['HungarianMatcher', 'focal_class_cost']

MatchIndices = List[Tuple[Tensor, Tensor]]


def focal_class_cost(logits: Tensor, labels: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Deformable-DETR classification cost: focal loss of a positive minus that of a negative.

    Args:
        logits: ``(Q, K)`` raw class scores.
        labels: ``(N,)`` long target classes in ``[0, K)``; < 0 (none of the K names) costs 0.

    Returns:
        ``(Q, N)`` cost; lower when query q scores class ``labels[n]`` high.
    """
    logits = logits[:, labels.clamp(min=0)]
    prob = logits.sigmoid()
    # softplus(-x) = -log(sigmoid(x)) and softplus(x) = -log(1 - sigmoid(x)), stable for large |x|.
    pos = alpha * (1 - prob).pow(gamma) * F.softplus(-logits)
    neg = (1 - alpha) * prob.pow(gamma) * F.softplus(logits)
    return (pos - neg) * (labels >= 0).to(logits.dtype)


@MODELS.register_module()
class HungarianMatcher(nn.Module):
    """Match each video's targets to queries by minimising a weighted cost.

    ``cost = cost_class * focal_cost + cost_seg * L1(cw) - cost_iou * tIoU``,
    solved per video with ``scipy.optimize.linear_sum_assignment``; every target
    gets one query (when ``Q >= N_b``), the rest are unmatched.

    Args:
        cost_class: weight of the focal classification cost (0 = class-agnostic).
        cost_seg: weight of the L1 distance between (centre, width) pairs.
        cost_iou: weight of the negative tIoU.
        focal_alpha: focal ``alpha`` of the classification cost.
        focal_gamma: focal ``gamma`` of the classification cost.
        iou_type: ``'iou'`` (TadTR) or ``'giou'`` (Deformable DETR) for the IoU cost.
    """

    def __init__(self,
                 cost_class: float = 6.0,
                 cost_seg: float = 5.0,
                 cost_iou: float = 2.0,
                 focal_alpha: float = 0.25,
                 focal_gamma: float = 2.0,
                 iou_type: str = 'iou') -> None:
        super().__init__()
        if cost_class == 0 and cost_seg == 0 and cost_iou == 0:
            raise ValueError('all matching costs are 0')
        if iou_type not in ('iou', 'giou'):
            raise ValueError(f"iou_type must be 'iou' or 'giou', got {iou_type!r}")
        self.cost_class = cost_class
        self.cost_seg = cost_seg
        self.cost_iou = cost_iou
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.iou_type = iou_type

    @torch.no_grad()
    def cost_matrix(self, logits: Optional[Tensor], segments: Tensor, tgt_labels: Optional[Tensor],
                    tgt_segments: Tensor) -> Tensor:
        """Cost of one video.

        Args:
            logits: ``(Q, K)`` raw class scores, or None for class-agnostic matching.
            segments: ``(Q, 2)`` predicted (centre, width).
            tgt_labels: ``(N,)`` long labels (unused when class-agnostic).
            tgt_segments: ``(N, 2)`` target (centre, width).

        Returns:
            ``(Q, N)`` float cost.
        """
        # float32 even under autocast: fp16 costs would make near-ties arbitrary.
        segments = segments.float()
        tgt_segments = tgt_segments.to(segments)
        cost = segments.new_zeros(segments.shape[0], tgt_segments.shape[0])
        if self.cost_class != 0 and logits is not None:
            if tgt_labels is None:
                raise KeyError("class-aware matching needs 'labels' in every target")
            cost = cost + self.cost_class * focal_class_cost(
                logits.float(), tgt_labels.to(logits.device).long(), self.focal_alpha, self.focal_gamma)
        if self.cost_seg != 0:
            cost = cost + self.cost_seg * torch.cdist(segments, tgt_segments, p=1)
        if self.cost_iou != 0:
            iou_fn = segment_iou if self.iou_type == 'iou' else generalized_segment_iou
            cost = cost - self.cost_iou * iou_fn(segment_cw_to_t1t2(segments), segment_cw_to_t1t2(tgt_segments))
        return cost

    @torch.no_grad()
    def forward(self, pred_logits: Optional[Tensor], pred_segments: Tensor,
                targets: Sequence[Dict[str, Tensor]]) -> MatchIndices:
        """Match a batch.

        Args:
            pred_logits: ``(B, Q, K)`` raw class scores, or None (class-agnostic).
            pred_segments: ``(B, Q, 2)`` normalised (centre, width).
            targets: B dicts with ``labels (N_b,)`` long and ``segments (N_b, 2)``
                normalised (centre, width); ``labels`` may be absent when class-agnostic.

        Returns:
            B pairs ``(query_idx, target_idx)`` of CPU int64 tensors of length
            ``min(Q, N_b)``, sorted by query index.
        """
        if len(targets) != pred_segments.shape[0]:
            raise ValueError(f'{len(targets)} targets for a batch of {pred_segments.shape[0]}')
        # scipy.optimize costs ~0.3 s to import; keep `import zeetad.models` cheap.
        from scipy.optimize import linear_sum_assignment

        batch, num_queries = pred_segments.shape[:2]
        sizes = [len(t['segments']) for t in targets]
        indices: MatchIndices = []
        if sum(sizes) > 0:
            # One (B*Q, sum N) cost for the whole batch, moved to the CPU once: a
            # per-video loop would cost B host syncs per decoder layer on a GPU.
            use_labels = self.cost_class != 0 and pred_logits is not None
            tgt_labels = torch.cat([t['labels'].reshape(-1) for t in targets]) if use_labels else None
            tgt_segments = torch.cat([t['segments'].reshape(-1, 2).to(pred_segments.device) for t in targets])
            logits = pred_logits.flatten(0, 1) if pred_logits is not None else None
            cost = self.cost_matrix(logits, pred_segments.flatten(0, 1), tgt_labels, tgt_segments)
            cost = cost.view(batch, num_queries, -1).cpu()
            if not torch.isfinite(cost).all():
                raise ValueError('non-finite matching cost: check the predictions for NaN/inf')
            blocks = cost.split(sizes, dim=-1)
        for b, size in enumerate(sizes):
            if size == 0:
                empty = torch.zeros(0, dtype=torch.int64)
                indices.append((empty, empty.clone()))
                continue
            rows, cols = linear_sum_assignment(blocks[b][b].numpy())
            indices.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return indices

    def extra_repr(self) -> str:
        return (f'cost_class={self.cost_class}, cost_seg={self.cost_seg}, cost_iou={self.cost_iou}, '
                f'focal_alpha={self.focal_alpha}, focal_gamma={self.focal_gamma}, iou_type={self.iou_type!r}')
