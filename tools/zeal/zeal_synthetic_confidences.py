#!/usr/bin/env python
"""Stand-in for ZEAL's LVLM stage on synthetic data: confidences drawn from the ground truth.

    python tools/zeal/zeal_synthetic_confidences.py configs/zeal/zeal_synthetic_thumos14.py [--noise 0.3] [--out F]

For every test video of the config's dataset, writes start/end P(yes) curves for all scored classes
(Gaussian bumps at each instance's start/end plus relative noise ``--noise``; see
zeetad/testing/synthetic_curves.py) into the HDF5 the config's model reads (``model.confidences_file``).
It also writes the template queries file (``model.queries_file``) when it is missing. These are
synthetic *oracle-shaped* inputs for testing the pipeline, not an LVLM's output.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--noise', type=float, default=None, help='relative noise (default: the config\'s '
                   'synthetic_noise, else 0.3)')
    p.add_argument('--fps', type=float, default=1.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='HDF5 to write (default: model.confidences_file)')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    from zeetad.engine.runner_setup import load_config
    from zeetad.registry import DATASETS
    from zeetad.zeal.confidence_store import ConfidenceStore
    from zeetad.zeal.queries import save_queries, template_queries
    from zeetad.testing.synthetic_curves import synthetic_dataset_curves
    import zeetad.datasets  # noqa: F401

    cfg = load_config(args.config, args.cfg_options)
    noise = args.noise if args.noise is not None else cfg.get('synthetic_noise', 0.3)
    out = args.out or cfg.model.confidences_file
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, verbose=False))
    meta = dataset.metainfo
    classes = list(meta['classes'])
    curves = synthetic_dataset_curves(meta['ground_truth'], classes, meta['durations'], fps=args.fps, noise=noise,
                                      seed=args.seed)
    if os.path.exists(out):
        os.remove(out)  # a different noise level must not mix with old entries
    with ConfidenceStore(out, mode='a') as store:
        store.set_attrs(dict(source='synthetic ground-truth bumps', noise=float(noise), seed=args.seed,
                             sample_fps=args.fps))
        for vid, (conf, _) in curves.items():
            store.write(vid, conf, classes, sample_fps=args.fps)
    queries_file = cfg.model.get('queries_file')
    if queries_file and not os.path.isfile(queries_file):
        save_queries(template_queries(classes), queries_file)
        print(f'wrote template queries for {len(classes)} classes to {queries_file}')
    print(f'wrote synthetic confidences (noise {noise:g}) for {len(curves)} videos x {len(classes)} classes '
          f'to {out}')
    return out


if __name__ == '__main__':
    main()
