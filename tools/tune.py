#!/usr/bin/python3
"""tune.py - the driver behind `coinbc tune` (docs/TUNE.md): Optuna's seeded TPE
sampler, a successive-halving pruner on per-epoch validation accuracy and its
storage, with one `coinbc train` process per trial.

Run by coinbc (never by hand): `tune.py SPEC.json` runs the study described by
the spec (written by `coinbc tune`, format in docs/FORMATS.md) and prints the
study's trials as one JSON object on stdout; `tune.py --check -` validates a
spec read from stdin and connects to its storage, writing nothing locally;
`tune.py --retrain N [--keep] [--tolerance R] SPEC.json` trains finished
trial N again into its folder and checks that it gives the figures the
study recorded (exactly, or within R relative; with --keep, a trial further
apart is kept and said to be), printing one JSON line.
Progress goes to stderr. Exit status: 0 done, 1 failure (one line on stderr),
3 python3-optuna is missing, 4 the spec or the storage failed before anything
was written (one line). Never a traceback.

Counting (so that N trials finish exactly, across crashes and processes): a
trial counts when it is COMPLETE, PRUNED, FAIL, RUNNING or WAITING and is not
void. Void trials (user attribute coinbc_void) are RUNNING trials whose owner
died (their parameters are enqueued again as a WAITING trial, so they are
re-run) and surplus trials asked for by a process that lost the race for the
last slot. A trial is surplus when N counting trials have lower numbers. A
WAITING trial is always run (it counts, so "fewer than N count" alone would
leave the re-queued Nth trial to nobody), and a driver ends only when N
counting trials have finished: until then it waits for other processes'
trials and takes over those whose owner dies (owner_state).
"""
import datetime
import errno
import json
import math
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings

import fcntl

try:
    import optuna
except ImportError as err:  # reported by coinbc as "python3-optuna is missing"
    sys.stderr.write("tune.py: cannot import optuna (%s)\n" % err)
    sys.exit(3)
from optuna.storages import JournalStorage, JournalFileStorage, RDBStorage
from optuna.trial import TrialState
# the journal's lock interface (public in later Optuna releases, private in 3.1)
try:
    from optuna.storages import BaseJournalFileLock as JournalFileBaseLock
except ImportError:
    from optuna.storages._journal.file import JournalFileBaseLock

SPEC_VERSION = 1
RESULT_VERSION = 1
DESCRIBE_FORMAT = "coinbc-train-describe"
# the study's figure (tune --objective): "val_acc" is maximized, "val_loss" minimized; pruning judges the same
OBJECTIVES = {"val_acc": "maximize", "val_loss": "minimize"}
VOID = "coinbc_void"
EXIT_NOTHING_DONE = 4  # the spec or the storage failed before anything was written (coinbc tune removes its tune.json)


class SpecError(Exception):
    pass


def log(msg):
    sys.stderr.write("tune: %s\n" % msg)
    sys.stderr.flush()


_described = {}


def describe(coinbc):
    """The methods and train's option schema as `coinbc train --describe`
    prints them (run/describe.c, docs/FORMATS.md): {"methods": {name: entry},
    "options": {name: entry}}. The driver holds no list of its own."""
    if coinbc in _described:
        return _described[coinbc]
    try:
        out = subprocess.run([coinbc, "train", "--describe"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60, check=False)
        d = json.loads(out.stdout.decode("utf-8")) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        raise SpecError("cannot read the methods and options of %s (train --describe): %s" % (coinbc, one_line(err)))
    if not isinstance(d, dict) or d.get("format") != DESCRIBE_FORMAT or d.get("version") != 1:
        raise SpecError("%s train --describe did not print the methods and options (status %d): is 'coinbc' in the "
                        "spec a coinbc?" % (coinbc, out.returncode))
    desc = {"methods": {m["name"]: m for m in d["methods"]}, "options": {o["name"]: o for o in d["options"]}}
    _described[coinbc] = desc
    return desc


def check_value(opt, v):
    """v against one option of the schema (its type, range or words)."""
    name = opt["name"]
    if opt["type"] == "word":
        if v not in opt["words"]:
            raise SpecError("%s: %r is not one of %s" % (name, v, ", ".join(opt["words"])))
        return
    if opt["count"] != 1:  # channels: "A,B,C"
        parts = v.split(",") if isinstance(v, str) else []
        if len(parts) != opt["count"] or not all(p.strip().lstrip("-").isdigit() for p in parts):
            raise SpecError("%s: %r is not %d integers A,B,C" % (name, v, opt["count"]))
        for p in parts:
            check_value(dict(opt, count=1), int(p))
        return
    integer = opt["type"] == "int"
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise SpecError("%s: %r is not %s" % (name, v, "an integer" if integer else "a number"))
    lo, hi = opt["min"], opt["max"]
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if opt.get("min_open") else v >= lo
    if ok and hi is not None:
        ok = v < hi if opt.get("max_open") else v <= hi
    if not ok:
        raise SpecError("%s: %r is outside its allowed values" % (name, v))


def check_space(method, space, desc):
    """The rules of run/tune.c on the schema coinbc describes: raises SpecError naming the parameter."""
    if method not in desc["methods"]:
        raise SpecError("unknown method '%s'" % method)
    if not space:
        raise SpecError("the space is empty")
    seen = set()
    for p in space:
        name = p.get("name")
        opt = desc["options"].get(name) if isinstance(name, str) else None
        if opt is None or opt["tune"] != "search":
            raise SpecError("unknown parameter '%s'" % name)
        if name in seen:
            raise SpecError("%s: given twice" % name)
        seen.add(name)
        if method not in opt["methods"]:
            raise SpecError("%s does not apply to method %s" % (name, method))
        kinds = [k for k in ("log", "uniform", "int", "choice") if k in p]
        if len(kinds) != 1:
            raise SpecError("%s: give exactly one of log, uniform, int, choice" % name)
        k = kinds[0]
        if k == "choice":
            vals = p["choice"]
            if not isinstance(vals, list) or not vals:
                raise SpecError("%s: empty choice" % name)
            for v in vals:
                check_value(opt, v)
        else:
            r = p[k]
            if not isinstance(r, list) or len(r) != 2:
                raise SpecError("%s: %s wants [low, high]" % (name, k))
            if opt["type"] not in ("int", "real") or opt["count"] != 1 or (k == "int") != (opt["type"] == "int"):
                raise SpecError("%s: a %s range does not fit this parameter" % (name, k))
            for v in r:
                check_value(opt, v)
            if not r[0] < r[1]:
                raise SpecError("%s: empty range [%r, %r]" % (name, r[0], r[1]))
            if k == "log" and r[0] <= 0:
                raise SpecError("%s: log range [%r, %r] is not positive" % (name, r[0], r[1]))
        if p.get("or_zero") and (k not in ("log", "uniform")):
            raise SpecError("%s: or_zero needs a log or uniform range" % name)


STUDY_NAME_MAX = 64


def check_study_name(name):
    """The rule of run/tune.c (run_tune_study_name_check): 1 to 64 of
    A-Z a-z 0-9 . _ -, starting with a letter or a digit."""
    ok = (isinstance(name, str) and 0 < len(name) <= STUDY_NAME_MAX and name.isascii() and name[0].isalnum() and
          all(c.isalnum() or c in "._-" for c in name))
    if not ok:
        raise SpecError("%r is not a study name: give 1 to %d of the characters A-Z a-z 0-9 . _ -, starting with a "
                        "letter or a digit" % (name, STUDY_NAME_MAX))


def read_spec(path):
    try:
        text = sys.stdin.read() if path == "-" else open(path).read()
        spec = json.loads(text)
    except (OSError, ValueError) as err:
        raise SpecError("%s: %s" % (path, err))
    if not isinstance(spec, dict):
        raise SpecError("%s: not a JSON object" % path)
    if spec.get("version") != SPEC_VERSION:
        raise SpecError("%s: spec version %r, this driver reads %d" % (path, spec.get("version"), SPEC_VERSION))
    types = {"coinbc": str, "train": str, "val": str, "method": str, "trials": int, "epochs": int, "jobs": int,
             "threads": int, "seed": int, "prune": bool, "storage": str, "study": str, "dir": str, "fixed": list,
             "space": list}
    for key, kind in types.items():
        if key not in spec:
            raise SpecError("%s: no '%s'" % (path, key))
        if not isinstance(spec[key], kind) or (kind is int and isinstance(spec[key], bool)):
            raise SpecError("%s: '%s' is not %s" % (path, key, {str: "a string", int: "an integer", bool: "true or false",
                                                             list: "a list"}[kind]))
    if spec["trials"] <= 0 or spec["epochs"] <= 0 or spec["jobs"] <= 0 or spec["threads"] <= 0 or spec["seed"] < 0:
        raise SpecError("%s: trials, epochs, jobs and threads must be > 0, seed >= 0" % path)
    spec.setdefault("objective", "val_acc")  # a tune.json written before --objective
    if spec["objective"] not in OBJECTIVES:
        raise SpecError("%s: 'objective' is %r, not val_acc or val_loss" % (path, spec["objective"]))
    if not all(isinstance(w, str) for w in spec["fixed"]):
        raise SpecError("%s: 'fixed' holds a word that is not a string" % path)
    if not all(isinstance(p, dict) for p in spec["space"]):
        raise SpecError("%s: 'space' holds an entry that is not an object" % path)
    try:
        check_study_name(spec["study"])
        check_space(spec["method"], spec["space"], describe(spec["coinbc"]))
    except SpecError as err:
        raise SpecError("%s: %s" % (path, err))
    return spec


class FlockLock(JournalFileBaseLock):
    """A journal lock the kernel releases when its holder dies (flock), so a
    kill -9 during a write never leaves a lock behind (Optuna 3.1's own locks
    are files that stay)."""

    def __init__(self, path):
        self._path = path
        self._fd = None

    def acquire(self):
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        return True

    def release(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def check_journal_place(url, path):
    """--check of a journal file: it (or the folder it would be made in) can be
    written, tried by making and removing a temporary folder there; leaves
    nothing behind."""
    if os.path.isdir(path):
        raise SpecError("storage %s: %s is a folder, not a journal file" % (url, path))
    if os.path.lexists(path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NONBLOCK)
            ok = stat.S_ISREG(os.fstat(fd).st_mode)
            os.close(fd)
        except OSError as err:
            raise SpecError("storage %s: cannot write %s: %s" % (url, path, err.strerror))
        if not ok:
            raise SpecError("storage %s: %s is not a regular file" % (url, path))
    folder = os.path.dirname(path)
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise SpecError("storage %s: cannot write in %s (not a folder)" % (url, folder))
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".coinbc-check-", dir=folder))
    except OSError as err:
        raise SpecError("storage %s: cannot write in %s (%s)" % (url, folder, err.strerror or err))


def open_storage(url, check, base):
    """journal:PATH -> a journal file with a flock lock (a relative PATH is
    inside the tune folder `base`); anything else is an RDB URL
    (sqlite:///..., postgresql://..., mysql://...). Every error is a SpecError
    of one line naming the storage."""
    if url.startswith("journal:"):
        name = url[len("journal:"):]
        if not name or name.endswith("/"):
            raise SpecError("storage %s: give the journal's file name, journal:PATH" % url)
        path = os.path.abspath(os.path.join(base, name))
        check_journal_place(url, path)  # the folder may not exist yet (the default storage is in DIR)
        if check:
            return None
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
            storage = JournalStorage(JournalFileStorage(path, lock_obj=FlockLock(path + ".flock")))
            take_owner_lock(owner_lock_dir(path))
        except OSError as err:
            raise SpecError("storage %s: cannot open %s: %s" % (url, err.filename or path, err.strerror or err))
        return storage
    try:
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None)
    except Exception as err:  # any driver or connection error: the storage is unreachable
        raise SpecError("storage %s is unreachable: %s" % (url, str(err).splitlines()[0] if str(err) else type(err).__name__))


# ---- owners: which process runs a trial -------------------------------------
#
# Every trial names its owner (the driver process that runs it) in the user
# attribute coinbc_owner. Whether an owner is gone is judged, in this order:
# 1. With journal storage, by a lock: every driver holds flock(2) on
#    JOURNAL.owners/ID.lock for its whole life (ID: random, one per process).
#    The kernel drops the lock when the process dies, so a free lock (or a
#    missing file) means gone, and a held one means alive, whatever pid the
#    process had, in any pid namespace or container that shares the file.
# 2. Otherwise (an RDB storage, or a trial of a driver without the lock), by
#    host name, boot id, pid namespace, pid and the pid's start time: another
#    boot means gone; another host or pid namespace cannot be judged here
#    (the trial is left alone); a pid whose start time differs was reused by
#    another process, so the owner is gone.

def boot_id():
    try:
        return open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        return ""


def pid_ns():
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def proc_start(pid):
    """The start time of a live process (None for none, or a zombie: a dead
    driver whose parent, e.g. a container's init, has not reaped it yet)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except (OSError, IndexError, ValueError):
        return None


OWNER = {"host": socket.gethostname(), "boot": boot_id(), "pidns": pid_ns(), "pid": os.getpid(),
         "start": proc_start(os.getpid()), "id": uuid.uuid4().hex}
LOCKS = {"dir": None, "fd": None}  # the owner lock folder (journal storage) and our lock on it


def owner_lock_dir(journal_path):
    return journal_path + ".owners"


def take_owner_lock(folder):
    """Holds JOURNAL.owners/ID.lock for the life of this process (the
    descriptor is not inherited by train processes)."""
    if LOCKS["fd"] is not None:
        return
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, OWNER["id"] + ".lock")
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # a driver sweeping the folder may have found the new file not yet
        # locked and removed it: then the lock is on a file nobody sees
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise OSError(errno.EAGAIN, "the owner lock file keeps being removed", path)
    os.write(fd, ("%s pid %d\n" % (OWNER["host"], OWNER["pid"])).encode())
    LOCKS["dir"], LOCKS["fd"] = folder, fd
    OWNER["lock"] = True


def drop_owner_lock():
    if LOCKS["fd"] is not None:
        try:
            os.unlink(os.path.join(LOCKS["dir"], OWNER["id"] + ".lock"))
        except OSError:
            pass
        os.close(LOCKS["fd"])
        LOCKS["fd"] = None


def lock_free(path):
    """True when nobody holds the owner lock at path (its file is then
    removed), False when a live process holds it, None when it cannot be told."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # its owner removed it at a normal end, or a checker found it free
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except OSError:
        os.close(fd)
        return None
    try:
        os.unlink(path)
    except OSError:
        pass
    os.close(fd)
    return True


def sweep_owner_locks():
    """Removes the lock files of drivers that died (kill -9 leaves them)."""
    folder = LOCKS["dir"]
    try:
        names = os.listdir(folder) if folder else []
    except OSError:
        return
    for name in names:
        if name.endswith(".lock") and name != OWNER["id"] + ".lock":
            lock_free(os.path.join(folder, name))


def owner_state(o):
    """'alive', 'gone' or 'unknown' (cannot be judged from this process)."""
    if not isinstance(o, dict):
        return "unknown"
    if o.get("id") == OWNER["id"]:
        return "alive"
    if o.get("lock") and LOCKS["dir"] and isinstance(o.get("id"), str) and o["id"].isalnum():
        free = lock_free(os.path.join(LOCKS["dir"], o["id"] + ".lock"))
        if free is not None:
            return "gone" if free else "alive"
    if o.get("host") != OWNER["host"]:
        return "unknown"  # another machine's trial: only that machine can tell
    if o.get("boot") != OWNER["boot"]:
        return "gone"
    if o.get("pidns", OWNER["pidns"]) != OWNER["pidns"]:
        return "unknown"  # another pid namespace (a container): its pids mean nothing here
    return "alive" if proc_start(o.get("pid")) == o.get("start") else "gone"


def owner_gone(attrs):
    return owner_state(attrs.get("coinbc_owner")) == "gone"


def describe_owner(o):
    if not isinstance(o, dict):
        return "an unnamed tune process"
    return "tune process %s on host %s" % (o.get("pid", "?"), o.get("host", "?"))


def counts(t):
    return VOID not in t.user_attrs and t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL,
                                                     TrialState.RUNNING, TrialState.WAITING)


def void_trial(study, trial_id, why):
    """Marks a trial void and failed; False when someone else finished it first."""
    st = study._storage
    try:
        st.set_trial_user_attr(trial_id, VOID, why)
        st.set_trial_state_values(trial_id, TrialState.FAIL)
        return True
    except Exception:
        return False


WAIT_POLL = 1.0  # seconds between looks at the storage while other processes' trials run
ORPHAN_AGE = 10.0  # seconds: a RUNNING trial without an owner is older than ask -> set_user_attr can take


def fail_stale(study):
    """Voids the RUNNING trials whose owner is gone and queues their
    parameters again (a WAITING trial, which the next ask runs). Returns how
    many it voided."""
    voided = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if VOID in t.user_attrs:
            continue
        if "coinbc_owner" not in t.user_attrs:
            # its process died between ask and naming itself the owner; or a
            # live process is in that moment now: wait until it cannot be
            age = (datetime.datetime.now() - t.datetime_start).total_seconds() if t.datetime_start else ORPHAN_AGE
            if age < ORPHAN_AGE:
                time.sleep(ORPHAN_AGE - age)
            t = study._storage.get_trial(t._trial_id)
            if t.state != TrialState.RUNNING or "coinbc_owner" in t.user_attrs:
                continue
        elif not owner_gone(t.user_attrs):
            continue
        if void_trial(study, t._trial_id, "interrupted"):
            study.enqueue_trial(t.params, user_attrs={"coinbc_rerun_of": t.number})
            voided += 1
            log("trial %d was running when its tune process died: marked failed (void) and queued again" % t.number)
    return voided


# ---- one trial ---------------------------------------------------------------

def suggest(trial, space):
    """Optuna parameters -> coinbc train options (name -> value)."""
    opts = {}
    for p in space:
        name = p["name"]
        if p.get("or_zero") and not trial.suggest_categorical(name + ":on", [False, True]):
            opts[name] = 0.0
        elif "log" in p:
            opts[name] = trial.suggest_float(name, p["log"][0], p["log"][1], log=True)
        elif "uniform" in p:
            opts[name] = trial.suggest_float(name, p["uniform"][0], p["uniform"][1])
        elif "int" in p:
            opts[name] = trial.suggest_int(name, p["int"][0], p["int"][1])
        else:
            opts[name] = trial.suggest_categorical(name, p["choice"])
    return opts


def fmt(v):
    return repr(v) if isinstance(v, float) else str(v)


def read_epochs(coinbc, run, seen, objective="val_acc"):
    """Per-epoch validation accuracy (or loss: objective) of a run folder (NaN for an epoch
    without validation), read through `coinbc report RUN --json`: run/ is the
    only reader of a run folder's files. coinbc report runs again only when
    metrics.jsonl has changed; `seen` keeps the last good answer. Train
    commits an epoch's files one rename at a time, so a look between two
    renames finds the folder inconsistent: then the last good answer is
    returned, seen["error"] says why, and the next call tries again. A
    folder still refused once train has ended is the trial's error."""
    try:
        st = os.stat(os.path.join(run, "metrics.jsonl"))
    except OSError:
        return seen.get("accs", [])
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    if seen.get("key") != key or "error" in seen:
        out = subprocess.run([coinbc, "report", run, "--json"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True)
        try:
            if out.returncode != 0:
                raise ValueError(out.stderr.strip() or "exit status %d" % out.returncode)
            rows = json.loads(out.stdout)[0]["epochs"]
            accs = [float("nan") if r[objective] is None else float(r[objective]) for r in rows]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            seen["error"] = "coinbc report %s --json: %s" % (run, err)
            return seen.get("accs", [])
        seen.pop("error", None)
        seen["accs"] = accs
        seen["key"] = key
    return seen["accs"]


def trial_argv(spec, opts, run):
    """The coinbc train command of a trial with options `opts` into `run`."""
    argv = [spec["coinbc"], "train", spec["train"], "--val", spec["val"], "--method", spec["method"]]
    argv += spec["fixed"]
    for k, v in opts.items():
        argv += ["--" + k, fmt(v)]
    return argv + ["--epochs", str(spec["epochs"]), "--threads", str(spec["threads"]), "-o", run]


def move_aside(run):
    """A trial folder in the way: renamed to RUN.old-STAMP (and its log), never deleted."""
    stamp = int(time.time())
    os.rename(run, "%s.old-%d" % (run, stamp))
    if os.path.exists(run + ".log"):
        os.rename(run + ".log", "%s.old-%d.log" % (run, stamp))


def retrain(spec, study, number, tolerance=0.0, keep=False):
    """Train finished trial `number` of the study again into its folder (for
    its best.ckpt, which only the machine that ran the study kept): the same
    command, stopped after its best epoch (best_epoch; --max-steps, found
    from the first step's config.json, then --resume), and refused unless
    its per-epoch figures are those the study recorded: exactly, or each within
    `tolerance` of it relative to its size (a trial the study ran on another
    kind of CPU, whose OpenBLAS kernels round differently, cannot come back
    bit for bit). With `keep`, a trial that comes back further apart (over
    as many epochs) is kept too, and its line says by how much: the caller
    reports it as trained here rather than as the study's. Prints one JSON
    line on stdout: the trial, whether it came back exactly, and the largest
    relative difference. Returns an exit status."""
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found or VOID in found[0].user_attrs or found[0].state not in (TrialState.COMPLETE, TrialState.PRUNED):
        sys.stderr.write("study %s: trial %d is not a finished trial (COMPLETE or PRUNED) of it\n" %
                         (spec["study"], number))
        return 1
    t = found[0]
    opts, epochs_run = t.user_attrs.get("coinbc_options"), t.user_attrs.get("coinbc_epochs_run", 0)
    if not isinstance(opts, dict) or not isinstance(epochs_run, int) or not 1 <= epochs_run <= spec["epochs"]:
        sys.stderr.write("study %s: trial %d has no recorded options or epochs (a study of another driver?)\n" %
                         (spec["study"], number))
        return 1
    run = os.path.join(spec["dir"], "trials", "%04d" % number)
    if os.path.exists(os.path.join(run, "best.ckpt")):
        log("trial %d: %s/best.ckpt is there already" % (number, run))
        print(json.dumps({"trial": number, "exact": None, "max_rel_diff": None, "tolerance": tolerance}))
        return 0
    os.makedirs(os.path.join(spec["dir"], "trials"), exist_ok=True)
    if os.path.exists(run):
        move_aside(run)
    argv = trial_argv(spec, opts, run)
    want = [v for _, v in sorted(t.intermediate_values.items())]
    best = best_epoch(argv, want, spec["objective"])
    stop = best or epochs_run
    log("trial %d: training it again (%d of %d epochs%s): %s" % (
        number, stop, spec["epochs"],
        ", its best by %s of the %d it ran" % (spec["objective"], epochs_run) if best and best < epochs_run else "",
        " ".join("%s=%s" % (k, fmt(v)) for k, v in opts.items())))
    with open(run + ".log", "ab") as logf:
        def train(extra):
            return subprocess.run(argv[:-2] + extra + argv[-2:], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                  preexec_fn=set_pdeathsig).returncode
        if stop < spec["epochs"]:
            rc = train(["--max-steps", "1"])
            if rc == 0:
                try:
                    with open(os.path.join(run, "config.json")) as f:
                        per_epoch = int(json.load(f)["steps_per_epoch"])
                except (OSError, ValueError, KeyError, TypeError) as err:
                    sys.stderr.write("%s/config.json: no steps_per_epoch (%s)\n" % (run, one_line(err)))
                    return 1
                rc = subprocess.run([spec["coinbc"], "train", "--resume", "--max-steps", str(per_epoch * stop),
                                     "--threads", str(spec["threads"]), "-o", run], stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=logf, preexec_fn=set_pdeathsig).returncode
        else:
            rc = train([])
    if rc != 0:
        sys.stderr.write("trial %d: coinbc train failed again (status %d; its log: %s.log)\n" % (number, rc, run))
        return 1
    got = [a for a in read_epochs(spec["coinbc"], run, {}, spec["objective"]) if not math.isnan(a)]
    want = want[:stop]
    rel = max((abs(g - w) / abs(w) if w else abs(g - w) for g, w in zip(got, want)), default=0.0)
    if got != want and len(got) == len(want) and rel <= tolerance:
        log("trial %d: trained again in %s, its %d epochs' %s within %.3g of the study's (at most %.3g apart, "
            "relative): not bit for bit (another kind of CPU?)" % (number, run, len(got), spec["objective"], tolerance,
                                                                   rel))
        print(json.dumps({"trial": number, "exact": False, "max_rel_diff": rel, "tolerance": tolerance}))
        return 0
    if got != want and len(got) == len(want) and keep:
        log("trial %d: trained again in %s, its %d epochs' %s up to %.3g apart from the study's (relative), beyond "
            "the tolerance %.3g: kept (--retrain-keep) as a network trained here, not the study's" %
            (number, run, len(got), spec["objective"], rel, tolerance))
        print(json.dumps({"trial": number, "exact": False, "max_rel_diff": rel, "tolerance": tolerance}))
        return 0
    if got != want:
        sys.stderr.write("trial %d: trained again it gives %s %s per epoch, but the study recorded %s: the training "
                         "is not the one the study ran (another coinbc build, other data, or another kind of CPU, whose "
                         "OpenBLAS kernels round differently); %s is left for a look\n" %
                         (number, spec["objective"], got, want, run))
        return 1
    log("trial %d: trained again in %s, the %d epochs' %s as recorded" % (number, run, len(got), spec["objective"]))
    print(json.dumps({"trial": number, "exact": True, "max_rel_diff": 0.0, "tolerance": tolerance}))
    return 0


def best_epoch(argv, values, objective):
    """The epoch (1-based) whose checkpoint a trial's best.ckpt holds, from
    the study's per-epoch figures, when train's --best-by (the last one in
    argv; acc when none) judges the objective's figure: train keeps the
    earlier epoch of a tie, so the first best. None when it judges another
    figure or a figure is not a number: then only the whole run is known to
    give the same best.ckpt."""
    by = "acc"
    for i, a in enumerate(argv):
        if a == "--best-by" and i + 1 < len(argv):
            by = argv[i + 1]
        elif a.startswith("--best-by="):
            by = a.split("=", 1)[1]
    if {"acc": "val_acc", "loss": "val_loss"}.get(by) != objective or not values or any(math.isnan(v) for v in values):
        return None
    top = min(values) if OBJECTIVES[objective] == "minimize" else max(values)
    return values.index(top) + 1


def set_pdeathsig():
    """The train process dies with the driver thread that started it (so a
    kill -9 of tune leaves no orphan training)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Driver:
    def __init__(self, spec, study):
        self.spec = spec
        self.study = study
        self.lock = threading.Lock()
        self.stop = False
        self.failed = None
        self.waiting_for = ()
        self.minimize = OBJECTIVES[spec["objective"]] == "minimize"

    def best_of(self, values):
        return min(values) if self.minimize else max(values)

    def next_trial(self):
        """The next trial to run: a WAITING one (re-queued parameters) or a new
        one while fewer than N trials count; None when there is nothing to
        run now. A WAITING trial always counts, so it must be run even when
        it is the Nth: it is popped by ask before any new trial is made. When
        N trials count, RUNNING trials whose owner is gone are voided and
        queued again first, so that they too are run here."""
        n = self.spec["trials"]
        with self.lock:
            for _ in range(3):
                if self.stop:
                    return None
                trials = self.study.get_trials(deepcopy=False)
                waiting = any(t.state == TrialState.WAITING and VOID not in t.user_attrs for t in trials)
                if waiting or sum(1 for t in trials if counts(t)) < n:
                    break
                if not fail_stale(self.study):
                    return None
            else:
                return None
            trial = self.study.ask()
            trial.set_user_attr("coinbc_owner", OWNER)
            before = sum(1 for t in self.study.get_trials(deepcopy=False) if t.number < trial.number and counts(t))
            if before >= n:
                void_trial(self.study, trial._trial_id, "surplus")
                return None
            return trial

    def finished(self):
        return sum(1 for t in self.study.get_trials(deepcopy=False) if counts(t) and t.state.is_finished())

    def others_running(self):
        """The counting RUNNING trials that another tune process runs."""
        def mine(t):
            o = t.user_attrs.get("coinbc_owner")
            return isinstance(o, dict) and o.get("id") == OWNER["id"]
        return [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if VOID not in t.user_attrs and not mine(t)]

    def run_trial(self, trial):
        spec = self.spec
        opts = suggest(trial, spec["space"])
        run = os.path.join(spec["dir"], "trials", "%04d" % trial.number)
        trial.set_user_attr("coinbc_options", opts)
        trial.set_user_attr("coinbc_run", run)
        argv = trial_argv(spec, opts, run)
        if os.path.exists(run):  # left from a study that was deleted from its storage: keep it, out of the way
            move_aside(run)
        log("trial %d: %s" % (trial.number, " ".join("%s=%s" % (k, fmt(v)) for k, v in opts.items())))
        t0 = time.monotonic()
        with open(run + ".log", "ab") as logf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                    preexec_fn=set_pdeathsig)
        seen = {}
        reported = 0
        pruned = False
        try:
            while True:
                rc = proc.poll()
                accs = read_epochs(spec["coinbc"], run, seen, spec["objective"])
                for ep in range(reported, len(accs)):
                    if not math.isnan(accs[ep]):
                        trial.report(accs[ep], ep + 1)
                    reported = ep + 1
                    # judged on every epoch but the last, whether or not train has
                    # ended meanwhile, so the outcome does not depend on timing
                    if not pruned and spec["prune"] and ep + 1 < spec["epochs"] and trial.should_prune():
                        pruned = True
                        if rc is None:
                            proc.send_signal(signal.SIGTERM)
                if rc is not None:
                    break
                time.sleep(0.2)
        except BaseException:  # the driver is stopping (a storage error): no train left behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        seconds = time.monotonic() - t0
        epochs = read_epochs(spec["coinbc"], run, seen, spec["objective"])
        killed = rc in (-signal.SIGINT, -signal.SIGKILL, -signal.SIGTERM, 130, 137, 143)
        accs = [a for a in epochs if not math.isnan(a)]
        trial.set_user_attr("coinbc_epochs_run", len(epochs))
        trial.set_user_attr("coinbc_seconds", round(seconds, 2))
        if "error" in seen and not (killed and not pruned):
            # train has ended and coinbc report still refuses its folder: no figure of it can be trusted
            trial.set_user_attr("coinbc_error", seen["error"])
            self.study.tell(trial, state=TrialState.FAIL)
            log("trial %d: FAILED (%s)" % (trial.number, seen["error"]))
        # coinbc train ends a SIGTERM with status 143 after a clean stop; a
        # train without that handler dies by the signal (-15): both are a prune
        elif pruned and rc in (143, -signal.SIGTERM, 0):
            if rc != 0:
                log("trial %d: coinbc train stopped by SIGTERM (status %d)" % (trial.number, rc))
            self.study.tell(trial, state=TrialState.PRUNED)
            log("trial %d: pruned after %d epochs (best %s %s)" % (trial.number, len(accs), spec["objective"],
                                                                   "%.4f" % self.best_of(accs) if accs else "-"))
        elif killed:
            # killed from outside (Ctrl-C, kill, the machine's OOM killer): not
            # an outcome of the parameters; void it and queue them again
            trial.set_user_attr(VOID, "interrupted")
            self.study.tell(trial, state=TrialState.FAIL)
            self.study.enqueue_trial(trial.params, user_attrs={"coinbc_rerun_of": trial.number})
            log("trial %d: coinbc train was killed (status %d): queued again" % (trial.number, rc))
        elif rc == 0 and accs:
            self.study.tell(trial, self.best_of(accs))
            log("trial %d: %s %.4f (best epoch of %d), %.0f s" % (trial.number, spec["objective"], self.best_of(accs),
                                                                  len(accs), seconds))
        else:
            trial.set_user_attr("coinbc_error", "coinbc train exited with status %d, see %s.log" % (rc, run))
            self.study.tell(trial, state=TrialState.FAIL)
            log("trial %d: FAILED (coinbc train status %d, log %s.log)" % (trial.number, rc, run))

    def worker(self):
        """Runs trials until the study has N finished trials. With nothing
        to run here while others still run (in this process or another one),
        it waits for them, and takes over a trial whose owner dies meanwhile."""
        try:
            while True:
                trial = self.next_trial()
                if trial is not None:
                    self.run_trial(trial)
                    continue
                if self.stop or self.finished() >= self.spec["trials"]:
                    return
                others = self.others_running()
                with self.lock:
                    key = tuple(sorted(t.number for t in others))
                    if others and key != self.waiting_for:
                        self.waiting_for = key
                        log("waiting for %s: %s" % (
                            "trial %d" % others[0].number if len(others) == 1 else
                            "trials " + ", ".join(str(t.number) for t in others),
                            "; ".join("trial %d runs in %s" % (t.number, describe_owner(t.user_attrs.get("coinbc_owner")))
                                      for t in others)))
                time.sleep(WAIT_POLL)
        except Exception as err:  # a storage error (or a train that cannot start): stop the other workers too
            with self.lock:
                self.stop = True
                self.failed = self.failed or one_line(err)


def rel_run(run, folder):
    if not run or not os.path.isabs(run):
        return run
    return os.path.relpath(run, os.path.abspath(folder))


def result(study, spec):
    best_of = min if OBJECTIVES[spec["objective"]] == "minimize" else max
    trials = []
    for t in study.get_trials(deepcopy=False):
        if VOID in t.user_attrs or not t.state.is_finished():
            continue
        trials.append({
            "number": t.number,
            "state": t.state.name,
            "options": t.user_attrs.get("coinbc_options", {}),
            "value": t.value if t.state == TrialState.COMPLETE else
            (best_of(t.intermediate_values.values()) if t.intermediate_values else None),
            "epochs_run": t.user_attrs.get("coinbc_epochs_run", 0),
            "seconds": t.user_attrs.get("coinbc_seconds", 0),
            # relative to this tune folder (trials of another folder on the same storage: ../OTHER/trials/N),
            # so that committed records do not name one machine's paths
            "run": rel_run(t.user_attrs.get("coinbc_run", ""), spec["dir"]),
        })
    return {"version": RESULT_VERSION, "study": spec["study"], "method": spec["method"],
            "objective": spec["objective"], "trials_wanted": spec["trials"],
            "params": [p["name"] for p in spec["space"]], "trials": trials}


def main(argv):
    check = len(argv) == 3 and argv[1] == "--check"
    again = len(argv) >= 4 and argv[1] == "--retrain" and argv[2].isdigit()
    tolerance, keep = 0.0, False
    if again:
        rest = argv[3:-1]
        if rest[:1] == ["--keep"]:
            keep, rest = True, rest[1:]
        if rest:
            try:
                tolerance = float(rest[1]) if len(rest) == 2 and rest[0] == "--tolerance" else float("nan")
            except ValueError:
                tolerance = float("nan")
        again = math.isfinite(tolerance) and tolerance >= 0
    if not check and not again and len(argv) != 2:
        sys.stderr.write("usage: tune.py SPEC.json | tune.py --check SPEC.json | tune.py --retrain N [--keep] "
                         "[--tolerance R] SPEC.json (run by coinbc tune)\n")
        return 2
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        spec = read_spec(argv[-1])
        for attempt in range(4):
            try:
                storage = open_storage(spec["storage"], check, spec["dir"])
                break
            except SpecError:
                if attempt == 3 or not spec["storage"].startswith("sqlite"):
                    raise
                time.sleep(0.5 + attempt)
    except SpecError as err:
        sys.stderr.write("%s\n" % err)
        return EXIT_NOTHING_DONE
    if check:
        return 0
    if again:
        try:
            study = optuna.load_study(study_name=spec["study"], storage=storage)
        except Exception as err:
            sys.stderr.write("storage %s: no study %s to train a trial of again (%s)\n" %
                             (spec["storage"], spec["study"], one_line(err)))
            return 1
        return retrain(spec, study, int(argv[2]), tolerance, keep)
    # the sampler's seed moves on with the study's size, so a resumed study
    # does not draw its first trials' parameters again
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
              if spec["prune"] else optuna.pruners.NopPruner())
    # processes that start together race to create the study (and an RDB's
    # tables): the loser retries; an error that says what is wrong (a bad
    # name, a study of another direction) is not retried
    for attempt in range(6):
        try:
            if attempt:
                storage = open_storage(spec["storage"], False, spec["dir"])
            direction = OBJECTIVES[spec["objective"]]
            study = optuna.create_study(storage=storage, study_name=spec["study"], direction=direction,
                                        load_if_exists=True, pruner=pruner)
            want = (optuna.study.StudyDirection.MINIMIZE if direction == "minimize"
                    else optuna.study.StudyDirection.MAXIMIZE)
            if study.direction != want:
                sys.stderr.write("storage %s: study %s %s, but --objective %s %s: another study (give another "
                                 "--study)\n" % (spec["storage"], spec["study"],
                                                 "minimizes" if direction == "maximize" else "maximizes",
                                                 spec["objective"], direction + "s"))
                return 1
            existing = len(study.get_trials(deepcopy=False))
            sampler = optuna.samplers.TPESampler(seed=(spec["seed"] + 1000003 * existing) % (1 << 32))
            study = optuna.load_study(study_name=spec["study"], storage=storage, sampler=sampler, pruner=pruner)
            break
        except SpecError as err:
            sys.stderr.write("%s\n" % err)
            return 1
        except Exception as err:
            if attempt == 5:
                sys.stderr.write("storage %s: %s\n" % (spec["storage"], one_line(err)))
                return 1
            log("storage %s: %s; trying again" % (spec["storage"], one_line(err)))
            time.sleep(0.5 + attempt)
    try:
        os.makedirs(os.path.join(spec["dir"], "trials"), exist_ok=True)
    except OSError as err:
        sys.stderr.write("%s: cannot create it: %s\n" % (os.path.join(spec["dir"], "trials"), err.strerror))
        return 1
    sweep_owner_locks()
    d = Driver(spec, study)
    try:
        with d.lock:
            fail_stale(study)
    except Exception as err:
        sys.stderr.write("storage %s: %s\n" % (spec["storage"], one_line(err)))
        return 1
    workers = [threading.Thread(target=d.worker) for _ in range(spec["jobs"])]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if d.failed:
        sys.stderr.write("study %s in %s: %s\n" % (spec["study"], spec["storage"], d.failed))
        return 1
    res = result(study, spec)
    if len(res["trials"]) < spec["trials"]:  # the counting rule above makes this impossible: never end short silently
        sys.stderr.write("study %s: %d finished trials, not %d (the counting rule broke: please report it)\n" %
                         (spec["study"], len(res["trials"]), spec["trials"]))
        return 1
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


def one_line(err):
    text = str(err).strip()
    return "%s: %s" % (type(err).__name__, text.splitlines()[0]) if text else type(err).__name__


if __name__ == "__main__":
    try:
        rc = main(sys.argv)
    except KeyboardInterrupt:  # Ctrl-C: coinbc tune ends too, and the study resumes from the storage
        os._exit(130)
    except Exception as err:  # never a traceback: one line, and a failure status
        sys.stderr.write("tune.py: %s\n" % one_line(err))
        rc = 1
    finally:
        drop_owner_lock()
    sys.exit(rc)
