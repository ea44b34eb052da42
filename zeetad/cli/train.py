"""Train a zeetad model.

    zeetad train CONFIG [--work-dir D] [--resume [CKPT]] [--amp [auto|fp16|bf16]] [--cfg-options k=v ...]
    torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch     # or tools/dist_train.sh CONFIG N

``batch_size`` in the config is per process: N processes train on N x batch_size windows per step
(``--auto-scale-lr`` scales the learning rate linearly from ``auto_scale_lr.base_batch_size``).
"""
import argparse


def parse_args(argv=None, prog=None):
    from zeetad.engine.cli import add_runtime_args, apply_launcher_env
    p = argparse.ArgumentParser(prog=prog, description='Train a zeetad model')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None,
                   help='resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given '
                        '(an error when there is none)')
    p.add_argument('--resume-if-any', action='store_true',
                   help='resume from the latest checkpoint in the work dir if there is one, else start from '
                        'scratch (jobs that may be requeued)')
    p.add_argument('--amp', nargs='?', const='auto', default=None, choices=['auto', 'fp16', 'bf16'],
                   help='automatic mixed precision on CUDA (auto: bf16 where supported, else fp16)')
    p.add_argument('--auto-scale-lr', action='store_true',
                   help='scale the LR by (processes x batch_size) / auto_scale_lr.base_batch_size')
    add_runtime_args(p)
    return apply_launcher_env(p.parse_args(argv), p)


def main(argv=None):
    """Run the job; ``argv`` is a list of arguments or already parsed ones."""
    args = argv if isinstance(argv, argparse.Namespace) else parse_args(argv)
    from zeetad.engine.distributed import distributed_job
    from zeetad.engine.runner_setup import build_runner, enable_amp, load_config
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir, launcher=args.launcher)
    if args.amp:
        enable_amp(cfg, args.amp if args.amp != 'auto' or not cfg.get('amp_dtype') else cfg.amp_dtype)
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    with distributed_job():  # a rank that stops responding: an error naming it after env_cfg.dist_cfg.timeout
        runner = build_runner(cfg, resume='auto' if args.resume_if_any and not args.resume else args.resume,
                              allow_fresh_start=args.resume_if_any)
        runner.train()
    return runner


def cli(argv=None, prog=None) -> int:
    """``zeetad train`` / ``tools/train.py``: exit status 0, or 1 with a one-line error (no traceback) for a
    config, annotation, feature or checkpoint error whose message names the key, file or video."""
    from zeetad.engine.cli import run_tool
    return run_tool(main, parse_args(argv, prog))
