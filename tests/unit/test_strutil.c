/* test_strutil.c - number conversions and glob matching (common/strutil.c). */
#include "cu_main.h"
#include "strutil.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

static int i64_of(const char *s, int64_t *out)
{
    return str_to_i64((const uint8_t *)s, strlen(s), out);
}

static void test_i64_valid(void)
{
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {
        {"0", 0},
        {"1", 1},
        {"-1", -1},
        {"99", 99},
        {"-99", -99},
        {"10", 10},
        {"1000000", 1000000},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"-9223372036854775807", -INT64_MAX},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(ok); i++) {
        int64_t v = 12345;
        CU_ASSERT_EQUAL_FATAL(i64_of(ok[i].s, &v), 0);
        CU_ASSERT_EQUAL(v, ok[i].v);
    }
}

static void test_i64_invalid(void)
{
    static const char *const bad[] = {
        "",
        "-",
        "+1",
        " 1",
        "1 ",
        "01",
        "007",
        "-0",
        "-01",
        "00",
        "1a",
        "a1",
        "0x10",
        "1.0",
        "1e3",
        "--1",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "184467440737095516160",
        "100000000000000000000000",
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++) {
        int64_t v = 777;
        if (i64_of(bad[i], &v) != -1)
            fprintf(stderr, "accepted bad integer \"%s\"\n", bad[i]);
        CU_ASSERT_EQUAL(i64_of(bad[i], &v), -1);
    }
    /* Embedded NUL and a length that stops before a valid suffix. */
    int64_t v;
    CU_ASSERT_EQUAL(str_to_i64((const uint8_t *)"1\0", 2, &v), -1);
    CU_ASSERT_EQUAL(str_to_i64((const uint8_t *)"123", 2, &v), 0);
    CU_ASSERT_EQUAL(v, 12);
    /* 21 characters are never an int64, even with leading '-' and zeros. */
    CU_ASSERT_EQUAL(i64_of("-00000000000000000001", &v), -1);
}

static void test_i64_to_str(void)
{
    char buf[32], ref[32];
    int64_t samples[] = {0, 1, -1, 9, 10, -10, 99, 100, 101, 12345, -987654321,
                         INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
    for (size_t i = 0; i < HP_ARRAY_LEN(samples); i++) {
        size_t n = i64_to_str(buf, samples[i]);
        snprintf(ref, sizeof(ref), "%lld", (long long)samples[i]);
        CU_ASSERT_EQUAL(n, strlen(ref));
        CU_ASSERT_STRING_EQUAL(buf, ref);
    }
    /* Every power of ten and its neighbours, both signs: digit-count edges. */
    /* 10^0 .. 10^18: the last power of ten an int64 holds. */
    for (int64_t p = 1; p > 0; p = p <= INT64_MAX / 10 ? p * 10 : 0) {
        for (int64_t d = -1; d <= 1; d++) {
            for (int sign = -1; sign <= 1; sign += 2) {
                int64_t v = sign * (p + d);
                size_t n = i64_to_str(buf, v);
                snprintf(ref, sizeof(ref), "%lld", (long long)v);
                CU_ASSERT_EQUAL(n, strlen(ref));
                CU_ASSERT_STRING_EQUAL(buf, ref);
                int64_t back;
                CU_ASSERT_EQUAL(str_to_i64((uint8_t *)buf, n, &back), 0);
                CU_ASSERT_EQUAL(back, v);
            }
        }
    }
}

/* Digit counts at every power-of-ten edge, up to UINT64_MAX's 20 digits. */
static void test_u64_dec_len(void)
{
    char ref[32];
    CU_ASSERT_EQUAL(u64_dec_len(0), 1);
    CU_ASSERT_EQUAL(u64_dec_len(UINT64_MAX), 20);
    for (uint64_t p = 1; p != 0; p = p <= UINT64_MAX / 10 ? p * 10 : 0) {
        for (uint64_t v = p - 1; v <= p + 1; v++) {
            snprintf(ref, sizeof(ref), "%llu", (unsigned long long)v);
            CU_ASSERT_EQUAL(u64_dec_len(v), strlen(ref));
        }
    }
}

static int ld_of(const char *s, long double *out)
{
    return str_to_long_double((const uint8_t *)s, strlen(s), out);
}

static int d_of(const char *s, double *out)
{
    return str_to_double((const uint8_t *)s, strlen(s), out);
}

static void test_long_double(void)
{
    long double v;
    CU_ASSERT_EQUAL(ld_of("0.1", &v), 0);
    CU_ASSERT(v == 0.1L);
    CU_ASSERT_EQUAL(ld_of("1e3", &v), 0);
    CU_ASSERT(v == 1000.0L);
    CU_ASSERT_EQUAL(ld_of("-5", &v), 0);
    CU_ASSERT(v == -5.0L);
    CU_ASSERT_EQUAL(ld_of("+5", &v), 0); /* strtold accepts '+', so does Redis */
    CU_ASSERT(v == 5.0L);
    CU_ASSERT_EQUAL(ld_of("inf", &v), 0);
    CU_ASSERT(isinf(v) && v > 0);
    CU_ASSERT_EQUAL(ld_of("-infinity", &v), 0);
    CU_ASSERT(isinf(v) && v < 0);
    CU_ASSERT_EQUAL(ld_of("0x10", &v), 0);
    CU_ASSERT(v == 16.0L);
    CU_ASSERT_EQUAL(ld_of("1e4000", &v), 0); /* fits the 80-bit long double */

    static const char *const bad[] = {"", " 1", "1 ", "\t1", "abc", "1x", "nan", "-nan",
                                      "NaN", "1e99999", "-1e99999", "1e-99999", ".", "-"};
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(ld_of(bad[i], &v), -1);
    CU_ASSERT_EQUAL(str_to_long_double((const uint8_t *)"1\0", 2, &v), -1);

    /* Length limit: 5 KiB of digits is refused before strtold sees it. */
    size_t big = 5 * 1024;
    uint8_t *digits = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(digits);
    memset(digits, '1', big);
    CU_ASSERT_EQUAL(str_to_long_double(digits, big, &v), -1);
    CU_ASSERT_EQUAL(str_to_long_double(digits, 100, &v), 0);
    free(digits);
}

static void test_double(void)
{
    double v;
    CU_ASSERT_EQUAL(d_of("1.5", &v), 0);
    CU_ASSERT(v == 1.5);
    CU_ASSERT_EQUAL(d_of("-0.25", &v), 0);
    CU_ASSERT(v == -0.25);
    CU_ASSERT_EQUAL(d_of("4.9e-324", &v), 0); /* denormal: ERANGE but not zero */
    CU_ASSERT(v > 0);
    CU_ASSERT_EQUAL(d_of("-inf", &v), 0);
    CU_ASSERT(isinf(v) && v < 0);
    CU_ASSERT_EQUAL(d_of("1e400", &v), -1);
    CU_ASSERT_EQUAL(d_of("1e-400", &v), -1);
    CU_ASSERT_EQUAL(d_of("nan", &v), -1);
    CU_ASSERT_EQUAL(d_of(" 1", &v), -1);
    CU_ASSERT_EQUAL(d_of("1 ", &v), -1);
    CU_ASSERT_EQUAL(d_of("", &v), -1);
    CU_ASSERT_EQUAL(d_of("1.5.", &v), -1);
    CU_ASSERT_EQUAL(str_to_double((const uint8_t *)"2.5", 1, &v), 0);
    CU_ASSERT(v == 2.0);
}

struct glob_case {
    const char *pat;
    const char *str;
    bool nocase;
    bool match;
};

static bool glob_c(const char *pat, const char *s, bool nocase)
{
    return glob_match((const uint8_t *)pat, strlen(pat), (const uint8_t *)s, strlen(s),
                      nocase);
}

static void test_glob_cases(void)
{
    static const struct glob_case cases[] = {
        {"", "", false, true},
        {"", "a", false, false},
        {"*", "", false, false}, /* Redis: an empty string matches no '*' */
        {"*", "abc", false, true},
        {"**", "x", false, true},
        {"a*", "a", false, true},
        {"a*", "abc", false, true},
        {"a*c", "abc", false, true},
        {"a*c", "abd", false, false},
        {"*b", "ab", false, true},
        {"*.txt", "foo.txt", false, true},
        {"*.txt", "foo.txc", false, false},
        {"*?", "a", false, true},
        {"?", "", false, false},
        {"a?", "a", false, false},
        {"h?llo", "hello", false, true},
        {"h?llo", "hllo", false, false},
        {"h*llo", "hllo", false, true},
        {"h*llo", "heeeello", false, true},
        {"h[ae]llo", "hallo", false, true},
        {"h[ae]llo", "hello", false, true},
        {"h[ae]llo", "hillo", false, false},
        {"h[^e]llo", "hallo", false, true},
        {"h[^e]llo", "hello", false, false},
        {"h[a-b]llo", "hbllo", false, true},
        {"h[a-b]llo", "hcllo", false, false},
        {"h[b-a]llo", "hallo", false, true}, /* reversed range */
        {"[0-9][0-9]", "42", false, true},
        {"[0-9][0-9]", "4x", false, false},
        {"HELLO", "hello", false, false},
        {"HELLO", "hello", true, true},
        {"h[A-C]llo", "hbllo", false, false},
        {"h[A-C]llo", "hbllo", true, true},
        {"h[E]llo", "hello", true, true},
        {"h[^E]llo", "hello", true, false},
        {"h\\*llo", "h*llo", false, true},
        {"h\\*llo", "hello", false, false},
        {"\\?", "?", false, true},
        {"\\?", "a", false, false},
        {"\\[a]", "[a]", false, true},
        {"[\\]]", "]", false, true},
        {"[\\-]", "-", false, true},
        {"[\\^a]", "^", false, true},
        {"[\\A]", "a", true, false}, /* escaped class bytes compare exactly */
        {"a\\", "a\\", false, true},  /* trailing backslash is literal */
        {"a[bc", "ab", false, true},  /* unterminated class ends the pattern */
        {"a[bc", "abc", false, false},
        {"[]", "a", false, false},
        {"user:*:name", "user:1000:name", false, true},
        {"user:*:name", "user:1000:mail", false, false},
        {"*a*b*c*", "xaxbxcx", false, true},
        {"*a*b*c*", "xaxcxbx", false, false},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        bool got = glob_c(cases[i].pat, cases[i].str, cases[i].nocase);
        if (got != cases[i].match)
            fprintf(stderr, "glob \"%s\" vs \"%s\" nocase=%d: got %d\n", cases[i].pat,
                    cases[i].str, cases[i].nocase, got);
        CU_ASSERT_EQUAL(got, cases[i].match);
    }
    /* Binary-safe: NUL bytes inside pattern and string. */
    CU_ASSERT_TRUE(glob_match((const uint8_t *)"a\0*", 3, (const uint8_t *)"a\0zz", 4, false));
    CU_ASSERT_FALSE(glob_match((const uint8_t *)"a\0*", 3, (const uint8_t *)"a\1zz", 4, false));
}

static double elapsed_s(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void test_glob_pathological(void)
{
    /* Without the give-up rule this is C(5000, 20) steps; with it, a blink. */
    char pat[64] = "";
    for (int i = 0; i < 20; i++)
        strcat(pat, "*a");
    strcat(pat, "*b");
    size_t slen = 5000;
    char *s = malloc(slen + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, 'a', slen);
    s[slen] = '\0';
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_FALSE(glob_c(pat, s, false));
    CU_ASSERT_FALSE(glob_c(pat, s, true));
    s[slen - 1] = 'b';
    CU_ASSERT_TRUE(glob_c(pat, s, false));
    CU_ASSERT(elapsed_s(t0) < 2.0);
    free(s);

    /* Deeper than the nesting limit: a defined "no match", no stack blow-up. */
    size_t stars = 3000;
    char *deep = malloc(stars * 2 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
    for (size_t i = 0; i < stars; i++) {
        deep[2 * i] = '*';
        deep[2 * i + 1] = 'x';
    }
    deep[2 * stars] = '\0';
    char *xs = malloc(stars + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
    memset(xs, 'x', stars);
    xs[stars] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_FALSE(glob_c(deep, xs, false));
    CU_ASSERT(elapsed_s(t0) < 2.0);
    free(deep);
    free(xs);
}

static void test_slice_eq_nocase(void)
{
    CU_ASSERT_TRUE(slice_eq_nocase(hp_slice_make("GET", 3), "get"));
    CU_ASSERT_TRUE(slice_eq_nocase(hp_slice_make("gEt", 3), "GET"));
    CU_ASSERT_FALSE(slice_eq_nocase(hp_slice_make("GETX", 3), "GETS"));
    CU_ASSERT_TRUE(slice_eq_nocase(hp_slice_make("GETX", 3), "get"));
    CU_ASSERT_FALSE(slice_eq_nocase(hp_slice_make("GE", 2), "get"));
    CU_ASSERT_FALSE(slice_eq_nocase(hp_slice_make("GETS", 4), "get"));
    CU_ASSERT_TRUE(slice_eq_nocase(hp_slice_make("", 0), ""));
    /* Only ASCII letters fold: '@' (0x40) must not equal '`' (0x60). */
    CU_ASSERT_FALSE(slice_eq_nocase(hp_slice_make("@", 1), "`"));
    CU_ASSERT_FALSE(slice_eq_nocase(hp_slice_make("g\0t", 3), "get"));
}

/* Redis 7.0's strtoul reading of a collection cursor (HSCAN, SSCAN). */
static void test_scan_cursor(void)
{
    uint64_t v = 7;
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("", 0), &v));
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("42", 2), &v));
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("+5", 2), &v));
    CU_ASSERT_EQUAL(v, 5);
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("-1", 2), &v));
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("18446744073709551615", 20), &v));
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_TRUE(str_to_scan_cursor(hp_slice_make("3\0x", 3), &v)); /* stops at NUL */
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_FALSE(str_to_scan_cursor(hp_slice_make("18446744073709551616", 20), &v));
    CU_ASSERT_FALSE(str_to_scan_cursor(hp_slice_make(" 1", 2), &v));
    CU_ASSERT_FALSE(str_to_scan_cursor(hp_slice_make("1 ", 2), &v));
    CU_ASSERT_FALSE(str_to_scan_cursor(hp_slice_make("-", 1), &v));
    CU_ASSERT_FALSE(str_to_scan_cursor(hp_slice_make("0x1", 3), &v));
}

static CU_TestInfo strutil_tests[] = {
    {"str_to_i64 accepts Redis integers", test_i64_valid},
    {"str_to_i64 rejects what string2ll rejects", test_i64_invalid},
    {"i64_to_str matches printf incl. INT64_MIN", test_i64_to_str},
    {"u64_dec_len matches printf at every digit edge", test_u64_dec_len},
    {"str_to_long_double (string2ld rules)", test_long_double},
    {"str_to_double (string2d rules)", test_double},
    {"glob_match cases incl. nocase, classes, escapes", test_glob_cases},
    {"glob_match pathological patterns are bounded", test_glob_pathological},
    {"slice_eq_nocase", test_slice_eq_nocase},
    {"scan cursor", test_scan_cursor},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"strutil", NULL, NULL, NULL, NULL, strutil_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
