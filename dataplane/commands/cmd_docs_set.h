/*
 * cmd_docs_set.h - Redis 7.0.15's COMMAND DOCS text of the set commands,
 * included by cmd_docs.c (its macros, its table: CMD_DOCS_SET entries at
 * the table's end), kept apart so each type family adds its own file.
 * Generated from a running redis-server's COMMAND DOCS replies.
 */
#ifndef HP_CMD_DOCS_SET_H
#define HP_CMD_DOCS_SET_H

/* ---- sets ---- */

static const struct cmd_history h_sadd[] = {
    {"2.4.0", "Accepts multiple `member` arguments."},
};

static const struct cmd_arg a_sadd_1[] = {
    KARG("key", 0),
    ARG("member", STRING, .flags = AM),
};

static const struct cmd_history h_srem[] = {
    {"2.4.0", "Accepts multiple `member` arguments."},
};

static const struct cmd_arg a_srem_1[] = {
    KARG("key", 0),
    ARG("member", STRING, .flags = AM),
};

static const struct cmd_arg a_sismember_1[] = {
    KARG("key", 0),
    ARG("member", STRING),
};

static const struct cmd_arg a_smismember_1[] = {
    KARG("key", 0),
    ARG("member", STRING, .flags = AM),
};

static const struct cmd_arg a_scard_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_smembers_1[] = {
    KARG("key", 0),
};

static const struct cmd_history h_spop[] = {
    {"3.2.0", "Added the `count` argument."},
};

static const struct cmd_arg a_spop_1[] = {
    KARG("key", 0),
    ARG("count", INTEGER, .since = "3.2.0", .flags = AO),
};

static const struct cmd_history h_srandmember[] = {
    {"2.6.0", "Added the optional `count` argument."},
};

static const struct cmd_arg a_srandmember_1[] = {
    KARG("key", 0),
    ARG("count", INTEGER, .since = "2.6.0", .flags = AO),
};

static const struct cmd_arg a_smove_1[] = {
    KARG("source", 0),
    KARG("destination", 1),
    ARG("member", STRING),
};

static const struct cmd_arg a_sinter_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_sunion_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_sdiff_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_sintercard_1[] = {
    ARG("numkeys", INTEGER),
    KARG("key", 0, .flags = AM),
    ARG("limit", INTEGER, .token = "LIMIT", .flags = AO),
};

static const struct cmd_arg a_sinterstore_1[] = {
    KARG("destination", 0),
    KARG("key", 1, .flags = AM),
};

static const struct cmd_arg a_sunionstore_1[] = {
    KARG("destination", 0),
    KARG("key", 1, .flags = AM),
};

static const struct cmd_arg a_sdiffstore_1[] = {
    KARG("destination", 0),
    KARG("key", 1, .flags = AM),
};

static const struct cmd_arg a_sscan_1[] = {
    KARG("key", 0),
    ARG("cursor", INTEGER),
    ARG("pattern", PATTERN, .token = "MATCH", .flags = AO),
    ARG("count", INTEGER, .token = "COUNT", .flags = AO),
};

#define CMD_DOCS_SET \
    {.name = "sadd", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", HISTORY(h_sadd), ARGS(a_sadd_1)}, \
    {.name = "srem", .complexity = "O(N) where N is the number of members to be removed.", HISTORY(h_srem), ARGS(a_srem_1)}, \
    {.name = "sismember", .complexity = "O(1)", ARGS(a_sismember_1)}, \
    {.name = "smismember", .complexity = "O(N) where N is the number of elements being checked for membership", ARGS(a_smismember_1)}, \
    {.name = "scard", .complexity = "O(1)", ARGS(a_scard_1)}, \
    {.name = "smembers", .complexity = "O(N) where N is the set cardinality.", ARGS(a_smembers_1)}, \
    {.name = "spop", .complexity = "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", HISTORY(h_spop), ARGS(a_spop_1)}, \
    {.name = "srandmember", .complexity = "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", HISTORY(h_srandmember), ARGS(a_srandmember_1)}, \
    {.name = "smove", .complexity = "O(1)", ARGS(a_smove_1)}, \
    {.name = "sinter", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", ARGS(a_sinter_1)}, \
    {.name = "sunion", .complexity = "O(N) where N is the total number of elements in all given sets.", ARGS(a_sunion_1)}, \
    {.name = "sdiff", .complexity = "O(N) where N is the total number of elements in all given sets.", ARGS(a_sdiff_1)}, \
    {.name = "sintercard", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", ARGS(a_sintercard_1)}, \
    {.name = "sinterstore", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", ARGS(a_sinterstore_1)}, \
    {.name = "sunionstore", .complexity = "O(N) where N is the total number of elements in all given sets.", ARGS(a_sunionstore_1)}, \
    {.name = "sdiffstore", .complexity = "O(N) where N is the total number of elements in all given sets.", ARGS(a_sdiffstore_1)}, \
    {.name = "sscan", .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", ARGS(a_sscan_1)},

#endif
