/* tune.c - coinbc tune as one library call: checks everything up front
 * (the study's options, the train options fixed for every trial against the
 * schema, the space, the datasets and their disjoint levels, the storage),
 * then runs the Optuna driver tools/tune.py on DIR/tune.json and writes
 * DIR/trials.csv, DIR/best.json and DIR/best.args from its result
 * (docs/TUNE.md). cli/cmd_tune.c parses and prints. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/train.h"

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* absolute path of p (which need not exist) */
static int abs_path(char *out, size_t n, const char *p) {
    if (p[0] == '/') return snprintf(out, n, "%s", p) < (int)n ? 0 : -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    return snprintf(out, n, "%s/%s", cwd, p) < (int)n ? 0 : -1;
}

/* Runs argv through cb_proc_run with stdin from in_text (or /dev/null),
 * stdout and stderr captured (bounded) when out/err are given, else
 * inherited. The driver stays in tune's process group, so a terminal's Ctrl-C
 * reaches it too, and dies with tune, so a kill -9 of tune stops it and,
 * through it, its training processes. Returns the wait status or -1. */
static int spawn(char *const argv[], const char *in_text, char **out, size_t *out_n, char **err) {
    cb_proc p = {.argv = argv, .in_text = in_text, .capture_out = out != NULL, .capture_err = err != NULL,
                 .max_out = (size_t)256 << 20, .keep_group = 1};
    cb_proc_result r;
    if (cb_proc_run(&p, &r, NULL)) return -1;
    if (out) *out = r.out, *out_n = r.out_n;
    else free(r.out);
    if (err) *err = r.err;
    else free(r.err);
    return r.status;
}

static const char *python_path(void) {
    const char *p = getenv("COINBC_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* the driver: $COINBC_TUNE_DRIVER, or tools/tune.py next to the build folder */
static int find_driver(char *out, size_t n, char *exe, size_t exe_n) {
    ssize_t k = readlink("/proc/self/exe", exe, exe_n - 1);
    if (k <= 0) return -1;
    exe[k] = 0;
    const char *env = getenv("COINBC_TUNE_DRIVER");
    if (env && *env) return snprintf(out, n, "%s", env) < (int)n && file_exists(out) ? 0 : -1;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", exe) >= (int)sizeof dir - 16) return -1;
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    /* build/coinbc and build-san/coinbc: the repository is one level up */
    for (int up = 1; up <= 2; up++) {
        if (snprintf(out, n, "%.*s/%s/tools/tune.py", PATH_MAX - 32, dir, up == 1 ? ".." : "../..") < (int)n &&
            file_exists(out))
            return 0;
    }
    return -1;
}

/* the driver's last stderr line, without the newline */
static const char *last_line(char *s) {
    if (!s) return "";
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

static void note(const train_tune_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const train_tune_opts *o, const char *fmt, ...) {
    if (!o->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->note(o->ctx, line);
}

/* a train option tune sets itself (or that means nothing per trial): the
 * schema's with tune RUN_TUNE_NO, and -o */
static int tune_owned(const char *name) {
    const run_option_range *r = run_option_named(name);
    return !strcmp(name, "o") || (r && r->tune == RUN_TUNE_NO);
}

/* checks the train options after -- and stores them as --name value pairs */
static int take_fixed(run_tune_spec *s, const train_tune_opts *o, cb_err *e) {
    for (int i = 0; i < o->nfixed; i++) {
        const char *a = o->fixed[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            if (!strcmp(a, "-o")) return cb_fail(e, CB_EARG, "-o after --: tune sets each trial's run folder itself");
            return cb_fail(e, CB_EARG, "after --: '%s' is not a coinbc train option", a);
        }
        char name[64];
        const char *eq = strchr(a + 2, '='), *val;
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) return cb_fail(e, CB_EARG, "after --: unknown train option '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        if (tune_owned(name)) {
            int own = 0; /* an option of tune's own: give it there */
            for (int k = 0; o->own && o->own[k]; k++) own |= !strcmp(o->own[k], name);
            return cb_fail(e, CB_EARG, "--%s after --: tune sets it itself%s", name,
                           own ? " (give it to tune, before --)" : "");
        }
        if (!run_tune_option_kind(name)) return cb_fail(e, CB_EARG, "after --: unknown train option '--%s'", name);
        if (eq) val = eq + 1;
        else if (i + 1 < o->nfixed) val = o->fixed[++i];
        else return cb_fail(e, CB_EARG, "after --: --%s needs a value", name);
        run_tune_value v;
        memset(&v, 0, sizeof v);
        if (run_tune_option_kind(name) == 1) {
            if (cb_parse_f64(val, &v.num)) return cb_fail(e, CB_EARG, "after --: --%s: '%s' is not a number", name, val);
        } else {
            v.is_str = 1;
            if (strlen(val) >= sizeof v.str) return cb_fail(e, CB_EARG, "after --: --%s: '%s' is too long", name, val);
            snprintf(v.str, sizeof v.str, "%s", val);
        }
        if (run_tune_check_value(name, &v, e)) return cb_err_prefix(e, "after --: ");
        for (int k = 0; k < s->nfixed; k += 2)
            if (!strcmp(s->fixed[k] + 2, name)) return cb_fail(e, CB_EARG, "after --: --%s is given twice", name);
        if (s->nfixed + 2 > RUN_TUNE_MAX_FIXED) return cb_fail(e, CB_EARG, "after --: too many options");
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "--%s", name);
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "%s", val);
    }
    return 0;
}

static const char *fixed_value(const run_tune_spec *s, const char *name) {
    for (int k = 0; k + 1 < s->nfixed; k += 2)
        if (!strcmp(s->fixed[k] + 2, name)) return s->fixed[k + 1];
    return NULL;
}

/* the space against the data: batch-levels above the number of training
 * levels cannot apply; such values are left out (saying so) */
static int fit_space(run_tune_space *sp, int ntrain, const train_tune_opts *o, cb_err *e) {
    int i = run_tune_space_find(sp, "batch-levels");
    if (i < 0) return 0;
    run_tune_param *p = &sp->p[i];
    if (p->kind == RUN_TUNE_CHOICE) {
        int k = 0;
        char left[256] = "";
        for (int j = 0; j < p->nchoice; j++) {
            if (p->choice[j].num <= ntrain) p->choice[k++] = p->choice[j];
            else
                snprintf(left + strlen(left), sizeof left - strlen(left), "%s%g", left[0] ? ", " : "", p->choice[j].num);
        }
        if (left[0] && k)
            note(o, "coinbc tune: batch-levels %s left out of the space: the training data has %d levels", left, ntrain);
        p->nchoice = k;
        if (!k)
            return cb_fail(e, CB_EARG, "no batch-levels of the space fits the %d training levels; give a space with "
                                       "smaller values", ntrain);
    } else if (p->hi > ntrain) {
        if (p->lo > ntrain)
            return cb_fail(e, CB_EARG, "batch-levels range [%g, %g] is above the %d training levels", p->lo, p->hi, ntrain);
        note(o, "coinbc tune: batch-levels range cut to [%g, %d]: the training data has %d levels", p->lo, ntrain, ntrain);
        p->hi = ntrain;
        if (p->lo == p->hi) p->kind = RUN_TUNE_CHOICE, p->nchoice = 1, p->choice[0].num = p->lo;
    }
    return 0;
}

/* the study's own options, alone */
static int check_opts(const train_tune_opts *o, int *objective, cb_err *e) {
    if (!o->train) return cb_fail(e, CB_EARG, "give one TRAIN dataset (see coinbc tune --help)");
    if (!o->val) return cb_fail(e, CB_EARG, "--val VAL is required (validation levels, disjoint from TRAIN's)");
    if (!o->method) return cb_fail(e, CB_EARG, "--method is required (%s)", run_method_list());
    if (!o->out) return cb_fail(e, CB_EARG, "-o DIR is required");
    if (o->trials <= 0) return cb_fail(e, CB_EARG, "--trials must be > 0");
    if (o->trials > RUN_TUNE_MAX_TRIALS)
        return cb_fail(e, CB_EARG, "--trials %d: at most %d (the most trials.csv may hold)", o->trials, RUN_TUNE_MAX_TRIALS);
    if (o->epochs <= 0) return cb_fail(e, CB_EARG, "--epochs must be > 0");
    if (o->retrain < -1) return cb_fail(e, CB_EARG, "--retrain takes a trial number >= 0");
    if (o->retrain_keep && o->retrain < 0) return cb_fail(e, CB_EARG, "--retrain-keep goes with --retrain K");
    if (!(o->retrain_tolerance >= 0 && o->retrain_tolerance <= 1))
        return cb_fail(e, CB_EARG, "--retrain-tolerance is in 0..1 (a relative difference)");
    if (o->jobs < 0 || o->jobs > 256) return cb_fail(e, CB_EARG, "--jobs must be in 0..256 (0: the default choice)");
    if (o->threads < 0) return cb_fail(e, CB_EARG, "--threads must be >= 0");
    if (o->seed < 0 || o->seed > UINT32_MAX) return cb_fail(e, CB_EARG, "--seed must be in 0..4294967295");
    if (strcmp(o->prune, "on") && strcmp(o->prune, "off")) return cb_fail(e, CB_EARG, "--prune is on or off");
    if (run_tune_objective_parse(o->objective, objective))
        return cb_fail(e, CB_EARG, "--objective is val_acc or val_loss, not '%s'", o->objective);
    int mid;
    if (run_method_parse(o->method, &mid))
        return cb_fail(e, CB_EARG, "unknown --method '%s' (%s)", o->method, run_method_list());
    int rc;
    if (o->study && (rc = run_tune_study_name_check(o->study, e))) return cb_err_prefix(e, "--study ");
    if (o->storage && (rc = run_tune_storage_check(o->storage, e))) return cb_err_prefix(e, "--");
    /* DIR and a storage file, against the datasets and the space */
    const char *in[] = {o->train, o->val, o->space}, *sf = NULL;
    if (o->storage && !strncmp(o->storage, "journal:", 8)) sf = o->storage + 8;
    else if (o->storage && !strncmp(o->storage, "sqlite:///", 10)) sf = o->storage + 10;
    if ((rc = cb_path_check_output("-o", o->out, CB_OUT_FILE, in, 3, e)) ||
        (sf && *sf && (rc = cb_path_check_output("--storage", sf, CB_OUT_FILE, in, 3, e))))
        return rc;
    return 0;
}

/* the spec: the study's options, the fixed train options, the space; usage errors set *usage */
static int make_spec(run_tune_spec *s, const train_tune_opts *o, int *usage, char *driver, size_t dn, cb_err *e) {
    int rc, objective;
    *usage = 1;
    if ((rc = check_opts(o, &objective, e)) || (rc = take_fixed(s, o, e))) return rc;
    int mid;
    run_method_parse(o->method, &mid);
    if (!(run_method(mid)->options & RUN_MOPT_TAU) && fixed_value(s, "tau")) /* train would set it to 0 */
        return cb_fail(e, CB_EARG, "after --: --tau does not apply to method %s", o->method);
    s->objective = objective;
    if (objective == RUN_TUNE_VAL_LOSS && !fixed_value(s, "best-by")) { /* each trial's best.ckpt by the same figure */
        if (s->nfixed + 2 > RUN_TUNE_MAX_FIXED) return cb_fail(e, CB_EARG, "after --: too many options");
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "--best-by");
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "loss");
    }
    *usage = 0;
    if (find_driver(driver, dn, s->coinbc, sizeof s->coinbc))
        return cb_fail(e, CB_ENOTFOUND, "cannot find the driver tools/tune.py next to %s (set COINBC_TUNE_DRIVER)",
                       s->coinbc);
    char default_space[PATH_MAX + 32];
    snprintf(default_space, sizeof default_space, "%s", driver);
    char *sl = strrchr(default_space, '/');
    snprintf(sl ? sl + 1 : default_space, sizeof default_space - (size_t)(sl ? sl + 1 - default_space : 0),
             "tune_space.json");
    *usage = 1;
    if ((rc = run_tune_space_read(&s->space, o->space ? o->space : default_space, o->method, e))) return rc;
    for (int i = 0; i < s->space.nparams; i++)
        if (fixed_value(s, s->space.p[i].name))
            return cb_fail(e, CB_EARG, "--%s after -- is also searched (in the space): drop one of them",
                           s->space.p[i].name);
    *usage = 0;
    return 0;
}

/* the data: both datasets exist, their levels are disjoint, the space fits */
static int check_data(run_tune_spec *s, const train_tune_opts *o, cb_err *e) {
    ds_reader *rt = NULL, *rv = NULL;
    int rc;
    if ((rc = ds_open(&rt, o->train, e)) || (rc = ds_open(&rv, o->val, e)) ||
        (rc = ds_check_disjoint(rt, 0, INT32_MAX, "training", rv, 0, INT32_MAX, "validation", e)))
        goto done;
    const char *fb = fixed_value(s, "batch-levels");
    if (fb && atof(fb) > ds_nlevels(rt)) {
        rc = cb_fail(e, CB_EARG, "--batch-levels %s after -- is more than the %d training levels", fb, ds_nlevels(rt));
        goto done;
    }
    rc = fit_space(&s->space, ds_nlevels(rt), o, e);
done:
    ds_close(rt);
    ds_close(rv);
    return rc;
}

/* Trials at once for --jobs J of T threads: J itself, or for J = 0 two where
 * there are at least two threads (two 1-thread trials did 1.07x and 1.13x
 * the epochs per hour of one 2-thread trial on a 2-core machine, in two
 * runs: docs/PERFORMANCE.md) and one otherwise. */
int train_tune_jobs(int jobs, int threads) { return jobs > 0 ? jobs : threads >= 2 ? 2 : 1; }

/* the study's settings and paths */
static int fill_spec(run_tune_spec *s, const train_tune_opts *o, cb_err *e) {
    if (!realpath(o->train, s->train) || !realpath(o->val, s->val) || abs_path(s->dir, sizeof s->dir, o->out))
        return cb_fail(e, CB_EARG, "cannot resolve the paths of TRAIN, VAL or DIR");
    while (strlen(s->dir) > 1 && s->dir[strlen(s->dir) - 1] == '/') s->dir[strlen(s->dir) - 1] = 0;
    snprintf(s->method, sizeof s->method, "%s", o->method);
    int total = o->threads ? o->threads : cb_default_threads();
    s->trials = o->trials, s->epochs = o->epochs, s->jobs = train_tune_jobs(o->jobs, total), s->seed = o->seed;
    s->prune = !strcmp(o->prune, "on");
    s->threads = total / s->jobs > 0 ? total / s->jobs : 1;
    if (snprintf(s->study, sizeof s->study, "%s", o->study ? o->study : "coinbc-") >= (int)sizeof s->study - 8)
        return cb_fail(e, CB_EARG, "--study name is too long");
    if (!o->study) strcat(s->study, o->method);
    /* the default storage is named relative to DIR, so that a tune folder
     * moved or cloned elsewhere (a committed study) continues; a journal path
     * the user gives is made absolute */
    if (!o->storage) snprintf(s->storage, sizeof s->storage, "%s", RUN_TUNE_DEFAULT_STORAGE);
    else if (!strncmp(o->storage, "journal:", 8) && o->storage[8] != '/') {
        char ap[PATH_MAX];
        if (abs_path(ap, sizeof ap, o->storage + 8) ||
            snprintf(s->storage, sizeof s->storage, "journal:%s", ap) >= (int)sizeof s->storage)
            return cb_fail(e, CB_EARG, "--storage %s: path too long", o->storage);
    } else snprintf(s->storage, sizeof s->storage, "%s", o->storage);
    return 0;
}

/* the same command again continues the study; another study in DIR is refused */
static int same_study(const run_tune_spec *s, const char *path, const train_tune_opts *o, cb_err *e) {
    struct stat sst;
    if (lstat(path, &sst) == 0 && !file_exists(path))
        return cb_fail(e, CB_EEXIST, "%s is not a regular file: it should be this folder's study settings; remove it or "
                                     "use another -o", path);
    if (!file_exists(path)) return 0;
    run_tune_spec *old = calloc(1, sizeof *old);
    if (!old) return cb_fail(e, CB_ENOMEM, "out of memory");
    int rc = run_tune_spec_read(old, path, e);
    if (!rc) rc = run_tune_spec_same_study(old, s, e);
    free(old);
    if (rc) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        return cb_fail(e, CB_EEXIST, "%s holds another study (%s); run the command that made it, or use another -o",
                       o->out, why);
    }
    return 0;
}

/* the driver checks the spec, python3-optuna and the storage, writing nothing here */
static int driver_check(const char *driver, const char *spec_text, cb_err *e) {
    char *err = NULL;
    char *argv[] = {(char *)python_path(), (char *)driver, "--check", "-", NULL};
    int ws = spawn(argv, spec_text, NULL, NULL, &err), rc = 0;
    if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        int code = ws >= 0 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        if (code == 3) rc = cb_fail(e, CB_EARG, "python3-optuna is missing (make deps installs it): %s", last_line(err));
        else if (code == 127) rc = cb_fail(e, CB_EARG, "cannot run %s (%s)", python_path(), last_line(err));
        else rc = cb_fail(e, CB_EARG, "%s", err && *err ? last_line(err) : "the tune driver failed");
    }
    free(err);
    return rc;
}

/* The driver on the study's spec (tune.py SPEC), or with --retrain K on
 * that trial alone (tune.py --retrain K [--keep] --tolerance R SPEC), its
 * stdout into out; the wait status (spawn) */
static int driver_run(const train_tune_opts *o, char *driver, char *spec, char **out, size_t *n) {
    char knum[24], tol[40], *argv[9];
    snprintf(knum, sizeof knum, "%d", o->retrain);
    snprintf(tol, sizeof tol, "%.17g", o->retrain_tolerance);
    int k = 0;
    argv[k++] = (char *)python_path();
    argv[k++] = driver;
    if (o->retrain >= 0) {
        argv[k++] = "--retrain";
        argv[k++] = knum;
        if (o->retrain_keep) argv[k++] = "--keep";
        argv[k++] = "--tolerance";
        argv[k++] = tol;
    }
    argv[k++] = spec;
    argv[k] = NULL;
    return spawn(argv, NULL, out, n, NULL);
}

int train_tune_run(const train_tune_opts *o, train_tune_result *r, cb_err *e) {
    memset(r, 0, sizeof *r);
    r->best = -1;
    run_tune_spec *s = calloc(1, sizeof *s);
    if (!s) return cb_fail(e, CB_ENOMEM, "out of memory");
    char driver[PATH_MAX], path[PATH_MAX + 64], *spec_text = NULL, *drv_out = NULL;
    size_t drv_n = 0;
    cb_lock lock = {.fd = -1};
    int rc, usage = 0;
    if ((rc = make_spec(s, o, &usage, driver, sizeof driver, e))) {
        r->usage = usage;
        goto done;
    }
    if ((rc = check_data(s, o, e)) || (rc = fill_spec(s, o, e))) goto done;
    if (!(spec_text = run_tune_spec_json(s))) {
        rc = cb_fail(e, CB_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(path, sizeof path, "%s/tune.json", s->dir);
    if ((rc = same_study(s, path, o, e)) || (rc = driver_check(driver, spec_text, e))) goto done;
    if ((rc = cb_lock_acquire(&lock, s->dir, o->holder, e))) goto done;
    int spec_was_there = file_exists(path);
    if ((rc = run_tune_spec_write(path, s, e))) goto done;
    note(o, "tune: study %s in %s, %d trials of %d epochs, %d at once with %d thread%s each%s", s->study, s->storage,
         o->trials, o->epochs, s->jobs, s->threads, s->threads == 1 ? "" : "s",
         o->jobs ? "" : " (--jobs 0, the default: two trials at once where there are two threads or more, faster "
                        "than one on both; --jobs 1 for one at a time)");
    int ws = driver_run(o, driver, path, &drv_out, &drv_n);
    if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        rc = cb_fail(e, CB_EARG, "the tune driver %s", ws >= 0 && WIFEXITED(ws) ? "failed (its message is above)"
                                                                                 : "was killed");
        /* the driver's status 4: it stopped before the study started (the
         * spec or the storage): take back what this run wrote, so that a
         * failed first start leaves nothing */
        if (ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 4) {
            if (!spec_was_there) unlink(path);
            cb_lock_release(&lock, 1);
        }
        goto done;
    }
    if (o->retrain >= 0) { /* the trial's folder is all it makes; its line (JSON) goes to the caller */
        r->args = drv_out;
        drv_out = NULL;
        goto done;
    }
    if ((rc = run_tune_result_parse(&r->res, drv_out, drv_n, e))) goto done;
    if (r->res.objective != s->objective) {
        rc = cb_fail(e, CB_EFORMAT, "the tune driver reported a study of %s, this one is of %s (an older tools/tune.py?)",
                     run_tune_objective_name(r->res.objective), run_tune_objective_name(s->objective));
        goto done;
    }
    snprintf(path, sizeof path, "%s/trials.csv", s->dir);
    if ((rc = run_tune_trials_write(path, &r->res, e))) goto done;
    for (int i = 0; i < r->res.ntrials; i++) r->nstate[r->res.trials[i].state]++;
    snprintf(r->study, sizeof r->study, "%s", s->study);
    r->objective = s->objective;
    r->best = run_tune_best(&r->res);
    if (r->best < 0) goto done;
    snprintf(path, sizeof path, "%s/best.json", s->dir);
    if ((rc = run_tune_best_write(path, s, &r->res, r->best, e)) || (rc = run_tune_best_args(&r->args, path, e))) goto done;
    snprintf(path, sizeof path, "%s/best.args", s->dir);
    size_t an = strlen(r->args);
    r->args[an] = '\n'; /* (run_tune_best_args leaves room for it: it ends with the NUL) */
    rc = cb_write_file_atomic(path, r->args, an + 1, e);
    r->args[an] = 0;
done:
    cb_lock_release(&lock, 0);
    free(spec_text);
    free(drv_out);
    free(s);
    return rc;
}

void train_tune_result_free(train_tune_result *r) {
    run_tune_result_free(&r->res);
    free(r->args);
    r->args = NULL;
}
