/*
 * conn.c - client connections: input parsing straight from the receive
 * buffer, reply ordering, batched output, and the connection lifecycle.
 *
 * Input.  Received bytes are parsed where they landed (for io_uring, the
 * kernel-provided buffer).  Only the incomplete tail of the last request, or
 * the unparsed rest when the connection must wait (stall), is copied into
 * c->in; the next receive appends to it and parsing resumes where it stopped.
 *
 * Output.  Replies accumulate in c->out during a loop iteration and leave in
 * one send per connection per iteration (conn_flush_dirty).  A send in
 * flight owns c->sendbuf, which is never written until the kernel is done;
 * new replies keep going to c->out meanwhile (double buffering).
 *
 * Lifetime.  conn_close() closes the socket at once, but the struct lives
 * until the backend confirms (net_cb_closed) and no other shard still owes
 * it a reply (pending == 0) and no multi-shard command of it runs: those
 * hold pointers to it.
 */
#include "runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../storage/shard.h"

/* ---- small helpers ----------------------------------------------------------- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

static void conn_fill_addrs(struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, c->addr, sizeof(c->addr));
    else
        snprintf(c->addr, sizeof(c->addr), "?:0");
    len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, c->laddr, sizeof(c->laddr));
    else
        snprintf(c->laddr, sizeof(c->laddr), "?:0");
}

static bool push_list(struct conn ***list, uint32_t *n, uint32_t *cap, struct conn *c)
{
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 64;
        struct conn **nl = realloc(*list, sizeof(**list) * ncap);
        if (nl == NULL)
            return false;
        *list = nl;
        *cap = ncap;
    }
    (*list)[(*n)++] = c;
    return true;
}

size_t conn_qbuf_len(const struct conn *c) { return c->in_len - c->in_off; }

size_t conn_obuf_len(const struct conn *c)
{
    size_t n = c->out.len + (c->sendbuf.len - c->send_off);
    for (const struct reply_slot *s = c->slots_head; s; s = s->next)
        n += s->buf.len;
    return n;
}

/* ---- accept / free ------------------------------------------------------------ */

static void reject_client(struct worker *w, int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    /* Best effort, non-blocking: the socket is fresh, so the few bytes fit. */
    ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n; /* the client is refused either way */
    w->stats.rejected_connections++;
}

struct conn *net_cb_accepted(struct worker *w, int fd)
{
    struct runtime *rt = w->rt;
    uint64_t maxclients = (uint64_t)CONFIG_RT_GET(rt->cfg, maxclients);
    if (__atomic_load_n(&rt->stop, __ATOMIC_RELAXED))
        return NULL;
    if (__atomic_add_fetch(&rt->nclients, 1, __ATOMIC_RELAXED) > maxclients) {
        __atomic_sub_fetch(&rt->nclients, 1, __ATOMIC_RELAXED);
        reject_client(w, fd);
        return NULL;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL || resp_parser_init(&c->parser, CONFIG_RT_GET(rt->cfg, proto_max_bulk_len),
                                      HP_MAX_ARGC) != 0) {
        free(c);
        __atomic_sub_fetch(&rt->nclients, 1, __ATOMIC_RELAXED);
        log_warning("out of memory accepting a client");
        return NULL;
    }
    size_t olimit = (size_t)CONFIG_RT_GET(rt->cfg, client_output_buffer_limit);
    rbuf_init(&c->out, olimit);
    rbuf_init(&c->sendbuf, olimit);
    c->id = __atomic_add_fetch(&rt->next_conn_id, 1, __ATOMIC_RELAXED);
    c->fd = fd;
    c->proto = 2;
    c->worker = w;
    c->ctime_ms = c->last_ms = w->now_ms;
    c->last_cmd = "NULL";
    conn_fill_addrs(c);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    w->stats.connected_clients++;
    w->stats.total_connections_received++;
    return c;
}

static void slot_free(struct worker *w, struct reply_slot *s)
{
    rbuf_reset(&s->buf);
    if (s->buf.cap > XMSG_REPLY_KEEP) {
        size_t limit = s->buf.limit;
        rbuf_free(&s->buf);
        rbuf_init(&s->buf, limit);
    }
    s->next = w->free_slots;
    w->free_slots = s;
}

void conn_maybe_free(struct conn *c)
{
    if (!(c->flags & CONN_CLOSED) || !c->net_closed || c->pending || conn_ops_active(c) ||
        c->stalled || c->dirty)
        return;
    struct worker *w = c->worker;
    while (c->slots_head) {
        struct reply_slot *s = c->slots_head;
        c->slots_head = s->next;
        slot_free(w, s);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    resp_parser_free(&c->parser);
    rbuf_free(&c->out);
    rbuf_free(&c->sendbuf);
    free(c->in);
    free(c);
}

void conn_close(struct conn *c)
{
    if (c->flags & CONN_CLOSED)
        return;
    struct worker *w = c->worker;
    c->flags |= CONN_CLOSED;
    __atomic_sub_fetch(&w->rt->nclients, 1, __ATOMIC_RELAXED);
    w->stats.connected_clients--;
    net_close(w->net, c);
    conn_maybe_free(c);
}

void net_cb_failed(struct conn *c, int err)
{
    if (err == 0 && !(c->flags & CONN_PEER_EOF)) {
        /* Half-close: like redis-server, still run what it sent and send
         * the replies; conn_flush_one closes once nothing is owed. */
        c->flags |= CONN_PEER_EOF;
        conn_mark_dirty(c);
        return;
    }
    if (err != 0 && err != ECONNRESET && err != EPIPE)
        log_verbose("client %s: %s", c->addr, strerror(err));
    conn_close(c);
}

void net_cb_closed(struct conn *c)
{
    c->net_closed = true;
    c->flags |= CONN_CLOSED;
    conn_maybe_free(c);
}

void net_cb_woken(struct worker *w) { (void)w; /* the loop drains the rings next */ }

/* ---- reply ordering ------------------------------------------------------------ */

static struct reply_slot *slot_alloc(struct conn *c)
{
    struct worker *w = c->worker;
    struct reply_slot *s = w->free_slots;
    if (s != NULL) {
        w->free_slots = s->next;
    } else {
        /* Slots are bounded by design: a waiting slot exists per message,
         * op or broadcast in flight, and at most one ready slot follows
         * each, so the pool never exceeds about 2 * XMSG_POOL_MAX. */
        if (w->slots_allocated >= SLOT_POOL_MAX)
            return NULL;
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return NULL;
        rbuf_init(&s->buf, (size_t)CONFIG_RT_GET(w->rt->cfg, client_output_buffer_limit));
        w->slots_allocated++;
    }
    s->next = NULL;
    s->ready = false;
    if (c->slots_tail)
        c->slots_tail->next = s;
    else
        c->slots_head = s;
    c->slots_tail = s;
    return s;
}

struct rbuf *conn_reply_target(struct conn *c)
{
    if (c->slots_head == NULL)
        return &c->out;
    if (c->slots_tail->ready)
        return &c->slots_tail->buf;
    struct reply_slot *s = slot_alloc(c);
    if (s == NULL) {
        /* Cannot keep order without a slot: the defined outcome is closing
         * the client, never a misordered reply.  The reply goes nowhere. */
        c->flags |= CONN_CLOSE_ASAP;
        conn_mark_dirty(c);
        rbuf_reset(&c->worker->discard);
        return &c->worker->discard;
    }
    s->ready = true;
    return &s->buf;
}

struct reply_slot *conn_slot_reserve(struct conn *c) { return slot_alloc(c); }

void conn_slot_complete(struct conn *c, struct reply_slot *s)
{
    s->ready = true;
    while (c->slots_head && c->slots_head->ready) {
        struct reply_slot *h = c->slots_head;
        c->slots_head = h->next;
        if (c->slots_head == NULL)
            c->slots_tail = NULL;
        if (!(c->flags & CONN_CLOSED)) {
            if (h->buf.overflow)
                c->flags |= CONN_CLOSE_ASAP;
            else if (c->out.len == 0 && !c->out.overflow) {
                struct rbuf tmp = c->out; /* steal instead of copying */
                c->out = h->buf;
                h->buf = tmp;
            } else {
                rbuf_append(&c->out, h->buf.data, h->buf.len);
            }
        }
        slot_free(c->worker, h);
    }
    if (!(c->flags & CONN_CLOSED))
        conn_mark_dirty(c);
}

bool conn_ops_active(const struct conn *c) { return c->xops > 0 || c->bcasts > 0; }

/* ---- input --------------------------------------------------------------------- */

void conn_mark_dirty(struct conn *c)
{
    struct worker *w = c->worker;
    if (c->dirty)
        return;
    if (!push_list(&w->dirty, &w->ndirty, &w->dirty_cap, c)) {
        c->flags |= CONN_CLOSE_ASAP; /* cannot track it: drop it, never hang it */
        conn_close(c);
        return;
    }
    c->dirty = true;
}

void conn_stall(struct conn *c)
{
    struct worker *w = c->worker;
    if (c->stalled)
        return;
    if (!push_list(&w->stalled, &w->nstalled, &w->stalled_cap, c)) {
        conn_close(c);
        return;
    }
    c->stalled = true;
}

static void protocol_error(struct conn *c)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "ERR %s", c->parser.err);
    resp_add_error(conn_reply_target(c), msg);
    log_verbose("protocol error from client %s: %s", c->addr, c->parser.err);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    conn_mark_dirty(c);
}

/* Parse and dispatch requests from buf; returns the bytes used. */
static size_t conn_process(struct conn *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_CLOSED))
            return len; /* nothing after QUIT / an error / a kill is executed */
        size_t used = 0;
        enum resp_parse_status st = resp_parse(&c->parser, buf + off, len - off, &used);
        if (st == RESP_PARSE_NEED_MORE)
            break;
        if (st == RESP_PARSE_ERROR) {
            protocol_error(c);
            return len;
        }
        if (st == RESP_PARSE_EMPTY) {
            off += used;
            continue;
        }
        HP_ASSERT(used > 0 && used <= len - off);
        if (dispatch_command(c, c->parser.argc, c->parser.argv) == DISPATCH_STALL) {
            /* Re-parse this request when the resource frees up. */
            resp_parser_reset(&c->parser);
            conn_stall(c);
            break;
        }
        off += used;
        conn_mark_dirty(c);
    }
    return off;
}

static int conn_in_append(struct conn *c, const uint8_t *data, size_t len)
{
    struct runtime *rt = c->worker->rt;
    size_t limit = (size_t)CONFIG_RT_GET(rt->cfg, client_query_buffer_limit);
    if (c->in_off > 0 && c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    /* The argument table of the request being parsed counts too: a
     * multibulk count may be up to INT_MAX, and its table grows with the
     * arguments that arrive (16 bytes each, for as few as 6 bytes of input). */
    size_t argv_bytes = (size_t)c->parser.argv_cap * sizeof(*c->parser.argv);
    if (c->in_len - c->in_off + len + argv_bytes > limit) {
        log_warning("closing client %s: query buffer over client-query-buffer-limit", c->addr);
        return -1;
    }
    if (c->in_off > 0 && c->in_len + len > c->in_cap) {
        /* Compact before growing. */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len + len > c->in_cap) {
        size_t ncap = c->in_cap ? c->in_cap : IN_CHUNK;
        while (ncap < c->in_len + len)
            ncap *= 2;
        uint8_t *n = realloc(c->in, ncap);
        if (n == NULL) {
            log_warning("closing client %s: out of memory for its query buffer", c->addr);
            return -1;
        }
        c->in = n;
        c->in_cap = ncap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static void conn_process_in(struct conn *c)
{
    size_t used = conn_process(c, c->in + c->in_off, c->in_len - c->in_off);
    c->in_off += used;
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (c->in_cap > 4 * IN_CHUNK) { /* don't keep a big buffer per idle client */
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

void net_cb_received(struct conn *c, const uint8_t *data, size_t len)
{
    struct worker *w = c->worker;
    c->bytes_in += len;
    w->stats.net_input_bytes += len;
    if (c->flags & (CONN_CLOSED | CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY))
        return;
    if (c->in_len == c->in_off && !c->stalled) {
        size_t used = conn_process(c, data, len);
        if (used < len && !(c->flags & (CONN_CLOSED | CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY)) &&
            conn_in_append(c, data + used, len - used) != 0)
            conn_close(c);
        return;
    }
    if (conn_in_append(c, data, len) != 0) {
        conn_close(c);
        return;
    }
    if (!c->stalled)
        conn_process_in(c);
}

void conn_retry_stalled(struct worker *w)
{
    uint32_t n = w->nstalled;
    if (n == 0)
        return;
    struct conn *batch[256];
    if (n > HP_ARRAY_LEN(batch))
        n = HP_ARRAY_LEN(batch);
    /* Take the oldest n; conns that stall again re-queue at the end. */
    memcpy(batch, w->stalled, n * sizeof(*batch));
    memmove(w->stalled, w->stalled + n, (w->nstalled - n) * sizeof(*batch));
    w->nstalled -= n;
    for (uint32_t i = 0; i < n; i++) {
        struct conn *c = batch[i];
        c->stalled = false;
        if (!(c->flags & CONN_CLOSED))
            conn_process_in(c);
        if ((c->flags & (CONN_PEER_EOF | CONN_CLOSED)) == CONN_PEER_EOF && !c->stalled)
            conn_mark_dirty(c); /* its input is done: let conn_flush_one close it */
        conn_maybe_free(c);
    }
}

/*
 * A hand-over is expensive next to the command it serves (a round trip per
 * remote shard), so while this worker holds a set of shards it also runs
 * the requests that stalled connections have queued for those same shards:
 * a thousand clients each sending an MGET then share a few hand-overs
 * instead of queueing one each.  Only a connection with nothing in flight
 * qualifies (its earlier replies are all in), and requests run in its order
 * until one needs anything else.  CONN_HELD_BATCH bounds how long the other
 * shards' owners wait for their shards back.
 */
static uint32_t conn_run_held(struct conn *c, uint64_t held, uint32_t budget)
{
    uint32_t n = 0;
    while (n < budget && c->in_off < c->in_len && c->pending == 0 && !conn_ops_active(c) &&
           !(c->flags & (CONN_CLOSED | CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY))) {
        size_t used = 0;
        enum resp_parse_status st =
            resp_parse(&c->parser, c->in + c->in_off, c->in_len - c->in_off, &used);
        if (st == RESP_PARSE_EMPTY) {
            c->in_off += used;
            continue;
        }
        if (st != RESP_PARSE_OK) {
            /* Incomplete or malformed: the normal path re-parses it. */
            resp_parser_reset(&c->parser);
            break;
        }
        if (!dispatch_held(c, c->parser.argc, c->parser.argv, held)) {
            resp_parser_reset(&c->parser);
            break;
        }
        c->in_off += used;
        n++;
    }
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    if (n > 0)
        conn_mark_dirty(c);
    return n;
}

void conn_run_held_all(struct worker *w, uint64_t held)
{
    uint32_t budget = CONN_HELD_BATCH;
    /* conn_run_held never adds to or removes from the stalled list. */
    for (uint32_t i = 0; i < w->nstalled && budget > 0; i++)
        budget -= conn_run_held(w->stalled[i], held, budget);
}

/* ---- output -------------------------------------------------------------------- */

static void conn_start_send(struct conn *c)
{
    struct worker *w = c->worker;
    HP_ASSERT(!c->sending);
    if (c->send_off == c->sendbuf.len) {
        if (c->out.len == 0)
            return;
        /* Swap: replies gathered so far become the in-flight buffer. */
        struct rbuf tmp = c->sendbuf;
        c->sendbuf = c->out;
        c->out = tmp;
        rbuf_reset(&c->out);
        c->send_off = 0;
    }
    if (net_send(w->net, c, c->sendbuf.data + c->send_off, c->sendbuf.len - c->send_off) != 0) {
        conn_close(c);
        return;
    }
    c->sending = true;
}

static bool conn_output_idle(const struct conn *c)
{
    return !c->sending && c->out.len == 0 && c->send_off == c->sendbuf.len &&
           c->slots_head == NULL;
}

/* Whether a conn whose peer half-closed is done: every request it sent has
 * run (a stalled one waits on the stalled list; an incomplete tail in c->in
 * can never complete) and every reply is out. */
static bool conn_eof_done(const struct conn *c)
{
    HP_ASSERT(c->flags & CONN_PEER_EOF);
    return !c->stalled && !conn_ops_active(c) && c->pending == 0 && conn_output_idle(c);
}

void net_cb_sent(struct conn *c, size_t n)
{
    struct worker *w = c->worker;
    HP_ASSERT(c->sending);
    HP_ASSERT(n <= c->sendbuf.len - c->send_off);
    c->sending = false;
    c->send_off += n;
    c->bytes_out += n;
    w->stats.net_output_bytes += n;
    if (c->send_off == c->sendbuf.len) {
        rbuf_reset(&c->sendbuf);
        c->send_off = 0;
    }
    if (!(c->flags & CONN_CLOSED))
        conn_mark_dirty(c);
}

static void conn_flush_one(struct conn *c)
{
    struct worker *w = c->worker;
    if (c->flags & CONN_CLOSED)
        return;
    if ((c->flags & CONN_CLOSE_ASAP) || c->out.overflow) {
        if (c->out.overflow)
            log_warning("closing client %s: output over client-output-buffer-limit", c->addr);
        conn_close(c);
        return;
    }
    if (!c->sending)
        conn_start_send(c);
    if (c->flags & CONN_CLOSED)
        return;
    size_t queued = c->out.len + c->sendbuf.len - c->send_off;
    if (queued > OUT_PAUSE_BYTES && !c->recv_paused) {
        /* The client is not reading its replies: stop reading its requests
         * (TCP backpressure) instead of buffering without bound. */
        net_pause_recv(w->net, c);
        c->recv_paused = true;
    } else if (queued < OUT_PAUSE_BYTES / 2 && c->recv_paused && !w->stopping) {
        net_resume_recv(w->net, c);
        c->recv_paused = false;
    }
    if ((c->flags & CONN_CLOSE_AFTER_REPLY) && conn_output_idle(c) && c->pending == 0 &&
        !conn_ops_active(c))
        conn_close(c);
    else if ((c->flags & CONN_PEER_EOF) && !(c->flags & CONN_CLOSED) && conn_eof_done(c))
        conn_close(c);
}

void conn_flush_dirty(struct worker *w)
{
    /* conn_flush_one never adds to the dirty list (sends complete later). */
    for (uint32_t i = 0; i < w->ndirty; i++) {
        struct conn *c = w->dirty[i];
        c->dirty = false;
        conn_flush_one(c);
        conn_maybe_free(c);
    }
    w->ndirty = 0;
}

/* ---- worker-wide -------------------------------------------------------------- */

void conn_shutdown_reading(struct worker *w)
{
    for (struct conn *c = w->conns; c; c = c->next) {
        if ((c->flags & CONN_CLOSED) || c->recv_paused)
            continue;
        net_pause_recv(w->net, c);
        c->recv_paused = true;
    }
}

bool conn_all_flushed(struct worker *w)
{
    for (struct conn *c = w->conns; c; c = c->next) {
        if (c->flags & CONN_CLOSED)
            continue;
        if (!conn_output_idle(c) || c->pending || conn_ops_active(c))
            return false;
    }
    return true;
}

void conn_free_all(struct worker *w)
{
    struct conn *next;
    for (struct conn *c = w->conns; c; c = next) {
        next = c->next; /* conn_close may free c */
        conn_close(c);
    }
}

void worker_conn_foreach(struct worker *w, void (*fn)(struct conn *c, void *arg), void *arg)
{
    for (struct conn *c = w->conns; c; c = c->next)
        if (!(c->flags & CONN_CLOSED))
            fn(c, arg);
}

void worker_conn_kill(struct worker *w, struct conn *c)
{
    HP_ASSERT(c->worker == w);
    c->flags |= CONN_CLOSE_ASAP;
    conn_mark_dirty(c);
}
