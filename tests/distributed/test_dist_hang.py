"""A rank that stops responding ends the job after the collective timeout, with an error naming that rank."""
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zeetad.engine.distributed import DEFAULT_TIMEOUT_S, check_timeout

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_stopped_rank_ends_the_job_with_an_error_naming_it(tmp_path):
    """2 CPU processes (gloo) under torchrun, timeout 5 s; rank 1 is SIGSTOPped after iteration 2."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={_free_port()}',
           str(HERE / 'ddp_toy_hang_script.py'), str(tmp_path / 'work'), '5', '1']
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and 'rank 1 stops (SIGSTOP)' in output, output[-3000:]
    match = re.search(r'rank 0 ended after ([\d.]+) s: CollectiveTimeoutError: rank 0: a collective operation failed '
                      r'\(timeout env_cfg.dist_cfg.timeout=5 s\); unresponsive: rank 1 \(no answer within 5 s', output)
    assert match, output[-3000:]
    # the collective waits 5 s, the check-in 5 s more; torchrun then ends the stopped rank (SIGTERM, then SIGKILL)
    assert float(match.group(1)) < 60 and elapsed < 200, (match.group(1), elapsed)
    assert 'rank 1 ended' not in output
    print(f'rank 0 ended after {match.group(1)} s; whole job {elapsed:.1f} s')


def test_timeout_default_and_validation():
    assert check_timeout(5) == 5.0 and DEFAULT_TIMEOUT_S == 1800.0
    for bad in (0, -1, 'ten', None, True, float('inf')):
        with pytest.raises(ValueError, match=r'env_cfg\.dist_cfg\.timeout must be a positive number'):
            check_timeout(bad)
