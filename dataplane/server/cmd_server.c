/*
 * cmd_server.c - what the client/server command files of this folder share
 * (error helpers, scratch text, the subcommand plumbing of CLIENT, CONFIG
 * and COMMAND) and SHUTDOWN.  The commands themselves:
 *   cmd_conn.c     PING, ECHO, TIME, QUIT, RESET, SELECT, HELLO
 *   cmd_command.c  COMMAND and its subcommands
 *   cmd_config.c   CONFIG
 *   cmd_client.c   CLIENT
 *   cmd_info.c     INFO
 *   cmd_table_client.c  their part of the command table
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
 * the containers (CLIENT, CONFIG, COMMAND), so the subcommand tables (one per
 * family file) carry the arity and produce the same "unknown subcommand" and
 * "wrong number of arguments for 'client|setname'" errors.
 *
 * Identity: HELLO answers server "redis" and version HP_REDIS_COMPAT_VERSION
 * and INFO reports redis_version with the same value plus hotpath_version:
 * clients and tools gate features on those fields, and hotpath implements
 * the Redis 7.0 command semantics (the same choice other Redis-compatible
 * servers make).
 */

#include "server_internal.h"

/* ---- small helpers ------------------------------------------------------------ */

/* Like Redis' addReplyErrorFormat: newlines in the message become spaces, so
 * a client argument echoed back can never break the protocol. */
void reply_errf(struct rbuf *out, const char *fmt, ...)
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

void reply_syntax(struct rbuf *out) { resp_add_error(out, "ERR syntax error"); }

void reply_not_integer(struct rbuf *out)
{
    resp_add_error(out, "ERR value is not an integer or out of range");
}

void reply_arity_named(struct rbuf *out, const char *fullname)
{
    reply_errf(out, "ERR wrong number of arguments for '%s' command", fullname);
}

/* A NUL-terminated heap copy of a slice; NULL when out of memory. */
char *slice_dup(struct hp_slice s)
{
    char *p = malloc(s.len + 1);
    if (p == NULL)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

bool slice_eq(struct hp_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && memcmp(s.ptr, str, n) == 0;
}

/* Growable scratch text with a hard limit (rbuf semantics: overflow sticks). */
void text_addf(struct rbuf *b, const char *fmt, ...)
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

void reply_help(struct rbuf *out, const char *const *lines, size_t n)
{
    resp_add_array(out, n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(out, lines[i]);
}

/* ---- subcommand tables ---------------------------------------------------------- */

/* The subcommand table of a container command, or NULL. */
const struct subcmd *subcmds_of(const char *name, size_t *n)
{
    if (strcmp(name, "client") == 0) {
        *n = client_nsubcmds;
        return client_subcmds;
    }
    if (strcmp(name, "config") == 0) {
        *n = config_nsubcmds;
        return config_subcmds;
    }
    if (strcmp(name, "command") == 0) {
        *n = command_nsubcmds;
        return command_subcmds;
    }
    *n = 0;
    return NULL;
}

const struct subcmd *subcmd_find(const struct subcmd *t, size_t n, struct hp_slice name)
{
    for (size_t i = 0; i < n; i++)
        if (slice_eq_nocase(name, t[i].name))
            return &t[i];
    return NULL;
}

/* Look argv[1] up in the container's table, check its arity and run it, with
 * Redis' errors for an unknown subcommand or a wrong argument count. */
void subcmd_dispatch(struct client_ctx *c, const char *container, const char *upper,
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
void reply_subcmd_syntax(struct client_ctx *c, const char *upper)
{
    reply_errf(c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
               SLICE_ARG(c->argv[1], SUBCMD_ARG_SHOW), upper);
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
    /* Every graceful stop writes and fsyncs the whole append-only log
     * before exit (persist_stop), as Redis flushes its AOF; SAVE asks for
     * that explicitly, so it is refused only where it cannot be done:
     * with no log (hotpath has no RDB snapshots), or a log that already
     * failed (Redis' failed final save), unless FORCE. */
    if (save) {
        struct persist_info pi;
        persist_get_info(c->worker->rt, &pi);
        if (!pi.enabled) {
            resp_add_error(c->out, "ERR SHUTDOWN SAVE: nothing to save to: hotpath has no RDB "
                                   "snapshots and appendonly is no");
            return;
        }
        if (pi.error != 0 && !force) {
            log_warning("SHUTDOWN SAVE refused: the append-only log failed (%s); use "
                        "SHUTDOWN SAVE FORCE to stop anyway", strerror(pi.error));
            resp_add_error(c->out, "ERR Errors trying to SHUTDOWN. Check logs.");
            return;
        }
    }
    log_verbose("SHUTDOWN from client id %llu (%s)", (unsigned long long)c->conn->id,
               c->conn->addr);
    worker_request_shutdown(c->worker);
    /* Like Redis, no reply: the connection just closes. */
    c->conn->flags |= CONN_CLOSE_AFTER_REPLY;
}
