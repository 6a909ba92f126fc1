/*
 * cmd_docs.c - Redis 7.0.15's COMMAND DOCS text (complexity, history,
 * arguments) for every command and subcommand hotpath has; summary, since
 * and group live in the command tables.  The data was taken from a running
 * redis-server's COMMAND DOCS replies; tests/e2e/test_command_info.py
 * compares every entry byte for byte, in RESP2 and RESP3, so an edit that
 * drifts from Redis fails there.
 *
 * Arrays come before the entries that point at them (C needs the nested
 * argument lists defined first); names are a_<command>_<n>, h_<command>.
 */
#include "cmd_docs.h"

#include <string.h>

#define ARG(n, t, ...) {.name = n, .type = CMD_ARG_##t, .key_spec_index = -1, __VA_ARGS__}
#define KARG(n, ix, ...) {.name = n, .type = CMD_ARG_KEY, .key_spec_index = ix, __VA_ARGS__}
#define SUBARGS(a) .args = a, .nargs = HP_ARRAY_LEN(a)
#define HISTORY(h) .history = h, .nhistory = HP_ARRAY_LEN(h)
#define ARGS(a) .args = a, .nargs = HP_ARRAY_LEN(a)

enum {
    AO = CMD_ARG_OPTIONAL,
    AM = CMD_ARG_MULTIPLE,
    AMT = CMD_ARG_MULTIPLE_TOKEN,
};

/* Type families keep their docs in their own headers (same macros). */
#include "cmd_docs_list.h"
#include "cmd_docs_hash.h"
#include "cmd_docs_set.h"

static const struct cmd_arg a_del_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_get_1[] = {
    KARG("key", 0),
};

static const struct cmd_history h_set[] = {
    {"2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."},
    {"6.0.0", "Added the `KEEPTTL` option."},
    {"6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."},
    {"7.0.0", "Allowed the `NX` and `GET` options to be used together."},
};

static const struct cmd_arg a_set_2[] = {
    ARG("nx", PURE_TOKEN, .token = "NX"),
    ARG("xx", PURE_TOKEN, .token = "XX"),
};

static const struct cmd_arg a_set_4[] = {
    ARG("seconds", INTEGER, .token = "EX", .since = "2.6.12"),
    ARG("milliseconds", INTEGER, .token = "PX", .since = "2.6.12"),
    ARG("unix-time-seconds", UNIX_TIME, .token = "EXAT", .since = "6.2.0"),
    ARG("unix-time-milliseconds", UNIX_TIME, .token = "PXAT", .since = "6.2.0"),
    ARG("keepttl", PURE_TOKEN, .token = "KEEPTTL", .since = "6.0.0"),
};

static const struct cmd_arg a_set_5[] = {
    KARG("key", 0),
    ARG("value", STRING),
    ARG("condition", ONEOF, .since = "2.6.12", .flags = AO, SUBARGS(a_set_2)),
    ARG("get", PURE_TOKEN, .token = "GET", .since = "6.2.0", .flags = AO),
    ARG("expiration", ONEOF, .flags = AO, SUBARGS(a_set_4)),
};

static const struct cmd_history h_ttl[] = {
    {"2.8.0", "Added the -2 reply."},
};

static const struct cmd_arg a_ttl_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_decr_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_echo_1[] = {
    ARG("message", STRING),
};

static const struct cmd_arg a_incr_1[] = {
    KARG("key", 0),
};

static const struct cmd_history h_info[] = {
    {"7.0.0", "Added support for taking multiple section arguments."},
};

static const struct cmd_arg a_info_1[] = {
    ARG("section", STRING, .flags = AO | AM),
};

static const struct cmd_arg a_keys_1[] = {
    ARG("pattern", PATTERN),
};

static const struct cmd_arg a_mget_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_mset_2[] = {
    KARG("key", 0),
    ARG("value", STRING),
};

static const struct cmd_arg a_mset_3[] = {
    ARG("key_value", BLOCK, .flags = AM, SUBARGS(a_mset_2)),
};

static const struct cmd_arg a_ping_1[] = {
    ARG("message", STRING, .flags = AO),
};

static const struct cmd_history h_pttl[] = {
    {"2.8.0", "Added the -2 reply."},
};

static const struct cmd_arg a_pttl_1[] = {
    KARG("key", 0),
};

static const struct cmd_history h_scan[] = {
    {"6.0.0", "Added the `TYPE` subcommand."},
};

static const struct cmd_arg a_scan_1[] = {
    ARG("cursor", INTEGER),
    ARG("pattern", PATTERN, .token = "MATCH", .flags = AO),
    ARG("count", INTEGER, .token = "COUNT", .flags = AO),
    ARG("type", STRING, .token = "TYPE", .since = "6.0.0", .flags = AO),
};

static const struct cmd_arg a_type_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_getex_2[] = {
    ARG("seconds", INTEGER, .token = "EX"),
    ARG("milliseconds", INTEGER, .token = "PX"),
    ARG("unix-time-seconds", UNIX_TIME, .token = "EXAT"),
    ARG("unix-time-milliseconds", UNIX_TIME, .token = "PXAT"),
    ARG("persist", PURE_TOKEN, .token = "PERSIST"),
};

static const struct cmd_arg a_getex_3[] = {
    KARG("key", 0),
    ARG("expiration", ONEOF, .flags = AO, SUBARGS(a_getex_2)),
};

static const struct cmd_history h_hello[] = {
    {"6.2.0",
     "`protover` made optional; when called without arguments the command reports the current connection's context."},
};

static const struct cmd_arg a_hello_3[] = {
    ARG("username", STRING),
    ARG("password", STRING),
};

static const struct cmd_arg a_hello_4[] = {
    ARG("protover", INTEGER),
    ARG("username_password", BLOCK, .token = "AUTH", .flags = AO, SUBARGS(a_hello_3)),
    ARG("clientname", STRING, .token = "SETNAME", .flags = AO),
};

static const struct cmd_arg a_hello_5[] = {
    ARG("arguments", BLOCK, .flags = AO, SUBARGS(a_hello_4)),
};

static const struct cmd_arg a_setex_1[] = {
    KARG("key", 0),
    ARG("seconds", INTEGER),
    ARG("value", STRING),
};

static const struct cmd_arg a_setnx_1[] = {
    KARG("key", 0),
    ARG("value", STRING),
};

static const struct cmd_arg a_touch_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_append_1[] = {
    KARG("key", 0),
    ARG("value", STRING),
};

static const struct cmd_arg a_client_caching_2[] = {
    ARG("yes", PURE_TOKEN, .token = "YES"),
    ARG("no", PURE_TOKEN, .token = "NO"),
};

static const struct cmd_arg a_client_caching_3[] = {
    ARG("mode", ONEOF, SUBARGS(a_client_caching_2)),
};

static const struct cmd_history h_client_kill[] = {
    {"2.8.12", "Added new filter format."},
    {"2.8.12", "`ID` option."},
    {"3.2.0", "Added `master` type in for `TYPE` option."},
    {"5.0.0",
     "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."},
    {"6.2.0", "`LADDR` option."},
};

static const struct cmd_arg a_client_kill_4[] = {
    ARG("normal", PURE_TOKEN, .token = "NORMAL"),
    ARG("master", PURE_TOKEN, .token = "MASTER", .since = "3.2.0"),
    ARG("slave", PURE_TOKEN, .token = "SLAVE"),
    ARG("replica", PURE_TOKEN, .token = "REPLICA", .since = "5.0.0"),
    ARG("pubsub", PURE_TOKEN, .token = "PUBSUB"),
};

static const struct cmd_arg a_client_kill_5[] = {
    ARG("client-id", INTEGER, .token = "ID", .since = "2.8.12", .flags = AO),
    ARG("normal_master_slave_pubsub", ONEOF, .token = "TYPE", .since = "2.8.12", .flags = AO,
        SUBARGS(a_client_kill_4)),
    ARG("username", STRING, .token = "USER", .flags = AO),
    ARG("ip:port", STRING, .token = "ADDR", .flags = AO),
    ARG("ip:port", STRING, .token = "LADDR", .since = "6.2.0", .flags = AO),
    ARG("yes/no", STRING, .token = "SKIPME", .flags = AO),
};

static const struct cmd_arg a_client_kill_6[] = {
    ARG("ip:port", STRING, .deprecated_since = "2.8.12"),
    ARG("new-format", ONEOF, .flags = AM, SUBARGS(a_client_kill_5)),
};

static const struct cmd_arg a_client_kill_7[] = {
    ARG("filter", ONEOF, SUBARGS(a_client_kill_6)),
};

static const struct cmd_history h_client_list[] = {
    {"2.8.12", "Added unique client `id` field."},
    {"5.0.0", "Added optional `TYPE` filter."},
    {"6.0.0", "Added `user` field."},
    {"6.2.0",
     "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."},
    {"7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."},
    {"7.0.3", "Added `ssub` field."},
};

static const struct cmd_arg a_client_list_2[] = {
    ARG("normal", PURE_TOKEN, .token = "NORMAL"),
    ARG("master", PURE_TOKEN, .token = "MASTER"),
    ARG("replica", PURE_TOKEN, .token = "REPLICA"),
    ARG("pubsub", PURE_TOKEN, .token = "PUBSUB"),
};

static const struct cmd_arg a_client_list_4[] = {
    ARG("client-id", INTEGER, .flags = AM),
};

static const struct cmd_arg a_client_list_5[] = {
    ARG("normal_master_replica_pubsub", ONEOF, .token = "TYPE", .since = "5.0.0", .flags = AO,
        SUBARGS(a_client_list_2)),
    ARG("id", BLOCK, .token = "ID", .since = "6.2.0", .flags = AO, SUBARGS(a_client_list_4)),
};

static const struct cmd_arg a_client_no_evict_2[] = {
    ARG("on", PURE_TOKEN, .token = "ON"),
    ARG("off", PURE_TOKEN, .token = "OFF"),
};

static const struct cmd_arg a_client_no_evict_3[] = {
    ARG("enabled", ONEOF, SUBARGS(a_client_no_evict_2)),
};

static const struct cmd_history h_client_pause[] = {
    {"6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."},
};

static const struct cmd_arg a_client_pause_2[] = {
    ARG("write", PURE_TOKEN, .token = "WRITE"),
    ARG("all", PURE_TOKEN, .token = "ALL"),
};

static const struct cmd_arg a_client_pause_3[] = {
    ARG("timeout", INTEGER),
    ARG("mode", ONEOF, .since = "6.2.0", .flags = AO, SUBARGS(a_client_pause_2)),
};

static const struct cmd_arg a_client_reply_2[] = {
    ARG("on", PURE_TOKEN, .token = "ON"),
    ARG("off", PURE_TOKEN, .token = "OFF"),
    ARG("skip", PURE_TOKEN, .token = "SKIP"),
};

static const struct cmd_arg a_client_reply_3[] = {
    ARG("on_off_skip", ONEOF, SUBARGS(a_client_reply_2)),
};

static const struct cmd_arg a_client_setname_1[] = {
    ARG("connection-name", STRING),
};

static const struct cmd_arg a_client_tracking_2[] = {
    ARG("on", PURE_TOKEN, .token = "ON"),
    ARG("off", PURE_TOKEN, .token = "OFF"),
};

static const struct cmd_arg a_client_tracking_3[] = {
    ARG("status", ONEOF, SUBARGS(a_client_tracking_2)),
    ARG("client-id", INTEGER, .token = "REDIRECT", .flags = AO),
    ARG("prefix", STRING, .token = "PREFIX", .flags = AO | AM | AMT),
    ARG("bcast", PURE_TOKEN, .token = "BCAST", .flags = AO),
    ARG("optin", PURE_TOKEN, .token = "OPTIN", .flags = AO),
    ARG("optout", PURE_TOKEN, .token = "OPTOUT", .flags = AO),
    ARG("noloop", PURE_TOKEN, .token = "NOLOOP", .flags = AO),
};

static const struct cmd_arg a_client_unblock_2[] = {
    ARG("timeout", PURE_TOKEN, .token = "TIMEOUT"),
    ARG("error", PURE_TOKEN, .token = "ERROR"),
};

static const struct cmd_arg a_client_unblock_3[] = {
    ARG("client-id", INTEGER),
    ARG("timeout_error", ONEOF, .flags = AO, SUBARGS(a_client_unblock_2)),
};

static const struct cmd_history h_config_get[] = {
    {"7.0.0", "Added the ability to pass multiple pattern parameters in one call"},
};

static const struct cmd_arg a_config_get_2[] = {
    ARG("parameter", STRING),
};

static const struct cmd_arg a_config_get_3[] = {
    ARG("parameter", BLOCK, .flags = AM, SUBARGS(a_config_get_2)),
};

static const struct cmd_history h_config_set[] = {
    {"7.0.0", "Added the ability to set multiple parameters in one call."},
};

static const struct cmd_arg a_config_set_2[] = {
    ARG("parameter", STRING),
    ARG("value", STRING),
};

static const struct cmd_arg a_config_set_3[] = {
    ARG("parameter_value", BLOCK, .flags = AM, SUBARGS(a_config_set_2)),
};

static const struct cmd_arg a_decrby_1[] = {
    KARG("key", 0),
    ARG("decrement", INTEGER),
};

static const struct cmd_history h_exists[] = {
    {"3.0.3", "Accepts multiple `key` arguments."},
};

static const struct cmd_arg a_exists_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_history h_expire[] = {
    {"7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."},
};

static const struct cmd_arg a_expire_2[] = {
    ARG("nx", PURE_TOKEN, .token = "NX"),
    ARG("xx", PURE_TOKEN, .token = "XX"),
    ARG("gt", PURE_TOKEN, .token = "GT"),
    ARG("lt", PURE_TOKEN, .token = "LT"),
};

static const struct cmd_arg a_expire_3[] = {
    KARG("key", 0),
    ARG("seconds", INTEGER),
    ARG("condition", ONEOF, .since = "7.0.0", .flags = AO, SUBARGS(a_expire_2)),
};

static const struct cmd_arg a_getdel_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_getset_1[] = {
    KARG("key", 0),
    ARG("value", STRING),
};

static const struct cmd_arg a_incrby_1[] = {
    KARG("key", 0),
    ARG("increment", INTEGER),
};

static const struct cmd_arg a_msetnx_2[] = {
    KARG("key", 0),
    ARG("value", STRING),
};

static const struct cmd_arg a_msetnx_3[] = {
    ARG("key_value", BLOCK, .flags = AM, SUBARGS(a_msetnx_2)),
};

static const struct cmd_arg a_psetex_1[] = {
    KARG("key", 0),
    ARG("milliseconds", INTEGER),
    ARG("value", STRING),
};

static const struct cmd_arg a_rename_1[] = {
    KARG("key", 0),
    KARG("newkey", 1),
};

static const struct cmd_arg a_select_1[] = {
    ARG("index", INTEGER),
};

static const struct cmd_arg a_strlen_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_unlink_1[] = {
    KARG("key", 0, .flags = AM),
};

static const struct cmd_arg a_command_docs_1[] = {
    ARG("command-name", STRING, .flags = AO | AM),
};

static const struct cmd_history h_command_info[] = {
    {"7.0.0", "Allowed to be called with no argument to get info on all commands."},
};

static const struct cmd_arg a_command_info_1[] = {
    ARG("command-name", STRING, .flags = AO | AM),
};

static const struct cmd_arg a_command_list_2[] = {
    ARG("module-name", STRING, .token = "MODULE"),
    ARG("category", STRING, .token = "ACLCAT"),
    ARG("pattern", PATTERN, .token = "PATTERN"),
};

static const struct cmd_arg a_command_list_3[] = {
    ARG("filterby", ONEOF, .token = "FILTERBY", .flags = AO, SUBARGS(a_command_list_2)),
};

static const struct cmd_history h_flushdb[] = {
    {"4.0.0", "Added the `ASYNC` flushing mode modifier."},
    {"6.2.0", "Added the `SYNC` flushing mode modifier."},
};

static const struct cmd_arg a_flushdb_2[] = {
    ARG("async", PURE_TOKEN, .token = "ASYNC", .since = "4.0.0"),
    ARG("sync", PURE_TOKEN, .token = "SYNC", .since = "6.2.0"),
};

static const struct cmd_arg a_flushdb_3[] = {
    ARG("async", ONEOF, .flags = AO, SUBARGS(a_flushdb_2)),
};

static const struct cmd_arg a_persist_1[] = {
    KARG("key", 0),
};

static const struct cmd_history h_pexpire[] = {
    {"7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."},
};

static const struct cmd_arg a_pexpire_2[] = {
    ARG("nx", PURE_TOKEN, .token = "NX"),
    ARG("xx", PURE_TOKEN, .token = "XX"),
    ARG("gt", PURE_TOKEN, .token = "GT"),
    ARG("lt", PURE_TOKEN, .token = "LT"),
};

static const struct cmd_arg a_pexpire_3[] = {
    KARG("key", 0),
    ARG("milliseconds", INTEGER),
    ARG("condition", ONEOF, .since = "7.0.0", .flags = AO, SUBARGS(a_pexpire_2)),
};

static const struct cmd_history h_expireat[] = {
    {"7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."},
};

static const struct cmd_arg a_expireat_2[] = {
    ARG("nx", PURE_TOKEN, .token = "NX"),
    ARG("xx", PURE_TOKEN, .token = "XX"),
    ARG("gt", PURE_TOKEN, .token = "GT"),
    ARG("lt", PURE_TOKEN, .token = "LT"),
};

static const struct cmd_arg a_expireat_3[] = {
    KARG("key", 0),
    ARG("unix-time-seconds", UNIX_TIME),
    ARG("condition", ONEOF, .since = "7.0.0", .flags = AO, SUBARGS(a_expireat_2)),
};

static const struct cmd_history h_flushall[] = {
    {"4.0.0", "Added the `ASYNC` flushing mode modifier."},
    {"6.2.0", "Added the `SYNC` flushing mode modifier."},
};

static const struct cmd_arg a_flushall_2[] = {
    ARG("async", PURE_TOKEN, .token = "ASYNC", .since = "4.0.0"),
    ARG("sync", PURE_TOKEN, .token = "SYNC", .since = "6.2.0"),
};

static const struct cmd_arg a_flushall_3[] = {
    ARG("async", ONEOF, .flags = AO, SUBARGS(a_flushall_2)),
};

static const struct cmd_arg a_getrange_1[] = {
    KARG("key", 0),
    ARG("start", INTEGER),
    ARG("end", INTEGER),
};

static const struct cmd_history h_renamenx[] = {
    {"3.2.0",
     "The command no longer returns an error when source and destination names are the same."},
};

static const struct cmd_arg a_renamenx_1[] = {
    KARG("key", 0),
    KARG("newkey", 1),
};

static const struct cmd_arg a_setrange_1[] = {
    KARG("key", 0),
    ARG("offset", INTEGER),
    ARG("value", STRING),
};

static const struct cmd_history h_shutdown[] = {
    {"7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."},
};

static const struct cmd_arg a_shutdown_2[] = {
    ARG("nosave", PURE_TOKEN, .token = "NOSAVE"),
    ARG("save", PURE_TOKEN, .token = "SAVE"),
};

static const struct cmd_arg a_shutdown_3[] = {
    ARG("nosave_save", ONEOF, .flags = AO, SUBARGS(a_shutdown_2)),
    ARG("now", PURE_TOKEN, .token = "NOW", .since = "7.0.0", .flags = AO),
    ARG("force", PURE_TOKEN, .token = "FORCE", .since = "7.0.0", .flags = AO),
    ARG("abort", PURE_TOKEN, .token = "ABORT", .since = "7.0.0", .flags = AO),
};

static const struct cmd_history h_pexpireat[] = {
    {"7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."},
};

static const struct cmd_arg a_pexpireat_2[] = {
    ARG("nx", PURE_TOKEN, .token = "NX"),
    ARG("xx", PURE_TOKEN, .token = "XX"),
    ARG("gt", PURE_TOKEN, .token = "GT"),
    ARG("lt", PURE_TOKEN, .token = "LT"),
};

static const struct cmd_arg a_pexpireat_3[] = {
    KARG("key", 0),
    ARG("unix-time-milliseconds", UNIX_TIME),
    ARG("condition", ONEOF, .since = "7.0.0", .flags = AO, SUBARGS(a_pexpireat_2)),
};

static const struct cmd_arg a_expiretime_1[] = {
    KARG("key", 0),
};

static const struct cmd_arg a_incrbyfloat_1[] = {
    KARG("key", 0),
    ARG("increment", DOUBLE),
};

static const struct cmd_arg a_pexpiretime_1[] = {
    KARG("key", 0),
};

static const struct cmd_doc cmd_docs[] = {
    {.name = "del",
     .complexity = "O(N) where N is the number of keys that will be removed. When a key to "
                   "remove holds a value other than a string, the individual complexity for "
                   "this key is O(M) where M is the number of elements in the list, set, "
                   "sorted set or hash. Removing a single key that holds a string value is "
                   "O(1).",
     ARGS(a_del_1)},
    {.name = "get", .complexity = "O(1)", ARGS(a_get_1)},
    {.name = "set", .complexity = "O(1)", HISTORY(h_set), ARGS(a_set_5)},
    {.name = "ttl", .complexity = "O(1)", HISTORY(h_ttl), ARGS(a_ttl_1)},
    {.name = "decr", .complexity = "O(1)", ARGS(a_decr_1)},
    {.name = "echo", .complexity = "O(1)", ARGS(a_echo_1)},
    {.name = "incr", .complexity = "O(1)", ARGS(a_incr_1)},
    {.name = "info", .complexity = "O(1)", HISTORY(h_info), ARGS(a_info_1)},
    {.name = "keys",
     .complexity = "O(N) with N being the number of keys in the database, under the assumption "
                   "that the key names in the database and the given pattern have limited "
                   "length.",
     ARGS(a_keys_1)},
    {.name = "mget",
     .complexity = "O(N) where N is the number of keys to retrieve.",
     ARGS(a_mget_1)},
    {.name = "mset", .complexity = "O(N) where N is the number of keys to set.", ARGS(a_mset_3)},
    {.name = "ping", .complexity = "O(1)", ARGS(a_ping_1)},
    {.name = "pttl", .complexity = "O(1)", HISTORY(h_pttl), ARGS(a_pttl_1)},
    {.name = "quit", .complexity = "O(1)"},
    {.name = "scan",
     .complexity = "O(1) for every call. O(N) for a complete iteration, including enough "
                   "command calls for the cursor to return back to 0. N is the number of "
                   "elements inside the collection.",
     HISTORY(h_scan),
     ARGS(a_scan_1)},
    {.name = "time", .complexity = "O(1)"},
    {.name = "type", .complexity = "O(1)", ARGS(a_type_1)},
    {.name = "getex", .complexity = "O(1)", ARGS(a_getex_3)},
    {.name = "hello", .complexity = "O(1)", HISTORY(h_hello), ARGS(a_hello_5)},
    {.name = "reset", .complexity = "O(1)"},
    {.name = "setex", .complexity = "O(1)", ARGS(a_setex_1)},
    {.name = "setnx", .complexity = "O(1)", ARGS(a_setnx_1)},
    {.name = "touch",
     .complexity = "O(N) where N is the number of keys that will be touched.",
     ARGS(a_touch_1)},
    {.name = "append",
     .complexity = "O(1). The amortized time complexity is O(1) assuming the appended value is "
                   "small and the already present value is of any size, since the dynamic "
                   "string library used by Redis will double the free space available on every "
                   "reallocation.",
     ARGS(a_append_1)},
    {.name = "client", .complexity = "Depends on subcommand."},
    {.name = "client|caching", .complexity = "O(1)", ARGS(a_client_caching_3)},
    {.name = "client|getname", .complexity = "O(1)"},
    {.name = "client|getredir", .complexity = "O(1)"},
    {.name = "client|help", .complexity = "O(1)"},
    {.name = "client|id", .complexity = "O(1)"},
    {.name = "client|info", .complexity = "O(1)"},
    {.name = "client|kill",
     .complexity = "O(N) where N is the number of client connections",
     HISTORY(h_client_kill),
     ARGS(a_client_kill_7)},
    {.name = "client|list",
     .complexity = "O(N) where N is the number of client connections",
     HISTORY(h_client_list),
     ARGS(a_client_list_5)},
    {.name = "client|no-evict", .complexity = "O(1)", ARGS(a_client_no_evict_3)},
    {.name = "client|pause", .complexity = "O(1)", HISTORY(h_client_pause), ARGS(a_client_pause_3)},
    {.name = "client|reply", .complexity = "O(1)", ARGS(a_client_reply_3)},
    {.name = "client|setname", .complexity = "O(1)", ARGS(a_client_setname_1)},
    {.name = "client|tracking",
     .complexity = "O(1). Some options may introduce additional complexity.",
     ARGS(a_client_tracking_3)},
    {.name = "client|trackinginfo", .complexity = "O(1)"},
    {.name = "client|unblock",
     .complexity = "O(log N) where N is the number of client connections",
     ARGS(a_client_unblock_3)},
    {.name = "client|unpause", .complexity = "O(N) Where N is the number of paused clients"},
    {.name = "config", .complexity = "Depends on subcommand."},
    {.name = "config|get",
     .complexity = "O(N) when N is the number of configuration parameters provided",
     HISTORY(h_config_get),
     ARGS(a_config_get_3)},
    {.name = "config|help", .complexity = "O(1)"},
    {.name = "config|resetstat", .complexity = "O(1)"},
    {.name = "config|rewrite", .complexity = "O(1)"},
    {.name = "config|set",
     .complexity = "O(N) when N is the number of configuration parameters provided",
     HISTORY(h_config_set),
     ARGS(a_config_set_3)},
    {.name = "dbsize", .complexity = "O(1)"},
    {.name = "decrby", .complexity = "O(1)", ARGS(a_decrby_1)},
    {.name = "exists",
     .complexity = "O(N) where N is the number of keys to check.",
     HISTORY(h_exists),
     ARGS(a_exists_1)},
    {.name = "expire", .complexity = "O(1)", HISTORY(h_expire), ARGS(a_expire_3)},
    {.name = "getdel", .complexity = "O(1)", ARGS(a_getdel_1)},
    {.name = "getset",
     .complexity = "O(1)",
     .doc_flags = CMD_DOC_DEPRECATED,
     .deprecated_since = "6.2.0",
     .replaced_by = "`SET` with the `!GET` argument",
     ARGS(a_getset_1)},
    {.name = "incrby", .complexity = "O(1)", ARGS(a_incrby_1)},
    {.name = "msetnx",
     .complexity = "O(N) where N is the number of keys to set.",
     ARGS(a_msetnx_3)},
    {.name = "psetex", .complexity = "O(1)", ARGS(a_psetex_1)},
    {.name = "rename", .complexity = "O(1)", ARGS(a_rename_1)},
    {.name = "select", .complexity = "O(1)", ARGS(a_select_1)},
    {.name = "strlen", .complexity = "O(1)", ARGS(a_strlen_1)},
    {.name = "unlink",
     .complexity = "O(1) for each key removed regardless of its size. Then the command does "
                   "O(N) work in a different thread in order to reclaim memory, where N is the "
                   "number of allocations the deleted objects where composed of.",
     ARGS(a_unlink_1)},
    {.name = "command", .complexity = "O(N) where N is the total number of Redis commands"},
    {.name = "command|count", .complexity = "O(1)"},
    {.name = "command|docs",
     .complexity = "O(N) where N is the number of commands to look up",
     ARGS(a_command_docs_1)},
    {.name = "command|getkeys",
     .complexity = "O(N) where N is the number of arguments to the command"},
    {.name = "command|getkeysandflags",
     .complexity = "O(N) where N is the number of arguments to the command"},
    {.name = "command|help", .complexity = "O(1)"},
    {.name = "command|info",
     .complexity = "O(N) where N is the number of commands to look up",
     HISTORY(h_command_info),
     ARGS(a_command_info_1)},
    {.name = "command|list",
     .complexity = "O(N) where N is the total number of Redis commands",
     ARGS(a_command_list_3)},
    {.name = "flushdb",
     .complexity = "O(N) where N is the number of keys in the selected database",
     HISTORY(h_flushdb),
     ARGS(a_flushdb_3)},
    {.name = "persist", .complexity = "O(1)", ARGS(a_persist_1)},
    {.name = "pexpire", .complexity = "O(1)", HISTORY(h_pexpire), ARGS(a_pexpire_3)},
    {.name = "expireat", .complexity = "O(1)", HISTORY(h_expireat), ARGS(a_expireat_3)},
    {.name = "flushall",
     .complexity = "O(N) where N is the total number of keys in all databases",
     HISTORY(h_flushall),
     ARGS(a_flushall_3)},
    {.name = "getrange",
     .complexity = "O(N) where N is the length of the returned string. The complexity is "
                   "ultimately determined by the returned length, but because creating a "
                   "substring from an existing string is very cheap, it can be considered O(1) "
                   "for small strings.",
     ARGS(a_getrange_1)},
    {.name = "renamenx", .complexity = "O(1)", HISTORY(h_renamenx), ARGS(a_renamenx_1)},
    {.name = "setrange",
     .complexity = "O(1), not counting the time taken to copy the new string in place. "
                   "Usually, this string is very small so the amortized complexity is O(1). "
                   "Otherwise, complexity is O(M) with M being the length of the value "
                   "argument.",
     ARGS(a_setrange_1)},
    {.name = "bgrewriteaof", .complexity = "O(1)"},
    {.name = "shutdown",
     .complexity = "O(N) when saving, where N is the total number of keys in all databases "
                   "when saving data, otherwise O(1)",
     HISTORY(h_shutdown),
     ARGS(a_shutdown_3)},
    {.name = "pexpireat", .complexity = "O(1)", HISTORY(h_pexpireat), ARGS(a_pexpireat_3)},
    {.name = "randomkey", .complexity = "O(1)"},
    {.name = "expiretime", .complexity = "O(1)", ARGS(a_expiretime_1)},
    {.name = "incrbyfloat", .complexity = "O(1)", ARGS(a_incrbyfloat_1)},
    {.name = "pexpiretime", .complexity = "O(1)", ARGS(a_pexpiretime_1)},
    CMD_DOCS_LIST
    CMD_DOCS_HASH
    CMD_DOCS_SET
};

const struct cmd_doc *cmd_doc_find(const char *fullname)
{
    /* COMMAND DOCS only: a scan of ~80 entries is cheap enough. */
    for (size_t i = 0; i < HP_ARRAY_LEN(cmd_docs); i++)
        if (strcmp(cmd_docs[i].name, fullname) == 0)
            return &cmd_docs[i];
    return NULL;
}

const struct cmd_doc *cmd_docs_table(size_t *count)
{
    *count = HP_ARRAY_LEN(cmd_docs);
    return cmd_docs;
}
