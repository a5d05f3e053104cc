/* method.h - train/'s half of the method table (run/run.h,
 * RUN_METHOD_TABLE): each method's combine rule, its mask from the sums and
 * its optimizer step, as function pointers. Private to train/. */
#ifndef COINBC_TRAIN_METHOD_H
#define COINBC_TRAIN_METHOD_H

#include "train/train.h"

/* One parameter: the combined value into *dst, the mask value returned; g
 * points at level 0's entry, level l's is g[l * P]. */
typedef double (*train_comb_fn)(float *dst, const float *g, int L, size_t P, const train_combine_opts *o);
/* The mask of n parameters from the sums of the signs of their L level
 * gradients (sign(0) = 0): the rule of a method whose reduction splits. */
typedef void (*train_mask_fn)(double *mask, const int *ssum, int n, int L, const train_combine_opts *o);

/* Everything one optimizer step takes. state: the method's optimizer state
 * (run_method()->state arrays of m->nparams floats, one after the other). */
typedef struct {
    model *m;
    float *density;   /* per tensor: the step's mask share (tand); may be NULL */
    float *g;         /* the combined gradient (Adam adds the L2 decay to it) */
    float *state;
    double lr, beta1;
    int64_t t;        /* the step, >= 1 */
    double wd;
    int wd_mode;
    double tau, tand_beta;
} train_step_args;
typedef void (*train_step_fn)(const train_step_args *a);

typedef struct {
    train_comb_fn comb;
    train_mask_fn mask; /* NULL: the plain mean */
    train_step_fn step;
} train_method_fns;

/* The functions of a method (NULL for an unknown one). */
const train_method_fns *train_method_fns_of(int method);

void train_step_adam(const train_step_args *a);
void train_step_tand(const train_step_args *a);

#endif
