/* cmd_table.c: placeholder until its module lands. */
typedef int hp_placeholder_cmd_table;
