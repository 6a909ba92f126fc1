/*
 * udp.c - the UDP dataplane's per-worker state (set-up, tear-down, the
 * runtime's hooks; see udp.h, PROTOCOL.md).  The datapath is split by
 * concern, udp_internal.h declares what the files share:
 *   udp_rx.c (receive, owner routing), udp_serve.c (the owner's half),
 *   udp_exec.c (RESP scan, execution), udp_multi.c (multi-shard ops),
 *   udp_held.c (durable replies), udp_session.c (sessions, cookies),
 *   udp_tx.c (TX), udp_poll.c (loop hooks, RX interrupts), udp_stats.c.
 *
 * The datapath: RX burst -> pkt_parse (headers, checksums, lengths) ->
 * ARP / ICMP echo answered in place -> hpproto_decode -> client subnet ->
 * cookie -> find the owner shard (scan the RESP in the mbuf) -> hand the
 * mbuf over if the owner is another worker -> on the owner: session, id
 * window, full parse, execute, keep the reply, send it (the request mbuf is
 * reused for the first fragment when it is one segment) -> TX burst.
 *
 * Zero copy: a single-segment request is parsed in place (argv slices point
 * into the mbuf).  Multi-segment requests are linearised into a bounded
 * per-worker scratch buffer first.  Command handlers write replies into an
 * rbuf (they are shared with TCP), so a reply is copied once, into its TX
 * mbufs; the same rbuf bytes become the kept reply for retransmissions.
 */
#include "udp_internal.h"

size_t udp_mbuf_priv_size(void) { return sizeof(struct udp_pkt); }

/* ---- set-up ---------------------------------------------------------------- */

static void udp_worker_free(struct udp_worker *u)
{
    if (u == NULL)
        return;
    for (uint32_t i = 0; i < u->sess_cap; i++)
        for (int k = 0; k < UDP_KEEP; k++)
            free(u->sess[i].kept[k].data);
    for (uint32_t i = 0; i < u->ndeferred; i++) {
        free(udp_pkt_ctx(u->deferred[i])->lin);
        rte_pktmbuf_free(u->deferred[i]);
    }
    udp_multi_free_all(u);
    udp_held_free_all(u);
    for (uint32_t p = 0; p < UDP_MAX_PORTS; p++)
        for (uint16_t i = 0; i < u->tx[p].n; i++)
            rte_pktmbuf_free(u->tx[p].pkts[i]);
    if (u->epfd >= 0) {
        /* Out of the EAL's books before the fd goes (it would try later). */
        for (uint32_t p = 0; p < u->rt->nports; p++)
            if (u->intr_q[p])
                (void)rte_eth_dev_rx_intr_ctl_q(u->rt->ports[p].port_id, u->qid, u->epfd,
                                                RTE_INTR_EVENT_DEL, NULL);
        close(u->epfd);
    }
    free(u->sess);
    free(u->buckets);
    free(u->scratch);
    rbuf_free(&u->out);
    free(u);
}

static struct udp_worker *udp_worker_create(struct udp_rt *rt, uint32_t id)
{
    struct udp_worker *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->rt = rt;
    u->pool = rt->pools[id];
    u->key_epoch = -1;
    u->epfd = -1;
    u->qid = (uint16_t)id;
    rbuf_init(&u->out, UDP_OUT_LIMIT);
    u->scratch = malloc(UDP_SCRATCH);
    u->held = calloc(UDP_HELD_MAX, sizeof(*u->held));
    if (u->scratch == NULL || u->held == NULL || udp_sessions_init(u, rt->sessions) != 0) {
        udp_worker_free(u);
        return NULL;
    }
    for (uint32_t p = 0; p < rt->nports; p++) {
        struct udp_port *port = &rt->ports[p];
        u->has_rxq[p] = id < port->nrxq;
        u->txq[p] = (uint16_t)(id % port->ntxq);
        u->tx_locked[p] = port->ntxq < rt->nworkers;
        if (port->rx_intr && u->has_rxq[p])
            udp_intr_add(u, port, id, p);
    }
    return u;
}

int udp_rt_create(struct runtime *rt, char *err, size_t errlen)
{
    if (rt->cfg->udp_ports[0] == '\0')
        return 0;
    struct udp_rt *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->udp = u;
    u->nworkers = rt->nworkers;
    if (getrandom(u->cookie_master, sizeof(u->cookie_master), 0) !=
        (ssize_t)sizeof(u->cookie_master)) {
        uint64_t a = rte_rand(), b = rte_rand();
        memcpy(u->cookie_master, &a, 8);
        memcpy(u->cookie_master + 8, &b, 8);
    }
    if (udp_ports_setup(u, rt->cfg, err, errlen) != 0)
        return -1;
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        rt->workers[i]->udp = udp_worker_create(u, i);
        if (rt->workers[i]->udp == NULL) {
            snprintf(err, errlen, "cannot allocate UDP state of worker %u (udp-sessions?)", i);
            return -1;
        }
    }
    udp_telemetry_register(rt);
    /* The worker loop drives us through its hooks (the core may not call
     * up into udp/). */
    static const struct worker_loop_hooks udp_loop_hooks = {
        .name = "udp", .poll = udp_poll, .sleep_cap = udp_sleep_cap,
    };
    static const struct udp_upcalls udp_up = {
        .on_forward = udp_on_forward,
        .held_release = udp_held_release, .tx_flush = udp_tx_flush,
    };
    rt->udp_up = &udp_up;
    if (runtime_loop_hooks_add(rt, &udp_loop_hooks) != 0) {
        snprintf(err, errlen, "too many worker loop hooks");
        return -1;
    }
    return 0;
}

void udp_rt_free(struct runtime *rt)
{
    if (rt->udp == NULL)
        return;
    __atomic_store_n(&udp_telemetry_rt, NULL, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        if (rt->workers[i]) {
            udp_worker_free(rt->workers[i]->udp);
            rt->workers[i]->udp = NULL;
        }
    }
    udp_ports_stop(rt->udp);
    free(rt->udp);
    rt->udp = NULL;
}
