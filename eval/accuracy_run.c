/* accuracy_run.c - coinbc eval's work: the offline accuracy of a run's
 * checkpoint on held-out levels (streamed level by level) and on its
 * training levels for the gap, the run's eval.json, and the frame sheet
 * eval_frames.png. Under mpirun each rank evaluates a contiguous share of
 * the levels and sends them to rank 0 in the wire format below; rank 0 adds
 * them after its own, in rank order: the order of one process, so the
 * figures are the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "eval/ckpt_policy.h"
#include "run/run.h"

#define SHEET_N 8 /* frames on the sheet: the middle frame of each of the first held-out levels */

typedef struct {
    uint8_t frames[SHEET_N * CB_FRAME_BYTES], label[SHEET_N], pred[SHEET_N];
    int n;
} sheet;

/* what one level adds to the tables and (sh non-NULL) the sheet; mid is its middle frame */
static int add_level(eval_acc *acc, sheet *sh, int32_t seed, int64_t n, const uint8_t *labels, const float *probs,
                     const uint8_t *mid, cb_err *e) {
    int rc = eval_acc_add(acc, seed, labels, probs, n, e);
    if (!rc && sh && sh->n < SHEET_N && n > 0) {
        int64_t k = n / 2;
        memcpy(sh->frames + (size_t)sh->n * CB_FRAME_BYTES, mid, CB_FRAME_BYTES);
        sh->label[sh->n] = labels[k];
        sh->pred[sh->n] = (uint8_t)cb_argmax(probs + k * CB_NUM_ACTIONS, CB_NUM_ACTIONS);
        sh->n++;
    }
    return rc;
}

/* ---- the wire format: a level as another rank sends it to rank 0 --------
 * seed (int32), frames n (int64), n labels, n x 15 probabilities (float),
 * the middle frame (zeros for n = 0), in the sender's byte order. */
#define WIRE_HEAD 12

static int pack_level(uint8_t **buf, int64_t *len, int64_t *cap, const ds_level *l, const float *probs) {
    int64_t need = *len + WIRE_HEAD + l->n + l->n * CB_NUM_ACTIONS * 4 + CB_FRAME_BYTES;
    if (need > *cap) {
        int64_t c = *cap ? *cap * 2 : 1 << 20;
        while (c < need) c *= 2;
        uint8_t *nb = realloc(*buf, (size_t)c);
        if (!nb) return -1;
        *buf = nb;
        *cap = c;
    }
    uint8_t *p = *buf + *len;
    memcpy(p, &l->seed, 4);
    memcpy(p + 4, &l->n, 8);
    memcpy(p + WIRE_HEAD, l->label, (size_t)l->n);
    memcpy(p + WIRE_HEAD + l->n, probs, (size_t)l->n * CB_NUM_ACTIONS * 4);
    uint8_t *mid = p + WIRE_HEAD + l->n + l->n * CB_NUM_ACTIONS * 4;
    memset(mid, 0, CB_FRAME_BYTES);
    if (l->n > 0) memcpy(mid, l->frames + (size_t)(l->n / 2) * CB_FRAME_BYTES, CB_FRAME_BYTES);
    *len = need;
    return 0;
}

/* The levels another rank evaluated, added in their order (probabilities
 * copied to aligned memory first). */
static int unpack_levels(const uint8_t *buf, int64_t len, eval_acc *acc, sheet *sh, int from, cb_err *e) {
    float *probs = NULL;
    int64_t cap = 0, off = 0;
    int rc = 0;
    while (!rc && off < len) {
        int32_t seed;
        int64_t n;
        if (len - off < WIRE_HEAD) return free(probs), cb_fail(e, CB_EFORMAT, "rank %d sent a truncated level", from);
        memcpy(&seed, buf + off, 4);
        memcpy(&n, buf + off + 4, 8);
        if (n < 0 || n > (len - off - WIRE_HEAD - CB_FRAME_BYTES) / (1 + CB_NUM_ACTIONS * 4))
            return free(probs), cb_fail(e, CB_EFORMAT, "rank %d sent level %d with a bad frame count", from, seed);
        if (n > cap) {
            free(probs);
            cap = n;
            if (!(probs = malloc(sizeof(float) * (size_t)cap * CB_NUM_ACTIONS))) return cb_fail(e, CB_ENOMEM, "out of memory");
        }
        const uint8_t *lab = buf + off + WIRE_HEAD;
        memcpy(probs, lab + n, (size_t)n * CB_NUM_ACTIONS * 4);
        rc = add_level(acc, sh, seed, n, lab, probs, lab + n + n * CB_NUM_ACTIONS * 4, e);
        off += WIRE_HEAD + n + n * CB_NUM_ACTIONS * 4 + CB_FRAME_BYTES;
    }
    free(probs);
    return rc;
}

/* rank 0: the other ranks' levels, in rank order; the others: theirs to rank 0 */
static int exchange(const uint8_t *out, int64_t olen, eval_acc *acc, sheet *sh, cb_err *e) {
    int me = cb_dist_rank(), P = cb_dist_size(), rc = 0;
    if (me > 0) return cb_dist_send_blob(out, olen, e);
    for (int from = 1; from < P && !rc; from++) {
        uint8_t *buf;
        int64_t len;
        if (!(rc = cb_dist_recv_blob(from, &buf, &len, e))) rc = unpack_levels(buf, len, acc, sh, from, e);
        free(buf);
    }
    return rc;
}

/* Evaluates the levels of r in [lo, hi] one at a time into acc (rank 0: all
 * of them; the others: nothing, their share goes to rank 0). */
static int eval_levels(model *m, ds_reader *r, int32_t lo, int32_t hi, eval_acc *acc, sheet *sh, int quiet, cb_err *e) {
    int n = 0;
    for (int i = 0; i < ds_nlevels(r); i++) n += ds_level_seed(r, i) >= lo && ds_level_seed(r, i) <= hi;
    if (n == 0)
        return cb_fail(e, CB_ENOTFOUND, "%s: no levels in %d-%d (the dataset has seeds %d..%d)", ds_path(r), lo, hi,
                       ds_nlevels(r) ? ds_level_seed(r, 0) : 0, ds_nlevels(r) ? ds_level_seed(r, ds_nlevels(r) - 1) : 0);
    int me = cb_dist_rank();
    int64_t mlo, mhi;
    cb_dist_share(n, me, cb_dist_size(), &mlo, &mhi);
    cb_progress p;
    cb_progress_start(&p, "eval", "levels", mhi - mlo, quiet);
    float *probs = NULL;
    uint8_t *out = NULL;
    int64_t cap = 0, done = 0, k = -1, olen = 0, ocap = 0;
    int rc = 0;
    for (int i = 0; i < ds_nlevels(r) && !rc; i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < lo || s > hi) continue;
        if (++k < mlo || k >= mhi) continue;
        ds_level l;
        if ((rc = ds_load(r, &s, 1, &l, 1, e))) break;
        if (l.n > cap) {
            free(probs);
            cap = l.n;
            if (!(probs = malloc(sizeof(float) * (size_t)cap * CB_NUM_ACTIONS))) rc = cb_fail(e, CB_ENOMEM, "out of memory");
        }
        model_predict_io io = {.probs = probs};
        if (!rc) rc = model_predict(m, l.frames, l.n, &io, e);
        if (!rc && me == 0)
            rc = add_level(acc, sh, l.seed, l.n, l.label, probs,
                           l.n ? l.frames + (size_t)(l.n / 2) * CB_FRAME_BYTES : NULL, e);
        if (!rc && me > 0 && pack_level(&out, &olen, &ocap, &l, probs)) rc = cb_fail(e, CB_ENOMEM, "out of memory");
        ds_level_free(&l);
        if (!rc) cb_progress_update(&p, ++done);
    }
    if (!rc) cb_progress_finish(&p);
    free(probs);
    if (!rc) rc = exchange(out, olen, acc, sh, e);
    free(out);
    return rc;
}

/* The sheet: one row of film.c's contact sheet, the frames side by side
 * with one label line under each, E (the expert's label) at its start and
 * P (the policy's action, green when they agree, red when not) at its
 * middle. */
#define SHEET_E_DX 2
#define SHEET_P_DX 32
static int write_sheet(const char *path, const sheet *sh, cb_err *e) {
    eval_sheet s;
    if (eval_sheet_init(&s, 1, sh->n, 0, 0, 1, e)) return cb_err_prefix(e, "%s: ", path);
    static const uint8_t white[3] = {255, 255, 255}, green[3] = {90, 230, 90}, red[3] = {255, 90, 90};
    for (int k = 0; k < sh->n; k++) {
        eval_sheet_frame(&s, 0, k, sh->frames + (size_t)k * CB_FRAME_BYTES);
        char t[32];
        snprintf(t, sizeof t, "E%d", sh->label[k]);
        eval_sheet_label_at(&s, 0, k, 0, SHEET_E_DX, t, white);
        snprintf(t, sizeof t, "P%d", sh->pred[k]);
        eval_sheet_label_at(&s, 0, k, 0, SHEET_P_DX, t, sh->pred[k] == sh->label[k] ? green : red);
    }
    int rc = eval_sheet_write(&s, path, e);
    eval_sheet_free(&s);
    return rc;
}

static void eval_set(run_eval_set *r, const eval_acc *a) {
    eval_acc_summary s;
    eval_acc_summarize(&s, a);
    r->levels = a->nlevels;
    r->frames = a->n;
    r->acc = s.acc;
    r->acc_merged = s.acc_merged;
    r->loss = s.loss;
    r->level_acc_mean = s.level_mean;
    r->level_acc_std = s.level_std;
}

/* the run's training levels (config.json's data and range) into r->train;
 * training data that does not open is noted, not an error */
static int eval_train(eval_accuracy_run_result *r, model *m, const eval_accuracy_run_opts *o, cb_err *e) {
    run_config cfg;
    int rc = run_config_read(&cfg, o->run, e);
    if (rc == CB_ENOTFOUND) return 0;
    if (rc || !cfg.has_data) return rc;
    ds_reader *rt;
    cb_err de = {0};
    if (ds_open(&rt, cfg.data, &de)) {
        snprintf(r->train_skipped, sizeof r->train_skipped, "%s", de.msg);
        return 0;
    }
    rc = eval_levels(m, rt, cfg.train_seed_lo, cfg.train_seed_hi, &r->train, NULL, o->quiet, e);
    r->has_train = !rc;
    ds_close(rt);
    return rc;
}

/* eval.json and the sheet, on rank 0 */
static int write_records(eval_accuracy_run_result *r, const sheet *sh, const eval_accuracy_run_opts *o, cb_err *e) {
    run_eval rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", o->checkpoint);
    snprintf(rec.data, sizeof rec.data, "%s", o->data);
    eval_set(&rec.test, &r->test);
    rec.has_train = r->has_train;
    if (r->has_train) {
        eval_set(&rec.train, &r->train);
        rec.gap = rec.train.acc - rec.test.acc;
    }
    for (int y = 0; y < CB_NUM_ACTIONS; y++)
        for (int p = 0; p < CB_NUM_ACTIONS; p++) rec.confusion[y][p] = r->test.confusion[y][p];
    run_text jt = {0};
    int rc = run_eval_encode(&jt, &rec, e);
    if (rc) return run_text_free(&jt), rc;
    r->json = jt.s; /* the result owns the text now */
    if ((rc = run_eval_write(o->run, &rec, e)) || sh->n == 0) return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/eval_frames.png", o->run);
    return write_sheet(path, sh, e);
}

int eval_accuracy_run(eval_accuracy_run_result *r, const eval_accuracy_run_opts *o, cb_err *e) {
    memset(r, 0, sizeof *r);
    eval_acc_init(&r->test);
    eval_acc_init(&r->train);
    model m;
    model_ckpt_state st;
    int rc = model_load(&m, &st, o->checkpoint, e);
    if (rc) return rc == CB_ENOTFOUND ? eval_no_checkpoint(e, o->run, o->checkpoint) : rc;
    ds_reader *d;
    if ((rc = ds_open(&d, o->data, e))) {
        model_free(&m);
        return rc;
    }
    sheet *sh = calloc(1, sizeof *sh);
    if (!sh) rc = cb_fail(e, CB_ENOMEM, "out of memory");
    if (!rc) rc = eval_levels(&m, d, o->lo, o->hi, &r->test, sh, o->quiet, e);
    if (!rc && !o->no_train) rc = eval_train(r, &m, o, e);
    if (!rc && cb_dist_rank() == 0) rc = write_records(r, sh, o, e);
    free(sh);
    ds_close(d);
    model_free(&m);
    return rc;
}

void eval_accuracy_run_free(eval_accuracy_run_result *r) {
    eval_acc_free(&r->test);
    eval_acc_free(&r->train);
    free(r->json);
    r->json = NULL;
}
