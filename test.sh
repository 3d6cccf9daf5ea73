#!/usr/bin/env bash
# Evaluate checkpoints on the config's target datasets; see tools/test.py --help.
#   ./test.sh work_dirs/my_run          # as DAFormer's test.sh: the run's dumped config, its latest checkpoint
#   ./test.sh CONFIG a.pth b.pth --targets cityscapes idd --show-dir preds
root="$(dirname "$0")"
if [ -x "$root/.venv/bin/python" ]; then
    exec "$root/.venv/bin/python" "$root/tools/test.py" "$@"
fi
exec python3 "$root/tools/test.py" "$@"
