/*
 * udp_multi.c - datagrams whose commands touch other shards: queued (FIFO,
 * UDP_MULTI_MAX) for a hand-over op (core/xshard_op.c) whose body runs the
 * whole datagram once every shard involved is held.
 */

#include "udp_internal.h"

static bool same_request(struct rte_mbuf *m, const struct udp_pkt *ctx, uint64_t rid)
{
    const struct udp_pkt *o = udp_pkt_ctx(m);
    return o->hdr.request_id == rid && o->hdr.session_id == ctx->hdr.session_id &&
           o->info.src_ip == ctx->info.src_ip && o->info.src_port == ctx->info.src_port;
}

static enum xop_rc multi_body(struct worker *w, struct xop *op, uint64_t held, void *arg);
static void udp_run_held(struct worker *w, struct rte_mbuf *m, uint64_t held);
static bool udp_held_ready(struct worker *w, struct rte_mbuf *m, uint64_t held);

/* Is this request queued for, or running under, a multi-shard op? */
bool udp_multi_pending(const struct worker *w, const struct udp_pkt *ctx, uint64_t rid)
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
void udp_multi_kick(struct worker *w)
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
        xop_submit(w, op, udp_pkt_ctx(m)->need, multi_body, m);
    }
}

void udp_multi_free_all(struct udp_worker *u)
{
    for (; u->nmulti > 0; u->nmulti--) {
        struct rte_mbuf *m = u->multi[u->multi_head];
        u->multi_head = (u->multi_head + 1) % UDP_MULTI_MAX;
        free(udp_pkt_ctx(m)->lin);
        rte_pktmbuf_free(m);
    }
}

static bool udp_held_ready(struct worker *w, struct rte_mbuf *m, uint64_t held)
{
    if (w->rt->persist == NULL)
        return true;
    const struct udp_pkt *ctx = udp_pkt_ctx(m);
    const uint8_t *payload = udp_pkt_payload(m, ctx);
    if (!udp_dgram_writes(w, payload, ctx->payload_len, ctx->hdr.cmd_count))
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
    struct udp_pkt copy = *udp_pkt_ctx(m);
    struct udp_pkt *ctx = &copy;
    const struct hpproto_hdr *h = &ctx->hdr;
    struct udp_stats *st = &u->stats[ctx->port_idx];
    bool single = m->nb_segs == 1 && ctx->lin == NULL;
    struct rte_mbuf *reuse = single ? m : NULL;
    udp_cookie_refresh(u, w->now_ms);
    uint64_t offer = ctx->fresh_cookie ? hpproto_cookie_make(&u->keys, ctx->info.src_ip,
                                                             ctx->info.src_port, h->session_id)
                                       : 0;
    udp_execute_all(w, udp_pkt_payload(m, ctx), ctx->payload_len, h->cmd_count, held);
    st->ops += h->cmd_count;
    udp_reply_or_hold(w, ctx, offer, &reuse);
    udp_tx_flush_port(w, ctx->port_idx);
    free(ctx->lin);
    if (!single)
        rte_pktmbuf_free(m);
    else if (reuse != NULL)
        rte_pktmbuf_free(reuse);
}
