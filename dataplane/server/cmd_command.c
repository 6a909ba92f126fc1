/*
 * cmd_command.c - COMMAND: COUNT, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP, INFO,
 * LIST, from the command table (commands/cmd.h) and the subcommand tables.
 */

#include "server_internal.h"

static void command_count(struct client_ctx *c);
static void command_docs(struct client_ctx *c);
static void command_getkeys(struct client_ctx *c);
static void command_getkeysandflags(struct client_ctx *c);
static void command_help(struct client_ctx *c);
static void command_info(struct client_ctx *c);
static void command_list(struct client_ctx *c);

const struct subcmd command_subcmds[] = {
    {"count", 2, SUB_HELP, "2.8.13", "Get total number of Redis commands", command_count},
    {"docs", -2, SUB_HELP, "7.0.0", "Get array of specific Redis command documentation", command_docs},
    {"getkeys", -4, SUB_HELP, "2.8.13", "Extract keys given a full Redis command", command_getkeys},
    {"getkeysandflags", -4, SUB_HELP, "7.0.0", "Extract keys and access flags given a full Redis command", command_getkeysandflags},
    {"help", 2, SUB_HELP, "5.0.0", "Show helpful text about the different subcommands", command_help},
    {"info", -2, SUB_HELP, "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", command_info},
    {"list", -2, SUB_HELP, "7.0.0", "Get an array of Redis command names", command_list},
};

const size_t command_nsubcmds = HP_ARRAY_LEN(command_subcmds);

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
