/*
 * udp_stats.c - the UDP dataplane's counters: INFO "# Dataplane" lines and
 * the DPDK telemetry commands.
 */

#include "udp_internal.h"

/* ---- INFO -------------------------------------------------------------------- */

void udp_info_part(struct worker *w, struct rbuf *out)
{
    struct udp_worker *u = w->udp;
    if (u == NULL)
        return;
    char line[512];
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        const struct udp_stats *s = &u->stats[p];
        int n = snprintf(line, sizeof(line), "udp_port%u_queue%u:", u->rt->ports[p].port_id, w->id);
        rbuf_append(out, line, (size_t)n);
#define UDP_CTR_PRINT_(f)                                                      \
    n = snprintf(line, sizeof(line), "%s=%llu,", #f, (unsigned long long)s->f); \
    rbuf_append(out, line, (size_t)n);
        UDP_COUNTERS(UDP_CTR_PRINT_)
#undef UDP_CTR_PRINT_
        for (int r = 1; r < PKT_DROP_COUNT; r++) {
            if (s->pkt.drop[r] == 0)
                continue;
            n = snprintf(line, sizeof(line), "drop_%s=%llu,",
                         pkt_drop_reason_name((enum pkt_drop_reason)r),
                         (unsigned long long)s->pkt.drop[r]);
            rbuf_append(out, line, (size_t)n);
        }
        n = snprintf(line, sizeof(line), "sessions=%u,kept_bytes=%llu,rx_intr=%d,intr_wakeups=%llu\r\n",
                     u->nsess, (unsigned long long)u->kept_bytes, u->intr_q[p] && u->intr_ok,
                     (unsigned long long)u->intr_wakeups);
        rbuf_append(out, line, (size_t)n);
    }
}

/* ---- DPDK telemetry ---------------------------------------------------------- */

/* rte_telemetry callbacks take no user argument, so the runtime they read
 * is published here once at start-up (and withdrawn at shutdown). */
struct runtime *udp_telemetry_rt;

static uint64_t ctr_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void stats_add(struct udp_stats *sum, const struct udp_stats *s)
{
#define UDP_CTR_SUM_(f) sum->f += ctr_load(&s->f);
    UDP_COUNTERS(UDP_CTR_SUM_)
#undef UDP_CTR_SUM_
    for (int r = 0; r < PKT_DROP_COUNT; r++)
        sum->pkt.drop[r] += ctr_load(&s->pkt.drop[r]);
}

/* /hotpath/udp/stats[,<port>:<worker>]: counters of one queue pair, or the
 * sum over all of them. */
static int udp_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    struct runtime *rt = __atomic_load_n(&udp_telemetry_rt, __ATOMIC_ACQUIRE);
    if (rt == NULL || rt->udp == NULL)
        return -1;
    int want_port = -1, want_q = -1;
    if (params && *params && sscanf(params, "%d:%d", &want_port, &want_q) != 2)
        return -1;
    struct udp_stats sum;
    memset(&sum, 0, sizeof(sum));
    bool found = false;
    for (uint32_t w = 0; w < rt->nworkers; w++) {
        const struct udp_worker *u = rt->workers[w]->udp;
        for (uint32_t p = 0; u && p < rt->udp->nports; p++) {
            if (want_port >= 0 && (want_port != rt->udp->ports[p].port_id || want_q != (int)w))
                continue;
            stats_add(&sum, &u->stats[p]);
            found = true;
        }
    }
    if (!found)
        return -1;
    rte_tel_data_start_dict(d);
#define UDP_CTR_TEL_(f) rte_tel_data_add_dict_u64(d, #f, sum.f);
    UDP_COUNTERS(UDP_CTR_TEL_)
#undef UDP_CTR_TEL_
    for (int r = 1; r < PKT_DROP_COUNT; r++) {
        char key[64];
        snprintf(key, sizeof(key), "drop_%s", pkt_drop_reason_name((enum pkt_drop_reason)r));
        rte_tel_data_add_dict_u64(d, key, sum.pkt.drop[r]);
    }
    return 0;
}

/* /hotpath/udp/queues: "port:worker" of every queue pair. */
static int udp_tel_queues(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    struct runtime *rt = __atomic_load_n(&udp_telemetry_rt, __ATOMIC_ACQUIRE);
    if (rt == NULL || rt->udp == NULL)
        return -1;
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (uint32_t p = 0; p < rt->udp->nports; p++) {
        for (uint32_t w = 0; w < rt->nworkers; w++) {
            char name[32];
            snprintf(name, sizeof(name), "%u:%u", rt->udp->ports[p].port_id, w);
            rte_tel_data_add_array_string(d, name);
        }
    }
    return 0;
}

void udp_telemetry_register(struct runtime *rt)
{
    static bool registered; /* the EAL keeps callbacks until exit */
    __atomic_store_n(&udp_telemetry_rt, rt, __ATOMIC_RELEASE);
    if (registered)
        return;
    registered = true;
    if (rte_telemetry_register_cmd("/hotpath/udp/stats", udp_tel_stats,
                                   "UDP dataplane counters. Parameters: none (all queues) or "
                                   "<port>:<worker>") != 0 ||
        rte_telemetry_register_cmd("/hotpath/udp/queues", udp_tel_queues,
                                   "UDP dataplane queue pairs as <port>:<worker>") != 0)
        log_warning("cannot register the UDP telemetry commands");
}
