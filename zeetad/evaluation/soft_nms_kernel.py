"""The two loops behind :mod:`zeetad.evaluation.soft_nms`.

:func:`lockstep_soft_nms` (torch, CPU or CUDA): groups (classes of one video,
or whole videos when class-agnostic) never interact, so one iteration keeps
one segment in every group at once. Groups are laid out as padded ``(rows,
width)`` matrices, one per *bucket* of groups of similar size, so that one
class holding most candidates (the usual case) costs no padding for the
others, and a bucket of small groups leaves the loop once they are exhausted.
Within a row, ``argmax`` gives the first maximum, i.e. the lowest input index
on ties.

:func:`sequential_soft_nms` (numpy, CPU): the global greedy loop of one video,
one pick per step, decaying only the candidates of the pick's group whose
interval can overlap it (a window found by bisection in the group's
start-sorted order). Each step is about 12 numpy calls on a few dozen numbers
instead of about 15 torch calls on all of them, which is what one video alone
(``detect``, per-video evaluation) pays for.

Dropped candidates are not masked each step (a boolean mask pass costs about
as much as the rest of the arithmetic): a candidate below ``min_score`` stays
below it (decay never raises a score) and is smaller than every live one, so a
group is exhausted exactly when its best is below ``min_score``.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

# Fixed cost of one bucket step (about 15 small torch ops) in units of the
# per-element cost of the decay arithmetic; sets how eagerly buckets merge.
_BUCKET_OVERHEAD = 4096


def decay_weights(start: Tensor, end: Tensor, length: Tensor, b_start: Tensor, b_end: Tensor, b_len: Tensor,
                  method: str, sigma: float, iou_threshold: float) -> Tensor:
    """Soft-NMS weights of candidates against the kept segment ``b`` (broadcast)."""
    inter = torch.minimum(end, b_end) - torch.maximum(start, b_start)
    inter.clamp_(min=0)
    union = b_len + length - inter
    iou = inter.div_(union).nan_to_num_(0.0)  # 0/0 (two zero-length segments) -> 0
    if method == 'gaussian':
        # x / -sigma == -(x) / sigma exactly, so this matches the reference.
        return iou.mul_(iou).div_(-sigma).exp_()
    if method == 'linear':
        return torch.where(iou > iou_threshold, 1.0 - iou, torch.ones_like(iou))
    return (iou <= iou_threshold).to(iou.dtype)


class Caps:
    """Which cap unit (video) each group belongs to: ``max_seg_num`` applies
    per unit, and the loop may stop once every unit is settled."""

    def __init__(self, group_cap: Optional[Tensor]):
        self.group_cap = group_cap  # (G,) dense cap ids; None: one unit
        self.n = 1 if group_cap is None else int(group_cap.max()) + 1

    def done(self, group_best: Tensor, kept_score: Tensor, max_seg_num: int) -> bool:
        """True once nothing kept later can enter any unit's final top
        ``max_seg_num``: later picks score at most the unit's current best
        live score ``group_best (G,)`` (-inf when exhausted), so
        ``max_seg_num`` kept scores ``(G, S)`` strictly above it are final."""
        if self.group_cap is None:
            bound = group_best.max()
            return bool((bound == float('-inf')) | ((kept_score > bound).sum() >= max_seg_num))
        bound = group_best.new_full((self.n,), float('-inf')).scatter_reduce(0, self.group_cap, group_best, 'amax')
        above = (kept_score > bound[self.group_cap, None]).sum(1)
        count = torch.zeros(self.n, dtype=torch.long, device=above.device).index_add_(0, self.group_cap, above)
        return bool(((bound == float('-inf')) | (count >= max_seg_num)).all())


@dataclass
class _Bucket:
    rows: slice  # its rows in the size-sorted row order
    width: int
    live: Tensor  # (R, W) current scores, -inf for picked and padding
    start: Tensor  # (R, W)
    end: Tensor
    length: Tensor
    kept_col: Tensor  # (R, S) column picked per step


def plan_buckets(sizes: list[int], n_steps: int) -> list[tuple[int, int]]:
    """Split ascending group ``sizes`` into buckets ``[(n_rows, width)]``:
    start from power-of-two size classes, then merge neighbours while the
    estimated cost ``steps * (overhead + rows * width)`` drops."""
    buckets: list[list[int]] = []  # [n_rows, width]
    for s in sizes:
        if buckets and s <= buckets[-1][1] or buckets and (s - 1).bit_length() == (buckets[-1][1] - 1).bit_length():
            buckets[-1][0] += 1
            buckets[-1][1] = max(buckets[-1][1], s)
        else:
            buckets.append([1, s])

    def cost(rows: int, width: int) -> int:
        return min(n_steps, width) * (_BUCKET_OVERHEAD + rows * width)

    while len(buckets) > 1:
        gains = [cost(*a) + cost(*b) - cost(a[0] + b[0], b[1]) for a, b in zip(buckets[:-1], buckets[1:])]
        i = max(range(len(gains)), key=gains.__getitem__)
        if gains[i] <= 0:
            break
        buckets[i:i + 2] = [[buckets[i][0] + buckets[i + 1][0], buckets[i + 1][1]]]
    return [(r, w) for r, w in buckets]


def lockstep_soft_nms(score: Tensor, seg: Tensor, counts: Tensor, caps: Caps, n_steps: int,
                      cfg: dict) -> tuple[Tensor, Tensor]:
    """Soft-NMS of every group at once.

    Args:
        score: ``(N,)`` candidates' scores (all ``>= min_score``), sorted by
            group, input order inside a group (ties go to the first).
        seg: ``(N, 2)`` in the same order.
        counts: ``(G,)`` candidates per group, all > 0.
        caps: cap unit of each group, for the early stop.
        n_steps: at most this many iterations (keeps per group).
        cfg: ``method, sigma, iou_threshold, min_score, max_seg_num``.

    Returns:
        ``(pos (G, S), score (G, S))``: per group and step, the kept
        candidate's position in the inputs and its score (-inf when none).
    """
    device, dtype = score.device, score.dtype
    n_groups = len(counts)
    by_size = torch.sort(counts, stable=True)
    row_of_group = torch.empty_like(by_size.indices)
    row_of_group[by_size.indices] = torch.arange(n_groups, device=device)
    plan = plan_buckets(by_size.values.tolist(), n_steps)
    # Flat offset of each row: rows of a bucket are `width` apart.
    row_width = torch.tensor([w for r, w in plan for _ in range(r)], dtype=torch.long, device=device)
    row_offset = torch.cumsum(row_width, 0) - row_width
    group_offset = row_offset.index_select(0, row_of_group) - (torch.cumsum(counts, 0) - counts)
    flat = torch.arange(len(score), device=device) + torch.repeat_interleave(group_offset, counts)
    total = int(row_width.sum())
    live = torch.full((total,), float('-inf'), dtype=dtype, device=device).index_copy_(0, flat, score)
    pos = torch.zeros(total, dtype=torch.long, device=device).index_copy_(0, flat, torch.arange(len(score),
                                                                                                device=device))
    ends = torch.stack([seg[:, 0], seg[:, 1], (seg[:, 1] - seg[:, 0]).clamp(min=0)])
    ends = torch.zeros((3, total), dtype=dtype, device=device).index_copy_(1, flat, ends)

    buckets, r0, off = [], 0, 0
    for rows, width in plan:
        view = slice(off, off + rows * width)
        buckets.append(_Bucket(slice(r0, r0 + rows), width, live[view].view(rows, width),
                               *(ends[i, view].view(rows, width) for i in range(3)),
                               torch.zeros(rows, n_steps, dtype=torch.long, device=device)))
        r0, off = r0 + rows, off + rows * width
    kept_score = torch.full((n_groups, n_steps), float('-inf'), dtype=dtype, device=device)  # row order
    min_score, ninf = cfg['min_score'], float('-inf')
    row_caps = Caps(None if caps.group_cap is None else caps.group_cap[by_size.indices])
    active = list(buckets)
    # Gaussian weights are >= exp(-1 / sigma) > 0 unless sigma is tiny.
    zero_weights = cfg['method'] != 'gaussian' or cfg['sigma'] <= 0 or math.exp(-1.0 / cfg['sigma']) < 1e-300
    for step in range(n_steps):
        for b in active:
            best = b.live.argmax(dim=1, keepdim=True)  # first maximum: lowest input index on ties
            kept_score[b.rows, step:step + 1] = b.live.gather(1, best)
            b.kept_col[:, step:step + 1] = best
            b.live.scatter_(1, best, ninf)
            w = decay_weights(b.start, b.end, b.length, b.start.gather(1, best), b.end.gather(1, best),
                              b.length.gather(1, best), cfg['method'], cfg['sigma'], cfg['iou_threshold'])
            b.live.mul_(w)
            if zero_weights:
                b.live.nan_to_num_(nan=ninf, neginf=ninf)  # -inf (picked) * 0 -> NaN, which argmax picks
        if step % 4 == 3:  # a sync per step costs more than a few idle steps
            best_now = kept_score[:, step]
            best_now = torch.where(best_now >= min_score, best_now, ninf)
            if row_caps.done(best_now, kept_score[:, :step + 1], cfg['max_seg_num']):
                break
            alive = (best_now > ninf).tolist()
            active = [b for b in active if step + 1 < b.width and any(alive[b.rows])]
    kept_score = torch.where(kept_score >= min_score, kept_score, ninf)
    kept_pos = torch.cat([pos[off:off + b.live.numel()].view(b.live.shape).gather(1, b.kept_col)
                          for b, off in zip(buckets, (row_offset[b.rows.start].item() for b in buckets))])
    return kept_pos[row_of_group], kept_score[row_of_group]


def sequential_soft_nms(score: np.ndarray, seg: np.ndarray, key: np.ndarray,
                        cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Global greedy Soft-NMS of one video in numpy: each step keeps the best
    live candidate (lowest position on ties) and decays the candidates of its
    group that overlap it, until ``max_seg_num`` are kept or none is left.

    Candidates outside the window have tIoU 0 with the pick, i.e. weight
    exactly 1, so skipping them changes nothing.

    Args:
        score: ``(N,)`` float, all ``>= min_score``, in input order.
        seg: ``(N, 2)`` same dtype; key: ``(N,)`` int group of each candidate.
        cfg: ``method, sigma, iou_threshold, min_score, max_seg_num``.

    Returns:
        ``(pos (K,), score (K,))``: kept positions into the arrays and their
        scores, in pick order (descending score, lowest position on ties).
    """
    n = len(score)
    start, end = seg[:, 0], seg[:, 1]
    length = np.maximum(end - start, 0)
    order = np.lexsort((start, key))  # by group, then start
    s_start, s_end, s_len = start[order], end[order], length[order]
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    bounds = [0, *cuts.tolist(), n]
    reach = s_end.copy()  # running max of the ends inside each group: nothing before `lo` reaches a start
    for a, b in zip(bounds[:-1], bounds[1:]):
        np.maximum.accumulate(reach[a:b], out=reach[a:b])
    g_of = np.empty(n, dtype=np.int64)
    g_of[order] = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    g_lo, g_hi = (np.asarray(bounds[:-1])[g_of]).tolist(), (np.asarray(bounds[1:])[g_of]).tolist()
    reach_l, start_l = reach.tolist(), s_start.tolist()
    b_start, b_end, b_len = start.tolist(), end.tolist(), length.tolist()
    method, sigma, thr, min_score = cfg['method'], cfg['sigma'], cfg['iou_threshold'], cfg['min_score']
    zero_weights = method != 'gaussian' or sigma <= 0 or math.exp(-1.0 / sigma) < 1e-300
    live = score.copy()
    inter, union = np.empty_like(live), np.empty_like(live)
    kept_pos: list = []
    kept_score: list = []
    ninf = float('-inf')
    for _ in range(min(cfg['max_seg_num'], n)):
        i = int(live.argmax())
        v = live[i]
        if not v >= min_score:
            break
        kept_pos.append(i)
        kept_score.append(v)
        live[i] = ninf
        lb = b_len[i]
        if not lb > 0:  # a zero-length pick overlaps nothing (and no union can be 0 below)
            continue
        sb, eb = b_start[i], b_end[i]
        lo = bisect_right(reach_l, sb, g_lo[i], g_hi[i])
        hi = bisect_left(start_l, eb, lo, g_hi[i])
        m = hi - lo
        x, u = inter[:m], union[:m]
        np.minimum(s_end[lo:hi], eb, out=x)
        x -= np.maximum(s_start[lo:hi], sb, out=u)
        np.maximum(x, 0, out=x)
        np.add(s_len[lo:hi], lb, out=u)
        u -= x
        x /= u  # tIoU
        if method == 'gaussian':
            x *= x
            x /= -sigma
            np.exp(x, out=x)
        elif method == 'linear':
            np.subtract(1.0, x, out=u)
            x = np.where(x > thr, u, 1.0)
        elif min_score > 0:  # hard: a weight of 0 drops the candidate
            live[order[lo:hi][x > thr]] = ninf
            continue
        else:
            x = (x <= thr).astype(live.dtype)
        idx = order[lo:hi]
        if zero_weights:
            vals = live[idx]
            with np.errstate(invalid='ignore'):
                vals *= x
            vals[np.isnan(vals)] = ninf  # picked (-inf) * 0
            live[idx] = vals
        else:
            live[idx] *= x
    return np.asarray(kept_pos, dtype=np.int64), np.asarray(kept_score, dtype=live.dtype)
