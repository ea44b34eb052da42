#!/usr/bin/env bash
# Test a checkpoint on N processes of this machine; the metric equals the single-process one.
#   tools/dist_test.sh CONFIG CHECKPOINT N [tools/test.py options...]
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCESSES [tools/test.py options...]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/dist_run.sh" "$HERE/test.py" "$3" "$1" "$2" "${@:4}"
