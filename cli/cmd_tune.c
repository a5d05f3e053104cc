/* cmd_tune.c - coinbc tune: a hyperparameter search over coinbc train with
 * the same budget for every method. Checks everything up front (datasets,
 * disjoint levels, the space, the train options after --, the storage), then
 * runs the Optuna driver tools/tune.py with /usr/bin/python3 on DIR/tune.json
 * and writes DIR/trials.csv, DIR/best.json and DIR/best.args from its result
 * (docs/TUNE.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dataset/dataset.h"
#include "run/run.h"

#define CMD "tune"

/* train options tune sets itself or that make no sense per trial */
static const char *const TUNE_OWNED[] = {"out", "o", "val", "val-levels", "train-levels", "epochs", "threads",
                                         "resume", "max-steps", "quiet", "method"};

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

/* checks the train options after -- and stores them as --name value pairs */
static int take_fixed(run_tune_spec *s, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            if (!strcmp(a, "-o")) return cli_error(CMD, "-o after --: tune sets each trial's run folder itself"), 2;
            return cli_error(CMD, "after --: '%s' is not a coinbc train option", a), 2;
        }
        char name[64];
        const char *eq = strchr(a + 2, '='), *val;
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) return cli_error(CMD, "after --: unknown train option '%s'", a), 2;
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        for (size_t k = 0; k < sizeof TUNE_OWNED / sizeof TUNE_OWNED[0]; k++)
            if (!strcmp(name, TUNE_OWNED[k]))
                return cli_error(CMD, "--%s after --: tune sets it itself%s", name,
                                 !strcmp(name, "epochs") || !strcmp(name, "threads") || !strcmp(name, "method")
                                     ? " (give it to tune, before --)" : ""), 2;
        if (!run_tune_option_kind(name)) return cli_error(CMD, "after --: unknown train option '--%s'", name), 2;
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return cli_error(CMD, "after --: --%s needs a value", name), 2;
        run_tune_value v;
        memset(&v, 0, sizeof v);
        if (run_tune_option_kind(name) == 1) {
            if (cb_parse_f64(val, &v.num)) return cli_error(CMD, "after --: --%s: '%s' is not a number", name, val), 2;
        } else {
            v.is_str = 1;
            if (strlen(val) >= sizeof v.str) return cli_error(CMD, "after --: --%s: '%s' is too long", name, val), 2;
            snprintf(v.str, sizeof v.str, "%s", val);
        }
        cb_err e = {0};
        if (run_tune_check_value(name, &v, &e)) return cli_error(CMD, "after --: %s", e.msg), 2;
        for (int k = 0; k < s->nfixed; k += 2)
            if (!strcmp(s->fixed[k] + 2, name)) return cli_error(CMD, "after --: --%s is given twice", name), 2;
        if (s->nfixed + 2 > RUN_TUNE_MAX_FIXED) return cli_error(CMD, "after --: too many options"), 2;
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
static int fit_space(run_tune_space *sp, int ntrain) {
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
            fprintf(stderr, "coinbc tune: batch-levels %s left out of the space: the training data has %d levels\n", left,
                    ntrain);
        p->nchoice = k;
        if (!k)
            return cli_error(CMD, "no batch-levels of the space fits the %d training levels; give a space with smaller "
                                  "values", ntrain), 2;
    } else if (p->hi > ntrain) {
        if (p->lo > ntrain)
            return cli_error(CMD, "batch-levels range [%g, %g] is above the %d training levels", p->lo, p->hi, ntrain), 2;
        fprintf(stderr, "coinbc tune: batch-levels range cut to [%g, %d]: the training data has %d levels\n", p->lo,
                ntrain, ntrain);
        p->hi = ntrain;
        if (p->lo == p->hi) p->kind = RUN_TUNE_CHOICE, p->nchoice = 1, p->choice[0].num = p->lo;
    }
    return 0;
}

int cli_cmd_tune(int argc, char **argv) {
    /* split at --: what follows is train options fixed for every trial */
    int nbefore = argc;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            nbefore = i;
            break;
        }
    const char *val = NULL, *method = NULL, *out = NULL, *space_path = NULL, *storage = NULL, *study = NULL,
               *prune_s = "on", *objective_s = "val_acc";
    int trials = 0, epochs = 10, jobs = 1, threads = 0;
    int64_t seed = 0;
    char method_help[256];
    snprintf(method_help, sizeof method_help, "%s (required)", run_method_list());
    cli_opt opts[] = {
        {"val", CLI_STR, &val, "VAL", "validation dataset; its levels must not be training levels (required)", 0},
        {"method", CLI_STR, &method, "M", method_help, 0},
        {"trials", CLI_INT, &trials, "N", "finished trials the study ends with (required, > 0)", 0},
        {"out", CLI_STR, &out, "DIR", "tune folder (-o): trials/, trials.csv, best.json, the default storage", 0},
        {"epochs", CLI_INT, &epochs, "E", "epochs per trial, the same frames for every trial (default 10)", 0},
        {"space", CLI_STR, &space_path, "FILE", "search space (default: tools/tune_space.json)", 0},
        {"storage", CLI_STR, &storage, "URL", "Optuna storage: sqlite:///PATH, postgresql://..., journal:PATH "
                                              "(default: journal:study.journal inside DIR)", 0},
        {"study", CLI_STR, &study, "NAME", "study name in the storage (default coinbc-METHOD): 1 to 64 of A-Z a-z "
                                           "0-9 . _ -, starting with a letter or a digit", 0},
        {"jobs", CLI_INT, &jobs, "J", "trials run at once, the threads split between them (default 1)", 0},
        {"threads", CLI_INT, &threads, "T", "threads in total (default: all cores)", 0},
        {"seed", CLI_I64, &seed, "S", "seed of the TPE sampler (default 0)", 0},
        {"prune", CLI_STR, &prune_s, "on|off", "stop unpromising trials early (successive halving; default on)", 0},
        {"objective", CLI_STR, &objective_s, "F", "val_acc (default: the best epoch's validation accuracy, maximized) or "
         "val_loss (the best epoch's validation loss, minimized; each trial then keeps best.ckpt by loss, --best-by "
         "loss); pruning judges the same figure", 0},
    };
    cli_cmd_info info = {
        CMD, "Hyperparameter search over coinbc train (Optuna TPE; docs/TUNE.md). Every trial trains for the same\n"
             "--epochs (the same number of frames), is scored by its best epoch's accuracy on the validation levels\n"
             "(or its lowest validation loss, --objective val_loss), and may be pruned on the way. Several processes (machines) running the same command with one --storage\n"
             "(each its own -o DIR) share the study.",
        "coinbc tune TRAIN --val VAL --method M --trials N -o DIR [options] [-- TRAIN OPTIONS]",
        "TRAIN OPTIONS (after --) are coinbc train options fixed for every trial, e.g. -- --net nature.\n"
        "DIR gets tune.json (the study's settings), trials/NNNN (each trial's run folder and log), trials.csv,\n"
        "best.json (the best trial's train options) and best.args (the same as one line for coinbc train).\n"
        "Run the same command again after a crash: the study goes on to exactly N finished trials.\n"
        "example: coinbc tune train.cbd --val val.cbd --method and --trials 64 -o tune/and -- --net nature"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(nbefore, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error(CMD, "give one TRAIN dataset (see coinbc tune --help)"), 2;
    if (!val) return cli_error(CMD, "--val VAL is required (validation levels, disjoint from TRAIN's)"), 2;
    if (!method) return cli_error(CMD, "--method is required (%s)", run_method_list()), 2;
    if (!out) return cli_error(CMD, "-o DIR is required"), 2;
    if (trials <= 0) return cli_error(CMD, "--trials must be > 0"), 2;
    if (trials > RUN_TUNE_MAX_TRIALS)
        return cli_error(CMD, "--trials %d: at most %d (the most trials.csv may hold)", trials, RUN_TUNE_MAX_TRIALS), 2;
    if (epochs <= 0) return cli_error(CMD, "--epochs must be > 0"), 2;
    if (jobs <= 0 || jobs > 256) return cli_error(CMD, "--jobs must be in 1..256"), 2;
    if (threads < 0) return cli_error(CMD, "--threads must be >= 0"), 2;
    if (seed < 0 || seed > UINT32_MAX) return cli_error(CMD, "--seed must be in 0..4294967295"), 2;
    if (strcmp(prune_s, "on") && strcmp(prune_s, "off")) return cli_error(CMD, "--prune is on or off"), 2;
    int objective;
    if (run_tune_objective_parse(objective_s, &objective))
        return cli_error(CMD, "--objective is val_acc or val_loss, not '%s'", objective_s), 2;
    int method_id;
    if (run_method_parse(method, &method_id))
        return cli_error(CMD, "unknown --method '%s' (%s)", method, run_method_list()), 2;
    cb_err ne = {0};
    if (study && run_tune_study_name_check(study, &ne)) return cli_error(CMD, "--study %s", ne.msg), 2;
    if (storage && run_tune_storage_check(storage, &ne)) return cli_error(CMD, "--%s", ne.msg), 2;
    { /* DIR and a storage file, against the datasets and the space */
        const char *in[] = {pos[0], val, space_path}, *sf = NULL;
        cb_err pe = {0};
        if (storage && !strncmp(storage, "journal:", 8)) sf = storage + 8;
        else if (storage && !strncmp(storage, "sqlite:///", 10)) sf = storage + 10;
        if (cb_path_check_output("-o", out, CB_OUT_FILE, in, CLI_COUNT(in), &pe) ||
            (sf && *sf && cb_path_check_output("--storage", sf, CB_OUT_FILE, in, CLI_COUNT(in), &pe)))
            return cli_fail(CMD, &pe), 2;
    }

    run_tune_spec *s = calloc(1, sizeof *s);
    if (!s) return cli_error(CMD, "out of memory");
    int status = 0;
    ds_reader *rt = NULL, *rv = NULL;
    char *spec_text = NULL, *drv_out = NULL, *drv_err = NULL;
    size_t drv_n = 0;
    run_tune_result res = {0};
    cb_lock lock = {.fd = -1};
    cb_err e = {0};
    char driver[PATH_MAX], path[PATH_MAX + 64];

    if ((status = take_fixed(s, argc - nbefore - 1 > 0 ? argc - nbefore - 1 : 0, argv + nbefore + 1))) goto done;
    if (!strcmp(method, "mean") && fixed_value(s, "tau")) {
        status = cli_error(CMD, "after --: --tau does not apply to method mean"), status = 2;
        goto done;
    }
    s->objective = objective;
    if (objective == RUN_TUNE_VAL_LOSS && !fixed_value(s, "best-by")) { /* each trial's best.ckpt by the same figure */
        if (s->nfixed + 2 > RUN_TUNE_MAX_FIXED) {
            status = cli_error(CMD, "after --: too many options"), status = 2;
            goto done;
        }
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "--best-by");
        snprintf(s->fixed[s->nfixed++], sizeof s->fixed[0], "loss");
    }
    if (find_driver(driver, sizeof driver, s->coinbc, sizeof s->coinbc)) {
        status = cli_error(CMD, "cannot find the driver tools/tune.py next to %s (set COINBC_TUNE_DRIVER)", s->coinbc);
        goto done;
    }
    char default_space[PATH_MAX + 32];
    snprintf(default_space, sizeof default_space, "%s", driver);
    char *sl = strrchr(default_space, '/');
    snprintf(sl ? sl + 1 : default_space, sizeof default_space - (size_t)(sl ? sl + 1 - default_space : 0),
             "tune_space.json");
    if (run_tune_space_read(&s->space, space_path ? space_path : default_space, method, &e)) {
        status = cli_fail(CMD, &e), status = 2;
        goto done;
    }
    for (int i = 0; i < s->space.nparams; i++)
        if (fixed_value(s, s->space.p[i].name)) {
            status = cli_error(CMD, "--%s after -- is also searched (in the space): drop one of them", s->space.p[i].name);
            status = 2;
            goto done;
        }

    /* the data: both datasets exist, their levels are disjoint, the space fits */
    if (ds_open(&rt, pos[0], &e) || ds_open(&rv, val, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    if (ds_check_disjoint(rt, 0, INT32_MAX, "training", rv, 0, INT32_MAX, "validation", &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    const char *fb = fixed_value(s, "batch-levels");
    if (fb && atof(fb) > ds_nlevels(rt)) {
        status = cli_error(CMD, "--batch-levels %s after -- is more than the %d training levels", fb, ds_nlevels(rt));
        goto done;
    }
    if ((status = fit_space(&s->space, ds_nlevels(rt)))) goto done;

    /* the spec */
    if (!realpath(pos[0], s->train) || !realpath(val, s->val) || abs_path(s->dir, sizeof s->dir, out)) {
        status = cli_error(CMD, "cannot resolve the paths of TRAIN, VAL or DIR");
        goto done;
    }
    while (strlen(s->dir) > 1 && s->dir[strlen(s->dir) - 1] == '/') s->dir[strlen(s->dir) - 1] = 0;
    snprintf(s->method, sizeof s->method, "%s", method);
    s->trials = trials, s->epochs = epochs, s->jobs = jobs, s->seed = seed, s->prune = !strcmp(prune_s, "on");
    int total = threads ? threads : cb_default_threads();
    s->threads = total / jobs > 0 ? total / jobs : 1;
    if (snprintf(s->study, sizeof s->study, "%s", study ? study : "coinbc-") >= (int)sizeof s->study - 8) {
        status = cli_error(CMD, "--study name is too long");
        goto done;
    }
    if (!study) strcat(s->study, method);
    /* the default storage is named relative to DIR, so that a tune folder
     * moved or cloned elsewhere (a committed study) continues; a journal path
     * the user gives is made absolute */
    if (!storage) snprintf(s->storage, sizeof s->storage, "%s", RUN_TUNE_DEFAULT_STORAGE);
    else if (!strncmp(storage, "journal:", 8) && storage[8] != '/') {
        char ap[PATH_MAX];
        if (abs_path(ap, sizeof ap, storage + 8) || snprintf(s->storage, sizeof s->storage, "journal:%s", ap) >=
                                                         (int)sizeof s->storage) {
            status = cli_error(CMD, "--storage %s: path too long", storage);
            goto done;
        }
    } else snprintf(s->storage, sizeof s->storage, "%s", storage);
    if (!(spec_text = run_tune_spec_json(s))) {
        status = cli_error(CMD, "out of memory");
        goto done;
    }
    /* the same command again continues the study; another study in DIR is refused */
    snprintf(path, sizeof path, "%s/tune.json", s->dir);
    struct stat sst;
    if (lstat(path, &sst) == 0 && !file_exists(path)) {
        status = cli_error(CMD, "%s is not a regular file: it should be this folder's study settings; remove it or use "
                                "another -o", path);
        goto done;
    }
    if (file_exists(path)) {
        run_tune_spec *old = calloc(1, sizeof *old);
        if (!old || run_tune_spec_read(old, path, &e) || run_tune_spec_same_study(old, s, &e)) {
            status = old ? cli_error(CMD, "%s holds another study (%s); run the command that made it, or use another -o",
                                     out, e.msg) : cli_error(CMD, "out of memory");
            free(old);
            goto done;
        }
        free(old);
    }

    /* the driver checks the spec, python3-optuna and the storage, writing nothing here */
    char *check_argv[] = {(char *)python_path(), driver, "--check", "-", NULL};
    int ws = spawn(check_argv, spec_text, NULL, NULL, &drv_err);
    if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        int code = ws >= 0 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        if (code == 3) status = cli_error(CMD, "python3-optuna is missing (make deps installs it): %s", last_line(drv_err));
        else if (code == 127) status = cli_error(CMD, "cannot run %s (%s)", python_path(), last_line(drv_err));
        else status = cli_error(CMD, "%s", drv_err && *drv_err ? last_line(drv_err) : "the tune driver failed");
        goto done;
    }
    free(drv_err);
    drv_err = NULL;

    char holder[1024];
    cli_join_args(holder, sizeof holder, argc, argv);
    if (cb_lock_acquire(&lock, s->dir, holder, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    int spec_was_there = file_exists(path);
    if (run_tune_spec_write(path, s, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    fprintf(stderr, "tune: study %s in %s, %d trials of %d epochs, %d at once with %d threads each\n", s->study,
            s->storage, trials, epochs, jobs, s->threads);
    char *run_argv[] = {(char *)python_path(), driver, path, NULL};
    ws = spawn(run_argv, NULL, &drv_out, &drv_n, NULL);
    if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        status = cli_error(CMD, "the tune driver %s", ws >= 0 && WIFEXITED(ws) ? "failed (its message is above)"
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
    if (run_tune_result_parse(&res, drv_out, drv_n, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    if (res.objective != s->objective) {
        status = cli_error(CMD, "the tune driver reported a study of %s, this one is of %s (an older tools/tune.py?)",
                           run_tune_objective_name(res.objective), run_tune_objective_name(s->objective));
        goto done;
    }
    snprintf(path, sizeof path, "%s/trials.csv", s->dir);
    if (run_tune_trials_write(path, &res, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    int nst[3] = {0, 0, 0};
    for (int i = 0; i < res.ntrials; i++) nst[res.trials[i].state]++;
    int best = run_tune_best(&res);
    printf("tune: study %s: %d trials (%d complete, %d pruned, %d failed) -> %s/trials.csv\n", s->study, res.ntrials,
           nst[0], nst[1], nst[2], out);
    if (best < 0) {
        printf("tune: no trial completed, so no best.json\n");
        goto done;
    }
    snprintf(path, sizeof path, "%s/best.json", s->dir);
    char *args = NULL;
    if (run_tune_best_write(path, s, &res, best, &e) || run_tune_best_args(&args, path, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    snprintf(path, sizeof path, "%s/best.args", s->dir);
    size_t an = strlen(args);
    args[an] = '\n';
    rc = cb_write_file_atomic(path, args, an + 1, &e);
    args[an] = 0;
    if (rc) status = cli_fail(CMD, &e);
    else
        printf("tune: best trial %d: %s %.4f -> %s/best.json\n  coinbc train %s --val %s %s -o RUN\n",
               res.trials[best].number, s->objective == RUN_TUNE_VAL_LOSS ? "val loss" : "val acc",
               res.trials[best].value, out, pos[0], val, args);
    free(args);
done:
    cb_lock_release(&lock, 0);
    ds_close(rt);
    ds_close(rv);
    run_tune_result_free(&res);
    free(spec_text);
    free(drv_out);
    free(drv_err);
    free(s);
    return status;
}
