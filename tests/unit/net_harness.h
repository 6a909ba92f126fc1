/*
 * net_harness.h - shared by the kernel-TCP backend suites (test_net_uring.c,
 * test_net_epoll.c, test_net_auto.c; the contract tests themselves are in
 * net_backend_tests.h): a fake runtime and plain-socket clients.
 *
 * The kernel-TCP backends (io_uring and epoll) against a fake
 * runtime: the net_cb_* callbacks below echo what they receive, like a
 * trivial server, and record every event so the tests can check the
 * contract in net.h (exactly-once closes, no callback after net_cb_closed,
 * partial sends, pause/resume, wake-ups, listener behaviour).
 *
 * Everything runs on the test thread: clients are plain sockets, made
 * non-blocking after connect, and the tests drive net_poll between client
 * steps (an io_uring set up with SINGLE_ISSUER must be driven by the thread
 * that created it).  Every wait is bounded by a deadline.
 */
#ifndef HP_NET_HARNESS_H
#define HP_NET_HARNESS_H

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../dataplane/net/conn.h"
#include "../../common/log.h"
#include "../../dataplane/net/net.h"
#include "cu_main.h"

/* ---- fake runtime ------------------------------------------------------------------ */

#define MAX_TCONNS 1024

struct harness;

/* The backend only passes this pointer through. */
struct worker {
    struct harness *h;
};

struct tconn {
    struct conn c;            /* first: the backend sees &t->c */
    struct harness *h;
    uint8_t *pend;            /* received, not yet echoed */
    size_t pend_len, pend_cap;
    uint8_t *out;             /* handed to net_send; untouched while sending */
    size_t out_len, out_off, out_cap;
    bool sending;
    bool close_called;
    size_t rx_total, tx_total;
    unsigned nsent, npartial, nfailed, nclosed;
    int fail_err;
    unsigned after_closed;    /* callbacks after net_cb_closed: must stay 0 */
};

struct harness {
    struct worker w;
    struct net *net;
    int wake_fd;
    int port;
    struct tconn *conns[MAX_TCONNS];
    int nconns;
    unsigned naccepted, nwoken;
    bool refuse;              /* net_cb_accepted returns NULL */
    bool close_on_fail;       /* net_close inside net_cb_failed, like conn.c */
    int sndbuf;               /* > 0: SO_SNDBUF of accepted sockets */
    unsigned violations;      /* contract breaches seen by the callbacks */
};

static enum io_backend g_backend;
static bool g_skip;

static inline struct tconn *tc(struct conn *c) { return (struct tconn *)c; }

static inline void tconn_check_live(struct tconn *t)
{
    if (t->nclosed)
        t->after_closed++;
    if (t->close_called)
        t->h->violations++; /* only net_cb_closed may follow net_close */
}

struct conn *net_cb_accepted(struct worker *w, int fd)
{
    struct harness *h = w->h;
    int fl = fcntl(fd, F_GETFL), nodelay = 0;
    socklen_t len = sizeof(nodelay);
    if (fl < 0 || !(fl & O_NONBLOCK))
        h->violations++;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) != 0 || !nodelay)
        h->violations++;
    if (h->refuse || h->nconns == MAX_TCONNS)
        return NULL;
    struct tconn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (h->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &h->sndbuf, sizeof(int)) != 0)
        h->violations++;
    t->c.fd = fd;
    t->c.worker = w;
    t->h = h;
    h->conns[h->nconns++] = t;
    h->naccepted++;
    return &t->c;
}

static inline void buf_append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *d, size_t n)
{
    if (*len + n > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < *len + n)
            ncap *= 2;
        uint8_t *nb = realloc(*buf, ncap);
        HP_ASSERT(nb != NULL);
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, d, n);
    *len += n;
}

void net_cb_received(struct conn *c, const uint8_t *data, size_t len)
{
    struct tconn *t = tc(c);
    tconn_check_live(t);
    if (len == 0)
        t->h->violations++;
    t->rx_total += len;
    buf_append(&t->pend, &t->pend_len, &t->pend_cap, data, len);
}

void net_cb_sent(struct conn *c, size_t n)
{
    struct tconn *t = tc(c);
    tconn_check_live(t);
    size_t left = t->out_len - t->out_off;
    if (!t->sending || n == 0 || n > left)
        t->h->violations++;
    t->sending = false;
    t->nsent++;
    if (n < left)
        t->npartial++;
    t->out_off += HP_MIN(n, left);
    t->tx_total += n;
}

static inline void tconn_close(struct tconn *t)
{
    if (t->close_called)
        return;
    t->close_called = true;
    net_close(t->h->net, &t->c);
}

void net_cb_failed(struct conn *c, int err)
{
    struct tconn *t = tc(c);
    tconn_check_live(t);
    t->nfailed++;
    t->fail_err = err;
    if (t->h->close_on_fail)
        tconn_close(t);
}

void net_cb_closed(struct conn *c)
{
    struct tconn *t = tc(c);
    if (!t->close_called)
        t->h->violations++;
    if (t->nclosed)
        t->after_closed++;
    t->nclosed++;
}

void net_cb_woken(struct worker *w) { w->h->nwoken++; }

/* Start the next send of each connection, as conn_flush_dirty does. */
static inline void harness_flush(struct harness *h)
{
    for (int i = 0; i < h->nconns; i++) {
        struct tconn *t = h->conns[i];
        if (t->close_called || t->sending || t->nfailed)
            continue;
        if (t->out_off == t->out_len) {
            if (t->pend_len == 0)
                continue;
            /* swap: the received bytes become the in-flight buffer */
            uint8_t *b = t->out;
            size_t cap = t->out_cap;
            t->out = t->pend;
            t->out_cap = t->pend_cap;
            t->out_len = t->pend_len;
            t->out_off = 0;
            t->pend = b;
            t->pend_cap = cap;
            t->pend_len = 0;
        }
        if (net_send(h->net, &t->c, t->out + t->out_off, t->out_len - t->out_off) != 0)
            tconn_close(t);
        else
            t->sending = true;
    }
}

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int step(struct harness *h, int64_t timeout_us)
{
    int rc = net_poll(h->net, timeout_us);
    if (rc < 0)
        h->violations++;
    harness_flush(h);
    return rc;
}

/* Drive h until cond holds or ms pass; evaluates to cond. */
#define PUMP_UNTIL(h, cond, ms)                                                \
    ({                                                                         \
        int64_t dl_ = now_ms() + (ms);                                         \
        while (!(cond) && now_ms() < dl_)                                      \
            step((h), 1000);                                                   \
        (cond);                                                                \
    })

static inline void pump_for(struct harness *h, int ms)
{
    int64_t dl = now_ms() + ms;
    while (now_ms() < dl)
        step(h, 1000);
}

static inline void config_for(struct hp_config *cfg, int port, const char *bind, enum io_backend be)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = port;
    snprintf(cfg->bind[0], sizeof(cfg->bind[0]), "%s", bind);
    cfg->nbind = 1;
    cfg->tcp_backlog = 511;
    cfg->io_backend = be;
}

/* A port nobody uses now: bind a plain (non-REUSEPORT) socket to check, so
 * we never join another process's SO_REUSEPORT group. */
static inline int pick_port(void)
{
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + rand() % 40000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return port;
    }
    return -1;
}

static inline bool harness_open_port(struct harness *h, int port)
{
    memset(h, 0, sizeof(*h));
    h->w.h = h;
    h->close_on_fail = true;
    h->port = port;
    h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->wake_fd < 0)
        return false;
    struct hp_config cfg;
    config_for(&cfg, port, "127.0.0.1", g_backend);
    char err[256] = "";
    h->net = net_create(&h->w, &cfg, h->wake_fd, err, sizeof(err));
    if (h->net == NULL) {
        fprintf(stderr, "net_create: %s\n", err);
        close(h->wake_fd);
        return false;
    }
    return true;
}

static inline bool harness_open(struct harness *h)
{
    for (int tries = 0; tries < 5; tries++) {
        int port = pick_port();
        if (port > 0 && harness_open_port(h, port))
            return true;
    }
    return false;
}

static inline void harness_close(struct harness *h)
{
    net_destroy(h->net);
    close(h->wake_fd);
    for (int i = 0; i < h->nconns; i++) {
        free(h->conns[i]->pend);
        free(h->conns[i]->out);
        free(h->conns[i]);
    }
    h->nconns = 0;
}

/* ---- clients ------------------------------------------------------------------------ */

/* Blocking connect, then non-blocking; rcvbuf > 0 shrinks its window. */
static inline int client_connect_rcvbuf(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int client_connect(int port) { return client_connect_rcvbuf(port, 0); }

/* errno of a connect to port (0 if it succeeded). */
static inline int connect_errno(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static inline void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

/* Send data from client fd and read the echo, driving h; true if the
 * exact bytes came back within timeout_ms. */
static inline bool echo_roundtrip(struct harness *h, int fd, const uint8_t *data, size_t len,
                           int timeout_ms)
{
    uint8_t *got = malloc(len);
    size_t sent = 0, rcvd = 0;
    int64_t dl = now_ms() + timeout_ms;
    bool broken = false;
    while (rcvd < len && !broken && now_ms() < dl) {
        if (sent < len) {
            ssize_t r = send(fd, data + sent, HP_MIN(len - sent, (size_t)256 * 1024),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0)
                sent += (size_t)r;
            else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                broken = true;
        }
        ssize_t r = recv(fd, got + rcvd, HP_MIN(len - rcvd, (size_t)64 * 1024), MSG_DONTWAIT);
        if (r > 0)
            rcvd += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            broken = true;
        step(h, rcvd < len ? 500 : 0);
    }
    bool ok = rcvd == len && memcmp(got, data, len) == 0;
    free(got);
    return ok;
}

/* Read exactly the bytes of want from client fd, driving h. */
static inline bool client_expect(struct harness *h, int fd, const char *want, int timeout_ms)
{
    size_t len = strlen(want), got = 0;
    char buf[256];
    HP_ASSERT(len <= sizeof(buf));
    int64_t dl = now_ms() + timeout_ms;
    while (got < len && now_ms() < dl) {
        ssize_t r = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
        else
            step(h, 1000);
    }
    return got == len && memcmp(buf, want, len) == 0;
}

/* Read until EOF or a reset (true) or timeout (false), driving h. */
static inline bool client_sees_close(struct harness *h, int fd, int timeout_ms)
{
    static uint8_t sink[64 * 1024];
    int64_t dl = now_ms() + timeout_ms;
    while (now_ms() < dl) {
        ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
        if (r < 0)
            step(h, 1000);
    }
    return false;
}

/* Same, with no backend left to drive. */
static inline bool client_sees_close_unpumped(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t sink[4096];
    int64_t dl = now_ms() + timeout_ms;
    while (now_ms() < dl) {
        if (poll(&p, 1, 50) < 0 && errno != EINTR)
            return false;
        ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
    }
    return false;
}

#endif
