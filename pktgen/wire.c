/* wire.c - see wire.h. */
#include "wire.h"

#include <string.h>

#include "strutil.h"

static uint8_t *put_dec(uint8_t *p, uint64_t v)
{
    size_t n = u64_dec_len(v);
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

size_t pgw_command_len(int argc, const size_t *argvlen)
{
    size_t n = 1 + u64_dec_len((uint64_t)argc) + 2;
    for (int i = 0; i < argc; i++)
        n += 1 + u64_dec_len(argvlen[i]) + 2 + argvlen[i] + 2;
    return n;
}

size_t pgw_command(uint8_t *out, size_t cap, int argc, const char *const *argv,
                   const size_t *argvlen)
{
    HP_ASSERT(argc >= 1);
    size_t need = pgw_command_len(argc, argvlen);
    if (need > cap)
        return 0;
    uint8_t *p = out;
    *p++ = '*';
    p = put_dec(p, (uint64_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p = put_dec(p, argvlen[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], argvlen[i]);
        p += argvlen[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    HP_ASSERT((size_t)(p - out) == need);
    return need;
}

/* Finds the CRLF ending the line at buf[0..]; returns the line's length
 * without CRLF, -2 if incomplete, -1 if malformed or too long. */
static long line_end(const uint8_t *buf, size_t len)
{
    size_t lim = HP_MIN(len, (size_t)PGW_MAX_LINE + 2);
    for (size_t i = 0; i < lim; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == len)
                return -2;
            return buf[i + 1] == '\n' ? (long)i : -1;
        }
        if (buf[i] == '\n')
            return -1;
    }
    return len >= (size_t)PGW_MAX_LINE + 2 ? -1 : -2;
}

static bool parse_int(const uint8_t *p, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    bool neg = p[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* One non-array value; same return convention as pgw_reply_parse. */
static long parse_scalar(const uint8_t *buf, size_t len, struct pgw_reply *r)
{
    if (len < 1)
        return 0;
    long le = line_end(buf + 1, len - 1);
    if (le == -2)
        return 0;
    if (le < 0)
        return -1;
    const uint8_t *body = buf + 1;
    size_t hdr = 1 + (size_t)le + 2;
    switch (buf[0]) {
    case '+':
    case '-':
        r->type = (enum pgw_type)buf[0];
        r->str = (const char *)body;
        r->len = (size_t)le;
        return (long)hdr;
    case ':':
        r->type = PGW_INT;
        return parse_int(body, (size_t)le, &r->integer) ? (long)hdr : -1;
    case '$': {
        int64_t n;
        if (!parse_int(body, (size_t)le, &n) || n < -1 || n > (int64_t)PGW_MAX_BULK)
            return -1;
        if (n == -1) {
            r->type = PGW_NIL;
            return (long)hdr;
        }
        if (len < hdr + (size_t)n + 2)
            return 0;
        if (buf[hdr + (size_t)n] != '\r' || buf[hdr + (size_t)n + 1] != '\n')
            return -1;
        r->type = PGW_BULK;
        r->str = (const char *)buf + hdr;
        r->len = (size_t)n;
        return (long)(hdr + (size_t)n + 2);
    }
    default:
        return -1;
    }
}

long pgw_reply_parse(const uint8_t *buf, size_t len, struct pgw_reply *r,
                     struct pgw_reply *elems, uint32_t elems_cap)
{
    memset(r, 0, sizeof(*r));
    if (len < 1)
        return 0;
    if (buf[0] != '*')
        return parse_scalar(buf, len, r);
    long le = line_end(buf + 1, len - 1);
    if (le == -2)
        return 0;
    int64_t n;
    if (le < 0 || !parse_int(buf + 1, (size_t)le, &n) || n < -1 || n > PGW_MAX_ARRAY)
        return -1;
    size_t pos = 1 + (size_t)le + 2;
    if (n == -1) {
        r->type = PGW_NIL;
        return (long)pos;
    }
    if ((uint64_t)n > elems_cap)
        return -1;
    r->type = PGW_ARRAY;
    r->nelem = (uint32_t)n;
    for (int64_t i = 0; i < n; i++) {
        if (pos < len && buf[pos] == '*')
            return -1;      /* nesting: never a reply to our commands */
        long k = parse_scalar(buf + pos, len - pos, &elems[i]);
        if (k <= 0)
            return k;
        pos += (size_t)k;
    }
    return (long)pos;
}
