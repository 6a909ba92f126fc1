/*
 * aof_fsync_bench.c - latency of one durable append, by method, to choose
 * the AOF's default (docs/AOF.md records the results).
 *
 *   aof_fsync_bench [DIR] [ITERATIONS] [RECORD_BYTES]
 *
 * Each iteration appends RECORD_BYTES at the end of the data (O_DIRECT:
 * the whole 4 KiB block holding the end is written again, as the AOF
 * writer does) and waits until it is durable.  Methods:
 *   fdatasync     pwrite(2) + fdatasync(2)
 *   fsync         pwrite(2) + fsync(2)
 *   uring-link    io_uring WRITE linked to FSYNC(DATASYNC), one submit
 *   uring-2step   io_uring WRITE, then io_uring FSYNC(DATASYNC)
 *   uring-dsync   io_uring WRITE with RWF_DSYNC
 *   pwritev2-dsync pwritev2(2) with RWF_DSYNC
 * File states: "falloc" (fallocate: unwritten extents), "zeroed" (zeros
 * written and synced first), "grow" (file extended by each write).
 * Built by meson as tests/unit/aof_fsync_bench (not by default).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096u
#define FILE_BYTES ((size_t)64 << 20)

enum method { M_FDATASYNC, M_FSYNC, M_URING_LINK, M_URING_2STEP, M_URING_DSYNC, M_PWRITEV2_DSYNC, M_N };
static const char *const method_names[M_N] = {"fdatasync", "fsync", "uring-link",
                                              "uring-2step", "uring-dsync", "pwritev2-dsync"};
enum fstate { F_FALLOC, F_ZEROED, F_GROW, F_N };
static const char *const state_names[F_N] = {"falloc", "zeroed", "grow"};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "aof_fsync_bench: %s: %s\n", what, strerror(err));
    exit(1);
}

static int prepare(const char *path, enum fstate st, bool direct, uint8_t *zeros)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0)
        die("open", errno);
    if (st == F_FALLOC && fallocate(fd, 0, 0, (off_t)FILE_BYTES) != 0)
        die("fallocate", errno);
    if (st == F_ZEROED)
        for (size_t off = 0; off < FILE_BYTES; off += (size_t)1 << 20)
            if (pwrite(fd, zeros, (size_t)1 << 20, (off_t)off) != (ssize_t)(1 << 20))
                die("zero fill", errno);
    if (fsync(fd) != 0)
        die("fsync", errno);
    return fd;
}

static int uring_wait_n(struct io_uring *ring, unsigned n)
{
    int err = 0;
    if (io_uring_submit_and_wait(ring, n) < 0)
        die("io_uring_submit_and_wait", errno);
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(ring, &cqe);
        if (rc < 0)
            die("io_uring_wait_cqe", -rc);
        if (cqe->res < 0 && err == 0)
            err = cqe->res;
        io_uring_cqe_seen(ring, cqe);
    }
    return err;
}

static void one(struct io_uring *ring, int fd, enum method m, const uint8_t *buf, size_t len,
                off_t off)
{
    struct io_uring_sqe *sqe;
    int rc = 0;
    switch (m) {
    case M_FDATASYNC:
    case M_FSYNC:
        if (pwrite(fd, buf, len, off) != (ssize_t)len)
            die("pwrite", errno);
        rc = m == M_FSYNC ? fsync(fd) : fdatasync(fd);
        if (rc != 0)
            die("sync", errno);
        return;
    case M_PWRITEV2_DSYNC: {
        struct iovec iov = {(void *)buf, len};
        if (pwritev2(fd, &iov, 1, off, RWF_DSYNC) != (ssize_t)len)
            die("pwritev2", errno);
        return;
    }
    case M_URING_LINK:
        sqe = io_uring_get_sqe(ring);
        io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)off);
        sqe->flags |= IOSQE_IO_LINK;
        sqe = io_uring_get_sqe(ring);
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        rc = uring_wait_n(ring, 2);
        break;
    case M_URING_2STEP:
        sqe = io_uring_get_sqe(ring);
        io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)off);
        rc = uring_wait_n(ring, 1);
        if (rc == 0) {
            sqe = io_uring_get_sqe(ring);
            io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
            rc = uring_wait_n(ring, 1);
        }
        break;
    case M_URING_DSYNC:
        sqe = io_uring_get_sqe(ring);
        io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)off);
        sqe->rw_flags = RWF_DSYNC;
        rc = uring_wait_n(ring, 1);
        break;
    default:
        break;
    }
    if (rc < 0)
        die(method_names[m], -rc);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int iters = argc > 2 ? atoi(argv[2]) : 300;
    size_t rec = argc > 3 ? (size_t)atol(argv[3]) : 256;
    if (iters <= 0 || iters > 1000000 || rec == 0 || rec > BLK)
        die("usage: aof_fsync_bench [DIR] [ITERATIONS 1..1000000] [RECORD_BYTES 1..4096]", EINVAL);
    char path[4096];
    uint8_t *buf = aligned_alloc(BLK, 2 * BLK);
    uint8_t *zeros = aligned_alloc(BLK, (size_t)1 << 20);
    uint64_t *lat = calloc((size_t)iters * M_N, sizeof(*lat));
    if (buf == NULL || zeros == NULL || lat == NULL)
        die("alloc", ENOMEM);
    memset(buf, 'r', 2 * BLK);
    memset(zeros, 0, (size_t)1 << 20);
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0)
        die("io_uring_queue_init", -rc);
    printf("%-6s %-7s %-15s %9s %9s %9s %9s\n", "io", "file", "method", "mean_us", "p50_us",
           "p99_us", "max_us");
    /* Methods are interleaved op by op (one file each), so load that drifts
     * during a run (other processes, host cache) hits them all alike. */
    for (int direct = 0; direct < 2; direct++) {
        for (int st = 0; st < F_N; st++) {
            int fds[M_N];
            uint64_t ends[M_N] = {0}, sums[M_N] = {0};
            for (int m = 0; m < M_N; m++) {
                snprintf(path, sizeof(path), "%s/aof_fsync_bench.%d.%d", dir, (int)getpid(), m);
                fds[m] = prepare(path, (enum fstate)st, direct, zeros);
            }
            for (int i = 0; i < iters; i++) {
                for (int m = 0; m < M_N; m++) {
                    size_t len = rec;
                    off_t off = (off_t)ends[m];
                    if (direct) { /* rewrite the block holding the end, whole blocks */
                        off = (off_t)(ends[m] & ~(uint64_t)(BLK - 1));
                        len = ((ends[m] + rec + BLK - 1) & ~(uint64_t)(BLK - 1)) - (uint64_t)off;
                    }
                    uint64_t t0 = now_ns();
                    one(&ring, fds[m], (enum method)m, buf, len, off);
                    lat[(size_t)m * (size_t)iters + (size_t)i] = now_ns() - t0;
                    sums[m] += lat[(size_t)m * (size_t)iters + (size_t)i];
                    ends[m] += rec;
                }
            }
            for (int m = 0; m < M_N; m++) {
                uint64_t *lm = lat + (size_t)m * (size_t)iters;
                close(fds[m]);
                snprintf(path, sizeof(path), "%s/aof_fsync_bench.%d.%d", dir, (int)getpid(), m);
                if (unlink(path) != 0)
                    die("unlink", errno);
                qsort(lm, (size_t)iters, sizeof(*lm), cmp_u64);
                printf("%-6s %-7s %-15s %9.1f %9.1f %9.1f %9.1f\n", direct ? "direct" : "buffer",
                       state_names[st], method_names[m], (double)sums[m] / iters / 1e3,
                       (double)lm[iters / 2] / 1e3, (double)lm[(size_t)iters * 99 / 100] / 1e3,
                       (double)lm[iters - 1] / 1e3);
            }
            fflush(stdout);
        }
    }
    io_uring_queue_exit(&ring);
    free(buf);
    free(zeros);
    free(lat);
    return 0;
}
