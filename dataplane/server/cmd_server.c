/*
 * cmd_server.c - connection and server commands: PING, ECHO, HELLO, QUIT,
 * RESET, SELECT, TIME, SHUTDOWN, COMMAND, CONFIG, CLIENT, INFO.
 *
 * These are client_fn handlers (cmd.h): they run on the connection's own
 * worker, may change the connection's visible state (db, proto, name) and
 * never touch a shard directly.  What needs every worker (INFO, CLIENT LIST,
 * CLIENT KILL, CONFIG RESETSTAT) goes through client_broadcast(): a `part`
 * function runs on each worker in its own thread and writes only to its
 * part buffer; `done` runs back here and writes the one reply.
 *
 * Redis 7.0 is the reference for every reply shape and error text.  Redis
 * checks subcommand arity in its command table; hotpath's table knows only
 * the containers (CLIENT, CONFIG, COMMAND), so the subcommand tables below
 * carry the arity and produce the same "unknown subcommand" and
 * "wrong number of arguments for 'client|setname'" errors.
 *
 * Identity: HELLO answers server "redis" and version HP_REDIS_COMPAT_VERSION
 * and INFO reports redis_version with the same value plus hotpath_version:
 * clients and tools gate features on those fields, and hotpath implements
 * the Redis 7.0 command semantics (the same choice other Redis-compatible
 * servers make).
 */
#include "../core/runtime.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../common/resp.h"
#include "../../common/strutil.h"
#include "../../storage/shard.h"
#include "../persist/persist.h"
#include "../udp/udp.h"

#ifndef HP_VERSION
#define HP_VERSION "0.1.0"
#endif
#define HP_REDIS_COMPAT_VERSION "7.0.0"

#define ERR_MAX 1024           /* longest error line we build */
#define ERR_ARG_SHOW 512       /* bytes of a client argument echoed in an error */
#define SUBCMD_ARG_SHOW 128    /* Redis prints '%.128s' for unknown subcommands */
#define NAME_MAX_LEN (CONN_NAME_MAX - 1)
#define CLIENT_LINE_MAX (CONN_NAME_MAX + 768)
#define TEXT_LIMIT (64u << 20) /* scratch text (INFO, COMMAND LIST): far above real sizes */

/* ---- small helpers ------------------------------------------------------------ */

/* Like Redis' addReplyErrorFormat: newlines in the message become spaces, so
 * a client argument echoed back can never break the protocol. */
static void reply_errf(struct rbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_errf(struct rbuf *out, const char *fmt, ...)
{
    char msg[ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof(msg), "ERR internal formatting error");
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    resp_add_error(out, msg);
}

/* "%.*s" arguments for a client-supplied slice (printing stops at a NUL, as
 * Redis' C-string formatting does). */
#define SLICE_ARG(s, max) (int)HP_MIN((s).len, (size_t)(max)), (const char *)(s).ptr

static void reply_syntax(struct rbuf *out) { resp_add_error(out, "ERR syntax error"); }

static void reply_not_integer(struct rbuf *out)
{
    resp_add_error(out, "ERR value is not an integer or out of range");
}

static void reply_arity_named(struct rbuf *out, const char *fullname)
{
    reply_errf(out, "ERR wrong number of arguments for '%s' command", fullname);
}

/* A NUL-terminated heap copy of a slice; NULL when out of memory. */
static char *slice_dup(struct hp_slice s)
{
    char *p = malloc(s.len + 1);
    if (p == NULL)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

static bool slice_eq(struct hp_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && memcmp(s.ptr, str, n) == 0;
}

/* Growable scratch text with a hard limit (rbuf semantics: overflow sticks). */
static void text_addf(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_addf(struct rbuf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    /* +1: vsnprintf writes a NUL we do not keep. */
    uint8_t *p = n >= 0 ? rbuf_reserve(b, (size_t)n + 1) : NULL;
    if (p != NULL) {
        vsnprintf((char *)p, (size_t)n + 1, fmt, ap2);
        rbuf_commit(b, (size_t)n);
    }
    va_end(ap2);
}

static void reply_help(struct rbuf *out, const char *const *lines, size_t n)
{
    resp_add_array(out, n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(out, lines[i]);
}

/* ---- subcommand tables ---------------------------------------------------------- */

typedef void (*subcmd_fn)(struct client_ctx *c);

struct subcmd {
    const char *name;     /* lower case; COMMAND shows "container|name" */
    int arity;            /* Redis convention, counting the container word */
    uint32_t flags;       /* CMD_* */
    const char *since;    /* COMMAND DOCS */
    const char *summary;  /* COMMAND DOCS */
    subcmd_fn fn;
};

#define SUB_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define SUB_CONN (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define SUB_HELP (CMD_LOADING | CMD_STALE)

static void client_caching(struct client_ctx *c);
static void client_getname(struct client_ctx *c);
static void client_getredir(struct client_ctx *c);
static void client_help(struct client_ctx *c);
static void client_id(struct client_ctx *c);
static void client_info(struct client_ctx *c);
static void client_kill(struct client_ctx *c);
static void client_list(struct client_ctx *c);
static void client_no_evict(struct client_ctx *c);
static void client_pause(struct client_ctx *c);
static void client_reply(struct client_ctx *c);
static void client_setname(struct client_ctx *c);
static void client_tracking(struct client_ctx *c);
static void client_trackinginfo(struct client_ctx *c);
static void client_unblock(struct client_ctx *c);
static void client_unpause(struct client_ctx *c);

static const struct subcmd client_subcmds[] = {
    {"caching", 3, SUB_CONN, "6.0.0", "Instruct the server about tracking or not keys in the next request", client_caching},
    {"getname", 2, SUB_CONN, "2.6.9", "Get the current connection name", client_getname},
    {"getredir", 2, SUB_CONN, "6.0.0", "Get tracking notifications redirection client ID if any", client_getredir},
    {"help", 2, SUB_HELP, "5.0.0", "Show helpful text about the different subcommands", client_help},
    {"id", 2, SUB_CONN, "5.0.0", "Returns the client ID for the current connection", client_id},
    {"info", 2, SUB_CONN, "6.2.0", "Returns information about the current client connection.", client_info},
    {"kill", -3, SUB_ADMIN, "2.4.0", "Kill the connection of a client", client_kill},
    {"list", -2, SUB_ADMIN, "2.4.0", "Get the list of client connections", client_list},
    {"no-evict", 3, SUB_ADMIN, "7.0.0", "Set client eviction mode for the current connection", client_no_evict},
    {"pause", -3, SUB_ADMIN, "2.9.50", "Stop processing commands from clients for some time", client_pause},
    {"reply", 3, SUB_CONN, "3.2.0", "Instruct the server whether to reply to commands", client_reply},
    {"setname", 3, SUB_CONN, "2.6.9", "Set the current connection name", client_setname},
    {"tracking", -3, SUB_CONN, "6.0.0", "Enable or disable server assisted client side caching support", client_tracking},
    {"trackinginfo", 2, SUB_CONN, "6.2.0", "Return information about server assisted client side caching for the current connection", client_trackinginfo},
    {"unblock", -3, SUB_ADMIN, "5.0.0", "Unblock a client blocked in a blocking command from a different connection", client_unblock},
    {"unpause", 2, SUB_ADMIN, "6.2.0", "Resume processing of clients that were paused", client_unpause},
};

static void config_get(struct client_ctx *c);
static void config_help(struct client_ctx *c);
static void config_resetstat(struct client_ctx *c);
static void config_rewrite(struct client_ctx *c);
static void config_set(struct client_ctx *c);

static const struct subcmd config_subcmds[] = {
    {"get", -3, SUB_ADMIN, "2.0.0", "Get the values of configuration parameters", config_get},
    {"help", 2, SUB_HELP, "5.0.0", "Show helpful text about the different subcommands", config_help},
    {"resetstat", 2, SUB_ADMIN, "2.0.0", "Reset the stats returned by INFO", config_resetstat},
    {"rewrite", 2, SUB_ADMIN, "2.8.0", "Rewrite the configuration file with the in memory configuration", config_rewrite},
    {"set", -4, SUB_ADMIN, "2.0.0", "Set configuration parameters to the given values", config_set},
};

static void command_count(struct client_ctx *c);
static void command_docs(struct client_ctx *c);
static void command_getkeys(struct client_ctx *c);
static void command_getkeysandflags(struct client_ctx *c);
static void command_help(struct client_ctx *c);
static void command_info(struct client_ctx *c);
static void command_list(struct client_ctx *c);

static const struct subcmd command_subcmds[] = {
    {"count", 2, SUB_HELP, "2.8.13", "Get total number of Redis commands", command_count},
    {"docs", -2, SUB_HELP, "7.0.0", "Get array of specific Redis command documentation", command_docs},
    {"getkeys", -4, SUB_HELP, "2.8.13", "Extract keys given a full Redis command", command_getkeys},
    {"getkeysandflags", -4, SUB_HELP, "7.0.0", "Extract keys and access flags given a full Redis command", command_getkeysandflags},
    {"help", 2, SUB_HELP, "5.0.0", "Show helpful text about the different subcommands", command_help},
    {"info", -2, SUB_HELP, "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", command_info},
    {"list", -2, SUB_HELP, "7.0.0", "Get an array of Redis command names", command_list},
};

/* The subcommand table of a container command, or NULL. */
static const struct subcmd *subcmds_of(const char *name, size_t *n)
{
    if (strcmp(name, "client") == 0) {
        *n = HP_ARRAY_LEN(client_subcmds);
        return client_subcmds;
    }
    if (strcmp(name, "config") == 0) {
        *n = HP_ARRAY_LEN(config_subcmds);
        return config_subcmds;
    }
    if (strcmp(name, "command") == 0) {
        *n = HP_ARRAY_LEN(command_subcmds);
        return command_subcmds;
    }
    *n = 0;
    return NULL;
}

static const struct subcmd *subcmd_find(const struct subcmd *t, size_t n, struct hp_slice name)
{
    for (size_t i = 0; i < n; i++)
        if (slice_eq_nocase(name, t[i].name))
            return &t[i];
    return NULL;
}

/* Look argv[1] up in the container's table, check its arity and run it, with
 * Redis' errors for an unknown subcommand or a wrong argument count. */
static void subcmd_dispatch(struct client_ctx *c, const char *container, const char *upper,
                            const struct subcmd *t, size_t n)
{
    if (c->argc < 2) {
        reply_arity_named(c->out, container);
        return;
    }
    const struct subcmd *s = subcmd_find(t, n, c->argv[1]);
    if (s == NULL) {
        reply_errf(c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                   SLICE_ARG(c->argv[1], SUBCMD_ARG_SHOW), upper);
        return;
    }
    bool ok = s->arity >= 0 ? c->argc == s->arity : c->argc >= -s->arity;
    if (!ok) {
        char full[64];
        snprintf(full, sizeof(full), "%s|%s", container, s->name);
        reply_arity_named(c->out, full);
        return;
    }
    s->fn(c);
}

/* Redis' fallback when a known subcommand gets an argument count its
 * handler does not accept. */
static void reply_subcmd_syntax(struct client_ctx *c, const char *upper)
{
    reply_errf(c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
               SLICE_ARG(c->argv[1], SUBCMD_ARG_SHOW), upper);
}

/* ---- PING ECHO TIME QUIT RESET SELECT -------------------------------------------- */

void cmd_ping(struct client_ctx *c)
{
    if (c->argc > 2) {
        reply_arity_named(c->out, "ping");
        return;
    }
    if (c->argc == 2)
        resp_add_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
    else
        resp_add_simple(c->out, "PONG");
}

void cmd_echo(struct client_ctx *c)
{
    if (c->argc != 2) {
        reply_arity_named(c->out, "echo");
        return;
    }
    resp_add_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
}

void cmd_time(struct client_ctx *c)
{
    if (c->argc != 1) {
        reply_arity_named(c->out, "time");
        return;
    }
    int64_t us = clock_unix_us();
    resp_add_array(c->out, 2);
    resp_add_bulk_int(c->out, us / 1000000);
    resp_add_bulk_int(c->out, us % 1000000);
}

void cmd_quit(struct client_ctx *c)
{
    /* QUIT takes any arguments in Redis 7.0 (arity -1). */
    resp_add_simple(c->out, "OK");
    c->conn->flags |= CONN_CLOSE_AFTER_REPLY;
}

void cmd_reset(struct client_ctx *c)
{
    if (c->argc != 1) {
        reply_arity_named(c->out, "reset");
        return;
    }
    struct conn *conn = c->conn;
    conn->db = 0;
    conn->proto = 2;
    conn->name[0] = '\0';
    resp_add_simple(c->out, "RESET");
}

void cmd_select(struct client_ctx *c)
{
    if (c->argc != 2) {
        reply_arity_named(c->out, "select");
        return;
    }
    int64_t v;
    if (str_to_i64(c->argv[1].ptr, c->argv[1].len, &v) != 0) {
        reply_not_integer(c->out);
        return;
    }
    if (v < INT_MIN || v > INT_MAX) {
        resp_add_error(c->out,
                       "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (v < 0 || v >= HP_NUM_DBS) {
        resp_add_error(c->out, "ERR DB index is out of range");
        return;
    }
    c->conn->db = (uint32_t)v;
    resp_add_simple(c->out, "OK");
}

/* ---- HELLO, client names --------------------------------------------------------- */

/* Redis' clientSetName rules: empty clears; only '!'..'~'.  hotpath keeps
 * names in the connection (CONN_NAME_MAX), so longer names are refused. */
static bool client_name_valid(struct rbuf *out, struct hp_slice name)
{
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] < '!' || name.ptr[i] > '~') {
            resp_add_error(out,
                           "ERR Client names cannot contain spaces, newlines or special characters.");
            return false;
        }
    }
    if (name.len > NAME_MAX_LEN) {
        reply_errf(out, "ERR Client name is too long (hotpath keeps at most %d bytes)",
                   NAME_MAX_LEN);
        return false;
    }
    return true;
}

static void client_name_store(struct conn *conn, struct hp_slice name)
{
    HP_ASSERT(name.len <= NAME_MAX_LEN);
    if (name.len)
        memcpy(conn->name, name.ptr, name.len);
    conn->name[name.len] = '\0';
}

/* hotpath has no ACL and no requirepass yet: like Redis' default
 * configuration, user "default" accepts any password and no other user
 * exists. */
static bool auth_check(struct hp_slice user, struct hp_slice pass)
{
    (void)pass;
    return slice_eq(user, "default");
}

static void hello_reply(struct client_ctx *c)
{
    struct rbuf *out = c->out;
    int proto = c->conn->proto;
    resp_add_map(out, proto, 7);
    resp_add_bulk_cstr(out, "server");
    resp_add_bulk_cstr(out, "redis");
    resp_add_bulk_cstr(out, "version");
    resp_add_bulk_cstr(out, HP_REDIS_COMPAT_VERSION);
    resp_add_bulk_cstr(out, "proto");
    resp_add_int(out, proto);
    resp_add_bulk_cstr(out, "id");
    resp_add_int(out, (int64_t)c->conn->id);
    resp_add_bulk_cstr(out, "mode");
    resp_add_bulk_cstr(out, "standalone");
    resp_add_bulk_cstr(out, "role");
    resp_add_bulk_cstr(out, "master");
    resp_add_bulk_cstr(out, "modules");
    resp_add_array(out, 0);
}

void cmd_hello(struct client_ctx *c)
{
    int64_t ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (str_to_i64(c->argv[1].ptr, c->argv[1].len, &ver) != 0) {
            resp_add_error(c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            resp_add_error(c->out, "NOPROTO unsupported protocol version");
            return;
        }
        next = 2;
    }
    const struct hp_slice *user = NULL, *pass = NULL, *name = NULL;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (slice_eq_nocase(c->argv[j], "auth") && more >= 2) {
            user = &c->argv[j + 1];
            pass = &c->argv[j + 2];
            j += 2;
        } else if (slice_eq_nocase(c->argv[j], "setname") && more >= 1) {
            name = &c->argv[j + 1];
            j++;
        } else {
            reply_errf(c->out, "ERR Syntax error in HELLO option '%.*s'",
                       SLICE_ARG(c->argv[j], ERR_ARG_SHOW));
            return;
        }
    }
    if (user != NULL && !auth_check(*user, *pass)) {
        resp_add_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    if (name != NULL) {
        if (!client_name_valid(c->out, *name))
            return;
        client_name_store(c->conn, *name);
    }
    if (ver)
        c->conn->proto = (uint8_t)ver;
    hello_reply(c);
}

/* ---- SHUTDOWN ---------------------------------------------------------------------- */

void cmd_shutdown(struct client_ctx *c)
{
    bool nosave = false, save = false, now = false, force = false, abort_req = false;
    for (int i = 1; i < c->argc; i++) {
        struct hp_slice a = c->argv[i];
        if (slice_eq_nocase(a, "nosave"))
            nosave = true;
        else if (slice_eq_nocase(a, "save"))
            save = true;
        else if (slice_eq_nocase(a, "now"))
            now = true;
        else if (slice_eq_nocase(a, "force"))
            force = true;
        else if (slice_eq_nocase(a, "abort"))
            abort_req = true;
        else {
            reply_syntax(c->out);
            return;
        }
    }
    if ((abort_req && (nosave || save || now || force)) || (nosave && save)) {
        reply_syntax(c->out);
        return;
    }
    if (abort_req) {
        /* A hotpath shutdown never waits for anything (no replicas, no
         * final save), so there is never one in progress to abort. */
        resp_add_error(c->out, "ERR No shutdown in progress.");
        return;
    }
    if (save) {
        resp_add_error(c->out, "ERR SHUTDOWN SAVE is not supported: hotpath has no persistence");
        return;
    }
    log_verbose("SHUTDOWN from client id %llu (%s)", (unsigned long long)c->conn->id,
               c->conn->addr);
    worker_request_shutdown(c->worker);
    /* Like Redis, no reply: the connection just closes. */
    c->conn->flags |= CONN_CLOSE_AFTER_REPLY;
}

/* ---- COMMAND ------------------------------------------------------------------------ */

/* One command or subcommand as COMMAND describes it. */
struct cmd_view {
    char name[64];             /* "get" or "client|kill" */
    int arity;
    uint32_t flags;
    int first, last, step;
    const char *group;
    const char *summary;
    const char *since;
    const struct subcmd *subs; /* for containers */
    size_t nsubs;
    const struct cmd_spec *parent; /* for subcommands */
};

static void view_of_spec(struct cmd_view *v, const struct cmd_spec *s)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", s->name);
    v->arity = s->arity;
    v->flags = s->flags;
    v->first = s->first_key;
    v->last = s->last_key;
    v->step = s->key_step;
    v->group = s->group;
    v->summary = s->summary;
    v->since = s->since;
    v->subs = subcmds_of(s->name, &v->nsubs);
}

static void view_of_sub(struct cmd_view *v, const struct cmd_spec *parent, const struct subcmd *sub)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s|%s", parent->name, sub->name);
    v->arity = sub->arity;
    v->flags = sub->flags;
    v->group = parent->group;
    v->summary = sub->summary;
    v->since = sub->since;
    v->parent = parent;
}

/* Redis' command flag names, in the order COMMAND prints them. */
static size_t view_flag_names(const struct cmd_view *v, const char **names)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } order[] = {
        {CMD_WRITE, "write"},     {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},     {CMD_NOSCRIPT, "noscript"}, {CMD_LOADING, "loading"},
        {CMD_STALE, "stale"},     {CMD_FAST, "fast"},         {CMD_NO_MULTI, "no_multi"},
    };
    size_t n = 0;
    for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
        if (v->flags & order[i].flag)
            names[n++] = order[i].name;
    return n;
}

/* ACL categories derived from flags and group, in Redis' category order.
 * An approximation of Redis' hand-written per-command categories. */
static size_t view_categories(const struct cmd_view *v, const char **cats)
{
    const char *g = v->group ? v->group : "";
    size_t n = 0;
    if (v->nsubs > 0) {
        /* Containers carry only @slow; their subcommands carry the rest. */
        cats[n++] = "@slow";
        return n;
    }
    if (strcmp(g, "generic") == 0)
        cats[n++] = "@keyspace";
    if (v->flags & CMD_READONLY)
        cats[n++] = "@read";
    if (v->flags & CMD_WRITE)
        cats[n++] = "@write";
    if (strcmp(g, "string") == 0)
        cats[n++] = "@string";
    if (v->flags & CMD_ADMIN)
        cats[n++] = "@admin";
    cats[n++] = (v->flags & CMD_FAST) ? "@fast" : "@slow";
    if (v->flags & CMD_ADMIN)
        cats[n++] = "@dangerous";
    if (strcmp(g, "connection") == 0)
        cats[n++] = "@connection";
    return n;
}

/* Key-spec access flags: Redis' per-command flags, approximated from the
 * command's read/write flag. */
static size_t view_key_flags(const struct cmd_view *v, const char **flags)
{
    if (v->flags & CMD_READONLY) {
        flags[0] = "RO";
        flags[1] = "access";
        return 2;
    }
    flags[0] = "RW";
    flags[1] = "access";
    flags[2] = "update";
    return 3;
}

static void reply_key_specs(struct rbuf *out, int proto, const struct cmd_view *v)
{
    if (v->first <= 0) {
        resp_add_set(out, proto, 0);
        return;
    }
    const char *kf[4];
    size_t nkf = view_key_flags(v, kf);
    resp_add_set(out, proto, 1);
    resp_add_map(out, proto, 3);
    resp_add_bulk_cstr(out, "flags");
    resp_add_set(out, proto, nkf);
    for (size_t i = 0; i < nkf; i++)
        resp_add_simple(out, kf[i]);
    resp_add_bulk_cstr(out, "begin_search");
    resp_add_map(out, proto, 2);
    resp_add_bulk_cstr(out, "type");
    resp_add_bulk_cstr(out, "index");
    resp_add_bulk_cstr(out, "spec");
    resp_add_map(out, proto, 1);
    resp_add_bulk_cstr(out, "index");
    resp_add_int(out, v->first);
    resp_add_bulk_cstr(out, "find_keys");
    resp_add_map(out, proto, 2);
    resp_add_bulk_cstr(out, "type");
    resp_add_bulk_cstr(out, "range");
    resp_add_bulk_cstr(out, "spec");
    resp_add_map(out, proto, 3);
    resp_add_bulk_cstr(out, "lastkey");
    resp_add_int(out, v->last < 0 ? v->last : v->last - v->first);
    resp_add_bulk_cstr(out, "keystep");
    resp_add_int(out, v->step > 0 ? v->step : 1);
    resp_add_bulk_cstr(out, "limit");
    resp_add_int(out, 0);
}

/* Redis 7.0's 10-element command info. */
static void reply_command_info(struct rbuf *out, int proto, const struct cmd_view *v)
{
    const char *names[16];
    resp_add_array(out, 10);
    resp_add_bulk_cstr(out, v->name);
    resp_add_int(out, v->arity);
    size_t nf = view_flag_names(v, names);
    resp_add_set(out, proto, nf);
    for (size_t i = 0; i < nf; i++)
        resp_add_simple(out, names[i]);
    resp_add_int(out, v->first);
    resp_add_int(out, v->last);
    resp_add_int(out, v->step);
    size_t nc = view_categories(v, names);
    resp_add_set(out, proto, nc);
    for (size_t i = 0; i < nc; i++)
        resp_add_simple(out, names[i]);
    resp_add_set(out, proto, 0); /* tips */
    reply_key_specs(out, proto, v);
    if (v->nsubs == 0) {
        resp_add_set(out, proto, 0);
        return;
    }
    resp_add_array(out, v->nsubs);
    for (size_t i = 0; i < v->nsubs; i++) {
        struct cmd_view sv;
        /* v describes a container here, so it came from a spec. */
        const struct cmd_spec *self = cmd_lookup((const uint8_t *)v->name, strlen(v->name));
        HP_ASSERT(self != NULL);
        view_of_sub(&sv, self, &v->subs[i]);
        reply_command_info(out, proto, &sv);
    }
}

/* "get" or "client|kill" -> view; false if unknown. */
static bool view_lookup(struct hp_slice name, struct cmd_view *v)
{
    const uint8_t *bar = memchr(name.ptr, '|', name.len);
    size_t head = bar ? (size_t)(bar - name.ptr) : name.len;
    const struct cmd_spec *s = cmd_lookup(name.ptr, head);
    if (s == NULL)
        return false;
    if (bar == NULL) {
        view_of_spec(v, s);
        return true;
    }
    size_t nsubs;
    const struct subcmd *subs = subcmds_of(s->name, &nsubs);
    struct hp_slice tail = hp_slice_make(bar + 1, name.len - head - 1);
    const struct subcmd *sub = subs ? subcmd_find(subs, nsubs, tail) : NULL;
    if (sub == NULL)
        return false;
    view_of_sub(v, s, sub);
    return true;
}

static void reply_all_commands(struct client_ctx *c)
{
    size_t n;
    const struct cmd_spec *t = cmd_table(&n);
    resp_add_array(c->out, n);
    for (size_t i = 0; i < n; i++) {
        struct cmd_view v;
        view_of_spec(&v, &t[i]);
        reply_command_info(c->out, c->conn->proto, &v);
    }
}

static void command_count(struct client_ctx *c)
{
    size_t n;
    (void)cmd_table(&n);
    resp_add_int(c->out, (int64_t)n);
}

static void command_info(struct client_ctx *c)
{
    if (c->argc == 2) {
        reply_all_commands(c);
        return;
    }
    resp_add_array(c->out, (size_t)(c->argc - 2));
    for (int i = 2; i < c->argc; i++) {
        struct cmd_view v;
        if (view_lookup(c->argv[i], &v))
            reply_command_info(c->out, c->conn->proto, &v);
        else
            resp_add_null(c->out, c->conn->proto);
    }
}

static size_t view_doc_fields(const struct cmd_view *v)
{
    return (v->summary != NULL) + (v->since != NULL) + (v->group != NULL) + (v->nsubs > 0);
}

static void reply_command_docs(struct rbuf *out, int proto, const struct cmd_view *v)
{
    resp_add_bulk_cstr(out, v->name);
    resp_add_map(out, proto, view_doc_fields(v));
    if (v->summary) {
        resp_add_bulk_cstr(out, "summary");
        resp_add_bulk_cstr(out, v->summary);
    }
    if (v->since) {
        resp_add_bulk_cstr(out, "since");
        resp_add_bulk_cstr(out, v->since);
    }
    if (v->group) {
        resp_add_bulk_cstr(out, "group");
        resp_add_bulk_cstr(out, v->group);
    }
    if (v->nsubs > 0) {
        const struct cmd_spec *self = cmd_lookup((const uint8_t *)v->name, strlen(v->name));
        HP_ASSERT(self != NULL);
        resp_add_bulk_cstr(out, "subcommands");
        resp_add_map(out, proto, v->nsubs);
        for (size_t i = 0; i < v->nsubs; i++) {
            struct cmd_view sv;
            view_of_sub(&sv, self, &v->subs[i]);
            reply_command_docs(out, proto, &sv);
        }
    }
}

static void command_docs(struct client_ctx *c)
{
    int proto = c->conn->proto;
    if (c->argc == 2) {
        size_t n;
        const struct cmd_spec *t = cmd_table(&n);
        resp_add_map(c->out, proto, n);
        for (size_t i = 0; i < n; i++) {
            struct cmd_view v;
            view_of_spec(&v, &t[i]);
            reply_command_docs(c->out, proto, &v);
        }
        return;
    }
    /* Unknown names are left out, as Redis does. */
    size_t found = 0;
    struct cmd_view v;
    for (int i = 2; i < c->argc; i++)
        found += view_lookup(c->argv[i], &v);
    resp_add_map(c->out, proto, found);
    for (int i = 2; i < c->argc; i++)
        if (view_lookup(c->argv[i], &v))
            reply_command_docs(c->out, proto, &v);
}

enum list_filter { LIST_ALL, LIST_PATTERN, LIST_ACLCAT, LIST_MODULE };

static bool view_matches(const struct cmd_view *v, enum list_filter f, struct hp_slice arg)
{
    switch (f) {
    case LIST_ALL:
        return true;
    case LIST_MODULE:
        return false; /* hotpath has no modules */
    case LIST_PATTERN:
        return glob_match(arg.ptr, arg.len, (const uint8_t *)v->name, strlen(v->name), true);
    case LIST_ACLCAT: {
        const char *cats[16];
        size_t n = view_categories(v, cats);
        for (size_t i = 0; i < n; i++)
            if (slice_eq_nocase(arg, cats[i] + 1))
                return true;
        return false;
    }
    }
    return false;
}

static void command_list(struct client_ctx *c)
{
    enum list_filter f = LIST_ALL;
    struct hp_slice arg = {NULL, 0};
    if (c->argc == 5 && slice_eq_nocase(c->argv[2], "filterby")) {
        arg = c->argv[4];
        if (slice_eq_nocase(c->argv[3], "pattern"))
            f = LIST_PATTERN;
        else if (slice_eq_nocase(c->argv[3], "aclcat"))
            f = LIST_ACLCAT;
        else if (slice_eq_nocase(c->argv[3], "module"))
            f = LIST_MODULE;
        else {
            reply_syntax(c->out);
            return;
        }
    } else if (c->argc != 2) {
        reply_syntax(c->out);
        return;
    }
    struct rbuf tmp;
    rbuf_init(&tmp, TEXT_LIMIT);
    size_t count = 0, n;
    const struct cmd_spec *t = cmd_table(&n);
    for (size_t i = 0; i < n; i++) {
        struct cmd_view v;
        view_of_spec(&v, &t[i]);
        if (view_matches(&v, f, arg)) {
            resp_add_bulk_cstr(&tmp, v.name);
            count++;
        }
        for (size_t j = 0; j < v.nsubs; j++) {
            struct cmd_view sv;
            view_of_sub(&sv, &t[i], &v.subs[j]);
            if (view_matches(&sv, f, arg)) {
                resp_add_bulk_cstr(&tmp, sv.name);
                count++;
            }
        }
    }
    if (tmp.overflow) {
        resp_add_error(c->out, "ERR out of memory");
    } else {
        resp_add_array(c->out, count);
        rbuf_append(c->out, tmp.data, tmp.len);
    }
    rbuf_free(&tmp);
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS: argv[2..] is the command to inspect. */
static void command_keys(struct client_ctx *c, bool with_flags)
{
    const struct cmd_spec *s = cmd_lookup(c->argv[2].ptr, c->argv[2].len);
    if (s == NULL) {
        resp_add_error(c->out, "ERR Invalid command specified");
        return;
    }
    int argc = c->argc - 2;
    if (!cmd_arity_ok(s, argc)) {
        resp_add_error(c->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (s->first_key <= 0 || s->first_key >= argc) {
        resp_add_error(c->out, "ERR The command has no key arguments");
        return;
    }
    int last = s->last_key < 0 ? argc + s->last_key : s->last_key;
    if (last >= argc)
        last = argc - 1;
    int step = s->key_step > 0 ? s->key_step : 1;
    size_t nkeys = last >= s->first_key ? (size_t)((last - s->first_key) / step + 1) : 0;
    struct cmd_view v;
    view_of_spec(&v, s);
    const char *kf[4];
    size_t nkf = view_key_flags(&v, kf);
    int proto = c->conn->proto;
    resp_add_array(c->out, nkeys);
    for (int i = s->first_key; i <= last; i += step) {
        const struct hp_slice *k = &c->argv[2 + i];
        if (!with_flags) {
            resp_add_bulk(c->out, k->ptr, k->len);
            continue;
        }
        resp_add_array(c->out, 2);
        resp_add_bulk(c->out, k->ptr, k->len);
        resp_add_set(c->out, proto, nkf);
        for (size_t j = 0; j < nkf; j++)
            resp_add_simple(c->out, kf[j]);
    }
}

static void command_getkeys(struct client_ctx *c) { command_keys(c, false); }
static void command_getkeysandflags(struct client_ctx *c) { command_keys(c, true); }

static void command_help(struct client_ctx *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full command.",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c->out, lines, HP_ARRAY_LEN(lines));
}

void cmd_command(struct client_ctx *c)
{
    if (c->argc == 1) {
        reply_all_commands(c);
        return;
    }
    subcmd_dispatch(c, "command", "COMMAND", command_subcmds, HP_ARRAY_LEN(command_subcmds));
}

/* ---- CONFIG ------------------------------------------------------------------------ */

struct config_get_ctx {
    struct rbuf tmp;
    size_t pairs;
    const struct hp_slice *earlier; /* patterns already answered */
    int nearlier;
};

static void config_get_one(void *arg, const char *name, const char *value)
{
    struct config_get_ctx *g = arg;
    size_t len = strlen(name);
    /* A name several patterns match is reported once, as Redis does. */
    for (int j = 0; j < g->nearlier; j++)
        if (glob_match(g->earlier[j].ptr, g->earlier[j].len, (const uint8_t *)name, len, true))
            return;
    resp_add_bulk(&g->tmp, name, len);
    resp_add_bulk_cstr(&g->tmp, value);
    g->pairs++;
}

static void config_get(struct client_ctx *c)
{
    const struct hp_config *cfg = worker_config(c->worker);
    struct config_get_ctx g = {.pairs = 0, .earlier = &c->argv[2], .nearlier = 0};
    rbuf_init(&g.tmp, TEXT_LIMIT);
    bool oom = false;
    for (int i = 2; i < c->argc && !oom; i++) {
        char *pattern = slice_dup(c->argv[i]);
        if (pattern == NULL) {
            oom = true;
            break;
        }
        g.nearlier = i - 2;
        config_foreach_match(cfg, pattern, config_get_one, &g);
        free(pattern);
    }
    if (oom || g.tmp.overflow) {
        resp_add_error(c->out, "ERR out of memory");
    } else {
        resp_add_map(c->out, c->conn->proto, g.pairs);
        rbuf_append(c->out, g.tmp.data, g.tmp.len);
    }
    rbuf_free(&g.tmp);
}

/* CONFIG SET name value [name value ...]: config_set_pairs applies all
 * pairs or none, with Redis 7's checks and error texts.  Values become C
 * strings, so an argument holding a NUL byte is refused up front. */
static void config_set(struct client_ctx *c)
{
    if ((c->argc & 1) != 0) {
        reply_syntax(c->out);
        return;
    }
    if (c->argc < 4) {
        resp_add_error(c->out, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    int n = c->argc - 2;
    for (int i = 0; i < n; i++) {
        if (memchr(c->argv[2 + i].ptr, '\0', c->argv[2 + i].len) != NULL) {
            resp_add_error(c->out, "ERR CONFIG SET arguments must not contain NUL bytes");
            return;
        }
    }
    char **args = calloc((size_t)(unsigned)n, sizeof(*args));
    bool oom = args == NULL;
    for (int i = 0; i < n && !oom; i++) {
        args[i] = slice_dup(c->argv[2 + i]);
        oom = args[i] == NULL;
    }
    char err[512] = "";
    if (oom)
        resp_add_error(c->out, "ERR out of memory");
    else if (config_set_pairs(worker_config_mut(c->worker), n, (const char *const *)args, err,
                              sizeof(err)) != 0)
        resp_add_error(c->out, err);
    else
        resp_add_simple(c->out, "OK");
    for (int i = 0; args && i < n; i++)
        free(args[i]);
    free(args);
}

static void config_resetstat_part(struct worker *w, const struct bcast_req *req, struct rbuf *part)
{
    (void)req;
    (void)part;
    struct worker_stats *st = &w->stats;
    uint64_t connected = st->connected_clients; /* a gauge, not a counter */
    memset(st, 0, sizeof(*st));
    st->connected_clients = connected;
}

static void config_resetstat_done(const struct bcast_req *req, struct rbuf *parts, uint32_t nparts,
                                  struct rbuf *out)
{
    (void)req;
    (void)parts;
    (void)nparts;
    resp_add_simple(out, "OK");
}

static void config_resetstat(struct client_ctx *c)
{
    client_broadcast(c, config_resetstat_part, config_resetstat_done);
}

static void config_rewrite(struct client_ctx *c)
{
    const struct hp_config *cfg = worker_config(c->worker);
    if (cfg->config_file[0] == '\0')
        resp_add_error(c->out, "ERR The server is running without a config file");
    else
        resp_add_error(c->out, "ERR CONFIG REWRITE is not supported by hotpath yet");
}

static void config_help(struct client_ctx *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file (not supported by hotpath yet).",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c->out, lines, HP_ARRAY_LEN(lines));
}

void cmd_config(struct client_ctx *c)
{
    subcmd_dispatch(c, "config", "CONFIG", config_subcmds, HP_ARRAY_LEN(config_subcmds));
}

/* ---- CLIENT: one connection's line (CLIENT LIST / INFO) ---------------------------- */

static size_t conn_mem(const struct conn *conn)
{
    return sizeof(*conn) + conn->in_cap + conn->out.cap + conn->sendbuf.cap +
           (size_t)conn->parser.argv_cap * sizeof(struct hp_slice) + conn->parser.inline_cap;
}

static size_t argv_bytes(int argc, const struct hp_slice *argv)
{
    size_t n = 0;
    for (int i = 0; i < argc; i++)
        n += argv[i].len;
    return n;
}

/* Redis 7.0's catClientInfoString, one line ending in '\n'.  `cur_cmd` and
 * `cur_argv_mem` describe the command being run when conn is the caller
 * (Redis shows the running command); others show their last command. */
static size_t client_line(char *buf, size_t cap, const struct conn *conn, int64_t now_ms,
                          const char *cur_cmd, size_t cur_argv_mem)
{
    char flags[8];
    size_t nf = 0;
    if (conn->flags & CONN_CLOSE_AFTER_REPLY)
        flags[nf++] = 'c';
    if (conn->flags & CONN_CLOSE_ASAP)
        flags[nf++] = 'A';
    if (nf == 0)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    char events[3];
    size_t ne = 0;
    if (!conn->recv_paused)
        events[ne++] = 'r';
    if (conn->sending)
        events[ne++] = 'w';
    events[ne] = '\0';
    int64_t age = (now_ms - conn->ctime_ms) / 1000;
    int64_t idle = (now_ms - conn->last_ms) / 1000;
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%u "
                     "sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=%zu "
                     "multi-mem=0 rbs=%zu rbp=%zu obl=0 oll=0 omem=%zu tot-mem=%zu events=%s "
                     "cmd=%s user=default redir=-1 resp=%u\n",
                     (unsigned long long)conn->id, conn->addr, conn->laddr, conn->fd, conn->name,
                     (long long)(age > 0 ? age : 0), (long long)(idle > 0 ? idle : 0), flags,
                     conn->db, conn_qbuf_len(conn), conn->in_cap - HP_MIN(conn->in_cap, conn->in_len),
                     cur_cmd ? cur_argv_mem : 0, conn->out.cap, conn->out.cap, conn_obuf_len(conn),
                     conn_mem(conn), events, cur_cmd ? cur_cmd : (conn->last_cmd ? conn->last_cmd : "NULL"),
                     (unsigned)conn->proto);
    HP_ASSERT(n > 0);
    return HP_MIN((size_t)n, cap - 1);
}

static void client_info(struct client_ctx *c)
{
    char line[CLIENT_LINE_MAX];
    size_t n = client_line(line, sizeof(line), c->conn, c->now_ms, "client|info",
                           argv_bytes(c->argc, c->argv));
    resp_add_verbatim(c->out, c->conn->proto, line, n);
}

/* ---- CLIENT LIST --------------------------------------------------------------------- */

enum client_type { CTYPE_NORMAL, CTYPE_OTHER, CTYPE_INVALID };

static enum client_type client_type_parse(struct hp_slice s)
{
    if (slice_eq_nocase(s, "normal"))
        return CTYPE_NORMAL;
    /* Valid in Redis; hotpath has no replicas, masters or subscribers. */
    if (slice_eq_nocase(s, "slave") || slice_eq_nocase(s, "replica") ||
        slice_eq_nocase(s, "master") || slice_eq_nocase(s, "pubsub"))
        return CTYPE_OTHER;
    return CTYPE_INVALID;
}

/* argv[2..] of CLIENT LIST.  Replies the error and returns false if bad. */
static bool client_list_args_ok(struct client_ctx *c)
{
    if (c->argc == 2)
        return true;
    if (c->argc == 4 && slice_eq_nocase(c->argv[2], "type")) {
        if (client_type_parse(c->argv[3]) == CTYPE_INVALID) {
            reply_errf(c->out, "ERR Unknown client type '%.*s'", SLICE_ARG(c->argv[3], ERR_ARG_SHOW));
            return false;
        }
        return true;
    }
    if (c->argc > 3 && slice_eq_nocase(c->argv[2], "id")) {
        for (int i = 3; i < c->argc; i++) {
            int64_t id;
            if (str_to_i64(c->argv[i].ptr, c->argv[i].len, &id) != 0) {
                resp_add_error(c->out, "ERR Invalid client ID");
                return false;
            }
        }
        return true;
    }
    reply_syntax(c->out);
    return false;
}

struct list_part_ctx {
    const struct bcast_req *req;
    struct rbuf *part;
};

static void client_list_one(struct conn *conn, void *arg)
{
    struct list_part_ctx *l = arg;
    char line[CLIENT_LINE_MAX];
    bool self = conn->id == l->req->self_conn_id;
    size_t n = client_line(line, sizeof(line), conn, l->req->now_ms, self ? "client|list" : NULL,
                           self ? argv_bytes(l->req->argc, l->req->argv) : 0);
    rbuf_append(l->part, line, n);
}

static void client_list_part(struct worker *w, const struct bcast_req *req, struct rbuf *part)
{
    if (req->argc == 4 && slice_eq_nocase(req->argv[2], "type") &&
        client_type_parse(req->argv[3]) != CTYPE_NORMAL)
        return;
    struct list_part_ctx l = {req, part};
    worker_conn_foreach(w, client_list_one, &l);
}

struct client_line_ref {
    uint64_t id;
    const uint8_t *ptr;
    size_t len; /* including the '\n' */
};

static int line_ref_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct client_line_ref *)a)->id;
    uint64_t y = ((const struct client_line_ref *)b)->id;
    return x < y ? -1 : x > y;
}

/* Index every "id=N ...\n" line of the parts, sorted by id. */
static struct client_line_ref *client_lines_index(struct rbuf *parts, uint32_t nparts, size_t *count)
{
    size_t n = 0;
    for (uint32_t p = 0; p < nparts; p++)
        for (size_t i = 0; i < parts[p].len; i++)
            n += parts[p].data[i] == '\n';
    struct client_line_ref *refs = malloc(sizeof(*refs) * (n ? n : 1));
    if (refs == NULL)
        return NULL;
    size_t k = 0;
    for (uint32_t p = 0; p < nparts; p++) {
        const uint8_t *d = parts[p].data;
        size_t start = 0;
        for (size_t i = 0; i < parts[p].len; i++) {
            if (d[i] != '\n')
                continue;
            uint64_t id = 0;
            for (size_t j = start + 3; j < i && d[j] >= '0' && d[j] <= '9'; j++)
                id = id * 10 + (uint64_t)(d[j] - '0');
            HP_ASSERT(k < n);
            refs[k++] = (struct client_line_ref){id, d + start, i + 1 - start};
            start = i + 1;
        }
    }
    qsort(refs, k, sizeof(*refs), line_ref_cmp);
    *count = k;
    return refs;
}

static void client_list_done(const struct bcast_req *req, struct rbuf *parts, uint32_t nparts,
                             struct rbuf *out)
{
    for (uint32_t p = 0; p < nparts; p++) {
        if (parts[p].overflow) {
            resp_add_error(out, "ERR client list too large for the output buffer limit");
            return;
        }
    }
    size_t n = 0;
    struct client_line_ref *refs = client_lines_index(parts, nparts, &n);
    struct rbuf text;
    rbuf_init(&text, out->limit ? out->limit : TEXT_LIMIT);
    if (refs != NULL) {
        bool by_id = req->argc > 3 && slice_eq_nocase(req->argv[2], "id");
        if (!by_id) {
            for (size_t i = 0; i < n; i++)
                rbuf_append(&text, refs[i].ptr, refs[i].len);
        } else {
            /* In argument order, as Redis answers CLIENT LIST ID. */
            for (int a = 3; a < req->argc; a++) {
                int64_t id;
                if (str_to_i64(req->argv[a].ptr, req->argv[a].len, &id) != 0 || id <= 0)
                    continue;
                struct client_line_ref key = {(uint64_t)id, NULL, 0};
                const struct client_line_ref *r = bsearch(&key, refs, n, sizeof(*refs), line_ref_cmp);
                if (r != NULL)
                    rbuf_append(&text, r->ptr, r->len);
            }
        }
    }
    if (refs == NULL || text.overflow)
        resp_add_error(out, "ERR out of memory");
    else
        resp_add_verbatim(out, req->proto, (const char *)text.data, text.len);
    rbuf_free(&text);
    free(refs);
}

static void client_list(struct client_ctx *c)
{
    if (!client_list_args_ok(c))
        return;
    client_broadcast(c, client_list_part, client_list_done);
}

/* ---- CLIENT KILL --------------------------------------------------------------------- */

struct kill_filter {
    bool old_form;        /* CLIENT KILL ip:port */
    bool has_addr, has_laddr;
    struct hp_slice addr, laddr;
    uint64_t id;          /* 0 = any */
    bool match_none;      /* TYPE other than normal: nobody matches */
    bool skipme;
};

/* Parses CLIENT KILL's arguments; on error writes it (if out) and returns false. */
static bool kill_filter_parse(int argc, const struct hp_slice *argv, struct kill_filter *f,
                              struct rbuf *out)
{
    memset(f, 0, sizeof(*f));
    f->skipme = true;
    if (argc == 3) {
        f->old_form = true;
        f->has_addr = true;
        f->addr = argv[2];
        f->skipme = false; /* with the old form you can kill yourself */
        return true;
    }
    if (argc < 3) {
        if (out)
            reply_syntax(out);
        return false;
    }
    for (int i = 2; i < argc; i += 2) {
        bool more = argc > i + 1;
        struct hp_slice opt = argv[i];
        if (!more) {
            if (out)
                reply_syntax(out);
            return false;
        }
        struct hp_slice val = argv[i + 1];
        if (slice_eq_nocase(opt, "id")) {
            int64_t id;
            if (str_to_i64(val.ptr, val.len, &id) != 0 || id < 1) {
                if (out)
                    resp_add_error(out, "ERR client-id should be greater than 0");
                return false;
            }
            f->id = (uint64_t)id;
        } else if (slice_eq_nocase(opt, "type")) {
            enum client_type t = client_type_parse(val);
            if (t == CTYPE_INVALID) {
                if (out)
                    reply_errf(out, "ERR Unknown client type '%.*s'", SLICE_ARG(val, ERR_ARG_SHOW));
                return false;
            }
            f->match_none = f->match_none || t != CTYPE_NORMAL;
        } else if (slice_eq_nocase(opt, "addr")) {
            f->has_addr = true;
            f->addr = val;
        } else if (slice_eq_nocase(opt, "laddr")) {
            f->has_laddr = true;
            f->laddr = val;
        } else if (slice_eq_nocase(opt, "user")) {
            if (!slice_eq(val, "default")) {
                if (out)
                    reply_errf(out, "ERR No such user '%.*s'", SLICE_ARG(val, ERR_ARG_SHOW));
                return false;
            }
        } else if (slice_eq_nocase(opt, "skipme")) {
            if (slice_eq_nocase(val, "yes")) {
                f->skipme = true;
            } else if (slice_eq_nocase(val, "no")) {
                f->skipme = false;
            } else {
                if (out)
                    reply_syntax(out);
                return false;
            }
        } else {
            if (out)
                reply_syntax(out);
            return false;
        }
    }
    return true;
}

struct kill_part_ctx {
    struct worker *w;
    const struct kill_filter *f;
    uint64_t self_id;
    uint64_t killed;
};

static void client_kill_one(struct conn *conn, void *arg)
{
    struct kill_part_ctx *k = arg;
    const struct kill_filter *f = k->f;
    if (conn->flags & CONN_CLOSE_ASAP)
        return; /* already being closed */
    if (f->match_none)
        return;
    if (f->has_addr && !slice_eq(f->addr, conn->addr))
        return;
    if (f->has_laddr && !slice_eq(f->laddr, conn->laddr))
        return;
    if (f->id != 0 && conn->id != f->id)
        return;
    bool self = conn->id == k->self_id;
    if (self && f->skipme)
        return;
    if (self)
        conn->flags |= CONN_CLOSE_AFTER_REPLY; /* reply first, then close */
    else
        worker_conn_kill(k->w, conn);
    k->killed++;
}

static void client_kill_part(struct worker *w, const struct bcast_req *req, struct rbuf *part)
{
    struct kill_filter f;
    bool ok = kill_filter_parse(req->argc, req->argv, &f, NULL);
    HP_ASSERT(ok); /* validated before the broadcast */
    struct kill_part_ctx k = {w, &f, req->self_conn_id, 0};
    worker_conn_foreach(w, client_kill_one, &k);
    rbuf_append(part, &k.killed, sizeof(k.killed));
}

static void client_kill_done(const struct bcast_req *req, struct rbuf *parts, uint32_t nparts,
                             struct rbuf *out)
{
    uint64_t killed = 0;
    for (uint32_t p = 0; p < nparts; p++) {
        uint64_t n;
        if (parts[p].len == sizeof(n)) {
            memcpy(&n, parts[p].data, sizeof(n));
            killed += n;
        }
    }
    if (req->argc == 3) {
        if (killed == 0)
            resp_add_error(out, "ERR No such client");
        else
            resp_add_simple(out, "OK");
        return;
    }
    resp_add_int(out, (int64_t)killed);
}

static void client_kill(struct client_ctx *c)
{
    struct kill_filter f;
    if (!kill_filter_parse(c->argc, c->argv, &f, c->out))
        return;
    client_broadcast(c, client_kill_part, client_kill_done);
}

/* ---- CLIENT: the rest ------------------------------------------------------------------ */

static void client_id(struct client_ctx *c) { resp_add_int(c->out, (int64_t)c->conn->id); }

static void client_setname(struct client_ctx *c)
{
    if (!client_name_valid(c->out, c->argv[2]))
        return;
    client_name_store(c->conn, c->argv[2]);
    resp_add_simple(c->out, "OK");
}

static void client_getname(struct client_ctx *c)
{
    if (c->conn->name[0] == '\0')
        resp_add_null(c->out, c->conn->proto);
    else
        resp_add_bulk_cstr(c->out, c->conn->name);
}

static void client_no_evict(struct client_ctx *c)
{
    /* hotpath never evicts clients, so both settings hold trivially. */
    if (slice_eq_nocase(c->argv[2], "on") || slice_eq_nocase(c->argv[2], "off"))
        resp_add_simple(c->out, "OK");
    else
        reply_syntax(c->out);
}

static void client_reply(struct client_ctx *c)
{
    struct hp_slice a = c->argv[2];
    if (slice_eq_nocase(a, "on"))
        resp_add_simple(c->out, "OK");
    else if (slice_eq_nocase(a, "off") || slice_eq_nocase(a, "skip"))
        resp_add_error(c->out, "ERR CLIENT REPLY OFF and SKIP are not supported by hotpath");
    else
        reply_syntax(c->out);
}

static void client_getredir(struct client_ctx *c)
{
    resp_add_int(c->out, -1); /* tracking is never on */
}

static void client_trackinginfo(struct client_ctx *c)
{
    int proto = c->conn->proto;
    resp_add_map(c->out, proto, 3);
    resp_add_bulk_cstr(c->out, "flags");
    resp_add_set(c->out, proto, 1);
    resp_add_bulk_cstr(c->out, "off");
    resp_add_bulk_cstr(c->out, "redirect");
    resp_add_int(c->out, -1);
    resp_add_bulk_cstr(c->out, "prefixes");
    resp_add_array(c->out, 0);
}

static void client_tracking(struct client_ctx *c)
{
    if (slice_eq_nocase(c->argv[2], "off"))
        resp_add_simple(c->out, "OK");
    else if (slice_eq_nocase(c->argv[2], "on"))
        resp_add_error(c->out, "ERR CLIENT TRACKING is not supported by hotpath");
    else
        reply_syntax(c->out);
}

static void client_caching(struct client_ctx *c)
{
    resp_add_error(c->out, "ERR CLIENT CACHING can be called only when the client is in tracking "
                           "mode with OPTIN or OPTOUT mode enabled");
}

static void client_unblock(struct client_ctx *c)
{
    if (c->argc > 4) {
        reply_subcmd_syntax(c, "CLIENT");
        return;
    }
    int64_t id;
    if (str_to_i64(c->argv[2].ptr, c->argv[2].len, &id) != 0) {
        reply_not_integer(c->out);
        return;
    }
    if (c->argc == 4 && !slice_eq_nocase(c->argv[3], "timeout") &&
        !slice_eq_nocase(c->argv[3], "error")) {
        resp_add_error(c->out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        return;
    }
    resp_add_int(c->out, 0); /* hotpath has no blocking commands */
}

static void client_pause(struct client_ctx *c)
{
    if (c->argc > 4) {
        reply_subcmd_syntax(c, "CLIENT");
        return;
    }
    resp_add_error(c->out, "ERR CLIENT PAUSE is not supported by hotpath");
}

static void client_unpause(struct client_ctx *c)
{
    resp_add_simple(c->out, "OK"); /* nothing is ever paused */
}

static void client_help(struct client_ctx *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled (always -1).",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * ID <client-id>",
        "      Kill the connection with this ID.",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return the clients with these IDs.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic (hotpath never pauses).",
        "REPLY ON",
        "    Control the replies sent to the current connection (OFF and SKIP are not supported).",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client (hotpath has no blocking commands).",
        "TRACKINGINFO",
        "    Report tracking status for the current connection (always off).",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction (hotpath never evicts clients).",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c->out, lines, HP_ARRAY_LEN(lines));
}

void cmd_client(struct client_ctx *c)
{
    subcmd_dispatch(c, "client", "CLIENT", client_subcmds, HP_ARRAY_LEN(client_subcmds));
}

/* ---- INFO ---------------------------------------------------------------------------- */

enum {
    INFO_SERVER = 1u << 0,
    INFO_CLIENTS = 1u << 1,
    INFO_MEMORY = 1u << 2,
    INFO_PERSISTENCE = 1u << 3,
    INFO_STATS = 1u << 4,
    INFO_REPLICATION = 1u << 5,
    INFO_CPU = 1u << 6,
    INFO_KEYSPACE = 1u << 7,
    INFO_DATAPLANE = 1u << 8,
    INFO_ALL = (1u << 9) - 1,
};

/* What each worker reports; copied as bytes (same process, same layout). */
struct info_part {
    struct worker_stats ws;
    struct shard_stats ss;
    uint64_t db_keys[HP_NUM_DBS];
    uint64_t db_expires[HP_NUM_DBS];
    bool shard_read;         /* false: the shard was handed over; no shard numbers */
    /* process-wide values, the same from every worker */
    int64_t start_ms;
    uint32_t nworkers;
    int port;
    int poll_mode;
    int64_t hz;
    int64_t maxclients;
    char backend[16];
    char config_file[CONFIG_STR_MAX];
    uint64_t *mem_peak;      /* &runtime->mem_peak (atomic), for used_memory_peak */
    struct persist_info aof; /* INFO persistence */
};

static uint32_t info_sections(int argc, const struct hp_slice *argv)
{
    if (argc < 2)
        return INFO_ALL;
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {
        {"server", INFO_SERVER},   {"clients", INFO_CLIENTS},         {"memory", INFO_MEMORY},
        {"persistence", INFO_PERSISTENCE}, {"stats", INFO_STATS},     {"replication", INFO_REPLICATION},
        {"cpu", INFO_CPU},         {"keyspace", INFO_KEYSPACE},       {"all", INFO_ALL},
        {"dataplane", INFO_DATAPLANE},
        {"everything", INFO_ALL},  {"default", INFO_ALL},
    };
    uint32_t mask = 0;
    for (int i = 1; i < argc; i++)
        for (size_t j = 0; j < HP_ARRAY_LEN(names); j++)
            if (slice_eq_nocase(argv[i], names[j].name))
                mask |= names[j].bit;
    return mask;
}

static void info_part_fn(struct worker *w, const struct bcast_req *req, struct rbuf *part)
{
    (void)req;
    struct info_part p;
    memset(&p, 0, sizeof(p));
    p.ws = *worker_stats(w);
    /* Our own part runs inside the client handler, possibly while another
     * worker holds our shard; remote parts only run while it is free. */
    if (worker_shard_free(w) || w->shard_holder == w->id) {
        struct shard *s = worker_shard(w);
        shard_get_stats(s, &p.ss);
        for (uint32_t db = 0; db < HP_NUM_DBS; db++) {
            p.db_keys[db] = shard_db_size(s, db);
            p.db_expires[db] = shard_db_expires(s, db);
        }
        p.shard_read = true;
    }
    const struct hp_config *cfg = worker_config(w);
    p.start_ms = worker_start_ms(w);
    p.nworkers = worker_count(w);
    p.port = cfg->port;
    p.poll_mode = (int)cfg->poll_mode;
    p.hz = CONFIG_RT_GET(cfg, hz);
    p.maxclients = CONFIG_RT_GET(cfg, maxclients);
    snprintf(p.backend, sizeof(p.backend), "%s", worker_backend_name(w));
    snprintf(p.config_file, sizeof(p.config_file), "%s", cfg->config_file);
    p.mem_peak = &w->rt->mem_peak;
    persist_get_info(w->rt, &p.aof);
    rbuf_append(part, &p, sizeof(p));
    /* The UDP dataplane's lines of this worker follow the struct as text. */
    udp_info_part(w, part);
}

struct info_totals {
    struct worker_stats ws;
    struct shard_stats ss;
    uint64_t db_keys[HP_NUM_DBS];
    uint64_t db_expires[HP_NUM_DBS];
    struct info_part first;  /* process-wide values */
    bool have_first;
};

static void info_sum(struct rbuf *parts, uint32_t nparts, struct info_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t i = 0; i < nparts; i++) {
        struct info_part p;
        if (parts[i].len < sizeof(p))
            continue;
        memcpy(&p, parts[i].data, sizeof(p));
        if (!t->have_first) {
            t->first = p;
            t->have_first = true;
        }
        t->ws.connected_clients += p.ws.connected_clients;
        t->ws.total_connections_received += p.ws.total_connections_received;
        t->ws.rejected_connections += p.ws.rejected_connections;
        t->ws.total_commands_processed += p.ws.total_commands_processed;
        t->ws.net_input_bytes += p.ws.net_input_bytes;
        t->ws.net_output_bytes += p.ws.net_output_bytes;
        t->ws.keyspace_hits += p.ws.keyspace_hits;
        t->ws.keyspace_misses += p.ws.keyspace_misses;
        t->ws.remote_requests += p.ws.remote_requests;
        t->ws.parked_ops += p.ws.parked_ops;
        t->ws.loop_iterations += p.ws.loop_iterations;
        t->ws.idle_sleeps += p.ws.idle_sleeps;
        if (!p.shard_read)
            continue;
        t->ss.mem_used += p.ss.mem_used;
        t->ss.mem_index += p.ss.mem_index;
        t->ss.keys += p.ss.keys;
        t->ss.expires += p.ss.expires;
        t->ss.expired_keys += p.ss.expired_keys;
        for (uint32_t db = 0; db < HP_NUM_DBS; db++) {
            t->db_keys[db] += p.db_keys[db];
            t->db_expires[db] += p.db_expires[db];
        }
    }
}

/* Redis' bytesToHuman. */
static void bytes_human(char *s, size_t cap, uint64_t n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(s, cap, "%lluB", (unsigned long long)n);
        return;
    }
    double d = (double)n;
    for (size_t i = 0; i < sizeof(units) - 1; i++) {
        d /= 1024;
        if (d < 1024 || i == sizeof(units) - 2) {
            snprintf(s, cap, "%.2f%c", d, units[i]);
            return;
        }
    }
}

/* jemalloc's count of bytes the process has allocated; 0 if unavailable. */
static uint64_t mem_allocated(void)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
        return 0;
    size_t allocated = 0;
    sz = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return 0;
    return allocated;
}

static uint64_t mem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

/* The peak is process-wide: whichever worker answers INFO raises it. */
static uint64_t mem_peak_update(uint64_t *cell, uint64_t used)
{
    uint64_t peak = __atomic_load_n(cell, __ATOMIC_RELAXED);
    while (used > peak &&
           !__atomic_compare_exchange_n(cell, &peak, used, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return used > peak ? used : peak;
}

static void info_server(struct rbuf *b, const struct info_totals *t, int64_t now_ms)
{
    const struct info_part *g = &t->first;
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    int64_t uptime = (now_ms - g->start_ms) / 1000;
    if (uptime < 0)
        uptime = 0;
    text_addf(b, "# Server\r\n");
    text_addf(b, "redis_version:%s\r\n", HP_REDIS_COMPAT_VERSION);
    text_addf(b, "hotpath_version:%s\r\n", HP_VERSION);
    text_addf(b, "redis_mode:standalone\r\n");
    text_addf(b, "os:%s %s %s\r\n", u.sysname, u.release, u.machine);
    text_addf(b, "arch_bits:%zu\r\n", sizeof(void *) * 8);
    text_addf(b, "multiplexing_api:%s\r\n", g->backend);
#ifdef __GNUC__
    text_addf(b, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
    text_addf(b, "process_id:%ld\r\n", (long)getpid());
    text_addf(b, "tcp_port:%d\r\n", g->port);
    text_addf(b, "server_time_usec:%lld\r\n", (long long)clock_unix_us());
    text_addf(b, "uptime_in_seconds:%lld\r\n", (long long)uptime);
    text_addf(b, "uptime_in_days:%lld\r\n", (long long)(uptime / 86400));
    text_addf(b, "hz:%lld\r\n", (long long)g->hz);
    text_addf(b, "configured_hz:%lld\r\n", (long long)g->hz);
    text_addf(b, "executable:%s\r\n", exe);
    text_addf(b, "config_file:%s\r\n", g->config_file);
    text_addf(b, "io_threads_active:0\r\n");
    text_addf(b, "workers:%u\r\n", g->nworkers);
    text_addf(b, "io_backend:%s\r\n", g->backend);
    text_addf(b, "poll_mode:%s\r\n", g->poll_mode == POLL_BUSY ? "busy" : "adaptive");
}

static void info_clients(struct rbuf *b, const struct info_totals *t)
{
    text_addf(b, "# Clients\r\n");
    text_addf(b, "connected_clients:%llu\r\n", (unsigned long long)t->ws.connected_clients);
    text_addf(b, "cluster_connections:0\r\n");
    text_addf(b, "maxclients:%lld\r\n", (long long)t->first.maxclients);
    text_addf(b, "blocked_clients:0\r\n");
    text_addf(b, "tracking_clients:0\r\n");
    text_addf(b, "clients_in_timeout_table:0\r\n");
}

static void info_memory(struct rbuf *b, const struct info_totals *t)
{
    uint64_t used = mem_allocated();
    if (used == 0)
        used = t->ss.mem_used;
    uint64_t rss = mem_rss();
    uint64_t peak = mem_peak_update(t->first.mem_peak, used);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t total = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    char h[32];
    text_addf(b, "# Memory\r\n");
    bytes_human(h, sizeof(h), used);
    text_addf(b, "used_memory:%llu\r\nused_memory_human:%s\r\n", (unsigned long long)used, h);
    bytes_human(h, sizeof(h), rss);
    text_addf(b, "used_memory_rss:%llu\r\nused_memory_rss_human:%s\r\n", (unsigned long long)rss, h);
    bytes_human(h, sizeof(h), peak);
    text_addf(b, "used_memory_peak:%llu\r\nused_memory_peak_human:%s\r\n",
              (unsigned long long)peak, h);
    text_addf(b, "used_memory_dataset:%llu\r\n", (unsigned long long)t->ss.mem_used);
    text_addf(b, "used_memory_index:%llu\r\n", (unsigned long long)t->ss.mem_index);
    bytes_human(h, sizeof(h), total);
    text_addf(b, "total_system_memory:%llu\r\ntotal_system_memory_human:%s\r\n",
              (unsigned long long)total, h);
    text_addf(b, "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n");
    text_addf(b, "mem_fragmentation_ratio:%.2f\r\n", used ? (double)rss / (double)used : 0.0);
    text_addf(b, "mem_allocator:jemalloc-%d.%d.%d\r\n", JEMALLOC_VERSION_MAJOR,
              JEMALLOC_VERSION_MINOR, JEMALLOC_VERSION_BUGFIX);
}

static void info_stats(struct rbuf *b, const struct info_totals *t)
{
    const struct worker_stats *s = &t->ws;
    text_addf(b, "# Stats\r\n");
    text_addf(b, "total_connections_received:%llu\r\n",
              (unsigned long long)s->total_connections_received);
    text_addf(b, "total_commands_processed:%llu\r\n", (unsigned long long)s->total_commands_processed);
    text_addf(b, "instantaneous_ops_per_sec:0\r\n");
    text_addf(b, "total_net_input_bytes:%llu\r\n", (unsigned long long)s->net_input_bytes);
    text_addf(b, "total_net_output_bytes:%llu\r\n", (unsigned long long)s->net_output_bytes);
    text_addf(b, "rejected_connections:%llu\r\n", (unsigned long long)s->rejected_connections);
    text_addf(b, "expired_keys:%llu\r\n", (unsigned long long)t->ss.expired_keys);
    text_addf(b, "evicted_keys:0\r\n");
    text_addf(b, "keyspace_hits:%llu\r\n", (unsigned long long)s->keyspace_hits);
    text_addf(b, "keyspace_misses:%llu\r\n", (unsigned long long)s->keyspace_misses);
    text_addf(b, "pubsub_channels:0\r\npubsub_patterns:0\r\n");
    text_addf(b, "remote_requests:%llu\r\n", (unsigned long long)s->remote_requests);
    text_addf(b, "parked_ops:%llu\r\n", (unsigned long long)s->parked_ops);
    text_addf(b, "loop_iterations:%llu\r\n", (unsigned long long)s->loop_iterations);
    text_addf(b, "idle_sleeps:%llu\r\n", (unsigned long long)s->idle_sleeps);
}

static void info_cpu(struct rbuf *b)
{
    struct rusage self, children;
    if (getrusage(RUSAGE_SELF, &self) != 0)
        memset(&self, 0, sizeof(self));
    if (getrusage(RUSAGE_CHILDREN, &children) != 0)
        memset(&children, 0, sizeof(children));
    text_addf(b, "# CPU\r\n");
    text_addf(b, "used_cpu_sys:%ld.%06ld\r\n", (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec);
    text_addf(b, "used_cpu_user:%ld.%06ld\r\n", (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec);
    text_addf(b, "used_cpu_sys_children:%ld.%06ld\r\n", (long)children.ru_stime.tv_sec,
              (long)children.ru_stime.tv_usec);
    text_addf(b, "used_cpu_user_children:%ld.%06ld\r\n", (long)children.ru_utime.tv_sec,
              (long)children.ru_utime.tv_usec);
}

static void info_keyspace(struct rbuf *b, const struct info_totals *t)
{
    text_addf(b, "# Keyspace\r\n");
    for (uint32_t db = 0; db < HP_NUM_DBS; db++) {
        if (t->db_keys[db] == 0)
            continue;
        text_addf(b, "db%u:keys=%llu,expires=%llu,avg_ttl=0\r\n", db,
                  (unsigned long long)t->db_keys[db], (unsigned long long)t->db_expires[db]);
    }
}

/* Redis' field names; the aof_* size lines only while the log is on, as in Redis. */
static void info_persistence(struct rbuf *b, const struct persist_info *a)
{
    text_addf(b, "# Persistence\r\nloading:0\r\nasync_loading:0\r\n");
    text_addf(b, "aof_enabled:%d\r\naof_rewrite_in_progress:%d\r\n", a->enabled ? 1 : 0,
              a->rewrite_in_progress ? 1 : 0);
    text_addf(b, "aof_last_bgrewrite_status:%s\r\n", a->last_rewrite_ok ? "ok" : "err");
    text_addf(b, "aof_last_write_status:%s\r\n", a->error == 0 ? "ok" : "err");
    if (a->enabled)
        text_addf(b, "aof_current_size:%llu\r\naof_base_size:%llu\r\n",
                  (unsigned long long)a->current_size, (unsigned long long)a->base_size);
}

/* Sections in Redis' fixed order, separated by an empty line. */
static void info_build(struct rbuf *b, uint32_t mask, const struct info_totals *t, int64_t now_ms)
{
    bool first = true;
#define INFO_SECTION(bit, call)                                                                    \
    do {                                                                                           \
        if (mask & (bit)) {                                                                        \
            if (!first)                                                                            \
                text_addf(b, "\r\n");                                                              \
            first = false;                                                                         \
            call;                                                                                  \
        }                                                                                          \
    } while (0)
    INFO_SECTION(INFO_SERVER, info_server(b, t, now_ms));
    INFO_SECTION(INFO_CLIENTS, info_clients(b, t));
    INFO_SECTION(INFO_MEMORY, info_memory(b, t));
    INFO_SECTION(INFO_PERSISTENCE, info_persistence(b, &t->first.aof));
    INFO_SECTION(INFO_STATS, info_stats(b, t));
    INFO_SECTION(INFO_REPLICATION, text_addf(b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"));
    INFO_SECTION(INFO_CPU, info_cpu(b));
    INFO_SECTION(INFO_KEYSPACE, info_keyspace(b, t));
#undef INFO_SECTION
}

static void info_done(const struct bcast_req *req, struct rbuf *parts, uint32_t nparts,
                      struct rbuf *out)
{
    struct info_totals *t = malloc(sizeof(*t));
    struct rbuf text;
    rbuf_init(&text, TEXT_LIMIT);
    if (t != NULL) {
        info_sum(parts, nparts, t);
        uint32_t mask = info_sections(req->argc, req->argv);
        if (t->have_first)
            info_build(&text, mask, t, req->now_ms);
        bool dataplane = false;  /* the section exists only with UDP ports */
        for (uint32_t i = 0; i < nparts; i++)
            dataplane |= parts[i].len > sizeof(struct info_part);
        if (t->have_first && dataplane && (mask & INFO_DATAPLANE)) {
            text_addf(&text, "%s# Dataplane\r\n", text.len ? "\r\n" : "");
            for (uint32_t i = 0; i < nparts; i++)
                if (parts[i].len > sizeof(struct info_part))
                    rbuf_append(&text, parts[i].data + sizeof(struct info_part),
                                parts[i].len - sizeof(struct info_part));
        }
    }
    if (t == NULL || !t->have_first || text.overflow)
        resp_add_error(out, "ERR out of memory");
    else
        resp_add_verbatim(out, req->proto, (const char *)text.data, text.len);
    rbuf_free(&text);
    free(t);
}

void cmd_info(struct client_ctx *c)
{
    client_broadcast(c, info_part_fn, info_done);
}
