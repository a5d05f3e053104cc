#!/usr/bin/python3
"""runs_diff.py A B - do two `coinbc compare` record folders hold the same
final runs? For every run folder in both A/runs and B/runs, compares the
figures of eval.json and rollout.json (every number but the paths) and the
training curve of metrics.csv (without its seconds column), and prints one
line per run: identical, or the figures that differ with both values.
Ends with a per-method table of the mean test accuracy, rollout success and
gap over the runs of each folder. Exit status 0 when every common run is
identical, 1 otherwise, 2 on bad arguments.

  /usr/bin/python3 tools/runs_diff.py docs/results/compare/hard docs/results/compare/hard-appearance
"""
import csv
import json
import os
import sys

IGNORED = {"checkpoint", "data"}  # paths: they name the machine, not the result
FIGURES = ("test_acc", "test_loss", "train_acc", "gap", "success", "death_rate", "timeout_rate")


def numbers(path):
    with open(path) as f:
        doc = json.load(f)
    return {k: v for k, v in doc.items() if k not in IGNORED}


def curve(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("seconds") if "seconds" in rows[0] else None
    return [[c for i, c in enumerate(r) if i != drop] for r in rows]


def run_figures(folder):
    out = {}
    for name in ("eval.json", "rollout.json"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            out[name] = numbers(p)
    p = os.path.join(folder, "metrics.csv")
    if os.path.exists(p):
        out["metrics.csv"] = curve(p)
    return out


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    a, b = (os.path.join(d, "runs") for d in argv[1:])
    for d in (a, b):
        if not os.path.isdir(d):
            sys.stderr.write("%s: no runs folder\n" % d)
            return 2
    common = sorted(set(os.listdir(a)) & set(os.listdir(b)))
    same = True
    per_method = {}
    for run in common:
        fa, fb = run_figures(os.path.join(a, run)), run_figures(os.path.join(b, run))
        diffs = []
        for name in sorted(set(fa) | set(fb)):
            if name not in fa or name not in fb:
                diffs.append("%s only in %s" % (name, argv[1] if name in fa else argv[2]))
            elif name == "metrics.csv":
                if fa[name] != fb[name]:
                    diffs.append("metrics.csv differs")
            else:
                other = 0
                for k in sorted(set(fa[name]) | set(fb[name])):
                    if fa[name].get(k) != fb[name].get(k) and k in FIGURES:
                        diffs.append("%s %.4g / %.4g" % (k, fa[name].get(k), fb[name].get(k)))
                    elif fa[name].get(k) != fb[name].get(k):
                        other += 1
                if other:
                    diffs.append("%d more keys of %s" % (other, name))
        print("%-12s %s" % (run, "identical" if not diffs else "; ".join(diffs)))
        same = same and not diffs
        method = run.rsplit("-", 1)[0]
        for side, f in (("a", fa), ("b", fb)):
            ev, ro = f.get("eval.json", {}), f.get("rollout.json", {})
            per_method.setdefault((method, side), []).append((ev.get("test_acc"), ro.get("success"), ev.get("gap")))
    print("\n| method | runs | test acc (%s) | test acc (%s) | rollout (%s) | rollout (%s) | gap (%s) | gap (%s) |" %
          (argv[1], argv[2], argv[1], argv[2], argv[1], argv[2]))
    print("|---|---|---|---|---|---|---|---|")

    def mean(rows, i):
        v = [r[i] for r in rows if r[i] is not None]
        return "%.2f" % (100 * sum(v) / len(v)) if v else "-"
    for method in sorted({m for m, _ in per_method}):
        ra, rb = per_method[(method, "a")], per_method[(method, "b")]
        print("| %s | %d | %s | %s | %s | %s | %s | %s |" % (method, len(ra), mean(ra, 0), mean(rb, 0), mean(ra, 1),
                                                            mean(rb, 1), mean(ra, 2), mean(rb, 2)))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
