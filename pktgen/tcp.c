/*
 * tcp.c - RESP over kernel TCP: non-blocking sockets, one epoll set, one
 * thread.  Replies on a connection arrive in request order, so each flow's
 * slots are a FIFO ring and the reply at the front of the input buffer
 * always belongs to the oldest outstanding request.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_IN_MIN (64u << 10)
#define TCP_OUT_MIN (64u << 10)
#define TCP_EVENTS 256
#define TCP_SPIN_NS 20000          /* open loop: closer than this to a send, don't sleep */

struct tcp_conn {
    int fd;
    bool dead;
    bool want_out;              /* EPOLLOUT armed */
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint8_t *in;
    size_t in_len, in_cap;
    uint32_t next_reply;        /* reply index within the head slot */
};

struct tcp_ctx {
    struct pg_engine *e;
    struct tcp_conn *conns;
    int ep;
    size_t max_req;
    uint32_t alive;
    struct pgw_reply elems[WL_MAX_MGET];
};

static bool tcp_emit(void *ctx, int argc, const char *const *argv, const size_t *argvlen)
{
    struct tcp_conn *c = ctx;
    size_t n = pgw_command(c->out + c->out_len, c->out_cap - c->out_len, argc, argv, argvlen);
    c->out_len += n;
    return n > 0;
}

static int fcntl_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int tcp_connect(const struct pg_opts *o, char *err, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", o->port);
    int rc = getaddrinfo(o->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, cap, "cannot resolve %s: %s", o->host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        snprintf(err, cap, "cannot connect to %s:%u: %s", o->host, o->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        fcntl_nonblock(fd) != 0) {
        snprintf(err, cap, "socket options: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Every outstanding request of a dead connection is lost. */
static void tcp_kill(struct tcp_ctx *t, uint32_t i, const char *why)
{
    struct pg_engine *e = t->e;
    struct tcp_conn *c = &t->conns[i];
    struct pg_flow *f = &e->flows[i];
    if (c->dead)
        return;
    while (f->count) {
        pg_lost(e, &f->slots[f->head], why);
        f->head = (f->head + 1) % e->o.window;
        f->count--;
    }
    if (epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL) != 0) {
        /* The fd is closed right after; nothing else to undo. */
    }
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    t->alive--;
    e->total.proto_errors++;
    if (!e->fatal[0])
        snprintf(e->fatal, sizeof(e->fatal), "connection %u: %s", i, why);
}

static void tcp_arm(struct tcp_ctx *t, uint32_t i, bool want_out)
{
    struct tcp_conn *c = &t->conns[i];
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.u32 = i};
    HP_ASSERT(epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0);
    c->want_out = want_out;
}

static void tcp_flush(struct tcp_ctx *t, uint32_t i)
{
    struct tcp_conn *c = &t->conns[i];
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            tcp_kill(t, i, n < 0 ? strerror(errno) : "send returned 0");
            return;
        }
    }
    if (c->dead)
        return;
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    tcp_arm(t, i, c->out_off < c->out_len);
}

/* Room for one more request of the largest kind in the output buffer. */
static bool tcp_room(struct tcp_ctx *t, struct tcp_conn *c)
{
    if (c->out_cap - c->out_len >= t->max_req)
        return true;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    return c->out_cap - c->out_len >= t->max_req;
}

static void tcp_fill(struct tcp_ctx *t, uint32_t i, uint64_t now)
{
    struct pg_engine *e = t->e;
    struct tcp_conn *c = &t->conns[i];
    struct pg_flow *f = &e->flows[i];
    uint64_t intended;
    bool added = false;
    while (!c->dead && f->count < e->o.window && tcp_room(t, c) &&
           pg_may_send(e, f, now, &intended)) {
        struct pg_slot *s = &f->slots[(f->head + f->count) % e->o.window];
        if (!pg_build(e, f, s, intended, now, tcp_emit, c))
            break;
        f->count++;
        added = true;
    }
    if (added)
        tcp_flush(t, i);
}

/* Consumes every complete reply in the input buffer. */
static void tcp_replies(struct tcp_ctx *t, uint32_t i, uint64_t now)
{
    struct pg_engine *e = t->e;
    struct tcp_conn *c = &t->conns[i];
    struct pg_flow *f = &e->flows[i];
    size_t pos = 0;
    while (pos < c->in_len) {
        if (f->count == 0) {
            tcp_kill(t, i, "reply without a request");
            return;
        }
        struct pgw_reply r;
        long n = pgw_reply_parse(c->in + pos, c->in_len - pos, &r, t->elems, WL_MAX_MGET);
        if (n < 0) {
            tcp_kill(t, i, "unparsable reply");
            return;
        }
        if (n == 0)
            break;
        struct pg_slot *s = &f->slots[f->head];
        pg_check(e, s, c->next_reply, &r, t->elems);
        pos += (size_t)n;
        if (++c->next_reply == s->ncmds) {
            pg_complete(e, s, now);
            c->next_reply = 0;
            f->head = (f->head + 1) % e->o.window;
            f->count--;
        }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (c->in_len == c->in_cap)
        tcp_kill(t, i, "reply larger than the input buffer");
}

static void tcp_read(struct tcp_ctx *t, uint32_t i)
{
    struct tcp_conn *c = &t->conns[i];
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            tcp_replies(t, i, pg_now_ns());
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        tcp_kill(t, i, n == 0 ? "server closed the connection" : strerror(errno));
    }
}

static bool tcp_all_idle(const struct tcp_ctx *t)
{
    for (uint32_t i = 0; i < t->e->o.flows; i++)
        if (!t->conns[i].dead && t->e->flows[i].count)
            return false;
    return true;
}

/* How long epoll may sleep: until the next open-loop send, a progress
 * line, or a timeout check. */
static uint64_t tcp_wait_ns(const struct tcp_ctx *t, uint64_t now, bool sending)
{
    const struct pg_engine *e = t->e;
    uint64_t wait = 50000000ull;
    if (sending && e->phase == PG_PHASE_RUN && e->o.rate > 0) {
        for (uint32_t i = 0; i < e->o.flows; i++) {
            const struct pg_flow *f = &e->flows[i];
            if (t->conns[i].dead || f->count >= e->o.window)
                continue;
            uint64_t d = f->next_intended_ns > now ? f->next_intended_ns - now : 0;
            if (d < wait)
                wait = d;
        }
    }
    return wait < TCP_SPIN_NS ? 0 : wait;
}

static void tcp_timeouts(struct tcp_ctx *t, uint64_t now)
{
    struct pg_engine *e = t->e;
    uint64_t limit = (uint64_t)e->o.timeout_ms * 1000000ull;
    for (uint32_t i = 0; i < e->o.flows; i++) {
        struct pg_flow *f = &e->flows[i];
        if (!t->conns[i].dead && f->count && now - f->slots[f->head].sent_ns > limit)
            tcp_kill(t, i, "request timed out");
    }
}

static void tcp_phase(struct tcp_ctx *t, enum pg_phase ph)
{
    struct pg_engine *e = t->e;
    if (!pg_phase_begin(e, ph, pg_now_ns()))
        return;
    struct epoll_event ev[TCP_EVENTS];
    for (;;) {
        uint64_t now = pg_now_ns();
        bool sending = !pg_phase_sending_done(e, now);
        if (sending)
            for (uint32_t i = 0; i < e->o.flows; i++)
                tcp_fill(t, i, now);
        if (!sending && tcp_all_idle(t))
            break;
        if (t->alive == 0)
            break;
        uint64_t wait = tcp_wait_ns(t, pg_now_ns(), sending);
        struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(t->ep, ev, TCP_EVENTS, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            snprintf(e->fatal, sizeof(e->fatal), "epoll: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < n; k++) {
            uint32_t i = ev[k].data.u32;
            if (t->conns[i].dead)
                continue;
            if (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                tcp_read(t, i);
            if (!t->conns[i].dead && (ev[k].events & EPOLLOUT))
                tcp_flush(t, i);
        }
        now = pg_now_ns();
        tcp_timeouts(t, now);
        pg_progress(e, now);
    }
    pg_phase_end(e, pg_now_ns());
}

int pg_tcp_run(struct pg_engine *e)
{
    struct tcp_ctx t = {.e = e, .ep = -1};
    int rc = -1;
    t.max_req = pg_max_request_bytes(e);
    size_t in_cap = HP_MAX((size_t)TCP_IN_MIN, 2 * pg_max_reply_bytes(e));
    size_t out_cap = HP_MAX((size_t)TCP_OUT_MIN, 2 * t.max_req);
    t.conns = calloc(e->o.flows, sizeof(*t.conns));
    t.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!t.conns || t.ep < 0) {
        snprintf(e->fatal, sizeof(e->fatal), "out of memory or epoll: %s", strerror(errno));
        goto out;
    }
    for (uint32_t i = 0; i < e->o.flows; i++)
        t.conns[i].fd = -1;
    for (uint32_t i = 0; i < e->o.flows; i++) {
        struct tcp_conn *c = &t.conns[i];
        c->out = malloc(out_cap);
        c->in = malloc(in_cap);
        c->out_cap = out_cap;
        c->in_cap = in_cap;
        if (!c->out || !c->in) {
            snprintf(e->fatal, sizeof(e->fatal), "out of memory for connection buffers");
            goto out;
        }
        c->fd = tcp_connect(&e->o, e->fatal, sizeof(e->fatal));
        if (c->fd < 0)
            goto out;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(t.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            snprintf(e->fatal, sizeof(e->fatal), "epoll_ctl: %s", strerror(errno));
            goto out;
        }
        t.alive++;
    }
    for (int ph = 0; ph < PG_PHASE_COUNT && t.alive > 0; ph++)
        tcp_phase(&t, (enum pg_phase)ph);
    rc = t.alive == e->o.flows ? 0 : -1;
out:
    for (uint32_t i = 0; t.conns && i < e->o.flows; i++) {
        if (t.conns[i].fd >= 0)
            close(t.conns[i].fd);
        free(t.conns[i].out);
        free(t.conns[i].in);
    }
    free(t.conns);
    if (t.ep >= 0)
        close(t.ep);
    return rc;
}
