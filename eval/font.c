/* font.c - a 3x5 pixel font (digits, capitals, a few signs) for labels on
 * contact sheets. Each glyph is 5 rows of 3 bits, most significant bit left. */
#include <ctype.h>
#include <string.h>

#include "eval/eval.h"

static const struct {
    char c;
    uint8_t rows[5];
} GLYPHS[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'A', {2, 5, 7, 5, 5}}, {'B', {6, 5, 6, 5, 6}},
    {'C', {3, 4, 4, 4, 3}}, {'D', {6, 5, 5, 5, 6}}, {'E', {7, 4, 6, 4, 7}}, {'F', {7, 4, 6, 4, 4}},
    {'G', {3, 4, 5, 5, 3}}, {'H', {5, 5, 7, 5, 5}}, {'I', {7, 2, 2, 2, 7}}, {'J', {1, 1, 1, 5, 2}},
    {'K', {5, 5, 6, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}}, {'N', {6, 5, 5, 5, 5}},
    {'O', {2, 5, 5, 5, 2}}, {'P', {6, 5, 6, 4, 4}}, {'Q', {2, 5, 5, 6, 3}}, {'R', {6, 5, 6, 5, 5}},
    {'S', {3, 4, 2, 1, 6}}, {'T', {7, 2, 2, 2, 2}}, {'U', {5, 5, 5, 5, 7}}, {'V', {5, 5, 5, 5, 2}},
    {'W', {5, 5, 7, 7, 5}}, {'X', {5, 5, 2, 5, 5}}, {'Y', {5, 5, 2, 2, 2}}, {'Z', {7, 1, 2, 4, 7}},
    {':', {0, 2, 0, 2, 0}}, {'-', {0, 0, 7, 0, 0}}, {'/', {1, 1, 2, 4, 4}}, {'.', {0, 0, 0, 0, 2}},
    {'+', {0, 2, 7, 2, 0}}, {'%', {5, 1, 2, 4, 5}}, {'=', {0, 7, 0, 7, 0}},
};

void eval_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, const uint8_t color[3]) {
    for (; *text; text++, x += 4) {
        char c = (char)toupper((unsigned char)*text);
        const uint8_t *rows = NULL;
        for (size_t g = 0; g < sizeof GLYPHS / sizeof GLYPHS[0]; g++)
            if (GLYPHS[g].c == c) rows = GLYPHS[g].rows;
        if (!rows) continue; /* space and unknown characters leave a gap */
        for (int r = 0; r < 5; r++)
            for (int b = 0; b < 3; b++) {
                if (!((rows[r] >> (2 - b)) & 1)) continue;
                int px = x + b, py = y + r;
                if (px < 0 || py < 0 || px >= w || py >= h) continue;
                memcpy(rgb + ((size_t)py * (size_t)w + (size_t)px) * 3, color, 3);
            }
    }
}
