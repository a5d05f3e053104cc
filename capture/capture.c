/* capture.c - recordings -> dataset: finds the inputs, groups them by level
 * seed in a stable order, reads and encodes levels in parallel, and writes
 * the dataset (all or nothing unless skip_bad). */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/capture.h"
#include "capture/recmeta.h"

enum { IN_PNG = 0, IN_NPZ = 1 };

typedef struct {
    int kind;
    int32_t seed;
    int64_t index;     /* .npz: the episode index from the name */
    size_t stamp_len;  /* .npz: length of the folder + timestamp prefix of path */
    char path[4096];
} input;

typedef struct {
    input *v;
    int n, cap;
} input_list;

static int add_input(input_list *l, int kind, int32_t seed, int64_t index, const char *path, cb_err *e) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        input *nv = realloc(l->v, sizeof *nv * (size_t)cap);
        if (!nv) return cb_fail(e, CB_ENOMEM, "capture: out of memory");
        l->v = nv;
        l->cap = cap;
    }
    input *in = &l->v[l->n++];
    in->kind = kind;
    in->seed = seed;
    in->index = index;
    snprintf(in->path, sizeof in->path, "%s", path);
    /* {timestamp}_{index}_{T}_{seed}_{return}.npz: the prefix ends at the
     * fourth '_' from the right */
    in->stamp_len = strlen(in->path);
    for (int k = 0; k < 4 && kind == IN_NPZ; k++)
        while (in->stamp_len > 0 && in->path[--in->stamp_len] != '_') {
        }
    return 0;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* level_SEED with SEED a canonical int32 (no '+', no leading zeros, no
 * wrap): 0, CB_EARG when the name is not level_..., CB_EFORMAT when it is
 * level_ followed by something that is not such a seed. */
static int level_seed_of(const char *name, int32_t *seed) {
    if (strncmp(name, "level_", 6) != 0) return CB_EARG;
    int64_t v;
    if (cb_parse_dec_exact(name + 6, strlen(name + 6), INT32_MIN, INT32_MAX, &v)) return CB_EFORMAT;
    *seed = (int32_t)v;
    return 0;
}

static int bad_level_name(const char *path, cb_err *e) {
    return cb_fail(e, CB_EFORMAT,
                   "%s: a recording folder must be named level_SEED with SEED an int32 in plain decimal (no '+', no "
                   "leading zeros); rename or remove it",
                   path);
}

/* ---- completeness: what a recordings folder says it planned and finished ----
 * DIR/meta.json (written last by coinbc record): complete, every level of its
 * range must be there with its meta.json. DIR/plan.json without meta.json:
 * record was stopped; the levels of the plan without a level meta.json are
 * missing. Neither: another tool's folder (or coinbc record's before
 * plan.json), taken as it is, unless some level folders have a meta.json and
 * others have none (a stopped record: which levels were planned is unknown). */

/* Appends "A-B" or "A" to a list of ranges in buf. */
static void add_range(char *buf, size_t cap, int64_t a, int64_t b, int *count) {
    size_t k = strlen(buf);
    if (k + 40 >= cap) {
        if (!strstr(buf, ", ...")) snprintf(buf + k, cap - k, ", ...");
        return;
    }
    if (a == b) snprintf(buf + k, cap - k, "%s%lld", k ? ", " : "", (long long)a);
    else snprintf(buf + k, cap - k, "%s%lld-%lld", k ? ", " : "", (long long)a, (long long)b);
    (*count)++;
}

static int by_seed_only(const void *a, const void *b) {
    const input *x = a, *y = b;
    return (x->seed > y->seed) - (x->seed < y->seed);
}

/* What check_complete learns about a recordings folder, step by step. */
typedef struct {
    capture_run_meta run, plan; /* DIR/meta.json, DIR/plan.json */
    int has_run, has_plan;
    int nfin, pngs;         /* levels coinbc record finished; level folders without a meta.json */
    char *fin;              /* a folder: 0 no meta.json, 1 coinbc record's, 2 another (export's, a bare mode) */
    char missing[512];      /* the missing levels as ranges, for messages */
    int nmiss;
    int64_t missing_levels;
} completeness;

/* Reads DIR/meta.json, else DIR/plan.json; a file that is not there is no
 * error, any other failure is. */
static int read_run_record(completeness *c, const char *dir, cb_err *e) {
    char path[4200];
    int rc;
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if ((rc = capture_run_meta_read(path, 0, &c->run, e)) == 0) c->has_run = 1;
    else if (rc != CB_ENOTFOUND) return rc;
    snprintf(path, sizeof path, "%s/plan.json", dir);
    if (!c->has_run) {
        if ((rc = capture_run_meta_read(path, 1, &c->plan, e)) == 0) c->has_plan = 1;
        else if (rc != CB_ENOTFOUND) return rc;
    }
    return 0;
}

/* Reads the meta.json of each PNG level folder of v[0..n) into c->fin
 * (npz files are not part of a run's record); one of another level, or not
 * coinbc record's where the folder's record says coinbc record wrote it, fails. */
static int read_level_metas(completeness *c, const input *v, int n, const char *dir, cb_err *e) {
    char path[4200];
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (v[i].kind != IN_PNG) continue;
        snprintf(path, sizeof path, "%s/meta.json", v[i].path);
        capture_level_meta m;
        rc = capture_level_meta_read(path, &m, e);
        if (rc == CB_ENOTFOUND) { /* no meta.json at all: unfinished, if this is coinbc record's folder */
            rc = 0;
            c->pngs++;
            continue;
        }
        if (rc) break;
        if (m.has_level && m.level != v[i].seed)
            rc = cb_fail(e, CB_EFORMAT, "%s: says level %d, but the folder is level %d", path, m.level, v[i].seed);
        else if (!m.coinbc && (c->has_run || c->has_plan))
            rc = cb_fail(e, CB_EFORMAT,
                         "%s: not coinbc record's level meta.json (\"format\": \"coinbc-recording\"), but %s/%s says "
                         "coinbc record wrote this folder",
                         path, dir, c->has_run ? "meta.json" : "plan.json");
        c->fin[i] = m.coinbc ? 1 : 2; /* coinbc record writes its meta.json last: the level is finished */
        c->nfin += m.coinbc;
    }
    return rc;
}

/* The seeds of the record's range (cut to lo_f..hi_f) without a finished
 * level folder among the sorted v[0..n), walked a run of missing seeds at a
 * time (a plan of 2^31 levels costs no more than the folders it has). */
static void missing_planned(completeness *c, const input *v, int n, int lo_f, int hi_f) {
    const capture_run_meta *r = c->has_run ? &c->run : &c->plan;
    int64_t lo = r->lo > lo_f ? r->lo : lo_f, hi = r->hi < hi_f ? r->hi : hi_f;
    int i = 0;
    int64_t s = lo;
    while (s <= hi) {
        while (i < n && (v[i].kind != IN_PNG || v[i].seed < s)) i++;
        if (i < n && v[i].seed == s && c->fin[i] == 1) {
            s++;
            continue;
        }
        int64_t next = hi + 1; /* the next finished level after s */
        for (int j = i; j < n; j++)
            if (v[j].kind == IN_PNG && c->fin[j] == 1 && v[j].seed > s) {
                if (v[j].seed < next) next = v[j].seed;
                break;
            }
        add_range(c->missing, sizeof c->missing, s, next - 1, &c->nmiss);
        c->missing_levels += next - s;
        s = next;
    }
}

/* No record of a plan: the PNG level folders in lo_f..hi_f without a meta.json. */
static void missing_unplanned(completeness *c, const input *v, int n, int lo_f, int hi_f) {
    for (int i = 0; i < n; i++)
        if (v[i].kind == IN_PNG && c->fin[i] == 0 && v[i].seed >= lo_f && v[i].seed <= hi_f) {
            add_range(c->missing, sizeof c->missing, v[i].seed, v[i].seed, &c->nmiss);
            c->missing_levels++;
        }
}

/* Fails on missing levels: always under a meta.json, under a plan.json or
 * no record unless incomplete recordings are allowed. */
static int fail_missing(const completeness *c, const char *dir, const capture_opts *o, cb_err *e) {
    int64_t ml = c->missing_levels;
    int nfin = c->nfin;
    if (c->has_run && ml)
        return cb_fail(e, CB_EFORMAT,
                       "%s: meta.json says levels %d-%d were recorded, but level%s %s %s no level_SEED folder with "
                       "its meta.json (the folder was changed since; record %s again)",
                       dir, c->run.lo, c->run.hi, ml == 1 ? "" : "s", c->missing, ml == 1 ? "has" : "have",
                       ml == 1 ? "it" : "them");
    if (c->has_plan && ml && !o->allow_incomplete)
        return cb_fail(e, CB_EFORMAT,
                       "%s: incomplete recording: plan.json plans levels %d-%d but there is no meta.json (coinbc record "
                       "was stopped); level%s %s not finished: record %s again (coinbc record --force), or give "
                       "--allow-incomplete to capture the %d finished level%s",
                       dir, c->plan.lo, c->plan.hi, ml == 1 ? "" : "s", c->missing, ml == 1 ? "it" : "them", nfin,
                       nfin == 1 ? "" : "s");
    if (!c->has_run && !c->has_plan && ml && !o->allow_incomplete)
        return cb_fail(e, CB_EFORMAT,
                       "%s: incomplete recording: level%s %s %s no meta.json while other levels have one (a stopped "
                       "coinbc record; which levels it planned is not recorded): record %s again, or give "
                       "--allow-incomplete to capture the %d finished level%s",
                       dir, ml == 1 ? "" : "s", c->missing, ml == 1 ? "has" : "have", ml == 1 ? "it" : "them", nfin,
                       nfin == 1 ? "" : "s");
    return 0;
}

/* Missing levels allowed: warns which, and keeps only the finished level
 * folders (and the npz files) of l->v[first..l->n), sorted as v. */
static void drop_unfinished(input_list *l, int first, const completeness *c, const char *dir, const capture_opts *o) {
    input *v = l->v + first;
    int n = l->n - first;
    if (o->warn) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: incomplete recording (--allow-incomplete): level%s %s missing%s", dir,
                 c->missing_levels == 1 ? "" : "s", c->missing,
                 c->has_plan ? "" : " (no plan.json: levels that were planned but never started are not known)");
        o->warn(o->ctx, msg);
    }
    int k = first;
    for (int i = 0; i < n; i++)
        if (v[i].kind != IN_PNG || c->fin[i] == 1 || (!c->has_plan && c->fin[i] == 2)) l->v[k++] = v[i];
    l->n = k;
}

/* The level folders l->v[first..l->n) were found in the recordings folder
 * `dir`: checks them against its record and drops the unfinished ones when
 * incomplete recordings are allowed. */
static int check_complete(input_list *l, int first, const char *dir, const capture_opts *o, cb_err *e) {
    completeness c;
    memset(&c, 0, sizeof c);
    int rc = read_run_record(&c, dir, e);
    if (rc) return rc;
    int n = l->n - first;
    input *v = l->v + first;
    qsort(v, (size_t)n, sizeof *v, by_seed_only);
    c.fin = calloc((size_t)n + 1, 1);
    if (!c.fin) return cb_fail(e, CB_ENOMEM, "capture: out of memory");
    rc = read_level_metas(&c, v, n, dir, e);
    if (!rc) {
        int lo_f = o->has_range ? o->lo : INT32_MIN, hi_f = o->has_range ? o->hi : INT32_MAX;
        if (c.has_run || c.has_plan) missing_planned(&c, v, n, lo_f, hi_f);
        else if (c.nfin > 0 && c.pngs > 0) /* no record of a plan, but some levels finished and others have no meta.json */
            missing_unplanned(&c, v, n, lo_f, hi_f);
        rc = fail_missing(&c, dir, o, e);
        if (!rc && c.missing_levels && (c.has_plan || c.nfin > 0)) drop_unfinished(l, first, &c, dir, o);
    }
    free(c.fin);
    return rc;
}

static int add_path(input_list *l, const char *path, const capture_opts *o, cb_err *e) {
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    size_t bl = strlen(path);
    int32_t seed;
    int64_t idx, T;
    if (!is_dir(path)) {
        if (bl > 4 && !strcmp(path + bl - 4, ".npz")) {
            if (capture_parse_npz_name(path, &seed, &idx, &T))
                return cb_fail(e, CB_EARG, "%s: the name does not follow {timestamp}_{index}_{T}_{seed}_{return}.npz", path);
            return add_input(l, IN_NPZ, seed, idx, path, e);
        }
        if (!exists(path)) return cb_fail(e, CB_ENOTFOUND, "%s: no such file or folder", path);
        return cb_fail(e, CB_EARG, "%s: not a recording (give a level_SEED folder, a folder of them, or .npz files)", path);
    }
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/actions.csv", path);
    if (exists(sub)) { /* a level folder itself */
        char name[256];
        snprintf(name, sizeof name, "%s", base);
        size_t nl = strlen(name);
        if (nl && name[nl - 1] == '/') name[nl - 1] = 0;
        int bad = level_seed_of(name, &seed);
        if (bad == CB_EFORMAT) return bad_level_name(path, e);
        if (bad) return cb_fail(e, CB_EARG, "%s: a recording folder must be named level_SEED", path);
        /* given on its own: unfinished if coinbc record wrote its parent and the level has no meta.json */
        char meta[4300], parent[4200];
        snprintf(meta, sizeof meta, "%s/meta.json", path);
        snprintf(parent, sizeof parent, "%s", path);
        size_t pl = strlen(parent);
        while (pl > 1 && parent[pl - 1] == '/') parent[--pl] = 0;
        char *slash = strrchr(parent, '/');
        if (slash) slash[slash == parent ? 1 : 0] = 0;
        else snprintf(parent, sizeof parent, ".");
        char pm[4300], pp[4300];
        snprintf(pm, sizeof pm, "%s/meta.json", parent);
        snprintf(pp, sizeof pp, "%s/plan.json", parent);
        if (!exists(meta) && (exists(pm) || exists(pp))) {
            if (!o->allow_incomplete)
                return cb_fail(e, CB_EFORMAT,
                               "%s: level %d is not finished: no meta.json, and %s says coinbc record wrote the folder "
                               "(record was stopped; record the level again, or give --allow-incomplete to leave it out)",
                               path, seed, exists(pm) ? pm : pp);
            if (o->warn) {
                char msg[4600];
                snprintf(msg, sizeof msg, "%s: level %d is not finished (no meta.json); left out (--allow-incomplete)", path, seed);
                o->warn(o->ctx, msg);
            }
            return 0;
        }
        return add_input(l, IN_PNG, seed, 0, path, e);
    }
    DIR *d = opendir(path);
    if (!d) return cb_fail(e, CB_EIO, "%s: cannot read the folder", path);
    struct dirent *de;
    int found = 0, rc = 0, first = l->n;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        size_t nl = strlen(de->d_name);
        int ls = level_seed_of(de->d_name, &seed);
        if (ls != CB_EARG && is_dir(sub)) {
            rc = ls ? bad_level_name(sub, e) : add_input(l, IN_PNG, seed, 0, sub, e);
            found++;
        } else if (nl > 4 && !strcmp(de->d_name + nl - 4, ".npz")) {
            if (capture_parse_npz_name(sub, &seed, &idx, &T))
                rc = cb_fail(e, CB_EARG, "%s: the name does not follow {timestamp}_{index}_{T}_{seed}_{return}.npz", sub);
            else
                rc = add_input(l, IN_NPZ, seed, idx, sub, e);
            found++;
        }
    }
    closedir(d);
    if (!rc && !found) rc = cb_fail(e, CB_ENOTFOUND, "%s: no level_SEED folders or .npz files in it", path);
    if (!rc) rc = check_complete(l, first, path, o, e);
    return rc;
}

static int by_level(const void *a, const void *b) {
    const input *x = a, *y = b;
    if (x->seed != y->seed) return (x->seed > y->seed) - (x->seed < y->seed);
    if (x->kind != y->kind) return x->kind - y->kind;
    if (x->kind == IN_NPZ) { /* by folder and timestamp, then by episode index (10 after 9) */
        size_t n = x->stamp_len < y->stamp_len ? x->stamp_len : y->stamp_len;
        int c = strncmp(x->path, y->path, n);
        if (c == 0 && x->stamp_len != y->stamp_len) c = x->stamp_len < y->stamp_len ? -1 : 1;
        if (c) return c;
        if (x->index != y->index) return x->index < y->index ? -1 : 1;
    }
    return strcmp(x->path, y->path);
}

/* Concatenates parts into one level, renumbering episodes consecutively. */
static int concat(ds_level *out, ds_level *parts, int n, int32_t seed, cb_err *e) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += parts[i].n;
    int rc = ds_level_alloc(out, seed, -1, total, e);
    if (rc) return rc;
    int64_t at = 0;
    int32_t ep_base = 0;
    for (int i = 0; i < n; i++) {
        ds_level *p = &parts[i];
        memcpy(out->frames + (size_t)at * CB_FRAME_BYTES, p->frames, (size_t)p->n * CB_FRAME_BYTES);
        memcpy(out->label + at, p->label, (size_t)p->n);
        memcpy(out->action + at, p->action, (size_t)p->n);
        memcpy(out->done + at, p->done, (size_t)p->n);
        memcpy(out->reward + at, p->reward, sizeof(float) * (size_t)p->n);
        memcpy(out->step + at, p->step, sizeof(int32_t) * (size_t)p->n);
        int32_t maxep = -1;
        for (int64_t t = 0; t < p->n; t++) {
            out->episode[at + t] = ep_base + p->episode[t] - (p->n ? p->episode[0] : 0);
            if (out->episode[at + t] > maxep) maxep = out->episode[at + t];
        }
        ep_base = maxep + 1;
        at += p->n;
    }
    return 0;
}

typedef struct {
    const input_list *in;
    const int *first; /* group g spans in->v[first[g] .. first[g+1]) */
    int ngroups;
    ds_writer *w;
    const capture_opts *o;
    cb_err *errs;
    int *bad;
    pthread_mutex_t mu;
    int done;
    capture_summary *s;
} run_ctx;

static int group_task(void *vctx, int64_t g) {
    run_ctx *c = vctx;
    const input *items = c->in->v + c->first[g];
    int n = c->first[g + 1] - c->first[g];
    int32_t seed = items[0].seed;
    cb_err *e = &c->errs[g];
    ds_level *parts = calloc((size_t)n, sizeof *parts);
    if (!parts) return cb_fail(e, CB_ENOMEM, "capture: out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (items[i].kind == IN_PNG) {
            int alpha = 0;
            rc = capture_read_pngdir(items[i].path, seed, &parts[i], &alpha, e);
            if (!rc && alpha && c->o->warn) {
                char msg[4300];
                snprintf(msg, sizeof msg, "%s: frames have an alpha channel; it was dropped", items[i].path);
                c->o->warn(c->o->ctx, msg);
            }
        } else {
            rc = capture_read_npz(items[i].path, &parts[i], e);
        }
    }
    /* the mode: what the recordings say (they must agree), else --mode */
    int mode = -1;
    for (int i = 0; i < n && !rc; i++) {
        if (parts[i].mode >= 0 && mode >= 0 && parts[i].mode != mode)
            rc = cb_fail(e, CB_EFORMAT, "level %d: %s says mode %s, %s says %s", seed, items[0].path, mode ? "hard" : "easy",
                         items[i].path, parts[i].mode ? "hard" : "easy");
        if (parts[i].mode >= 0) mode = parts[i].mode;
    }
    if (!rc && mode >= 0 && c->o->has_mode && mode != c->o->mode)
        rc = cb_fail(e, CB_EFORMAT, "level %d: --mode %s, but the recording (%s) says %s", seed,
                     c->o->mode ? "hard" : "easy", items[0].path, mode ? "hard" : "easy");
    if (mode < 0 && c->o->has_mode) mode = c->o->mode;
    ds_level lvl;
    memset(&lvl, 0, sizeof lvl);
    if (!rc) rc = n == 1 ? (lvl = parts[0], memset(&parts[0], 0, sizeof parts[0]), 0) : concat(&lvl, parts, n, seed, e);
    if (!rc) lvl.mode = (int8_t)mode;
    for (int i = 0; i < n; i++) ds_level_free(&parts[i]);
    free(parts);
    if (!rc) rc = ds_writer_add(c->w, &lvl, e);
    pthread_mutex_lock(&c->mu);
    if (!rc) {
        c->s->levels++;
        c->s->frames += lvl.n;
        c->s->episodes += ds_level_episodes(&lvl);
    }
    c->done++;
    if (c->o->progress) c->o->progress(c->o->ctx, c->done, c->ngroups);
    pthread_mutex_unlock(&c->mu);
    ds_level_free(&lvl);
    if (rc && c->o->skip_bad) {
        c->bad[g] = 1;
        return 0;
    }
    return rc;
}

void capture_summary_free(capture_summary *s) {
    for (int i = 0; i < s->nskipped; i++) free(s->skipped[i]);
    free(s->skipped);
    memset(s, 0, sizeof *s);
}

int capture_run(const char *const *inputs, int n, const char *out, const capture_opts *o, capture_summary *s,
                cb_err *e) {
    memset(s, 0, sizeof *s);
    if (n <= 0) return cb_fail(e, CB_EARG, "capture: no inputs");
    input_list l = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = add_path(&l, inputs[i], o, e);
    if (rc) {
        free(l.v);
        return rc;
    }
    /* filter by --levels, sort into a stable order, group by seed */
    int k = 0;
    for (int i = 0; i < l.n; i++)
        if (!o->has_range || (l.v[i].seed >= o->lo && l.v[i].seed <= o->hi)) l.v[k++] = l.v[i];
    l.n = k;
    if (l.n == 0) {
        free(l.v);
        return cb_fail(e, CB_ENOTFOUND, "capture: no recordings of levels %d-%d in the inputs", o->lo, o->hi);
    }
    qsort(l.v, (size_t)l.n, sizeof *l.v, by_level);
    for (int i = 1; i < l.n; i++)
        if (!strcmp(l.v[i].path, l.v[i - 1].path)) {
            rc = cb_fail(e, CB_EARG, "%s: given twice", l.v[i].path);
            free(l.v);
            return rc;
        }
    s->inputs = l.n;
    int *first = malloc(sizeof(int) * (size_t)(l.n + 1)), ng = 0;
    if (!first) {
        free(l.v);
        return cb_fail(e, CB_ENOMEM, "capture: out of memory");
    }
    for (int i = 0; i < l.n; i++)
        if (i == 0 || l.v[i].seed != l.v[i - 1].seed) first[ng++] = i;
    first[ng] = l.n;
    ds_writer *w;
    char source[512];
    snprintf(source, sizeof source, "coinbc capture of %d recording%s", l.n, l.n == 1 ? "" : "s");
    rc = ds_writer_open(&w, out, o->append, source, o->command, e);
    if (rc == CB_EEXIST && e) {
        size_t k = strlen(e->msg);
        snprintf(e->msg + k, sizeof e->msg - k, ", or add levels to it with --append");
    }
    if (rc) {
        free(first);
        free(l.v);
        return rc;
    }
    run_ctx c = {.in = &l, .first = first, .ngroups = ng, .w = w, .o = o, .s = s};
    c.errs = calloc((size_t)ng, sizeof *c.errs);
    c.bad = calloc((size_t)ng, sizeof *c.bad);
    if (!c.errs || !c.bad) rc = cb_fail(e, CB_ENOMEM, "capture: out of memory");
    pthread_mutex_init(&c.mu, NULL);
    if (!rc) rc = cb_parallel_for(ng, o->threads > 0 ? o->threads : cb_default_threads(), group_task, &c);
    if (rc) {
        for (int g = 0; g < ng; g++)
            if (c.errs[g].code) {
                *e = c.errs[g];
                break;
            }
        cb_err_prefix(e, "nothing was written: ");
        ds_writer_abort(w);
    } else {
        for (int g = 0; g < ng; g++)
            if (c.bad[g]) {
                char **ns = realloc(s->skipped, sizeof(char *) * (size_t)(s->nskipped + 1));
                char *msg = strdup(c.errs[g].msg);
                if (ns) s->skipped = ns;
                if (!ns || !msg) {
                    free(msg);
                    rc = cb_fail(e, CB_ENOMEM, "capture: out of memory");
                    break;
                }
                s->skipped[s->nskipped++] = msg;
            }
        if (rc) {
            ds_writer_abort(w);
        } else if (s->levels == 0) {
            ds_writer_abort(w);
            rc = cb_fail(e, CB_EFORMAT, "capture: every level was bad; nothing was written");
        } else {
            rc = ds_writer_commit(w, e);
        }
    }
    pthread_mutex_destroy(&c.mu);
    free(c.errs);
    free(c.bad);
    free(first);
    free(l.v);
    return rc;
}
