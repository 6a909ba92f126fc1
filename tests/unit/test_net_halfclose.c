/*
 * test_net_halfclose.c - the backends' half-close contract (net.h): when
 * the peer shuts down its sending side, net_cb_failed(c, 0) is reported
 * once, nothing more is received, and the connection still sends until
 * the runtime calls net_close.  That is what lets a client that sends a
 * command and then shutdown(SHUT_WR) get its reply, as with redis-server.
 *
 * The fake runtime below answers each connection's input only once its
 * EOF is seen (the worst case for the backend), then closes.  Everything
 * runs on the test thread with bounded waits, like test_net.c.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../dataplane/net/conn.h"
#include "../../dataplane/net/net.h"
#include "cu_main.h"

#define HC_MAX_CONNS 64
#define HC_BUF 4096

struct hc_harness;

/* The backend only passes this pointer through. */
struct worker {
    struct hc_harness *h;
};

struct hc_conn {
    struct conn c;            /* first: the backend sees &t->c */
    uint8_t in[HC_BUF];       /* received so far (the "requests") */
    size_t in_len;
    size_t sent;              /* bytes of in[] the backend reported sent */
    bool sending, close_called;
    unsigned neof;            /* net_cb_failed(c, 0) */
    unsigned nerr;            /* net_cb_failed(c, errno) */
    int last_err;
    unsigned nclosed;
    unsigned recv_after_eof;  /* must stay 0 */
};

struct hc_harness {
    struct worker w;
    struct net *net;
    int wake_fd;
    int port;
    struct hc_conn *conns[HC_MAX_CONNS];
    int nconns;
    bool reply_on_eof;        /* send in[] back once EOF is seen, then close */
    unsigned violations;
};

static enum io_backend g_backend;
static bool g_skip;

static struct hc_conn *hc(struct conn *c) { return (struct hc_conn *)c; }

struct conn *net_cb_accepted(struct worker *w, int fd)
{
    struct hc_harness *h = w->h;
    if (h->nconns == HC_MAX_CONNS)
        return NULL;
    struct hc_conn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->c.fd = fd;
    t->c.worker = w;
    h->conns[h->nconns++] = t;
    return &t->c;
}

void net_cb_received(struct conn *c, const uint8_t *data, size_t len)
{
    struct hc_conn *t = hc(c);
    if (t->neof > 0)
        t->recv_after_eof++;
    if (t->close_called || len == 0 || t->in_len + len > sizeof(t->in)) {
        t->c.worker->h->violations++;
        return;
    }
    memcpy(t->in + t->in_len, data, len);
    t->in_len += len;
}

void net_cb_sent(struct conn *c, size_t n)
{
    struct hc_conn *t = hc(c);
    if (!t->sending || n == 0 || n > t->in_len - t->sent || t->close_called)
        t->c.worker->h->violations++;
    t->sending = false;
    t->sent += n;
}

void net_cb_failed(struct conn *c, int err)
{
    struct hc_conn *t = hc(c);
    if (t->close_called)
        t->c.worker->h->violations++;
    if (err == 0) {
        t->neof++;
    } else {
        t->nerr++;
        t->last_err = err;
    }
}

void net_cb_closed(struct conn *c)
{
    struct hc_conn *t = hc(c);
    if (!t->close_called)
        t->c.worker->h->violations++;
    t->nclosed++;
}

void net_cb_woken(struct worker *w) { (void)w; }

static void hc_close(struct hc_harness *h, struct hc_conn *t)
{
    if (t->close_called)
        return;
    t->close_called = true;
    net_close(h->net, &t->c);
}

/* What conn.c does after an EOF: send what is owed, close once it is out
 * (or at once on a real error). */
static void hc_runtime_step(struct hc_harness *h)
{
    for (int i = 0; i < h->nconns; i++) {
        struct hc_conn *t = h->conns[i];
        if (t->close_called || t->sending)
            continue;
        if (t->nerr > 0) {
            hc_close(h, t);
            continue;
        }
        if (!h->reply_on_eof || t->neof == 0)
            continue;
        if (t->sent == t->in_len) {
            hc_close(h, t);
            continue;
        }
        if (net_send(h->net, &t->c, t->in + t->sent, t->in_len - t->sent) != 0) {
            h->violations++;
            hc_close(h, t);
            continue;
        }
        t->sending = true;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One loop iteration; returns the events net_poll reported. */
static int hc_step(struct hc_harness *h, int64_t timeout_us)
{
    int rc = net_poll(h->net, timeout_us);
    if (rc < 0)
        h->violations++;
    hc_runtime_step(h);
    return rc < 0 ? 0 : rc;
}

#define HC_PUMP_UNTIL(h, cond, ms)                                             \
    ({                                                                         \
        int64_t dl_ = now_ms() + (ms);                                         \
        while (!(cond) && now_ms() < dl_)                                      \
            hc_step((h), 1000);                                                \
        (cond);                                                                \
    })

static int hc_pick_port(void)
{
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + rand() % 40000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return port;
    }
    return -1;
}

static bool hc_open(struct hc_harness *h)
{
    memset(h, 0, sizeof(*h));
    h->w.h = h;
    h->reply_on_eof = true;
    h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->wake_fd < 0)
        return false;
    for (int tries = 0; tries < 5; tries++) {
        h->port = hc_pick_port();
        if (h->port < 0)
            break;
        struct hp_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.port = h->port;
        snprintf(cfg.bind[0], sizeof(cfg.bind[0]), "127.0.0.1");
        cfg.nbind = 1;
        cfg.tcp_backlog = 511;
        cfg.io_backend = g_backend;
        char err[256] = "";
        h->net = net_create(&h->w, &cfg, h->wake_fd, err, sizeof(err));
        if (h->net != NULL)
            return true;
        fprintf(stderr, "net_create: %s\n", err);
    }
    close(h->wake_fd);
    return false;
}

static void hc_shut(struct hc_harness *h)
{
    net_destroy(h->net);
    close(h->wake_fd);
    for (int i = 0; i < h->nconns; i++)
        free(h->conns[i]);
    h->nconns = 0;
}

static int hc_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read everything until the server closes, driving h meanwhile; returns
 * the bytes read or -1 when the server did not close in time. */
static ssize_t hc_read_to_close(struct hc_harness *h, int fd, uint8_t *buf, size_t cap,
                                int ms)
{
    size_t got = 0;
    int64_t dl = now_ms() + ms;
    while (now_ms() < dl) {
        hc_step(h, 1000);
        ssize_t r = recv(fd, buf + got, cap - got, 0);
        if (r == 0)
            return (ssize_t)got;
        if (r > 0) {
            got += (size_t)r;
            if (got == cap)
                return -1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
    }
    return -1;
}

#define SKIP_IF_UNAVAILABLE()                                                 \
    do {                                                                      \
        if (g_skip)                                                           \
            return;                                                           \
    } while (0)

/* Several clients send, half-close at once, and each gets its bytes back
 * after the EOF, then sees the server close. */
static void test_reply_after_half_close(void)
{
    SKIP_IF_UNAVAILABLE();
    struct hc_harness h;
    CU_ASSERT_FATAL(hc_open(&h));
    enum { N = 16 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = hc_connect(h.port);
        CU_ASSERT_FATAL(fds[i] >= 0);
        char req[32];
        int len = snprintf(req, sizeof(req), "*1\r\n$4\r\nPING%02d\r\n", i);
        CU_ASSERT_FATAL(send(fds[i], req, (size_t)len, 0) == len);
        CU_ASSERT_FATAL(shutdown(fds[i], SHUT_WR) == 0);
    }
    for (int i = 0; i < N; i++) {
        uint8_t buf[256];
        char want[32];
        int wlen = snprintf(want, sizeof(want), "*1\r\n$4\r\nPING%02d\r\n", i);
        ssize_t got = hc_read_to_close(&h, fds[i], buf, sizeof(buf), 3000);
        CU_ASSERT_EQUAL(got, wlen);
        CU_ASSERT(got == wlen && memcmp(buf, want, (size_t)wlen) == 0);
        close(fds[i]);
    }
    CU_ASSERT(HC_PUMP_UNTIL(&h, h.nconns == N && h.conns[N - 1]->nclosed == 1, 2000));
    for (int i = 0; i < h.nconns; i++) {
        CU_ASSERT_EQUAL(h.conns[i]->neof, 1);
        CU_ASSERT_EQUAL(h.conns[i]->nerr, 0);
        CU_ASSERT_EQUAL(h.conns[i]->nclosed, 1);
        CU_ASSERT_EQUAL(h.conns[i]->recv_after_eof, 0);
    }
    CU_ASSERT_EQUAL(h.violations, 0);
    hc_shut(&h);
}

/* After the EOF the backend neither re-reports it nor spins on the
 * readable-forever socket (epoll is level-triggered), also across a
 * pause/resume, while the runtime has not answered yet. */
static void test_eof_once_and_quiet(void)
{
    SKIP_IF_UNAVAILABLE();
    struct hc_harness h;
    CU_ASSERT_FATAL(hc_open(&h));
    h.reply_on_eof = false;
    int fd = hc_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(send(fd, "x", 1, 0) == 1);
    CU_ASSERT_FATAL(shutdown(fd, SHUT_WR) == 0);
    CU_ASSERT_FATAL(HC_PUMP_UNTIL(&h, h.nconns == 1 && h.conns[0]->neof == 1, 2000));
    struct hc_conn *t = h.conns[0];
    net_pause_recv(h.net, &t->c);
    net_resume_recv(h.net, &t->c);
    int events = 0;
    for (int i = 0; i < 20; i++)
        events += hc_step(&h, 5000);
    CU_ASSERT(events <= 2); /* a spinning backend reports one per poll */
    CU_ASSERT_EQUAL(t->neof, 1);
    CU_ASSERT_EQUAL(t->nerr, 0);
    CU_ASSERT_EQUAL(t->in_len, 1);
    /* Still sendable: the answer goes out now. */
    h.reply_on_eof = true;
    uint8_t buf[16];
    CU_ASSERT_EQUAL(hc_read_to_close(&h, fd, buf, sizeof(buf), 3000), 1);
    CU_ASSERT(HC_PUMP_UNTIL(&h, t->nclosed == 1, 2000));
    CU_ASSERT_EQUAL(h.violations, 0);
    close(fd);
    hc_shut(&h);
}

/* The peer closed entirely (not just SHUT_WR): the EOF is reported as 0,
 * and once sending fails the error is reported as an errno, never as a
 * second 0, so the runtime closes instead of waiting for a send. */
static void test_send_after_full_close_fails(void)
{
    SKIP_IF_UNAVAILABLE();
    struct hc_harness h;
    CU_ASSERT_FATAL(hc_open(&h));
    h.reply_on_eof = false;
    int fd = hc_connect(h.port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(send(fd, "abc", 3, 0) == 3);
    close(fd);
    CU_ASSERT_FATAL(HC_PUMP_UNTIL(&h, h.nconns == 1 && h.conns[0]->neof == 1, 2000));
    struct hc_conn *t = h.conns[0];
    /* Keep sending one byte at a time: the first may be accepted by the
     * kernel, the RST it provokes makes a later one fail. */
    int64_t dl = now_ms() + 3000;
    while (t->nerr == 0 && now_ms() < dl) {
        if (!t->sending) {
            t->sent = 0;
            t->in_len = 1;
            CU_ASSERT_FATAL(net_send(h.net, &t->c, t->in, 1) == 0);
            t->sending = true;
        }
        hc_step(&h, 1000);
    }
    CU_ASSERT_EQUAL(t->nerr, 1);
    CU_ASSERT(t->last_err == EPIPE || t->last_err == ECONNRESET);
    CU_ASSERT_EQUAL(t->neof, 1);
    hc_close(&h, t);
    CU_ASSERT(HC_PUMP_UNTIL(&h, t->nclosed == 1, 2000));
    CU_ASSERT_EQUAL(h.violations, 0);
    hc_shut(&h);
}

static int init_uring(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    g_backend = IO_BACKEND_IO_URING;
    struct worker w = {NULL};
    struct hp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.io_backend = IO_BACKEND_IO_URING;
    char err[256] = "";
    struct net *n = net_create(&w, &cfg, -1, err, sizeof(err));
    g_skip = n == NULL;
    if (g_skip)
        printf("\n  io_uring unavailable here (%s): its tests are skipped\n", err);
    net_destroy(n);
    return 0;
}

/* The paths older kernels take (see net_uring.c). */
static int init_uring_fallbacks(void)
{
    if (setenv("HP_NET_URING_DISABLE", "buf-ring,multishot-accept,multishot-recv", 1) != 0)
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

#define HALFCLOSE_TESTS                                                       \
    {"reply after half-close", test_reply_after_half_close},                  \
    {"EOF reported once, no spinning", test_eof_once_and_quiet},              \
    {"send after full close fails with an errno", test_send_after_full_close_fails}, \
    CU_TEST_INFO_NULL

static CU_TestInfo uring_tests[] = {HALFCLOSE_TESTS};
static CU_TestInfo uring_fallback_tests[] = {HALFCLOSE_TESTS};
static CU_TestInfo epoll_tests[] = {HALFCLOSE_TESTS};

static CU_SuiteInfo suites[] = {
    {"half-close io_uring", init_uring, NULL, NULL, NULL, uring_tests},
    {"half-close io_uring, no buffer ring or multishot", init_uring_fallbacks,
     cleanup_uring_overrides, NULL, NULL, uring_fallback_tests},
    {"half-close epoll", init_epoll, NULL, NULL, NULL, epoll_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
