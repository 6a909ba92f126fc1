/*
 * cmd_client.c - CLIENT and its subcommands (LIST and KILL gather from
 * every worker through client_broadcast).
 */

#include "server_internal.h"

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

const struct subcmd client_subcmds[] = {
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
const size_t client_nsubcmds = HP_ARRAY_LEN(client_subcmds);

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
