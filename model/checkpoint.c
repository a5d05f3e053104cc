/* checkpoint.c - one file per checkpoint: a versioned header with the
 * network config and training state, the parameters and both Adam moments,
 * for a method with optimizer state of its own (tand's sign moment, train/'s)
 * that array as well, and a trailing CRC32 of everything before it; written
 * atomically.
 *
 * Versions: 1 holds 3 arrays (parameters, Adam m, v); 2 adds optimizer state
 * named by the header's `extra` bits (CK_EXTRA_STATE: one more array, the
 * method's state, model_ckpt_state.state). A checkpoint without extra state is still written as version 1,
 * byte for byte as before, so older coinbc read it; one with extra state is
 * version 2, which older coinbc refuse by its version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/model.h"

#define CK_MAGIC "CBCKPT\0\0"
#define CK_VERSION 2      /* the newest this coinbc reads */
#define CK_EXTRA_STATE 1u /* version 2: one array of the method's optimizer state (tand: its sign moment) follows Adam's v */

typedef struct {
    char magic[8];
    uint32_t version, header_size;
    int32_t net, channels[MODEL_NET_MAX_STAGES], hidden; /* the network description (ck_net_encode) */
    int32_t pad;                                         /* 0 (another MODEL_NET_MAX_STAGES is another layout) */
    uint64_t nparams;
    int64_t step, epoch;
    uint64_t rng[4];
    double best_val;
    int64_t steps_per_epoch; /* once the first of 8 caller slots: old checkpoints read the same */
    uint64_t extra;          /* version 2: CK_EXTRA_* bits (nonzero); version 1: 0 (then reserved) */
    uint64_t reserved[6];    /* 0 */
} ck_header; /* little-endian x86-64 layout, 168 bytes */
_Static_assert(sizeof(ck_header) == 168, "checkpoint header layout");

/* The network description into the header and out of it. */
static void ck_net_encode(ck_header *h, const model_net_desc *c) {
    h->net = c->kind;
    for (int i = 0; i < MODEL_NET_MAX_STAGES; i++) h->channels[i] = c->channels[i];
    h->hidden = c->hidden;
}

static void ck_net_decode(model_net_desc *c, const ck_header *h) {
    memset(c, 0, sizeof *c);
    c->kind = h->net;
    for (int i = 0; i < MODEL_NET_MAX_STAGES; i++) c->channels[i] = h->channels[i];
    c->hidden = h->hidden;
}

int model_save(const model *m, const model_ckpt_state *st, const char *path, cb_err *e) {
    ck_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CK_MAGIC, 8);
    h.extra = st->has_state ? CK_EXTRA_STATE : 0;
    h.version = h.extra ? 2 : 1;
    h.header_size = sizeof h;
    ck_net_encode(&h, &m->cfg);
    h.nparams = m->nparams;
    h.step = st->step;
    h.epoch = st->epoch;
    memcpy(h.rng, st->rng.s, sizeof h.rng);
    h.best_val = st->best_val;
    h.steps_per_epoch = st->steps_per_epoch;
    if (h.extra && !st->state) return cb_fail(e, CB_EARG, "%s: a checkpoint with optimizer state, but no state given", path);
    cb_afile f;
    int rc = cb_afile_open(&f, path, e);
    if (rc) return rc;
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)&h, sizeof h);
    size_t bytes = sizeof(float) * m->nparams * 3, sbytes = h.extra ? sizeof(float) * m->nparams : 0;
    crc = (uint32_t)crc32(crc, (const Bytef *)m->mem, (uInt)bytes);
    if (sbytes) crc = (uint32_t)crc32(crc, (const Bytef *)st->state, (uInt)sbytes);
    if ((rc = cb_afile_write(&f, &h, sizeof h, e)) || (rc = cb_afile_write(&f, m->mem, bytes, e)) ||
        (sbytes && (rc = cb_afile_write(&f, st->state, sbytes, e))) || (rc = cb_afile_write(&f, &crc, 4, e))) {
        cb_afile_abort(&f);
        return rc;
    }
    return cb_afile_commit(&f, e);
}

/* The header's own checks (magic, version, extra bits, a parameter count a
 * file can hold); *bytes gets the file size the header implies. */
static int ck_header_check(const ck_header *h, const char *path, size_t *bytes, cb_err *e) {
    if (memcmp(h->magic, CK_MAGIC, 8) != 0) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc checkpoint (bad magic)", path);
    if (h->version < 1 || h->version > CK_VERSION || h->header_size != sizeof *h)
        return cb_fail(e, CB_EFORMAT, "%s: checkpoint version %u is not supported (this coinbc reads 1 to %d)", path,
                       h->version, CK_VERSION);
    if (h->version == 1 && h->extra)
        return cb_fail(e, CB_EFORMAT, "%s: a version 1 checkpoint with extra state bits %#llx (they came with version 2)",
                       path, (unsigned long long)h->extra);
    if (h->version == 2 && h->extra != CK_EXTRA_STATE)
        return cb_fail(e, CB_EFORMAT, "%s: checkpoint extra state bits %#llx, this coinbc knows %#x (one array of "
                       "optimizer state: tand's sign moment)", path, (unsigned long long)h->extra, CK_EXTRA_STATE);
    if (h->nparams > ((uint64_t)1 << 32))
        return cb_fail(e, CB_EFORMAT, "%s: the header names %llu parameters, more than a checkpoint can hold", path,
                       (unsigned long long)h->nparams);
    *bytes = sizeof *h + sizeof(float) * (size_t)h->nparams * (h->extra ? 4 : 3) + 4;
    return 0;
}

/* The network the header names must build exactly nparams parameters
 * (planned, nothing allocated); *cfg gets it. */
static int ck_plan_check(const ck_header *h, const char *path, model_net_desc *cfg, cb_err *e) {
    model_net_desc c;
    ck_net_decode(&c, h);
    model plan;
    if (model_plan(&plan, &c, e)) return cb_err_prefix(e, "%s: ", path);
    char nt[128];
    model_net_text(nt, sizeof nt, &c);
    if (plan.nparams != h->nparams)
        return cb_fail(e, CB_EFORMAT, "%s: holds %llu parameters, but its config (%s) has %zu", path,
                       (unsigned long long)h->nparams, nt, plan.nparams);
    *cfg = c;
    return 0;
}

/* the body of model_load_mem; *state (when state is not NULL) gets a copy of the optimizer state, or NULL */
static int load_mem(model *m, model_ckpt_state *st, float **state_out, const uint8_t *buf, size_t n, const char *path,
                    cb_err *e) {
    memset(m, 0, sizeof *m);
    if (state_out) *state_out = NULL;
    ck_header h;
    if (n < sizeof h + 4) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc checkpoint (too short: truncated?)", path);
    memcpy(&h, buf, sizeof h);
    size_t bytes = 0;
    int rc = ck_header_check(&h, path, &bytes, e);
    if (rc) return rc;
    if (n != bytes)
        return cb_fail(e, CB_EFORMAT, "%s: %zu bytes, a checkpoint of %llu parameters%s has %zu (truncated?)", path, n,
                       (unsigned long long)h.nparams, h.extra ? " with optimizer state (tand's sign moment)" : "", bytes);
    uint32_t crc;
    memcpy(&crc, buf + n - 4, 4);
    if (crc != (uint32_t)crc32(0, buf, (uInt)(n - 4)))
        return cb_fail(e, CB_ECRC, "%s: checkpoint CRC mismatch (the file is damaged)", path);
    /* the config's size is checked against the file before anything is allocated */
    model_net_desc cfg;
    if ((rc = ck_plan_check(&h, path, &cfg, e))) return rc;
    if (!(h.rng[0] | h.rng[1] | h.rng[2] | h.rng[3]))
        return cb_fail(e, CB_EFORMAT, "%s: the training RNG state is all zero (not written by coinbc)", path);
    if ((rc = model_init(m, &cfg, e))) return cb_err_prefix(e, "%s: ", path);
    memcpy(m->mem, buf + sizeof h, sizeof(float) * m->nparams * 3);
    float *state = NULL;
    if (state_out && h.extra) {
        if (!(state = malloc(sizeof(float) * m->nparams))) {
            model_free(m);
            return cb_fail(e, CB_ENOMEM, "%s: out of memory for the optimizer state", path);
        }
        memcpy(state, buf + sizeof h + sizeof(float) * m->nparams * 3, sizeof(float) * m->nparams);
    }
    if (st) {
        memset(st, 0, sizeof *st);
        st->step = h.step;
        st->epoch = h.epoch;
        memcpy(st->rng.s, h.rng, sizeof h.rng);
        st->best_val = h.best_val;
        st->steps_per_epoch = h.steps_per_epoch;
        st->has_state = h.extra != 0;
    }
    if (state_out) *state_out = state;
    return 0;
}

int model_load_mem(model *m, model_ckpt_state *st, const uint8_t *buf, size_t n, const char *path, cb_err *e) {
    return load_mem(m, st, NULL, buf, n, path, e);
}

/* The header alone, from a regular file (a FIFO or a device is refused by
 * cb_open_regular without blocking); *size gets the file's size. */
static int ck_read_header(const char *path, ck_header *h, int64_t *size, cb_err *e) {
    int fd = cb_open_regular(path, size, e);
    if (fd < 0) return fd;
    size_t got = 0;
    while (got < sizeof *h) {
        ssize_t k = read(fd, (char *)h + got, sizeof *h - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int er = errno;
            close(fd);
            return cb_fail(e, CB_EIO, "%s: read error: %s", path, strerror(er));
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got < sizeof *h || *size < (int64_t)(sizeof *h + 4))
        return cb_fail(e, CB_EFORMAT, "%s: not a coinbc checkpoint (too short: truncated?)", path);
    return 0;
}

static int load_file(model *m, model_ckpt_state *st, float **state, const char *path, cb_err *e) {
    memset(m, 0, sizeof *m);
    if (state) *state = NULL;
    /* The header first: it names the network, whose parameter count fixes
     * the file's size. A file of any other size is refused before its body
     * is read, so a huge or endless file never gets into memory. */
    ck_header h;
    int64_t size;
    int rc = ck_read_header(path, &h, &size, e);
    if (rc) return rc;
    size_t bytes = 0;
    model_net_desc cfg;
    if ((rc = ck_header_check(&h, path, &bytes, e)) || (rc = ck_plan_check(&h, path, &cfg, e))) return rc;
    char nt[128];
    model_net_text(nt, sizeof nt, &cfg);
    if ((uint64_t)size != bytes)
        return cb_fail(e, CB_EFORMAT, "%s: %lld bytes, but its header (%s: %llu parameters%s) "
                       "makes a checkpoint of %zu bytes; not read (truncated, or something appended?)", path,
                       (long long)size, nt, (unsigned long long)h.nparams,
                       h.extra ? " with optimizer state (tand's sign moment)" : "", bytes);
    uint8_t *buf;
    size_t n;
    if ((rc = cb_read_file_max(path, bytes, &buf, &n, e))) return rc;
    rc = load_mem(m, st, state, buf, n, path, e);
    free(buf);
    return rc;
}

int model_load(model *m, model_ckpt_state *st, const char *path, cb_err *e) { return load_file(m, st, NULL, path, e); }

int model_load_state(model *m, model_ckpt_state *st, float **state, const char *path, cb_err *e) {
    return load_file(m, st, state, path, e);
}
