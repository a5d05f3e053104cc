/* zip.c - reading and writing zip files as numpy's savez / savez_compressed
 * make them (PKWARE APPNOTE: central directory, zip64 extra fields). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "capture/zip.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The end of central directory record: in the last 22 bytes and up to
 * 64 KiB of comment before them, the last one found; (size_t)-1 if none.
 * n is at least 22. */
static size_t find_eocd(const uint8_t *buf, size_t n) {
    size_t stop = n > 22 + 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > stop;)
        if (le32(buf + i) == 0x06054b50) return i;
    return (size_t)-1;
}

/* The central directory's member count and offset: from the end record at
 * eocd, or from the zip64 end record when a zip64 locator precedes it; the
 * directory must lie in the file and hold at most 16 members. */
static int read_cd_bounds(const capture_zip *z, size_t eocd, uint64_t *count, uint64_t *cd_off, cb_err *e) {
    const uint8_t *buf = z->buf;
    size_t n = z->n;
    uint64_t cd_size = le32(buf + eocd + 12);
    *count = le16(buf + eocd + 10);
    *cd_off = le32(buf + eocd + 16);
    if (eocd >= 20 && le32(buf + eocd - 20) == 0x07064b50) { /* zip64 locator */
        uint64_t z64 = le64(buf + eocd - 20 + 8);
        if (z64 > n || n - z64 < 56 || le32(buf + z64) != 0x06064b50)
            return cb_fail(e, CB_EFORMAT, "%s: bad zip64 end of central directory", z->path);
        *count = le64(buf + z64 + 32);
        cd_size = le64(buf + z64 + 40);
        *cd_off = le64(buf + z64 + 48);
    }
    if (*cd_off > n || cd_size > n - *cd_off)
        return cb_fail(e, CB_EFORMAT, "%s: central directory out of the file (truncated?)", z->path);
    if (*count > 16)
        return cb_fail(e, CB_EFORMAT, "%s: %llu members; an episode file has at most 16", z->path,
                       (unsigned long long)*count);
    return 0;
}

/* zip64 extra fields in [x, xe): only the fields that are 0xFFFFFFFF in the
 * record, in order, replace m's sizes and *loff */
static void apply_zip64_extra(capture_zip_member *m, uint64_t *loff, const uint8_t *x, const uint8_t *xe) {
    while (x + 4 <= xe) {
        uint16_t id = le16(x), sz = le16(x + 2);
        if (x + 4 + sz > xe) break;
        if (id == 0x0001) {
            const uint8_t *q = x + 4, *qe = q + sz;
            if (m->usize == 0xFFFFFFFFu && q + 8 <= qe) m->usize = le64(q), q += 8;
            if (m->csize == 0xFFFFFFFFu && q + 8 <= qe) m->csize = le64(q), q += 8;
            if (*loff == 0xFFFFFFFFu && q + 8 <= qe) *loff = le64(q), q += 8;
        }
        x += 4 + sz;
    }
}

/* The central directory record at p into m: method, CRC, sizes, name and
 * zip64 extra; *nl the name's length, *loff the local header's offset,
 * *len the record's length */
static int read_cd_record(const capture_zip *z, size_t p, capture_zip_member *m, size_t *nl, uint64_t *loff,
                          size_t *len, cb_err *e) {
    const uint8_t *buf = z->buf;
    size_t n = z->n;
    if (p + 46 > n || le32(buf + p) != 0x02014b50) return cb_fail(e, CB_EFORMAT, "%s: damaged central directory", z->path);
    m->method = le16(buf + p + 10);
    m->crc = le32(buf + p + 16);
    m->csize = le32(buf + p + 20);
    m->usize = le32(buf + p + 24);
    size_t xl = le16(buf + p + 30), cl = le16(buf + p + 32);
    *nl = le16(buf + p + 28);
    *loff = le32(buf + p + 42);
    if (p + 46 + *nl + xl + cl > n) return cb_fail(e, CB_EFORMAT, "%s: damaged central directory", z->path);
    if (*nl >= sizeof m->name) return cb_fail(e, CB_EFORMAT, "%s: member name too long", z->path);
    memcpy(m->name, buf + p + 46, *nl);
    m->name[*nl] = 0;
    apply_zip64_extra(m, loff, buf + p + 46 + *nl, buf + p + 46 + *nl + xl);
    *len = 46 + *nl + xl + cl;
    return 0;
}

/* m's local header at loff: in the file, and naming the member exactly as
 * the central directory's name (cname, nl bytes, no NUL among them) does */
static int check_local_header(const capture_zip *z, const capture_zip_member *m, const uint8_t *cname, size_t nl,
                              uint64_t loff, cb_err *e) {
    const uint8_t *buf = z->buf;
    size_t n = z->n;
    if (loff > n || n - loff < 30 || le32(buf + loff) != 0x04034b50)
        return cb_fail(e, CB_EFORMAT, "%s: member %s: bad local header (truncated?)", z->path, m->name);
    if (memchr(cname, 0, nl)) return cb_fail(e, CB_EFORMAT, "%s: member %s: a NUL byte in its name", z->path, m->name);
    size_t lnl = le16(buf + loff + 26);
    if (lnl != nl || n - loff - 30 < lnl || memcmp(buf + loff + 30, m->name, nl) != 0)
        return cb_fail(e, CB_EFORMAT,
                       "%s: member %s: its local header names it '%.*s' (a zip whose two names differ reads "
                       "differently in other tools)",
                       z->path, m->name, (int)(lnl < 64 && n - loff - 30 >= lnl ? lnl : 0), (const char *)buf + loff + 30);
    return 0;
}

/* m (the next member, its local header at loff checked) among the members
 * before it: a name of its own, its data in the file, under 4 GiB, stored
 * or deflated; sets its data_off */
static int place_member(const capture_zip *z, capture_zip_member *m, uint64_t loff, cb_err *e) {
    const uint8_t *buf = z->buf;
    size_t n = z->n;
    for (int j = 0; j < z->nmem; j++)
        if (!strcmp(z->mem[j].name, m->name))
            return cb_fail(e, CB_EFORMAT,
                           "%s: member %s appears twice (numpy would read the last, a first-match reader the "
                           "first: refused)",
                           z->path, m->name);
    m->data_off = loff + 30 + le16(buf + loff + 26) + le16(buf + loff + 28);
    if (m->data_off > n || m->csize > n - m->data_off)
        return cb_fail(e, CB_EFORMAT, "%s: member %s runs past the end of the file (truncated)", z->path, m->name);
    if (m->usize >= ((uint64_t)1 << 32) || m->csize >= ((uint64_t)1 << 32))
        return cb_fail(e, CB_EFORMAT, "%s: member %s is 4 GiB or more; an episode file holds far less", z->path, m->name);
    if (m->method != 0 && m->method != 8)
        return cb_fail(e, CB_EFORMAT, "%s: member %s uses zip method %d (only stored and deflate)", z->path, m->name,
                       m->method);
    return 0;
}

int capture_zip_open(capture_zip *z, const uint8_t *buf, size_t n, const char *path, cb_err *e) {
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->n = n;
    z->path = path;
    if (n < 22) return cb_fail(e, CB_EFORMAT, "%s: not a zip/npz file (too short; truncated?)", path);
    size_t eocd = find_eocd(buf, n);
    if (eocd == (size_t)-1) {
        if (n >= 4 && le32(buf) == 0x04034b50)
            return cb_fail(e, CB_EFORMAT, "%s: zip file is truncated (no central directory)", path);
        return cb_fail(e, CB_EFORMAT, "%s: not a zip/npz file", path);
    }
    uint64_t count, cd_off;
    int rc = read_cd_bounds(z, eocd, &count, &cd_off, e);
    if (rc) return rc;
    size_t p = (size_t)cd_off;
    for (uint64_t k = 0; k < count; k++) {
        capture_zip_member *m = &z->mem[z->nmem];
        size_t nl = 0, len = 0;
        uint64_t loff = 0;
        if ((rc = read_cd_record(z, p, m, &nl, &loff, &len, e)) ||
            (rc = check_local_header(z, m, buf + p + 46, nl, loff, e)) || (rc = place_member(z, m, loff, e)))
            return rc;
        z->nmem++;
        p += len;
    }
    return 0;
}

const capture_zip_member *capture_zip_find(const capture_zip *z, const char *name) {
    for (int i = 0; i < z->nmem; i++)
        if (!strcmp(z->mem[i].name, name)) return &z->mem[i];
    return NULL;
}

/* A member's sizes before anything is allocated: within `limit`, a deflate
 * claim within deflate's 1032:1 (a larger one is a bomb or damage), a stored
 * member's sizes equal. */
static int check_sizes(const capture_zip *z, const capture_zip_member *m, uint64_t limit, cb_err *e) {
    if (m->usize > limit)
        return cb_fail(e, CB_EFORMAT, "%s: member %s declares %llu bytes, more than its array can hold (%llu)", z->path,
                       m->name, (unsigned long long)m->usize, (unsigned long long)limit);
    if (m->method == 8 && m->usize / 1032 > m->csize)
        return cb_fail(e, CB_EFORMAT, "%s: member %s claims %llu bytes from %llu compressed (zip bomb?)", z->path, m->name,
                       (unsigned long long)m->usize, (unsigned long long)m->csize);
    if (m->method == 0 && m->csize != m->usize)
        return cb_fail(e, CB_EFORMAT, "%s: stored member %s has mismatched sizes", z->path, m->name);
    return 0;
}

int capture_zip_extract(const capture_zip *z, const capture_zip_member *m, uint64_t limit, uint8_t **out, size_t *outn,
                        cb_err *e) {
    *out = NULL;
    *outn = 0;
    int rc = check_sizes(z, m, limit, e);
    if (rc) return rc;
    uint8_t *buf = malloc(m->usize ? m->usize : 1);
    if (!buf) return cb_fail(e, CB_ENOMEM, "%s: out of memory for member %s", z->path, m->name);
    const uint8_t *src = z->buf + m->data_off;
    if (m->method == 0) {
        memcpy(buf, src, m->usize);
    } else {
        z_stream s;
        memset(&s, 0, sizeof s);
        s.zalloc = cb_zalloc;
        s.zfree = cb_zfree;
        if (inflateInit2(&s, -15) != Z_OK) {
            free(buf);
            return cb_fail(e, CB_ENOMEM, "%s: zlib init failed", z->path);
        }
        s.next_in = (Bytef *)src;
        s.avail_in = (uInt)m->csize;
        s.next_out = buf;
        s.avail_out = (uInt)m->usize;
        int zr = inflate(&s, Z_FINISH);
        uint8_t extra;
        int more = 0;
        if (zr == Z_BUF_ERROR || zr == Z_OK) { /* output full: does the stream want to go on? */
            s.next_out = &extra;
            s.avail_out = 1;
            more = inflate(&s, Z_FINISH) != Z_STREAM_END || s.avail_out == 0;
        }
        uint64_t got = s.total_out;
        inflateEnd(&s);
        if (zr == Z_MEM_ERROR) {
            free(buf);
            return cb_fail(e, CB_ENOMEM, "%s: member %s: out of memory in zlib", z->path, m->name);
        }
        if (zr != Z_STREAM_END && (more || got != m->usize)) {
            free(buf);
            if (got >= m->usize)
                return cb_fail(e, CB_EFORMAT, "%s: member %s inflates to more than its declared %llu bytes (zip bomb?)",
                               z->path, m->name, (unsigned long long)m->usize);
            return cb_fail(e, CB_EFORMAT, "%s: member %s is damaged or truncated (inflated %llu of %llu bytes)", z->path,
                           m->name, (unsigned long long)got, (unsigned long long)m->usize);
        }
        if (got != m->usize) {
            free(buf);
            return cb_fail(e, CB_EFORMAT, "%s: member %s inflated to %llu bytes, declared %llu", z->path, m->name,
                           (unsigned long long)got, (unsigned long long)m->usize);
        }
    }
    if ((uint32_t)crc32_z(0, buf, (size_t)m->usize) != m->crc) {
        free(buf);
        return cb_fail(e, CB_ECRC, "%s: member %s fails its CRC32 (damaged)", z->path, m->name);
    }
    *out = buf;
    *outn = (size_t)m->usize;
    return 0;
}

int capture_zip_reader_open(capture_zip_reader *r, const capture_zip *z, const capture_zip_member *m, uint64_t limit,
                            cb_err *e) {
    memset(r, 0, sizeof *r);
    r->z = z;
    r->m = m;
    int rc = check_sizes(z, m, limit, e);
    if (rc) return rc;
    if (m->method == 8) {
        r->s.zalloc = cb_zalloc;
        r->s.zfree = cb_zfree;
        if (inflateInit2(&r->s, -15) != Z_OK) return cb_fail(e, CB_ENOMEM, "%s: zlib init failed", z->path);
        r->zinit = 1;
        r->s.next_in = (Bytef *)(z->buf + m->data_off);
        r->s.avail_in = (uInt)m->csize;
    }
    return 0;
}

int capture_zip_reader_read(capture_zip_reader *r, uint8_t *out, size_t n, cb_err *e) {
    const capture_zip_member *m = r->m;
    if (n > m->usize - r->done)
        return cb_fail(e, CB_EFORMAT, "%s: member %s is shorter than its array needs", r->z->path, m->name);
    if (m->method == 0) {
        memcpy(out, r->z->buf + m->data_off + r->done, n);
    } else {
        r->s.next_out = out;
        r->s.avail_out = (uInt)n;
        while (r->s.avail_out) {
            int zr = inflate(&r->s, Z_NO_FLUSH);
            if (zr == Z_MEM_ERROR) return cb_fail(e, CB_ENOMEM, "%s: member %s: out of memory in zlib", r->z->path, m->name);
            if (zr == Z_STREAM_END && r->s.avail_out) break;
            if (zr != Z_OK && zr != Z_STREAM_END) break;
            if (zr == Z_OK && r->s.avail_in == 0 && r->s.avail_out) break;
        }
        if (r->s.avail_out)
            return cb_fail(e, CB_EFORMAT, "%s: member %s is damaged or truncated (inflated %llu of %llu bytes)", r->z->path,
                           m->name, (unsigned long long)(r->done + n - r->s.avail_out), (unsigned long long)m->usize);
    }
    r->crc = (uint32_t)crc32_z(r->crc, out, n);
    r->done += n;
    return 0;
}

int capture_zip_reader_close(capture_zip_reader *r, int check, cb_err *e) {
    int rc = 0;
    const capture_zip_member *m = r->m;
    if (check && r->done != m->usize)
        rc = cb_fail(e, CB_EFORMAT, "%s: member %s holds %llu bytes, its array %llu", r->z->path, m->name,
                     (unsigned long long)m->usize, (unsigned long long)r->done);
    if (!rc && check && r->zinit) { /* the stream must end exactly here */
        uint8_t extra;
        r->s.next_out = &extra;
        r->s.avail_out = 1;
        int zr = inflate(&r->s, Z_FINISH);
        if (zr == Z_MEM_ERROR)
            rc = cb_fail(e, CB_ENOMEM, "%s: member %s: out of memory in zlib", r->z->path, m->name);
        else if (r->s.avail_out == 0 || zr == Z_OK)
            rc = cb_fail(e, CB_EFORMAT, "%s: member %s inflates to more than its declared %llu bytes (zip bomb?)", r->z->path,
                         m->name, (unsigned long long)m->usize);
        else if (zr != Z_STREAM_END)
            rc = cb_fail(e, CB_EFORMAT, "%s: member %s is damaged or truncated", r->z->path, m->name);
    }
    if (!rc && check && r->crc != m->crc)
        rc = cb_fail(e, CB_ECRC, "%s: member %s fails its CRC32 (damaged)", r->z->path, m->name);
    if (r->zinit) inflateEnd(&r->s);
    r->zinit = 0;
    return rc;
}

int capture_zip_peek(const capture_zip *z, const capture_zip_member *m, uint8_t *out, size_t want, size_t *got,
                     cb_err *e) {
    const uint8_t *src = z->buf + m->data_off;
    if (m->method == 0) {
        *got = want < m->csize ? want : (size_t)m->csize;
        memcpy(out, src, *got);
        return 0;
    }
    z_stream s;
    memset(&s, 0, sizeof s);
    s.zalloc = cb_zalloc;
    s.zfree = cb_zfree;
    if (inflateInit2(&s, -15) != Z_OK) return cb_fail(e, CB_ENOMEM, "%s: zlib init failed", z->path);
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)m->csize;
    s.next_out = out;
    s.avail_out = (uInt)want;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    *got = want - s.avail_out;
    inflateEnd(&s);
    if (zr == Z_MEM_ERROR) return cb_fail(e, CB_ENOMEM, "%s: member %s: out of memory in zlib", z->path, m->name);
    if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
        return cb_fail(e, CB_EFORMAT, "%s: member %s is not a valid deflate stream", z->path, m->name);
    return 0;
}

static void w16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void w32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void capture_zip_writer_init(capture_zip_writer *w, FILE *fp) {
    memset(w, 0, sizeof *w);
    w->fp = fp;
}

int capture_zip_writer_add(capture_zip_writer *w, const char *name, const uint8_t *data, size_t n) {
    if (w->n >= 16 || n > 0xFFFFFFF0u) return CB_ERANGE;
    size_t nl = strlen(name);
    uint8_t h[30];
    uint32_t crc = (uint32_t)crc32_z(0, data, n);
    memset(h, 0, sizeof h);
    w32(h, 0x04034b50);
    w16(h + 4, 20);
    w32(h + 14, crc);
    w32(h + 18, (uint32_t)n);
    w32(h + 22, (uint32_t)n);
    w16(h + 26, (uint16_t)nl);
    if (fwrite(h, 1, 30, w->fp) != 30 || fwrite(name, 1, nl, w->fp) != nl || (n && fwrite(data, 1, n, w->fp) != n))
        return CB_EIO;
    snprintf(w->ent[w->n].name, sizeof w->ent[w->n].name, "%s", name);
    w->ent[w->n].crc = crc;
    w->ent[w->n].size = n;
    w->ent[w->n].off = w->off;
    w->n++;
    w->off += 30 + nl + n;
    return 0;
}

int capture_zip_writer_finish(capture_zip_writer *w) {
    uint64_t cd = w->off, cdn = 0;
    for (int i = 0; i < w->n; i++) {
        size_t nl = strlen(w->ent[i].name);
        uint8_t h[46];
        memset(h, 0, sizeof h);
        w32(h, 0x02014b50);
        w16(h + 4, 20);
        w16(h + 6, 20);
        w32(h + 16, w->ent[i].crc);
        w32(h + 20, (uint32_t)w->ent[i].size);
        w32(h + 24, (uint32_t)w->ent[i].size);
        w16(h + 28, (uint16_t)nl);
        w32(h + 42, (uint32_t)w->ent[i].off);
        if (fwrite(h, 1, 46, w->fp) != 46 || fwrite(w->ent[i].name, 1, nl, w->fp) != nl) return CB_EIO;
        cdn += 46 + nl;
    }
    uint8_t eo[22];
    memset(eo, 0, sizeof eo);
    w32(eo, 0x06054b50);
    w16(eo + 8, (uint16_t)w->n);
    w16(eo + 10, (uint16_t)w->n);
    w32(eo + 12, (uint32_t)cdn);
    w32(eo + 16, (uint32_t)cd);
    return fwrite(eo, 1, 22, w->fp) == 22 ? 0 : CB_EIO;
}
