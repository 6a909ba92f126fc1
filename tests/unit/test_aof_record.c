/*
 * test_aof_record.c - append-only log: the record format and CRC32C, and the
 * MANIFEST file (round trip, atomic replace, malformed input).  Helpers in
 * aof_harness.h.
 */
#include "aof_harness.h"

/* ------------------------------------------------------------------------ */
/* CRC32C and records                                                        */

static void test_crc_vectors(void)
{
    const char *s = "123456789";
    CU_ASSERT_EQUAL(aof_crc32c(0, s, 9), 0xE3069283u);
    CU_ASSERT_EQUAL(aof_crc32c_sw(0, s, 9), 0xE3069283u);
    CU_ASSERT_EQUAL(aof_crc32c_hw(0, s, 9), 0xE3069283u);
    CU_ASSERT_EQUAL(aof_crc32c(0, "", 0), 0);
    /* RFC 3720 (iSCSI) B.4 vectors. */
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    CU_ASSERT_EQUAL(aof_crc32c(0, b, 32), 0x8A9136AAu);
    CU_ASSERT_EQUAL(aof_crc32c_sw(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    CU_ASSERT_EQUAL(aof_crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CU_ASSERT_EQUAL(aof_crc32c(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CU_ASSERT_EQUAL(aof_crc32c_sw(0, b, 32), 0x113FDB5Cu);
    CU_ASSERT_EQUAL(aof_crc32c_hw(0, b, 32), 0x113FDB5Cu);
    /* Chaining equals one pass. */
    CU_ASSERT_EQUAL(aof_crc32c(aof_crc32c(0, s, 4), s + 4, 5), 0xE3069283u);
}

static void test_crc_hw_matches_sw(void)
{
    uint8_t buf[1100];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len += 37)
            CU_ASSERT_EQUAL(aof_crc32c_hw(7, buf + off, len), aof_crc32c_sw(7, buf + off, len));
}

static size_t encode_sample(uint8_t *buf, size_t cap)
{
    struct hp_slice argv[4] = {
        hp_slice_make("SET", 3), hp_slice_make("key\0bin", 7), hp_slice_make("", 0),
        hp_slice_make("value", 5),
    };
    return aof_record_encode(buf, cap, 5, 3, 42, 1700000000123, 4, argv);
}

static void test_record_roundtrip(void)
{
    uint8_t buf[256];
    size_t n = encode_sample(buf, sizeof(buf));
    CU_ASSERT_EQUAL(n, AOF_REC_HDR_LEN + 4 * 4 + 3 + 7 + 0 + 5);
    struct aof_rec rec;
    const char *why = NULL;
    CU_ASSERT_EQUAL(aof_record_decode(buf, n, &rec, &why), AOF_DEC_OK);
    CU_ASSERT_EQUAL(rec.len, n);
    CU_ASSERT_EQUAL(rec.shard, 5);
    CU_ASSERT_EQUAL(rec.db, 3);
    CU_ASSERT_EQUAL(rec.lsn, 42);
    CU_ASSERT_EQUAL(rec.ts_ms, 1700000000123);
    CU_ASSERT_EQUAL(rec.argc, 4);
    struct hp_slice argv[4];
    CU_ASSERT_EQUAL(aof_record_argv(&rec, argv, 3), -1);
    CU_ASSERT_EQUAL(aof_record_argv(&rec, argv, 4), 0);
    CU_ASSERT(argv[1].len == 7 && memcmp(argv[1].ptr, "key\0bin", 7) == 0);
    CU_ASSERT(argv[2].len == 0);
    CU_ASSERT(argv[3].len == 5 && memcmp(argv[3].ptr, "value", 5) == 0);
    /* Decoding with more data after the record consumes only the record. */
    uint8_t two[512];
    memcpy(two, buf, n);
    memcpy(two + n, buf, n);
    CU_ASSERT_EQUAL(aof_record_decode(two, 2 * n, &rec, NULL), AOF_DEC_OK);
    CU_ASSERT_EQUAL(rec.len, n);
    /* Layout pinned by docs/AOF.md. */
    CU_ASSERT(memcmp(buf, "HPR1", 4) == 0);
    CU_ASSERT_EQUAL(aof_load32(buf + 8), n);
    CU_ASSERT_EQUAL(aof_load64(buf + 16), 42);
    CU_ASSERT_EQUAL(aof_load32(buf + 36), 4);
    CU_ASSERT_EQUAL(aof_load32(buf + 40), 3);
    CU_ASSERT(memcmp(buf + 44, "SET", 3) == 0);
    CU_ASSERT_EQUAL(aof_load32(buf + 4), aof_crc32c(0, buf + 8, 32));
    CU_ASSERT_EQUAL(aof_load32(buf + 12), aof_crc32c(0, buf + 40, n - 40));
}

static void test_record_encode_limits(void)
{
    uint8_t buf[256];
    memset(buf, 0xAB, sizeof(buf));
    struct hp_slice a = hp_slice_make("x", 1);
    CU_ASSERT_EQUAL(aof_record_size(0, &a), 0);
    CU_ASSERT_EQUAL(aof_record_encode(buf, sizeof(buf), 0, 0, 1, 0, 0, &a), 0);
    CU_ASSERT_EQUAL(aof_record_encode(buf, sizeof(buf), HP_MAX_SHARDS, 0, 1, 0, 1, &a), 0);
    CU_ASSERT_EQUAL(aof_record_encode(buf, sizeof(buf), 0, HP_NUM_DBS, 1, 0, 1, &a), 0);
    size_t need = aof_record_size(1, &a);
    CU_ASSERT_EQUAL(need, AOF_REC_HDR_LEN + 5);
    CU_ASSERT_EQUAL(aof_record_encode(buf, need - 1, 0, 0, 1, 0, 1, &a), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        CU_ASSERT_EQUAL_FATAL(buf[i], 0xAB); /* untouched on failure */
    struct hp_slice huge = {(const uint8_t *)buf, (size_t)AOF_REC_MAX_LEN};
    CU_ASSERT_EQUAL(aof_record_size(1, &huge), 0);
    CU_ASSERT_EQUAL(aof_record_encode(buf, need, 0, 0, 1, 0, 1, &a), need);
}

/* Recompute both CRCs after a deliberate field change, so the decoder must
 * catch the field itself. */
static void reseal(uint8_t *buf, size_t len)
{
    aof_store32(buf + 12, aof_crc32c(0, buf + 40, len - 40));
    aof_store32(buf + 4, aof_crc32c(0, buf + 8, 32));
}

static enum aof_dec decode_mut(const uint8_t *orig, size_t n, size_t at, uint32_t v32,
                               bool seal)
{
    uint8_t b[256];
    memcpy(b, orig, n);
    aof_store32(b + at, v32);
    if (seal)
        reseal(b, n);
    struct aof_rec rec;
    const char *why = NULL;
    enum aof_dec d = aof_record_decode(b, n, &rec, &why);
    CU_ASSERT(d == AOF_DEC_OK || why != NULL);
    return d;
}

static void test_record_corruption_classes(void)
{
    uint8_t buf[256];
    size_t n = encode_sample(buf, sizeof(buf));
    struct aof_rec rec;
    const char *why;
    /* Every single-bit flip is detected, and never taken for a record. */
    for (size_t i = 0; i < n * 8; i++) {
        uint8_t b[256];
        memcpy(b, buf, n);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        enum aof_dec d = aof_record_decode(b, n, &rec, &why);
        CU_ASSERT_EQUAL(d, AOF_DEC_CORRUPT);
    }
    CU_ASSERT_EQUAL(decode_mut(buf, n, 0, 0x31525049u, false), AOF_DEC_CORRUPT); /* magic */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 4, 0, false), AOF_DEC_CORRUPT);          /* hdr crc */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 12, 0, false), AOF_DEC_CORRUPT);         /* data crc */
    /* Impossible fields behind valid CRCs. */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 8, 10, true), AOF_DEC_CORRUPT);          /* len < hdr */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 8, 0x80000000u, true), AOF_DEC_CORRUPT); /* len > max */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 36, 0, true), AOF_DEC_CORRUPT);          /* argc 0 */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 36, 100, true), AOF_DEC_CORRUPT);        /* argc > fits */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 36, AOF_REC_MAX_ARGC + 1, true), AOF_DEC_CORRUPT);
    CU_ASSERT_EQUAL(decode_mut(buf, n, 32, 3 | (3u << 16), true), AOF_DEC_OK);  /* control */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 32, HP_MAX_SHARDS | (3u << 16), true), AOF_DEC_CORRUPT);
    CU_ASSERT_EQUAL(decode_mut(buf, n, 32, 5 | ((uint32_t)HP_NUM_DBS << 16), true),
                    AOF_DEC_CORRUPT);
    CU_ASSERT_EQUAL(decode_mut(buf, n, 16, 0, true), AOF_DEC_CORRUPT); /* lsn 0 (low word) */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 40, 4, true), AOF_DEC_CORRUPT); /* args do not tile */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 40, 0xffffff, true), AOF_DEC_CORRUPT);
    /* A length that runs past the data, behind a valid header CRC: torn. */
    CU_ASSERT_EQUAL(decode_mut(buf, n, 8, (uint32_t)n + 1, true), AOF_DEC_TORN);
    /* Zeros mean "no record here". */
    uint8_t z[64] = {0};
    CU_ASSERT_EQUAL(aof_record_decode(z, sizeof(z), &rec, &why), AOF_DEC_END);
    CU_ASSERT_EQUAL(aof_record_decode(z, 10, &rec, &why), AOF_DEC_END);
    CU_ASSERT_EQUAL(aof_record_decode(z, 0, &rec, &why), AOF_DEC_END);
    z[50] = 1; /* zero header, junk later: still no record at this offset */
    CU_ASSERT_EQUAL(aof_record_decode(z, sizeof(z), &rec, &why), AOF_DEC_END);
}

static void test_record_torn_prefixes(void)
{
    uint8_t buf[256];
    size_t n = encode_sample(buf, sizeof(buf));
    struct aof_rec rec;
    const char *why;
    for (size_t cut = 1; cut < n; cut++) {
        CU_ASSERT_EQUAL(aof_record_decode(buf, cut, &rec, &why), AOF_DEC_TORN);
        /* Same prefix followed by zeros (a preallocated file): never valid. */
        uint8_t b[256];
        memset(b, 0, sizeof(b));
        memcpy(b, buf, cut);
        enum aof_dec d = aof_record_decode(b, n, &rec, &why);
        CU_ASSERT(d == AOF_DEC_CORRUPT || d == AOF_DEC_TORN);
        if (cut < AOF_REC_HDR_LEN) /* header incomplete: its CRC fails */
            CU_ASSERT_EQUAL(d, AOF_DEC_CORRUPT);
    }
    CU_ASSERT_EQUAL(aof_record_decode(buf, n, &rec, &why), AOF_DEC_OK);
}

/* ------------------------------------------------------------------------ */
/* manifest                                                                  */

static void test_manifest_roundtrip_and_replace(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_manifest m;
    char why[160];
    CU_ASSERT_EQUAL(aof_manifest_read(dir, &m, why, sizeof(why)), -ENOENT);
    uint64_t ids1[] = {1, 2, 7}, lens1[] = {5000, 4096, AOF_SEG_ACTIVE};
    struct aof_manifest w1 = {3, ids1, lens1};
    CU_ASSERT_EQUAL(aof_manifest_write(dir, &w1), 0);
    CU_ASSERT_EQUAL(aof_manifest_read(dir, &m, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(m.n, 3);
    for (uint32_t i = 0; i < 3 && m.n == 3; i++)
        CU_ASSERT(m.ids[i] == ids1[i] && m.lens[i] == lens1[i]);
    aof_manifest_free(&m);

    /* Replace; a stale MANIFEST.tmp from a crash never matters. */
    uint64_t ids2[] = {7, 8}, lens2[] = {123456, AOF_SEG_ACTIVE};
    struct aof_manifest w2 = {2, ids2, lens2};
    CU_ASSERT_EQUAL(aof_manifest_write(dir, &w2), 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, AOF_MANIFEST_TMP_NAME);
    CU_ASSERT(access(path, F_OK) != 0); /* renamed away */
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("hotpath-aof-manifest 1\nseg 00000000000000", f); /* torn tmp */
    fclose(f);
    CU_ASSERT_EQUAL(aof_manifest_read(dir, &m, why, sizeof(why)), 0);
    CU_ASSERT(m.n == 2 && m.ids[0] == 7 && m.lens[0] == 123456 && m.lens[1] == AOF_SEG_ACTIVE);
    aof_manifest_free(&m);
    CU_ASSERT_EQUAL(aof_manifest_write(dir, &w1), 0);
    CU_ASSERT(access(path, F_OK) != 0);

    /* The exact text format (docs/AOF.md). */
    snprintf(path, sizeof(path), "%s/%s", dir, AOF_MANIFEST_NAME);
    char text[512] = {0};
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    size_t tn = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    const char *body = "hotpath-aof-manifest 1\n"
                       "seg 0000000000000001 5000\n"
                       "seg 0000000000000002 4096\n"
                       "seg 0000000000000007 active\n";
    size_t bl = strlen(body);
    CU_ASSERT(tn == bl + 13 && memcmp(text, body, bl) == 0);
    char endline[16];
    snprintf(endline, sizeof(endline), "end %08x\n", aof_crc32c(0, body, bl));
    CU_ASSERT(memcmp(text + bl, endline, 13) == 0);
    remove_dir(dir);
}

static int read_text_manifest(const char *dir, const char *text, bool fix_crc)
{
    char path[256], buf[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, AOF_MANIFEST_NAME);
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", text);
    if (fix_crc)
        snprintf(buf + n, sizeof(buf) - n, "end %08x\n", aof_crc32c(0, text, n));
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(buf, f);
    fclose(f);
    struct aof_manifest m;
    char why[160] = "";
    int rc = aof_manifest_read(dir, &m, why, sizeof(why));
    if (rc == 0)
        aof_manifest_free(&m);
    else
        CU_ASSERT(why[0] != '\0');
    return rc;
}

static void test_manifest_malformed(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    const char *h = "hotpath-aof-manifest 1\n";
    char t[512];
    CU_ASSERT_EQUAL(read_text_manifest(dir, h, true), 0); /* empty list is valid */
    snprintf(t, sizeof(t), "%sseg 0000000000000001 active\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), 0);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, false), -EINVAL); /* no end line */
    snprintf(t, sizeof(t), "hotpath-aof-manifest 2\nseg 0000000000000001 active\n");
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL);
    snprintf(t, sizeof(t), "%sseg 0000000000000002 5000\nseg 0000000000000001 active\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL); /* order */
    snprintf(t, sizeof(t), "%sseg 0000000000000001 active\nseg 0000000000000002 5000\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL); /* active not last */
    snprintf(t, sizeof(t), "%sseg 1 active\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL); /* short id */
    snprintf(t, sizeof(t), "%sseg 000000000000000G active\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL);
    snprintf(t, sizeof(t), "%sseg 0000000000000001 12\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL); /* shorter than a header */
    snprintf(t, sizeof(t), "%sseg 0000000000000001 99999999999999999999999\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, true), -EINVAL); /* overflow */
    snprintf(t, sizeof(t), "%sseg 0000000000000001 active\nend 00000000\n", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, false), -EINVAL); /* bad crc */
    snprintf(t, sizeof(t), "%sseg 0000000000000001 active\nend 00000000\nx", h);
    CU_ASSERT_EQUAL(read_text_manifest(dir, t, false), -EINVAL); /* trailing junk */
    CU_ASSERT_EQUAL(read_text_manifest(dir, "", false), -EINVAL);
    remove_dir(dir);
}

static CU_TestInfo record_tests[] = {
    {"crc32c known vectors", test_crc_vectors},
    {"crc32c sse4.2 equals table", test_crc_hw_matches_sw},
    {"record round trip and layout", test_record_roundtrip},
    {"record encode limits", test_record_encode_limits},
    {"record corruption classes", test_record_corruption_classes},
    {"record torn at every prefix", test_record_torn_prefixes},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo manifest_tests[] = {
    {"manifest round trip and atomic replace", test_manifest_roundtrip_and_replace},
    {"manifest malformed", test_manifest_malformed},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"aof record", suite_init, NULL, NULL, NULL, record_tests},
    {"aof manifest", suite_init, NULL, NULL, NULL, manifest_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
