/*
 * dpdk.c - docs/PROTOCOL.md over a DPDK ethdev (memif, af_packet, tap,
 * PCI): frames built into mbufs with wire/pkt.h, one RX/TX queue pair
 * per worker lcore, each lcore running its own engine on its own flows
 * (engines are single-threaded; their counters and histograms are merged
 * for the report).
 *
 * Each flow is one protocol session with its own UDP source port
 * (src_port_base + global flow number), so replies find their flow by
 * destination port and their request by id.  Request ids are sequential;
 * the slot of id r is byid[r % ids], and id r is not sent while byid[r %
 * ids] is still outstanding, which both keeps the lookup O(1) and enforces
 * the protocol's in-flight span (ids divides 1024).
 *
 * Every lcore (the main one included) owns queue pair q.  With several
 * lcores, lcore q makes only requests for shard q (lcores == shards), so
 * the replies, which hotpathd sends from the owner's TX queue q, come back
 * to the lcore that holds the request, and each lcore's correctness model
 * covers keys no other lcore touches (--check works on every lcore).
 * Steering (--steer): lcore q sends on queue q, which on a multi-queue
 * memif is worker q's RX queue, to UDP port base + q.  Without it, lcore q
 * spreads its requests over all queues in turn (to port base), so most
 * land on a worker that must hand them over to the owner: the software
 * hand-over path.  A TX queue is then shared by the lcores and taken under
 * its spinlock.
 *
 * Reflector mode (--reflector): the peer returns our own frames (testpmd
 * --forward-mode=macswap); a returned request counts as its own answer,
 * which measures the link and pktgen, the "physical limit".
 *
 * Retransmission (--retry-ms, default 100): a request unanswered after the
 * retry timeout is sent again with the same id and the RETRY flag, the
 * timeout doubling up to DP_MAX_RTO_MS, until it is answered, --timeout-ms
 * passes (then it is lost) or the protocol's retry horizon would be
 * crossed.  The server runs an id once and answers a retransmission from
 * its kept replies, so a retried SET or INCR is not applied twice (the
 * correctness model would see it).  --inject-loss drops that share of our
 * first transmissions and of the replies, to exercise all of this.
 *
 * Not done here: multi-fragment replies (counted as protocol errors; keep
 * replies within one datagram, e.g. values below ~1.3 KB).
 */
#include "dpdk_mode.h"

#include "hpproto.h"
#include "pkt.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_spinlock.h>

#include <string.h>
#include <sys/resource.h>

#define DP_BURST 32
#define DP_MAX_LCORES 64
#define DP_RING 1024
#define DP_DGRAM HPPROTO_DEFAULT_DGRAM
#define DP_FRAME_HDR (PKT_ETH_HDR_LEN + PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN)
#define DP_MAX_RTO_MS PG_DPDK_MAX_RTO_MS
#define DP_SCAN_NS 5000000ull        /* retransmission / loss scan period */

struct dp_flow {
    uint64_t session;
    uint64_t next_id;
    uint64_t cookie;
    bool have_cookie;
    uint16_t src_port;
    uint32_t ids;                /* byid entries: power of two, divides 1024 */
    struct pg_slot **byid;
    uint8_t *saved;              /* ids x DP_DGRAM: request datagrams, for COOKIE resends */
    uint16_t *saved_len;
    uint64_t *retry_at;          /* ids: when to retransmit that request next */
    uint32_t *rto_ms;            /* ids: its current retransmission timeout */
};

struct dp_lcore {
    struct pg_engine *e;
    const struct pg_dpdk_opts *d;
    uint16_t queue;
    uint16_t nq;                 /* queue pairs on the port, one per lcore */
    bool spread;                 /* TX over every queue in turn, under txlock */
    uint32_t next_txq;
    rte_spinlock_t *txlock;      /* nq of them, shared by the lcores */
    uint32_t flow_base;          /* global number of this lcore's first flow */
    struct rte_mempool *mp;
    struct pkt_config pc;        /* us: the client */
    struct dp_flow *fl;
    struct rte_mbuf *tx[DP_MAX_LCORES][DP_BURST];   /* per TX queue */
    uint16_t ntx[DP_MAX_LCORES];
    uint64_t last_timeout_scan;
    struct wl_rng loss_rng;      /* --inject-loss */
    int rc;
};

struct dp_emit {
    uint8_t *buf;
    size_t len, cap;
};

static bool dp_emit_cmd(void *ctx, int argc, const char *const *argv, const size_t *argvlen)
{
    struct dp_emit *x = ctx;
    size_t n = pgw_command(x->buf + x->len, x->cap - x->len, argc, argv, argvlen);
    x->len += n;
    return n > 0;
}

/* Frame headers towards the server for a datagram of `dlen` bytes at
 * frame + DP_FRAME_HDR.  pkt.h builds replies; a request is a "reply" to
 * a frame the server would have sent us, so describe that frame. */
static void dp_headers(struct dp_lcore *l, uint8_t *frame, size_t dlen, uint16_t src_port,
                       uint16_t dst_port)
{
    struct pkt_info peer;
    memset(&peer, 0, sizeof(peer));
    memcpy(peer.src_mac, l->d->dst_mac, PKT_ETH_ADDR_LEN);
    peer.src_ip = l->d->dst_ip;
    peer.dst_ip = l->d->src_ip;
    peer.src_port = dst_port;
    peer.dst_port = src_port;
    size_t n = pkt_build_udp_reply(&l->pc, &peer, frame, DP_FRAME_HDR + dlen, dlen, 0);
    HP_ASSERT(n == DP_FRAME_HDR + dlen);
}

static void dp_flush_tx(struct dp_lcore *l, uint16_t q)
{
    uint16_t sent = 0;
    if (l->spread)
        rte_spinlock_lock(&l->txlock[q]);
    for (int tries = 0; sent < l->ntx[q] && tries < 1000; tries++)
        sent += rte_eth_tx_burst(l->d->port_id, q, l->tx[q] + sent, l->ntx[q] - sent);
    if (l->spread)
        rte_spinlock_unlock(&l->txlock[q]);
    for (uint16_t i = sent; i < l->ntx[q]; i++) {
        rte_pktmbuf_free(l->tx[q][i]);
        l->e->total.proto_errors++;    /* its request will time out as lost */
    }
    l->ntx[q] = 0;
}

static void dp_queue_frame(struct dp_lcore *l, uint16_t q, struct rte_mbuf *m)
{
    l->tx[q][l->ntx[q]++] = m;
    if (l->ntx[q] == DP_BURST)
        dp_flush_tx(l, q);
}

/* --inject-loss: should this frame vanish? */
static bool dp_lose(struct dp_lcore *l)
{
    return l->d->inject_loss > 0 && wl_rng_double(&l->loss_rng) * 100.0 < l->d->inject_loss;
}

static void dp_arm_retry(struct dp_lcore *l, struct dp_flow *f, uint32_t ix, uint64_t now)
{
    f->rto_ms[ix] = l->d->retry_ms;
    f->retry_at[ix] = l->d->retry_ms ? now + (uint64_t)l->d->retry_ms * 1000000ull : UINT64_MAX;
}

/* Steered: the own queue, which is the owner's.  Spread: every queue in
 * turn; the reply still comes back on queue q (the owner's TX queue).
 * But a COOKIE status comes from the worker that received the request,
 * before any hand-over: until the flow holds a cookie, its requests stay
 * on the own queue (the server refreshes the cookie in its replies, so a
 * busy flow keeps a valid one). */
static uint16_t dp_txq(struct dp_lcore *l, const struct dp_flow *f)
{
    if (!l->spread || !f->have_cookie)
        return l->queue;
    return (uint16_t)(l->next_txq++ % l->nq);
}

static uint16_t dp_dst_port(const struct dp_lcore *l, const struct pg_slot *s)
{
    /* hotpathd serves shard N on port base + N; steering targets it too */
    if (l->e->o.steer && s->shard != PG_SHARD_ANY)
        return (uint16_t)(l->e->o.port + s->shard);
    return l->e->o.port;
}

/* Sends the saved datagram of slot index `ix` (after a COOKIE reply). */
static void dp_send_saved(struct dp_lcore *l, struct dp_flow *f, uint32_t ix, struct pg_slot *s)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(l->mp);
    if (!m) {
        l->e->total.proto_errors++;
        return;
    }
    size_t dlen = f->saved_len[ix];
    uint8_t *frame = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_FRAME_HDR + dlen));
    HP_ASSERT(frame != NULL);
    memcpy(frame + DP_FRAME_HDR, f->saved + (size_t)ix * DP_DGRAM, dlen);
    dp_headers(l, frame, dlen, f->src_port, dp_dst_port(l, s));
    dp_queue_frame(l, dp_txq(l, f), m);
}

static void dp_fill(struct dp_lcore *l, uint32_t fi, uint64_t now)
{
    struct pg_engine *e = l->e;
    struct pg_flow *pf = &e->flows[fi];
    struct dp_flow *f = &l->fl[fi];
    uint64_t intended;
    for (;;) {
        uint32_t ix = (uint32_t)(f->next_id % f->ids);
        if (f->byid[ix] != NULL)
            break;                       /* an old id still outstanding: in-flight span */
        struct pg_slot *s = NULL;
        for (uint32_t w = 0; w < e->o.window && !s; w++)
            if (!pf->slots[w].busy)
                s = &pf->slots[w];
        if (!s || !pg_may_send(e, pf, now, &intended))
            break;
        struct rte_mbuf *m = rte_pktmbuf_alloc(l->mp);
        if (!m) {
            e->total.proto_errors++;
            break;
        }
        uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
        size_t room = HP_MIN((size_t)rte_pktmbuf_tailroom(m), (size_t)DP_FRAME_HDR + DP_DGRAM);
        struct dp_emit x = {frame + DP_FRAME_HDR + HPPROTO_HDR_LEN, 0,
                            room - DP_FRAME_HDR - HPPROTO_HDR_LEN};
        if (!pg_build(e, pf, s, intended, now, dp_emit_cmd, &x)) {
            rte_pktmbuf_free(m);
            break;
        }
        struct hpproto_hdr h;
        hpproto_request_hdr(&h, f->session, f->next_id, (uint16_t)s->ncmds, (uint32_t)x.len);
        h.max_dgram = DP_DGRAM;
        if (f->have_cookie) {
            h.flags |= HPPROTO_F_COOKIE;
            h.cookie = f->cookie;
        }
        hpproto_encode(&h, frame + DP_FRAME_HDR);
        size_t dlen = HPPROTO_HDR_LEN + x.len;
        dp_headers(l, frame, dlen, f->src_port, dp_dst_port(l, s));
        HP_ASSERT(rte_pktmbuf_append(m, (uint16_t)(DP_FRAME_HDR + dlen)) != NULL);
        memcpy(f->saved + (size_t)ix * DP_DGRAM, frame + DP_FRAME_HDR, dlen);
        f->saved_len[ix] = (uint16_t)dlen;
        s->tag = f->next_id++;
        f->byid[ix] = s;
        dp_arm_retry(l, f, ix, now);
        if (dp_lose(l))
            rte_pktmbuf_free(m);
        else
            dp_queue_frame(l, dp_txq(l, f), m);
    }
}

/* Checks the reply payload's cmd_count RESP replies against slot s. */
static void dp_check_payload(struct dp_lcore *l, struct pg_slot *s, const uint8_t *p, size_t len)
{
    struct pgw_reply r, elems[WL_MAX_MGET];
    size_t pos = 0;
    for (uint32_t i = 0; i < s->ncmds; i++) {
        long n = pgw_reply_parse(p + pos, len - pos, &r, elems, WL_MAX_MGET);
        if (n <= 0) {
            l->e->total.proto_errors++;
            return;
        }
        pg_check(l->e, s, i, &r, elems);
        pos += (size_t)n;
    }
    if (pos != len)
        l->e->total.proto_errors++;
}

static void dp_answer(struct dp_lcore *l, uint16_t dport, const uint8_t *dgram, size_t len,
                      bool reflected, uint64_t now)
{
    struct pg_engine *e = l->e;
    struct hpproto_hdr h;
    if (hpproto_decode(dgram, len, &h) != HPPROTO_OK)
        return;
    bool is_reply = (h.flags & HPPROTO_F_REPLY) != 0;
    if (is_reply == reflected)
        return;
    uint32_t fi = (uint32_t)(dport - l->d->src_port_base) - l->flow_base;
    if (dport < l->d->src_port_base || fi >= e->o.flows)
        return;
    struct dp_flow *f = &l->fl[fi];
    uint32_t ix = (uint32_t)(h.request_id % f->ids);
    struct pg_slot *s = f->byid[ix];
    if (h.session_id != f->session || !s || s->tag != h.request_id)
        return;                               /* late duplicate or another session */
    if (!reflected && h.status == HPPROTO_ST_COOKIE) {
        f->cookie = h.cookie;
        f->have_cookie = true;
        /* patch the saved request with the cookie and send it again */
        struct hpproto_hdr rq;
        uint8_t *saved = f->saved + (size_t)ix * DP_DGRAM;
        if (hpproto_decode(saved, f->saved_len[ix], &rq) == HPPROTO_OK) {
            rq.flags |= HPPROTO_F_COOKIE | HPPROTO_F_RETRY;
            rq.cookie = h.cookie;
            hpproto_encode(&rq, saved);
            e->total.retries++;
            dp_arm_retry(l, f, ix, now);
            dp_send_saved(l, f, ix, s);
        }
        return;
    }
    f->byid[ix] = NULL;
    if (!reflected) {
        if (h.status != HPPROTO_ST_OK || h.frag_count != 1) {
            e->total.proto_errors++;
            pg_lost(e, s, h.status != HPPROTO_ST_OK ? hpproto_status_name(h.status)
                                                    : "fragmented reply (unsupported in dpdk mode)");
            return;
        }
        if (h.flags & HPPROTO_F_COOKIE)
            f->cookie = h.cookie;             /* a fresh cookie after key rotation */
        dp_check_payload(l, s, dgram + HPPROTO_HDR_LEN, len - HPPROTO_HDR_LEN);
    }
    pg_complete(e, s, now);
}

static void dp_rx(struct dp_lcore *l)
{
    struct rte_mbuf *pkts[DP_BURST];
    uint16_t n = rte_eth_rx_burst(l->d->port_id, l->queue, pkts, DP_BURST);
    if (n == 0)
        return;
    uint64_t now = pg_now_ns();
    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        if (dp_lose(l)) {
            rte_pktmbuf_free(m);
            continue;
        }
        const uint8_t *fr = rte_pktmbuf_mtod(m, const uint8_t *);
        size_t len = rte_pktmbuf_data_len(m);
        if (l->d->reflector) {
            /* our own request back, MACs swapped: fixed offsets, we built it */
            if (len > DP_FRAME_HDR && fr[12] == 0x08 && fr[13] == 0x00 && fr[14] == 0x45 &&
                fr[23] == PKT_IPPROTO_UDP) {
                uint16_t sport = (uint16_t)(fr[34] << 8 | fr[35]);
                uint16_t ulen = (uint16_t)(fr[38] << 8 | fr[39]);
                if (ulen >= PKT_UDP_HDR_LEN && (size_t)DP_FRAME_HDR + ulen - PKT_UDP_HDR_LEN <= len)
                    dp_answer(l, sport, fr + DP_FRAME_HDR, ulen - PKT_UDP_HDR_LEN, true, now);
            }
        } else {
            struct pkt_info info;
            if (pkt_parse(&l->pc, fr, len, 0, &info) == PKT_UDP_REQUEST)
                dp_answer(l, info.dst_port, fr + info.payload_off, info.payload_len, false, now);
        }
        rte_pktmbuf_free(m);
    }
}

/* Sends request ix of flow f again, same id, RETRY flag, doubled timeout
 * (never past the retry horizon, counted from the first transmission). */
static void dp_retransmit(struct dp_lcore *l, struct dp_flow *f, uint32_t ix, struct pg_slot *s,
                          uint64_t now)
{
    uint32_t rto = HP_MAX(HP_MIN(2 * f->rto_ms[ix], DP_MAX_RTO_MS), f->rto_ms[ix]);
    uint64_t horizon = s->sent_ns + (uint64_t)HPPROTO_RETRY_HORIZON_MS * 1000000ull;
    f->rto_ms[ix] = rto;
    f->retry_at[ix] = now + (uint64_t)rto * 1000000ull;
    if (f->retry_at[ix] >= horizon)
        f->retry_at[ix] = UINT64_MAX;     /* this is the last transmission */
    uint8_t *saved = f->saved + (size_t)ix * DP_DGRAM;
    struct hpproto_hdr rq;
    if (hpproto_decode(saved, f->saved_len[ix], &rq) != HPPROTO_OK)
        return;
    if (!(rq.flags & HPPROTO_F_RETRY)) {
        rq.flags |= HPPROTO_F_RETRY;
        hpproto_encode(&rq, saved);
    }
    l->e->total.retries++;
    dp_send_saved(l, f, ix, s);
}

/* Every DP_SCAN_NS: retransmits what is due, gives up on what is too old
 * (all: everything still outstanding, at the end of a phase). */
static void dp_timeouts(struct dp_lcore *l, uint64_t now, bool all)
{
    struct pg_engine *e = l->e;
    uint64_t limit = (uint64_t)e->o.timeout_ms * 1000000ull;
    for (uint32_t fi = 0; fi < e->o.flows; fi++) {
        struct dp_flow *f = &l->fl[fi];
        for (uint32_t ix = 0; ix < f->ids; ix++) {
            struct pg_slot *s = f->byid[ix];
            if (!s)
                continue;
            if (all || now - s->sent_ns > limit) {
                f->byid[ix] = NULL;
                pg_lost(e, s, "no reply within the timeout");
            } else if (now >= f->retry_at[ix]) {
                dp_retransmit(l, f, ix, s, now);
            }
        }
    }
}

static bool dp_idle(const struct dp_lcore *l)
{
    for (uint32_t fi = 0; fi < l->e->o.flows; fi++)
        for (uint32_t w = 0; w < l->e->o.window; w++)
            if (l->e->flows[fi].slots[w].busy)
                return false;
    return true;
}

/* Involuntary context switches of the calling thread so far. */
static uint64_t dp_preemptions(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_nivcsw;
}

static void dp_phase(struct dp_lcore *l, enum pg_phase ph)
{
    struct pg_engine *e = l->e;
    if (!pg_phase_begin(e, ph, pg_now_ns()))
        return;
    uint64_t drain_until = 0;
    uint64_t prev = pg_now_ns(), preempted_before = dp_preemptions();
    for (;;) {
        uint64_t now = pg_now_ns();
        pg_loop_pass(e, prev, now);
        prev = now;
        bool sending = !pg_phase_sending_done(e, now);
        if (sending)
            for (uint32_t fi = 0; fi < e->o.flows; fi++)
                dp_fill(l, fi, now);
        for (uint16_t q = 0; q < l->nq; q++)
            if (l->ntx[q])
                dp_flush_tx(l, q);
        dp_rx(l);
        if (!sending) {
            if (dp_idle(l))
                break;
            if (drain_until == 0)
                drain_until = now + (uint64_t)e->o.timeout_ms * 1000000ull;
            if (now > drain_until) {
                dp_timeouts(l, now, true);
                break;
            }
        }
        if (now - l->last_timeout_scan > DP_SCAN_NS) {
            dp_timeouts(l, now, false);
            l->last_timeout_scan = now;
        }
        if (l->queue == 0)
            pg_progress(e, now);
    }
    if (ph == PG_PHASE_RUN) {
        e->stalls.measured = true;
        e->stalls.preempted += dp_preemptions() - preempted_before;
    }
    pg_phase_end(e, pg_now_ns());
}

static int dp_lcore_main(void *arg)
{
    struct dp_lcore *l = arg;
    for (int ph = 0; ph < PG_PHASE_COUNT; ph++)
        dp_phase(l, (enum pg_phase)ph);
    l->rc = 0;
    return 0;
}

static uint32_t dp_ids_for(uint32_t window)
{
    uint32_t ids = 1;
    while (ids < 2 * window && ids < HPPROTO_ID_WINDOW)
        ids <<= 1;
    return ids;
}

static int dp_lcore_init(struct dp_lcore *l, struct pg_engine *e, const struct pg_dpdk_opts *d,
                         uint16_t queue, uint16_t nq, uint32_t flow_base,
                         struct rte_mempool *mp, rte_spinlock_t *txlock)
{
    memset(l, 0, sizeof(*l));
    l->e = e;
    l->d = d;
    l->queue = queue;
    l->nq = nq;
    /* the reflector returns a frame on the queue it came in: keep our own */
    l->spread = nq > 1 && !e->o.steer && !d->reflector;
    l->next_txq = queue;
    l->txlock = txlock;
    l->flow_base = flow_base;
    l->mp = mp;
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(d->port_id, &mac) != 0)
        return -1;
    memcpy(l->pc.mac, mac.addr_bytes, PKT_ETH_ADDR_LEN);
    l->pc.ip = d->src_ip;
    l->pc.port_lo = d->src_port_base;
    l->pc.port_hi = (uint16_t)(d->src_port_base + d->total_flows - 1);
    l->pc.vlan_id = PKT_VLAN_UNTAGGED;
    l->fl = calloc(e->o.flows, sizeof(*l->fl));
    if (!l->fl)
        return -1;
    struct wl_rng r;
    wl_rng_seed(&r, e->o.wl.seed ^ ((uint64_t)queue << 40) ^ pg_now_ns());
    wl_rng_seed(&l->loss_rng, e->o.wl.seed * 7919 + queue);
    for (uint32_t fi = 0; fi < e->o.flows; fi++) {
        struct dp_flow *f = &l->fl[fi];
        do
            f->session = wl_rng_next(&r);
        while (f->session == 0);
        f->next_id = 1;
        f->src_port = (uint16_t)(d->src_port_base + flow_base + fi);
        f->ids = dp_ids_for(e->o.window);
        f->byid = calloc(f->ids, sizeof(*f->byid));
        f->saved = malloc((size_t)f->ids * DP_DGRAM);
        f->saved_len = calloc(f->ids, sizeof(*f->saved_len));
        f->retry_at = calloc(f->ids, sizeof(*f->retry_at));
        f->rto_ms = calloc(f->ids, sizeof(*f->rto_ms));
        if (!f->byid || !f->saved || !f->saved_len || !f->retry_at || !f->rto_ms)
            return -1;
    }
    return 0;
}

static void dp_lcore_free(struct dp_lcore *l)
{
    for (uint32_t fi = 0; l->fl && fi < l->e->o.flows; fi++) {
        free(l->fl[fi].byid);
        free(l->fl[fi].saved);
        free(l->fl[fi].saved_len);
        free(l->fl[fi].retry_at);
        free(l->fl[fi].rto_ms);
    }
    free(l->fl);
}

static void dp_merge(struct pg_engine *dst, const struct pg_engine *src)
{
    const uint64_t *a = (const uint64_t *)&src->run, *b = (const uint64_t *)&src->total;
    uint64_t *x = (uint64_t *)&dst->run, *y = (uint64_t *)&dst->total;
    for (size_t i = 0; i < sizeof(src->run) / sizeof(uint64_t); i++) {
        x[i] += a[i];
        y[i] += b[i];
    }
    hist_merge(&dst->lat, &src->lat);
    dst->stalls.measured |= src->stalls.measured;
    dst->stalls.count += src->stalls.count;
    dst->stalls.total_ns += src->stalls.total_ns;
    dst->stalls.max_ns = HP_MAX(dst->stalls.max_ns, src->stalls.max_ns);
    dst->stalls.preempted += src->stalls.preempted;
    if (dst->have_model && src->have_model) {
        /* the lcores' models cover disjoint keys: their findings add up */
        dst->model.checked += src->model.checked;
        dst->model.mismatches += src->model.mismatches;
        dst->model.refused_sets += src->model.refused_sets;
        if (!dst->model.first_error[0])
            memcpy(dst->model.first_error, src->model.first_error, sizeof(dst->model.first_error));
    }
    dst->loaded += src->loaded;
    dst->verified += src->verified;
    dst->load_s = HP_MAX(dst->load_s, src->load_s);
    if (!dst->fatal[0] && src->fatal[0])
        memcpy(dst->fatal, src->fatal, sizeof(dst->fatal));
}

/* Splits "a b c" into argv (modified in place); returns argc or -1. */
static int split_words(char *s, char **argv, int cap)
{
    int n = 0;
    argv[n++] = (char *)"hotpath-pktgen";
    for (char *tok = strtok(s, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (n >= cap - 1)
            return -1;
        argv[n++] = tok;
    }
    argv[n] = NULL;
    return n;
}

static int dp_port_setup(const struct pg_dpdk_opts *d, uint16_t nq, struct rte_mempool *mp,
                         char *err, size_t cap)
{
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    struct rte_eth_dev_info info;
    if (!rte_eth_dev_is_valid_port(d->port_id) || rte_eth_dev_info_get(d->port_id, &info) != 0) {
        snprintf(err, cap, "DPDK port %u does not exist (give a --vdev or a PCI device in --eal)",
                 d->port_id);
        return -1;
    }
    if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
        snprintf(err, cap, "port %u (%s) has %u RX / %u TX queues, %u needed (one per lcore)",
                 d->port_id, info.driver_name, info.max_rx_queues, info.max_tx_queues, nq);
        return -1;
    }
    int rc = rte_eth_dev_configure(d->port_id, nq, nq, &conf);
    for (uint16_t q = 0; rc == 0 && q < nq; q++) {
        rc = rte_eth_rx_queue_setup(d->port_id, q, DP_RING, rte_eth_dev_socket_id(d->port_id),
                                    NULL, mp);
        if (rc == 0)
            rc = rte_eth_tx_queue_setup(d->port_id, q, DP_RING,
                                        rte_eth_dev_socket_id(d->port_id), NULL);
    }
    if (rc == 0)
        rc = rte_eth_dev_start(d->port_id);
    if (rc != 0) {
        snprintf(err, cap, "port %u setup failed: %s", d->port_id, rte_strerror(-rc));
        return -1;
    }
    if (rte_eth_promiscuous_enable(d->port_id) != 0) {
        /* memif and some PMDs have no promiscuous mode: frames are ours anyway */
    }
    return 0;
}

static void dp_wait_link(uint16_t port_id, double secs)
{
    uint64_t until = pg_now_ns() + (uint64_t)(secs * 1e9);
    struct rte_eth_link link;
    while (pg_now_ns() < until) {
        if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status)
            return;
        rte_delay_ms(20);
    }
}

int pg_dpdk_run(struct pg_engine *merged, const struct pg_dpdk_opts *dopts)
{
    static char eal_buf[2048];
    static char *eal_argv[128];
    struct pg_dpdk_opts d = *dopts;
    snprintf(eal_buf, sizeof(eal_buf), "%s", d.eal ? d.eal : "");
    int eal_argc = split_words(eal_buf, eal_argv, (int)HP_ARRAY_LEN(eal_argv));
    if (eal_argc < 0) {
        snprintf(merged->fatal, sizeof(merged->fatal), "too many EAL words");
        return -1;
    }
    if (rte_eal_init(eal_argc, eal_argv) < 0) {
        snprintf(merged->fatal, sizeof(merged->fatal), "rte_eal_init failed: %s",
                 rte_strerror(rte_errno));
        return -1;
    }
    /* The main lcore works too (rather than spin in rte_eal_mp_wait_lcore
     * on a CPU a worker lcore may share on a small machine). */
    uint32_t nl = rte_lcore_count();
    const struct pg_opts *o = &merged->o;
    int rc = -1;
    if (nl > DP_MAX_LCORES || o->flows < nl || (o->steer && nl != o->shards) ||
        (nl > 1 && o->shards != nl && !dopts->reflector)) {
        snprintf(merged->fatal, sizeof(merged->fatal),
                 "%u lcores: need at most %d, flows >= lcores, and with several lcores "
                 "--shards equal to the lcores (lcore q makes shard q's requests)",
                 nl, DP_MAX_LCORES);
        goto out_eal;
    }
    if (HPPROTO_HDR_LEN + pg_max_request_bytes(merged) > DP_DGRAM) {
        /* one datagram per request and no fragmentation of requests here */
        snprintf(merged->fatal, sizeof(merged->fatal),
                 "a request of %zu bytes does not fit one %d-byte datagram: lower --cmds, "
                 "--value-size or --mget-batch", pg_max_request_bytes(merged), DP_DGRAM);
        goto out_eal;
    }
    d.total_flows = o->flows;
    struct rte_mempool *mp = rte_pktmbuf_pool_create("pg_mbufs", 8191 * nl + 4096, 256, 0,
                                                     RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (!mp) {
        snprintf(merged->fatal, sizeof(merged->fatal), "mbuf pool: %s (raise -m in --eal)",
                 rte_strerror(rte_errno));
        goto out_eal;
    }
    if (dp_port_setup(&d, (uint16_t)nl, mp, merged->fatal, sizeof(merged->fatal)) != 0)
        goto out_eal;
    dp_wait_link(d.port_id, 5.0);
    static struct dp_lcore lc[DP_MAX_LCORES];
    static struct pg_engine *eng[DP_MAX_LCORES];
    static rte_spinlock_t txlock[DP_MAX_LCORES];
    for (uint32_t i = 0; i < nl; i++)
        rte_spinlock_init(&txlock[i]);
    uint32_t base = 0;
    for (uint32_t i = 0; i < nl; i++) {
        if (nl == 1) {
            eng[i] = merged;
        } else {
            struct pg_opts oi = *o;
            oi.flows = o->flows / nl + (i < o->flows % nl);
            oi.wl.seed = o->wl.seed * 1000003 + i;
            oi.progress = i == 0 && o->progress;
            oi.fixed_shard = d.reflector ? -1 : (int32_t)i;
            char err[256];
            eng[i] = calloc(1, sizeof(struct pg_engine));
            if (!eng[i] || pg_engine_init(eng[i], &oi, err, sizeof(err)) != 0) {
                snprintf(merged->fatal, sizeof(merged->fatal), "lcore %u: %s", i, err);
                goto out_port;
            }
        }
        if (dp_lcore_init(&lc[i], eng[i], &d, (uint16_t)i, (uint16_t)nl, base, mp, txlock) !=
            0) {
            snprintf(merged->fatal, sizeof(merged->fatal), "lcore %u: out of memory", i);
            goto out_port;
        }
        base += eng[i]->o.flows;
    }
    uint32_t launched = 1;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (rte_eal_remote_launch(dp_lcore_main, &lc[launched], lcore) != 0) {
            snprintf(merged->fatal, sizeof(merged->fatal), "cannot launch lcore %u", lcore);
            break;
        }
        launched++;
    }
    if (launched == nl)
        dp_lcore_main(&lc[0]);
    rte_eal_mp_wait_lcore();
    if (launched != nl)
        goto out_port;
    for (uint32_t i = 0; nl > 1 && i < nl; i++)
        dp_merge(merged, eng[i]);
    rc = 0;
out_port:
    for (uint32_t i = 0; i < nl; i++) {
        if (lc[i].e)
            dp_lcore_free(&lc[i]);
        if (eng[i] && eng[i] != merged) {
            pg_engine_free(eng[i]);
            free(eng[i]);
        }
    }
    rte_eth_dev_stop(d.port_id);
    rte_eth_dev_close(d.port_id);
out_eal:
    rte_eal_cleanup();
    return rc;
}
