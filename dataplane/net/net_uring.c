/*
 * net_uring.c - the io_uring backend: submission, connections, listeners
 * and wake-up, the completion loop and tear-down (the ring's set-up and
 * the provided-buffer ring are in net_uring_setup.c, net_create() and the
 * public net_* entry points in net.c, the epoll fallback in net_epoll.c).
 *
 * Ring.  One ring per worker, created on the worker's thread with
 * SINGLE_ISSUER + DEFER_TASKRUN (completions are produced only when this
 * thread asks, so no interrupts while it works), falling back step by step
 * to older set-up flags when the kernel answers EINVAL.  With TASKRUN_FLAG
 * the kernel tells us in the SQ ring when completions are waiting, so a
 * non-blocking poll with nothing to do costs no system call.
 *
 * Operations.  Every SQE's user_data is the address of the object it
 * belongs to (a connection, a listener, or the backend itself for the
 * wake-up fd) with the operation in the low 3 bits.  A connection's state
 * counts the operations in flight for it (recv, send and cancels) and lives
 * until that count is zero and net_close was called; only then is its fd
 * closed and net_cb_closed called.  So a completion never finds its object
 * freed, and no completion can follow net_cb_closed.
 *
 * Receive.  Multishot recv with a provided-buffer ring (UR_NBUFS buffers of
 * UR_BUF_SIZE, shared by the worker's connections): the kernel picks a
 * buffer per completion, net_cb_received reads it in place and it goes back
 * to the ring right after.  Older kernels get single-shot recv with the
 * ring, or without buffer rings a per-connection buffer.  Pause cancels the
 * recv; data the kernel had already completed before the cancel took effect
 * is still delivered (the runtime handles input at any time; pausing is
 * backpressure, not a barrier).  Resume re-arms once the old recv is gone.
 *
 * Submission.  SQEs are prepared locally and copied into the ring; when the
 * SQ is full we submit and retry, and if the kernel still takes nothing
 * (old kernels refuse while completions overflow) the SQE waits, in order,
 * in a backlog that net_poll feeds in first.  No operation is dropped.
 */
#include "net_uring_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/log.h"
#include "conn.h"

/* user_data: object address | operation (objects are at least 8-aligned). */
enum {
    UR_OP_NONE = 0,        /* completion not needed (cancels of listeners/wake) */
    UR_OP_RECV = 1,
    UR_OP_SEND = 2,
    UR_OP_CANCEL_RECV = 3,
    UR_OP_CANCEL_SEND = 4,
    UR_OP_ACCEPT = 5,
    UR_OP_WAKE = 6,
    UR_OP_MASK = 7,
};

enum {
    UC_RECV_ARMED = 1u << 0,     /* a recv is in flight */
    UC_RECV_CANCELING = 1u << 1, /* a cancel of it is in flight */
    UC_SEND_ARMED = 1u << 2,
    UC_PAUSED = 1u << 3,
    UC_CLOSING = 1u << 4,        /* net_close called */
    UC_FAILED = 1u << 5,         /* net_cb_failed delivered */
    UC_FINISHING = 1u << 6,      /* on the finish list: close fd, net_cb_closed */
    UC_EOF = 1u << 7,            /* the peer half-closed: no recv any more, sends go on */
};

static struct net_uring *ur_of(struct net *n) { return (struct net_uring *)n; }

static uint64_t ur_data(const void *p, unsigned op)
{
    HP_ASSERT(((uintptr_t)p & UR_OP_MASK) == 0);
    return (uint64_t)(uintptr_t)p | op;
}

/* ---- submission ---------------------------------------------------------------- */

static void uring_submit(struct net_uring *n)
{
    int rc;
    do {
        rc = io_uring_submit(&n->ring);
    } while (rc == -EINTR);
    /* EAGAIN/EBUSY: the kernel took nothing now; the SQEs stay queued. */
    if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
        log_warning("io_uring submit: %s", strerror(-rc));
}

static struct io_uring_sqe *uring_get_sqe(struct net_uring *n)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&n->ring);
    if (sqe == NULL) {
        uring_submit(n);
        sqe = io_uring_get_sqe(&n->ring);
    }
    return sqe;
}

/* Feed backlogged SQEs into the ring, oldest first, while there is room. */
static void uring_backlog_flush(struct net_uring *n)
{
    while (n->backlog_len > 0) {
        struct io_uring_sqe *sqe = uring_get_sqe(n);
        if (sqe == NULL)
            return;
        *sqe = n->backlog[n->backlog_head];
        n->backlog_head++;
        n->backlog_len--;
    }
    n->backlog_head = 0;
}

static void uring_push(struct net_uring *n, const struct io_uring_sqe *src)
{
    if (n->backlog_len == 0) {
        struct io_uring_sqe *sqe = uring_get_sqe(n);
        if (sqe != NULL) {
            *sqe = *src;
            return;
        }
    }
    /* The backlog holds at most a few SQEs per live object (one recv, one
     * send, two cancels per conn); UR_BACKLOG_MAX is far above that, so
     * reaching it means the accounting is broken. */
    if (n->backlog_head + n->backlog_len == n->backlog_cap) {
        if (n->backlog_head > 0) {
            memmove(n->backlog, n->backlog + n->backlog_head,
                    n->backlog_len * sizeof(*n->backlog));
            n->backlog_head = 0;
        } else {
            uint32_t ncap = n->backlog_cap ? n->backlog_cap * 2 : 64;
            HP_ASSERT(ncap <= UR_BACKLOG_MAX);
            struct io_uring_sqe *nb = realloc(n->backlog, ncap * sizeof(*nb));
            HP_ASSERT(nb != NULL); /* dropping an operation would hang a client */
            n->backlog = nb;
            n->backlog_cap = ncap;
        }
    }
    n->backlog[n->backlog_head + n->backlog_len++] = *src;
}

static void uring_prep_cancel(struct net_uring *n, uint64_t target, uint64_t ud)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    io_uring_prep_cancel64(&sqe, target, 0);
    io_uring_sqe_set_data64(&sqe, ud);
    uring_push(n, &sqe);
}

/* ---- connections --------------------------------------------------------------- */

static void uring_conn_arm_recv(struct net_uring *n, struct ur_conn *u)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    if (n->br != NULL) {
        if (n->recv_multishot)
            io_uring_prep_recv_multishot(&sqe, u->fd, NULL, 0, 0);
        else
            io_uring_prep_recv(&sqe, u->fd, NULL, UR_BUF_SIZE, 0);
        sqe.flags |= IOSQE_BUFFER_SELECT;
        sqe.buf_group = UR_BGID;
    } else {
        io_uring_prep_recv(&sqe, u->fd, u->rbuf, UR_BUF_SIZE, 0);
    }
    io_uring_sqe_set_data64(&sqe, ur_data(u, UR_OP_RECV));
    uring_push(n, &sqe);
    u->flags |= UC_RECV_ARMED;
    u->inflight++;
}

static void uring_conn_arm_send(struct net_uring *n, struct ur_conn *u)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    size_t len = u->send_len > UR_SEND_MAX ? UR_SEND_MAX : u->send_len;
    io_uring_prep_send(&sqe, u->fd, u->send_p, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(&sqe, ur_data(u, UR_OP_SEND));
    uring_push(n, &sqe);
    u->flags |= UC_SEND_ARMED;
    u->inflight++;
}

static void uring_conn_cancel_recv(struct net_uring *n, struct ur_conn *u)
{
    if (!(u->flags & UC_RECV_ARMED) || (u->flags & UC_RECV_CANCELING))
        return;
    uring_prep_cancel(n, ur_data(u, UR_OP_RECV), ur_data(u, UR_OP_CANCEL_RECV));
    u->flags |= UC_RECV_CANCELING;
    u->inflight++;
}

static bool uring_conn_live(const struct net_uring *n, const struct ur_conn *u)
{
    return !n->destroying && !(u->flags & (UC_CLOSING | UC_FAILED));
}

static void uring_conn_maybe_rearm_recv(struct net_uring *n, struct ur_conn *u)
{
    if (!(u->flags & (UC_RECV_ARMED | UC_PAUSED | UC_EOF)) && uring_conn_live(n, u))
        uring_conn_arm_recv(n, u);
}

static void uring_conn_fail(struct net_uring *n, struct ur_conn *u, int err)
{
    HP_ASSERT(err != 0); /* 0 means EOF, which is uring_conn_eof */
    if (!uring_conn_live(n, u))
        return;
    u->flags |= UC_FAILED;
    net_cb_failed(u->c, err);
}

/* The peer shut down its sending side (or closed).  Reported once as
 * net_cb_failed(c, 0); the conn stays live for sends so that the replies
 * to what it sent before the FIN still go out (as with redis-server). */
static void uring_conn_eof(struct net_uring *n, struct ur_conn *u)
{
    if (!uring_conn_live(n, u) || (u->flags & UC_EOF))
        return;
    u->flags |= UC_EOF;
    net_cb_failed(u->c, 0);
}

/* Queue the close once nothing references the conn any more. */
static void uring_conn_maybe_finish(struct net_uring *n, struct ur_conn *u)
{
    if (!(u->flags & UC_CLOSING) || u->inflight > 0 || (u->flags & UC_FINISHING))
        return;
    u->flags |= UC_FINISHING;
    u->finish_next = n->finish_head;
    n->finish_head = u;
}

static void uring_conn_unlink_free(struct net_uring *n, struct ur_conn *u)
{
    if (close(u->fd) != 0)
        log_debug("closing a connection: %s", strerror(errno));
    if (u->prev)
        u->prev->next = u->next;
    else
        n->conns = u->next;
    if (u->next)
        u->next->prev = u->prev;
    if (u->c)
        u->c->net_priv = NULL;
    free(u->rbuf);
    free(u);
}

static int uring_finish_closes(struct net_uring *n)
{
    int done = 0;
    while (n->finish_head) {
        struct ur_conn *u = n->finish_head;
        n->finish_head = u->finish_next;
        struct conn *c = u->c;
        uring_conn_unlink_free(n, u);
        if (!n->destroying)
            net_cb_closed(c); /* may net_close others: they join the list */
        done++;
    }
    return done;
}

static void uring_buf_recycle(struct net_uring *n, unsigned bid)
{
    HP_ASSERT(bid < UR_NBUFS);
    io_uring_buf_ring_add(n->br, n->bufs + (size_t)bid * UR_BUF_SIZE, UR_BUF_SIZE,
                          (unsigned short)bid, io_uring_buf_ring_mask(UR_NBUFS), 0);
    io_uring_buf_ring_advance(n->br, 1);
}

static void uring_on_recv(struct net_uring *n, struct ur_conn *u, int res, unsigned flags)
{
    bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
        u->flags &= ~UC_RECV_ARMED;
        HP_ASSERT(u->inflight > 0);
        u->inflight--;
    } else {
        n->recv_multishot_seen = true;
    }
    const uint8_t *data = u->rbuf;
    bool has_buf = flags & IORING_CQE_F_BUFFER;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (has_buf)
        data = n->bufs + (size_t)bid * UR_BUF_SIZE;
    if (res > 0) {
        HP_ASSERT(data != NULL && (size_t)res <= UR_BUF_SIZE);
        if (uring_conn_live(n, u))
            net_cb_received(u->c, data, (size_t)res);
    } else if (res == 0) {
        uring_conn_eof(n, u);
    } else if (res == -EINVAL && n->recv_multishot && !n->recv_multishot_seen) {
        n->recv_multishot = false;
        log_verbose("io_uring: multishot recv unsupported, using single-shot");
    } else if (res != -ENOBUFS && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        uring_conn_fail(n, u, -res);
    }
    /* ENOBUFS: every buffer was in use; they are back by the time the
     * re-armed recv runs, since this batch returns them. */
    if (has_buf)
        uring_buf_recycle(n, bid);
    if (!more)
        uring_conn_maybe_rearm_recv(n, u);
}

static void uring_on_send(struct net_uring *n, struct ur_conn *u, int res)
{
    u->flags &= ~UC_SEND_ARMED;
    HP_ASSERT(u->inflight > 0);
    u->inflight--;
    if (!uring_conn_live(n, u))
        return;
    if (res > 0) {
        HP_ASSERT((size_t)res <= u->send_len);
        net_cb_sent(u->c, (size_t)res);
    } else if (res == -EINTR || res == -EAGAIN) {
        uring_conn_arm_send(n, u);
    } else {
        /* 0 bytes for a non-empty send only happens on a dead socket. */
        uring_conn_fail(n, u, res == 0 ? EPIPE : -res);
    }
}

static void uring_on_cancel(struct net_uring *n, struct ur_conn *u, unsigned op, int res)
{
    HP_ASSERT(u->inflight > 0);
    u->inflight--;
    if (op == UR_OP_CANCEL_RECV)
        u->flags &= ~UC_RECV_CANCELING;
    /* EALREADY: the op is running and cannot be cancelled; shutting the
     * socket down makes it complete, so a closing conn cannot linger. */
    if (res == -EALREADY && (u->flags & UC_CLOSING) && shutdown(u->fd, SHUT_RDWR) != 0)
        log_debug("shutdown of a closing connection: %s", strerror(errno));
}

/* ---- listeners and wake-up --------------------------------------------------- */

void net_uring_listener_arm(struct net_uring *n, struct ur_listener *l)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    if (n->accept_multishot)
        io_uring_prep_multishot_accept(&sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_accept(&sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(&sqe, ur_data(l, UR_OP_ACCEPT));
    uring_push(n, &sqe);
    l->armed = true;
}

static void uring_accept_conn(struct net_uring *n, int fd)
{
    int rc = net_conn_setup(fd);
    struct ur_conn *u = rc == 0 ? calloc(1, sizeof(*u)) : NULL;
    if (u != NULL && n->br == NULL && (u->rbuf = malloc(UR_BUF_SIZE)) == NULL) {
        free(u);
        u = NULL;
    }
    if (u == NULL) {
        log_warning("refusing a connection: %s", rc != 0 ? strerror(-rc) : "out of memory");
        close(fd);
        return;
    }
    u->fd = fd;
    struct conn *c = net_cb_accepted(n->base.w, fd);
    if (c == NULL) {
        free(u->rbuf);
        free(u);
        close(fd);
        return;
    }
    u->c = c;
    c->net_priv = u;
    u->next = n->conns;
    if (n->conns)
        n->conns->prev = u;
    n->conns = u;
    uring_conn_arm_recv(n, u);
}

static void uring_listener_close_if_idle(struct ur_listener *l)
{
    if (l->stopping && !l->armed && l->fd >= 0)
        net_listen_close(&l->fd, 1);
}

static void uring_on_accept(struct net_uring *n, struct ur_listener *l, int res, unsigned flags)
{
    bool more = flags & IORING_CQE_F_MORE;
    if (!more)
        l->armed = false;
    else
        n->accept_multishot_seen = true;
    bool active = !l->stopping && !n->destroying;
    if (res >= 0) {
        if (active)
            uring_accept_conn(n, res);
        else if (close(res) != 0) /* accepted just before the listener stopped */
            log_debug("closing a late connection: %s", strerror(errno));
    } else if (!active || res == -ECANCELED) {
        /* stopping, or our own back-off cancel */
    } else if (res == -EINVAL && n->accept_multishot && !n->accept_multishot_seen) {
        n->accept_multishot = false;
        log_verbose("io_uring: multishot accept unsupported, using single-shot");
    } else if (!net_accept_error_transient(-res)) {
        net_accept_error_log(&n->base, -res);
        l->retry_us = net_now_us() + NET_ACCEPT_BACKOFF_US;
        if (l->armed) /* a multishot that survived the error: stop it too */
            uring_prep_cancel(n, ur_data(l, UR_OP_ACCEPT), UR_OP_NONE);
    }
    if (!l->armed && active && l->retry_us == 0)
        net_uring_listener_arm(n, l);
    uring_listener_close_if_idle(l);
}

/* Re-arm listeners whose back-off ended; returns the wait (us) until the
 * next one ends, or -1 if none is backing off. */
static int64_t uring_listeners_retry(struct net_uring *n)
{
    int64_t now = 0, next = -1;
    for (int i = 0; i < n->nlisteners; i++) {
        struct ur_listener *l = &n->listeners[i];
        if (l->retry_us == 0 || l->stopping)
            continue;
        if (now == 0)
            now = net_now_us();
        if (now < l->retry_us) {
            int64_t wait = l->retry_us - now;
            next = next < 0 || wait < next ? wait : next;
            continue;
        }
        l->retry_us = 0;
        if (!l->armed)
            net_uring_listener_arm(n, l);
    }
    return next;
}

void net_uring_wake_arm(struct net_uring *n)
{
    /* A poll, not a read: the worker's eventfd is non-blocking, and
     * io_uring completes reads on O_NONBLOCK files with EAGAIN instead of
     * waiting.  The counter is drained with read(2) on completion. */
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    io_uring_prep_poll_add(&sqe, n->base.wake_fd, POLLIN);
    io_uring_sqe_set_data64(&sqe, ur_data(n, UR_OP_WAKE));
    uring_push(n, &sqe);
    n->wake_armed = true;
}

static void uring_on_wake(struct net_uring *n, int res)
{
    n->wake_armed = false;
    if (n->destroying || res == -ECANCELED)
        return;
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        /* Not re-armed: a broken fd would complete at once, forever.  The
         * worker still runs on its poll timeouts. */
        log_warning("io_uring: wake-up fd: %s; wake-ups disabled", strerror(-res));
        return;
    }
    uint64_t v;
    if (read(n->base.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
        log_debug("wake-up fd: %s", strerror(errno));
    net_cb_woken(n->base.w);
    net_uring_wake_arm(n);
}

static void uring_watch_arm(struct net_uring *n)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof(sqe));
    io_uring_prep_poll_add(&sqe, n->base.watch_fd, POLLIN);
    io_uring_sqe_set_data64(&sqe, ur_data(&n->watch_tag, UR_OP_WAKE));
    uring_push(n, &sqe);
    n->watch_armed = true;
}

static void uring_on_watch(struct net_uring *n, int res)
{
    n->watch_armed = false;
    if (n->destroying || res == -ECANCELED)
        return;
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        log_warning("io_uring: watched fd: %s; no longer watched", strerror(-res));
        return;
    }
    n->base.watch_ready(n->base.w);
    uring_watch_arm(n);
}

static int uring_watch(struct net *base, int fd)
{
    struct net_uring *n = ur_of(base);
    (void)fd; /* in base.watch_fd */
    uring_watch_arm(n);
    return 0;
}

/* ---- completion loop ----------------------------------------------------------- */

static void uring_dispatch(struct net_uring *n, uint64_t ud, int res, unsigned flags)
{
    void *p = (void *)(uintptr_t)(ud & ~(uint64_t)UR_OP_MASK);
    unsigned op = (unsigned)(ud & UR_OP_MASK);
    switch (op) {
    case UR_OP_NONE:
        return;
    case UR_OP_RECV:
        uring_on_recv(n, p, res, flags);
        uring_conn_maybe_finish(n, p);
        return;
    case UR_OP_SEND:
        uring_on_send(n, p, res);
        uring_conn_maybe_finish(n, p);
        return;
    case UR_OP_CANCEL_RECV:
    case UR_OP_CANCEL_SEND:
        uring_on_cancel(n, p, op, res);
        uring_conn_maybe_finish(n, p);
        return;
    case UR_OP_ACCEPT:
        uring_on_accept(n, p, res, flags);
        return;
    case UR_OP_WAKE:
        if (p == &n->watch_tag)
            uring_on_watch(n, res);
        else
            uring_on_wake(n, res);
        return;
    default:
        HP_ASSERT(!"unknown io_uring operation");
    }
}

/* Handle every completion available now (at most one CQ's worth). */
static int uring_reap(struct net_uring *n)
{
    unsigned head, seen = 0;
    int handled = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&n->ring, head, cqe) {
        seen++;
        /* liburing's own timeout on kernels without EXT_ARG */
        if (cqe->user_data != LIBURING_UDATA_TIMEOUT) {
            uring_dispatch(n, cqe->user_data, cqe->res, cqe->flags);
            handled++;
        }
        if (seen == UR_CQ_ENTRIES)
            break;
    }
    io_uring_cq_advance(&n->ring, seen);
    return handled;
}

/* Whether entering the kernel can achieve anything.  Without TASKRUN_FLAG
 * (kernels before 5.19) completions are posted without our help, so only
 * queued SQEs or an overflowed CQ need a system call. */
static bool uring_needs_enter(struct net_uring *n)
{
    if (io_uring_sq_ready(&n->ring) > 0)
        return true;
    unsigned kflags = IO_URING_READ_ONCE(*n->ring.sq.kflags);
    if (kflags & IORING_SQ_CQ_OVERFLOW)
        return true;
    return (n->setup_flags & IORING_SETUP_TASKRUN_FLAG) && (kflags & IORING_SQ_TASKRUN);
}

static int uring_poll(struct net *base, int64_t timeout_us)
{
    struct net_uring *n = ur_of(base);
    int done = 0;
    uring_backlog_flush(n);
    if (uring_needs_enter(n)) {
        int rc = io_uring_submit_and_get_events(&n->ring);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            return rc;
    }
    done += uring_reap(n);
    done += uring_finish_closes(n);
    int64_t retry = uring_listeners_retry(n);
    if (done > 0 || timeout_us <= 0)
        return done;
    if (retry >= 0 && retry < timeout_us)
        timeout_us = retry;
    struct __kernel_timespec ts = {.tv_sec = timeout_us / 1000000,
                                   .tv_nsec = (timeout_us % 1000000) * 1000};
    struct io_uring_cqe *cqe = NULL;
    int rc = io_uring_submit_and_wait_timeout(&n->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        return rc;
    done += uring_reap(n);
    done += uring_finish_closes(n);
    uring_listeners_retry(n);
    return done;
}

/* ---- API operations ------------------------------------------------------------ */

static int uring_send(struct net *base, struct conn *c, const uint8_t *p, size_t len)
{
    struct net_uring *n = ur_of(base);
    struct ur_conn *u = c->net_priv;
    HP_ASSERT(u != NULL && u->c == c);
    HP_ASSERT(!(u->flags & UC_SEND_ARMED));
    HP_ASSERT(len > 0);
    if (!uring_conn_live(n, u))
        return -EPIPE;
    u->send_p = p;
    u->send_len = len;
    uring_conn_arm_send(n, u);
    return 0;
}

static void uring_pause(struct net *base, struct conn *c)
{
    struct net_uring *n = ur_of(base);
    struct ur_conn *u = c->net_priv;
    HP_ASSERT(u != NULL && u->c == c);
    if (u->flags & (UC_PAUSED | UC_CLOSING))
        return;
    u->flags |= UC_PAUSED;
    uring_conn_cancel_recv(n, u);
}

static void uring_resume(struct net *base, struct conn *c)
{
    struct net_uring *n = ur_of(base);
    struct ur_conn *u = c->net_priv;
    HP_ASSERT(u != NULL && u->c == c);
    if (!(u->flags & UC_PAUSED) || (u->flags & UC_CLOSING))
        return;
    u->flags &= ~UC_PAUSED;
    /* If the cancelled recv has not completed yet, its completion re-arms. */
    uring_conn_maybe_rearm_recv(n, u);
}

static void uring_close(struct net *base, struct conn *c)
{
    struct net_uring *n = ur_of(base);
    struct ur_conn *u = c->net_priv;
    HP_ASSERT(u != NULL && u->c == c);
    if (u->flags & UC_CLOSING)
        return;
    u->flags |= UC_CLOSING;
    uring_conn_cancel_recv(n, u);
    if (u->flags & UC_SEND_ARMED) {
        uring_prep_cancel(n, ur_data(u, UR_OP_SEND), ur_data(u, UR_OP_CANCEL_SEND));
        u->inflight++;
    }
    /* Never net_cb_closed from here: the runtime frees the conn in it. */
    uring_conn_maybe_finish(n, u);
}

static void uring_stop_listening(struct net *base)
{
    struct net_uring *n = ur_of(base);
    for (int i = 0; i < n->nlisteners; i++) {
        struct ur_listener *l = &n->listeners[i];
        if (l->fd < 0 || l->stopping)
            continue;
        l->stopping = true;
        l->retry_us = 0;
        /* The armed accept holds a reference to the socket, so close(2)
         * alone would leave it listening until the cancel completes;
         * shutdown(2) stops a listening socket at once (Linux), so new
         * connections are refused when this returns. */
        if (shutdown(l->fd, SHUT_RDWR) != 0)
            log_debug("shutdown of a listener: %s", strerror(errno));
        if (l->armed)
            uring_prep_cancel(n, ur_data(l, UR_OP_ACCEPT), UR_OP_NONE);
        uring_listener_close_if_idle(l);
    }
}

static bool uring_outstanding(const struct net_uring *n)
{
    if (n->wake_armed || n->watch_armed)
        return true;
    for (int i = 0; i < n->nlisteners; i++)
        if (n->listeners[i].armed)
            return true;
    for (const struct ur_conn *u = n->conns; u; u = u->next)
        if (u->inflight > 0)
            return true;
    return false;
}

/* Cancel everything and wait (bounded) for the kernel to let go of our
 * buffers; returns whether it did. */
static bool uring_drain(struct net_uring *n)
{
    n->destroying = true;
    uring_stop_listening(&n->base);
    if (n->wake_armed)
        uring_prep_cancel(n, ur_data(n, UR_OP_WAKE), UR_OP_NONE);
    if (n->watch_armed)
        uring_prep_cancel(n, ur_data(&n->watch_tag, UR_OP_WAKE), UR_OP_NONE);
    for (struct ur_conn *u = n->conns; u; u = u->next) {
        uring_conn_cancel_recv(n, u);
        if ((u->flags & UC_SEND_ARMED) && !(u->flags & UC_CLOSING)) {
            uring_prep_cancel(n, ur_data(u, UR_OP_SEND), ur_data(u, UR_OP_CANCEL_SEND));
            u->inflight++;
        }
        u->flags |= UC_CLOSING;
    }
    int64_t deadline = net_now_us() + UR_DESTROY_DRAIN_US;
    while (uring_outstanding(n) && net_now_us() < deadline) {
        uring_backlog_flush(n);
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_submit_and_wait_timeout(&n->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            break;
        uring_reap(n);
    }
    return !uring_outstanding(n);
}

static void uring_destroy(struct net *base)
{
    struct net_uring *n = ur_of(base);
    bool drained = uring_drain(n);
    io_uring_queue_exit(&n->ring);
    uring_finish_closes(n); /* destroying: no callbacks */
    while (n->conns)
        uring_conn_unlink_free(n, n->conns);
    for (int i = 0; i < n->nlisteners; i++)
        net_listen_close(&n->listeners[i].fd, 1);
    if (drained)
        net_uring_free_bufs(n);
    else /* the kernel may still write into them: leaking is the safe outcome */
        log_warning("io_uring: operations still pending at shutdown; leaking %u KiB of "
                    "receive buffers", (unsigned)((size_t)UR_NBUFS * UR_BUF_SIZE / 1024));
    free(n->backlog);
    free(n);
}

const struct net_ops net_uring_ops = {
    .name = "io_uring",
    .destroy = uring_destroy,
    .stop_listening = uring_stop_listening,
    .send = uring_send,
    .pause_recv = uring_pause,
    .resume_recv = uring_resume,
    .close = uring_close,
    .poll = uring_poll,
    .watch = uring_watch,
};
