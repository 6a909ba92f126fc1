/*
 * test_net_claim.c - net_port_claim (net_claim.c): a port that something
 * listens on is refused with redis-server's words, a port claimed by
 * another hotpathd (here: this process) is refused naming its pid, and a
 * released claim can be taken again.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../dataplane/net/net.h"
#include "cu_main.h"

static int free_port(void)
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

static void cfg_for(struct hp_config *cfg, int port, const char *bind)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = port;
    snprintf(cfg->bind[0], sizeof(cfg->bind[0]), "%s", bind);
    cfg->nbind = 1;
}

static void test_claim_twice(void)
{
    struct hp_config cfg;
    cfg_for(&cfg, free_port(), "127.0.0.1");
    char err[256] = "";
    int a = -1, b = -1;
    CU_ASSERT_FATAL(net_port_claim(&cfg, &a, err, sizeof(err)) == 0);
    CU_ASSERT(a >= 0);
    /* Another address of the same port: still this process's port. */
    struct hp_config other;
    cfg_for(&other, cfg.port, "127.0.0.2");
    CU_ASSERT_EQUAL(net_port_claim(&other, &b, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(b, -1);
    char want[64];
    snprintf(want, sizeof(want), "another hotpathd (pid %d)", (int)getpid());
    CU_ASSERT(strstr(err, "Address already in use") != NULL);
    CU_ASSERT(strstr(err, want) != NULL);
    net_port_release(a);
    CU_ASSERT(net_port_claim(&other, &b, err, sizeof(err)) == 0);
    CU_ASSERT(b >= 0);
    net_port_release(b);
}

/* Something (any process) listens on the address: the probe refuses, also
 * when that listener uses SO_REUSEPORT as hotpathd's workers do. */
static void test_listener_refused(void)
{
    for (int reuseport = 0; reuseport <= 1; reuseport++) {
        int port = free_port();
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CU_ASSERT_FATAL(fd >= 0);
        int one = 1;
        CU_ASSERT(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
        if (reuseport)
            CU_ASSERT(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        CU_ASSERT_FATAL(listen(fd, 8) == 0);
        struct hp_config cfg;
        cfg_for(&cfg, port, "127.0.0.1");
        char err[256] = "", want[128];
        int c = -1;
        CU_ASSERT_EQUAL(net_port_claim(&cfg, &c, err, sizeof(err)), -1);
        CU_ASSERT_EQUAL(c, -1);
        snprintf(want, sizeof(want),
                 "Could not create server TCP listening socket 127.0.0.1:%d: bind: Address "
                 "already in use", port);
        CU_ASSERT_STRING_EQUAL(err, want);
        close(fd);
        /* Gone: the port is free again. */
        CU_ASSERT(net_port_claim(&cfg, &c, err, sizeof(err)) == 0);
        net_port_release(c);
    }
}

static void test_port_zero_claims_nothing(void)
{
    struct hp_config cfg;
    cfg_for(&cfg, 0, "127.0.0.1");
    char err[64] = "";
    int c = 123;
    CU_ASSERT(net_port_claim(&cfg, &c, err, sizeof(err)) == 0);
    CU_ASSERT_EQUAL(c, -1);
    net_port_release(c);
}

static int init_claim(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    return 0;
}

static CU_TestInfo claim_tests[] = {
    {"claimed port refused, names the holder", test_claim_twice},
    {"a listening port refused like redis-server", test_listener_refused},
    {"port 0 claims nothing", test_port_zero_claims_nothing},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"net port claim", init_claim, NULL, NULL, NULL, claim_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
