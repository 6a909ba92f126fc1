/*
 * test_aof_log.c - append-only log: the persistence thread (configuration,
 * append limits, rings, rotation, fsync policies and methods, O_DIRECT,
 * producers, durable LSN and hook, commit pipeline, rewrite).  Helpers in
 * aof_harness.h.
 */
#include "aof_harness.h"

/* ------------------------------------------------------------------------ */
/* log                                                                       */

static void test_log_config_rejected(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    int err = 0;
    cfg_small(&c, dir, 1);
    c.ring_bytes = 5000; /* not a power of two */
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
    cfg_small(&c, dir, 0);
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
    cfg_small(&c, dir, HP_MAX_SHARDS + 1);
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
    cfg_small(&c, dir, 1);
    c.staging_bytes = 5000;
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
    cfg_small(&c, dir, 1);
    c.segment_bytes = 1000;
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
    cfg_small(&c, "/nonexistent/hp-aof", 1);
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -ENOENT);

    /* An existing log is never opened blind (it must be recovered first). */
    cfg_small(&c, dir, 1);
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EEXIST);
    remove_dir(dir);

    enum aof_fsync_policy p;
    CU_ASSERT(aof_fsync_policy_parse("EverySec", &p) == 0 && p == AOF_FSYNC_EVERYSEC);
    CU_ASSERT(aof_fsync_policy_parse("always", &p) == 0 && p == AOF_FSYNC_ALWAYS);
    CU_ASSERT(aof_fsync_policy_parse("no", &p) == 0 && p == AOF_FSYNC_NO);
    CU_ASSERT(aof_fsync_policy_parse("sometimes", &p) == -1);
}

static void test_log_append_limits(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.ring_bytes = 4096;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    CU_ASSERT_EQUAL(aof_log_max_record(l), 2048);
    struct hp_slice a[2] = {hp_slice_make("SET", 3), hp_slice_make("k", 1)};
    uint64_t lsn = 99;
    CU_ASSERT_EQUAL(aof_log_append(l, 2, 0, 0, 2, a, &lsn), AOF_APPEND_INVALID);
    CU_ASSERT_EQUAL(aof_log_append(l, 0, HP_NUM_DBS, 0, 2, a, &lsn), AOF_APPEND_INVALID);
    CU_ASSERT_EQUAL(aof_log_append(l, 0, 0, 0, 0, a, &lsn), AOF_APPEND_INVALID);
    static uint8_t big[4096];
    struct hp_slice b[2] = {hp_slice_make("SET", 3), hp_slice_make(big, 2048 - 40 - 8 - 3 + 1)};
    CU_ASSERT_EQUAL(aof_log_append(l, 0, 0, 0, 2, b, &lsn), AOF_APPEND_TOO_LARGE);
    CU_ASSERT_EQUAL(lsn, 99);
    b[1].len--; /* exactly max_record */
    CU_ASSERT_EQUAL(aof_log_append(l, 0, 0, 0, 2, b, &lsn), AOF_APPEND_OK);
    CU_ASSERT_EQUAL(lsn, 1);
    CU_ASSERT_EQUAL(aof_log_append(l, 1, 0, 0, 2, a, &lsn), AOF_APPEND_OK);
    CU_ASSERT_EQUAL(lsn, 1); /* LSNs are per shard */
    CU_ASSERT(wait_durable(l, 0, 1));

    /* Stall the writer: the ring fills and append says BUSY, never blocks. */
    aof_log_inject_fault(l, AOF_FAULT_WRITE, UINT32_MAX, EIO);
    int busy = 0, ok = 0;
    uint64_t deadline = clock_mono_ns() + 5000000000ull;
    while (busy == 0 && clock_mono_ns() < deadline) {
        enum aof_append r = aof_log_append(l, 0, 0, 0, 2, b, &lsn);
        if (r == AOF_APPEND_OK)
            ok++;
        else if (r == AOF_APPEND_BUSY)
            busy++;
    }
    CU_ASSERT(busy > 0);
    CU_ASSERT(ok < 100); /* bounded by ring + staging */
    size_t bsize = aof_record_size(2, b), asize = aof_record_size(2, a);
    CU_ASSERT(!aof_log_has_room(l, 0, bsize));
    CU_ASSERT(!aof_log_has_room(l, 0, aof_log_max_record(l) + 1));
    /* has_room(n) true => an append of n or fewer bytes succeeds. */
    while (aof_log_has_room(l, 0, asize))
        CU_ASSERT_FATAL(aof_log_append(l, 0, 0, 0, 2, a, &lsn) == AOF_APPEND_OK);
    CU_ASSERT_EQUAL(aof_log_append(l, 0, 0, 0, 2, a, &lsn), AOF_APPEND_BUSY);
    CU_ASSERT(aof_log_has_room(l, 1, bsize)); /* other rings unaffected */
    CU_ASSERT(wait_error(l, EIO));
    uint64_t before = aof_log_last_lsn(l, 0);
    aof_log_inject_fault(l, AOF_FAULT_WRITE, 0, EIO);
    CU_ASSERT(wait_error(l, 0));
    CU_ASSERT(append_one(l, 0) == before + 1);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);

    struct checker k = {.check_content = false};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
    CU_ASSERT_EQUAL(k.count[0], before + 1);
    CU_ASSERT_EQUAL(k.count[1], 1);
    CU_ASSERT_EQUAL(res.resume.last_lsn[0], before + 1);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* Write, close, recover, check every record; return the recover result. */
static void roundtrip(struct aof_log_config *c, uint32_t nshards, uint32_t per_shard)
{
    int err;
    struct aof_log *l = aof_log_open(c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (uint32_t i = 0; i < per_shard; i++)
        for (uint32_t s = 0; s < nshards; s++)
            CU_ASSERT(append_one(l, s) == i + 1);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(c->dir, &k, nshards, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k), (uint64_t)nshards * per_shard);
    for (uint32_t s = 0; s < nshards; s++)
        CU_ASSERT_EQUAL(res.resume.last_lsn[s], per_shard);
    CU_ASSERT_EQUAL(res.truncated_bytes, 0);
    aof_recover_result_free(&res);
}

static void test_log_roundtrip_variants(void)
{
    static const struct {
        enum aof_fsync_policy fsync;
        enum aof_sync_method method;
        bool direct, prealloc;
    } v[] = {
        {AOF_FSYNC_ALWAYS, AOF_SYNC_URING_FSYNC, false, true},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_FDATASYNC, false, false},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_DSYNC_WRITE, true, true},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_DSYNC_WRITE, false, true},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_PWRITEV2_DSYNC, false, true},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_PWRITEV2_DSYNC, true, true},
        {AOF_FSYNC_EVERYSEC, AOF_SYNC_PWRITEV2_DSYNC, false, false},
        {AOF_FSYNC_ALWAYS, AOF_SYNC_URING_FSYNC, true, false},
        {AOF_FSYNC_EVERYSEC, AOF_SYNC_URING_FSYNC, true, true},
        {AOF_FSYNC_EVERYSEC, AOF_SYNC_FDATASYNC, false, true},
        {AOF_FSYNC_NO, AOF_SYNC_URING_FSYNC, false, true},
        {AOF_FSYNC_NO, AOF_SYNC_URING_FSYNC, true, true},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(v); i++) {
        char dir[64];
        make_dir(dir, sizeof(dir));
        struct aof_log_config c;
        cfg_small(&c, dir, 3);
        c.fsync = v[i].fsync;
        c.sync_method = v[i].method;
        c.direct_io = v[i].direct;
        c.preallocate = v[i].prealloc;
        c.segment_bytes = 128 * 1024; /* a few rotations */
        roundtrip(&c, 3, 400);
        remove_dir(dir);
    }
}

static void test_log_rotation_and_manifest(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.segment_bytes = 64 * 1024;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (int i = 0; i < 2000; i++)
        append_one(l, 0);
    CU_ASSERT(wait_durable(l, 0, 2000));
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    CU_ASSERT(st.rotations >= 3);

    struct aof_manifest m;
    char why[160];
    CU_ASSERT_FATAL(aof_manifest_read(dir, &m, why, sizeof(why)) == 0);
    CU_ASSERT(m.n >= 4);
    CU_ASSERT_EQUAL(m.lens[m.n - 1], AOF_SEG_ACTIVE);
    uint64_t total = 0;
    for (uint32_t i = 0; i < m.n; i++) {
        CU_ASSERT_EQUAL(m.ids[i], i + 1);
        char p[256];
        seg_path(dir, m.ids[i], p, sizeof(p));
        if (m.lens[i] != AOF_SEG_ACTIVE) {
            CU_ASSERT(m.lens[i] <= c.segment_bytes);
            CU_ASSERT(m.lens[i] > c.segment_bytes - 400); /* filled before rotating */
            CU_ASSERT_EQUAL((uint64_t)file_size(p), m.lens[i]); /* trimmed */
            total += m.lens[i] - AOF_BLOCK;
        } else {
            CU_ASSERT_EQUAL((uint64_t)file_size(p), c.segment_bytes); /* preallocated */
        }
    }
    aof_manifest_free(&m);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k), 2000);
    CU_ASSERT(res.bytes > total);
    CU_ASSERT_EQUAL(res.segments, st.rotations + 1);

    /* Continue the log: LSNs go on, the old active segment is sealed. */
    c.resume = &res.resume;
    l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    CU_ASSERT_EQUAL(aof_log_last_lsn(l, 0), 2000);
    CU_ASSERT_EQUAL(aof_log_durable_lsn(l, 0), 2000);
    for (int i = 0; i < 10; i++)
        CU_ASSERT(append_one(l, 0) == 2001u + (uint64_t)i);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    aof_recover_result_free(&res);
    struct checker k2 = {.check_content = true};
    CU_ASSERT_EQUAL(recover_dir(dir, &k2, 1, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k2), 2010);
    CU_ASSERT_EQUAL(res.segments, st.rotations + 2);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* Several producers (one per ring) against the writer, with a monitor that
 * checks every shard's durable LSN only grows and never passes the LSNs
 * handed out. */
struct mt {
    struct aof_log *l;
    uint32_t shard;
    uint32_t n;
    _Atomic uint64_t assigned;
    _Atomic bool *stop;
    bool bad;
};

static void *producer_main(void *arg)
{
    struct mt *p = arg;
    for (uint32_t i = 0; i < p->n; i++) {
        /* Announced before the append: the monitor reads durable first,
         * and a record can be durable as soon as it is appended. */
        atomic_store(&p->assigned, i + 1);
        uint64_t lsn = append_one(p->l, p->shard);
        if (lsn != i + 1) {
            p->bad = true;
            break;
        }
    }
    return NULL;
}

struct monitor {
    struct mt *ps;
    uint32_t n;
    _Atomic bool stop;
    bool bad;
    uint64_t samples;
};

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    uint64_t last[HP_MAX_SHARDS] = {0};
    while (!atomic_load(&m->stop)) {
        for (uint32_t s = 0; s < m->n; s++) {
            uint64_t d = aof_log_durable_lsn(m->ps[s].l, s);
            uint64_t a = atomic_load(&m->ps[s].assigned);
            if (d < last[s] || d > a)
                m->bad = true;
            last[s] = d;
            m->samples++;
        }
        usleep(50);
    }
    return NULL;
}

static void run_producers(enum aof_fsync_policy policy, bool direct)
{
    enum { NS = 4, PER = 3000 };
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, NS);
    c.fsync = policy;
    c.direct_io = direct;
    c.ring_bytes = 8192; /* wraps and BUSY are frequent */
    c.staging_bytes = 16384;
    c.segment_bytes = 256 * 1024;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct mt ps[NS];
    struct monitor mon = {.ps = ps, .n = NS};
    pthread_t tid[NS], mtid;
    for (uint32_t s = 0; s < NS; s++) {
        ps[s] = (struct mt){.l = l, .shard = s, .n = PER};
        atomic_init(&ps[s].assigned, 0);
    }
    CU_ASSERT_FATAL(pthread_create(&mtid, NULL, monitor_main, &mon) == 0);
    for (uint32_t s = 0; s < NS; s++)
        CU_ASSERT_FATAL(pthread_create(&tid[s], NULL, producer_main, &ps[s]) == 0);
    for (uint32_t s = 0; s < NS; s++) {
        pthread_join(tid[s], NULL);
        CU_ASSERT(!ps[s].bad);
    }
    if (policy != AOF_FSYNC_NO)
        for (uint32_t s = 0; s < NS; s++)
            CU_ASSERT(wait_durable(l, s, PER));
    atomic_store(&mon.stop, true);
    pthread_join(mtid, NULL);
    CU_ASSERT(!mon.bad);
    CU_ASSERT(mon.samples > 0);
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    if (policy == AOF_FSYNC_NO) {
        CU_ASSERT(st.fsyncs <= st.rotations + 1); /* only rotation seals */
    } else if (policy == AOF_FSYNC_ALWAYS) {
        CU_ASSERT(st.fsyncs >= 1);
        CU_ASSERT(st.fsyncs < (uint64_t)NS * PER); /* group commit happened */
    }
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    CU_ASSERT_EQUAL(st.write_errors, 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 3, false, &res), 0);
    CU_ASSERT_EQUAL(total_count(&k), (uint64_t)NS * PER);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_log_producers_always(void) { run_producers(AOF_FSYNC_ALWAYS, false); }
static void test_log_producers_everysec(void) { run_producers(AOF_FSYNC_EVERYSEC, true); }
static void test_log_producers_no(void) { run_producers(AOF_FSYNC_NO, false); }

/* Durable means on disk: once durable_lsn covers a record, a recovery of
 * the (still open) directory finds it. */
static void test_log_durable_covers(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.fsync = AOF_FSYNC_ALWAYS;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (int round = 1; round <= 5; round++) {
        uint64_t lsn = append_one(l, 1);
        CU_ASSERT(wait_durable(l, 1, lsn));
        CU_ASSERT(aof_log_written_lsn(l, 1) >= lsn);
        struct checker k = {.check_content = true};
        struct aof_recover_opts o = {.dir = dir, .threads = 1, .replay = check_cb,
                                     .replay_arg = &k};
        struct aof_recover_result res;
        CU_ASSERT_EQUAL(aof_recover(&o, &res), 0);
        CU_ASSERT_EQUAL(k.count[1], (uint64_t)round);
        aof_recover_result_free(&res);
    }
    CU_ASSERT_EQUAL(aof_log_durable_lsn(l, 0), 0);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);
}

/* The durable hook fires with the shard's bit after its LSN advanced. */
struct durable_hook {
    _Atomic uint64_t calls;
    _Atomic uint64_t mask;
};

static void durable_hook_fn(void *arg, uint64_t shard_mask)
{
    struct durable_hook *h = arg;
    atomic_fetch_add(&h->calls, 1);
    atomic_fetch_or(&h->mask, shard_mask);
}

static void test_log_durable_hook_and_depths(void)
{
    static const uint32_t depths[] = {1, 2, AOF_SYNC_DEPTH_MAX};
    for (size_t i = 0; i < HP_ARRAY_LEN(depths); i++) {
        char dir[64];
        make_dir(dir, sizeof(dir));
        struct aof_log_config c;
        cfg_small(&c, dir, 3);
        c.fsync = AOF_FSYNC_ALWAYS;
        c.sync_depth = depths[i];
        c.sync_pipeline_min_us = 0; /* pipeline even on a fast disk */
        struct durable_hook h = {0};
        c.on_durable = durable_hook_fn;
        c.on_durable_arg = &h;
        int err;
        struct aof_log *l = aof_log_open(&c, &err);
        CU_ASSERT_FATAL(l != NULL);
        uint64_t lsn = 0;
        for (int n = 0; n < 300; n++)
            lsn = append_one(l, 2);
        CU_ASSERT(wait_durable(l, 2, lsn));
        CU_ASSERT(atomic_load(&h.calls) >= 1);
        CU_ASSERT_EQUAL(atomic_load(&h.mask), (uint64_t)1 << 2);
        CU_ASSERT_EQUAL(aof_log_close(l), 0);
        struct checker k = {.check_content = true};
        struct aof_recover_result res;
        CU_ASSERT_EQUAL(recover_dir(dir, &k, 1, false, &res), 0);
        CU_ASSERT_EQUAL(k.count[2], 300);
        aof_recover_result_free(&res);
        remove_dir(dir);
    }
    struct aof_log_config c;
    cfg_small(&c, "/tmp", 1);
    c.sync_depth = AOF_SYNC_DEPTH_MAX + 1;
    int err;
    CU_ASSERT(aof_log_open(&c, &err) == NULL && err == -EINVAL);
}

static bool wait_rewrites(struct aof_log *l, uint64_t n)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (aof_log_rewrites_done(l, NULL) < n) {
        if (clock_mono_ns() > deadline)
            return false;
        usleep(500);
    }
    return true;
}

/* A rewrite drops the segments holding only records older than each
 * shard's cut; what remains replays with consecutive LSNs from the cut. */
static void run_rewrite(enum aof_fsync_policy policy)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.fsync = policy;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct aof_log_stats st;
    for (int n = 0; n < 200000; n++) {
        append_one(l, (uint32_t)n % 2);
        if (n % 1000 == 0) {
            aof_log_get_stats(l, &st);
            if (st.rotations >= 3)
                break;
        }
    }
    /* Wait until the appended records are in the segments (written). */
    for (uint32_t s = 0; s < 2; s++)
        while (aof_log_written_lsn(l, s) < aof_log_last_lsn(l, s))
            usleep(200);
    aof_log_get_stats(l, &st);
    CU_ASSERT_FATAL(st.rotations >= 3);
    uint64_t before = st.log_bytes;
    uint64_t cut[2], end[HP_MAX_SHARDS] = {0};
    for (uint32_t s = 0; s < 2; s++) {
        cut[s] = aof_log_last_lsn(l, s) + 1;
        aof_log_rewrite_mark(l, s, cut[s]);
        for (int n = 0; n < 10; n++)
            end[s] = append_one(l, s);
    }
    CU_ASSERT(aof_log_rewrite_finish(l, end));
    CU_ASSERT(wait_rewrites(l, 1));
    int status = -1;
    CU_ASSERT_EQUAL(aof_log_rewrites_done(l, &status), 1);
    CU_ASSERT_EQUAL(status, 0);
    aof_log_get_stats(l, &st);
    CU_ASSERT(st.removed_segments >= 3);
    CU_ASSERT(st.log_bytes < before);
    struct aof_manifest m;
    char why[128];
    CU_ASSERT_FATAL(aof_manifest_read(dir, &m, why, sizeof(why)) == 0);
    CU_ASSERT(m.ids[0] > 1);
    char name[64], path[160];
    aof_segment_name(1, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CU_ASSERT(access(path, F_OK) != 0); /* deleted */
    aof_manifest_free(&m);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, 2, false, &res), 0);
    for (uint32_t s = 0; s < 2; s++) {
        /* everything from the cut on is there, in order */
        CU_ASSERT(k.count[s] >= 10);
        CU_ASSERT_EQUAL(k.next[s], end[s] + 1);
        CU_ASSERT_EQUAL(res.resume.last_lsn[s], end[s]);
    }
    CU_ASSERT(total_count(&k) < 2 * cut[0]);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_log_rewrite_always(void) { run_rewrite(AOF_FSYNC_ALWAYS); }
static void test_log_rewrite_everysec(void) { run_rewrite(AOF_FSYNC_EVERYSEC); }
static void test_log_rewrite_no(void) { run_rewrite(AOF_FSYNC_NO); }

static void test_log_everysec_and_no(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.fsync = AOF_FSYNC_EVERYSEC;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    sleep_ms(1100); /* the next write is due for a sync at once */
    append_one(l, 0);
    CU_ASSERT(wait_durable(l, 0, 1));
    uint64_t t0 = clock_mono_ns();
    uint64_t lsn = append_one(l, 0);
    CU_ASSERT(wait_durable(l, 0, lsn));
    uint64_t waited_ms = (clock_mono_ns() - t0) / 1000000u;
    CU_ASSERT(waited_ms >= 700 && waited_ms <= 2500); /* the once-a-second sync */
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);

    make_dir(dir, sizeof(dir));
    cfg_small(&c, dir, 1);
    c.fsync = AOF_FSYNC_NO;
    l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    lsn = append_one(l, 0);
    uint64_t deadline = clock_mono_ns() + 5000000000ull;
    while (aof_log_written_lsn(l, 0) < lsn && clock_mono_ns() < deadline)
        usleep(200);
    CU_ASSERT_EQUAL(aof_log_written_lsn(l, 0), lsn);
    sleep_ms(50);
    CU_ASSERT_EQUAL(aof_log_durable_lsn(l, 0), 0); /* never synced by policy */
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    CU_ASSERT_EQUAL(st.fsyncs, 0);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);
}

static CU_TestInfo log_tests[] = {
    {"config rejected", test_log_config_rejected},
    {"append limits, busy, too large", test_log_append_limits},
    {"round trip: policies, methods, O_DIRECT", test_log_roundtrip_variants},
    {"rotation, manifest, resume", test_log_rotation_and_manifest},
    {"producers: always", test_log_producers_always},
    {"producers: everysec O_DIRECT", test_log_producers_everysec},
    {"producers: no", test_log_producers_no},
    {"durable lsn covers on-disk records", test_log_durable_covers},
    {"everysec timing and no", test_log_everysec_and_no},
    {"durable hook, commit pipeline depths", test_log_durable_hook_and_depths},
    {"rewrite drops covered segments (always)", test_log_rewrite_always},
    {"rewrite drops covered segments (everysec)", test_log_rewrite_everysec},
    {"rewrite drops covered segments (no)", test_log_rewrite_no},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"aof log", suite_init, NULL, NULL, NULL, log_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
