/*
 * test_cmd_keys.c - keyspace commands over real shards (exact RESP bytes,
 * expiry with explicit now_ms, SCAN across shards) and the command table.
 *
 * The command table is composed of two parts: the keyed part in
 * dataplane/commands/ and the client part that dataplane/server/ registers
 * (server_cmds_register, as hotpathd's main does); this suite links the
 * server library for the real client handlers, and checks the whole table.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../dataplane/commands/cmd.h"
#include "../../dataplane/server/server.h"
#include "cu_main.h"

#include "exec_harness.h"

static void set_key(const char *key, const char *val, int64_t expire_ms)
{
    struct hp_slice k = hp_slice_make(key, strlen(key));
    int rc = shard_set_str(shards[shard_of(key)], db, k, hp_slice_make(val, strlen(val)),
                           expire_ms, now_ms);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* ---- command table ---------------------------------------------------------- */

static void test_table_found(void)
{
    size_t n;
    const struct cmd_spec *t = cmd_table(&n);
    CU_ASSERT(n > 50);
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        CU_ASSERT_FATAL(name != NULL);
        size_t len = strlen(name);
        /* cmd_lookup's case folding relies on this. */
        for (size_t j = 0; j < len; j++)
            CU_ASSERT(name[j] >= 'a' && name[j] <= 'z');
        char upper[32], mixed[32];
        for (size_t j = 0; j <= len; j++) {
            upper[j] = (char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
            mixed[j] = j % 2 ? upper[j] : name[j];
        }
        CU_ASSERT_PTR_EQUAL(cmd_lookup((const uint8_t *)name, len), &t[i]);
        CU_ASSERT_PTR_EQUAL(cmd_lookup((const uint8_t *)upper, len), &t[i]);
        CU_ASSERT_PTR_EQUAL(cmd_lookup((const uint8_t *)mixed, len), &t[i]);
        /* A prefix or an extension is another (unknown) name. */
        CU_ASSERT(cmd_lookup((const uint8_t *)name, len - 1) == NULL ||
                  cmd_lookup((const uint8_t *)name, len - 1) != &t[i]);
        CU_ASSERT_PTR_NOT_NULL(t[i].summary);
        CU_ASSERT_PTR_NOT_NULL(t[i].group);
        CU_ASSERT_PTR_NOT_NULL(t[i].since);
        if (t[i].kind == CMD_KIND_CLIENT) {
            CU_ASSERT(t[i].client != NULL && t[i].exec == NULL);
        } else {
            CU_ASSERT(t[i].exec != NULL && t[i].client == NULL);
        }
        if (t[i].kind != CMD_KIND_KEYED) {
            int f = -1, l = -1, st = -1;
            (void)cmd_legacy_range(&t[i], &f, &l, &st);
            CU_ASSERT_EQUAL(f, 0);
        }
    }
    /* Near misses, including bytes that case folding by `| 0x20` could
     * confuse with letters ('G' - 0x20 is '\'', '@' | 0x20 is '`'). */
    static const struct {
        const char *s;
        size_t len;
    } unknown[] = {{"", 0}, {"ge", 2}, {"gett", 4}, {"foo", 3}, {"GETX", 4},
                   {"incrbyfloatt", 12}, {"a-very-long-command-name-that-is-not-there", 42},
                   {"get\0", 4}, {"s\xc5t", 3}, {"\x07\x05\x14", 3}, {"g\x05t", 3},
                   {"G\x05T", 3}, {"@et", 3}, {"se\x14", 3}, {"s\x85t", 3}, {"ttl ", 4},
                   {"get", 2}, {"xyz", 3}, {"pexpiretimes", 12}};
    for (size_t i = 0; i < HP_ARRAY_LEN(unknown); i++)
        CU_ASSERT_PTR_NULL(cmd_lookup((const uint8_t *)unknown[i].s, unknown[i].len));
}

/* Every handler of cmd.h appears exactly once, with the right function. */
static void test_table_complete(void)
{
    size_t n;
    (void)cmd_table(&n);
    size_t expected = 0;
#define CHECK_EXEC(nm)                                                         \
    do {                                                                       \
        const struct cmd_spec *s = cmd_lookup((const uint8_t *)#nm, strlen(#nm)); \
        CU_ASSERT_FATAL(s != NULL);                                            \
        CU_ASSERT(s->exec == cmd_##nm);                                        \
        expected++;                                                            \
    } while (0);
#define CHECK_CLIENT(nm)                                                       \
    do {                                                                       \
        const struct cmd_spec *s = cmd_lookup((const uint8_t *)#nm, strlen(#nm)); \
        CU_ASSERT_FATAL(s != NULL);                                            \
        CU_ASSERT(s->client == cmd_##nm && s->kind == CMD_KIND_CLIENT);        \
        expected++;                                                            \
    } while (0);
    HP_EXEC_HANDLERS(CHECK_EXEC)
    HP_CLIENT_HANDLERS(CHECK_CLIENT)
    CU_ASSERT_EQUAL(n, expected);
}

static void test_table_specs(void)
{
    struct {
        const char *name;
        int arity, first, last, step;
        enum cmd_kind kind;
        uint32_t flags;
    } want[] = {
        {"get", 2, 1, 1, 1, CMD_KIND_KEYED, CMD_READONLY | CMD_FAST},
        {"set", -3, 1, 1, 1, CMD_KIND_KEYED, CMD_WRITE | CMD_DENYOOM},
        {"mset", -3, 1, -1, 2, CMD_KIND_KEYED, CMD_WRITE | CMD_DENYOOM},
        {"msetnx", -3, 1, -1, 2, CMD_KIND_KEYED, CMD_WRITE | CMD_DENYOOM},
        {"mget", -2, 1, -1, 1, CMD_KIND_KEYED, CMD_READONLY | CMD_FAST},
        {"del", -2, 1, -1, 1, CMD_KIND_KEYED, CMD_WRITE},
        {"rename", 3, 1, 2, 1, CMD_KIND_KEYED, CMD_WRITE},
        {"renamenx", 3, 1, 2, 1, CMD_KIND_KEYED, CMD_WRITE | CMD_FAST},
        {"getex", -2, 1, 1, 1, CMD_KIND_KEYED, CMD_WRITE | CMD_FAST},
        {"expire", -3, 1, 1, 1, CMD_KIND_KEYED, CMD_WRITE | CMD_FAST},
        {"keys", 2, 0, 0, 0, CMD_KIND_ALLSHARDS, CMD_READONLY},
        {"dbsize", 1, 0, 0, 0, CMD_KIND_ALLSHARDS, CMD_READONLY | CMD_FAST},
        {"flushall", -1, 0, 0, 0, CMD_KIND_ALLSHARDS, CMD_WRITE},
        {"flushdb", -1, 0, 0, 0, CMD_KIND_ALLSHARDS, CMD_WRITE},
        {"randomkey", 1, 0, 0, 0, CMD_KIND_ALLSHARDS, CMD_READONLY},
        {"scan", -2, 0, 0, 0, CMD_KIND_SCAN, CMD_READONLY},
        {"ping", -1, 0, 0, 0, CMD_KIND_CLIENT, CMD_FAST},
        {"client", -2, 0, 0, 0, CMD_KIND_CLIENT, 0},
        {"shutdown", -1, 0, 0, 0, CMD_KIND_CLIENT,
         CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(want); i++) {
        const struct cmd_spec *s = cmd_lookup((const uint8_t *)want[i].name, strlen(want[i].name));
        CU_ASSERT_FATAL(s != NULL);
        CU_ASSERT_EQUAL(s->arity, want[i].arity);
        int f, l, st;
        CU_ASSERT(!cmd_legacy_range(s, &f, &l, &st));
        CU_ASSERT_EQUAL(f, want[i].first);
        CU_ASSERT_EQUAL(l, want[i].last);
        CU_ASSERT_EQUAL(st, want[i].step);
        CU_ASSERT_EQUAL(s->kind, want[i].kind);
        CU_ASSERT_EQUAL(s->flags, want[i].flags);
    }
    const struct cmd_spec *get = cmd_lookup((const uint8_t *)"GET", 3);
    CU_ASSERT(cmd_arity_ok(get, 2));
    CU_ASSERT(!cmd_arity_ok(get, 1));
    CU_ASSERT(!cmd_arity_ok(get, 3));
    const struct cmd_spec *set = cmd_lookup((const uint8_t *)"set", 3);
    CU_ASSERT(!cmd_arity_ok(set, 2));
    CU_ASSERT(cmd_arity_ok(set, 3));
    CU_ASSERT(cmd_arity_ok(set, 9));
    CU_ASSERT_STRING_EQUAL(set->summary, "Set the string value of a key");
    CU_ASSERT_STRING_EQUAL(set->group, "string");
    CU_ASSERT_STRING_EQUAL(set->since, "1.0.0");
}

static void check_unknown(int line, const char *cmdline, const char *want)
{
    char buf[4096];
    struct hp_slice argv[MAX_ARGS];
    int argc = split_line(cmdline, buf, sizeof(buf), argv);
    rbuf_reset(&out);
    cmd_reply_unknown(&out, argc, argv);
    check_out(line, cmdline, want, strlen(want));
}

static void test_reply_unknown_and_arity(void)
{
    check_unknown(__LINE__, "foo", "-ERR unknown command 'foo', with args beginning with: \r\n");
    check_unknown(__LINE__, "foo a b",
                  "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    /* Arguments stop once their text reaches 128 bytes; the last one is
     * cut to what is left (checked against redis-server 7.0). */
    const char *a50 = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij";
    char line[512], want[512];
    snprintf(line, sizeof(line), "foo %s %s %s %s %s", a50, a50, a50, a50, a50);
    snprintf(want, sizeof(want),
             "-ERR unknown command 'foo', with args beginning with: '%s' '%s' '%.22s' \r\n", a50,
             a50, a50);
    check_unknown(__LINE__, line, want);
    /* The name itself is cut at 128. */
    char longname[201];
    memset(longname, 'x', 200);
    longname[200] = '\0';
    snprintf(want, sizeof(want), "-ERR unknown command '%.128s', with args beginning with: \r\n",
             longname);
    check_unknown(__LINE__, longname, want);
    /* One long argument: 128 bytes of it. */
    snprintf(line, sizeof(line), "foo %s b", longname);
    snprintf(want, sizeof(want),
             "-ERR unknown command 'foo', with args beginning with: '%.128s' \r\n", longname);
    check_unknown(__LINE__, line, want);

    /* NUL ends an argument's text; CR/LF become spaces. */
    struct hp_slice argv[3] = {hp_slice_make("f\r\no", 4), hp_slice_make("a\0b", 3),
                               hp_slice_make("c\r\nd", 4)};
    rbuf_reset(&out);
    cmd_reply_unknown(&out, 3, argv);
    static const char w[] =
        "-ERR unknown command 'f  o', with args beginning with: 'a' 'c  d' \r\n";
    check_out(__LINE__, "unknown with NUL/CRLF", w, sizeof(w) - 1);

    rbuf_reset(&out);
    cmd_reply_arity(&out, cmd_lookup((const uint8_t *)"GET", 3));
    static const char ar[] = "-ERR wrong number of arguments for 'get' command\r\n";
    check_out(__LINE__, "arity get", ar, sizeof(ar) - 1);
}

/* ---- existence ---------------------------------------------------------------- */

static void test_del_exists_touch_type(void)
{
    reset();
    char a[32], b[32], c[32], line[256];
    key_on(0, "a", a, sizeof(a));
    key_on(1, "b", b, sizeof(b));
    key_on(2, "c", c, sizeof(c));
    set_key(a, "1", SHARD_NO_EXPIRE);
    set_key(b, "2", SHARD_NO_EXPIRE);
    set_key(c, "3", T0 + 100);
    snprintf(line, sizeof(line), "exists %s %s %s %s nokey", a, a, b, c);
    EXPECT(cmd_exists, line, ":4\r\n");
    snprintf(line, sizeof(line), "touch %s %s %s nokey", a, a, c);
    EXPECT(cmd_touch, line, ":3\r\n");
    snprintf(line, sizeof(line), "type %s", a);
    EXPECT(cmd_type, line, "+string\r\n");
    EXPECT(cmd_type, "type nokey", "+none\r\n");
    /* Expired keys are gone for every command. */
    now_ms = T0 + 100;
    snprintf(line, sizeof(line), "exists %s", c);
    EXPECT(cmd_exists, line, ":0\r\n");
    snprintf(line, sizeof(line), "type %s", c);
    EXPECT(cmd_type, line, "+none\r\n");
    snprintf(line, sizeof(line), "del %s %s %s %s nokey", a, a, b, c);
    EXPECT(cmd_del, line, ":2\r\n");
    snprintf(line, sizeof(line), "exists %s %s", a, b);
    EXPECT(cmd_exists, line, ":0\r\n");
    set_key(a, "1", SHARD_NO_EXPIRE);
    set_key(c, "1", T0 + 50); /* already expired at now */
    snprintf(line, sizeof(line), "unlink %s %s", a, c);
    EXPECT(cmd_unlink, line, ":1\r\n");
}

/* ---- RENAME ---------------------------------------------------------------------- */

static void test_rename(void)
{
    reset();
    EXPECT(cmd_rename, "rename nokey x", "-ERR no such key\r\n");
    EXPECT(cmd_renamenx, "renamenx nokey x", "-ERR no such key\r\n");
    EXPECT(cmd_rename, "rename nokey nokey", "-ERR no such key\r\n");
    set_key("k", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_rename, "rename k k", "+OK\r\n");
    EXPECT(cmd_renamenx, "renamenx k k", ":0\r\n");
    EXPECT(cmd_type, "type k", "+string\r\n");

    /* Same shard and cross shard, each keeping value and TTL. */
    for (uint32_t target = 0; target < NSHARDS; target++) {
        char src[32], dst[32], line[256], want[64];
        key_on(0, "src", src, sizeof(src));
        key_on(target, "dst", dst, sizeof(dst));
        set_key(src, "payload", T0 + 7000);
        set_key(dst, "old", SHARD_NO_EXPIRE);
        snprintf(line, sizeof(line), "renamenx %s %s", src, dst);
        EXPECT(cmd_renamenx, line, ":0\r\n");
        snprintf(line, sizeof(line), "rename %s %s", src, dst);
        EXPECT(cmd_rename, line, "+OK\r\n");
        snprintf(line, sizeof(line), "exists %s", src);
        EXPECT(cmd_exists, line, ":0\r\n");
        struct entry *e = shard_find(shards[target], db, hp_slice_make(dst, strlen(dst)), now_ms);
        CU_ASSERT_FATAL(e != NULL);
        CU_ASSERT_EQUAL(entry_expire_ms(e), T0 + 7000);
        CU_ASSERT(entry_str(e).len == 7 && memcmp(entry_str(e).ptr, "payload", 7) == 0);
        snprintf(line, sizeof(line), "pttl %s", dst);
        EXPECT(cmd_pttl, line, ":7000\r\n");
        /* RENAMENX to a free name; then back with plain RENAME (no TTL). */
        snprintf(line, sizeof(line), "renamenx %s %s", dst, src);
        EXPECT(cmd_renamenx, line, ":1\r\n");
        snprintf(line, sizeof(line), "get %s", src);
        snprintf(want, sizeof(want), "$7\r\npayload\r\n");
        exec_line(cmd_get, line);
        check_out(__LINE__, line, want, strlen(want));
        snprintf(line, sizeof(line), "del %s %s", src, dst);
        EXPECT(cmd_del, line, ":1\r\n");
    }
    /* An expired source is no key; an expired destination is free. */
    set_key("s1", "v", T0 + 10);
    set_key("d1", "v", T0 + 10);
    set_key("s2", "v", SHARD_NO_EXPIRE);
    now_ms = T0 + 10;
    EXPECT(cmd_rename, "rename s1 x", "-ERR no such key\r\n");
    EXPECT(cmd_renamenx, "renamenx s2 d1", ":1\r\n");
    EXPECT(cmd_ttl, "ttl d1", ":-1\r\n");
}

/* ---- whole keyspace ---------------------------------------------------------------- */

/* The decimal number at p (before end); *after is the byte past its digits.
 * Not strtol: the reply buffer is not NUL-terminated (ASan's
 * strict_string_checks reports the read past its end). */
static long parse_num(const uint8_t *p, const uint8_t *end, const uint8_t **after)
{
    long v = 0;
    while (p < end && *p >= '0' && *p <= '9' && v < 1000000)
        v = v * 10 + (*p++ - '0');
    *after = p;
    return v;
}

/* Parses an array of bulk strings starting at *p; returns count or -1. */
static long parse_bulk_array(const uint8_t **p, const uint8_t *end, char names[][32], long cap)
{
    const uint8_t *e;
    if (*p >= end || **p != '*')
        return -1;
    long n = parse_num(*p + 1, end, &e);
    *p = e + 2;
    for (long i = 0; i < n; i++) {
        if (*p >= end || **p != '$')
            return -1;
        long len = parse_num(*p + 1, end, &e);
        const uint8_t *s = e + 2;
        if (s + len > end)
            return -1;
        if (i < cap && len < 32) {
            memcpy(names[i], s, (size_t)len);
            names[i][len] = '\0';
        }
        *p = s + len + 2;
    }
    return *p <= end ? n : -1;
}

static bool reply_has(char names[][32], long n, const char *key)
{
    for (long i = 0; i < n; i++)
        if (strcmp(names[i], key) == 0)
            return true;
    return false;
}

static void test_keys(void)
{
    reset();
    EXPECT(cmd_keys, "keys *", "*0\r\n");
    set_key("user:1", "a", SHARD_NO_EXPIRE);
    set_key("user:2", "a", SHARD_NO_EXPIRE);
    set_key("user:33", "a", SHARD_NO_EXPIRE);
    set_key("other", "a", SHARD_NO_EXPIRE);
    set_key("gone", "a", T0 + 1);
    now_ms = T0 + 1;
    static char names[16][32];
    exec_line(cmd_keys, "keys *");
    const uint8_t *p = out.data;
    long n = parse_bulk_array(&p, out.data + out.len, names, 16);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(p == out.data + out.len);
    CU_ASSERT(reply_has(names, n, "user:1") && reply_has(names, n, "user:2"));
    CU_ASSERT(reply_has(names, n, "user:33") && reply_has(names, n, "other"));
    CU_ASSERT(!reply_has(names, n, "gone"));

    exec_line(cmd_keys, "keys user:?");
    p = out.data;
    n = parse_bulk_array(&p, out.data + out.len, names, 16);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(reply_has(names, n, "user:1") && reply_has(names, n, "user:2"));
    EXPECT(cmd_keys, "keys oth[a-f]r", "*1\r\n$5\r\nother\r\n");
    EXPECT(cmd_keys, "keys OTHER", "*0\r\n");
    db = 3;
    EXPECT(cmd_keys, "keys *", "*0\r\n");
}

/* KEYS and SCAN put their header in front of the elements they emitted;
 * replies already in the buffer (pipelining) must stay untouched. */
static void test_header_after_earlier_replies(void)
{
    reset();
    set_key("a", "v", SHARD_NO_EXPIRE);
    struct hp_slice argv[4] = {hp_slice_make("keys", 4), hp_slice_make("*", 1)};
    struct exec_ctx x = {
        .shards = shards, .slot_to_shard = slot_map, .nshards = NSHARDS, .home = 0,
        .held_mask = ALL_HELD, .db = 0, .proto = 2, .now_ms = now_ms,
        .max_bulk = RESP_DEFAULT_MAX_BULK, .argc = 2, .argv = argv, .out = &out,
    };
    rbuf_reset(&out);
    rbuf_append(&out, "+PREV\r\n", 7);
    cmd_keys(&x);
    static const char want[] = "+PREV\r\n*1\r\n$1\r\na\r\n";
    check_out(__LINE__, "prev + keys", want, sizeof(want) - 1);

    char cur[32];
    snprintf(cur, sizeof(cur), "%llu",
             (unsigned long long)shard_of("a") << CMD_SCAN_SHARD_SHIFT);
    argv[0] = hp_slice_make("scan", 4);
    argv[1] = hp_slice_make(cur, strlen(cur));
    argv[2] = hp_slice_make("count", 5);
    argv[3] = hp_slice_make("1000", 4);
    x.argc = 4;
    x.home = shard_of("a");
    rbuf_reset(&out);
    rbuf_append(&out, ":1\r\n", 4);
    cmd_scan(&x);
    char want2[128];
    uint64_t next = shard_of("a") + 1 < NSHARDS
                        ? (uint64_t)(shard_of("a") + 1) << CMD_SCAN_SHARD_SHIFT : 0;
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    snprintf(want2, sizeof(want2), ":1\r\n*2\r\n$%zu\r\n%s\r\n*1\r\n$1\r\na\r\n",
             strlen(num), num);
    check_out(__LINE__, "prev + scan", want2, strlen(want2));
}

/* Walks SCAN from cursor 0 holding only the cursor's shard each call;
 * counts how often each of `nkeys` keys "k<i>" comes back. */
static void scan_walk(const char *opts, int nkeys, int *seen, int *calls)
{
    uint64_t cursor = 0;
    *calls = 0;
    do {
        char line[256];
        snprintf(line, sizeof(line), "scan %llu%s", (unsigned long long)cursor, opts);
        home = (uint32_t)(cursor >> CMD_SCAN_SHARD_SHIFT);
        held_mask = 1ull << home;
        exec_line(cmd_scan, line);
        held_mask = ALL_HELD;
        const uint8_t *p = out.data, *end = out.data + out.len;
        CU_ASSERT_FATAL(out.len > 4 && memcmp(p, "*2\r\n$", 5) == 0);
        const uint8_t *e;
        long clen = parse_num(p + 5, end, &e);
        p = e + 2;
        char cbuf[32];
        CU_ASSERT_FATAL(clen > 0 && clen < 32);
        memcpy(cbuf, p, (size_t)clen);
        cbuf[clen] = '\0';
        uint64_t next = strtoull(cbuf, NULL, 10);
        p += clen + 2;
        static char names[4096][32];
        long n = parse_bulk_array(&p, end, names, 4096);
        CU_ASSERT_FATAL(n >= 0 && p == end);
        for (long i = 0; i < n && i < 4096; i++) {
            int idx = atoi(names[i] + 1);
            CU_ASSERT_FATAL(names[i][0] == 'k' && idx >= 0 && idx < nkeys);
            /* Every key comes from the shard the cursor named. */
            CU_ASSERT(shard_of(names[i]) == home);
            seen[idx]++;
        }
        /* The cursor never goes backwards across shards. */
        CU_ASSERT(next == 0 || (next >> CMD_SCAN_SHARD_SHIFT) >= home);
        cursor = next;
        (*calls)++;
    } while (cursor != 0 && *calls < 100000);
    CU_ASSERT(cursor == 0);
}

static void test_scan_all_shards(void)
{
    reset();
    enum { NKEYS = 1000 };
    static int seen[NKEYS];
    int calls;
    /* Empty keyspace: walks the shards and ends. */
    memset(seen, 0, sizeof(seen));
    scan_walk("", NKEYS, seen, &calls);
    CU_ASSERT(calls >= 1 && calls <= NSHARDS);

    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        set_key(k, "v", SHARD_NO_EXPIRE);
    }
    memset(seen, 0, sizeof(seen));
    scan_walk("", NKEYS, seen, &calls);
    for (int i = 0; i < NKEYS; i++)
        CU_ASSERT(seen[i] >= 1);
    CU_ASSERT(calls >= NKEYS / 20); /* COUNT 10 (default) bounds each reply */

    memset(seen, 0, sizeof(seen));
    scan_walk(" COUNT 1000", NKEYS, seen, &calls);
    for (int i = 0; i < NKEYS; i++)
        CU_ASSERT(seen[i] >= 1);
    CU_ASSERT(calls <= 2 * NSHARDS);

    /* MATCH and TYPE filter what is returned, not what is walked. */
    memset(seen, 0, sizeof(seen));
    scan_walk(" match k1?? count 7 type STRING", NKEYS, seen, &calls);
    for (int i = 0; i < NKEYS; i++)
        CU_ASSERT((i >= 100 && i <= 199) ? seen[i] >= 1 : seen[i] == 0);
    memset(seen, 0, sizeof(seen));
    scan_walk(" type hash", NKEYS, seen, &calls);
    for (int i = 0; i < NKEYS; i++)
        CU_ASSERT_EQUAL(seen[i], 0);
    /* Keys that expired are not returned. */
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        set_key(k, "v", T0 + 5);
    }
    now_ms = T0 + 5;
    memset(seen, 0, sizeof(seen));
    scan_walk(" count 100", NKEYS, seen, &calls);
    for (int i = 0; i < NKEYS; i++)
        CU_ASSERT(i < 10 ? seen[i] == 0 : seen[i] >= 1);
}

static void test_scan_errors(void)
{
    reset();
    static const char syn[] = "-ERR syntax error\r\n";
    EXPECT(cmd_scan, "scan 0 count 0", syn);
    EXPECT(cmd_scan, "scan 0 count -5", syn);
    EXPECT(cmd_scan, "scan 0 count abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_scan, "scan 0 match", syn);
    EXPECT(cmd_scan, "scan 0 foo bar", syn);
    EXPECT(cmd_scan, "scan 0 count 10 type", syn);
    EXPECT(cmd_scan, "scan abc", "-ERR invalid cursor\r\n");
    EXPECT(cmd_scan, "scan -1", "-ERR invalid cursor\r\n");
    EXPECT(cmd_scan, "scan 18446744073709551616", "-ERR invalid cursor\r\n");
    /* Repeated options: the last wins. */
    set_key("a", "v", SHARD_NO_EXPIRE);
    home = shard_of("a");
    char line[128];
    snprintf(line, sizeof(line), "scan %llu count 10 count 20 match * match a",
             (unsigned long long)home << CMD_SCAN_SHARD_SHIFT);
    exec_line(cmd_scan, line);
    CU_ASSERT(out.len > 14 && memcmp(out.data + out.len - 11, "*1\r\n$1\r\na\r\n", 11) == 0);
    /* A cursor naming a shard that does not exist ends the iteration. */
    EXPECT(cmd_scan, "scan 18446744073709551615", "*2\r\n$1\r\n0\r\n*0\r\n");
    /* The last shard's end is cursor 0; an earlier shard's moves on. */
    home = NSHARDS - 1;
    snprintf(line, sizeof(line), "scan %llu match nomatch count 100000",
             (unsigned long long)(NSHARDS - 1) << CMD_SCAN_SHARD_SHIFT);
    EXPECT(cmd_scan, line, "*2\r\n$1\r\n0\r\n*0\r\n");
    home = 0;
    EXPECT(cmd_scan, "scan 0 match nomatch count 100000",
           "*2\r\n$15\r\n281474976710656\r\n*0\r\n");
}

static void test_randomkey_dbsize(void)
{
    reset();
    EXPECT(cmd_randomkey, "randomkey", "$-1\r\n");
    proto = 3;
    EXPECT(cmd_randomkey, "randomkey", "_\r\n");
    proto = 2;
    EXPECT(cmd_dbsize, "dbsize", ":0\r\n");
    char k[32];
    key_on(2, "only", k, sizeof(k));
    set_key(k, "v", SHARD_NO_EXPIRE);
    char want[64];
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(k), k);
    for (int i = 0; i < 20; i++) {
        exec_line(cmd_randomkey, "randomkey");
        check_out(__LINE__, "randomkey single", want, strlen(want));
    }
    EXPECT(cmd_dbsize, "dbsize", ":1\r\n");
    /* Many keys: every answer is a key, and more than one shard shows up. */
    for (int i = 0; i < 60; i++) {
        char kk[16];
        snprintf(kk, sizeof(kk), "r%d", i);
        set_key(kk, "v", SHARD_NO_EXPIRE);
    }
    EXPECT(cmd_dbsize, "dbsize", ":61\r\n");
    uint32_t shards_seen = 0;
    for (int i = 0; i < 200; i++) {
        exec_line(cmd_randomkey, "randomkey");
        CU_ASSERT_FATAL(out.len > 4 && out.data[0] == '$');
        const uint8_t *e;
        long len = parse_num(out.data + 1, out.data + out.len, &e);
        char key[32];
        CU_ASSERT_FATAL(len > 0 && len < 32);
        memcpy(key, e + 2, (size_t)len);
        key[len] = '\0';
        CU_ASSERT(shard_find(shards[shard_of(key)], db, hp_slice_make(key, (size_t)len),
                             now_ms) != NULL);
        shards_seen |= 1u << shard_of(key);
    }
    CU_ASSERT_EQUAL(shards_seen, (1u << NSHARDS) - 1);
    /* Only expired keys: nil. */
    reset();
    set_key("x", "v", T0 + 1);
    now_ms = T0 + 1;
    EXPECT(cmd_randomkey, "randomkey", "$-1\r\n");
}

static void test_flush(void)
{
    reset();
    set_key("a", "v", SHARD_NO_EXPIRE);
    set_key("b", "v", SHARD_NO_EXPIRE);
    db = 1;
    set_key("a", "v", SHARD_NO_EXPIRE);
    db = 0;
    EXPECT(cmd_flushdb, "flushdb foo", "-ERR syntax error\r\n");
    EXPECT(cmd_flushdb, "flushdb async sync", "-ERR syntax error\r\n");
    EXPECT(cmd_dbsize, "dbsize", ":2\r\n");
    EXPECT(cmd_flushdb, "flushdb", "+OK\r\n");
    EXPECT(cmd_dbsize, "dbsize", ":0\r\n");
    db = 1;
    EXPECT(cmd_dbsize, "dbsize", ":1\r\n");
    EXPECT(cmd_flushdb, "flushdb ASYNC", "+OK\r\n");
    EXPECT(cmd_dbsize, "dbsize", ":0\r\n");
    set_key("a", "v", SHARD_NO_EXPIRE);
    db = 0;
    set_key("a", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_flushall, "flushall sync async", "-ERR syntax error\r\n");
    EXPECT(cmd_flushall, "flushall bar", "-ERR syntax error\r\n");
    EXPECT(cmd_dbsize, "dbsize", ":1\r\n");
    EXPECT(cmd_flushall, "flushall SYNC", "+OK\r\n");
    EXPECT(cmd_dbsize, "dbsize", ":0\r\n");
    db = 1;
    EXPECT(cmd_dbsize, "dbsize", ":0\r\n");
    EXPECT(cmd_flushall, "flushall", "+OK\r\n");
}

/* ---- expiry ---------------------------------------------------------------------- */

static void test_expire_basic(void)
{
    reset();
    EXPECT(cmd_expire, "expire nokey 10", ":0\r\n");
    EXPECT(cmd_ttl, "ttl nokey", ":-2\r\n");
    EXPECT(cmd_pttl, "pttl nokey", ":-2\r\n");
    EXPECT(cmd_expiretime, "expiretime nokey", ":-2\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime nokey", ":-2\r\n");
    EXPECT(cmd_persist, "persist nokey", ":0\r\n");
    set_key("k", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_pttl, "pttl k", ":-1\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":-1\r\n");
    EXPECT(cmd_persist, "persist k", ":0\r\n");

    EXPECT(cmd_expire, "expire k 10", ":1\r\n");
    EXPECT(cmd_pttl, "pttl k", ":10000\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":1700000010000\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":1700000010\r\n");
    EXPECT(cmd_pexpire, "pexpire k 1499", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":1\r\n");
    EXPECT(cmd_pexpire, "pexpire k 1500", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":2\r\n");
    EXPECT(cmd_expireat, "expireat k 1700000100", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":100\r\n");
    EXPECT(cmd_pexpireat, "pexpireat k 1700000000250", ":1\r\n");
    EXPECT(cmd_pttl, "pttl k", ":250\r\n");
    /* EXPIRETIME rounds to the nearest second, like TTL. */
    EXPECT(cmd_pexpireat, "pexpireat k 99999999999999", ":1\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":100000000000\r\n");
    EXPECT(cmd_pexpireat, "pexpireat k 9223372036854775807", ":1\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":9223372036854775807\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":9223372036854776\r\n");
    EXPECT(cmd_expireat, "expireat k 9223372036854775", ":1\r\n");

    EXPECT(cmd_persist, "persist k", ":1\r\n");
    EXPECT(cmd_persist, "persist k", ":0\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");

    /* The key disappears exactly at its expire time. */
    EXPECT(cmd_pexpire, "pexpire k 100", ":1\r\n");
    now_ms = T0 + 99;
    EXPECT(cmd_pttl, "pttl k", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":0\r\n");
    now_ms = T0 + 100;
    EXPECT(cmd_pttl, "pttl k", ":-2\r\n");
    EXPECT(cmd_persist, "persist k", ":0\r\n");
    EXPECT(cmd_expire, "expire k 10", ":0\r\n");

    /* A time in the past (or zero, or negative) deletes the key. */
    now_ms = T0;
    set_key("d", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_expire, "expire d -1", ":1\r\n");
    EXPECT(cmd_exists, "exists d", ":0\r\n");
    set_key("d", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_pexpire, "pexpire d 0", ":1\r\n");
    EXPECT(cmd_exists, "exists d", ":0\r\n");
    set_key("d", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_expireat, "expireat d 1", ":1\r\n");
    EXPECT(cmd_exists, "exists d", ":0\r\n");
    set_key("d", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_pexpireat, "pexpireat d -9223372036854775808", ":1\r\n");
    EXPECT(cmd_exists, "exists d", ":0\r\n");
}

static void test_expire_errors(void)
{
    reset();
    set_key("y", "v", SHARD_NO_EXPIRE);
    static const char incompat[] =
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    EXPECT(cmd_expire, "expire y 10 nx xx", incompat);
    EXPECT(cmd_expire, "expire y 10 nx gt", incompat);
    EXPECT(cmd_expire, "expire y 10 lt nx", incompat);
    EXPECT(cmd_expire, "expire y 10 gt lt",
           "-ERR GT and LT options at the same time are not compatible\r\n");
    EXPECT(cmd_expire, "expire y 10 xx gt xx", ":0\r\n");
    EXPECT(cmd_expire, "expire y 10 foo", "-ERR Unsupported option foo\r\n");
    EXPECT(cmd_expire, "expire nokey 10 nx bar", "-ERR Unsupported option bar\r\n");
    struct hp_slice argv[4] = {hp_slice_make("expire", 6), hp_slice_make("y", 1),
                               hp_slice_make("10", 2), hp_slice_make("f\r\no\0x", 6)};
    exec_slices(cmd_expire, 4, argv);
    static const char unsup[] = "-ERR Unsupported option f  o\r\n";
    check_out(__LINE__, "expire y 10 'f\\r\\no\\0x'", unsup, sizeof(unsup) - 1);
    EXPECT(cmd_expire, "expire y abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_expire, "expire y 1.5", "-ERR value is not an integer or out of range\r\n");
    /* The options are checked before the number. */
    EXPECT(cmd_expire, "expire y abc foo", "-ERR Unsupported option foo\r\n");
    static const char inv[] = "-ERR invalid expire time in 'expire' command\r\n";
    EXPECT(cmd_expire, "expire y 9223372036854776", inv);
    EXPECT(cmd_expire, "expire y -9223372036854776", inv);
    EXPECT(cmd_expire, "expire y 9223372036854775", inv);
    EXPECT(cmd_pexpire, "pexpire y 9223372036854775807",
           "-ERR invalid expire time in 'pexpire' command\r\n");
    EXPECT(cmd_expireat, "expireat y 9223372036854776",
           "-ERR invalid expire time in 'expireat' command\r\n");
    /* Errors are checked before the key: even a missing key gets them. */
    EXPECT(cmd_pexpire, "pexpire nokey 9223372036854775807",
           "-ERR invalid expire time in 'pexpire' command\r\n");
    EXPECT(cmd_ttl, "ttl y", ":-1\r\n");
}

static void test_expire_nx_xx_gt_lt(void)
{
    reset();
    set_key("p", "v", SHARD_NO_EXPIRE);
    /* No TTL counts as infinite: GT never passes, LT always does. */
    EXPECT(cmd_expire, "expire p 100 gt", ":0\r\n");
    EXPECT(cmd_expire, "expire p 100 xx", ":0\r\n");
    EXPECT(cmd_ttl, "ttl p", ":-1\r\n");
    EXPECT(cmd_expire, "expire p 100 LT", ":1\r\n");
    EXPECT(cmd_ttl, "ttl p", ":100\r\n");
    EXPECT(cmd_expire, "expire p 50 lt", ":1\r\n");
    EXPECT(cmd_expire, "expire p 50 lt", ":0\r\n");
    EXPECT(cmd_expire, "expire p 200 lt", ":0\r\n");
    EXPECT(cmd_ttl, "ttl p", ":50\r\n");
    EXPECT(cmd_expire, "expire p 50 gt", ":0\r\n");
    EXPECT(cmd_expire, "expire p 200 gt", ":1\r\n");
    EXPECT(cmd_expire, "expire p 300 xx", ":1\r\n");
    EXPECT(cmd_expire, "expire p 400 nx", ":0\r\n");
    EXPECT(cmd_ttl, "ttl p", ":300\r\n");
    EXPECT(cmd_expire, "expire p 400 xx gt", ":1\r\n");
    EXPECT(cmd_expire, "expire p 500 xx lt", ":0\r\n");
    EXPECT(cmd_ttl, "ttl p", ":400\r\n");
    EXPECT(cmd_persist, "persist p", ":1\r\n");
    EXPECT(cmd_expire, "expire p 10 nx", ":1\r\n");
    EXPECT(cmd_ttl, "ttl p", ":10\r\n");
    /* XX on a key with TTL and a time in the past: deleted. */
    EXPECT(cmd_expire, "expire p -1 xx", ":1\r\n");
    EXPECT(cmd_exists, "exists p", ":0\r\n");
    /* LT with a past time on a non-volatile key: deleted too. */
    set_key("q", "v", SHARD_NO_EXPIRE);
    EXPECT(cmd_expire, "expire q 0 xx", ":0\r\n");
    EXPECT(cmd_expire, "expire q -1 lt", ":1\r\n");
    EXPECT(cmd_exists, "exists q", ":0\r\n");
}

/* Allocation failures leave keys, values and TTLs as they were. */
static void test_out_of_memory(void)
{
    reset();
    static const char oom[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    for (uint32_t target = 0; target < NSHARDS; target++) {
        char src[32], dst[32], line[256];
        key_on(0, "src", src, sizeof(src));
        key_on(target, "dst", dst, sizeof(dst));
        set_key(src, "payload", T0 + 7000);
        set_key(dst, "old", SHARD_NO_EXPIRE);
        shard_debug_fail_allocs(shards[target], 0);
        snprintf(line, sizeof(line), "rename %s %s", src, dst);
        EXPECT(cmd_rename, line, oom);
        shard_debug_fail_allocs(shards[target], UINT64_MAX);
        snprintf(line, sizeof(line), "pttl %s", src);
        EXPECT(cmd_pttl, line, ":7000\r\n");
        snprintf(line, sizeof(line), "type %s", dst);
        EXPECT(cmd_type, line, "+string\r\n");
        snprintf(line, sizeof(line), "pttl %s", dst);
        EXPECT(cmd_pttl, line, ":-1\r\n");
        struct entry *e = shard_find(shards[target], db, hp_slice_make(dst, strlen(dst)), now_ms);
        CU_ASSERT_FATAL(e != NULL);
        CU_ASSERT(entry_str(e).len == 3 && memcmp(entry_str(e).ptr, "old", 3) == 0);
    }
    set_key("k", "v", SHARD_NO_EXPIRE);
    fail_allocs(0);
    EXPECT(cmd_expire, "expire k 10", oom);
    EXPECT(cmd_pexpireat, "pexpireat k 1800000000000", oom);
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    /* Deleting and reading need no memory. */
    EXPECT(cmd_expire, "expire k 0", ":1\r\n");
    EXPECT(cmd_exists, "exists k", ":0\r\n");
    fail_allocs(UINT64_MAX);
}

/* The client part is registered once (by table_suite_init); a second
 * registration is refused and changes nothing. */
static void test_table_register_once(void)
{
    size_t n, n2;
    (void)cmd_table(&n);
    CU_ASSERT_EQUAL(server_cmds_register(), -1);
    (void)cmd_table(&n2);
    CU_ASSERT_EQUAL(n2, n);
    CU_ASSERT_PTR_NOT_NULL(cmd_lookup((const uint8_t *)"PING", 4));
}

/* Before the client part is registered only keyed commands are found. */
static int table_suite_init(void)
{
    if (cmd_lookup((const uint8_t *)"ping", 4) != NULL)
        return 1;
    if (cmd_lookup((const uint8_t *)"get", 3) == NULL)
        return 1;
    if (server_cmds_register() != 0)
        return 1;
    return suite_init();
}

static CU_TestInfo table_tests[] = {
    {"every name found in any case", test_table_found},
    {"every handler listed once", test_table_complete},
    {"arity, flags, key specs", test_table_specs},
    {"unknown-command and arity errors", test_reply_unknown_and_arity},
    {"client part registered once", test_table_register_once},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo keys_tests[] = {
    {"del/unlink/exists/touch/type", test_del_exists_touch_type},
    {"rename across shards", test_rename},
    {"keys", test_keys},
    {"keys/scan header after earlier replies", test_header_after_earlier_replies},
    {"scan walks every shard", test_scan_all_shards},
    {"scan errors and cursors", test_scan_errors},
    {"randomkey/dbsize", test_randomkey_dbsize},
    {"flushdb/flushall", test_flush},
    {"expire/ttl basics", test_expire_basic},
    {"expire errors", test_expire_errors},
    {"expire nx/xx/gt/lt", test_expire_nx_xx_gt_lt},
    {"out of memory", test_out_of_memory},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_table", table_suite_init, suite_clean, NULL, NULL, table_tests},
    {"cmd_keys", suite_init, suite_clean, NULL, NULL, keys_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
