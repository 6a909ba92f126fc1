/* test_hpclient.c - the UDP client library (wire/hpclient) against a
 * small in-process server that speaks docs/PROTOCOL.md on 127.0.0.1 and can
 * lose, reorder, duplicate and fragment on request. */
#include "cu_main.h"
#include "hpclient.h"
#include "resp.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- fake server ------------------------------------------------------------ */

#define FAKE_SESSIONS 8
#define FAKE_STORE 64
#define FAKE_MAX_FRAGS 256

/* Fault injection, set by a test while holding the mutex. */
struct fake_ctl {
    int drop_requests;        /* drop the next N request datagrams unread */
    int drop_replies;         /* execute, then drop the next N whole replies */
    int drop_fragment_once;   /* >= 0: leave out this fragment index once */
    bool reverse_fragments;
    bool duplicate_fragments;
    bool duplicate_replies;   /* every reply datagram sent twice */
    bool hold_next_reply;     /* keep the next reply; send it after the one after */
    int session_lost_once;    /* answer SESSION_LOST to the next N verified requests */
    int force_status;         /* answer this status once (0: off) */
    uint32_t dgram_max;       /* server's own reply datagram limit */
    bool drop_stuck;          /* drop every request whose payload holds "stuck" */
    bool bad_cmd_count;       /* next OK reply claims one command more */
};

struct fake_stats {
    int requests, dropped, cookie_replies, executed, duplicates_answered, sessions_created;
    int64_t counter;          /* INCR's value */
};

struct fake_session {
    bool used;
    uint32_t ip;
    uint16_t port;
    uint64_t id;
    struct hpproto_window win;
    struct { uint64_t id; uint8_t *data; size_t len; } store[FAKE_STORE];
};

struct fake_dgram {
    uint8_t *data;
    size_t len;
};

struct fake_server {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct fake_ctl ctl;
    struct fake_stats stats;
    struct hpproto_cookie_keys keys;
    struct fake_session sessions[FAKE_SESSIONS];
    struct sockaddr_in held_to;
    struct fake_dgram held[FAKE_MAX_FRAGS];
    int nheld;
};

static void fake_sendto(struct fake_server *s, const struct sockaddr_in *to, const uint8_t *d,
                        size_t len)
{
    ssize_t n = sendto(s->fd, d, len, 0, (const struct sockaddr *)to, sizeof(*to));
    HP_ASSERT(n == (ssize_t)len);
}

static void send_header_only(struct fake_server *s, const struct sockaddr_in *to,
                             const struct hpproto_hdr *req, enum hpproto_status st)
{
    struct hpproto_hdr h;
    hpproto_reply_hdr(&h, req, st, 0);
    if (st == HPPROTO_ST_COOKIE) {
        h.flags |= HPPROTO_F_COOKIE;
        h.cookie = hpproto_cookie_make(&s->keys, ntohl(to->sin_addr.s_addr),
                                       ntohs(to->sin_port), req->session_id);
    }
    uint8_t d[HPPROTO_HDR_LEN];
    hpproto_encode(&h, d);
    fake_sendto(s, to, d, sizeof(d));
}

static void flush_held(struct fake_server *s)
{
    for (int i = 0; i < s->nheld; i++) {
        fake_sendto(s, &s->held_to, s->held[i].data, s->held[i].len);
        free(s->held[i].data);
    }
    s->nheld = 0;
}

/* Fragments and sends (or holds, drops, reorders) one OK reply. */
static void send_reply(struct fake_server *s, const struct sockaddr_in *to,
                       const struct hpproto_hdr *req, const uint8_t *payload, size_t len)
{
    struct fake_dgram out[FAKE_MAX_FRAGS];
    uint32_t size = hpproto_frag_size(hpproto_reply_dgram(s->ctl.dgram_max, req));
    uint32_t count = hpproto_frag_count((uint32_t)len, size);
    HP_ASSERT(count >= 1 && count <= FAKE_MAX_FRAGS);
    for (uint32_t i = 0; i < count; i++) {
        struct hpproto_hdr h;
        hpproto_reply_hdr(&h, req, HPPROTO_ST_OK, (uint32_t)len);
        if (s->ctl.bad_cmd_count)
            h.cmd_count++;
        uint32_t n = hpproto_frag_hdr(&h, (uint32_t)len, size, (uint16_t)i);
        out[i].data = malloc(HPPROTO_HDR_LEN + n);
        HP_ASSERT(out[i].data != NULL);
        hpproto_encode(&h, out[i].data);
        memcpy(out[i].data + HPPROTO_HDR_LEN, payload + h.frag_offset, n);
        out[i].len = HPPROTO_HDR_LEN + n;
    }
    s->ctl.bad_cmd_count = false;
    if (s->ctl.hold_next_reply) {
        s->ctl.hold_next_reply = false;
        memcpy(s->held, out, count * sizeof(out[0]));
        s->nheld = (int)count;
        s->held_to = *to;
        return;
    }
    bool drop_all = s->ctl.drop_replies > 0;
    if (drop_all)
        s->ctl.drop_replies--;
    int skip = count > 1 ? s->ctl.drop_fragment_once : -1;
    if (skip >= 0)
        s->ctl.drop_fragment_once = -1;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = s->ctl.reverse_fragments ? count - 1 - k : k;
        int copies = (s->ctl.duplicate_fragments && count > 1) || s->ctl.duplicate_replies ? 2 : 1;
        for (int c = 0; c < copies && !drop_all && (int)i != skip; c++)
            fake_sendto(s, to, out[i].data, out[i].len);
        free(out[i].data);
    }
    flush_held(s);
}

static void run_command(struct fake_server *s, const struct resp_parser *p, struct rbuf *out)
{
    struct hp_slice *a = p->argv;
    if (p->argc == 1 && slice_eq_nocase(a[0], "PING")) {
        resp_add_simple(out, "PONG");
    } else if (p->argc == 2 && slice_eq_nocase(a[0], "ECHO")) {
        resp_add_bulk(out, a[1].ptr, a[1].len);
    } else if (p->argc == 2 && slice_eq_nocase(a[0], "INCR")) {
        resp_add_int(out, ++s->stats.counter);
    } else if (p->argc == 2 && slice_eq_nocase(a[0], "BIG")) {
        int64_t n;
        HP_ASSERT(str_to_i64(a[1].ptr, a[1].len, &n) == 0 && n >= 0 && n <= (1 << 22));
        uint8_t *big = malloc((size_t)n + 1);
        HP_ASSERT(big != NULL);
        for (int64_t i = 0; i < n; i++)
            big[i] = (uint8_t)(i * 7 + 3);
        resp_add_bulk(out, big, (size_t)n);
        free(big);
    } else {
        resp_add_error(out, "ERR unknown command");
    }
}

/* Parses every command first (nothing runs if any is malformed), then runs. */
static bool execute(struct fake_server *s, const struct hpproto_hdr *h, const uint8_t *pl,
                    size_t len, struct rbuf *out)
{
    struct resp_parser p;
    HP_ASSERT(resp_parser_init(&p, 1 << 20, 1024) == 0);
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        off = 0;
        for (int i = 0; i < h->cmd_count; i++) {
            size_t used = 0;
            if (resp_parse(&p, pl + off, len - off, &used) != RESP_PARSE_OK) {
                resp_parser_free(&p);
                return false;
            }
            if (pass == 1)
                run_command(s, &p, out);
            off += used;
            resp_parser_reset(&p);
        }
        if (off != len) {
            resp_parser_free(&p);
            return false;
        }
    }
    resp_parser_free(&p);
    return true;
}

static struct fake_session *session_get(struct fake_server *s, uint32_t ip, uint16_t port,
                                        uint64_t id, bool create)
{
    struct fake_session *free_one = NULL;
    for (int i = 0; i < FAKE_SESSIONS; i++) {
        struct fake_session *x = &s->sessions[i];
        if (x->used && x->ip == ip && x->port == port && x->id == id)
            return x;
        if (!x->used && !free_one)
            free_one = x;
    }
    if (!create || !free_one)
        return NULL;
    memset(free_one, 0, sizeof(*free_one));
    free_one->used = true;
    free_one->ip = ip;
    free_one->port = port;
    free_one->id = id;
    hpproto_window_init(&free_one->win);
    s->stats.sessions_created++;
    return free_one;
}

static void store_reply(struct fake_session *x, uint64_t id, const uint8_t *d, size_t len)
{
    int slot = (int)(id % FAKE_STORE);
    free(x->store[slot].data);
    x->store[slot].id = id;
    x->store[slot].data = malloc(len);
    HP_ASSERT(x->store[slot].data != NULL);
    memcpy(x->store[slot].data, d, len);
    x->store[slot].len = len;
}

static void handle_request(struct fake_server *s, const uint8_t *d, size_t len,
                           const struct sockaddr_in *from)
{
    struct hpproto_hdr h;
    enum hpproto_err e = hpproto_decode(d, len, &h);
    if (e == HPPROTO_E_VERSION) {
        send_header_only(s, from, &h, HPPROTO_ST_VERSION);
        return;
    }
    if (e != HPPROTO_OK || (h.flags & HPPROTO_F_REPLY))
        return;
    s->stats.requests++;
    if (s->ctl.drop_stuck && memmem(d + HPPROTO_HDR_LEN, len - HPPROTO_HDR_LEN, "stuck", 5)) {
        s->stats.dropped++;
        return;
    }
    if (s->ctl.drop_requests > 0) {
        s->ctl.drop_requests--;
        s->stats.dropped++;
        return;
    }
    uint32_t ip = ntohl(from->sin_addr.s_addr);
    uint16_t port = ntohs(from->sin_port);
    if (!(h.flags & HPPROTO_F_COOKIE) ||
        hpproto_cookie_check(&s->keys, h.cookie, ip, port, h.session_id) == HPPROTO_COOKIE_INVALID) {
        s->stats.cookie_replies++;
        send_header_only(s, from, &h, HPPROTO_ST_COOKIE);
        return;
    }
    if (s->ctl.force_status) {
        send_header_only(s, from, &h, (enum hpproto_status)s->ctl.force_status);
        s->ctl.force_status = 0;
        return;
    }
    if (s->ctl.session_lost_once > 0) {
        s->ctl.session_lost_once--;
        send_header_only(s, from, &h, HPPROTO_ST_SESSION_LOST);
        return;
    }
    struct fake_session *x = session_get(s, ip, port, h.session_id, false);
    if (!x && !hpproto_window_may_start(h.request_id)) {
        send_header_only(s, from, &h, HPPROTO_ST_SESSION_LOST);
        return;
    }
    if (!x && !(x = session_get(s, ip, port, h.session_id, true))) {
        send_header_only(s, from, &h, HPPROTO_ST_BUSY);
        return;
    }
    enum hpproto_window_verdict v = hpproto_window_check(&x->win, h.request_id);
    if (v == HPPROTO_WIN_TOO_OLD) {
        send_header_only(s, from, &h, HPPROTO_ST_TOO_OLD);
        return;
    }
    if (v == HPPROTO_WIN_DUPLICATE) {
        int slot = (int)(h.request_id % FAKE_STORE);
        if (x->store[slot].data && x->store[slot].id == h.request_id) {
            s->stats.duplicates_answered++;
            send_reply(s, from, &h, x->store[slot].data, x->store[slot].len);
        } else {
            send_header_only(s, from, &h, HPPROTO_ST_DUP_GONE);
        }
        return;
    }
    struct rbuf out;
    rbuf_init(&out, HPPROTO_MAX_REPLY_LEN);
    if (!execute(s, &h, d + HPPROTO_HDR_LEN, len - HPPROTO_HDR_LEN, &out)) {
        send_header_only(s, from, &h, HPPROTO_ST_MALFORMED);
    } else {
        HP_ASSERT(!out.overflow);
        s->stats.executed++;
        hpproto_window_mark(&x->win, h.request_id);
        store_reply(x, h.request_id, out.data, out.len);
        send_reply(s, from, &h, out.data, out.len);
    }
    rbuf_free(&out);
}

static void *fake_main(void *arg)
{
    struct fake_server *s = arg;
    static _Thread_local uint8_t buf[65536];
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (n < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        handle_request(s, buf, (size_t)n, &from);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static struct fake_server *fake_start(void)
{
    struct fake_server *s = calloc(1, sizeof(*s));
    HP_ASSERT(s != NULL);
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    HP_ASSERT(s->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    HP_ASSERT(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    socklen_t len = sizeof(sa);
    HP_ASSERT(getsockname(s->fd, (struct sockaddr *)&sa, &len) == 0);
    s->port = ntohs(sa.sin_port);
    int big = 4 << 20;
    HP_ASSERT(setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) == 0);
    uint8_t key[16] = {0x5e, 0xc2, 0xe7};
    hpproto_cookie_init(&s->keys, key);
    s->ctl.drop_fragment_once = -1;
    s->ctl.dgram_max = 1472;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stop, false);
    HP_ASSERT(pthread_create(&s->thread, NULL, fake_main, s) == 0);
    return s;
}

static void fake_stop(struct fake_server *s)
{
    atomic_store(&s->stop, true);
    HP_ASSERT(pthread_join(s->thread, NULL) == 0);
    HP_ASSERT(close(s->fd) == 0);
    for (int i = 0; i < FAKE_SESSIONS; i++)
        for (int k = 0; k < FAKE_STORE; k++)
            free(s->sessions[i].store[k].data);
    for (int i = 0; i < s->nheld; i++)
        free(s->held[i].data);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

#define FAKE_SET(s, stmt)                                                     \
    do {                                                                      \
        pthread_mutex_lock(&(s)->mu);                                         \
        stmt;                                                                 \
        pthread_mutex_unlock(&(s)->mu);                                       \
    } while (0)

static struct fake_stats fake_stats(struct fake_server *s)
{
    pthread_mutex_lock(&s->mu);
    struct fake_stats st = s->stats;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- client helpers --------------------------------------------------------- */

static struct hpc_client *client_for(const struct fake_server *s, uint32_t timeout_ms)
{
    struct hpc_config cfg;
    hpc_config_defaults(&cfg);
    cfg.port = s->port;
    cfg.timeout_ms = timeout_ms;
    cfg.max_timeout_ms = timeout_ms * 2;
    cfg.max_attempts = 5;
    char err[256];
    struct hpc_client *c = hpc_open(&cfg, err, sizeof(err));
    if (!c)
        fprintf(stderr, "hpc_open: %s\n", err);
    HP_ASSERT(c != NULL);
    return c;
}

static enum hpc_err cmd1(struct hpc_client *c, struct hpc_result *r, const char *a0, const char *a1)
{
    const char *argv[2] = {a0, a1};
    return hpc_command(c, a1 ? 2 : 1, argv, NULL, r);
}

static bool reply_is(const struct hpc_reply *r, enum hpc_reply_type t, const char *s)
{
    return r->type == t && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* ---- tests against the fake server ------------------------------------------ */

static void test_basic_and_handshake(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    CU_ASSERT_EQUAL(r.nreplies, 1);
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_STRING, "PONG"));
    CU_ASSERT_EQUAL(r.attempts, 2);                   /* request, COOKIE, request again */
    hpc_result_free(&r);

    static const char bin[] = "a\0b\r\nc";
    const char *argv[2] = {"ECHO", bin};
    size_t lens[2] = {4, sizeof(bin) - 1};
    CU_ASSERT_EQUAL(hpc_command(c, 2, argv, lens, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.replies[0].type, HPC_REPLY_BULK);
    CU_ASSERT_EQUAL(r.replies[0].len, sizeof(bin) - 1);
    CU_ASSERT_EQUAL(memcmp(r.replies[0].str, bin, sizeof(bin) - 1), 0);
    CU_ASSERT_EQUAL(r.attempts, 1);                   /* cookie known now */
    hpc_result_free(&r);

    CU_ASSERT_EQUAL(cmd1(c, &r, "NOPE", NULL), HPC_OK);   /* a command error is a reply */
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_ERROR, "ERR unknown command"));
    hpc_result_free(&r);

    struct fake_stats st = fake_stats(s);
    CU_ASSERT_EQUAL(st.cookie_replies, 1);
    CU_ASSERT_EQUAL(st.executed, 3);
    CU_ASSERT_EQUAL(st.sessions_created, 1);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->cookie_handshakes, 1);
    CU_ASSERT_EQUAL(hpc_outstanding(c), 0);
    CU_ASSERT_EQUAL(hpc_recv(c, 10, &r), HPC_E_EMPTY);
    hpc_close(c);
    fake_stop(s);
}

static void test_pipeline_in_one_datagram(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    const char *ping[] = {"PING"}, *echo[] = {"ECHO", "hello"}, *incr[] = {"INCR", "k"};
    CU_ASSERT_EQUAL(hpc_append(c, 1, ping, NULL), HPC_OK);
    CU_ASSERT_EQUAL(hpc_append(c, 2, echo, NULL), HPC_OK);
    CU_ASSERT_EQUAL(hpc_append(c, 2, incr, NULL), HPC_OK);
    uint64_t tag;
    CU_ASSERT_EQUAL(hpc_send(c, &tag), HPC_OK);
    CU_ASSERT_EQUAL(hpc_send(c, &tag), HPC_E_EMPTY);     /* nothing staged any more */
    struct hpc_result r;
    CU_ASSERT_EQUAL_FATAL(hpc_recv(c, 2000, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.tag, tag);
    CU_ASSERT_EQUAL(r.status, HPC_OK);
    CU_ASSERT_EQUAL_FATAL(r.nreplies, 3);
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_STRING, "PONG"));
    CU_ASSERT_TRUE(reply_is(&r.replies[1], HPC_REPLY_BULK, "hello"));
    CU_ASSERT_EQUAL(r.replies[2].type, HPC_REPLY_INTEGER);
    CU_ASSERT_EQUAL(r.replies[2].integer, 1);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(fake_stats(s).executed, 1);          /* one datagram, one execution */
    hpc_close(c);
    fake_stop(s);
}

static void test_many_outstanding(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    enum { N = 64 };
    uint64_t tags[N];
    char vals[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof(vals[i]), "v%d", i);
        const char *argv[] = {"ECHO", vals[i]};
        CU_ASSERT_EQUAL_FATAL(hpc_append(c, 2, argv, NULL), HPC_OK);
        CU_ASSERT_EQUAL_FATAL(hpc_send(c, &tags[i]), HPC_OK);
    }
    CU_ASSERT_EQUAL(hpc_outstanding(c), N);
    const char *argv[] = {"PING"};
    CU_ASSERT_EQUAL(hpc_append(c, 1, argv, NULL), HPC_OK);
    uint64_t extra;
    CU_ASSERT_EQUAL(hpc_send(c, &extra), HPC_E_WINDOW);  /* max_outstanding 64 */
    bool seen[N] = {false};
    int got = 0;
    struct hpc_result r;
    while (got < N && hpc_recv(c, 3000, &r) == HPC_OK) {
        int i = -1;
        for (int k = 0; k < N; k++)
            if (tags[k] == r.tag)
                i = k;
        CU_ASSERT_FATAL(i >= 0);
        CU_ASSERT_FALSE(seen[i]);
        seen[i] = true;
        CU_ASSERT_EQUAL(r.status, HPC_OK);
        if (r.status == HPC_OK)
            CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_BULK, vals[i]));
        hpc_result_free(&r);
        got++;
    }
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(hpc_send(c, &extra), HPC_OK);        /* room again; PING still staged */
    CU_ASSERT_EQUAL(hpc_recv(c, 3000, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.tag, extra);
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static void test_lost_request_retried(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 250);
    FAKE_SET(s, s->ctl.drop_requests = 1);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    CU_ASSERT_EQUAL(r.attempts, 3);        /* lost, then COOKIE, then answered */
    hpc_result_free(&r);
    struct fake_stats st = fake_stats(s);
    CU_ASSERT_EQUAL(st.dropped, 1);
    CU_ASSERT_EQUAL(st.executed, 1);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->retransmits, 1);
    hpc_close(c);
    fake_stop(s);
}

/* The reply to an INCR is lost after it ran: the retry (same request id)
 * must get the kept reply, not a second increment. */
static void test_retried_incr_applied_once(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 250);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    hpc_result_free(&r);
    FAKE_SET(s, s->ctl.drop_replies = 2);
    CU_ASSERT_EQUAL(cmd1(c, &r, "INCR", "counter"), HPC_OK);
    CU_ASSERT_EQUAL(r.replies[0].type, HPC_REPLY_INTEGER);
    CU_ASSERT_EQUAL(r.replies[0].integer, 1);
    CU_ASSERT_EQUAL(r.attempts, 3);
    hpc_result_free(&r);
    struct fake_stats st = fake_stats(s);
    CU_ASSERT_EQUAL(st.counter, 1);
    CU_ASSERT_EQUAL(st.duplicates_answered, 2);
    CU_ASSERT_EQUAL(cmd1(c, &r, "INCR", "counter"), HPC_OK);
    CU_ASSERT_EQUAL(r.replies[0].integer, 2);
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static void test_reordered_replies(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    hpc_result_free(&r);
    FAKE_SET(s, s->ctl.hold_next_reply = true);
    const char *a[] = {"ECHO", "first"}, *b[] = {"ECHO", "second"};
    uint64_t ta, tb;
    CU_ASSERT_EQUAL(hpc_append(c, 2, a, NULL), HPC_OK);
    CU_ASSERT_EQUAL(hpc_send(c, &ta), HPC_OK);
    CU_ASSERT_EQUAL(hpc_append(c, 2, b, NULL), HPC_OK);
    CU_ASSERT_EQUAL(hpc_send(c, &tb), HPC_OK);
    CU_ASSERT_EQUAL_FATAL(hpc_recv(c, 2000, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.tag, tb);                            /* second answered first */
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_BULK, "second"));
    hpc_result_free(&r);
    CU_ASSERT_EQUAL_FATAL(hpc_recv(c, 2000, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.tag, ta);
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_BULK, "first"));
    CU_ASSERT_EQUAL(r.attempts, 1);
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static bool big_ok(const struct hpc_result *r, size_t n)
{
    if (r->status != HPC_OK || r->nreplies != 1 || r->replies[0].type != HPC_REPLY_BULK ||
        r->replies[0].len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)r->replies[0].str[i] != (uint8_t)(i * 7 + 3))
            return false;
    return true;
}

static void test_fragmented_200k(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "BIG", "200000"), HPC_OK);
    CU_ASSERT_TRUE(big_ok(&r, 200000));
    CU_ASSERT_EQUAL(r.raw_len, 200000 + 11);              /* "$200000\r\n" ... "\r\n" */
    hpc_result_free(&r);

    /* Reversed and duplicated fragments. */
    FAKE_SET(s, (s->ctl.reverse_fragments = true, s->ctl.duplicate_fragments = true));
    CU_ASSERT_EQUAL(cmd1(c, &r, "BIG", "200000"), HPC_OK);
    CU_ASSERT_TRUE(big_ok(&r, 200000));
    CU_ASSERT_EQUAL(r.attempts, 1);
    hpc_result_free(&r);

    /* One fragment lost: the retry brings the kept reply, the hole fills. */
    FAKE_SET(s, (s->ctl.reverse_fragments = false, s->ctl.duplicate_fragments = false,
                 s->ctl.drop_fragment_once = 70));
    CU_ASSERT_EQUAL(cmd1(c, &r, "BIG", "200000"), HPC_OK);
    CU_ASSERT_TRUE(big_ok(&r, 200000));
    CU_ASSERT_EQUAL(r.attempts, 2);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(fake_stats(s).executed, 3);           /* the retry was answered from the store */
    CU_ASSERT_EQUAL(fake_stats(s).duplicates_answered, 1);
    hpc_close(c);
    fake_stop(s);
}

static void test_reply_over_client_limit(void)
{
    struct fake_server *s = fake_start();
    struct hpc_config cfg;
    hpc_config_defaults(&cfg);
    cfg.port = s->port;
    cfg.max_reply_bytes = 100000;
    struct hpc_client *c = hpc_open(&cfg, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "BIG", "200000"), HPC_E_TOO_BIG);
    CU_ASSERT_EQUAL(r.nreplies, 0);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(cmd1(c, &r, "BIG", "99000"), HPC_OK);  /* still usable */
    CU_ASSERT_TRUE(big_ok(&r, 99000));
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static double elapsed_ms(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void test_timeout_bounded(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 10);          /* 10, 20, 20, 20, 20 ms */
    FAKE_SET(s, s->ctl.drop_requests = 1000);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_E_TIMEOUT);
    double ms = elapsed_ms(t0);
    CU_ASSERT(ms >= 85 && ms < 2000);
    CU_ASSERT_EQUAL(r.attempts, 5);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->timeouts, 1);
    CU_ASSERT_EQUAL(fake_stats(s).dropped, 5);
    /* hpc_recv with a timeout and nothing finished: AGAIN, then the result. */
    const char *argv[] = {"PING"};
    CU_ASSERT_EQUAL(hpc_append(c, 1, argv, NULL), HPC_OK);
    uint64_t tag;
    CU_ASSERT_EQUAL(hpc_send(c, &tag), HPC_OK);
    CU_ASSERT_EQUAL(hpc_recv(c, 5, &r), HPC_E_AGAIN);
    CU_ASSERT_EQUAL(hpc_recv(c, -1, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.status, HPC_E_TIMEOUT);
    CU_ASSERT_EQUAL(r.tag, tag);
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static void test_session_lost_migrates(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    hpc_result_free(&r);
    /* Go past the first window, so that only ids restarting at 1 let the
     * server create the new session. */
    for (int i = 0; i < HPPROTO_ID_WINDOW + 8; i++) {
        CU_ASSERT_EQUAL_FATAL(cmd1(c, &r, "PING", NULL), HPC_OK);
        hpc_result_free(&r);
    }
    uint64_t before = hpc_session_id(c);
    FAKE_SET(s, s->ctl.session_lost_once = 1);
    CU_ASSERT_EQUAL_FATAL(cmd1(c, &r, "INCR", "x"), HPC_OK);
    CU_ASSERT_EQUAL(r.replies[0].integer, 1);
    hpc_result_free(&r);
    CU_ASSERT_NOT_EQUAL(hpc_session_id(c), before);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->sessions, 2);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->cookie_handshakes, 2);   /* a new session needs a new cookie */
    CU_ASSERT_EQUAL(fake_stats(s).sessions_created, 2);
    CU_ASSERT_EQUAL(fake_stats(s).counter, 1);
    CU_ASSERT_EQUAL(hpc_get_stats(c)->sessions, 2);
    hpc_close(c);
    fake_stop(s);
}

static void test_server_status_and_stale(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    hpc_result_free(&r);
    FAKE_SET(s, s->ctl.force_status = HPPROTO_ST_LIMIT);
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_E_SERVER);
    CU_ASSERT_EQUAL(r.server_status, HPPROTO_ST_LIMIT);
    hpc_result_free(&r);
    /* Duplicate reply datagrams: the second is ignored. */
    FAKE_SET(s, s->ctl.duplicate_replies = true);
    CU_ASSERT_EQUAL(cmd1(c, &r, "ECHO", "one"), HPC_OK);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(cmd1(c, &r, "ECHO", "two"), HPC_OK);
    CU_ASSERT_TRUE(reply_is(&r.replies[0], HPC_REPLY_BULK, "two"));
    hpc_result_free(&r);
    CU_ASSERT(hpc_get_stats(c)->rx_ignored >= 1);
    hpc_close(c);
    fake_stop(s);
}

/* One request stays unanswered: ids in flight may not span the server's
 * window, so sending stops exactly when they would. */
static void test_id_span_bounded(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);        /* id 1 */
    hpc_result_free(&r);
    FAKE_SET(s, s->ctl.drop_stuck = true);
    const char *stuck[] = {"ECHO", "stuck"}, *ping[] = {"PING"};
    uint64_t stuck_tag, tag;
    CU_ASSERT_EQUAL(hpc_append(c, 2, stuck, NULL), HPC_OK);
    CU_ASSERT_EQUAL(hpc_send(c, &stuck_tag), HPC_OK);           /* id 2, never answered */
    int sent = 0;
    enum hpc_err e = HPC_OK;
    while (sent < 2 * HPPROTO_ID_WINDOW) {
        CU_ASSERT_EQUAL_FATAL(hpc_append(c, 1, ping, NULL), HPC_OK);
        if ((e = hpc_send(c, &tag)) != HPC_OK)
            break;
        sent++;
        CU_ASSERT_EQUAL_FATAL(hpc_recv(c, 2000, &r), HPC_OK);
        CU_ASSERT_EQUAL(r.tag, tag);
        CU_ASSERT_EQUAL(r.status, HPC_OK);
        hpc_result_free(&r);
    }
    CU_ASSERT_EQUAL(e, HPC_E_WINDOW);
    CU_ASSERT_EQUAL(sent, HPPROTO_ID_WINDOW - 1);               /* ids 3 .. 1025 */
    CU_ASSERT_EQUAL(hpc_outstanding(c), 1);
    hpc_close(c);
    fake_stop(s);
}

static void test_reply_count_mismatch(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    struct hpc_result r;
    FAKE_SET(s, s->ctl.bad_cmd_count = true);
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_E_PROTO);
    CU_ASSERT_EQUAL(r.nreplies, 0);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_OK);
    hpc_result_free(&r);
    hpc_close(c);
    fake_stop(s);
}

static void test_staging_limits(void)
{
    struct fake_server *s = fake_start();
    struct hpc_client *c = client_for(s, 1000);
    static char big[1500];
    memset(big, 'z', sizeof(big) - 1);
    const char *argv[] = {"ECHO", big};
    CU_ASSERT_EQUAL(hpc_append(c, 2, argv, NULL), HPC_E_TOO_BIG);
    big[1380] = '\0';                                   /* fits alone: 48 + ~1400 < 1472 */
    CU_ASSERT_EQUAL(hpc_append(c, 2, argv, NULL), HPC_OK);
    const char *small[] = {"ECHO", "0123456789012345678901234567890123456789"};
    CU_ASSERT_EQUAL(hpc_append(c, 2, small, NULL), HPC_E_FULL);
    CU_ASSERT_EQUAL(hpc_append(c, 0, small, NULL), HPC_E_ARG);
    const char *nul[] = {"ECHO", NULL};
    CU_ASSERT_EQUAL(hpc_append(c, 2, nul, NULL), HPC_E_ARG);
    struct hpc_result r;
    CU_ASSERT_EQUAL(cmd1(c, &r, "PING", NULL), HPC_E_BUSY);   /* something staged */
    uint64_t tag;
    CU_ASSERT_EQUAL(hpc_send(c, &tag), HPC_OK);
    CU_ASSERT_EQUAL(hpc_recv(c, 2000, &r), HPC_OK);
    CU_ASSERT_EQUAL(r.status, HPC_OK);
    CU_ASSERT_EQUAL(r.replies[0].len, 1380);
    hpc_result_free(&r);
    CU_ASSERT_EQUAL(hpc_append(c, 2, small, NULL), HPC_OK);  /* fresh datagram */
    hpc_close(c);                                            /* staged, unsent: freed */
    fake_stop(s);
}

static void test_config_validation(void)
{
    struct hpc_config cfg;
    char err[256];
    hpc_config_defaults(&cfg);
    cfg.timeout_ms = 1000;
    cfg.max_timeout_ms = 8000;
    cfg.max_attempts = 6;                                   /* 1+2+4+8+8 s > 10 s */
    CU_ASSERT_PTR_NULL(hpc_open(&cfg, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "horizon"));
    hpc_config_defaults(&cfg);
    cfg.max_outstanding = HPC_MAX_OUTSTANDING + 1;
    CU_ASSERT_PTR_NULL(hpc_open(&cfg, err, sizeof(err)));
    hpc_config_defaults(&cfg);
    cfg.max_datagram = 100;
    CU_ASSERT_PTR_NULL(hpc_open(&cfg, err, sizeof(err)));
    hpc_config_defaults(&cfg);
    cfg.reasm_max_bytes = cfg.max_reply_bytes - 1;
    CU_ASSERT_PTR_NULL(hpc_open(&cfg, err, sizeof(err)));
    hpc_config_defaults(&cfg);
    cfg.host = "no.such.host.invalid";
    CU_ASSERT_PTR_NULL(hpc_open(&cfg, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "resolve"));
    hpc_config_defaults(&cfg);
    struct hpc_client *c = hpc_open(&cfg, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(c);
    CU_ASSERT_NOT_EQUAL(hpc_session_id(c), 0);
    hpc_close(c);
    CU_ASSERT_STRING_EQUAL(hpc_strerror(HPC_E_TIMEOUT), "no reply (outcome unknown)");
    CU_ASSERT_STRING_EQUAL(hpc_strerror(HPC_E_COUNT), "unknown error");
}

/* ---- RESP reply parser -------------------------------------------------------- */

static enum hpc_err parse_str(const char *s, size_t count, struct hpc_reply **out)
{
    return hpc_parse_replies((const uint8_t *)s, strlen(s), count, out);
}

static void test_resp_parser_types(void)
{
    struct hpc_reply *r;
    const char *all = "+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n$0\r\n\r\n"
                      "*3\r\n:1\r\n*1\r\n+x\r\n$1\r\ny\r\n*0\r\n"
                      "_\r\n#t\r\n,3.5\r\n(123456789012345678901234567890\r\n"
                      "=8\r\ntxt:abcd\r\n!3\r\nE x\r\n%1\r\n+k\r\n:9\r\n~2\r\n:1\r\n:2\r\n>1\r\n+p\r\n";
    struct hpc_reply *none;
    CU_ASSERT_EQUAL(parse_str(all, 19, &none), HPC_E_PROTO);   /* one value short */
    CU_ASSERT_EQUAL(parse_str(all, 17, &none), HPC_E_PROTO);   /* one value left over */
    CU_ASSERT_EQUAL_FATAL(parse_str(all, 18, &r), HPC_OK);
    CU_ASSERT_TRUE(reply_is(&r[0], HPC_REPLY_STRING, "OK"));
    CU_ASSERT_TRUE(reply_is(&r[1], HPC_REPLY_ERROR, "ERR bad"));
    CU_ASSERT_EQUAL(r[2].type, HPC_REPLY_INTEGER);
    CU_ASSERT_EQUAL(r[2].integer, -42);
    CU_ASSERT_TRUE(reply_is(&r[3], HPC_REPLY_BULK, "he\r\no"));   /* binary-safe */
    CU_ASSERT_EQUAL(r[4].type, HPC_REPLY_NIL);
    CU_ASSERT_EQUAL(r[5].type, HPC_REPLY_NIL);
    CU_ASSERT_TRUE(reply_is(&r[6], HPC_REPLY_BULK, ""));
    CU_ASSERT_EQUAL_FATAL(r[7].type, HPC_REPLY_ARRAY);
    CU_ASSERT_EQUAL_FATAL(r[7].nelem, 3);
    CU_ASSERT_EQUAL(r[7].elem[0].integer, 1);
    CU_ASSERT_EQUAL_FATAL(r[7].elem[1].nelem, 1);
    CU_ASSERT_TRUE(reply_is(&r[7].elem[1].elem[0], HPC_REPLY_STRING, "x"));
    CU_ASSERT_TRUE(reply_is(&r[7].elem[2], HPC_REPLY_BULK, "y"));
    CU_ASSERT_EQUAL(r[8].type, HPC_REPLY_ARRAY);
    CU_ASSERT_EQUAL(r[8].nelem, 0);
    CU_ASSERT_EQUAL(r[9].type, HPC_REPLY_NIL);
    CU_ASSERT_EQUAL(r[10].type, HPC_REPLY_BOOL);
    CU_ASSERT_EQUAL(r[10].integer, 1);
    CU_ASSERT_TRUE(reply_is(&r[11], HPC_REPLY_DOUBLE, "3.5"));
    CU_ASSERT_TRUE(reply_is(&r[12], HPC_REPLY_BIGNUM, "123456789012345678901234567890"));
    CU_ASSERT_TRUE(reply_is(&r[13], HPC_REPLY_VERBATIM, "txt:abcd"));
    CU_ASSERT_TRUE(reply_is(&r[14], HPC_REPLY_ERROR, "E x"));
    CU_ASSERT_EQUAL(r[15].type, HPC_REPLY_MAP);
    CU_ASSERT_EQUAL_FATAL(r[15].nelem, 2);
    CU_ASSERT_EQUAL(r[15].elem[1].integer, 9);
    CU_ASSERT_EQUAL(r[16].type, HPC_REPLY_SET);
    CU_ASSERT_EQUAL(r[16].nelem, 2);
    CU_ASSERT_EQUAL(r[17].type, HPC_REPLY_ARRAY);
    CU_ASSERT_TRUE(reply_is(&r[17].elem[0], HPC_REPLY_STRING, "p"));
    free(r);
    CU_ASSERT_EQUAL(parse_str(":9223372036854775807\r\n:-9223372036854775808\r\n", 2, &r), HPC_OK);
    CU_ASSERT_EQUAL(r[0].integer, INT64_MAX);
    CU_ASSERT_EQUAL(r[1].integer, INT64_MIN);
    free(r);
}

static void test_resp_parser_malformed(void)
{
    static const struct { const char *s; size_t count; } bad[] = {
        {"+OK\r\n", 2},                       /* fewer values than expected */
        {"+OK\r\n+OK\r\n", 1},                /* trailing bytes */
        {"+OK\n", 1},                         /* bare LF */
        {"+O\nK\r\n", 1},                     /* LF inside a line */
        {"+OK\r", 1},
        {"?x\r\n", 1},                        /* unknown type */
        {":12a\r\n", 1},
        {":\r\n", 1},
        {":-\r\n", 1},
        {":9223372036854775808\r\n", 1},      /* overflow */
        {":-9223372036854775809\r\n", 1},
        {"$5\r\nabc\r\n", 1},                 /* bulk longer than the buffer */
        {"$3\r\nabcd\r\n", 1},                /* no CRLF after the bulk */
        {"$-2\r\n", 1},
        {"*2\r\n:1\r\n", 1},                  /* missing element */
        {"*-2\r\n", 1},
        {"*1000000\r\n:1\r\n", 1},            /* count the bytes cannot hold */
        {"%1\r\n:1\r\n", 1},                  /* map missing its value */
        {"_x\r\n", 1},
        {"#x\r\n", 1},
        {",\r\n", 1},
        {"=3\r\ntxt\r\n", 1},                 /* verbatim without "xxx:" */
        {"", 1},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++) {
        struct hpc_reply *r = (struct hpc_reply *)1;
        enum hpc_err e = parse_str(bad[i].s, bad[i].count, &r);
        if (e != HPC_E_PROTO)
            fprintf(stderr, "  accepted bad reply #%zu\n", i);
        CU_ASSERT_EQUAL(e, HPC_E_PROTO);
        CU_ASSERT_PTR_NULL(r);
    }
    /* Nesting: 31 levels inside the top value are fine, 32 are not. */
    char deep[512];
    size_t n = 0;
    for (int d = 0; d < HPC_MAX_REPLY_DEPTH - 1; d++)
        n += (size_t)sprintf(deep + n, "*1\r\n");
    n += (size_t)sprintf(deep + n, ":1\r\n");
    struct hpc_reply *r;
    CU_ASSERT_EQUAL(hpc_parse_replies((uint8_t *)deep, n, 1, &r), HPC_OK);
    free(r);
    memmove(deep + 4, deep, n);
    memcpy(deep, "*1\r\n", 4);
    CU_ASSERT_EQUAL(hpc_parse_replies((uint8_t *)deep, n + 4, 1, &r), HPC_E_PROTO);
    /* Every truncation of a valid stream is rejected. */
    const char *ok = "*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n:1\r\n";
    for (size_t cut = 0; cut < strlen(ok); cut++)
        CU_ASSERT_EQUAL(hpc_parse_replies((const uint8_t *)ok, cut, 1, &r), HPC_E_PROTO);
    CU_ASSERT_EQUAL(hpc_parse_replies((const uint8_t *)ok, strlen(ok), 1, &r), HPC_OK);
    free(r);
}

static CU_TestInfo tests_parser[] = {
    {"RESP2/RESP3 reply types", test_resp_parser_types},
    {"malformed replies rejected", test_resp_parser_malformed},
    {"configuration validated", test_config_validation},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_net[] = {
    {"PING, binary ECHO, cookie handshake once", test_basic_and_handshake},
    {"three commands in one datagram", test_pipeline_in_one_datagram},
    {"64 outstanding, window bound", test_many_outstanding},
    {"lost request retried", test_lost_request_retried},
    {"retried INCR applied once", test_retried_incr_applied_once},
    {"reordered replies matched by id", test_reordered_replies},
    {"200 KB reply: reordered, duplicated, a fragment lost", test_fragmented_200k},
    {"reply above max_reply_bytes", test_reply_over_client_limit},
    {"timeout is bounded, AGAIN then result", test_timeout_bounded},
    {"SESSION_LOST moves to a new session", test_session_lost_migrates},
    {"server status, duplicate replies ignored", test_server_status_and_stale},
    {"staging limits", test_staging_limits},
    {"ids in flight never span the server window", test_id_span_bounded},
    {"reply claiming another command count", test_reply_count_mismatch},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"reply parser and config", NULL, NULL, NULL, NULL, tests_parser},
    {"against a fake server", NULL, NULL, NULL, NULL, tests_net},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
