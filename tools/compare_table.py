#!/usr/bin/python3
"""compare_table.py - glue for tools/compare.sh (make compare).

  train-args CONFIG.json [--fixed "OPTS"] [--set KEY=VALUE]...
      Prints the `coinbc train` options of a tuned configuration (tune's
      best.json: one JSON object whose keys are train option names without
      the dashes) on one line: the --fixed options first, then the file's,
      then --set, a later value replacing an earlier one.
  table STATE --methods "M..." --seeds "S..." [--probe-seeds "S..."] [--base mean] [--coinbc PATH]
      Reads the per-run summaries compare.sh keeps in STATE (runs/M-S/,
      probe/M/ for probe seed 1, probe/M-S/ for the others) through `coinbc report --json` (the run-records module's
      strict readers) and prints the comparison table as Markdown.

Statistics: mean over seeds with a 95% interval from Student's t (n-1 degrees
of freedom), and Welch's unequal-variances t-test of each method against the
base method (scipy.stats.ttest_ind(equal_var=False), two-sided), with Holm's
adjustment of those p-values for the several methods tested against one base
(each column of the table is one family). SciPy is the
reference the C implementation in eval/stats.c is tested against, so both give
the same figures. The run folders are never read here directly: `coinbc
report --json` reads and checks them. Only /usr/bin/python3 with Debian's
python3-scipy.
"""
import json
import math
import os
import re
import subprocess
import sys

# options compare.sh sets itself, never taken from a configuration file
RESERVED = {"out", "o", "resume", "quiet", "threads", "val", "val-levels", "train-levels", "help", "max-steps"}
SAFE = re.compile(r"^[A-Za-z0-9_.,+:=/-]+$")


def die(msg):
    print("compare_table: " + msg, file=sys.stderr)
    sys.exit(1)


def option_value(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return ",".join(option_value(x) for x in v)
    if isinstance(v, str):
        return v
    raise ValueError("unsupported value %r" % (v,))


def split_opts(text):
    """'--net nature --channels 4,4,4' -> [('net', 'nature'), ('channels', '4,4,4')]"""
    words, out, i = text.split(), [], 0
    while i < len(words):
        w = words[i]
        if not w.startswith("--") or i + 1 >= len(words) or words[i + 1].startswith("--"):
            die("--fixed: expected '--name value' pairs, got %r" % text)
        out.append((w[2:], words[i + 1]))
        i += 2
    return out


def train_args(argv):
    if not argv:
        die("train-args CONFIG.json [--fixed OPTS] [--set KEY=VALUE]...")
    path, rest = argv[0], argv[1:]
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        die("%s: %s" % (path, e))
    if not isinstance(cfg, dict):
        die("%s: not a JSON object" % path)
    opts = {}
    fixed, sets = "", []
    i = 0
    while i < len(rest):
        if rest[i] == "--fixed" and i + 1 < len(rest):
            fixed = rest[i + 1]
        elif rest[i] == "--set" and i + 1 < len(rest) and "=" in rest[i + 1]:
            sets.append(rest[i + 1].split("=", 1))
        else:
            die("unknown argument %r" % rest[i])
        i += 2
    for k, v in split_opts(fixed):
        opts[k] = v
    for k, v in cfg.items():
        k = str(k).lstrip("-").replace("_", "-")
        if k in RESERVED:
            continue
        try:
            opts[k] = option_value(v)
        except ValueError as e:
            die("%s: key %r: %s" % (path, k, e))
    for k, v in sets:
        opts[k] = v
    words = []
    for k, v in opts.items():
        if not SAFE.match(k) or not SAFE.match(v):
            die("%s: option %r = %r has characters the script does not pass on" % (path, k, v))
        words += ["--" + k, v]
    print(" ".join(words))


def report_json(coinbc, dirs):
    """the figures of run folders, through `coinbc report --json`"""
    if not dirs:
        return {}
    p = subprocess.run([coinbc, "report", "--json"] + dirs, capture_output=True, text=True)
    if p.returncode != 0:
        die("coinbc report --json: %s" % (p.stderr.strip() or "exit %d" % p.returncode))
    try:
        return {r["run"]: r for r in json.loads(p.stdout)}
    except (ValueError, KeyError, TypeError) as e:
        die("coinbc report --json: unreadable output: %s" % e)


def mean_ci(xs):
    from scipy import stats
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def welch(a, b):
    from scipy import stats
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    r = stats.ttest_ind(a, b, equal_var=False)
    return float(r.statistic), float(r.pvalue)


def holm(ps):
    """Holm-Bonferroni adjusted p-values, in the order given (NaN stays NaN
    and does not count as a test): the i-th smallest of m p-values becomes
    max over j <= i of min(1, (m - j + 1) p_(j))."""
    idx = sorted((i for i, p in enumerate(ps) if not math.isnan(p)), key=lambda i: ps[i])
    out = [float("nan")] * len(ps)
    run = 0.0
    for rank, i in enumerate(idx):
        run = max(run, min(1.0, (len(idx) - rank) * ps[i]))
        out[i] = run
    return out


def pct(m, h):
    if math.isnan(h):
        return "%.1f" % (100 * m)
    return "%.1f ± %.1f" % (100 * m, 100 * h)


def table(argv):
    if not argv:
        die("table STATE --methods M... --seeds S... [--base mean]")
    state, methods, seeds, probe_seeds, base = argv[0], [], [], ["1"], "mean"
    coinbc = os.environ.get("COINBC", "build/coinbc")
    i = 1
    while i < len(argv):
        if argv[i] == "--methods" and i + 1 < len(argv):
            methods = argv[i + 1].split()
        elif argv[i] == "--seeds" and i + 1 < len(argv):
            seeds = argv[i + 1].split()
        elif argv[i] == "--probe-seeds" and i + 1 < len(argv):
            probe_seeds = argv[i + 1].split()
        elif argv[i] == "--base" and i + 1 < len(argv):
            base = argv[i + 1]
        elif argv[i] == "--coinbc" and i + 1 < len(argv):
            coinbc = argv[i + 1]
        else:
            die("unknown argument %r" % argv[i])
        i += 2
    done = [os.path.join(state, "runs", "%s-%s" % (m, s)) for m in methods for s in seeds]
    done = [d for d in done if os.path.exists(os.path.join(d, "done"))]
    def probe_dir(m, s):
        return os.path.join(state, "probe", m if s == "1" else "%s-%s" % (m, s))
    probe = {m: [probe_dir(m, s) for s in probe_seeds] for m in methods}
    probe = {m: [d for d in ds if os.path.exists(os.path.join(d, "done"))] for m, ds in probe.items()}
    figs = report_json(coinbc, done + [d for m in methods for d in probe[m]])
    res = {}
    for m in methods:
        cols = {"train": [], "test": [], "gap": [], "roll": []}
        for s in seeds:
            d = os.path.join(state, "runs", "%s-%s" % (m, s))
            if d not in figs:
                continue
            r = figs[d]
            if None in (r["train_acc"], r["test_acc"]):
                die("%s: the summary lacks eval figures" % d)
            cols["train"].append(r["train_acc"])
            cols["test"].append(r["test_acc"])
            cols["gap"].append(r["gap"])
            if r["rollout_success"] is not None:  # none when the comparison plays no levels (COMPARE_ROLLOUT=none)
                cols["roll"].append(r["rollout_success"])
        if cols["roll"] and len(cols["roll"]) != len(cols["test"]):
            die("%s: some runs have rollout figures and some do not" % m)
        res[m] = cols
    out = []
    out.append("Final runs: each method's configuration, one run per seed; mean ± half-width of the 95%% "
               "t interval over seeds; accuracy in %%, gap in points; Welch's t-test of test accuracy and "
               "of rollout success against %s (two-sided p; in brackets the p adjusted by Holm's method for "
               "the comparisons of the column)." % base)
    out.append("")
    out.append("| method | seeds | train acc | test acc | gap | rollout success | t (test acc) | p | t (rollout) | p |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    tests = {}  # (method, column) -> (t, p), for every method with runs but the base
    for m in methods:
        if m != base and base in res and res[m]["test"]:
            for k in ("test", "roll"):
                tests[(m, k)] = welch(res[m][k], res[base][k])
    adj = {}
    for k in ("test", "roll"):
        ms = [m for m in methods if (m, k) in tests]
        for m, a in zip(ms, holm([tests[(m, k)][1] for m in ms])):
            adj[(m, k)] = a
    for m in methods:
        c = res[m]
        n = len(c["test"])
        if n == 0:
            out.append("| %s | 0 | | | | | | | | |" % m)
            continue
        row = [m, str(n)] + [pct(*mean_ci(c[k])) if c[k] else "-" for k in ("train", "test", "gap", "roll")]
        if (m, "test") in tests:
            for k in ("test", "roll"):
                t, p = tests[(m, k)]
                row += ["%.2f" % t if not math.isnan(t) else "-",
                        "%.2g [%.2g]" % (p, adj[(m, k)]) if not math.isnan(p) else "-"]
        else:
            row += ["", "", "", ""]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    for m in methods:
        o = os.path.join(state, "configs", m + ".origin")
        if os.path.exists(o):
            with open(o) as f:
                out.append("- %s: %s" % (m, f.read().strip()))
    if any(probe.values()):
        out.append("")
        out.append("Memorization probe: trained on the training data with the labels of some levels replaced by "
                   "uniform random actions (chance 1/15 = 6.7%), final weights; accuracy in % against the labels "
                   "trained on (with several seeds: mean ± half-width of the 95% t interval).")
        out.append("")
        out.append("| method | seeds | relabeled training levels | true-label training levels | test levels |")
        out.append("|---|---|---|---|---|")
        keys = ("probe_relabeled_acc", "probe_true_acc", "probe_test_acc")
        for m in methods:
            if not probe[m]:
                continue
            cols = [[] for _ in keys]
            for d in probe[m]:
                a = [figs[d][k] for k in keys]
                if None in a:
                    die("%s: the probe summary lacks relabeled.json, true.json or test.json" % d)
                for c, x in zip(cols, a):
                    c.append(x)
            out.append("| %s | %d | %s |" % (m, len(probe[m]), " | ".join(pct(*mean_ci(c)) for c in cols)))
    print("\n".join(out))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("train-args", "table"):
        die("usage: compare_table.py train-args CONFIG.json ... | table STATE ...")
    (train_args if sys.argv[1] == "train-args" else table)(sys.argv[2:])


if __name__ == "__main__":
    main()
