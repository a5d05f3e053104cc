/* model.h - the convolutional policy: IMPALA and Nature CNNs on 64x64 RGB
 * frames, forward and backward on OpenBLAS sgemm (im2col), one parameter
 * gradient per level from a single backward pass, and checkpoints.
 *
 * The batch is processed in chunks of samples (one level's B frames, or a
 * divisor of B), each chunk laid out channel-major (C, s, H, W) so a
 * convolution over it is one im2col + one sgemm. Chunks run in parallel on
 * the model's threads, each thread with its own workspace and single-threaded
 * OpenBLAS, so the results are bit-identical for any thread count. In the
 * backward pass a level's chunks run on one thread (two, in two groups, for a
 * level of two or more chunks: MODEL_LEVEL_GROUPS) and their parameter
 * gradients go to that level's own gradient vector: one forward and one
 * data-gradient backward for the whole batch, L parameter gradients. A batch
 * that is a single chunk (one level of up to 16 frames) is shared out inside
 * the chunk instead: the forward's convolution tiles, the backward's data
 * and parameter gradients on two workers (model/net.c forward_single,
 * backward_split_task), with the same bits on any thread count. */
#ifndef COINBC_MODEL_H
#define COINBC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Input frame and action count: common/common.h's, defined once there. */
_Static_assert(CB_FRAME_C * CB_FRAME_H * CB_FRAME_W == CB_FRAME_BYTES, "the network reads whole frames");
#define MODEL_MAX_OPS 64
#define MODEL_MAX_TENSORS 64
/* Convolutions run on tiles of output rows whose im2col matrix holds at most
 * this many floats (256 KB), so it is still in the core's L2 cache when
 * sgemm reads it (bench train: tile sizes). */
#define MODEL_TILE_FLOATS (1 << 16)
/* The backward pass splits each level of two or more chunks into this many
 * groups of consecutive chunks that run in parallel; group g > 0 sums its
 * parameter gradient on its own and the groups' sums are added in group
 * order. The split depends only on the level's frames (B / chunk), never on
 * the thread count, so results stay bit-identical for any thread count and
 * any number of levels per rank (docs/PERFORMANCE.md). */
#define MODEL_LEVEL_GROUPS 2
/* rows per block of the hidden linear layers in a forward (whole chunks;
 * model/net.c row_ops): their weights are packed once a block */
#define MODEL_ROW_BLOCK 32
/* the same for inference buffers (model_set_batch: validation, eval, play),
 * where a batch of MODEL_PREDICT_BATCH is two such blocks */
#define MODEL_PREDICT_ROW_BLOCK 128

enum { MODEL_IMPALA = 0, MODEL_NATURE = 1 };

/* The most stages (impala) or convolutions (nature) a network description
 * holds: the one place this count is written. The checkpoint header and
 * config.json hold one channel count per stage (docs/FORMATS.md). */
#define MODEL_NET_MAX_STAGES 3
/* the largest channel count of a stage and hidden width a network may have
 * (train's option schema, run/config.c, takes its ranges from these) */
#define MODEL_MAX_CHANNELS 1024
#define MODEL_MAX_HIDDEN 65536

/* The network description: the one struct the checkpoint header, config.json
 * (run_config.net), train's options (train_opts.net), the CLI and bench share.
 * Its stage count is its kind's (model_net_stages); channels past it are 0.
 * Text form: --net WORD (model_net_default) and --channels "A,B,C"
 * (model_net_parse_channels); ranges: run/'s option schema (run_net_check). */
typedef struct {
    int kind;                              /* MODEL_IMPALA or MODEL_NATURE */
    int channels[MODEL_NET_MAX_STAGES];    /* impala: stage channels (16, 32, 32); nature: conv channels (32, 64, 64) */
    int hidden;                            /* width of the hidden linear layer (impala 256, nature 512) */
} model_net_desc;

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
    size_t flip_off;           /* conv: its flipped weights in model.wflip (stride-1 data gradient) */
} model_op;

typedef struct {
    int c, h, w;               /* per-sample shape; a flat activation has h = w = 1 */
} model_act;

typedef struct {
    model_net_desc cfg;
    int nops, nacts, ntensors, npools;
    model_op ops[MODEL_MAX_OPS];
    model_act acts[MODEL_MAX_OPS + 1];
    model_tensor tensors[MODEL_MAX_TENSORS];
    size_t nparams;
    /* one allocation: parameters and Adam's first and second moments (a
     * training method's own optimizer state, such as tand's sign moment, is
     * train/'s and only passes through a checkpoint: model_ckpt_state) */
    float *mem;
    float *params;  /* (nparams) */
    float *adam_m;  /* (nparams) */
    float *adam_v;  /* (nparams) */
    int threads;    /* worker threads for forward/backward (model_set_threads) */
    size_t tile_floats; /* im2col tile limit (MODEL_TILE_FLOATS); 0: one tile per chunk; set before model_set_batch* */
    /* per batch size (model_set_batch / model_set_batch_levels): the batch is
     * cut into chunks of `chunk` samples; chunk j of activation a starts at
     * act[a] + j * chunk * (c*h*w) and is laid out (C, s, H, W) for its s
     * samples, so a flat activation is simply (n, D) row-major. */
    int batch;      /* samples the buffers hold (0: none) */
    int chunk;      /* samples per chunk */
    int trainable;  /* dact and the data-gradient workspace exist */
    float *act_mem;
    float **act, **dact; /* (nacts) each; dact NULL unless trainable */
    int32_t *pool_mem, **pool_idx; /* argmax of each max pool, within its plane */
    float *ws;      /* per worker: im2col (col_size) [+ its gradient (col_size)] */
    size_t col_size;
    size_t ws_stride; /* floats per worker: col [, dcol, the turned weight gradient of one conv] */
    int ws_workers;
    float *probs;   /* (batch, 15) softmax of the last forward */
    float *wflip;   /* trainable: flipped weights of the stride-1 convolutions (k_conv_flip) */
    /* trainable: a level of two or more chunks is done as two halves of its
     * chunks (MODEL_LEVEL_GROUPS), each on its own worker; the second half's
     * parameter gradient goes here (one nparams vector per level, nspare of
     * them) and is added to the first's in model_backward */
    float *gspare;
    int nspare;
    float *ls_pack; /* trainable: the first linear layer's inputs and output gradients packed (model_backward_sums) */
} model;

/* The default description of a net ("impala" or "nature"); returns 0 or
 * CB_EARG (then *c is zero). */
int model_net_default(model_net_desc *c, const char *net);
const char *model_net_name(int kind); /* "impala", "nature", "unknown" */
/* The number of stages (channel counts) of a kind, 1..MODEL_NET_MAX_STAGES;
 * 0 for an unknown kind. */
int model_net_stages(int kind);
/* The channel list "A,B,C" (one integer per stage of c->kind, comma
 * separated, nothing else) into c->channels; 0, or CB_EARG naming --channels
 * and the form it wants ("--channels wants A,B,C"). Ranges are not checked
 * here (run_net_check). */
int model_net_parse_channels(model_net_desc *c, const char *text, cb_err *e);
/* "A,B,C" of c's stages; "impala, channels A,B,C, hidden H" */
void model_net_channels_text(char *buf, size_t n, const model_net_desc *c);
void model_net_text(char *buf, size_t n, const model_net_desc *c);
/* Builds the op list and allocates parameters and Adam state (zero). Also
 * sets OpenBLAS to one thread: model/ runs its own threads over chunks of
 * the batch, each issuing single-threaded GEMMs, which is what makes results
 * independent of the thread count. threads defaults to all cores. */
int model_init(model *m, const model_net_desc *cfg, cb_err *e);
/* Only the op list and the parameter count (m->nparams) of a config, no
 * allocation (model_free is not needed): for checking a file's size against
 * its config before allocating. */
int model_plan(model *m, const model_net_desc *cfg, cb_err *e);
void model_free(model *m);
/* PyTorch's default init: weights and biases uniform in +-1/sqrt(fan_in). */
void model_init_params(model *m, cb_rng *r);
/* Threads for forward/backward (>= 1). Changing it drops the batch buffers
 * (call model_set_batch again). Outputs do not depend on it. */
void model_set_threads(model *m, int threads);
/* 1 when coinbc's AVX-512 GEMM (model/gemm512.c: OpenBLAS's bits) takes the
 * convolutions' and the linear data gradients' products on this machine, 0
 * when every product runs on OpenBLAS (COINBC_OWN_GEMM=0, or the CPU or
 * library is not the one it reproduces) */
int model_own_gemm(void);
/* Inference buffers for batches of up to n samples (no gradients). A no-op
 * when they already hold exactly that. */
int model_set_batch(model *m, int n, cb_err *e);
/* Training buffers for L levels x B frames (activations, their gradients,
 * workspace); the chunk size divides B so no chunk straddles two levels. */
int model_set_batch_levels(model *m, int L, int B, cb_err *e);

/* Forward: frames n x 64x64x3 uint8 (HWC, row 0 at the top, as in ds_level)
 * -> m->probs (n x 15, softmax) and, if logits != NULL, the logits (n x 15).
 * n <= m->batch. */
void model_forward_u8(model *m, const uint8_t *frames, int n, float *logits);
/* The same from float input (n, 3, 64, 64) (NCHW, already scaled). */
void model_forward(model *m, const float *x_nchw, int n, float *logits);
/* Mean cross-entropy of the last forward's n samples against labels (n),
 * computed from the logits in double; *correct gets the argmax hits. */
double model_loss(const model *m, const uint8_t *labels, int n, int *correct);
/* Backward of the last forward (n = L * B samples; level l = samples
 * [l*B, (l+1)*B)). Writes one parameter gradient per level into grads
 * (L x nparams, overwritten): the gradient of the mean cross-entropy over
 * that level's B frames. The data gradient of every sample is computed once;
 * only the parameter-gradient GEMMs and bias sums are split by level.
 * Needs model_set_batch_levels(m, L', B) with L' >= L. */
void model_backward(model *m, const uint8_t *labels, int L, int B, float *grads);
/* The same, with one weight tensor reduced over the levels instead of
 * written per level: for ls->tensor (model_level_sums_tensor's, the first
 * linear layer's weights, most of the parameters) grads holds nothing, and
 * ls->sum gets each element's sum over the levels (in double, from 0.0, in
 * level order, of the very floats model_backward writes) and ls->ssum the
 * sum of their signs (sign(0) = 0): all a combiner whose reduction splits
 * (mean, tand, AND) reads, without the L per-level matrices. ls->bad_level
 * is the level of the first non-finite value in element order (-1: none),
 * ls->bad_i its element and ls->bad_v the value. */
typedef struct {
    int tensor;       /* set by the caller: model_level_sums_tensor(m, L, B) */
    double *sum;      /* (its size) */
    int32_t *ssum;    /* (its size) */
    int64_t bad_i;
    int bad_level;
    float bad_v;
} model_level_sums;
/* The tensor model_backward_sums can reduce for L levels x B frames, or -1
 * (one level; a level of several chunks; shapes the kernel does not take). */
int model_level_sums_tensor(const model *m, int L, int B);
void model_backward_sums(model *m, const uint8_t *labels, int L, int B, float *grads, model_level_sums *ls);
/* The one batched forward, for evaluation and play: runs the policy over
 * any number of frames in chunks of m->batch (whatever batch is set, e.g. the
 * training batch; an inference batch of MODEL_PREDICT_BATCH if none is). What
 * it fills is chosen by the fields of io; unused pointers stay NULL. */
#define MODEL_PREDICT_BATCH 256
typedef struct {
    float *probs;          /* n x 15 softmax probabilities, or NULL */
    uint8_t *actions;      /* n argmax actions (cb_argmax), or NULL */
    const uint8_t *labels; /* n labels, or NULL (then loss_sum, correct untouched) */
    double loss_sum;       /* += each chunk's model_loss x its frames: accumulates across calls */
    int64_t correct;       /* += argmax hits */
} model_predict_io;
int model_predict(model *m, const uint8_t *frames, int64_t n, model_predict_io *io, cb_err *e);

/* ---- checkpoints ----------------------------------------------------------- */
typedef struct {
    int64_t step;         /* optimizer steps taken */
    int64_t epoch;        /* epochs completed */
    cb_rng rng;           /* the training RNG at that point */
    double best_val;      /* best validation accuracy so far */
    int64_t steps_per_epoch; /* the epoch length the run was started with (0: not recorded) */
    /* One more per-parameter array of optimizer state, a training method's
     * own (train/ says which: tand's sign moment), after Adam's moments:
     * model_save writes nparams floats from `state` when has_state is set (a
     * version 2 checkpoint); the loaders set has_state from the file (and
     * model_load_state hands the array over). */
    int has_state;
    const float *state;
} model_ckpt_state;

/* Writes config, parameters, Adam moments (and with st->has_state st->state)
 * and the state atomically, with a CRC. */
int model_save(const model *m, const model_ckpt_state *st, const char *path, cb_err *e);
/* Loads a checkpoint into a model built from its config (m is initialised
 * here). Damaged or mismatched files are clear errors. */
int model_load(model *m, model_ckpt_state *st, const char *path, cb_err *e);
/* The same from the n bytes of a checkpoint in memory; name is used in errors. */
int model_load_mem(model *m, model_ckpt_state *st, const uint8_t *buf, size_t n, const char *name, cb_err *e);
/* model_load, and *state gets a malloc'd copy of the file's optimizer state
 * (nparams floats; free it), or NULL when it holds none. */
int model_load_state(model *m, model_ckpt_state *st, float **state, const char *path, cb_err *e);

#endif
