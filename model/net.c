/* net.c - building the IMPALA and Nature networks as an op list, one
 * allocation for parameters and Adam state, activations per batch size,
 * forward, loss, and the backward pass that yields one parameter gradient
 * per level. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/kernels.h"
#include "model/model.h"

const char *model_net_name(int net) { return net == MODEL_NATURE ? "nature" : "impala"; }

int model_config_default(model_config *c, const char *net) {
    memset(c, 0, sizeof *c);
    if (!strcmp(net, "impala")) {
        *c = (model_config){MODEL_IMPALA, {16, 32, 32}, 256};
        return 0;
    }
    if (!strcmp(net, "nature")) {
        *c = (model_config){MODEL_NATURE, {32, 64, 64}, 512};
        return 0;
    }
    return CB_EARG;
}

typedef struct {
    model *m;
    int err;
} builder;

static int new_act(builder *b, int c, int h, int w) {
    model *m = b->m;
    if (m->nacts >= MODEL_MAX_OPS + 1) {
        b->err = 1;
        return 0;
    }
    m->acts[m->nacts] = (model_act){c, h, w};
    return m->nacts++;
}

static int new_tensor(builder *b, const char *name, size_t size, int fan_in) {
    model *m = b->m;
    if (m->ntensors >= MODEL_MAX_TENSORS) {
        b->err = 1;
        return 0;
    }
    model_tensor *t = &m->tensors[m->ntensors];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = m->nparams;
    t->size = size;
    t->fan_in = fan_in;
    m->nparams += size;
    return m->ntensors++;
}

static model_op *new_op(builder *b, int type, int in) {
    model *m = b->m;
    if (m->nops >= MODEL_MAX_OPS) {
        b->err = 1;
        return &m->ops[0];
    }
    model_op *o = &m->ops[m->nops++];
    memset(o, 0, sizeof *o);
    o->type = type;
    o->in = in;
    o->wt = -1;
    o->pool_buf = -1;
    return o;
}

static int conv(builder *b, int in, int cout, int k, int s, int p, const char *name) {
    model_act a = b->m->acts[in];
    int ho = (a.h + 2 * p - k) / s + 1, wo = (a.w + 2 * p - k) / s + 1;
    int out = new_act(b, cout, ho, wo);
    model_op *o = new_op(b, OP_CONV, in);
    o->out = out;
    o->cin = a.c;
    o->cout = cout;
    o->k = k;
    o->stride = s;
    o->pad = p;
    o->h = a.h;
    o->w = a.w;
    o->ho = ho;
    o->wo = wo;
    char nm[32];
    snprintf(nm, sizeof nm, "%s.w", name);
    o->wt = new_tensor(b, nm, (size_t)cout * a.c * k * k, a.c * k * k);
    snprintf(nm, sizeof nm, "%s.b", name);
    new_tensor(b, nm, (size_t)cout, a.c * k * k);
    return out;
}

static int relu(builder *b, int in) {
    model_act a = b->m->acts[in];
    int out = new_act(b, a.c, a.h, a.w);
    model_op *o = new_op(b, OP_RELU, in);
    o->out = out;
    return out;
}

static int pool(builder *b, int in) {
    model_act a = b->m->acts[in];
    int ho = (a.h + 2 - 3) / 2 + 1, wo = (a.w + 2 - 3) / 2 + 1;
    int out = new_act(b, a.c, ho, wo);
    model_op *o = new_op(b, OP_POOL, in);
    o->out = out;
    o->h = a.h;
    o->w = a.w;
    o->ho = ho;
    o->wo = wo;
    o->pool_buf = b->m->npools++;
    return out;
}

static int add(builder *b, int x, int y) {
    model_act a = b->m->acts[x];
    int out = new_act(b, a.c, a.h, a.w);
    model_op *o = new_op(b, OP_ADD, x);
    o->in2 = y;
    o->out = out;
    return out;
}

static int flat(builder *b, int in) {
    model_act a = b->m->acts[in];
    int out = new_act(b, a.c * a.h * a.w, 1, 1);
    model_op *o = new_op(b, OP_FLAT, in);
    o->out = out;
    o->cin = a.c;
    o->h = a.h;
    o->w = a.w;
    return out;
}

static int linear(builder *b, int in, int dout, const char *name) {
    int din = b->m->acts[in].c;
    int out = new_act(b, dout, 1, 1);
    model_op *o = new_op(b, OP_LINEAR, in);
    o->out = out;
    o->din = din;
    o->dout = dout;
    char nm[32];
    snprintf(nm, sizeof nm, "%s.w", name);
    o->wt = new_tensor(b, nm, (size_t)dout * din, din);
    snprintf(nm, sizeof nm, "%s.b", name);
    new_tensor(b, nm, (size_t)dout, din);
    return out;
}

int model_init(model *m, const model_config *cfg, cb_err *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    for (int i = 0; i < 3; i++)
        if (cfg->channels[i] < 1 || cfg->channels[i] > 1024)
            return cb_fail(e, CB_EARG, "model: channel count %d out of range 1..1024", cfg->channels[i]);
    if (cfg->hidden < 1 || cfg->hidden > 65536) return cb_fail(e, CB_EARG, "model: hidden width %d out of range", cfg->hidden);
    builder b = {m, 0};
    int x = new_act(&b, MODEL_IN_C, MODEL_IN_H, MODEL_IN_W);
    char nm[32];
    if (cfg->net == MODEL_IMPALA) {
        for (int s = 0; s < 3; s++) {
            snprintf(nm, sizeof nm, "s%d.conv", s);
            x = conv(&b, x, cfg->channels[s], 3, 1, 1, nm);
            x = pool(&b, x);
            for (int r = 0; r < 2; r++) {
                int y = relu(&b, x);
                snprintf(nm, sizeof nm, "s%d.r%d.c0", s, r);
                y = conv(&b, y, cfg->channels[s], 3, 1, 1, nm);
                y = relu(&b, y);
                snprintf(nm, sizeof nm, "s%d.r%d.c1", s, r);
                y = conv(&b, y, cfg->channels[s], 3, 1, 1, nm);
                x = add(&b, x, y);
            }
        }
        x = relu(&b, x);
        x = flat(&b, x);
        x = linear(&b, x, cfg->hidden, "fc");
        x = relu(&b, x);
        x = linear(&b, x, MODEL_NA, "logits");
    } else if (cfg->net == MODEL_NATURE) {
        x = relu(&b, conv(&b, x, cfg->channels[0], 8, 4, 0, "conv0"));
        x = relu(&b, conv(&b, x, cfg->channels[1], 4, 2, 0, "conv1"));
        x = relu(&b, conv(&b, x, cfg->channels[2], 3, 1, 0, "conv2"));
        x = flat(&b, x);
        x = relu(&b, linear(&b, x, cfg->hidden, "fc"));
        x = linear(&b, x, MODEL_NA, "logits");
    } else {
        return cb_fail(e, CB_EARG, "model: unknown net %d", cfg->net);
    }
    if (b.err) return cb_fail(e, CB_ERANGE, "model: network too large for the op table");
    m->mem = calloc(m->nparams * 3, sizeof(float));
    if (!m->mem) return cb_fail(e, CB_ENOMEM, "model: out of memory for %zu parameters", m->nparams);
    m->params = m->mem;
    m->adam_m = m->mem + m->nparams;
    m->adam_v = m->mem + 2 * m->nparams;
    return 0;
}

void model_init_params(model *m, cb_rng *r) {
    for (int t = 0; t < m->ntensors; t++) {
        float bound = 1.0f / sqrtf((float)m->tensors[t].fan_in);
        float *p = m->params + m->tensors[t].off;
        for (size_t i = 0; i < m->tensors[t].size; i++) p[i] = (2.0f * cb_rng_uniformf(r) - 1.0f) * bound;
    }
    memset(m->adam_m, 0, sizeof(float) * m->nparams * 2);
}

static void free_batch(model *m) {
    free(m->act_mem);
    free(m->act);
    free(m->pool_mem);
    free(m->pool_idx);
    free(m->col);
    free(m->probs);
    m->act_mem = NULL;
    m->act = m->dact = NULL;
    m->pool_mem = NULL;
    m->pool_idx = NULL;
    m->col = m->probs = NULL;
    m->batch = 0;
}

void model_free(model *m) {
    free_batch(m);
    free(m->mem);
    memset(m, 0, sizeof *m);
}

int model_set_batch(model *m, int n, cb_err *e) {
    if (n == m->batch) return 0;
    free_batch(m);
    size_t total = 0, pools = 0, col = 0;
    for (int a = 0; a < m->nacts; a++) total += (size_t)n * m->acts[a].c * m->acts[a].h * m->acts[a].w;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type == OP_POOL) pools += (size_t)n * m->acts[o->out].c * o->ho * o->wo;
        if (o->type == OP_CONV) {
            size_t c = (size_t)o->cin * o->k * o->k * n * o->ho * o->wo;
            if (c > col) col = c;
        }
    }
    m->act_mem = malloc(sizeof(float) * total * 2);
    m->act = malloc(sizeof(float *) * (size_t)m->nacts * 2);
    m->pool_mem = malloc(sizeof(int32_t) * (pools ? pools : 1));
    m->pool_idx = malloc(sizeof(int32_t *) * (size_t)(m->npools ? m->npools : 1));
    m->col = malloc(sizeof(float) * col * 2); /* im2col and its gradient */
    m->probs = malloc(sizeof(float) * (size_t)n * MODEL_NA);
    if (!m->act_mem || !m->act || !m->pool_mem || !m->pool_idx || !m->col || !m->probs) {
        free_batch(m);
        return cb_fail(e, CB_ENOMEM, "model: out of memory for a batch of %d", n);
    }
    m->dact = m->act + m->nacts;
    size_t off = 0;
    for (int a = 0; a < m->nacts; a++) {
        size_t sz = (size_t)n * m->acts[a].c * m->acts[a].h * m->acts[a].w;
        m->act[a] = m->act_mem + off;
        m->dact[a] = m->act_mem + total + off;
        off += sz;
    }
    size_t poff = 0;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type != OP_POOL) continue;
        m->pool_idx[o->pool_buf] = m->pool_mem + poff;
        poff += (size_t)n * m->acts[o->out].c * o->ho * o->wo;
    }
    m->col_size = col;
    m->batch = n;
    return 0;
}

static size_t act_size(const model *m, int a, int n) { return (size_t)n * m->acts[a].c * m->acts[a].h * m->acts[a].w; }

void model_forward(model *m, const float *x, int n, float *logits) {
    if (x != m->act[0]) memcpy(m->act[0], x, sizeof(float) * act_size(m, 0, n));
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        float *in = m->act[o->in], *out = m->act[o->out];
        switch (o->type) {
        case OP_CONV: {
            int NHW = n * o->ho * o->wo, CKK = o->cin * o->k * o->k;
            k_im2col(m->col, in, o->cin, n, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo);
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            k_conv_forward(out, m->col, m->params + tw->off, m->params + tb->off, o->cout, CKK, NHW);
            break;
        }
        case OP_RELU: k_relu_forward(out, in, act_size(m, o->in, n)); break;
        case OP_POOL:
            k_maxpool_forward(out, m->pool_idx[o->pool_buf], in, m->acts[o->in].c * n, o->h, o->w, o->ho, o->wo);
            break;
        case OP_ADD: {
            const float *in2 = m->act[o->in2];
            size_t sz = act_size(m, o->in, n);
            for (size_t j = 0; j < sz; j++) out[j] = in[j] + in2[j];
            break;
        }
        case OP_FLAT: k_flatten(out, in, o->cin, n, o->h * o->w); break;
        case OP_LINEAR: {
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            k_linear_forward(out, in, m->params + tw->off, m->params + tb->off, n, o->din, o->dout);
            break;
        }
        }
    }
    const float *z = m->act[m->nacts - 1];
    for (int s = 0; s < n; s++) {
        const float *zi = z + (size_t)s * MODEL_NA;
        float mx = zi[0];
        for (int a = 1; a < MODEL_NA; a++) mx = zi[a] > mx ? zi[a] : mx;
        double sum = 0;
        for (int a = 0; a < MODEL_NA; a++) sum += exp((double)(zi[a] - mx));
        for (int a = 0; a < MODEL_NA; a++) m->probs[(size_t)s * MODEL_NA + a] = (float)(exp((double)(zi[a] - mx)) / sum);
        if (logits) memcpy(logits + (size_t)s * MODEL_NA, zi, sizeof(float) * MODEL_NA);
    }
}

void model_forward_u8(model *m, const uint8_t *frames, int n, float *logits) {
    /* HWC uint8 -> (C, N, H, W) in [0, 1], written straight into act[0] */
    float *x = m->act[0];
    const int HW = MODEL_IN_H * MODEL_IN_W;
    for (int s = 0; s < n; s++) {
        const uint8_t *f = frames + (size_t)s * HW * 3;
        for (int c = 0; c < 3; c++) {
            float *dst = x + ((size_t)c * n + s) * HW;
            for (int j = 0; j < HW; j++) dst[j] = (float)f[j * 3 + c] * (1.0f / 255.0f);
        }
    }
    model_forward(m, x, n, logits);
}

double model_loss(const model *m, const uint8_t *labels, int n, int *correct) {
    /* from the logits, log-sum-exp in double: exact even where probabilities underflow */
    const float *z = m->act[m->nacts - 1];
    double loss = 0;
    int ok = 0;
    for (int s = 0; s < n; s++) {
        const float *zi = z + (size_t)s * MODEL_NA;
        int best = 0;
        for (int a = 1; a < MODEL_NA; a++)
            if (zi[a] > zi[best]) best = a;
        ok += best == labels[s];
        double mx = zi[best], sum = 0;
        for (int a = 0; a < MODEL_NA; a++) sum += exp((double)zi[a] - mx);
        loss += mx + log(sum) - (double)zi[labels[s]];
    }
    if (correct) *correct = ok;
    return n ? loss / n : 0;
}

void model_backward(model *m, const uint8_t *labels, int L, int B, float *grads) {
    int n = L * B;
    memset(grads, 0, sizeof(float) * m->nparams * (size_t)L);
    for (int a = 0; a < m->nacts; a++) memset(m->dact[a], 0, sizeof(float) * act_size(m, a, n));
    /* d(mean over the level's B frames of CE)/dlogits = (p - onehot) / B */
    float *dz = m->dact[m->nacts - 1];
    for (int s = 0; s < n; s++)
        for (int a = 0; a < MODEL_NA; a++)
            dz[(size_t)s * MODEL_NA + a] = (m->probs[(size_t)s * MODEL_NA + a] - (a == labels[s] ? 1.0f : 0.0f)) / (float)B;
    for (int i = m->nops - 1; i >= 0; i--) {
        const model_op *o = &m->ops[i];
        float *in = m->act[o->in], *din = m->dact[o->in], *out = m->act[o->out], *dout = m->dact[o->out];
        switch (o->type) {
        case OP_CONV: {
            int HWo = o->ho * o->wo, NHW = n * HWo, CKK = o->cin * o->k * o->k;
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            k_im2col(m->col, in, o->cin, n, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo);
            for (int l = 0; l < L; l++) {
                float *g = grads + (size_t)l * m->nparams;
                k_conv_backward_params(g + tw->off, g + tb->off, dout, m->col, o->cout, CKK, NHW, l * B * HWo, B * HWo);
            }
            if (o->in != 0) { /* no gradient for the input image */
                float *dcol = m->col + m->col_size;
                k_conv_backward_data(dcol, m->params + tw->off, dout, o->cout, CKK, NHW);
                k_col2im_add(din, dcol, o->cin, n, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo);
            }
            break;
        }
        case OP_RELU: k_relu_backward_add(din, dout, out, act_size(m, o->in, n)); break;
        case OP_POOL:
            k_maxpool_backward_add(din, dout, m->pool_idx[o->pool_buf], m->acts[o->in].c * n, o->h, o->w, o->ho, o->wo);
            break;
        case OP_ADD: {
            float *din2 = m->dact[o->in2];
            size_t sz = act_size(m, o->in, n);
            for (size_t j = 0; j < sz; j++) {
                din[j] += dout[j];
                din2[j] += dout[j];
            }
            break;
        }
        case OP_FLAT: k_unflatten_add(din, dout, o->cin, n, o->h * o->w); break;
        case OP_LINEAR: {
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            for (int l = 0; l < L; l++) {
                float *g = grads + (size_t)l * m->nparams;
                k_linear_backward_params(g + tw->off, g + tb->off, dout + (size_t)l * B * o->dout,
                                         in + (size_t)l * B * o->din, B, o->din, o->dout);
            }
            k_linear_backward_data_add(din, dout, m->params + tw->off, n, o->din, o->dout);
            break;
        }
        }
    }
}
