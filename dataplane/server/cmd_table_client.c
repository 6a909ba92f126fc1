/*
 * cmd_table_client.c - the client commands' part of the command table
 * (Redis 7.0.15's arity, flags, ACL categories, tips and COMMAND DOCS text;
 * tests/e2e/test_command_info.py compares them with a running redis-server), registered into
 * commands/cmd_table.c by server_cmds_register() at start-up.  It lives
 * here, not in commands/, because it names handlers that need the runtime.
 * Lookup is the same (length, first letter) switch as the keyed part's; the
 * name arrives already folded to lower case.
 */
#include "server.h"

#include <string.h>

#include "../persist/persist.h"
#include "../../storage/hash/hash.h"

enum client_index {
#define CLIENT_INDEX(n) CLIENT_IX_##n,
    HP_CLIENT_HANDLERS(CLIENT_INDEX)
#undef CLIENT_INDEX
    CLIENT_COUNT
};

#define CLIENT(n, ar, fl, sum, grp, sn, ...)                                   \
    [CLIENT_IX_##n] = {.name = #n, .arity = ar, .flags = fl,                   \
                       .kind = CMD_KIND_CLIENT, .exec = NULL, .client = cmd_##n, \
                       .summary = sum, .group = grp, .since = sn, __VA_ARGS__}
#define ACL(cats) .acl = cats
#define TIPS(t) .tips = t
#define INFO_FLAGS(f) .info_flags = f

enum {
    F = CMD_FAST,
    LS = CMD_LOADING | CMD_STALE,
    NS = CMD_NOSCRIPT,
};

static const struct cmd_spec client_specs[CLIENT_COUNT] = {
    CLIENT(echo, 2, F | LS, "Echo the given string", "connection", "1.0.0",
          ACL("@fast @connection")),
    CLIENT(info, -1, LS, "Get information and statistics about the server", "server", "1.0.0",
          ACL("@slow @dangerous"),
          TIPS("nondeterministic_output request_policy:all_shards response_policy:special")),
    CLIENT(ping, -1, F, "Ping the server", "connection", "1.0.0",
          ACL("@fast @connection"),
          TIPS("request_policy:all_shards response_policy:all_succeeded")),
    CLIENT(quit, -1, NS | F | LS, "Close the connection", "connection", "1.0.0",
          ACL("@fast @connection"),
          INFO_FLAGS(CMD_NO_AUTH | CMD_ALLOW_BUSY)),
    CLIENT(time, 1, F | LS, "Return the current server time", "server", "2.6.0",
          ACL("@fast"),
          TIPS("nondeterministic_output")),
    CLIENT(hello, -1, NS | F | LS, "Handshake with Redis", "connection", "6.0.0",
          ACL("@fast @connection"),
          INFO_FLAGS(CMD_NO_AUTH | CMD_ALLOW_BUSY)),
    CLIENT(reset, 1, NS | F | LS, "Reset the connection", "connection", "6.2.0",
          ACL("@fast @connection"),
          INFO_FLAGS(CMD_NO_AUTH | CMD_ALLOW_BUSY)),
    CLIENT(client, -2, 0, "A container for client connection commands", "connection", "2.4.0",
          ACL("@slow")),
    CLIENT(config, -2, 0, "A container for server configuration commands", "server", "2.0.0",
          ACL("@slow")),
    CLIENT(select, 2, F | LS,
          "Change the selected database for the current connection", "connection", "1.0.0",
          ACL("@fast @connection")),
    CLIENT(command, -1, LS, "Get array of Redis command details", "server", "2.8.13",
          ACL("@slow @connection"),
          TIPS("nondeterministic_output_order")),
    CLIENT(bgrewriteaof, 1, CMD_ADMIN | NS,
          "Asynchronously rewrite the append-only file", "server", "1.0.0",
          ACL("@admin @slow @dangerous"),
          INFO_FLAGS(CMD_NO_ASYNC_LOADING)),
    CLIENT(shutdown, -1, CMD_ADMIN | NS | CMD_NO_MULTI | LS,
          "Synchronously save the dataset to disk and then shut down the server", "server", "1.0.0",
          ACL("@admin @slow @dangerous"),
          INFO_FLAGS(CMD_ALLOW_BUSY)),
};

#define CMD_KEY(len, first) (((unsigned)(len) << 8) | (unsigned)(first))
#define CLIENT_TRY(n)                                                          \
    if (memcmp(folded, #n, sizeof(#n) - 1) == 0)                               \
        return CLIENT_IX_##n;

static int client_lookup(const uint8_t *folded, size_t len)
{
    switch (CMD_KEY(len, folded[0])) {
    case CMD_KEY(4, 'e'): CLIENT_TRY(echo) break;
    case CMD_KEY(4, 'i'): CLIENT_TRY(info) break;
    case CMD_KEY(4, 'p'): CLIENT_TRY(ping) break;
    case CMD_KEY(4, 'q'): CLIENT_TRY(quit) break;
    case CMD_KEY(4, 't'): CLIENT_TRY(time) break;
    case CMD_KEY(5, 'h'): CLIENT_TRY(hello) break;
    case CMD_KEY(5, 'r'): CLIENT_TRY(reset) break;
    case CMD_KEY(6, 'c'): CLIENT_TRY(client) CLIENT_TRY(config) break;
    case CMD_KEY(6, 's'): CLIENT_TRY(select) break;
    case CMD_KEY(7, 'c'): CLIENT_TRY(command) break;
    case CMD_KEY(8, 's'): CLIENT_TRY(shutdown) break;
    case CMD_KEY(12, 'b'): CLIENT_TRY(bgrewriteaof) break;
    default:
        break;
    }
    return -1;
}

int server_cmds_register(void)
{
    static const struct cmd_client_part part = {
        .specs = client_specs,
        .count = CLIENT_COUNT,
        .lookup = client_lookup,
    };
    /* The value types' ops, before any key of them exists (the log
     * replay included): idempotent. */
    if (hash_type_register() != 0)
        return -1;
    return cmd_table_register_client(&part);
}
