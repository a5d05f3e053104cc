/* err.c - error codes and messages (cb_err). See common.h. */
#include "common/common.h"

#include <stdarg.h>
#include <string.h>

int cb_fail(cb_err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int cb_err_prefix(cb_err *e, const char *fmt, ...) {
    if (!e) return CB_EARG;
    char pre[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (pre[0] && strstr(e->msg, pre)) return e->code; /* the context is already there: never "level 0: level 0:" */
    memcpy(old, e->msg, sizeof old);
    size_t lp = strnlen(pre, sizeof pre), lo = strnlen(old, sizeof old - 1);
    if (lp > sizeof e->msg - 1) lp = sizeof e->msg - 1;
    if (lo > sizeof e->msg - 1 - lp) lo = sizeof e->msg - 1 - lp;
    memcpy(e->msg, pre, lp);
    memcpy(e->msg + lp, old, lo);
    e->msg[lp + lo] = 0;
    return e->code;
}

void cb_err_clear(cb_err *e) {
    if (!e) return;
    e->code = 0;
    e->msg[0] = 0;
}

const char *cb_strerror(int code) {
    switch (code) {
    case CB_OK: return "ok";
    case CB_EIO: return "i/o error";
    case CB_EFORMAT: return "bad format";
    case CB_EARG: return "bad argument";
    case CB_ENOMEM: return "out of memory";
    case CB_ECRC: return "checksum mismatch";
    case CB_ERANGE: return "out of range";
    case CB_EEXIST: return "already exists";
    case CB_ENOTFOUND: return "not found";
    case CB_EBUSY: return "busy";
    default: return "error";
    }
}
