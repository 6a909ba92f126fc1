/*
 * test_aof.c - append-only log: record format and CRC32C, manifest, the
 * persistence thread (rings, rotation, fsync policies, durable LSN, error
 * state through the fault-injection hook and a size-limited tmpfs), and
 * recovery (torn tails, mid-log corruption, override, parallel replay).
 * Built with HP_AOF_FAULT_INJECTION (storage/meson.build: aof_test_dep).
 * Every test works in its own directory under /tmp and removes it.
 */
#include "cu_main.h"

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../storage/aof/aof_log.h"
#include "../../storage/aof/aof_record.h"
#include "../../storage/aof/aof_recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 10000  /* upper bound for anything the tests wait for */
#define IDLE_WAIT_LONG_US 3000000u /* idle thread wait bound in most tests */

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void make_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/hp-aof-test.XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(out) != NULL);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        CU_ASSERT(unlink(path) == 0);
    }
    closedir(d);
    CU_ASSERT(rmdir(dir) == 0);
}

static void seg_path(const char *dir, uint64_t id, char *out, size_t cap)
{
    char name[64];
    aof_segment_name(id, name, sizeof(name));
    snprintf(out, cap, "%s/%s", dir, name);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void sleep_ms(unsigned ms) { usleep(ms * 1000u); }

/* Deterministic record content, so replay can check every byte:
 * SET k<shard>:<lsn> <value of (lsn*7)%300 bytes> */
struct content {
    char key[48];
    uint8_t val[300];
    struct hp_slice argv[3];
};

static void content_make(struct content *c, uint32_t shard, uint64_t lsn)
{
    int kl = snprintf(c->key, sizeof(c->key), "k%u:%llu", shard, (unsigned long long)lsn);
    size_t vl = (size_t)((lsn * 7) % 300);
    for (size_t i = 0; i < vl; i++)
        c->val[i] = (uint8_t)(lsn + i * 13 + shard);
    c->argv[0] = hp_slice_make("SET", 3);
    c->argv[1] = hp_slice_make(c->key, (size_t)kl);
    c->argv[2] = hp_slice_make(c->val, vl);
}

static bool content_matches(const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct content c;
    content_make(&c, rec->shard, rec->lsn);
    if (rec->argc != 3 || rec->db != rec->shard % HP_NUM_DBS)
        return false;
    for (int i = 0; i < 3; i++)
        if (argv[i].len != c.argv[i].len || memcmp(argv[i].ptr, c.argv[i].ptr, argv[i].len) != 0)
            return false;
    return true;
}

/* Append with the deterministic content, retrying BUSY (bounded). */
static uint64_t append_one(struct aof_log *l, uint32_t shard)
{
    struct content c;
    uint64_t lsn = aof_log_last_lsn(l, shard) + 1;
    content_make(&c, shard, lsn);
    uint64_t got = 0;
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    enum aof_append rc;
    while ((rc = aof_log_append(l, shard, (uint16_t)(shard % HP_NUM_DBS), clock_unix_ms(), 3,
                                c.argv, &got)) == AOF_APPEND_BUSY) {
        if (clock_mono_ns() > deadline)
            return 0;
        sched_yield();
    }
    CU_ASSERT(rc == AOF_APPEND_OK);
    CU_ASSERT(got == lsn);
    return rc == AOF_APPEND_OK ? got : 0;
}

static bool wait_durable(struct aof_log *l, uint32_t shard, uint64_t lsn)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (aof_log_durable_lsn(l, shard) < lsn) {
        if (clock_mono_ns() > deadline)
            return false;
        usleep(200);
    }
    return true;
}

static bool wait_error(struct aof_log *l, int want)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (aof_log_error(l) != want) {
        if (clock_mono_ns() > deadline)
            return false;
        usleep(200);
    }
    return true;
}

static void cfg_small(struct aof_log_config *c, const char *dir, uint32_t nshards)
{
    aof_log_config_init(c, dir);
    c->nshards = nshards;
    c->ring_bytes = 64 * 1024;
    c->staging_bytes = 64 * 1024;
    c->segment_bytes = 1 << 20;
    c->retry_ms = 20;
    /* Long: every test relies on appends, close and rewrite finishes waking
     * the idle thread, not on its wait timing out. */
    c->idle_sleep_max_us = IDLE_WAIT_LONG_US;
}

/* Replay checker: per-shard expected next LSN (each shard is touched by one
 * replay thread only, so no locking). */
struct checker {
    uint64_t next[HP_MAX_SHARDS];   /* 0: accept any first LSN */
    uint64_t count[HP_MAX_SHARDS];
    bool bad[HP_MAX_SHARDS];
    bool check_content;
    uint64_t fail_at_lsn;           /* make the callback fail (0: never) */
};

static int check_cb(void *arg, const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct checker *k = arg;
    uint32_t s = rec->shard;
    if (k->fail_at_lsn != 0 && rec->lsn == k->fail_at_lsn)
        return -1;
    if (k->next[s] != 0 && rec->lsn != k->next[s])
        k->bad[s] = true;
    if (k->check_content && !content_matches(rec, argv))
        k->bad[s] = true;
    k->next[s] = rec->lsn + 1;
    k->count[s]++;
    return 0;
}

static int recover_dir(const char *dir, struct checker *k, uint32_t threads, bool allow,
                       struct aof_recover_result *res)
{
    struct aof_recover_opts o = {
        .dir = dir, .threads = threads, .allow_corrupt = allow,
        .replay = check_cb, .replay_arg = k,
    };
    return aof_recover(&o, res);
}

static uint64_t total_count(const struct checker *k)
{
    uint64_t n = 0;
    for (int s = 0; s < HP_MAX_SHARDS; s++) {
        CU_ASSERT(!k->bad[s]);
        n += k->count[s];
    }
    return n;
}

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
    /* After an io_uring failure the ring is gone: later faults of that kind
     * cannot happen.  Sync faults hit the commit pipeline: syncs in flight
     * together fail together and count as one error (enter_error), so on a
     * loaded machine the 3 faults may be one or two errors. */
    CU_ASSERT(st.write_errors >= (op == AOF_FAULT_URING || op == AOF_FAULT_SYNC ? 1u : 3u));
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
    CU_ASSERT_EQUAL(aof_log_error(l), 0);
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

/* ------------------------------------------------------------------------ */
/* idle wait: the persistence thread blocks and appends wake it             */

static uint64_t ms_since(uint64_t t0_ns) { return (clock_mono_ns() - t0_ns) / 1000000u; }

/* Waits (at most 2 s) until the idle thread is asleep: it counts a sleep
 * when it blocks and a wake-up when an append ends one, so with no bound
 * expiring (3 s) it sleeps now when it has more sleeps than wake-ups.  Why
 * not a fixed pause: on a loaded machine 20 ms were sometimes too short for
 * the thread to get there, and the round then saw no wake-up. */
static void wait_asleep(struct aof_log *l, struct aof_log_stats *st)
{
    for (int i = 0; i < 2000; i++) {
        aof_log_get_stats(l, st);
        if (st->thread_sleeps > st->thread_wakeups)
            return;
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

static CU_TestInfo recover_tests[] = {
    {"torn tail at every byte of the last record", test_recover_torn_tail_every_offset},
    {"mid-log corruption refused, override", test_recover_midlog_corruption},
    {"sealed segment damage, missing segment", test_recover_sealed_segment_damage},
    {"fresh dir, callback failure, progress, lost manifest", test_recover_misc},
    {"empty active segment left out", test_recover_empty_active_segment},
    {"parallel replay, many shards", test_recover_parallel_many_shards},
    CU_TEST_INFO_NULL,
};

static int suite_init(void)
{
    log_set_level(LOG_WARNING);
    return 0;
}

static CU_SuiteInfo suites[] = {
    {"aof idle wait", suite_init, NULL, NULL, NULL, idle_tests},
    {"aof record", suite_init, NULL, NULL, NULL, record_tests},
    {"aof manifest", suite_init, NULL, NULL, NULL, manifest_tests},
    {"aof log", suite_init, NULL, NULL, NULL, log_tests},
    {"aof faults", suite_init, NULL, NULL, NULL, fault_tests},
    {"aof recover", suite_init, NULL, NULL, NULL, recover_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
