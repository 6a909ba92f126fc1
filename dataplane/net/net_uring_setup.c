/*
 * net_uring_setup.c - creating the io_uring backend: the ring with the best
 * set-up flags the kernel accepts, the opcode probe, the provided-buffer
 * ring (and its release), the test overrides of kernel features.
 */
#include "net_uring_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/log.h"

void net_uring_free_bufs(struct net_uring *n)
{
    if (n->br != NULL && munmap(n->br, UR_NBUFS * sizeof(struct io_uring_buf)) != 0)
        log_debug("munmap: %s", strerror(errno));
    if (n->bufs != NULL && munmap(n->bufs, (size_t)UR_NBUFS * UR_BUF_SIZE) != 0)
        log_debug("munmap: %s", strerror(errno));
    n->br = NULL;
    n->bufs = NULL;
}

/* ---- set-up ---------------------------------------------------------------------- */

static void uring_unavailable_reason(int rc, char *why, size_t cap)
{
    if (rc == -ENOSYS) {
        snprintf(why, cap, "the kernel has no io_uring (ENOSYS)");
        return;
    }
    if (rc == -EPERM) {
        FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
        int disabled = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &disabled) != 1)
                disabled = 0;
            fclose(f);
        }
        if (disabled != 0)
            snprintf(why, cap, "disabled by kernel.io_uring_disabled=%d", disabled);
        else
            snprintf(why, cap, "not permitted (EPERM, e.g. a seccomp filter)");
        return;
    }
    snprintf(why, cap, "io_uring_queue_init: %s", strerror(-rc));
}

/* Create the ring with the best set-up flags the kernel accepts. */
static int uring_ring_init(struct net_uring *n, char *why, size_t cap)
{
    static const unsigned ladder[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,   /* 6.1 */
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
            IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,                               /* 6.0 */
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_CQSIZE,                                                         /* 5.19 */
        IORING_SETUP_CQSIZE,                                                             /* 5.5 */
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < HP_ARRAY_LEN(ladder) && rc == -EINVAL; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = ladder[i];
        p.cq_entries = UR_CQ_ENTRIES;
        rc = io_uring_queue_init_params(UR_SQ_ENTRIES, &n->ring, &p);
        if (rc == 0) {
            n->setup_flags = ladder[i];
            if (!(p.features & IORING_FEAT_NODROP)) {
                /* Lost completions would hang connections forever. */
                io_uring_queue_exit(&n->ring);
                snprintf(why, cap, "the kernel may drop completions (no IORING_FEAT_NODROP)");
                return -1;
            }
            return 0;
        }
    }
    uring_unavailable_reason(rc, why, cap);
    return -1;
}

/* Check the opcodes we need; guess the multishot variants from opcodes of
 * the same kernel release (a wrong guess is corrected by the EINVAL the
 * first such operation gets). */
static int uring_probe(struct net_uring *n, char *why, size_t cap)
{
    static const struct { int op; const char *name; } need[] = {
        {IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_RECV, "RECV"}, {IORING_OP_SEND, "SEND"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_POLL_ADD, "POLL_ADD"},
    };
    struct io_uring_probe *probe = io_uring_get_probe_ring(&n->ring);
    if (probe == NULL) {
        snprintf(why, cap, "the kernel cannot be probed for io_uring opcodes (too old)");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < HP_ARRAY_LEN(need) && rc == 0; i++) {
        if (!io_uring_opcode_supported(probe, need[i].op)) {
            snprintf(why, cap, "the kernel lacks IORING_OP_%s", need[i].name);
            rc = -1;
        }
    }
    n->accept_multishot = io_uring_opcode_supported(probe, IORING_OP_SOCKET);  /* 5.19 */
    n->recv_multishot = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);   /* 6.0 */
    io_uring_free_probe(probe);
    return rc;
}

/* Register the provided-buffer ring; without it (before 5.19) each
 * connection gets its own receive buffer. */
static void uring_setup_bufs(struct net_uring *n)
{
    size_t ring_bytes = UR_NBUFS * sizeof(struct io_uring_buf);
    size_t pool_bytes = (size_t)UR_NBUFS * UR_BUF_SIZE;
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *bufs = mmap(NULL, pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    n->br = br == MAP_FAILED ? NULL : br;
    n->bufs = bufs == MAP_FAILED ? NULL : bufs;
    int rc = -ENOMEM;
    if (n->br != NULL && n->bufs != NULL) {
        struct io_uring_buf_reg reg;
        memset(&reg, 0, sizeof(reg));
        reg.ring_addr = (uint64_t)(uintptr_t)n->br;
        reg.ring_entries = UR_NBUFS;
        reg.bgid = UR_BGID;
        rc = io_uring_register_buf_ring(&n->ring, &reg, 0);
    }
    if (rc != 0) {
        log_verbose("io_uring: no provided-buffer ring (%s); per-connection buffers",
                    strerror(-rc));
        net_uring_free_bufs(n);
        n->recv_multishot = false; /* multishot recv needs selected buffers */
        return;
    }
    io_uring_buf_ring_init(n->br);
    for (unsigned i = 0; i < UR_NBUFS; i++)
        io_uring_buf_ring_add(n->br, n->bufs + (size_t)i * UR_BUF_SIZE, UR_BUF_SIZE,
                              (unsigned short)i, io_uring_buf_ring_mask(UR_NBUFS), (int)i);
    io_uring_buf_ring_advance(n->br, UR_NBUFS);
}

/* The test suite runs the older-kernel paths on a new kernel by naming
 * features to leave unused in HP_NET_URING_DISABLE (comma separated):
 * "buf-ring", "multishot-accept", "multishot-recv". */
static void uring_test_overrides(struct net_uring *n)
{
    const char *v = getenv("HP_NET_URING_DISABLE");
    if (v == NULL)
        return;
    if (strstr(v, "buf-ring") != NULL)
        n->no_buf_ring = true;
    if (strstr(v, "multishot-accept") != NULL)
        n->accept_multishot = false;
    if (strstr(v, "multishot-recv") != NULL)
        n->recv_multishot = false;
}

/* Returns the backend, or NULL with the reason in why; *unavailable says
 * whether io_uring itself is missing (AUTO then falls back to epoll). */
struct net *net_uring_create(struct worker *w, int wake_fd, int *listen_fds, int nlisten,
                             char *why, size_t cap, bool *unavailable)
{
    HP_ASSERT(nlisten >= 0 && nlisten <= NET_MAX_LISTENERS);
    *unavailable = false;
    struct net_uring *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        snprintf(why, cap, "io_uring backend: out of memory");
        return NULL;
    }
    n->base.ops = &net_uring_ops;
    n->base.w = w;
    n->base.wake_fd = wake_fd;
    if (uring_ring_init(n, why, cap) != 0) {
        *unavailable = true;
        free(n);
        return NULL;
    }
    if (uring_probe(n, why, cap) != 0) {
        *unavailable = true;
        io_uring_queue_exit(&n->ring);
        free(n);
        return NULL;
    }
    uring_test_overrides(n);
    /* Optional (5.18+): saves an fd lookup per system call. */
    if (io_uring_register_ring_fd(&n->ring) < 0)
        log_debug("io_uring: ring fd not registered; using the plain fd");
    if (!n->no_buf_ring)
        uring_setup_bufs(n);
    else
        n->recv_multishot = false;
    log_verbose("io_uring: setup flags 0x%x, multishot accept %s, multishot recv %s, "
                "buffer ring %s",
                n->setup_flags, n->accept_multishot ? "yes" : "no",
                n->recv_multishot ? "yes" : "no", n->br ? "yes" : "no");
    for (int i = 0; i < nlisten; i++) {
        n->listeners[i].fd = listen_fds[i];
        net_uring_listener_arm(n, &n->listeners[i]);
    }
    n->nlisteners = nlisten;
    if (wake_fd >= 0)
        net_uring_wake_arm(n);
    return &n->base;
}
