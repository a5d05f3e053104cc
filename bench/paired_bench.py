#!/usr/bin/python3
"""paired_bench.py - two or more coinbc builds on the same `bench train`
case, alternated round by round (the order reversed every other round, so
neither build always runs first), and for each variant the median samples/s,
the median share of sgemm, and the median (min, max) of each build's ratio
to the first one taken round by round. On a shared machine whose speed moves
by 2x within minutes, only such ratios mean anything.

    /usr/bin/python3 bench/paired_bench.py ROUNDS "BENCH ARGS" COINBC_A COINBC_B [...]

e.g. a build of an earlier commit against this one on the level-wise step:

    /usr/bin/python3 bench/paired_bench.py 8 \\
        "--net nature --batch-levels 16 --batch-frames 8 --steps 40 --naive 0 --variants mean,and" \\
        /tmp/old/build/coinbc build/coinbc

A build may carry environment settings before it, NAME=VALUE,...:BINARY,
e.g. one build with and without its own AVX-512 GEMM:

    /usr/bin/python3 bench/paired_bench.py 6 "--net nature --batch-levels 1 --batch-frames 64 --steps 60 --naive 0" \\
        COINBC_OWN_GEMM=0:build/coinbc build/coinbc
"""
import os
import re
import statistics
import subprocess
import sys


def run(binary, args):
    """one `bench train` run: {variant: (samples/s, share of sgemm)}"""
    env = dict(os.environ)
    m = re.fullmatch(r"((?:[A-Za-z_][A-Za-z0-9_]*=[^,:]*,?)+):(.+)", binary)
    if m:
        for kv in filter(None, m.group(1).split(",")):
            k, v = kv.split("=", 1)
            env[k] = v
        binary = m.group(2)
    p = subprocess.run([binary, "bench", "train"] + args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"paired_bench.py: {binary} bench train {' '.join(args)} failed (exit {p.returncode}):\n{p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("result variant="):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            out[fields["variant"]] = (float(fields["samples_per_s"]), float(fields["sgemm_share"]))
    if not out:
        sys.exit(f"paired_bench.py: {binary} printed no 'result variant=' line")
    return out


def main():
    if len(sys.argv) < 5 or not re.fullmatch(r"[1-9][0-9]*", sys.argv[1]):
        sys.exit(__doc__)
    rounds, args, bins = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
    res = {b: [] for b in bins}
    for r in range(rounds):
        for b in bins if r % 2 == 0 else bins[::-1]:
            res[b].append(run(b, args))
        print(f"round {r + 1} of {rounds} done", file=sys.stderr)
    for v in res[bins[0]][0]:
        for b in bins:
            sps = [x[v][0] for x in res[b]]
            share = [x[v][1] for x in res[b]]
            ratio = [x[v][0] / y[v][0] for x, y in zip(res[b], res[bins[0]])]
            print(f"{v:8s} {b:32s} {statistics.median(sps):9.1f} samples/s  share {statistics.median(share):.3f}  "
                  f"ratio to the first {statistics.median(ratio):.3f} [{min(ratio):.3f}, {max(ratio):.3f}]")


if __name__ == "__main__":
    main()
