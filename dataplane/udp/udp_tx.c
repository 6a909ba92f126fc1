/*
 * udp_tx.c - the UDP dataplane's transmit side: per-port TX bursts (under
 * the queue's spinlock when workers share it), reply datagrams built in
 * place (in the request mbuf when it is one segment), header-only status
 * replies within the amplification bound, and fragmented OK replies.
 */

#include "udp_internal.h"

/* ---- TX --------------------------------------------------------------------- */

void udp_tx_flush_port(struct worker *w, uint32_t p)
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

void udp_tx_push(struct worker *w, uint32_t p, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    u->stats[p].tx_packets++;
    u->stats[p].tx_bytes += m->pkt_len;
    u->tx[p].pkts[u->tx[p].n++] = m;
    if (u->tx[p].n == UDP_BURST)
        udp_tx_flush_port(w, p);
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
    udp_tx_push(w, ctx->port_idx, m);
    return true;
}

/* A header-only reply (any status but OK). */
void udp_send_status(struct worker *w, const struct udp_pkt *ctx, enum hpproto_status st,
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
void udp_send_reply(struct worker *w, const struct udp_pkt *ctx, const uint8_t *data,
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
            udp_tx_flush_port(w, ctx->port_idx);
    }
}

void udp_tx_flush(struct worker *w)
{
    for (uint32_t p = 0; p < w->udp->rt->nports; p++)
        udp_tx_flush_port(w, p);
}
