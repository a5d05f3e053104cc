/* model.h - the convolutional policy: IMPALA and Nature CNNs on 64x64 RGB
 * frames, forward and backward on OpenBLAS sgemm (im2col), one parameter
 * gradient per level from a single backward pass, and checkpoints.
 *
 * Activations are stored channel-major over the batch (C, N, H, W) so a
 * convolution is one sgemm for the whole batch, and the columns of one level
 * (B consecutive samples) are contiguous: per-level weight gradients are L
 * sgemms over those column blocks, while the data gradient is computed once. */
#ifndef COINBC_MODEL_H
#define COINBC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define MODEL_IN_C 3
#define MODEL_IN_H 64
#define MODEL_IN_W 64
#define MODEL_NA 15
#define MODEL_MAX_OPS 64
#define MODEL_MAX_TENSORS 64

enum { MODEL_IMPALA = 0, MODEL_NATURE = 1 };

typedef struct {
    int net;          /* MODEL_IMPALA or MODEL_NATURE */
    int channels[3];  /* impala: stage channels (16, 32, 32); nature: conv channels (32, 64, 64) */
    int hidden;       /* width of the hidden linear layer (impala 256, nature 512) */
} model_config;

typedef struct {
    char name[32];    /* "conv0.w", "fc1.b", ... */
    size_t off, size; /* into the parameter vector */
    int fan_in;
} model_tensor;

enum { OP_CONV, OP_RELU, OP_POOL, OP_ADD, OP_FLAT, OP_LINEAR };

typedef struct {
    int type;
    int in, in2, out;          /* activation indices (in2: second input of ADD) */
    int cin, cout, k, stride, pad;
    int h, w, ho, wo;          /* spatial size in and out (per sample) */
    int din, dout;             /* linear */
    int wt;                    /* weight tensor index (bias = wt + 1), -1 if none */
    int pool_buf;              /* index of the argmax buffer of a pool */
} model_op;

typedef struct {
    int c, h, w;               /* per-sample shape; a flat activation has h = w = 1 */
} model_act;

typedef struct {
    model_config cfg;
    int nops, nacts, ntensors, npools;
    model_op ops[MODEL_MAX_OPS];
    model_act acts[MODEL_MAX_OPS + 1];
    model_tensor tensors[MODEL_MAX_TENSORS];
    size_t nparams;
    /* one allocation: parameters, Adam first and second moments */
    float *mem;
    float *params, *adam_m, *adam_v;
    /* per batch size (model_set_batch): activations and their gradients,
     * pool argmax, the im2col workspace, logits/probabilities */
    int batch;
    float *act_mem;
    float **act, **dact;
    int32_t *pool_mem, **pool_idx;
    float *col;
    size_t col_size;
    float *probs;  /* batch x 15 */
} model;

/* Default config of a net ("impala" or "nature"); returns 0 or CB_EARG. */
int model_config_default(model_config *c, const char *net);
const char *model_net_name(int net);
int model_init(model *m, const model_config *cfg, cb_err *e);
void model_free(model *m);
/* PyTorch's default init: weights and biases uniform in +-1/sqrt(fan_in). */
void model_init_params(model *m, cb_rng *r);
/* Allocates activations for batches of up to n samples (once per size). */
int model_set_batch(model *m, int n, cb_err *e);

/* Forward: frames n x 64x64x3 uint8 (HWC) -> m->probs (n x 15, softmax) and,
 * if logits != NULL, the logits. n <= batch. */
void model_forward_u8(model *m, const uint8_t *frames, int n, float *logits);
/* The same from float input already in (C, N, H, W) layout, scaled. */
void model_forward(model *m, const float *x_cnhw, int n, float *logits);
/* Mean cross-entropy of the last forward against labels (n). */
double model_loss(const model *m, const uint8_t *labels, int n, int *correct);
/* Backward of the loss sum_l mean_{b in level l} CE: n = L * B samples,
 * level l = samples [l*B, (l+1)*B). Writes one parameter gradient per level
 * into grads (L x nparams, overwritten). */
void model_backward(model *m, const uint8_t *labels, int L, int B, float *grads);

/* ---- checkpoints ----------------------------------------------------------- */
typedef struct {
    int64_t step;         /* optimizer steps taken */
    int64_t epoch;        /* epochs completed */
    cb_rng rng;           /* the training RNG at that point */
    double best_val;      /* best validation accuracy so far */
    uint64_t extra[8];    /* caller-defined */
} model_ckpt_state;

/* Writes config, parameters, Adam moments and the state atomically, with a CRC. */
int model_save(const model *m, const model_ckpt_state *st, const char *path, cb_err *e);
/* Loads a checkpoint into a model built from its config (m is initialised
 * here). Damaged or mismatched files are clear errors. */
int model_load(model *m, model_ckpt_state *st, const char *path, cb_err *e);

#endif
