"""The helpers behind benchmarks/benchmark_{data,model}.py: tables, memory, network guard,
profiler attribution, attention comparison, THUMOS14 windows, the benchmark dataset and loader."""
import os
import socket

import numpy as np
import pytest
import torch
from torch import nn

from testing_utils import ROOT
from benchmarks.harness import (CPU_FLAGS, NetworkBlocked, cpu_flags, format_table, machine_line,
                                            no_network, peak_memory, saved_tensors_mib, time_calls)
from benchmarks.common.profile_ranges import RangeHooks, profile_parts


def test_format_table_is_aligned_markdown():
    table = format_table(['part', 'ms'], [('encoder', '12'), ('matcher', '3.5')])
    assert table.splitlines() == [
        '| part    |  ms |',
        '|---------|----:|',
        '| encoder |  12 |',
        '| matcher | 3.5 |',
    ]
    with pytest.raises(ValueError, match='one cell per header'):
        format_table(['a', 'b'], [('only one',)])


def test_time_calls_runs_warmup_then_repeats():
    calls = []
    timing = time_calls(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6 and len(timing) == 4
    assert timing.best <= timing.median and all(t >= 0 for t in timing.times)


def test_peak_memory_cpu_measures_each_block_from_its_own_baseline():
    """Relations that hold on any machine (no absolute RSS range): written pages are resident, a later smaller
    block is measured from its own baseline (about half the first, not masked by it), an empty block is ~0."""
    def block(mib: int):
        with peak_memory('cpu') as rec:
            data = torch.ones(mib * 2**18)  # float32: `mib` MiB, every page written
            del data
        return rec

    big, small, empty = block(256), block(128), block(0)
    if not big.method.startswith('peak RSS'):  # no high-water reset here: only a lower bound is promised
        assert 'lower bound' in big.method and min(big.delta_mib, small.delta_mib, empty.delta_mib) >= 0
        return
    assert big.delta_mib >= 0.97 * 256  # all 256 MiB were written, so at least that much was resident
    assert 0.4 <= small.delta_mib / big.delta_mib <= 0.6, (small.delta_mib, big.delta_mib)
    assert empty.delta_mib < 0.1 * big.delta_mib, (empty.delta_mib, big.delta_mib)


def test_saved_tensors_counts_activations_once_and_skips_parameters():
    torch.manual_seed(0)
    lin = nn.Linear(1024, 256)
    x = torch.randn(512, 1024, requires_grad=True)
    with saved_tensors_mib(list(lin.parameters())) as saved:
        y = lin(x).relu()  # addmm saves x (and the weight, excluded); relu saves its (512, 256) output
        z = y * y  # saves y twice: one storage
    z.sum().backward()
    assert saved['mib'] == pytest.approx((512 * 1024 + 512 * 256) * 4 / 2**20, abs=1e-9)


def test_no_network_refuses_connections_and_restores_socket():
    real_getaddrinfo = socket.getaddrinfo
    before = os.environ.get('HF_HUB_OFFLINE')
    with no_network() as attempts:
        with pytest.raises(NetworkBlocked):
            socket.getaddrinfo('example.com', 443)
        with pytest.raises(NetworkBlocked):
            socket.create_connection(('127.0.0.1', 9), timeout=1)
        assert os.environ['HF_HUB_OFFLINE'] == '1'
    assert len(attempts) == 2
    assert socket.getaddrinfo is real_getaddrinfo
    assert os.environ.get('HF_HUB_OFFLINE') == before


def test_random_vit_b16_text_tower_builds_without_network():
    from zeetad.text import CLIPTextEncoder
    with no_network() as attempts:
        enc = CLIPTextEncoder(model_name='ViT-B-16', pretrained=None)
    assert attempts == []
    assert enc.embed_dim == 512
    assert sum(p.numel() for p in enc.tower.parameters()) == 63_428_096  # ViT-B/16 text tower (and no more)


class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.m = nn.Linear(16, 32), nn.Linear(32, 8), nn.Linear(8, 1)

    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        with torch.no_grad():
            self.m(y)  # like the matcher: forward only
        return y


def test_profile_parts_attributes_backward_to_the_creating_ranges():
    torch.manual_seed(0)
    toy = _Toy()
    hooks = RangeHooks().module('toy', toy).module('a', toy.a).module('b', toy.b).module('m', toy.m)
    x = torch.randn(64, 16)
    try:
        with profile_parts(hooks) as prof:
            for _ in range(2):
                toy(x).square().sum().backward()
    finally:
        hooks.remove()
    parts = prof['parts']
    assert [parts[n].calls for n in ('toy', 'a', 'b', 'm')] == [2, 2, 2, 2]
    assert parts['a'].backward_ms > 0 and parts['b'].backward_ms > 0
    assert parts['m'].backward_ms == 0 and parts['m'].forward_ms > 0
    # Ranges are inclusive: the parent holds every node its children created, plus its own (relu).
    assert parts['toy'].backward_ms > parts['a'].backward_ms + parts['b'].backward_ms
    assert parts['toy'].forward_ms >= parts['a'].forward_ms + parts['b'].forward_ms
    assert '<backward, unattributed>' in parts  # e.g. square/sum outside every range
    assert not toy.a._forward_pre_hooks and not toy.a._forward_hooks


def test_range_hooks_restore_functions_and_methods():
    import zeetad.models.layers.ms_deform_attn as attn_module
    original = attn_module.ms_deform_attn_1d

    class Obj:
        def encode(self):
            return 'class method'

    obj = Obj()
    hooks = RangeHooks().method('core', attn_module, 'ms_deform_attn_1d').method('text', obj, 'encode')
    assert attn_module.ms_deform_attn_1d is not original and obj.encode() == 'class method'
    hooks.remove()
    assert attn_module.ms_deform_attn_1d is original
    assert 'encode' not in vars(obj)


def test_compare_attention_agrees_with_the_naive_loop():
    from benchmarks.common.attention import AttentionCase, compare_attention
    case = AttentionCase('toy', batch=2, queries=5, levels=(6, 3), heads=2, head_dim=4, points=2)
    rows = compare_attention(case, repeat=1, naive_batch=1)
    assert [r['method'] for r in rows] == ['naive loop', 'auto', 'dense', 'gather', 'grid_sample']
    assert 'scaled' in rows[0]['note']
    for r in rows[1:]:
        assert r['max_abs_diff'] < 1e-5 and r['forward_ms'] > 0 and r['fwd_bwd_ms'] > 0


def test_video_windows_on_thumos14_test():
    from benchmarks.common.model import video_windows
    rows = video_windows(str(ROOT / 'data/thumos14/annotations/thumos14.json'), 'Test', size=128, overlap=0.25)
    assert len(rows) == 212
    by_id = {r[0]: r for r in rows}
    # 33.83 s at 30 fps: floor((33.83 - 16/60) / (4/30)) + 1 = 252 snippets -> windows at 0, 96, 124.
    assert by_id['video_test_0000004'] == ('video_test_0000004', 33.83, 252, 3)
    assert all(r[3] == (1 if r[2] <= 128 else -(-(r[2] - 128) // 96) + 1) for r in rows)


def test_split_classes_and_synthetic_windows():
    from benchmarks.common.model import load_config, split_classes, static_memory_mib, synthetic_windows
    cfg = load_config()
    seen, unseen = split_classes(cfg, 'train'), split_classes(cfg, 'test')
    assert len(seen) == 15 and len(unseen) == 5 and not set(seen) & set(unseen)
    batch = synthetic_windows(3, 16, 8, 4, seen, lengths=[16, 9, 12])
    assert [x['loc'].shape for x in batch['inputs']] == [(16, 8), (9, 8), (12, 8)]
    assert torch.allclose(batch['inputs'][1]['clip'].norm(dim=-1), torch.ones(9))
    for s in batch['data_samples']:
        assert s['classes'] == tuple(seen) and 1 <= len(s['gt_labels']) <= 3
        assert ((s['gt_segments'] >= 0) & (s['gt_segments'] <= 1)).all()
        assert (s['gt_segments'][:, 1] > s['gt_segments'][:, 0]).all()
    lin = nn.Linear(256, 256)  # 65,792 float32 parameters
    lin.bias.requires_grad_(False)
    mem = static_memory_mib(lin)
    assert mem['parameters'] == pytest.approx(65792 * 4 / 2**20)
    assert mem['gradients'] == pytest.approx(65536 * 4 / 2**20)
    assert mem['total'] == pytest.approx((65792 + 3 * 65536) * 4 / 2**20)


def test_benchmark_config_resolves_through_the_package_not_the_checkout(tmp_path, monkeypatch):
    """The helpers hold no repository path: from another directory the config is the one zeetad ships, and a
    split root relative to that directory is not found (the generic fallback names), as the datasets read it."""
    from benchmarks.common import model as bench_model
    from zeetad.utils.resources import shipped_config
    assert not hasattr(bench_model, 'REPO_ROOT')
    monkeypatch.chdir(tmp_path)
    cfg = bench_model.load_config()
    assert cfg.filename == shipped_config('zeetad/zeetad_thumos14_i3d_clip.py')
    assert bench_model.split_classes(cfg, 'train', fallback=3) == ['action 0', 'action 1', 'action 2']
    with pytest.raises(FileNotFoundError, match='configs/zeetad/none.py'):
        bench_model.load_config('configs/zeetad/none.py')


def test_feature_dataset_formats_agree_and_loader_counts(tmp_path):
    import zeetad.datasets  # noqa: F401
    from zeetad.models.data_preprocessor import TADDataPreprocessor
    from zeetad.registry import DATASETS
    from benchmarks.common.data import dataset_config, time_loader, write_feature_dataset
    desc = write_feature_dataset(str(tmp_path), ['A', 'B'], num_videos=2, length=64, loc_dim=8, clip_dim=4,
                                 annotated_videos=3)
    assert desc['annotated_videos'] == 3 and desc['bytes'][('npy', 'float16')] == 2 * 64 * 8 * 2
    sets = {(fmt, dt): DATASETS.build(dataset_config(desc, fmt, dt, 32, None))
            for fmt in ('npy', 'hdf5') for dt in ('float32', 'float16')}
    lengths = {len(ds) for ds in sets.values()}
    assert len(lengths) == 1
    a, b = sets['npy', 'float32'], sets['hdf5', 'float32']
    for i in range(len(a)):
        assert torch.equal(a[i]['inputs']['loc'], b[i]['inputs']['loc'])
        assert torch.equal(a[i]['inputs']['clip'], b[i]['inputs']['clip'])
    half = sets['npy', 'float16'][0]['inputs']['loc']
    np.testing.assert_allclose(half.numpy(), a[0]['inputs']['loc'].numpy(), rtol=1e-3, atol=1e-3)
    # The third annotated video shares the first one's features.
    loc = tmp_path / 'loc_float32'
    assert np.array_equal(np.load(loc / 'video_validation_0000002.npy'), np.load(loc / 'video_validation_0000000.npy'))
    result = time_loader(a, batch_size=2, num_workers=0, batches=3, preprocessor=TADDataPreprocessor())
    assert result['samples'] == 6 and result['snippets_per_s'] == pytest.approx(32 * result['samples_per_s'])


def test_cpu_flags_read_the_flags_line(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512f avx512bw\n')
    assert cpu_flags(str(info)) == {'avx2': True, 'avx512f': True, 'avx512_bf16': False, 'amx_bf16': False}
    assert cpu_flags(str(tmp_path / 'missing')) == dict.fromkeys(CPU_FLAGS, False)


def test_machine_line_states_flags_and_precision():
    line = machine_line(precision='float32')
    flags = cpu_flags()
    assert 'CPU flags: ' in line and line.endswith('; precision: float32')
    assert all(k in line for k, on in flags.items() if on)
    if hasattr(torch.cpu, '_is_avx512_bf16_supported') and os.path.isfile('/proc/cpuinfo'):
        assert flags['avx512_bf16'] == torch.cpu._is_avx512_bf16_supported()  # the check autocast='auto' uses
