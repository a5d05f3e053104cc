/* test_hostile.c - small files that inflate to gigabytes. An
 * .npz made like numpy's savez_compressed of zeros (ratio ~1029, under the
 * zip-bomb check) and a dataset whose shard holds a very long level; capture
 * and `data verify` run in child processes whose peak RSS (wait4) must stay
 * under a bound that does not depend on the episode's length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "dataset/dataset.h"
#include "tests/support/run.h"

#define RSS_BOUND_KB (96 * 1024) /* far under one copy of the largest episode below */

static void w16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, v & 0xFFFF), w16(p + 2, v >> 16); }

/* An .npy header for a C-order array. */
static size_t npy_header(uint8_t *h, const char *descr, const char *shape) {
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    w16(h + 8, (uint32_t)(total - 10));
    memset(h + 10, ' ', total - 10);
    memcpy(h + 10, dict, (size_t)n);
    h[total - 1] = '\n';
    return total;
}

typedef struct {
    FILE *f;
    uint32_t off;
    int n;
    struct {
        char name[32];
        uint32_t crc, csize, usize, off;
        int method;
    } m[8];
} zipw;

static void zip_member(zipw *z, const char *name, int method, const uint8_t *data, uint32_t csize, uint32_t usize,
                       uint32_t crc) {
    uint8_t h[30] = {0};
    size_t nl = strlen(name);
    w32(h, 0x04034b50);
    w16(h + 4, 20);
    w16(h + 8, (uint32_t)method);
    w32(h + 14, crc);
    w32(h + 18, csize);
    w32(h + 22, usize);
    w16(h + 26, (uint32_t)nl);
    fwrite(h, 1, 30, z->f);
    fwrite(name, 1, nl, z->f);
    if (data) fwrite(data, 1, csize, z->f);
    snprintf(z->m[z->n].name, sizeof z->m[z->n].name, "%s", name);
    z->m[z->n].crc = crc, z->m[z->n].csize = csize, z->m[z->n].usize = usize, z->m[z->n].off = z->off;
    z->m[z->n].method = method;
    z->n++;
    z->off += 30 + (uint32_t)nl + csize;
}

static void zip_finish(zipw *z) {
    uint32_t cd = z->off, cdn = 0;
    for (int i = 0; i < z->n; i++) {
        uint8_t h[46] = {0};
        size_t nl = strlen(z->m[i].name);
        w32(h, 0x02014b50);
        w16(h + 4, 20);
        w16(h + 6, 20);
        w16(h + 10, (uint32_t)z->m[i].method);
        w32(h + 16, z->m[i].crc);
        w32(h + 20, z->m[i].csize);
        w32(h + 24, z->m[i].usize);
        w16(h + 28, (uint32_t)nl);
        w32(h + 42, z->m[i].off);
        fwrite(h, 1, 46, z->f);
        fwrite(z->m[i].name, 1, nl, z->f);
        cdn += 46 + (uint32_t)nl;
    }
    uint8_t e[22] = {0};
    w32(e, 0x06054b50);
    w16(e + 8, (uint32_t)z->n);
    w16(e + 10, (uint32_t)z->n);
    w32(e + 12, cdn);
    w32(e + 16, cd);
    fwrite(e, 1, 22, z->f);
}

/* A stored member of T zeros of `bytes` each. */
static void zeros_member(zipw *z, const char *name, const char *descr, int bytes, int64_t T) {
    uint8_t h[256];
    char shape[64];
    snprintf(shape, sizeof shape, "(%lld,)", (long long)T);
    size_t hn = npy_header(h, descr, shape);
    size_t n = hn + (size_t)T * (size_t)bytes;
    uint8_t *buf = calloc(1, n);
    assert_non_null(buf);
    memcpy(buf, h, hn);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)n);
    zip_member(z, name, 0, buf, (uint32_t)n, (uint32_t)n, crc);
    free(buf);
}

/* observations (T+1, 64, 64, 3) of zeros, deflated at level 9 like
 * savez_compressed; the 1 MiB runs of zeros are encoded once after a full
 * flush (no reference reaches before it) and that encoding repeated. */
static void write_bomb(const char *path, int64_t T) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    zipw z = {.f = f};
    uint8_t h[256];
    char shape[64];
    snprintf(shape, sizeof shape, "(%lld, 64, 64, 3)", (long long)(T + 1));
    size_t hn = npy_header(h, "|u1", shape);
    uint64_t zeros = (uint64_t)(T + 1) * 64 * 64 * 3, usize = hn + zeros;
    assert_true(usize < 0xFFFFFFFFu);
    const size_t MB = 1 << 20;
    uint8_t *zero = calloc(1, MB), *cbuf = malloc(4 * MB);
    assert_true(zero && cbuf);
    /* the compressed member is collected in memory (about usize / 1029 bytes) */
    size_t cap = (size_t)(usize / 900) + 8 * MB, cn = 0;
    uint8_t *comp = malloc(cap);
    assert_non_null(comp);
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
#define PUSH(in, len, flush)                                          \
    do {                                                              \
        s.next_in = (Bytef *)(in), s.avail_in = (uInt)(len);          \
        do {                                                          \
            s.next_out = comp + cn, s.avail_out = (uInt)(cap - cn);   \
            deflate(&s, flush);                                       \
            cn = cap - s.avail_out;                                   \
        } while (s.avail_in || s.avail_out == 0);                     \
    } while (0)
    PUSH(h, hn, Z_FULL_FLUSH);
    uint64_t left = zeros;
    uint8_t *unit = NULL;
    size_t unit_n = 0;
    uint32_t crc = (uint32_t)crc32(0, h, (uInt)hn), crc_mb = (uint32_t)crc32(0, zero, (uInt)MB);
    for (int i = 0; left > MB; i++, left -= MB) {
        if (i < 2) {
            size_t before = cn;
            PUSH(zero, MB, Z_FULL_FLUSH);
            if (i == 1) { /* the steady-state encoding of 1 MiB of zeros */
                unit_n = cn - before;
                unit = malloc(unit_n);
                assert_non_null(unit);
                memcpy(unit, comp + before, unit_n);
            }
        } else {
            assert_true(cn + unit_n < cap);
            memcpy(comp + cn, unit, unit_n);
            cn += unit_n;
        }
        crc = (uint32_t)crc32_combine(crc, crc_mb, (z_off_t)MB);
    }
    PUSH(zero, left, Z_FINISH);
    crc = (uint32_t)crc32(crc, zero, (uInt)left);
    deflateEnd(&s);
    zip_member(&z, "observations.npy", 8, comp, (uint32_t)cn, (uint32_t)usize, crc);
    zeros_member(&z, "actions.npy", "<i8", 8, T);
    zeros_member(&z, "rewards.npy", "<f4", 4, T);
    zeros_member(&z, "dones.npy", "|b1", 1, T);
    zip_finish(&z);
    fclose(f);
    free(unit);
    free(comp);
    free(zero);
    free(cbuf);
}

static char errpath[4300];

/* Runs `coinbc ARGS` in a child (stderr to errpath); its exit status, and its peak RSS in KiB. */
static int run_rss(long *maxrss_kb, const char *fmt, ...) {
    char args[8192], cmd[13000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>%s", test_coinbc(), args, errpath);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid) return -1;
    *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_npz_bomb_bounded(void **st) {
    (void)st;
    char *d = test_tmpdir();
    snprintf(errpath, sizeof errpath, "%s/err", d);
    /* just over the limit and 8x over it: the same bounded memory, a clear refusal */
    const int64_t Ts[2] = {6000, 40000};
    for (int k = 0; k < 2; k++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/20240101-000000_0_%lld_7_0.00.npz", d, (long long)Ts[k]);
        write_bomb(p, Ts[k]);
        long rss = 0;
        int rc = run_rss(&rss, "capture %s -o %s/out%d.cbd --quiet", p, d, k);
        char msg[2048] = "";
        FILE *f = fopen(errpath, "rb");
        if (f) {
            msg[fread(msg, 1, sizeof msg - 1, f)] = 0;
            fclose(f);
        }
        print_message("npz of %lld steps (%lld MB inflated): exit %d, peak RSS %ld KB: %s", (long long)Ts[k],
                      (long long)((Ts[k] + 1) * 12288 >> 20), rc, rss, msg);
        assert_int_equal(rc, 1);
        if (!strstr(msg, "at most 5000 steps")) fail_msg("no clear limit in: %s", msg);
        if (rss > RSS_BOUND_KB) fail_msg("peak RSS %ld KB for T=%lld (bound %d KB)", rss, (long long)Ts[k], RSS_BOUND_KB);
    }
    test_rmtree(d);
    free(d);
}

/* data verify streams a level: its memory does not follow the level's length. */
static void test_verify_bounded(void **st) {
    (void)st;
    char *d = test_tmpdir();
    snprintf(errpath, sizeof errpath, "%s/err", d);
    char p[4300];
    snprintf(p, sizeof p, "%s/long.cbd", d);
    const int64_t n = 16000; /* 196 MB of frames in a ~1 MB shard */
    /* written by a child, so that this process (whose RSS the verify child
     * starts with at fork) never holds the level; ASan would keep it resident */
    pid_t pid = fork();
    if (pid == 0) {
        ds_level l;
        cb_err e = {0};
        if (ds_level_alloc(&l, 3, 0, n, &e)) _exit(1);
        memset(l.frames, 0, (size_t)n * CB_FRAME_BYTES);
        for (int64_t t = 0; t < n; t++) {
            l.label[t] = l.action[t] = (uint8_t)(t % 15);
            l.reward[t] = 0;
            l.done[t] = 0;
            l.episode[t] = 0;
            l.step[t] = (int32_t)t;
        }
        ds_writer *w;
        if (ds_writer_open(&w, p, 0, "test", "test", &e)) _exit(2);
        ds_writer_set_compression(w, 0, 1);
        if (ds_writer_add(w, &l, &e) || ds_writer_commit(w, &e)) _exit(3);
        ds_level_free(&l);
        _exit(0);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    long rss = 0;
    int rc = run_rss(&rss, "data verify %s --quiet", p);
    print_message("verify of a %lld-frame level: exit %d, peak RSS %ld KB\n", (long long)n, rc, rss);
    assert_int_equal(rc, 0);
    if (rss > RSS_BOUND_KB) fail_msg("peak RSS %ld KB (bound %d KB)", rss, RSS_BOUND_KB);
    test_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npz_bomb_bounded),
        cmocka_unit_test(test_verify_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
