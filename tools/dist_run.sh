#!/usr/bin/env bash
# torchrun on this machine (or one node of several) for any zeetad tool; dist_train.sh and dist_test.sh use it.
#   tools/dist_run.sh TOOL NUM_PROCESSES [tool arguments...]     e.g. tools/dist_run.sh tools/train.py 2 CONFIG
# Environment: NNODES, NODE_RANK, MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 TOOL NUM_PROCESSES [tool arguments...]" >&2
    exit 2
fi
TOOL=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
exec env PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$TOOL" "$@" --launcher pytorch
