"""PyTorch + transformers + peft twin of `cargo bench -p steprl-tests --bench lm_lora`.

Reads the token ids that benchmark wrote (first argument, default
target/lm-lora-batch.json) and runs the same work on SmolLM2-135M-Instruct from the same
Q4_1 GGUF (dequantized to float32 at load), with peft LoRA rank 8, alpha 16, dropout 0
on q_proj and v_proj:
  choice scoring  one pass over the prompt filling the KV cache, then every label
                  continuing it in one batch; each label's summed log-probability
                  (median of 5 after a warm-up)
  LoRA step       the 4 (prompt, reply) sequences right-padded into one batch, forward,
                  per-token PPO-clipped loss (ratios against the step's own log-probs,
                  each step's mean over its reply tokens, weighted mean over steps),
                  backward, one Adam step (median of 3 after a warm-up step), and
                  the same forward pass alone without autograd
  peak RSS        of the process
The second argument sets torch's thread count (default: torch's own);
STEPRL_BENCH_DEVICE=cuda runs on the GPU (timings synchronize the device).
"""

import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
from transformers.utils import logging

logging.set_verbosity_error()
logging.disable_progress_bar()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
batch_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "lm-lora-batch.json")
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))
batch = json.load(open(batch_path))
dev = torch.device(os.environ.get("STEPRL_BENCH_DEVICE", "cpu"))
folder = os.path.join(root, "models", "smollm2")
name = "SmolLM2-135M-Instruct.Q4_1.gguf"

base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32).to(dev)
model = get_peft_model(
    base,
    LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]),
)
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)


def score_labels(prompt, labels):
    """Each label's summed log-probability as the continuation of `prompt`."""
    with torch.inference_mode():
        out = model(torch.tensor([prompt], device=dev), use_cache=True)
        head = torch.log_softmax(out.logits[0, -1], -1)
        width = max(len(l) for l in labels)
        scores = torch.stack([head[l[0]] for l in labels])
        if width == 1:
            return scores
        past = out.past_key_values
        past.batch_repeat_interleave(len(labels))
        inputs = torch.tensor([[l[j] if j < len(l) else 0 for j in range(width - 1)] for l in labels], device=dev)
        lp = torch.log_softmax(model(inputs, past_key_values=past, use_cache=True).logits, -1)
        for i, l in enumerate(labels):
            for j in range(1, len(l)):
                scores[i] += lp[i, j - 1, l[j]]
        return scores




steps = batch["step"]
b = len(steps)
seqs = [s["prompt"] + s["completion"][:-1] for s in steps]
length = max(len(x) for x in seqs)
width = max(len(s["completion"]) for s in steps)
ids = torch.zeros((b, length), dtype=torch.long)
at = torch.zeros((b, width), dtype=torch.long)
target = torch.zeros((b, width), dtype=torch.long)
keep = torch.zeros((b, width))
for r, s in enumerate(steps):
    ids[r, : len(seqs[r])] = torch.tensor(seqs[r])
    for j, tok in enumerate(s["completion"]):
        at[r, j] = len(s["prompt"]) - 1 + j
        target[r, j] = tok
        keep[r, j] = 1.0
ids, at, target, keep = ids.to(dev), at.to(dev), target.to(dev), keep.to(dev)
adv = torch.tensor([s["advantage"] for s in steps], device=dev).unsqueeze(1)
opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
model.train()


def train_step():
    hidden = model(ids, output_hidden_states=True).hidden_states[-1]
    picked = hidden.gather(1, at.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    lp_all = torch.log_softmax(model.get_output_embeddings()(picked), -1)
    logp = lp_all.gather(2, target.unsqueeze(-1)).squeeze(-1) * keep
    ratio = torch.exp((logp - logp.detach()) * keep)
    s1 = ratio * adv
    s2 = ratio.clamp(0.8, 1.2) * adv
    per_step = (torch.minimum(s1, s2) * keep).sum(1) / keep.sum(1)
    loss = -per_step.mean()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    opt.step()


def forward_only():
    with torch.no_grad():
        hidden = model(ids, output_hidden_states=True).hidden_states[-1]
        picked = hidden.gather(1, at.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        lp_all = torch.log_softmax(model.get_output_embeddings()(picked), -1)
        return lp_all.gather(2, target.unsqueeze(-1)).squeeze(-1) * keep


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, n):
    """Median seconds of `n` calls of `fn` after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


choice = batch["choice"]
score = median_time(lambda: score_labels(choice["prompt"], choice["labels"]), 5)
forward = median_time(forward_only, 3)
step = median_time(train_step, 3)
tokens = sum(len(s["prompt"]) + len(s["completion"]) for s in steps)

peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, LoRA trainable {trainable}")
print(
    f"choice scoring  {score:.3f} s (a {len(choice['prompt'])}-token prompt, "
    f"{len(choice['labels'])} labels; median of 5)"
)
print(f"LoRA step       {step:.3f} s ({b} sequences, {tokens} tokens; median of 3)")
print(f"  of which the forward pass alone (no autograd) {forward:.3f} s")
print(f"peak RSS        {peak:.0f} MiB")
if dev.type == "cuda":
    print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (allocated by torch)")
