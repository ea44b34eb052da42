"""``num_workers='auto'``: DataLoader workers from the usable cores, resolved when the config is loaded."""
import os

import pytest

from testing_utils import DEMO_CONFIG as DEMO
from testing_utils import config_errors

from zeetad.engine.config_check import validate_config
from zeetad.engine.config_load import read_config
from zeetad.engine.runner_setup import load_config, loader_workers, resolve_loader_workers

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@pytest.mark.parametrize('cores, workers', [(1, 0), (2, 0), (3, 0), (4, 1), (8, 2), (16, 4), (96, 4)])
def test_no_workers_up_to_two_cores_then_a_quarter_of_them_at_most_four(cores, workers):
    assert loader_workers(cores) == workers


def test_default_is_this_process_affinity():
    assert loader_workers() == loader_workers(len(os.sched_getaffinity(0)))


@pytest.mark.parametrize('cores', [2, 16])
def test_shipped_configs_resolve_auto_and_keep_only_repeated_loaders_persistent(cores):
    """Test is read once (persistent workers would only hold the exit), train and val every epoch; without
    workers nothing is persistent (torch refuses it)."""
    cfg = read_config(DEMO)
    assert all(cfg[name]['num_workers'] == 'auto' for name in LOADERS)
    resolve_loader_workers(cfg, cores)
    workers = loader_workers(cores)
    assert [cfg[name]['num_workers'] for name in LOADERS] == [workers] * 3
    assert [cfg[name]['persistent_workers'] for name in LOADERS] == [workers > 0, workers > 0, False]


def test_load_config_resolves_auto_and_an_explicit_count_stays(options):
    cfg = load_config(DEMO, options)
    assert cfg.test_dataloader.num_workers == loader_workers() and validate_config(cfg) is None
    cfg = load_config(DEMO, {**options, 'test_dataloader.num_workers': 3})
    assert cfg.test_dataloader.num_workers == 3 and cfg.train_dataloader.num_workers == loader_workers()


def test_validation_accepts_auto_and_still_names_other_strings(options):
    cfg = read_config(DEMO)
    cfg.merge_from_dict(options)
    assert cfg.test_dataloader.num_workers == 'auto' and validate_config(cfg) is None
    assert "train_dataloader.num_workers: expected a number, got the string 'two'" in \
        config_errors(options, **{'train_dataloader.num_workers': 'two'})
