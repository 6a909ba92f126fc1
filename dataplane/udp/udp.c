/*
 * udp.c - the UDP dataplane's per-worker datapath (see udp.h, PROTOCOL.md).
 *
 * RX burst -> pkt_parse (headers, checksums, lengths) -> ARP / ICMP echo
 * answered in place -> hpproto_decode -> client subnet -> cookie -> find the
 * owner shard (scan the RESP in the mbuf) -> hand the mbuf over if the owner
 * is another worker -> on the owner: session, id window, full parse,
 * execute, keep the reply, send it (the request mbuf is reused for the first
 * fragment when it is one segment) -> TX burst.
 *
 * Zero copy: a single-segment request is parsed in place (argv slices point
 * into the mbuf).  Multi-segment requests are linearised into a bounded
 * per-worker scratch buffer first.  Command handlers write replies into an
 * rbuf (they are shared with TCP), so a reply is copied once, into its TX
 * mbufs; the same rbuf bytes become the kept reply for retransmissions.
 *
 * Sessions: per worker, a fixed table (udp-sessions entries) with LRU order;
 * an entry idle for HPPROTO_SESSION_HOLD_MS may be evicted for a new one,
 * else a new session gets BUSY.  Each entry keeps its 1024-bit id window and
 * its last UDP_KEEP replies; all kept replies of a worker together stay under
 * udp-reply-cache bytes (the session's oldest go first; a reply that cannot
 * fit is not kept, and its retransmission gets DUP_GONE).
 */
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

size_t udp_mbuf_priv_size(void) { return sizeof(struct udp_pkt); }

static struct udp_pkt *pkt_ctx(struct rte_mbuf *m) { return rte_mbuf_to_priv(m); }

/* ---- sessions ------------------------------------------------------------- */

static uint32_t sess_hash(const struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid)
{
    uint64_t h = sid ^ ((uint64_t)ip << 16) ^ port;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h & u->bucket_mask;
}

static void lru_unlink(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    if (s->lru_prev != UDP_NONE)
        u->sess[s->lru_prev].lru_next = s->lru_next;
    else
        u->lru_head = s->lru_next;
    if (s->lru_next != UDP_NONE)
        u->sess[s->lru_next].lru_prev = s->lru_prev;
    else
        u->lru_tail = s->lru_prev;
}

static void lru_push_front(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    s->lru_prev = UDP_NONE;
    s->lru_next = u->lru_head;
    if (u->lru_head != UDP_NONE)
        u->sess[u->lru_head].lru_prev = i;
    u->lru_head = i;
    if (u->lru_tail == UDP_NONE)
        u->lru_tail = i;
}

static uint32_t sess_find(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid)
{
    for (uint32_t i = u->buckets[sess_hash(u, ip, port, sid)]; i != UDP_NONE; i = u->sess[i].hnext)
        if (u->sess[i].sid == sid && u->sess[i].ip == ip && u->sess[i].port == port)
            return i;
    return UDP_NONE;
}

static void kept_free(struct udp_worker *u, struct udp_kept *k)
{
    if (k->data) {
        u->kept_bytes -= k->len;
        free(k->data);
    }
    k->data = NULL;
    k->len = 0;
    k->rid = 0;
}

static void sess_remove(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    uint32_t *pp = &u->buckets[sess_hash(u, s->ip, s->port, s->sid)];
    while (*pp != i) {
        HP_ASSERT(*pp != UDP_NONE);
        pp = &u->sess[*pp].hnext;
    }
    *pp = s->hnext;
    lru_unlink(u, i);
    for (int k = 0; k < UDP_KEEP; k++)
        kept_free(u, &s->kept[k]);
    s->used = false;
    s->hnext = u->free_head;
    u->free_head = i;
    u->nsess--;
}

/* A new session, or UDP_NONE when the table is full of sessions younger
 * than the hold time (the caller answers BUSY). */
static uint32_t sess_create(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid,
                            int64_t now_ms, struct udp_stats *st)
{
    if (u->free_head == UDP_NONE) {
        uint32_t old = u->lru_tail;
        HP_ASSERT(old != UDP_NONE);
        if (now_ms - u->sess[old].last_ms < HPPROTO_SESSION_HOLD_MS)
            return UDP_NONE;
        sess_remove(u, old);
        u->evictions++;
        st->session_evictions++;
    }
    uint32_t i = u->free_head;
    struct udp_session *s = &u->sess[i];
    u->free_head = s->hnext;
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->ip = ip;
    s->port = port;
    s->sid = sid;
    s->last_ms = now_ms;
    hpproto_window_init(&s->win);
    uint32_t b = sess_hash(u, ip, port, sid);
    s->hnext = u->buckets[b];
    u->buckets[b] = i;
    lru_push_front(u, i);
    u->nsess++;
    return i;
}

static void sess_touch(struct udp_worker *u, uint32_t i, int64_t now_ms)
{
    u->sess[i].last_ms = now_ms;
    lru_unlink(u, i);
    lru_push_front(u, i);
}

static const struct udp_kept *sess_kept(const struct udp_session *s, uint64_t rid)
{
    for (int k = 0; k < UDP_KEEP; k++)
        if (s->kept[k].data && s->kept[k].rid == rid)
            return &s->kept[k];
    return NULL;
}

static void sess_keep(struct udp_worker *u, struct udp_session *s, uint64_t rid,
                      const uint8_t *data, uint32_t len)
{
    struct udp_kept *slot = &s->kept[s->kept_next];
    s->kept_next = (s->kept_next + 1) % UDP_KEEP;
    kept_free(u, slot);
    /* Make room from this session's oldest replies. */
    for (uint32_t k = 0; k < UDP_KEEP && u->kept_bytes + len > u->rt->reply_cache; k++)
        kept_free(u, &s->kept[(s->kept_next + k) % UDP_KEEP]);
    if (u->kept_bytes + len > u->rt->reply_cache || len == 0)
        return;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, data, len);
    slot->data = copy;
    slot->len = len;
    slot->rid = rid;
    u->kept_bytes += len;
}

static int sessions_init(struct udp_worker *u, uint32_t cap)
{
    uint32_t nb = 1;
    while (nb < cap * 2)
        nb <<= 1;
    u->sess = calloc(cap, sizeof(*u->sess));
    u->buckets = malloc(sizeof(*u->buckets) * nb);
    if (u->sess == NULL || u->buckets == NULL)
        return -1;
    for (uint32_t i = 0; i < nb; i++)
        u->buckets[i] = UDP_NONE;
    u->bucket_mask = nb - 1;
    u->sess_cap = cap;
    u->lru_head = u->lru_tail = UDP_NONE;
    u->free_head = UDP_NONE;
    for (uint32_t i = cap; i-- > 0;) {
        u->sess[i].hnext = u->free_head;
        u->free_head = i;
    }
    return 0;
}

/* ---- cookies ---------------------------------------------------------------- */

static void epoch_key(const struct udp_rt *rt, int64_t epoch, uint8_t key[16])
{
    uint8_t msg[9];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)((uint64_t)epoch >> (8 * i));
    msg[8] = 0;
    uint64_t a = hpproto_siphash24(rt->cookie_master, msg, sizeof(msg));
    msg[8] = 1;
    uint64_t b = hpproto_siphash24(rt->cookie_master, msg, sizeof(msg));
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
}

/* Every worker derives the same keys from the shared master secret and the
 * clock, so a cookie made on one worker checks on any other. */
static void cookie_refresh(struct udp_worker *u, int64_t now_ms)
{
    /* Runs per datagram: two multiplies instead of a 64-bit division while
     * the epoch stays the same (nearly always). */
    if (u->key_epoch >= 0 && now_ms >= u->key_epoch * UDP_COOKIE_EPOCH_MS &&
        now_ms < (u->key_epoch + 1) * UDP_COOKIE_EPOCH_MS)
        return;
    int64_t e = now_ms / UDP_COOKIE_EPOCH_MS;
    if (e == u->key_epoch)
        return;
    u->key_epoch = e;
    uint8_t cur[16], prev[16];
    epoch_key(u->rt, e, cur);
    epoch_key(u->rt, e - 1, prev);
    /* Through hpproto_cookie_set: it also forgets the cookies remembered
     * as verified under the old keys. */
    hpproto_cookie_set(&u->keys, (uint32_t)e, cur, prev);
}

/* ---- TX --------------------------------------------------------------------- */

static void tx_flush_port(struct worker *w, uint32_t p)
{
    struct udp_worker *u = w->udp;
    uint16_t n = u->tx[p].n;
    if (n == 0)
        return;
    struct udp_port *port = &u->rt->ports[p];
    uint16_t q = u->txq[p];
    uint16_t sent = 0;
    if (u->tx_locked[p])
        rte_spinlock_lock(&port->txlock[q]);
    for (int tries = 0; tries < 4 && sent < n; tries++)
        sent += rte_eth_tx_burst(port->port_id, q, u->tx[p].pkts + sent, (uint16_t)(n - sent));
    if (u->tx_locked[p])
        rte_spinlock_unlock(&port->txlock[q]);
    for (uint16_t i = sent; i < n; i++)
        rte_pktmbuf_free(u->tx[p].pkts[i]);
    u->stats[p].tx_dropped += (uint64_t)(n - sent);
    u->tx[p].n = 0;
}

static void tx_push(struct worker *w, uint32_t p, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    u->stats[p].tx_packets++;
    u->stats[p].tx_bytes += m->pkt_len;
    u->tx[p].pkts[u->tx[p].n++] = m;
    if (u->tx[p].n == UDP_BURST)
        tx_flush_port(w, p);
}

static void tx_offload(const struct udp_port *port, struct rte_mbuf *m, size_t l2)
{
    m->ol_flags = 0;
    if (port->tx_flags) {
        m->l2_len = l2;
        m->l3_len = PKT_IPV4_HDR_LEN;
        m->ol_flags |= RTE_MBUF_F_TX_IPV4;
        if (port->tx_flags & PKT_TX_IP_CSUM)
            m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
        if (port->tx_flags & PKT_TX_UDP_CSUM)
            m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
    }
}

/* Sends one reply datagram built from `h` and payload bytes; `reuse` (may
 * be NULL) is a single-segment request mbuf we may overwrite. */
static bool send_dgram(struct worker *w, const struct udp_pkt *ctx, const struct hpproto_hdr *h,
                       const uint8_t *payload, uint32_t len, struct rte_mbuf **reuse)
{
    struct udp_worker *u = w->udp;
    struct udp_port *port = &u->rt->ports[ctx->port_idx];
    struct rte_mbuf *m = NULL;
    if (reuse && *reuse) {
        m = *reuse;
        *reuse = NULL;
        rte_pktmbuf_reset(m);
    } else {
        m = rte_pktmbuf_alloc(u->pool);
        if (m == NULL) {
            u->stats[ctx->port_idx].no_mbuf++;
            return false;
        }
    }
    uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
    size_t cap = (size_t)m->buf_len - m->data_off;
    size_t hl = pkt_udp_reply_hdr_len(&ctx->info);
    HP_ASSERT(hl + HPPROTO_HDR_LEN + len <= cap);
    hpproto_encode(h, base + hl);
    if (len)
        memcpy(base + hl + HPPROTO_HDR_LEN, payload, len);
    size_t flen = pkt_build_udp_reply(&port->pc, &ctx->info, base, cap, HPPROTO_HDR_LEN + len,
                                      port->tx_flags);
    m->data_len = (uint16_t)flen;
    m->pkt_len = (uint32_t)flen;
    tx_offload(port, m, hl - PKT_IPV4_HDR_LEN - PKT_UDP_HDR_LEN);
    tx_push(w, ctx->port_idx, m);
    return true;
}

/* A header-only reply (any status but OK). */
static void send_status(struct worker *w, const struct udp_pkt *ctx, enum hpproto_status st,
                        bool verified, uint64_t cookie, struct rte_mbuf **reuse)
{
    struct udp_worker *u = w->udp;
    struct udp_stats *s = &u->stats[ctx->port_idx];
    if (!hpproto_amp_allows(verified, ctx->payload_len, HPPROTO_HDR_LEN, u->rt->amp_factor)) {
        s->amp_blocked++;
        return;
    }
    struct hpproto_hdr h;
    hpproto_reply_hdr(&h, &ctx->hdr, st, 0);
    if (cookie) {
        h.flags |= HPPROTO_F_COOKIE;
        h.cookie = cookie;
    }
    (void)send_dgram(w, ctx, &h, NULL, 0, reuse);
}

/* Sends a whole OK reply, fragmented per PROTOCOL.md §5.1. */
static void send_reply(struct worker *w, const struct udp_pkt *ctx, const uint8_t *data,
                       uint32_t total, uint64_t cookie, struct rte_mbuf **reuse)
{
    struct udp_worker *u = w->udp;
    uint32_t dgram = hpproto_reply_dgram(u->rt->server_dgram, &ctx->hdr);
    uint32_t fsize = hpproto_frag_size(dgram);
    uint32_t n = hpproto_frag_count(total, fsize);
    HP_ASSERT(n >= 1); /* total was capped so that it fits */
    for (uint32_t i = 0; i < n; i++) {
        struct hpproto_hdr h;
        hpproto_reply_hdr(&h, &ctx->hdr, HPPROTO_ST_OK, total);
        uint32_t flen = hpproto_frag_hdr(&h, total, fsize, (uint16_t)i);
        if (cookie) {
            h.flags |= HPPROTO_F_COOKIE;
            h.cookie = cookie;
        }
        if (!send_dgram(w, ctx, &h, data + h.frag_offset, flen, reuse))
            return;
        if (n > 1)
            u->stats[ctx->port_idx].fragments_sent++;
        /* Keep bursts moving so a long reply does not pin the pool. */
        if (u->tx[ctx->port_idx].n >= UDP_BURST / 2)
            tx_flush_port(w, ctx->port_idx);
    }
}

/* ---- RESP over a complete datagram ----------------------------------------- */

enum scan_rc { SCAN_OK = 0, SCAN_MALFORMED, SCAN_LIMIT };

/* Reads "<c><digits>\r\n" at p[*pos]; the number must be 0..max_ok. */
static enum scan_rc scan_len(const uint8_t *p, size_t len, size_t *pos, uint8_t c, int64_t *out)
{
    size_t i = *pos;
    if (i >= len || p[i] != c)
        return SCAN_MALFORMED;
    i++;
    int64_t v = 0;
    size_t start = i;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return SCAN_MALFORMED;
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i == start || i - start > 18 || i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n')
        return SCAN_MALFORMED;
    *pos = i + 2;
    *out = v;
    return SCAN_OK;
}

/* One command "*N\r\n($L\r\n<bytes>\r\n){N}" at p[*pos]; argv filled. */
static enum scan_rc scan_cmd(const uint8_t *p, size_t len, size_t *pos, struct hp_slice *argv,
                             int *argc, int64_t max_bulk)
{
    int64_t n;
    enum scan_rc rc = scan_len(p, len, pos, '*', &n);
    if (rc != SCAN_OK)
        return rc;
    if (n < 1)
        return SCAN_MALFORMED;
    if (n > UDP_MAX_ARGS)
        return SCAN_LIMIT;
    for (int64_t i = 0; i < n; i++) {
        int64_t bl;
        rc = scan_len(p, len, pos, '$', &bl);
        if (rc != SCAN_OK)
            return rc;
        if (bl > max_bulk)
            return SCAN_LIMIT;
        if ((uint64_t)bl + 2 > len - *pos)
            return SCAN_MALFORMED;
        if (p[*pos + (size_t)bl] != '\r' || p[*pos + (size_t)bl + 1] != '\n')
            return SCAN_MALFORMED;
        argv[i] = hp_slice_make(p + *pos, (size_t)bl);
        *pos += (size_t)bl + 2;
    }
    *argc = (int)n;
    return SCAN_OK;
}

static const uint8_t *pkt_payload(struct rte_mbuf *m, const struct udp_pkt *ctx)
{
    if (ctx->lin)
        return ctx->lin;
    return rte_pktmbuf_mtod(m, const uint8_t *) + ctx->info.payload_off + HPPROTO_HDR_LEN;
}

/* ---- execution --------------------------------------------------------------- */

static bool udp_forbidden(const struct cmd_spec *spec)
{
    return spec->kind == CMD_KIND_CLIENT && strcmp(spec->name, "ping") != 0 &&
           strcmp(spec->name, "echo") != 0;
}

static uint64_t all_shards(const struct worker *w)
{
    uint32_t n = w->rt->nworkers;
    return n == 64 ? ~0ull : (1ull << n) - 1;
}

/* Shards one command touches; 0 for none (client commands, errors). */
static uint64_t cmd_mask(struct worker *w, int argc, const struct hp_slice *argv)
{
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL || !cmd_arity_ok(spec, argc))
        return 0;
    switch (spec->kind) {
    case CMD_KIND_KEYED:
        return dispatch_key_mask(w, spec, argc, argv);
    case CMD_KIND_ALLSHARDS:
    case CMD_KIND_SCAN:
        /* SCAN's cursor names one shard, but parking all of them costs the
         * same single op and needs no cursor parsing here. */
        return all_shards(w);
    default:
        return 0;
    }
}

/* Runs one command on the shards in `held` (which cover its keys). */
static void exec_one(struct worker *w, int argc, const struct hp_slice *argv, struct rbuf *out,
                     uint64_t held)
{
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL) {
        cmd_reply_unknown(out, argc, argv);
        return;
    }
    if (!cmd_arity_ok(spec, argc)) {
        cmd_reply_arity(out, spec);
        return;
    }
    w->stats.total_commands_processed++;
    if (udp_forbidden(spec)) {
        resp_add_error(out, "ERR command not allowed over UDP");
        return;
    }
    if (spec->kind == CMD_KIND_CLIENT) {
        if (strcmp(spec->name, "echo") == 0)
            resp_add_bulk(out, argv[1].ptr, argv[1].len);
        else if (argc > 1)
            resp_add_bulk(out, argv[1].ptr, argv[1].len);
        else
            resp_add_simple(out, "PONG");
        return;
    }
    /* serve() acquired every shard of the datagram before running it. */
    HP_ASSERT((cmd_mask(w, argc, argv) & ~held) == 0);
    struct exec_ctx x;
    exec_ctx_init(&x, w, w->id, held, 0, 2, argc, argv, out);
    call_udp(w, spec, &x, &w->udp->wait);
}

/* Does the (well-formed) datagram hold a write command? */
static bool dgram_writes(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        const struct cmd_spec *spec = cmd_lookup(u->argv[0].ptr, u->argv[0].len);
        if (spec != NULL && (spec->flags & CMD_WRITE))
            return true;
    }
    return false;
}

/* Shards the whole (well-formed) datagram touches. */
static uint64_t dgram_mask(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    uint64_t mask = 0;
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        mask |= cmd_mask(w, argc, u->argv);
    }
    return mask;
}

/* Parse every command (nothing runs unless all are well formed). */
static enum scan_rc parse_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    int64_t max_bulk = CONFIG_RT_GET(w->rt->cfg, proto_max_bulk_len);
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = scan_cmd(p, len, &pos, u->argv, &argc, max_bulk);
        if (rc != SCAN_OK)
            return rc;
    }
    return pos == len ? SCAN_OK : SCAN_MALFORMED;
}

static void execute_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds,
                        uint64_t held)
{
    struct udp_worker *u = w->udp;
    size_t pos = 0;
    rbuf_reset(&u->out);
    u->wait.mask = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        size_t before = u->out.len;
        exec_one(w, argc, u->argv, &u->out, held);
        if (u->out.overflow || u->out.len > HPPROTO_MAX_REPLY_LEN) {
            /* The command ran; its reply cannot travel over UDP. */
            u->out.overflow = false;
            u->out.len = before;
            resp_add_error(&u->out, "ERR reply too large for UDP, use TCP");
        }
    }
}

static bool same_request(struct rte_mbuf *m, const struct udp_pkt *ctx, uint64_t rid)
{
    const struct udp_pkt *o = pkt_ctx(m);
    return o->hdr.request_id == rid && o->hdr.session_id == ctx->hdr.session_id &&
           o->info.src_ip == ctx->info.src_ip && o->info.src_port == ctx->info.src_port;
}

static enum xop_rc multi_body(struct worker *w, struct xop *op, uint64_t held, void *arg);
static void udp_run_held(struct worker *w, struct rte_mbuf *m, uint64_t held);
static bool udp_held_ready(struct worker *w, struct rte_mbuf *m, uint64_t held);

/* Is this request queued for, or running under, a multi-shard op? */
static bool multi_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid)
{
    const struct udp_worker *u = w->udp;
    for (uint32_t i = 0; i < XOP_MAX; i++) {
        const struct xop *op = &w->ops[i];
        if (op->active && op->body == multi_body && same_request(op->arg, ctx, rid))
            return true;
    }
    for (uint32_t i = 0; i < u->nmulti; i++)
        if (same_request(u->multi[(u->multi_head + i) % UDP_MULTI_MAX], ctx, rid))
            return true;
    return false;
}

/* The hand-over body of a multi-shard datagram: runs all its commands. */
static enum xop_rc multi_body(struct worker *w, struct xop *op, uint64_t held, void *arg)
{
    (void)op;
    HP_ASSERT(w->udp->nmulti_ops > 0);
    /* No log room for its writes: the round keeps every shard and runs
     * this again (call_poll); nothing of it ran. */
    if (!udp_held_ready(w, arg, held))
        return XOP_WAIT;
    w->udp->nmulti_ops--;
    udp_run_held(w, arg, held); /* answers (or holds) it and frees the mbuf */
    return XOP_REPLIED;
}

/* Start the waiting multi-shard datagrams, oldest first, while the worker
 * has room for ops: the same hand-over as a TCP multi-shard command
 * (xshard_op.c), with the datagram in place of the connection. */
static void multi_kick(struct worker *w)
{
    struct udp_worker *u = w->udp;
    while (u->nmulti > 0 && xop_room(w)) {
        struct rte_mbuf *m = u->multi[u->multi_head];
        struct xop *op = xop_alloc(w);
        HP_ASSERT(op != NULL);
        u->multi_head = (u->multi_head + 1) % UDP_MULTI_MAX;
        u->nmulti--;
        u->nmulti_ops++;
        op->proto = 2;
        xop_submit(w, op, pkt_ctx(m)->need, multi_body, m);
    }
}

static void multi_free_all(struct udp_worker *u)
{
    for (; u->nmulti > 0; u->nmulti--) {
        struct rte_mbuf *m = u->multi[u->multi_head];
        u->multi_head = (u->multi_head + 1) % UDP_MULTI_MAX;
        free(pkt_ctx(m)->lin);
        rte_pktmbuf_free(m);
    }
}

/* ---- durable acknowledgement (appendfsync always) --------------------------------- */

/* Is this request's reply held, waiting for its writes to be durable? */
static bool held_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid)
{
    const struct udp_worker *u = w->udp;
    for (uint32_t i = 0; i < u->nheld; i++) {
        const struct udp_held *hd = &u->held[(u->held_head + i) % UDP_HELD_MAX];
        if (hd->ctx.hdr.request_id == rid && hd->ctx.hdr.session_id == ctx->hdr.session_id &&
            hd->ctx.info.src_ip == ctx->info.src_ip && hd->ctx.info.src_port == ctx->info.src_port)
            return true;
    }
    return false;
}

/* Before a write datagram runs: room to hold its reply.  Datagrams queued
 * for the multi-shard op count too, since each may be held once it runs. */
static bool held_admit(struct worker *w)
{
    struct udp_worker *u = w->udp;
    uint32_t queued = u->nmulti + u->nmulti_ops;
    if (u->nheld + queued >= UDP_HELD_MAX || u->held_bytes >= UDP_HELD_BYTES)
        return false;
    return persist_reserve(w, 1 + queued);
}

/* Keep the datagram's reply (u->out) for retransmissions and send it. */
static void reply_send(struct worker *w, const struct udp_pkt *ctx, uint64_t offer,
                       struct rte_mbuf **reuse)
{
    struct udp_worker *u = w->udp;
    uint32_t total = (uint32_t)u->out.len;
    /* Found by its key: the table may have changed while it waited. */
    uint32_t si = sess_find(u, ctx->info.src_ip, ctx->info.src_port, ctx->hdr.session_id);
    if (si != UDP_NONE)
        sess_keep(u, &u->sess[si], ctx->hdr.request_id, u->out.data, total);
    /* Commands always reply, so total >= 3 bytes. */
    send_reply(w, ctx, u->out.data, total, offer, reuse);
}

/*
 * After a datagram ran: with appendfsync always and records logged, the
 * reply waits (not kept, not sent) until persist.c calls udp_held_release;
 * a retransmission meanwhile is dropped as in flight.  Otherwise it is
 * kept and sent now.
 */
static void reply_or_hold(struct worker *w, const struct udp_pkt *ctx, uint64_t offer,
                          struct rte_mbuf **reuse)
{
    struct udp_worker *u = w->udp;
    if (u->wait.mask == 0 || !persist_holds_replies(w->rt)) {
        reply_send(w, ctx, offer, reuse);
        return;
    }
    struct udp_stats *st = &u->stats[ctx->port_idx];
    uint32_t len = (uint32_t)u->out.len;
    uint8_t *copy = malloc(len);
    if (copy == NULL || u->nheld == UDP_HELD_MAX || persist_hold_udp(w, &u->wait) != 1) {
        /* Admission reserved room, so only a failed allocation gets here.
         * The write is applied but cannot be acknowledged: no reply; a
         * retransmission gets DUP_GONE (outcome unknown to the client). */
        free(copy);
        st->held_dropped++;
        if ((st->held_dropped & (st->held_dropped - 1)) == 0) /* 1, 2, 4, ...: bounded log */
            log_warning("UDP: no memory to hold a durable reply; %llu replies dropped",
                        (unsigned long long)st->held_dropped);
        return;
    }
    memcpy(copy, u->out.data, len);
    struct udp_held *hd = &u->held[(u->held_head + u->nheld) % UDP_HELD_MAX];
    hd->ctx = *ctx;
    hd->ctx.lin = NULL;
    hd->offer = offer;
    hd->data = copy;
    hd->len = len;
    u->nheld++;
    u->held_bytes += len;
    st->durable_held++;
}

void udp_held_release(struct worker *w)
{
    struct udp_worker *u = w->udp;
    HP_ASSERT(u != NULL && u->nheld > 0);
    struct udp_held *hd = &u->held[u->held_head];
    u->held_head = (u->held_head + 1) % UDP_HELD_MAX;
    u->nheld--;
    HP_ASSERT(u->held_bytes >= hd->len);
    u->held_bytes -= hd->len;
    uint32_t si = sess_find(u, hd->ctx.info.src_ip, hd->ctx.info.src_port,
                            hd->ctx.hdr.session_id);
    if (si != UDP_NONE)
        sess_keep(u, &u->sess[si], hd->ctx.hdr.request_id, hd->data, hd->len);
    struct rte_mbuf *none = NULL;
    send_reply(w, &hd->ctx, hd->data, hd->len, hd->offer, &none);
    free(hd->data);
    hd->data = NULL;
}

void udp_tx_flush(struct worker *w)
{
    for (uint32_t p = 0; p < w->udp->rt->nports; p++)
        tx_flush_port(w, p);
}

static void held_free_all(struct udp_worker *u)
{
    if (u->held == NULL)
        return;
    for (; u->nheld > 0; u->nheld--) {
        free(u->held[u->held_head].data);
        u->held_head = (u->held_head + 1) % UDP_HELD_MAX;
    }
    free(u->held);
    u->held = NULL;
}

/* The owner's half: session, window, parse, execute, keep, reply. */
static void serve(struct worker *w, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    /* A copy: once the mbuf is reused for the reply it may be sent (and
     * recycled) while later fragments still need the request's context. */
    struct udp_pkt copy = *pkt_ctx(m);
    struct udp_pkt *ctx = &copy;
    struct udp_stats *st = &u->stats[ctx->port_idx];
    const struct hpproto_hdr *h = &ctx->hdr;
    const uint8_t *payload = pkt_payload(m, ctx);
    bool single = m->nb_segs == 1 && ctx->lin == NULL;
#ifdef HP_UDP_BENCH_NO_REUSE
    single = false; /* measurement build (BENCHMARKS.md): replies in fresh mbufs */
#endif
#ifdef HP_UDP_BENCH_COPY_PARSE
    /* measurement build (BENCHMARKS.md): parse a copy, not the mbuf */
    memcpy(u->scratch, payload, ctx->payload_len);
    payload = u->scratch;
#endif
    struct rte_mbuf *reuse = single ? m : NULL;
    uint64_t offer = ctx->fresh_cookie ? hpproto_cookie_make(&u->keys, ctx->info.src_ip,
                                                             ctx->info.src_port, h->session_id)
                                       : 0;
    st->requests++;
    uint32_t si = sess_find(u, ctx->info.src_ip, ctx->info.src_port, h->session_id);
    /* An unknown session may start on a later id only while this worker has
     * never evicted a session: then it cannot have executed this one before
     * (a client's ids spread over several shards' tables). */
    if (si == UDP_NONE && !hpproto_window_may_start(h->request_id) && u->evictions > 0) {
        st->session_lost++;
        send_status(w, ctx, HPPROTO_ST_SESSION_LOST, true, offer, &reuse);
        goto done;
    }
    if (si != UDP_NONE) {
        struct udp_session *s = &u->sess[si];
        sess_touch(u, si, w->now_ms);
        enum hpproto_window_verdict v = hpproto_window_check(&s->win, h->request_id);
        if (v == HPPROTO_WIN_TOO_OLD) {
            st->too_old++;
            send_status(w, ctx, HPPROTO_ST_TOO_OLD, true, offer, &reuse);
            goto done;
        }
        if (v == HPPROTO_WIN_DUPLICATE) {
            const struct udp_kept *k = sess_kept(s, h->request_id);
            if (k == NULL && (multi_pending(w, ctx, h->request_id) ||
                              held_pending(w, ctx, h->request_id))) {
                /* Still waiting for its shards or for the disk: the reply
                 * will come, and a later retransmission finds it kept. */
                st->dup_inflight++;
                goto done;
            }
            if (k) {
                st->dup_replays++;
                send_reply(w, ctx, k->data, k->len, offer, &reuse);
            } else {
                st->dup_gone++;
                send_status(w, ctx, HPPROTO_ST_DUP_GONE, true, offer, &reuse);
            }
            goto done;
        }
    }
    enum scan_rc prc = parse_all(w, payload, ctx->payload_len, h->cmd_count);
    if (prc != SCAN_OK) {
        if (prc == SCAN_LIMIT)
            st->limit++;
        else
            st->malformed++;
        send_status(w, ctx, prc == SCAN_LIMIT ? HPPROTO_ST_LIMIT : HPPROTO_ST_MALFORMED, true,
                    offer, &reuse);
        goto done;
    }
    /* Nothing runs unless its reply could be held until durable, and the
     * log can take its records now: its commands cannot wait one by one. */
    if (w->rt->persist != NULL && dgram_writes(w, payload, ctx->payload_len, h->cmd_count)) {
        if (persist_holds_replies(w->rt) && !held_admit(w)) {
            st->held_busy++;
            send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
        /* No log room: park the datagram with the ones waiting for our
         * shard (udp_poll retries them every iteration, in order; nothing
         * of it ran, its id is not marked, so a retransmission parked
         * beside it finds it done later).  Past the queue's limit, BUSY. */
        if (!persist_room(w, 1ull << w->id)) {
            if (u->ndeferred < UDP_DEFER_MAX) {
                st->log_wait++;
                u->deferred[u->ndeferred++] = m;
                return; /* m and pkt_ctx(m)->lin stay with the queue */
            }
            st->held_busy++;
            send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
    }
    if (si == UDP_NONE) {
        si = sess_create(u, ctx->info.src_ip, ctx->info.src_port, h->session_id, w->now_ms, st);
        if (si == UDP_NONE) {
            st->busy++;
            send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
    }
    uint64_t need = dgram_mask(w, payload, ctx->payload_len, h->cmd_count);
    if ((need & ~(1ull << w->id)) != 0) {
        if (u->nmulti == UDP_MULTI_MAX) {
            st->busy++;
            send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
        /* Marked now, so that a retransmission while it waits does not run
         * it twice (multi_pending); its reply is kept when it has run. */
        hpproto_window_mark(&u->sess[si].win, h->request_id);
        pkt_ctx(m)->need = need;
        u->multi[(u->multi_head + u->nmulti) % UDP_MULTI_MAX] = m;
        u->nmulti++;
        st->multi_shard++;
        return; /* udp_poll starts it (multi_kick) */
    }
    execute_all(w, payload, ctx->payload_len, h->cmd_count, 1ull << w->id);
    st->ops += h->cmd_count;
    hpproto_window_mark(&u->sess[si].win, h->request_id);
    reply_or_hold(w, ctx, offer, &reuse);
done:
    free(ctx->lin);
    if (!single)
        rte_pktmbuf_free(m);
    else if (reuse != NULL)
        rte_pktmbuf_free(reuse);
}

static void serve_or_defer(struct worker *w, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    if (worker_shard_free(w) && u->ndeferred == 0) {
        serve(w, m);
        return;
    }
    struct udp_stats *st = &u->stats[pkt_ctx(m)->port_idx];
    if (u->ndeferred == UDP_DEFER_MAX) {
        st->defer_full++;
        free(pkt_ctx(m)->lin);
        rte_pktmbuf_free(m);
        return;
    }
    st->deferred++;
    u->deferred[u->ndeferred++] = m;
}

static bool udp_held_ready(struct worker *w, struct rte_mbuf *m, uint64_t held)
{
    if (w->rt->persist == NULL)
        return true;
    const struct udp_pkt *ctx = pkt_ctx(m);
    const uint8_t *payload = pkt_payload(m, ctx);
    if (!dgram_writes(w, payload, ctx->payload_len, ctx->hdr.cmd_count))
        return true;
    if (persist_room(w, held))
        return true;
    w->udp->stats[ctx->port_idx].log_wait++;
    return false;
}

/* Runs a datagram whose commands span shards, once its op holds every
 * shard in `held`; answers it and frees m. */
static void udp_run_held(struct worker *w, struct rte_mbuf *m, uint64_t held)
{
    struct udp_worker *u = w->udp;
    struct udp_pkt copy = *pkt_ctx(m);
    struct udp_pkt *ctx = &copy;
    const struct hpproto_hdr *h = &ctx->hdr;
    struct udp_stats *st = &u->stats[ctx->port_idx];
    bool single = m->nb_segs == 1 && ctx->lin == NULL;
    struct rte_mbuf *reuse = single ? m : NULL;
    cookie_refresh(u, w->now_ms);
    uint64_t offer = ctx->fresh_cookie ? hpproto_cookie_make(&u->keys, ctx->info.src_ip,
                                                             ctx->info.src_port, h->session_id)
                                       : 0;
    execute_all(w, pkt_payload(m, ctx), ctx->payload_len, h->cmd_count, held);
    st->ops += h->cmd_count;
    reply_or_hold(w, ctx, offer, &reuse);
    tx_flush_port(w, ctx->port_idx);
    free(ctx->lin);
    if (!single)
        rte_pktmbuf_free(m);
    else if (reuse != NULL)
        rte_pktmbuf_free(reuse);
}

void udp_on_forward(struct worker *w, struct rte_mbuf *m)
{
    HP_ASSERT(w->udp != NULL && m != NULL);
    w->udp->stats[pkt_ctx(m)->port_idx].handed_in++;
    serve_or_defer(w, m);
}

/* ---- receive ----------------------------------------------------------------- */

static unsigned rx_flags_of(const struct udp_port *port, const struct rte_mbuf *m)
{
    if (!port->rx_csum)
        return 0;
    unsigned f = 0;
    uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
        f |= PKT_RX_IP_CSUM_GOOD;
    else if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD)
        f |= PKT_RX_IP_CSUM_BAD;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        f |= PKT_RX_L4_CSUM_GOOD;
    else if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
        f |= PKT_RX_L4_CSUM_BAD;
    return f;
}

static bool src_allowed(const struct udp_rt *rt, const struct udp_port *port, uint32_t ip)
{
    if (rt->nsubnets == 0)
        return (ip & port->net_mask) == (port->pc.ip & port->net_mask);
    for (uint32_t i = 0; i < rt->nsubnets; i++)
        if ((ip & rt->subnets[i].mask) == rt->subnets[i].net)
            return true;
    return false;
}

/* Shard of the first keyed command; the addressed shard (port - base) when
 * there is none.  Any scan failure: ours, where parse_all reports it. */
static uint32_t owner_of(struct worker *w, const struct udp_pkt *ctx, const uint8_t *p)
{
    struct udp_worker *u = w->udp;
    /* One shard: every answer below would be ours; skip the scan and the
     * key hash (serve() parses the datagram anyway). */
    if (w->rt->nworkers == 1)
        return w->id;
    size_t pos = 0;
    for (uint16_t i = 0; i < ctx->hdr.cmd_count; i++) {
        int argc;
        if (scan_cmd(p, ctx->payload_len, &pos, u->argv, &argc, INT64_MAX) != SCAN_OK)
            return w->id;
        const struct cmd_spec *spec = cmd_lookup(u->argv[0].ptr, u->argv[0].len);
        if (spec == NULL || spec->kind != CMD_KIND_KEYED || !cmd_arity_ok(spec, argc))
            continue;
        struct cmd_key_ranges kr;
        if (cmd_keys_find(spec, argc, u->argv, true, &kr) != CMD_KEYS_OK)
            continue;
        for (int j = 0; j < kr.n; j++) {
            if (kr.r[j].last < kr.r[j].first)
                continue; /* a keynum spec with a count of 0 */
            const struct hp_slice *k = &u->argv[kr.r[j].first];
            return w->rt->slot_to_shard[slot_of_key(k->ptr, k->len)];
        }
    }
    uint32_t addressed = ctx->info.dst_port - u->rt->ports[ctx->port_idx].pc.port_lo;
    return addressed < w->rt->nworkers ? addressed : w->id;
}

/* ---- burst prefetch ---------------------------------------------------------- */

/* Reads "<c><digits>\r\n" at p[*i] (a hint scanner: no limits checked
 * beyond the buffer; the real parse comes later). */
static bool peek_len(const uint8_t *p, size_t len, size_t *i, uint8_t c, size_t *out)
{
    if (*i >= len || p[*i] != c)
        return false;
    size_t v = 0, j = *i + 1, digits = 0;
    for (; j < len && p[j] >= '0' && p[j] <= '9' && digits < 6; j++, digits++)
        v = v * 10 + (size_t)(p[j] - '0');
    if (digits == 0 || j + 1 >= len || p[j] != '\r' || p[j + 1] != '\n')
        return false;
    *i = j + 2;
    *out = v;
    return true;
}

/*
 * The first command's second argument in a plain single-segment frame
 * (untagged Ethernet, IPv4 without options, UDP, our header, RESP): the key
 * of GET/SET/INCR... .  Only a guess for prefetching: anything unusual
 * gives false and the request is served without the hint.
 */
static bool peek_key(const struct rte_mbuf *m, struct hp_slice *key)
{
    const size_t off = PKT_ETH_HDR_LEN + PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN + HPPROTO_HDR_LEN;
    const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
    size_t len = m->data_len;
    if (m->nb_segs != 1 || len <= off || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 ||
        f[23] != PKT_IPPROTO_UDP)
        return false;
    const uint8_t *p = f + off;
    len -= off;
    size_t i = 0, n, l;
    if (!peek_len(p, len, &i, '*', &n) || n < 2 || !peek_len(p, len, &i, '$', &l) ||
        i + l + 2 > len)
        return false;
    i += l + 2;
    if (!peek_len(p, len, &i, '$', &l) || i + l > len)
        return false;
    *key = hp_slice_make(p + i, l);
    return true;
}

/*
 * Before a burst is served: each request's index line, then its entry,
 * are requested from memory for all requests at once, so their cache
 * misses overlap (at 100k+ keys the lookups miss, and a burst served one
 * by one pays every miss in turn).  Only keys of our own shard while we
 * hold it: the hints read the index.
 */
static void rx_prefetch(struct worker *w, struct rte_mbuf **pkts, uint16_t n)
{
    if (n < 2 || !worker_shard_free(w))
        return;
    uint64_t h[UDP_BURST];
    bool hit[UDP_BURST];
    for (uint16_t i = 0; i < n; i++) {
        struct hp_slice key;
        hit[i] = peek_key(pkts[i], &key) &&
                 (w->rt->nworkers == 1 ||
                  w->rt->slot_to_shard[slot_of_key(key.ptr, key.len)] == w->id);
        if (hit[i])
            h[i] = shard_prefetch_bucket(w->shard, 0, key);
    }
    for (uint16_t i = 0; i < n; i++)
        if (hit[i])
            shard_prefetch_entry(w->shard, 0, h[i]);
}

static void rx_request(struct worker *w, uint32_t pi, struct rte_mbuf *m, struct udp_pkt *ctx,
                       const uint8_t *frame)
{
    struct udp_worker *u = w->udp;
    struct udp_port *port = &u->rt->ports[pi];
    struct udp_stats *st = &u->stats[pi];
    if (!src_allowed(u->rt, port, ctx->info.src_ip)) {
        st->src_not_allowed++;
        goto drop;
    }
    const uint8_t *dgram = frame + ctx->info.payload_off;
    enum hpproto_err e = hpproto_decode(dgram, ctx->info.payload_len, &ctx->hdr);
    ctx->payload_len = ctx->info.payload_len >= HPPROTO_HDR_LEN
                           ? ctx->info.payload_len - HPPROTO_HDR_LEN : 0;
    bool single = m->nb_segs == 1;
    struct rte_mbuf *reuse = single ? m : NULL;
    if (e == HPPROTO_E_VERSION) {
        /* Echo bytes 8..23 in our layout; never larger than the request. */
        st->version_replies++;
        ctx->payload_len = ctx->info.payload_len;
        send_status(w, ctx, HPPROTO_ST_VERSION, false, 0, &reuse);
        goto out;
    }
    if (e != HPPROTO_OK || (ctx->hdr.flags & HPPROTO_F_REPLY)) {
        st->bad_header++;
        st->hdr_err[e]++;
        goto drop;
    }
    cookie_refresh(u, w->now_ms);
    enum hpproto_cookie_verdict cv = HPPROTO_COOKIE_INVALID;
    /* The memo answers a session's later datagrams with a compare of the
     * exact (ip, port, session, cookie) the full SipHash check accepted
     * under the current keys: the same verdict, so the same guarantee. */
    if (ctx->hdr.flags & HPPROTO_F_COOKIE)
        cv = hpproto_cookie_check_memo(&u->keys, ctx->hdr.cookie, ctx->info.src_ip,
                                       ctx->info.src_port, ctx->hdr.session_id);
    if (cv == HPPROTO_COOKIE_INVALID) {
        st->cookie_replies++;
        ctx->payload_len = ctx->info.payload_len;   /* amplification: whole datagram */
        send_status(w, ctx, HPPROTO_ST_COOKIE, false,
                    hpproto_cookie_make(&u->keys, ctx->info.src_ip, ctx->info.src_port,
                                        ctx->hdr.session_id),
                    &reuse);
        goto out;
    }
    ctx->fresh_cookie = cv == HPPROTO_COOKIE_STALE;
    const uint8_t *payload = dgram + HPPROTO_HDR_LEN;
    if (m->nb_segs > 1) {
        /* The frame is in the scratch buffer; it must outlive a hand-over. */
        ctx->lin = malloc(ctx->payload_len);
        if (ctx->lin == NULL) {
            st->no_mbuf++;
            goto drop;
        }
        memcpy(ctx->lin, payload, ctx->payload_len);
        payload = ctx->lin;
    }
    uint32_t owner = owner_of(w, ctx, payload);
    if (owner == w->id) {
        serve_or_defer(w, m);
        return;
    }
    if (xmsg_available(w) == 0) {
        st->defer_full++;
        free(ctx->lin);
        ctx->lin = NULL;
        goto drop;
    }
    struct xmsg *x = xmsg_alloc(w);
    HP_ASSERT(x != NULL);
    x->kind = XMSG_UDP;
    x->udp_mbuf = m;
    st->handed_over++;
    w->stats.remote_requests++;
    xshard_send(w, owner, x);
    return;
out:
    if (!single)
        rte_pktmbuf_free(m);
    else if (reuse != NULL)
        rte_pktmbuf_free(reuse);   /* nothing was sent (amplification bound) */
    return;
drop:
    rte_pktmbuf_free(m);
}

static void rx_one(struct worker *w, uint32_t pi, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    struct udp_port *port = &u->rt->ports[pi];
    struct udp_stats *st = &u->stats[pi];
    struct udp_pkt *ctx = pkt_ctx(m);
    memset(ctx, 0, sizeof(*ctx));
    ctx->port_idx = (uint16_t)pi;
    st->rx_packets++;
    st->rx_bytes += m->pkt_len;
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    size_t len = m->data_len;
    if (m->nb_segs > 1) {
        st->rx_multiseg++;
        if (m->pkt_len > UDP_SCRATCH) {
            st->rx_too_big++;
            rte_pktmbuf_free(m);
            return;
        }
        const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, u->scratch);
        HP_ASSERT(p != NULL);
        if (p != u->scratch)
            memcpy(u->scratch, p, m->pkt_len);
        frame = u->scratch;
        len = m->pkt_len;
    }
    enum pkt_verdict v = pkt_parse(&port->pc, frame, len, rx_flags_of(port, m), &ctx->info);
    pkt_count(&st->pkt, v, &ctx->info);
    switch (v) {
    case PKT_UDP_REQUEST:
        rx_request(w, pi, m, ctx, frame);
        return;
    case PKT_ARP_REQUEST:
    case PKT_ICMP_ECHO:
        if (m->nb_segs == 1) {
            size_t cap = (size_t)m->buf_len - m->data_off;
            size_t n = v == PKT_ARP_REQUEST
                           ? pkt_build_arp_reply(&port->pc, frame, cap, &ctx->info)
                           : pkt_build_icmp_echo_reply(&port->pc, frame, &ctx->info);
            m->data_len = (uint16_t)n;
            m->pkt_len = (uint32_t)n;
            m->ol_flags = 0;
            if (v == PKT_ARP_REQUEST)
                st->arp_replies++;
            else
                st->icmp_replies++;
            tx_push(w, pi, m);
            return;
        }
        break;
    default:
        break;
    }
    rte_pktmbuf_free(m);
}

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
            serve(w, u->deferred[i]);
        work += n;
    }
    for (uint32_t p = 0; p < u->rt->nports; p++) {
        if (!u->has_rxq[p])
            continue;
        struct rte_mbuf *pkts[UDP_BURST];
        uint16_t n = rte_eth_rx_burst(u->rt->ports[p].port_id, (uint16_t)w->id, pkts, UDP_BURST);
        rx_prefetch(w, pkts, n);
        for (uint16_t i = 0; i < n; i++)
            rx_one(w, p, pkts[i]);
        work += n;
    }
    multi_kick(w);
    for (uint32_t p = 0; p < u->rt->nports; p++)
        tx_flush_port(w, p);
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
            rx_one(w, p, pkts[i]);
        got += n;
    }
    if (got == 0 && u->intr_grace > 0) {
        u->intr_grace--;
        return HP_MIN(timeout_us, (int64_t)UDP_IDLE_SLEEP_MAX_US);
    }
    if (got == 0)
        return timeout_us;
    for (uint32_t p = 0; p < u->rt->nports; p++)
        tx_flush_port(w, p);
    intr_disarm(w);
    return 0;
}

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
static struct runtime *udp_telemetry_rt;

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

static void udp_telemetry_register(struct runtime *rt)
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

/* ---- set-up ---------------------------------------------------------------- */

static void udp_worker_free(struct udp_worker *u)
{
    if (u == NULL)
        return;
    for (uint32_t i = 0; i < u->sess_cap; i++)
        for (int k = 0; k < UDP_KEEP; k++)
            free(u->sess[i].kept[k].data);
    for (uint32_t i = 0; i < u->ndeferred; i++) {
        free(pkt_ctx(u->deferred[i])->lin);
        rte_pktmbuf_free(u->deferred[i]);
    }
    multi_free_all(u);
    held_free_all(u);
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

/* Our RX queue's interrupt into our epoll fd (at set-up, main thread). */
static void intr_add(struct udp_worker *u, const struct udp_port *port, uint32_t id, uint32_t p)
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
    if (u->scratch == NULL || u->held == NULL || sessions_init(u, rt->sessions) != 0) {
        udp_worker_free(u);
        return NULL;
    }
    for (uint32_t p = 0; p < rt->nports; p++) {
        struct udp_port *port = &rt->ports[p];
        u->has_rxq[p] = id < port->nrxq;
        u->txq[p] = (uint16_t)(id % port->ntxq);
        u->tx_locked[p] = port->ntxq < rt->nworkers;
        if (port->rx_intr && u->has_rxq[p])
            intr_add(u, port, id, p);
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
