/*
 * udp_poll.c - the worker-loop hooks (udp_poll, udp_sleep_cap) and the RX
 * queue interrupts that end the worker's sleep.
 */

#include "udp_internal.h"

/* ---- RX interrupts ------------------------------------------------------------ */

static void intr_disarm(struct worker *w)
{
    struct udp_worker *u = w->udp;
    for (uint32_t p = 0; p < u->rt->nports; p++)
        if (u->intr_q[p] && !u->rt->ports[p].rx_intr_level)
            (void)rte_eth_dev_rx_intr_disable(u->rt->ports[p].port_id, (uint16_t)w->id);
    u->intr_armed = false;
}

/* net_poll saw our epoll fd readable: consume the events (the EAL's
 * callback reads each queue's event counter); udp_poll's RX burst comes
 * right after in the same loop iteration. */
static void intr_ready(struct worker *w)
{
    struct udp_worker *u = w->udp;
    struct rte_epoll_event ev[UDP_MAX_PORTS];
    (void)rte_epoll_wait(u->epfd, ev, UDP_MAX_PORTS, 0);
    u->intr_wakeups++;
    u->intr_grace = UDP_INTR_GRACE;
    if (u->intr_armed)
        intr_disarm(w);
}

/* First poll on the worker thread: hand the epoll fd to the net backend. */
static void intr_watch(struct worker *w)
{
    struct udp_worker *u = w->udp;
    u->watching = true;
    int rc = net_watch_fd(w->net, u->epfd, intr_ready);
    if (rc != 0) {
        log_warning("worker %u: cannot watch RX interrupts (%s); polling with back-off", w->id,
                    strerror(-rc));
        return;
    }
    u->intr_ok = true;
}

unsigned udp_poll(struct worker *w)
{
    struct udp_worker *u = w->udp;
    unsigned work = 0;
    if (u == NULL)
        return 0;
    if (u->epfd >= 0 && !u->watching)
        intr_watch(w);
    if (u->intr_armed)
        intr_disarm(w); /* polling again */
    /* Requests that waited for our shard go first, in arrival order. */
    if (u->ndeferred && worker_shard_free(w)) {
        uint32_t n = u->ndeferred;
        u->ndeferred = 0;
        for (uint32_t i = 0; i < n; i++)
            udp_serve(w, u->deferred[i]);
        work += n;
    }
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        if (!u->has_rxq[p])
            continue;
        struct rte_mbuf *pkts[UDP_BURST];
        uint16_t n = rte_eth_rx_burst(u->rt->ports[p].port_id, (uint16_t)w->id, pkts, UDP_BURST);
        udp_rx_prefetch(w, pkts, n);
        for (uint16_t i = 0; i < n; i++)
            udp_rx_one(w, p, pkts[i]);
        work += n;
    }
    udp_multi_kick(w);
    for (uint32_t p = 0; p < u->rt->nports; p++)
        udp_tx_flush_port(w, p);
    return work;
}

int64_t udp_sleep_cap(struct worker *w, int64_t timeout_us)
{
    struct udp_worker *u = w->udp;
    if (u == NULL)
        return timeout_us;
    if (u->ndeferred || (u->nmulti && xop_room(w)))
        return 0;
    bool any = false;
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        if (!u->has_rxq[p])
            continue;
        if (!u->intr_q[p] || !u->intr_ok)
            return HP_MIN(timeout_us, (int64_t)UDP_IDLE_SLEEP_MAX_US);
        any = true;
    }
    if (!any)
        return timeout_us;
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        if (u->intr_q[p] && !u->rt->ports[p].rx_intr_level &&
            rte_eth_dev_rx_intr_enable(u->rt->ports[p].port_id, (uint16_t)w->id) != 0) {
            intr_disarm(w);
            return HP_MIN(timeout_us, (int64_t)UDP_IDLE_SLEEP_MAX_US);
        }
    }
    u->intr_armed = true;
    /* A last look: what arrived before the interrupt was armed raises none. */
    unsigned got = 0;
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        if (!u->intr_q[p])
            continue;
        struct rte_mbuf *pkts[UDP_BURST];
        uint16_t n = rte_eth_rx_burst(u->rt->ports[p].port_id, (uint16_t)w->id, pkts, UDP_BURST);
        for (uint16_t i = 0; i < n; i++)
            udp_rx_one(w, p, pkts[i]);
        got += n;
    }
    if (got == 0 && u->intr_grace > 0) {
        u->intr_grace--;
        return HP_MIN(timeout_us, (int64_t)UDP_IDLE_SLEEP_MAX_US);
    }
    if (got == 0)
        return timeout_us;
    for (uint32_t p = 0; p < u->rt->nports; p++)
        udp_tx_flush_port(w, p);
    intr_disarm(w);
    return 0;
}

/* Our RX queue's interrupt into our epoll fd (at set-up, main thread). */
void udp_intr_add(struct udp_worker *u, const struct udp_port *port, uint32_t id, uint32_t p)
{
    if (u->epfd < 0) {
        u->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (u->epfd < 0) {
            log_warning("worker %u: epoll_create1: %s; no RX interrupts", id, strerror(errno));
            return;
        }
    }
    int rc = rte_eth_dev_rx_intr_ctl_q(port->port_id, (uint16_t)id, u->epfd, RTE_INTR_EVENT_ADD,
                                       NULL);
    if (rc != 0) {
        log_warning("port %u queue %u: rx_intr_ctl_q: %s; that queue polls with back-off",
                    port->port_id, id, strerror(-rc));
        return;
    }
    u->intr_q[p] = true;
}
