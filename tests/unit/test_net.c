/*
 * test_net.c - the kernel-TCP backends (io_uring and epoll) against a fake
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

static struct tconn *tc(struct conn *c) { return (struct tconn *)c; }

static void tconn_check_live(struct tconn *t)
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

static void buf_append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *d, size_t n)
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

static void tconn_close(struct tconn *t)
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
static void harness_flush(struct harness *h)
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int step(struct harness *h, int64_t timeout_us)
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

static void pump_for(struct harness *h, int ms)
{
    int64_t dl = now_ms() + ms;
    while (now_ms() < dl)
        step(h, 1000);
}

static void config_for(struct hp_config *cfg, int port, const char *bind, enum io_backend be)
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
static int pick_port(void)
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

static bool harness_open_port(struct harness *h, int port)
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

static bool harness_open(struct harness *h)
{
    for (int tries = 0; tries < 5; tries++) {
        int port = pick_port();
        if (port > 0 && harness_open_port(h, port))
            return true;
    }
    return false;
}

static void harness_close(struct harness *h)
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
static int client_connect_rcvbuf(int port, int rcvbuf)
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

static int client_connect(int port) { return client_connect_rcvbuf(port, 0); }

/* errno of a connect to port (0 if it succeeded). */
static int connect_errno(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
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
static bool echo_roundtrip(struct harness *h, int fd, const uint8_t *data, size_t len,
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
static bool client_expect(struct harness *h, int fd, const char *want, int timeout_ms)
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
static bool client_sees_close(struct harness *h, int fd, int timeout_ms)
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
static bool client_sees_close_unpumped(int fd, int timeout_ms)
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

/* ---- tests -------------------------------------------------------------------------- */

#define SKIP_IF_UNAVAILABLE()                                                  \
    do {                                                                       \
        if (g_skip) {                                                          \
            CU_SKIP("io_uring unavailable here");                              \
            return;                                                            \
        }                                                                      \
    } while (0)

static void test_backend_name(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    CU_ASSERT_STRING_EQUAL(net_backend_name(h.net),
                           g_backend == IO_BACKEND_EPOLL ? "epoll" : "io_uring");
    CU_ASSERT_EQUAL(net_poll(h.net, 0), 0);
    harness_close(&h);
}

static void test_create_errors(void)
{
    SKIP_IF_UNAVAILABLE();
    struct worker w = {NULL};
    struct hp_config cfg;
    char err[256] = "";

    config_for(&cfg, 6379, "not-an-ip", g_backend);
    CU_ASSERT_PTR_NULL(net_create(&w, &cfg, -1, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not-an-ip"));

    /* a plain listener (no SO_REUSEPORT) on the port: the kernel refuses */
    int port = pick_port();
    CU_ASSERT_FATAL(port > 0);
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(bind(busy, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(busy, 4) == 0);
    config_for(&cfg, port, "127.0.0.1", g_backend);
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(net_create(&w, &cfg, -1, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(EADDRINUSE)));
    close(busy);

    config_for(&cfg, 70000, "127.0.0.1", g_backend);
    CU_ASSERT_PTR_NULL(net_create(&w, &cfg, -1, err, sizeof(err)));
    config_for(&cfg, 6379, "127.0.0.1", (enum io_backend)7);
    CU_ASSERT_PTR_NULL(net_create(&w, &cfg, -1, err, sizeof(err)));

    /* port 0: no listener, no wake fd: a backend that only polls */
    config_for(&cfg, 0, "127.0.0.1", g_backend);
    struct net *n = net_create(&w, &cfg, -1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(net_poll(n, 0), 0);
    CU_ASSERT_EQUAL(net_poll(n, 2000), 0);
    net_destroy(n);
}

static void test_bind_variants(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    memset(&h, 0, sizeof(h));
    h.w.h = &h;
    h.close_on_fail = true;
    h.wake_fd = -1;
    int port = pick_port();
    CU_ASSERT_FATAL(port > 0);
    struct hp_config cfg;
    config_for(&cfg, port, "-192.0.2.1", g_backend); /* TEST-NET: not ours, optional */
    snprintf(cfg.bind[1], sizeof(cfg.bind[1]), "127.0.0.1");
    cfg.nbind = 2;
    char err[256] = "";
    h.net = net_create(&h.w, &cfg, -1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(h.net);
    int fd = client_connect(port);
    CU_ASSERT(fd >= 0);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    close(fd);
    net_destroy(h.net);
    h.net = NULL;
    for (int i = 0; i < h.nconns; i++) {
        free(h.conns[i]->pend);
        free(h.conns[i]->out);
        free(h.conns[i]);
    }

    /* the same address without '-' is an error */
    config_for(&cfg, port, "192.0.2.1", g_backend);
    CU_ASSERT_PTR_NULL(net_create(&h.w, &cfg, -1, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "192.0.2.1"));

    /* IPv6 loopback, where the machine has it */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a6, sizeof(a6)) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6)
        return;
    config_for(&cfg, port, "::1", g_backend);
    struct harness h6;
    memset(&h6, 0, sizeof(h6));
    h6.w.h = &h6;
    h6.wake_fd = -1;
    h6.net = net_create(&h6.w, &cfg, -1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(h6.net);
    int c6 = socket(AF_INET6, SOCK_STREAM, 0);
    a6.sin6_port = htons((uint16_t)port);
    CU_ASSERT(connect(c6, (struct sockaddr *)&a6, sizeof(a6)) == 0);
    CU_ASSERT(PUMP_UNTIL(&h6, h6.naccepted == 1, 2000));
    close(c6);
    net_destroy(h6.net);
    for (int i = 0; i < h6.nconns; i++)
        free(h6.conns[i]);
}

static void test_echo_small(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int fd = client_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    static const char *msgs[] = {"PING\r\n", "*1\r\n$4\r\nPING\r\n", "x"};
    for (size_t i = 0; i < HP_ARRAY_LEN(msgs); i++)
        CU_ASSERT(echo_roundtrip(&h, fd, (const uint8_t *)msgs[i], strlen(msgs[i]), 2000));
    CU_ASSERT_EQUAL(h.violations, 0);
    close(fd);
    harness_close(&h);
}

static void test_echo_large_partial(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    h.sndbuf = 4096; /* small socket buffers on both sides: sends go out partially */
    int fd = client_connect_rcvbuf(h.port, 4096);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    size_t len = 4u << 20;
    uint8_t *data = malloc(len);
    fill_random(data, len, 42);
    CU_ASSERT(echo_roundtrip(&h, fd, data, len, 20000));
    if (h.nconns == 1) {
        struct tconn *t = h.conns[0];
        CU_ASSERT_EQUAL(t->rx_total, len);
        CU_ASSERT_EQUAL(t->tx_total, len);
        CU_ASSERT(t->npartial > 0);
        CU_ASSERT_EQUAL(t->nfailed, 0);
    }
    CU_ASSERT_EQUAL(h.violations, 0);
    free(data);
    close(fd);
    harness_close(&h);
}

#define MANY 200

static void test_many_connections(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int fds[MANY];
    char expect[MANY][32];
    char got[MANY][32];
    size_t gotlen[MANY];
    int ok = 0;
    for (int i = 0; i < MANY; i++) {
        fds[i] = client_connect(h.port);
        if (fds[i] < 0)
            break;
        ok++;
        if (i % 32 == 31)
            step(&h, 0);
    }
    CU_ASSERT_EQUAL_FATAL(ok, MANY);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == MANY, 5000));
    for (int i = 0; i < MANY; i++) {
        snprintf(expect[i], sizeof(expect[i]), "hello %d\n", i);
        gotlen[i] = 0;
        CU_ASSERT(send(fds[i], expect[i], strlen(expect[i]), MSG_NOSIGNAL) ==
                  (ssize_t)strlen(expect[i]));
    }
    int done = 0;
    int64_t dl = now_ms() + 5000;
    while (done < MANY && now_ms() < dl) {
        step(&h, 1000);
        done = 0;
        for (int i = 0; i < MANY; i++) {
            size_t want = strlen(expect[i]);
            if (gotlen[i] < want) {
                ssize_t r = recv(fds[i], got[i] + gotlen[i], want - gotlen[i], MSG_DONTWAIT);
                if (r > 0)
                    gotlen[i] += (size_t)r;
            }
            done += gotlen[i] == want && memcmp(got[i], expect[i], want) == 0;
        }
    }
    CU_ASSERT_EQUAL(done, MANY);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    int closed = 0;
    dl = now_ms() + 5000;
    while (closed < h.nconns && now_ms() < dl) {
        step(&h, 1000);
        closed = 0;
        for (int i = 0; i < h.nconns; i++)
            closed += h.conns[i]->nclosed > 0;
    }
    CU_ASSERT_EQUAL(closed, MANY);
    pump_for(&h, 20);
    for (int i = 0; i < h.nconns; i++) {
        struct tconn *t = h.conns[i];
        CU_ASSERT_EQUAL(t->nfailed, 1);
        CU_ASSERT_EQUAL(t->fail_err, 0);
        CU_ASSERT_EQUAL(t->nclosed, 1);
        CU_ASSERT_EQUAL(t->after_closed, 0);
    }
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

static void test_peer_close_and_reset(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int a = client_connect(h.port);
    int b = client_connect(h.port);
    CU_ASSERT_FATAL(a >= 0 && b >= 0);
    CU_ASSERT_FATAL(PUMP_UNTIL(&h, h.naccepted == 2, 2000));
    CU_ASSERT(echo_roundtrip(&h, a, (const uint8_t *)"hi", 2, 2000));
    CU_ASSERT(echo_roundtrip(&h, b, (const uint8_t *)"hi", 2, 2000));
    /* which tconn is which: the first accepted is a (connects are ordered) */
    struct tconn *ta = h.conns[0], *tb = h.conns[1];

    close(a); /* FIN: EOF */
    CU_ASSERT(PUMP_UNTIL(&h, ta->nclosed > 0, 2000));
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CU_ASSERT(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    close(b); /* RST */
    CU_ASSERT(PUMP_UNTIL(&h, tb->nclosed > 0, 2000));
    pump_for(&h, 30);
    CU_ASSERT_EQUAL(ta->nfailed, 1);
    CU_ASSERT_EQUAL(ta->fail_err, 0);
    CU_ASSERT_EQUAL(tb->nfailed, 1);
    CU_ASSERT_EQUAL(tb->fail_err, ECONNRESET);
    CU_ASSERT_EQUAL(ta->nclosed, 1);
    CU_ASSERT_EQUAL(tb->nclosed, 1);
    CU_ASSERT_EQUAL(ta->after_closed + tb->after_closed, 0);
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

/* Failure reported, but the runtime closes only later (not inside the
 * callback): nothing else may be reported meanwhile, then one close. */
static void test_deferred_close_after_failure(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    h.close_on_fail = false;
    int fd = client_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    struct tconn *t = h.conns[0];
    close(fd);
    CU_ASSERT(PUMP_UNTIL(&h, t->nfailed > 0, 2000));
    pump_for(&h, 30);
    CU_ASSERT_EQUAL(t->nfailed, 1);
    CU_ASSERT_EQUAL(t->nclosed, 0);
    tconn_close(t);
    tconn_close(t); /* idempotent */
    CU_ASSERT_EQUAL(t->nclosed, 0); /* never from inside net_close */
    CU_ASSERT(PUMP_UNTIL(&h, t->nclosed > 0, 2000));
    pump_for(&h, 20);
    CU_ASSERT_EQUAL(t->nclosed, 1);
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

/* Close while a send is stuck in flight (the client does not read). */
static void test_close_with_send_in_flight(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    h.sndbuf = 4096;
    int fd = client_connect_rcvbuf(h.port, 4096);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    struct tconn *t = h.conns[0];
    size_t len = 8u << 20;
    uint8_t *data = malloc(len);
    fill_random(data, len, 7);
    buf_append(&t->pend, &t->pend_len, &t->pend_cap, data, len);
    free(data);
    pump_for(&h, 50);
    CU_ASSERT(t->sending);           /* stuck: the client's window is full */
    CU_ASSERT(t->tx_total < len);
    unsigned sent_before = t->nsent;
    tconn_close(t);
    CU_ASSERT(PUMP_UNTIL(&h, t->nclosed > 0, 2000));
    pump_for(&h, 20);
    CU_ASSERT_EQUAL(t->nclosed, 1);
    CU_ASSERT_EQUAL(t->nsent, sent_before); /* no net_cb_sent after net_close */
    CU_ASSERT(client_sees_close(&h, fd, 5000));
    CU_ASSERT_EQUAL(h.violations, 0);
    close(fd);
    harness_close(&h);
}

static void test_pause_resume(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int fd = client_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    struct tconn *t = h.conns[0];
    CU_ASSERT(echo_roundtrip(&h, fd, (const uint8_t *)"before", 6, 2000));

    net_pause_recv(h.net, &t->c);
    net_pause_recv(h.net, &t->c); /* idempotent */
    pump_for(&h, 20);
    size_t rx = t->rx_total;
    CU_ASSERT(send(fd, "while-paused", 12, MSG_NOSIGNAL) == 12);
    pump_for(&h, 100);
    CU_ASSERT_EQUAL(t->rx_total, rx); /* nothing read while paused */
    net_resume_recv(h.net, &t->c);
    CU_ASSERT(PUMP_UNTIL(&h, t->rx_total == rx + 12, 2000));
    CU_ASSERT(client_expect(&h, fd, "while-paused", 2000));

    /* pause/resume flapping before the backend gets to run */
    net_pause_recv(h.net, &t->c);
    net_resume_recv(h.net, &t->c);
    net_pause_recv(h.net, &t->c);
    net_resume_recv(h.net, &t->c);
    CU_ASSERT(echo_roundtrip(&h, fd, (const uint8_t *)"after-flap", 10, 2000));

    /* the client closes while paused: still reported */
    net_pause_recv(h.net, &t->c);
    pump_for(&h, 20);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CU_ASSERT(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    close(fd);
    pump_for(&h, 50);
    /* epoll still sees the reset (EPOLLERR); io_uring's recv is cancelled,
     * so there it shows only on resume.  Both are fine for the runtime. */
    if (t->nclosed == 0)
        net_resume_recv(h.net, &t->c);
    CU_ASSERT(PUMP_UNTIL(&h, t->nclosed == 1, 2000));
    CU_ASSERT_EQUAL(t->nfailed, 1);
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

static void test_wake_and_timeout(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    uint64_t one = 1;
    /* non-blocking polls alone must notice it */
    CU_ASSERT(write(h.wake_fd, &one, sizeof(one)) == sizeof(one));
    int64_t dl = now_ms() + 1000;
    while (h.nwoken == 0 && now_ms() < dl)
        net_poll(h.net, 0);
    CU_ASSERT_EQUAL(h.nwoken, 1);
    /* a blocking poll returns early on a wake-up, and it is re-armed */
    CU_ASSERT(write(h.wake_fd, &one, sizeof(one)) == sizeof(one));
    int64_t t0 = now_ms();
    while (h.nwoken < 2 && now_ms() - t0 < 3000)
        net_poll(h.net, 2000000);
    CU_ASSERT_EQUAL(h.nwoken, 2);
    CU_ASSERT(now_ms() - t0 < 1000);
    /* nothing to do: waits the timeout, returns 0 */
    t0 = now_ms();
    int rc = net_poll(h.net, 30000);
    int64_t el = now_ms() - t0;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(el >= 25 && el < 1000);
    t0 = now_ms();
    CU_ASSERT_EQUAL(net_poll(h.net, 0), 0);
    CU_ASSERT(now_ms() - t0 < 200); /* does not wait (generous for loaded machines) */
    CU_ASSERT_EQUAL(h.nwoken, 2);
    harness_close(&h);
}

static void test_stop_listening(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int a = client_connect(h.port);
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT_FATAL(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    net_stop_listening(h.net);
    CU_ASSERT_EQUAL(connect_errno(h.port), ECONNREFUSED); /* at once */
    pump_for(&h, 20);
    CU_ASSERT_EQUAL(connect_errno(h.port), ECONNREFUSED);
    net_stop_listening(h.net); /* idempotent */
    pump_for(&h, 20);
    CU_ASSERT_EQUAL(h.naccepted, 1);
    CU_ASSERT(echo_roundtrip(&h, a, (const uint8_t *)"still here", 10, 2000));
    close(a);
    CU_ASSERT(PUMP_UNTIL(&h, h.conns[0]->nclosed == 1, 2000));
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

static void test_reuseport_two_instances(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h1, h2;
    CU_ASSERT_FATAL(harness_open(&h1));
    if (!harness_open_port(&h2, h1.port)) {
        CU_FAIL("second instance on the same port");
        harness_close(&h1);
        return;
    }
    enum { N = 64 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = client_connect(h1.port);
    int64_t dl = now_ms() + 3000;
    while (h1.naccepted + h2.naccepted < N && now_ms() < dl) {
        step(&h1, 0);
        step(&h2, 1000);
    }
    CU_ASSERT_EQUAL(h1.naccepted + h2.naccepted, N);
    CU_ASSERT(h1.naccepted > 0);
    CU_ASSERT(h2.naccepted > 0);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    dl = now_ms() + 3000;
    unsigned closed = 0;
    while (closed < h1.naccepted + h2.naccepted && now_ms() < dl) {
        step(&h1, 0);
        step(&h2, 1000);
        closed = 0;
        for (int i = 0; i < h1.nconns; i++)
            closed += h1.conns[i]->nclosed;
        for (int i = 0; i < h2.nconns; i++)
            closed += h2.conns[i]->nclosed;
    }
    CU_ASSERT_EQUAL(closed, N);
    CU_ASSERT_EQUAL(h1.violations + h2.violations, 0);
    harness_close(&h1);
    harness_close(&h2);
}

static void test_refused_by_runtime(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    h.refuse = true;
    int fd = client_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(client_sees_close(&h, fd, 2000)); /* the backend closed it */
    CU_ASSERT_EQUAL(h.naccepted, 0);
    close(fd);
    h.refuse = false;
    fd = client_connect(h.port);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 1, 2000));
    CU_ASSERT(echo_roundtrip(&h, fd, (const uint8_t *)"ok", 2, 2000));
    close(fd);
    harness_close(&h);
}

/* Out of descriptors: accept fails with EMFILE; the backend must back off
 * (not spin on the pending connection) and accept it once fds free up. */
static void test_emfile_backoff(void)
{
    SKIP_IF_UNAVAILABLE();
    struct rlimit old;
    CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &old) == 0);
    int lowest = fcntl(0, F_DUPFD_CLOEXEC, 0);
    CU_ASSERT_FATAL(lowest >= 0);
    close(lowest);
    /* room for the backend's own fds and the client, no more */
    struct rlimit low = {.rlim_cur = (rlim_t)lowest + 8, .rlim_max = old.rlim_max};
    CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);
    struct harness h;
    bool opened = harness_open(&h);
    int fd = opened ? client_connect(h.port) : -1;
    int fillers[16], nfill = 0;
    while (nfill < 16) {
        int f = fcntl(0, F_DUPFD_CLOEXEC, 0);
        if (f < 0)
            break;
        fillers[nfill++] = f;
    }
    int events = 0;
    int64_t t0 = now_ms();
    if (opened && fd >= 0) {
        while (now_ms() - t0 < 300) {
            int rc = net_poll(h.net, 20000);
            if (rc > 0)
                events += rc;
        }
    }
    int64_t el = now_ms() - t0;
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    CU_ASSERT(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CU_ASSERT_FATAL(opened);
    CU_ASSERT(fd >= 0);
    CU_ASSERT_EQUAL(h.naccepted, 0);
    CU_ASSERT(events < 30); /* a few failed attempts, not a busy loop */
    CU_ASSERT(el >= 300 && el < 2000);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 1, 3000));
    if (fd >= 0) {
        CU_ASSERT(echo_roundtrip(&h, fd, (const uint8_t *)"back", 4, 2000));
        close(fd);
    }
    CU_ASSERT_EQUAL(h.violations, 0);
    harness_close(&h);
}

static void test_destroy_with_open_conns(void)
{
    SKIP_IF_UNAVAILABLE();
    struct harness h;
    CU_ASSERT_FATAL(harness_open(&h));
    int a = client_connect(h.port), b = client_connect(h.port);
    CU_ASSERT_FATAL(a >= 0 && b >= 0);
    CU_ASSERT(PUMP_UNTIL(&h, h.naccepted == 2, 2000));
    net_pause_recv(h.net, &h.conns[0]->c);
    int port = h.port;
    harness_close(&h); /* no callbacks; sockets closed */
    CU_ASSERT(client_sees_close_unpumped(a, 2000));
    CU_ASSERT(client_sees_close_unpumped(b, 2000));
    CU_ASSERT_EQUAL(connect_errno(port), ECONNREFUSED);
    close(a);
    close(b);
}

/* ---- suites -------------------------------------------------------------------------- */

static int init_uring(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    if (getenv("HP_TEST_VERBOSE") != NULL)
        log_set_level(LOG_VERBOSE);
    g_backend = IO_BACKEND_IO_URING;
    struct worker w = {NULL};
    struct hp_config cfg;
    config_for(&cfg, 0, "127.0.0.1", IO_BACKEND_IO_URING);
    char err[256] = "";
    struct net *n = net_create(&w, &cfg, -1, err, sizeof(err));
    g_skip = n == NULL;
    if (g_skip)
        printf("\n  io_uring unavailable here (%s): its tests are skipped\n", err);
    net_destroy(n);
    return 0;
}

/* The same tests over the paths older kernels take (see net_uring.c). */
static int init_uring_fallbacks(void)
{
    if (setenv("HP_NET_URING_DISABLE", "buf-ring,multishot-accept,multishot-recv", 1) != 0)
        return 1;
    return init_uring();
}

static int init_uring_single_recv(void)
{
    if (setenv("HP_NET_URING_DISABLE", "multishot-recv", 1) != 0)
        return 1;
    return init_uring();
}

static int cleanup_uring_overrides(void) { return unsetenv("HP_NET_URING_DISABLE"); }

static int init_epoll(void)
{
    g_backend = IO_BACKEND_EPOLL;
    g_skip = false;
    return 0;
}

static int init_auto(void)
{
    g_backend = IO_BACKEND_AUTO;
    g_skip = false;
    return 0;
}

static void test_auto_prefers_uring(void)
{
    struct worker w = {NULL};
    struct hp_config cfg;
    char err[256] = "";
    config_for(&cfg, 0, "127.0.0.1", IO_BACKEND_IO_URING);
    struct net *forced = net_create(&w, &cfg, -1, err, sizeof(err));
    config_for(&cfg, 0, "127.0.0.1", IO_BACKEND_AUTO);
    struct net *n = net_create(&w, &cfg, -1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(net_backend_name(n), forced ? "io_uring" : "epoll");
    net_destroy(n);
    net_destroy(forced);
    /* AUTO does not hide errors that are not about io_uring */
    config_for(&cfg, 6379, "bogus", IO_BACKEND_AUTO);
    CU_ASSERT_PTR_NULL(net_create(&w, &cfg, -1, err, sizeof(err)));
}

/* io_uring forbidden by a seccomp filter (as in many container runtimes):
 * AUTO falls back to epoll with one warning line for the process, and a
 * forced io_uring fails with the reason.  Runs in a child process, since a
 * seccomp filter cannot be removed. */
static int child_without_uring(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = HP_ARRAY_LEN(filter), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return 77;
    struct worker w = {NULL};
    struct hp_config cfg;
    char err[256] = "";
    config_for(&cfg, 0, "127.0.0.1", IO_BACKEND_AUTO);
    for (int i = 0; i < 2; i++) {
        struct net *n = net_create(&w, &cfg, -1, err, sizeof(err));
        if (n == NULL || strcmp(net_backend_name(n), "epoll") != 0)
            return 1;
        net_destroy(n);
    }
    config_for(&cfg, 0, "127.0.0.1", IO_BACKEND_IO_URING);
    if (net_create(&w, &cfg, -1, err, sizeof(err)) != NULL || strstr(err, "EPERM") == NULL)
        return 2;
    return 0;
}

static void test_auto_fallback_seccomp(void)
{
    int pfd[2];
    CU_ASSERT_FATAL(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        if (dup2(pfd[1], STDERR_FILENO) < 0)
            _exit(3);
        _exit(child_without_uring());
    }
    close(pfd[1]);
    char out[4096];
    size_t len = 0;
    int64_t dl = now_ms() + 5000;
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (len < sizeof(out) - 1 && now_ms() < dl) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(pfd[0], out + len, sizeof(out) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = '\0';
    close(pfd[0]);
    int status = 0;
    if (now_ms() >= dl)
        kill(pid, SIGKILL);
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT_FATAL(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        printf("\n  seccomp filters unavailable here: fallback test skipped\n");
        return;
    }
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    int warnings = 0;
    for (const char *q = out; (q = strstr(q, "io_uring unavailable")) != NULL; q++)
        warnings++;
    CU_ASSERT_EQUAL(warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "EPERM"));
}

#define BACKEND_TESTS                                                          \
    {"backend name", test_backend_name},                                      \
    {"create errors", test_create_errors},                                    \
    {"bind variants", test_bind_variants},                                    \
    {"echo small", test_echo_small},                                          \
    {"echo 4 MiB with partial sends", test_echo_large_partial},              \
    {"200 connections", test_many_connections},                              \
    {"peer close and reset", test_peer_close_and_reset},                     \
    {"close later than failure", test_deferred_close_after_failure},         \
    {"close with send in flight", test_close_with_send_in_flight},           \
    {"pause and resume", test_pause_resume},                                  \
    {"wake-up and timeouts", test_wake_and_timeout},                         \
    {"stop listening", test_stop_listening},                                  \
    {"SO_REUSEPORT across instances", test_reuseport_two_instances},         \
    {"refused by the runtime", test_refused_by_runtime},                     \
    {"EMFILE back-off", test_emfile_backoff},                                 \
    {"destroy with open connections", test_destroy_with_open_conns},         \
    CU_TEST_INFO_NULL

static CU_TestInfo uring_tests[] = {BACKEND_TESTS};
static CU_TestInfo uring_fallback_tests[] = {BACKEND_TESTS};
static CU_TestInfo uring_single_recv_tests[] = {BACKEND_TESTS};
static CU_TestInfo epoll_tests[] = {BACKEND_TESTS};
static CU_TestInfo auto_tests[] = {
    {"AUTO picks io_uring when it works", test_auto_prefers_uring},
    {"AUTO falls back to epoll under seccomp", test_auto_fallback_seccomp},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"net io_uring", init_uring, NULL, NULL, NULL, uring_tests},
    {"net io_uring, no buffer ring or multishot", init_uring_fallbacks,
     cleanup_uring_overrides, NULL, NULL, uring_fallback_tests},
    {"net io_uring, single-shot recv from the buffer ring", init_uring_single_recv,
     cleanup_uring_overrides, NULL, NULL, uring_single_recv_tests},
    {"net epoll", init_epoll, NULL, NULL, NULL, epoll_tests},
    {"net auto", init_auto, NULL, NULL, NULL, auto_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
