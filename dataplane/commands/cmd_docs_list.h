/*
 * cmd_docs_list.h - Redis 7.0.15's COMMAND DOCS text of the list commands,
 * included by cmd_docs.c (its macros, its table: CMD_DOCS_LIST entries at
 * the table's end), kept apart so each type family adds its own file.
 * Generated from a running redis-server's COMMAND DOCS replies.
 */
#ifndef HP_CMD_DOCS_LIST_H
#define HP_CMD_DOCS_LIST_H

static const struct cmd_history h_lpush[] = {
    {"2.4.0", "Accepts multiple `element` arguments."},
};

static const struct cmd_arg a_lpush_1[] = {
    KARG("key", 0),
    ARG("element", STRING, .flags = AM),
};

static const struct cmd_history h_rpush[] = {
    {"2.4.0", "Accepts multiple `element` arguments."},
};

static const struct cmd_arg a_rpush_2[] = {
    KARG("key", 0),
    ARG("element", STRING, .flags = AM),
};

static const struct cmd_history h_lpop[] = {
    {"6.2.0", "Added the `count` argument."},
};

static const struct cmd_arg a_lpop_3[] = {
    KARG("key", 0),
    ARG("count", INTEGER, .since = "6.2.0", .flags = AO),
};

static const struct cmd_history h_rpop[] = {
    {"6.2.0", "Added the `count` argument."},
};

static const struct cmd_arg a_rpop_4[] = {
    KARG("key", 0),
    ARG("count", INTEGER, .since = "6.2.0", .flags = AO),
};

static const struct cmd_arg a_llen_5[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_lrange_6[] = {
    KARG("key", 0),
    ARG("start", INTEGER),
    ARG("stop", INTEGER),
};

static const struct cmd_arg a_lindex_7[] = {
    KARG("key", 0),
    ARG("index", INTEGER),
};

static const struct cmd_history h_lpushx[] = {
    {"4.0.0", "Accepts multiple `element` arguments."},
};

static const struct cmd_arg a_lpushx_8[] = {
    KARG("key", 0),
    ARG("element", STRING, .flags = AM),
};

static const struct cmd_history h_rpushx[] = {
    {"4.0.0", "Accepts multiple `element` arguments."},
};

static const struct cmd_arg a_rpushx_9[] = {
    KARG("key", 0),
    ARG("element", STRING, .flags = AM),
};

static const struct cmd_arg a_lset_10[] = {
    KARG("key", 0),
    ARG("index", INTEGER),
    ARG("element", STRING),
};

static const struct cmd_arg a_linsert_12[] = {
    ARG("before", PURE_TOKEN, .token = "BEFORE"),
    ARG("after", PURE_TOKEN, .token = "AFTER"),
};

static const struct cmd_arg a_linsert_11[] = {
    KARG("key", 0),
    ARG("where", ONEOF, SUBARGS(a_linsert_12)),
    ARG("pivot", STRING),
    ARG("element", STRING),
};

static const struct cmd_arg a_lrem_13[] = {
    KARG("key", 0),
    ARG("count", INTEGER),
    ARG("element", STRING),
};

static const struct cmd_arg a_ltrim_14[] = {
    KARG("key", 0),
    ARG("start", INTEGER),
    ARG("stop", INTEGER),
};

static const struct cmd_arg a_lpos_15[] = {
    KARG("key", 0),
    ARG("element", STRING),
    ARG("rank", INTEGER, .token = "RANK", .flags = AO),
    ARG("num-matches", INTEGER, .token = "COUNT", .flags = AO),
    ARG("len", INTEGER, .token = "MAXLEN", .flags = AO),
};

static const struct cmd_arg a_lmove_17[] = {
    ARG("left", PURE_TOKEN, .token = "LEFT"),
    ARG("right", PURE_TOKEN, .token = "RIGHT"),
};

static const struct cmd_arg a_lmove_18[] = {
    ARG("left", PURE_TOKEN, .token = "LEFT"),
    ARG("right", PURE_TOKEN, .token = "RIGHT"),
};

static const struct cmd_arg a_lmove_16[] = {
    KARG("source", 0),
    KARG("destination", 1),
    ARG("wherefrom", ONEOF, SUBARGS(a_lmove_17)),
    ARG("whereto", ONEOF, SUBARGS(a_lmove_18)),
};

static const struct cmd_arg a_rpoplpush_19[] = {
    KARG("source", 0),
    KARG("destination", 1),
};

static const struct cmd_arg a_lmpop_21[] = {
    ARG("left", PURE_TOKEN, .token = "LEFT"),
    ARG("right", PURE_TOKEN, .token = "RIGHT"),
};

static const struct cmd_arg a_lmpop_20[] = {
    ARG("numkeys", INTEGER),
    KARG("key", 0, .flags = AM),
    ARG("where", ONEOF, SUBARGS(a_lmpop_21)),
    ARG("count", INTEGER, .token = "COUNT", .flags = AO),
};

#define CMD_DOCS_LIST \
    {.name = "lpush", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", HISTORY(h_lpush), ARGS(a_lpush_1)}, \
    {.name = "rpush", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", HISTORY(h_rpush), ARGS(a_rpush_2)}, \
    {.name = "lpop", .complexity = "O(N) where N is the number of elements returned", HISTORY(h_lpop), ARGS(a_lpop_3)}, \
    {.name = "rpop", .complexity = "O(N) where N is the number of elements returned", HISTORY(h_rpop), ARGS(a_rpop_4)}, \
    {.name = "llen", .complexity = "O(1)", ARGS(a_llen_5)}, \
    {.name = "lrange", .complexity = "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", ARGS(a_lrange_6)}, \
    {.name = "lindex", .complexity = "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", ARGS(a_lindex_7)}, \
    {.name = "lpushx", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", HISTORY(h_lpushx), ARGS(a_lpushx_8)}, \
    {.name = "rpushx", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", HISTORY(h_rpushx), ARGS(a_rpushx_9)}, \
    {.name = "lset", .complexity = "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", ARGS(a_lset_10)}, \
    {.name = "linsert", .complexity = "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", ARGS(a_linsert_11)}, \
    {.name = "lrem", .complexity = "O(N+M) where N is the length of the list and M is the number of elements removed.", ARGS(a_lrem_13)}, \
    {.name = "ltrim", .complexity = "O(N) where N is the number of elements to be removed by the operation.", ARGS(a_ltrim_14)}, \
    {.name = "lpos", .complexity = "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", ARGS(a_lpos_15)}, \
    {.name = "lmove", .complexity = "O(1)", ARGS(a_lmove_16)}, \
    {.name = "rpoplpush", .complexity = "O(1)", .doc_flags = CMD_DOC_DEPRECATED, .deprecated_since = "6.2.0", .replaced_by = "`LMOVE` with the `RIGHT` and `LEFT` arguments", ARGS(a_rpoplpush_19)}, \
    {.name = "lmpop", .complexity = "O(N+M) where N is the number of provided keys and M is the number of elements returned.", ARGS(a_lmpop_20)}, \

#endif
