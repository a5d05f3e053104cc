/* net_desc.c - the network description (model_net_desc): each kind's
 * defaults and stage count, its text form (--net's word, --channels' list)
 * and the text errors name it by. Ranges are run/'s option schema's
 * (run_net_check); model_plan checks what a network can be built of. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

typedef struct {
    const char *name;
    int stages;
    int channels[MODEL_NET_MAX_STAGES];
    int hidden;
} net_kind;

/* by kind (MODEL_IMPALA, MODEL_NATURE) */
static const net_kind KINDS[] = {
    {"impala", MODEL_NET_MAX_STAGES, {16, 32, 32}, 256},
    {"nature", 3, {32, 64, 64}, 512}, /* three convolutions, 8x8/4, 4x4/2, 3x3/1 (net.c) */
};
#define NKINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

const char *model_net_name(int kind) { return kind >= 0 && kind < NKINDS ? KINDS[kind].name : "unknown"; }

int model_net_stages(int kind) { return kind >= 0 && kind < NKINDS ? KINDS[kind].stages : 0; }

int model_net_default(model_net_desc *c, const char *net) {
    memset(c, 0, sizeof *c);
    for (int k = 0; k < NKINDS; k++)
        if (!strcmp(net, KINDS[k].name)) {
            c->kind = k;
            memcpy(c->channels, KINDS[k].channels, sizeof c->channels);
            c->hidden = KINDS[k].hidden;
            return 0;
        }
    return CB_EARG;
}

/* "A,B,C" for n stages */
static void list_form(char *buf, size_t n, int stages) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < stages && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%c", i ? "," : "", 'A' + i);
}

int model_net_parse_channels(model_net_desc *c, const char *text, cb_err *e) {
    int stages = model_net_stages(c->kind), ch[MODEL_NET_MAX_STAGES] = {0};
    char form[2 * MODEL_NET_MAX_STAGES + 1];
    list_form(form, sizeof form, stages);
    const char *p = text;
    for (int i = 0; p && i < stages; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        /* an int (strtol's form: leading blanks and a sign allowed), then a comma or, after the last, the end */
        if (end == p || v < -2147483647L - 1 || v > 2147483647L || *end != (i + 1 < stages ? ',' : '\0'))
            p = NULL;
        else {
            ch[i] = (int)v;
            p = end + 1;
        }
    }
    if (!p || stages < 1) return cb_fail(e, CB_EARG, "--channels wants %s", form);
    memcpy(c->channels, ch, sizeof ch);
    return 0;
}

void model_net_channels_text(char *buf, size_t n, const model_net_desc *c) {
    size_t k = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < model_net_stages(c->kind) && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%d", i ? "," : "", c->channels[i]);
}

void model_net_text(char *buf, size_t n, const model_net_desc *c) {
    char ch[16 * MODEL_NET_MAX_STAGES];
    model_net_channels_text(ch, sizeof ch, c);
    snprintf(buf, n, "%s, channels %s, hidden %d", model_net_name(c->kind), ch, c->hidden);
}
