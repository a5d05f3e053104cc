/* raster.c - pixel spans and sprite blits for game_canvas (see raster.h). */
#include <stddef.h>

#include "game/raster.h"

static void spans(const game_canvas *c, float x0, float x1, float y0, float y1, int *a, int *b, int *r0, int *r1) {
    *a = cv_edge(cv_u(c, x0));
    *b = cv_edge(cv_u(c, x1));
    *r0 = cv_edge(cv_v(c, y1));
    *r1 = cv_edge(cv_v(c, y0));
    if (*a < 0) *a = 0;
    if (*b > c->w) *b = c->w;
    if (*r0 < 0) *r0 = 0;
    if (*r1 > c->h) *r1 = c->h;
}

void game_blit(const game_canvas *c, float x0, float x1, float y0, float y1, const uint8_t *tex, int th, int mirror,
               int alpha256) {
    int a, b, r0, r1;
    spans(c, x0, x1, y0, y1, &a, &b, &r0, &r1);
    if (a >= b || r0 >= r1 || alpha256 <= 0) return;
    float u0 = cv_u(c, x0), vt = cv_v(c, y1);
    float kx = (float)ART_SW / (cv_u(c, x1) - u0), ky = (float)th / (cv_v(c, y0) - vt);
    enum { MAXW = 1024 };
    int cols[MAXW];
    if (b - a > MAXW) b = a + MAXW;
    for (int px = a; px < b; px++) {
        int t = (int)((px + 0.5f - u0) * kx);
        t = t < 0 ? 0 : (t >= ART_SW ? ART_SW - 1 : t);
        cols[px - a] = (mirror ? ART_SW - 1 - t : t) * 4;
    }
    for (int py = r0; py < r1; py++) {
        int tr = (int)((py + 0.5f - vt) * ky);
        tr = tr < 0 ? 0 : (tr >= th ? th - 1 : tr);
        const uint8_t *trow = tex + (size_t)tr * ART_SW * 4;
        uint8_t *out = c->img + ((size_t)py * (size_t)c->w + (size_t)a) * 3;
        if (alpha256 >= 256) {
            for (int k = 0; k < b - a; k++, out += 3) {
                const uint8_t *t = trow + cols[k];
                if (t[3]) out[0] = t[0], out[1] = t[1], out[2] = t[2];
            }
        } else {
            int ia = 256 - alpha256;
            for (int k = 0; k < b - a; k++, out += 3) {
                const uint8_t *t = trow + cols[k];
                if (!t[3]) continue;
                out[0] = (uint8_t)((out[0] * ia + t[0] * alpha256) >> 8);
                out[1] = (uint8_t)((out[1] * ia + t[1] * alpha256) >> 8);
                out[2] = (uint8_t)((out[2] * ia + t[2] * alpha256) >> 8);
            }
        }
    }
}

void game_fill(const game_canvas *c, float x0, float x1, float y0, float y1, game_rgb col) {
    int a, b, r0, r1;
    spans(c, x0, x1, y0, y1, &a, &b, &r0, &r1);
    for (int py = r0; py < r1; py++) {
        uint8_t *out = c->img + ((size_t)py * (size_t)c->w + (size_t)a) * 3;
        for (int k = a; k < b; k++, out += 3) out[0] = col.r, out[1] = col.g, out[2] = col.b;
    }
}
