/*
 * resp.h - the Redis serialization protocol: an incremental request parser
 * and reply writers for RESP2 and RESP3.  Shared by the dataplane (server
 * side) and pktgen (client side).
 *
 * Parser contract
 * ---------------
 * The caller keeps the bytes of the request being parsed contiguous, starting
 * at the first byte of that request, and calls resp_parse() each time more
 * bytes arrive, passing the whole contiguous run (old + new bytes).  The
 * parser remembers how far it validated (struct resp_parser) so it never
 * rescans bytes, which keeps a request split at any byte - including one big
 * bulk arriving in thousands of pieces - linear in its size.  It never copies
 * request bytes: on RESP_PARSE_OK the argv slices point into the caller's
 * buffer and stay valid until the caller moves or frees those bytes.
 *
 * Inline commands (a line not starting with '*') are split like Redis'
 * sdssplitargs (quotes and escapes).  Because unquoting an inline argument
 * can change its bytes, inline arguments are unescaped into parser-owned
 * storage (inline requests are at most 64 KiB, so this is bounded).
 *
 * After RESP_PARSE_OK the caller consumes `*consumed` bytes and calls
 * resp_parser_reset() before the next request (resp_parse does it itself
 * when called after an OK).  RESP_PARSE_ERROR leaves a Redis-compatible
 * message in p->err (e.g. "Protocol error: invalid bulk length"); the
 * connection must then reply "-ERR <err>" and close, as Redis does.
 */
#ifndef HP_RESP_H
#define HP_RESP_H

#include "hp_common.h"
#include "rbuf.h"

#define RESP_INLINE_MAX (64 * 1024)       /* Redis PROTO_INLINE_MAX_SIZE */
#define RESP_DEFAULT_MAX_BULK (512ll * 1024 * 1024) /* proto-max-bulk-len */

enum resp_parse_status {
    RESP_PARSE_OK = 0,       /* one complete request in p->argv[0..argc) */
    RESP_PARSE_NEED_MORE,    /* valid so far, incomplete */
    RESP_PARSE_EMPTY,        /* only blank inline line(s) consumed; no request */
    RESP_PARSE_ERROR,        /* protocol error; message in p->err */
};

struct resp_parser {
    /* limits, set by resp_parser_init */
    int64_t max_bulk;          /* proto-max-bulk-len */
    int64_t max_argc;          /* multibulk count limit */

    /* result of the last RESP_PARSE_OK */
    int argc;
    struct hp_slice *argv;     /* capacity argv_cap, grown on demand up to max_argc */
    int argv_cap;

    char err[128];

    /* private resume state; see resp.c */
    int state;
    size_t pos;                /* bytes of the request already validated */
    int64_t multibulk_left;
    int64_t bulk_len;
    uint8_t *inline_buf;       /* unescaped inline args live here */
    size_t inline_cap;
};

int resp_parser_init(struct resp_parser *p, int64_t max_bulk, int64_t max_argc);
void resp_parser_free(struct resp_parser *p);
void resp_parser_reset(struct resp_parser *p);
/* Parse one request from buf[0..len).  See the contract above. */
enum resp_parse_status resp_parse(struct resp_parser *p, const uint8_t *buf,
                                  size_t len, size_t *consumed);

/*
 * Reply writers.  `proto` is 2 or 3 where RESP2 and RESP3 differ.
 * Errors: pass the full message without the leading '-', e.g.
 * resp_add_error(b, "WRONGTYPE Operation against a key holding the wrong kind of value").
 */
void resp_add_simple(struct rbuf *b, const char *s);              /* +s */
void resp_add_error(struct rbuf *b, const char *msg);             /* -msg */
void resp_add_errorf(struct rbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct rbuf *b, int64_t v);                      /* :v */
void resp_add_bulk(struct rbuf *b, const void *p, size_t len);     /* $len */
void resp_add_bulk_cstr(struct rbuf *b, const char *s);
void resp_add_bulk_int(struct rbuf *b, int64_t v);                 /* integer as bulk */
void resp_add_null(struct rbuf *b, int proto);                     /* $-1 or _ */
void resp_add_null_array(struct rbuf *b, int proto);               /* *-1 or _ */
void resp_add_array(struct rbuf *b, size_t n);                     /* *n */
void resp_add_map(struct rbuf *b, int proto, size_t pairs);        /* *2n or %n */
void resp_add_set(struct rbuf *b, int proto, size_t n);            /* *n or ~n */
void resp_add_double(struct rbuf *b, int proto, long double v);    /* bulk or , */
void resp_add_bool(struct rbuf *b, int proto, bool v);             /* :0/:1 or #f/#t */
/* Bulk in RESP2, verbatim string "=len\r\ntxt:..." in RESP3 (INFO, CLIENT LIST). */
void resp_add_verbatim(struct rbuf *b, int proto, const char *p, size_t len);
/* Formats a long double like Redis' INCRBYFLOAT (%.17Lf, trailing zeros
 * trimmed); returns the length written into buf (buf must hold 5*1024). */
size_t resp_format_long_double(char *buf, size_t cap, long double v);

#endif
