/* cmd_compare.c - coinbc compare: the options, the stop signals, and
 * exp_compare_run (exp/compare.c), which does the work. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exp/exp.h"

#define CMD "compare"

static volatile int stop_flag;
static volatile sig_atomic_t stop_sig;

static void on_stop(int sig) {
    stop_sig = sig;
    stop_flag = 1;
}

static void say(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "compare: %s\n", line);
}

/* The spec names the default WORK and the user's datasets: -o and --work
 * must keep clear of them and of each other. Returns the exit status (0:
 * go on; *work is set, into defwork when the spec names it). */
static int check_outputs(const char *spec_path, const char *out, const char **work, char *defwork, size_t nd) {
    run_compare_spec spec;
    cb_err pe = {0};
    if (run_compare_spec_read(&spec, spec_path, &pe)) return cli_fail(CMD, &pe);
    char sdir[4200], data[3][8400];
    if (!*work) {
        snprintf(defwork, nd, "out/compare/%s", spec.name);
        *work = defwork;
    }
    snprintf(sdir, sizeof sdir, "%s", spec_path);
    char *slash = strrchr(sdir, '/');
    if (slash) *slash = 0;
    else snprintf(sdir, sizeof sdir, ".");
    const char *in[5] = {spec_path, *work};
    int nin = 2;
    for (int k = 0; k < 3 && spec.data[0].is_path; k++) {
        if (spec.data[k].path[0] == '/') snprintf(data[k], sizeof data[k], "%s", spec.data[k].path);
        else snprintf(data[k], sizeof data[k], "%s/%s", sdir, spec.data[k].path);
        in[nin++] = data[k];
    }
    run_compare_spec_free(&spec);
    if (cb_path_check_output("-o", out, CB_OUT_FILE, in, nin, &pe)) return cli_fail(CMD, &pe), 2;
    in[1] = out;
    if (cb_path_check_output("--work", *work, CB_OUT_FILE, in, nin, &pe)) return cli_fail(CMD, &pe), 2;
    return 0;
}

/* SIGINT, SIGTERM and SIGHUP set the stop flag the runner checks */
static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* exp_compare_run's answer as the exit status (--help lists them) */
static int exit_status(int rc, int quiet, const char *out, double hours, const cb_err *e) {
    switch (rc) {
    case EXP_COMPLETE:
        if (!quiet) fprintf(stderr, "compare: complete: %s/table.md\n", out);
        return 0;
    case EXP_PARTIAL: return 0;
    case EXP_BUDGET:
        fprintf(stderr, "compare: stopped at the time budget (--hours %g); run the same command again to go on\n", hours);
        return 3;
    case EXP_INTERRUPTED:
        fprintf(stderr, "compare: stopped by a signal; run the same command again to go on\n");
        return 128 + (stop_sig ? stop_sig : SIGTERM);
    default: return cli_fail(CMD, e);
    }
}

static const cli_cmd_info INFO = {
    CMD,
    "Compares methods as a spec describes (docs/experiments/*.json): the data (recorded, or your own three\n"
    "datasets), one coinbc tune study per tuned method or a fixed configuration, final runs over seeds\n"
    "evaluated on the test levels, played in the engine and probed for appearance, the memorization probe,\n"
    "the top-N figure (a study's N best trials on the test levels), and the table\n"
    "(mean and 95% t interval over seeds, Welch's t-test against the base method with Holm's adjustment).\n"
    "Every step is a coinbc command run as a child process; each is skipped once its record is complete,\n"
    "so after a kill, a failure or the time budget the same command goes on where it stopped.",
    "coinbc compare SPEC.json -o DIR [--work WORK] [--hours H] [--stage S,...] [--jobs J] [--threads T]",
    "DIR holds compact records meant to be committed: compare.json (the spec and the datasets' content\n"
    "CRCs: a later run with another spec or other data is refused), configs/METHOD.json and .origin,\n"
    "tune/METHOD/ (the study's journal, trials.csv, best.json), top/METHOD/ (the best trials' test figures),\n"
    "runs/METHOD-SEED/ and probe/METHOD[-SEED]/ (eval, rollout, appearance, config and metrics records;\n"
    "`coinbc report` reads them), table.md. WORK holds what is made again deterministically: datasets,\n"
    "trial and run folders, checkpoints.\n"
    "exit status: 0 done (complete, or the stages asked for are: it says how many runs are left), 1 a step\n"
    "failed (its message is above), 2 bad options, 3 stopped at the time budget (run again), 130/143\n"
    "stopped by SIGINT/SIGTERM (run again).\n"
    "example: coinbc compare docs/experiments/hard.json -o docs/results/compare/hard --hours 2"};

int cli_cmd_compare(int argc, char **argv) {
    const char *out = NULL, *work = NULL, *stage_s = "data,tune,top,final,probe,table";
    double hours = 0;
    int threads = 0, jobs = 0, quiet = 0;
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "DIR", "the comparison's records (-o; required): compare.json, configs/, tune/, top/, "
                                     "runs/, probe/, table.md, steps.log", 0},
        {"work", CLI_STR, &work, "WORK", "datasets and run folders with their checkpoints, never committed "
                                        "(default: out/compare/NAME, NAME from the spec)", 0},
        {"hours", CLI_F64, &hours, "H", "stop after at most H hours (fractions allowed) with exit status 3; run the "
                                       "same command again to go on", 0},
        {"stage", CLI_STR, &stage_s, "S,...", "only these stages: data, tune, top (the top-N figure), final, probe, "
                                              "table (default: all, in that order)", 0},
        {"jobs", CLI_INT, &jobs, "J", "final runs and probes run at once, the threads split between them (default 0: "
                                      "2 where there are 2 threads or more, else 1); the records are the same for "
                                      "any J", 0},
        {"threads", CLI_INT, &threads, "T", "threads in all (default: all cores); with one job, every step's --threads",
         0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress lines (the steps' own messages still show)", 0},
    };
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1 || !out) return cli_error(CMD, "give SPEC.json and -o DIR (see --help)"), 2;
    unsigned stages;
    if (exp_stages_parse(stage_s, &stages))
        return cli_error(CMD, "--stage '%s': expected stages among data, tune, top, final, probe, table", stage_s), 2;
    if (!(hours >= 0) || hours > 10000) return cli_error(CMD, "--hours must be >= 0"), 2;
    if (threads < 0) return cli_error(CMD, "--threads must be >= 1"), 2;
    if (jobs < 0 || jobs > 64) return cli_error(CMD, "--jobs must be in 0..64 (0: the default choice)"), 2;

    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return cli_error(CMD, "cannot find the coinbc program itself (/proc/self/exe)");
    self[k] = 0;
    char defwork[4200];
    if ((rc = check_outputs(pos[0], out, &work, defwork, sizeof defwork))) return rc;
    catch_stop_signals();
    exp_compare_opts o = {.spec = pos[0], .dir = out, .work = work, .coinbc = self, .hours = hours, .stages = stages,
                          .threads = threads, .jobs = jobs, .stop = &stop_flag, .say = quiet ? NULL : say};
    char *table = NULL;
    cb_err e = {0};
    rc = exp_compare_run(&o, &table, &e);
    if (table) {
        fputs(table, stdout);
        free(table);
    }
    return exit_status(rc, quiet, out, hours, &e);
}
