/*
 * aof_io.c - the I/O layer of the persistence thread: every segment
 * write and sync goes through here (io_uring, or pwritev2/fdatasync
 * when it is unavailable or failed), and through the fault hook.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <sys/uio.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* I/O layer: every write and sync goes through here (and the fault hook)   */

/* The ring itself failed (not an operation): its queue state is unknown,
 * so stop using it; writes continue with pwritev2/fdatasync. */
int aof_io_uring_fail(struct aof_log *l, int rc)
{
    log_warning("AOF: io_uring failed (%s); using pwritev2/fdatasync from now on",
                strerror(-rc));
    io_uring_queue_exit(&l->uring);
    l->uring_ok = false;
    for (uint32_t i = 0; i < l->pipe_n; i++) {
        uint32_t slot = (l->pipe_head + i) % AOF_SYNC_DEPTH_MAX;
        if (l->pipe_res[slot] == 1)
            l->pipe_res[slot] = rc; /* its outcome is unknown: not durable */
    }
    l->files_registered = false;
    l->bufs_registered = false;
    return rc;
}

static int uring_wait(struct aof_log *l, unsigned want, int res[2])
{
    res[0] = res[1] = -ECANCELED;
    int rc = FAULT(l, AOF_FAULT_URING);
    if (rc != 0)
        return aof_io_uring_fail(l, rc);
    do {
        rc = io_uring_submit_and_wait(&l->uring, want);
    } while (rc == -EINTR);
    if (rc < 0)
        return aof_io_uring_fail(l, rc);
    for (unsigned got = 0; got < want;) {
        struct io_uring_cqe *cqe;
        rc = io_uring_wait_cqe(&l->uring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            return aof_io_uring_fail(l, rc);
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud >= UD_PIPE_BASE) { /* a pipelined sync finished meanwhile */
            aof_pipe_complete(l, (uint32_t)(ud - UD_PIPE_BASE), cqe->res);
            io_uring_cqe_seen(&l->uring, cqe);
            continue;
        }
        HP_ASSERT(ud == UD_WRITE || ud == UD_SYNC);
        res[ud - 1] = cqe->res;
        io_uring_cqe_seen(&l->uring, cqe);
        got++;
    }
    return 0;
}

static void prep_write(struct aof_log *l, struct io_uring_sqe *sqe, const uint8_t *p, size_t n,
                       uint64_t off, bool dsync)
{
    int fd = l->files_registered ? 0 : l->seg_fd;
    if (l->bufs_registered)
        io_uring_prep_write_fixed(sqe, fd, p, (unsigned)n, off, 0);
    else
        io_uring_prep_write(sqe, fd, p, (unsigned)n, off);
    if (l->files_registered)
        sqe->flags |= IOSQE_FIXED_FILE;
    if (dsync)
        sqe->rw_flags = RWF_DSYNC;
    io_uring_sqe_set_data64(sqe, UD_WRITE);
}

void aof_io_prep_sync(struct aof_log *l, struct io_uring_sqe *sqe)
{
    io_uring_prep_fsync(sqe, l->files_registered ? 0 : l->seg_fd, IORING_FSYNC_DATASYNC);
    if (l->files_registered)
        sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, UD_SYNC);
}

/* Serial writes and syncs as system calls from this thread (no io_uring). */
bool aof_io_use_syscalls(const struct aof_log *l)
{
    return !l->uring_ok || l->cfg.sync_method == AOF_SYNC_PWRITEV2_DSYNC;
}

/*
 * One write attempt of up to n bytes at file offset off; with `then_sync`
 * an fdatasync is linked behind it.  Returns bytes written (> 0) or a
 * negative errno; *synced tells whether the linked sync ran and succeeded.
 */
ssize_t aof_io_write_once(struct aof_log *l, const uint8_t *p, size_t n, uint64_t off,
                             bool dsync, bool then_sync, bool *synced)
{
    *synced = false;
    int f = FAULT(l, AOF_FAULT_WRITE);
    if (f != 0)
        return f;
    n = HP_MIN(n, (size_t)1 << 30);
    if (aof_io_use_syscalls(l)) {
        /* then_sync only if io_uring failed under this flush: *synced stays
         * false and the caller syncs with fdatasync. */
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        ssize_t w;
        do {
            w = pwritev2(l->seg_fd, &iov, 1, (off_t)off, dsync ? RWF_DSYNC : 0);
        } while (w < 0 && errno == EINTR);
        return w < 0 ? -errno : (w == 0 ? -EIO : w);
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL); /* nothing else is ever queued */
    prep_write(l, sqe, p, n, off, dsync);
    if (then_sync) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *s2 = io_uring_get_sqe(&l->uring);
        HP_ASSERT(s2 != NULL);
        aof_io_prep_sync(l, s2);
    }
    int res[2];
    int rc = uring_wait(l, then_sync ? 2 : 1, res);
    if (rc < 0)
        return rc;
    if (then_sync && res[0] == (int)n) {
        if (res[1] < 0)
            return res[1];
        *synced = true;
    }
    return res[0] < 0 ? res[0] : (res[0] == 0 ? -EIO : res[0]);
}

int aof_io_sync(struct aof_log *l)
{
    int f = FAULT(l, AOF_FAULT_SYNC);
    if (f != 0)
        return f;
    if (aof_io_use_syscalls(l) || l->cfg.sync_method == AOF_SYNC_FDATASYNC)
        return fdatasync(l->seg_fd) == 0 ? 0 : -errno;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL);
    aof_io_prep_sync(l, sqe);
    int res[2];
    int rc = uring_wait(l, 1, res);
    return rc < 0 ? rc : res[1];
}
