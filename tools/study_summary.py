#!/usr/bin/python3
"""study_summary.py - what a `coinbc tune` study's journal says about its own
progress: the figures docs/RESULTS.md gives for each piece of a long study.

    /usr/bin/python3 tools/study_summary.py JOURNAL [--since N] [--top K]
        [--region NAME=LO:HI,...] [--json]

JOURNAL is the study's Optuna journal (tune/METHOD/study.journal of a
`coinbc compare` record); it must hold one study (or name it with --study).
It prints, counting only trials that are not void (the re-run trials of a
killed process, see tools/tune.py):

- the trials by state;
- for the finished trials numbered N or more (--since, default 0): how many,
  over how many hours (first start to last finish) and so the trials per
  hour, and their mean epochs run;
- seconds per epoch by batch-frames (the trial's coinbc_seconds over its
  coinbc_epochs_run: training, validation and commits, not process start);
- the K best trials (--top, default 5) by the study's objective: a complete
  trial's value, a pruned trial's best reported epoch (the figure its best.ckpt
  holds), in the study's direction;
- with --region, the trials whose parameters all lie in the given ranges
  (for example lr=3e-3:1e-2,wd=0.02:0.1) with their rank among all finished
  trials, to say where a region of the space landed.

--json prints the same as one JSON object. Reads only; Optuna (Debian's
python3-optuna) parses the journal. Exit status 0, or 1 with one line on
stderr (a missing or unreadable journal, no study, bad options).
"""
import argparse
import collections
import json
import sys
import warnings

try:
    import optuna
    from optuna.storages import JournalStorage, JournalFileStorage
except ImportError as err:
    sys.stderr.write("study_summary.py: cannot import optuna (%s); apt-get install python3-optuna\n" % err)
    sys.exit(1)

VOID = "coinbc_void"


def fail(msg):
    sys.stderr.write("study_summary.py: %s\n" % msg)
    sys.exit(1)


def parse_region(text):
    region = {}
    for part in text.split(","):
        name, sep, rng = part.partition("=")
        lo, sep2, hi = rng.partition(":")
        try:
            lo, hi = float(lo), float(hi)
        except ValueError:
            lo = hi = None
        if not sep or not sep2 or not name or lo is None or lo > hi:
            fail("--region: '%s' is not NAME=LO:HI with LO <= HI" % part)
        region[name] = (lo, hi)
    return region


def score(t, minimize):
    """The figure a finished trial is ranked by: a complete trial's value (its
    best epoch, as tools/tune.py reports it), a pruned trial's best epoch
    (Optuna gives a pruned trial its last epoch as its value)."""
    if t.state.name == "COMPLETE" and t.value is not None:
        return t.value
    vals = list(t.intermediate_values.values())
    if not vals:
        return t.value
    return min(vals) if minimize else max(vals)


def summarize(trials, minimize, since, top, region):
    out = {"states": dict(collections.Counter(t.state.name for t in trials))}
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and t.datetime_complete]
    win = [t for t in done if t.number >= since]
    rate = {"since": since, "trials": len(win)}
    if win:
        t0 = min(t.datetime_start for t in win)
        t1 = max(t.datetime_complete for t in win)
        hours = (t1 - t0).total_seconds() / 3600
        rate.update(first_start=t0.isoformat(timespec="seconds"), last_finish=t1.isoformat(timespec="seconds"),
                    hours=round(hours, 3), per_hour=round(len(win) / hours, 2) if hours > 0 else None,
                    mean_epochs=round(sum(t.user_attrs.get("coinbc_epochs_run", 0) for t in win) / len(win), 2))
    out["window"] = rate
    by_bf = collections.defaultdict(lambda: [0.0, 0])
    for t in win:
        s, e = t.user_attrs.get("coinbc_seconds"), t.user_attrs.get("coinbc_epochs_run")
        if s and e:
            by_bf[str(t.params.get("batch-frames", "-"))][0] += s
            by_bf[str(t.params.get("batch-frames", "-"))][1] += e
    out["seconds_per_epoch"] = {k: {"seconds": round(v[0] / v[1], 2), "epochs": v[1]}
                                for k, v in sorted(by_bf.items(), key=lambda kv: kv[0])}
    ranked = [t for t in done if score(t, minimize) is not None]
    ranked.sort(key=lambda t: (score(t, minimize) if minimize else -score(t, minimize), t.number))
    rank = {t.number: i + 1 for i, t in enumerate(ranked)}

    def row(t):
        return {"trial": t.number, "rank": rank.get(t.number), "state": t.state.name,
                "score": score(t, minimize), "epochs": len(t.intermediate_values), "params": t.params}

    out["best"] = [row(t) for t in ranked[:top]]
    if region:
        inside = [t for t in done if all(k in t.params and lo <= t.params[k] <= hi for k, (lo, hi) in region.items())]
        out["region"] = {"ranges": region, "finished": len(ranked), "trials": [row(t) for t in inside]}
    return out


def fmt_params(p):
    return " ".join("%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v) for k, v in p.items())


def print_text(s):
    print("states: " + (", ".join("%s %d" % kv for kv in sorted(s["states"].items())) or "no trials"))
    w = s["window"]
    if w["trials"]:
        print("finished trials numbered %d or more: %d in %.2f h (%s to %s), %s trials/h, %.2f epochs each"
              % (w["since"], w["trials"], w["hours"], w["first_start"], w["last_finish"],
                 w["per_hour"] if w["per_hour"] is not None else "-", w["mean_epochs"]))
    else:
        print("finished trials numbered %d or more: none" % w["since"])
    for bf, v in s["seconds_per_epoch"].items():
        print("batch-frames %s: %.2f s/epoch over %d epochs" % (bf, v["seconds"], v["epochs"]))
    for r in s["best"]:
        print("rank %d: trial %d %s %.6g at %d epochs: %s"
              % (r["rank"], r["trial"], r["state"], r["score"], r["epochs"], fmt_params(r["params"])))
    if "region" in s:
        g = s["region"]
        print("region %s: %d of %d finished trials"
              % (",".join("%s=%g:%g" % (k, lo, hi) for k, (lo, hi) in g["ranges"].items()),
                 len(g["trials"]), g["finished"]))
        for r in g["trials"]:
            print("  rank %s: trial %d %s %s at %d epochs: %s"
                  % (r["rank"], r["trial"], r["state"], "%.6g" % r["score"] if r["score"] is not None else "-",
                     r["epochs"], fmt_params(r["params"])))


def main():
    ap = argparse.ArgumentParser(description="Progress and best trials of a coinbc tune study's journal.")
    ap.add_argument("journal")
    ap.add_argument("--study", help="the study's name (default: the journal's only study)")
    ap.add_argument("--since", type=int, default=0, help="the rate over finished trials numbered N or more")
    ap.add_argument("--top", type=int, default=5, help="how many best trials to list (default 5)")
    ap.add_argument("--region", type=parse_region, default=None, help="NAME=LO:HI,... trials inside these ranges")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    a = ap.parse_args()
    if a.top < 0 or a.since < 0:
        fail("--top and --since must be 0 or more")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        with open(a.journal, "rb"):
            pass
        storage = JournalStorage(JournalFileStorage(a.journal))
        names = [s.study_name for s in storage.get_all_studies()]
    except Exception as err:  # Optuna raises several kinds for a damaged journal
        fail("%s: not a readable Optuna journal (%s)" % (a.journal, err))
    name = a.study
    if name is None:
        if len(names) != 1:
            fail("%s holds %d studies (%s); name one with --study" % (a.journal, len(names), ", ".join(names)))
        name = names[0]
    elif name not in names:
        fail("%s has no study %s (it has: %s)" % (a.journal, name, ", ".join(names) or "none"))
    study = optuna.load_study(study_name=name, storage=storage)
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    trials = [t for t in study.get_trials(deepcopy=False) if VOID not in t.user_attrs]
    s = summarize(trials, minimize, a.since, a.top, a.region)
    s["study"], s["direction"] = name, "minimize" if minimize else "maximize"
    if a.json:
        print(json.dumps(s, sort_keys=True))
    else:
        print("study %s (%s), %s" % (name, s["direction"], a.journal))
        print_text(s)


if __name__ == "__main__":
    main()
