/* reader.c - opening a dataset and loading levels: the manifest is read and
 * checked once; each level's shard is read on its own, checked against the
 * manifest (size, CRC32) and decoded, in parallel over levels. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/manifest.h"
#include "dataset/shard.h"

struct ds_reader {
    char path[4096];
    ds_manifest m;
    uint32_t content_crc; /* ds_content_crc */
};

int ds_open(ds_reader **out, const char *path, cb_err *e) {
    *out = NULL;
    ds_reader *r = calloc(1, sizeof *r);
    if (!r) return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    snprintf(r->path, sizeof r->path, "%s", path);
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/manifest.txt", path);
    uint8_t *text;
    size_t n;
    int rc = cb_read_file_max(mp, DS_MANIFEST_MAX, &text, &n, e); /* the most the format's limits allow */
    if (rc) {
        free(r);
        if (rc == CB_ENOTFOUND)
            return cb_fail(e, CB_ENOTFOUND, "%s: not a coinbc dataset (no manifest.txt; make one with coinbc capture or coinbc record)", path);
        return rc;
    }
    rc = ds_manifest_parse(&r->m, (const char *)text, n, mp, e);
    free(text);
    if (!rc && (rc = ds_manifest_content_crc(&r->m, &r->content_crc, mp, e))) ds_manifest_free(&r->m);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void ds_close(ds_reader *r) {
    if (!r) return;
    ds_manifest_free(&r->m);
    free(r);
}

int ds_nlevels(const ds_reader *r) { return r->m.n; }
int32_t ds_level_seed(const ds_reader *r, int i) { return r->m.e[i].seed; }
const ds_entry *ds_level_entry(const ds_reader *r, int i) { return &r->m.e[i]; }
int ds_find(const ds_reader *r, int32_t seed) { return ds_manifest_find(&r->m, seed); }
const char *ds_path(const ds_reader *r) { return r->path; }
const char *ds_source(const ds_reader *r) { return r->m.source; }
const char *ds_command(const ds_reader *r) { return r->m.command; }
uint32_t ds_manifest_crc(const ds_reader *r) { return r->m.crc; }
uint32_t ds_content_crc(const ds_reader *r) { return r->content_crc; }
int ds_nrelabelings(const ds_reader *r) { return r->m.nrelabel; }
const ds_relabeling *ds_relabeling_get(const ds_reader *r, int i) { return &r->m.relabel[i]; }

int64_t ds_total_frames(const ds_reader *r) {
    int64_t t = 0;
    for (int i = 0; i < r->m.n; i++) t += r->m.e[i].frames;
    return t;
}

int ds_read_shard(const ds_reader *r, int i, uint8_t **out, size_t *outn, cb_err *e) {
    const ds_entry *en = &r->m.e[i];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->path, en->file);
    uint8_t *buf;
    size_t n;
    *out = NULL;
    *outn = 0;
    /* never more than the manifest declares: a longer file is refused unread */
    int rc = cb_read_file_max(path, (size_t)en->bytes, &buf, &n, e);
    if (rc) {
        if (rc == CB_ENOTFOUND)
            return cb_fail(e, CB_ENOTFOUND,
                           "%s: level %d: the manifest lists this shard but it is missing (restore it, or capture the "
                           "level into a new dataset)",
                           path, en->seed);
        if (rc == CB_ERANGE)
            return cb_fail(e, CB_EFORMAT, "%s: level %d: larger than the %llu bytes the manifest says (replaced or "
                           "damaged); capture the level again", path, en->seed, (unsigned long long)en->bytes);
        return cb_err_prefix(e, "level %d: ", en->seed);
    }
    if (n != en->bytes) {
        free(buf);
        return cb_fail(e, CB_EFORMAT, "%s: level %d: %zu bytes, the manifest says %llu (truncated or replaced)", path,
                       en->seed, n, (unsigned long long)en->bytes);
    }
    if ((uint32_t)crc32_z(0, buf, n) != en->crc) {
        free(buf);
        return cb_fail(e, CB_ECRC, "%s: level %d: CRC32 does not match the manifest (the shard is damaged)", path, en->seed);
    }
    *out = buf;
    *outn = n;
    return 0;
}

/* Reads and decodes entry i into *out, checking it against the manifest. */
static int load_entry(const ds_reader *r, int i, ds_level *out, cb_err *e) {
    const ds_entry *en = &r->m.e[i];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->path, en->file);
    uint8_t *buf;
    size_t n;
    int rc = ds_read_shard(r, i, &buf, &n, e);
    if (rc) return rc;
    rc = ds_shard_decode(buf, n, path, out, e);
    free(buf);
    if (rc) return rc;
    rc = ds_shard_match(r, i, out->seed, out->mode, out->n, path, e);
    if (rc) ds_level_free(out);
    return rc;
}

int ds_shard_match(const ds_reader *r, int i, int32_t seed, int mode, int64_t frames, const char *name, cb_err *e) {
    const ds_entry *en = &r->m.e[i];
    if (seed != en->seed || frames != en->frames)
        return cb_fail(e, CB_EFORMAT, "%s: holds level %d with %lld frames, the manifest says level %d with %lld", name, seed,
                       (long long)frames, en->seed, (long long)en->frames);
    if (mode != en->mode)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: the shard's header says mode %s, the manifest says %s", name, seed,
                       ds_mode_name(mode), ds_mode_name(en->mode));
    return 0;
}

/* Streams the level (ds_iter: the compressed shard, its columns and two
 * frames in memory), so a shard that inflates to gigabytes is checked in the
 * memory its file takes. The same checks as ds_load, plus the episode count. */
int ds_verify_level(ds_reader *r, int i, cb_err *e) {
    ds_iter *it;
    int rc = ds_iter_open(&it, r, r->m.e[i].seed, e);
    if (rc) return rc;
    ds_frame f;
    int episodes = 0;
    ds_frame_cols prev = {0, 0, 0};
    while ((rc = ds_iter_next(it, &f, e)) > 0) {
        ds_frame_cols cur = {f.episode, f.step, f.done};
        const char *why = ds_episode_rule(f.t, &prev, &cur);
        if (why) {
            rc = cb_fail(e, CB_EFORMAT, "%s/%s: level %d: frame %lld: episode %d, step %d after episode %d, step %d, done "
                         "%d: %s", r->path, r->m.e[i].file, r->m.e[i].seed, (long long)f.t, cur.episode, cur.step,
                         prev.episode, prev.step, prev.done, why);
            break;
        }
        if (f.t == 0 || cur.episode != prev.episode) episodes++;
        prev = cur;
    }
    ds_iter_close(it);
    if (rc == 0 && episodes != r->m.e[i].episodes)
        rc = cb_fail(e, CB_EFORMAT, "%s/%s: level %d has %d episodes, the manifest says %d", r->path, r->m.e[i].file,
                     r->m.e[i].seed, episodes, r->m.e[i].episodes);
    return rc;
}

typedef struct {
    ds_reader *r;
    const int *idx;
    ds_level *out;
    cb_err *errs;
} load_ctx;

static int load_task(void *vctx, int64_t k) {
    load_ctx *c = vctx;
    return load_entry(c->r, c->idx[k], &c->out[k], &c->errs[k]);
}

int ds_load(ds_reader *r, const int32_t *seeds, int n, ds_level *out, int nthreads, cb_err *e) {
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    cb_err *errs = calloc((size_t)(n > 0 ? n : 1), sizeof *errs);
    if (!idx || !errs) {
        free(idx);
        free(errs);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", r->path);
    }
    memset(out, 0, sizeof *out * (size_t)n);
    for (int k = 0; k < n; k++) {
        idx[k] = ds_find(r, seeds[k]);
        if (idx[k] < 0) {
            free(idx);
            free(errs);
            return cb_fail(e, CB_ENOTFOUND, "%s: level %d is not in this dataset (%d levels, seeds %d..%d)", r->path,
                           seeds[k], r->m.n, r->m.n ? r->m.e[0].seed : 0, r->m.n ? r->m.e[r->m.n - 1].seed : 0);
        }
    }
    load_ctx c = {r, idx, out, errs};
    int rc = cb_parallel_for(n, nthreads > 0 ? nthreads : cb_default_threads(), load_task, &c);
    if (rc) {
        for (int k = 0; k < n; k++)
            if (errs[k].code) {
                *e = errs[k];
                break;
            }
        for (int k = 0; k < n; k++) ds_level_free(&out[k]);
    }
    free(idx);
    free(errs);
    return rc;
}
