#!/usr/bin/env bash
# Train one experiment on NGPUS GPUs of this machine with torchrun (one process per GPU):
#
#     tools/dist_train.sh CONFIG NGPUS [run_experiments.py options, e.g. --amp bf16 --scale-lr --work-dir DIR]
#
# The global batch is NGPUS x the config's batch_size (source and target each); the learning rate is the
# config's unless --scale-lr is given. Environment: PORT (default 29500; change it to run two jobs at once),
# PYTHON (default: python), and NNODES / NODE_RANK / MASTER_ADDR for several machines: the same command on each,
# e.g. two machines with 8 GPUs each, node 0 at 10.0.0.1 (reachable from node 1 on PORT):
#
#     NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8 --work-dir DIR    # on node 0
#     NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8 --work-dir DIR    # on node 1
#
# DIR must be the same shared folder on both (rank 0 writes it; --resume reads it everywhere).
set -euo pipefail
if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: tools/dist_train.sh CONFIG NGPUS [run_experiments.py options]" >&2
    exit 2
fi
CONFIG=$1
NGPUS=$2
shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Every process must name the same default work dir: they share one timestamp.
export DASEG_RUN_TIMESTAMP="${DASEG_RUN_TIMESTAMP:-$(date +%y%m%d_%H%M%S)}"
# mmengine formats configs with yapf, which caches its grammar in the user's cache folder on first use after an
# install, written in place: processes starting together can read another's half-written file (EOFError in
# yapf's grammar.load). One process writes it first.
"${PYTHON:-python}" -c "import yapf.pytree.pytree_utils"
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" --nproc_per_node="$NGPUS" \
    "$ROOT/run_experiments.py" --config "$CONFIG" --launcher pytorch "$@"
