/* test_mpi.c - coinbc under mpirun (docs/MPI.md), 2 ranks on localhost:
 * the ordered combine against one process on random gradients (sign counts
 * exact, outputs bit-identical), train mean and AND bit-identical to one
 * process and resumed with another rank count, record, eval, rollout and
 * appearance byte-identical to one process, an L that 2 ranks cannot split refused, a
 * rank killed mid-run and a rank that hangs end the job with a message
 * naming them, and so does a rank that fails on its own. Skipped (each test says so) in a build without MPI=1 or
 * without mpirun; the program runs itself under mpirun for the combine. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/run.h"
#include "train/train.h"

static char *dir;       /* the test's folder: data and outputs */
static char self[4096]; /* this program, for the mpirun child */
#define MPIRUN "mpirun -n 2 --oversubscribe --bind-to none"

static int available(void) {
    if (!cb_dist_compiled()) {
        printf("skipped: coinbc was built without MPI=1\n");
        return 0;
    }
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("skipped: no mpirun on PATH\n");
        return 0;
    }
    return 1;
}

/* runs a shell command in dir; its exit status */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char c[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c, sizeof c, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && { %s ; }", dir, c);
    int st = system(full);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static int setup(void **state) {
    (void)state;
    if (!cb_dist_compiled()) return 0;
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    dir = test_tmpdir();
    if (!dir) return -1;
    /* absolute path of coinbc: the commands run in dir */
    char *abs = realpath(test_coinbc(), NULL);
    if (!abs) return -1;
    setenv("COINBC", abs, 1);
    free(abs);
    const char *c = test_coinbc();
    if (sh("%s record --levels 0-7 --states 40 --out d.cbd --quiet --threads 1 >/dev/null", c) ||
        sh("%s record --levels 100-104 --states 30 --out v.cbd --quiet --threads 1 >/dev/null", c))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (dir && !getenv("TEST_MPI_KEEP")) test_rmtree(dir);
    else if (dir) printf("kept %s\n", dir);
    free(dir);
    return 0;
}

#define TRAIN_ARGS "d.cbd --val v.cbd --net nature --channels 4,8,8 --hidden 16 --batch-levels 4 --batch-frames 4 " \
                   "--threads 1 --quiet --epochs 2"

/* the checkpoints, config.json and agreement.json of one process and of 2 ranks are the same bytes */
static void train_same_with(const char *method, const char *extra) {
    const char *c = test_coinbc();
    assert_int_equal(sh("rm -rf one_%s two_%s", method, method), 0);
    assert_int_equal(sh("%s train " TRAIN_ARGS " --method %s %s -o one_%s >/dev/null", c, method, extra, method), 0);
    assert_int_equal(sh(MPIRUN " %s train " TRAIN_ARGS " --method %s %s -o two_%s >/dev/null", c, method, extra, method),
                     0);
    assert_int_equal(sh("cmp one_%s/latest.ckpt two_%s/latest.ckpt", method, method), 0);
    assert_int_equal(sh("cmp one_%s/best.ckpt two_%s/best.ckpt", method, method), 0);
    assert_int_equal(sh("cmp one_%s/config.json two_%s/config.json", method, method), 0);
    assert_int_equal(sh("cmp one_%s/agreement.json two_%s/agreement.json", method, method), 0); /* sign sums, exact */
    /* validation accuracy and mask densities per epoch: equal (timings and the last bits of the losses may differ) */
    assert_int_equal(sh("cut -d, -f1,2,6 one_%s/metrics.csv > a.txt && cut -d, -f1,2,6 two_%s/metrics.csv > b.txt && "
                        "cmp a.txt b.txt && cut -d, -f9- one_%s/metrics.csv > a.txt && cut -d, -f9- two_%s/metrics.csv > b.txt && "
                        "cmp a.txt b.txt", method, method, method, method),
                     0);
}

static void train_same(const char *method) { train_same_with(method, ""); }

static void test_train_mean(void **state) {
    (void)state;
    if (!available()) skip();
    train_same("mean");
}

static void test_train_and(void **state) {
    (void)state;
    if (!available()) skip();
    train_same("and");
}

/* epoch sampling (every frame once an epoch, the paper protocol's) splits over ranks as replace does */
static void test_train_sampling_epoch(void **state) {
    (void)state;
    if (!available()) skip();
    train_same_with("and", "--sampling epoch");
    train_same_with("tand", "--sampling epoch --beta1 0.5");
}

/* a run stopped at step 5 under 2 ranks resumes in one process, and one
 * stopped in one process resumes under 2 ranks: both end as the run that
 * never stopped */
static void test_resume_other_ranks(void **state) {
    (void)state;
    if (!available()) skip();
    const char *c = test_coinbc();
    assert_int_equal(sh("%s train " TRAIN_ARGS " --method and -o r_ref >/dev/null", c), 0);
    assert_int_equal(sh(MPIRUN " %s train " TRAIN_ARGS " --method and --max-steps 5 -o r21 >/dev/null", c), 0);
    /* (a resume keeps the run's --max-steps unless given: 0 lifts it) */
    assert_int_equal(sh("%s train " TRAIN_ARGS " --method and --resume --max-steps 0 -o r21 >/dev/null", c), 0);
    assert_int_equal(sh("cmp r_ref/latest.ckpt r21/latest.ckpt"), 0);
    assert_int_equal(sh("%s train " TRAIN_ARGS " --method and --max-steps 7 -o r12 >/dev/null", c), 0);
    assert_int_equal(sh(MPIRUN " %s train " TRAIN_ARGS " --method and --resume --max-steps 0 -o r12 >/dev/null", c), 0);
    assert_int_equal(sh("cmp r_ref/latest.ckpt r12/latest.ckpt"), 0);
}

static void test_uneven_split_refused(void **state) {
    (void)state;
    if (!available()) skip();
    const char *c = test_coinbc();
    int st = sh(MPIRUN " %s train d.cbd --net nature --channels 4,8,8 --hidden 16 --batch-levels 3 --batch-frames 4 "
                "--threads 1 --quiet --epochs 1 -o uneven >out.txt 2>err.txt", c);
    assert_int_not_equal(st, 0);
    assert_int_equal(sh("grep -q 'batch-levels 3 cannot be split over 2 ranks' err.txt"), 0);
    assert_int_not_equal(sh("test -e uneven/latest.ckpt"), 0);
}

static void test_record_same(void **state) {
    (void)state;
    if (!available()) skip();
    const char *c = test_coinbc();
    const char *a = "record --levels 10-14 --states 25 --noise 0.2 --seed 3 --quiet --threads 1";
    assert_int_equal(sh("mkdir -p p1 p2 && cd p1 && %s %s --out rec >/dev/null && %s %s --out rec.cbd >/dev/null", c, a, c, a), 0);
    assert_int_equal(sh("cd p2 && " MPIRUN " %s %s --out rec >/dev/null && " MPIRUN " %s %s --out rec.cbd >/dev/null", c, a,
                        c, a),
                     0);
    assert_int_equal(sh("diff -r p1/rec p2/rec >/dev/null && diff -r p1/rec.cbd p2/rec.cbd >/dev/null"), 0);
    assert_int_equal(sh("test -e p2/rec/level_14/meta.json && test -e p2/rec/meta.json"), 0);
}

static void test_eval_rollout_same(void **state) {
    (void)state;
    if (!available()) skip();
    const char *c = test_coinbc();
    if (sh("test -e one_and/best.ckpt")) assert_int_equal(sh("%s train " TRAIN_ARGS " --method and -o one_and >/dev/null", c), 0);
    const char *r = "rollout one_and --levels 200-208 --episodes 2 --sample --seed 5 --quiet --threads 1";
    assert_int_equal(sh("%s eval one_and v.cbd --quiet > e1.txt && cp one_and/eval.json e1.json && "
                        "cp one_and/eval_frames.png e1.png && %s %s --film f1.gif > r1.txt && cp one_and/rollout.json r1.json",
                        c, c, r),
                     0);
    assert_int_equal(sh(MPIRUN " %s eval one_and v.cbd --quiet > e2.txt && " MPIRUN " %s %s --film f2.gif > r2.txt", c, c, r), 0);
    assert_int_equal(sh("cmp e1.txt e2.txt && cmp e1.json one_and/eval.json && cmp e1.png one_and/eval_frames.png"), 0);
    assert_int_equal(sh("cmp r1.txt r2.txt && cmp r1.json one_and/rollout.json && cmp f1.gif f2.gif"), 0);
}

/* the appearance probe: offline levels and closed-loop episodes split
 * between the ranks; the same record, table (its timings aside) and strip
 * of example frames (FILE.png beside FILE.json, drawn by rank 0) */
static void test_appearance_same(void **state) {
    (void)state;
    if (!available()) skip();
    const char *c = test_coinbc();
    if (sh("test -e one_and/best.ckpt")) assert_int_equal(sh("%s train " TRAIN_ARGS " --method and -o one_and >/dev/null", c), 0);
    const char *a = "appearance one_and --levels 300-304 --states 6 --donors 2 --seed 3 --threads 1";
    assert_int_equal(sh("rm -f a1.png a2.png && %s %s -o a1.json | grep -v ' s closed loop' | grep -v ^wrote > a1.txt && " MPIRUN
                        " %s %s -o a2.json | grep -v ' s closed loop' | grep -v ^wrote > a2.txt",
                        c, a, c, a),
                     0);
    assert_int_equal(sh("cmp a1.json a2.json && cmp a1.txt a2.txt && grep -q 'closed loop: greedy' a1.txt"), 0);
    assert_int_equal(sh("grep -q '\"strip\"' a1.json && test -s a1.png && cmp a1.png a2.png"), 0);
}

/* pid of the coinbc process that is rank `rank` of the job, or 0 */
static pid_t find_rank(int rank, const char *run) {
    char cmd[4400], line[64];
    snprintf(cmd, sizeof cmd,
             "for p in $(pgrep -f 'coinbc train .*-o %s'); do tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | "
             "grep -qx OMPI_COMM_WORLD_RANK=%d && echo $p; done | head -1",
             run, rank);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    pid_t p = fgets(line, sizeof line, f) ? (pid_t)atoi(line) : 0;
    pclose(f);
    return p;
}

static pid_t start_long_run(const char *run, const char *errfile, const char *extra_env) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec env %s " MPIRUN " %s train " TRAIN_ARGS " --epochs 100000 --method and -o %s >/dev/null 2>%s",
             dir, extra_env, test_coinbc(), run, errfile);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* waits for pid up to limit seconds; its status, or -2 when it is still running (then killed) */
static int wait_limited(pid_t pid, double limit) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) > limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -2;
        }
        usleep(50000);
    }
}

/* waits until file exists (up to limit s) */
static int wait_file(const char *path, double limit) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    for (int i = 0; i < (int)(limit * 20); i++) {
        if (access(p, F_OK) == 0) return 0;
        usleep(50000);
    }
    return -1;
}

/* rank 1 killed (SIGKILL) after the first epoch: the job ends with an error
 * naming the rank within 30 s, and the run resumes from its last commit */
static void test_rank_killed(void **state) {
    (void)state;
    if (!available()) skip();
    pid_t job = start_long_run("killed", "killed.err", "");
    assert_int_equal(wait_file("killed/latest.ckpt", 120), 0);
    pid_t r1 = find_rank(1, "killed");
    assert_true(r1 > 0);
    assert_int_equal(kill(r1, SIGKILL), 0);
    int st = wait_limited(job, 30);
    assert_true(st != -2); /* ended, not hung */
    assert_int_not_equal(st, 0);
    assert_int_equal(sh("grep -qi 'rank 1' killed.err"), 0);
    assert_int_equal(sh("pgrep -f '[c]oinbc train .*-o killed' >/dev/null"), 1); /* no rank left behind */
    /* the last commit resumes (one process, a few more steps) */
    assert_int_equal(sh("%s train " TRAIN_ARGS " --epochs 100000 --method and --resume --max-steps 40 -o killed >/dev/null",
                        test_coinbc()),
                     0);
}

/* rank 1 stopped (SIGSTOP, a hung peer): rank 0's watchdog ends the job
 * after COINBC_DIST_TIMEOUT (2 s here) with a message naming it */
static void test_rank_hung(void **state) {
    (void)state;
    if (!available()) skip();
    pid_t job = start_long_run("hung", "hung.err", "COINBC_DIST_TIMEOUT=2");
    assert_int_equal(wait_file("hung/latest.ckpt", 120), 0);
    pid_t r1 = find_rank(1, "hung");
    assert_true(r1 > 0);
    assert_int_equal(kill(r1, SIGSTOP), 0);
    int st = wait_limited(job, 60);
    kill(r1, SIGKILL); /* in case mpirun left it */
    assert_true(st != -2);
    assert_int_not_equal(st, 0);
    assert_int_equal(sh("grep -q 'rank 0 of 2: no answer from the other ranks' hung.err"), 0);
}

/* rank 1 hits an error of its own (a damaged validation shard in its
 * share): every rank ends within 60 s, the message names rank 1 and the
 * shard, and nothing is committed */
static void test_rank_error(void **state) {
    (void)state;
    if (!available()) skip();
    assert_int_equal(sh("cp -r v.cbd vbad.cbd && printf 'XXXX' | dd of=vbad.cbd/level_104.cbs bs=1 seek=200 conv=notrunc "
                        "2>/dev/null"),
                     0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec " MPIRUN " %s train d.cbd --val vbad.cbd --net nature --channels 4,8,8 "
             "--hidden 16 --batch-levels 4 --batch-frames 4 --threads 1 --quiet --epochs 3 -o errrun >/dev/null 2>err1.txt",
             dir, test_coinbc());
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = wait_limited(pid, 60);
    assert_true(st != -2);
    assert_int_not_equal(st, 0);
    assert_int_equal(sh("grep 'rank 1 of 2' err1.txt | grep -q 'level_104'"), 0);
    assert_int_not_equal(sh("test -e errrun/latest.ckpt"), 0);
}

/* ---- the combine, run by this program as 2 ranks (argv[1] == "--combine") ---- */

/* random gradients with many ties in sign (zeros) and a wide range of magnitudes */
static void fill(float *g, size_t n, uint64_t seed) {
    cb_rng r;
    cb_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = cb_rng_below(&r, 10);
        double u = cb_rng_uniform(&r) - 0.5;
        g[i] = k == 0 ? 0.0f : (float)(u * pow(10.0, (double)cb_rng_below(&r, 12) - 8));
    }
}

static int combine_child(void) {
    cb_err e = {0};
    int argc = 0;
    char **argv = NULL;
    if (cb_dist_init(&argc, &argv, &e) || cb_dist_size() != 2) return 3;
    model_tensor T[3] = {{.name = "a.w", .off = 0, .size = 1000}, {.name = "a.b", .off = 1000, .size = 7},
                         {.name = "b.w", .off = 1007, .size = 20000}};
    const size_t P = 21007;
    const int L = 8, nl = L / 2, l0 = cb_dist_rank() * nl;
    float *all = malloc(sizeof(float) * P * L), *mine = malloc(sizeof(float) * P * L), *o1 = malloc(sizeof(float) * P),
          *o2 = malloc(sizeof(float) * P);
    double *sum = malloc(sizeof(double) * P);
    int32_t *cnt = malloc(sizeof(int32_t) * P), *cnt1 = malloc(sizeof(int32_t) * P);
    if (!all || !mine || !o1 || !o2 || !sum || !cnt || !cnt1) return 3;
    fill(all, P * L, 42);
    int bad = 0;
    for (int method = 0; method < TRAIN_NMETHODS; method++) {
        train_combine_opts o = {.method = method, .tau = 0.6, .sand_k = 1, .rescale = 1, .threads = 1};
        float d1[3], d2[3];
        if (train_combine(o1, d1, all, L, P, T, 3, &o, &e)) return 4;
        memset(mine, 0xff, sizeof(float) * P * L); /* NaN: another rank's levels must never be read */
        memcpy(mine + (size_t)l0 * P, all + (size_t)l0 * P, sizeof(float) * P * nl);
        if (train_combine_dist(o2, d2, mine, L, l0, nl, P, T, 3, &o, sum, cnt, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 4;
        }
        if (memcmp(o1, o2, sizeof(float) * P) || memcmp(d1, d2, sizeof d1)) {
            fprintf(stderr, "method %d: 2 ranks differ from one process\n", method);
            bad = 1;
        }
        if (method == TRAIN_AND) { /* the reduced sign counts are the counts over all L levels */
            for (size_t i = 0; i < P; i++) {
                cnt1[i] = 0;
                for (int l = 0; l < L; l++) cnt1[i] += (all[l * P + i] > 0) - (all[l * P + i] < 0);
            }
            if (memcmp(cnt, cnt1, sizeof(int32_t) * P)) {
                fprintf(stderr, "sign counts differ\n");
                bad = 1;
            }
        }
    }
    /* a non-finite gradient in rank 1's level 6 is reported by every rank, naming it */
    all[6 * P + 1500] = INFINITY;
    memcpy(mine + (size_t)l0 * P, all + (size_t)l0 * P, sizeof(float) * P * nl);
    train_combine_opts o = {.method = TRAIN_AND, .tau = 0.6, .rescale = 1, .threads = 1};
    int rc = train_combine_dist(o2, NULL, mine, L, l0, nl, P, T, 3, &o, sum, cnt, &e);
    if (rc != CB_ERANGE || !strstr(e.msg, "level 6") || !strstr(e.msg, "b.w") || !strstr(e.msg, "rank 1")) {
        fprintf(stderr, "rank %d: non-finite gradient: rc %d, '%s'\n", cb_dist_rank(), rc, e.msg);
        bad = 1;
    }
    cb_dist_finalize();
    return bad ? 5 : 0;
}

static void test_combine_two_ranks(void **state) {
    (void)state;
    if (!available()) skip();
    assert_int_equal(sh(MPIRUN " '%s' --combine", self), 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--combine")) return combine_child();
    char *abs = realpath(argv[0], NULL);
    snprintf(self, sizeof self, "%s", abs ? abs : argv[0]);
    free(abs);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine_two_ranks), cmocka_unit_test(test_train_mean),
        cmocka_unit_test(test_train_and),
        cmocka_unit_test(test_train_sampling_epoch),
        cmocka_unit_test(test_resume_other_ranks),
        cmocka_unit_test(test_uneven_split_refused), cmocka_unit_test(test_record_same),
        cmocka_unit_test(test_eval_rollout_same), cmocka_unit_test(test_appearance_same),
        cmocka_unit_test(test_rank_killed),
        cmocka_unit_test(test_rank_hung),         cmocka_unit_test(test_rank_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
