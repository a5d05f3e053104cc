#!/usr/bin/python3
"""Writes PyTorch reference fixtures for coinbc's networks (run with Debian's
python3-torch; the .bin outputs are committed, the C test needs no Python).

For a small impala and a small nature net with fixed seeds: the parameters
(in coinbc's tensor order), input frames (uint8 HWC), labels, the logits, the
mean cross-entropy, and one parameter gradient per level: the gradient of the
mean cross-entropy over that level's B frames, each from its own autograd
pass (the slow reference way coinbc must agree with).

File layout (little-endian): int32 net (0 impala, 1 nature), c0, c1, c2,
hidden, L, B, nparams; float32 params[nparams]; uint8 frames[L*B*64*64*3];
uint8 labels[L*B]; float32 logits[L*B*15]; float32 loss;
float32 grads[L*nparams]."""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_nets import Impala, Nature  # noqa: E402

torch.set_num_threads(1)


def write(path, net_id, model, ch, hidden, L, B, seed):
    torch.manual_seed(seed)
    for p in model.parameters():  # larger than default init so every layer matters
        nn.init.uniform_(p, -0.3, 0.3)
    params = [p for p in model.parameters()]  # registration order == coinbc's tensor order
    rng = np.random.default_rng(seed)
    n = L * B
    frames = rng.integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 15, size=n, dtype=np.uint8)
    x = torch.tensor(frames, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    y = torch.tensor(labels, dtype=torch.int64)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    grads = []
    for l in range(L):
        model.zero_grad()
        ll = F.cross_entropy(model(x[l * B:(l + 1) * B]), y[l * B:(l + 1) * B])
        g = torch.autograd.grad(ll, params)
        grads.append(torch.cat([t.reshape(-1) for t in g]))
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    with open(path, "wb") as f:
        f.write(struct.pack("<8i", net_id, ch[0], ch[1], ch[2], hidden, L, B, flat.numel()))
        f.write(flat.numpy().astype("<f4").tobytes())
        f.write(frames.tobytes())
        f.write(labels.tobytes())
        f.write(logits.detach().numpy().astype("<f4").tobytes())
        f.write(struct.pack("<f", loss.item()))
        for g in grads:
            f.write(g.numpy().astype("<f4").tobytes())
    print(path, "params", flat.numel(), "loss", loss.item())


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "torch")
os.makedirs(out, exist_ok=True)
write(os.path.join(out, "impala_small.bin"), 0, Impala([4, 8, 8], 32), [4, 8, 8], 32, 2, 3, 1)
write(os.path.join(out, "nature_small.bin"), 1, Nature([8, 8, 8], 32), [8, 8, 8], 32, 2, 3, 2)
