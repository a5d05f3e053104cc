/* test_frames_sheet.c - coinbc eval's frame sheet, RUN/eval_frames.png
 * (eval/accuracy_run.c on film.c's eval_sheet), read back from the file and
 * checked pixel by pixel against what docs/FORMATS.md says it holds: one
 * row of 66 x 74 cells, in each the middle frame of one of the first 8
 * held-out levels (the dataset's own pixels, never a training level's) at
 * (66 k + 1, 1), and under it E (the expert's label) and P (the policy's
 * argmax, green where they agree, red where not) at (66 k + 4, 66) and
 * (66 k + 34, 66); black everywhere else. The expected labels come from the
 * dataset and the checkpoint's own forward pass here, not from the sheet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataset/dataset.h"
#include "eval/eval.h"
#include "model/model.h"
#include "tests/support/pngfile.h"
#include "tests/support/run.h"

typedef struct {
    char *dir;
    char run[4200], ckpt[4200], test[4200];
} fixture;

/* a tiny run trained by the program (levels 0-7) and 12 held-out levels */
static int setup(void **st) {
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->dir = test_tmpdir())) return -1;
    snprintf(fx->run, sizeof fx->run, "%s/run", fx->dir);
    snprintf(fx->ckpt, sizeof fx->ckpt, "%s/run/best.ckpt", fx->dir);
    snprintf(fx->test, sizeof fx->test, "%s/test.cbd", fx->dir);
    char err[4096];
    int rc = test_run(NULL, 0, err, sizeof err, "record --levels 0-7 --states 30 --noise 0.1 --out %s/train.cbd --quiet",
                      fx->dir);
    if (!rc) rc = test_run(NULL, 0, err, sizeof err, "record --levels 100-111 --states 40 --noise 0.3 --out %s --quiet", fx->test);
    if (!rc)
        rc = test_run(NULL, 0, err, sizeof err,
                      "train %s/train.cbd --method and --net nature --channels 4,8,8 --hidden 16 --epochs 3 "
                      "--batch-levels 4 --batch-frames 4 --quiet -o %s",
                      fx->dir, fx->run);
    if (rc != 0) fprintf(stderr, "setup: %s\n", err);
    *st = fx;
    return rc;
}

static int teardown(void **st) {
    fixture *fx = *st;
    if (fx && fx->dir) test_rmtree(fx->dir);
    if (fx) free(fx->dir);
    free(fx);
    return 0;
}

/* the sheet of eval on seeds lo..hi, checked against levels `want` of the
 * held-out dataset (their order on the sheet) */
static int check_sheet(const fixture *fx, int32_t lo, int32_t hi, const int32_t *want, int n) {
    eval_accuracy_run_opts o = {.run = fx->run, .data = fx->test, .checkpoint = fx->ckpt, .lo = lo, .hi = hi,
                                .quiet = 1};
    eval_accuracy_run_result r;
    cb_err e = {0};
    assert_int_equal(eval_accuracy_run(&r, &o, &e), 0);
    assert_int_equal(r.has_train, 1); /* the training levels were evaluated too, after the held-out ones */
    eval_accuracy_run_free(&r);

    char path[4300];
    snprintf(path, sizeof path, "%s/eval_frames.png", fx->run);
    int w = 0, h = 0;
    uint8_t *png = test_png_read(path, &w, &h);
    assert_non_null(png);
    assert_int_equal(w, 66 * n);
    assert_int_equal(h, 74);

    /* the expected sheet: black, the labels drawn where the format puts them,
     * the frames pasted from the dataset */
    uint8_t *exp = calloc((size_t)w * h * 3, 1);
    assert_non_null(exp);
    model m;
    model_ckpt_state cs;
    assert_int_equal(model_load(&m, &cs, fx->ckpt, &e), 0);
    ds_reader *d;
    assert_int_equal(ds_open(&d, fx->test, &e), 0);
    static const uint8_t white[3] = {255, 255, 255}, green[3] = {90, 230, 90}, red[3] = {255, 90, 90};
    int agree = 0;
    for (int k = 0; k < n; k++) {
        ds_level l;
        assert_int_equal(ds_load(d, &want[k], 1, &l, 1, &e), 0);
        assert_true(l.n > 0);
        float *probs = malloc(sizeof(float) * (size_t)l.n * CB_NUM_ACTIONS);
        assert_non_null(probs);
        model_predict_io io = {.probs = probs};
        assert_int_equal(model_predict(&m, l.frames, l.n, &io, &e), 0);
        int64_t t = l.n / 2;
        int pred = 0;
        for (int a = 1; a < CB_NUM_ACTIONS; a++)
            if (probs[t * CB_NUM_ACTIONS + a] > probs[t * CB_NUM_ACTIONS + pred]) pred = a;
        int label = l.label[t];
        agree += pred == label;
        char s[16];
        snprintf(s, sizeof s, "E%d", label);
        eval_draw_text(exp, w, h, 66 * k + 4, 66, s, white);
        snprintf(s, sizeof s, "P%d", pred);
        eval_draw_text(exp, w, h, 66 * k + 34, 66, s, pred == label ? green : red);
        for (int y = 0; y < CB_FRAME_H; y++)
            memcpy(exp + ((size_t)(1 + y) * w + 66 * k + 1) * 3, l.frames + (size_t)t * CB_FRAME_BYTES + (size_t)y * CB_FRAME_W * 3,
                   CB_FRAME_W * 3);
        /* the frame's pixels on the sheet are the dataset's middle frame */
        for (int y = 0; y < CB_FRAME_H; y++)
            assert_memory_equal(png + ((size_t)(1 + y) * w + 66 * k + 1) * 3,
                                l.frames + (size_t)t * CB_FRAME_BYTES + (size_t)y * CB_FRAME_W * 3, CB_FRAME_W * 3);
        free(probs);
        ds_level_free(&l);
    }
    /* and the rest (borders, label lines) is exactly the expected text */
    for (int y = 0; y < h; y++)
        if (memcmp(png + (size_t)y * w * 3, exp + (size_t)y * w * 3, (size_t)w * 3)) fail_msg("%s: row %d differs", path, y);
    printf("%s: %d frames, %d with the policy agreeing\n", path, n, agree);
    ds_close(d);
    model_free(&m);
    free(exp);
    free(png);
    return agree;
}

/* the first 8 of 12 held-out levels, in the dataset's order; the fixture's
 * policy agrees with the expert on some of them and not on others, so both
 * colours of P are checked */
static void test_first_eight(void **st) {
    const int32_t want[8] = {100, 101, 102, 103, 104, 105, 106, 107};
    int agree = check_sheet(*st, 0, INT32_MAX, want, 8);
    if (agree == 0 || agree == 8) fail_msg("the fixture's policy agrees on %d of 8 frames: P is drawn in one colour only", agree);
}

/* a range of 3 levels: 3 cells, the same file rewritten narrower */
static void test_few_levels(void **st) {
    const int32_t want[3] = {109, 110, 111};
    check_sheet(*st, 109, 200, want, 3);
}

/* a range that starts inside the dataset: its first 8 levels, not the dataset's */
static void test_range_start(void **st) {
    const int32_t want[8] = {103, 104, 105, 106, 107, 108, 109, 110};
    check_sheet(*st, 103, 111, want, 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_eight),
        cmocka_unit_test(test_few_levels),
        cmocka_unit_test(test_range_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
