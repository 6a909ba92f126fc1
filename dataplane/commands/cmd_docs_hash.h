/*
 * cmd_docs_hash.h - Redis 7.0.15's COMMAND DOCS text of the hash commands,
 * included by cmd_docs.c (its macros, its table: CMD_DOCS_HASH entries at
 * the table's end), kept apart so each type family adds its own file.
 * Generated from a running redis-server's COMMAND DOCS replies.
 */
#ifndef HP_CMD_DOCS_HASH_H
#define HP_CMD_DOCS_HASH_H

/* hash commands (generated from redis-server 7.0's COMMAND DOCS) */
static const struct cmd_history h_hset[] = {
    {"4.0.0", "Accepts multiple `field` and `value` arguments."},
};

static const struct cmd_arg a_hset_2[] = {
    ARG("field", STRING),
    ARG("value", STRING),
};

static const struct cmd_arg a_hset_1[] = {
    KARG("key", 0),
    ARG("field_value", BLOCK, .flags = AM, SUBARGS(a_hset_2)),
};

static const struct cmd_arg a_hget_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
};

static const struct cmd_history h_hdel[] = {
    {"2.4.0", "Accepts multiple `field` arguments."},
};

static const struct cmd_arg a_hdel_1[] = {
    KARG("key", 0),
    ARG("field", STRING, .flags = AM),
};

static const struct cmd_arg a_hexists_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
};

static const struct cmd_arg a_hlen_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_hmget_1[] = {
    KARG("key", 0),
    ARG("field", STRING, .flags = AM),
};

static const struct cmd_arg a_hmset_2[] = {
    ARG("field", STRING),
    ARG("value", STRING),
};

static const struct cmd_arg a_hmset_1[] = {
    KARG("key", 0),
    ARG("field_value", BLOCK, .flags = AM, SUBARGS(a_hmset_2)),
};

static const struct cmd_arg a_hsetnx_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
    ARG("value", STRING),
};

static const struct cmd_arg a_hgetall_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_hkeys_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_hvals_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_hstrlen_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
};

static const struct cmd_arg a_hincrby_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
    ARG("increment", INTEGER),
};

static const struct cmd_arg a_hincrbyfloat_1[] = {
    KARG("key", 0),
    ARG("field", STRING),
    ARG("increment", DOUBLE),
};

static const struct cmd_arg a_hrandfield_2[] = {
    ARG("count", INTEGER),
    ARG("withvalues", PURE_TOKEN, .token = "WITHVALUES", .flags = AO),
};

static const struct cmd_arg a_hrandfield_1[] = {
    KARG("key", 0),
    ARG("options", BLOCK, .flags = AO, SUBARGS(a_hrandfield_2)),
};

static const struct cmd_arg a_hscan_1[] = {
    KARG("key", 0),
    ARG("cursor", INTEGER),
    ARG("pattern", PATTERN, .token = "MATCH", .flags = AO),
    ARG("count", INTEGER, .token = "COUNT", .flags = AO),
};

#define CMD_DOCS_HASH \
    {.name = "hset", \
     .complexity = "O(1) for each field/value pair added, so O(N) to add N field/value pairs " \
                   "when the command is called with multiple field/value pairs.", \
     HISTORY(h_hset), \
     ARGS(a_hset_1)}, \
    {.name = "hget", .complexity = "O(1)", ARGS(a_hget_1)}, \
    {.name = "hdel", \
     .complexity = "O(N) where N is the number of fields to be removed.", \
     HISTORY(h_hdel), \
     ARGS(a_hdel_1)}, \
    {.name = "hexists", .complexity = "O(1)", ARGS(a_hexists_1)}, \
    {.name = "hlen", .complexity = "O(1)", ARGS(a_hlen_1)}, \
    {.name = "hmget", \
     .complexity = "O(N) where N is the number of fields being requested.", \
     ARGS(a_hmget_1)}, \
    {.name = "hmset", \
     .complexity = "O(N) where N is the number of fields being set.", \
     .doc_flags = CMD_DOC_DEPRECATED, \
     .deprecated_since = "4.0.0", \
     .replaced_by = "`HSET` with multiple field-value pairs", \
     ARGS(a_hmset_1)}, \
    {.name = "hsetnx", .complexity = "O(1)", ARGS(a_hsetnx_1)}, \
    {.name = "hgetall", .complexity = "O(N) where N is the size of the hash.", ARGS(a_hgetall_1)}, \
    {.name = "hkeys", .complexity = "O(N) where N is the size of the hash.", ARGS(a_hkeys_1)}, \
    {.name = "hvals", .complexity = "O(N) where N is the size of the hash.", ARGS(a_hvals_1)}, \
    {.name = "hstrlen", .complexity = "O(1)", ARGS(a_hstrlen_1)}, \
    {.name = "hincrby", .complexity = "O(1)", ARGS(a_hincrby_1)}, \
    {.name = "hincrbyfloat", .complexity = "O(1)", ARGS(a_hincrbyfloat_1)}, \
    {.name = "hrandfield", \
     .complexity = "O(N) where N is the number of fields returned", \
     ARGS(a_hrandfield_1)}, \
    {.name = "hscan", \
     .complexity = "O(1) for every call. O(N) for a complete iteration, including enough " \
                   "command calls for the cursor to return back to 0. N is the number of " \
                   "elements inside the collection..", \
     ARGS(a_hscan_1)},

#endif
