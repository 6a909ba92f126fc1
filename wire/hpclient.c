/*
 * hpclient.c - UDP protocol client; see hpclient.h and docs/PROTOCOL.md.
 */
#include "hpclient.h"
#include "clock.h"
#include "strutil.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define HPC_RX_BUF 65536
#define HPC_DRAIN_MAX 4096           /* datagrams handled per drain, to bound a call */

/* ---- RESP reply parser ----------------------------------------------------- */

struct reply_parser {
    const uint8_t *buf;
    size_t len, pos;
    struct hpc_reply *pool;      /* NULL in the counting pass */
    size_t used, cap;
    size_t nodes;                /* counting pass: aggregate elements seen */
};

/* Takes one CRLF-terminated line; a bare CR or LF inside is an error. */
static bool rp_line(struct reply_parser *p, const uint8_t **s, size_t *n)
{
    const uint8_t *start = p->buf + p->pos, *end = p->buf + p->len;
    const uint8_t *cr = memchr(start, '\r', (size_t)(end - start));
    if (!cr || cr + 1 >= end || cr[1] != '\n')
        return false;
    if (memchr(start, '\n', (size_t)(cr - start)))
        return false;
    *s = start;
    *n = (size_t)(cr - start);
    p->pos = (size_t)(cr + 2 - p->buf);
    return true;
}

static bool parse_i64(const uint8_t *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n || n > 20)
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool rp_value(struct reply_parser *p, int depth, struct hpc_reply *dst);

static bool rp_blob(struct reply_parser *p, uint8_t t, const uint8_t *s, size_t n,
                    struct hpc_reply *r)
{
    int64_t blen;
    if (!parse_i64(s, n, &blen))
        return false;
    if (t == '$' && blen == -1) {
        r->type = HPC_REPLY_NIL;
        return true;
    }
    if (blen < 0 || (uint64_t)blen > p->len - p->pos || p->len - p->pos - (size_t)blen < 2)
        return false;
    const uint8_t *b = p->buf + p->pos;
    if (b[blen] != '\r' || b[blen + 1] != '\n')
        return false;
    if (t == '=' && (blen < 4 || b[3] != ':'))
        return false;
    r->type = t == '$' ? HPC_REPLY_BULK : t == '!' ? HPC_REPLY_ERROR : HPC_REPLY_VERBATIM;
    r->str = (const char *)b;
    r->len = (size_t)blen;
    p->pos += (size_t)blen + 2;
    return true;
}

static bool rp_aggregate(struct reply_parser *p, uint8_t t, const uint8_t *s, size_t n,
                         int depth, struct hpc_reply *r)
{
    int64_t count;
    if (!parse_i64(s, n, &count))
        return false;
    if (t == '*' && count == -1) {
        r->type = HPC_REPLY_NIL;
        return true;
    }
    /* Every value takes at least 3 bytes ("_\r\n"): a count the remaining
     * bytes cannot hold is a lie, and this bounds the nodes allocated. */
    uint64_t elems = (uint64_t)count * (t == '%' ? 2 : 1);
    if (count < 0 || elems > (p->len - p->pos) / 3 || depth >= HPC_MAX_REPLY_DEPTH)
        return false;
    r->type = t == '%' ? HPC_REPLY_MAP : t == '~' ? HPC_REPLY_SET : HPC_REPLY_ARRAY;
    r->nelem = (size_t)elems;
    if (p->pool) {
        HP_ASSERT(p->used + elems <= p->cap);
        r->elem = elems ? p->pool + p->used : NULL;
        p->used += (size_t)elems;
    } else {
        p->nodes += (size_t)elems;
    }
    for (size_t i = 0; i < elems; i++)
        if (!rp_value(p, depth + 1, p->pool ? &r->elem[i] : NULL))
            return false;
    return true;
}

static bool rp_value(struct reply_parser *p, int depth, struct hpc_reply *dst)
{
    struct hpc_reply scratch;
    struct hpc_reply *r = dst ? dst : &scratch;
    memset(r, 0, sizeof(*r));
    if (p->pos >= p->len)
        return false;
    uint8_t t = p->buf[p->pos++];
    const uint8_t *s;
    size_t n;
    if (!rp_line(p, &s, &n))
        return false;
    switch (t) {
    case '+':
    case '-':
        r->type = t == '+' ? HPC_REPLY_STRING : HPC_REPLY_ERROR;
        r->str = (const char *)s;
        r->len = n;
        return true;
    case ':':
        r->type = HPC_REPLY_INTEGER;
        return parse_i64(s, n, &r->integer);
    case '_':
        r->type = HPC_REPLY_NIL;
        return n == 0;
    case '#':
        r->type = HPC_REPLY_BOOL;
        r->integer = n == 1 && s[0] == 't';
        return n == 1 && (s[0] == 't' || s[0] == 'f');
    case ',':
    case '(':
        r->type = t == ',' ? HPC_REPLY_DOUBLE : HPC_REPLY_BIGNUM;
        r->str = (const char *)s;
        r->len = n;
        return n > 0;
    case '$':
    case '!':
    case '=':
        return rp_blob(p, t, s, n, r);
    case '*':
    case '>':
    case '~':
    case '%':
        return rp_aggregate(p, t, s, n, depth, r);
    default:
        return false;
    }
}

enum hpc_err hpc_parse_replies(const uint8_t *buf, size_t len, size_t count,
                               struct hpc_reply **out)
{
    HP_ASSERT(out != NULL && (buf != NULL || len == 0));
    *out = NULL;
    if (count > len / 3)
        return HPC_E_PROTO;
    struct reply_parser p = {.buf = buf, .len = len};
    for (size_t i = 0; i < count; i++)
        if (!rp_value(&p, 1, NULL))
            return HPC_E_PROTO;
    if (p.pos != len)
        return HPC_E_PROTO;
    if (count == 0)
        return HPC_OK;
    size_t total = count + p.nodes;
    struct hpc_reply *pool = calloc(total, sizeof(*pool));
    if (!pool)
        return HPC_E_NOMEM;
    struct reply_parser q = {.buf = buf, .len = len, .pool = pool, .used = count, .cap = total};
    for (size_t i = 0; i < count; i++)
        HP_ASSERT(rp_value(&q, 1, &pool[i]));   /* the counting pass accepted it */
    HP_ASSERT(q.pos == len && q.used == total);
    *out = pool;
    return HPC_OK;
}

/* ---- client state ---------------------------------------------------------- */

enum slot_state { SLOT_FREE = 0, SLOT_INFLIGHT, SLOT_DONE };

struct hpc_slot {
    enum slot_state state;
    uint64_t tag;
    uint64_t wire_id;            /* request id in the current session */
    uint16_t ncmds;
    uint32_t attempts;
    uint32_t cookie_resends;
    uint32_t migrations;
    uint64_t deadline_ns;        /* next retransmission */
    size_t len;                  /* datagram bytes, header included */
    uint8_t *dgram;              /* max_datagram bytes */
    struct hpc_result result;    /* SLOT_DONE */
};

struct hpc_client {
    struct hpc_config cfg;
    int fd;
    int last_errno;
    uint64_t session_id;
    uint64_t cookie;
    bool have_cookie;
    uint64_t next_wire_id;
    uint64_t next_tag;
    struct hpc_slot *slots;
    uint32_t nslots;
    uint32_t inflight;
    uint32_t *done_fifo;         /* slot indexes, nslots capacity */
    uint32_t done_head, done_count;
    uint8_t *stage;              /* next request datagram; payload after the header */
    size_t stage_len;            /* payload bytes */
    uint16_t stage_cmds;
    uint8_t *rx;
    struct hpproto_reasm reasm;
    struct hpc_stats stats;
};

/* Writes a message into err (when given); always returns false. */
static bool set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return false;
}

void hpc_config_defaults(struct hpc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 6379;
    cfg->timeout_ms = 100;
    cfg->max_timeout_ms = 1000;
    cfg->max_attempts = 6;
    cfg->max_outstanding = 64;
    cfg->max_datagram = HPPROTO_DEFAULT_DGRAM;
    cfg->max_reply_dgram = HPPROTO_DEFAULT_DGRAM;
    cfg->max_reply_bytes = 4u << 20;
    cfg->reasm_max_bytes = 16u << 20;
    cfg->rcvbuf_bytes = 4 << 20;
}

static uint64_t rto_ms(const struct hpc_config *cfg, uint32_t attempt)
{
    uint64_t t = cfg->timeout_ms;
    for (uint32_t i = 0; i < attempt && t < cfg->max_timeout_ms; i++)
        t *= 2;
    return HP_MIN(t, (uint64_t)cfg->max_timeout_ms);
}

static bool config_valid(const struct hpc_config *cfg, char *err, size_t cap)
{
    if (!cfg->host || cfg->port == 0)
        return set_err(err, cap, "host and port are required");
    if (cfg->timeout_ms == 0 || cfg->max_timeout_ms < cfg->timeout_ms || cfg->max_attempts == 0)
        return set_err(err, cap, "timeouts and max_attempts must be positive");
    uint64_t horizon = 0;
    for (uint32_t i = 0; i + 1 < cfg->max_attempts && horizon <= HPPROTO_RETRY_HORIZON_MS; i++)
        horizon += rto_ms(cfg, i);
    /* The server's at-most-once guarantee holds only for retransmissions
     * within the horizon (docs/PROTOCOL.md, "Retries"). */
    if (horizon > HPPROTO_RETRY_HORIZON_MS)
        return set_err(err, cap, "retransmissions would span %llu ms, over the %d ms horizon",
                       (unsigned long long)horizon, HPPROTO_RETRY_HORIZON_MS);
    if (cfg->max_outstanding == 0 || cfg->max_outstanding > HPC_MAX_OUTSTANDING)
        return set_err(err, cap, "max_outstanding must be 1..%d", HPC_MAX_OUTSTANDING);
    if (cfg->max_datagram < HPPROTO_MIN_DGRAM || cfg->max_datagram > HPPROTO_MAX_DGRAM)
        return set_err(err, cap, "max_datagram must be %d..%d", HPPROTO_MIN_DGRAM,
                       HPPROTO_MAX_DGRAM);
    if (cfg->max_reply_dgram != 0 &&
        (cfg->max_reply_dgram < HPPROTO_MIN_DGRAM || cfg->max_reply_dgram > HPPROTO_MAX_DGRAM))
        return set_err(err, cap, "max_reply_dgram must be 0 or %d..%d", HPPROTO_MIN_DGRAM,
                       HPPROTO_MAX_DGRAM);
    if (cfg->max_reply_bytes == 0 || cfg->max_reply_bytes > HPPROTO_MAX_REPLY_LEN)
        return set_err(err, cap, "max_reply_bytes must be 1..%u", HPPROTO_MAX_REPLY_LEN);
    if (cfg->reasm_max_bytes < cfg->max_reply_bytes)
        return set_err(err, cap, "reasm_max_bytes must be >= max_reply_bytes");
    return true;
}

static uint64_t random_session_id(uint64_t avoid)
{
    for (;;) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
            /* No entropy source: time and address mixing still makes
             * collisions between clients unlikely, which is all we need. */
            v = clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&v;
            v *= 0x9e3779b97f4a7c15ull;
        }
        if (v != 0 && v != avoid)
            return v;
    }
}

static int open_socket(struct hpc_client *c, char *err, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(c->cfg.host, NULL, &hints, &ai);
    if (rc != 0 || !ai) {
        (void)set_err(err, cap, "cannot resolve %s: %s", c->cfg.host, gai_strerror(rc));
        return -1;
    }
    struct sockaddr_in sa;
    memcpy(&sa, ai->ai_addr, sizeof(sa));
    freeaddrinfo(ai);
    sa.sin_port = htons(c->cfg.port);
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        (void)set_err(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    /* A big receive buffer lets a fragmented reply arrive in one burst.
     * FORCE works for privileged users; the plain option is capped by
     * rmem_max.  Neither failing is fatal: retransmission fills holes. */
    int want = c->cfg.rcvbuf_bytes;
    if (want > 0 && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0 &&
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) != 0)
        c->last_errno = errno;
    /* Connected: the kernel drops datagrams from any other source. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        (void)set_err(err, cap, "connect %s:%u: %s", c->cfg.host, c->cfg.port, strerror(errno));
        return -1;
    }
    return 0;
}

struct hpc_client *hpc_open(const struct hpc_config *cfg, char *err, size_t errcap)
{
    if (!cfg || !config_valid(cfg, err, errcap))
        return NULL;
    struct hpc_client *c = calloc(1, sizeof(*c));
    if (!c) {
        (void)set_err(err, errcap, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->fd = -1;
    c->nslots = cfg->max_outstanding;
    c->slots = calloc(c->nslots, sizeof(c->slots[0]));
    c->done_fifo = calloc(c->nslots, sizeof(c->done_fifo[0]));
    c->stage = malloc(cfg->max_datagram);
    c->rx = malloc(HPC_RX_BUF);
    bool ok = c->slots && c->done_fifo && c->stage && c->rx;
    for (uint32_t i = 0; ok && i < c->nslots; i++)
        ok = (c->slots[i].dgram = malloc(cfg->max_datagram)) != NULL;
    struct hpproto_reasm_limits lim = {
        .max_pending = cfg->max_outstanding,
        .max_bytes = cfg->reasm_max_bytes,
        .max_reply_len = cfg->max_reply_bytes,
    };
    if (ok)
        ok = hpproto_reasm_init(&c->reasm, &lim) == 0;
    if (!ok) {
        (void)set_err(err, errcap, "out of memory");
        hpc_close(c);
        return NULL;
    }
    if (open_socket(c, err, errcap) != 0) {
        hpc_close(c);
        return NULL;
    }
    c->session_id = random_session_id(0);
    c->next_wire_id = 1;
    c->next_tag = 1;
    c->stats.sessions = 1;
    return c;
}

void hpc_result_free(struct hpc_result *res)
{
    if (!res)
        return;
    free(res->replies);
    free(res->raw);
    memset(res, 0, sizeof(*res));
}

void hpc_close(struct hpc_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0 && close(c->fd) != 0)
        c->last_errno = errno;   /* nothing left to report it to */
    for (uint32_t i = 0; c->slots && i < c->nslots; i++) {
        hpc_result_free(&c->slots[i].result);
        free(c->slots[i].dgram);
    }
    if (c->reasm.entries)
        hpproto_reasm_free(&c->reasm);
    free(c->slots);
    free(c->done_fifo);
    free(c->stage);
    free(c->rx);
    free(c);
}

/* ---- staging and sending --------------------------------------------------- */

static size_t put_header_line(uint8_t *p, char type, uint64_t v)
{
    int n = sprintf((char *)p, "%c%llu\r\n", type, (unsigned long long)v);
    HP_ASSERT(n > 0);
    return (size_t)n;
}

enum hpc_err hpc_append(struct hpc_client *c, int argc, const char *const *argv,
                        const size_t *argvlen)
{
    if (argc < 1 || !argv)
        return HPC_E_ARG;
    size_t need = 3 + u64_dec_len((uint64_t)argc);
    for (int i = 0; i < argc; i++) {
        if (!argv[i])
            return HPC_E_ARG;
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        need += 5 + u64_dec_len(n) + n;
        if (need > c->cfg.max_datagram)
            break;                          /* cannot fit; stop before overflow */
    }
    size_t room = c->cfg.max_datagram - HPPROTO_HDR_LEN;
    if (need > room)
        return HPC_E_TOO_BIG;          /* would not fit even alone */
    if (need > room - c->stage_len || c->stage_cmds == HPPROTO_MAX_CMDS)
        return HPC_E_FULL;
    uint8_t *p = c->stage + HPPROTO_HDR_LEN + c->stage_len;
    uint8_t *start = p;
    char line[32];                      /* sprintf's NUL must not land in the datagram */
    size_t n = put_header_line((uint8_t *)line, '*', (uint64_t)argc);
    memcpy(p, line, n);
    p += n;
    for (int i = 0; i < argc; i++) {
        size_t alen = argvlen ? argvlen[i] : strlen(argv[i]);
        n = put_header_line((uint8_t *)line, '$', alen);
        memcpy(p, line, n);
        p += n;
        memcpy(p, argv[i], alen);
        p += alen;
        *p++ = '\r';
        *p++ = '\n';
    }
    HP_ASSERT((size_t)(p - start) == need);
    c->stage_len += need;
    c->stage_cmds++;
    return HPC_OK;
}

static void transmit(struct hpc_client *c, struct hpc_slot *s, uint64_t now)
{
    struct hpproto_hdr h;
    hpproto_request_hdr(&h, c->session_id, s->wire_id, s->ncmds,
                        (uint32_t)(s->len - HPPROTO_HDR_LEN));
    h.max_dgram = (uint16_t)c->cfg.max_reply_dgram;
    if (s->attempts > 0)
        h.flags |= HPPROTO_F_RETRY;
    if (c->have_cookie) {
        h.flags |= HPPROTO_F_COOKIE;
        h.cookie = c->cookie;
    }
    hpproto_encode(&h, s->dgram);
    /* A failed send is a lost datagram: the retransmission timer covers it
     * (ECONNREFUSED here is a stale ICMP error from an earlier datagram). */
    if (send(c->fd, s->dgram, s->len, 0) != (ssize_t)s->len) {
        c->stats.tx_errors++;
        c->last_errno = errno;
    } else {
        c->stats.tx_datagrams++;
    }
    s->deadline_ns = now + rto_ms(&c->cfg, s->attempts) * 1000000ull;
    s->attempts++;
}

/* The oldest request id in flight, or 0. */
static uint64_t oldest_wire_id(const struct hpc_client *c)
{
    uint64_t oldest = 0;
    for (uint32_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state == SLOT_INFLIGHT &&
            (oldest == 0 || c->slots[i].wire_id < oldest))
            oldest = c->slots[i].wire_id;
    return oldest;
}

enum hpc_err hpc_send(struct hpc_client *c, uint64_t *tag)
{
    if (c->stage_cmds == 0)
        return HPC_E_EMPTY;
    if (c->inflight + c->done_count >= c->nslots)
        return HPC_E_WINDOW;
    /* Ids in flight must span less than the server's window, or a slow
     * request could be answered TOO_OLD. */
    uint64_t oldest = oldest_wire_id(c);
    if (oldest && c->next_wire_id - oldest >= HPPROTO_ID_WINDOW)
        return HPC_E_WINDOW;
    struct hpc_slot *s = NULL;
    for (uint32_t i = 0; i < c->nslots && !s; i++)
        if (c->slots[i].state == SLOT_FREE)
            s = &c->slots[i];
    HP_ASSERT(s != NULL);
    uint8_t *spare = s->dgram;          /* swap buffers: no copy */
    s->dgram = c->stage;
    c->stage = spare;
    s->state = SLOT_INFLIGHT;
    s->tag = c->next_tag++;
    s->wire_id = c->next_wire_id++;
    s->ncmds = c->stage_cmds;
    s->len = HPPROTO_HDR_LEN + c->stage_len;
    s->attempts = 0;
    s->cookie_resends = 0;
    s->migrations = 0;
    c->stage_len = 0;
    c->stage_cmds = 0;
    c->inflight++;
    transmit(c, s, clock_mono_ns());
    if (tag)
        *tag = s->tag;
    return HPC_OK;
}

/* ---- receiving ------------------------------------------------------------- */

static void finish(struct hpc_client *c, struct hpc_slot *s, enum hpc_err status,
                   uint16_t server_status, uint8_t *raw, size_t raw_len)
{
    HP_ASSERT(s->state == SLOT_INFLIGHT && c->inflight > 0);
    hpproto_reasm_drop(&c->reasm, c->session_id, s->wire_id);
    struct hpc_result *r = &s->result;
    memset(r, 0, sizeof(*r));
    r->tag = s->tag;
    r->status = status;
    r->server_status = server_status;
    r->attempts = s->attempts;
    if (status == HPC_OK) {
        enum hpc_err pe = hpc_parse_replies(raw, raw_len, s->ncmds, &r->replies);
        if (pe == HPC_OK) {
            r->nreplies = s->ncmds;
            r->raw = raw;
            r->raw_len = raw_len;
            raw = NULL;
        } else {
            r->status = pe;
        }
    }
    free(raw);
    s->state = SLOT_DONE;
    c->inflight--;
    HP_ASSERT(c->done_count < c->nslots);
    c->done_fifo[(c->done_head + c->done_count) % c->nslots] = (uint32_t)(s - c->slots);
    c->done_count++;
}

static struct hpc_slot *find_inflight(struct hpc_client *c, uint64_t wire_id)
{
    for (uint32_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state == SLOT_INFLIGHT && c->slots[i].wire_id == wire_id)
            return &c->slots[i];
    return NULL;
}

/* The server forgot our session (restart, or idle eviction).  Every request
 * in flight provably was not executed (PROTOCOL.md "Sessions"), so all move
 * to a fresh session, ids from 1, and go out again. */
static void migrate_session(struct hpc_client *c, uint64_t now)
{
    for (uint32_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state == SLOT_INFLIGHT)
            hpproto_reasm_drop(&c->reasm, c->session_id, c->slots[i].wire_id);
    c->session_id = random_session_id(c->session_id);
    c->have_cookie = false;
    c->cookie = 0;
    c->next_wire_id = 1;
    c->stats.sessions++;
    for (uint32_t i = 0; i < c->nslots; i++) {
        struct hpc_slot *s = &c->slots[i];
        if (s->state != SLOT_INFLIGHT)
            continue;
        s->wire_id = c->next_wire_id++;
        transmit(c, s, now);
    }
}

static void handle_ok(struct hpc_client *c, struct hpc_slot *s, const struct hpproto_hdr *h,
                      const uint8_t *payload, size_t plen, uint64_t now)
{
    if (h->total_len > c->cfg.max_reply_bytes) {
        finish(c, s, HPC_E_TOO_BIG, 0, NULL, 0);
        return;
    }
    if (h->frag_count == 1) {
        uint8_t *raw = malloc(plen);
        if (!raw) {
            finish(c, s, HPC_E_NOMEM, 0, NULL, 0);
            return;
        }
        memcpy(raw, payload, plen);
        finish(c, s, HPC_OK, 0, raw, plen);
        return;
    }
    struct hpproto_reasm_entry *done = NULL;
    enum hpproto_reasm_result res = hpproto_reasm_add(&c->reasm, h, payload, plen, now, &done);
    switch (res) {
    case HPPROTO_REASM_COMPLETE: {
        size_t total = done->total_len;
        finish(c, s, HPC_OK, 0, hpproto_reasm_take(&c->reasm, done), total);
        return;
    }
    case HPPROTO_REASM_PARTIAL:
    case HPPROTO_REASM_DUPLICATE:
        return;
    default:
        /* Refused (limits, inconsistency): the retransmission brings the
         * reply again, and by then room may have been freed. */
        c->stats.reasm_dropped++;
        return;
    }
}

static void handle_datagram(struct hpc_client *c, const uint8_t *d, size_t len, uint64_t now)
{
    struct hpproto_hdr h;
    if (hpproto_decode(d, len, &h) != HPPROTO_OK) {
        c->stats.rx_invalid++;
        return;
    }
    struct hpc_slot *s = (h.flags & HPPROTO_F_REPLY) && h.session_id == c->session_id
                             ? find_inflight(c, h.request_id) : NULL;
    if (!s) {
        c->stats.rx_ignored++;      /* late duplicate, old session, or not ours */
        return;
    }
    if (h.cmd_count != s->ncmds) {
        finish(c, s, HPC_E_PROTO, 0, NULL, 0);
        return;
    }
    if (h.flags & HPPROTO_F_COOKIE) {
        c->cookie = h.cookie;
        c->have_cookie = true;
    }
    switch (h.status) {
    case HPPROTO_ST_OK:
        handle_ok(c, s, &h, d + HPPROTO_HDR_LEN, len - HPPROTO_HDR_LEN, now);
        return;
    case HPPROTO_ST_COOKIE:
        c->stats.cookie_handshakes++;
        if (++s->cookie_resends > HPC_MAX_COOKIE_RESENDS)
            finish(c, s, HPC_E_SERVER, h.status, NULL, 0);
        else
            transmit(c, s, now);
        return;
    case HPPROTO_ST_SESSION_LOST:
        if (++s->migrations > HPC_MAX_MIGRATIONS)
            finish(c, s, HPC_E_SERVER, h.status, NULL, 0);
        else
            migrate_session(c, now);
        return;
    case HPPROTO_ST_BUSY:
        c->stats.busy++;             /* not executed: the retransmission timer retries */
        return;
    default:
        finish(c, s, HPC_E_SERVER, h.status, NULL, 0);
        return;
    }
}

static void drain(struct hpc_client *c)
{
    for (int i = 0; i < HPC_DRAIN_MAX && c->inflight > 0; i++) {
        ssize_t n = recv(c->fd, c->rx, HPC_RX_BUF, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED)
                continue;            /* ICMP port unreachable: like a loss */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->last_errno = errno;
            return;
        }
        c->stats.rx_datagrams++;
        handle_datagram(c, c->rx, (size_t)n, clock_mono_ns());
    }
}

static void retransmit_due(struct hpc_client *c, uint64_t now)
{
    for (uint32_t i = 0; i < c->nslots; i++) {
        struct hpc_slot *s = &c->slots[i];
        if (s->state != SLOT_INFLIGHT || now < s->deadline_ns)
            continue;
        if (s->attempts >= c->cfg.max_attempts) {
            c->stats.timeouts++;
            finish(c, s, HPC_E_TIMEOUT, 0, NULL, 0);
        } else {
            c->stats.retransmits++;
            transmit(c, s, now);
        }
    }
}

static uint64_t earliest_deadline(const struct hpc_client *c)
{
    uint64_t t = UINT64_MAX;
    for (uint32_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state == SLOT_INFLIGHT)
            t = HP_MIN(t, c->slots[i].deadline_ns);
    return t;
}

static bool pop_done(struct hpc_client *c, struct hpc_result *res)
{
    if (c->done_count == 0)
        return false;
    struct hpc_slot *s = &c->slots[c->done_fifo[c->done_head]];
    HP_ASSERT(s->state == SLOT_DONE);
    c->done_head = (c->done_head + 1) % c->nslots;
    c->done_count--;
    *res = s->result;               /* ownership moves to the caller */
    memset(&s->result, 0, sizeof(s->result));
    s->state = SLOT_FREE;
    return true;
}

enum hpc_err hpc_recv(struct hpc_client *c, int timeout_ms, struct hpc_result *res)
{
    HP_ASSERT(res != NULL);
    memset(res, 0, sizeof(*res));
    uint64_t now = clock_mono_ns();
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        if (pop_done(c, res))
            return HPC_OK;
        /* Every request in flight has a finite retransmission budget, so
         * waiting without a timeout still ends. */
        if (c->inflight == 0)
            return HPC_E_EMPTY;
        drain(c);
        now = clock_mono_ns();
        retransmit_due(c, now);
        if (c->done_count)
            continue;
        if (now >= deadline)
            return HPC_E_AGAIN;
        uint64_t until = HP_MIN(deadline, earliest_deadline(c));
        uint64_t wait = until > now ? until - now : 0;
        struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
            c->last_errno = errno;
            return HPC_E_SYS;
        }
    }
}

enum hpc_err hpc_command(struct hpc_client *c, int argc, const char *const *argv,
                         const size_t *argvlen, struct hpc_result *res)
{
    HP_ASSERT(res != NULL);
    memset(res, 0, sizeof(*res));
    if (c->stage_cmds || c->inflight || c->done_count)
        return HPC_E_BUSY;
    enum hpc_err e = hpc_append(c, argc, argv, argvlen);
    if (e == HPC_OK)
        e = hpc_send(c, NULL);
    if (e != HPC_OK) {
        c->stage_len = 0;
        c->stage_cmds = 0;
        return e;
    }
    e = hpc_recv(c, -1, res);
    HP_ASSERT(e == HPC_OK || e == HPC_E_SYS);
    return e == HPC_OK ? res->status : e;
}

uint32_t hpc_outstanding(const struct hpc_client *c)
{
    return c->inflight + c->done_count;
}

const struct hpc_stats *hpc_get_stats(const struct hpc_client *c)
{
    return &c->stats;
}

uint64_t hpc_session_id(const struct hpc_client *c)
{
    return c->session_id;
}

int hpc_last_errno(const struct hpc_client *c)
{
    return c->last_errno;
}

const char *hpc_strerror(enum hpc_err e)
{
    static const char *const names[] = {
        "ok", "nothing finished yet", "nothing to do", "no reply (outcome unknown)",
        "server status", "invalid reply", "too big", "datagram full", "window full",
        "busy", "invalid argument", "system error", "out of memory",
    };
    _Static_assert(HP_ARRAY_LEN(names) == HPC_E_COUNT, "hpc_err names");
    return (unsigned)e < HPC_E_COUNT ? names[e] : "unknown error";
}
