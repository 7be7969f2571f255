"""PyTorch + transformers twin of `cargo bench -p steprl-tests --bench lm`.

SmolLM2-135M-Instruct from the same Q4_1 GGUF (models/fetch.sh smollm2), dequantized to
float32 at load. Measures, with the thread count given as the first argument (default:
torch's own), the same things on the same prompts:
  load      seconds from the GGUF file to a model ready to run
  prefill   a 128-token raw prompt in one forward pass, tokens/s (median of 5)
  decode    64 greedy tokens after the chat prompt with the KV cache, tokens/s after the first
  peak RSS  of the process
Run with bench/run-lm-torch.sh (it uses bench/.venv).
"""

import os
import resource
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
logging.disable_progress_bar()

if len(sys.argv) > 1:
    torch.set_num_threads(int(sys.argv[1]))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
folder = os.path.join(root, "models", "smollm2")
name = "SmolLM2-135M-Instruct.Q4_1.gguf"

t0 = time.perf_counter()
tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
model.eval()
load = time.perf_counter() - t0

text = "The quick brown fox jumps over the lazy dog. " * 40
prefill_ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"][:128]])
assert prefill_ids.shape[1] == 128
times = []
with torch.inference_mode():
    model(prefill_ids)  # warm-up
    for _ in range(5):
        t = time.perf_counter()
        model(prefill_ids)
        times.append(time.perf_counter() - t)
prefill = 128 / statistics.median(times)

chat = tok.apply_chat_template(
    [{"role": "user", "content": "Write a short story about a robot who learns to paint."}],
    add_generation_prompt=True,
    tokenize=True,
)
if hasattr(chat, "keys"):
    chat = chat["input_ids"]
ids = torch.tensor([chat])
with torch.inference_mode():
    out = model(ids, use_cache=True)
    past = out.past_key_values
    nxt = out.logits[0, -1].argmax().view(1, 1)
    t = time.perf_counter()
    for _ in range(63):
        out = model(nxt, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[0, -1].argmax().view(1, 1)
    decode = 63 / (time.perf_counter() - t)

peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
print(f"load     {load:.2f} s")
print(f"prefill  {prefill:.1f} tokens/s (128-token prompt, median of 5)")
print(f"decode   {decode:.1f} tokens/s (64 greedy tokens with the KV cache)")
print(f"peak RSS {peak:.0f} MiB")
