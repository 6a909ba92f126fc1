/*
 * cmd_conn.c - connection commands: PING, ECHO, TIME, QUIT, RESET, SELECT,
 * HELLO (and the client-name rules CLIENT SETNAME shares).
 */

#include "server_internal.h"

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
bool client_name_valid(struct rbuf *out, struct hp_slice name)
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

void client_name_store(struct conn *conn, struct hp_slice name)
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
