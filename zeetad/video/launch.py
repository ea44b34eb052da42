"""One extraction run on one rank: list, shard, extract, and (rank 0) merge the shards.

With ``torchrun --nproc-per-node N`` each rank takes a size-balanced share of
the videos, writes ``OUT.rankR.h5``, waits at a barrier (a gloo process group,
which needs no GPU), and rank 0 merges the shards into ``OUT.h5``. Ranks set by
hand (``rank``/``world_size`` without torchrun's rendezvous variables) write
their shards only; ``merge_shards`` (``--merge``) combines them afterwards.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import torch

from .clip_image import ClipImageEncoder
from .extract import extract_features
from .feature_file import complete_ids, remove_feature_file
from .feature_shards import find_shards, merge_feature_files, shard_path
from .report import ExtractReport
from .sources import list_videos, shard_videos

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a multi-rank run; ``launched`` when a process group can be formed."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False


def dist_env(rank: Optional[int] = None, world_size: Optional[int] = None) -> DistEnv:
    """From explicit values, else torchrun/SLURM-style ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``."""
    env = os.environ
    from_env = rank is None and world_size is None
    rank = int(env.get('RANK', 0)) if rank is None else int(rank)
    world_size = int(env.get('WORLD_SIZE', 1)) if world_size is None else int(world_size)
    local_rank = int(env.get('LOCAL_RANK', rank if not from_env else 0))
    launched = from_env and world_size > 1 and 'MASTER_ADDR' in env and 'MASTER_PORT' in env
    if not 0 <= rank < world_size:
        raise ValueError(f'need 0 <= rank < world_size, got rank={rank}, world_size={world_size}')
    return DistEnv(rank, world_size, local_rank, launched)


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``'auto'``: this rank's GPU when CUDA is available, else the CPU."""
    if device == 'auto':
        return torch.device(f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(device)
    if dev.type == 'cuda' and dev.index is None:
        dev = torch.device('cuda', local_rank)
    return dev


def merge_shards(out_path: str, keep_shards: bool = False) -> dict:
    """Merge every ``OUT.rank*.h5`` of ``out_path`` into it (resumable); delete them unless ``keep_shards``."""
    shards = find_shards(out_path)
    result = merge_feature_files(out_path, shards, remove_inputs=not keep_shards)
    logger.info('merged %d shard files into %s: %d videos copied, %d already there',
                result['inputs'], out_path, result['copied'], result['already'])
    return result


def run_extraction(source: str, out_path: str, *, model_name: Optional[str] = 'ViT-B-16',
                   pretrained: Optional[str] = None, model_config_file: Optional[str] = None,
                   cache_dir: Optional[str] = None, fps: float = 1.0, batch_size: int = 64,
                   num_workers: int = 4, device: str = 'auto', precision: str = 'auto',
                   dtype: str = 'float16', normalize: bool = True, chunk_frames: int = 256,
                   decoder_threads: int = 1, overwrite: bool = False, recursive: bool = False,
                   progress: bool = True, rank: Optional[int] = None, world_size: Optional[int] = None,
                   merge: bool = True, keep_shards: bool = False, dist_timeout_h: float = 72.0,
                   preprocess_overrides: Optional[dict] = None):
    """Run the extractor on this rank. Returns ``(report, env, merge_result)``.

    ``report`` covers this rank, or all ranks on rank 0 after a merge;
    ``merge_result`` is ``None`` unless this process merged shards.
    """
    env = dist_env(rank, world_size)
    videos = list_videos(source, recursive=recursive)
    if not videos:  # else exit status 0 and a summary of zeros: easy to take for success
        raise FileNotFoundError(f'no video files in {source}' + ('' if recursive else ' (subfolders are read with '
                                                                                   '--recursive)'))
    merge_result = None
    if env.world_size == 1:
        target, skip, mine = out_path, set(), videos
        leftover = [] if overwrite else find_shards(out_path)
        if leftover:  # an earlier multi-rank run stopped before its merge
            logger.warning('merging %d leftover shard files into %s first', len(leftover), out_path)
            merge_result = merge_shards(out_path)
    else:
        target, mine = shard_path(out_path, env.rank), shard_videos(videos, env.rank, env.world_size)
        skip = set() if overwrite else complete_ids(out_path)
    if env.launched:
        _init_group(dist_timeout_h)
    if not pretrained:
        logger.warning('no pretrained weights given: the CLIP model is randomly initialised, so the features '
                       'are only good for testing (pass --pretrained openai or a checkpoint file)')
    dev = resolve_device(device, env.local_rank)
    encoder = ClipImageEncoder(model_name, pretrained, model_config_file, cache_dir, normalize=normalize,
                               precision=precision, preprocess_overrides=preprocess_overrides).to_device(dev)
    desc = 'CLIP features' if env.world_size == 1 else f'rank {env.rank}'
    report = extract_features(mine, target, encoder, fps=fps, batch_size=batch_size, num_workers=num_workers,
                              dtype=dtype, chunk_frames=chunk_frames, decoder_threads=decoder_threads,
                              overwrite=overwrite, skip_ids=skip,
                              progress=progress and (env.rank == 0 or not env.launched),
                              desc=desc)
    if env.launched:
        report, merge_result = _finish_group(report, out_path, merge, keep_shards, overwrite, env)
    elif env.world_size > 1:
        logger.warning('rank %d wrote %s; when every rank is done, merge with: '
                       'python tools/data/extract_clip_features.py --merge %s', env.rank, target, out_path)
    return report, env, merge_result


def _init_group(timeout_h: float) -> None:
    import torch.distributed as dist
    if not dist.is_initialized():
        # gloo: only a barrier and a few small objects travel, and it works without GPUs. The long timeout
        # lets ranks that finish early wait for the slowest one.
        dist.init_process_group('gloo', timeout=timedelta(hours=timeout_h))


def _finish_group(report: ExtractReport, out_path: str, merge: bool, keep_shards: bool, overwrite: bool,
                  env: DistEnv):
    """Barrier, gather the reports, rank 0 merges; a second barrier keeps ranks alive until it is done."""
    import torch.distributed as dist
    if report.interrupted:
        return report, None  # the others will not reach the barrier either
    reports = [None] * env.world_size
    dist.all_gather_object(reports, report)
    merge_result = None
    if env.rank == 0:
        report = ExtractReport.combine(reports, out_path)
        if merge:
            if overwrite:
                remove_feature_file(out_path)
            merge_result = merge_shards(out_path, keep_shards)
    dist.barrier()
    dist.destroy_process_group()
    return report, merge_result
