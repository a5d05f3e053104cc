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

int bench_data(int argc, char **argv) {
    const char *data = NULL;
    cb_opt opts[] = {{"data", CB_OPT_STR, &data, "DATA.cbd", "dataset to measure (default: record 16 easy levels x 1000)", 0}};
    cb_cmd_info info = {"bench data", "Dataset codec: compression with and without the inter-frame filter, load speed.",
                         "coinbc bench data [--data DATA.cbd]", NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    cb_err e = {0};
    char tmp[] = "/tmp/coinbc_bench_XXXXXX", path[256];
    if (!data) {
        if (!mkdtemp(tmp)) return bench_error("bench data", "cannot make a temporary folder");
        snprintf(path, sizeof path, "%s/b.cbd", tmp);
        ds_writer *w;
        if (ds_writer_open(&w, path, 0, "bench", "bench data", &e)) return bench_fail("bench data", &e);
        capture_record_opts o = {.lo = 0, .hi = 15, .mode = GAME_EASY, .states = 1000, .noise = 0.1, .seed = 1,
                                 .threads = cb_default_threads(), .dataset = w};
        capture_record_summary s;
        if (capture_record(&o, &s, &e) || ds_writer_commit(w, &e)) return bench_fail("bench data", &e);
        data = path;
    }
    ds_reader *r;
    if (ds_open(&r, data, &e)) return bench_fail("bench data", &e);
    int n = ds_nlevels(r);
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)n);
    ds_level *lv = calloc((size_t)n, sizeof *lv);
    for (int i = 0; i < n; i++) seeds[i] = ds_level_seed(r, i);
    bench_print_machine();
    /* one untimed load first, so both timed loads find the files in the page
     * cache and reuse memory the allocator already has */
    if (ds_load(r, seeds, n, lv, cb_default_threads(), &e)) return bench_fail("bench data", &e);
    for (int i = 0; i < n; i++) ds_level_free(&lv[i]);
    double t1 = 1e30, t2 = 1e30;
    for (int rep = 0; rep < 2; rep++) { /* best of two, alternating */
        double t0 = cb_now();
        if (ds_load(r, seeds, n, lv, 1, &e)) return bench_fail("bench data", &e);
        double d = cb_now() - t0;
        t1 = d < t1 ? d : t1;
        for (int i = 0; i < n; i++) ds_level_free(&lv[i]);
        t0 = cb_now();
        if (ds_load(r, seeds, n, lv, cb_default_threads(), &e)) return bench_fail("bench data", &e);
        d = cb_now() - t0;
        t2 = d < t2 ? d : t2;
        if (rep == 0)
            for (int i = 0; i < n; i++) ds_level_free(&lv[i]);
    }
    int64_t frames = ds_total_frames(r);
    double raw = (double)frames * CB_FRAME_BYTES;
    printf("%s: %d levels, %lld frames (%.0f MB of raw frames)\n", data, n, (long long)frames, raw / 1e6);
    printf("load (read + CRC + inflate + unfilter): 1 thread %.2f s (%.0f MB/s), %d threads %.2f s (%.0f MB/s), speed-up %.2fx\n",
           t1, raw / 1e6 / t1, cb_default_threads(), t2, raw / 1e6 / t2, t1 / t2);
    for (int level = 1; level <= 6; level += 5) {
        size_t bytes[2] = {0, 0};
        double enc[2] = {0, 0}, dec[2] = {0, 0};
        for (int f = 0; f < 2; f++)
            for (int i = 0; i < n; i++) {
                uint8_t *buf;
                size_t len;
                double a = cb_now();
                if (ds_shard_encode(&lv[i], f, level, &buf, &len, &e)) return bench_fail("bench data", &e);
                double b = cb_now();
                ds_level back;
                if (ds_shard_decode(buf, len, "bench", &back, &e)) return bench_fail("bench data", &e);
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
    }
    /* the same frames as PNG files (coinbc's encoder, as record writes them) and as the
     * observations array of a savez_compressed episode (deflate level 6 of
     * the raw bytes, which is what numpy's zipfile stores) */
    {
        size_t png_bytes = 0, npz_bytes = 0, ds_bytes = 0;
        game_png enc;
        game_png_init(&enc);
        for (int i = 0; i < n; i++) {
            for (int64_t t = 0; t < lv[i].n; t++)
                if (game_png_encode(&enc, lv[i].frames + (size_t)t * CB_FRAME_BYTES, CB_FRAME_W, CB_FRAME_H, NULL) == 0)
                    png_bytes += enc.n;
            uLongf cap = compressBound((uLong)(lv[i].n * CB_FRAME_BYTES));
            uint8_t *z = malloc(cap);
            if (z && compress2(z, &cap, lv[i].frames, (uLong)(lv[i].n * CB_FRAME_BYTES), 6) == Z_OK) npz_bytes += cap;
            free(z);
            ds_bytes += ds_level_entry(r, ds_find(r, lv[i].seed))->bytes;
        }
        game_png_free(&enc);
        printf("the same frames: dataset shards %.1f MB, PNG files %.1f MB (dataset/PNG %.2f), savez_compressed-style "
               "deflate-6 of the frames %.1f MB (dataset/npz %.2f)\n",
               ds_bytes / 1e6, png_bytes / 1e6, (double)ds_bytes / (double)png_bytes, npz_bytes / 1e6,
               (double)ds_bytes / (double)npz_bytes);
    }
    for (int i = 0; i < n; i++) ds_level_free(&lv[i]);
    free(lv);
    free(seeds);
    ds_close(r);
    if (data == path) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return 0;
}
