/*
 * udp.h - the kernel-bypass UDP dataplane (docs/PROTOCOL.md over DPDK
 * ethdevs).  port.c brings the ports up; udp.c is the per-worker datapath.
 *
 * Per port, worker w owns RX queue w and TX queue w when the port has that
 * many (RSS spreads flows over the RX queues).  A port with fewer RX queues
 * than workers is polled only by workers 0..nrxq-1; the others still serve
 * requests handed to them and transmit.  A port with fewer TX queues than
 * workers has its queues shared: worker w transmits on queue w % ntxq under
 * that queue's spinlock (the only lock on the path, and only in that case).
 *
 * A datagram runs on the shard that owns its first key (any worker, when it
 * has no key).  The receiving worker parses just enough to know that shard;
 * if it is another worker's, the mbuf itself crosses the lock-free ring
 * (XMSG_UDP) and the owner answers on its own TX queue.  Sessions and kept
 * replies live on the owner shard's worker: a retransmission carries the
 * same keys, so it reaches the same table.  When the datagram's commands
 * touch other shards too (cross-shard MGET, DBSIZE, ...), that owner
 * coordinates: the datagram becomes a hand-over op (struct xop,
 * core/xshard_op.c) whose body, registered here, runs the whole datagram
 * at once once every shard involved is held - the same hand-over as TCP.
 */
#ifndef HP_UDP_H
#define HP_UDP_H

#include "../../common/hp_common.h"
#include "../../wire/hpproto.h"
#include "../../common/rbuf.h"
#include "../../wire/pkt.h"

#include <rte_spinlock.h>

struct worker;
struct runtime;
struct hp_config;
struct rte_mbuf;
struct rte_mempool;
struct rte_flow;

#define UDP_MAX_PORTS 8
#define UDP_MAX_SUBNETS 32
#define UDP_BURST 32
#define UDP_RING_DESC 1024

struct udp_subnet {
    uint32_t net, mask;          /* host byte order */
};

struct udp_port {
    uint16_t port_id;
    char name[64];
    struct pkt_config pc;
    uint32_t net_mask;           /* the port's own subnet */
    uint16_t nrxq, ntxq;
    bool rx_csum;                /* RX checksum offload enabled: trust mbuf flags */
    unsigned tx_flags;           /* PKT_TX_* offloads in use */
    uint16_t mtu;
    bool started;
    bool rx_intr;                /* RX queues raise interrupts on an fd */
    bool rx_intr_level;          /* ... readable while packets wait (net_tap):
                                  * nothing to enable or disable */
    uint32_t nflows;             /* rte_flow rules steering udp-port + s to queue s */
    struct rte_flow *flows[HP_MAX_SHARDS];
    rte_spinlock_t txlock[HP_MAX_SHARDS]; /* used only when ntxq < workers */
};

struct udp_rt {
    uint32_t nports;
    uint32_t nworkers;
    struct udp_port ports[UDP_MAX_PORTS];
    struct udp_subnet subnets[UDP_MAX_SUBNETS];
    uint32_t nsubnets;           /* 0: each port's own subnet */
    uint32_t amp_factor;
    bool rx_intr_wanted;         /* poll-mode adaptive: try RX queue interrupts */
    uint32_t server_dgram;       /* largest reply datagram (UDP payload) */
    uint32_t sessions;           /* per worker */
    uint64_t reply_cache;        /* bytes per worker */
    uint8_t cookie_master[16];
    struct rte_mempool *pools[HP_MAX_SHARDS];
};

/* Counters of one (port, worker) pair = one RX/TX queue pair. */
#define UDP_COUNTERS(X)                                                        \
    X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes) X(tx_dropped)          \
    X(rx_multiseg) X(rx_too_big) X(src_not_allowed) X(bad_header)              \
    X(version_replies) X(cookie_replies) X(amp_blocked) X(handed_over)         \
    X(handed_in) X(deferred) X(defer_full) X(no_mbuf) X(requests)              \
    X(ops) X(dup_replays) X(dup_gone) X(too_old) X(session_lost) X(busy)       \
    X(malformed) X(limit) X(arp_replies) X(icmp_replies) X(fragments_sent)     \
    X(session_evictions) X(multi_shard) X(dup_inflight)   \
    X(durable_held) X(held_busy) X(held_dropped) X(log_wait)

struct udp_stats {
#define UDP_CTR_FIELD_(n) uint64_t n;
    UDP_COUNTERS(UDP_CTR_FIELD_)
#undef UDP_CTR_FIELD_
    struct pkt_counters pkt;
    uint64_t hdr_err[HPPROTO_E_COUNT];
};

/* main.c: after the runtime exists, before workers start.  Off (returns 0,
 * rt->udp stays NULL) when udp-ports is empty. */
int udp_rt_create(struct runtime *rt, char *err, size_t errlen);
void udp_rt_free(struct runtime *rt);

/* worker.c */
unsigned udp_poll(struct worker *w);
/* Called right before the worker sleeps: arms RX queue interrupts where the
 * ports have them (they end the sleep through net_watch_fd), else caps the
 * sleep (back-off).  Returns the longest sleep; 0: don't sleep. */
int64_t udp_sleep_cap(struct worker *w, int64_t timeout_us);
/* xshard.c: a request another worker received for our shard. */
void udp_on_forward(struct worker *w, struct rte_mbuf *m);
/* persist.c: the oldest held reply's writes are durable: keep it for
 * retransmissions and send it (FIFO: the order persist_hold_udp saw). */
void udp_held_release(struct worker *w);
/* persist.c: send what released replies left in the TX bursts. */
void udp_tx_flush(struct worker *w);
/* INFO "# Dataplane": this worker's part (key:value lines). */
void udp_info_part(struct worker *w, struct rbuf *out);

/* Bytes of per-packet context udp.c keeps in each mbuf's private area. */
size_t udp_mbuf_priv_size(void);

/* port.c */
int udp_parse_prefix(const char *s, uint32_t *ip, uint32_t *mask);
int udp_ports_setup(struct udp_rt *u, const struct hp_config *cfg, char *err, size_t errlen);
void udp_ports_stop(struct udp_rt *u);

#endif
