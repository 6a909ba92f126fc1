/*
 * server.h - the client and server commands (client_fn handlers, cmd.h)
 * and their part of the command table.  They run on the connection's own
 * worker and need the runtime, so they live above it: commands/ only holds
 * the keyed part of the table, and server_cmds_register() adds this part.
 */
#ifndef HP_SERVER_H
#define HP_SERVER_H

#include "../commands/cmd.h"

/* cmd_conn.c, cmd_command.c, cmd_info.c, cmd_config.c, cmd_client.c,
 * cmd_server.c (SHUTDOWN); BGREWRITEAOF is persist/persist.c's. */
#define HP_CLIENT_HANDLERS(X)                                                \
    X(ping) X(echo) X(hello) X(quit) X(reset) X(select) X(command)          \
    X(info) X(config) X(client) X(time) X(shutdown) X(bgrewriteaof)
#define HP_DECLARE_CLIENT(n) void cmd_##n(struct client_ctx *c);
HP_CLIENT_HANDLERS(HP_DECLARE_CLIENT)

/* Register the client part of the command table (cmd_table_register_client)
 * once at start-up, before any worker runs and before the log is replayed.
 * 0, or -1 if a client part is already registered. */
int server_cmds_register(void);

#endif
