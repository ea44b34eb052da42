"""Run summaries, rank/device resolution, and the benchmark tool on a tiny synthetic video."""
import importlib.util
from pathlib import Path

import pytest
import torch

from zeetad.video.launch import dist_env, resolve_device
from zeetad.video.report import ExtractReport, format_summary

ROOT = Path(__file__).resolve().parents[2]


def test_reports_combine_and_render():
    a = ExtractReport(out_path='a.h5', done=['v1', 'v2'], frames=100, elapsed_s=10.0, decode_s=4.0, encode_s=2.0,
                      num_workers=2)
    b = ExtractReport(out_path='b.h5', done=['v3'], skipped=['v0'], failed={'bad': 'cannot open: Invalid data'},
                      frames=50, elapsed_s=20.0, decode_s=1.0, encode_s=1.0, num_workers=2)
    total = ExtractReport.combine([a, b], out_path='all.h5')
    assert (total.done, total.skipped, total.frames, total.elapsed_s) == (['v1', 'v2', 'v3'], ['v0'], 150, 20.0)
    assert total.rates() == dict(overall=7.5, decode_per_worker=30.0, encode=50.0) and not total.ok
    plain = format_summary(total, plain=True)
    assert 'Extraction summary: all.h5' in plain and 'bad: cannot open: Invalid data' in plain
    assert '  done ' in plain and 'encode frames/s' in plain
    rich = format_summary(total)
    assert 'Failed videos' in rich and 'cannot open: Invalid data' in rich and '│' in rich
    interrupted = format_summary(ExtractReport(interrupted=True), plain=True)
    assert 'INTERRUPTED' in interrupted and '  frames/s overall            -' in interrupted


def test_dist_env_from_arguments_and_torchrun_variables(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    assert dist_env() == dist_env(0, 1) == dist_env(None, None)
    assert not dist_env().launched and dist_env().world_size == 1
    manual = dist_env(1, 3)
    assert (manual.rank, manual.world_size, manual.local_rank, manual.launched) == (1, 3, 1, False)
    monkeypatch.setenv('RANK', '3')
    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setenv('LOCAL_RANK', '1')
    assert not dist_env().launched  # no rendezvous address: shards only, merged later by hand
    monkeypatch.setenv('MASTER_ADDR', 'localhost')
    monkeypatch.setenv('MASTER_PORT', '29500')
    env = dist_env()
    assert (env.rank, env.world_size, env.local_rank, env.launched) == (3, 4, 1, True)
    with pytest.raises(ValueError):
        dist_env(4, 4)


def test_resolve_device():
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('cuda', local_rank=3) == torch.device('cuda', 3)
    assert resolve_device('cuda:1', local_rank=3) == torch.device('cuda', 1)
    expected = torch.device('cuda', 2) if torch.cuda.is_available() else torch.device('cpu')
    assert resolve_device('auto', local_rank=2) == expected


def test_benchmark_tool_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('benchmark_extract_tool', ROOT / 'benchmarks/benchmark_extract.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'bench.json'
    results = tool.main(['--num-synthetic', '1', '--seconds', '2', '--size', '96x64', '--video-fps', '10',
                         '--fps', '2', '--workers', '0', '--models', 'tiny', '--devices', 'cpu', '--batch-size',
                         '4', '--encode-batches', '1', '--image-size', '32', '--json', str(out)])
    assert out.exists() and results['decode']['sampled_frames'] == 4 and results['decode']['video_seconds'] == 2.0
    assert results['pipeline'][0]['workers'] == 0 and results['pipeline'][0]['fps'] > 0
    assert [e['model'] for e in results['encode']] == ['zeetad-tiny-clip'] and results['encode'][0]['encode_fps'] > 0
    assert 'encode zeetad-tiny-clip 32px, cpu fp32' in capsys.readouterr().out
