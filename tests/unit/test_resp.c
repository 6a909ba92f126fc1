/* test_resp.c - request parser, reply writers and rbuf (common/). */
#include "cu_main.h"
#include "resp.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------ */

static double elapsed_s(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Appends argv as "a|b|c;" (bytes escaped as \xHH when not printable). */
static void join_argv(const struct resp_parser *p, char *out, size_t cap)
{
    size_t n = strlen(out);
    for (int i = 0; i < p->argc; i++) {
        for (size_t j = 0; j < p->argv[i].len; j++) {
            uint8_t c = p->argv[i].ptr[j];
            int w = (c >= 0x20 && c < 0x7f && c != '|' && c != ';')
                        ? snprintf(out + n, cap - n, "%c", c)
                        : snprintf(out + n, cap - n, "\\x%02x", c);
            HP_ASSERT(w > 0 && (size_t)w < cap - n);
            n += (size_t)w;
        }
        HP_ASSERT(n + 2 < cap);
        out[n++] = i + 1 < p->argc ? '|' : ';';
        out[n] = '\0';
    }
}

/* True when every argument lies inside [lo, hi) or inside the parser's own
 * inline storage: multibulk arguments are never copied. */
static bool argv_inside(const struct resp_parser *p, const uint8_t *lo, const uint8_t *hi)
{
    for (int i = 0; i < p->argc; i++) {
        const uint8_t *a = p->argv[i].ptr;
        bool in_req = a >= lo && a + p->argv[i].len <= hi;
        bool in_inline = p->inline_buf && a >= p->inline_buf &&
                         a + p->argv[i].len <= p->inline_buf + p->inline_cap;
        if (!in_req && !in_inline)
            return false;
    }
    return true;
}

struct feed_result {
    char cmds[4096];       /* joined commands, see join_argv */
    int empties;           /* RESP_PARSE_EMPTY results */
    bool error;
    char err[128];
    size_t left;           /* bytes still pending at the end */
    bool argv_ok;          /* all OK results pointed into the request */
};

/*
 * Feeds data to a fresh parser like the connection code does: the bytes
 * arrive in chunks ending at cuts[0..ncuts) (then the rest); after each
 * chunk the pending bytes are copied into a NEW allocation, so the request
 * being parsed moves between calls.
 */
static void feed(const uint8_t *data, size_t len, const size_t *cuts, size_t ncuts,
                 int64_t max_bulk, int64_t max_argc, struct feed_result *r)
{
    memset(r, 0, sizeof(*r));
    r->argv_ok = true;
    struct resp_parser p;
    HP_ASSERT(resp_parser_init(&p, max_bulk, max_argc) == 0);
    uint8_t *pend = NULL;
    size_t plen = 0, fed = 0;
    for (size_t c = 0; c <= ncuts && !r->error; c++) {
        size_t upto = c < ncuts ? cuts[c] : len;
        HP_ASSERT(upto >= fed && upto <= len);
        uint8_t *nb = malloc(plen + (upto - fed) + 1);
        HP_ASSERT(nb != NULL);
        if (plen)
            memcpy(nb, pend, plen);
        memcpy(nb + plen, data + fed, upto - fed);
        free(pend);
        pend = nb;
        plen += upto - fed;
        fed = upto;
        size_t off = 0;
        while (off < plen) {
            size_t used = 12345;
            enum resp_parse_status st = resp_parse(&p, pend + off, plen - off, &used);
            if (st == RESP_PARSE_NEED_MORE) {
                HP_ASSERT(used == 0);
                break;
            }
            if (st == RESP_PARSE_ERROR) {
                r->error = true;
                snprintf(r->err, sizeof(r->err), "%s", p.err);
                break;
            }
            HP_ASSERT(used > 0 && used <= plen - off);
            if (st == RESP_PARSE_EMPTY) {
                r->empties++;
            } else {
                if (!argv_inside(&p, pend + off, pend + off + used))
                    r->argv_ok = false;
                join_argv(&p, r->cmds, sizeof(r->cmds));
            }
            off += used;
        }
        /* Keep the unparsed tail in a fresh buffer (it moves again). */
        uint8_t *tail = malloc(plen - off + 1);
        HP_ASSERT(tail != NULL);
        memcpy(tail, pend + off, plen - off);
        free(pend);
        pend = tail;
        plen -= off;
    }
    r->left = plen;
    free(pend);
    resp_parser_free(&p);
}

static void feed_whole(const char *s, size_t len, struct feed_result *r)
{
    feed((const uint8_t *)s, len, NULL, 0, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC, r);
}

/* ---- parser: pipelines and splits -------------------------------------------- */

static const char pipeline[] =
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
    "\r\n"
    "PING\r\n"
    "\n"
    "*1\r\n$4\r\nPING\r\n"
    "ECHO \"a b\"  'c'\r\n"
    "*0\r\n"
    "   \r\n"
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
    "*-1\r\n"
    "*2\r\n$4\r\nECHO\r\n$12\r\nbin\r\n\0\x01|;xyz\r\n"
    "set k2 v2\n"
    "*1\r\n$4\r\nQUIT\r\n";
static const char pipeline_cmds[] =
    "SET|k|hello;PING;PING;ECHO|a b|c;GET|;ECHO|bin\\x0d\\x0a\\x00\\x01\\x7c\\x3bxyz;"
    "set|k2|v2;QUIT;";

static void test_pipeline_whole(void)
{
    struct feed_result r;
    feed_whole(pipeline, sizeof(pipeline) - 1, &r);
    CU_ASSERT_FALSE(r.error);
    CU_ASSERT_STRING_EQUAL(r.cmds, pipeline_cmds);
    CU_ASSERT_EQUAL(r.empties, 5);
    CU_ASSERT_EQUAL(r.left, 0);
    CU_ASSERT_TRUE(r.argv_ok);
}

static void test_pipeline_every_split(void)
{
    size_t len = sizeof(pipeline) - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct feed_result r;
        feed((const uint8_t *)pipeline, len, &cut, 1, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC, &r);
        if (strcmp(r.cmds, pipeline_cmds) != 0 || r.error || r.empties != 5)
            fprintf(stderr, "split at %zu: cmds=%s err=%s\n", cut, r.cmds, r.err);
        CU_ASSERT_FALSE(r.error);
        CU_ASSERT_STRING_EQUAL(r.cmds, pipeline_cmds);
        CU_ASSERT_EQUAL(r.empties, 5);
        CU_ASSERT_EQUAL(r.left, 0);
        CU_ASSERT_TRUE(r.argv_ok);
    }
    /* Every pair of split points, too: a request torn into three parts. */
    for (size_t a = 0; a <= len; a += 3) {
        for (size_t b = a; b <= len; b += 5) {
            size_t cuts[2] = {a, b};
            struct feed_result r;
            feed((const uint8_t *)pipeline, len, cuts, 2, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC,
                 &r);
            CU_ASSERT_STRING_EQUAL(r.cmds, pipeline_cmds);
            CU_ASSERT_FALSE(r.error);
        }
    }
}

static void test_pipeline_byte_by_byte(void)
{
    size_t len = sizeof(pipeline) - 1;
    size_t *cuts = malloc(sizeof(*cuts) * len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct feed_result r;
    feed((const uint8_t *)pipeline, len, cuts, len, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC, &r);
    CU_ASSERT_FALSE(r.error);
    CU_ASSERT_STRING_EQUAL(r.cmds, pipeline_cmds);
    CU_ASSERT_EQUAL(r.empties, 5);
    CU_ASSERT_TRUE(r.argv_ok);
    free(cuts);
}

static void test_consumed_and_reuse(void)
{
    struct resp_parser p;
    CU_ASSERT_EQUAL_FATAL(resp_parser_init(&p, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC), 0);
    const char *req = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n";
    const uint8_t *b = (const uint8_t *)req;
    size_t used;
    CU_ASSERT_EQUAL(resp_parse(&p, b, strlen(req), &used), RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, 22);
    CU_ASSERT_EQUAL(p.argc, 2);
    CU_ASSERT_PTR_EQUAL(p.argv[0].ptr, b + 8);
    CU_ASSERT_EQUAL(p.argv[0].len, 3);
    CU_ASSERT_PTR_EQUAL(p.argv[1].ptr, b + 17);
    CU_ASSERT_EQUAL(p.argv[1].len, 3);
    /* The argv array is reused: no allocation per request. */
    struct hp_slice *argv0 = p.argv;
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_EQUAL(resp_parse(&p, b + 22, strlen(req) - 22, &used), RESP_PARSE_OK);
        CU_ASSERT_EQUAL(used, 14);
        CU_ASSERT_EQUAL(p.argc, 1);
        CU_ASSERT_PTR_EQUAL(p.argv, argv0);
    }
    /* Empty input and a lone '*' just wait. */
    CU_ASSERT_EQUAL(resp_parse(&p, b, 0, &used), RESP_PARSE_NEED_MORE);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(resp_parse(&p, b, 1, &used), RESP_PARSE_NEED_MORE);
    resp_parser_reset(&p);
    /* A huge argc grows argv; the next request gives the memory back. */
    size_t n = 3000, cap = n * 8 + 16;
    char *big = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    size_t off = (size_t)snprintf(big, cap, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(big + off, cap - off, "$1\r\nx\r\n");
    CU_ASSERT_EQUAL(resp_parse(&p, (uint8_t *)big, off, &used), RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, off);
    CU_ASSERT_EQUAL(p.argc, (int)n);
    CU_ASSERT(p.argv_cap >= (int)n);
    CU_ASSERT_EQUAL(resp_parse(&p, b + 22, strlen(req) - 22, &used), RESP_PARSE_OK);
    CU_ASSERT(p.argv_cap < (int)n);
    free(big);
    resp_parser_free(&p);
}

/* Redis 7.0 quirks we keep for compatibility (checked against redis-server). */
static void test_redis_quirks(void)
{
    struct feed_result r;
    /* The byte after a length line's CR is not checked to be LF. */
    feed_whole("*1\rx$4\r\nPING\r\n", 14, &r);
    CU_ASSERT_STRING_EQUAL(r.cmds, "PING;");
    /* Nor are the two bytes after a bulk payload. */
    feed_whole("*2\r\n$4\r\nPINGxx$1\r\nx\r\n", 21, &r);
    CU_ASSERT_STRING_EQUAL(r.cmds, "PING|x;");
    CU_ASSERT_FALSE(r.error);
    /* Negative multibulk counts are consumed like *0. */
    feed_whole("*-5\r\nPING\r\n", 11, &r);
    CU_ASSERT_EQUAL(r.empties, 1);
    CU_ASSERT_STRING_EQUAL(r.cmds, "PING;");
    /* An empty bulk is an argument. */
    feed_whole("*1\r\n$0\r\n\r\n", 10, &r);
    CU_ASSERT_STRING_EQUAL(r.cmds, ";");
    CU_ASSERT_FALSE(r.error);
}

/* ---- parser: errors ------------------------------------------------------------ */

struct err_case {
    const char *in;
    size_t len; /* 0: strlen */
    const char *err;
};

static void check_error(const uint8_t *in, size_t len, int64_t max_bulk, int64_t max_argc,
                        const char *want)
{
    struct feed_result r;
    feed(in, len, NULL, 0, max_bulk, max_argc, &r);
    if (!r.error || strcmp(r.err, want) != 0)
        fprintf(stderr, "input %.40s: error=%d \"%s\", want \"%s\"\n", (const char *)in,
                r.error, r.err, want);
    CU_ASSERT_TRUE(r.error);
    CU_ASSERT_STRING_EQUAL(r.err, want);
}

static void test_errors(void)
{
    static const struct err_case cases[] = {
        {"*abc\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*+1\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*01\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*-0\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*1x\r\n", 0, "Protocol error: invalid multibulk length"},
        {"* 1\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*99999999999999999999999\r\n", 0, "Protocol error: invalid multibulk length"},
        /* Counts up to INT_MAX are valid, as in Redis 7.0 (see test_large_count). */
        {"*2147483648\r\n", 0, "Protocol error: invalid multibulk length"},
        {"*1\r\n$abc\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$-1\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$+3\r\nfoo\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$-0\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$01\r\nx\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$3 \r\nfoo\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$536870913\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\n$99999999999999999999\r\n", 0, "Protocol error: invalid bulk length"},
        {"*1\r\nfoo\r\n", 0, "Protocol error: expected '$', got 'f'"},
        {"*2\r\n$1\r\na\r\n:5\r\n", 0, "Protocol error: expected '$', got ':'"},
        {"*1\r\n\r\n\r\n", 0, "Protocol error: expected '$', got ' '"},
        {"*1\r\n\0\r\n", 7, "Protocol error: expected '$', got ' '"},
        {"set a \"b\"c\r\n", 0, "Protocol error: unbalanced quotes in request"},
        {"set a 'b\r\n", 0, "Protocol error: unbalanced quotes in request"},
        {"set a 'b'c\n", 0, "Protocol error: unbalanced quotes in request"},
        {"ECHO \"abc\\\"\n", 0, "Protocol error: unbalanced quotes in request"},
        {"ECHO a\"b c\"d\n", 0, "Protocol error: unbalanced quotes in request"},
        {"ECHO \"abc\n", 0, "Protocol error: unbalanced quotes in request"},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        const uint8_t *in = (const uint8_t *)cases[i].in;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        check_error(in, len, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC, cases[i].err);
        /* The same error whatever the byte boundary it arrived at. */
        for (size_t cut = 0; cut <= len; cut++) {
            struct feed_result r;
            feed(in, len, &cut, 1, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC, &r);
            CU_ASSERT_TRUE(r.error);
            CU_ASSERT_STRING_EQUAL(r.err, cases[i].err);
        }
    }
}

static void test_error_is_sticky(void)
{
    struct resp_parser p;
    CU_ASSERT_EQUAL_FATAL(resp_parser_init(&p, 100, 100), 0);
    size_t used = 99;
    CU_ASSERT_EQUAL(resp_parse(&p, (const uint8_t *)"*x\r\n", 4, &used), RESP_PARSE_ERROR);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(resp_parse(&p, (const uint8_t *)"PING\r\n", 6, &used), RESP_PARSE_ERROR);
    resp_parser_reset(&p);
    CU_ASSERT_EQUAL(resp_parse(&p, (const uint8_t *)"PING\r\n", 6, &used), RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, 6);
    resp_parser_free(&p);
}

/* Fills a buffer of `n` copies of c after `prefix`. */
static uint8_t *make_run(const char *prefix, char c, size_t n, size_t *len)
{
    size_t pl = strlen(prefix);
    uint8_t *b = malloc(pl + n + 8);
    HP_ASSERT(b != NULL);
    memcpy(b, prefix, pl);
    memset(b + pl, c, n);
    *len = pl + n;
    return b;
}

static void expect_status(const uint8_t *b, size_t len, enum resp_parse_status want,
                          const char *err)
{
    struct resp_parser p;
    HP_ASSERT(resp_parser_init(&p, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC) == 0);
    size_t used;
    enum resp_parse_status st = resp_parse(&p, b, len, &used);
    CU_ASSERT_EQUAL(st, want);
    if (err)
        CU_ASSERT_STRING_EQUAL(p.err, err);
    resp_parser_free(&p);
}

static void test_too_big_lines(void)
{
    size_t len;
    /* Inline: 64 KiB without a newline still waits; one byte more fails. */
    uint8_t *b = make_run("", 'a', RESP_INLINE_MAX, &len);
    expect_status(b, len, RESP_PARSE_NEED_MORE, NULL);
    free(b);
    b = make_run("", 'a', RESP_INLINE_MAX + 1, &len);
    expect_status(b, len, RESP_PARSE_ERROR, "Protocol error: too big inline request");
    free(b);
    /* A complete 64 KiB line is fine; a longer one is refused. */
    b = make_run("", 'a', RESP_INLINE_MAX, &len);
    b[len++] = '\n';
    expect_status(b, len, RESP_PARSE_OK, NULL);
    free(b);
    b = make_run("", 'a', RESP_INLINE_MAX + 1, &len);
    b[len++] = '\n';
    expect_status(b, len, RESP_PARSE_ERROR, "Protocol error: too big inline request");
    free(b);
    /* Multibulk count line without CR. */
    b = make_run("*", '1', RESP_INLINE_MAX - 1, &len);
    expect_status(b, len, RESP_PARSE_NEED_MORE, NULL);
    free(b);
    b = make_run("*", '1', RESP_INLINE_MAX, &len);
    expect_status(b, len, RESP_PARSE_ERROR, "Protocol error: too big mbulk count string");
    free(b);
    /* Bulk length line without CR. */
    b = make_run("*1\r\n$", '1', RESP_INLINE_MAX - 1, &len);
    expect_status(b, len, RESP_PARSE_NEED_MORE, NULL);
    free(b);
    b = make_run("*1\r\n$", '1', RESP_INLINE_MAX, &len);
    expect_status(b, len, RESP_PARSE_ERROR, "Protocol error: too big bulk count string");
    free(b);
    /* Too big wins over a wrong type byte, as in Redis (checked first). */
    b = make_run("*1\r\nx", '1', RESP_INLINE_MAX, &len);
    expect_status(b, len, RESP_PARSE_ERROR, "Protocol error: too big bulk count string");
    free(b);
}

/* A 64 KiB inline line arriving one byte at a time is scanned once. */
static void test_inline_byte_by_byte(void)
{
    size_t len;
    uint8_t *b = make_run("", 'a', RESP_INLINE_MAX, &len);
    b[len++] = '\n';
    struct resp_parser p;
    CU_ASSERT_EQUAL_FATAL(resp_parser_init(&p, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC), 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t used = 0;
    enum resp_parse_status st = RESP_PARSE_NEED_MORE;
    size_t i;
    for (i = 1; i <= len && st == RESP_PARSE_NEED_MORE; i++)
        st = resp_parse(&p, b, i, &used);
    CU_ASSERT_EQUAL(st, RESP_PARSE_OK);
    CU_ASSERT_EQUAL(i - 1, len);
    CU_ASSERT_EQUAL(used, len);
    CU_ASSERT_EQUAL(p.argc, 1);
    CU_ASSERT_EQUAL(p.argv[0].len, RESP_INLINE_MAX);
    CU_ASSERT(elapsed_s(t0) < 2.0);
    resp_parser_free(&p);
    free(b);
}

/* Redis 7.0 accepts multibulk counts up to INT_MAX: a count past the old
 * 1024 * 1024 limit parses, and INT_MAX waits for its arguments. */
static void test_large_count(void)
{
    struct resp_parser p;
    CU_ASSERT_EQUAL_FATAL(resp_parser_init(&p, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC), 0);
    const int n = 1048577;
    size_t len = 16 + (size_t)n * 7;
    uint8_t *buf = malloc(len);
    CU_ASSERT_FATAL(buf != NULL);
    size_t off = (size_t)snprintf((char *)buf, len, "*%d\r\n", n);
    for (int i = 0; i < n; i++, off += 7)
        memcpy(buf + off, "$1\r\nx\r\n", 7);
    size_t used = 0;
    CU_ASSERT_EQUAL(resp_parse(&p, buf, off, &used), RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, off);
    CU_ASSERT_EQUAL(p.argc, n);
    resp_parser_reset(&p);
    static const char most[] = "*2147483647\r\n$1\r\nx\r\n";
    CU_ASSERT_EQUAL(resp_parse(&p, (const uint8_t *)most, sizeof(most) - 1, &used),
                    RESP_PARSE_NEED_MORE);
    resp_parser_reset(&p);
    static const char over[] = "*2147483648\r\n";
    CU_ASSERT_EQUAL(resp_parse(&p, (const uint8_t *)over, sizeof(over) - 1, &used),
                    RESP_PARSE_ERROR);
    free(buf);
    resp_parser_free(&p);
}

static void test_limits(void)
{
    struct feed_result r;
    const char *ok10 = "*1\r\n$10\r\n0123456789\r\n";
    feed((const uint8_t *)ok10, strlen(ok10), NULL, 0, 10, 100, &r);
    CU_ASSERT_FALSE(r.error);
    CU_ASSERT_STRING_EQUAL(r.cmds, "0123456789;");
    check_error((const uint8_t *)"*1\r\n$11\r\n", 9, 10, 100,
                "Protocol error: invalid bulk length");

    const char *ok3 = "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";
    feed((const uint8_t *)ok3, strlen(ok3), NULL, 0, 10, 3, &r);
    CU_ASSERT_FALSE(r.error);
    CU_ASSERT_STRING_EQUAL(r.cmds, "a|b|c;");
    check_error((const uint8_t *)"*4\r\n", 4, 10, 3, "Protocol error: invalid multibulk length");
    /* Inline requests are bounded by max_argc too. */
    feed((const uint8_t *)"a b c\n", 6, NULL, 0, 10, 3, &r);
    CU_ASSERT_STRING_EQUAL(r.cmds, "a|b|c;");
    check_error((const uint8_t *)"a b c d\n", 8, 10, 3,
                "Protocol error: too many arguments in inline request");
    /* Init refuses nonsense limits. */
    struct resp_parser p;
    CU_ASSERT_EQUAL(resp_parser_init(&p, 10, 0), -1);
    CU_ASSERT_EQUAL(resp_parser_init(&p, -1, 10), -1);
}

/* ---- parser: inline quoting ----------------------------------------------------- */

struct inline_case {
    const char *line;
    const char *cmd; /* join_argv form */
    size_t len;      /* 0: strlen(line) */
};

static void test_inline_quoting(void)
{
    static const struct inline_case cases[] = {
        {"a \"b c\" 'd e'\n", "a|b c|d e;", 0},
        {"\"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n",
         "AJ\\x0a\\x0d\\x09\\x08\\x07\\\"q;", 0},
        {"\"\\x4\"\n", "x4;", 0},
        {"\"\\xZZ\"\n", "xZZ;", 0},
        {"'it\\'s' '\\n'\n", "it's|\\n;", 0},
        {"'a\\\\b'\n", "a\\\\b;", 0},
        {"ab\"cd ef\"\n", "abcd ef;", 0},
        {"\"\" x\n", "|x;", 0},
        {"''\n", ";", 0},
        {"a\tb\r\n", "a|b;", 0},
        {"  lead   trail  \r\n", "lead|trail;", 0},
        {"a\x0b" "b\n", "a\\x0bb;", 0},        /* \v separates only between args */
        {"\x0b" "a\n", "a;", 0},
        {"\"q\"\t'r'\n", "q|r;", 0},
        {"a\rb\r\n", "a|b;", 0},                /* a lone CR inside the line separates */
        {"x\0y\n", "x\\x00y;", 4},             /* NUL is an ordinary byte here */
        {"\"\\x00\"\n", "\\x00;", 0},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        const char *l = cases[i].line;
        size_t len = cases[i].len ? cases[i].len : strlen(l);
        struct feed_result r;
        feed_whole(l, len, &r);
        if (r.error || strcmp(r.cmds, cases[i].cmd) != 0)
            fprintf(stderr, "inline case %zu: got \"%s\" err \"%s\"\n", i, r.cmds, r.err);
        CU_ASSERT_FALSE(r.error);
        CU_ASSERT_STRING_EQUAL(r.cmds, cases[i].cmd);
    }
}

/* ---- parser: big bulk in pieces ------------------------------------------------- */

static void test_big_bulk_pieces(void)
{
    const size_t vlen = 1 << 20;
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);
    size_t total = (size_t)hl + vlen + 2;
    uint8_t *buf = malloc(total);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    memcpy(buf, hdr, (size_t)hl);
    for (size_t i = 0; i < vlen; i++)
        buf[hl + i] = (uint8_t)(i * 7 + 1);
    memcpy(buf + hl + vlen, "\r\n", 2);

    struct resp_parser p;
    CU_ASSERT_EQUAL_FATAL(resp_parser_init(&p, RESP_DEFAULT_MAX_BULK, HP_MAX_ARGC), 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* ~1000 pieces of 1049 bytes. */
    size_t piece = total / 1000 + 1, have = 0, used = 0;
    int calls = 0;
    enum resp_parse_status st = RESP_PARSE_NEED_MORE;
    while (have < total) {
        have = HP_MIN(total, have + piece);
        st = resp_parse(&p, buf, have, &used);
        calls++;
        if (have < total)
            CU_ASSERT_EQUAL_FATAL(st, RESP_PARSE_NEED_MORE);
    }
    CU_ASSERT(calls >= 1000);
    CU_ASSERT_EQUAL(st, RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, total);
    CU_ASSERT_EQUAL_FATAL(p.argc, 3);
    CU_ASSERT_PTR_EQUAL(p.argv[2].ptr, buf + hl); /* not copied */
    CU_ASSERT_EQUAL(p.argv[2].len, vlen);
    CU_ASSERT_EQUAL(memcmp(p.argv[0].ptr, "SET", 3), 0);

    /* And one byte at a time: each call is O(1) while the payload arrives. */
    resp_parser_reset(&p);
    for (have = 1; have <= total; have++) {
        st = resp_parse(&p, buf, have, &used);
        if (have < total && st != RESP_PARSE_NEED_MORE)
            break;
    }
    CU_ASSERT_EQUAL(st, RESP_PARSE_OK);
    CU_ASSERT_EQUAL(used, total);
    CU_ASSERT_PTR_EQUAL(p.argv[2].ptr, buf + hl);
    CU_ASSERT_PTR_EQUAL(p.argv[1].ptr, buf + 17);
    CU_ASSERT(elapsed_s(t0) < 3.0);
    resp_parser_free(&p);
    free(buf);
}

/* ---- writers ------------------------------------------------------------------------ */

#define CHECK_BYTES(b, lit)                                                    \
    do {                                                                       \
        CU_ASSERT_EQUAL((b)->len, sizeof(lit) - 1);                            \
        CU_ASSERT((b)->len == sizeof(lit) - 1 &&                               \
                  memcmp((b)->data, lit, sizeof(lit) - 1) == 0);               \
        CU_ASSERT_FALSE((b)->overflow);                                        \
        rbuf_reset(b);                                                         \
    } while (0)

static void test_writers_scalar(void)
{
    struct rbuf b;
    rbuf_init(&b, 1 << 20);
    resp_add_simple(&b, "OK");
    CHECK_BYTES(&b, "+OK\r\n");
    resp_add_simple(&b, "a\r\nb");
    CHECK_BYTES(&b, "+a  b\r\n");
    resp_add_error(&b, "ERR bad thing");
    CHECK_BYTES(&b, "-ERR bad thing\r\n");
    resp_add_error(&b, "ERR x\ny\rz");
    CHECK_BYTES(&b, "-ERR x y z\r\n");
    resp_add_errorf(&b, "ERR %s %d", "bad\r\n", 5);
    CHECK_BYTES(&b, "-ERR bad   5\r\n");
    resp_add_int(&b, 0);
    CHECK_BYTES(&b, ":0\r\n");
    resp_add_int(&b, -1);
    CHECK_BYTES(&b, ":-1\r\n");
    resp_add_int(&b, INT64_MAX);
    CHECK_BYTES(&b, ":9223372036854775807\r\n");
    resp_add_int(&b, INT64_MIN);
    CHECK_BYTES(&b, ":-9223372036854775808\r\n");
    resp_add_bulk(&b, "foo", 3);
    CHECK_BYTES(&b, "$3\r\nfoo\r\n");
    resp_add_bulk(&b, "", 0);
    CHECK_BYTES(&b, "$0\r\n\r\n");
    resp_add_bulk(&b, "a\0\r\n", 4);
    CHECK_BYTES(&b, "$4\r\na\0\r\n\r\n");
    resp_add_bulk_cstr(&b, "hello");
    CHECK_BYTES(&b, "$5\r\nhello\r\n");
    resp_add_bulk_int(&b, -42);
    CHECK_BYTES(&b, "$3\r\n-42\r\n");
    resp_add_bulk_int(&b, INT64_MIN);
    CHECK_BYTES(&b, "$20\r\n-9223372036854775808\r\n");

    /* A long formatted error goes through the heap path intact. */
    char longarg[600];
    memset(longarg, 'z', sizeof(longarg) - 1);
    longarg[sizeof(longarg) - 1] = '\0';
    resp_add_errorf(&b, "ERR %s!", longarg);
    CU_ASSERT_EQUAL(b.len, 1 + 4 + 599 + 1 + 2);
    CU_ASSERT_EQUAL(memcmp(b.data, "-ERR zzz", 8), 0);
    CU_ASSERT_EQUAL(memcmp(b.data + b.len - 4, "z!\r\n", 4), 0);
    rbuf_reset(&b);
    rbuf_free(&b);
}

static void test_writers_resp2_resp3(void)
{
    struct rbuf b;
    rbuf_init(&b, 1 << 20);
    resp_add_null(&b, 2);
    CHECK_BYTES(&b, "$-1\r\n");
    resp_add_null(&b, 3);
    CHECK_BYTES(&b, "_\r\n");
    resp_add_null_array(&b, 2);
    CHECK_BYTES(&b, "*-1\r\n");
    resp_add_null_array(&b, 3);
    CHECK_BYTES(&b, "_\r\n");
    resp_add_array(&b, 3);
    CHECK_BYTES(&b, "*3\r\n");
    resp_add_array(&b, 0);
    CHECK_BYTES(&b, "*0\r\n");
    resp_add_map(&b, 2, 2);
    CHECK_BYTES(&b, "*4\r\n");
    resp_add_map(&b, 3, 2);
    CHECK_BYTES(&b, "%2\r\n");
    resp_add_set(&b, 2, 3);
    CHECK_BYTES(&b, "*3\r\n");
    resp_add_set(&b, 3, 3);
    CHECK_BYTES(&b, "~3\r\n");
    resp_add_bool(&b, 2, true);
    CHECK_BYTES(&b, ":1\r\n");
    resp_add_bool(&b, 2, false);
    CHECK_BYTES(&b, ":0\r\n");
    resp_add_bool(&b, 3, true);
    CHECK_BYTES(&b, "#t\r\n");
    resp_add_bool(&b, 3, false);
    CHECK_BYTES(&b, "#f\r\n");
    resp_add_verbatim(&b, 2, "hello", 5);
    CHECK_BYTES(&b, "$5\r\nhello\r\n");
    resp_add_verbatim(&b, 3, "hello", 5);
    CHECK_BYTES(&b, "=9\r\ntxt:hello\r\n");
    resp_add_verbatim(&b, 3, "", 0);
    CHECK_BYTES(&b, "=4\r\ntxt:\r\n");

    /* Doubles: Redis 7.0 %.17g (ZSCORE of 0.1 is 0.10000000000000001). */
    resp_add_double(&b, 2, 1.5L);
    CHECK_BYTES(&b, "$3\r\n1.5\r\n");
    resp_add_double(&b, 2, 0.1L);
    CHECK_BYTES(&b, "$19\r\n0.10000000000000001\r\n");
    resp_add_double(&b, 3, 0.1L);
    CHECK_BYTES(&b, ",0.10000000000000001\r\n");
    resp_add_double(&b, 2, 1e100L);
    CHECK_BYTES(&b, "$6\r\n1e+100\r\n");
    resp_add_double(&b, 3, 3.0L);
    CHECK_BYTES(&b, ",3\r\n");
    resp_add_double(&b, 2, (long double)INFINITY);
    CHECK_BYTES(&b, "$3\r\ninf\r\n");
    resp_add_double(&b, 2, -(long double)INFINITY);
    CHECK_BYTES(&b, "$4\r\n-inf\r\n");
    resp_add_double(&b, 3, (long double)INFINITY);
    CHECK_BYTES(&b, ",inf\r\n");
    resp_add_double(&b, 3, -(long double)INFINITY);
    CHECK_BYTES(&b, ",-inf\r\n");
    resp_add_double(&b, 3, (long double)NAN);
    CHECK_BYTES(&b, ",nan\r\n");
    resp_add_double(&b, 3, -(long double)NAN);
    CHECK_BYTES(&b, ",nan\r\n");
    rbuf_free(&b);
}

static void check_ld(long double v, const char *want)
{
    char buf[5 * 1024];
    size_t n = resp_format_long_double(buf, sizeof(buf), v);
    if (n != strlen(want) || strcmp(buf, want) != 0)
        fprintf(stderr, "long double: got \"%s\", want \"%s\"\n", buf, want);
    CU_ASSERT_EQUAL(n, strlen(want));
    CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_format_long_double(void)
{
    /* Expected strings are redis-server 7.0 INCRBYFLOAT replies. */
    check_ld(0.1L, "0.1");
    check_ld(0.1L + 0.2L, "0.3");
    check_ld(1e3L, "1000");
    check_ld(3.0e3L + 0.5L, "3000.5");
    check_ld(10.5L + 0.1L, "10.6");
    check_ld(1.5e-5L, "0.000015");
    check_ld(1e20L, "100000000000000000000");
    check_ld(-0.0L, "0");
    check_ld(5000.0L - 5000.0L, "0");
    check_ld(-3.5L, "-3.5");
    check_ld(1.23456789012345678L, "1.23456789012345678");
    check_ld((long double)INFINITY, "inf");
    check_ld(-(long double)INFINITY, "-inf");
    /* The biggest long double needs ~4.9 KiB: fits the 5 KiB contract. */
    char buf[5 * 1024];
    size_t n = resp_format_long_double(buf, sizeof(buf), LDBL_MAX);
    CU_ASSERT(n > 4900 && n < sizeof(buf));
    CU_ASSERT_EQUAL(strlen(buf), n);
    /* Too small a buffer: empty result, never an overrun. */
    char tiny[4];
    CU_ASSERT_EQUAL(resp_format_long_double(tiny, sizeof(tiny), 12345.5L), 0);
    CU_ASSERT_EQUAL(tiny[0], '\0');
}

/* ---- rbuf ----------------------------------------------------------------------------- */

static void test_rbuf_limit(void)
{
    struct rbuf b;
    rbuf_init(&b, 10);
    rbuf_append(&b, "12345678", 8);
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT(b.cap <= 10);
    rbuf_append(&b, "abc", 3); /* would cross the limit */
    CU_ASSERT_TRUE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 8);
    rbuf_append(&b, "x", 1); /* would fit, but overflow is sticky */
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_PTR_NULL(rbuf_reserve(&b, 1));
    resp_add_int(&b, 1);
    CU_ASSERT_EQUAL(b.len, 8);
    rbuf_reset(&b);
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 0);
    rbuf_append(&b, "0123456789", 10); /* exactly the limit is fine */
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT_EQUAL(memcmp(b.data, "0123456789", 10), 0);
    rbuf_free(&b);

    /* Writers reserve exactly what they write: ":1\r\n" fits a 4-byte limit. */
    rbuf_init(&b, 4);
    resp_add_int(&b, 1);
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 4);
    resp_add_null(&b, 3);
    CU_ASSERT_TRUE(b.overflow);
    rbuf_free(&b);

    rbuf_init(&b, 0);
    rbuf_append(&b, "x", 1);
    CU_ASSERT_TRUE(b.overflow);
    rbuf_free(&b);

    /* A bulk bigger than the limit overflows without a huge allocation. */
    rbuf_init(&b, 1024);
    resp_add_bulk(&b, "x", SIZE_MAX / 2 + 1);
    CU_ASSERT_TRUE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 0);
    rbuf_free(&b);
}

static void test_rbuf_growth_consume(void)
{
    struct rbuf b;
    rbuf_init(&b, 1 << 20);
    size_t grows = 0, lastcap = 0;
    char chunk[100];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)i;
    for (int i = 0; i < 10000; i++) {
        rbuf_append(&b, chunk, sizeof(chunk));
        if (b.cap != lastcap) {
            grows++;
            lastcap = b.cap;
        }
    }
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 1000000);
    CU_ASSERT(b.cap >= b.len && b.cap <= (1 << 20));
    CU_ASSERT(grows <= 20); /* geometric, not per append */
    CU_ASSERT_EQUAL(memcmp(b.data + 999900, chunk, 100), 0);

    rbuf_consume(&b, 999950);
    CU_ASSERT_EQUAL(b.len, 50);
    CU_ASSERT_EQUAL(memcmp(b.data, chunk + 50, 50), 0);
    rbuf_consume(&b, 50);
    CU_ASSERT_EQUAL(b.len, 0);
    rbuf_consume(&b, 0);
    CU_ASSERT_EQUAL(b.len, 0);

    uint8_t *w = rbuf_reserve(&b, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    memcpy(w, "hello", 5);
    rbuf_commit(&b, 3);
    CU_ASSERT_EQUAL(b.len, 3);
    CU_ASSERT_EQUAL(memcmp(b.data, "hel", 3), 0);
    size_t cap = b.cap;
    rbuf_reset(&b);
    CU_ASSERT_EQUAL(b.cap, cap); /* reset keeps the allocation */
    rbuf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
}

static CU_TestInfo parser_tests[] = {
    {"mixed pipeline parsed whole", test_pipeline_whole},
    {"mixed pipeline split at every byte boundary", test_pipeline_every_split},
    {"mixed pipeline fed byte by byte", test_pipeline_byte_by_byte},
    {"consumed counts, argv into buffer, argv reuse", test_consumed_and_reuse},
    {"Redis 7.0 compatibility quirks", test_redis_quirks},
    {"malformed input: exact Redis errors at any split", test_errors},
    {"error is sticky until reset", test_error_is_sticky},
    {"too big inline / mbulk / bulk count lines", test_too_big_lines},
    {"64 KiB inline line byte by byte", test_inline_byte_by_byte},
    {"max_bulk and max_argc limits", test_limits},
    {"multibulk counts up to INT_MAX", test_large_count},
    {"inline quoting and escapes (sdssplitargs)", test_inline_quoting},
    {"1 MiB bulk in ~1000 pieces and byte by byte", test_big_bulk_pieces},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo writer_tests[] = {
    {"simple, error, int, bulk", test_writers_scalar},
    {"RESP2 vs RESP3 types", test_writers_resp2_resp3},
    {"long double like INCRBYFLOAT", test_format_long_double},
    {"rbuf limit and sticky overflow", test_rbuf_limit},
    {"rbuf growth, consume, reserve/commit", test_rbuf_growth_consume},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"resp_parse", NULL, NULL, NULL, NULL, parser_tests},
    {"resp_write", NULL, NULL, NULL, NULL, writer_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
