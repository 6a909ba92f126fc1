/*
 * cmd_config.c - CONFIG GET, SET, RESETSTAT, REWRITE, HELP (the directives
 * themselves live in dataplane/config/).
 */

#include "server_internal.h"

static void config_get(struct client_ctx *c);
static void config_help(struct client_ctx *c);
static void config_resetstat(struct client_ctx *c);
static void config_rewrite(struct client_ctx *c);
static void config_set(struct client_ctx *c);

const struct subcmd config_subcmds[] = {
    {"get", -3, SUB_ADMIN, "2.0.0", "Get the values of configuration parameters", config_get},
    {"help", 2, SUB_HELP, "5.0.0", "Show helpful text about the different subcommands", config_help},
    {"resetstat", 2, SUB_ADMIN, "2.0.0", "Reset the stats returned by INFO", config_resetstat},
    {"rewrite", 2, SUB_ADMIN, "2.8.0", "Rewrite the configuration file with the in memory configuration", config_rewrite},
    {"set", -4, SUB_ADMIN, "2.0.0", "Set configuration parameters to the given values", config_set},
};
const size_t config_nsubcmds = HP_ARRAY_LEN(config_subcmds);

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

/*
 * Redis settings hotpath does not have yet, answered by CONFIG GET with the
 * value that describes what hotpath does (tools such as redis-benchmark
 * read `save` and `appendonly` and give up without them).  They are not
 * directives: a config file or CONFIG SET naming them is refused, since
 * hotpath cannot honour any other value.  A setting that becomes real moves
 * to config.c's directive table and leaves this one.  Write-once table.
 */
static const struct {
    const char *name;
    const char *value;
} config_absent[] = {
    {"save", ""},                     /* no RDB snapshots: persistence is the AOF only */
    {"requirepass", ""},              /* no AUTH */
    {"maxmemory", "0"},               /* no memory limit */
    {"maxmemory-policy", "noeviction"}, /* nothing is evicted; allocation failure = OOM error */
    {"maxmemory-samples", "5"},       /* Redis' default; unused without eviction */
};

static void config_absent_match(const char *pattern, struct config_get_ctx *g)
{
    bool plain = strpbrk(pattern, "[*?") == NULL;
    for (size_t i = 0; i < HP_ARRAY_LEN(config_absent); i++) {
        const char *name = config_absent[i].name;
        if (plain) {
            /* As config_foreach_match: the name as the caller spelled it. */
            if (strcasecmp(pattern, name) == 0)
                config_get_one(g, pattern, config_absent[i].value);
        } else if (glob_match((const uint8_t *)pattern, strlen(pattern), (const uint8_t *)name,
                              strlen(name), true)) {
            config_get_one(g, name, config_absent[i].value);
        }
    }
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
        config_absent_match(pattern, &g);
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
