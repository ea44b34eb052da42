"""tools/experiments/run_baselines.py and tools/experiments/run_splits.py: one run per seed, reported as mean ± sample
std."""
import sys

import pytest

from testing_utils import ROOT

sys.path.insert(0, str(ROOT / 'tools' / 'experiments'))

# avg mAP each (variant, seed) run returns; the per-threshold values are avg + 1
FAKE = {('zeetad', 0): 40.0, ('zeetad', 1): 44.0, ('zeetad', 2): 48.0,
        ('closed_set', 0): 50.0, ('closed_set', 1): 50.0, ('closed_set', 2): 50.0,
        ('frozen_text', 0): 41.0, ('frozen_text', 1): 43.0, ('frozen_text', 2): 42.0,
        ('shuffled', 0): 5.0, ('shuffled', 1): 6.0, ('shuffled', 2): 10.0}


def _fake_train_and_test(calls):
    def run(config, work_dir, options, test_options=None, **kwargs):
        variant = 'shuffled' if (test_options or {}).get('model.test_cfg.shuffle_class_names') else \
            'closed_set' if options.get('split.train_on_all') else \
            'frozen_text' if 'model.classifier.text_encoder.num_adapter_blocks' in options else 'zeetad'
        seed = options['randomness.seed']
        calls.append((variant, seed, work_dir, dict(test_options or {})))
        avg = FAKE[(variant, seed)] / 100
        return {'tad/mAP@0.50': avg + 0.01, 'tad/average_mAP': avg}
    return run


def test_run_baselines_reports_mean_and_std_over_seeds_and_checks_targets(tmp_path, monkeypatch):
    import run_baselines
    from zeetad.engine import experiments
    calls = []
    monkeypatch.setattr(experiments, 'train_and_test', _fake_train_and_test(calls))
    runs = run_baselines.main(['--ratios', '75', '--seeds', '0', '1', '2', '--work-dir', str(tmp_path),
                               '--variants', 'zeetad', 'closed_set', 'frozen_text', 'shuffled'])
    assert [r['avg'] for r in runs['75/25 zeetad']] == pytest.approx([40.0, 44.0, 48.0])
    # each seed trains in its own folder; the control re-tests the zeetad run of the same seed
    dirs = {(v, s): d for v, s, d, _ in calls}
    assert len({dirs[('zeetad', s)] for s in range(3)}) == 3
    assert all(dirs[('shuffled', s)] == dirs[('zeetad', s)] for s in range(3))
    report = (tmp_path / 'baselines.md').read_text()
    assert '| 75/25 zeetad | 45.00 ± 4.00 | 44.00 ± 4.00 |' in report  # sample std of 40, 44, 48
    assert 'seeds [0, 1, 2]' in report and 'OMP_NUM_THREADS' in report
    assert 'zero-shot >= 0.8 x closed-set: 0.88 ✓' in report
    assert 'shuffled control <= 0.2 x zero-shot: 0.16 ✓' in report
    assert 'adapters >= frozen text + 2: +2.00 ✓' in report
    assert 'seed std <= 3 (worst variant): 4.00 ✗' in report
    # a scoring rule compared on the same runs: test-only options, a separate report
    calls.clear()
    run_baselines.main(['--ratios', '75', '--seeds', '0', '--work-dir', str(tmp_path), '--variants', 'zeetad',
                        'shuffled', '--test-options', 'model.test_cfg.class_score=softmax', '--report', 'softmax'])
    assert all(t['model.test_cfg.class_score'] == 'softmax' for *_, t in calls)
    assert calls[1][3]['model.test_cfg.shuffle_class_names'] is True
    assert "class_score': 'softmax'" in (tmp_path / 'softmax.md').read_text()


def test_run_splits_averages_over_splits_and_seeds(tmp_path, monkeypatch):
    import run_splits
    from zeetad.engine import experiments
    calls = []
    monkeypatch.setattr(experiments, 'train_and_test', _fake_train_and_test(calls))
    results = run_splits.main(['some_config.py', '--ratios', '75', '--indices', '0', '--seeds', '0', '2',
                               '--work-dir', str(tmp_path)])
    assert sorted(results) == ['75/25 split 0 seed 0', '75/25 split 0 seed 2']
    assert len({d for _, _, d, _ in calls}) == 2
    table = (tmp_path / 'splits.md').read_text()
    assert '**75/25 mean ± std (1 splits x 2 seeds)** | 45.00 ± 5.66 | 44.00 ± 5.66 |' in table


def test_run_baselines_refuses_an_unknown_variant_before_training(tmp_path, monkeypatch, capsys):
    import run_baselines
    from zeetad.engine import experiments
    calls = []
    monkeypatch.setattr(experiments, 'train_and_test', _fake_train_and_test(calls))
    with pytest.raises(SystemExit) as info:  # 'frozen' used to train nothing and end in a KeyError traceback
        run_baselines.main(['--ratios', '75', '--work-dir', str(tmp_path), '--variants', 'zeetad', 'frozen'])
    assert info.value.code == 2 and calls == []
    assert "invalid choice: 'frozen'" in capsys.readouterr().err
