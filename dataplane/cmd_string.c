/* cmd_string.c: placeholder until its module lands. */
typedef int hp_placeholder_cmd_string;
