/*
 * cmd_docs.h - what COMMAND DOCS prints beyond summary/since/group:
 * complexity, history, doc flags and the argument tree, Redis 7.0's text
 * for every command and subcommand hotpath has (cmd_docs.c).
 */
#ifndef HP_CMD_DOCS_H
#define HP_CMD_DOCS_H

#include "../../common/hp_common.h"

/* Redis 7.0's argument types, printed by their names ("pure-token"...). */
enum cmd_arg_type {
    CMD_ARG_STRING,
    CMD_ARG_INTEGER,
    CMD_ARG_DOUBLE,
    CMD_ARG_KEY,
    CMD_ARG_PATTERN,
    CMD_ARG_UNIX_TIME,
    CMD_ARG_PURE_TOKEN,
    CMD_ARG_ONEOF, /* one of args[] */
    CMD_ARG_BLOCK, /* all of args[] */
};

enum {
    CMD_ARG_OPTIONAL = 1u << 0,
    CMD_ARG_MULTIPLE = 1u << 1,
    CMD_ARG_MULTIPLE_TOKEN = 1u << 2,
};

enum {
    CMD_DOC_DEPRECATED = 1u << 0,
    CMD_DOC_SYSCMD = 1u << 1,
};

struct cmd_arg {
    const char *name;
    enum cmd_arg_type type;
    int key_spec_index; /* CMD_ARG_KEY: index into the command's key specs; else -1 */
    const char *token;  /* NULL for none */
    const char *since;
    const char *deprecated_since;
    uint32_t flags;     /* CMD_ARG_* */
    const struct cmd_arg *args; /* ONEOF / BLOCK */
    size_t nargs;
};

struct cmd_history {
    const char *version;
    const char *text;
};

struct cmd_doc {
    const char *name; /* "set", "client|kill" */
    const char *complexity;
    uint32_t doc_flags; /* CMD_DOC_* */
    const char *deprecated_since;
    const char *replaced_by;
    const struct cmd_history *history;
    size_t nhistory;
    const struct cmd_arg *args;
    size_t nargs;
};

/* The docs of "name" or "container|sub" (lower case); NULL if none. */
const struct cmd_doc *cmd_doc_find(const char *fullname);
/* The whole docs table (unit tests: one entry per command and subcommand). */
const struct cmd_doc *cmd_docs_table(size_t *count);

#endif
