/* resp_parse.c: placeholder until its module lands. */
typedef int hp_placeholder_resp_parse;
