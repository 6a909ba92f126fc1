/*
 * cmd.h - the command table and the two kinds of command handlers.
 *
 * Keyed and all-shard commands are exec_fn handlers (see exec.h): pure
 * functions of shards + arguments, runnable on any worker that holds the
 * shards.  Client commands (PING, HELLO, CLIENT, INFO, ...) are client_fn
 * handlers: they run on the connection's own worker and may read or change
 * the connection (protocol, db, name) but never touch a shard directly.
 *
 * The dispatcher (dispatch.c) looks a command up, checks arity with Redis'
 * error, works out which shards it touches from the key spec, and then runs
 * it locally, ships it to the owner, or parks several shards for it.
 */
#ifndef HP_CMD_H
#define HP_CMD_H

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "exec.h"

struct conn;
struct worker;

enum cmd_kind {
    CMD_KIND_KEYED,     /* exec_fn; shards from the key spec */
    CMD_KIND_ALLSHARDS, /* exec_fn; holds every shard (DBSIZE, KEYS, FLUSHALL...) */
    CMD_KIND_SCAN,      /* exec_fn; runs on the shard named by the cursor */
    CMD_KIND_CLIENT,    /* client_fn; runs on the connection's worker */
};

/* Flags, named after Redis' command flags (COMMAND INFO prints them). */
enum {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,
    CMD_FAST = 1u << 3,
    CMD_LOADING = 1u << 4,
    CMD_STALE = 1u << 5,
    CMD_NOSCRIPT = 1u << 6,
    CMD_ADMIN = 1u << 7,
    CMD_NO_MULTI = 1u << 8,
    CMD_SENTINEL = 1u << 9,
};

struct client_ctx {
    struct conn *conn;
    struct worker *worker;
    int argc;
    const struct hp_slice *argv;
    struct rbuf *out;
    int64_t now_ms;
};
typedef void (*client_fn)(struct client_ctx *c);

struct cmd_spec {
    const char *name;       /* lower case, as COMMAND replies */
    int arity;              /* Redis convention: -N means >= N */
    uint32_t flags;
    int first_key;          /* 0 = no keys */
    int last_key;           /* -1 = last argument */
    int key_step;
    enum cmd_kind kind;
    exec_fn exec;           /* KEYED, ALLSHARDS, SCAN */
    client_fn client;       /* CLIENT */
    const char *summary;    /* COMMAND DOCS */
    const char *group;      /* COMMAND DOCS: "string", "generic", "server", "connection" */
    const char *since;      /* COMMAND DOCS */
    /* Commands with subcommands (CLIENT, CONFIG, COMMAND): arity and help
     * errors are handled by the handler itself. */
};

/* Longest command name; longer input cannot match and is not folded. */
#define CMD_NAME_MAX 16
/* Room for the client part of the table (cmd_table_register_client). */
#define CMD_CLIENT_MAX 32

/*
 * The client commands' part of the table, provided from above (the server
 * layer, dataplane/server/) because its handlers need the runtime.
 * lookup: index in specs of the command that `folded` (lower-case letters,
 * 1..CMD_NAME_MAX bytes) names, or -1.
 */
struct cmd_client_part {
    const struct cmd_spec *specs;   /* every one CMD_KIND_CLIENT */
    size_t count;
    int (*lookup)(const uint8_t *folded, size_t len);
};
/* Once, at start-up, before any worker runs (the table is read-only after).
 * 0, or -1 (nothing changed) if a part is already registered or count
 * exceeds CMD_CLIENT_MAX.  Until then cmd_lookup finds keyed commands only. */
int cmd_table_register_client(const struct cmd_client_part *part);

/* Case-insensitive lookup; NULL if unknown. */
const struct cmd_spec *cmd_lookup(const uint8_t *name, size_t len);
/* The whole table (keyed part, then client part), for COMMAND / COMMAND COUNT. */
const struct cmd_spec *cmd_table(size_t *count);
/* true if argc satisfies the spec's arity. */
static inline bool cmd_arity_ok(const struct cmd_spec *s, int argc)
{
    return s->arity >= 0 ? argc == s->arity : argc >= -s->arity;
}
/* Append the Redis unknown-command error for argv:
 * "ERR unknown command 'foo', with args beginning with: 'a' 'b' " */
void cmd_reply_unknown(struct rbuf *out, int argc, const struct hp_slice *argv);
/* "ERR wrong number of arguments for 'get' command" */
void cmd_reply_arity(struct rbuf *out, const struct cmd_spec *s);

/* ---- keyed & all-shard handlers (cmd_string.c, cmd_keys.c) ---------- */
#define HP_EXEC_HANDLERS(X)                                                  \
    X(get) X(set) X(setnx) X(setex) X(psetex) X(getset) X(getdel) X(getex)  \
    X(mget) X(mset) X(msetnx) X(append) X(strlen) X(getrange) X(setrange)   \
    X(incr) X(decr) X(incrby) X(decrby) X(incrbyfloat)                      \
    X(del) X(unlink) X(exists) X(touch) X(type) X(rename) X(renamenx)       \
    X(keys) X(scan) X(randomkey) X(dbsize) X(flushdb) X(flushall)          \
    X(expire) X(pexpire) X(expireat) X(pexpireat) X(ttl) X(pttl)            \
    X(expiretime) X(pexpiretime) X(persist)
#define HP_DECLARE_EXEC(n) void cmd_##n(struct exec_ctx *x);
HP_EXEC_HANDLERS(HP_DECLARE_EXEC)

/* The client handlers are listed in dataplane/server/server.h. */

/* SCAN cursor layout: shard number in the top 16 bits, that shard's own
 * cursor below (shard_scan cursors are < 2^48). */
#define CMD_SCAN_SHARD_SHIFT 48

#endif
