/*
 * test_aof_fault.c - append-only log: error state and recovery from it,
 * through the fault-injection hook (HP_AOF_FAULT_INJECTION) and a
 * size-limited tmpfs.  Helpers in aof_harness.h.
 */
#include "aof_harness.h"

/* ------------------------------------------------------------------------ */
/* faults                                                                   */

/* Fault injection: op fails N times with err -> error state -> recovery by
 * itself; nothing appended meanwhile is lost or duplicated. */
static void run_fault(enum aof_fault_op op, int e, enum aof_fsync_policy policy, bool direct)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.fsync = policy;
    c.direct_io = direct;
    c.retry_ms = 30;
    c.sync_pipeline_min_us = 0; /* always: faults hit the commit pipeline */
    if (op == AOF_FAULT_CREATE)
        c.segment_bytes = 64 * 1024;
    if (op == AOF_FAULT_URING)
        c.sync_method = AOF_SYNC_DSYNC_WRITE; /* the default uses no io_uring when serial */
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (int i = 0; i < 20; i++)
        append_one(l, 0);
    if (policy != AOF_FSYNC_NO)
        CU_ASSERT(wait_durable(l, 0, 20));
    aof_log_inject_fault(l, op, 3, e);
    uint64_t durable_before = aof_log_durable_lsn(l, 0);
    uint64_t last = 0;
    /* Enough to reach a rotation for CREATE faults. */
    int n = op == AOF_FAULT_CREATE ? 600 : 5;
    for (int i = 0; i < n; i++)
        last = append_one(l, i % 2);
    (void)last;
    CU_ASSERT(wait_error(l, e));
    char text[128];
    aof_log_error_text(l, text, sizeof(text));
    char want[128];
    snprintf(want, sizeof(want), "MISCONF Errors writing to the AOF file: %s", strerror(e));
    CU_ASSERT_STRING_EQUAL(text, want);
    if (op != AOF_FAULT_CREATE)
        CU_ASSERT(aof_log_durable_lsn(l, 0) == durable_before);
    CU_ASSERT(wait_error(l, 0)); /* retried and recovered on its own */
    uint64_t l0 = aof_log_last_lsn(l, 0), l1 = aof_log_last_lsn(l, 1);
    if (policy != AOF_FSYNC_NO) {
        CU_ASSERT(wait_durable(l, 0, l0));
        CU_ASSERT(wait_durable(l, 1, l1));
    }
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    /* write_errors counts error episodes (enter_error), not failed calls:
     * after an io_uring failure the ring is gone, and writes or syncs in
     * flight together fail together, so on a loaded machine the 3 injected
     * faults may make one, two or three episodes (seen: a write-fault run
     * with 2).  At least the one wait_error saw. */
    CU_ASSERT(st.write_errors >= 1u);
    CU_ASSERT(st.write_errors <= 3u);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 2, false, &res), 0);
    CU_ASSERT_EQUAL(k.count[0], l0);
    CU_ASSERT_EQUAL(k.count[1], l1);
    CU_ASSERT(!k.bad[0] && !k.bad[1]);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_fault_write_enospc(void) { run_fault(AOF_FAULT_WRITE, ENOSPC, AOF_FSYNC_ALWAYS, false); }
static void test_fault_write_eio_direct(void) { run_fault(AOF_FAULT_WRITE, EIO, AOF_FSYNC_EVERYSEC, true); }
static void test_fault_sync_eio(void) { run_fault(AOF_FAULT_SYNC, EIO, AOF_FSYNC_ALWAYS, false); }
static void test_fault_sync_eio_direct(void) { run_fault(AOF_FAULT_SYNC, EIO, AOF_FSYNC_ALWAYS, true); }
static void test_fault_create_enospc(void) { run_fault(AOF_FAULT_CREATE, ENOSPC, AOF_FSYNC_EVERYSEC, false); }
static void test_fault_write_no_policy(void) { run_fault(AOF_FAULT_WRITE, EIO, AOF_FSYNC_NO, false); }

static void test_fault_uring_fallback(void)
{
    run_fault(AOF_FAULT_URING, EBUSY, AOF_FSYNC_ALWAYS, false);
    run_fault(AOF_FAULT_URING, ENOMEM, AOF_FSYNC_EVERYSEC, true);
}

static void run_fault_dsync(enum aof_sync_method method)
{
    /* Under RWF_DSYNC the write carries the sync; a sync fault there must
     * still hold durable back and be retried. */
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.fsync = AOF_FSYNC_ALWAYS;
    c.sync_method = method;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    aof_log_inject_fault(l, AOF_FAULT_SYNC, 2, EIO);
    uint64_t lsn = append_one(l, 0);
    CU_ASSERT(wait_error(l, EIO));
    CU_ASSERT(wait_durable(l, 0, lsn));
    /* The retry's sync publishes the durable LSN inside the writer's step
     * and the error clears when the step returns, a moment later (seen
     * under ASan in a fresh root): wait for it, bounded. */
    CU_ASSERT(wait_error(l, 0));
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k), 1);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_fault_sync_dsync_method(void)
{
    run_fault_dsync(AOF_SYNC_DSYNC_WRITE);
    run_fault_dsync(AOF_SYNC_PWRITEV2_DSYNC);
}

static void test_fault_persistent_close(void)
{
    /* A disk that never recovers: close gives up after one more attempt
     * and reports the error instead of hanging. */
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.fsync = AOF_FSYNC_ALWAYS;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    aof_log_inject_fault(l, AOF_FAULT_WRITE, UINT32_MAX, EIO);
    uint64_t lsn = append_one(l, 0);
    CU_ASSERT(wait_error(l, EIO));
    CU_ASSERT(aof_log_durable_lsn(l, 0) < lsn);
    CU_ASSERT_EQUAL(aof_log_close(l), -EIO);
    remove_dir(dir);
}

/* A real full filesystem: a small tmpfs (needs mount privileges; skipped
 * with a message where the container forbids it). */
static void test_fault_real_enospc_tmpfs(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        char why[160];
        snprintf(why, sizeof(why), "cannot mount a tmpfs (%s); real ENOSPC not tested",
                 strerror(errno));
        CU_SKIP(why);
        remove_dir(dir);
        return;
    }
    /* 1 MiB: a 256 KiB filler leaves room for about 3 segments of 192 KiB. */
    char filler[128];
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    CU_ASSERT(fd >= 0 && fallocate(fd, 0, 0, 256 * 1024) == 0);
    close(fd);
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.segment_bytes = 192 * 1024;
    c.fsync = AOF_FSYNC_ALWAYS;
    c.retry_ms = 30;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    uint64_t appended = 0;
    while (aof_log_error(l) == 0 && clock_mono_ns() < deadline) {
        struct content ct;
        content_make(&ct, 0, aof_log_last_lsn(l, 0) + 1);
        enum aof_append r = aof_log_append(l, 0, 0, 0, 3, ct.argv, NULL);
        if (r == AOF_APPEND_OK)
            appended++;
        else
            usleep(100);
    }
    CU_ASSERT_EQUAL(aof_log_error(l), ENOSPC);
    uint64_t durable = aof_log_durable_lsn(l, 0);
    /* Synced up to the full segment; the record that needed a new one waits. */
    CU_ASSERT(durable > 0 && durable < aof_log_last_lsn(l, 0));
    /* The disk recovers: writes resume by themselves. */
    CU_ASSERT(unlink(filler) == 0);
    CU_ASSERT(wait_error(l, 0));
    uint64_t last = aof_log_last_lsn(l, 0);
    CU_ASSERT(wait_durable(l, 0, last));
    CU_ASSERT_EQUAL(last, appended);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k), last);
    aof_recover_result_free(&res);
    CU_ASSERT(umount2(dir, MNT_DETACH) == 0);
    remove_dir(dir);
}

static CU_TestInfo fault_tests[] = {
    {"write ENOSPC -> error -> recovery", test_fault_write_enospc},
    {"write EIO O_DIRECT everysec", test_fault_write_eio_direct},
    {"fsync EIO rewrites", test_fault_sync_eio},
    {"fsync EIO rewrites O_DIRECT", test_fault_sync_eio_direct},
    {"segment create ENOSPC", test_fault_create_enospc},
    {"write EIO with appendfsync no", test_fault_write_no_policy},
    {"sync fault with RWF_DSYNC", test_fault_sync_dsync_method},
    {"io_uring failure falls back to syscalls", test_fault_uring_fallback},
    {"persistent failure: close reports", test_fault_persistent_close},
    {"real ENOSPC on a small tmpfs", test_fault_real_enospc_tmpfs},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"aof faults", suite_init, NULL, NULL, NULL, fault_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
