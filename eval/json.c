/* json.c - just enough JSON reading for coinbc's own flat files
 * (config.json, eval.json, rollout.json): find "key": value at any depth
 * and read it as a number or a string. Not a general parser. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

static const char *find_key(const char *json, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')); p++) {
        if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '"') {
            const char *q = p + 2 + kl;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (*q == ':') {
                q++;
                while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
                return q;
            }
        }
    }
    return NULL;
}

int eval_json_num(const char *json, const char *key, double *out) {
    const char *v = find_key(json, key);
    if (!v) return CB_ENOTFOUND;
    char *end;
    double d = strtod(v, &end);
    if (end == v) return CB_EFORMAT;
    *out = d;
    return 0;
}

int eval_json_str(const char *json, const char *key, char *out, size_t n) {
    const char *v = find_key(json, key);
    if (!v) return CB_ENOTFOUND;
    if (*v != '"') return CB_EFORMAT;
    v++;
    size_t k = 0;
    while (*v && *v != '"' && k + 1 < n) {
        if (*v == '\\' && v[1]) v++;
        out[k++] = *v++;
    }
    out[k] = 0;
    return *v == '"' ? 0 : CB_EFORMAT;
}
