/* test_pktgen_workload.c - RNG, key popularity (checked statistically with
 * fixed seeds and bounded tolerances), operation mix, key/value bytes,
 * option parsing. */
#include "cu_main.h"

#include "../../pktgen/workload.h"

#include <math.h>
#include <string.h>

static void test_rng_deterministic_and_bounded(void)
{
    struct wl_rng a, b;
    wl_rng_seed(&a, 123);
    wl_rng_seed(&b, 123);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_FATAL(wl_rng_next(&a) == wl_rng_next(&b));
    wl_rng_seed(&b, 124);
    CU_ASSERT(wl_rng_next(&a) != wl_rng_next(&b));
    for (int i = 0; i < 100000; i++) {
        double d = wl_rng_double(&a);
        CU_ASSERT_FATAL(d >= 0.0 && d < 1.0);
        CU_ASSERT_FATAL(wl_rng_below(&a, 7) < 7);
    }
    CU_ASSERT_EQUAL(wl_rng_below(&a, 1), 0);
    /* chi-square of 1e6 draws over 100 cells: df 99, mean 99, sd 14 */
    enum { CELLS = 100, DRAWS = 1000000 };
    static uint32_t cnt[CELLS];
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < DRAWS; i++)
        cnt[wl_rng_below(&a, CELLS)]++;
    double chi = 0, expct = (double)DRAWS / CELLS;
    for (int i = 0; i < CELLS; i++)
        chi += (cnt[i] - expct) * (cnt[i] - expct) / expct;
    CU_ASSERT(chi < 99 + 6 * 14);
}

static double zipf_p(uint64_t n, double s, uint64_t k)
{
    double h = 0;
    for (uint64_t i = 1; i <= n; i++)
        h += pow((double)i, -s);
    return pow((double)k, -s) / h;
}

static void check_zipf(uint64_t n, double s, uint64_t seed)
{
    enum { DRAWS = 300000 };
    struct wl_zipf z;
    struct wl_rng r;
    CU_ASSERT_FATAL(wl_zipf_init(&z, n, s) == 0);
    wl_rng_seed(&r, seed);
    static uint32_t cnt[201];
    HP_ASSERT(n <= 200);
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = wl_zipf_sample(&z, &r);
        CU_ASSERT_FATAL(k >= 1 && k <= n);
        cnt[k]++;
    }
    double chi = 0;
    for (uint64_t k = 1; k <= n; k++) {
        double e = zipf_p(n, s, k) * DRAWS;
        /* each cell within 5 standard deviations of a binomial */
        double sd = sqrt(e * (1 - e / DRAWS));
        CU_ASSERT(fabs(cnt[k] - e) <= 5 * sd + 1);
        chi += (cnt[k] - e) * (cnt[k] - e) / e;
    }
    double df = (double)n - 1;
    CU_ASSERT(chi < df + 6 * sqrt(2 * df));
}

static void test_zipf_distribution(void)
{
    check_zipf(100, 0.99, 1);
    check_zipf(100, 1.0, 2);      /* the s = 1 special case of the helpers */
    check_zipf(200, 0.5, 3);
    check_zipf(50, 1.5, 4);
    check_zipf(2, 2.0, 5);
    /* bad parameters */
    struct wl_zipf z;
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 0, 1.0), -1);
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 10, 0.0), -1);
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 10, -1.0), -1);
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 10, NAN), -1);
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 10, 11.0), -1);
    CU_ASSERT_EQUAL(wl_zipf_init(&z, 1, 1.0), 0);
}

/* 10M keys, O(1) memory: rank 1's share matches 1/H(n, s). */
static void test_zipf_large(void)
{
    struct wl_zipf z;
    struct wl_rng r;
    uint64_t n = 10000000;
    CU_ASSERT_FATAL(wl_zipf_init(&z, n, 0.99) == 0);
    wl_rng_seed(&r, 11);
    double h = 0;
    for (uint64_t i = 1; i <= n; i++)
        h += pow((double)i, -0.99);
    int draws = 200000, top = 0;
    for (int i = 0; i < draws; i++) {
        uint64_t k = wl_zipf_sample(&z, &r);
        CU_ASSERT_FATAL(k >= 1 && k <= n);
        top += k == 1;
    }
    double e = draws / h, sd = sqrt(e);
    CU_ASSERT(fabs(top - e) < 5 * sd);
}

static void test_hotset_and_uniform(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    c.keys = 10000;
    c.dist = WL_DIST_HOTSET;
    c.hot_fraction = 0.01;
    c.hot_probability = 0.9;
    struct wl_gen g;
    wl_gen_init(&g, &c, 1);
    CU_ASSERT_EQUAL(g.hot_n, 100);
    int hot = 0, draws = 200000;
    for (int i = 0; i < draws; i++) {
        uint64_t rk = wl_gen_rank(&g);
        CU_ASSERT_FATAL(rk < c.keys);
        hot += rk < 100;
    }
    /* p = 0.9, sd = sqrt(draws * 0.09) = 134 */
    CU_ASSERT(fabs(hot - 0.9 * draws) < 5 * 134);
    c.dist = WL_DIST_UNIFORM;
    wl_gen_init(&g, &c, 2);
    hot = 0;
    for (int i = 0; i < draws; i++)
        hot += wl_gen_rank(&g) < 100;
    CU_ASSERT(fabs(hot - 0.01 * draws) < 5 * sqrt(draws * 0.0099));
}

/* The rank -> id scatter is a permutation for any key count. */
static void test_scatter_is_permutation(void)
{
    const uint64_t ns[] = {1, 2, 997, 1000, 4096, 65521};
    static uint8_t seen[65536];
    for (size_t t = 0; t < HP_ARRAY_LEN(ns); t++) {
        struct wl_config c;
        wl_config_defaults(&c);
        c.keys = ns[t];
        struct wl_gen g;
        wl_gen_init(&g, &c, 0);
        memset(seen, 0, sizeof(seen));
        for (uint64_t r = 0; r < ns[t]; r++) {
            uint64_t id = wl_rank_to_id(&g, r);
            CU_ASSERT_FATAL(id < ns[t]);
            CU_ASSERT_FATAL(!seen[id]);
            seen[id] = 1;
        }
    }
}

static void test_op_mix(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    char err[256];
    CU_ASSERT_EQUAL_FATAL(wl_parse_mix(&c, "get=60,set=25,incr=10,mget=5", err, sizeof(err)), 0);
    struct wl_gen g;
    wl_gen_init(&g, &c, 3);
    int cnt[WL_OP_COUNT] = {0}, draws = 200000;
    for (int i = 0; i < draws; i++)
        cnt[wl_gen_op(&g)]++;
    for (int op = 0; op < WL_OP_COUNT; op++) {
        double p = c.mix[op] / 100.0, e = p * draws, sd = sqrt(draws * p * (1 - p));
        CU_ASSERT(fabs(cnt[op] - e) <= 5 * sd + 1);
    }
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get=100", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.mix[WL_OP_SET], 0);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get=50", err, sizeof(err)), -1);
    CU_ASSERT(strstr(err, "100") != NULL);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get=50,get=50", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "del=100", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get=50.5,set=49.5", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get=-10,set=110", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(wl_parse_mix(&c, "get", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(c.mix[WL_OP_GET], 100);     /* failures leave the config alone */
}

static void test_parse_dist(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    char err[256];
    CU_ASSERT_EQUAL(wl_parse_dist(&c, "zipf:1.2", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.dist, WL_DIST_ZIPF);
    CU_ASSERT_DOUBLE_EQUAL(c.zipf_s, 1.2, 1e-12);
    CU_ASSERT_EQUAL(wl_parse_dist(&c, "hotset:0.05:0.95", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.dist, WL_DIST_HOTSET);
    CU_ASSERT_DOUBLE_EQUAL(c.hot_fraction, 0.05, 1e-12);
    CU_ASSERT_EQUAL(wl_parse_dist(&c, "uniform", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.dist, WL_DIST_UNIFORM);
    const char *bad[] = {"zipf", "zipf:", "zipf:0", "zipf:abc", "zipf:11", "zipf:inf",
                         "hotset:0.1", "hotset:0:0.5", "hotset:0.1:1.5", "hotset:x:y", "normal"};
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(wl_parse_dist(&c, bad[i], err, sizeof(err)), -1);
}

static void test_config_check(void)
{
    struct wl_config c;
    char err[256];
    wl_config_defaults(&c);
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), 0);
    c.keys = 10000000;
    c.key_size = 8;         /* "k" + 7 digits holds ids up to 9999999 */
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), 0);
    c.key_size = 7;
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), -1);
    CU_ASSERT(strstr(err, "key size") != NULL);
    wl_config_defaults(&c);
    c.keys = 0;
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), -1);
    wl_config_defaults(&c);
    c.value_size = 0;
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), -1);
    wl_config_defaults(&c);
    c.mget_batch = WL_MAX_MGET + 1;
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), -1);
    wl_config_defaults(&c);
    c.mix[WL_OP_SET] = 1;
    CU_ASSERT_EQUAL(wl_config_check(&c, err, sizeof(err)), -1);
}

static void test_key_bytes(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    c.keys = 1000;
    c.key_size = 16;
    char k[WL_MAX_KEY_SIZE];
    wl_key_format(&c, 'k', 42, k);
    CU_ASSERT(memcmp(k, "k000000000000042", 16) == 0);
    wl_key_format(&c, 'c', 999, k);
    CU_ASSERT(memcmp(k, "c000000000000999", 16) == 0);
    c.key_size = 4;
    wl_key_format(&c, 'k', 999, k);
    CU_ASSERT(memcmp(k, "k999", 4) == 0);
    CU_ASSERT_EQUAL(wl_id_digits(1), 1);
    CU_ASSERT_EQUAL(wl_id_digits(10), 1);
    CU_ASSERT_EQUAL(wl_id_digits(11), 2);
    CU_ASSERT_EQUAL(wl_id_digits(10000000), 7);
}

static void test_value_bytes(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    c.value_size = 64;
    char v[64], w[64];
    uint64_t id;
    uint32_t ver;
    wl_value_format(&c, 123456, 7, v);
    CU_ASSERT(memcmp(v, "00000007:00000001e240:", 22) == 0);
    CU_ASSERT_EQUAL(wl_value_parse(&c, v, 64, &id, &ver), 0);
    CU_ASSERT_EQUAL(id, 123456);
    CU_ASSERT_EQUAL(ver, 7);
    /* deterministic */
    wl_value_format(&c, 123456, 7, w);
    CU_ASSERT(memcmp(v, w, 64) == 0);
    /* another version or key differs in the filler too */
    wl_value_format(&c, 123456, 8, w);
    CU_ASSERT(memcmp(v + 22, w + 22, 42) != 0);
    /* any single corrupted byte is detected or changes (id, version) */
    for (int i = 0; i < 64; i++) {
        memcpy(w, v, 64);
        w[i] ^= 0x01;
        int rc = wl_value_parse(&c, w, 64, &id, &ver);
        CU_ASSERT(rc == -1 || id != 123456 || ver != 7);
    }
    CU_ASSERT_EQUAL(wl_value_parse(&c, v, 63, &id, &ver), -1);
    CU_ASSERT_EQUAL(wl_value_parse(&c, "garbage", 7, &id, &ver), -1);
    /* short values are the prefix of the long form; they cannot be parsed */
    c.value_size = 3;
    wl_value_format(&c, 123456, 7, w);
    CU_ASSERT(memcmp(w, "000", 3) == 0);
    CU_ASSERT_EQUAL(wl_value_parse(&c, w, 3, &id, &ver), -1);
}

/* Same values as storage/slot.c's suite (Redis Cluster's rule). */
static void test_key_slot(void)
{
    CU_ASSERT_EQUAL(wl_key_slot("foo", 3), 12182);
    CU_ASSERT_EQUAL(wl_key_slot("bar", 3), 5061);
    CU_ASSERT_EQUAL(wl_key_slot("123456789", 9), 0x31C3);
    CU_ASSERT_EQUAL(wl_key_slot("user1000", 8), 3443);
    CU_ASSERT_EQUAL(wl_key_slot("", 0), 0);
    CU_ASSERT_EQUAL(wl_key_slot("{user1000}.following", 20), 3443);
    CU_ASSERT_EQUAL(wl_key_slot("foo{{bar}}zap", 13), 4015);
    CU_ASSERT_EQUAL(wl_key_slot("foo{}{bar}", 10), wl_key_slot("foo{}{bar}x", 10));
    CU_ASSERT_NOT_EQUAL(wl_key_slot("foo{}{bar}", 10), wl_key_slot("bar", 3));
    CU_ASSERT_EQUAL(wl_slot_shard(0, 4), 0);
    CU_ASSERT_EQUAL(wl_slot_shard(4095, 4), 0);
    CU_ASSERT_EQUAL(wl_slot_shard(4096, 4), 1);
    CU_ASSERT_EQUAL(wl_slot_shard(16383, 4), 3);
    CU_ASSERT_EQUAL(wl_slot_shard(16383, 1), 0);
    CU_ASSERT_EQUAL(wl_slot_shard(8191, 3), 1);
}

static CU_TestInfo wl_tests[] = {
    {"key slot and shard", test_key_slot},
    {"rng deterministic and bounded", test_rng_deterministic_and_bounded},
    {"zipf distribution", test_zipf_distribution},
    {"zipf 10M keys", test_zipf_large},
    {"hotset and uniform", test_hotset_and_uniform},
    {"scatter is a permutation", test_scatter_is_permutation},
    {"operation mix", test_op_mix},
    {"parse distribution", test_parse_dist},
    {"config check", test_config_check},
    {"key bytes", test_key_bytes},
    {"value bytes", test_value_bytes},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"pktgen_workload", NULL, NULL, NULL, NULL, wl_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
