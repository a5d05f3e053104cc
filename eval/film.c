/* film.c - contact sheets: a grid of 64x64 frames, each with lines of
 * labels under it, a head column of text at the left of every row and a
 * title row above the columns (eval_sheet), written as one PNG. The
 * rollout's film is one: one row per episode, every k-th frame with its
 * step and action, and the episode's seed and outcome, so a person can see
 * what a policy does. The appearance probe's strip (appearance_strip.c) and
 * coinbc eval's eval_frames.png (accuracy_run.c) are others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

#define LABEL_LINE 8 /* a 5-pixel line of the font and its gap */
#define HEAD_W 40

int eval_sheet_init(eval_sheet *s, int rows, int cols, int head_w, int top, int label_lines, cb_err *e) {
    memset(s, 0, sizeof *s);
    if (rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096 || head_w < 0 || top < 0 || label_lines < 0 ||
        label_lines > 16)
        return cb_fail(e, CB_EARG, "contact sheet: %d rows x %d columns (head %d, top %d, %d label lines)", rows, cols,
                       head_w, top, label_lines);
    s->rows = rows, s->cols = cols, s->head_w = head_w, s->top = top;
    s->cell_w = CB_FRAME_W + 2;
    s->cell_h = CB_FRAME_W + 2 + label_lines * LABEL_LINE;
    s->w = head_w + cols * s->cell_w;
    s->h = top + rows * s->cell_h;
    s->rgb = calloc((size_t)s->w * (size_t)s->h * 3, 1);
    if (!s->rgb) return cb_fail(e, CB_ENOMEM, "out of memory for a %dx%d contact sheet", s->w, s->h);
    return 0;
}

void eval_sheet_free(eval_sheet *s) {
    free(s->rgb);
    s->rgb = NULL;
}

void eval_sheet_frame_xy(const eval_sheet *s, int row, int col, int *x, int *y) {
    *x = s->head_w + col * s->cell_w + 1;
    *y = s->top + row * s->cell_h + 1;
}

void eval_sheet_frame(eval_sheet *s, int row, int col, const uint8_t *frame) {
    int x0, y0;
    eval_sheet_frame_xy(s, row, col, &x0, &y0);
    for (int y = 0; y < CB_FRAME_H; y++)
        memcpy(s->rgb + ((size_t)(y0 + y) * (size_t)s->w + (size_t)x0) * 3, frame + (size_t)y * CB_FRAME_W * 3,
               CB_FRAME_W * 3);
}

void eval_sheet_label_at(eval_sheet *s, int row, int col, int line, int dx, const char *text, const uint8_t color[3]) {
    int x0, y0;
    eval_sheet_frame_xy(s, row, col, &x0, &y0);
    eval_draw_text(s->rgb, s->w, s->h, x0 + 1 + dx, y0 + CB_FRAME_W + 1 + line * LABEL_LINE, text, color);
}

void eval_sheet_label(eval_sheet *s, int row, int col, int line, const char *text, const uint8_t color[3]) {
    eval_sheet_label_at(s, row, col, line, 0, text, color);
}

void eval_sheet_head(eval_sheet *s, int row, int dy, const char *text, const uint8_t color[3]) {
    eval_draw_text(s->rgb, s->w, s->h, 2, s->top + row * s->cell_h + dy, text, color);
}

void eval_sheet_title(eval_sheet *s, int col, const char *text, const uint8_t color[3]) {
    int x0, y0;
    eval_sheet_frame_xy(s, 0, col, &x0, &y0);
    eval_draw_text(s->rgb, s->w, s->h, x0 + 1, (s->top - 5) / 2, text, color);
}

int eval_sheet_write(const eval_sheet *s, const char *path, cb_err *e) {
    return game_write_png(path, s->rgb, s->w, s->h, e);
}

int eval_film_write(const char *path, const int32_t *seeds, int nlevels, const uint8_t *film,
                    const uint8_t *film_action, const int *film_len, const int *film_outcome, int film_steps, int cols,
                    cb_err *e) {
    if (nlevels <= 0 || cols <= 0) return cb_fail(e, CB_EARG, "%s: nothing to film", path);
    eval_sheet s;
    if (eval_sheet_init(&s, nlevels, cols, HEAD_W, 0, 1, e)) return cb_err_prefix(e, "%s: ", path);
    static const uint8_t white[3] = {255, 255, 255}, gold[3] = {255, 215, 50}, red[3] = {255, 80, 80},
                         gray[3] = {170, 170, 170};
    for (int l = 0; l < nlevels; l++) {
        int len = film_len[l];
        char buf[32];
        snprintf(buf, sizeof buf, "%d", seeds[l]);
        eval_sheet_head(&s, l, 4, "SEED", gray);
        eval_sheet_head(&s, l, 11, buf, white);
        const char *oc = film_outcome[l] == GAME_COIN ? "COIN" : film_outcome[l] == GAME_DEATH ? "DEATH"
                                                         : film_outcome[l] == GAME_TIMEOUT_END ? "TIME" : "-";
        eval_sheet_head(&s, l, 20, oc, film_outcome[l] == GAME_COIN ? gold : red);
        snprintf(buf, sizeof buf, "%dST", len);
        eval_sheet_head(&s, l, 27, buf, gray);
        /* columns: evenly spaced steps over the episode, always the last one */
        for (int c = 0; c < cols && len > 0; c++) {
            int t = cols == 1 ? len - 1 : (int)((int64_t)c * (len - 1) / (cols - 1));
            if (c > 0 && t == (cols == 1 ? 0 : (int)((int64_t)(c - 1) * (len - 1) / (cols - 1)))) continue;
            eval_sheet_frame(&s, l, c, film + ((size_t)l * film_steps + t) * CB_FRAME_BYTES);
            snprintf(buf, sizeof buf, "T%d A%d", t, film_action[(size_t)l * film_steps + t]);
            eval_sheet_label(&s, l, c, 0, buf, white);
        }
    }
    int rc = eval_sheet_write(&s, path, e);
    eval_sheet_free(&s);
    return rc;
}
