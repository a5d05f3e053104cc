#!/usr/bin/python3
"""PyTorch peer of `coinbc bench train`: the same network (--net impala: 16,
32, 32, hidden 256, the default; --net nature: 32, 64, 64, hidden 512) and
batch (--levels L x --frames B of 64x64 RGB, default 16 x 8), CPU, 2 threads.
Run with Debian's python3-torch: /usr/bin/python3 bench/torch_peer_train.py
(--variants mean,and-loop picks variants; docs/PERFORMANCE.md has the
commands that pair it with coinbc).

Times one training step (forward, backward, combine, Adam) in three ways:
  mean       plain averaging, one backward pass
  and-ref    AND-mask as the reference code does it: one forward pass over
             the batch, then torch.autograd.grad of each level's loss
             through the whole graph (L backward passes over the batch)
  and-loop   AND-mask with a loop of per-level forward/backward passes
  and-vmap   AND-mask with per-level gradients from functorch's
             vmap(grad(loss)) over the levels (when functorch is there)
and prints samples/s for each, one line per variant, and a line a script can
read: "peer VARIANT samples_per_s X s_per_step Y"."""
import argparse
import os
import platform
import time

import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from torch_nets import Impala, Nature  # noqa: E402


def and_mask(grads_per_level, params, tau=0.8):
    """grads_per_level: list (levels) of lists (params); sets p.grad."""
    for i, p in enumerate(params):
        g = torch.stack([gl[i] for gl in grads_per_level])
        mask = (torch.sign(g).mean(0).abs() >= tau).float()
        frac = mask.mean()
        p.grad = mask * g.mean(0) / (1e-10 + frac)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--net", choices=("impala", "nature"), default="impala")
    ap.add_argument("--variants", default="mean,and-ref,and-loop,and-vmap",
                    help="comma-separated subset of mean, and-ref, and-loop, and-vmap")
    a = ap.parse_args()
    want = set(a.variants.split(","))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    L, B = a.levels, a.frames
    net = Impala() if a.net == "impala" else Nature()
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=1e-6)
    x = torch.rand(L * B, 3, 64, 64)
    y = torch.randint(0, 15, (L * B,))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}, "
          f"{a.threads} threads; {a.net} {sum(p.numel() for p in params)} parameters; batch {L} levels x {B} frames")

    def step_mean():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    def step_and_ref():
        logits = net(x)
        grads = []
        for l in range(L):
            loss = F.cross_entropy(logits[l * B:(l + 1) * B], y[l * B:(l + 1) * B])
            grads.append(torch.autograd.grad(loss, params, retain_graph=True))
        and_mask(grads, params)
        opt.step()

    def step_and_loop():
        grads = []
        for l in range(L):
            loss = F.cross_entropy(net(x[l * B:(l + 1) * B]), y[l * B:(l + 1) * B])
            grads.append(torch.autograd.grad(loss, params))
        and_mask(grads, params)
        opt.step()

    variants = [("mean", step_mean), ("and-ref (autograd.grad per level)", step_and_ref),
                ("and-loop (per-level forward/backward)", step_and_loop)]
    variants = [v for v in variants if v[0].split()[0] in want]
    try:
        if "and-vmap" not in want:
            raise ImportError
        from functorch import grad, make_functional, vmap
        fmodel, fparams = make_functional(net)
        xl, yl = x.view(L, B, 3, 64, 64), y.view(L, B)
        level_grads = vmap(grad(lambda p, xb, yb: F.cross_entropy(fmodel(p, xb), yb)), in_dims=(None, 0, 0))

        def step_and_vmap():
            for q, p in zip(fparams, params):  # the functional copy follows the trained parameters
                q.data = p.data
            g = level_grads(fparams, xl, yl)
            and_mask([[gi[l] for gi in g] for l in range(L)], params)
            opt.step()
        variants.append(("and-vmap (functorch vmap of grad)", step_and_vmap))
    except ImportError:
        if "and-vmap" in want:
            print("  (functorch not available: no and-vmap variant)")
    for name, fn in variants:
        fn()  # warm-up
        steps = a.steps if name == "mean" or "loop" in name or "vmap" in name else max(2, a.steps // 2)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        dt = time.perf_counter() - t0
        print(f"  {name:40s} {steps * L * B / dt:8.1f} samples/s  {dt / steps:.3f} s/step")
        print(f"peer {name.split()[0]} samples_per_s {steps * L * B / dt:.1f} s_per_step {dt / steps:.5f}")


if __name__ == "__main__":
    main()
