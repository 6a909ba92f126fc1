/*
 * exec_harness.h - runs command handlers the way the dataplane does (an
 * exec_ctx over three real shards, every shard held unless a test narrows
 * held_mask) without any runtime around them, and checks exact RESP bytes.
 * Included by the command suites (test_cmd_string.c, test_cmd_keys.c); each
 * test starts from reset(): empty shards, RESP2, db 0, time T0.
 */
#ifndef HP_EXEC_HARNESS_H
#define HP_EXEC_HARNESS_H

#include <CUnit/CUnit.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../dataplane/commands/cmd.h"

#define NSHARDS 3
#define ALL_HELD ((1ull << NSHARDS) - 1)
#define T0 1700000000000ll
#define OUT_LIMIT (4u << 20)
#define MAX_ARGS 32

static struct shard *shards[NSHARDS];
static uint16_t slot_map[HP_NUM_SLOTS];
static struct rbuf out;
static int64_t now_ms = T0;
static uint8_t proto = 2;
static uint32_t db = 0;
static uint32_t home = 0;
static uint64_t held_mask = ALL_HELD;
static int64_t max_bulk = RESP_DEFAULT_MAX_BULK;
static struct exec_changes *track = NULL; /* non-NULL: handlers report into it */
/* Non-NULL: read lookups count into them (INFO keyspace_hits/misses). */
static uint64_t *count_hits = NULL, *count_misses = NULL;

static int suite_init(void)
{
    for (uint32_t i = 0; i < NSHARDS; i++) {
        shards[i] = shard_create(i);
        if (shards[i] == NULL)
            return 1;
    }
    for (uint32_t s = 0; s < HP_NUM_SLOTS; s++)
        slot_map[s] = (uint16_t)(s % NSHARDS);
    rbuf_init(&out, OUT_LIMIT);
    return 0;
}

static int suite_clean(void)
{
    for (uint32_t i = 0; i < NSHARDS; i++)
        shard_destroy(shards[i]);
    rbuf_free(&out);
    return 0;
}

static void fail_allocs(uint64_t after)
{
    for (uint32_t i = 0; i < NSHARDS; i++)
        shard_debug_fail_allocs(shards[i], after);
}

static void reset(void)
{
    fail_allocs(UINT64_MAX);
    for (uint32_t i = 0; i < NSHARDS; i++)
        for (uint32_t d = 0; d < HP_NUM_DBS; d++)
            shard_flush_db(shards[i], d);
    rbuf_reset(&out);
    now_ms = T0;
    proto = 2;
    db = 0;
    home = 0;
    held_mask = ALL_HELD;
    max_bulk = RESP_DEFAULT_MAX_BULK;
}

static void exec_slices(exec_fn fn, int argc, const struct hp_slice *argv)
{
    struct exec_ctx x = {
        .shards = shards,
        .slot_to_shard = slot_map,
        .nshards = NSHARDS,
        .home = home,
        .held_mask = held_mask,
        .db = db,
        .proto = proto,
        .now_ms = now_ms,
        .max_bulk = max_bulk,
        .argc = argc,
        .argv = argv,
        .out = &out,
        .chg = track,
        .keyspace_hits = count_hits,
        .keyspace_misses = count_misses,
    };
    rbuf_reset(&out);
    if (track != NULL)
        exec_changes_reset(track);
    fn(&x);
}

static int split_line(const char *line, char *buf, size_t cap, struct hp_slice *argv)
{
    int argc = 0;
    size_t n = strlen(line);
    HP_ASSERT(n < cap);
    memcpy(buf, line, n + 1);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        HP_ASSERT(argc < MAX_ARGS);
        argv[argc++] = strcmp(t, "\"\"") == 0 ? hp_slice_make("", 0) : hp_slice_make(t, strlen(t));
    }
    return argc;
}

static void exec_line(exec_fn fn, const char *line)
{
    static char buf[4096];
    struct hp_slice argv[MAX_ARGS];
    int argc = split_line(line, buf, sizeof(buf), argv);
    exec_slices(fn, argc, argv);
}

static void check_out(int line, const char *cmd, const char *want, size_t wlen)
{
    bool ok = !out.overflow && out.len == wlen && memcmp(out.data, want, wlen) == 0;
    if (!ok) {
        fprintf(stderr, "\n  line %d: %s\n    want: ", line, cmd);
        fwrite(want, 1, wlen, stderr);
        fprintf(stderr, "\n    got:  ");
        fwrite(out.data, 1, out.len, stderr);
        fprintf(stderr, "\n");
    }
    CU_assertImplementation(ok, (unsigned)line, cmd, __FILE__, "", CU_FALSE);
}

#define EXPECT(fn, line, want)                                                 \
    do {                                                                       \
        exec_line(fn, line);                                                   \
        check_out(__LINE__, line, want, sizeof(want) - 1);                     \
    } while (0)

static uint32_t shard_of(const char *key)
{
    return slot_map[slot_of_key((const uint8_t *)key, strlen(key))];
}

static const char *key_on(uint32_t shard, const char *prefix, char *buf, size_t cap)
{
    for (int n = 0; n < 100000; n++) {
        snprintf(buf, cap, "%s%d", prefix, n);
        if (shard_of(buf) == shard)
            return buf;
    }
    HP_ASSERT(!"no key found");
    return NULL;
}

#endif
