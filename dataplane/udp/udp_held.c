/*
 * udp_held.c - durable acknowledgement (appendfsync always): a write
 * datagram's reply is held (FIFO, UDP_HELD_MAX and UDP_HELD_BYTES) until
 * persist.c says its writes are on disk, then kept and sent.
 */

#include "udp_internal.h"

/* ---- durable acknowledgement (appendfsync always) --------------------------------- */

/* Is this request's reply held, waiting for its writes to be durable? */
bool udp_held_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid)
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
bool udp_held_admit(struct worker *w)
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
    uint32_t si = udp_sess_find(u, ctx->info.src_ip, ctx->info.src_port, ctx->hdr.session_id);
    if (si != UDP_NONE)
        udp_sess_keep(u, &u->sess[si], ctx->hdr.request_id, u->out.data, total);
    /* Commands always reply, so total >= 3 bytes. */
    udp_send_reply(w, ctx, u->out.data, total, offer, reuse);
}

/*
 * After a datagram ran: with appendfsync always and records logged, the
 * reply waits (not kept, not sent) until persist.c calls udp_held_release;
 * a retransmission meanwhile is dropped as in flight.  Otherwise it is
 * kept and sent now.
 */
void udp_reply_or_hold(struct worker *w, const struct udp_pkt *ctx, uint64_t offer,
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
    uint32_t si = udp_sess_find(u, hd->ctx.info.src_ip, hd->ctx.info.src_port,
                                hd->ctx.hdr.session_id);
    if (si != UDP_NONE)
        udp_sess_keep(u, &u->sess[si], hd->ctx.hdr.request_id, hd->data, hd->len);
    struct rte_mbuf *none = NULL;
    udp_send_reply(w, &hd->ctx, hd->data, hd->len, hd->offer, &none);
    free(hd->data);
    hd->data = NULL;
}

void udp_held_free_all(struct udp_worker *u)
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
