/* strutil.c - see strutil.h.  The rules follow Redis util.c (string2ll,
 * string2ld, string2d, stringmatchlen) so replies and errors match Redis. */
#include "strutil.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Redis MAX_LONG_DOUBLE_CHARS: longer inputs are not numbers we accept. */
#define STR_NUM_MAX_CHARS (5 * 1024)
/* Redis LONG_STR_SIZE: an int64 never needs 21 characters or more. */
#define STR_I64_MAX_CHARS 21
/* Redis' protection against abusive glob patterns (recursion depth). */
#define GLOB_MAX_NESTING 1000

int str_to_i64(const uint8_t *p, size_t len, int64_t *out)
{
    if (len == 0 || len >= STR_I64_MAX_CHARS)
        return -1;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    size_t i = 0;
    bool negative = false;
    if (p[0] == '-') {
        negative = true;
        i = 1;
        if (len == 1)
            return -1;
    }
    /* No leading zeros: this also rejects "-0", as Redis does. */
    if (p[i] < '1' || p[i] > '9')
        return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -1;
        /* Unsigned negate: well defined even for INT64_MIN's magnitude. */
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    return 0;
}

/* C-locale isspace, the test Redis applies to the first byte of a float. */
static bool str_is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* strtold/strtod need a NUL-terminated copy; the length limit bounds it.
 * Unlike Redis we require the parser to consume every byte, so an embedded
 * NUL ("1\0x") is rejected instead of silently truncating the input. */
static bool str_num_copy(const uint8_t *p, size_t len, char *buf)
{
    if (len == 0 || len >= STR_NUM_MAX_CHARS || str_is_space(p[0]))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return true;
}

int str_to_long_double(const uint8_t *p, size_t len, long double *out)
{
    char buf[STR_NUM_MAX_CHARS];
    if (!str_num_copy(p, len, buf))
        return -1;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + len || isnan(v))
        return -1;
    /* Overflow, or underflow all the way to zero: not the number typed. */
    if (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO))
        return -1;
    if (errno == EINVAL)
        return -1;
    *out = v;
    return 0;
}

int str_to_double(const uint8_t *p, size_t len, double *out)
{
    char buf[STR_NUM_MAX_CHARS];
    if (!str_num_copy(p, len, buf))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len || isnan(v))
        return -1;
    if (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO))
        return -1;
    *out = v;
    return 0;
}

/* "00".."99": two digits per division halves the divisions on the reply
 * hot path (integers and bulk lengths). */
static const char str_digit_pairs[201] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    if (v >= 1000)
        return n + 3;
    if (v >= 100)
        return n + 2;
    if (v >= 10)
        return n + 1;
    return n;
}

size_t u64_dec_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

size_t i64_to_str(char *buf, int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t neg = v < 0 ? 1 : 0;
    size_t n = u64_digits(u) + neg;
    char *p = buf + n;
    while (u >= 100) {
        unsigned pair = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = str_digit_pairs[pair + 1];
        *--p = str_digit_pairs[pair];
    }
    if (u >= 10) {
        unsigned pair = (unsigned)u * 2;
        *--p = str_digit_pairs[pair + 1];
        *--p = str_digit_pairs[pair];
    } else {
        *--p = (char)('0' + u);
    }
    if (neg)
        *--p = '-';
    HP_ASSERT(p == buf);
    buf[n] = '\0';
    return n;
}

static uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

static bool glob_byte_eq(uint8_t a, uint8_t b, bool nocase)
{
    return nocase ? ascii_lower(a) == ascii_lower(b) : a == b;
}

/*
 * Matches one "[...]" class against c.  On entry *pat points at '['; on
 * return it points at the class' last byte (its ']'), so the caller's
 * one-byte advance moves past the class.  An unterminated class ends at the
 * pattern's end, as in Redis.
 */
static bool glob_class(const uint8_t **patp, size_t *plenp, uint8_t c, bool nocase)
{
    const uint8_t *pat = *patp + 1;
    size_t plen = *plenp - 1;
    bool negate = plen > 0 && pat[0] == '^';
    if (negate) {
        pat++;
        plen--;
    }
    bool match = false;
    for (;;) {
        if (plen == 0) {
            pat--; /* leave the caller's advance at the end of the pattern */
            plen++;
            break;
        }
        if (pat[0] == '\\' && plen >= 2) {
            pat++;
            plen--;
            if (pat[0] == c) /* Redis compares escaped bytes exactly */
                match = true;
        } else if (pat[0] == ']') {
            break;
        } else if (plen >= 3 && pat[1] == '-') {
            uint8_t lo = pat[0], hi = pat[2], x = c;
            if (lo > hi) {
                uint8_t t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                lo = ascii_lower(lo);
                hi = ascii_lower(hi);
                x = ascii_lower(x);
            }
            if (x >= lo && x <= hi)
                match = true;
            pat += 2;
            plen -= 2;
        } else if (glob_byte_eq(pat[0], c, nocase)) {
            match = true;
        }
        pat++;
        plen--;
    }
    *patp = pat;
    *plenp = plen;
    return negate ? !match : match;
}

struct glob_state {
    bool nocase;
    /* Set when the rest of the pattern after some '*' matched nowhere in the
     * remaining string: then no earlier '*' can help by eating more bytes
     * either, which cuts patterns like "*a*a*a*b" from exponential to
     * polynomial time (Redis' skipLongerMatches). */
    bool give_up;
};

static bool glob_rec(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen,
                     struct glob_state *g, int nesting)
{
    if (nesting > GLOB_MAX_NESTING)
        return false;
    while (plen > 0 && slen > 0) {
        switch (pat[0]) {
        case '*':
            while (plen >= 2 && pat[1] == '*') {
                pat++;
                plen--;
            }
            if (plen == 1)
                return true;
            for (; slen > 0; s++, slen--) {
                if (glob_rec(pat + 1, plen - 1, s, slen, g, nesting + 1))
                    return true;
                if (g->give_up)
                    return false;
            }
            g->give_up = true;
            return false;
        case '?':
            break;
        case '[':
            if (!glob_class(&pat, &plen, s[0], g->nocase))
                return false;
            break;
        case '\\':
            if (plen >= 2) {
                pat++;
                plen--;
            }
            /* fall through */
        default:
            if (!glob_byte_eq(pat[0], s[0], g->nocase))
                return false;
            break;
        }
        pat++;
        plen--;
        s++;
        slen--;
        if (slen == 0) {
            while (plen > 0 && pat[0] == '*') {
                pat++;
                plen--;
            }
            break;
        }
    }
    /* Like Redis, an empty string matches only the empty pattern ("*" does
     * not match ""): KEYS/SCAN special-case the all-keys pattern "*". */
    return plen == 0 && slen == 0;
}

bool glob_match(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen, bool nocase)
{
    struct glob_state g = {nocase, false};
    return glob_rec(pat, plen, s, slen, &g, 0);
}

bool slice_eq_nocase(struct hp_slice s, const char *word)
{
    size_t n = strlen(word);
    if (n != s.len)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower(s.ptr[i]) != ascii_lower((uint8_t)word[i]))
            return false;
    }
    return true;
}

bool str_to_scan_cursor(struct hp_slice s, uint64_t *out)
{
    const uint8_t *nul = s.len > 0 ? memchr(s.ptr, 0, s.len) : NULL;
    size_t len = nul != NULL ? (size_t)(nul - s.ptr) : s.len;
    if (len == 0) {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = s.ptr[0] == '-';
    if (s.ptr[0] == '+' || s.ptr[0] == '-')
        i = 1;
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        uint8_t c = s.ptr[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false; /* ERANGE */
        v = v * 10 + d;
    }
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}
