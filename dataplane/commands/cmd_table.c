/*
 * cmd_table.c - the command table: Redis 7.0's arity, flags, ACL
 * categories, tips and key specs for every command hotpath serves, plus the
 * text COMMAND DOCS prints, and the two errors the dispatcher replies
 * before a handler runs.
 *
 * Lookup runs once per request, so it is a switch on (length, first
 * letter) followed by one or two fixed-size compares that the compiler
 * turns into integer compares; no table walk and no strcasecmp.  Table
 * slots are named by cmd.h's handler lists (an entry for anything else does
 * not compile) and the unit tests prove every slot is filled and found.
 *
 * This file holds the keyed part (handlers of this folder).  The client
 * commands (PING, HELLO, INFO, ...) need the runtime, so their part lives
 * above it (dataplane/server/cmd_table_client.c) and is registered once at
 * start-up with cmd_table_register_client(): nothing here names a symbol of
 * a higher library.
 */
#include "cmd.h"

#include <string.h>

/* One slot per keyed handler of cmd.h, in that order. */
enum cmd_index {
#define CMD_INDEX(n) CMD_IX_##n,
    HP_EXEC_HANDLERS(CMD_INDEX)
#undef CMD_INDEX
    CMD_COUNT
};

#define CMD_SPEC(n, ar, fl, knd, ex, cl, sum, grp, sn, ...)                   \
    [CMD_IX_##n] = {.name = #n, .arity = ar, .flags = fl, .kind = knd, .exec = ex, \
                    .client = cl, .summary = sum, .group = grp, .since = sn,   \
                    __VA_ARGS__}
#define KEYED(n, ar, fl, sum, grp, sn, ...)                                    \
    CMD_SPEC(n, ar, fl, CMD_KIND_KEYED, cmd_##n, NULL, sum, grp, sn, __VA_ARGS__)
#define ALLSHARDS(n, ar, fl, sum, grp, sn, ...)                                \
    CMD_SPEC(n, ar, fl, CMD_KIND_ALLSHARDS, cmd_##n, NULL, sum, grp, sn, __VA_ARGS__)
#define SCAN(n, ar, fl, sum, grp, sn, ...)                                     \
    CMD_SPEC(n, ar, fl, CMD_KIND_SCAN, cmd_##n, NULL, sum, grp, sn, __VA_ARGS__)

#define ACL(cats) .acl = cats
#define TIPS(t) .tips = t
#define INFO_FLAGS(f) .info_flags = f
#define KEYS1(a) .key_specs = {a}, .nkey_specs = 1
#define KEYS2(a, b) .key_specs = {a, b}, .nkey_specs = 2
/* Keys from argv[idx] to relative `last` (or from the end when < 0). */
#define KS_RANGE(fl, idx, last, step)                                          \
    {.flags = fl, .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = idx},           \
     .find = CMD_KS_FIND_RANGE, .fk = {.range = {last, step, 0}}}
/* Keys counted by argv[idx + numidx], from argv[idx + first] every `step`. */
#define KS_KEYNUM(fl, idx, numidx, first, step)                               \
    {.flags = fl, .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = idx},           \
     .find = CMD_KS_FIND_KEYNUM, .fk = {.keynum = {numidx, first, step}}}
#define KS_RANGE_NOTE(note, fl, idx, last, step)                               \
    {.notes = note, .flags = fl, .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = idx}, \
     .find = CMD_KS_FIND_RANGE, .fk = {.range = {last, step, 0}}}

enum {
    W = CMD_WRITE,
    R = CMD_READONLY,
    M = CMD_DENYOOM,
    F = CMD_FAST,
    LS = CMD_LOADING | CMD_STALE,
    NS = CMD_NOSCRIPT,
};

/* Key spec flags, Redis' names. */
enum {
    KRO = CMD_KEY_RO,
    KRW = CMD_KEY_RW,
    KOW = CMD_KEY_OW,
    KRM = CMD_KEY_RM,
    KAC = CMD_KEY_ACCESS,
    KUP = CMD_KEY_UPDATE,
    KIN = CMD_KEY_INSERT,
    KDE = CMD_KEY_DELETE,
    KVF = CMD_KEY_VARIABLE_FLAGS,
};

/* SET's key: read (RW + ACCESS) only with GET, else overwritten (Redis'
 * setGetKeys; the argument compare stops at a NUL byte as Redis' does). */
static uint32_t set_key_flags(int ix, int argc, const struct hp_slice *argv)
{
    HP_ASSERT(ix == 0);
    for (int i = 3; i < argc; i++) {
        const uint8_t *a = argv[i].ptr;
        if (argv[i].len >= 3 && (a[0] | 0x20) == 'g' && (a[1] | 0x20) == 'e' &&
            (a[2] | 0x20) == 't' && (argv[i].len == 3 || a[3] == 0))
            return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
    }
    return CMD_KEY_OW | CMD_KEY_UPDATE;
}

/* Arity, flags, ACL categories, tips and key specs: Redis 7.0.15's COMMAND
 * INFO, summary/group/since: its COMMAND DOCS (tests/e2e/test_command_info.py
 * compares every entry with a running redis-server). */
/* The whole table: the keyed part below, then the client part that
 * cmd_table_register_client() copies in at start-up, before any worker runs
 * (read-only afterwards).  One array, so COMMAND lists every command and
 * cmd_lookup answers pointers into it whichever part a command is in. */
static struct cmd_spec cmd_specs[CMD_COUNT + CMD_CLIENT_MAX] = {
    KEYED(del, -2, W, "Delete a key", "generic", "1.0.0",
          ACL("@keyspace @write @slow"),
          TIPS("request_policy:multi_shard response_policy:agg_sum"),
          KEYS1(KS_RANGE(KRM | KDE, 1, -1, 1))),
    KEYED(get, 2, R | F, "Get the value of a key", "string", "1.0.0",
          ACL("@read @string @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(set, -3, W | M, "Set the string value of a key", "string", "1.0.0",
          ACL("@write @string @slow"), .key_flags = set_key_flags,
          KEYS1(KS_RANGE_NOTE("RW and ACCESS due to the optional `GET` argument",
                             KRW | KAC | KUP | KVF, 1, 0, 1))),
    KEYED(ttl, 2, R | F, "Get the time to live for a key in seconds", "generic", "1.0.0",
          ACL("@keyspace @read @fast"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(decr, 2, W | M | F, "Decrement the integer value of a key by one", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(incr, 2, W | M | F, "Increment the integer value of a key by one", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    ALLSHARDS(keys, 2, R, "Find all keys matching the given pattern", "generic", "1.0.0",
          ACL("@keyspace @read @slow @dangerous"),
          TIPS("request_policy:all_shards nondeterministic_output_order")),
    KEYED(mget, -2, R | F, "Get the values of all the given keys", "string", "1.0.0",
          ACL("@read @string @fast"),
          TIPS("request_policy:multi_shard"),
          KEYS1(KS_RANGE(KRO | KAC, 1, -1, 1))),
    KEYED(mset, -3, W | M, "Set multiple keys to multiple values", "string", "1.0.1",
          ACL("@write @string @slow"),
          TIPS("request_policy:multi_shard response_policy:all_succeeded"),
          KEYS1(KS_RANGE(KOW | KUP, 1, -1, 2))),
    KEYED(pttl, 2, R | F, "Get the time to live for a key in milliseconds", "generic", "2.6.0",
          ACL("@keyspace @read @fast"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    SCAN(scan, -2, R, "Incrementally iterate the keys space", "generic", "2.8.0",
          ACL("@keyspace @read @slow"),
          TIPS("nondeterministic_output request_policy:special")),
    KEYED(type, 2, R | F, "Determine the type stored at key", "generic", "1.0.0",
          ACL("@keyspace @read @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(getex, -2, W | F,
          "Get the value of a key and optionally set its expiration", "string", "6.2.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE_NOTE("RW and UPDATE because it changes the TTL",
                             KRW | KAC | KUP, 1, 0, 1))),
    KEYED(setex, 4, W | M, "Set the value and expiration of a key", "string", "2.0.0",
          ACL("@write @string @slow"),
          KEYS1(KS_RANGE(KOW | KUP, 1, 0, 1))),
    KEYED(setnx, 3, W | M | F,
          "Set the value of a key, only if the key does not exist", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KOW | KIN, 1, 0, 1))),
    KEYED(touch, -2, R | F,
          "Alters the last access time of a key(s). Returns the number of existing keys specified.",
          "generic", "3.2.1",
          ACL("@keyspace @read @fast"),
          TIPS("request_policy:multi_shard response_policy:agg_sum"),
          KEYS1(KS_RANGE(KRO, 1, -1, 1))),
    KEYED(append, 3, W | M | F, "Append a value to a key", "string", "2.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    ALLSHARDS(dbsize, 1, R | F,
          "Return the number of keys in the selected database", "server", "1.0.0",
          ACL("@keyspace @read @fast"),
          TIPS("request_policy:all_shards response_policy:agg_sum")),
    KEYED(decrby, 3, W | M | F,
          "Decrement the integer value of a key by the given number", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(exists, -2, R | F, "Determine if a key exists", "generic", "1.0.0",
          ACL("@keyspace @read @fast"),
          TIPS("request_policy:multi_shard response_policy:agg_sum"),
          KEYS1(KS_RANGE(KRO, 1, -1, 1))),
    KEYED(expire, -3, W | F, "Set a key's time to live in seconds", "generic", "1.0.0",
          ACL("@keyspace @write @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(getdel, 2, W | F, "Get the value of a key and delete the key", "string", "6.2.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KDE, 1, 0, 1))),
    KEYED(getset, 3, W | M | F,
          "Set the string value of a key and return its old value", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(incrby, 3, W | M | F,
          "Increment the integer value of a key by the given amount", "string", "1.0.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(msetnx, -3, W | M,
          "Set multiple keys to multiple values, only if none of the keys exist", "string", "1.0.1",
          ACL("@write @string @slow"),
          TIPS("request_policy:multi_shard response_policy:agg_min"),
          KEYS1(KS_RANGE(KOW | KIN, 1, -1, 2))),
    KEYED(psetex, 4, W | M,
          "Set the value and expiration in milliseconds of a key", "string", "2.6.0",
          ACL("@write @string @slow"),
          KEYS1(KS_RANGE(KOW | KUP, 1, 0, 1))),
    KEYED(rename, 3, W, "Rename a key", "generic", "1.0.0",
          ACL("@keyspace @write @slow"),
          KEYS2(KS_RANGE(KRW | KAC | KDE, 1, 0, 1), KS_RANGE(KOW | KUP, 2, 0, 1))),
    KEYED(strlen, 2, R | F, "Get the length of the value stored in a key", "string", "2.2.0",
          ACL("@read @string @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(unlink, -2, W | F,
          "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
          "generic", "4.0.0",
          ACL("@keyspace @write @fast"),
          TIPS("request_policy:multi_shard response_policy:agg_sum"),
          KEYS1(KS_RANGE(KRM | KDE, 1, -1, 1))),
    ALLSHARDS(flushdb, -1, W, "Remove all keys from the current database", "server", "1.0.0",
          ACL("@keyspace @write @slow @dangerous"),
          TIPS("request_policy:all_shards response_policy:all_succeeded")),
    KEYED(persist, 2, W | F, "Remove the expiration from a key", "generic", "2.2.0",
          ACL("@keyspace @write @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(pexpire, -3, W | F, "Set a key's time to live in milliseconds", "generic", "2.6.0",
          ACL("@keyspace @write @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(expireat, -3, W | F,
          "Set the expiration for a key as a UNIX timestamp", "generic", "1.2.0",
          ACL("@keyspace @write @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    ALLSHARDS(flushall, -1, W, "Remove all keys from all databases", "server", "1.0.0",
          ACL("@keyspace @write @slow @dangerous"),
          TIPS("request_policy:all_shards response_policy:all_succeeded")),
    KEYED(getrange, 4, R, "Get a substring of the string stored at a key", "string", "2.4.0",
          ACL("@read @string @slow"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(renamenx, 3, W | F,
          "Rename a key, only if the new key does not exist", "generic", "1.0.0",
          ACL("@keyspace @write @fast"),
          KEYS2(KS_RANGE(KRW | KAC | KDE, 1, 0, 1), KS_RANGE(KOW | KIN, 2, 0, 1))),
    KEYED(setrange, 4, W | M,
          "Overwrite part of a string at key starting at the specified offset", "string", "2.2.0",
          ACL("@write @string @slow"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(pexpireat, -3, W | F,
          "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
          "generic", "2.6.0",
          ACL("@keyspace @write @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    ALLSHARDS(randomkey, 1, R, "Return a random key from the keyspace", "generic", "1.0.0",
          ACL("@keyspace @read @slow"),
          TIPS("request_policy:all_shards nondeterministic_output")),
    KEYED(expiretime, 2, R | F, "Get the expiration Unix timestamp for a key", "generic", "7.0.0",
          ACL("@keyspace @read @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(incrbyfloat, 3, W | M | F,
          "Increment the float value of a key by the given amount", "string", "2.6.0",
          ACL("@write @string @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(pexpiretime, 2, R | F,
          "Get the expiration Unix timestamp for a key in milliseconds", "generic", "7.0.0",
          ACL("@keyspace @read @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(lpush, -3, W | M | F, "Prepend one or multiple elements to a list", "list", "1.0.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(rpush, -3, W | M | F, "Append one or multiple elements to a list", "list", "1.0.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(lpop, -2, W | F, "Remove and get the first elements in a list", "list", "1.0.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KDE, 1, 0, 1))),
    KEYED(rpop, -2, W | F, "Remove and get the last elements in a list", "list", "1.0.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KDE, 1, 0, 1))),
    KEYED(llen, 2, R | F, "Get the length of a list", "list", "1.0.0",
          ACL("@read @list @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(lrange, 4, R, "Get a range of elements from a list", "list", "1.0.0",
          ACL("@read @list @slow"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(lindex, 3, R, "Get an element from a list by its index", "list", "1.0.0",
          ACL("@read @list @slow"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(lpushx, -3, W | M | F, "Prepend an element to a list, only if the list exists",
          "list", "2.2.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(rpushx, -3, W | M | F, "Append an element to a list, only if the list exists",
          "list", "2.2.0",
          ACL("@write @list @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(lset, 4, W | M, "Set the value of an element in a list by its index", "list", "1.0.0",
          ACL("@write @list @slow"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(linsert, 5, W | M, "Insert an element before or after another element in a list",
          "list", "2.2.0",
          ACL("@write @list @slow"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(lrem, 4, W, "Remove elements from a list", "list", "1.0.0",
          ACL("@write @list @slow"),
          KEYS1(KS_RANGE(KRW | KDE, 1, 0, 1))),
    KEYED(ltrim, 4, W, "Trim a list to the specified range", "list", "1.0.0",
          ACL("@write @list @slow"),
          KEYS1(KS_RANGE(KRW | KDE, 1, 0, 1))),
    KEYED(lpos, -3, R, "Return the index of matching elements on a list", "list", "6.0.6",
          ACL("@read @list @slow"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(lmove, 5, W | M,
          "Pop an element from a list, push it to another list and return it", "list", "6.2.0",
          ACL("@write @list @slow"),
          KEYS2(KS_RANGE(KRW | KAC | KDE, 1, 0, 1), KS_RANGE(KRW | KIN, 2, 0, 1))),
    KEYED(rpoplpush, 3, W | M,
          "Remove the last element in a list, prepend it to another list and return it",
          "list", "1.2.0",
          ACL("@write @list @slow"),
          KEYS2(KS_RANGE(KRW | KAC | KDE, 1, 0, 1), KS_RANGE(KRW | KIN, 2, 0, 1))),
    KEYED(lmpop, -4, W, "Pop elements from a list", "list", "7.0.0",
          ACL("@write @list @slow"),
          KEYS1(KS_KEYNUM(KRW | KAC | KDE, 1, 0, 1, 1))),
    KEYED(hset, -4, W | M | F, "Set the string value of a hash field", "hash", "2.0.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(hget, 3, R | F, "Get the value of a hash field", "hash", "2.0.0",
          ACL("@read @hash @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hdel, -3, W | F, "Delete one or more hash fields", "hash", "2.0.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KDE, 1, 0, 1))),
    KEYED(hexists, 3, R | F, "Determine if a hash field exists", "hash", "2.0.0",
          ACL("@read @hash @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(hlen, 2, R | F, "Get the number of fields in a hash", "hash", "2.0.0",
          ACL("@read @hash @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(hmget, -3, R | F, "Get the values of all the given hash fields", "hash", "2.0.0",
          ACL("@read @hash @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hmset, -4, W | M | F, "Set multiple hash fields to multiple values", "hash", "2.0.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KUP, 1, 0, 1))),
    KEYED(hsetnx, 4, W | M | F, "Set the value of a hash field, only if the field does not exist", "hash", "2.0.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(hgetall, 2, R, "Get all the fields and values in a hash", "hash", "2.0.0",
          ACL("@read @hash @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hkeys, 2, R, "Get all the fields in a hash", "hash", "2.0.0",
          ACL("@read @hash @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hvals, 2, R, "Get all the values in a hash", "hash", "2.0.0",
          ACL("@read @hash @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hstrlen, 3, R | F, "Get the length of the value of a hash field", "hash", "3.2.0",
          ACL("@read @hash @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(hincrby, 4, W | M | F, "Increment the integer value of a hash field by the given number", "hash", "2.0.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(hincrbyfloat, 4, W | M | F, "Increment the float value of a hash field by the given amount", "hash", "2.6.0",
          ACL("@write @hash @fast"),
          KEYS1(KS_RANGE(KRW | KAC | KUP, 1, 0, 1))),
    KEYED(hrandfield, -2, R, "Get one or multiple random fields from a hash", "hash", "6.2.0",
          ACL("@read @hash @slow"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(hscan, -3, R, "Incrementally iterate hash fields and associated values", "hash", "2.8.0",
          ACL("@read @hash @slow"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    /* sets (cmd_set.c, cmd_set_multi.c) */
    KEYED(sadd, -3, W | M | F, "Add one or more members to a set", "set", "1.0.0",
          ACL("@write @set @fast"),
          KEYS1(KS_RANGE(KRW | KIN, 1, 0, 1))),
    KEYED(srem, -3, W | F, "Remove one or more members from a set", "set", "1.0.0",
          ACL("@write @set @fast"),
          KEYS1(KS_RANGE(KRW | KDE, 1, 0, 1))),
    KEYED(sismember, 3, R | F, "Determine if a given value is a member of a set", "set", "1.0.0",
          ACL("@read @set @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(smismember, -3, R | F, "Returns the membership associated with the given elements for a set", "set", "6.2.0",
          ACL("@read @set @fast"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(scard, 2, R | F, "Get the number of members in a set", "set", "1.0.0",
          ACL("@read @set @fast"),
          KEYS1(KS_RANGE(KRO, 1, 0, 1))),
    KEYED(smembers, 2, R, "Get all the members in a set", "set", "1.0.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(spop, -2, W | F, "Remove and return one or multiple random members from a set", "set", "1.0.0",
          ACL("@write @set @fast"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRW | KAC | KDE, 1, 0, 1))),
    KEYED(srandmember, -2, R, "Get one or multiple random members from a set", "set", "1.0.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
    KEYED(smove, 4, W | F, "Move a member from one set to another", "set", "1.0.0",
          ACL("@write @set @fast"),
          KEYS2(KS_RANGE(KRW | KAC | KDE, 1, 0, 1), KS_RANGE(KRW | KIN, 2, 0, 1))),
    KEYED(sinter, -2, R, "Intersect multiple sets", "set", "1.0.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, -1, 1))),
    KEYED(sunion, -2, R, "Add multiple sets", "set", "1.0.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, -1, 1))),
    KEYED(sdiff, -2, R, "Subtract multiple sets", "set", "1.0.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output_order"),
          KEYS1(KS_RANGE(KRO | KAC, 1, -1, 1))),
    KEYED(sintercard, -3, R, "Intersect multiple sets and return the cardinality of the result", "set", "7.0.0",
          ACL("@read @set @slow"),
          KEYS1(KS_KEYNUM(KRO | KAC, 1, 0, 1, 1))),
    KEYED(sinterstore, -3, W | M, "Intersect multiple sets and store the resulting set in a key", "set", "1.0.0",
          ACL("@write @set @slow"),
          KEYS2(KS_RANGE(KRW | KUP, 1, 0, 1), KS_RANGE(KRO | KAC, 2, -1, 1))),
    KEYED(sunionstore, -3, W | M, "Add multiple sets and store the resulting set in a key", "set", "1.0.0",
          ACL("@write @set @slow"),
          KEYS2(KS_RANGE(KOW | KUP, 1, 0, 1), KS_RANGE(KRO | KAC, 2, -1, 1))),
    KEYED(sdiffstore, -3, W | M, "Subtract multiple sets and store the resulting set in a key", "set", "1.0.0",
          ACL("@write @set @slow"),
          KEYS2(KS_RANGE(KOW | KUP, 1, 0, 1), KS_RANGE(KRO | KAC, 2, -1, 1))),
    KEYED(sscan, -3, R, "Incrementally iterate Set elements", "set", "2.8.0",
          ACL("@read @set @slow"),
          TIPS("nondeterministic_output"),
          KEYS1(KS_RANGE(KRO | KAC, 1, 0, 1))),
};

static size_t cmd_nclient;
static int (*cmd_client_lookup)(const uint8_t *folded, size_t len);

const struct cmd_spec *cmd_table(size_t *count)
{
    *count = CMD_COUNT + cmd_nclient;
    return cmd_specs;
}

int cmd_table_register_client(const struct cmd_client_part *part)
{
    HP_ASSERT(part->lookup != NULL);
    if (cmd_client_lookup != NULL || part->count > CMD_CLIENT_MAX)
        return -1;
    for (size_t i = 0; i < part->count; i++) {
        HP_ASSERT(part->specs[i].kind == CMD_KIND_CLIENT);
        cmd_specs[CMD_COUNT + i] = part->specs[i];
    }
    cmd_nclient = part->count;
    cmd_client_lookup = part->lookup;
    return 0;
}

#define CMD_KEY(len, first) (((unsigned)(len) << 8) | (unsigned)(first))
/* `folded` equals #n exactly when the input spells n in any case; the
 * fixed size lets the compiler compare words instead of calling memcmp. */
#define CMD_TRY(n)                                                             \
    if (memcmp(folded, #n, sizeof(#n) - 1) == 0)                               \
        return &cmd_specs[CMD_IX_##n];

const struct cmd_spec *cmd_lookup(const uint8_t *name, size_t len)
{
    if (len == 0 || len > CMD_NAME_MAX)
        return NULL;
    /* Command names are lower-case letters only, and `c | 0x20` equals
     * such a letter exactly when c is that letter in either case, so this
     * folding cannot make a non-letter byte match. */
    uint8_t folded[CMD_NAME_MAX];
    for (size_t i = 0; i < len; i++)
        folded[i] = name[i] | 0x20;
    switch (CMD_KEY(len, folded[0])) {
    case CMD_KEY(3, 'g'): CMD_TRY(get) break;
    case CMD_KEY(3, 's'): CMD_TRY(set) break;
    case CMD_KEY(3, 'd'): CMD_TRY(del) break;
    case CMD_KEY(3, 't'): CMD_TRY(ttl) break;
    case CMD_KEY(4, 'd'): CMD_TRY(decr) break;
    case CMD_KEY(4, 'i'): CMD_TRY(incr) break;
    case CMD_KEY(4, 'k'): CMD_TRY(keys) break;
    case CMD_KEY(4, 'm'): CMD_TRY(mget) CMD_TRY(mset) break;
    case CMD_KEY(4, 'p'): CMD_TRY(pttl) break;
    case CMD_KEY(4, 's'): CMD_TRY(scan) CMD_TRY(sadd) CMD_TRY(srem) CMD_TRY(spop) break;
    case CMD_KEY(4, 't'): CMD_TRY(type) break;
    case CMD_KEY(5, 'g'): CMD_TRY(getex) break;
    case CMD_KEY(5, 's'): CMD_TRY(setex) CMD_TRY(setnx) CMD_TRY(scard) CMD_TRY(smove) CMD_TRY(sdiff) CMD_TRY(sscan) break;
    case CMD_KEY(5, 't'): CMD_TRY(touch) break;
    case CMD_KEY(6, 'a'): CMD_TRY(append) break;
    case CMD_KEY(6, 'd'): CMD_TRY(decrby) CMD_TRY(dbsize) break;
    case CMD_KEY(6, 'e'): CMD_TRY(exists) CMD_TRY(expire) break;
    case CMD_KEY(6, 'g'): CMD_TRY(getdel) CMD_TRY(getset) break;
    case CMD_KEY(6, 'i'): CMD_TRY(incrby) break;
    case CMD_KEY(6, 'm'): CMD_TRY(msetnx) break;
    case CMD_KEY(6, 'p'): CMD_TRY(psetex) break;
    case CMD_KEY(6, 'r'): CMD_TRY(rename) CMD_TRY(rpushx) break;
    case CMD_KEY(6, 's'): CMD_TRY(strlen) CMD_TRY(sinter) CMD_TRY(sunion) break;
    case CMD_KEY(6, 'u'): CMD_TRY(unlink) break;
    case CMD_KEY(7, 'f'): CMD_TRY(flushdb) break;
    case CMD_KEY(7, 'p'): CMD_TRY(pexpire) CMD_TRY(persist) break;
    case CMD_KEY(8, 'e'): CMD_TRY(expireat) break;
    case CMD_KEY(8, 'f'): CMD_TRY(flushall) break;
    case CMD_KEY(8, 'g'): CMD_TRY(getrange) break;
    case CMD_KEY(8, 'r'): CMD_TRY(renamenx) break;
    case CMD_KEY(8, 's'): CMD_TRY(setrange) CMD_TRY(smembers) break;
    case CMD_KEY(9, 'p'): CMD_TRY(pexpireat) break;
    case CMD_KEY(9, 'r'): CMD_TRY(randomkey) CMD_TRY(rpoplpush) break;
    case CMD_KEY(9, 's'): CMD_TRY(sismember) break;
    case CMD_KEY(10, 'e'): CMD_TRY(expiretime) break;
    case CMD_KEY(10, 's'): CMD_TRY(sdiffstore) CMD_TRY(smismember) CMD_TRY(sintercard) break;
    case CMD_KEY(11, 'i'): CMD_TRY(incrbyfloat) break;
    case CMD_KEY(11, 'p'): CMD_TRY(pexpiretime) break;
    case CMD_KEY(4, 'l'): CMD_TRY(llen) CMD_TRY(lpop) CMD_TRY(lrem) CMD_TRY(lset) CMD_TRY(lpos) break;
    case CMD_KEY(4, 'r'): CMD_TRY(rpop) break;
    case CMD_KEY(5, 'l'): CMD_TRY(lpush) CMD_TRY(ltrim) CMD_TRY(lmove) CMD_TRY(lmpop) break;
    case CMD_KEY(5, 'r'): CMD_TRY(rpush) break;
    case CMD_KEY(6, 'l'): CMD_TRY(lrange) CMD_TRY(lindex) CMD_TRY(lpushx) break;
    case CMD_KEY(7, 'l'): CMD_TRY(linsert) break;
    case CMD_KEY(12, 'h'): CMD_TRY(hincrbyfloat) break;
    case CMD_KEY(10, 'h'): CMD_TRY(hrandfield) break;
    case CMD_KEY(7, 'h'): CMD_TRY(hexists) CMD_TRY(hgetall) CMD_TRY(hstrlen) CMD_TRY(hincrby) break;
    case CMD_KEY(6, 'h'): CMD_TRY(hsetnx) break;
    case CMD_KEY(5, 'h'): CMD_TRY(hmget) CMD_TRY(hmset) CMD_TRY(hkeys) CMD_TRY(hvals) CMD_TRY(hscan) break;
    case CMD_KEY(4, 'h'): CMD_TRY(hget) CMD_TRY(hdel) CMD_TRY(hset) CMD_TRY(hlen) break;
    case CMD_KEY(11, 's'): CMD_TRY(srandmember) CMD_TRY(sinterstore) CMD_TRY(sunionstore) break;
    default:
        break;
    }
    if (cmd_client_lookup == NULL)
        return NULL;
    int ix = cmd_client_lookup(folded, len);
    HP_ASSERT(ix < (int)cmd_nclient);
    return ix < 0 ? NULL : &cmd_specs[CMD_COUNT + (size_t)ix];
}

/*
 * Appends at most `max` bytes of user text the way Redis' "%.*s" inside an
 * error does: stopping at a NUL byte, and with CR/LF turned into spaces so
 * the error stays one protocol line.  Returns the bytes appended.
 */
static size_t append_user_text(struct rbuf *out, struct hp_slice s, size_t max)
{
    size_t n = HP_MIN(s.len, max);
    const uint8_t *nul = memchr(s.ptr, 0, n);
    if (nul != NULL)
        n = (size_t)(nul - s.ptr);
    uint8_t *p = rbuf_reserve(out, n);
    if (p == NULL)
        return n;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s.ptr[i];
        p[i] = (ch == '\r' || ch == '\n') ? ' ' : ch;
    }
    rbuf_commit(out, n);
    return n;
}

#define APPEND_LIT(out, lit) rbuf_append((out), (lit), sizeof(lit) - 1)

/* Redis prints the name and then quoted arguments until their text reaches
 * 128 bytes, each truncated to what is left of those 128. */
#define CMD_UNKNOWN_TEXT_MAX 128

void cmd_reply_unknown(struct rbuf *out, int argc, const struct hp_slice *argv)
{
    HP_ASSERT(argc > 0);
    APPEND_LIT(out, "-ERR unknown command '");
    append_user_text(out, argv[0], CMD_UNKNOWN_TEXT_MAX);
    APPEND_LIT(out, "', with args beginning with: ");
    size_t used = 0;
    for (int i = 1; i < argc && used < CMD_UNKNOWN_TEXT_MAX; i++) {
        APPEND_LIT(out, "'");
        used += append_user_text(out, argv[i], CMD_UNKNOWN_TEXT_MAX - used);
        APPEND_LIT(out, "' ");
        used += 3;
    }
    APPEND_LIT(out, "\r\n");
}

void cmd_reply_arity(struct rbuf *out, const struct cmd_spec *s)
{
    APPEND_LIT(out, "-ERR wrong number of arguments for '");
    rbuf_append(out, s->name, strlen(s->name));
    APPEND_LIT(out, "' command\r\n");
}
