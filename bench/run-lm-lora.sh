#!/usr/bin/env bash
# The LoRA-step and choice-scoring benchmark side by side on this machine: steprl
# (`cargo bench --bench lm_lora`, which writes the token ids it used) then PyTorch +
# transformers + peft on the same ids (bench/lm_lora_torch.py), both with the same
# thread count (first argument, default 2). Installs torch, transformers, peft, gguf and
# accelerate into bench/.venv on first use. Needs `models/fetch.sh smollm2` first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
threads="${1:-2}"
venv="${STEPRL_BENCH_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, transformers, peft, gguf, accelerate" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.15.0" "transformers==5.24.0" "peft==0.21.2" "gguf==0.19.0" "accelerate==1.15.0"
fi
batch="${CARGO_TARGET_DIR:-$here/../target}/lm-lora-batch.json"
echo "== steprl, $threads threads"
RAYON_NUM_THREADS="$threads" STEPRL_BENCH_BATCH="$batch" cargo bench -q -p steprl-tests --bench lm_lora
echo "== PyTorch + peft, $threads threads"
"$venv/bin/python" "$here/lm_lora_torch.py" "$batch" "$threads"
