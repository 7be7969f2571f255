"""PyTorch twin of `cargo bench -p steprl-tests --bench learner_update`.

The same MLP policy (token embeddings 16 wide over an 80-token context, concatenated,
two hidden layers of 256 with ReLU, 19 action logits), the same masked PPO-clipped loss,
Adam (lr 1e-3, eps 1e-8), global gradient-norm clipping at 1.0, 4096 samples, 2 epochs,
minibatch 256. Prints samples/s of the update and contexts/s of batched inference.

Run with bench/run-torch.sh (it installs torch from PyPI into a virtualenv).
"""

import math
import sys
import time

import torch

VOCAB, CONTEXT, ACTIONS, SAMPLES = 133, 80, 19, 4096
EMBED, HIDDEN, EPOCHS, MINIBATCH, CLIP = 16, 256, 2, 256, 0.2


class Policy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB + ACTIONS + 1, EMBED)
        self.l1 = torch.nn.Linear(CONTEXT * EMBED, HIDDEN)
        self.l2 = torch.nn.Linear(HIDDEN, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, ACTIONS)

    def forward(self, tokens):
        x = self.embed(tokens).reshape(tokens.shape[0], -1)
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        return self.head(x)


def loss_fn(model, tokens, invalid, actions, old_logp, adv, weight):
    logits = model(tokens).masked_fill(invalid, -1e9)
    logp_all = torch.log_softmax(logits, dim=1)
    logp = logp_all.gather(1, actions).squeeze(1)
    ratio = torch.exp(logp - old_logp)
    surr = torch.minimum(ratio * adv, ratio.clamp(1 - CLIP, 1 + CLIP) * adv)
    return -(surr * weight).sum() / tokens.shape[0]


def main():
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, VOCAB, (SAMPLES, CONTEXT), generator=g)
    invalid = torch.zeros(SAMPLES, ACTIONS, dtype=torch.bool)
    actions = torch.randint(0, ACTIONS, (SAMPLES, 1), generator=g)
    old_logp = torch.full((SAMPLES,), -math.log(ACTIONS))
    adv = torch.where(torch.rand(SAMPLES, generator=g) < 0.5, 1.0, -1.0)
    weight = torch.ones(SAMPLES)
    model = Policy()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def update():
        for _ in range(EPOCHS):
            perm = torch.randperm(SAMPLES, generator=g)
            for i in range(0, SAMPLES, MINIBATCH):
                idx = perm[i:i + MINIBATCH]
                loss = loss_fn(model, tokens[idx], invalid[idx], actions[idx], old_logp[idx], adv[idx], weight[idx])
                optim.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()

    update()  # warm-up
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        update()
        rates.append(EPOCHS * SAMPLES / (time.perf_counter() - t0))
    rates.sort()
    with torch.no_grad():
        batch, bad = tokens[:64], invalid[:64]
        torch.log_softmax(model(batch).masked_fill(bad, -1e9), 1)
        t0 = time.perf_counter()
        for _ in range(200):
            torch.log_softmax(model(batch).masked_fill(bad, -1e9), 1)
        infer = 200 * 64 / (time.perf_counter() - t0)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {params} parameters")
    print(f"update: {rates[2]:.0f} samples/s (median of 5)")
    print(f"inference: {infer:.0f} contexts/s (batches of 64)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        torch.set_num_threads(int(sys.argv[1]))
    main()
