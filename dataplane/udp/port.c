/*
 * port.c - brings the UDP dataplane's DPDK ports up: one RX and one TX queue
 * per worker where the device has them, one mbuf pool per worker (so an RX
 * queue refills from its poller's pool without contention), checksum
 * offloads where the device has them, RSS over IPv4/UDP when a port has
 * several RX queues.  See udp.h for the queue-sharing rule.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <string.h>

#include "../../common/log.h"
#include "../config/config.h"

int udp_parse_prefix(const char *s, uint32_t *ip, uint32_t *mask)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -1;
    long bits = 32;
    if (slash) {
        char *end = NULL;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits < 0 || bits > 32)
            return -1;
    }
    *ip = ntohl(a.s_addr);
    *mask = bits == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - bits));
    return 0;
}

/* Splits a space separated list into words (in place). */
static int split_words(char *s, char **words, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(s, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
        if (n == max)
            return -1;
        words[n++] = t;
    }
    return n;
}

static int parse_port_list(struct udp_rt *u, const struct hp_config *cfg, char *err,
                           size_t errlen)
{
    char tmp[sizeof(cfg->udp_ports)];
    char *words[UDP_MAX_PORTS + 1];
    snprintf(tmp, sizeof(tmp), "%s", cfg->udp_ports);
    int n = split_words(tmp, words, UDP_MAX_PORTS + 1);
    if (n == 1 && strcmp(words[0], "all") == 0) {
        uint16_t pid;
        u->nports = 0;
        RTE_ETH_FOREACH_DEV(pid) {
            if (u->nports == UDP_MAX_PORTS) {
                snprintf(err, errlen, "udp-ports: more than %d ports", UDP_MAX_PORTS);
                return -1;
            }
            u->ports[u->nports++].port_id = pid;
        }
    } else {
        if (n < 0 || n > UDP_MAX_PORTS) {
            snprintf(err, errlen, "udp-ports: at most %d ports", UDP_MAX_PORTS);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            char *end = NULL;
            long id = strtol(words[i], &end, 10);
            if (end == words[i] || *end || id < 0 || id >= RTE_MAX_ETHPORTS ||
                !rte_eth_dev_is_valid_port((uint16_t)id)) {
                snprintf(err, errlen, "udp-ports: '%s' is not a DPDK port (ports found: %u)",
                         words[i], rte_eth_dev_count_avail());
                return -1;
            }
            u->ports[i].port_id = (uint16_t)id;
        }
        u->nports = (uint32_t)n;
    }
    if (u->nports == 0) {
        snprintf(err, errlen, "udp-ports: no DPDK port found (give --vdev or a NIC in eal-args)");
        return -1;
    }
    return 0;
}

static int parse_addrs(struct udp_rt *u, const struct hp_config *cfg, char *err, size_t errlen)
{
    char tmp[sizeof(cfg->udp_addr)];
    char *words[UDP_MAX_PORTS + 1];
    snprintf(tmp, sizeof(tmp), "%s", cfg->udp_addr);
    int n = split_words(tmp, words, UDP_MAX_PORTS + 1);
    if (n != (int)u->nports) {
        snprintf(err, errlen, "udp-addr: need one IPv4/prefix per UDP port (%u ports, %d given)",
                 u->nports, n < 0 ? UDP_MAX_PORTS + 1 : n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct udp_port *p = &u->ports[i];
        if (udp_parse_prefix(words[i], &p->pc.ip, &p->net_mask) != 0 || p->pc.ip == 0) {
            snprintf(err, errlen, "udp-addr: '%s' is not IPv4/prefix", words[i]);
            return -1;
        }
        p->pc.port_lo = (uint16_t)cfg->udp_port;
        uint32_t hi = (uint32_t)cfg->udp_port + u->nworkers - 1;
        if (hi > 65535) {
            snprintf(err, errlen, "udp-port: %d + workers exceeds 65535", cfg->udp_port);
            return -1;
        }
        p->pc.port_hi = (uint16_t)hi;
        p->pc.vlan_id = PKT_VLAN_ANY;
    }
    snprintf(tmp, sizeof(tmp), "%s", cfg->udp_client_subnets);
    char *sw[UDP_MAX_SUBNETS + 1];
    n = split_words(tmp, sw, UDP_MAX_SUBNETS + 1);
    if (n < 0 || n > UDP_MAX_SUBNETS) {
        snprintf(err, errlen, "udp-client-subnets: at most %d", UDP_MAX_SUBNETS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uint32_t ip, mask;
        if (udp_parse_prefix(sw[i], &ip, &mask) != 0) {
            snprintf(err, errlen, "udp-client-subnets: '%s' is not IPv4/prefix", sw[i]);
            return -1;
        }
        u->subnets[i].net = ip & mask;
        u->subnets[i].mask = mask;
    }
    u->nsubnets = (uint32_t)n;
    return 0;
}

static int pools_create(struct udp_rt *u, const struct hp_config *cfg, size_t priv, char *err,
                        size_t errlen)
{
    for (uint32_t w = 0; w < u->nworkers; w++) {
        char name[RTE_MEMPOOL_NAMESIZE];
        snprintf(name, sizeof(name), "hp_udp_%u", w);
        unsigned cache = HP_MIN(256u, (unsigned)cfg->udp_mbufs / 4);
        u->pools[w] = rte_pktmbuf_pool_create(name, (unsigned)cfg->udp_mbufs, cache,
                                              (uint16_t)RTE_ALIGN(priv, RTE_MBUF_PRIV_ALIGN),
                                              RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
        if (u->pools[w] == NULL) {
            snprintf(err, errlen, "cannot create mbuf pool %s (%d mbufs): %s (raise -m?)", name,
                     cfg->udp_mbufs, rte_strerror(rte_errno));
            return -1;
        }
    }
    return 0;
}

static void port_offloads(struct udp_port *p, const struct rte_eth_dev_info *info,
                          struct rte_eth_conf *conf)
{
    const uint64_t rx_want = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    if ((info->rx_offload_capa & rx_want) == rx_want) {
        conf->rxmode.offloads |= rx_want;
        p->rx_csum = true;
    }
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
        conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
        p->tx_flags |= PKT_TX_IP_CSUM;
    }
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
        conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
        p->tx_flags |= PKT_TX_UDP_CSUM;
    }
    if (p->nrxq > 1 && (info->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP))) {
        conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf->rx_adv_conf.rss_conf.rss_hf =
            info->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
    }
}

/* One rule: IPv4 to our address, UDP destination udp-port + s -> RX queue s. */
static int flow_rule(struct udp_port *p, uint32_t s, bool create, struct rte_flow **out,
                     struct rte_flow_error *ferr)
{
    struct rte_flow_attr attr = {.ingress = 1};
    struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = htonl(p->pc.ip)};
    struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = UINT32_MAX};
    struct rte_flow_item_udp udp_spec = {.hdr.dst_port = htons((uint16_t)(p->pc.port_lo + s))};
    struct rte_flow_item_udp udp_mask = {.hdr.dst_port = UINT16_MAX};
    struct rte_flow_item pattern[] = {
        {.type = RTE_FLOW_ITEM_TYPE_ETH},
        {.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
        {.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
        {.type = RTE_FLOW_ITEM_TYPE_END},
    };
    struct rte_flow_action_queue queue = {.index = (uint16_t)s};
    struct rte_flow_action actions[] = {
        {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
        {.type = RTE_FLOW_ACTION_TYPE_END},
    };
    memset(ferr, 0, sizeof(*ferr));
    if (!create)
        return rte_flow_validate(p->port_id, &attr, pattern, actions, ferr);
    *out = rte_flow_create(p->port_id, &attr, pattern, actions, ferr);
    return *out != NULL ? 0 : -1;
}

static void flows_destroy(struct udp_port *p)
{
    for (uint32_t s = 0; s < p->nflows; s++) {
        struct rte_flow_error ferr;
        if (rte_flow_destroy(p->port_id, p->flows[s], &ferr) != 0)
            log_warning("port %u: cannot remove steering rule %u: %s", p->port_id, s,
                        ferr.message ? ferr.message : "?");
        p->flows[s] = NULL;
    }
    p->nflows = 0;
}

/* Steer each shard's UDP port to its owner's RX queue, so no request needs
 * a software hand-over for routing.  All rules or none: a partial set would
 * only make the fallback harder to reason about.  Any failure is one log
 * line, and the software hand-over (udp.c) keeps working either way. */
static void flows_install(struct udp_port *p)
{
    if (p->nrxq < 2)
        return; /* one queue: nothing to steer */
    struct rte_flow_error ferr;
    const char *step = "validate";
    uint32_t s = 0;
    for (; s < p->nrxq; s++)
        if (flow_rule(p, s, false, NULL, &ferr) != 0)
            goto fail;
    step = "create";
    for (s = 0; s < p->nrxq; s++) {
        if (flow_rule(p, s, true, &p->flows[s], &ferr) != 0)
            goto fail;
        p->nflows = s + 1;
    }
    log_notice("UDP port %u (%s): rte_flow steering on: UDP %u-%u to RX queues 0-%u",
               p->port_id, p->name, p->pc.port_lo, p->pc.port_lo + p->nrxq - 1,
               p->nrxq - 1);
    return;
fail:
    flows_destroy(p);
    log_warning("UDP port %u (%s): rte_flow steering unavailable (%s of rule %u: %s); "
               "requests for other shards are handed over in software",
               p->port_id, p->name, step, s, ferr.message ? ferr.message : rte_strerror(rte_errno));
}

/* Configure the device and set its queues up (the device is stopped). */
static int port_queues_setup(struct udp_rt *u, struct udp_port *p,
                             const struct rte_eth_dev_info *info, const struct rte_eth_conf *conf,
                             char *err, size_t errlen)
{
    int rc = rte_eth_dev_configure(p->port_id, p->nrxq, p->ntxq, conf);
    if (rc != 0) {
        snprintf(err, errlen, "port %u (%s): configure %u/%u queues: %s", p->port_id, p->name,
                 p->nrxq, p->ntxq, strerror(-rc));
        return -1;
    }
    uint16_t nrxd = UDP_RING_DESC, ntxd = UDP_RING_DESC;
    if (rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrxd, &ntxd) != 0) {
        nrxd = UDP_RING_DESC;
        ntxd = UDP_RING_DESC;
    }
    int socket = rte_eth_dev_socket_id(p->port_id);
    if (socket < 0)
        socket = (int)rte_socket_id();
    for (uint16_t q = 0; q < p->nrxq; q++) {
        struct rte_eth_rxconf rxc = info->default_rxconf;
        rxc.offloads = conf->rxmode.offloads;
        rc = rte_eth_rx_queue_setup(p->port_id, q, nrxd, (unsigned)socket, &rxc, u->pools[q]);
        if (rc != 0) {
            snprintf(err, errlen, "port %u: RX queue %u: %s", p->port_id, q, strerror(-rc));
            return -1;
        }
    }
    for (uint16_t q = 0; q < p->ntxq; q++) {
        struct rte_eth_txconf txc = info->default_txconf;
        txc.offloads = conf->txmode.offloads;
        rc = rte_eth_tx_queue_setup(p->port_id, q, ntxd, (unsigned)socket, &txc);
        if (rc != 0) {
            snprintf(err, errlen, "port %u: TX queue %u: %s", p->port_id, q, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* With intr_conf.rxq set and the port started: can every RX queue raise an
 * interrupt on an fd?  Leaves them disabled (workers arm them only before
 * sleeping).  NULL when yes, else what failed. */
static const char *rx_intr_check(struct udp_port *p, int *rc)
{
    /* net_tap's queue fd is the tap fd itself, readable while packets
     * wait, and it has no enable/disable.  Any other driver must have
     * both, or a sleeping worker could miss its wake-up. */
    p->rx_intr_level = strcmp(p->name, "net_tap") == 0;
    for (uint16_t q = 0; q < p->nrxq; q++) {
        if (!p->rx_intr_level) {
            *rc = rte_eth_dev_rx_intr_enable(p->port_id, q);
            if (*rc != 0)
                return "rx_intr_enable";
            *rc = rte_eth_dev_rx_intr_disable(p->port_id, q);
            if (*rc != 0)
                return "rx_intr_disable";
        }
        *rc = rte_eth_dev_rx_intr_ctl_q_get_fd(p->port_id, q);
        if (*rc < 0)
            return "rx_intr_ctl_q_get_fd";
    }
    *rc = 0;
    return NULL;
}

static int port_start(struct udp_rt *u, struct udp_port *p, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(p->port_id, &info);
    if (rc != 0) {
        snprintf(err, errlen, "port %u: dev_info: %s", p->port_id, strerror(-rc));
        return -1;
    }
    snprintf(p->name, sizeof(p->name), "%s", info.driver_name ? info.driver_name : "?");
    p->nrxq = (uint16_t)HP_MIN(u->nworkers, (uint32_t)info.max_rx_queues);
    p->ntxq = (uint16_t)HP_MIN(u->nworkers, (uint32_t)info.max_tx_queues);
    if (p->nrxq == 0 || p->ntxq == 0) {
        snprintf(err, errlen, "port %u (%s): no RX or TX queue", p->port_id, p->name);
        return -1;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    port_offloads(p, &info, &conf);
    /* RX interrupts: asked for only when workers may sleep; a device that
     * refuses them at configure or start is set up again without. */
    conf.intr_conf.rxq = u->rx_intr_wanted ? 1 : 0;
    char why[160] = "";
    if (conf.intr_conf.rxq && port_queues_setup(u, p, &info, &conf, why, sizeof(why)) != 0)
        conf.intr_conf.rxq = 0;
    else if (conf.intr_conf.rxq && (rc = rte_eth_dev_start(p->port_id)) != 0) {
        snprintf(why, sizeof(why), "start: %s", strerror(-rc));
        conf.intr_conf.rxq = 0;
    }
    if (conf.intr_conf.rxq) {
        const char *what = rx_intr_check(p, &rc);
        if (what != NULL) {
            snprintf(why, sizeof(why), "%s: %s", what, strerror(rc < 0 ? -rc : rc));
            conf.intr_conf.rxq = 0;
        }
        rc = rte_eth_dev_stop(p->port_id); /* started again below */
        if (rc != 0) {
            snprintf(err, errlen, "port %u (%s): stop: %s", p->port_id, p->name, strerror(-rc));
            return -1;
        }
    }
    p->rx_intr = conf.intr_conf.rxq != 0;
    if (u->rx_intr_wanted && !p->rx_intr)
        log_notice("UDP port %u (%s): no RX interrupts (%s); idle workers poll it with back-off",
                   p->port_id, p->name, why);
    if (!p->rx_intr && port_queues_setup(u, p, &info, &conf, err, errlen) != 0)
        return -1;
    for (uint32_t i = 0; i < HP_MAX_SHARDS; i++)
        rte_spinlock_init(&p->txlock[i]);
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(p->port_id, &mac) != 0) {
        snprintf(err, errlen, "port %u: cannot read its MAC address", p->port_id);
        return -1;
    }
    memcpy(p->pc.mac, mac.addr_bytes, PKT_ETH_ADDR_LEN);
    uint16_t mtu = 1500;
    if (rte_eth_dev_get_mtu(p->port_id, &mtu) != 0)
        mtu = 1500;
    p->mtu = mtu;
    rc = rte_eth_dev_start(p->port_id);
    if (rc != 0) {
        snprintf(err, errlen, "port %u (%s): start: %s", p->port_id, p->name, strerror(-rc));
        return -1;
    }
    p->started = true;
    flows_install(p);
    char ipbuf[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = htonl(p->pc.ip)};
    inet_ntop(AF_INET, &a, ipbuf, sizeof(ipbuf));
    log_notice("UDP port %u (%s): %s, UDP %u-%u, %u RX / %u TX queues, mtu %u, "
               "offloads rx-csum %s tx-csum %s, rx-interrupts %s%s",
               p->port_id, p->name, ipbuf, p->pc.port_lo, p->pc.port_hi, p->nrxq, p->ntxq, mtu,
               p->rx_csum ? "on" : "off", p->tx_flags ? "on" : "off", p->rx_intr ? "on" : "off",
               p->ntxq < u->nworkers ? " (TX queues shared, locked)" : "");
    return 0;
}

int udp_ports_setup(struct udp_rt *u, const struct hp_config *cfg, char *err, size_t errlen)
{
    if (parse_port_list(u, cfg, err, errlen) != 0 || parse_addrs(u, cfg, err, errlen) != 0)
        return -1;
    u->amp_factor = (uint32_t)cfg->udp_amplification_factor;
    u->rx_intr_wanted = cfg->poll_mode != POLL_BUSY;
    u->sessions = (uint32_t)cfg->udp_sessions;
    u->reply_cache = (uint64_t)cfg->udp_reply_cache;
    if (pools_create(u, cfg, udp_mbuf_priv_size(), err, errlen) != 0)
        return -1;
    uint32_t mtu = (uint32_t)cfg->udp_mtu;
    for (uint32_t i = 0; i < u->nports; i++) {
        if (port_start(u, &u->ports[i], err, errlen) != 0)
            return -1;
        mtu = HP_MIN(mtu, (uint32_t)u->ports[i].mtu);
    }
    /* A reply frame must fit one mbuf: headers (up to 46 bytes) + datagram. */
    uint32_t room = RTE_MBUF_DEFAULT_DATAROOM - PKT_UDP_HDRS_MAX;
    uint32_t dgram = (uint32_t)pkt_udp_payload_max(mtu);
    u->server_dgram = HP_MAX((uint32_t)HPPROTO_MIN_DGRAM, HP_MIN(dgram, room));
    return 0;
}

void udp_ports_stop(struct udp_rt *u)
{
    for (uint32_t i = 0; i < u->nports; i++) {
        struct udp_port *p = &u->ports[i];
        if (!p->started)
            continue;
        flows_destroy(p);
        int rc = rte_eth_dev_stop(p->port_id);
        if (rc != 0)
            log_warning("port %u: stop: %s", p->port_id, strerror(-rc));
        rc = rte_eth_dev_close(p->port_id);
        if (rc != 0)
            log_warning("port %u: close: %s", p->port_id, strerror(-rc));
        p->started = false;
    }
    for (uint32_t w = 0; w < u->nworkers; w++) {
        rte_mempool_free(u->pools[w]);
        u->pools[w] = NULL;
    }
}
