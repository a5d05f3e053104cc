/* cmd_eval.c - coinbc eval: offline accuracy of a run's policy on held-out
 * levels (streamed level by level), and on its training levels for the gap. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/policy.h"
#include "dataset/dataset.h"
#include "run/run.h"

/* what one level adds to the tables and the sheet (the frame kept for the sheet is its middle one) */
static int add_level(eval_acc *acc, int32_t seed, int64_t n, const uint8_t *labels, const float *probs,
                     const uint8_t *mid, uint8_t *sheet, uint8_t *sheet_lab, uint8_t *sheet_pred, int *nsheet, cb_err *e) {
    int rc = eval_acc_add(acc, seed, labels, probs, n, e);
    if (!rc && sheet && *nsheet < 8 && n > 0) { /* one frame from the middle of each of the first levels */
        int64_t k = n / 2;
        memcpy(sheet + (size_t)*nsheet * DS_FRAME_BYTES, mid, DS_FRAME_BYTES);
        sheet_lab[*nsheet] = labels[k];
        sheet_pred[*nsheet] = (uint8_t)cb_argmax(probs + k * MODEL_NA, MODEL_NA);
        (*nsheet)++;
    }
    return rc;
}

/* A level as another rank sends it to rank 0: seed, frames n, n labels, n x 15 probabilities, the middle frame. */
static int pack_level(uint8_t **buf, int64_t *len, int64_t *cap, const ds_level *l, const float *probs) {
    int64_t need = *len + 12 + l->n + l->n * MODEL_NA * 4 + DS_FRAME_BYTES;
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
    memcpy(p + 12, l->label, (size_t)l->n);
    memcpy(p + 12 + l->n, probs, (size_t)l->n * MODEL_NA * 4);
    memset(p + 12 + l->n + l->n * MODEL_NA * 4, 0, DS_FRAME_BYTES);
    if (l->n > 0) memcpy(p + 12 + l->n + l->n * MODEL_NA * 4, l->frames + (size_t)(l->n / 2) * DS_FRAME_BYTES, DS_FRAME_BYTES);
    *len = need;
    return 0;
}

/* The levels another rank evaluated, added in their order (probabilities
 * copied to aligned memory first). */
static int unpack_levels(const uint8_t *buf, int64_t len, eval_acc *acc, uint8_t *sheet, uint8_t *sheet_lab,
                         uint8_t *sheet_pred, int *nsheet, int from, cb_err *e) {
    float *probs = NULL;
    int64_t cap = 0, off = 0;
    int rc = 0;
    while (!rc && off < len) {
        int32_t seed;
        int64_t n;
        if (len - off < 12) return free(probs), cb_fail(e, CB_EFORMAT, "rank %d sent a truncated level", from);
        memcpy(&seed, buf + off, 4);
        memcpy(&n, buf + off + 4, 8);
        if (n < 0 || n > (len - off - 12 - DS_FRAME_BYTES) / (1 + MODEL_NA * 4))
            return free(probs), cb_fail(e, CB_EFORMAT, "rank %d sent level %d with a bad frame count", from, seed);
        if (n > cap) {
            free(probs);
            cap = n;
            if (!(probs = malloc(sizeof(float) * (size_t)cap * MODEL_NA))) return cb_fail(e, CB_ENOMEM, "out of memory");
        }
        const uint8_t *lab = buf + off + 12;
        memcpy(probs, lab + n, (size_t)n * MODEL_NA * 4);
        rc = add_level(acc, seed, n, lab, probs, lab + n + n * MODEL_NA * 4, sheet, sheet_lab, sheet_pred, nsheet, e);
        off += 12 + n + n * MODEL_NA * 4 + DS_FRAME_BYTES;
    }
    free(probs);
    return rc;
}

/* evaluates levels of r in [lo, hi] one at a time; keeps a few frames for the
 * report. Under mpirun each rank takes a contiguous share of the levels and
 * rank 0 adds the others' levels after its own, in rank order: the order
 * of one process, so the figures are the same bytes. */
static int eval_levels(const char *cmd, model *m, ds_reader *r, int32_t lo, int32_t hi, eval_acc *acc, uint8_t *sheet,
                       uint8_t *sheet_lab, uint8_t *sheet_pred, int *nsheet, int quiet) {
    cb_err e = {0};
    int n = 0;
    for (int i = 0; i < ds_nlevels(r); i++) n += ds_level_seed(r, i) >= lo && ds_level_seed(r, i) <= hi;
    if (n == 0)
        return cli_error(cmd, "%s: no levels in %d-%d (the dataset has seeds %d..%d)", ds_path(r), lo, hi,
                         ds_nlevels(r) ? ds_level_seed(r, 0) : 0, ds_nlevels(r) ? ds_level_seed(r, ds_nlevels(r) - 1) : 0);
    int me = cb_dist_rank(), P = cb_dist_size();
    int64_t mlo, mhi;
    cb_dist_share(n, me, P, &mlo, &mhi);
    cb_progress p;
    cb_progress_start(&p, "eval", "levels", mhi - mlo, quiet);
    float *probs = NULL;
    uint8_t *out = NULL;
    int64_t cap = 0, done = 0, k = -1, olen = 0, ocap = 0;
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < lo || s > hi) continue;
        if (++k < mlo || k >= mhi) continue;
        ds_level l;
        if (ds_load(r, &s, 1, &l, 1, &e)) {
            free(probs);
            free(out);
            return cli_fail(cmd, &e);
        }
        if (l.n > cap) {
            free(probs);
            cap = l.n;
            probs = malloc(sizeof(float) * (size_t)cap * MODEL_NA);
            if (!probs) return free(out), ds_level_free(&l), cli_error(cmd, "out of memory");
        }
        model_predict_io io = {.probs = probs};
        int rc = model_predict(m, l.frames, l.n, &io, &e);
        if (!rc && me == 0)
            rc = add_level(acc, l.seed, l.n, l.label, probs, l.n ? l.frames + (size_t)(l.n / 2) * DS_FRAME_BYTES : NULL,
                           sheet, sheet_lab, sheet_pred, nsheet, &e);
        if (!rc && me > 0 && pack_level(&out, &olen, &ocap, &l, probs)) rc = cb_fail(&e, CB_ENOMEM, "out of memory");
        ds_level_free(&l);
        if (rc) {
            free(probs);
            free(out);
            return cli_fail(cmd, &e);
        }
        cb_progress_update(&p, ++done);
    }
    cb_progress_finish(&p);
    free(probs);
    int rc = 0;
    if (me > 0) rc = cli_dist_send_blob(out, olen, &e);
    for (int from = 1; me == 0 && from < P && !rc; from++) {
        uint8_t *buf;
        int64_t len;
        if (!(rc = cli_dist_recv_blob(from, &buf, &len, &e)))
            rc = unpack_levels(buf, len, acc, sheet, sheet_lab, sheet_pred, nsheet, from, &e);
        free(buf);
    }
    free(out);
    return rc ? cli_fail(cmd, &e) : 0;
}

static void print_table(const char *what, const eval_acc *a) {
    eval_acc_summary s;
    eval_acc_summarize(&s, a);
    printf("%s: %d levels, %lld frames\n", what, a->nlevels, (long long)a->n);
    printf("  accuracy %.4f   merged (9..14 = NOOP) %.4f   loss %.4f\n", s.acc, s.acc_merged, s.loss);
    printf("  per level: mean %.4f, std %.4f; worst:", s.level_mean, s.level_std);
    for (int k = 0; k < s.nworst; k++) {
        const eval_level_acc *l = &a->levels[s.worst[k]];
        printf(" %d (%.3f)", l->seed, (double)l->correct / (double)l->n);
    }
    printf("\n  confusion (rows: expert label, columns: policy action; only rows with frames)\n        ");
    for (int p = 0; p < 9; p++) printf("%6s", game_action_short_name(p));
    printf("  9-14\n");
    for (int y = 0; y < 15; y++) {
        int64_t tot = 0;
        for (int p = 0; p < 15; p++) tot += a->confusion[y][p];
        if (!tot) continue;
        printf("  %5s ", game_action_short_name(y));
        int64_t rest = 0;
        for (int p = 0; p < 15; p++)
            if (p < 9) printf("%6lld", (long long)a->confusion[y][p]);
            else rest += a->confusion[y][p];
        printf("%6lld\n", (long long)rest);
    }
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

int cli_cmd_eval(int argc, char **argv) {
    cli_range lv = {0, INT32_MAX};
    const char *ckpt = NULL;
    int json = 0, no_train = 0, quiet = 0;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "held-out level seeds to evaluate (default: every level of DATA)", 0},
        {"checkpoint", CLI_STR, &ckpt, "FILE", "checkpoint to evaluate (default RUN/best.ckpt)", 0},
        {"no-train", CLI_FLAG, &no_train, NULL, "skip the training levels (the train/test gap)", 0},
        {"json", CLI_FLAG, &json, NULL, "print JSON instead of tables", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    cli_cmd_info info = {
        "eval", "Accuracy of a run's policy against the expert's labels on held-out levels: overall, with the\n"
                "NOOP-equivalent actions 9..14 merged, per level (mean, std, worst), the confusion matrix; and the\n"
                "same on the run's training levels, so the train/test gap is one command away. Writes RUN/eval.json\n"
                "and RUN/eval_frames.png (held-out frames with the expert's and the policy's action).",
        "coinbc eval RUN DATA [--levels A-B] [--checkpoint FILE] [--json]",
        "Levels are read one at a time, so memory stays flat however many there are.\n"
        "example: coinbc eval runs/and test.cbd"};
    const char *pos[2];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 2, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 2) return cli_error("eval", "give RUN and DATA (see coinbc eval --help)"), 2;
    char path[4200];
    if (!ckpt) {
        snprintf(path, sizeof path, "%s/best.ckpt", pos[0]);
        ckpt = path;
    }
    model m;
    model_ckpt_state st;
    cb_err e = {0};
    { /* the records eval writes into RUN, against what it reads */
        char rec_json[4200], rec_png[4200], cfg_json[4200];
        snprintf(rec_json, sizeof rec_json, "%s/eval.json", pos[0]);
        snprintf(rec_png, sizeof rec_png, "%s/eval_frames.png", pos[0]);
        snprintf(cfg_json, sizeof cfg_json, "%s/config.json", pos[0]);
        const char *in[] = {ckpt, pos[1], cfg_json};
        if (cb_path_check_output("RUN", rec_json, CB_OUT_RUN_RECORD, in, CLI_COUNT(in), &e) ||
            cb_path_check_output("RUN", rec_png, CB_OUT_RUN_RECORD, in, CLI_COUNT(in), &e))
            return cli_fail("eval", &e), 2;
    }
    if (model_load(&m, &st, ckpt, &e)) {
        if (e.code == CB_ENOTFOUND) return cli_no_checkpoint("eval", pos[0], ckpt);
        return cli_fail("eval", &e);
    }
    ds_reader *r;
    if (ds_open(&r, pos[1], &e)) {
        model_free(&m);
        return cli_fail("eval", &e);
    }
    eval_acc test, train;
    eval_acc_init(&test);
    eval_acc_init(&train);
    uint8_t *sheet = malloc(8 * DS_FRAME_BYTES), lab[8], pred[8];
    int nsheet = 0, status = eval_levels("eval", &m, r, lv.lo, lv.hi, &test, sheet, lab, pred, &nsheet, quiet);
    /* the training levels, from config.json */
    int have_train = 0;
    run_config cfg;
    if (!status && !no_train) {
        int crc = run_config_read(&cfg, pos[0], &e);
        if (crc && crc != CB_ENOTFOUND) {
            status = cli_fail("eval", &e);
        } else if (!crc && cfg.has_data) {
            ds_reader *rt;
            if (ds_open(&rt, cfg.data, &e) == 0) {
                status = eval_levels("eval", &m, rt, cfg.train_seed_lo, cfg.train_seed_hi, &train, NULL, NULL, NULL, NULL,
                                     quiet);
                have_train = !status;
                ds_close(rt);
            } else if (!quiet) {
                fprintf(stderr, "coinbc eval: training data not evaluated: %s\n", e.msg);
            }
        }
    }
    run_eval rec;
    run_text jt = {0};
    if (cb_dist_rank() > 0) goto done; /* rank 0 writes */
    if (!status) {
        memset(&rec, 0, sizeof rec);
        snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", ckpt);
        snprintf(rec.data, sizeof rec.data, "%s", pos[1]);
        eval_set(&rec.test, &test);
        rec.has_train = have_train;
        if (have_train) {
            eval_set(&rec.train, &train);
            rec.gap = rec.train.acc - rec.test.acc;
        }
        for (int y = 0; y < MODEL_NA; y++)
            for (int p = 0; p < MODEL_NA; p++) rec.confusion[y][p] = test.confusion[y][p];
        if (run_eval_encode(&jt, &rec, &e)) status = cli_fail("eval", &e);
    }
    if (!status) {
        if (json) fputs(jt.s, stdout);
        else {
            print_table("held-out levels", &test);
            if (have_train) {
                print_table("training levels", &train);
                eval_acc_summary a, b;
                eval_acc_summarize(&a, &train);
                eval_acc_summarize(&b, &test);
                printf("train/test gap: %+.4f\n", a.acc - b.acc);
            }
        }
        if (run_eval_write(pos[0], &rec, &e)) status = cli_fail("eval", &e);
        /* the frames for the report: 8 frames side by side, E (expert) and P (policy) under each */
        if (!status && nsheet > 0) {
            int W = nsheet * 66, H = 64 + 10;
            uint8_t *img = calloc((size_t)W * H * 3, 1);
            static const uint8_t white[3] = {255, 255, 255}, green[3] = {90, 230, 90}, red[3] = {255, 90, 90};
            for (int k = 0; k < nsheet; k++) {
                for (int y = 0; y < 64; y++)
                    memcpy(img + ((size_t)y * W + k * 66 + 1) * 3, sheet + (size_t)k * DS_FRAME_BYTES + (size_t)y * 64 * 3, 64 * 3);
                char t[32];
                snprintf(t, sizeof t, "E%d", lab[k]);
                eval_draw_text(img, W, H, k * 66 + 4, 67, t, white);
                snprintf(t, sizeof t, "P%d", pred[k]);
                eval_draw_text(img, W, H, k * 66 + 34, 67, t, pred[k] == lab[k] ? green : red);
            }
            snprintf(path, sizeof path, "%s/eval_frames.png", pos[0]);
            if (game_write_png(path, img, W, H, &e)) status = cli_fail("eval", &e);
            free(img);
        }
    }
done:
    run_text_free(&jt);
    free(sheet);
    eval_acc_free(&test);
    eval_acc_free(&train);
    ds_close(r);
    model_free(&m);
    return status;
}
