/*
 * udp_rx.c - the UDP dataplane's receive side: per packet, pkt_parse
 * (headers, checksums, lengths), ARP / ICMP echo answered in place, the
 * client subnet, our header, the cookie, then the owner shard (a scan of
 * the RESP in the mbuf) and the hand-over when it is another worker's;
 * and the burst's prefetch hints.
 */

#include "udp_internal.h"

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
 * there is none.  Any scan failure: ours, where udp_parse_all reports it. */
static uint32_t owner_of(struct worker *w, const struct udp_pkt *ctx, const uint8_t *p)
{
    struct udp_worker *u = w->udp;
    /* One shard: every answer below would be ours; skip the scan and the
     * key hash (udp_serve() parses the datagram anyway). */
    if (w->rt->nworkers == 1)
        return w->id;
    size_t pos = 0;
    for (uint16_t i = 0; i < ctx->hdr.cmd_count; i++) {
        int argc;
        if (udp_scan_cmd(p, ctx->payload_len, &pos, u->argv, &argc, INT64_MAX) != SCAN_OK)
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
void udp_rx_prefetch(struct worker *w, struct rte_mbuf **pkts, uint16_t n)
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
        udp_send_status(w, ctx, HPPROTO_ST_VERSION, false, 0, &reuse);
        goto out;
    }
    if (e != HPPROTO_OK || (ctx->hdr.flags & HPPROTO_F_REPLY)) {
        st->bad_header++;
        st->hdr_err[e]++;
        goto drop;
    }
    udp_cookie_refresh(u, w->now_ms);
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
        udp_send_status(w, ctx, HPPROTO_ST_COOKIE, false,
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
        udp_serve_or_defer(w, m);
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

void udp_rx_one(struct worker *w, uint32_t pi, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    struct udp_port *port = &u->rt->ports[pi];
    struct udp_stats *st = &u->stats[pi];
    struct udp_pkt *ctx = udp_pkt_ctx(m);
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
            udp_tx_push(w, pi, m);
            return;
        }
        break;
    default:
        break;
    }
    rte_pktmbuf_free(m);
}
