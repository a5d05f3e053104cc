/* writer.c - creating or extending a dataset. Each level's shard is written
 * atomically under its real name; the manifest, written last and atomically,
 * is what makes levels part of the dataset. Abort removes the shards this
 * writer created, so the dataset is left as it was. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset/manifest.h"

struct ds_writer {
    char path[4096];
    ds_manifest m;
    int nnew, capnew;
    char (*newfiles)[64];
    int filter, zlevel;
    pthread_mutex_t mu; /* ds_writer_add may be called from several threads */
    cb_lock lock;       /* held from open to commit/abort (one writer per folder) */
    uint8_t *old_text;  /* the manifest as it was at open (NULL: there was none) */
    size_t old_n;
    int prepared;       /* ds_writer_prepare put the new manifest in place */
};

/* Removes temporaries a killed writer may have left ("NAME.tmp.XXXXXX");
 * safe because we hold the folder's lock, so no live writer owns them. */
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, ".tmp.")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
}

int ds_writer_open(ds_writer **out, const char *path, int append, const char *source, const char *command, cb_err *e) {
    *out = NULL;
    ds_writer *w = calloc(1, sizeof *w);
    if (!w) return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    /* No inter-frame filter by default: deflate's 32 KiB window already
     * reaches back into the previous 12 KiB frame, and scrolling makes
     * differences noisier than the frames: the filter made shards 1.9x
     * larger on procgen's frames and 1.6x on expert play (docs/FORMATS.md has
     * the figures). zlib level 9 instead of 6: 17-25% smaller, same decode
     * speed, slower encode. */
    w->filter = 0;
    w->zlevel = 9;
    pthread_mutex_init(&w->mu, NULL);
    /* the lock first: the manifest is read, extended and rewritten under it */
    int rc = cb_lock_acquire(&w->lock, path, command, e);
    if (rc) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return rc;
    }
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/manifest.txt", path);
    struct stat st;
    int exists = stat(mp, &st) == 0;
    if (exists && !append)
        rc = cb_fail(e, CB_EEXIST, "%s: already holds a dataset; give another name", path);
    if (!rc && exists) {
        uint8_t *text;
        size_t n;
        rc = cb_read_file_max(mp, DS_MANIFEST_MAX, &text, &n, e);
        if (!rc) {
            rc = ds_manifest_parse(&w->m, (const char *)text, n, mp, e);
            if (rc) free(text);
            else w->old_text = text, w->old_n = n;
        }
    } else if (!rc) {
        ds_manifest_init(&w->m);
    }
    if (rc) {
        cb_lock_release(&w->lock, 1);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return rc;
    }
    remove_stale_tmp(path);
    snprintf(w->m.source, sizeof w->m.source, "%s", source ? source : "");
    snprintf(w->m.command, sizeof w->m.command, "%s", command ? command : "");
    *out = w;
    return 0;
}

void ds_writer_set_compression(ds_writer *w, int filter, int zlevel) {
    w->filter = filter ? 1 : 0;
    w->zlevel = zlevel < 0 ? 9 : (zlevel > 9 ? 9 : zlevel);
}

/* check, encode and write one level's shard into dir; *en describes it */
static int shard_write(const char *dir, const ds_level *l, int filter, int zlevel, ds_entry *en, cb_err *e) {
    /* a shard the reader or verify would refuse is never written */
    int rc = ds_level_check(l, e);
    if (!rc) rc = ds_level_check_episodes(l, e);
    if (rc) return rc;
    uint8_t *buf;
    size_t n;
    rc = ds_shard_encode(l, filter, zlevel, &buf, &n, e);
    if (rc) return rc;
    memset(en, 0, sizeof *en);
    en->seed = l->seed;
    en->mode = l->mode;
    en->frames = l->n;
    en->episodes = ds_level_episodes(l);
    snprintf(en->file, sizeof en->file, "level_%d.cbs", l->seed);
    en->bytes = n;
    en->crc = (uint32_t)crc32_z(0, buf, n);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, en->file);
    rc = cb_write_file_atomic(path, buf, n, e);
    free(buf);
    if (rc) {
        unlink(path); /* renamed into place before a later step failed: not listed, so not kept */
        return cb_err_prefix(e, "level %d: ", l->seed);
    }
    return 0;
}

int ds_shard_write(const char *dir, const ds_level *l, ds_entry *en, cb_err *e) {
    return shard_write(dir, l, 0, 9, en, e);
}

/* lists a shard now in the folder as new (removed by abort) and in the manifest */
static int adopt(ds_writer *w, const ds_entry *en, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", w->path, en->file);
    pthread_mutex_lock(&w->mu);
    if (w->nnew == w->capnew) {
        int cap = w->capnew ? w->capnew * 2 : 64;
        char(*nf)[64] = realloc(w->newfiles, sizeof *nf * (size_t)cap);
        if (!nf) {
            pthread_mutex_unlock(&w->mu);
            unlink(path);
            return cb_fail(e, CB_ENOMEM, "out of memory");
        }
        w->newfiles = nf;
        w->capnew = cap;
    }
    snprintf(w->newfiles[w->nnew++], 64, "%s", en->file);
    int rc = ds_manifest_add(&w->m, en, e);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int is_dup(ds_writer *w, int32_t seed, cb_err *e) {
    pthread_mutex_lock(&w->mu);
    int dup = ds_manifest_find(&w->m, seed) >= 0;
    pthread_mutex_unlock(&w->mu);
    return dup ? cb_fail(e, CB_EEXIST, "%s: level %d is already in the dataset", w->path, seed) : 0;
}

int ds_writer_add(ds_writer *w, const ds_level *l, cb_err *e) {
    int rc = is_dup(w, l->seed, e);
    ds_entry en;
    if (!rc) rc = shard_write(w->path, l, w->filter, w->zlevel, &en, e);
    return rc ? rc : adopt(w, &en, e);
}

int ds_writer_adopt(ds_writer *w, const ds_entry *en, cb_err *e) {
    char path[4200];
    struct stat sb;
    if (!memchr(en->file, 0, sizeof en->file) || strchr(en->file, '/'))
        return cb_fail(e, CB_EFORMAT, "%s: level %d: bad shard file name", w->path, en->seed);
    snprintf(path, sizeof path, "%s/%s", w->path, en->file);
    if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != en->bytes)
        return cb_fail(e, CB_EIO, "%s: level %d: the shard %s is missing or not %llu bytes", w->path, en->seed, en->file,
                       (unsigned long long)en->bytes);
    int rc = is_dup(w, en->seed, e);
    return rc ? rc : adopt(w, en, e);
}

/* After a failed manifest write: is the new manifest in place anyway (the
 * rename went through and only the folder's fsync failed)? Then the shards
 * it lists must stay. */
static int manifest_is_ours(ds_writer *w) {
    char mp[4200], end[32];
    snprintf(mp, sizeof mp, "%s/manifest.txt", w->path);
    snprintf(end, sizeof end, "\nend %08x\n", w->m.crc);
    uint8_t *text;
    size_t n;
    cb_err ie = {0};
    if (cb_read_file_max(mp, DS_MANIFEST_MAX, &text, &n, &ie)) return 0;
    size_t k = strlen(end);
    int ours = n >= k && memcmp(text + n - k, end, k) == 0;
    free(text);
    return ours;
}

int ds_writer_prepare(ds_writer *w, cb_err *e) {
    if (w->m.n == 0) /* readers refuse a manifest without levels: never write one */
        return cb_fail(e, CB_EARG, "%s: no levels to write (a dataset holds at least one)", w->path);
    w->m.crc = 0; /* set by ds_manifest_write once the new text exists */
    int rc = ds_manifest_write(&w->m, w->path, e);
    if (rc == 0 || (w->m.crc && manifest_is_ours(w))) w->prepared = 1; /* in place (even if its fsync failed) */
    return rc;
}

static void writer_free(ds_writer *w) {
    ds_manifest_free(&w->m);
    free(w->newfiles);
    free(w->old_text);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int ds_writer_commit(ds_writer *w, cb_err *e) {
    if (!w->prepared) {
        int rc = ds_writer_prepare(w, e);
        if (rc && w->prepared) {
            /* the new manifest went into place before the error: the dataset is the new one */
            cb_err_prefix(e, "the new manifest is in place, but: ");
            w->prepared = 0;
            w->nnew = 0; /* its shards are part of the dataset now */
        }
        if (rc) {
            ds_writer_abort(w);
            return rc;
        }
    }
    cb_lock_release(&w->lock, 1);
    writer_free(w);
    return 0;
}

void ds_writer_abort(ds_writer *w) {
    if (!w) return;
    if (w->prepared) { /* put the manifest back as it was before the shards go */
        char mp[4200];
        snprintf(mp, sizeof mp, "%s/manifest.txt", w->path);
        cb_err ie = {0};
        if (w->old_text) {
            if (cb_write_file_atomic(mp, w->old_text, w->old_n, &ie) != 0) w->nnew = 0; /* keep what it lists */
        } else {
            unlink(mp);
        }
    }
    for (int i = 0; i < w->nnew; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", w->path, w->newfiles[i]);
        unlink(path);
    }
    cb_lock_release(&w->lock, 1); /* and the folder, when this writer created it and left it empty */
    writer_free(w);
}
