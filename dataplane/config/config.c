/*
 * config.c - hotpathd's settings; see config.h and docs/CONFIG.md.
 *
 * One table, config_directives[], is the single source of truth: parsing
 * (file, command line, CONFIG SET), defaults (config_init feeds each default
 * string through the same parser), CONFIG GET rendering and --help are all
 * driven by it, so they cannot drift apart.
 *
 * Parsing a directive is split in two steps, parse (into a config_value,
 * touching nothing) and store, so CONFIG SET with several pairs can check
 * every value before changing any, as Redis does.
 *
 * The config file and the command line are read in config_file.c and
 * config_args.c (shared declarations in config_internal.h).
 */
#include "config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "../../common/log.h"
#include "../../common/strutil.h"

enum config_type {
    CONFIG_T_INT,    /* decimal integer, Redis string2ll rules */
    CONFIG_T_MEMORY, /* byte count with Redis' units: 1k 1kb 1m 1mb 1g 1gb */
    CONFIG_T_ENUM,   /* one word of `words`, stored as its index */
    CONFIG_T_TEXT,   /* free text; several values are joined with spaces */
    CONFIG_T_NAME,   /* [A-Za-z0-9._-]*: ends up in file names */
    CONFIG_T_BIND,   /* 1..CONFIG_MAX_BIND numeric IPv4/IPv6 addresses */
    CONFIG_T_OBUF,   /* client-output-buffer-limit: size or Redis' class form */
};

#define CONFIG_F_RUNTIME 1u /* CONFIG SET may change it: a struct config_rt field */

struct config_directive {
    const char *name;
    enum config_type type;
    unsigned flags;
    size_t offset; /* of the field in struct hp_config */
    size_t size;   /* of the field: 4 or 8 for numbers, the array for text */
    int64_t min, max;           /* INT, MEMORY and OBUF bounds */
    int64_t clamp_lo, clamp_hi; /* INT: in-bounds values are then clamped (hz) */
    const char *const *words;   /* ENUM: NULL-terminated, index = stored value */
    const char *def;            /* default, written as in a config file */
    const char *help;
};

#define CONFIG_FIELD(f) offsetof(struct hp_config, f), sizeof(((struct hp_config *)0)->f)
#define MB (1024LL * 1024)

static const char *const config_poll_words[] = {"adaptive", "busy", NULL};
static const char *const config_backend_words[] = {"auto", "io_uring", "epoll", NULL};
static const char *const config_loglevel_words[] = {"debug", "verbose", "notice", "warning",
                                                    NULL};
/* appendonly / aof-load-corrupt: index 0 = no; appendfsync: enum aof_fsync_policy order. */
static const char *const config_yesno_words[] = {"no", "yes", NULL};
static const char *const config_fsync_words[] = {"always", "everysec", "no", NULL};

_Static_assert(POLL_ADAPTIVE == 0 && POLL_BUSY == 1, "config_poll_words order");
_Static_assert(IO_BACKEND_AUTO == 0 && IO_BACKEND_IO_URING == 1 && IO_BACKEND_EPOLL == 2,
               "config_backend_words order");
_Static_assert(LOG_DEBUG == 0 && LOG_VERBOSE == 1 && LOG_NOTICE == 2 && LOG_WARNING == 3,
               "config_loglevel_words order");
_Static_assert(sizeof(enum poll_mode) == sizeof(int) && sizeof(enum io_backend) == sizeof(int),
               "enum fields are stored as int");

static const struct config_directive config_directives[] = {
    {"port", CONFIG_T_INT, 0, CONFIG_FIELD(port), 0, 65535, 0, 0, NULL, "6379",
     "TCP port to listen on (0 = no TCP listener)"},
    {"bind", CONFIG_T_BIND, 0, CONFIG_FIELD(bind), 0, 0, 0, 0, NULL, "127.0.0.1",
     "addresses to listen on, space separated (numeric IPv4/IPv6)"},
    {"tcp-backlog", CONFIG_T_INT, 0, CONFIG_FIELD(tcp_backlog), 1, 65535, 0, 0, NULL, "511",
     "listen(2) backlog (the kernel caps it at net.core.somaxconn)"},
    {"workers", CONFIG_T_INT, 0, CONFIG_FIELD(workers), 0, HP_MAX_SHARDS, 0, 0, NULL, "0",
     "worker cores = shards; 0 = every usable CPU but the main one"},
    {"poll-mode", CONFIG_T_ENUM, 0, CONFIG_FIELD(poll_mode), 0, 0, 0, 0, config_poll_words,
     "adaptive", "busy: workers always spin; adaptive: sleep when idle"},
    {"io-backend", CONFIG_T_ENUM, 0, CONFIG_FIELD(io_backend), 0, 0, 0, 0, config_backend_words,
     "auto", "kernel TCP backend; auto tries io_uring, then epoll"},
    {"eal-args", CONFIG_T_TEXT, 0, CONFIG_FIELD(eal_args), 0, 0, 0, 0, NULL, "",
     "DPDK EAL arguments; empty = the embedded default"},
    {"file-prefix", CONFIG_T_NAME, 0, CONFIG_FIELD(file_prefix), 0, 0, 0, 0, NULL, "",
     "DPDK --file-prefix; empty = hotpath-<port>"},
    {"eal-memory-mb", CONFIG_T_INT, 0, CONFIG_FIELD(eal_memory_mb), 16, 1048576, 0, 0, NULL,
     "256", "EAL memory (-m, MB) of the embedded default"},
    {"loglevel", CONFIG_T_ENUM, 0, CONFIG_FIELD(log_level), 0, 0, 0, 0, config_loglevel_words,
     "notice", "log verbosity"},
    {"databases", CONFIG_T_INT, 0, CONFIG_FIELD(databases), HP_NUM_DBS, HP_NUM_DBS, 0, 0, NULL,
     "16", "number of databases (fixed; for redis.conf compatibility)"},
    {"udp-ports", CONFIG_T_TEXT, 0, CONFIG_FIELD(udp_ports), 0, 0, 0, 0, NULL, "",
     "UDP dataplane: DPDK port ids (space separated) or \"all\"; empty = off"},
    {"udp-addr", CONFIG_T_TEXT, 0, CONFIG_FIELD(udp_addr), 0, 0, 0, 0, NULL, "",
     "UDP dataplane: IPv4/prefix of each port, in udp-ports order"},
    {"udp-port", CONFIG_T_INT, 0, CONFIG_FIELD(udp_port), 1, 65535, 0, 0, NULL, "9000",
     "UDP dataplane: base UDP port; base + N addresses shard N directly"},
    {"udp-client-subnets", CONFIG_T_TEXT, 0, CONFIG_FIELD(udp_client_subnets), 0, 0, 0, 0, NULL,
     "", "UDP dataplane: IPv4/prefix sources answered; empty = each port's own subnet"},
    {"udp-amplification-factor", CONFIG_T_INT, 0, CONFIG_FIELD(udp_amplification_factor), 1, 64,
     0, 0, NULL, "1", "UDP dataplane: most reply bytes per request byte to an unverified source"},
    {"udp-mbufs", CONFIG_T_INT, 0, CONFIG_FIELD(udp_mbufs), 512, 1048576, 0, 0, NULL, "4096",
     "UDP dataplane: packet buffers per worker"},
    {"udp-mtu", CONFIG_T_INT, 0, CONFIG_FIELD(udp_mtu), 576, 9000, 0, 0, NULL, "1500",
     "UDP dataplane: IP MTU of reply frames (capped by the port and the mbuf size)"},
    {"udp-sessions", CONFIG_T_INT, 0, CONFIG_FIELD(udp_sessions), 16, 16777216, 0, 0, NULL,
     "4096", "UDP dataplane: client sessions remembered per worker"},
    {"udp-reply-cache", CONFIG_T_MEMORY, 0, CONFIG_FIELD(udp_reply_cache), 0, 1LL << 40, 0, 0,
     NULL, "4mb", "UDP dataplane: bytes of kept replies (retry answers) per worker"},
    {"appendonly", CONFIG_T_ENUM, 0, CONFIG_FIELD(appendonly), 0, 0, 0, 0, config_yesno_words,
     "no", "log every write to the append-only log in dir and replay it at start"},
    {"appendfsync", CONFIG_T_ENUM, 0, CONFIG_FIELD(appendfsync), 0, 0, 0, 0, config_fsync_words,
     "everysec", "always: reply after the write is on disk; everysec; no: as in Redis"},
    {"dir", CONFIG_T_TEXT, 0, CONFIG_FIELD(dir), 0, 0, 0, 0, NULL, "./",
     "directory of the append-only log (created if missing)"},
    {"aof-load-corrupt", CONFIG_T_ENUM, 0, CONFIG_FIELD(aof_load_corrupt), 0, 0, 0, 0,
     config_yesno_words, "no", "yes: start despite damaged log data, skipping it (data loss)"},
    {"auto-aof-rewrite-percentage", CONFIG_T_INT, 0, CONFIG_FIELD(auto_aof_rewrite_percentage), 0,
     1000000, 0, 0, NULL, "100", "rewrite the log when it grew this % since the last rewrite; 0 = never"},
    {"auto-aof-rewrite-min-size", CONFIG_T_MEMORY, 0, CONFIG_FIELD(auto_aof_rewrite_min_size), 0,
     1LL << 50, 0, 0, NULL, "64mb", "... and only once the log is at least this large"},
    {"maxclients", CONFIG_T_INT, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.maxclients), 1, 4294967295LL,
     0, 0, NULL, "10000", "most simultaneous client connections"},
    {"proto-max-bulk-len", CONFIG_T_MEMORY, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.proto_max_bulk_len),
     MB, INT64_MAX, 0, 0, NULL, "512mb", "largest bulk string a request may carry"},
    {"client-query-buffer-limit", CONFIG_T_MEMORY, CONFIG_F_RUNTIME,
     CONFIG_FIELD(rt.client_query_buffer_limit), MB, INT64_MAX, 0, 0, NULL, "1gb",
     "most unparsed request bytes buffered per client"},
    {"client-output-buffer-limit", CONFIG_T_OBUF, CONFIG_F_RUNTIME,
     CONFIG_FIELD(rt.client_output_buffer_limit), MB, INT64_MAX, 0, 0, NULL, "1gb",
     "most reply bytes buffered per client (0 = 1gb)"},
    {"timeout", CONFIG_T_INT, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.timeout), 0, INT_MAX, 0, 0, NULL,
     "0", "close clients idle this many seconds (0 = never)"},
    {"hz", CONFIG_T_INT, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.hz), 0, INT_MAX, 1, 500, NULL, "10",
     "active expiry rounds per second (clamped to 1..500)"},
    {"active-expire-budget", CONFIG_T_INT, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.active_expire_budget),
     1, 1000000, 0, 0, NULL, "200", "keys examined per expiry round per shard"},
    {"idle-sleep-us", CONFIG_T_INT, CONFIG_F_RUNTIME, CONFIG_FIELD(rt.idle_sleep_us), 0, 1000000, 0,
     0, NULL, "100000", "adaptive polling: longest idle sleep (microseconds); wake-ups end it early"},
};

#define CONFIG_NDIRECTIVES HP_ARRAY_LEN(config_directives)
/* Rendered values: bind is the longest (16 x 63 + spaces). */
#define CONFIG_RENDER_MAX (CONFIG_MAX_BIND * 64 + CONFIG_STR_MAX)
#define CONFIG_REASON_MAX 160

/* A parsed value, not yet stored. */
struct config_value {
    int64_t num;
    int nbind;
    char text[CONFIG_STR_MAX];
    char bind[CONFIG_MAX_BIND][64];
};

/* ---- the table ---------------------------------------------------------- */

static const struct config_directive *config_lookup(const char *name)
{
    for (size_t i = 0; i < CONFIG_NDIRECTIVES; i++)
        if (strcasecmp(name, config_directives[i].name) == 0)
            return &config_directives[i];
    return NULL;
}

static bool config_in_rt(const struct config_directive *d)
{
    size_t rt = offsetof(struct hp_config, rt);
    return d->offset >= rt && d->offset < rt + sizeof(struct config_rt);
}

/* The table's invariants; a violation is a programming error. */
static void config_table_check(void)
{
    for (size_t i = 0; i < CONFIG_NDIRECTIVES; i++) {
        const struct config_directive *d = &config_directives[i];
        HP_ASSERT(config_lookup(d->name) == d); /* unique */
        HP_ASSERT(((d->flags & CONFIG_F_RUNTIME) != 0) == config_in_rt(d));
        HP_ASSERT(!config_in_rt(d) || d->size == sizeof(int64_t));
        if (d->type == CONFIG_T_INT || d->type == CONFIG_T_ENUM)
            HP_ASSERT(d->size == sizeof(int64_t) || (d->size == sizeof(int) && d->max <= INT_MAX));
        if (d->type == CONFIG_T_MEMORY || d->type == CONFIG_T_OBUF)
            HP_ASSERT(d->size == sizeof(int64_t));
        HP_ASSERT(d->min <= d->max);
        HP_ASSERT((d->type == CONFIG_T_ENUM) == (d->words != NULL));
    }
}

/* ---- reading and writing fields ----------------------------------------- */

/* Runtime fields are read by workers concurrently, so every 64-bit field is
 * accessed atomically (what CONFIG_RT_GET/SET do, by address). */
static int64_t config_load_num(const struct hp_config *cfg, const struct config_directive *d)
{
    const char *p = (const char *)cfg + d->offset;
    if (d->size == sizeof(int64_t))
        return __atomic_load_n((const int64_t *)(const void *)p, __ATOMIC_RELAXED);
    HP_ASSERT(d->size == sizeof(int));
    return *(const int *)(const void *)p;
}

static void config_store(struct hp_config *cfg, const struct config_directive *d,
                         const struct config_value *v)
{
    char *p = (char *)cfg + d->offset;
    switch (d->type) {
    case CONFIG_T_INT:
    case CONFIG_T_MEMORY:
    case CONFIG_T_ENUM:
    case CONFIG_T_OBUF:
        if (d->size == sizeof(int64_t)) {
            __atomic_store_n((int64_t *)(void *)p, v->num, __ATOMIC_RELAXED);
        } else {
            HP_ASSERT(d->size == sizeof(int) && v->num >= INT_MIN && v->num <= INT_MAX);
            *(int *)(void *)p = (int)v->num;
        }
        break;
    case CONFIG_T_TEXT:
    case CONFIG_T_NAME:
        HP_ASSERT(strlen(v->text) < d->size);
        memcpy(p, v->text, strlen(v->text) + 1);
        break;
    case CONFIG_T_BIND:
        HP_ASSERT(v->nbind >= 1 && v->nbind <= CONFIG_MAX_BIND);
        memcpy(cfg->bind, v->bind, sizeof(cfg->bind));
        cfg->nbind = v->nbind;
        break;
    }
}

static void config_render(const struct hp_config *cfg, const struct config_directive *d,
                          char *buf, size_t len)
{
    const char *p = (const char *)cfg + d->offset;
    int64_t n;
    buf[0] = '\0';
    switch (d->type) {
    case CONFIG_T_INT:
    case CONFIG_T_MEMORY:
        snprintf(buf, len, "%lld", (long long)config_load_num(cfg, d));
        break;
    case CONFIG_T_OBUF:
        /* Redis' shape, so tools that parse it keep working. */
        snprintf(buf, len, "normal %lld 0 0", (long long)config_load_num(cfg, d));
        break;
    case CONFIG_T_ENUM:
        n = config_load_num(cfg, d);
        HP_ASSERT(n >= 0 && d->words[n] != NULL);
        snprintf(buf, len, "%s", d->words[n]);
        break;
    case CONFIG_T_TEXT:
    case CONFIG_T_NAME:
        snprintf(buf, len, "%s", p);
        break;
    case CONFIG_T_BIND: {
        size_t off = 0;
        for (int i = 0; i < cfg->nbind && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", cfg->bind[i]);
        break;
    }
    }
}

/* ---- parsing values ----------------------------------------------------- */

/* Redis memtoull: digits, then an optional unit (case-insensitive).  Returns
 * -1 if it is not a memory value; an overflow gives UINT64_MAX, which the
 * range check then refuses. */
static int config_parse_memory(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"", 1},       {"b", 1},        {"k", 1000},          {"kb", 1024},
                 {"m", 1000000}, {"mb", 1 << 20}, {"g", 1000000000ULL}, {"gb", 1ULL << 30}};
    uint64_t v = 0;
    bool overflow = false;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            v = v * 10 + digit;
    }
    if (i == 0)
        return -1;
    for (size_t u = 0; u < HP_ARRAY_LEN(units); u++) {
        if (strcasecmp(s + i, units[u].unit) == 0) {
            *out = (overflow || v > UINT64_MAX / units[u].mul) ? UINT64_MAX : v * units[u].mul;
            return 0;
        }
    }
    return -1;
}

static int config_range_error(const struct config_directive *d, char *reason, size_t rlen)
{
    if (d->min == d->max)
        snprintf(reason, rlen, "argument must be %lld (the only supported value)",
                 (long long)d->min);
    else
        snprintf(reason, rlen, "argument must be between %lld and %lld inclusive",
                 (long long)d->min, (long long)d->max);
    return -1;
}

static int config_parse_int(const struct config_directive *d, const char *s, int64_t *out,
                            char *reason, size_t rlen)
{
    int64_t v;
    if (str_to_i64((const uint8_t *)s, strlen(s), &v) != 0) {
        snprintf(reason, rlen, "argument couldn't be parsed into an integer");
        return -1;
    }
    if (v < d->min || v > d->max)
        return config_range_error(d, reason, rlen);
    if (d->clamp_hi > 0)
        v = v < d->clamp_lo ? d->clamp_lo : v > d->clamp_hi ? d->clamp_hi : v;
    *out = v;
    return 0;
}

static int config_parse_size(const struct config_directive *d, const char *s, int64_t *out,
                             char *reason, size_t rlen)
{
    uint64_t v;
    if (config_parse_memory(s, &v) != 0) {
        snprintf(reason, rlen, "argument must be a memory value");
        return -1;
    }
    if (v < (uint64_t)d->min || v > (uint64_t)d->max)
        return config_range_error(d, reason, rlen);
    *out = (int64_t)v;
    return 0;
}

static int config_parse_enum(const struct config_directive *d, const char *s, int64_t *out,
                             char *reason, size_t rlen)
{
    for (int i = 0; d->words[i]; i++) {
        if (strcasecmp(s, d->words[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    size_t off = (size_t)snprintf(reason, rlen, "argument(s) must be one of the following: ");
    for (int i = 0; d->words[i] && off < rlen; i++)
        off += (size_t)snprintf(reason + off, rlen - off, "%s%s", i ? ", " : "", d->words[i]);
    return -1;
}

/* Joins vals with single spaces into out (outlen bytes). */
static int config_join(int nvals, const char *const *vals, char *out, size_t outlen)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < nvals; i++) {
        size_t n = strlen(vals[i]);
        if (off + (i ? 1 : 0) + n >= outlen)
            return -1;
        if (i)
            out[off++] = ' ';
        memcpy(out + off, vals[i], n + 1);
        off += n;
    }
    return 0;
}

/* Splits s in place on whitespace; returns the word count or -1 if more than max. */
static int config_split_spaces(char *s, char **words, int max)
{
    int n = 0;
    for (char *save = NULL, *w = strtok_r(s, " \t\r\n", &save); w;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return -1;
        words[n++] = w;
    }
    return n;
}

static int config_parse_text(const struct config_directive *d, int nvals, const char *const *vals,
                             struct config_value *v, char *reason, size_t rlen)
{
    if (config_join(nvals, vals, v->text, d->size) != 0) {
        snprintf(reason, rlen, "argument must be at most %zu bytes long", d->size - 1);
        return -1;
    }
    for (const char *p = v->text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (d->type == CONFIG_T_TEXT && (c < 0x20 || c == 0x7f)) {
            snprintf(reason, rlen, "argument must not contain control characters");
            return -1;
        }
        if (d->type == CONFIG_T_NAME && !isalnum(c) && c != '.' && c != '_' && c != '-') {
            snprintf(reason, rlen, "argument may contain only letters, digits, '.', '_' and '-'");
            return -1;
        }
    }
    return 0;
}

static int config_parse_bind(int nvals, const char *const *vals, struct config_value *v,
                             char *reason, size_t rlen)
{
    char joined[CONFIG_RENDER_MAX];
    char *words[CONFIG_MAX_BIND];
    unsigned char addr[CONFIG_MAX_BIND][17]; /* family tag + address, for duplicates */
    int n = -1;
    if (config_join(nvals, vals, joined, sizeof(joined)) == 0)
        n = config_split_spaces(joined, words, CONFIG_MAX_BIND);
    if (n < 1) {
        snprintf(reason, rlen, "argument must be 1 to %d addresses", CONFIG_MAX_BIND);
        return -1;
    }
    memset(addr, 0, sizeof(addr));
    for (int i = 0; i < n; i++) {
        bool ok = strlen(words[i]) < sizeof(v->bind[i]);
        if (ok && inet_pton(AF_INET, words[i], addr[i] + 1) == 1)
            addr[i][0] = 4;
        else if (ok && inet_pton(AF_INET6, words[i], addr[i] + 1) == 1)
            addr[i][0] = 6;
        else {
            snprintf(reason, rlen, "'%.64s' is not a numeric IPv4 or IPv6 address", words[i]);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (memcmp(addr[i], addr[j], sizeof(addr[i])) == 0) {
                snprintf(reason, rlen, "address '%.64s' is given twice", words[i]);
                return -1;
            }
        }
        snprintf(v->bind[i], sizeof(v->bind[i]), "%s", words[i]);
    }
    v->nbind = n;
    return 0;
}

/*
 * client-output-buffer-limit: hotpath has one limit, the hard limit for
 * normal clients.  Accepted: a size, or Redis' "normal <hard> <soft>
 * <soft-seconds>" groups; Redis' 0 ("no limit") means our default hard
 * limit, and soft limits must be 0 because hotpath does not implement them.
 */
static int config_parse_obuf(const struct config_directive *d, int nvals, const char *const *vals,
                             struct config_value *v, char *reason, size_t rlen)
{
    char joined[CONFIG_STR_MAX];
    char *w[CONFIG_VALUES_MAX];
    int n = -1;
    if (config_join(nvals, vals, joined, sizeof(joined)) == 0)
        n = config_split_spaces(joined, w, CONFIG_VALUES_MAX);
    if (n == 1) {
        uint64_t bytes;
        if (config_parse_memory(w[0], &bytes) == 0 && bytes == 0) {
            v->num = CONFIG_OBUF_DEFAULT_LIMIT;
            return 0;
        }
        return config_parse_size(d, w[0], &v->num, reason, rlen);
    }
    if (n < 4 || n % 4 != 0) {
        snprintf(reason, rlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int i = 0; i < n; i += 4) {
        uint64_t hard, soft;
        int64_t secs;
        if (strcasecmp(w[i], "replica") == 0 || strcasecmp(w[i], "slave") == 0 ||
            strcasecmp(w[i], "pubsub") == 0) {
            snprintf(reason, rlen, "only the normal client class is supported");
            return -1;
        }
        if (strcasecmp(w[i], "normal") != 0) {
            snprintf(reason, rlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        if (config_parse_memory(w[i + 1], &hard) != 0 || config_parse_memory(w[i + 2], &soft) != 0 ||
            str_to_i64((const uint8_t *)w[i + 3], strlen(w[i + 3]), &secs) != 0 || secs < 0) {
            snprintf(reason, rlen,
                     "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        if (soft != 0 || secs != 0) {
            snprintf(reason, rlen, "soft limits are not supported (soft and soft_seconds must be 0)");
            return -1;
        }
        if (hard == 0)
            v->num = CONFIG_OBUF_DEFAULT_LIMIT;
        else if (config_parse_size(d, w[i + 1], &v->num, reason, rlen) != 0)
            return -1;
    }
    return 0;
}

/* Parses vals for d into v without storing; on error, reason says why in
 * Redis' words where Redis has them. */
static int config_parse_value(const struct config_directive *d, int nvals,
                              const char *const *vals, struct config_value *v, char *reason,
                              size_t rlen)
{
    bool single = d->type == CONFIG_T_INT || d->type == CONFIG_T_MEMORY ||
                  d->type == CONFIG_T_ENUM || d->type == CONFIG_T_NAME;
    if (nvals < 1 || (single && nvals != 1)) {
        snprintf(reason, rlen, "wrong number of arguments");
        return -1;
    }
    switch (d->type) {
    case CONFIG_T_INT:
        return config_parse_int(d, vals[0], &v->num, reason, rlen);
    case CONFIG_T_MEMORY:
        return config_parse_size(d, vals[0], &v->num, reason, rlen);
    case CONFIG_T_ENUM:
        return config_parse_enum(d, vals[0], &v->num, reason, rlen);
    case CONFIG_T_TEXT:
    case CONFIG_T_NAME:
        return config_parse_text(d, nvals, vals, v, reason, rlen);
    case CONFIG_T_BIND:
        return config_parse_bind(nvals, vals, v, reason, rlen);
    case CONFIG_T_OBUF:
        return config_parse_obuf(d, nvals, vals, v, reason, rlen);
    }
    HP_ASSERT(!"unknown directive type");
    return -1;
}

/* ---- applying directives ------------------------------------------------ */

/* The values as quoted in an error: joined, non-printable bytes escaped,
 * long ones cut. */
void config_show_values(int nvals, const char *const *vals, char *out, size_t outlen)
{
    size_t off = 0;
    HP_ASSERT(outlen > 8);
    out[0] = '\0';
    for (int i = 0; i < nvals; i++) {
        for (const char *p = i ? " " : "", *q = vals[i]; *p || *q;) {
            unsigned char c = (unsigned char)(*p ? *p++ : *q++);
            if (off + 8 >= outlen || off >= CONFIG_SHOW_MAX) {
                memcpy(out + off, "...", 4);
                return;
            }
            if (c >= 0x20 && c < 0x7f)
                out[off++] = (char)c;
            else
                off += (size_t)snprintf(out + off, outlen - off, "\\x%02x", c);
            out[off] = '\0';
        }
    }
}

static void config_where(const struct config_origin *o, char *out, size_t outlen)
{
    if (o->file)
        snprintf(out, outlen, "%s:%d: ", o->file, o->line);
    else
        out[0] = '\0';
}

int config_apply_from(struct hp_config *cfg, const struct config_origin *o,
                      const char *name, int nvals, const char *const *vals, char *err,
                      size_t errlen)
{
    char where[CONFIG_STR_MAX + 32];
    char reason[CONFIG_REASON_MAX];
    char shown[CONFIG_SHOW_MAX + 16];
    struct config_value v;
    config_where(o, where, sizeof(where));
    const struct config_directive *d = config_lookup(name);
    if (d == NULL) {
        config_show_values(1, &name, shown, sizeof(shown));
        snprintf(err, errlen, "%sunknown directive '%s%s'", where, o->flag ? "--" : "", shown);
        return -1;
    }
    if (config_parse_value(d, nvals, vals, &v, reason, sizeof(reason)) != 0) {
        const char *dash = o->flag ? "--" : "";
        if (nvals == 0) {
            snprintf(err, errlen, "%s%s%s: %s", where, dash, d->name, reason);
        } else {
            config_show_values(nvals, vals, shown, sizeof(shown));
            snprintf(err, errlen, "%s%s%s '%s': %s", where, dash, d->name, shown, reason);
        }
        return -1;
    }
    config_store(cfg, d, &v);
    return 0;
}

int config_set_pairs(struct hp_config *cfg, int argc, const char *const *argv, char *err,
                     size_t errlen)
{
    const struct config_directive *picked[CONFIG_NDIRECTIVES];
    int64_t nums[CONFIG_NDIRECTIVES];
    char reason[CONFIG_REASON_MAX];
    struct config_value v;
    if (argc < 2 || argc % 2 != 0) {
        snprintf(err, errlen, "ERR wrong number of arguments for 'config|set' command");
        return -1;
    }
    int npairs = argc / 2;
    /* Pass 1, as Redis: names, mutability, repeats - before any value. */
    for (int i = 0; i < npairs; i++) {
        const char *name = argv[2 * i];
        const struct config_directive *d = config_lookup(name);
        if (d == NULL) {
            snprintf(err, errlen, "ERR Unknown option or number of arguments for CONFIG SET - '%.128s'",
                     name);
            return -1;
        }
        if (!(d->flags & CONFIG_F_RUNTIME)) {
            snprintf(err, errlen,
                     "ERR CONFIG SET failed (possibly related to argument '%.128s') - can't set "
                     "immutable config",
                     name);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (picked[j] == d) {
                snprintf(err, errlen,
                         "ERR CONFIG SET failed (possibly related to argument '%.128s') - "
                         "duplicate parameter",
                         name);
                return -1;
            }
        }
        /* Distinct runtime directives: the table bounds npairs here. */
        HP_ASSERT((size_t)i < CONFIG_NDIRECTIVES);
        picked[i] = d;
    }
    /* Pass 2: every value; pass 3: store them all. */
    for (int i = 0; i < npairs; i++) {
        if (config_parse_value(picked[i], 1, &argv[2 * i + 1], &v, reason, sizeof(reason)) != 0) {
            snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     picked[i]->name, reason);
            return -1;
        }
        nums[i] = v.num; /* runtime settings are all numbers */
    }
    for (int i = 0; i < npairs; i++) {
        v.num = nums[i];
        config_store(cfg, picked[i], &v);
    }
    return 0;
}

int config_apply(struct hp_config *cfg, const char *name, int nvals, const char *const *vals,
                 bool runtime_only, char *err, size_t errlen)
{
    if (!runtime_only) {
        struct config_origin o = {NULL, 0, false};
        return config_apply_from(cfg, &o, name, nvals, vals, err, errlen);
    }
    /* CONFIG SET carries one value per name; several words are kept together
     * as one value, as if the client had quoted them. */
    char joined[CONFIG_STR_MAX];
    if (nvals < 1) {
        snprintf(err, errlen, "ERR wrong number of arguments for 'config|set' command");
        return -1;
    }
    if (config_join(nvals, vals, joined, sizeof(joined)) != 0) {
        snprintf(err, errlen,
                 "ERR CONFIG SET failed (possibly related to argument '%.128s') - argument too long",
                 name);
        return -1;
    }
    const char *pair[2] = {name, joined};
    return config_set_pairs(cfg, 2, pair, err, errlen);
}

void config_init(struct hp_config *cfg)
{
    char err[CONFIG_REASON_MAX * 2];
    config_table_check();
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_NDIRECTIVES; i++) {
        const struct config_directive *d = &config_directives[i];
        int rc = config_apply(cfg, d->name, 1, &d->def, false, err, sizeof(err));
        if (rc != 0)
            fprintf(stderr, "hotpathd: bad built-in default: %s\n", err);
        HP_ASSERT(rc == 0);
    }
}

/* ---- CONFIG GET --------------------------------------------------------- */

void config_foreach_match(const struct hp_config *cfg, const char *pattern,
                          void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    char value[CONFIG_RENDER_MAX];
    if (strpbrk(pattern, "[*?") == NULL) {
        const struct config_directive *d = config_lookup(pattern);
        if (d) {
            config_render(cfg, d, value, sizeof(value));
            fn(arg, pattern, value);
        }
        return;
    }
    for (size_t i = 0; i < CONFIG_NDIRECTIVES; i++) {
        const struct config_directive *d = &config_directives[i];
        if (glob_match((const uint8_t *)pattern, strlen(pattern), (const uint8_t *)d->name,
                       strlen(d->name), true)) {
            config_render(cfg, d, value, sizeof(value));
            fn(arg, d->name, value);
        }
    }
}

static void config_describe_size(int64_t v, char *buf, size_t len)
{
    if (v != 0 && v % (1LL << 30) == 0)
        snprintf(buf, len, "%lldgb", (long long)(v >> 30));
    else if (v != 0 && v % (1LL << 20) == 0)
        snprintf(buf, len, "%lldmb", (long long)(v >> 20));
    else
        snprintf(buf, len, "%lld", (long long)v);
}

/* What a directive accepts, for --help. */
static void config_describe(const struct config_directive *d, char *buf, size_t len)
{
    char lo[32];
    switch (d->type) {
    case CONFIG_T_INT:
        if (d->min == d->max)
            snprintf(buf, len, "%lld only", (long long)d->min);
        else
            snprintf(buf, len, "%lld..%lld", (long long)d->min, (long long)d->max);
        break;
    case CONFIG_T_MEMORY:
    case CONFIG_T_OBUF:
        config_describe_size(d->min, lo, sizeof(lo));
        snprintf(buf, len, "%s%s", d->type == CONFIG_T_OBUF ? "0 or size >= " : "size >= ", lo);
        break;
    case CONFIG_T_ENUM: {
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; d->words[i] && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "|" : "", d->words[i]);
        break;
    }
    case CONFIG_T_TEXT:
        snprintf(buf, len, "text");
        break;
    case CONFIG_T_NAME:
        snprintf(buf, len, "name");
        break;
    case CONFIG_T_BIND:
        snprintf(buf, len, "1-%d addresses", CONFIG_MAX_BIND);
        break;
    }
}

void config_write_help(FILE *out)
{
    char accepts[96];
    fprintf(out,
            "Usage: hotpathd [/path/to/hotpath.conf] [--directive value [value ...]]...\n"
            "       hotpathd --help | --version\n"
            "\n"
            "Directives go in the file as \"directive value\" lines, or on the command line as\n"
            "\"--directive value\", which is applied after the file (like redis-server).\n"
            "Sizes take the units k kb m mb g gb (1k = 1000, 1kb = 1024).  Directives marked\n"
            "* can be changed at run time with CONFIG SET.  See docs/CONFIG.md.\n"
            "\n"
            "  %-28s %-12s %-28s %s\n",
            "directive", "default", "accepts", "description");
    for (size_t i = 0; i < CONFIG_NDIRECTIVES; i++) {
        const struct config_directive *d = &config_directives[i];
        char name[64];
        config_describe(d, accepts, sizeof(accepts));
        snprintf(name, sizeof(name), "%s%s", d->name, (d->flags & CONFIG_F_RUNTIME) ? " *" : "");
        fprintf(out, "  %-28s %-12s %-28s %s\n", name, d->def[0] ? d->def : "\"\"", accepts,
                d->help);
    }
}
