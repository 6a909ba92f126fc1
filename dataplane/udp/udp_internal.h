/*
 * udp_internal.h - what the files of the UDP datapath (udp.c, udp_*.c)
 * share: the per-worker state, the per-packet context in the mbuf, and
 * the functions one file calls in another.  Nothing outside udp/ includes
 * this.
 */
#ifndef HP_UDP_INTERNAL_H
#define HP_UDP_INTERNAL_H

#include "udp.h"


#include <rte_cycles.h>
#include <rte_epoll.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_telemetry.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/resp.h"
#include "../persist/persist.h"

#include "../core/runtime.h"

#define UDP_KEEP 32                   /* replies kept per session */
#define UDP_MAX_ARGS 1024             /* arguments per command over UDP */
#define UDP_SCRATCH (64 * 1024)       /* linearised multi-segment request */
#define UDP_DEFER_MAX 256             /* requests waiting for our shard */
#define UDP_MULTI_MAX 256             /* multi-shard datagrams waiting for the op */
#define UDP_OUT_LIMIT (HPPROTO_MAX_REPLY_LEN + (1u << 20))
/* Bytes of held replies per worker beyond which write datagrams get BUSY
 * (each held reply is at most HPPROTO_MAX_REPLY_LEN). */
#define UDP_HELD_BYTES ((uint64_t)16 << 20)
#define UDP_COOKIE_EPOCH_MS (120 * 1000)
#define UDP_IDLE_SLEEP_MAX_US 1000    /* back-off cap while polling NIC queues */
/* Sleeps after an RX interrupt that stay short (back-off cap): a queue's
 * event may come before its packet can be received (net_tap reads only
 * after a SIGIO handler ran, on whichever thread the kernel picked). */
#define UDP_INTR_GRACE 4
#define UDP_NONE UINT32_MAX

/* Per-packet context in the mbuf's private area: survives the hand-over. */
struct udp_pkt {
    struct pkt_info info;
    struct hpproto_hdr hdr;
    uint32_t payload_len;
    uint16_t port_idx;
    bool fresh_cookie;       /* previous-epoch cookie: offer a new one */
    uint8_t *lin;            /* linearised copy (heap) for multi-segment mbufs */
    uint64_t need;           /* multi-shard datagram: the shards it touches */
};

struct udp_kept {
    uint64_t rid;
    uint32_t len;
    uint8_t *data;           /* NULL: slot empty */
};

/* A reply held until the writes of its datagram are durable. */
struct udp_held {
    struct udp_pkt ctx;      /* addressing (ctx.lin is never kept) */
    uint64_t offer;          /* cookie to offer, 0: none */
    uint8_t *data;
    uint32_t len;
};

struct udp_session {
    bool used;
    uint32_t ip;
    uint16_t port;
    uint64_t sid;
    uint32_t hnext;
    uint32_t lru_prev, lru_next;
    int64_t last_ms;
    struct hpproto_window win;
    struct udp_kept kept[UDP_KEEP];
    uint32_t kept_next;
};

struct udp_worker {
    struct udp_rt *rt;
    struct rte_mempool *pool;
    struct hpproto_cookie_keys keys;
    int64_t key_epoch;
    struct {
        struct rte_mbuf *pkts[UDP_BURST];
        uint16_t n;
    } tx[UDP_MAX_PORTS];
    bool has_rxq[UDP_MAX_PORTS];
    uint16_t txq[UDP_MAX_PORTS];
    bool tx_locked[UDP_MAX_PORTS];
    struct udp_stats stats[UDP_MAX_PORTS];
    /* sessions */
    struct udp_session *sess;
    uint32_t nsess, sess_cap;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t lru_head, lru_tail, free_head;
    uint64_t kept_bytes;
    uint64_t evictions;
    /* work areas */
    struct rbuf out;
    struct hp_slice argv[UDP_MAX_ARGS];
    uint8_t *scratch;
    struct rte_mbuf *deferred[UDP_DEFER_MAX];
    uint32_t ndeferred;
    struct rte_mbuf *multi[UDP_MULTI_MAX];   /* FIFO waiting for a hand-over op */
    uint32_t multi_head, nmulti;
    uint32_t nmulti_ops;                     /* submitted as ops, not yet run */
    /* Durable acknowledgement (appendfsync always): the running datagram's
     * LSNs to wait for, and the replies waiting, in persist.c's order. */
    struct persist_wait wait;
    struct udp_held *held;                   /* [UDP_HELD_MAX] FIFO */
    uint32_t held_head, nheld;
    uint64_t held_bytes;
    /* RX interrupts: our queues' event fds in one epoll fd, which the
     * worker's net_poll watches (net_watch_fd) while it sleeps. */
    int epfd;                     /* -1: no queue with interrupts */
    uint16_t qid;                 /* our queue number (= worker id) */
    bool intr_q[UDP_MAX_PORTS];   /* our RX queue of port p raises interrupts */
    bool watching;                /* net_watch_fd tried (on the worker thread) */
    bool intr_ok;                 /* ... and succeeded */
    bool intr_armed;              /* enabled for the current sleep */
    uint32_t intr_grace;          /* short sleeps left after an interrupt */
    uint64_t intr_wakeups;
};

static inline struct udp_pkt *udp_pkt_ctx(struct rte_mbuf *m) { return rte_mbuf_to_priv(m); }

enum scan_rc { SCAN_OK = 0, SCAN_MALFORMED, SCAN_LIMIT };

/* udp_stats.c: the runtime the telemetry callbacks read (set at start-up,
 * withdrawn by udp_rt_free). */
extern struct runtime *udp_telemetry_rt;

/* udp_session.c */
uint32_t udp_sess_find(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid);
uint32_t udp_sess_create(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid,
                         int64_t now_ms, struct udp_stats *st);
void udp_sess_touch(struct udp_worker *u, uint32_t i, int64_t now_ms);
const struct udp_kept *udp_sess_kept(const struct udp_session *s, uint64_t rid);
void udp_sess_keep(struct udp_worker *u, struct udp_session *s, uint64_t rid,
                   const uint8_t *data, uint32_t len);
int udp_sessions_init(struct udp_worker *u, uint32_t cap);
void udp_cookie_refresh(struct udp_worker *u, int64_t now_ms);

/* udp_tx.c */
void udp_tx_flush_port(struct worker *w, uint32_t p);
void udp_tx_push(struct worker *w, uint32_t p, struct rte_mbuf *m);
void udp_send_status(struct worker *w, const struct udp_pkt *ctx, enum hpproto_status st,
                     bool verified, uint64_t cookie, struct rte_mbuf **reuse);
void udp_send_reply(struct worker *w, const struct udp_pkt *ctx, const uint8_t *data,
                    uint32_t total, uint64_t cookie, struct rte_mbuf **reuse);

/* udp_exec.c */
enum scan_rc udp_scan_cmd(const uint8_t *p, size_t len, size_t *pos, struct hp_slice *argv,
                          int *argc, int64_t max_bulk);
const uint8_t *udp_pkt_payload(struct rte_mbuf *m, const struct udp_pkt *ctx);
bool udp_dgram_writes(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds);
uint64_t udp_dgram_mask(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds);
enum scan_rc udp_parse_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds);
void udp_execute_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds,
                     uint64_t held);

/* udp_multi.c */
bool udp_multi_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid);
void udp_multi_kick(struct worker *w);
void udp_multi_free_all(struct udp_worker *u);

/* udp_held.c */
bool udp_held_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid);
bool udp_held_admit(struct worker *w);
void udp_reply_or_hold(struct worker *w, const struct udp_pkt *ctx, uint64_t offer,
                       struct rte_mbuf **reuse);
void udp_held_free_all(struct udp_worker *u);

/* udp_serve.c */
void udp_serve(struct worker *w, struct rte_mbuf *m);
void udp_serve_or_defer(struct worker *w, struct rte_mbuf *m);

/* udp_rx.c */
void udp_rx_prefetch(struct worker *w, struct rte_mbuf **pkts, uint16_t n);
void udp_rx_one(struct worker *w, uint32_t pi, struct rte_mbuf *m);

/* udp_poll.c */
void udp_intr_add(struct udp_worker *u, const struct udp_port *port, uint32_t id, uint32_t p);

/* udp_stats.c */
void udp_telemetry_register(struct runtime *rt);

#endif
