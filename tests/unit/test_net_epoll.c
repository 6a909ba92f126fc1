/*
 * test_net_epoll.c - the epoll kernel-TCP backend against the fake runtime
 * (net_harness.h), with the contract tests of net_backend_tests.h.
 */
#include "net_backend_tests.h"

/* ---- suites -------------------------------------------------------------------------- */

static int init_epoll(void)
{
    g_backend = IO_BACKEND_EPOLL;
    g_skip = false;
    return 0;
}

/* Glue from the split of test_net.c: there the io_uring suites ran first in
 * the same process and seeded rand() (pick_port) and the log level; this
 * binary runs the epoll suite alone, so it does the same first. */
static int init_epoll_alone(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    if (getenv("HP_TEST_VERBOSE") != NULL)
        log_set_level(LOG_VERBOSE);
    return init_epoll();
}

static CU_TestInfo epoll_tests[] = {BACKEND_TESTS};

static CU_SuiteInfo suites[] = {
    {"net epoll", init_epoll_alone, NULL, NULL, NULL, epoll_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
