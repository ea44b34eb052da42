"""Test a trained zeetad model on the configured (zero-shot) test set.

    zeetad test CONFIG CHECKPOINT [--work-dir D] [--out PRED.json] [--cfg-options k=v ...]
    torchrun --nproc_per_node=N tools/test.py CONFIG CHECKPOINT --launcher pytorch   # or tools/dist_test.sh

With N processes each tests 1/N of the windows; the predictions of all ranks are gathered before the metric,
which equals the single-process one.
"""
import argparse


def parse_args(argv=None, prog=None):
    from zeetad.engine.cli import add_runtime_args, apply_launcher_env
    p = argparse.ArgumentParser(prog=prog, description='Test a zeetad model')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file (use "none" for training-free models such as ZEAL)')
    p.add_argument('--work-dir', help='where results go (default: work_dirs/<config name>)')
    p.add_argument('--out', help='write detections in the official ActivityNet results format to this file')
    add_runtime_args(p)
    return apply_launcher_env(p.parse_args(argv), p)


def main(argv=None):
    """Run the job; ``argv`` is a list of arguments or already parsed ones."""
    args = argv if isinstance(argv, argparse.Namespace) else parse_args(argv)
    from zeetad.engine.distributed import distributed_job
    from zeetad.engine.runner_setup import build_runner, load_config
    from zeetad.utils.heap import retain_freed_heap
    retain_freed_heap()  # same numbers, less CPU per window (zeetad/utils/heap.py)
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir, launcher=args.launcher)
    cfg.load_from = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        evaluators[0]['out_file'] = args.out
    with distributed_job():  # a rank that stops responding: an error naming it after env_cfg.dist_cfg.timeout
        runner = build_runner(cfg, stage='test')
        if cfg.load_from is None:
            refuse_untrained(runner.model)
        metrics = runner.test()
    return metrics


def refuse_untrained(model) -> None:
    """Checkpoint "none" is for training-free models: a model with trainable weights would be tested at its
    random initialisation, and its mAP (well above zero on easy data) could pass for a result."""
    from zeetad.engine.checkpoint_io import CheckpointError
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable:
        raise CheckpointError(f'checkpoint "none": {type(model).__name__} has {trainable:,} trainable parameters, '
                              'which would be tested at their random initial values; give the trained checkpoint '
                              '("none" is for training-free models such as ZEAL)')


def cli(argv=None, prog=None) -> int:
    """``zeetad test`` / ``tools/test.py``: exit status 0, or 1 with a one-line error (no traceback) for a
    config, annotation, feature or checkpoint error whose message names the key, file or video."""
    from zeetad.engine.cli import run_tool
    return run_tool(main, parse_args(argv, prog))
