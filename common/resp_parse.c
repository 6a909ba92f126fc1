/*
 * resp_parse.c - the incremental request parser; see resp.h for the
 * contract.  Behaviour and error texts follow Redis 7.0 networking.c
 * (processMultibulkBuffer, processInlineBuffer, sdssplitargs).
 *
 * Resume state (struct resp_parser, private part):
 *   state           where we stopped (enum resp_state below)
 *   pos             offset, from the request's first byte, of the first byte
 *                   not yet accepted: the start of the line or payload being
 *                   waited for
 *   multibulk_left  bulk arguments still expected
 *   bulk_len        RS_BULK_DATA: the payload length being waited for.
 *                   While a line (count, bulk length, inline) is incomplete
 *                   it holds instead how far that line was already searched
 *                   for its terminator, so a line arriving byte by byte is
 *                   scanned once (the header has no separate field for it).
 *   argv[0..argc)   arguments so far.  Between calls the caller may move the
 *                   request's bytes, so while a multibulk request is
 *                   incomplete its slices hold offsets from the request start
 *                   (cast into the pointer) and are turned back into pointers
 *                   on the next call; a request parsed in one call never pays
 *                   for that.
 */
#include "resp.h"
#include "strutil.h"

#include <string.h>

enum resp_state {
    RS_START = 0,   /* nothing of this request seen */
    RS_MB_COUNT,    /* waiting for the "*<count>\r\n" line */
    RS_BULK_LEN,    /* waiting for a "$<len>\r\n" line */
    RS_BULK_DATA,   /* waiting for <bulk_len> payload bytes + CRLF */
    RS_INLINE,      /* waiting for an inline line's '\n' */
    RS_DONE,        /* returned OK; argv valid until the next call */
    RS_ERROR,       /* returned ERROR; stays there until reset */
};

#define RESP_ARGV_INIT 16
/* After a huge request, give memory back on the next reset. */
#define RESP_ARGV_KEEP 1024
#define RESP_INLINE_KEEP (4 * 1024)

static void resp_set_error(struct resp_parser *p, const char *msg)
{
    snprintf(p->err, sizeof(p->err), "%s", msg);
    p->state = RS_ERROR;
}

int resp_parser_init(struct resp_parser *p, int64_t max_bulk, int64_t max_argc)
{
    memset(p, 0, sizeof(*p));
    if (max_bulk < 0 || max_argc < 1)
        return -1;
    p->max_bulk = max_bulk;
    p->max_argc = HP_MIN(max_argc, (int64_t)INT32_MAX);
    p->argv_cap = (int)HP_MIN((int64_t)RESP_ARGV_INIT, p->max_argc);
    p->argv = malloc(sizeof(*p->argv) * (size_t)p->argv_cap);
    if (p->argv == NULL) {
        p->argv_cap = 0;
        return -1;
    }
    resp_parser_reset(p);
    return 0;
}

void resp_parser_free(struct resp_parser *p)
{
    free(p->argv);
    free(p->inline_buf);
    p->argv = NULL;
    p->argv_cap = 0;
    p->inline_buf = NULL;
    p->inline_cap = 0;
    p->argc = 0;
}

void resp_parser_reset(struct resp_parser *p)
{
    p->state = RS_START;
    p->pos = 0;
    p->argc = 0;
    p->multibulk_left = 0;
    p->bulk_len = 0;
    p->err[0] = '\0';
    if (HP_UNLIKELY(p->argv_cap > RESP_ARGV_KEEP)) {
        /* Failing to shrink is harmless: argv regrows on demand. */
        struct hp_slice *small = malloc(sizeof(*small) * RESP_ARGV_INIT);
        free(p->argv);
        p->argv = small;
        p->argv_cap = small ? RESP_ARGV_INIT : 0;
    }
    if (HP_UNLIKELY(p->inline_cap > RESP_INLINE_KEEP)) {
        free(p->inline_buf);
        p->inline_buf = NULL;
        p->inline_cap = 0;
    }
}

/* Makes room for one more argument; false (error set) if memory ran out. */
static bool resp_argv_room(struct resp_parser *p)
{
    if (HP_LIKELY(p->argc < p->argv_cap))
        return true;
    int64_t ncap = p->argv_cap ? (int64_t)p->argv_cap * 2 : RESP_ARGV_INIT;
    ncap = HP_MIN(ncap, p->max_argc);
    HP_ASSERT(ncap > p->argc);
    struct hp_slice *n = realloc(p->argv, sizeof(*n) * (size_t)ncap);
    if (n == NULL) {
        resp_set_error(p, "Protocol error: out of memory for request arguments");
        return false;
    }
    p->argv = n;
    p->argv_cap = (int)ncap;
    return true;
}

/* See the file comment: offsets while incomplete, pointers once complete. */
static void resp_argv_to_offsets(struct resp_parser *p, const uint8_t *buf)
{
    for (int i = 0; i < p->argc; i++)
        p->argv[i].ptr = (const uint8_t *)(uintptr_t)(p->argv[i].ptr - buf);
}

static void resp_argv_to_pointers(struct resp_parser *p, const uint8_t *buf)
{
    for (int i = 0; i < p->argc; i++)
        p->argv[i].ptr = buf + (size_t)(uintptr_t)p->argv[i].ptr;
}

/*
 * Fast path for a well-formed length line "<type><1..18 digits>\r?" at
 * buf[at], the overwhelmingly common case: no memchr and no second pass
 * over the digits.  Anything else (negative, leading zero, too long, no
 * CR yet, garbage) returns false and takes the general path, which applies
 * the exact Redis rules and errors.
 */
static inline bool resp_fast_len(const uint8_t *buf, size_t len, size_t at,
                                 int64_t *out, size_t *next)
{
    size_t i = at + 1;
    size_t end = HP_MIN(len, at + 1 + 18);
    uint64_t v = 0;
    while (i < end) {
        unsigned d = (unsigned)buf[i] - '0';
        if (d > 9)
            break;
        v = v * 10 + d;
        i++;
    }
    size_t ndigits = i - (at + 1);
    if (ndigits == 0 || i + 1 >= len || buf[i] != '\r')
        return false;
    if (ndigits > 1 && buf[at + 1] == '0')
        return false;
    *out = (int64_t)v;
    *next = i + 2;
    return true;
}

enum resp_line { LINE_NO_CR, LINE_CR_LAST, LINE_COMPLETE };

/*
 * General path: finds the CR ending the line that starts at `start`,
 * resuming the search where the previous call stopped (bulk_len, see the
 * file comment).  Like Redis the line ends at the first '\r' and the byte
 * after it is taken as its '\n' without being checked; that byte must have
 * arrived (LINE_CR_LAST: it has not, and Redis then skips the "too big"
 * test as well).
 */
static enum resp_line resp_find_cr(struct resp_parser *p, const uint8_t *buf, size_t len,
                                   size_t start, size_t *cr)
{
    size_t from = HP_MAX(start, (size_t)p->bulk_len);
    const uint8_t *q = from < len ? memchr(buf + from, '\r', len - from) : NULL;
    if (q == NULL) {
        p->bulk_len = (int64_t)HP_MAX(from, len);
        return LINE_NO_CR;
    }
    size_t k = (size_t)(q - buf);
    if (k + 1 >= len) {
        p->bulk_len = (int64_t)k; /* find it again once its LF arrived */
        return LINE_CR_LAST;
    }
    *cr = k;
    return LINE_COMPLETE;
}

/* Sets up waiting for the line that starts at p->pos. */
static void resp_expect_line(struct resp_parser *p, int state)
{
    p->state = state;
    p->bulk_len = (int64_t)p->pos;
}

/* "*<count>\r\n": on success p->multibulk_left is set and pos is past it. */
static enum resp_parse_status resp_parse_count(struct resp_parser *p, const uint8_t *buf,
                                               size_t len)
{
    int64_t count;
    size_t next;
    if (!resp_fast_len(buf, len, 0, &count, &next)) {
        size_t cr;
        enum resp_line line = resp_find_cr(p, buf, len, 0, &cr);
        if (line != LINE_COMPLETE) {
            if (line == LINE_NO_CR && len > RESP_INLINE_MAX) {
                resp_set_error(p, "Protocol error: too big mbulk count string");
                return RESP_PARSE_ERROR;
            }
            return RESP_PARSE_NEED_MORE;
        }
        if (str_to_i64(buf + 1, cr - 1, &count) != 0) {
            resp_set_error(p, "Protocol error: invalid multibulk length");
            return RESP_PARSE_ERROR;
        }
        next = cr + 2;
    }
    if (count > p->max_argc) {
        resp_set_error(p, "Protocol error: invalid multibulk length");
        return RESP_PARSE_ERROR;
    }
    p->pos = next;
    p->multibulk_left = count; /* <= 0: an empty request, as in Redis */
    return RESP_PARSE_OK;
}

/* "$<len>\r\n" at p->pos: on success bulk_len is set and pos is past it. */
static enum resp_parse_status resp_parse_bulk_len(struct resp_parser *p, const uint8_t *buf,
                                                  size_t len)
{
    size_t at = p->pos;
    int64_t blen;
    size_t next;
    if (at < len && buf[at] == '$' && resp_fast_len(buf, len, at, &blen, &next)) {
        if (HP_UNLIKELY(blen > p->max_bulk)) {
            resp_set_error(p, "Protocol error: invalid bulk length");
            return RESP_PARSE_ERROR;
        }
    } else {
        size_t cr;
        enum resp_line line = resp_find_cr(p, buf, len, at, &cr);
        if (line != LINE_COMPLETE) {
            if (line == LINE_NO_CR && len - at > RESP_INLINE_MAX) {
                resp_set_error(p, "Protocol error: too big bulk count string");
                return RESP_PARSE_ERROR;
            }
            return RESP_PARSE_NEED_MORE;
        }
        if (buf[at] != '$') {
            /* A CR/LF/NUL byte would break or cut the reply line. */
            char got = (char)buf[at];
            if (got == '\r' || got == '\n' || got == '\0')
                got = ' ';
            snprintf(p->err, sizeof(p->err), "Protocol error: expected '$', got '%c'", got);
            p->state = RS_ERROR;
            return RESP_PARSE_ERROR;
        }
        if (str_to_i64(buf + at + 1, cr - at - 1, &blen) != 0 || blen < 0 ||
            blen > p->max_bulk) {
            resp_set_error(p, "Protocol error: invalid bulk length");
            return RESP_PARSE_ERROR;
        }
        next = cr + 2;
    }
    p->pos = next;
    p->bulk_len = blen;
    p->state = RS_BULK_DATA;
    return RESP_PARSE_OK;
}

/* Parses bulk arguments until the request is complete or input runs out. */
static enum resp_parse_status resp_parse_bulks(struct resp_parser *p, const uint8_t *buf,
                                               size_t len)
{
    while (p->multibulk_left > 0) {
        if (p->state == RS_BULK_LEN) {
            enum resp_parse_status st = resp_parse_bulk_len(p, buf, len);
            if (st != RESP_PARSE_OK)
                return st;
        }
        HP_ASSERT(p->state == RS_BULK_DATA);
        /* Only the length matters while a payload arrives: O(1) per call
         * however many pieces a big value comes in.  Like Redis, the two
         * bytes after the payload are taken as its CRLF unchecked. */
        if (len - p->pos < (uint64_t)p->bulk_len + 2)
            return RESP_PARSE_NEED_MORE;
        if (!resp_argv_room(p))
            return RESP_PARSE_ERROR;
        p->argv[p->argc].ptr = buf + p->pos;
        p->argv[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        p->pos += (size_t)p->bulk_len + 2;
        p->multibulk_left--;
        resp_expect_line(p, RS_BULK_LEN);
    }
    return RESP_PARSE_OK;
}

static enum resp_parse_status resp_parse_multibulk(struct resp_parser *p, const uint8_t *buf,
                                                   size_t len, size_t *consumed)
{
    enum resp_parse_status st;
    if (p->state == RS_MB_COUNT) {
        st = resp_parse_count(p, buf, len);
        if (st != RESP_PARSE_OK)
            return st;
        if (p->multibulk_left <= 0) {
            *consumed = p->pos;
            resp_parser_reset(p);
            return RESP_PARSE_EMPTY;
        }
        resp_expect_line(p, RS_BULK_LEN);
    } else if (p->argc > 0) {
        resp_argv_to_pointers(p, buf);
    }
    st = resp_parse_bulks(p, buf, len);
    if (st == RESP_PARSE_NEED_MORE) {
        resp_argv_to_offsets(p, buf);
        return st;
    }
    if (st != RESP_PARSE_OK)
        return st;
    *consumed = p->pos;
    p->state = RS_DONE;
    return RESP_PARSE_OK;
}

/* ---- inline requests --------------------------------------------------------- */

/* C-locale isspace: the blanks sdssplitargs skips between arguments. */
static inline bool resp_is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline int resp_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint8_t resp_unescape(uint8_t c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/* A closing quote must end the argument: be last or followed by a blank. */
static inline bool resp_quote_closes(const uint8_t *s, size_t n, size_t i)
{
    return i + 1 >= n || resp_is_space(s[i + 1]);
}

/*
 * Reads one argument of s[0..n) starting at *ip (not a blank) into out,
 * sdssplitargs-style.  Returns the bytes written or -1 on unbalanced quotes.
 * Unescaping never lengthens the text, so out needs n bytes at most.
 */
static ptrdiff_t resp_inline_arg(const uint8_t *s, size_t n, size_t *ip, uint8_t *out)
{
    size_t i = *ip, o = 0;
    uint8_t quote = 0; /* 0, '"' or '\'' */
    for (;;) {
        if (quote == 0) {
            if (i >= n)
                break;
            uint8_t c = s[i++];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
                break;
            if (c == '"' || c == '\'')
                quote = c;
            else
                out[o++] = c;
            continue;
        }
        if (i >= n)
            return -1; /* unterminated quotes */
        uint8_t c = s[i];
        if (quote == '"' && c == '\\' && i + 3 < n && s[i + 1] == 'x' &&
            resp_hex_value(s[i + 2]) >= 0 && resp_hex_value(s[i + 3]) >= 0) {
            out[o++] = (uint8_t)(resp_hex_value(s[i + 2]) * 16 + resp_hex_value(s[i + 3]));
            i += 4;
        } else if (quote == '"' && c == '\\' && i + 1 < n) {
            out[o++] = resp_unescape(s[i + 1]);
            i += 2;
        } else if (quote == '\'' && c == '\\' && i + 1 < n && s[i + 1] == '\'') {
            out[o++] = '\'';
            i += 2;
        } else if (c == quote) {
            if (!resp_quote_closes(s, n, i))
                return -1;
            i++;
            break;
        } else {
            out[o++] = c;
            i++;
        }
    }
    *ip = i;
    return (ptrdiff_t)o;
}

static bool resp_inline_room(struct resp_parser *p, size_t n)
{
    if (p->inline_cap >= n)
        return true;
    size_t ncap = 256;
    while (ncap < n)
        ncap *= 2;
    uint8_t *nb = realloc(p->inline_buf, ncap);
    if (nb == NULL)
        return false;
    p->inline_buf = nb;
    p->inline_cap = ncap;
    return true;
}

/* Splits line s[0..n) into p->argv (pointing into p->inline_buf). */
static enum resp_parse_status resp_split_inline(struct resp_parser *p, const uint8_t *s,
                                                size_t n)
{
    if (!resp_inline_room(p, n)) {
        resp_set_error(p, "Protocol error: out of memory for request arguments");
        return RESP_PARSE_ERROR;
    }
    size_t i = 0, o = 0;
    p->argc = 0;
    for (;;) {
        while (i < n && resp_is_space(s[i]))
            i++;
        if (i >= n)
            break;
        ptrdiff_t alen = resp_inline_arg(s, n, &i, p->inline_buf + o);
        if (alen < 0) {
            resp_set_error(p, "Protocol error: unbalanced quotes in request");
            return RESP_PARSE_ERROR;
        }
        if (p->argc >= p->max_argc) {
            resp_set_error(p, "Protocol error: too many arguments in inline request");
            return RESP_PARSE_ERROR;
        }
        if (!resp_argv_room(p))
            return RESP_PARSE_ERROR;
        p->argv[p->argc].ptr = p->inline_buf + o;
        p->argv[p->argc].len = (size_t)alen;
        p->argc++;
        o += (size_t)alen;
    }
    return RESP_PARSE_OK;
}

static enum resp_parse_status resp_parse_inline(struct resp_parser *p, const uint8_t *buf,
                                                size_t len, size_t *consumed)
{
    size_t from = (size_t)p->bulk_len;
    const uint8_t *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    if (nl == NULL) {
        p->bulk_len = (int64_t)len;
        if (len > RESP_INLINE_MAX) {
            resp_set_error(p, "Protocol error: too big inline request");
            return RESP_PARSE_ERROR;
        }
        return RESP_PARSE_NEED_MORE;
    }
    size_t line_len = (size_t)(nl - buf);
    /* Redis only notices an over-long line while waiting for its newline, so
     * whether it accepts a 70 KiB line depends on read sizes; we bound the
     * line itself, which keeps inline_buf bounded and the outcome fixed. */
    if (line_len > RESP_INLINE_MAX) {
        resp_set_error(p, "Protocol error: too big inline request");
        return RESP_PARSE_ERROR;
    }
    size_t end = line_len;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    enum resp_parse_status st = resp_split_inline(p, buf, end);
    if (st != RESP_PARSE_OK)
        return st;
    *consumed = line_len + 1;
    if (p->argc == 0) {
        resp_parser_reset(p);
        return RESP_PARSE_EMPTY;
    }
    p->pos = line_len + 1;
    p->state = RS_DONE;
    return RESP_PARSE_OK;
}

enum resp_parse_status resp_parse(struct resp_parser *p, const uint8_t *buf, size_t len,
                                  size_t *consumed)
{
    *consumed = 0;
    if (p->state == RS_DONE)
        resp_parser_reset(p);
    if (HP_UNLIKELY(p->state == RS_ERROR))
        return RESP_PARSE_ERROR;
    /* The caller only ever appends to the request it is feeding us. */
    HP_ASSERT(len >= p->pos);
    if (p->state == RS_START) {
        if (len == 0)
            return RESP_PARSE_NEED_MORE;
        p->bulk_len = 0;
        p->state = buf[0] == '*' ? RS_MB_COUNT : RS_INLINE;
    }
    if (p->state == RS_INLINE)
        return resp_parse_inline(p, buf, len, consumed);
    return resp_parse_multibulk(p, buf, len, consumed);
}
