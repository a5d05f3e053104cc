/* relabel.c - the memorization probe's data: a copy of a dataset in which the
 * levels of a seed range carry uniform random labels instead of the expert's.
 * Relabeled shards are decoded, given new labels and re-encoded; all other
 * shards are copied byte for byte. Shards are written first, the manifest
 * (with a `relabel LO HI SEED` line) last; a failure removes what was
 * written, so the output is either a complete dataset or absent. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset/manifest.h"
#include "dataset/shard.h"

typedef struct {
    ds_reader *r;
    const char *out;
    int32_t lo, hi;
    uint64_t seed;
    ds_entry *entries; /* per level: the output's manifest entry */
    uint8_t *written;  /* per level: 1 once its shard is in `out` */
    cb_err *errs;      /* per level */
} relabel_ctx;

/* Replaces every label of l: frame t gets the (t+1)-th draw of the level's own
 * generator. */
static void relabel_level(ds_level *l, uint64_t seed) {
    cb_rng g;
    cb_rng_seed2(&g, seed, (uint64_t)(uint32_t)l->seed);
    for (int64_t t = 0; t < l->n; t++) l->label[t] = (uint8_t)cb_rng_below(&g, CB_NUM_ACTIONS);
}

static int relabel_task(void *vctx, int64_t k) {
    relabel_ctx *c = vctx;
    cb_err *e = &c->errs[k];
    ds_entry *en = &c->entries[k];
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc;
    if (en->seed >= c->lo && en->seed <= c->hi) {
        ds_level l;
        int32_t s = en->seed;
        rc = ds_load(c->r, &s, 1, &l, 1, e);
        if (rc) return rc;
        relabel_level(&l, c->seed);
        rc = ds_shard_encode(&l, 0, 9, &buf, &n, e);
        ds_level_free(&l);
        if (rc) return cb_err_prefix(e, "%s: level %d: ", c->out, s);
        en->bytes = n;
        en->crc = (uint32_t)crc32_z(0, buf, n);
    } else {
        /* copied byte for byte, after the checks every reader makes of it */
        rc = ds_read_shard(c->r, (int)k, &buf, &n, e);
        if (rc) return rc;
        char name[4200];
        snprintf(name, sizeof name, "%s/%s", ds_path(c->r), en->file);
        ds_shard_hdr h;
        rc = ds_shard_check(buf, n, name, &h, e);
        if (!rc) rc = ds_shard_match(c->r, (int)k, h.seed, h.mode, h.n, name, e);
        if (rc) {
            free(buf);
            return rc;
        }
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->out, en->file);
    rc = cb_write_file_atomic(path, buf, n, e);
    free(buf);
    if (rc) return cb_err_prefix(e, "level %d: ", en->seed);
    c->written[k] = 1;
    return 0;
}

/* 1 if the folder holds anything but . and .. and a lock file (a killed
 * writer's is harmless, a live one's is cb_lock_acquire's to refuse), 0 if
 * empty, <0 on error */
static int folder_nonempty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    int any = 0;
    while (!any && (de = readdir(d)))
        any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".coinbc-lock");
    closedir(d);
    return any;
}

/* Checks `out` before anything is written; *made = 1 when out must be created. */
static int check_out(const char *in, const char *out, int *made, cb_err *e) {
    struct stat so, si;
    *made = 0;
    if (stat(out, &so) != 0) {
        if (errno != ENOENT) return cb_fail(e, CB_EIO, "%s: %s", out, strerror(errno));
        *made = 1;
        return 0;
    }
    if (stat(in, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return cb_fail(e, CB_EARG, "%s: is the input dataset; give another output folder", out);
    if (!S_ISDIR(so.st_mode)) return cb_fail(e, CB_EEXIST, "%s: exists and is not a folder", out);
    int ne = folder_nonempty(out);
    if (ne < 0) return cb_fail(e, CB_EIO, "%s: %s", out, strerror(errno));
    if (ne) return cb_fail(e, CB_EEXIST, "%s: exists and is not empty; give a new output folder", out);
    return 0;
}

int ds_relabel(const char *in, const char *out, int32_t lo, int32_t hi, uint64_t seed, const char *command,
               int nthreads, int *nrelabeled, cb_err *e) {
    if (nrelabeled) *nrelabeled = 0;
    if (lo < 0 || hi < lo) return cb_fail(e, CB_EARG, "%s: the level range %d-%d is empty", in, lo, hi);
    ds_reader *r;
    int rc = ds_open(&r, in, e);
    if (rc) return rc;
    int n = ds_nlevels(r), count = 0;
    for (int i = 0; i < n; i++) count += ds_level_seed(r, i) >= lo && ds_level_seed(r, i) <= hi;
    if (count == 0) {
        rc = n ? cb_fail(e, CB_ERANGE, "%s: no level in %d-%d (the dataset has %d levels, seeds %d..%d)", in, lo, hi,
                         n, ds_level_seed(r, 0), ds_level_seed(r, n - 1))
               : cb_fail(e, CB_ERANGE, "%s: no level in %d-%d (the dataset is empty)", in, lo, hi);
        ds_close(r);
        return rc;
    }
    if (ds_nrelabelings(r) >= DS_MAX_RELABELINGS) {
        rc = cb_fail(e, CB_ERANGE, "%s: already relabeled %d times, the most a manifest records", in,
                     DS_MAX_RELABELINGS);
        ds_close(r);
        return rc;
    }
    int made; /* cb_lock_acquire below creates it (and cb_lock_release removes it on failure) */
    rc = check_out(in, out, &made, e);
    if (rc) {
        ds_close(r);
        return rc;
    }
    /* the writer lock on out for the whole copy (it creates out when missing);
     * then out must still be empty: another writer may have filled it since */
    cb_lock lock;
    if ((rc = cb_lock_acquire(&lock, out, command ? command : "coinbc data relabel", e))) {
        ds_close(r);
        return rc;
    }
    int ne = folder_nonempty(out);
    if (ne) {
        rc = ne < 0 ? cb_fail(e, CB_EIO, "%s: %s", out, strerror(errno))
                    : cb_fail(e, CB_EEXIST, "%s: exists and is not empty; give a new output folder", out);
        cb_lock_release(&lock, 1);
        ds_close(r);
        return rc;
    }
    relabel_ctx c = {r, out, lo, hi, seed, calloc((size_t)(n ? n : 1), sizeof(ds_entry)), calloc((size_t)(n ? n : 1), 1),
                     calloc((size_t)(n ? n : 1), sizeof(cb_err))};
    if (!c.entries || !c.written || !c.errs) {
        rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", out);
        goto fail;
    }
    for (int i = 0; i < n; i++) c.entries[i] = *ds_level_entry(r, i);
    rc = cb_parallel_for(n, nthreads > 0 ? nthreads : cb_default_threads(), relabel_task, &c);
    if (rc) {
        for (int i = 0; i < n; i++)
            if (c.errs[i].code) {
                *e = c.errs[i];
                break;
            }
        goto fail;
    }
    ds_manifest m;
    ds_manifest_init(&m);
    snprintf(m.source, sizeof m.source, "%s", ds_source(r));
    snprintf(m.command, sizeof m.command, "%s", command ? command : "");
    m.nrelabel = ds_nrelabelings(r);
    for (int i = 0; i < m.nrelabel; i++) m.relabel[i] = *ds_relabeling_get(r, i);
    m.relabel[m.nrelabel++] = (ds_relabeling){lo, hi, seed};
    for (int i = 0; i < n && !rc; i++) rc = ds_manifest_add(&m, &c.entries[i], e);
    if (!rc) rc = ds_manifest_write(&m, out, e);
    ds_manifest_free(&m);
    if (rc) goto fail;
    free(c.entries);
    free(c.written);
    free(c.errs);
    ds_close(r);
    cb_lock_release(&lock, 0);
    if (nrelabeled) *nrelabeled = count;
    return 0;
fail:
    for (int i = 0; c.written && i < n; i++)
        if (c.written[i]) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", out, c.entries[i].file);
            unlink(path);
        }
    cb_lock_release(&lock, 1); /* with out, when this call made it and nothing is left in it */
    free(c.entries);
    free(c.written);
    free(c.errs);
    ds_close(r);
    return rc;
}
