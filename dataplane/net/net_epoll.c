/*
 * net_epoll.c - the epoll fallback backend, plus the socket helpers both
 * backends share (listeners, accepted-socket set-up, accept error policy).
 *
 * Level-triggered epoll.  A readable connection gets one recv() of up to
 * EPL_RBUF_SIZE bytes per net_poll into a per-worker buffer, so one busy
 * client cannot starve the others; whatever is left is reported again on
 * the next call.  A paused connection is simply not watched for input.
 *
 * Sends are attempted at once in net_send (the bytes leave before the
 * worker sleeps); if the socket is full the connection waits for EPOLLOUT.
 * The result is reported by the next net_poll, never from inside net_send,
 * because the runtime marks the send in flight only after net_send returns.
 *
 * Nothing is freed while an epoll batch is being handled: net_close only
 * marks the connection and queues it; the fd is closed and net_cb_closed
 * called from the ready queue after the batch.  So an event later in the
 * same batch never points at freed memory, and net_cb_closed never runs
 * inside net_close (the runtime frees the conn in it).
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "conn.h"

/* ---- shared socket helpers ------------------------------------------------ */

int64_t net_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Returns the listening fd, or -errno (err filled unless optional applies). */
static int listen_one(const char *addr, int port, int backlog, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (net_listen_parse_addr(addr, port, &ss, &sslen) != 0) {
        snprintf(err, errlen, "bad bind address '%s': not an IPv4 or IPv6 address", addr);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s:%d: socket: %s", addr, port, strerror(e));
        return -e;
    }
    int one = 1;
    const char *step = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
        goto fail;
    step = "bind";
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0)
        goto fail;
    step = "listen";
    if (listen(fd, backlog) != 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    snprintf(err, errlen, "cannot listen on %s:%d: %s: %s", addr, port, step, strerror(e));
    close(fd);
    return -e;
}

void net_listen_close(int *fds, int count)
{
    for (int i = 0; i < count; i++) {
        if (fds[i] >= 0 && close(fds[i]) != 0)
            log_debug("closing a listener: %s", strerror(errno));
        fds[i] = -1;
    }
}

int net_listen_open(const struct hp_config *cfg, int *fds, int max, int *count,
                    char *err, size_t errlen)
{
    static const char *const default_bind[] = {"*", "-::*"};
    *count = 0;
    if (cfg->port == 0)
        return 0;
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errlen, "bad port %d", cfg->port);
        return -1;
    }
    if (cfg->nbind < 0 || cfg->nbind > CONFIG_MAX_BIND) {
        snprintf(err, errlen, "bad number of bind addresses %d", cfg->nbind);
        return -1;
    }
    int backlog = cfg->tcp_backlog > 0 ? cfg->tcp_backlog : NET_DEFAULT_BACKLOG;
    int naddr = cfg->nbind > 0 ? cfg->nbind : (int)HP_ARRAY_LEN(default_bind);
    for (int i = 0; i < naddr; i++) {
        const char *addr = cfg->nbind > 0 ? cfg->bind[i] : default_bind[i];
        if (strnlen(addr, sizeof(cfg->bind[0])) == sizeof(cfg->bind[0])) {
            snprintf(err, errlen, "bind address %d is not terminated", i);
            goto fail;
        }
        bool optional = addr[0] == '-';
        if (optional)
            addr++;
        if (*count == max) {
            snprintf(err, errlen, "too many bind addresses (max %d)", max);
            goto fail;
        }
        int fd = listen_one(addr, cfg->port, backlog, err, errlen);
        if (fd >= 0) {
            fds[(*count)++] = fd;
            continue;
        }
        /* '-': an address this machine lacks is skipped, not fatal. */
        if (optional && (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT))
            continue;
        goto fail;
    }
    if (*count == 0) {
        snprintf(err, errlen, "no bind address could be used on port %d", cfg->port);
        return -1;
    }
    return 0;
fail:
    net_listen_close(fds, *count);
    *count = 0;
    return -1;
}

int net_conn_setup(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        return -errno;
    return 0;
}

bool net_accept_error_transient(int err)
{
    /* The peer gave up, or a signal: the listener itself is fine. */
    return err == ECONNABORTED || err == EINTR || err == EAGAIN || err == EWOULDBLOCK ||
           err == EPROTO || err == EPERM || err == ETIMEDOUT;
}

void net_accept_error_log(struct net *n, int err)
{
    int64_t now = net_now_us();
    if (n->accept_log_us != 0 && now - n->accept_log_us < NET_ACCEPT_LOG_INTERVAL_US) {
        n->accept_log_suppressed++;
        return;
    }
    log_warning("accept: %s; pausing new connections for %d ms (%llu similar messages "
                "suppressed)",
                strerror(err), NET_ACCEPT_BACKOFF_US / 1000,
                (unsigned long long)n->accept_log_suppressed);
    n->accept_log_us = now;
    n->accept_log_suppressed = 0;
}

/* ---- epoll backend --------------------------------------------------------- */

#define EPL_RBUF_SIZE (64u * 1024)  /* one recv per readable conn per poll */
#define EPL_EVENTS 256              /* epoll events per wait */
#define EPL_ACCEPT_BATCH 64         /* accepts per listener per poll */

/* epoll_event.data.u64: object pointer | tag (objects are 8-byte aligned). */
enum { EPL_TAG_CONN = 1, EPL_TAG_LISTENER = 2, EPL_TAG_WAKE = 3, EPL_TAG_WATCH = 4,
       EPL_TAG_MASK = 7 };

enum {
    EC_PAUSED = 1u << 0,
    EC_CLOSING = 1u << 1,      /* net_close called; finished from the ready queue */
    EC_FAILED = 1u << 2,       /* net_cb_failed delivered: no more events */
    EC_SEND_ACTIVE = 1u << 3,  /* net_send called, net_cb_sent not yet */
    EC_SEND_WAIT = 1u << 4,    /* socket full: waiting for EPOLLOUT */
    EC_SEND_DONE = 1u << 5,    /* result in sent / send_err, to report */
    EC_FAIL_PENDING = 1u << 6, /* an error to report (fail_err) */
    EC_READY = 1u << 7,        /* on the ready queue */
    EC_EOF = 1u << 8,          /* the peer half-closed: no EPOLLIN any more, sends go on */
};

struct epl_conn {
    struct conn *c;
    int fd;
    uint32_t flags;
    uint32_t events;           /* the events it is registered for */
    bool registered;           /* in the epoll set */
    const uint8_t *send_p;
    size_t send_len;
    size_t sent;
    int send_err;
    int fail_err;
    struct epl_conn *prev, *next; /* all conns of this backend */
    struct epl_conn *ready_next;
};

struct epl_listener {
    int fd;                    /* -1 once closed */
    bool watched;              /* registered with epoll */
    int64_t retry_us;          /* back-off: re-watch at this time (0 = none) */
};

struct net_epoll {
    struct net base;
    int epfd;
    bool have_pwait2;
    struct epl_listener listeners[NET_MAX_LISTENERS];
    int nlisteners;
    struct epl_conn *conns;
    struct epl_conn *ready_head, *ready_tail;
    uint8_t *rbuf;
    struct epoll_event events[EPL_EVENTS];
};

static struct net_epoll *epl_of(struct net *n) { return (struct net_epoll *)n; }

static uint64_t epl_tag(void *p, unsigned tag)
{
    HP_ASSERT(((uintptr_t)p & EPL_TAG_MASK) == 0);
    return (uint64_t)(uintptr_t)p | tag;
}

static void epl_ready_push(struct net_epoll *n, struct epl_conn *e)
{
    if (e->flags & EC_READY)
        return;
    e->flags |= EC_READY;
    e->ready_next = NULL;
    if (n->ready_tail)
        n->ready_tail->ready_next = e;
    else
        n->ready_head = e;
    n->ready_tail = e;
}

/* Bring the epoll registration in line with the conn's state.  A paused,
 * idle conn stays registered with no events so that a peer reset is still
 * noticed (EPOLLERR/EPOLLHUP are always reported); only a closing or failed
 * conn leaves the set.  Returns 0 or -errno. */
static int epl_update_events(struct net_epoll *n, struct epl_conn *e)
{
    if (e->flags & (EC_CLOSING | EC_FAILED)) {
        if (!e->registered)
            return 0;
        e->registered = false;
        e->events = 0;
        return epoll_ctl(n->epfd, EPOLL_CTL_DEL, e->fd, NULL) == 0 ? 0 : -errno;
    }
    HP_ASSERT(e->registered);
    uint32_t want = (e->flags & (EC_PAUSED | EC_EOF) ? 0 : EPOLLIN) |
                    (e->flags & EC_SEND_WAIT ? EPOLLOUT : 0);
    if (e->events == want)
        return 0;
    struct epoll_event ev = {.events = want, .data.u64 = epl_tag(e, EPL_TAG_CONN)};
    if (epoll_ctl(n->epfd, EPOLL_CTL_MOD, e->fd, &ev) != 0)
        return -errno;
    e->events = want;
    return 0;
}

/* Report err once; the runtime answers with net_close.  0 is reserved for
 * EOF (epl_eof): a dead socket that shows no error reads as EPIPE. */
static void epl_fail(struct net_epoll *n, struct epl_conn *e, int err)
{
    if (e->flags & (EC_CLOSING | EC_FAILED))
        return;
    if (err == 0)
        err = EPIPE;
    e->flags |= EC_FAILED;
    /* Leaving the epoll set cannot meaningfully fail for a live fd; if it
     * does, the conn is closed right after anyway. */
    int rc = epl_update_events(n, e);
    if (rc != 0)
        log_debug("epoll: removing a failed connection: %s", strerror(-rc));
    net_cb_failed(e->c, err);
}

/* The peer shut down its sending side (or closed).  Reported once as
 * net_cb_failed(c, 0); the conn stays registered (for EPOLLOUT, and for
 * EPOLLERR/EPOLLHUP if the peer goes away entirely) so that the replies
 * to what it sent before the FIN still go out, as with redis-server. */
static void epl_eof(struct net_epoll *n, struct epl_conn *e)
{
    if (e->flags & (EC_CLOSING | EC_FAILED | EC_EOF))
        return;
    e->flags |= EC_EOF;
    int rc = epl_update_events(n, e); /* stop EPOLLIN: it stays readable forever */
    if (rc != 0) {
        epl_fail(n, e, -rc);
        return;
    }
    net_cb_failed(e->c, 0);
}

static void epl_try_send(struct net_epoll *n, struct epl_conn *e)
{
    ssize_t r;
    do {
        r = send(e->fd, e->send_p, e->send_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!(e->flags & EC_SEND_WAIT)) {
            e->flags |= EC_SEND_WAIT;
            int rc = epl_update_events(n, e);
            if (rc != 0) {
                e->flags &= ~EC_SEND_WAIT;
                e->send_err = -rc;
                e->flags |= EC_SEND_DONE;
                epl_ready_push(n, e);
            }
        }
        return;
    }
    if (r < 0) {
        e->send_err = errno;
    } else {
        HP_ASSERT(r > 0 || e->send_len == 0);
        e->sent = (size_t)r;
        e->send_err = 0;
    }
    if (e->flags & EC_SEND_WAIT) {
        e->flags &= ~EC_SEND_WAIT;
        int rc = epl_update_events(n, e);
        if (rc != 0 && e->send_err == 0)
            e->send_err = -rc;
    }
    e->flags |= EC_SEND_DONE;
    epl_ready_push(n, e);
}

static void epl_recv(struct net_epoll *n, struct epl_conn *e)
{
    ssize_t r;
    do {
        r = recv(e->fd, n->rbuf, EPL_RBUF_SIZE, 0);
    } while (r < 0 && errno == EINTR);
    if (r > 0)
        net_cb_received(e->c, n->rbuf, (size_t)r);
    else if (r == 0)
        epl_eof(n, e);
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
        epl_fail(n, e, errno);
}

static int epl_sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    return err;
}

static void epl_conn_event(struct net_epoll *n, struct epl_conn *e, uint32_t ev)
{
    if (e->flags & (EC_CLOSING | EC_FAILED))
        return;
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (e->flags & EC_SEND_WAIT))
        epl_try_send(n, e);
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (!(e->flags & (EC_PAUSED | EC_EOF))) {
        epl_recv(n, e);
    } else if (ev & (EPOLLERR | EPOLLHUP)) {
        /* Paused or half-closed, and now dead: nothing can be sent either. */
        epl_fail(n, e, epl_sock_error(e->fd));
    }
}

static void epl_conn_unlink(struct net_epoll *n, struct epl_conn *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        n->conns = e->next;
    if (e->next)
        e->next->prev = e->prev;
}

static void epl_accept_one(struct net_epoll *n, int fd)
{
    int rc = net_conn_setup(fd);
    struct epl_conn *e = rc == 0 ? calloc(1, sizeof(*e)) : NULL;
    if (e == NULL) {
        log_warning("refusing a connection: %s",
                    rc != 0 ? strerror(-rc) : "out of memory");
        close(fd);
        return;
    }
    e->fd = fd;
    e->events = EPOLLIN;
    e->registered = true;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epl_tag(e, EPL_TAG_CONN)};
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_warning("refusing a connection: epoll: %s", strerror(errno));
        free(e);
        close(fd);
        return;
    }
    struct conn *c = net_cb_accepted(n->base.w, fd);
    if (c == NULL) {
        if (epoll_ctl(n->epfd, EPOLL_CTL_DEL, fd, NULL) != 0)
            log_debug("epoll: removing a refused connection: %s", strerror(errno));
        free(e);
        close(fd);
        return;
    }
    e->c = c;
    c->net_priv = e;
    e->next = n->conns;
    if (n->conns)
        n->conns->prev = e;
    n->conns = e;
}

static void epl_listener_pause(struct net_epoll *n, struct epl_listener *l, int err)
{
    net_accept_error_log(&n->base, err);
    if (l->watched && epoll_ctl(n->epfd, EPOLL_CTL_DEL, l->fd, NULL) == 0)
        l->watched = false;
    l->retry_us = net_now_us() + NET_ACCEPT_BACKOFF_US;
}

static void epl_accept(struct net_epoll *n, struct epl_listener *l)
{
    for (int i = 0; i < EPL_ACCEPT_BATCH && l->fd >= 0; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            epl_accept_one(n, fd);
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        if (!net_accept_error_transient(err)) {
            epl_listener_pause(n, l, err);
            return;
        }
    }
}

/* Re-watch listeners whose back-off ended; returns the wait (us) until the
 * next one ends, or -1 if none is backing off. */
static int64_t epl_listeners_retry(struct net_epoll *n)
{
    int64_t now = net_now_us(), next = -1;
    for (int i = 0; i < n->nlisteners; i++) {
        struct epl_listener *l = &n->listeners[i];
        if (l->fd < 0 || l->retry_us == 0)
            continue;
        if (l->watched) { /* could not leave the set: nothing to restore */
            l->retry_us = 0;
            continue;
        }
        if (now < l->retry_us) {
            int64_t wait = l->retry_us - now;
            next = next < 0 || wait < next ? wait : next;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epl_tag(l, EPL_TAG_LISTENER)};
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0) {
            epl_listener_pause(n, l, errno);
            continue;
        }
        l->watched = true;
        l->retry_us = 0;
    }
    return next;
}

static void epl_wake(struct net_epoll *n)
{
    uint64_t v;
    ssize_t r = read(n->base.wake_fd, &v, sizeof(v));
    /* EAGAIN: another reader (none here) or a spurious wake-up: harmless. */
    if (r < 0 && errno != EAGAIN && errno != EINTR)
        log_debug("wake-up fd: %s", strerror(errno));
    net_cb_woken(n->base.w);
}

static void epl_finish_close(struct net_epoll *n, struct epl_conn *e)
{
    if (close(e->fd) != 0)
        log_debug("closing a connection: %s", strerror(errno));
    epl_conn_unlink(n, e);
    struct conn *c = e->c;
    c->net_priv = NULL;
    free(e);
    net_cb_closed(c);
}

/* Report completed sends, pending errors and finished closes queued so
 * far.  Entries queued by these callbacks wait for the next call. */
static int epl_run_ready(struct net_epoll *n)
{
    struct epl_conn *e = n->ready_head;
    n->ready_head = n->ready_tail = NULL;
    int done = 0;
    while (e) {
        struct epl_conn *next = e->ready_next;
        e->flags &= ~EC_READY;
        done++;
        if (e->flags & EC_CLOSING) {
            epl_finish_close(n, e);
        } else if (e->flags & EC_FAIL_PENDING) {
            e->flags &= ~EC_FAIL_PENDING;
            epl_fail(n, e, e->fail_err);
        } else if (e->flags & EC_SEND_DONE) {
            e->flags &= ~(EC_SEND_DONE | EC_SEND_ACTIVE);
            if (e->flags & EC_FAILED)
                ; /* already reported; the runtime is closing it */
            else if (e->send_err != 0)
                epl_fail(n, e, e->send_err);
            else
                net_cb_sent(e->c, e->sent);
        }
        e = next;
    }
    return done;
}

static int epl_wait(struct net_epoll *n, int64_t timeout_us)
{
    int r;
    if (timeout_us <= 0)
        return epoll_wait(n->epfd, n->events, EPL_EVENTS, 0);
#ifdef SYS_epoll_pwait2
    if (n->have_pwait2) {
        struct timespec ts = {.tv_sec = timeout_us / 1000000,
                              .tv_nsec = (timeout_us % 1000000) * 1000};
        r = (int)syscall(SYS_epoll_pwait2, n->epfd, n->events, EPL_EVENTS, &ts, NULL, 0);
        if (r >= 0 || errno != ENOSYS)
            return r;
        n->have_pwait2 = false;
    }
#endif
    int64_t ms = (timeout_us + 999) / 1000; /* round up: never return early */
    r = epoll_wait(n->epfd, n->events, EPL_EVENTS, ms > INT32_MAX ? INT32_MAX : (int)ms);
    return r;
}

static int epl_poll(struct net *base, int64_t timeout_us)
{
    struct net_epoll *n = epl_of(base);
    if (timeout_us < 0)
        timeout_us = 0;
    int done = epl_run_ready(n);
    int64_t retry = epl_listeners_retry(n);
    if (done > 0 || n->ready_head != NULL)
        timeout_us = 0;
    else if (retry >= 0 && retry < timeout_us)
        timeout_us = retry;
    int nev = epl_wait(n, timeout_us);
    if (nev < 0)
        return errno == EINTR ? done : -errno;
    for (int i = 0; i < nev; i++) {
        uint64_t tagged = n->events[i].data.u64;
        void *p = (void *)(uintptr_t)(tagged & ~(uint64_t)EPL_TAG_MASK);
        switch (tagged & EPL_TAG_MASK) {
        case EPL_TAG_CONN:
            epl_conn_event(n, p, n->events[i].events);
            break;
        case EPL_TAG_LISTENER:
            epl_accept(n, p);
            break;
        case EPL_TAG_WAKE:
            epl_wake(n);
            break;
        case EPL_TAG_WATCH:
            n->base.watch_ready(n->base.w);
            break;
        default:
            HP_ASSERT(!"unknown epoll tag");
        }
    }
    return done + nev + epl_run_ready(n);
}

static int epl_send(struct net *base, struct conn *c, const uint8_t *p, size_t len)
{
    struct net_epoll *n = epl_of(base);
    struct epl_conn *e = c->net_priv;
    HP_ASSERT(e != NULL && e->c == c);
    HP_ASSERT(!(e->flags & EC_SEND_ACTIVE));
    HP_ASSERT(len > 0);
    if (e->flags & (EC_CLOSING | EC_FAILED))
        return -EPIPE;
    e->flags |= EC_SEND_ACTIVE;
    e->send_p = p;
    e->send_len = len;
    epl_try_send(n, e);
    return 0;
}

static void epl_set_paused(struct net *base, struct conn *c, bool paused)
{
    struct net_epoll *n = epl_of(base);
    struct epl_conn *e = c->net_priv;
    HP_ASSERT(e != NULL && e->c == c);
    if (e->flags & (EC_CLOSING | EC_FAILED))
        return;
    if (paused)
        e->flags |= EC_PAUSED;
    else
        e->flags &= ~EC_PAUSED;
    int rc = epl_update_events(n, e);
    if (rc != 0) {
        /* Cannot watch it as asked: report it as failed from net_poll. */
        e->fail_err = -rc;
        e->flags |= EC_FAIL_PENDING;
        epl_ready_push(n, e);
    }
}

static void epl_pause(struct net *n, struct conn *c) { epl_set_paused(n, c, true); }
static void epl_resume(struct net *n, struct conn *c) { epl_set_paused(n, c, false); }

static void epl_close(struct net *base, struct conn *c)
{
    struct net_epoll *n = epl_of(base);
    struct epl_conn *e = c->net_priv;
    HP_ASSERT(e != NULL && e->c == c);
    if (e->flags & EC_CLOSING)
        return;
    e->flags |= EC_CLOSING;
    int rc = epl_update_events(n, e);
    if (rc != 0)
        log_debug("epoll: removing a closed connection: %s", strerror(-rc));
    epl_ready_push(n, e);
}

static void epl_stop_listening(struct net *base)
{
    struct net_epoll *n = epl_of(base);
    for (int i = 0; i < n->nlisteners; i++) {
        struct epl_listener *l = &n->listeners[i];
        if (l->fd < 0)
            continue;
        if (l->watched && epoll_ctl(n->epfd, EPOLL_CTL_DEL, l->fd, NULL) != 0)
            log_debug("epoll: removing a listener: %s", strerror(errno));
        net_listen_close(&l->fd, 1);
        l->watched = false;
        l->retry_us = 0;
    }
}

static int epl_watch(struct net *base, int fd)
{
    struct net_epoll *n = epl_of(base);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epl_tag(n, EPL_TAG_WATCH)};
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    return 0;
}

static void epl_destroy(struct net *base)
{
    struct net_epoll *n = epl_of(base);
    epl_stop_listening(base);
    /* No callbacks from here on: conns still open are closed silently. */
    while (n->conns) {
        struct epl_conn *e = n->conns;
        n->conns = e->next;
        if (close(e->fd) != 0)
            log_debug("closing a connection: %s", strerror(errno));
        if (e->c)
            e->c->net_priv = NULL;
        free(e);
    }
    if (n->epfd >= 0 && close(n->epfd) != 0)
        log_debug("closing the epoll fd: %s", strerror(errno));
    free(n->rbuf);
    free(n);
}

static const struct net_ops epl_ops = {
    .name = "epoll",
    .destroy = epl_destroy,
    .stop_listening = epl_stop_listening,
    .send = epl_send,
    .pause_recv = epl_pause,
    .resume_recv = epl_resume,
    .close = epl_close,
    .poll = epl_poll,
    .watch = epl_watch,
};

struct net *net_epoll_create(struct worker *w, int wake_fd, int *listen_fds, int nlisten,
                             char *err, size_t errlen)
{
    HP_ASSERT(nlisten >= 0 && nlisten <= NET_MAX_LISTENERS);
    struct net_epoll *n = calloc(1, sizeof(*n));
    uint8_t *rbuf = malloc(EPL_RBUF_SIZE);
    if (n == NULL || rbuf == NULL) {
        free(n);
        free(rbuf);
        snprintf(err, errlen, "epoll backend: out of memory");
        return NULL;
    }
    n->base.ops = &epl_ops;
    n->base.w = w;
    n->base.wake_fd = wake_fd;
    n->rbuf = rbuf;
    n->have_pwait2 = true;
    n->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (n->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    if (wake_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epl_tag(n, EPL_TAG_WAKE)};
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
            snprintf(err, errlen, "epoll: watching the wake-up fd: %s", strerror(errno));
            goto fail;
        }
    }
    for (int i = 0; i < nlisten; i++) {
        struct epl_listener *l = &n->listeners[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = epl_tag(l, EPL_TAG_LISTENER)};
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, listen_fds[i], &ev) != 0) {
            snprintf(err, errlen, "epoll: watching a listener: %s", strerror(errno));
            goto fail;
        }
        l->fd = listen_fds[i];
        l->watched = true;
    }
    /* The listeners are ours only now that nothing can fail. */
    n->nlisteners = nlisten;
    return &n->base;
fail:
    if (n->epfd >= 0)
        close(n->epfd);
    free(n->rbuf);
    free(n);
    return NULL;
}
