/* test_readers.c - every reader opens only regular files
 * and reads no more than its format allows. Through the program ($COINBC),
 * each hostile input built here: a symlink to /dev/zero in place of a file
 * coinbc reads, a FIFO in place of one, a file larger than its cap. Every
 * command runs under `timeout`, so a read that hangs or grows without bound
 * fails the test (status 124) instead of blocking it; each must exit non-zero
 * with a message naming the file, leave its inputs byte-identical and write
 * nothing. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "run/run.h"
#include "tests/support/run.h"

#define TIMEOUT_S 20
#define NET "--net nature --channels 4,4,4 --hidden 8 --batch-levels 2 --batch-frames 4 --seed 3 --quiet"

static char err[8192];

/* `timeout coinbc ARGS` with stdin from `in`; stderr into err. The exit
 * status, 124 when the command had to be stopped. */
static int run_in(const char *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_in(const char *in, const char *fmt, ...) {
    char args[8192], cmd[9000], ef[] = "/tmp/coinbc_rd_err_XXXXXX";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int fd = mkstemp(ef);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "timeout -k 5 %d %s %s >/dev/null 2>%s <%s", TIMEOUT_S, test_coinbc(), args, ef, in);
    int st = system(cmd);
    err[0] = 0;
    FILE *f = fopen(ef, "rb");
    if (f) {
        size_t n = fread(err, 1, sizeof err - 1, f);
        err[n] = 0;
        fclose(f);
    }
    unlink(ef);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* ---- a snapshot of a folder tree: every entry, its type and its bytes ---- */

static char *snap_buf;
static size_t snap_len, snap_cap;
static size_t snap_root;

static int snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)type, (void)ftw;
    char line[4600];
    const char *rel = path + snap_root;
    /* the writer lock is no part of any format (docs/FORMATS.md) */
    if (!strcmp(path + ftw->base, ".coinbc-lock")) return 0;
    if (S_ISREG(st->st_mode)) {
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uLong crc = crc32(0, NULL, 0);
        unsigned char b[65536];
        size_t k;
        while ((k = fread(b, 1, sizeof b, f)) > 0) crc = crc32(crc, b, (uInt)k);
        fclose(f);
        snprintf(line, sizeof line, "%s f %lld %08lx\n", rel, (long long)st->st_size, crc);
    } else if (S_ISLNK(st->st_mode)) {
        char to[4096];
        ssize_t n = readlink(path, to, sizeof to - 1);
        to[n < 0 ? 0 : n] = 0;
        snprintf(line, sizeof line, "%s l %s\n", rel, to);
    } else {
        snprintf(line, sizeof line, "%s %c\n", rel, S_ISDIR(st->st_mode) ? 'd' : S_ISFIFO(st->st_mode) ? 'p' : '?');
    }
    size_t l = strlen(line);
    if (snap_len + l + 1 > snap_cap) {
        snap_cap = (snap_cap + l + 1) * 2;
        snap_buf = realloc(snap_buf, snap_cap);
        assert_non_null(snap_buf);
    }
    memcpy(snap_buf + snap_len, line, l + 1);
    snap_len += l;
    return 0;
}

static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the tree under dir as sorted lines (malloc'd); sparse files are read
 * through, so keep them small or give them as a FIFO/symlink instead */
static char *snapshot(const char *dir) {
    snap_buf = NULL, snap_len = snap_cap = 0, snap_root = strlen(dir);
    assert_int_equal(nftw(dir, snap_one, 16, FTW_PHYS), 0);
    int n = 0;
    for (size_t i = 0; i < snap_len; i++) n += snap_buf[i] == '\n';
    char **lines = calloc((size_t)n + 1, sizeof *lines);
    assert_non_null(lines);
    int k = 0;
    for (char *save = NULL, *l = strtok_r(snap_buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) lines[k++] = l;
    qsort(lines, (size_t)k, sizeof *lines, cmp_lines);
    char *out = malloc(snap_len + 2);
    assert_non_null(out);
    size_t o = 0;
    for (int i = 0; i < k; i++) o += (size_t)sprintf(out + o, "%s\n", lines[i]);
    out[o] = 0;
    free(lines);
    free(snap_buf);
    return out;
}

/* runs the command (stdin /dev/null) and checks the class's promises:
 * non-zero at once (not stopped by the timeout), the message names `file`,
 * the tree under dir unchanged */
static void refused(const char *dir, const char *file, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refused(const char *dir, const char *file, const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *before = snapshot(dir);
    int rc = run_in("/dev/null", "%s", args);
    char *after = snapshot(dir);
    printf("  %s -> %d: %s", args, rc, err);
    if (rc == 124 || rc == 137) fail_msg("coinbc %s did not end within %d s (a read that blocks or never ends)", args, TIMEOUT_S);
    if (rc == 0) fail_msg("coinbc %s: exit status 0 on a hostile %s", args, file);
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
        fail_msg("coinbc %s: a sanitizer report (under make SANITIZE=1): %s", args, err);
    if (!strstr(err, file)) fail_msg("coinbc %s: the message does not name %s: %s", args, file, err);
    if (strcmp(before, after)) fail_msg("coinbc %s changed its folder:\nbefore:\n%safter:\n%s", args, before, after);
    free(before);
    free(after);
}

static void must(int rc, const char *what) {
    if (rc) fail_msg("%s: status %d: %s", what, rc, err);
}

static void link_zero(const char *path) {
    unlink(path);
    assert_int_equal(symlink("/dev/zero", path), 0);
}

static void make_fifo(const char *path) {
    unlink(path);
    assert_int_equal(mkfifo(path, 0644), 0);
}

static void save(const char *path, const char *copy) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -p '%.4000s' '%.4000s'", path, copy);
    assert_int_equal(system(cmd), 0);
}

static void restore(const char *copy, const char *path) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -f '%.4000s' && mv '%.2000s' '%.2000s'", path, copy, path);
    assert_int_equal(system(cmd), 0);
}

/* ---- recordings and datasets (the common reader covers capture/ and dataset/) ---- */

static void test_recordings(void **st) {
    (void)st;
    char *d = test_tmpdir(), p[4200];
    must(run_in("/dev/null", "record --levels 0-1 --states 5 --threads 1 --quiet --out %s/rec", d), "record");
    snprintf(p, sizeof p, "%s/rec/level_0/actions.csv", d);
    link_zero(p);
    refused(d, "actions.csv", "capture %s/rec -o %s/out.cbd --quiet", d, d);
    must(run_in("/dev/null", "record --levels 0-1 --states 5 --threads 1 --quiet --force --out %s/rec", d), "record");
    snprintf(p, sizeof p, "%s/rec/level_1/frame_000001.png", d);
    make_fifo(p);
    refused(d, "frame_000001.png", "capture %s/rec -o %s/out.cbd --quiet", d, d);
    /* a level folder given on its own whose actions.csv is a FIFO, and a
     * FIFO given as an input */
    must(run_in("/dev/null", "record --levels 0-1 --states 5 --threads 1 --quiet --force --out %s/rec", d), "record");
    snprintf(p, sizeof p, "%s/rec/level_0/actions.csv", d);
    make_fifo(p);
    refused(d, "actions.csv", "capture %s/rec/level_0 -o %s/out.cbd --quiet", d, d);
    snprintf(p, sizeof p, "%s/episode.fifo", d);
    make_fifo(p);
    refused(d, "episode.fifo", "capture %s -o %s/out.cbd --quiet", p, d);
    test_rmtree(d);
    free(d);
}

static void test_dataset(void **st) {
    (void)st;
    char *d = test_tmpdir(), p[4200], c[4200];
    must(run_in("/dev/null", "record --levels 0-3 --states 5 --threads 1 --quiet --out %s/d.cbd", d), "record");
    snprintf(p, sizeof p, "%s/d.cbd/manifest.txt", d);
    snprintf(c, sizeof c, "%s/manifest.keep", d);
    save(p, c);
    link_zero(p);
    refused(d, "manifest.txt", "data verify %s/d.cbd --quiet", d);
    refused(d, "manifest.txt", "train %s/d.cbd " NET " --epochs 1 -o %s/run", d, d);
    restore(c, p);
    snprintf(p, sizeof p, "%s/d.cbd/level_1.cbs", d);
    snprintf(c, sizeof c, "%s/shard.keep", d);
    save(p, c);
    link_zero(p);
    refused(d, "level_1.cbs", "data verify %s/d.cbd --quiet", d);
    refused(d, "level_1.cbs", "train %s/d.cbd " NET " --epochs 1 -o %s/run", d, d);
    make_fifo(p);
    refused(d, "level_1.cbs", "data verify %s/d.cbd --quiet", d);
    restore(c, p);
    test_rmtree(d);
    free(d);
}

/* ---- run folders ---- */

/* d/d.cbd (levels 0-3) and d/run, trained `epochs` epochs */
static void make_run(const char *d, int epochs) {
    must(run_in("/dev/null", "record --levels 0-3 --states 5 --threads 1 --quiet --out %s/d.cbd", d), "record");
    must(run_in("/dev/null", "train %s/d.cbd " NET " --epochs %d -o %s/run", d, epochs, d), "train");
}

static void test_config_and_checkpoint(void **st) {
    (void)st;
    char *d = test_tmpdir(), p[4200], c[4200], l[4200];
    make_run(d, 1);
    /* config.json as /dev/zero and as a FIFO */
    snprintf(p, sizeof p, "%s/run/config.json", d);
    snprintf(c, sizeof c, "%s/config.keep", d);
    save(p, c);
    link_zero(p);
    refused(d, "config.json", "report %s/run -o %s/r.html", d, d);
    refused(d, "config.json", "report %s/run --json", d);
    refused(d, "config.json", "eval %s/run %s/d.cbd", d, d);
    refused(d, "config.json", "train %s/d.cbd " NET " --epochs 2 --resume -o %s/run", d, d);
    make_fifo(p);
    refused(d, "config.json", "report %s/run --json", d);
    /* an oversized config.json: the real one padded past the cap with
     * spaces (still valid JSON), refused unread */
    restore(c, p);
    save(p, c);
    FILE *f = fopen(p, "ab");
    assert_non_null(f);
    for (size_t i = 0; i < RUN_RECORD_MAX_BYTES; i++) fputc(' ', f);
    fclose(f);
    refused(d, "config.json", "report %s/run --json", d);
    refused(d, "config.json", "eval %s/run %s/d.cbd", d, d);
    restore(c, p);
    must(run_in("/dev/null", "report %s/run --json", d), "report of the restored run");

    /* --checkpoint: a symlink to /dev/zero, a FIFO */
    snprintf(l, sizeof l, "%s/zero.ckpt", d);
    link_zero(l);
    refused(d, "zero.ckpt", "eval %s/run %s/d.cbd --checkpoint %s", d, d, l);
    refused(d, "zero.ckpt", "rollout %s/run --levels 0-1 --episodes 1 --checkpoint %s", d, l);
    snprintf(l, sizeof l, "%s/fifo.ckpt", d);
    make_fifo(l);
    refused(d, "fifo.ckpt", "eval %s/run %s/d.cbd --checkpoint %s", d, d, l);
    refused(d, "fifo.ckpt", "rollout %s/run --levels 0-1 --episodes 1 --checkpoint %s", d, l);
    /* latest.ckpt as /dev/zero: the resume refuses it */
    snprintf(p, sizeof p, "%s/run/latest.ckpt", d);
    snprintf(c, sizeof c, "%s/latest.keep", d);
    save(p, c);
    link_zero(p);
    refused(d, "latest.ckpt", "train %s/d.cbd " NET " --epochs 2 --resume -o %s/run", d, d);
    /* oversized checkpoints: one byte more than the header implies, and
     * 64 MiB more (refused by its size before the body is read) */
    restore(c, p);
    snprintf(l, sizeof l, "%s/big.ckpt", d);
    save(p, l);
    f = fopen(l, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    refused(d, "big.ckpt", "eval %s/run %s/d.cbd --checkpoint %s", d, d, l);
    assert_non_null(strstr(err, "header"));
    f = fopen(l, "ab");
    assert_non_null(f);
    static char zero[1 << 16];
    for (int i = 0; i < 1024; i++) fwrite(zero, 1, sizeof zero, f);
    fclose(f);
    refused(d, "big.ckpt", "rollout %s/run --levels 0-1 --episodes 1 --checkpoint %s", d, l);
    /* a truncated one */
    assert_int_equal(truncate(l, 1000), 0);
    refused(d, "big.ckpt", "eval %s/run %s/d.cbd --checkpoint %s", d, d, l);
    unlink(l);
    test_rmtree(d);
    free(d);
}

static void test_metrics_and_records(void **st) {
    (void)st;
    char *d = test_tmpdir(), p[4200], c[4200];
    make_run(d, 3);
    /* metrics.jsonl with more epochs than config.json's: config.json says 1 */
    snprintf(p, sizeof p, "%s/run/config.json", d);
    snprintf(c, sizeof c, "%s/config.keep", d);
    save(p, c);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "sed -i 's/\"epochs\": 3,/\"epochs\": 1,/' '%s' && grep -q '\"epochs\": 1,' '%s'", p, p);
    assert_int_equal(system(cmd), 0);
    refused(d, "agreement.json", "report %s/run --json", d); /* 4 snapshots, 1 epoch allows 2 */
    char a[4200], ak[4200];
    snprintf(a, sizeof a, "%s/run/agreement.json", d);
    snprintf(ak, sizeof ak, "%s/agreement.keep", d);
    save(a, ak);
    unlink(a);
    refused(d, "metrics.jsonl", "report %s/run --json", d); /* 3 rows, 1 epoch */
    restore(ak, a);
    restore(c, p);
    must(run_in("/dev/null", "report %s/run --json", d), "report of the restored run");
    /* every other record of a run as /dev/zero, then as a FIFO */
    must(run_in("/dev/null", "eval %s/run %s/d.cbd --no-train", d, d), "eval");
    must(run_in("/dev/null", "rollout %s/run --levels 0-1 --episodes 1", d), "rollout");
    snprintf(p, sizeof p, "%s/run/eval.json", d);
    snprintf(c, sizeof c, "%s/run/relabeled.json", d); /* a probe file, in eval.json's format */
    save(p, c);
    must(run_in("/dev/null", "report %s/run --json", d), "report with every record");
    const char *files[] = {"metrics.jsonl", "metrics.csv",  "agreement.json", "eval.json",
                           "rollout.json",  "relabeled.json", "eval_frames.png"};
    for (int k = 0; k < 7; k++) {
        snprintf(p, sizeof p, "%s/run/%s", d, files[k]);
        snprintf(c, sizeof c, "%s/keep", d);
        save(p, c);
        link_zero(p);
        refused(d, files[k], "report %s/run -o %s/r.html", d, d);
        make_fifo(p);
        refused(d, files[k], "report %s/run --json", d);
        restore(c, p);
    }
    /* an oversized metrics.jsonl: 3 epochs allow 3 * 8 KiB */
    snprintf(p, sizeof p, "%s/run/metrics.jsonl", d);
    snprintf(c, sizeof c, "%s/keep", d);
    save(p, c);
    FILE *f = fopen(p, "ab");
    assert_non_null(f);
    for (size_t i = 0; i < 4 * RUN_METRICS_LINE_MAX_BYTES; i++) fputc(i % 100 == 99 ? '\n' : ' ', f);
    fclose(f);
    refused(d, "metrics.jsonl", "report %s/run --json", d);
    refused(d, "metrics.jsonl", "train %s/d.cbd " NET " --epochs 4 --resume -o %s/run", d, d);
    restore(c, p);
    test_rmtree(d);
    free(d);
}

/* ---- tune files and play's actions ---- */

static void test_tune_and_play(void **st) {
    (void)st;
    char *d = test_tmpdir(), p[4200];
    snprintf(p, sizeof p, "%s/study", d);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/study/trials.csv", d);
    link_zero(p);
    refused(d, "trials.csv", "report %s/study -o %s/r.html", d, d);
    make_fifo(p);
    refused(d, "trials.csv", "report %s/study -o %s/r.html", d, d);
    /* a trials.csv of a million empty lines and one header: no row array
     * sized by its lines (it reads, and has no trials) */
    unlink(p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("number,state,lr,value,epochs_run,seconds,run\n", f);
    for (int i = 0; i < 1000000; i++) fputc('\n', f);
    fclose(f);
    must(run_in("/dev/null", "report %s/study -o %s/r.html", d, d), "report of a tune folder of empty lines");
    snprintf(p, sizeof p, "%s/r.html", d);
    unlink(p);
    snprintf(p, sizeof p, "%s/study/trials.csv", d);
    unlink(p);
    /* tune: --space FILE as /dev/zero, a FIFO, too large; DIR/tune.json too large */
    must(run_in("/dev/null", "record --levels 0-3 --states 5 --threads 1 --quiet --out %s/d.cbd", d), "record");
    must(run_in("/dev/null", "record --levels 10-11 --states 5 --threads 1 --quiet --out %s/v.cbd", d), "record");
    snprintf(p, sizeof p, "%s/space.json", d);
    link_zero(p);
    refused(d, "space.json", "tune %s/d.cbd --val %s/v.cbd --method and --trials 1 --space %s -o %s/tn", d, d, p, d);
    make_fifo(p);
    refused(d, "space.json", "tune %s/d.cbd --val %s/v.cbd --method and --trials 1 --space %s -o %s/tn", d, d, p, d);
    unlink(p);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs("{\"version\": 1, \"methods\": {\"and\": {\"lr\": {\"log\": [1e-4, 3e-3]}}}}", f);
    for (size_t i = 0; i < RUN_TUNE_JSON_MAX_BYTES; i++) fputc(' ', f);
    fclose(f);
    refused(d, "space.json", "tune %s/d.cbd --val %s/v.cbd --method and --trials 1 --space %s -o %s/tn", d, d, p, d);
    unlink(p);
    snprintf(p, sizeof p, "%s/tn", d);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/tn/tune.json", d);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs("{}", f);
    for (size_t i = 0; i < RUN_TUNE_JSON_MAX_BYTES; i++) fputc(' ', f);
    fclose(f);
    refused(d, "tune.json", "tune %s/d.cbd --val %s/v.cbd --method and --trials 1 -o %s/tn", d, d, d);
    unlink(p);
    /* play: an actions file as /dev/zero or a FIFO, endless stdin */
    snprintf(p, sizeof p, "%s/actions.txt", d);
    link_zero(p);
    refused(d, "actions.txt", "play --seed 1 --actions %s", p);
    make_fifo(p);
    refused(d, "actions.txt", "play --seed 1 --actions %s", p);
    char *before = snapshot(d);
    int rc = run_in("/dev/zero", "play --seed 1 --actions -");
    printf("  play --actions - </dev/zero -> %d: %s", rc, err);
    assert_true(rc != 0 && rc != 124 && rc != 137);
    assert_non_null(strstr(err, "stdin"));
    char *after = snapshot(d);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* stdin on purpose still works */
    unlink(p);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs("7 7 7 # right\n4\n", f);
    fclose(f);
    assert_int_equal(run_in(p, "play --seed 1 --actions -"), 0);
    test_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recordings),
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_config_and_checkpoint),
        cmocka_unit_test(test_metrics_and_records),
        cmocka_unit_test(test_tune_and_play),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
