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
    uint32_t flags;            /* CMD_*, info-only and derived flags included */
    int first, last, step;     /* Redis' legacy key range */
    char acl[96];              /* ACL categories, space separated */
    const char *tips;          /* space separated; NULL for none */
    const char *group;
    const char *summary;
    const char *since;
    const struct cmd_spec *spec;   /* top-level commands: their key specs */
    const struct subcmd *subs;     /* for containers */
    size_t nsubs;
    const struct cmd_spec *parent; /* for subcommands */
};

static void view_of_spec(struct cmd_view *v, const struct cmd_spec *s)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", s->name);
    v->arity = s->arity;
    v->flags = s->flags | s->info_flags;
    if (cmd_legacy_range(s, &v->first, &v->last, &v->step))
        v->flags |= CMD_MOVABLE_KEYS;
    int n = snprintf(v->acl, sizeof(v->acl), "%s", s->acl);
    HP_ASSERT(n >= 0);
    HP_ASSERT((size_t)n < sizeof(v->acl));
    v->tips = s->tips;
    v->group = s->group;
    v->summary = s->summary;
    v->since = s->since;
    v->spec = s;
    v->subs = subcmds_of(s->name, &v->nsubs);
}

/* Redis 7.0's tips of the subcommands that have any. */
static const char *sub_tips(const char *fullname)
{
    static const struct {
        const char *name, *tips;
    } t[] = {
        {"client|info", "nondeterministic_output"},
        {"client|list", "nondeterministic_output"},
        {"config|set", "request_policy:all_nodes response_policy:all_succeeded"},
        {"command|docs", "nondeterministic_output_order"},
        {"command|info", "nondeterministic_output_order"},
        {"command|list", "nondeterministic_output_order"},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(t); i++)
        if (strcmp(t[i].name, fullname) == 0)
            return t[i].tips;
    return NULL;
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
    v->tips = sub_tips(v->name);
    /* Redis 7.0's categories of CLIENT, CONFIG and COMMAND subcommands:
     * admin ones are dangerous; CLIENT's and COMMAND's are @connection. */
    bool admin = (sub->flags & CMD_ADMIN) != 0;
    bool conn = strcmp(parent->name, "client") == 0 || strcmp(parent->name, "command") == 0;
    int n = snprintf(v->acl, sizeof(v->acl), "%s@slow%s%s", admin ? "@admin " : "",
                     admin ? " @dangerous" : "", conn ? " @connection" : "");
    HP_ASSERT(n >= 0);
    HP_ASSERT((size_t)n < sizeof(v->acl));
}

/* Redis 7.0's command flag names, in the order COMMAND prints them. */
static void reply_view_flags(struct rbuf *out, int proto, uint32_t flags)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } order[] = {
        {CMD_WRITE, "write"},
        {CMD_READONLY, "readonly"},
        {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},
        {CMD_NOSCRIPT, "noscript"},
        {CMD_BLOCKING, "blocking"},
        {CMD_LOADING, "loading"},
        {CMD_STALE, "stale"},
        {CMD_SKIP_MONITOR, "skip_monitor"},
        {CMD_FAST, "fast"},
        {CMD_NO_AUTH, "no_auth"},
        {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
        {CMD_NO_ASYNC_LOADING, "no_async_loading"},
        {CMD_NO_MULTI, "no_multi"},
        {CMD_MOVABLE_KEYS, "movablekeys"},
        {CMD_ALLOW_BUSY, "allow_busy"},
    };
    size_t n = 0;
    for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
        n += (flags & order[i].flag) != 0;
    resp_add_set(out, proto, n);
    for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
        if (flags & order[i].flag)
            resp_add_simple(out, order[i].name);
}

/* A space-separated word list as a set of simple (ACL categories) or
 * bulk (tips) strings, as Redis 7.0 replies them. */
static void reply_words(struct rbuf *out, int proto, const char *words, bool bulk)
{
    size_t n = 0;
    for (const char *p = words; p != NULL && *p != '\0'; n++) {
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    resp_add_set(out, proto, n);
    for (const char *p = words; p != NULL && *p != '\0';) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        char word[96];
        HP_ASSERT(len < sizeof(word));
        memcpy(word, p, len);
        word[len] = '\0';
        if (bulk)
            resp_add_bulk(out, word, len);
        else
            resp_add_simple(out, word);
        p = sp ? sp + 1 : NULL;
    }
}

/* Key-spec flag names, Redis 7.0's order. */
static void reply_key_flags(struct rbuf *out, int proto, uint32_t flags)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } order[] = {
        {CMD_KEY_RO, "RO"},           {CMD_KEY_RW, "RW"},
        {CMD_KEY_OW, "OW"},           {CMD_KEY_RM, "RM"},
        {CMD_KEY_ACCESS, "access"},   {CMD_KEY_UPDATE, "update"},
        {CMD_KEY_INSERT, "insert"},   {CMD_KEY_DELETE, "delete"},
        {CMD_KEY_NOT_KEY, "not_key"}, {CMD_KEY_INCOMPLETE, "incomplete"},
        {CMD_KEY_VARIABLE_FLAGS, "variable_flags"},
    };
    size_t n = 0;
    for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
        n += (flags & order[i].flag) != 0;
    resp_add_set(out, proto, n);
    for (size_t i = 0; i < HP_ARRAY_LEN(order); i++)
        if (flags & order[i].flag)
            resp_add_simple(out, order[i].name);
}

/* "name" => int pairs, the spec maps of begin_search / find_keys. */
static void reply_int_pair(struct rbuf *out, const char *name, long long v)
{
    resp_add_bulk_cstr(out, name);
    resp_add_int(out, v);
}

static void reply_begin_search(struct rbuf *out, int proto, const struct cmd_key_spec *ks)
{
    resp_add_map(out, proto, 2);
    resp_add_bulk_cstr(out, "type");
    switch (ks->begin) {
    case CMD_KS_BEGIN_INDEX:
        resp_add_bulk_cstr(out, "index");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 1);
        reply_int_pair(out, "index", ks->bs.index);
        return;
    case CMD_KS_BEGIN_KEYWORD:
        resp_add_bulk_cstr(out, "keyword");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 2);
        resp_add_bulk_cstr(out, "keyword");
        resp_add_bulk_cstr(out, ks->bs.keyword.keyword);
        reply_int_pair(out, "startfrom", ks->bs.keyword.startfrom);
        return;
    default:
        HP_ASSERT(ks->begin == CMD_KS_BEGIN_UNKNOWN);
        resp_add_bulk_cstr(out, "unknown");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 0);
        return;
    }
}

static void reply_find_keys(struct rbuf *out, int proto, const struct cmd_key_spec *ks)
{
    resp_add_map(out, proto, 2);
    resp_add_bulk_cstr(out, "type");
    switch (ks->find) {
    case CMD_KS_FIND_RANGE:
        resp_add_bulk_cstr(out, "range");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 3);
        reply_int_pair(out, "lastkey", ks->fk.range.lastkey);
        reply_int_pair(out, "keystep", ks->fk.range.keystep);
        reply_int_pair(out, "limit", ks->fk.range.limit);
        return;
    case CMD_KS_FIND_KEYNUM:
        resp_add_bulk_cstr(out, "keynum");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 3);
        reply_int_pair(out, "keynumidx", ks->fk.keynum.keynumidx);
        reply_int_pair(out, "firstkey", ks->fk.keynum.firstkey);
        reply_int_pair(out, "keystep", ks->fk.keynum.keystep);
        return;
    default:
        HP_ASSERT(ks->find == CMD_KS_FIND_UNKNOWN);
        resp_add_bulk_cstr(out, "unknown");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, proto, 0);
        return;
    }
}

/* Redis 7.0's key-spec maps: a set of {notes?, flags, begin_search, find_keys}. */
static void reply_key_specs(struct rbuf *out, int proto, const struct cmd_spec *s)
{
    int n = s != NULL ? s->nkey_specs : 0;
    resp_add_set(out, proto, (size_t)n);
    for (int i = 0; i < n; i++) {
        const struct cmd_key_spec *ks = &s->key_specs[i];
        resp_add_map(out, proto, ks->notes != NULL ? 4 : 3);
        if (ks->notes != NULL) {
            resp_add_bulk_cstr(out, "notes");
            resp_add_bulk_cstr(out, ks->notes);
        }
        resp_add_bulk_cstr(out, "flags");
        reply_key_flags(out, proto, ks->flags);
        resp_add_bulk_cstr(out, "begin_search");
        reply_begin_search(out, proto, ks);
        resp_add_bulk_cstr(out, "find_keys");
        reply_find_keys(out, proto, ks);
    }
}

/* Redis 7.0's 10-element command info. */
static void reply_command_info(struct rbuf *out, int proto, const struct cmd_view *v)
{
    resp_add_array(out, 10);
    resp_add_bulk_cstr(out, v->name);
    resp_add_int(out, v->arity);
    reply_view_flags(out, proto, v->flags);
    resp_add_int(out, v->first);
    resp_add_int(out, v->last);
    resp_add_int(out, v->step);
    reply_words(out, proto, v->acl, false);
    reply_words(out, proto, v->tips, true);
    reply_key_specs(out, proto, v->spec);
    /* Redis: an empty set, or an array of subcommands. */
    if (v->nsubs == 0) {
        resp_add_set(out, proto, 0);
        return;
    }
    resp_add_array(out, v->nsubs);
    for (size_t i = 0; i < v->nsubs; i++) {
        struct cmd_view sv;
        /* v describes a container here, so it came from a spec. */
        HP_ASSERT(v->spec != NULL);
        view_of_sub(&sv, v->spec, &v->subs[i]);
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

/* Redis 7.0's argument type names. */
static const char *arg_type_name(enum cmd_arg_type t)
{
    static const char *const names[] = {
        [CMD_ARG_STRING] = "string",         [CMD_ARG_INTEGER] = "integer",
        [CMD_ARG_DOUBLE] = "double",         [CMD_ARG_KEY] = "key",
        [CMD_ARG_PATTERN] = "pattern",       [CMD_ARG_UNIX_TIME] = "unix-time",
        [CMD_ARG_PURE_TOKEN] = "pure-token", [CMD_ARG_ONEOF] = "oneof",
        [CMD_ARG_BLOCK] = "block",
    };
    HP_ASSERT((size_t)t < HP_ARRAY_LEN(names));
    return names[t];
}

static void reply_str_pair(struct rbuf *out, const char *name, const char *value)
{
    resp_add_bulk_cstr(out, name);
    resp_add_bulk_cstr(out, value);
}

/* A set of simple strings: the names of the `flags` bits, in table order. */
static void reply_bit_names(struct rbuf *out, int proto, uint32_t flags, const char *const *names,
                            size_t n)
{
    HP_ASSERT(flags < (1u << n));
    resp_add_set(out, proto, (size_t)__builtin_popcount(flags));
    for (size_t i = 0; i < n; i++)
        if (flags & (1u << i))
            resp_add_simple(out, names[i]);
}

/* Redis 7.0's argument maps (addReplyCommandArgList), in its key order. */
static void reply_doc_args(struct rbuf *out, int proto, const struct cmd_arg *args, size_t n)
{
    static const char *const flag_names[] = {"optional", "multiple", "multiple_token"};
    resp_add_array(out, n);
    for (size_t i = 0; i < n; i++) {
        const struct cmd_arg *a = &args[i];
        size_t len = 2 + (a->key_spec_index >= 0) + (a->token != NULL) + (a->since != NULL) +
                     (a->deprecated_since != NULL) + (a->flags != 0) + (a->nargs > 0);
        resp_add_map(out, proto, len);
        reply_str_pair(out, "name", a->name);
        reply_str_pair(out, "type", arg_type_name(a->type));
        if (a->key_spec_index >= 0)
            reply_int_pair(out, "key_spec_index", a->key_spec_index);
        if (a->token)
            reply_str_pair(out, "token", a->token);
        if (a->since)
            reply_str_pair(out, "since", a->since);
        if (a->deprecated_since)
            reply_str_pair(out, "deprecated_since", a->deprecated_since);
        if (a->flags) {
            resp_add_bulk_cstr(out, "flags");
            reply_bit_names(out, proto, a->flags, flag_names, HP_ARRAY_LEN(flag_names));
        }
        if (a->nargs > 0) {
            resp_add_bulk_cstr(out, "arguments");
            reply_doc_args(out, proto, a->args, a->nargs);
        }
    }
}

static void reply_doc_extra(struct rbuf *out, int proto, const struct cmd_doc *d)
{
    static const char *const doc_flag_names[] = {"deprecated", "syscmd"};
    if (d->complexity)
        reply_str_pair(out, "complexity", d->complexity);
    if (d->doc_flags) {
        resp_add_bulk_cstr(out, "doc_flags");
        reply_bit_names(out, proto, d->doc_flags, doc_flag_names, HP_ARRAY_LEN(doc_flag_names));
    }
    if (d->deprecated_since)
        reply_str_pair(out, "deprecated_since", d->deprecated_since);
    if (d->replaced_by)
        reply_str_pair(out, "replaced_by", d->replaced_by);
    if (d->nhistory > 0) {
        resp_add_bulk_cstr(out, "history");
        resp_add_set(out, proto, d->nhistory);
        for (size_t i = 0; i < d->nhistory; i++) {
            resp_add_array(out, 2);
            resp_add_bulk_cstr(out, d->history[i].version);
            resp_add_bulk_cstr(out, d->history[i].text);
        }
    }
    if (d->nargs > 0) {
        resp_add_bulk_cstr(out, "arguments");
        reply_doc_args(out, proto, d->args, d->nargs);
    }
}

/* Redis 7.0's addReplyCommandDocs: its fields, in its order. */
static void reply_command_docs(struct rbuf *out, int proto, const struct cmd_view *v)
{
    const struct cmd_doc *d = cmd_doc_find(v->name);
    size_t len = 1 + (v->summary != NULL) + (v->since != NULL) + (v->nsubs > 0);
    if (d != NULL)
        len += (d->complexity != NULL) + (d->doc_flags != 0) + (d->deprecated_since != NULL) +
               (d->replaced_by != NULL) + (d->nhistory > 0) + (d->nargs > 0);
    resp_add_bulk_cstr(out, v->name);
    resp_add_map(out, proto, len);
    if (v->summary)
        reply_str_pair(out, "summary", v->summary);
    if (v->since)
        reply_str_pair(out, "since", v->since);
    HP_ASSERT(v->group != NULL);
    reply_str_pair(out, "group", v->group);
    if (d != NULL)
        reply_doc_extra(out, proto, d);
    if (v->nsubs > 0) {
        const struct cmd_spec *self = v->spec;
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
    case LIST_ACLCAT:
        /* v->acl is "@a @b ...": match one word after its '@'. */
        for (const char *p = v->acl; p != NULL && *p == '@';) {
            const char *sp = strchr(p, ' ');
            size_t len = sp ? (size_t)(sp - p) : strlen(p);
            if (arg.len == len - 1 && strncasecmp((const char *)arg.ptr, p + 1, len - 1) == 0)
                return true;
            p = sp ? sp + 1 : NULL;
        }
        return false;
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

/* COMMAND GETKEYS' command lookup (Redis' lookupCommand): a container
 * with more arguments names one of its subcommands.  *spec is the command
 * with key specs, NULL for a subcommand (none has keys).  False if unknown. */
static bool keys_lookup(int argc, const struct hp_slice *argv, const struct cmd_spec **spec,
                        int *arity)
{
    const struct cmd_spec *s = cmd_lookup(argv[0].ptr, argv[0].len);
    if (s == NULL)
        return false;
    size_t nsubs;
    const struct subcmd *subs = subcmds_of(s->name, &nsubs);
    if (subs == NULL || argc == 1) {
        *spec = s;
        *arity = s->arity;
        return true;
    }
    const struct subcmd *sub = subcmd_find(subs, nsubs, argv[1]);
    if (sub == NULL)
        return false;
    *spec = NULL;
    *arity = sub->arity;
    return true;
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS: argv[2..] is the command to inspect;
 * Redis 7.0's checks in its order (no keys before arity). */
static void command_keys(struct client_ctx *c, bool with_flags)
{
    int argc = c->argc - 2;
    const struct hp_slice *argv = c->argv + 2;
    const struct cmd_spec *s = NULL;
    int arity = 0;
    if (!keys_lookup(argc, argv, &s, &arity)) {
        resp_add_error(c->out, "ERR Invalid command specified");
        return;
    }
    if (s == NULL || !cmd_has_keys(s)) {
        resp_add_error(c->out, "ERR The command has no key arguments");
        return;
    }
    if (arity >= 0 ? argc != arity : argc < -arity) {
        resp_add_error(c->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    struct cmd_key_ranges kr;
    if (cmd_keys_find(s, argc, argv, false, &kr) != CMD_KEYS_OK || kr.nkeys == 0) {
        if (s->info_flags & CMD_NO_MANDATORY_KEYS)
            resp_add_array(c->out, 0);
        else
            resp_add_error(c->out, "ERR Invalid arguments specified for command");
        return;
    }
    int proto = c->conn->proto;
    resp_add_array(c->out, kr.nkeys);
    for (int j = 0; j < kr.n; j++) {
        for (int i = kr.r[j].first; i <= kr.r[j].last; i += kr.r[j].step) {
            if (with_flags)
                resp_add_array(c->out, 2);
            resp_add_bulk(c->out, argv[i].ptr, argv[i].len);
            if (with_flags)
                reply_key_flags(c->out, proto, kr.r[j].flags);
        }
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
