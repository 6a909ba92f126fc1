/*
 * server_internal.h - what the client/server command files of
 * dataplane/server/ share: limits, error helpers, scratch text and the
 * subcommand tables of CLIENT, CONFIG and COMMAND.  Only this folder
 * includes it; the rest of the tree sees server.h.
 */
#ifndef HP_SERVER_INTERNAL_H
#define HP_SERVER_INTERNAL_H

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
#include "server.h"
#include "../commands/cmd_docs.h"

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

/* ---- cmd_server.c: small helpers ---------------------------------------- */

/* Like Redis' addReplyErrorFormat: newlines become spaces. */
void reply_errf(struct rbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "%.*s" arguments for a client-supplied slice (printing stops at a NUL, as
 * Redis' C-string formatting does). */
#define SLICE_ARG(s, max) (int)HP_MIN((s).len, (size_t)(max)), (const char *)(s).ptr
void reply_syntax(struct rbuf *out);
void reply_not_integer(struct rbuf *out);
void reply_arity_named(struct rbuf *out, const char *fullname);
char *slice_dup(struct hp_slice s);     /* NUL-terminated heap copy; NULL: no memory */
bool slice_eq(struct hp_slice s, const char *str);
/* Growable scratch text with a hard limit (rbuf semantics: overflow sticks). */
void text_addf(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_help(struct rbuf *out, const char *const *lines, size_t n);

/* ---- subcommand tables (one per container's file) -------------------------- */

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

extern const struct subcmd client_subcmds[];   /* cmd_client.c */
extern const size_t client_nsubcmds;
extern const struct subcmd config_subcmds[];   /* cmd_config.c */
extern const size_t config_nsubcmds;
extern const struct subcmd command_subcmds[];  /* cmd_command.c */
extern const size_t command_nsubcmds;

/* The subcommand table of a container command, or NULL. */
const struct subcmd *subcmds_of(const char *name, size_t *n);
const struct subcmd *subcmd_find(const struct subcmd *t, size_t n, struct hp_slice name);
/* Look argv[1] up in the container's table, check its arity and run it, with
 * Redis' errors for an unknown subcommand or a wrong argument count. */
void subcmd_dispatch(struct client_ctx *c, const char *container, const char *upper,
                     const struct subcmd *t, size_t n);
/* Redis' fallback when a known subcommand gets an argument count its
 * handler does not accept. */
void reply_subcmd_syntax(struct client_ctx *c, const char *upper);

/* ---- cmd_conn.c: client names (HELLO SETNAME, CLIENT SETNAME) -------------- */
bool client_name_valid(struct rbuf *out, struct hp_slice name);
void client_name_store(struct conn *conn, struct hp_slice name);

#endif
