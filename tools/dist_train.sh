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
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/dist_run.sh" "$HERE/train.py" "$2" "$1" "${@:3}"
