"""Distributed set-up that works on CPU (gloo) as well as GPUs (nccl).

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally ("Found no NVIDIA driver" on a
CPU-only node) and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU modules.
Rather than patching mmengine, zeetad initialises the process group itself (mmengine then skips ``init_dist``,
it only initialises when no group exists) and passes ``device_ids=None`` through ``model_wrapper_cfg`` on CPU.

A rank that stops responding (stopped, hung, dead) would otherwise leave the others waiting in a collective:
every collective times out after ``env_cfg.dist_cfg.timeout`` seconds (:data:`DEFAULT_TIMEOUT_S`), and
:func:`distributed_job` then names the ranks that do not answer through the rendezvous store.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import os.path as osp
import subprocess
import time
from typing import Iterator, List, Optional

import torch
import torch.distributed as torch_dist

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
# Collective timeout (s). Long enough for rank 0's evaluation while the others wait at a broadcast.
DEFAULT_TIMEOUT_S = 1800.0
# How long a rank that caught a collective failure waits for the others to check in (at most).
MAX_CHECK_IN_S = 60.0
_CHECK_IN_KEY = 'zeetad/check_in/{}'
_timeout_s: Optional[float] = None


class CollectiveTimeoutError(RuntimeError):
    """A collective operation failed because a rank stopped responding; the message names the rank(s)."""


def default_backend() -> str:
    """nccl when this process can use a CUDA GPU, gloo otherwise."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def _slurm_env() -> None:
    """Translate SLURM's variables into torch's ``env://`` ones (as mmengine's slurm launcher does)."""
    proc_id, ntasks = int(os.environ['SLURM_PROCID']), int(os.environ['SLURM_NTASKS'])
    local_rank = os.environ.get('SLURM_LOCALID')
    if local_rank is None:
        local_rank = proc_id % max(torch.cuda.device_count(), 1)
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {nodes} | head -n1')
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(WORLD_SIZE=str(ntasks), RANK=str(proc_id), LOCAL_RANK=str(local_rank))


def _mpi_env() -> None:
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('--launcher mpi needs the environment variable MASTER_ADDR')
    os.environ.update(WORLD_SIZE=os.environ['OMPI_COMM_WORLD_SIZE'], RANK=os.environ['OMPI_COMM_WORLD_RANK'],
                      LOCAL_RANK=os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])


def init_distributed(launcher: str, backend: Optional[str] = None, timeout: Optional[float] = None) -> str:
    """Initialise the default process group for ``launcher``; returns the backend used.

    ``backend=None`` picks :func:`default_backend`; nccl without CUDA is replaced by gloo. The CUDA device is
    set only when there is one. No-op when a group already exists.
    """
    if launcher not in LAUNCHERS or launcher == 'none':
        raise ValueError(f'launcher must be one of {LAUNCHERS[1:]}, got {launcher!r}')
    if torch_dist.is_initialized():
        return torch_dist.get_backend()
    if launcher == 'slurm':
        _slurm_env()
    elif launcher == 'mpi':
        _mpi_env()
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher {launcher}: environment variables {missing} are not set; start the '
                           f'processes with torchrun (tools/dist_train.sh) or srun (tools/slurm_train.sh)')
    if backend is None or (backend == 'nccl' and not torch.cuda.is_available()):
        backend = default_backend()
    if torch.cuda.is_available() and backend != 'gloo':
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']) % torch.cuda.device_count())
    global _timeout_s
    _timeout_s = check_timeout(DEFAULT_TIMEOUT_S if timeout is None else timeout)
    torch_dist.init_process_group(backend=backend, init_method='env://', rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']),
                                  timeout=datetime.timedelta(seconds=_timeout_s))
    return backend


def check_timeout(value) -> float:
    """``env_cfg.dist_cfg.timeout`` as positive seconds, or a ``ValueError`` naming the key."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float('inf'):
        raise ValueError(f'env_cfg.dist_cfg.timeout must be a positive number of seconds, got {value!r}')
    return float(value)


def _is_ddp(kind) -> bool:
    """Whether the model wrapper ``kind`` is a DistributedDataParallel (mmengine then passes ``device_ids``)."""
    from torch.nn.parallel import DistributedDataParallel

    from zeetad.registry import MODEL_WRAPPERS
    cls = MODEL_WRAPPERS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, DistributedDataParallel)


def prepare_distributed(cfg) -> None:
    """Initialise the process group for ``cfg.launcher`` and adapt ``cfg`` to the device (in place).

    * backend: nccl with CUDA, gloo otherwise (``env_cfg.dist_cfg.backend`` is kept when it fits the device);
    * CPU: DDP gets ``device_ids=None`` (it refuses a device id for CPU modules);
    * evaluators gather the ranks' results through ``work_dir`` (shared between nodes on a cluster) rather
      than mmengine's ``.dist_test`` folder in the current directory; one folder per launch (master port).
    """
    if cfg.get('launcher', 'none') == 'none':
        if int(os.environ.get('WORLD_SIZE', '1')) > 1:
            # torchrun without --launcher: every process would train alone and write the same work dir
            raise RuntimeError(f'started as one of {os.environ["WORLD_SIZE"]} processes (WORLD_SIZE) but with '
                               f'--launcher none; pass --launcher pytorch (tools/dist_train.sh does)')
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend')
    if backend is None or (backend == 'nccl' and not torch.cuda.is_available()):
        dist_cfg['backend'] = default_backend()
    dist_cfg['timeout'] = check_timeout(dist_cfg.get('timeout', DEFAULT_TIMEOUT_S))
    dist_cfg['backend'] = init_distributed(cfg.launcher, dist_cfg['backend'], dist_cfg['timeout'])
    if not torch.cuda.is_available():
        wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                                       find_unused_parameters=cfg.get('find_unused_parameters',
                                                                                      False))
        if _is_ddp(wrapper.get('type', 'MMDistributedDataParallel')):
            wrapper.setdefault('device_ids', None)
        cfg.model_wrapper_cfg = wrapper
    collect_dir = osp.join(cfg.work_dir, f'.dist_collect_{os.environ["MASTER_PORT"]}')
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        for evaluator in (evaluators if isinstance(evaluators, list) else [evaluators]):
            if isinstance(evaluator, dict) and evaluator.get('collect_device', 'cpu') == 'cpu':
                evaluator.setdefault('collect_dir', collect_dir)


def finalize_distributed(ok: bool = True) -> None:
    """Tear the process group down; after success first wait for every rank.

    Without the final barrier rank 0 can leave while others still talk to it and abort at exit. After an
    error no barrier: the other ranks may never reach it.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    if ok:
        torch_dist.barrier()
    torch_dist.destroy_process_group()


def _is_peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed on the other side (timeout, peer gone), per gloo's messages."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ('Timed out', 'timed out', 'Connection closed by peer', 'Connection reset by peer'))


def unresponsive_ranks(wait_s: float) -> Optional[List[int]]:
    """Ranks that do not check in through the rendezvous store within ``wait_s`` (``None``: store unreachable).

    Every rank whose collective failed calls this; the healthy ones all fail at about the same time (they wait
    in the same collective), so the ranks missing at the end are the stuck or dead ones.
    """
    store = torch_dist.distributed_c10d._get_default_store()
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    try:
        store.set_timeout(datetime.timedelta(seconds=wait_s))
        store.set(_CHECK_IN_KEY.format(rank), str(time.time()))
        deadline = time.monotonic() + wait_s
        while True:
            missing = [r for r in range(world) if not store.check([_CHECK_IN_KEY.format(r)])]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.2)
    except RuntimeError:  # the store's host (rank 0 unless torchrun's agent holds it) does not answer
        return None


def _explain(exc: BaseException) -> CollectiveTimeoutError:
    rank, timeout = torch_dist.get_rank(), _timeout_s or DEFAULT_TIMEOUT_S
    wait_s = min(timeout, MAX_CHECK_IN_S)
    missing = unresponsive_ranks(wait_s)
    head = f'rank {rank}: a collective operation failed (timeout env_cfg.dist_cfg.timeout={timeout:g} s)'
    if missing is None:
        who = (f'the rendezvous store at {os.environ.get("MASTER_ADDR")}:{os.environ.get("MASTER_PORT")} does not '
               'answer either: its host, rank 0 unless torchrun holds it, is stuck or dead')
    elif missing:
        who = (f'unresponsive: rank{"s" if len(missing) > 1 else ""} {", ".join(map(str, missing))} (no answer '
               f'within {wait_s:g} s: stopped, hung or dead)')
    else:
        who = ('every rank answered afterwards: one was slower than the timeout; raise env_cfg.dist_cfg.timeout '
               'if that is expected')
    return CollectiveTimeoutError(f'{head}; {who}. Original error: {str(exc).splitlines()[0]}')


@contextlib.contextmanager
def distributed_job() -> Iterator[None]:
    """Wrap a train or test run: on success wait for every rank and tear the group down; when a collective
    fails because a rank stopped responding, raise :class:`CollectiveTimeoutError` naming that rank."""
    try:
        yield
        finalize_distributed(ok=True)
    except Exception as exc:
        error = _explain(exc) if torch_dist.is_available() and torch_dist.is_initialized() \
            and torch_dist.get_world_size() > 1 and _is_peer_failure(exc) else None
        finalize_distributed(ok=False)
        if error is not None:
            raise error from exc
        raise
