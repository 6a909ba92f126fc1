/*
 * test_aof_group.c - record groups in the append-only log (docs/AOF.md
 * section 16): the grouped record format (HPR2) next to the old one
 * (HPR1, pinned byte for byte), the writer API (aof_log_append_grouped,
 * group ids across restarts, the session flag), and recovery's rule: a
 * group applies whole once complete, is dropped whole when a crash cut it,
 * and holds its shard's later records (bounded) while it is still open.
 * Most logs are built by hand (segments, records, MANIFEST) so each case is
 * exact.  Every test works in its own directory under /tmp and removes it.
 */
#include "cu_main.h"

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../storage/aof/aof_group.h"
#include "../../storage/aof/aof_gtrack.h"
#include "../../storage/aof/aof_log.h"
#include "../../storage/aof/aof_record.h"
#include "../../storage/aof/aof_recover.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void make_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/hp_aofgrp_XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(out) != NULL);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        CU_ASSERT(unlink(p) == 0);
    }
    closedir(d);
    CU_ASSERT(rmdir(dir) == 0);
}

/* A hand-built segment: header (with flags) then records. */
struct hseg {
    uint8_t buf[1 << 16];
    size_t len;
};

static void hseg_init(struct hseg *s, uint64_t id, uint32_t flags)
{
    memset(s->buf, 0, sizeof(s->buf));
    aof_segment_header_flags(s->buf, id, 1, flags);
    s->len = AOF_BLOCK;
}

/* SET g<shard>:<lsn> v, grouped when g != NULL. */
static void hseg_rec(struct hseg *s, uint16_t shard, uint64_t lsn, const struct aof_group *g)
{
    char key[32];
    int kl = snprintf(key, sizeof(key), "g%u:%llu", shard, (unsigned long long)lsn);
    struct hp_slice argv[3] = {hp_slice_make("SET", 3), hp_slice_make(key, (size_t)kl),
                               hp_slice_make("v", 1)};
    size_t n = aof_record_encode_grouped(s->buf + s->len, sizeof(s->buf) - s->len, shard, 0,
                                         lsn, 7, 3, argv, g);
    CU_ASSERT_FATAL(n > 0);
    s->len += n;
}

static void hseg_write(const char *dir, uint64_t id, const struct hseg *s)
{
    char name[64], p[512];
    aof_segment_name(id, name, sizeof(name));
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(write(fd, s->buf, s->len) == (ssize_t)s->len);
    close(fd);
}

/* MANIFEST for segments 1..n, the last one active. */
static void manifest_for(const char *dir, const struct hseg *segs, uint32_t n)
{
    uint64_t ids[8], lens[8];
    CU_ASSERT_FATAL(n <= 8);
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = i + 1;
        lens[i] = i + 1 == n ? AOF_SEG_ACTIVE : segs[i].len;
        hseg_write(dir, i + 1, &segs[i]);
    }
    struct aof_manifest m = {.n = n, .ids = ids, .lens = lens};
    CU_ASSERT_FATAL(aof_manifest_write(dir, &m) == 0);
}

/* What replay applied, per shard in call order (one thread per shard). */
#define SEEN_MAX 4096
struct seen {
    uint64_t lsn[HP_MAX_SHARDS][SEEN_MAX];
    uint32_t n[HP_MAX_SHARDS];
    uint32_t grouped;
};

static int seen_cb(void *arg, const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct seen *k = arg;
    char key[32];
    int kl = snprintf(key, sizeof(key), "g%u:%llu", rec->shard, (unsigned long long)rec->lsn);
    if (rec->argc != 3 || argv[1].len != (size_t)kl || memcmp(argv[1].ptr, key, argv[1].len))
        return -1; /* the record or its copy is damaged */
    if (k->n[rec->shard] < SEEN_MAX)
        k->lsn[rec->shard][k->n[rec->shard]++] = rec->lsn;
    if (rec->group.id != 0)
        __atomic_fetch_add(&k->grouped, 1, __ATOMIC_RELAXED);
    return 0;
}

static int recover_seen(const char *dir, struct seen *k, uint32_t threads, size_t hold_max,
                        struct aof_recover_result *res)
{
    memset(k, 0, sizeof(*k));
    struct aof_recover_opts o = {.dir = dir, .threads = threads, .replay = seen_cb,
                                 .replay_arg = k, .group_buffer_bytes = hold_max};
    return aof_recover(&o, res);
}

/* Shard s saw exactly lsns[0..n). */
static bool seen_is(const struct seen *k, uint32_t s, const uint64_t *lsns, uint32_t n)
{
    if (k->n[s] != n)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (k->lsn[s][i] != lsns[i])
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* record format                                                            */

/* docs/AOF.md section 4's example, built from the spec alone: what every
 * log written before groups holds, and still what an ungrouped append
 * writes. */
static size_t golden_hpr1(uint8_t *b)
{
    static const uint8_t args[] = {3, 0, 0, 0, 'S', 'E', 'T', 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'};
    memset(b, 0, 57);
    memcpy(b, "HPR1", 4);
    aof_store32(b + 8, 57);
    aof_store64(b + 16, 7);
    aof_store64(b + 24, 1234);
    b[32] = 2;
    aof_store32(b + 36, 3);
    memcpy(b + 40, args, sizeof(args));
    aof_store32(b + 12, aof_crc32c(0, b + 40, 17));
    aof_store32(b + 4, aof_crc32c(0, b + 8, 32));
    return 57;
}

static void test_v1_record_unchanged(void)
{
    uint8_t gold[64], enc[64];
    CU_ASSERT_EQUAL(golden_hpr1(gold), 57);
    struct aof_rec r;
    CU_ASSERT_EQUAL(aof_record_decode(gold, 57, &r, NULL), AOF_DEC_OK);
    CU_ASSERT_EQUAL(r.hdr_len, AOF_REC_HDR_LEN);
    CU_ASSERT_EQUAL(r.group.id, 0);
    CU_ASSERT_EQUAL(r.lsn, 7);
    CU_ASSERT_EQUAL(r.shard, 2);
    struct hp_slice argv[3] = {hp_slice_make("SET", 3), hp_slice_make("k", 1),
                               hp_slice_make("v", 1)};
    CU_ASSERT_EQUAL(aof_record_encode(enc, sizeof(enc), 2, 0, 7, 1234, 3, argv), 57);
    CU_ASSERT(memcmp(gold, enc, 57) == 0);
    CU_ASSERT_EQUAL(aof_record_encode_grouped(enc, sizeof(enc), 2, 0, 7, 1234, 3, argv, NULL),
                    57);
    CU_ASSERT(memcmp(gold, enc, 57) == 0);
}

static void test_v2_record_roundtrip(void)
{
    struct hp_slice argv[3] = {hp_slice_make("SET", 3), hp_slice_make("k", 1),
                               hp_slice_make("v", 1)};
    CU_ASSERT_EQUAL(aof_record_size_grouped(3, argv), aof_record_size(3, argv) + 16);
    uint8_t b[128];
    struct aof_group g = {.id = 0x1122334455667788ull, .count = 5, .index = 4};
    size_t n = aof_record_encode_grouped(b, sizeof(b), 3, 1, 9, -5, 3, argv, &g);
    CU_ASSERT_EQUAL(n, 57 + 16);
    CU_ASSERT(memcmp(b, "HPR2", 4) == 0);
    CU_ASSERT_EQUAL(aof_load64(b + 40), g.id);
    struct aof_rec r;
    CU_ASSERT_EQUAL_FATAL(aof_record_decode(b, n, &r, NULL), AOF_DEC_OK);
    CU_ASSERT_EQUAL(r.len, n);
    CU_ASSERT_EQUAL(r.hdr_len, AOF_REC_GRP_HDR_LEN);
    CU_ASSERT_EQUAL(r.group.id, g.id);
    CU_ASSERT_EQUAL(r.group.count, 5);
    CU_ASSERT_EQUAL(r.group.index, 4);
    CU_ASSERT_EQUAL(r.lsn, 9);
    CU_ASSERT_EQUAL(r.ts_ms, -5);
    struct hp_slice out[3];
    CU_ASSERT_EQUAL(aof_record_argv(&r, out, 3), 0);
    CU_ASSERT(out[2].len == 1 && memcmp(out[2].ptr, "v", 1) == 0);
    /* Every prefix is torn, never corrupt and never a record. */
    for (size_t cut = 1; cut < n; cut++)
        CU_ASSERT_EQUAL(aof_record_decode(b, cut, &r, NULL), AOF_DEC_TORN);
    /* Impossible groups are not encoded (buffer untouched). */
    struct aof_group bad[] = {{0, 2, 0}, {1, 0, 0}, {1, 2, 2}, {1, AOF_GROUP_MAX + 1, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(b, 0xab, sizeof(b));
        CU_ASSERT_EQUAL(aof_record_encode_grouped(b, sizeof(b), 0, 0, 1, 0, 3, argv, &bad[i]), 0);
        CU_ASSERT_EQUAL(b[0], 0xab);
        CU_ASSERT(!aof_group_valid(&bad[i]));
    }
    struct aof_group max = {1, AOF_GROUP_MAX, AOF_GROUP_MAX - 1};
    CU_ASSERT(aof_group_valid(&max));
}

/* Group fields that cannot be: refused as corrupt with a message, even
 * with a valid header CRC (a writer bug, or damage that matches a CRC). */
static void test_v2_corrupt_group_fields(void)
{
    struct hp_slice argv[1] = {hp_slice_make("FLUSHALL", 8)};
    struct aof_group g = {.id = 9, .count = 3, .index = 1};
    uint8_t orig[128], b[128];
    size_t n = aof_record_encode_grouped(orig, sizeof(orig), 0, 0, 1, 0, 1, argv, &g);
    CU_ASSERT_FATAL(n == AOF_REC_GRP_HDR_LEN + 4 + 8);
    struct {
        size_t at;
        int width;
        uint64_t v;
        const char *why;
    } cases[] = {
        {40, 8, 0, "zero group id"},
        {48, 4, 0, "impossible group member count"},
        {48, 4, (uint64_t)AOF_GROUP_MAX + 1, "impossible group member count"},
        {52, 4, 3, "group member index out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(b, orig, n);
        if (cases[i].width == 8)
            aof_store64(b + cases[i].at, cases[i].v);
        else
            aof_store32(b + cases[i].at, (uint32_t)cases[i].v);
        aof_store32(b + 4, aof_crc32c(0, b + 8, AOF_REC_GRP_HDR_LEN - 8));
        struct aof_rec r;
        const char *why = NULL;
        CU_ASSERT_EQUAL(aof_record_decode(b, n, &r, &why), AOF_DEC_CORRUPT);
        CU_ASSERT(why != NULL && strcmp(why, cases[i].why) == 0);
        /* Without resealing, the header CRC catches it first. */
        memcpy(b + 4, orig + 4, 4);
        CU_ASSERT_EQUAL(aof_record_decode(b, n, &r, &why), AOF_DEC_CORRUPT);
        CU_ASSERT(why != NULL && strcmp(why, "record header checksum mismatch") == 0);
    }
    /* An HPR1 record's bytes 40..55 are arguments: flipping the magic to
     * HPR2 breaks the header CRC, never reinterprets them. */
    uint8_t gold[64];
    golden_hpr1(gold);
    memcpy(gold, "HPR2", 4);
    struct aof_rec r;
    CU_ASSERT_EQUAL(aof_record_decode(gold, 57, &r, NULL), AOF_DEC_CORRUPT);
}

/* ------------------------------------------------------------------------ */
/* recovery                                                                 */

/* A log of HPR1 records in a segment without flags, as the writer before
 * groups left it, loads and replays in order. */
static void test_recover_old_format_log(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    static struct hseg segs[2];
    hseg_init(&segs[0], 1, 0);
    hseg_init(&segs[1], 2, 0);
    for (uint64_t i = 1; i <= 5; i++)
        hseg_rec(&segs[i <= 3 ? 0 : 1], (uint16_t)(i % 2), (i + 1) / 2, NULL);
    manifest_for(dir, segs, 2);
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    static const uint64_t s0[] = {1, 2}, s1[] = {1, 2, 3};
    CU_ASSERT(seen_is(&k, 0, s0, 2));
    CU_ASSERT(seen_is(&k, 1, s1, 3));
    CU_ASSERT_EQUAL(res.records, 5);
    CU_ASSERT_EQUAL(res.groups_dropped, 0);
    CU_ASSERT_EQUAL(res.resume.last_group_id, 0);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* Written through the log: complete groups over two shards apply, with
 * ungrouped records between them, in each shard's LSN order. */
static void test_recover_group_complete_two_shards(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    aof_log_config_init(&c, dir);
    c.nshards = 2;
    c.ring_bytes = 64 * 1024;
    c.staging_bytes = 64 * 1024;
    c.segment_bytes = 64 * 1024; /* small: groups straddle rotations */
    c.fsync = AOF_FSYNC_NO;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    uint64_t first_id = 0;
    for (uint32_t i = 0; i < 600; i++) {
        struct aof_group g = {.id = aof_log_group_id(l), .count = 3, .index = 0};
        if (i == 0)
            first_id = g.id;
        for (uint32_t m = 0; m < 3; m++) {
            uint32_t s = m == 1 ? 1 : 0;
            char key[32];
            int kl = snprintf(key, sizeof(key), "g%u:%llu", s,
                              (unsigned long long)aof_log_last_lsn(l, s) + 1);
            struct hp_slice argv[3] = {hp_slice_make("SET", 3),
                                       hp_slice_make(key, (size_t)kl), hp_slice_make("v", 1)};
            g.index = m;
            enum aof_append rc;
            while ((rc = aof_log_append_grouped(l, s, 0, 1, 3, argv, &g, NULL)) ==
                   AOF_APPEND_BUSY)
                usleep(100);
            CU_ASSERT(rc == AOF_APPEND_OK);
            if (i % 5 == 0) {
                kl = snprintf(key, sizeof(key), "g%u:%llu", s,
                              (unsigned long long)aof_log_last_lsn(l, s) + 1);
                argv[1] = hp_slice_make(key, (size_t)kl);
                while ((rc = aof_log_append(l, s, 0, 1, 3, argv, NULL)) == AOF_APPEND_BUSY)
                    usleep(100);
                CU_ASSERT(rc == AOF_APPEND_OK);
            }
        }
    }
    uint64_t last0 = aof_log_last_lsn(l, 0), last1 = aof_log_last_lsn(l, 1);
    CU_ASSERT_EQUAL(first_id, 1);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT(res.segments > 2);
    CU_ASSERT_EQUAL(k.n[0], last0);
    CU_ASSERT_EQUAL(k.n[1], last1);
    for (uint32_t s = 0; s < 2; s++)
        for (uint32_t i = 0; i < k.n[s]; i++)
            CU_ASSERT_EQUAL(k.lsn[s][i], i + 1);
    CU_ASSERT_EQUAL(k.grouped, 1800);
    CU_ASSERT_EQUAL(res.groups_dropped, 0);
    CU_ASSERT_EQUAL(res.resume.last_group_id, 600);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* Shard 0's member is in the log, shard 1's is not (the crash came first):
 * the group is dropped whole; every other record applies. */
static void test_recover_group_torn_dropped(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    static struct hseg segs[1];
    hseg_init(&segs[0], 1, AOF_SEGF_SESSION);
    struct aof_group g1 = {.id = 4, .count = 2, .index = 0};
    struct aof_group g2a = {.id = 5, .count = 2, .index = 0};
    struct aof_group g2b = {.id = 5, .count = 2, .index = 1};
    hseg_rec(&segs[0], 0, 1, &g2a);
    hseg_rec(&segs[0], 1, 1, &g2b);
    hseg_rec(&segs[0], 0, 2, &g1);   /* its partner on shard 1 never came */
    hseg_rec(&segs[0], 0, 3, NULL);  /* a later write of shard 0 */
    hseg_rec(&segs[0], 1, 2, NULL);
    manifest_for(dir, segs, 1);
    static struct seen k;
    struct aof_recover_result res;
    for (uint32_t threads = 1; threads <= 2; threads++) {
        CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, threads, 0, &res), 0);
        static const uint64_t s0[] = {1, 3}, s1[] = {1, 2};
        CU_ASSERT(seen_is(&k, 0, s0, 2));
        CU_ASSERT(seen_is(&k, 1, s1, 2));
        CU_ASSERT_EQUAL(res.groups_dropped, 1);
        CU_ASSERT_EQUAL(res.group_records_dropped, 1);
        CU_ASSERT_EQUAL(res.resume.last_lsn[0], 3); /* the dropped LSN stays used */
        CU_ASSERT_EQUAL(res.resume.last_group_id, 5);
        aof_recover_result_free(&res);
    }
    remove_dir(dir);
}

/* Through the writer: the last member is a torn record at the tail. */
static void test_recover_group_torn_tail(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    aof_log_config_init(&c, dir);
    c.nshards = 2;
    c.ring_bytes = 64 * 1024;
    c.staging_bytes = 64 * 1024;
    c.segment_bytes = 1 << 20;
    c.preallocate = false;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct hp_slice a0[3] = {hp_slice_make("SET", 3), hp_slice_make("g0:1", 4),
                             hp_slice_make("v", 1)};
    struct hp_slice a1[3] = {hp_slice_make("SET", 3), hp_slice_make("g1:1", 4),
                             hp_slice_make("v", 1)};
    struct aof_group g = {.id = aof_log_group_id(l), .count = 2, .index = 0};
    CU_ASSERT(aof_log_append_grouped(l, 0, 0, 1, 3, a0, &g, NULL) == AOF_APPEND_OK);
    g.index = 1;
    CU_ASSERT(aof_log_append_grouped(l, 1, 0, 1, 3, a1, &g, NULL) == AOF_APPEND_OK);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/seg-0000000000000001.hpaof", dir);
    struct stat st;
    CU_ASSERT_FATAL(stat(p, &st) == 0);
    CU_ASSERT_FATAL(st.st_size == AOF_BLOCK + 2 * (57 + 3 + 16));
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT_EQUAL(k.n[0] + k.n[1], 2);
    aof_recover_result_free(&res);
    CU_ASSERT(truncate(p, st.st_size - 10) == 0);
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT_EQUAL(k.n[0] + k.n[1], 0); /* never half */
    CU_ASSERT_EQUAL(res.groups_dropped, 1);
    CU_ASSERT(res.truncated_bytes > 0);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* A group open across a segment boundary: its shard's later records wait
 * and apply in LSN order once the last member shows up. */
static void test_recover_group_spans_segments(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    static struct hseg segs[3];
    hseg_init(&segs[0], 1, AOF_SEGF_SESSION);
    hseg_init(&segs[1], 2, 0);
    hseg_init(&segs[2], 3, 0);
    struct aof_group a = {.id = 1, .count = 3, .index = 0};
    struct aof_group b = {.id = 1, .count = 3, .index = 1};
    struct aof_group c = {.id = 1, .count = 3, .index = 2};
    hseg_rec(&segs[0], 0, 1, &a);
    hseg_rec(&segs[0], 0, 2, NULL);   /* waits behind member 0 */
    hseg_rec(&segs[0], 1, 1, NULL);
    hseg_rec(&segs[1], 0, 3, NULL);
    hseg_rec(&segs[1], 2, 1, &b);
    hseg_rec(&segs[2], 1, 2, &c);
    hseg_rec(&segs[2], 0, 4, NULL);
    manifest_for(dir, segs, 3);
    static struct seen k;
    struct aof_recover_result res;
    for (uint32_t threads = 1; threads <= 3; threads++) {
        CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, threads, 0, &res), 0);
        static const uint64_t s0[] = {1, 2, 3, 4}, s1[] = {1, 2}, s2[] = {1};
        CU_ASSERT(seen_is(&k, 0, s0, 4));
        CU_ASSERT(seen_is(&k, 1, s1, 2));
        CU_ASSERT(seen_is(&k, 2, s2, 1));
        CU_ASSERT_EQUAL(k.grouped, 3);
        CU_ASSERT_EQUAL(res.groups_dropped, 0);
        aof_recover_result_free(&res);
    }
    remove_dir(dir);
}

/* A group cut by a crash, then a later run's records of the same shard:
 * the session flag ends the group (dropped), the later records apply and
 * nothing is held for the rest of the log. */
static void test_recover_group_cut_then_new_session(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    static struct hseg segs[3];
    hseg_init(&segs[0], 1, AOF_SEGF_SESSION);
    hseg_init(&segs[1], 2, AOF_SEGF_SESSION);
    hseg_init(&segs[2], 3, 0);
    struct aof_group g7 = {.id = 7, .count = 2, .index = 0};
    struct aof_group g8a = {.id = 8, .count = 2, .index = 0};
    struct aof_group g8b = {.id = 8, .count = 2, .index = 1};
    hseg_rec(&segs[0], 0, 1, NULL);
    hseg_rec(&segs[0], 0, 2, &g7);
    hseg_rec(&segs[0], 0, 3, NULL); /* held until the next run's segment */
    hseg_rec(&segs[1], 0, 4, NULL);
    hseg_rec(&segs[1], 0, 5, &g8a);
    for (uint64_t lsn = 6; lsn < 200; lsn++)
        hseg_rec(&segs[2], 0, lsn, NULL);
    hseg_rec(&segs[2], 1, 1, &g8b);
    manifest_for(dir, segs, 3);
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT_EQUAL(k.n[0], 198);
    CU_ASSERT_EQUAL(k.lsn[0][0], 1);
    CU_ASSERT_EQUAL(k.lsn[0][1], 3);
    for (uint32_t i = 2; i < k.n[0]; i++)
        CU_ASSERT_EQUAL(k.lsn[0][i], i + 2);
    CU_ASSERT_EQUAL(k.n[1], 1);
    CU_ASSERT_EQUAL(res.groups_dropped, 1);
    CU_ASSERT_EQUAL(res.group_records_dropped, 1);
    CU_ASSERT_EQUAL(res.resume.last_group_id, 8);
    aof_recover_result_free(&res);
    /* The same log without the second run's flag: g7 stays open to the end,
     * holding shard 0 all along, and is dropped there. */
    segs[1].buf[32] = 0;
    aof_store32(segs[1].buf + 60, aof_crc32c(0, segs[1].buf, 60));
    manifest_for(dir, segs, 3);
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT_EQUAL(k.n[0], 198);
    CU_ASSERT_EQUAL(res.groups_dropped, 1);
    aof_recover_result_free(&res);
    /* ... and with a small hold limit that is refused, naming the group. */
    CU_ASSERT_EQUAL(recover_seen(dir, &k, 2, 4096, &res), -1);
    CU_ASSERT(strstr(res.error, "group 7") != NULL);
    CU_ASSERT(strstr(res.error, "group_buffer_bytes") != NULL);
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* Group fields that disagree across records are refused with a message. */
static void test_recover_group_inconsistent(void)
{
    struct {
        struct aof_group a, b;
        uint32_t flags2;
        const char *msg;
    } cases[] = {
        {{3, 2, 0}, {3, 3, 1}, 0, "members disagree on the group size"},
        {{3, 2, 1}, {3, 2, 1}, 0, "member 1 appears twice"},
        {{3, 2, 0}, {3, 2, 1}, AOF_SEGF_SESSION, "earlier run of the server is used again"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[64];
        make_dir(dir, sizeof(dir));
        static struct hseg segs[2];
        hseg_init(&segs[0], 1, AOF_SEGF_SESSION);
        hseg_init(&segs[1], 2, cases[i].flags2);
        hseg_rec(&segs[0], 0, 1, &cases[i].a);
        hseg_rec(&segs[1], 1, 1, &cases[i].b);
        manifest_for(dir, segs, 2);
        static struct seen k;
        struct aof_recover_result res;
        CU_ASSERT_EQUAL(recover_seen(dir, &k, 1, 0, &res), -1);
        CU_ASSERT(strstr(res.error, cases[i].msg) != NULL);
        CU_ASSERT(strstr(res.error, "seg-0000000000000002.hpaof offset 4096") != NULL);
        aof_recover_result_free(&res);
        /* Validation only (no callback) refuses the same way. */
        struct aof_recover_opts o = {.dir = dir};
        CU_ASSERT_EQUAL(aof_recover(&o, &res), -1);
        aof_recover_result_free(&res);
        remove_dir(dir);
    }
}

/* ------------------------------------------------------------------------ */
/* writer                                                                   */

static void test_log_group_api_and_restart(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    aof_log_config_init(&c, dir);
    c.nshards = 2;
    c.ring_bytes = 64 * 1024;
    c.staging_bytes = 64 * 1024;
    c.segment_bytes = 1 << 20;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct hp_slice argv[3] = {hp_slice_make("SET", 3), hp_slice_make("g0:1", 4),
                               hp_slice_make("v", 1)};
    struct aof_group bad[] = {{0, 1, 0}, {1, 0, 0}, {1, 1, 1}, {1, AOF_GROUP_MAX + 1, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT(aof_log_append_grouped(l, 0, 0, 1, 3, argv, &bad[i], NULL) ==
                  AOF_APPEND_INVALID);
    CU_ASSERT(aof_log_append_grouped(l, 0, 0, 1, 3, argv, NULL, NULL) == AOF_APPEND_INVALID);
    CU_ASSERT_EQUAL(aof_log_last_lsn(l, 0), 0); /* nothing appended */
    for (int i = 0; i < 5; i++)
        (void)aof_log_group_id(l);
    struct aof_group g = {.id = aof_log_group_id(l), .count = 1, .index = 0};
    CU_ASSERT_EQUAL(g.id, 6);
    uint64_t lsn = 0;
    CU_ASSERT(aof_log_append_grouped(l, 0, 0, 1, 3, argv, &g, &lsn) == AOF_APPEND_OK);
    CU_ASSERT_EQUAL(lsn, 1);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    /* The first segment of a run carries the session flag. */
    uint8_t hdr[AOF_BLOCK];
    char p[512];
    snprintf(p, sizeof(p), "%s/seg-0000000000000001.hpaof", dir);
    int fd = open(p, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr));
    close(fd);
    CU_ASSERT_EQUAL(aof_segment_header_check(hdr, sizeof(hdr), 1, NULL), 0);
    CU_ASSERT_EQUAL(aof_segment_flags(hdr), AOF_SEGF_SESSION);
    /* Reopened: ids continue above the highest one in the log. */
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 1, 0, &res), 0);
    CU_ASSERT_EQUAL(res.resume.last_group_id, 6);
    CU_ASSERT_EQUAL(k.grouped, 1);
    c.resume = &res.resume;
    l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    aof_recover_result_free(&res);
    CU_ASSERT_EQUAL(aof_log_group_id(l), 7);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    remove_dir(dir);
}

/* SET g<shard>:<lsn> v through the log (grouped when g != NULL). */
static uint64_t log_rec(struct aof_log *l, uint32_t s, const struct aof_group *g)
{
    char key[32];
    int kl = snprintf(key, sizeof(key), "g%u:%llu", s,
                      (unsigned long long)aof_log_last_lsn(l, s) + 1);
    struct hp_slice argv[3] = {hp_slice_make("SET", 3), hp_slice_make(key, (size_t)kl),
                               hp_slice_make("v", 1)};
    uint64_t lsn = 0;
    enum aof_append rc;
    for (int tries = 0; tries < 100000; tries++) {
        rc = g == NULL ? aof_log_append(l, s, 0, 1, 3, argv, &lsn)
                       : aof_log_append_grouped(l, s, 0, 1, 3, argv, g, &lsn);
        if (rc != AOF_APPEND_BUSY)
            break;
        usleep(100);
    }
    CU_ASSERT(rc == AOF_APPEND_OK);
    return lsn;
}

/* A group whose first member is in a segment a rewrite would drop and
 * whose last member is after the cut: the rewrite keeps the first member's
 * segment, so the group is still whole after restart. */
static void test_log_rewrite_keeps_straddling_group(void)
{
    char dir[64];
    make_dir(dir, sizeof(dir));
    struct aof_log_config c;
    aof_log_config_init(&c, dir);
    c.nshards = 2;
    c.ring_bytes = 64 * 1024;
    c.staging_bytes = 64 * 1024;
    c.segment_bytes = 64 * 1024;
    c.fsync = AOF_FSYNC_ALWAYS;
    int err;
    struct aof_log *l = aof_log_open(&c, &err);
    CU_ASSERT_FATAL(l != NULL);
    struct aof_group g = {.id = aof_log_group_id(l), .count = 2, .index = 0};
    log_rec(l, 0, &g);                     /* member 0, shard 0, segment 1 */
    struct aof_log_stats st;
    for (int n = 0; n < 100000; n++) {     /* older writes until segment 3 */
        log_rec(l, 0, NULL);
        aof_log_get_stats(l, &st);
        if (st.current_segment >= 3)
            break;
    }
    CU_ASSERT_FATAL(st.current_segment >= 3);
    uint64_t end[HP_MAX_SHARDS] = {0};
    for (uint32_t s = 0; s < 2; s++)
        aof_log_rewrite_mark(l, s, aof_log_last_lsn(l, s) + 1);
    g.index = 1;
    end[1] = log_rec(l, 1, &g);            /* member 1, after shard 1's cut */
    end[0] = log_rec(l, 0, NULL);          /* shard 0's snapshot */
    CU_ASSERT(aof_log_rewrite_finish(l, end));
    for (int i = 0; i < 20000 && aof_log_rewrites_done(l, NULL) < 1; i++)
        usleep(500);
    int status = -1;
    CU_ASSERT_EQUAL(aof_log_rewrites_done(l, &status), 1);
    CU_ASSERT_EQUAL(status, 0);
    CU_ASSERT_EQUAL(aof_log_close(l), 0);
    static struct seen k;
    struct aof_recover_result res;
    CU_ASSERT_EQUAL_FATAL(recover_seen(dir, &k, 2, 0, &res), 0);
    CU_ASSERT_EQUAL(k.grouped, 2);
    CU_ASSERT_EQUAL(k.n[1], 1);
    CU_ASSERT_EQUAL(res.groups_dropped, 0);
    CU_ASSERT_EQUAL(res.resume.segment_ids[0], 1); /* kept for the group */
    aof_recover_result_free(&res);
    remove_dir(dir);
}

/* The recovery table against a reference: many groups, members noted in
 * a shuffled order (collisions and backward-shift deletions), states right
 * at every step for a sample, then close/sweep. */
static void test_gtab_reference(void)
{
    enum { NG = 30000 };
    static uint32_t cnt[NG], seen[NG];
    static struct aof_group mem[NG * 4];
    uint32_t nm = 0;
    uint64_t x = 12345;
    for (uint32_t i = 0; i < NG; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        cnt[i] = 1 + (uint32_t)(x >> 60) % 4;
        seen[i] = 0;
        for (uint32_t m = 0; m < cnt[i]; m++) {
            /* ids spread so that many share a home slot */
            mem[nm].id = 1 + (uint64_t)i * 131072u;
            mem[nm].count = cnt[i];
            mem[nm].index = m;
            nm++;
        }
    }
    /* A local shuffle: each member moves at most ~64 places, so at most a
     * few hundred groups are open at once (the table's limit is far). */
    for (uint32_t i = 0; i + 1 < nm; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = i + (uint32_t)(x >> 58) % HP_MIN(64u, nm - i);
        struct aof_group t = mem[i];
        mem[i] = mem[j];
        mem[j] = t;
    }
    struct aof_gtab *t = aof_gtab_new();
    CU_ASSERT_FATAL(t != NULL);
    char why[160];
    bool ok = true;
    for (uint32_t k = 0; k < nm / 2; k++) {
        uint32_t g = (uint32_t)((mem[k].id - 1) / 131072u);
        ok &= aof_gtab_note(t, &mem[k], why, sizeof(why)) == 0;
        seen[g]++;
        for (uint32_t probe = g % 97; probe < NG; probe += 997) {
            enum aof_gstate want = seen[probe] == cnt[probe] || seen[probe] == 0
                                       ? AOF_GS_COMPLETE : AOF_GS_OPEN;
            ok &= aof_gtab_state(t, 1 + (uint64_t)probe * 131072u) == want;
        }
    }
    CU_ASSERT(ok);
    uint32_t open = 0;
    for (uint32_t g = 0; g < NG; g++)
        open += seen[g] != 0 && seen[g] < cnt[g];
    CU_ASSERT_EQUAL(aof_gtab_open(t), open);
    CU_ASSERT_EQUAL(aof_gtab_close_open(t), open);
    for (uint32_t g = 0; g < NG; g++)
        if (seen[g] != 0 && seen[g] < cnt[g])
            ok &= aof_gtab_state(t, 1 + (uint64_t)g * 131072u) == AOF_GS_DEAD;
    CU_ASSERT(ok);
    aof_gtab_sweep_dead(t);
    for (uint32_t g = 0; g < NG; g++)
        ok &= aof_gtab_state(t, 1 + (uint64_t)g * 131072u) == AOF_GS_COMPLETE;
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(aof_gtab_max_id(t) > 0, true);
    /* The rest of the members: groups that died are refused when reused. */
    uint32_t refused = 0;
    for (uint32_t k = nm / 2; k < nm; k++)
        refused += aof_gtab_note(t, &mem[k], why, sizeof(why)) != 0;
    CU_ASSERT_EQUAL(refused, 0); /* swept: forgotten, so no longer recognised */
    aof_gtab_free(t);
}

/* The tracker's rule on its own: pairs chain, open groups hold, the floor. */
static void test_gtrack_keep(void)
{
    struct aof_gtrack t;
    memset(&t, 0, sizeof(t));
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 9), 9);
    /* Segments only grow as the thread stages. */
    aof_gtrack_member(&t, 2, 2, 2);
    aof_gtrack_member(&t, 1, 2, 3);
    aof_gtrack_member(&t, 2, 2, 4);        /* pair (2, 4) */
    aof_gtrack_member(&t, 1, 2, 5);        /* pair (3, 5): keeping 3 needs 2 as well */
    aof_gtrack_member(&t, 3, 1, 6);        /* one member: nothing to track */
    /* (A later rewrite never keeps less than an earlier one did.) */
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 5), 2);
    CU_ASSERT_EQUAL(t.npairs, 2);
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 6), 6);
    CU_ASSERT_EQUAL(t.npairs, 0);          /* both end before 6: forgotten */
    aof_gtrack_member(&t, 4, 3, 7);        /* open from segment 7 */
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 8), 7);
    aof_gtrack_member(&t, 4, 3, 7);
    aof_gtrack_member(&t, 4, 3, 8);        /* closed: pair (7, 8) */
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 8), 7);
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 9), 9);
    CU_ASSERT_EQUAL(t.nopen, 0);
    for (uint64_t id = 100; id < 100 + AOF_GTRACK_OPEN_MAX + 1; id++)
        aof_gtrack_member(&t, id, 2, 10 + (id > 100 + AOF_GTRACK_OPEN_MAX - 1 ? 1 : 0));
    CU_ASSERT_EQUAL(t.floor, 11);          /* the untracked one */
    CU_ASSERT_EQUAL(aof_gtrack_keep(&t, 20), 10);
    aof_gtrack_free(&t);
}

static CU_TestInfo format_tests[] = {
    {"HPR1 record unchanged (golden bytes)", test_v1_record_unchanged},
    {"HPR2 grouped record roundtrip, limits", test_v2_record_roundtrip},
    {"HPR2 corrupt group fields refused", test_v2_corrupt_group_fields},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo recover_tests[] = {
    {"old-format log loads", test_recover_old_format_log},
    {"complete groups on two shards apply", test_recover_group_complete_two_shards},
    {"group torn on one shard dropped whole", test_recover_group_torn_dropped},
    {"group member torn at the tail", test_recover_group_torn_tail},
    {"group spanning segments holds its shard", test_recover_group_spans_segments},
    {"group cut, then a new session; hold limit", test_recover_group_cut_then_new_session},
    {"inconsistent group fields refused", test_recover_group_inconsistent},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo log_tests[] = {
    {"grouped append API, ids across restart", test_log_group_api_and_restart},
    {"rewrite keeps a straddling group whole", test_log_rewrite_keeps_straddling_group},
    {"tracker keep rule and limit", test_gtrack_keep},
    {"recovery group table vs reference", test_gtab_reference},
    CU_TEST_INFO_NULL,
};

static int suite_init(void)
{
    log_set_level(LOG_WARNING);
    return 0;
}

static CU_SuiteInfo suites[] = {
    {"aof group format", suite_init, NULL, NULL, NULL, format_tests},
    {"aof group recover", suite_init, NULL, NULL, NULL, recover_tests},
    {"aof group log", suite_init, NULL, NULL, NULL, log_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
