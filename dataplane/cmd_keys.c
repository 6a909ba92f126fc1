/* cmd_keys.c: placeholder until its module lands. */
typedef int hp_placeholder_cmd_keys;
