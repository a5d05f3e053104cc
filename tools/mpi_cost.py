#!/usr/bin/python3
"""mpi_cost.py - the cost model of docs/MPI.md: step time of `mpirun -n P
coinbc train` split into compute and communication, for the Nature and
IMPALA nets at L levels per step, P machines (one rank each) and a link of
a given speed. Inputs are the measured figures of `coinbc bench mpi` (per
level forward+backward time, the per-step combine+Adam time every rank pays)
and the parameter counts; prints the markdown tables docs/MPI.md holds.

  /usr/bin/python3 tools/mpi_cost.py [--t-level-nature S] [--t-level-impala S] [--t-fixed S] [--alpha S]
"""
import argparse
import math

PARAMS = {"nature": 608431, "impala": 625999}  # coinbc bench mpi prints them


def chain_chunk(n, p):
    """the chunk train_combine_dist uses (train/combine.c)"""
    if p < 2:
        return n
    c = int(math.sqrt(n * 3125.0 / (p - 1)))
    return min(max(c, 1024), 65536)


def comm_time(n, p, bw, alpha, counts=True):
    """seconds of communication per step for n parameters on p ranks, link bw bytes/s"""
    if p < 2:
        return 0.0
    c = chain_chunk(n, p)
    chunks = math.ceil(n / c)
    chain = (chunks + p - 1) * (alpha + 8.0 * c / bw)          # ordered sum, pipelined through the ranks
    bcast = 2.0 * 8.0 * n / bw * (p - 1) / p + math.log2(p) * alpha  # the sums from the last rank (scatter + allgather)
    cnt = (2.0 * 4.0 * n / bw * (p - 1) / p + 2 * (p - 1) * alpha) if counts else 0.0  # ring allreduce of int32 counts
    ctrl = 2 * 2 * math.log2(p) * alpha                           # loss and non-finite flags
    return chain + bcast + cnt + ctrl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--t-level-nature", type=float, default=0.0061)
    ap.add_argument("--t-level-impala", type=float, default=0.0367)
    ap.add_argument("--t-fixed", type=float, default=0.0135)
    ap.add_argument("--alpha", type=float, default=20e-6)
    ap.add_argument("--frames", type=int, default=8)
    a = ap.parse_args()
    tl = {"nature": a.t_level_nature, "impala": a.t_level_impala}
    for net in ("nature", "impala"):
        n = PARAMS[net]
        for L in (16, 64, 256):
            one = L * tl[net] + a.t_fixed
            print(f"\n**{net}, L = {L}** (one machine: {one * 1e3:.0f} ms/step, {L * a.frames / one:.0f} samples/s)\n")
            print("| machines | compute ms | 10 Gb/s: comm ms, speedup | 25 Gb/s | 100 Gb/s |")
            print("|---|---|---|---|---|")
            for P in (8, 32, 128):
                if P > L:
                    print(f"| {P} | - | refused: P > L (each rank takes L/P whole levels) | - | - |")
                    continue
                comp = L / P * tl[net] + a.t_fixed
                cells = []
                for gbps in (10, 25, 100):
                    cm = comm_time(n, P, gbps * 1e9 / 8, a.alpha)
                    cells.append(f"{cm * 1e3:.1f}, {one / (comp + cm):.1f}x")
                print(f"| {P} | {comp * 1e3:.1f} | " + " | ".join(cells) + " |")
    print("\nWhere scaling stops: the largest P (a divisor of L) still at >= 50% parallel efficiency, its speedup,"
          " and the ceiling one machine's step / (t_fixed + communication) that no P passes:\n")
    print("| net | L | 10 Gb/s | 25 Gb/s | 100 Gb/s |")
    print("|---|---|---|---|---|")
    for net in ("nature", "impala"):
        n = PARAMS[net]
        for L in (16, 64, 256):
            one = L * tl[net] + a.t_fixed
            cells = []
            for gbps in (10, 25, 100):
                bw = gbps * 1e9 / 8
                sp = {P: one / (L / P * tl[net] + a.t_fixed + comm_time(n, P, bw, a.alpha))
                      for P in range(1, L + 1) if L % P == 0}
                ok = max(P for P in sp if sp[P] / P >= 0.5)
                ceil = one / (a.t_fixed + comm_time(n, L, bw, a.alpha))
                cells.append(f"P = {ok}: {sp[ok]:.1f}x (ceiling {ceil:.0f}x)")
            print(f"| {net} | {L} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
