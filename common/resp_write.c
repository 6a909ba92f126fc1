/* resp_write.c - RESP2/RESP3 reply writers; see resp.h. */
#include "resp.h"
#include "strutil.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Room for an int64's digits plus i64_to_str's NUL. */
#define RESP_DIGITS_MAX 24

static void resp_put_crlf(uint8_t *p)
{
    p[0] = '\r';
    p[1] = '\n';
}

/* "<type><v>\r\n" with digits written by hand: no snprintf on the integer
 * hot path.  The reservation is exact, so a reply that fits the limit is
 * never refused because of slack. */
static void resp_add_header(struct rbuf *b, char type, int64_t v)
{
    char digits[RESP_DIGITS_MAX];
    size_t n = i64_to_str(digits, v);
    uint8_t *p = rbuf_reserve(b, n + 3);
    if (p == NULL)
        return;
    p[0] = (uint8_t)type;
    memcpy(p + 1, digits, n);
    resp_put_crlf(p + 1 + n);
    rbuf_commit(b, n + 3);
}

/* "<type><len>\r\n<prefix><data>\r\n": bulk and verbatim strings. */
static void resp_add_blob(struct rbuf *b, char type, const char *prefix, size_t plen,
                          const void *data, size_t len)
{
    if (len > SIZE_MAX / 2) { /* cannot fit any limit; avoid size wrap */
        b->overflow = true;
        return;
    }
    char digits[RESP_DIGITS_MAX];
    size_t nd = i64_to_str(digits, (int64_t)(plen + len));
    size_t total = 1 + nd + 2 + plen + len + 2;
    uint8_t *p = rbuf_reserve(b, total);
    if (p == NULL)
        return;
    p[0] = (uint8_t)type;
    memcpy(p + 1, digits, nd);
    size_t n = 1 + nd;
    resp_put_crlf(p + n);
    n += 2;
    if (plen > 0)
        memcpy(p + n, prefix, plen);
    n += plen;
    if (len > 0)
        memcpy(p + n, data, len);
    n += len;
    resp_put_crlf(p + n);
    rbuf_commit(b, total);
}

static void resp_add_raw(struct rbuf *b, const char *s, size_t n)
{
    rbuf_append(b, s, n);
}

/* A status or error line must never contain CR or LF, or the client would
 * read the rest as another reply; Redis maps them to spaces as well. */
static void resp_add_line(struct rbuf *b, char type, const char *s, size_t len)
{
    if (len > SIZE_MAX - 3) {
        b->overflow = true;
        return;
    }
    uint8_t *p = rbuf_reserve(b, len + 3);
    if (p == NULL)
        return;
    p[0] = (uint8_t)type;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        p[1 + i] = (uint8_t)((c == '\r' || c == '\n') ? ' ' : c);
    }
    resp_put_crlf(p + 1 + len);
    rbuf_commit(b, len + 3);
}

void resp_add_simple(struct rbuf *b, const char *s)
{
    resp_add_line(b, '+', s, strlen(s));
}

void resp_add_error(struct rbuf *b, const char *msg)
{
    resp_add_line(b, '-', msg, strlen(msg));
}

void resp_add_errorf(struct rbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        resp_add_error(b, "ERR error message could not be formatted");
        return;
    }
    if ((size_t)n < sizeof(small)) {
        va_end(ap2);
        resp_add_line(b, '-', small, (size_t)n);
        return;
    }
    /* Rare long message: format it on the heap.  A failed allocation is a
     * failed reply allocation, i.e. overflow (see rbuf.h). */
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        va_end(ap2);
        b->overflow = true;
        return;
    }
    int n2 = vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    HP_ASSERT(n2 == n);
    resp_add_line(b, '-', big, (size_t)n);
    free(big);
}

void resp_add_int(struct rbuf *b, int64_t v)
{
    resp_add_header(b, ':', v);
}

void resp_add_bulk(struct rbuf *b, const void *data, size_t len)
{
    resp_add_blob(b, '$', NULL, 0, data, len);
}

void resp_add_bulk_cstr(struct rbuf *b, const char *s)
{
    resp_add_bulk(b, s, strlen(s));
}

void resp_add_bulk_int(struct rbuf *b, int64_t v)
{
    char digits[24];
    size_t n = i64_to_str(digits, v);
    resp_add_bulk(b, digits, n);
}

void resp_add_null(struct rbuf *b, int proto)
{
    if (proto >= 3)
        resp_add_raw(b, "_\r\n", 3);
    else
        resp_add_raw(b, "$-1\r\n", 5);
}

void resp_add_null_array(struct rbuf *b, int proto)
{
    if (proto >= 3)
        resp_add_raw(b, "_\r\n", 3);
    else
        resp_add_raw(b, "*-1\r\n", 5);
}

void resp_add_array(struct rbuf *b, size_t n)
{
    resp_add_header(b, '*', (int64_t)n);
}

void resp_add_map(struct rbuf *b, int proto, size_t pairs)
{
    if (proto >= 3)
        resp_add_header(b, '%', (int64_t)pairs);
    else
        resp_add_header(b, '*', (int64_t)(pairs * 2));
}

void resp_add_set(struct rbuf *b, int proto, size_t n)
{
    resp_add_header(b, proto >= 3 ? '~' : '*', (int64_t)n);
}

void resp_add_double(struct rbuf *b, int proto, long double v)
{
    /* Redis 7.0 addReplyDouble: a C double printed with %.17g; inf and nan
     * spelled explicitly so every libc prints the same. */
    double d = (double)v;
    char buf[64];
    int n;
    if (isnan(d))
        n = snprintf(buf, sizeof(buf), "nan");
    else if (isinf(d))
        n = snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, sizeof(buf), "%.17g", d);
    HP_ASSERT(n > 0 && (size_t)n < sizeof(buf));
    if (proto >= 3) {
        uint8_t *p = rbuf_reserve(b, (size_t)n + 3);
        if (p == NULL)
            return;
        p[0] = ',';
        memcpy(p + 1, buf, (size_t)n);
        resp_put_crlf(p + 1 + n);
        rbuf_commit(b, (size_t)n + 3);
    } else {
        resp_add_bulk(b, buf, (size_t)n);
    }
}

void resp_add_bool(struct rbuf *b, int proto, bool v)
{
    if (proto >= 3)
        resp_add_raw(b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        resp_add_raw(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_add_verbatim(struct rbuf *b, int proto, const char *s, size_t len)
{
    if (proto < 3) {
        resp_add_bulk(b, s, len);
        return;
    }
    resp_add_blob(b, '=', "txt:", 4, s, len);
}

size_t resp_format_long_double(char *buf, size_t cap, long double v)
{
    if (cap == 0)
        return 0;
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t n = strlen(s);
        if (n + 1 > cap) {
            buf[0] = '\0';
            return 0;
        }
        memcpy(buf, s, n + 1);
        return n;
    }
    /* Redis ld2string(LD_STR_HUMAN): 17 fractional digits are enough for
     * the 80-bit long double to print most decimals the user typed exactly
     * once trailing zeros are trimmed ("0.1", not "0.10000000000000001"). */
    int r = snprintf(buf, cap, "%.17Lf", v);
    if (r < 0 || (size_t)r + 1 > cap) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = (size_t)r;
    if (memchr(buf, '.', n) != NULL) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return n;
}
