"""Run under ``torchrun --nproc_per_node=2`` by test_dist_hang.py: the toy model trained like tools/train.py does
(``distributed_job``), with a collective timeout of ``TIMEOUT`` seconds; rank ``STUCK`` stops itself (SIGSTOP)
after iteration 2, as a hung or frozen process would.

    python -m torch.distributed.run --nproc_per_node=2 ddp_toy_hang_script.py WORK_DIR TIMEOUT STUCK

Each rank that ends prints ``rank R ended after S s: ErrorType: message`` before re-raising.
"""
import os
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]


def main(work_dir: str, timeout: float, stuck: int) -> None:
    from dist_toy_components import toy_config
    from mmengine.hooks import Hook

    from zeetad.engine.distributed import distributed_job
    from zeetad.engine.runner_setup import build_runner
    from zeetad.registry import HOOKS

    @HOOKS.register_module(force=True)
    class StopRankAfterIteration2(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter == 2 and int(os.environ['RANK']) == stuck:
                print(f'rank {stuck} stops (SIGSTOP)', flush=True)
                os.kill(os.getpid(), signal.SIGSTOP)

    cfg = toy_config(work_dir, max_epochs=2, hooks=[dict(type='StopRankAfterIteration2')])
    cfg.launcher = 'pytorch'
    cfg.env_cfg = dict(dist_cfg=dict(timeout=timeout))
    start = time.monotonic()
    try:
        with distributed_job():
            build_runner(cfg).train()
    except Exception as exc:
        print(f'rank {os.environ["RANK"]} ended after {time.monotonic() - start:.1f} s: {type(exc).__name__}: {exc}',
              flush=True)
        raise


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
