#!/usr/bin/env bash
# Installs PyTorch from PyPI into bench/.venv (once) and runs bench/torch_update.py with
# 1 thread (like steprl's CPU backend) and with torch's default thread count.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${STEPRL_BENCH_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.15.0"
fi
echo "== torch, 1 thread"
"$venv/bin/python" "$here/torch_update.py" 1
echo "== torch, default threads"
"$venv/bin/python" "$here/torch_update.py"
