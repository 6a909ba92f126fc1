/*
 * test_net_auto.c - io-backend auto: it picks io_uring when that works, and
 * falls back to epoll (one warning) when a seccomp filter forbids io_uring.
 * Uses the fake runtime of net_harness.h.
 */
#include "net_harness.h"

/* ---- suites -------------------------------------------------------------------------- */

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

static CU_TestInfo auto_tests[] = {
    {"AUTO picks io_uring when it works", test_auto_prefers_uring},
    {"AUTO falls back to epoll under seccomp", test_auto_fallback_seccomp},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"net auto", init_auto, NULL, NULL, NULL, auto_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
