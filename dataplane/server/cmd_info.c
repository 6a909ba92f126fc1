/*
 * cmd_info.c - INFO: each worker's part gathered by a broadcast, summed
 * and formatted here.
 */

#include "server_internal.h"

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
    INFO_COMMANDSTATS = 1u << 9, /* not in the default set (as in Redis) */
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
    const struct runtime *rt; /* INFO commandstats (call.c reads the counters) */
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
        {"cpu", INFO_CPU},         {"keyspace", INFO_KEYSPACE},
        {"all", INFO_ALL | INFO_COMMANDSTATS},
        {"dataplane", INFO_DATAPLANE},     {"commandstats", INFO_COMMANDSTATS},
        {"everything", INFO_ALL | INFO_COMMANDSTATS},  {"default", INFO_ALL},
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
    p.rt = w->rt;
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
        t->ws.xops_in_flight_peak = HP_MAX(t->ws.xops_in_flight_peak, p.ws.xops_in_flight_peak);
        t->ws.broadcasts_in_flight_peak =
            HP_MAX(t->ws.broadcasts_in_flight_peak, p.ws.broadcasts_in_flight_peak);
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
    text_addf(b, "xops_in_flight_peak:%llu\r\n", (unsigned long long)s->xops_in_flight_peak);
    text_addf(b, "broadcasts_in_flight_peak:%llu\r\n",
              (unsigned long long)s->broadcasts_in_flight_peak);
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
    INFO_SECTION(INFO_COMMANDSTATS, call_info_commandstats(t->first.rt, b));
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
