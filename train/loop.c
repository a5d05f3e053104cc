/* loop.c - the training loop: every step samples L distinct training levels
 * and B frames of each, runs one forward and one backward pass for the whole
 * batch (one parameter gradient per level), combines the gradients, and takes
 * an Adam step. After every epoch: validation, metrics.csv and metrics.jsonl,
 * latest.ckpt and best.ckpt (by validation accuracy), all written atomically.
 * Resuming from latest.ckpt gives the same result as an uninterrupted run:
 * the checkpoint holds the parameters, Adam moments, step and sampling RNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e) {
    model_predict_io io = {0}; /* chunks of the current (training) batch, if one is set */
    int64_t tot = 0;
    for (int i = 0; i < n; i++) {
        io.labels = levels[i].label;
        int rc = model_predict(m, levels[i].frames, levels[i].n, &io, e);
        if (rc) return rc;
        tot += levels[i].n;
    }
    *loss = tot ? io.loss_sum / (double)tot : NAN;
    *acc = tot ? (double)io.correct / (double)tot : NAN;
    return 0;
}

typedef struct {
    char *text; /* all rows so far, header first */
    size_t len, cap;
} textbuf;

static int tb_add(textbuf *t, const char *s) {
    size_t l = strlen(s);
    if (t->len + l + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + l;
        char *n = realloc(t->text, cap);
        if (!n) return CB_ENOMEM;
        t->text = n;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, l + 1);
    t->len += l;
    return 0;
}

/* keeps the first `lines` lines of an existing file (the rows of the epochs
 * the checkpoint covers); a missing file keeps nothing */
static int tb_load_lines(textbuf *t, const char *path, int64_t lines) {
    uint8_t *buf;
    size_t n;
    if (cb_read_file(path, &buf, &n, NULL)) return 0;
    char *end = (char *)buf;
    for (int64_t line = 0; line < lines; line++) {
        char *nl = strchr(end, '\n');
        if (!nl) break;
        end = nl + 1;
    }
    *end = 0;
    int rc = tb_add(t, (char *)buf);
    free(buf);
    return rc;
}

static int is_weight(const model_tensor *t) {
    size_t nl = strlen(t->name);
    return nl >= 2 && !strcmp(t->name + nl - 2, ".w");
}

static int write_config(const train_opts *o, const model *m, int n_train, int64_t total_frames, int n_val,
                        int64_t steps_per_epoch, cb_err *e) {
    char buf[16384];
    snprintf(buf, sizeof buf,
             "{\n  \"coinbc_version\": \"%s\",\n  \"net\": \"%s\",\n  \"channels\": [%d, %d, %d],\n  \"hidden\": %d,\n"
             "  \"params\": %zu,\n  \"method\": \"%s\",\n  \"tau\": %.17g,\n  \"sand_k\": %.17g,\n  \"rescale\": %s,\n"
             "  \"epochs\": %d,\n  \"lr\": %.17g,\n  \"lr_schedule\": \"%s\",\n  \"wd\": %.17g,\n  \"wd_mode\": \"%s\",\n"
             "  \"batch_levels\": %d,\n  \"batch_frames\": %d,\n  \"seed\": %llu,\n  \"max_steps\": %lld,\n"
             "  \"train_levels\": %d,\n  \"train_frames\": %lld,\n  \"val_levels\": %d,\n  \"steps_per_epoch\": %lld%s%s\n}\n",
             CB_VERSION, model_net_name(o->net.net), o->net.channels[0], o->net.channels[1], o->net.channels[2],
             o->net.hidden, m->nparams, train_method_name(o->comb.method), o->comb.tau, o->comb.sand_k,
             o->comb.rescale ? "true" : "false", o->epochs, o->lr, o->lr_decay ? "step" : "const", o->wd,
             o->wd_mode == TRAIN_WD_DECOUPLED ? "decoupled" : "l2", o->batch_levels, o->batch_frames,
             (unsigned long long)o->seed, (long long)o->max_steps, n_train, (long long)total_frames, n_val,
             (long long)steps_per_epoch, o->config_extra ? ",\n" : "", o->config_extra ? o->config_extra : "");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", o->run);
    return cb_write_file_atomic(path, buf, strlen(buf), e);
}

static double lr_at(const train_opts *o, int64_t step, int64_t total_steps) {
    return o->lr_decay && (double)step >= 0.75 * (double)total_steps ? o->lr * 0.1 : o->lr;
}

int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e) {
    memset(res, 0, sizeof *res);
    int L = o->batch_levels, B = o->batch_frames, N = L * B;
    if (n_train < 1) return cb_fail(e, CB_EARG, "train: no training levels");
    if (L < 1 || B < 1 || L > 4096 || B > 4096)
        return cb_fail(e, CB_EARG, "train: batch of %d levels x %d frames (each must be 1..4096)", L, B);
    if (L > n_train)
        return cb_fail(e, CB_EARG, "train: --batch-levels %d is more than the %d training levels", L, n_train);
    if (o->epochs < 1) return cb_fail(e, CB_EARG, "train: --epochs must be at least 1");
    if (!(o->lr > 0) || !isfinite(o->lr)) return cb_fail(e, CB_EARG, "train: --lr must be a positive number");
    if (!(o->wd >= 0) || !isfinite(o->wd)) return cb_fail(e, CB_EARG, "train: --wd must be >= 0");
    if (!(o->comb.tau >= 0 && o->comb.tau <= 1)) return cb_fail(e, CB_EARG, "train: --tau must be in [0, 1]");
    if (!(o->comb.sand_k > 0) || !isfinite(o->comb.sand_k)) return cb_fail(e, CB_EARG, "train: --sand-k must be positive");
    if (o->comb.method < TRAIN_MEAN || o->comb.method > TRAIN_GEOMEAN) return cb_fail(e, CB_EARG, "train: unknown method");
    int64_t total_frames = 0;
    for (int i = 0; i < n_train; i++) {
        if (train[i].n < 1) return cb_fail(e, CB_EARG, "train: level %d has no frames", train[i].seed);
        if (train[i].n > UINT32_MAX) return cb_fail(e, CB_EARG, "train: level %d has too many frames", train[i].seed);
        for (int64_t f = 0; f < train[i].n; f++)
            if (train[i].label[f] >= MODEL_NA)
                return cb_fail(e, CB_EFORMAT, "train: level %d frame %lld: label %d is not an action 0..14", train[i].seed,
                               (long long)f, train[i].label[f]);
        total_frames += train[i].n;
    }
    for (int i = 0; i < n_val; i++)
        for (int64_t f = 0; f < val[i].n; f++)
            if (val[i].label[f] >= MODEL_NA)
                return cb_fail(e, CB_EFORMAT, "train: validation level %d frame %lld: label %d is not an action 0..14",
                               val[i].seed, (long long)f, val[i].label[f]);
    int64_t steps_per_epoch = total_frames / N > 0 ? total_frames / N : 1;
    int64_t total_steps = steps_per_epoch * o->epochs;
    int rc = cb_mkdirs(o->run, e);
    if (rc) return rc;

    model m;
    model_ckpt_state st;
    memset(&st, 0, sizeof st);
    char ckpath[4200], bestpath[4200], csvpath[4200], jsonpath[4200];
    snprintf(ckpath, sizeof ckpath, "%s/latest.ckpt", o->run);
    snprintf(bestpath, sizeof bestpath, "%s/best.ckpt", o->run);
    snprintf(csvpath, sizeof csvpath, "%s/metrics.csv", o->run);
    snprintf(jsonpath, sizeof jsonpath, "%s/metrics.jsonl", o->run);
    if (o->resume) {
        if ((rc = model_load(&m, &st, ckpath, e))) return cb_err_prefix(e, "cannot resume: ");
        if (memcmp(&m.cfg, &o->net, sizeof m.cfg) != 0) {
            model_config c = m.cfg;
            model_free(&m);
            return cb_fail(e, CB_EARG, "cannot resume: %s holds a %s net (channels %d,%d,%d, hidden %d), the options ask for %s "
                           "(channels %d,%d,%d, hidden %d)", ckpath, model_net_name(c.net), c.channels[0],
                           c.channels[1], c.channels[2], c.hidden, model_net_name(o->net.net),
                           o->net.channels[0], o->net.channels[1], o->net.channels[2], o->net.hidden);
        }
        if (st.extra[0] != (uint64_t)steps_per_epoch) {
            model_free(&m);
            return cb_fail(e, CB_EARG, "cannot resume: %s was trained with %llu steps per epoch, these data and batch size "
                           "give %lld (different levels or --batch-levels/--batch-frames?)", ckpath,
                           (unsigned long long)st.extra[0], (long long)steps_per_epoch);
        }
    } else {
        uint8_t *tmp;
        size_t tn;
        if (cb_read_file(ckpath, &tmp, &tn, NULL) == 0) {
            free(tmp);
            return cb_fail(e, CB_EEXIST, "%s already holds a training run (%s); use --resume to continue it or another -o",
                           o->run, ckpath);
        }
        if ((rc = model_init(&m, &o->net, e))) return rc;
        cb_rng_seed(&st.rng, o->seed);
        model_init_params(&m, &st.rng);
        st.best_val = -1;
        st.extra[0] = (uint64_t)steps_per_epoch;
    }
    model_set_threads(&m, o->threads > 0 ? o->threads : cb_default_threads());
    float *mem = malloc(sizeof(float) * (m.nparams * ((size_t)L + 1) + (size_t)m.ntensors * 2));
    uint8_t *frames = malloc((size_t)N * DS_FRAME_BYTES), *labels = malloc((size_t)N);
    int *perm = malloc(sizeof(int) * (size_t)n_train);
    textbuf csv = {0}, jsonl = {0};
    if (!mem || !frames || !labels || !perm) {
        rc = cb_fail(e, CB_ENOMEM, "train: out of memory for a batch of %d x %d", L, B);
        goto out;
    }
    float *grads = mem, *g = mem + m.nparams * (size_t)L, *density = g + m.nparams, *dens_sum = density + m.ntensors;
    if ((rc = write_config(o, &m, n_train, total_frames, n_val, steps_per_epoch, e))) goto out;
    /* metrics so far: header + one line per completed epoch */
    if (o->resume) rc = tb_load_lines(&csv, csvpath, st.epoch + 1);
    if (!rc && csv.len == 0) {
        rc = tb_add(&csv, "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds");
        for (int t = 0; t < m.ntensors && !rc; t++) {
            if (!is_weight(&m.tensors[t])) continue;
            char col[64];
            snprintf(col, sizeof col, ",mask_%.*s", (int)strlen(m.tensors[t].name) - 2, m.tensors[t].name);
            rc = tb_add(&csv, col);
        }
        if (!rc) rc = tb_add(&csv, "\n");
    }
    if (!rc && o->resume) rc = tb_load_lines(&jsonl, jsonpath, st.epoch);
    if (!rc) rc = tb_add(&jsonl, ""); /* a valid empty text */
    if (rc) {
        rc = cb_fail(e, CB_ENOMEM, "train: out of memory");
        goto out;
    }
    if ((rc = model_set_batch_levels(&m, L, B, e))) goto out;

    double t_start = cb_now();
    int64_t steps_this_call = 0;
    for (int64_t epoch = st.epoch; epoch < o->epochs; epoch++) {
        double t_ep = cb_now(), loss_sum = 0;
        int64_t ok_sum = 0, seen = 0, s0 = st.step - epoch * steps_per_epoch; /* > 0 after a mid-epoch stop */
        if (s0 < 0 || s0 >= steps_per_epoch) s0 = 0;
        memset(dens_sum, 0, sizeof(float) * (size_t)m.ntensors);
        char label[200];
        snprintf(label, sizeof label, "epoch %lld/%d", (long long)epoch + 1, o->epochs);
        cb_progress prog;
        cb_progress_start(&prog, label, "steps", steps_per_epoch, o->quiet);
        int stopped = 0;
        for (int64_t s = s0; s < steps_per_epoch; s++) {
            if (o->max_steps > 0 && st.step >= o->max_steps) {
                stopped = 1;
                break;
            }
            /* L distinct levels (partial Fisher-Yates), B frames of each */
            for (int i = 0; i < n_train; i++) perm[i] = i;
            for (int l = 0; l < L; l++) {
                int j = l + (int)cb_rng_below(&st.rng, (uint32_t)(n_train - l)), tmp = perm[l];
                perm[l] = perm[j];
                perm[j] = tmp;
                const ds_level *lv = &train[perm[l]];
                for (int b = 0; b < B; b++) {
                    int64_t f = (int64_t)cb_rng_below(&st.rng, (uint32_t)lv->n);
                    memcpy(frames + (size_t)(l * B + b) * DS_FRAME_BYTES, lv->frames + (size_t)f * DS_FRAME_BYTES,
                           DS_FRAME_BYTES);
                    labels[l * B + b] = lv->label[f];
                }
            }
            model_forward_u8(&m, frames, N, NULL);
            int ok;
            double loss = model_loss(&m, labels, N, &ok);
            if (!isfinite(loss)) {
                rc = cb_fail(e, CB_ERANGE,
                             "training diverged: the loss is %g at step %lld (epoch %lld); the run folder keeps the last "
                             "good epoch (%s; try a smaller --lr)", loss, (long long)st.step + 1, (long long)epoch + 1,
                             ckpath);
                goto out;
            }
            model_backward(&m, labels, L, B, grads);
            train_combine_opts co = o->comb;
            co.threads = m.threads;
            if ((rc = train_combine(g, density, grads, L, m.nparams, m.tensors, m.ntensors, &co, e))) {
                cb_err_prefix(e, "training diverged at step %lld (epoch %lld; the run folder keeps the last good epoch, "
                              "%s): ", (long long)st.step + 1, (long long)epoch + 1, ckpath);
                goto out;
            }
            double lr = lr_at(o, st.step, total_steps);
            st.step++;
            steps_this_call++;
            train_adam_step(&m, g, lr, st.step, o->wd, o->wd_mode);
            for (int t = 0; t < m.ntensors; t++) dens_sum[t] += density[t];
            loss_sum += loss * N;
            ok_sum += ok;
            seen += N;
            if (!o->quiet) {
                double el = cb_now() - t_ep;
                snprintf(label, sizeof label, "epoch %lld/%d loss %.3f acc %.3f %.0f samples/s", (long long)epoch + 1,
                         o->epochs, loss_sum / (double)seen, (double)ok_sum / (double)seen,
                         el > 0 ? (double)seen / el : 0);
            }
            cb_progress_update(&prog, s + 1);
        }
        cb_progress_finish(&prog);
        double train_loss = seen ? loss_sum / (double)seen : NAN, train_acc = seen ? (double)ok_sum / (double)seen : NAN;
        res->steps = st.step;
        res->train_loss = train_loss;
        res->train_acc = train_acc;
        if (stopped) { /* max_steps reached mid-epoch: a checkpoint to resume from, no metrics row */
            if ((rc = model_save(&m, &st, ckpath, e))) goto out;
            break;
        }
        train_epoch_stats es;
        memset(&es, 0, sizeof es);
        es.val_loss = es.val_acc = NAN;
        if (n_val > 0 && (rc = train_evaluate(&m, val, n_val, &es.val_loss, &es.val_acc, e))) goto out;
        st.epoch = epoch + 1;
        es.epoch = st.epoch;
        es.step = st.step;
        es.train_loss = train_loss;
        es.train_acc = train_acc;
        es.lr = lr_at(o, st.step - 1, total_steps);
        es.seconds = cb_now() - t_ep;
        es.samples_per_s = es.seconds > 0 ? (double)seen / es.seconds : 0;
        int64_t steps_done = seen / N;
        for (int t = 0; t < m.ntensors; t++) {
            if (!is_weight(&m.tensors[t])) continue;
            es.layer[es.nlayers] = m.tensors[t].name;
            es.mask_density[es.nlayers++] = steps_done ? dens_sum[t] / (double)steps_done : NAN;
        }
        es.best = n_val > 0 && es.val_acc > st.best_val;
        if (es.best) st.best_val = es.val_acc;
        /* rows: NaN (no validation) is written as an empty CSV cell and a JSON null */
        char row[8192], js[8192], vl[32] = "", va[32] = "", jvl[32] = "null", jva[32] = "null";
        if (!isnan(es.val_loss)) {
            snprintf(vl, sizeof vl, "%.6f", es.val_loss);
            snprintf(va, sizeof va, "%.6f", es.val_acc);
            snprintf(jvl, sizeof jvl, "%.6f", es.val_loss);
            snprintf(jva, sizeof jva, "%.6f", es.val_acc);
        }
        int k = snprintf(row, sizeof row, "%lld,%lld,%.6f,%.6f,%s,%s,%g,%.2f", (long long)es.epoch, (long long)es.step,
                         es.train_loss, es.train_acc, vl, va, es.lr, es.seconds);
        int kj = snprintf(js, sizeof js,
                          "{\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.6f, \"train_acc\": %.6f, \"val_loss\": %s, "
                          "\"val_acc\": %s, \"lr\": %g, \"seconds\": %.2f, \"samples_per_s\": %.1f, \"mask_density\": {",
                          (long long)es.epoch, (long long)es.step, es.train_loss, es.train_acc, jvl, jva, es.lr,
                          es.seconds, es.samples_per_s);
        for (int t = 0; t < es.nlayers; t++) {
            int nl = (int)strlen(es.layer[t]) - 2;
            k += snprintf(row + k, sizeof row - (size_t)k, ",%.5f", es.mask_density[t]);
            kj += snprintf(js + kj, sizeof js - (size_t)kj, "%s\"%.*s\": %.5f", t ? ", " : "", nl, es.layer[t],
                           es.mask_density[t]);
        }
        snprintf(row + k, sizeof row - (size_t)k, "\n");
        snprintf(js + kj, sizeof js - (size_t)kj, "}}\n");
        if (tb_add(&csv, row) || tb_add(&jsonl, js)) {
            rc = cb_fail(e, CB_ENOMEM, "train: out of memory");
            goto out;
        }
        /* checkpoints first, then the metrics that refer to them */
        if ((rc = model_save(&m, &st, ckpath, e))) goto out;
        if ((es.best || n_val == 0) && (rc = model_save(&m, &st, bestpath, e))) goto out;
        if ((rc = cb_write_file_atomic(csvpath, csv.text, csv.len, e)) ||
            (rc = cb_write_file_atomic(jsonpath, jsonl.text, jsonl.len, e)))
            goto out;
        res->epochs_done = (int)st.epoch;
        res->val_loss = es.val_loss;
        res->val_acc = es.val_acc;
        res->best_val_acc = st.best_val;
        if (o->on_epoch) o->on_epoch(o->ctx, &es);
    }
    res->steps = st.step;
    res->epochs_done = (int)st.epoch;
    res->best_val_acc = st.best_val;
    res->seconds = cb_now() - t_start;
    res->samples_per_s = res->seconds > 0 ? (double)steps_this_call * N / res->seconds : 0;
out:
    free(mem);
    free(frames);
    free(labels);
    free(perm);
    free(csv.text);
    free(jsonl.text);
    model_free(&m);
    return rc;
}
