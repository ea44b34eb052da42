"""Benchmark and profiling scripts (``benchmark_*.py``, ``profile_inference.py``, ``visualize.py``) and the helpers
they share (``bench_*.py``, ``benchmark.py``, ``model_report.py``, ``profile_ranges.py``). They live beside the
tools, not in the library: the wheel does not ship them. Import as ``tools.analysis_tools.<module>`` with the
checkout root on ``sys.path`` (the scripts and ``tests/conftest.py`` put it there)."""
