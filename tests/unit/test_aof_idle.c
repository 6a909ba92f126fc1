/*
 * test_aof_idle.c - append-only log: the persistence thread's idle wait
 * (it blocks, appends and kicks wake it, no wake-up is lost).  Helpers in
 * aof_harness.h.
 */
#include "aof_harness.h"

/* ------------------------------------------------------------------------ */
/* idle wait: the persistence thread blocks and appends wake it             */

static uint64_t ms_since(uint64_t t0_ns) { return (clock_mono_ns() - t0_ns) / 1000000u; }

/* Waits (at most 2 s) until the idle thread is asleep: it counts a sleep
 * just before it announces one and a wake-up when an append ends one, so
 * with no bound expiring (3 s) it is asleep, or a few instructions from
 * it, when it has more sleeps than wake-ups; the same reading 1 ms later
 * rules out the few instructions.  Why not a fixed pause: on a loaded
 * machine 20 ms were sometimes too short for the thread to get there, and
 * the round then saw no wake-up. */
static void wait_asleep(struct aof_log *l, struct aof_log_stats *st)
{
    uint64_t seen = 0;
    for (int i = 0; i < 2000; i++) {
        aof_log_get_stats(l, st);
        if (st->thread_sleeps > st->thread_wakeups) {
            if (st->thread_sleeps == seen)
                return;
            seen = st->thread_sleeps;
        } else {
            seen = 0;
        }
        sleep_ms(1);
    }
}

/* With a 3 s idle wait bound, only a wake-up can make an append durable
 * within a few hundred ms: each round lets the thread fall asleep first. */
static void test_idle_wake_after_sleep(void)
{
    static const enum aof_sync_method methods[] = {AOF_SYNC_PWRITEV2_DSYNC,
                                                   AOF_SYNC_DSYNC_WRITE};
    for (size_t m = 0; m < HP_ARRAY_LEN(methods); m++) {
        char dir[64];
        make_dir(dir, sizeof(dir));
        struct aof_log_config c;
        cfg_small(&c, dir, 2);
        c.fsync = AOF_FSYNC_ALWAYS;
        c.sync_method = methods[m];
        int err;
        struct aof_log *l = aof_log_open(&c, &err);
        CU_ASSERT_FATAL(l != NULL);
        struct aof_log_stats st0, st1;
        for (int round = 0; round < 10; round++) {
            wait_asleep(l, &st0);
            uint64_t t0 = clock_mono_ns();
            uint64_t lsn = append_one(l, (uint32_t)round % 2);
            CU_ASSERT(wait_durable(l, (uint32_t)round % 2, lsn));
            CU_ASSERT(ms_since(t0) < IDLE_WAIT_LONG_US / 1000u / 2);
            aof_log_get_stats(l, &st1);
            CU_ASSERT(st0.thread_sleeps > st0.thread_wakeups); /* it was asleep ... */
            CU_ASSERT(st1.thread_wakeups > st0.thread_wakeups); /* ... the append woke it */
        }
        /* Close wakes it too (it does not wait out the bound). */
        uint64_t t0 = clock_mono_ns();
        CU_ASSERT_EQUAL(aof_log_close(l), 0);
        CU_ASSERT(ms_since(t0) < IDLE_WAIT_LONG_US / 1000u / 2);
        remove_dir(dir);
    }
}

/* wake_on_kick: appends alone leave the sleeping thread asleep (they stay
 * unsynced for the whole 3 s bound); one kick makes all of them durable
 * in one commit.  A kick with nothing pending wakes nobody. */
static void test_idle_kick_batches(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 2);
    c.fsync = AOF_FSYNC_ALWAYS;
    c.wake_on_kick = true;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    for (int round = 0; round < 3; round++) {
        sleep_ms(20);
        struct aof_log_stats st0, st1, st2;
        aof_log_get_stats(l, &st0);
        uint64_t lsn[2] = {0, 0};
        for (int i = 0; i < 8; i++)
            lsn[i % 2] = append_one(l, (uint32_t)i % 2);
        sleep_ms(100);
        CU_ASSERT(aof_log_durable_lsn(l, 0) < lsn[0]); /* nobody woke it */
        aof_log_get_stats(l, &st1);
        CU_ASSERT_EQUAL(st1.thread_wakeups, st0.thread_wakeups);
        uint64_t t0 = clock_mono_ns();
        aof_log_kick(l);
        CU_ASSERT(wait_durable(l, 0, lsn[0]));
        CU_ASSERT(wait_durable(l, 1, lsn[1]));
        CU_ASSERT(ms_since(t0) < IDLE_WAIT_LONG_US / 1000u / 2);
        aof_log_get_stats(l, &st2);
        CU_ASSERT_EQUAL(st2.thread_wakeups, st1.thread_wakeups + 1);
        CU_ASSERT(st2.fsyncs - st1.fsyncs <= 2); /* one commit (two if it raced a wait) */
        sleep_ms(20);
        aof_log_kick(l); /* nothing pending: no wake-up */
        aof_log_get_stats(l, &st1);
        CU_ASSERT_EQUAL(st1.thread_wakeups, st2.thread_wakeups);
    }
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);
}

/* everysec: the idle wait ends when the next sync is due, not at the bound. */
static void test_idle_everysec_deadline(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, 1);
    c.fsync = AOF_FSYNC_EVERYSEC;
    c.idle_sleep_max_us = 10u * 1000000u;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    sleep_ms(20);
    uint64_t t0 = clock_mono_ns();
    uint64_t lsn = append_one(l, 0);
    CU_ASSERT(wait_durable(l, 0, lsn));
    CU_ASSERT(ms_since(t0) < 3000); /* one everysec period plus slack, far below 10 s */
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);
}

struct waker {
    struct aof_log *l;
    uint32_t shard;
    uint64_t until_ns;
    uint64_t rounds, late;
    unsigned seed;
};

/* Bursts of appends with pauses of varying length between them, so the
 * thread keeps falling asleep and being woken at every phase of its loop;
 * every burst must become durable well before the idle wait bound. */
static void *waker_main(void *arg)
{
    struct waker *w = arg;
    while (clock_mono_ns() < w->until_ns) {
        uint32_t burst = 1 + (uint32_t)rand_r(&w->seed) % 4;
        uint64_t lsn = 0;
        for (uint32_t i = 0; i < burst; i++)
            lsn = append_one(w->l, w->shard);
        uint64_t t0 = clock_mono_ns();
        if (lsn == 0 || !wait_durable(w->l, w->shard, lsn) ||
            ms_since(t0) > IDLE_WAIT_LONG_US / 1000u / 2)
            w->late++;
        w->rounds++;
        unsigned pause = (unsigned)rand_r(&w->seed) % 4;
        if (pause == 1)
            sched_yield();
        else if (pause >= 2)
            usleep((useconds_t)(rand_r(&w->seed) % 300));
    }
    return NULL;
}

static void run_wake_stress(enum aof_fsync_policy policy, uint32_t pipeline_min_us,
                            uint32_t idle_delay_us)
{
    enum { NS = 2 };
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    cfg_small(&c, dir, NS);
    c.fsync = policy;
    c.sync_pipeline_min_us = pipeline_min_us;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    aof_log_inject_idle_delay(l, idle_delay_us);
    struct waker w[NS];
    pthread_t tid[NS];
    uint64_t until = clock_mono_ns() + 1500u * 1000000ull;
    for (uint32_t s = 0; s < NS; s++) {
        w[s] = (struct waker){.l = l, .shard = s, .until_ns = until, .seed = 7u + s};
        CU_ASSERT_FATAL(pthread_create(&tid[s], NULL, waker_main, &w[s]) == 0);
    }
    for (uint32_t s = 0; s < NS; s++) {
        pthread_join(tid[s], NULL);
        CU_ASSERT(w[s].rounds > 0);
        CU_ASSERT_EQUAL(w[s].late, 0);
    }
    struct aof_log_stats st;
    aof_log_get_stats(l, &st);
    CU_ASSERT(st.thread_sleeps > 0);
    CU_ASSERT(st.thread_wakeups > 0);
    CU_ASSERT(st.thread_wakeups <= st.thread_sleeps); /* at most one wake-up per sleep */
    uint64_t l0 = aof_log_last_lsn(l, 0), l1 = aof_log_last_lsn(l, 1);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    struct checker k = {.check_content = true};
    struct aof_recover_result res;
    CU_ASSERT_EQUAL(recover_dir(dir, &k, NS, false, &res), 0);
    CU_ASSERT_EQUAL(k.count[0], l0);
    CU_ASSERT_EQUAL(k.count[1], l1);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

static void test_idle_wake_stress_serial(void)
{
    run_wake_stress(AOF_FSYNC_ALWAYS, UINT32_MAX, 0); /* the pipeline never runs */
    /* Appends that land while the thread has decided it is idle but has
     * not announced it yet: only the re-check after the announcement
     * catches them. */
    run_wake_stress(AOF_FSYNC_ALWAYS, UINT32_MAX, 200);
}

static void test_idle_wake_stress_pipeline(void)
{
    run_wake_stress(AOF_FSYNC_ALWAYS, 0, 0); /* the pipeline always runs */
    run_wake_stress(AOF_FSYNC_ALWAYS, 0, 200);
}

static CU_TestInfo idle_tests[] = {
    {"idle thread sleeps, an append wakes it", test_idle_wake_after_sleep},
    {"idle everysec wait ends at the due sync", test_idle_everysec_deadline},
    {"wake_on_kick: appends wait for the kick, one commit", test_idle_kick_batches},
    {"no lost wake-up: bursts and pauses, serial", test_idle_wake_stress_serial},
    {"no lost wake-up: bursts and pauses, pipeline", test_idle_wake_stress_pipeline},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"aof idle wait", suite_init, NULL, NULL, NULL, idle_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
