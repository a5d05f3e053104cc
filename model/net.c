/* net.c - building the IMPALA and Nature networks as an op list, one
 * allocation for parameters and Adam state, activations per batch size,
 * forward, loss, and the backward pass that yields one parameter gradient
 * per level. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sched.h>

#include "model/kernels.h"
#include "model/model.h"

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

int model_plan(model *m, const model_net_desc *cfg, cb_err *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int stages = model_net_stages(cfg->kind);
    for (int i = 0; i < stages; i++)
        if (cfg->channels[i] < 1 || cfg->channels[i] > MODEL_MAX_CHANNELS)
            return cb_fail(e, CB_EARG, "model: channel count %d out of range 1..%d", cfg->channels[i], MODEL_MAX_CHANNELS);
    if (cfg->hidden < 1 || cfg->hidden > MODEL_MAX_HIDDEN)
        return cb_fail(e, CB_EARG, "model: hidden width %d out of range 1..%d", cfg->hidden, MODEL_MAX_HIDDEN);
    builder b = {m, 0};
    int x = new_act(&b, CB_FRAME_C, CB_FRAME_H, CB_FRAME_W);
    char nm[32];
    if (cfg->kind == MODEL_IMPALA) {
        for (int s = 0; s < stages; s++) {
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
        x = linear(&b, x, CB_NUM_ACTIONS, "logits");
    } else if (cfg->kind == MODEL_NATURE) {
        static const int kernel[][2] = {{8, 4}, {4, 2}, {3, 1}}; /* size, stride: one per stage */
        _Static_assert(sizeof kernel / sizeof kernel[0] <= MODEL_NET_MAX_STAGES, "nature's convolutions");
        for (int s = 0; s < stages && s < (int)(sizeof kernel / sizeof kernel[0]); s++) {
            snprintf(nm, sizeof nm, "conv%d", s);
            x = relu(&b, conv(&b, x, cfg->channels[s], kernel[s][0], kernel[s][1], 0, nm));
        }
        x = flat(&b, x);
        x = relu(&b, linear(&b, x, cfg->hidden, "fc"));
        x = linear(&b, x, CB_NUM_ACTIONS, "logits");
    } else {
        return cb_fail(e, CB_EARG, "model: unknown net %d", cfg->kind);
    }
    if (b.err) return cb_fail(e, CB_ERANGE, "model: network too large for the op table");
    return 0;
}

int model_init(model *m, const model_net_desc *cfg, cb_err *e) {
    int rc = model_plan(m, cfg, e);
    if (rc) return rc;
    m->mem = calloc(m->nparams * 3, sizeof(float));
    if (!m->mem) return cb_fail(e, CB_ENOMEM, "model: out of memory for %zu parameters", m->nparams);
    m->params = m->mem;
    m->adam_m = m->mem + m->nparams;
    m->adam_v = m->mem + 2 * m->nparams;
    m->threads = cb_default_threads();
    m->tile_floats = MODEL_TILE_FLOATS;
    openblas_set_num_threads(1);
    return 0;
}

void model_init_params(model *m, cb_rng *r) {
    for (int t = 0; t < m->ntensors; t++) {
        float bound = 1.0f / sqrtf((float)m->tensors[t].fan_in);
        float *p = m->params + m->tensors[t].off;
        for (size_t i = 0; i < m->tensors[t].size; i++) p[i] = (2.0f * cb_rng_uniformf(r) - 1.0f) * bound;
    }
    memset(m->adam_m, 0, sizeof(float) * m->nparams * 2); /* Adam's moments */
}

static void free_batch(model *m) {
    free(m->act_mem);
    free(m->act);
    free(m->pool_mem);
    free(m->pool_idx);
    free(m->ws);
    free(m->probs);
    free(m->wflip);
    free(m->gspare);
    free(m->ls_pack);
    m->act_mem = m->ws = m->probs = m->wflip = m->gspare = m->ls_pack = NULL;
    m->nspare = 0;
    m->act = m->dact = NULL;
    m->pool_mem = NULL;
    m->pool_idx = NULL;
    m->batch = m->chunk = m->trainable = m->ws_workers = 0;
    m->col_size = m->ws_stride = 0;
}

void model_free(model *m) {
    free_batch(m);
    free(m->mem);
    memset(m, 0, sizeof *m);
}

int model_own_gemm(void) { return k512_gemm_enabled(); }

void model_set_threads(model *m, int threads) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (threads == m->threads) return;
    m->threads = threads;
    free_batch(m);
}

/* Output rows (of rowlen floats) per convolution tile: the tile's im2col
 * matrix (ckk x rows*rowlen floats) is kept under m->tile_floats. */
static int tile_rows(const model *m, int ckk, int rowlen, int rows) {
    if (!m->tile_floats) return rows;
    int r = (int)(m->tile_floats / ((size_t)ckk * rowlen));
    if (r < 1) r = 1;
    return r < rows ? r : rows;
}

/* stride-1 convolutions get their data gradient as a convolution with flipped weights */
static int flip_data_grad(const model_op *o) { return o->stride == 1 && o->in != 0; }

/* A strided convolution of the input image without padding reads it in
 * phases (k_im2col_phased): the input is stored that way as it is converted. */
static int phased_input(const model_op *o) {
    return o->type == OP_CONV && o->in == 0 && o->stride > 1 && o->pad == 0 && o->w % o->stride == 0 &&
           (o->wo - 1) * o->stride + o->k <= o->w;
}

/* the input row position of column x under phase stride S (1: plain) */
static inline int phase_pos(int x, int W, int S) { return S > 1 ? (x % S) * (W / S) + x / S : x; }

/* floats of activation a per sample */
static size_t per_sample(const model *m, int a) { return (size_t)m->acts[a].c * m->acts[a].h * m->acts[a].w; }

static int alloc_batch(model *m, int n, int chunk, int trainable, cb_err *e) {
    free_batch(m);
    if (n < 1 || chunk < 1 || chunk > n) return cb_fail(e, CB_EARG, "model: bad batch %d (chunk %d)", n, chunk);
    size_t total = 0, pools = 0, col = 0, flips = 0, gmax = 0;
    for (int a = 0; a < m->nacts; a++) total += (size_t)n * per_sample(m, a);
    for (int i = 0; i < m->nops; i++) {
        model_op *o = &m->ops[i];
        if (o->type == OP_POOL) {
            pools += (size_t)n * per_sample(m, o->out);
            if ((size_t)2 * o->h * o->wo > col) col = (size_t)2 * o->h * o->wo; /* its scratch */
        }
        if (o->type == OP_CONV) {
            int ckk = o->cin * o->k * o->k, dkk = o->cout * o->k * o->k;
            size_t c = (size_t)ckk * tile_rows(m, ckk, o->wo, chunk * o->ho) * o->wo;
            if (c > col) col = c;
            if (trainable && flip_data_grad(o)) {
                c = (size_t)dkk * tile_rows(m, dkk, o->w, chunk * o->h) * o->w;
                if (c > col) col = c;
                o->flip_off = flips;
                flips += (size_t)dkk * o->cin;
                if ((size_t)dkk * o->cin > gmax) gmax = (size_t)dkk * o->cin;
            }
        }
    }
    int workers = m->threads < 1 ? 1 : m->threads;
    size_t stride = col * (trainable ? 2 : 1) + gmax, ws = stride * (size_t)workers;
    m->act_mem = malloc(sizeof(float) * total * (trainable ? 2 : 1));
    m->act = calloc((size_t)m->nacts * 2, sizeof(float *));
    m->pool_mem = malloc(sizeof(int32_t) * (pools ? pools : 1));
    m->pool_idx = calloc((size_t)(m->npools ? m->npools : 1), sizeof(int32_t *));
    m->ws = malloc(sizeof(float) * ws);
    m->probs = malloc(sizeof(float) * (size_t)n * CB_NUM_ACTIONS);
    m->wflip = malloc(sizeof(float) * (flips ? flips : 1));
    /* the second groups' gradients: one per level that can have two groups
     * (at least 2 chunks), whatever L x B the batch is later cut into */
    int nspare = trainable ? n / (MODEL_LEVEL_GROUPS * chunk) : 0;
    m->gspare = nspare ? malloc(sizeof(float) * m->nparams * (size_t)nspare * (MODEL_LEVEL_GROUPS - 1)) : NULL;
    size_t pack = 0; /* model_backward_sums: the first linear layer's inputs and output gradients, packed */
    for (int i = 0; i < m->nops && trainable && !pack; i++)
        if (m->ops[i].type == OP_LINEAR) pack = (size_t)n * (m->ops[i].din + m->ops[i].dout);
    m->ls_pack = pack ? malloc(sizeof(float) * pack) : NULL;
    if (!m->act_mem || !m->act || !m->pool_mem || !m->pool_idx || !m->ws || !m->probs || !m->wflip ||
        (nspare && !m->gspare) || (pack && !m->ls_pack)) {
        free_batch(m);
        return cb_fail(e, CB_ENOMEM, "model: out of memory for a batch of %d (%.0f MB of activations)", n,
                       (double)total * (trainable ? 8 : 4) / 1e6);
    }
    size_t off = 0;
    for (int a = 0; a < m->nacts; a++) {
        m->act[a] = m->act_mem + off;
        off += (size_t)n * per_sample(m, a);
    }
    if (trainable) {
        m->dact = m->act + m->nacts;
        for (int a = 0; a < m->nacts; a++) m->dact[a] = m->act[a] + total;
    }
    size_t poff = 0;
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type != OP_POOL) continue;
        m->pool_idx[o->pool_buf] = m->pool_mem + poff;
        poff += (size_t)n * per_sample(m, o->out);
    }
    m->col_size = col;
    m->ws_stride = stride;
    m->ws_workers = workers;
    m->batch = n;
    m->chunk = chunk;
    m->trainable = trainable;
    m->nspare = nspare;
    return 0;
}

int model_set_batch(model *m, int n, cb_err *e) {
    if (n == m->batch && !m->trainable && m->ws_workers == m->threads) return 0;
    return alloc_batch(m, n, n < 8 ? n : 8, 0, e);
}

int model_set_batch_levels(model *m, int L, int B, cb_err *e) {
    if (L < 1 || B < 1) return cb_fail(e, CB_EARG, "model: bad batch of %d levels x %d frames", L, B);
    int chunk = 1; /* the largest divisor of B up to 16: chunks never straddle levels */
    for (int d = 1; d <= 16 && d <= B; d++)
        if (B % d == 0) chunk = d;
    if (m->trainable && m->batch == L * B && m->chunk == chunk && m->ws_workers == m->threads) return 0;
    return alloc_batch(m, L * B, chunk, 1, e);
}

/* ---- forward ---------------------------------------------------------------- */

#define LS_TASKS 32 /* tasks of the level-sums pass (at most) */

typedef struct {
    model *m;
    int n;
    const uint8_t *u8;  /* HWC frames, or */
    const float *f32;   /* NCHW floats */
    float *logits;
    const uint8_t *labels;
    int L, B;
    float *grads;
    int lo, hi; /* the row ops (row_ops) */
    int tile_op; /* forward_single: the conv whose tiles are shared out */
    int done;    /* backward_split: the data path has finished ops [done, nops) (atomic) */
    int claim, half_pending; /* backward_split: the first linear layer's second half claimed, and not yet done (atomic) */
    model_level_sums *ls;    /* model_backward_sums: the tensor given as level sums, or NULL */
    struct { int64_t i; int l; float v; } bad[LS_TASKS]; /* the level-sums tasks' first non-finite values */
} run_ctx;

static float *chunk_ptr(float *base, const model *m, int a, int j) { return base + (size_t)j * m->chunk * per_sample(m, a); }

/* The ops that work on whole rows between the first linear layer and the
 * last one, [*lo, *hi): the hidden linear layers and their ReLUs. Flat
 * activations are (n, D) rows, so such an op can take a block of several
 * chunks in one call: a linear layer then packs its weights once per block
 * instead of once per chunk, with the same result for every row (its GEMM
 * sums each output over the same inputs in the same order whatever the
 * row count). The first of them (op *lo) goes further: its forward and its
 * data gradient run over all the batch's rows at once in two halves of
 * their output columns (forward_fc_task, fc_data_task), each half packing
 * only its half of the weights, once a batch, so with two workers the
 * weights are packed once in all (an element's sum is the same whatever
 * the column count too). The last linear layer (the logits) stays per chunk: OpenBLAS
 * takes another kernel for its small shapes at other row counts. *lo == *hi
 * where there are none (a net with other ops there). */
static void row_ops(const model *m, int *lo, int *hi) {
    int first = -1, last = -1;
    for (int i = 0; i < m->nops; i++)
        if (m->ops[i].type == OP_LINEAR) {
            if (first < 0) first = i;
            last = i;
        }
    *lo = *hi = 0;
    if (first < 0 || first == last) return;
    for (int i = first; i < last; i++)
        if (m->ops[i].type != OP_LINEAR && m->ops[i].type != OP_RELU) return;
    *lo = first;
    *hi = last;
}

/* chunks per block of the row ops in a pass over `chunks` chunks: up to
 * MODEL_ROW_BLOCK rows, and at most half the chunks, so that a batch of two
 * or more chunks keeps both workers busy; a function of the batch only */
static int block_chunks(const model *m, int chunks) {
    int rb = m->trainable ? MODEL_ROW_BLOCK : MODEL_PREDICT_ROW_BLOCK;
    int bc = m->chunk >= rb ? 1 : rb / m->chunk, half = (chunks + 1) / 2;
    if (bc > half) bc = half;
    return bc > 1 ? bc : 1;
}

/* output rows per forward tile of conv o over s samples */
static int conv_tile_rows(const model *m, const model_op *o, int s) {
    return tile_rows(m, o->cin * o->k * o->k, o->wo, s * o->ho);
}

/* output rows [r0, r1) of conv o over s samples: its im2col tile in col,
 * then the GEMM into those rows' columns of out; a tile reads and writes
 * nothing another tile does, so tiles may run on any worker */
static void conv_forward_tile(const model *m, const model_op *o, const float *in, float *out, int s, float *col, int r0,
                              int r1) {
    const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
    int ckk = o->cin * o->k * o->k, rows = s * o->ho;
    size_t cs = (size_t)s * o->h * o->w;
    if (phased_input(o))
        k_im2col_phased(col, in, cs, o->cin, o->h, o->w, o->k, o->stride, o->ho, o->wo, r0, r1);
    else
        k_im2col(col, in, cs, o->cin, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo, r0, r1);
    k_conv_forward(out + (size_t)r0 * o->wo, rows * o->wo, col, m->params + tw->off, m->params + tb->off, o->cout, ckk,
                   (r1 - r0) * o->wo);
}

/* ops [i0, i1) forward for the s samples from chunk j on (one chunk, or a
 * block of chunks for the row ops), using worker w's workspace */
static void forward_ops(model *m, int j, int s, int w, int i0, int i1) {
    float *col = m->ws + (size_t)w * m->ws_stride;
    for (int i = i0; i < i1; i++) {
        const model_op *o = &m->ops[i];
        float *in = chunk_ptr(m->act[o->in], m, o->in, j), *out = chunk_ptr(m->act[o->out], m, o->out, j);
        switch (o->type) {
        case OP_CONV: {
            int rows = s * o->ho, tr = conv_tile_rows(m, o, s);
            for (int r0 = 0; r0 < rows; r0 += tr) conv_forward_tile(m, o, in, out, s, col, r0, r0 + tr < rows ? r0 + tr : rows);
            break;
        }
        case OP_RELU: k_relu_forward(out, in, (size_t)s * per_sample(m, o->in)); break;
        case OP_POOL: {
            int32_t *idx = m->pool_idx[o->pool_buf] + (size_t)j * m->chunk * per_sample(m, o->out);
            k_maxpool_forward(out, idx, in, m->acts[o->in].c * s, o->h, o->w, o->ho, o->wo, col);
            break;
        }
        case OP_ADD: {
            const float *in2 = chunk_ptr(m->act[o->in2], m, o->in2, j);
            size_t sz = (size_t)s * per_sample(m, o->in);
            for (size_t k = 0; k < sz; k++) out[k] = in[k] + in2[k];
            break;
        }
        case OP_FLAT: k_flatten(out, in, o->cin, s, o->h * o->w); break;
        case OP_LINEAR: {
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            k_linear_forward(out, in, m->params + tw->off, m->params + tb->off, s, o->din, o->dout);
            break;
        }
        }
    }
}

/* the softmax of chunk j's s logits rows, in double */
static void softmax_chunk(model *m, int j, int s) {
    const float *z = m->act[m->nacts - 1] + (size_t)j * m->chunk * CB_NUM_ACTIONS;
    float *p = m->probs + (size_t)j * m->chunk * CB_NUM_ACTIONS;
    for (int r = 0; r < s; r++) {
        const float *zi = z + (size_t)r * CB_NUM_ACTIONS;
        float mx = zi[0];
        for (int a = 1; a < CB_NUM_ACTIONS; a++) mx = zi[a] > mx ? zi[a] : mx;
        double ex[CB_NUM_ACTIONS], sum = 0;
        for (int a = 0; a < CB_NUM_ACTIONS; a++) sum += ex[a] = exp((double)zi[a] - mx);
        for (int a = 0; a < CB_NUM_ACTIONS; a++) p[(size_t)r * CB_NUM_ACTIONS + a] = (float)(ex[a] / sum);
    }
}

/* samples of chunk j in a forward of n */
static int chunk_len(const model *m, int n, int j) { return n - j * m->chunk < m->chunk ? n - j * m->chunk : m->chunk; }

/* chunk j's last ops (from i0), its softmax and its logits copied out */
static void forward_finish(run_ctx *c, int j, int w, int i0) {
    model *m = c->m;
    int s0 = j * m->chunk, s = chunk_len(m, c->n, j);
    forward_ops(m, j, s, w, i0, m->nops);
    softmax_chunk(m, j, s);
    if (c->logits)
        memcpy(c->logits + (size_t)s0 * CB_NUM_ACTIONS, m->act[m->nacts - 1] + (size_t)s0 * CB_NUM_ACTIONS,
               sizeof(float) * (size_t)s * CB_NUM_ACTIONS);
}

/* frames [f0, f1) of chunk j converted into the first activation */
static void convert_frames(run_ctx *c, int j, int f0, int f1) {
    model *m = c->m;
    int s0 = j * m->chunk, s = chunk_len(m, c->n, j);
    const int HW = CB_FRAME_H * CB_FRAME_W;
    float *x = chunk_ptr(m->act[0], m, 0, j); /* (3, s, 64, 64), rows in phases if the first op reads them so */
    int S = 1;
    for (int i = 0; i < m->nops; i++)
        if (m->ops[i].in == 0 && phased_input(&m->ops[i])) S = m->ops[i].stride;
    for (int r = f0; r < f1; r++) {
        if (c->u8 && S == 4 && CB_FRAME_W == 64) { /* Nature's first convolution */
            const uint8_t *f = c->u8 + (size_t)(s0 + r) * HW * 3;
            for (int y = 0; y < CB_FRAME_H; y++)
                k_frame_row_phased4(x + (size_t)r * HW + (size_t)y * CB_FRAME_W, (size_t)s * HW, f + (size_t)y * CB_FRAME_W * 3);
            continue;
        }
        for (int ch = 0; ch < 3; ch++) {
            float *dst = x + ((size_t)ch * s + r) * HW;
            if (c->u8) {
                const uint8_t *f = c->u8 + (size_t)(s0 + r) * HW * 3;
                if (S == 1)
                    for (int k = 0; k < HW; k++) dst[k] = (float)f[k * 3 + ch] * (1.0f / 255.0f);
                else /* row y, phase d, its column q: input column q * S + d */
                    for (int y = 0; y < CB_FRAME_H; y++)
                        for (int d = 0; d < S; d++) {
                            float *o = dst + y * CB_FRAME_W + d * (CB_FRAME_W / S);
                            const uint8_t *src = f + ((size_t)y * CB_FRAME_W + d) * 3 + ch;
                            for (int q = 0; q < CB_FRAME_W / S; q++) o[q] = (float)src[q * S * 3] * (1.0f / 255.0f);
                        }
            } else {
                const float *src = c->f32 + ((size_t)(s0 + r) * 3 + ch) * HW;
                if (S == 1)
                    memcpy(dst, src, sizeof(float) * HW);
                else
                    for (int k = 0; k < HW; k++) dst[k - k % CB_FRAME_W + phase_pos(k % CB_FRAME_W, CB_FRAME_W, S)] = src[k];
            }
        }
    }
}

/* chunk j: its frames converted, then its ops up to the row ops (all of
 * them when the net has none: c->lo == c->hi) */
static int forward_task(void *vctx, int64_t jj, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    int j = (int)jj, s = chunk_len(m, c->n, j);
    convert_frames(c, j, 0, s);
    if (c->lo == c->hi) {
        forward_finish(c, j, w, 0);
        return 0;
    }
    forward_ops(m, j, s, w, 0, c->lo);
    return 0;
}

/* block b of chunks: the row ops after the first linear layer (done by
 * forward_fc_task over the whole batch) over all its rows at once, then each
 * chunk's last ops */
static int forward_block_task(void *vctx, int64_t b, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    int chunks = (c->n + m->chunk - 1) / m->chunk, bc = block_chunks(m, chunks);
    int j0 = (int)b * bc, j1 = j0 + bc < chunks ? j0 + bc : chunks;
    int rows = (j1 - 1) * m->chunk + chunk_len(m, c->n, j1 - 1) - j0 * m->chunk;
    forward_ops(m, j0, rows, w, c->lo + 1, c->hi);
    for (int j = j0; j < j1; j++) forward_finish(c, j, w, c->hi);
    return 0;
}

/* one tile of conv op c->tile_op over the single chunk (forward_single) */
static int forward_tile_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    const model_op *o = &m->ops[c->tile_op];
    int s = chunk_len(m, c->n, 0), rows = s * o->ho, tr = conv_tile_rows(m, o, s), r0 = (int)t * tr;
    conv_forward_tile(m, o, m->act[o->in], m->act[o->out], s, m->ws + (size_t)w * m->ws_stride, r0,
                      r0 + tr < rows ? r0 + tr : rows);
    return 0;
}

/* half h (0, 1) of n: [*r0, *r1) */
static void half_range(int n, int h, int *r0, int *r1) {
    *r0 = h ? n / 2 : 0;
    *r1 = h ? n : n / 2;
}

/* half t of the single chunk's frames converted */
static int forward_convert_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    int r0, r1;
    (void)w;
    half_range(chunk_len(c->m, c->n, 0), (int)t, &r0, &r1);
    convert_frames(c, 0, r0, r1);
    return 0;
}

/* half t of the first linear layer's output columns over all the batch's
 * rows: at a few dozen rows its time is the packing of its weights, and
 * each half packs only its own, once a batch */
static int forward_fc_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    const model_op *o = &m->ops[c->lo];
    int d0, d1;
    (void)w;
    half_range(o->dout, (int)t, &d0, &d1);
    k_linear_forward_cols(m->act[o->out], m->act[o->in], m->params + m->tensors[o->wt].off,
                          m->params + m->tensors[o->wt + 1].off, c->n, o->din, o->dout, d0, d1);
    return 0;
}

/* A forward of a single chunk (a training step of one level of at most 16
 * frames, a rollout's few frames) would run on one worker. Here its frames
 * are converted in two halves, its convolutions shared out by tiles (each
 * tile the same im2col and GEMM as in forward_ops) and the first linear
 * layer's output columns in two halves, so with two workers both are busy;
 * the other ops and the logits (a few rows, OpenBLAS's small kernel: see
 * row_ops) run on the caller. The same pieces are made on one worker, one
 * after the other, so the bits do not depend on the thread count. */
static void forward_single(run_ctx *c) {
    model *m = c->m;
    int s = chunk_len(m, c->n, 0), end = c->lo < c->hi ? c->lo : m->nops;
    cb_parallel_for_w(2, m->ws_workers, forward_convert_task, c);
    for (int i = 0; i < end; i++) {
        const model_op *o = &m->ops[i];
        if (o->type != OP_CONV) {
            forward_ops(m, 0, s, 0, i, i + 1);
            continue;
        }
        int tr = conv_tile_rows(m, o, s);
        c->tile_op = i;
        cb_parallel_for_w((s * o->ho + tr - 1) / tr, m->ws_workers, forward_tile_task, c);
    }
    if (c->lo < c->hi) {
        cb_parallel_for_w(2, m->ws_workers, forward_fc_task, c);
        forward_ops(m, 0, s, 0, c->lo + 1, c->hi);
    }
    forward_finish(c, 0, 0, end == m->nops ? m->nops : c->hi);
}

static void run_forward(model *m, const uint8_t *u8, const float *f32, int n, float *logits) {
    assert(m->batch >= n && n >= 0);
    run_ctx c = {.m = m, .n = n, .u8 = u8, .f32 = f32, .logits = logits};
    row_ops(m, &c.lo, &c.hi);
    int chunks = (n + m->chunk - 1) / m->chunk;
    if (chunks == 1) {
        forward_single(&c);
        return;
    }
    cb_parallel_for_w(chunks, m->ws_workers, forward_task, &c);
    if (c.lo < c.hi) {
        cb_parallel_for_w(2, m->ws_workers, forward_fc_task, &c);
        int bc = block_chunks(m, chunks);
        cb_parallel_for_w((chunks + bc - 1) / bc, m->ws_workers, forward_block_task, &c);
    }
}

void model_forward_u8(model *m, const uint8_t *frames, int n, float *logits) { run_forward(m, frames, NULL, n, logits); }

void model_forward(model *m, const float *x, int n, float *logits) { run_forward(m, NULL, x, n, logits); }

double model_loss(const model *m, const uint8_t *labels, int n, int *correct) {
    /* from the logits, log-sum-exp in double: exact even where probabilities underflow */
    const float *z = m->act[m->nacts - 1];
    double loss = 0;
    int ok = 0;
    for (int s = 0; s < n; s++) {
        const float *zi = z + (size_t)s * CB_NUM_ACTIONS;
        int best = cb_argmax(zi, CB_NUM_ACTIONS);
        ok += best == labels[s];
        double mx = zi[best], sum = 0;
        for (int a = 0; a < CB_NUM_ACTIONS; a++) sum += exp((double)zi[a] - mx);
        loss += mx + log(sum) - (double)zi[labels[s]];
    }
    if (correct) *correct = ok;
    return n ? loss / n : 0;
}

/* ---- backward --------------------------------------------------------------- */

/* d(mean over the level's B frames of CE)/dlogits = (p - onehot) / B for
 * chunk j's s rows; the logits' gradient then holds a value */
static void logits_grad(model *m, int j, int s, const uint8_t *labels, int B, uint8_t *have) {
    float *dz = m->dact[m->nacts - 1] + (size_t)j * m->chunk * CB_NUM_ACTIONS;
    const float *p = m->probs + (size_t)j * m->chunk * CB_NUM_ACTIONS;
    const uint8_t *lab = labels + (size_t)j * m->chunk;
    for (int r = 0; r < s; r++)
        for (int a = 0; a < CB_NUM_ACTIONS; a++)
            dz[r * CB_NUM_ACTIONS + a] = (p[r * CB_NUM_ACTIONS + a] - (a == lab[r] ? 1.0f : 0.0f)) / (float)B;
    have[m->nacts - 1] = 1;
}

/* what backward_ops computes: the data gradients (dact), the convolutions'
 * parameter gradients (into g), or both; backward_split runs the two parts
 * of a single chunk on two workers */
enum { BW_DATA = 1, BW_PARAMS = 2, BW_ALL = 3 };

/* ops [i0, i1) backward, last first, for the s samples from chunk j on (one
 * chunk, or a group's chunks for the row ops), parameter gradients added
 * into g, or written into it for the level's first chunk (first: g holds
 * garbage); the linear layers' parameter gradients are left to
 * linear_params. have[a]: dact[a] of these samples holds a value (else the
 * op overwrites it), carried from one range to the next. */
static void backward_ops(model *m, int j, int s, float *g, int first, int w, int i0, int i1, uint8_t *have, int part) {
    float *col = m->ws + (size_t)w * m->ws_stride, *dcol = col + m->col_size, *gt = dcol + m->col_size;
    for (int i = i1 - 1; i >= i0; i--) {
        const model_op *o = &m->ops[i];
        if (!(part & BW_DATA) && o->type != OP_CONV) continue; /* nothing of theirs is a parameter gradient */
        float *in = chunk_ptr(m->act[o->in], m, o->in, j), *din = chunk_ptr(m->dact[o->in], m, o->in, j);
        float *out = chunk_ptr(m->act[o->out], m, o->out, j), *dout = chunk_ptr(m->dact[o->out], m, o->out, j);
        size_t in_size = (size_t)s * per_sample(m, o->in);
        assert(have[o->out]);
        int acc = have[o->in];
        switch (o->type) {
        case OP_CONV: {
            int NHW = s * o->ho * o->wo, CKK = o->cin * o->k * o->k, DKK = o->cout * o->k * o->k;
            int rows = s * o->ho, tr = tile_rows(m, CKK, o->wo, rows);
            size_t in_c = (size_t)s * o->h * o->w, out_c = (size_t)NHW; /* channel strides */
            const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
            if (part & BW_PARAMS) k_bias_backward(g + tb->off, dout, o->cout, NHW, !first);
            if (flip_data_grad(o)) {
                /* Tiles of input rows: the im2col of the output gradient (padding
                 * K-1-P) gives both gradients. din = flipped w x colD, and since
                 * dW[co][ci][ky][kx] = sum_q in[ci][q] colD[co][K-1-ky][K-1-kx][q],
                 * gt = in x colD^T is dW with the kernel turned: no im2col of the
                 * input is needed. */
                int irows = s * o->h, itr = tile_rows(m, DKK, o->w, irows), P2 = o->k - 1 - o->pad;
                for (int r0 = 0; r0 < irows; r0 += itr) {
                    int r1 = r0 + itr < irows ? r0 + itr : irows, tc = (r1 - r0) * o->w;
                    k_im2col(col, dout, out_c, o->cout, o->ho, o->wo, o->k, 1, P2, o->h, o->w, r0, r1);
                    if (part & BW_DATA)
                        k_matmul(din + (size_t)r0 * o->w, (int)in_c, m->wflip + o->flip_off, col, o->cin, tc, DKK, acc);
                    if (part & BW_PARAMS)
                        k_conv_backward_params(gt, in + (size_t)r0 * o->w, (int)in_c, col, o->cin, DKK, tc, r0 > 0, dcol,
                                               m->col_size);
                }
                if (part & BW_PARAMS) k_conv_unflip(g + tw->off, gt, o->cout, o->cin, o->k, !first);
                break;
            }
            for (int r0 = 0; r0 < rows && (part & BW_PARAMS); r0 += tr) {
                int r1 = r0 + tr < rows ? r0 + tr : rows;
                if (phased_input(o))
                    k_im2col_phased(col, in, in_c, o->cin, o->h, o->w, o->k, o->stride, o->ho, o->wo, r0, r1);
                else
                    k_im2col(col, in, in_c, o->cin, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo, r0, r1);
                k_conv_backward_params(g + tw->off, dout + (size_t)r0 * o->wo, NHW, col, o->cout, CKK, (r1 - r0) * o->wo,
                                       !first || r0 > 0, dcol, m->col_size);
            }
            if (o->in == 0 || !(part & BW_DATA)) break; /* no gradient for the input image */
            /* strided: dcol = w^T dout, scattered back by col2im */
            if (!acc) memset(din, 0, sizeof(float) * in_size);
            for (int r0 = 0; r0 < rows; r0 += tr) {
                int r1 = r0 + tr < rows ? r0 + tr : rows;
                k_conv_backward_data(dcol, m->params + tw->off, dout + (size_t)r0 * o->wo, NHW, o->cout, CKK,
                                     (r1 - r0) * o->wo);
                k_col2im_add(din, in_c, dcol, o->cin, o->h, o->w, o->k, o->stride, o->pad, o->ho, o->wo, r0, r1);
            }
            break;
        }
        case OP_RELU: k_relu_backward(din, dout, out, in_size, acc); break;
        case OP_POOL: {
            const int32_t *idx = m->pool_idx[o->pool_buf] + (size_t)j * m->chunk * per_sample(m, o->out);
            k_maxpool_backward(din, dout, idx, m->acts[o->in].c * s, o->h, o->w, o->ho, o->wo, acc);
            break;
        }
        case OP_ADD: {
            float *din2 = chunk_ptr(m->dact[o->in2], m, o->in2, j);
            int acc2 = have[o->in2];
            for (size_t k = 0; k < in_size; k++) din[k] = acc ? din[k] + dout[k] : dout[k];
            for (size_t k = 0; k < in_size; k++) din2[k] = acc2 ? din2[k] + dout[k] : dout[k];
            have[o->in2] = 1;
            break;
        }
        case OP_FLAT: k_unflatten(din, dout, o->cin, s, o->h * o->w, acc); break;
        case OP_LINEAR: {
            const model_tensor *tw = &m->tensors[o->wt];
            k_linear_backward_data(din, dout, m->params + tw->off, s, o->din, o->dout, acc);
            break;
        }
        }
        have[o->in] = 1;
    }
}

/* The linear layers' parameter gradients of s consecutive samples from chunk
 * j on (a group's chunks), written into g: flat activations and their
 * gradients are (n, D) rows, so the group's rows are contiguous, and one
 * pass over them adds row after row in the order the chunks would have,
 * the same bits, with the weight gradient read and written once a group
 * instead of once a chunk. */
static void linear_params(model *m, int j, int s, float *g, const model_level_sums *ls) {
    for (int i = 0; i < m->nops; i++) {
        const model_op *o = &m->ops[i];
        if (o->type != OP_LINEAR) continue;
        const model_tensor *tw = &m->tensors[o->wt], *tb = &m->tensors[o->wt + 1];
        const float *in = chunk_ptr(m->act[o->in], m, o->in, j), *dout = chunk_ptr(m->dact[o->out], m, o->out, j);
        if (ls && ls->tensor == o->wt) /* its weights come from the level-sums pass */
            k_linear_backward_bias(g + tb->off, dout, s, o->dout, 0);
        else
            k_linear_backward_params(g + tw->off, g + tb->off, dout, in, s, o->din, o->dout, 0);
    }
}

/* groups of a level of B frames (MODEL_LEVEL_GROUPS): a function of B only */
static int level_groups(const model *m, int B) {
    int per = B / m->chunk;
    return per < MODEL_LEVEL_GROUPS ? 1 : MODEL_LEVEL_GROUPS;
}

/* chunks [*k0, *k1) of a level's per chunks in group q of G */
static void group_chunks(int per, int G, int q, int *k0, int *k1) {
    *k0 = (int)((int64_t)per * q / G);
    *k1 = (int)((int64_t)per * (q + 1) / G);
}

/* the have state backward_ops leaves after ops [i0, i1) (a function of the
 * ops only, the same for every chunk) */
static void have_after(const model *m, uint8_t *have, int i0, int i1) {
    for (int i = i1 - 1; i >= i0; i--) {
        if (m->ops[i].type == OP_ADD) have[m->ops[i].in2] = 1;
        have[m->ops[i].in] = 1;
    }
}

/* The backward runs in three passes when the net has row ops (row_ops):
 * every chunk's ops after them (task t = level t / G, group t % G, its chunks
 * in order on this worker, into the level's own gradient for group 0 or the
 * group's spare one), the row ops over blocks of whole chunks across the
 * batch (backward_rows_task: the hidden linear layers' data gradient packs
 * their weights once a block, even where a level is a single small chunk),
 * and every chunk's ops before them with the linear layers' parameter
 * gradients (backward_head_task). A chunk's parameter gradients still arrive
 * in chunk order, and the row ops give each row the same values in any
 * block, so the result is that of one chunk at a time. Without row ops the
 * first pass is the whole backward. */
static float *task_grad(run_ctx *c, int64_t t, int *first_chunk, int *end_chunk) {
    model *m = c->m;
    int per = c->B / m->chunk, G = level_groups(m, c->B), l = (int)(t / G), q = (int)(t % G), k0, k1;
    group_chunks(per, G, q, &k0, &k1);
    *first_chunk = l * per + k0;
    *end_chunk = l * per + k1;
    return q == 0 ? c->grads + (size_t)l * m->nparams
                  : m->gspare + ((size_t)l * (MODEL_LEVEL_GROUPS - 1) + (size_t)(q - 1)) * m->nparams;
}

static int backward_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    int j0, j1, hi = c->lo < c->hi ? c->hi : 0;
    float *g = task_grad(c, t, &j0, &j1);
    for (int j = j0; j < j1; j++) {
        uint8_t have[MODEL_MAX_OPS + 1] = {0};
        logits_grad(m, j, m->chunk, c->labels, c->B, have);
        backward_ops(m, j, m->chunk, g, j == j0, w, hi, m->nops, have, BW_ALL);
    }
    if (hi == 0) linear_params(m, j0, (j1 - j0) * m->chunk, g, NULL);
    return 0;
}

static int backward_rows_task(void *vctx, int64_t b, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    int chunks = c->n / m->chunk, bc = block_chunks(m, chunks), j0 = (int)b * bc, j1 = j0 + bc < chunks ? j0 + bc : chunks;
    uint8_t have[MODEL_MAX_OPS + 1] = {0};
    have[m->nacts - 1] = 1;
    have_after(m, have, c->hi, m->nops);
    backward_ops(m, j0, (j1 - j0) * m->chunk, NULL, 1, w, c->lo + 1, c->hi, have, BW_ALL);
    return 0;
}

static int fc_data_acc(const run_ctx *c);
static void fc_data_half(run_ctx *c, int h, int acc);

/* half t of the first linear layer's data gradient columns over all the
 * batch's rows (after backward_rows_task: each half packs its own half of
 * the weights, once a batch) */
static int fc_data_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    (void)w;
    fc_data_half(c, (int)t, fc_data_acc(c));
    return 0;
}

static int backward_head_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    int j0, j1;
    float *g = task_grad(c, t, &j0, &j1);
    for (int j = j0; j < j1; j++) {
        uint8_t have[MODEL_MAX_OPS + 1] = {0};
        have[m->nacts - 1] = 1;
        have_after(m, have, c->lo, m->nops);
        backward_ops(m, j, m->chunk, g, j == j0, w, 0, c->lo, have, BW_ALL);
    }
    linear_params(m, j0, (j1 - j0) * m->chunk, g, c->ls);
    return 0;
}

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The backward of a single chunk (one level of at most 16 frames: a step of
 * the paper's protocol at batch-frames 16) is one task, so it would run on
 * one worker. Each layer's data gradient and parameter gradient are two
 * independent products that read the same output gradient, so here they are
 * two tasks: task 0 the data path (every op's data gradient, last op first:
 * the chain every other piece depends on), then the linear layers'
 * parameter gradients; task 1 each convolution's parameter gradient once
 * task 0 has finished every op after it (c->done, published after each op).
 * The first linear layer's data gradient is made in two halves of its
 * columns (at a chunk's few rows its time is the packing of its weights,
 * and each half packs only its own); the second half goes to whichever task
 * claims it first (c->claim): task 1 when it runs beside task 0, task 0
 * itself when task 1 has not started, so task 0 only ever waits for work
 * that is under way, and one worker alone runs task 0 and then task 1.
 * Every other call is the one backward_task, backward_rows_task and
 * backward_head_task make, on the same values, and each output is written
 * by one task, so the bits do not depend on the thread count. */

/* wait until *v <= x (another worker lowers it); spin, then yield */
static void wait_le(const int *v, int x) {
    for (int k = 0; __atomic_load_n(v, __ATOMIC_ACQUIRE) > x; k++)
        if (k < 4096)
            spin_pause();
        else
            sched_yield();
}

/* half h of the first linear layer's (op c->lo) data gradient columns over
 * the batch's rows; acc: add into its input's gradient */
static void fc_data_half(run_ctx *c, int h, int acc) {
    model *m = c->m;
    const model_op *o = &m->ops[c->lo];
    int d0, d1;
    half_range(o->din, h, &d0, &d1);
    k_linear_backward_data_cols(m->dact[o->in], m->dact[o->out], m->params + m->tensors[o->wt].off, c->n, o->din,
                                o->dout, d0, d1, acc);
}

/* whether the first linear layer's input gradient holds a value when its
 * backward comes (have_after of the ops after it) */
static int fc_data_acc(const run_ctx *c) {
    const model *m = c->m;
    uint8_t have[MODEL_MAX_OPS + 1] = {0};
    have[m->nacts - 1] = 1;
    have_after(m, have, c->lo + 1, m->nops);
    return have[m->ops[c->lo].in];
}

static int backward_split_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    model *m = c->m;
    float *g = c->grads;
    int s = m->chunk, ws = m->ws_workers > 1 ? (int)t : 0; /* its own workspace, or the one worker's */
    (void)w;
    if (t == 0) {
        uint8_t have[MODEL_MAX_OPS + 1] = {0};
        logits_grad(m, 0, s, c->labels, c->B, have);
        for (int i = m->nops - 1; i >= 0; i--) {
            if (i == c->lo) {
                int acc = have[m->ops[i].in];
                fc_data_half(c, 0, acc);
                if (__atomic_exchange_n(&c->claim, 1, __ATOMIC_ACQ_REL) == 0)
                    fc_data_half(c, 1, acc);
                else
                    wait_le(&c->half_pending, 0);
                have[m->ops[i].in] = 1;
            } else {
                backward_ops(m, 0, s, g, 1, ws, i, i + 1, have, BW_DATA);
            }
            __atomic_store_n(&c->done, i, __ATOMIC_RELEASE);
        }
        linear_params(m, 0, s, g, NULL); /* their output gradients are complete */
        return 0;
    }
    wait_le(&c->done, c->lo + 1); /* the first linear layer's output gradient is complete */
    if (__atomic_exchange_n(&c->claim, 1, __ATOMIC_ACQ_REL) == 0) {
        fc_data_half(c, 1, fc_data_acc(c));
        __atomic_store_n(&c->half_pending, 0, __ATOMIC_RELEASE);
    }
    uint8_t have[MODEL_MAX_OPS + 1];
    memset(have, 1, sizeof have); /* the parameter part reads no data-gradient state */
    for (int i = m->nops - 1; i >= 0; i--) {
        if (m->ops[i].type != OP_CONV) continue;
        wait_le(&c->done, i + 1);
        backward_ops(m, 0, s, g, 1, ws, i, i + 1, have, BW_PARAMS);
    }
    return 0;
}

#define GROUP_ADD_BLOCK 16384

/* block b of the parameters of every level: the groups' sums added in group order */
static int group_add_task(void *vctx, int64_t b) {
    run_ctx *c = vctx;
    model *m = c->m;
    int64_t nb = (int64_t)((m->nparams + GROUP_ADD_BLOCK - 1) / GROUP_ADD_BLOCK);
    int l = (int)(b / nb), G = level_groups(m, c->B);
    size_t i0 = (size_t)(b % nb) * GROUP_ADD_BLOCK, i1 = i0 + GROUP_ADD_BLOCK < m->nparams ? i0 + GROUP_ADD_BLOCK : m->nparams;
    float *restrict g = c->grads + (size_t)l * m->nparams;
    for (int q = 1; q < G; q++) {
        const float *restrict s = m->gspare + ((size_t)l * (MODEL_LEVEL_GROUPS - 1) + (size_t)(q - 1)) * m->nparams;
        for (size_t i = i0; i < i1; i++) g[i] += s[i];
    }
    return 0;
}

/* the first linear layer (the first op of the row ops) */
static const model_op *first_linear(const model *m) {
    int lo, hi;
    row_ops(m, &lo, &hi);
    return lo < hi ? &m->ops[lo] : NULL;
}

int model_level_sums_tensor(const model *m, int L, int B) {
    const model_op *o = first_linear(m);
    if (!m->trainable || L < 2 || L * B > m->batch || B != m->chunk || !o) return -1;
    return o->din % 16 == 0 && o->dout % 4 == 0 ? o->wt : -1;
}

/* the level-sums pass is cut into T tasks by output quads */
static int level_sums_tasks(const model_op *o) { return o->dout / 4 < LS_TASKS ? o->dout / 4 : LS_TASKS; }

/* task t of packing the first linear layer's inputs (a stretch of its
 * 16-column tiles) and output gradients (a stretch of its quads) */
static int level_pack_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    const model *m = c->m;
    const model_op *o = &m->ops[c->lo];
    int T = level_sums_tasks(o), tiles = o->din / 16, quads = o->dout / 4, N = c->L * c->B;
    (void)w;
    k_linear_params_level_pack(m->ls_pack, m->ls_pack + (size_t)N * o->din, m->act[o->in], m->dact[o->out], N, o->din,
                               o->dout, 16 * (int)(tiles * t / T), 16 * (int)(tiles * (t + 1) / T),
                               4 * (int)(quads * t / T), 4 * (int)(quads * (t + 1) / T));
    return 0;
}

/* task t of the level-sums pass: a stretch of the first linear layer's
 * output rows, in quads */
static int level_sums_task(void *vctx, int64_t t, int w) {
    run_ctx *c = vctx;
    const model *m = c->m;
    const model_op *o = &m->ops[c->lo];
    int T = level_sums_tasks(o), quads = o->dout / 4, N = c->L * c->B;
    (void)w;
    c->bad[t].l = -1;
    k_linear_params_level_sums(c->ls->sum, c->ls->ssum, &c->bad[t].i, &c->bad[t].l, &c->bad[t].v, m->ls_pack,
                               m->ls_pack + (size_t)N * o->din, c->L, c->B, o->din, 4 * (int)(quads * t / T),
                               4 * (int)(quads * (t + 1) / T));
    return 0;
}

/* the level-sums pass over all tasks, and their first non-finite value */
static void level_sums(run_ctx *c) {
    int T = level_sums_tasks(&c->m->ops[c->lo]);
    cb_parallel_for_w(T, c->m->ws_workers, level_pack_task, c);
    cb_parallel_for_w(T, c->m->ws_workers, level_sums_task, c);
    c->ls->bad_level = -1;
    for (int t = 0; t < T; t++)
        if (c->bad[t].l >= 0 && (c->ls->bad_level < 0 || c->bad[t].i < c->ls->bad_i)) {
            c->ls->bad_i = c->bad[t].i;
            c->ls->bad_level = c->bad[t].l;
            c->ls->bad_v = c->bad[t].v;
        }
}

void model_backward(model *m, const uint8_t *labels, int L, int B, float *grads) {
    model_backward_sums(m, labels, L, B, grads, NULL);
}

void model_backward_sums(model *m, const uint8_t *labels, int L, int B, float *grads, model_level_sums *ls) {
    assert(m->trainable && L * B <= m->batch && B % m->chunk == 0);
    int G = level_groups(m, B);
    assert(G == 1 || L <= m->nspare);
    for (int i = 0; i < m->nops; i++) { /* this step's flipped weights, shared by all levels */
        const model_op *o = &m->ops[i];
        if (o->type == OP_CONV && flip_data_grad(o))
            k_conv_flip(m->wflip + o->flip_off, m->params + m->tensors[o->wt].off, o->cout, o->cin, o->k);
    }
    assert(!ls || (ls->tensor >= 0 && ls->tensor == model_level_sums_tensor(m, L, B)));
    run_ctx c = {.m = m, .n = L * B, .labels = labels, .L = L, .B = B, .grads = grads, .ls = ls};
    row_ops(m, &c.lo, &c.hi);
    if (L * G == 1 && c.lo < c.hi) {
        c.done = m->nops;
        c.half_pending = 1;
        cb_parallel_for_w(2, m->ws_workers, backward_split_task, &c);
        return;
    }
    cb_parallel_for_w((int64_t)L * G, m->ws_workers, backward_task, &c);
    if (c.lo < c.hi) {
        int chunks = L * B / m->chunk, bc = block_chunks(m, chunks);
        cb_parallel_for_w((chunks + bc - 1) / bc, m->ws_workers, backward_rows_task, &c);
        cb_parallel_for_w(2, m->ws_workers, fc_data_task, &c);
        cb_parallel_for_w((int64_t)L * G, m->ws_workers, backward_head_task, &c);
        if (ls) level_sums(&c);
    }
    if (G > 1) {
        int64_t nb = (int64_t)((m->nparams + GROUP_ADD_BLOCK - 1) / GROUP_ADD_BLOCK);
        cb_parallel_for(nb * L, m->ws_workers, group_add_task, &c);
    }
}

int model_predict(model *m, const uint8_t *frames, int64_t n, model_predict_io *io, cb_err *e) {
    if (m->batch < 1) {
        int rc = model_set_batch(m, MODEL_PREDICT_BATCH, e);
        if (rc) return rc;
    }
    for (int64_t s = 0; s < n; s += m->batch) {
        int k = (int)(n - s < m->batch ? n - s : m->batch);
        model_forward_u8(m, frames + (size_t)s * CB_FRAME_BYTES, k, NULL);
        if (io->probs) memcpy(io->probs + (size_t)s * CB_NUM_ACTIONS, m->probs, sizeof(float) * (size_t)k * CB_NUM_ACTIONS);
        if (io->actions)
            for (int r = 0; r < k; r++) io->actions[s + r] = (uint8_t)cb_argmax(m->probs + (size_t)r * CB_NUM_ACTIONS, CB_NUM_ACTIONS);
        if (io->labels) {
            int c;
            io->loss_sum += model_loss(m, io->labels + s, k, &c) * k;
            io->correct += c;
        }
    }
    return 0;
}
