/* cmd_server.c: placeholder until its module lands. */
typedef int hp_placeholder_cmd_server;
