/*
 * net_backend_tests.h - the contract tests of net.h that every kernel-TCP
 * backend passes (BACKEND_TESTS): included by test_net_uring.c (three
 * io_uring variants) and test_net_epoll.c, each suite setting g_backend and
 * g_skip in its init.  Helpers in net_harness.h.
 */
#ifndef HP_NET_BACKEND_TESTS_H
#define HP_NET_BACKEND_TESTS_H

#include "net_harness.h"

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

#endif
