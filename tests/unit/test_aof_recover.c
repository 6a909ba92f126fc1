/*
 * test_aof_recover.c - append-only log: recovery (torn tails, mid-log
 * corruption, override, damaged and missing segments, parallel replay).
 * Helpers in aof_harness.h.
 */
#include "aof_harness.h"

/* ------------------------------------------------------------------------ */
/* recovery                                                                  */

/* A closed log with `n` records on shard 0 (plus a few on shard 1) in one
 * segment; returns the offset of each shard-0 record in *offs. */
static void build_log(const char *dir, bool prealloc, uint32_t n, uint64_t segment_bytes)
{
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.preallocate = prealloc;
    c.fsync = AOF_FSYNC_ALWAYS;
    if (segment_bytes != 0)
        c.segment_bytes = segment_bytes;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (uint32_t i = 0; i < n; i++) {
        append_one(l, 0);
        if (i % 4 == 0)
            append_one(l, 1);
    }
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
}

/* Offsets of all records of segment file `path` (up to cap), count returned. */
static size_t record_offsets(const char *path, size_t *offs, size_t cap, size_t *end_out)
{
    int fd = open(path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    off_t sz = file_size(path);
    uint8_t *buf = malloc((size_t)sz);
    CU_ASSERT_FATAL(buf != NULL && pread(fd, buf, (size_t)sz, 0) == sz);
    close(fd);
    size_t off = AOF_BLOCK, n = 0;
    struct aof_rec rec;
    while (aof_record_decode(buf + off, (size_t)sz - off, &rec, NULL) == AOF_DEC_OK) {
        if (n < cap)
            offs[n++] = off;
        off += rec.len;
    }
    free(buf);
    *end_out = off;
    return n;
}

static void patch(const char *path, size_t off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(pwrite(fd, p, n, (off_t)off) == (ssize_t)n);
    close(fd);
}

static void test_recover_torn_tail_every_offset(void)
{
    for (int variant = 0; variant < 2; variant++) {
        bool prealloc = variant == 0;
        char dir[64];
        make_dir(dir, sizeof(dir));
        build_log(dir, prealloc, 40, 0);
        char path[256];
        seg_path(dir, 1, path, sizeof(path));
        size_t offs[128], end;
        size_t n = record_offsets(path, offs, 128, &end);
        CU_ASSERT_FATAL(n == 50);
        size_t last = offs[n - 1];
        size_t rl = end - last;
        uint8_t saved[512];
        CU_ASSERT_FATAL(rl <= sizeof(saved));
        int fd = open(path, O_RDONLY);
        CU_ASSERT(pread(fd, saved, rl, (off_t)last) == (ssize_t)rl);
        close(fd);
        off_t full = file_size(path);
        for (size_t cut = last; cut < end; cut++) {
            /* Power loss mid-write: the record's bytes from `cut` on never
             * arrived (zeros in a preallocated file, or missing). */
            if (prealloc) {
                uint8_t z[512] = {0};
                patch(path, cut, z, end - cut);
            } else {
                CU_ASSERT(truncate(path, (off_t)cut) == 0);
            }
            struct checker k = {.check_content = true};
            struct aof_recover_result res;
            CU_ASSERT_EQUAL(recover_dir(dir, &k, 2, false, &res), 0);
            CU_ASSERT_EQUAL(total_count(&k), n - 1);
            size_t nz = 0; /* non-zero bytes of the torn prefix */
            for (size_t i = 0; i < cut - last; i++)
                if (saved[i] != 0)
                    nz = i + 1;
            CU_ASSERT_EQUAL(res.truncated_bytes, nz);
            CU_ASSERT_EQUAL(res.resume.nsegments, 1);
            CU_ASSERT_EQUAL(res.resume.segment_lens[0], last);
            aof_recover_result_free(&res);
            /* Restore for the next cut. */
            patch(path, last, saved, rl);
            CU_ASSERT(file_size(path) == (prealloc ? full : (off_t)end));
        }
        /* Cut for real, continue writing, recover again: all consistent. */
        uint8_t z[8] = {0};
        patch(path, last + 3, z, 5); /* damage the last record's length */
        struct checker k = {.check_content = true};
        struct aof_recover_result res;
        CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
        CU_ASSERT_EQUAL(total_count(&k), n - 1);
        CU_ASSERT(res.truncated_bytes > 0);
        struct aof_log_config c;
        cfg_small(&c, dir, 2);
        c.resume = &res.resume;
        int err;
        struct aof_log *l = aof_log_open(&c, &err);
        CU_ASSERT_FATAL(l != NULL);
        uint64_t relsn = aof_log_last_lsn(l, 0);
        CU_ASSERT(append_one(l, 0) == relsn + 1);
        CU_ASSERT_EQUAL(aof_log_close(l), 0);
        CU_ASSERT_EQUAL(file_size(path), (off_t)last); /* trimmed at the cut */
        aof_recover_result_free(&res);
        struct checker k2 = {.check_content = true};
        CU_ASSERT_EQUAL(recover_dir(dir, &k2, 1, false, &res), 0);
        CU_ASSERT_EQUAL(total_count(&k2), n);
        CU_ASSERT_EQUAL(res.truncated_bytes, 0);
        aof_recover_result_free(&res);
        remove_dir(dir);
    }
}

static void test_recover_midlog_corruption(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    build_log(dir, true, 40, 0);
    char path[256];
    seg_path(dir, 1, path, sizeof(path));
    size_t offs[128], end;
    size_t n = record_offsets(path, offs, 128, &end);
    CU_ASSERT_FATAL(n == 50);
    size_t bad = offs[20];
    uint8_t x = 0x5a;
    patch(path, bad + 50, &x, 1); /* payload byte of record 20 */
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), -1);
    char want[64];
    snprintf(want, sizeof(want), "offset %zu", bad);
    CU_ASSERT(strstr(res.error, want) != NULL);
    CU_ASSERT(strstr(res.error, "seg-0000000000000001.hpaof") != NULL);
    CU_ASSERT(strstr(res.error, "checksum") != NULL);
    aof_recover_result_free(&res);

    /* The explicit override skips the damaged record and goes on. */
    struct checker k2 = {.check_content = true};
    CU_ASSERT_EQUAL(recover_dir(dir, &k2, 1, true, &res), 0);
    CU_ASSERT_EQUAL(k2.count[0] + k2.count[1], n - 1);
    CU_ASSERT_EQUAL(res.skipped_bytes, offs[21] - offs[20]);
    CU_ASSERT_EQUAL(res.truncated_bytes, 0);
    aof_recover_result_free(&res);

    /* A zeroed hole followed by valid records is not a tail either. */
    uint8_t z[256] = {0};
    patch(path, offs[20], z, offs[21] - offs[20]);
    struct checker k3 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k3, 1, false, &res), -1);
    CU_ASSERT(strstr(res.error, want) != NULL);
    CU_ASSERT(strstr(res.error, "valid records follow") != NULL);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_recover_sealed_segment_damage(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    build_log(dir, true, 800, 64 * 1024);
    struct aof_manifest m;
    char why[160];
    CU_ASSERT_FATAL(aof_manifest_read(dir, &m, why, sizeof(why)) == 0);
    CU_ASSERT_FATAL(m.n >= 3);
    char path[256];
    seg_path(dir, 1, path, sizeof(path));
    size_t offs[2048], end;
    size_t n = record_offsets(path, offs, 2048, &end);
    CU_ASSERT_FATAL(n > 10 && end == m.lens[0]);

    /* The last record of a sealed segment is not a tail: refused. */
    uint8_t x = 0xee, orig;
    int fd = open(path, O_RDONLY);
    CU_ASSERT(pread(fd, &orig, 1, (off_t)offs[n - 1] + 45) == 1);
    close(fd);
    patch(path, offs[n - 1] + 45, &x, 1);
    struct checker k = {0};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), -1);
    char want[64];
    snprintf(want, sizeof(want), "seg-0000000000000001.hpaof is corrupt at offset %zu",
             offs[n - 1]);
    CU_ASSERT(strstr(res.error, want) != NULL);
    aof_recover_result_free(&res);
    /* Override: skipped to the segment's end, the LSN gap is tolerated. */
    struct checker k2 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k2, 1, true, &res), 0);
    CU_ASSERT_EQUAL(res.skipped_bytes, end - offs[n - 1]);
    aof_recover_result_free(&res);
    patch(path, offs[n - 1] + 45, &orig, 1);

    /* Sealed segment shorter than the manifest says. */
    CU_ASSERT(truncate(path, (off_t)end - 1) == 0);
    struct checker k3 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k3, 1, false, &res), -1);
    CU_ASSERT(strstr(res.error, "the manifest says") != NULL);
    aof_recover_result_free(&res);

    /* A missing segment: refused; with the override, the rest is loaded. */
    seg_path(dir, 2, path, sizeof(path));
    CU_ASSERT(unlink(path) == 0);
    struct checker k4 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k4, 1, false, &res), -1);
    aof_recover_result_free(&res);
    seg_path(dir, 1, path, sizeof(path));
    CU_ASSERT(unlink(path) == 0);
    struct checker k5 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k5, 1, true, &res), 0);
    CU_ASSERT(k5.count[0] > 0);
    CU_ASSERT_EQUAL(res.resume.nsegments, m.n - 2);
    aof_recover_result_free(&res);
    aof_manifest_free(&m);
    remove_dir(dir);
}

struct prog {
    uint64_t last, total, calls;
    bool bad;
};

static void progress_cb(void *arg, uint64_t done, uint64_t total)
{
    struct prog *pg = arg;
    if (done < pg->last || done > total)
        pg->bad = true;
    pg->last = done;
    pg->total = total;
    pg->calls++;
}

static void test_recover_misc(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    /* Empty directory: fresh. */
    struct checker k = {0};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
    CU_ASSERT(res.fresh);
    CU_ASSERT_EQUAL(res.resume.nsegments, 0);
    aof_recover_result_free(&res);

    build_log(dir, true, 30, 0);
    /* Replay callback failure stops recovery with a message. */
    struct checker kf = {.fail_at_lsn = 7};
    CU_ASSERT_EQUAL(recover_dir(dir, &kf, 2, false, &res), -1);
    CU_ASSERT(strstr(res.error, "replay callback failed") != NULL);
    CU_ASSERT(strstr(res.error, "LSN 7") != NULL);
    aof_recover_result_free(&res);

    /* Progress: monotonic and ends at the total. */
    struct prog pg = {0};
    struct checker k2 = {0};
    struct aof_recover_opts o = {.dir = dir, .threads = 1, .replay = check_cb,
                                 .replay_arg = &k2, .progress = progress_cb,
                                 .progress_arg = &pg};
    CU_ASSERT_EQUAL(aof_recover(&o, &res), 0);
    CU_ASSERT(pg.calls >= 1 && !pg.bad && pg.last == pg.total && pg.total > AOF_BLOCK);
    aof_recover_result_free(&res);
    struct aof_progress_logger pl = {0};
    aof_recover_log_progress(&pl, 50, 100);
    aof_recover_log_progress(&pl, 100, 100);
    CU_ASSERT(pl.finished);

    /* Bad segment header: refused at offset 0. */
    char path[256];
    seg_path(dir, 1, path, sizeof(path));
    uint8_t x = 'X';
    patch(path, 0, &x, 1);
    struct checker k3 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k3, 1, false, &res), -1);
    CU_ASSERT(strstr(res.error, "offset 0") != NULL);
    aof_recover_result_free(&res);
    x = 'H';
    patch(path, 0, &x, 1);

    /* Lost manifest with a segment holding records: refused. */
    char mp[256];
    snprintf(mp, sizeof(mp), "%s/%s", dir, AOF_MANIFEST_NAME);
    CU_ASSERT(unlink(mp) == 0);
    struct checker k4 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k4, 1, false, &res), -1);
    CU_ASSERT(strstr(res.error, "MANIFEST is missing") != NULL);
    aof_recover_result_free(&res);
    /* A segment without records and no manifest (crash during the very
     * first open) is harmless. */
    uint8_t z[4096] = {0};
    patch(path, AOF_BLOCK, z, sizeof(z));
    CU_ASSERT(truncate(path, AOF_BLOCK + 100) == 0);
    struct checker k5 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k5, 1, false, &res), 0);
    CU_ASSERT(res.fresh);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* A crash while creating the segment a rotation had already listed leaves
 * an empty (or zero-filled) active segment: recovery leaves it out and the
 * writer recreates it. */
static void test_recover_empty_active_segment(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    build_log(dir, true, 300, 64 * 1024);
    struct aof_manifest m;
    char why[160];
    CU_ASSERT_FATAL(aof_manifest_read(dir, &m, why, sizeof(why)) == 0);
    CU_ASSERT_FATAL(m.n >= 2);
    uint64_t last_id = m.ids[m.n - 1];
    char path[256];
    seg_path(dir, last_id, path, sizeof(path));
    struct checker k0 = {0};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k0, 1, false, &res), 0);
    uint64_t in_last = 0, all = total_count(&k0);
    aof_recover_result_free(&res);
    {
        size_t offs[4096], end;
        in_last = record_offsets(path, offs, 4096, &end);
    }
    for (int variant = 0; variant < 2; variant++) {
        CU_ASSERT(truncate(path, 0) == 0);
        if (variant == 1)
            CU_ASSERT(truncate(path, 8192) == 0); /* zero-filled, no header */
        struct checker k = {0};
        CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
        CU_ASSERT_EQUAL(total_count(&k), all - in_last);
        CU_ASSERT_EQUAL(res.resume.nsegments, m.n - 1);
        aof_recover_result_free(&res);
    }
    /* Non-zero garbage instead of a header is damage, not an empty segment. */
    uint8_t x = 1;
    patch(path, 100, &x, 1);
    struct checker k2 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k2, 1, false, &res), -1);
    CU_ASSERT(strstr(res.error, "offset 0") != NULL);
    aof_recover_result_free(&res);
    CU_ASSERT(truncate(path, 0) == 0);
    /* Reopen: the writer takes the same id again. */
    struct checker k3 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k3, 1, false, &res), 0);
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.resume = &res.resume;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    CU_ASSERT_EQUAL(st.current_segment, last_id);
    append_one(l, 0);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    aof_recover_result_free(&res);
    struct checker k4 = {0};
    CU_ASSERT_EQUAL(recover_dir(dir, &k4, 1, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k4), all - in_last + 1);
    aof_recover_result_free(&res);
    aof_manifest_free(&m);
    remove_dir(dir);
}

static void test_recover_parallel_many_shards(void)
{
    enum { NS = 16, PER = 300 };
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, NS);
    c.segment_bytes = 256 * 1024;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (uint32_t i = 0; i < PER; i++)
        for (uint32_t s = 0; s < NS; s++)
            append_one(l, s);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    for (uint32_t threads = 1; threads <= 5; threads += 2) {
        struct checker k = {.check_content = true};
        struct aof_recover_result res;
        CU_ASSERT_EQUAL(recover_dir(dir, &k, threads, false, &res), 0);
        CU_ASSERT_EQUAL(total_count(&k), (uint64_t)NS * PER);
        for (uint32_t s = 0; s < NS; s++)
            CU_ASSERT_EQUAL(k.count[s], PER);
        aof_recover_result_free(&res);
    }
    remove_dir(dir);
}

static CU_TestInfo recover_tests[] = {
    {"torn tail at every byte of the last record", test_recover_torn_tail_every_offset},
    {"mid-log corruption refused, override", test_recover_midlog_corruption},
    {"sealed segment damage, missing segment", test_recover_sealed_segment_damage},
    {"fresh dir, callback failure, progress, lost manifest", test_recover_misc},
    {"empty active segment left out", test_recover_empty_active_segment},
    {"parallel replay, many shards", test_recover_parallel_many_shards},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"aof recover", suite_init, NULL, NULL, NULL, recover_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
