/* loop.c - the training loop: every step samples L distinct training levels
 * and B frames of each, runs one forward and one backward pass for the whole
 * batch (one parameter gradient per level), combines the gradients, and takes
 * an Adam step. After every epoch: validation, metrics.csv and metrics.jsonl,
 * latest.ckpt and best.ckpt (by validation accuracy), all written atomically.
 * Resuming from latest.ckpt gives the same result as an uninterrupted run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

int train_evaluate(model *m, const ds_level *levels, int n, double *loss, double *acc, cb_err *e) {
    const int CH = 256;
    int rc = model_set_batch(m, CH, e);
    if (rc) return rc;
    double ls = 0;
    int64_t ok = 0, tot = 0;
    for (int i = 0; i < n; i++)
        for (int64_t s = 0; s < levels[i].n; s += CH) {
            int k = (int)(levels[i].n - s < CH ? levels[i].n - s : CH), c;
            model_forward_u8(m, levels[i].frames + (size_t)s * DS_FRAME_BYTES, k, NULL);
            ls += model_loss(m, levels[i].label + s, k, &c) * k;
            ok += c;
            tot += k;
        }
    *loss = tot ? ls / (double)tot : 0;
    *acc = tot ? (double)ok / (double)tot : 0;
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

/* keeps the header and the first `rows` lines of an existing metrics file */
static int tb_load_rows(textbuf *t, const char *path, int64_t rows) {
    uint8_t *buf;
    size_t n;
    if (cb_read_file(path, &buf, &n, NULL)) return 0;
    char *p = (char *)buf;
    int64_t line = 0;
    char *end = p;
    while (*end && line < rows + 1) {
        char *nl = strchr(end, '\n');
        if (!nl) break;
        end = nl + 1;
        line++;
    }
    *end = 0;
    int rc = tb_add(t, p);
    free(buf);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cb_write_file_atomic(path, text, strlen(text), e);
}

int train_run(const train_opts *o, const ds_level *train, int n_train, const ds_level *val, int n_val, train_result *res,
              cb_err *e) {
    memset(res, 0, sizeof *res);
    int L = o->batch_levels, B = o->batch_frames, N = L * B;
    if (n_train < 1) return cb_fail(e, CB_EARG, "train: no training levels");
    if (L < 1 || B < 1) return cb_fail(e, CB_EARG, "train: --batch-levels and --batch-frames must be at least 1");
    if (L > n_train)
        return cb_fail(e, CB_EARG, "train: --batch-levels %d is more than the %d training levels", L, n_train);
    if (o->epochs < 1) return cb_fail(e, CB_EARG, "train: --epochs must be at least 1");
    if (!(o->lr > 0)) return cb_fail(e, CB_EARG, "train: --lr must be positive");
    if (!(o->comb.tau >= 0 && o->comb.tau <= 1)) return cb_fail(e, CB_EARG, "train: --tau must be in [0, 1]");
    int64_t total_frames = 0;
    for (int i = 0; i < n_train; i++) {
        if (train[i].n < 1) return cb_fail(e, CB_EARG, "train: level %d has no frames", train[i].seed);
        total_frames += train[i].n;
    }
    int64_t steps_per_epoch = total_frames / N > 0 ? total_frames / N : 1;
    int64_t total_steps = steps_per_epoch * o->epochs;
    int rc = cb_mkdirs(o->run, e);
    if (rc) return rc;

    model m;
    model_ckpt_state st;
    memset(&st, 0, sizeof st);
    char ckpath[4200];
    snprintf(ckpath, sizeof ckpath, "%s/latest.ckpt", o->run);
    if (o->resume) {
        if ((rc = model_load(&m, &st, ckpath, e))) return cb_err_prefix(e, "cannot resume: ");
        if (memcmp(&m.cfg, &o->net, sizeof m.cfg) != 0) {
            model_free(&m);
            return cb_fail(e, CB_EARG, "%s: the checkpoint's network differs from the options given", ckpath);
        }
    } else {
        if ((rc = model_init(&m, &o->net, e))) return rc;
        cb_rng_seed(&st.rng, o->seed);
        model_init_params(&m, &st.rng);
        st.best_val = -1;
    }
    float *mem = malloc(sizeof(float) * (m.nparams * ((size_t)L + 1) + (size_t)m.ntensors * 2));
    uint8_t *frames = malloc((size_t)N * DS_FRAME_BYTES), *labels = malloc((size_t)N);
    int *perm = malloc(sizeof(int) * (size_t)n_train);
    textbuf csv = {0}, jsonl = {0};
    if (!mem || !frames || !labels || !perm) {
        rc = cb_fail(e, CB_ENOMEM, "train: out of memory for a batch of %d x %d", L, B);
        goto out;
    }
    float *grads = mem, *g = mem + m.nparams * (size_t)L, *density = g + m.nparams, *dens_sum = density + m.ntensors;

    /* config.json: every option, written once (again on resume) */
    {
        char buf[8192];
        snprintf(buf, sizeof buf,
                 "{\n  \"coinbc_version\": \"%s\",\n  \"net\": \"%s\",\n  \"channels\": [%d, %d, %d],\n  \"hidden\": %d,\n"
                 "  \"params\": %zu,\n  \"method\": \"%s\",\n  \"tau\": %g,\n  \"sand_k\": %g,\n  \"rescale\": %s,\n"
                 "  \"epochs\": %d,\n  \"lr\": %g,\n  \"lr_schedule\": \"%s\",\n  \"wd\": %g,\n  \"wd_mode\": \"%s\",\n"
                 "  \"batch_levels\": %d,\n  \"batch_frames\": %d,\n  \"seed\": %llu,\n  \"train_levels\": %d,\n"
                 "  \"train_frames\": %lld,\n  \"val_levels\": %d,\n  \"steps_per_epoch\": %lld%s%s\n}\n",
                 CB_VERSION, model_net_name(o->net.net), o->net.channels[0], o->net.channels[1], o->net.channels[2],
                 o->net.hidden, m.nparams, train_method_name(o->comb.method), o->comb.tau, o->comb.sand_k,
                 o->comb.rescale ? "true" : "false", o->epochs, o->lr, o->lr_decay ? "step-0.75" : "constant", o->wd,
                 o->wd_mode == TRAIN_WD_DECOUPLED ? "decoupled" : "l2", L, B, (unsigned long long)o->seed, n_train,
                 (long long)total_frames, n_val, (long long)steps_per_epoch, o->config_extra ? ",\n" : "",
                 o->config_extra ? o->config_extra : "");
        if ((rc = write_text(o->run, "config.json", buf, e))) goto out;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", o->run);
    if (o->resume) rc = tb_load_rows(&csv, path, st.epoch);
    if (!rc && csv.len == 0) {
        rc = tb_add(&csv, "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds");
        for (int t = 0; t < m.ntensors && !rc; t++) {
            size_t nl = strlen(m.tensors[t].name);
            if (nl < 2 || strcmp(m.tensors[t].name + nl - 2, ".w")) continue;
            char col[64];
            snprintf(col, sizeof col, ",mask_%.*s", (int)(nl - 2), m.tensors[t].name);
            rc = tb_add(&csv, col);
        }
        if (!rc) rc = tb_add(&csv, "\n");
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->run);
    if (!rc && o->resume) rc = tb_load_rows(&jsonl, path, st.epoch - 1);
    if (rc) {
        rc = cb_fail(e, CB_ENOMEM, "train: out of memory");
        goto out;
    }

    double t_start = cb_now();
    for (int64_t epoch = st.epoch; epoch < o->epochs; epoch++) {
        double t_ep = cb_now(), loss_sum = 0;
        int64_t ok_sum = 0, seen = 0;
        memset(dens_sum, 0, sizeof(float) * (size_t)m.ntensors);
        char label[160];
        snprintf(label, sizeof label, "epoch %lld/%d", (long long)epoch + 1, o->epochs);
        cb_progress prog;
        cb_progress_start(&prog, label, "steps", steps_per_epoch, o->quiet);
        if ((rc = model_set_batch(&m, N, e))) goto out;
        for (int64_t s = 0; s < steps_per_epoch; s++) {
            if (o->max_steps > 0 && st.step >= o->max_steps) break;
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
                             "training diverged: the loss is %g at step %lld (epoch %lld); the last good checkpoint "
                             "is %s (try a smaller --lr)", loss, (long long)st.step, (long long)epoch + 1, ckpath);
                goto out;
            }
            model_backward(&m, labels, L, B, grads);
            if ((rc = train_combine(g, density, grads, L, m.nparams, m.tensors, m.ntensors, &o->comb, e))) {
                cb_err_prefix(e, "step %lld: ", (long long)st.step);
                goto out;
            }
            double lr = o->lr;
            if (o->lr_decay && (double)st.step >= 0.75 * (double)total_steps) lr *= 0.1;
            st.step++;
            train_adam_step(&m, g, lr, st.step, o->wd, o->wd_mode);
            for (int t = 0; t < m.ntensors; t++) dens_sum[t] += density[t];
            loss_sum += loss * N;
            ok_sum += ok;
            seen += N;
            if (!o->quiet && (s % 8 == 0 || s + 1 == steps_per_epoch)) {
                double el = cb_now() - t_ep;
                snprintf(label, sizeof label, "epoch %lld/%d loss %.3f acc %.3f %.0f samples/s", (long long)epoch + 1,
                         o->epochs, loss_sum / (double)seen, (double)ok_sum / (double)seen,
                         el > 0 ? (double)seen / el : 0);
            }
            cb_progress_update(&prog, s + 1);
        }
        cb_progress_finish(&prog);
        int64_t steps_done = seen / N;
        double train_loss = seen ? loss_sum / (double)seen : 0, train_acc = seen ? (double)ok_sum / (double)seen : 0;
        double val_loss = NAN, val_acc = NAN;
        if (n_val > 0 && (rc = train_evaluate(&m, val, n_val, &val_loss, &val_acc, e))) goto out;
        double secs = cb_now() - t_ep;
        st.epoch = epoch + 1;
        double lr_now = o->lr * (o->lr_decay && (double)st.step >= 0.75 * (double)total_steps ? 0.1 : 1.0);
        char row[8192];
        int k = snprintf(row, sizeof row, "%lld,%lld,%.6f,%.6f,%.6f,%.6f,%g,%.2f", (long long)st.epoch, (long long)st.step,
                         train_loss, train_acc, val_loss, val_acc, lr_now, secs);
        char js[8192];
        int kj = snprintf(js, sizeof js,
                          "{\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.6f, \"train_acc\": %.6f, \"val_loss\": %.6f, "
                          "\"val_acc\": %.6f, \"lr\": %g, \"seconds\": %.2f, \"mask_density\": {",
                          (long long)st.epoch, (long long)st.step, train_loss, train_acc, isnan(val_loss) ? -1 : val_loss,
                          isnan(val_acc) ? -1 : val_acc, lr_now, secs);
        int first = 1;
        for (int t = 0; t < m.ntensors; t++) {
            size_t nl = strlen(m.tensors[t].name);
            if (nl < 2 || strcmp(m.tensors[t].name + nl - 2, ".w")) continue;
            double d = steps_done ? dens_sum[t] / (double)steps_done : 1;
            k += snprintf(row + k, sizeof row - (size_t)k, ",%.5f", d);
            kj += snprintf(js + kj, sizeof js - (size_t)kj, "%s\"%.*s\": %.5f", first ? "" : ", ", (int)(nl - 2),
                           m.tensors[t].name, d);
            first = 0;
        }
        snprintf(row + k, sizeof row - (size_t)k, "\n");
        snprintf(js + kj, sizeof js - (size_t)kj, "}}\n");
        if (tb_add(&csv, row) || tb_add(&jsonl, js)) {
            rc = cb_fail(e, CB_ENOMEM, "train: out of memory");
            goto out;
        }
        int best = n_val > 0 && val_acc > st.best_val;
        if (best) st.best_val = val_acc;
        if ((rc = model_save(&m, &st, ckpath, e))) goto out;
        if (best || n_val == 0) {
            char bp[4200];
            snprintf(bp, sizeof bp, "%s/best.ckpt", o->run);
            if ((rc = model_save(&m, &st, bp, e))) goto out;
        }
        if ((rc = write_text(o->run, "metrics.csv", csv.text, e)) || (rc = write_text(o->run, "metrics.jsonl", jsonl.text, e)))
            goto out;
        if (!o->quiet)
            fprintf(stderr, "epoch %lld: train loss %.4f acc %.4f, val loss %.4f acc %.4f%s, %.1f s\n", (long long)st.epoch,
                    train_loss, train_acc, val_loss, val_acc, best ? " (best)" : "", secs);
        res->epochs_done = (int)st.epoch;
        res->steps = st.step;
        res->train_loss = train_loss;
        res->train_acc = train_acc;
        res->val_loss = val_loss;
        res->val_acc = val_acc;
        res->best_val_acc = st.best_val;
        if (o->max_steps > 0 && st.step >= o->max_steps) break;
    }
    res->seconds = cb_now() - t_start;
    res->samples_per_s = res->seconds > 0 ? (double)(res->steps) * N / res->seconds : 0;
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
