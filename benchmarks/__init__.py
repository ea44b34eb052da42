"""Benchmark and profiling code of the checkout, not installed with the library: one script per measurement
(``benchmark_*.py``, run as ``python benchmarks/benchmark_<what>.py``), the shared harness (``harness.py``: timing,
memory, threads, tables) and the parts several scripts build on (``common/``). Import as ``benchmarks.<module>``
with the checkout root on ``sys.path`` (the scripts and ``tests/conftest.py`` put it there)."""
