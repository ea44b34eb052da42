"""The comparison with TadTR in benchmarks/benchmark_model.py: rows, the TadTR-like configuration,
TadTR's stand-ins.

TadTR's own code is never part of zeetad: the end-to-end check against it runs only when ``TADTR_PATH`` names a
checkout (e.g. ``git clone https://github.com/xlliu7/TadTR /tmp/tadtr``)."""
import os

import pytest
import torch

from benchmarks.common.compare import TADTR_ROWS, tadtr_like_model_cfg
from benchmarks.common.model import load_config
from benchmarks.common.tadtr import RoIAlign1d, load_tadtr
from zeetad.models.inference_utils import resolve_autocast
from test_bench_tools import run_tool


def test_tadtr_like_config_drops_clip_actionness_and_adapters_only():
    cfg = load_config().model.to_dict()
    like = tadtr_like_model_cfg(cfg)
    loc, ref = like['localizer'], cfg['localizer']
    assert loc['clip_dim'] is None and loc['actionness'] is None and not loc['fuse_clip']
    assert like['classifier']['text_encoder']['num_adapter_blocks'] == 0
    assert 'loss_actionness' not in like['criterion']['loss_weights']
    assert loc['d_model'] == ref['d_model'] and loc['transformer'] == ref['transformer']
    assert cfg['localizer']['actionness'] is not None  # the shipped config is left alone
    assert 'proj_kernel' not in loc or loc['proj_kernel'] == ref.get('proj_kernel')
    k1 = tadtr_like_model_cfg(cfg, proj_kernel=1)['localizer']
    without = lambda d: {k: v for k, v in d.items() if k != 'proj_kernel'}  # noqa: E731
    assert k1['proj_kernel'] == 1 and without(k1) == without(loc)  # only the kernel differs


def test_roi_align_stand_in_interpolates_bin_centres():
    T, bins = 20, 4
    ramp = torch.arange(T, dtype=torch.float32).view(1, 1, T).expand(2, 3, T).clone()
    ramp[1] *= 2
    rois = torch.tensor([[0, 2.0, 10.0], [1, 4.0, 6.0]])  # (batch index, start, end) in steps
    out = RoIAlign1d(bins)(ramp, rois)
    assert out.shape == (2, 3, bins)
    for r, (b, s, e) in enumerate(rois.tolist()):
        centres = [s + (i + 0.5) * (e - s) / bins - 0.5 for i in range(bins)]  # a ramp interpolates exactly
        expected = torch.tensor(centres) * (2 if b == 1 else 1)
        torch.testing.assert_close(out[r, 0], expected)


def test_load_tadtr_names_a_path_that_is_no_checkout(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_tadtr(str(tmp_path))


@pytest.mark.slow
def test_compare_only_quick(tmp_path):
    stdout, res = run_tool('benchmark_model.py', '--quick', '--threads', '1', '--compare-only',
                           '--compare-autocast', 'bfloat16', tmp_path=tmp_path)
    assert '## Against TadTR' in stdout
    rows = {(r['phase'], r['row']) for r in res['compare']}
    assert rows == {('train step', 'zeetad (shipped config)'), ('train step', 'zeetad, TadTR-like config'),
                    ('inference', 'zeetad (shipped config)'), ('inference', 'zeetad, TadTR-like config'),
                    ('inference', 'zeetad (shipped config), bfloat16 inference')} | {
                        (phase, 'zeetad, TadTR-like, kernel-1 projection as TadTR') for phase in ('train step',
                                                                                                 'inference')} | (
                        # the shipped test_cfg.autocast='auto' runs bf16 on this CPU: float32 gets its own row
                        {('inference', 'zeetad (shipped config), float32 inference')} if resolve_autocast('auto')
                        else set())
    assert all(r['median_cpu_ms'] > 0 and r['median_wall_ms'] > 0 for r in res['compare'])


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get('TADTR_PATH'), reason='TADTR_PATH (a TadTR checkout) not set')
def test_compare_with_tadtr_checkout(tmp_path):
    stdout, res = run_tool('benchmark_model.py', '--quick', '--threads', '1', '--compare-only', '--tadtr',
                           os.environ['TADTR_PATH'], tmp_path=tmp_path)
    as_on_cpu, standin = TADTR_ROWS
    assert f'TadTR 1: {as_on_cpu}' in stdout and f'TadTR 2: {standin}' in stdout
    for name, key in ((as_on_cpu, 'cpu_ratio_to_tadtr'), (standin, 'cpu_ratio_to_tadtr_act_standin')):
        rows = [r for r in res['compare'] if r['row'] == name]
        assert len(rows) == 2 and all(r[key] == 1.0 for r in rows)
    assert all('cpu_ratio_to_tadtr' in r and 'cpu_ratio_to_tadtr_act_standin' in r for r in res['compare'])
    # TadTR as it runs on a CPU has no actionness head; the stand-in row has it.
    with_act = {name: load_tadtr(os.environ['TADTR_PATH'], TADTR_ROWS[name]).model.with_act_reg
                for name in TADTR_ROWS}
    assert with_act == {as_on_cpu: False, standin: True}
