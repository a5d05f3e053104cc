/* film.c - a contact sheet of rollouts: one row per episode, every k-th
 * frame with its step and action, and the episode's seed and outcome, so a
 * person can see what a policy does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

#define LABEL_H 8
#define HEAD_W 40

int eval_film_write(const char *path, const int32_t *seeds, int nlevels, const uint8_t *film,
                    const uint8_t *film_action, const int *film_len, const int *film_outcome, int film_steps, int cols,
                    cb_err *e) {
    if (nlevels <= 0 || cols <= 0) return cb_fail(e, CB_EARG, "%s: nothing to film", path);
    int cw = GAME_OBS + 2, ch = GAME_OBS + LABEL_H + 2;
    int W = HEAD_W + cols * cw, H = nlevels * ch;
    uint8_t *img = calloc((size_t)W * (size_t)H * 3, 1);
    if (!img) return cb_fail(e, CB_ENOMEM, "%s: out of memory for a %dx%d contact sheet", path, W, H);
    static const uint8_t white[3] = {255, 255, 255}, gold[3] = {255, 215, 50}, red[3] = {255, 80, 80},
                         gray[3] = {170, 170, 170};
    for (int l = 0; l < nlevels; l++) {
        int y0 = l * ch, len = film_len[l];
        char buf[32];
        snprintf(buf, sizeof buf, "%d", seeds[l]);
        eval_draw_text(img, W, H, 2, y0 + 4, "SEED", gray);
        eval_draw_text(img, W, H, 2, y0 + 11, buf, white);
        const char *oc = film_outcome[l] == GAME_COIN ? "COIN" : film_outcome[l] == GAME_DEATH ? "DEATH"
                                                         : film_outcome[l] == GAME_TIMEOUT_END ? "TIME" : "-";
        eval_draw_text(img, W, H, 2, y0 + 20, oc, film_outcome[l] == GAME_COIN ? gold : red);
        snprintf(buf, sizeof buf, "%dST", len);
        eval_draw_text(img, W, H, 2, y0 + 27, buf, gray);
        /* columns: evenly spaced steps over the episode, always the last one */
        for (int c = 0; c < cols && len > 0; c++) {
            int t = cols == 1 ? len - 1 : (int)((int64_t)c * (len - 1) / (cols - 1));
            if (c > 0 && t == (cols == 1 ? 0 : (int)((int64_t)(c - 1) * (len - 1) / (cols - 1)))) continue;
            const uint8_t *fr = film + ((size_t)l * film_steps + t) * GAME_OBS_BYTES;
            int x0 = HEAD_W + c * cw;
            for (int y = 0; y < GAME_OBS; y++)
                memcpy(img + ((size_t)(y0 + 1 + y) * W + x0 + 1) * 3, fr + (size_t)y * GAME_OBS * 3, GAME_OBS * 3);
            snprintf(buf, sizeof buf, "T%d A%d", t, film_action[(size_t)l * film_steps + t]);
            eval_draw_text(img, W, H, x0 + 2, y0 + GAME_OBS + 2, buf, white);
        }
    }
    int rc = game_write_png(path, img, W, H, e);
    free(img);
    return rc;
}
