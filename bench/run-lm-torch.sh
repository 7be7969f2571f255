#!/usr/bin/env bash
# Runs bench/lm_torch.py (PyTorch + transformers on SmolLM2-135M) with 1 thread and with
# torch's default thread count; installs torch, transformers, gguf and accelerate into
# bench/.venv on first use. Needs `models/fetch.sh smollm2` first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${STEPRL_BENCH_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, transformers, gguf, accelerate" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.15.0" "transformers==5.24.0" "gguf==0.19.0" "accelerate==1.15.0"
fi
echo "== torch, 1 thread"
"$venv/bin/python" "$here/lm_torch.py" 1
echo "== torch, default threads"
"$venv/bin/python" "$here/lm_torch.py"
