#!/usr/bin/env bash
# Train on N processes of this machine (one per GPU; gloo on CPU when there is no GPU).
#   tools/dist_train.sh CONFIG N [tools/train.py options...]
# batch_size in the config is per process; add --auto-scale-lr to scale the LR with the total batch.
# Several machines: NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 tools/dist_train.sh CONFIG 8 (then NODE_RANK=1 on host1).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCESSES [tools/train.py options...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
exec env PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
