/*
 * config.h - hotpathd's settings: a redis.conf-style file ("directive value"
 * lines, '#' comments, quoted values as in redis.conf) and the same
 * directives on the command line as "--directive value", applied after the
 * file, like redis-server.  Unknown directives and bad values are errors that
 * name the file and line (or the flag) - hotpathd then exits non-zero.
 *
 * Settings marked "runtime" can be changed with CONFIG SET; they live in
 * `config_rt` and are read by workers with relaxed atomic loads, so a change
 * takes effect at each worker's next use without locks.
 */
#ifndef HP_CONFIG_H
#define HP_CONFIG_H

#include "../../common/hp_common.h"

enum poll_mode { POLL_ADAPTIVE = 0, POLL_BUSY = 1 };
enum io_backend { IO_BACKEND_AUTO = 0, IO_BACKEND_IO_URING = 1, IO_BACKEND_EPOLL = 2 };

#define CONFIG_MAX_BIND 16
#define CONFIG_STR_MAX 1024

/* Keep in step with project() in meson.build. */
#define HOTPATHD_VERSION "0.1.0"

/* Config file limits; exceeding one is an error naming the file and line. */
#define CONFIG_LINE_MAX 4096          /* bytes per line, without the newline */
#define CONFIG_VALUES_MAX 64          /* values after the directive name */
#define CONFIG_FILE_LINES_MAX 100000  /* lines per file */
/* client-output-buffer-limit 0 (Redis: "no limit") means this hard limit:
 * every buffer in hotpath has a bound. */
#define CONFIG_OBUF_DEFAULT_LIMIT (1024LL * 1024 * 1024)

/* Settings CONFIG SET may change while running. */
struct config_rt {
    int64_t maxclients;                /* maxclients (default 10000) */
    int64_t proto_max_bulk_len;        /* proto-max-bulk-len (512mb) */
    int64_t client_query_buffer_limit; /* client-query-buffer-limit (1gb) */
    int64_t client_output_buffer_limit;/* hard limit for normal clients (0 = none in Redis; we use 1gb) */
    int64_t timeout;                   /* idle client timeout seconds (0 = never) */
    int64_t hz;                        /* active expiry rounds per second (10) */
    int64_t active_expire_budget;      /* keys examined per expiry round per shard */
    int64_t idle_sleep_us;             /* adaptive polling: max sleep when idle */
};

struct hp_config {
    /* network */
    int port;                          /* 6379; 0 = no TCP listener */
    char bind[CONFIG_MAX_BIND][64];    /* "127.0.0.1" */
    int nbind;
    int tcp_backlog;                   /* 511 */
    /* process */
    int workers;                       /* 0 = every core but the main one, >= 1 */
    enum poll_mode poll_mode;
    enum io_backend io_backend;
    char eal_args[CONFIG_STR_MAX];     /* extra EAL arguments, space separated */
    char file_prefix[64];              /* --file-prefix; default "hotpath-<port>" */
    int eal_memory_mb;                 /* -m for --no-huge; 256 */
    int log_level;                     /* enum log_level */
    char config_file[CONFIG_STR_MAX];  /* "" if none */
    int databases;                     /* fixed 16; accepted for redis.conf compatibility */
    /* UDP kernel-bypass dataplane (dataplane/udp/udp.h); off while udp_ports is "" */
    char udp_ports[256];               /* DPDK port ids, space separated, or "all" */
    char udp_addr[CONFIG_STR_MAX];     /* IPv4/prefix per port, in udp_ports order */
    int udp_port;                      /* base UDP port; base + s addresses shard s */
    char udp_client_subnets[CONFIG_STR_MAX]; /* IPv4/prefix list; "" = each port's subnet */
    int udp_amplification_factor;      /* unverified: reply bytes <= factor x request */
    int udp_mbufs;                     /* mbufs per worker pool */
    int udp_mtu;                       /* IP MTU of reply frames */
    int udp_sessions;                  /* session table entries per worker */
    int64_t udp_reply_cache;           /* bytes of kept replies per worker */
    /* append-only log (dataplane/persist/persist.c, docs/AOF.md) */
    int appendonly;                    /* 0 no, 1 yes */
    int appendfsync;                   /* enum aof_fsync_policy: always, everysec, no */
    char dir[CONFIG_STR_MAX];          /* where the log lives */
    int aof_load_corrupt;              /* 1: start despite damaged log data, skipping it */
    int64_t auto_aof_rewrite_percentage; /* rewrite when the log grew this % since the last (0 = never) */
    int64_t auto_aof_rewrite_min_size;   /* ... and is at least this many bytes */
    struct config_rt rt;
};

/* Fill defaults. */
void config_init(struct hp_config *cfg);
/*
 * Parse argv (argv[0] is the program): "[configfile] [--directive value]...",
 * plus --help and --version (which set *exit_now and print to stdout).
 * On error writes a one-line message naming the file:line or the flag into
 * err and returns -1.
 */
int config_parse_args(struct hp_config *cfg, int argc, char **argv, bool *exit_now,
                      char *err, size_t errlen);
/* Apply one directive (name, value[]) from a file, the command line, or
 * CONFIG SET (runtime_only: reject non-runtime ones with Redis' error). */
int config_apply(struct hp_config *cfg, const char *name, int nvals, const char *const *vals,
                 bool runtime_only, char *err, size_t errlen);

/* CONFIG GET support: calls fn(name, value) for each directive matching the
 * glob pattern (Redis' stringmatch rules, case-insensitive), in table order.
 * Values are rendered as redis-server renders them (sizes as byte counts,
 * bind space separated, enums as words).  As in Redis 7.0, a pattern without
 * any of "[*?" is a plain name: it is looked up case-insensitively and fn gets
 * the name as the caller spelled it ("CONFIG GET HZ" answers "HZ"). */
void config_foreach_match(const struct hp_config *cfg, const char *pattern,
                          void (*fn)(void *arg, const char *name, const char *value), void *arg);

/*
 * CONFIG SET name value [name value ...] with Redis 7.0's semantics: unknown
 * names, immutable settings and repeated names are refused before any value
 * is parsed, and nothing changes unless every value is valid.  argv holds
 * the pairs (argc of them strings, without "CONFIG SET"); values are C
 * strings, so the caller refuses arguments containing NUL bytes.  On error
 * err gets the whole Redis error line ("ERR CONFIG SET failed ...").
 */
int config_set_pairs(struct hp_config *cfg, int argc, const char *const *argv, char *err,
                     size_t errlen);

/* The --help text: usage and every directive with its default, accepted
 * values and description, generated from the directive table. */
void config_write_help(FILE *out);

/* Atomic read of a runtime setting from any thread. */
#define CONFIG_RT_GET(cfg, field) __atomic_load_n(&(cfg)->rt.field, __ATOMIC_RELAXED)
#define CONFIG_RT_SET(cfg, field, v) __atomic_store_n(&(cfg)->rt.field, (v), __ATOMIC_RELAXED)

#endif
