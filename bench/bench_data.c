/* bench_data.c - dataset codec: what the inter-frame filter buys (size and
 * time, filter on vs off on the same levels in one run) and how fast levels
 * load on 1 thread vs all cores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "capture/record.h"
#include "dataset/dataset.h"
#include "game/game.h"

#include <zlib.h>

/* bench data's dataset: --data's, or one recorded into a temporary folder */
typedef struct {
    const char *data; /* the dataset measured */
    char tmp[sizeof "/tmp/coinbc_bench_XXXXXX"], path[256]; /* the folder recorded into, the dataset in it */
} data_args;

/* the dataset's levels, loaded by the load timing */
typedef struct {
    ds_reader *r;
    int n;
    int32_t *seeds;
    ds_level *lv; /* n levels */
} data_levels;

/* the options into *a: -1 to go on, else the exit status (0 after --help) */
static int parse_data_args(int argc, char **argv, data_args *a) {
    *a = (data_args){.data = NULL, .tmp = "/tmp/coinbc_bench_XXXXXX"};
    cb_opt opts[] = {{"data", CB_OPT_STR, &a->data, "DATA.cbd", "dataset to measure (default: record 16 easy levels x 1000)", 0}};
    cb_cmd_info info = {"bench data", "Dataset codec: compression with and without the inter-frame filter, load speed.",
                         "coinbc bench data [--data DATA.cbd]", NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    return -1;
}

/* without --data, 16 easy levels x 1000 states recorded into a->tmp:
 * 0, or the exit status after a message */
static int record_default(data_args *a, cb_err *e) {
    if (!mkdtemp(a->tmp)) return bench_error("bench data", "cannot make a temporary folder");
    snprintf(a->path, sizeof a->path, "%s/b.cbd", a->tmp);
    ds_writer *w;
    if (ds_writer_open(&w, a->path, 0, "bench", "bench data", e)) return bench_fail("bench data", e);
    capture_record_opts o = {.lo = 0, .hi = 15, .mode = GAME_EASY, .states = 1000, .noise = 0.1, .seed = 1,
                             .threads = cb_default_threads(), .dataset = w};
    capture_record_summary s;
    if (capture_record(&o, &s, e) || ds_writer_commit(w, e)) return bench_fail("bench data", e);
    a->data = a->path;
    return 0;
}

/* the dataset opened, its seeds read and room for its levels: 0, or the
 * exit status after a message */
static int open_levels(const char *data, data_levels *d, cb_err *e) {
    if (ds_open(&d->r, data, e)) return bench_fail("bench data", e);
    d->n = ds_nlevels(d->r);
    d->seeds = malloc(sizeof(int32_t) * (size_t)d->n);
    d->lv = calloc((size_t)d->n, sizeof *d->lv);
    for (int i = 0; i < d->n; i++) d->seeds[i] = ds_level_seed(d->r, i);
    return 0;
}

/* the loaded levels freed (the array stays) */
static void free_levels(data_levels *d) {
    for (int i = 0; i < d->n; i++) ds_level_free(&d->lv[i]);
}

/* the best of two loads on 1 thread and on all cores, in seconds, into *t1
 * and *t2 (kept if lower); the levels stay loaded: 0, or the exit status
 * after a message */
static int time_loads(data_levels *d, double *t1, double *t2, cb_err *e) {
    /* one untimed load first, so both timed loads find the files in the page
     * cache and reuse memory the allocator already has */
    if (ds_load(d->r, d->seeds, d->n, d->lv, cb_default_threads(), e)) return bench_fail("bench data", e);
    free_levels(d);
    for (int rep = 0; rep < 2; rep++) { /* best of two, alternating */
        double t0 = cb_now();
        if (ds_load(d->r, d->seeds, d->n, d->lv, 1, e)) return bench_fail("bench data", e);
        double dt = cb_now() - t0;
        *t1 = dt < *t1 ? dt : *t1;
        free_levels(d);
        t0 = cb_now();
        if (ds_load(d->r, d->seeds, d->n, d->lv, cb_default_threads(), e)) return bench_fail("bench data", e);
        dt = cb_now() - t0;
        *t2 = dt < *t2 ? dt : *t2;
        if (rep == 0) free_levels(d);
    }
    return 0;
}

/* zlib `level` over every level without and with the inter-frame filter,
 * sizes and encode and decode rates on a line: 0, or the exit status after
 * a message */
static int time_codec(const data_levels *d, int level, double raw, cb_err *e) {
    size_t bytes[2] = {0, 0};
    double enc[2] = {0, 0}, dec[2] = {0, 0};
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < d->n; i++) {
            uint8_t *buf;
            size_t len;
            double a = cb_now();
            if (ds_shard_encode(&d->lv[i], f, level, &buf, &len, e)) return bench_fail("bench data", e);
            double b = cb_now();
            ds_level back;
            if (ds_shard_decode(buf, len, "bench", &back, e)) return bench_fail("bench data", e);
            double c = cb_now();
            enc[f] += b - a;
            dec[f] += c - b;
            bytes[f] += len;
            ds_level_free(&back);
            free(buf);
        }
    printf("zlib level %d: no filter %.1f MB (%.1fx, encode %.0f MB/s, decode %.0f MB/s); "
           "inter-frame filter %.1f MB (%.1fx, encode %.0f MB/s, decode %.0f MB/s): filtered/unfiltered size %.2f\n",
           level, bytes[0] / 1e6, raw / bytes[0], raw / 1e6 / enc[0], raw / 1e6 / dec[0], bytes[1] / 1e6, raw / bytes[1],
           raw / 1e6 / enc[1], raw / 1e6 / dec[1], (double)bytes[1] / bytes[0]);
    return 0;
}

/* the same frames as PNG files (coinbc's encoder, as record writes them) and as the
 * observations array of a savez_compressed episode (deflate level 6 of
 * the raw bytes, which is what numpy's zipfile stores), next to the shards */
static void print_formats(const data_levels *d) {
    size_t png_bytes = 0, npz_bytes = 0, ds_bytes = 0;
    game_png enc;
    game_png_init(&enc);
    for (int i = 0; i < d->n; i++) {
        const ds_level *l = &d->lv[i];
        for (int64_t t = 0; t < l->n; t++)
            if (game_png_encode(&enc, l->frames + (size_t)t * CB_FRAME_BYTES, CB_FRAME_W, CB_FRAME_H, NULL) == 0)
                png_bytes += enc.n;
        uLongf cap = compressBound((uLong)(l->n * CB_FRAME_BYTES));
        uint8_t *z = malloc(cap);
        if (z && compress2(z, &cap, l->frames, (uLong)(l->n * CB_FRAME_BYTES), 6) == Z_OK) npz_bytes += cap;
        free(z);
        ds_bytes += ds_level_entry(d->r, ds_find(d->r, l->seed))->bytes;
    }
    game_png_free(&enc);
    printf("the same frames: dataset shards %.1f MB, PNG files %.1f MB (dataset/PNG %.2f), savez_compressed-style "
           "deflate-6 of the frames %.1f MB (dataset/npz %.2f)\n",
           ds_bytes / 1e6, png_bytes / 1e6, (double)ds_bytes / (double)png_bytes, npz_bytes / 1e6,
           (double)ds_bytes / (double)npz_bytes);
}

/* the levels and the reader, and the temporary folder if one was recorded */
static void close_data(const data_args *a, data_levels *d) {
    free_levels(d);
    free(d->lv);
    free(d->seeds);
    ds_close(d->r);
    if (a->data == a->path) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", a->tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", a->tmp);
    }
}

int bench_data(int argc, char **argv) {
    data_args a;
    int rc = parse_data_args(argc, argv, &a);
    if (rc >= 0) return rc;
    cb_err e = {0};
    if (!a.data && (rc = record_default(&a, &e))) return rc;
    data_levels d;
    if ((rc = open_levels(a.data, &d, &e))) return rc;
    bench_print_machine();
    double t1 = 1e30, t2 = 1e30;
    if ((rc = time_loads(&d, &t1, &t2, &e))) return rc;
    int64_t frames = ds_total_frames(d.r);
    double raw = (double)frames * CB_FRAME_BYTES;
    printf("%s: %d levels, %lld frames (%.0f MB of raw frames)\n", a.data, d.n, (long long)frames, raw / 1e6);
    printf("load (read + CRC + inflate + unfilter): 1 thread %.2f s (%.0f MB/s), %d threads %.2f s (%.0f MB/s), speed-up %.2fx\n",
           t1, raw / 1e6 / t1, cb_default_threads(), t2, raw / 1e6 / t2, t1 / t2);
    for (int level = 1; level <= 6; level += 5)
        if ((rc = time_codec(&d, level, raw, &e))) return rc;
    print_formats(&d);
    close_data(&a, &d);
    return 0;
}
