/* test_pktgen_hist.c - the log-linear histogram: bucket geometry, the
 * relative error bound, percentiles against exact order statistics, merge. */
#include "cu_main.h"

#include "../../pktgen/engine.h"
#include "../../pktgen/hist.h"
#include "../../pktgen/workload.h"

#include <math.h>
#include <string.h>

static struct hist ha, hb, hc;

/* Every bucket: lo <= hi, contiguous with the next, width <= lo/128. */
static void test_bucket_geometry(void)
{
    for (uint32_t b = 0; b + 1 < HIST_BUCKETS; b++) {
        uint64_t lo = hist_bucket_lo(b), hi = hist_bucket_hi(b);
        CU_ASSERT_FATAL(lo <= hi);
        CU_ASSERT_FATAL(hist_bucket_lo(b + 1) == hi + 1);
        CU_ASSERT_FATAL(hist_bucket_of(lo) == b);
        CU_ASSERT_FATAL(hist_bucket_of(hi) == b);
        if (lo >= 2 * HIST_SUB) {
            CU_ASSERT_FATAL((hi - lo + 1) * HIST_SUB <= lo);
        } else {
            CU_ASSERT_FATAL(lo == hi);
        }
    }
    CU_ASSERT_EQUAL(hist_bucket_hi(HIST_BUCKETS - 1), UINT64_MAX);
    CU_ASSERT_EQUAL(hist_bucket_of(UINT64_MAX), HIST_BUCKETS - 1);
    CU_ASSERT_EQUAL(hist_bucket_of(0), 0);
    CU_ASSERT_EQUAL(hist_bucket_of(255), 255);
    CU_ASSERT_EQUAL(hist_bucket_of(256), 256);
    CU_ASSERT_EQUAL(hist_bucket_of(257), 256);
    CU_ASSERT_EQUAL(hist_bucket_of(258), 257);
}

/* The reported value of any recorded value is within 1/256 of it. */
static void test_relative_error_bound(void)
{
    struct wl_rng r;
    wl_rng_seed(&r, 42);
    double worst = 0;
    for (int i = 0; i < 200000; i++) {
        /* log-uniform over the whole range */
        uint64_t v = wl_rng_next(&r) >> wl_rng_below(&r, 64);
        if (v == 0)
            continue;
        uint32_t b = hist_bucket_of(v);
        uint64_t lo = hist_bucket_lo(b), hi = hist_bucket_hi(b);
        uint64_t mid = lo + (hi - lo) / 2;
        double rel = fabs((double)mid - (double)v) / (double)v;
        if (rel > worst)
            worst = rel;
    }
    CU_ASSERT(worst <= 1.0 / 256);
    CU_ASSERT(worst > 1.0 / 1024);      /* the bound is tight, not vacuous */

    /* Through the public API, one value at a time (p50 of one sample). */
    const uint64_t probes[] = {1, 7, 255, 256, 300, 1000, 1023, 65537, 999999, 123456789,
                               1ull << 40, (1ull << 40) + 12345, UINT64_MAX / 3};
    for (size_t i = 0; i < HP_ARRAY_LEN(probes); i++) {
        hist_reset(&ha);
        hist_record(&ha, probes[i]);
        hist_record(&ha, probes[i] * 2 > probes[i] ? probes[i] * 2 : probes[i]);
        uint64_t p = hist_percentile(&ha, 50);
        CU_ASSERT(fabs((double)p - (double)probes[i]) <= (double)probes[i] / 100);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles of a skewed sample agree with exact order statistics within 1 %. */
static void test_percentiles_vs_exact(void)
{
    enum { N = 100000 };
    static uint64_t v[N];
    struct wl_rng r;
    wl_rng_seed(&r, 7);
    hist_reset(&ha);
    for (int i = 0; i < N; i++) {
        /* latency-like: exponential body around 20 us plus a rare long tail */
        double x = -log(1.0 - wl_rng_double(&r)) * 20000.0 + 5000.0;
        if (wl_rng_below(&r, 1000) == 0)
            x *= 200;
        v[i] = (uint64_t)x;
        hist_record(&ha, v[i]);
    }
    qsort(v, N, sizeof(v[0]), cmp_u64);
    const double ps[] = {1, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < HP_ARRAY_LEN(ps); i++) {
        size_t rank = (size_t)ceil(ps[i] / 100.0 * N);
        uint64_t exact = v[rank - 1];
        uint64_t got = hist_percentile(&ha, ps[i]);
        CU_ASSERT(fabs((double)got - (double)exact) <= exact * 0.01);
    }
    CU_ASSERT_EQUAL(hist_percentile(&ha, 100), v[N - 1]);
    CU_ASSERT_EQUAL(ha.min, v[0]);
    CU_ASSERT_EQUAL(ha.max, v[N - 1]);
    CU_ASSERT_EQUAL(ha.count, N);
    long double sum = 0;
    for (int i = 0; i < N; i++)
        sum += v[i];
    CU_ASSERT(fabs(hist_mean(&ha) - (double)(sum / N)) < 1e-6 * (double)(sum / N));
}

static void test_small_exact_values(void)
{
    hist_reset(&ha);
    for (uint64_t x = 1; x <= 100; x++)
        hist_record(&ha, x);
    /* Below 256 every value has its own bucket: percentiles are exact. */
    CU_ASSERT_EQUAL(hist_percentile(&ha, 50), 50);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 90), 90);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 99), 99);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 99.5), 100);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 0.5), 1);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 0), 1);
}

static void test_empty_and_extremes(void)
{
    hist_reset(&ha);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 50), 0);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 100), 0);
    CU_ASSERT_EQUAL(hist_mean(&ha), 0.0);
    hist_record(&ha, UINT64_MAX);
    hist_record(&ha, 0);
    CU_ASSERT_EQUAL(ha.min, 0);
    CU_ASSERT_EQUAL(ha.max, UINT64_MAX);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 50), 0);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 100), UINT64_MAX);
    /* midpoint clamped into [min, max] */
    hist_reset(&ha);
    hist_record_n(&ha, 1000001, 5);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 50), 1000001);
    hist_record_n(&ha, 3, 0);
    CU_ASSERT_EQUAL(ha.count, 5);
}

static void test_merge(void)
{
    struct wl_rng r;
    wl_rng_seed(&r, 9);
    hist_reset(&ha);
    hist_reset(&hb);
    hist_reset(&hc);
    for (int i = 0; i < 50000; i++) {
        uint64_t x = wl_rng_below(&r, 10000000);
        hist_record(i % 3 ? &ha : &hb, x);
        hist_record(&hc, x);
    }
    hist_merge(&ha, &hb);
    CU_ASSERT_EQUAL(ha.count, hc.count);
    CU_ASSERT_EQUAL(ha.min, hc.min);
    CU_ASSERT_EQUAL(ha.max, hc.max);
    CU_ASSERT(memcmp(ha.bucket, hc.bucket, sizeof(ha.bucket)) == 0);
    CU_ASSERT_EQUAL(hist_percentile(&ha, 99.9), hist_percentile(&hc, 99.9));
    hist_reset(&hb);
    hist_merge(&ha, &hb);      /* merging an empty one changes nothing */
    CU_ASSERT_EQUAL(ha.min, hc.min);
    CU_ASSERT_EQUAL(ha.count, hc.count);
}

/* Generator stalls (engine.h, pg_loop_pass): only poll passes longer than
 * PG_STALL_NS that reach into the measured interval of RUN count. */
static void test_generator_stalls(void)
{
    struct pg_opts o;
    pg_opts_defaults(&o);
    o.flows = 1;
    o.window = 1;
    o.warmup_s = 1;
    o.duration_s = 2;
    struct pg_engine e;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(pg_engine_init(&e, &o, err, sizeof(err)), 0);
    const uint64_t s = 1000000000ull;
    CU_ASSERT_TRUE(pg_phase_begin(&e, PG_PHASE_LOAD, 0) == false);  /* no --load */
    pg_loop_pass(&e, 0, 5 * s);                    /* not RUN: ignored */
    CU_ASSERT_EQUAL(e.stalls.count, 0);
    CU_ASSERT_TRUE(pg_phase_begin(&e, PG_PHASE_RUN, 10 * s));
    pg_loop_pass(&e, 10 * s, 10 * s + 900000000ull);   /* warm-up only: ignored */
    pg_loop_pass(&e, 11 * s, 11 * s + PG_STALL_NS);    /* not longer than the bound */
    CU_ASSERT_EQUAL(e.stalls.count, 0);
    pg_loop_pass(&e, 11 * s, 11 * s + PG_STALL_NS + 1);
    pg_loop_pass(&e, 11 * s - 1000, 11 * s + 3000000); /* starts in warm-up, ends measured */
    pg_loop_pass(&e, 13 * s, 13 * s + 100000);         /* after the interval: ignored */
    CU_ASSERT_EQUAL(e.stalls.count, 2);
    CU_ASSERT_EQUAL(e.stalls.max_ns, 3001000);
    CU_ASSERT_EQUAL(e.stalls.total_ns, PG_STALL_NS + 1 + 3001000);
    pg_engine_free(&e);
}

static CU_TestInfo hist_tests[] = {
    {"bucket geometry", test_bucket_geometry},
    {"relative error bound", test_relative_error_bound},
    {"percentiles vs exact", test_percentiles_vs_exact},
    {"small values exact", test_small_exact_values},
    {"empty and extremes", test_empty_and_extremes},
    {"merge", test_merge},
    {"generator stalls", test_generator_stalls},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"pktgen_hist", NULL, NULL, NULL, NULL, hist_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
