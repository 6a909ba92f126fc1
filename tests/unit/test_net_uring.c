/*
 * test_net_uring.c - the io_uring kernel-TCP backend against the fake runtime
 * (net_harness.h), with the contract tests of net_backend_tests.h, over
 * three paths: everything the kernel offers, no buffer ring or multishot,
 * single-shot recv from the buffer ring (older kernels; see net_uring.c).
 */
#include "net_backend_tests.h"

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

static CU_TestInfo uring_tests[] = {BACKEND_TESTS};
static CU_TestInfo uring_fallback_tests[] = {BACKEND_TESTS};
static CU_TestInfo uring_single_recv_tests[] = {BACKEND_TESTS};

static CU_SuiteInfo suites[] = {
    {"net io_uring", init_uring, NULL, NULL, NULL, uring_tests},
    {"net io_uring, no buffer ring or multishot", init_uring_fallbacks,
     cleanup_uring_overrides, NULL, NULL, uring_fallback_tests},
    {"net io_uring, single-shot recv from the buffer ring", init_uring_single_recv,
     cleanup_uring_overrides, NULL, NULL, uring_single_recv_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
