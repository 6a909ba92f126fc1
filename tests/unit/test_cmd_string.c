/*
 * test_cmd_string.c - string commands over real shards: exact RESP bytes of
 * every reply and error, expiry driven by explicit now_ms values.
 *
 * The harness runs handlers the way the dataplane does (exec_ctx with
 * three shards, every shard held) without any runtime around them.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../dataplane/commands/cmd.h"
#include "cu_main.h"

#include "exec_harness.h"

static struct entry *find(const char *key)
{
    struct hp_slice k = hp_slice_make(key, strlen(key));
    uint32_t id = slot_map[slot_of_key(k.ptr, k.len)];
    return shard_find(shards[id], db, k, now_ms);
}

/* ---- GET / SET --------------------------------------------------------------- */

static void test_get_set_basic(void)
{
    reset();
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");
    EXPECT(cmd_set, "set k hello", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$5\r\nhello\r\n");
    EXPECT(cmd_set, "set e \"\"", "+OK\r\n");
    EXPECT(cmd_get, "get e", "$0\r\n\r\n");
    proto = 3;
    EXPECT(cmd_get, "get missing", "_\r\n");
    proto = 2;

    /* Binary-safe keys and values. */
    struct hp_slice argv[3] = {hp_slice_make("set", 3), hp_slice_make("a\0b", 3),
                               hp_slice_make("x\0\r\ny", 5)};
    exec_slices(cmd_set, 3, argv);
    check_out(__LINE__, "set binary", "+OK\r\n", 5);
    struct hp_slice gargv[2] = {hp_slice_make("get", 3), hp_slice_make("a\0b", 3)};
    exec_slices(cmd_get, 2, gargv);
    check_out(__LINE__, "get binary", "$5\r\nx\0\r\ny\r\n", 11);
    struct hp_slice g2[2] = {hp_slice_make("get", 3), hp_slice_make("a", 1)};
    exec_slices(cmd_get, 2, g2);
    check_out(__LINE__, "get prefix of binary key", "$-1\r\n", 5);
}

static void test_set_expire_options(void)
{
    reset();
    EXPECT(cmd_set, "set k v ex 10", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":10000\r\n");
    EXPECT(cmd_set, "set k v PX 1500", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":1500\r\n");
    EXPECT(cmd_set, "set k v exat 1700000100", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":100000\r\n");
    EXPECT(cmd_set, "set k v pxat 1700000000123", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":123\r\n");
    /* Repeating an option: the last one wins. */
    EXPECT(cmd_set, "set k v ex 10 ex 20", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":20\r\n");
    /* A plain SET drops the TTL; KEEPTTL keeps it. */
    EXPECT(cmd_set, "set k v2 keepttl", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":20\r\n");
    EXPECT(cmd_set, "set k v3", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    /* KEEPTTL on a new key: no TTL. */
    EXPECT(cmd_set, "set n v keepttl", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl n", ":-1\r\n");

    /* Expiry is lazy and exact at the boundary. */
    EXPECT(cmd_set, "set t v px 100", "+OK\r\n");
    now_ms = T0 + 99;
    EXPECT(cmd_get, "get t", "$1\r\nv\r\n");
    now_ms = T0 + 100;
    EXPECT(cmd_get, "get t", "$-1\r\n");
    now_ms = T0;

    /* EXAT/PXAT in the past: accepted, the key is gone at once. */
    EXPECT(cmd_set, "set p v exat 1", "+OK\r\n");
    EXPECT(cmd_get, "get p", "$-1\r\n");
    EXPECT(cmd_set, "set p v pxat 1700000000000", "+OK\r\n");
    EXPECT(cmd_get, "get p", "$-1\r\n");
    /* Far future absolute times are fine without overflow. */
    EXPECT(cmd_set, "set f v pxat 9223372036854775807", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime f", ":9223372036854775807\r\n");
    EXPECT(cmd_set, "set f v exat 9223372036854775", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime f", ":9223372036854775000\r\n");
}

static void test_set_invalid_expire(void)
{
    reset();
    static const char inv[] = "-ERR invalid expire time in 'set' command\r\n";
    EXPECT(cmd_set, "set k v ex 0", inv);
    EXPECT(cmd_set, "set k v ex -1", inv);
    EXPECT(cmd_set, "set k v px 0", inv);
    EXPECT(cmd_set, "set k v exat 0", inv);
    EXPECT(cmd_set, "set k v pxat -5", inv);
    /* Seconds that overflow when turned into ms, relative or absolute. */
    EXPECT(cmd_set, "set k v ex 9223372036854776", inv);
    EXPECT(cmd_set, "set k v exat 9223372036854776", inv);
    /* In range in ms, but now + ms overflows. */
    EXPECT(cmd_set, "set k v ex 9223372036854775", inv);
    EXPECT(cmd_set, "set k v px 9223372036854775807", inv);
    EXPECT(cmd_set, "set k v ex abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set k v px 1.5", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set k v ex 99999999999999999999",
           "-ERR value is not an integer or out of range\r\n");
    /* Nothing was written by any of them. */
    EXPECT(cmd_get, "get k", "$-1\r\n");
}

static void test_set_syntax_errors(void)
{
    reset();
    static const char syn[] = "-ERR syntax error\r\n";
    EXPECT(cmd_set, "set k v nx xx", syn);
    EXPECT(cmd_set, "set k v xx nx", syn);
    EXPECT(cmd_set, "set k v ex 10 px 10", syn);
    EXPECT(cmd_set, "set k v px 10 exat 10", syn);
    EXPECT(cmd_set, "set k v pxat 10 ex 10", syn);
    EXPECT(cmd_set, "set k v keepttl ex 10", syn);
    EXPECT(cmd_set, "set k v ex 10 keepttl", syn);
    EXPECT(cmd_set, "set k v persist", syn);
    EXPECT(cmd_set, "set k v ex", syn);
    EXPECT(cmd_set, "set k v foo", syn);
    EXPECT(cmd_set, "set k v nx get xx", syn);
    EXPECT(cmd_set, "set k v exx 10", syn);
    EXPECT(cmd_get, "get k", "$-1\r\n");
    /* Not errors: repeats and NX with GET (allowed since 7.0). */
    EXPECT(cmd_set, "set k v nx nx", "+OK\r\n");
    EXPECT(cmd_set, "set k v keepttl keepttl", "+OK\r\n");
    EXPECT(cmd_set, "set k v2 get get", "$1\r\nv\r\n");
}

static void test_set_nx_xx_get(void)
{
    reset();
    EXPECT(cmd_set, "set k v xx", "$-1\r\n");
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_set, "set k v NX", "+OK\r\n");
    EXPECT(cmd_set, "set k w nx", "$-1\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");
    EXPECT(cmd_set, "set k w xx", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nw\r\n");
    /* GET replies the old value whether or not the write happens. */
    EXPECT(cmd_set, "set k x get", "$1\r\nw\r\n");
    EXPECT(cmd_set, "set k y get nx", "$1\r\nx\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nx\r\n");
    EXPECT(cmd_set, "set n y get nx", "$-1\r\n");
    EXPECT(cmd_get, "get n", "$1\r\ny\r\n");
    EXPECT(cmd_set, "set m y get xx", "$-1\r\n");
    EXPECT(cmd_get, "get m", "$-1\r\n");
    /* GET with an expire option, and KEEPTTL with XX. */
    EXPECT(cmd_set, "set k z get ex 5", "$1\r\nx\r\n");
    EXPECT(cmd_ttl, "ttl k", ":5\r\n");
    EXPECT(cmd_set, "set k q xx keepttl", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":5\r\n");
    proto = 3;
    EXPECT(cmd_set, "set k v nx", "_\r\n");
    EXPECT(cmd_set, "set none v get", "_\r\n");
}

static void test_setnx_setex_psetex(void)
{
    reset();
    EXPECT(cmd_setnx, "setnx k v", ":1\r\n");
    EXPECT(cmd_setnx, "setnx k w", ":0\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");

    EXPECT(cmd_setex, "setex k 10 w", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nw\r\n");
    EXPECT(cmd_pttl, "pttl k", ":10000\r\n");
    EXPECT(cmd_psetex, "psetex k 2500 x", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":2500\r\n");
    EXPECT(cmd_setex, "setex k 0 v", "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_setex, "setex k -3 v", "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_setex, "setex k 9223372036854775 v",
           "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_psetex, "psetex k -1 v", "-ERR invalid expire time in 'psetex' command\r\n");
    EXPECT(cmd_setex, "setex k abc v", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nx\r\n");
    /* An expired key is absent for SETNX. */
    now_ms = T0 + 2500;
    EXPECT(cmd_setnx, "setnx k y", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
}

static void test_getset_getdel(void)
{
    reset();
    EXPECT(cmd_getset, "getset k v", "$-1\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");
    EXPECT(cmd_set, "set k v ex 100", "+OK\r\n");
    EXPECT(cmd_getset, "getset k w", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nw\r\n");

    EXPECT(cmd_getdel, "getdel k", "$1\r\nw\r\n");
    EXPECT(cmd_getdel, "getdel k", "$-1\r\n");
    EXPECT(cmd_exists, "exists k", ":0\r\n");
    proto = 3;
    EXPECT(cmd_getdel, "getdel k", "_\r\n");
    EXPECT(cmd_getset, "getset k v", "_\r\n");
}

static void test_getex(void)
{
    reset();
    EXPECT(cmd_getex, "getex k", "$-1\r\n");
    /* A missing key replies nil before the expire value is checked... */
    EXPECT(cmd_getex, "getex k ex 0", "$-1\r\n");
    /* ...but not before the syntax is. */
    EXPECT(cmd_getex, "getex k foo", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_getex, "getex k", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_getex, "getex k ex 10", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":10\r\n");
    EXPECT(cmd_getex, "getex k px 2000", "$1\r\nv\r\n");
    EXPECT(cmd_pttl, "pttl k", ":2000\r\n");
    EXPECT(cmd_getex, "getex k exat 1700000050", "$1\r\nv\r\n");
    EXPECT(cmd_pttl, "pttl k", ":50000\r\n");
    EXPECT(cmd_getex, "getex k pxat 1700000000777", "$1\r\nv\r\n");
    EXPECT(cmd_pttl, "pttl k", ":777\r\n");
    EXPECT(cmd_getex, "getex k ex 10 ex 20", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":20\r\n");
    EXPECT(cmd_getex, "getex k persist", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_getex, "getex k persist persist", "$1\r\nv\r\n");

    static const char syn[] = "-ERR syntax error\r\n";
    EXPECT(cmd_getex, "getex k persist ex 10", syn);
    EXPECT(cmd_getex, "getex k ex 10 persist", syn);
    EXPECT(cmd_getex, "getex k ex 10 px 10", syn);
    EXPECT(cmd_getex, "getex k nx", syn);
    EXPECT(cmd_getex, "getex k xx", syn);
    EXPECT(cmd_getex, "getex k get", syn);
    EXPECT(cmd_getex, "getex k keepttl", syn);
    EXPECT(cmd_getex, "getex k ex", syn);
    EXPECT(cmd_getex, "getex k ex 0", "-ERR invalid expire time in 'getex' command\r\n");
    EXPECT(cmd_getex, "getex k px 9223372036854775807",
           "-ERR invalid expire time in 'getex' command\r\n");
    EXPECT(cmd_getex, "getex k ex x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_getex, "getex nokey ex x", "$-1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");

    /* An absolute time already past: value replied, key deleted. */
    EXPECT(cmd_getex, "getex k exat 1", "$1\r\nv\r\n");
    EXPECT(cmd_exists, "exists k", ":0\r\n");
}

/* ---- multi-key ---------------------------------------------------------- */

static void test_mget_mset(void)
{
    reset();
    char a[32], b[32], c[32], line[256];
    key_on(0, "a", a, sizeof(a));
    key_on(1, "b", b, sizeof(b));
    key_on(2, "c", c, sizeof(c));
    snprintf(line, sizeof(line), "mset %s 1 %s 22 %s 333", a, b, c);
    EXPECT(cmd_mset, line, "+OK\r\n");
    snprintf(line, sizeof(line), "mget %s nokey %s %s %s", a, b, c, a);
    EXPECT(cmd_mget, line, "*5\r\n$1\r\n1\r\n$-1\r\n$2\r\n22\r\n$3\r\n333\r\n$1\r\n1\r\n");
    proto = 3;
    EXPECT(cmd_mget, "mget nokey", "*1\r\n_\r\n");
    proto = 2;
    EXPECT(cmd_mset, "mset a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n");
    EXPECT(cmd_mget, "mget a b", "*2\r\n$-1\r\n$-1\r\n");
    /* MSET drops TTLs; a repeated key takes the last value. */
    EXPECT(cmd_set, "set k v ex 100", "+OK\r\n");
    EXPECT(cmd_mset, "mset k 1 k 2", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$1\r\n2\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
}

static void test_msetnx_atomic(void)
{
    reset();
    char a[32], b[32], c[32], line[256];
    key_on(0, "a", a, sizeof(a));
    key_on(1, "b", b, sizeof(b));
    key_on(2, "c", c, sizeof(c));
    EXPECT(cmd_msetnx, "msetnx a 1 b", "-ERR wrong number of arguments for 'msetnx' command\r\n");
    snprintf(line, sizeof(line), "set %s old", c);
    EXPECT(cmd_set, line, "+OK\r\n");
    /* One existing key (on another shard, last in argv): nothing is set. */
    snprintf(line, sizeof(line), "msetnx %s 1 %s 2 %s 3", a, b, c);
    EXPECT(cmd_msetnx, line, ":0\r\n");
    snprintf(line, sizeof(line), "mget %s %s %s", a, b, c);
    EXPECT(cmd_mget, line, "*3\r\n$-1\r\n$-1\r\n$3\r\nold\r\n");
    snprintf(line, sizeof(line), "msetnx %s 1 %s 2", a, b);
    EXPECT(cmd_msetnx, line, ":1\r\n");
    snprintf(line, sizeof(line), "mget %s %s", a, b);
    EXPECT(cmd_mget, line, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    /* An expired key does not block it. */
    snprintf(line, sizeof(line), "set %s v px 10", c);
    EXPECT(cmd_set, line, "+OK\r\n");
    now_ms = T0 + 10;
    snprintf(line, sizeof(line), "msetnx %s 3 x 4", c);
    EXPECT(cmd_msetnx, line, ":1\r\n");
    /* A key named twice in one MSETNX: both absent, last value wins. */
    EXPECT(cmd_msetnx, "msetnx d 1 d 2", ":1\r\n");
    EXPECT(cmd_get, "get d", "$1\r\n2\r\n");
}

/* ---- in-place edits ------------------------------------------------------ */

static void test_append_strlen(void)
{
    reset();
    EXPECT(cmd_strlen, "strlen k", ":0\r\n");
    EXPECT(cmd_append, "append k hello", ":5\r\n");
    EXPECT(cmd_append, "append k \"\"", ":5\r\n");
    EXPECT(cmd_append, "append k _world", ":11\r\n");
    EXPECT(cmd_get, "get k", "$11\r\nhello_world\r\n");
    EXPECT(cmd_strlen, "strlen k", ":11\r\n");
    /* APPEND keeps the TTL. */
    EXPECT(cmd_pexpire, "pexpire k 5000", ":1\r\n");
    EXPECT(cmd_append, "append k !", ":12\r\n");
    EXPECT(cmd_pttl, "pttl k", ":5000\r\n");
    /* proto-max-bulk-len bounds the result, not a new key's value. */
    max_bulk = 14;
    EXPECT(cmd_append, "append k ab", ":14\r\n");
    EXPECT(cmd_append, "append k c",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    EXPECT(cmd_strlen, "strlen k", ":14\r\n");
    EXPECT(cmd_append, "append n 0123456789abcdefgh", ":18\r\n");
}

static void test_getrange(void)
{
    reset();
    EXPECT(cmd_getrange, "getrange k 0 -1", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange k a 1", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set s hello", "+OK\r\n");
    EXPECT(cmd_getrange, "getrange s 0 -1", "$5\r\nhello\r\n");
    EXPECT(cmd_getrange, "getrange s 1 3", "$3\r\nell\r\n");
    EXPECT(cmd_getrange, "getrange s -3 -2", "$2\r\nll\r\n");
    EXPECT(cmd_getrange, "getrange s -100 100", "$5\r\nhello\r\n");
    EXPECT(cmd_getrange, "getrange s 3 1", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s -1 -5", "$0\r\n\r\n");
    /* Both negative and start > end: empty, even though clamping both to 0
     * would give "h" (checked against redis-server 7.0). */
    EXPECT(cmd_getrange, "getrange s -10 -20", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s -20 -10", "$1\r\nh\r\n");
    EXPECT(cmd_getrange, "getrange s 0 -100", "$1\r\nh\r\n");
    EXPECT(cmd_getrange, "getrange s 5 10", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s 4 9223372036854775807", "$1\r\no\r\n");
    EXPECT(cmd_getrange, "getrange s -9223372036854775808 0", "$1\r\nh\r\n");
    EXPECT(cmd_getrange, "getrange s 0 x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set e \"\"", "+OK\r\n");
    EXPECT(cmd_getrange, "getrange e 0 0", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange e -1 -1", "$0\r\n\r\n");
}

static void test_setrange(void)
{
    reset();
    EXPECT(cmd_setrange, "setrange k -1 x", "-ERR offset is out of range\r\n");
    EXPECT(cmd_setrange, "setrange k a x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_setrange, "setrange k 0 \"\"", ":0\r\n");
    EXPECT(cmd_exists, "exists k", ":0\r\n");
    EXPECT(cmd_setrange, "setrange k 3 ab", ":5\r\n");
    struct hp_slice gargv[2] = {hp_slice_make("get", 3), hp_slice_make("k", 1)};
    exec_slices(cmd_get, 2, gargv);
    check_out(__LINE__, "get zero-padded", "$5\r\n\0\0\0ab\r\n", 11);
    EXPECT(cmd_set, "set s hello", "+OK\r\n");
    EXPECT(cmd_setrange, "setrange s 1 ipp", ":5\r\n");
    EXPECT(cmd_get, "get s", "$5\r\nhippo\r\n");
    EXPECT(cmd_setrange, "setrange s 4 os!", ":7\r\n");
    EXPECT(cmd_get, "get s", "$7\r\nhippos!\r\n");
    EXPECT(cmd_setrange, "setrange s 100 \"\"", ":7\r\n");
    /* SETRANGE keeps the TTL. */
    EXPECT(cmd_expire, "expire s 100", ":1\r\n");
    EXPECT(cmd_setrange, "setrange s 0 H", ":7\r\n");
    EXPECT(cmd_ttl, "ttl s", ":100\r\n");

    max_bulk = 10;
    static const char big[] = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    EXPECT(cmd_setrange, "setrange s 9 x", ":10\r\n");
    EXPECT(cmd_setrange, "setrange s 10 x", big);
    EXPECT(cmd_setrange, "setrange n 8 xyz", big);
    EXPECT(cmd_setrange, "setrange n 9223372036854775807 x", big);
    EXPECT(cmd_exists, "exists n", ":0\r\n");
    EXPECT(cmd_strlen, "strlen s", ":10\r\n");
}

/* ---- counters --------------------------------------------------------------- */

static void test_incr_decr(void)
{
    reset();
    static const char notint[] = "-ERR value is not an integer or out of range\r\n";
    static const char ovf[] = "-ERR increment or decrement would overflow\r\n";
    EXPECT(cmd_incr, "incr n", ":1\r\n");
    EXPECT(cmd_incr, "incr n", ":2\r\n");
    EXPECT(cmd_decr, "decr n", ":1\r\n");
    EXPECT(cmd_decr, "decr m", ":-1\r\n");
    EXPECT(cmd_incrby, "incrby n 41", ":42\r\n");
    EXPECT(cmd_decrby, "decrby n 50", ":-8\r\n");
    EXPECT(cmd_get, "get n", "$2\r\n-8\r\n");
    EXPECT(cmd_incrby, "incrby n abc", notint);
    EXPECT(cmd_incrby, "incrby n 1.5", notint);
    EXPECT(cmd_decrby, "decrby n -9223372036854775808", "-ERR decrement would overflow\r\n");
    EXPECT(cmd_decrby, "decrby n -8", ":0\r\n");

    EXPECT(cmd_set, "set n 9223372036854775807", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", ovf);
    EXPECT(cmd_incrby, "incrby n 0", ":9223372036854775807\r\n");
    EXPECT(cmd_set, "set n -9223372036854775808", "+OK\r\n");
    EXPECT(cmd_decr, "decr n", ovf);
    EXPECT(cmd_incrby, "incrby n -1", ovf);
    EXPECT(cmd_decrby, "decrby n 9223372036854775807", ovf);
    EXPECT(cmd_incrby, "incrby n 9223372036854775807", ":-1\r\n");

    struct hp_slice sp[3] = {hp_slice_make("set", 3), hp_slice_make("n", 1),
                             hp_slice_make(" 1", 2)};
    exec_slices(cmd_set, 3, sp);
    EXPECT(cmd_incr, "incr n", notint);
    EXPECT(cmd_set, "set n 01", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", notint);
    EXPECT(cmd_set, "set n abc", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", notint);
    EXPECT(cmd_set, "set n \"\"", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", notint);
    EXPECT(cmd_get, "get n", "$0\r\n\r\n");

    /* INCR keeps the TTL; a value that shrinks is rewritten exactly. */
    EXPECT(cmd_set, "set t 1000 ex 50", "+OK\r\n");
    EXPECT(cmd_decrby, "decrby t 995", ":5\r\n");
    EXPECT(cmd_get, "get t", "$1\r\n5\r\n");
    EXPECT(cmd_ttl, "ttl t", ":50\r\n");
}

static void test_incrbyfloat(void)
{
    reset();
    static const char notfloat[] = "-ERR value is not a valid float\r\n";
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 1e20", "$21\r\n100000000000000000000\r\n");
    EXPECT(cmd_set, "set f 1.5", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 0.1", "$3\r\n1.6\r\n");
    EXPECT(cmd_get, "get f", "$3\r\n1.6\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f -1.6", "$1\r\n0\r\n");
    EXPECT(cmd_set, "set f 5.0e3", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 0", "$4\r\n5000\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 0x10", "$4\r\n5016\r\n");
    EXPECT(cmd_set, "set f 3.0", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 1e-20", "$1\r\n3\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f -0.0", "$1\r\n3\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f abc", notfloat);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f nan", notfloat);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f \"\"", notfloat);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f inf",
           "-ERR increment would produce NaN or Infinity\r\n");
    EXPECT(cmd_get, "get f", "$1\r\n3\r\n");
    EXPECT(cmd_set, "set g abc", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat g 1", notfloat);
    /* Keeps the TTL. */
    EXPECT(cmd_set, "set t 1 px 3000", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat t 2.25", "$4\r\n3.25\r\n");
    EXPECT(cmd_pttl, "pttl t", ":3000\r\n");

    struct hp_slice argv[3] = {hp_slice_make("incrbyfloat", 11), hp_slice_make("f", 1),
                               hp_slice_make(" 1", 2)};
    exec_slices(cmd_incrbyfloat, 3, argv);
    check_out(__LINE__, "incrbyfloat f ' 1'", notfloat, sizeof(notfloat) - 1);
}

/* Handlers honour the db in the context. */
static void test_databases(void)
{
    reset();
    EXPECT(cmd_set, "set k db0", "+OK\r\n");
    db = 5;
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_set, "set k db5", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$3\r\ndb5\r\n");
    db = 0;
    EXPECT(cmd_get, "get k", "$3\r\ndb0\r\n");
    CU_ASSERT_PTR_NOT_NULL(find("k"));
}

#define LONGV "a-value-far-too-long-to-be-rewritten-in-place-xxxxxxxxxxxxxxxxxxxxxxxxxx"

/* Allocation failures: one OOM error, nothing changed, no partial reply. */
static void test_out_of_memory(void)
{
    reset();
    static const char oom[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    EXPECT(cmd_set, "set k old", "+OK\r\n");
    fail_allocs(0);
    EXPECT(cmd_set, "set n v", oom);
    EXPECT(cmd_set, "set k " LONGV, oom);
    /* The old value SET ... GET had already appended is taken back. */
    EXPECT(cmd_set, "set k " LONGV " get", oom);
    EXPECT(cmd_set, "set k " LONGV " get ex 10", oom);
    EXPECT(cmd_getset, "getset k " LONGV, oom);
    EXPECT(cmd_setnx, "setnx n v", oom);
    EXPECT(cmd_setex, "setex n 10 v", oom);
    EXPECT(cmd_psetex, "psetex n 10 v", oom);
    EXPECT(cmd_append, "append k " LONGV, oom);
    EXPECT(cmd_append, "append n v", oom);
    EXPECT(cmd_setrange, "setrange k 100 x", oom);
    EXPECT(cmd_incr, "incr n", oom);
    EXPECT(cmd_incrbyfloat, "incrbyfloat n 1.5", oom);
    EXPECT(cmd_mset, "mset n 1 m 2", oom);
    EXPECT(cmd_msetnx, "msetnx n 1 m 2", oom);
    EXPECT(cmd_getex, "getex k ex 10", oom);
    /* Reads still work. */
    EXPECT(cmd_get, "get k", "$3\r\nold\r\n");
    fail_allocs(UINT64_MAX);
    EXPECT(cmd_get, "get k", "$3\r\nold\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_exists, "exists n m", ":0\r\n");

    /* MSETNX over three shards, the last one out of memory: the keys
     * already written on the other shards are taken back. */
    char a[32], b[32], c[32], line[256];
    key_on(0, "a", a, sizeof(a));
    key_on(1, "b", b, sizeof(b));
    key_on(2, "c", c, sizeof(c));
    shard_debug_fail_allocs(shards[2], 0);
    snprintf(line, sizeof(line), "msetnx %s 1 %s 2 %s 3", a, b, c);
    EXPECT(cmd_msetnx, line, oom);
    shard_debug_fail_allocs(shards[2], UINT64_MAX);
    snprintf(line, sizeof(line), "exists %s %s %s", a, b, c);
    EXPECT(cmd_exists, line, ":0\r\n");
    snprintf(line, sizeof(line), "msetnx %s 1 %s 2 %s 3", a, b, c);
    EXPECT(cmd_msetnx, line, ":1\r\n");
}

static CU_TestInfo string_tests[] = {
    {"get/set basic", test_get_set_basic},
    {"set expire options", test_set_expire_options},
    {"set invalid expire", test_set_invalid_expire},
    {"set syntax errors", test_set_syntax_errors},
    {"set nx/xx/get", test_set_nx_xx_get},
    {"setnx/setex/psetex", test_setnx_setex_psetex},
    {"getset/getdel", test_getset_getdel},
    {"getex", test_getex},
    {"mget/mset", test_mget_mset},
    {"msetnx atomicity", test_msetnx_atomic},
    {"append/strlen", test_append_strlen},
    {"getrange", test_getrange},
    {"setrange", test_setrange},
    {"incr/decr", test_incr_decr},
    {"incrbyfloat", test_incrbyfloat},
    {"databases", test_databases},
    {"out of memory", test_out_of_memory},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_string", suite_init, suite_clean, NULL, NULL, string_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
