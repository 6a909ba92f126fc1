/*
 * udp_serve.c - the owner shard's half of a request: session, id window,
 * full parse, admission (durable replies, log room), execute, keep, reply;
 * or wait for our shard (deferred), or for a multi-shard op.
 */

#include "udp_internal.h"

/* The owner's half: session, window, parse, execute, keep, reply. */
void udp_serve(struct worker *w, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    /* A copy: once the mbuf is reused for the reply it may be sent (and
     * recycled) while later fragments still need the request's context. */
    struct udp_pkt copy = *udp_pkt_ctx(m);
    struct udp_pkt *ctx = &copy;
    struct udp_stats *st = &u->stats[ctx->port_idx];
    const struct hpproto_hdr *h = &ctx->hdr;
    const uint8_t *payload = udp_pkt_payload(m, ctx);
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
    uint32_t si = udp_sess_find(u, ctx->info.src_ip, ctx->info.src_port, h->session_id);
    /* An unknown session may start on a later id only while this worker has
     * never evicted a session: then it cannot have executed this one before
     * (a client's ids spread over several shards' tables). */
    if (si == UDP_NONE && !hpproto_window_may_start(h->request_id) && u->evictions > 0) {
        st->session_lost++;
        udp_send_status(w, ctx, HPPROTO_ST_SESSION_LOST, true, offer, &reuse);
        goto done;
    }
    if (si != UDP_NONE) {
        struct udp_session *s = &u->sess[si];
        udp_sess_touch(u, si, w->now_ms);
        enum hpproto_window_verdict v = hpproto_window_check(&s->win, h->request_id);
        if (v == HPPROTO_WIN_TOO_OLD) {
            st->too_old++;
            udp_send_status(w, ctx, HPPROTO_ST_TOO_OLD, true, offer, &reuse);
            goto done;
        }
        if (v == HPPROTO_WIN_DUPLICATE) {
            const struct udp_kept *k = udp_sess_kept(s, h->request_id);
            if (k == NULL && (udp_multi_pending(w, ctx, h->request_id) ||
                              udp_held_pending(w, ctx, h->request_id))) {
                /* Still waiting for its shards or for the disk: the reply
                 * will come, and a later retransmission finds it kept. */
                st->dup_inflight++;
                goto done;
            }
            if (k) {
                st->dup_replays++;
                udp_send_reply(w, ctx, k->data, k->len, offer, &reuse);
            } else {
                st->dup_gone++;
                udp_send_status(w, ctx, HPPROTO_ST_DUP_GONE, true, offer, &reuse);
            }
            goto done;
        }
    }
    enum scan_rc prc = udp_parse_all(w, payload, ctx->payload_len, h->cmd_count);
    if (prc != SCAN_OK) {
        if (prc == SCAN_LIMIT)
            st->limit++;
        else
            st->malformed++;
        udp_send_status(w, ctx, prc == SCAN_LIMIT ? HPPROTO_ST_LIMIT : HPPROTO_ST_MALFORMED, true,
                        offer, &reuse);
        goto done;
    }
    /* Nothing runs unless its reply could be held until durable, and the
     * log can take its records now: its commands cannot wait one by one. */
    if (w->rt->persist != NULL && udp_dgram_writes(w, payload, ctx->payload_len, h->cmd_count)) {
        if (persist_holds_replies(w->rt) && !udp_held_admit(w)) {
            st->held_busy++;
            udp_send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
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
                return; /* m and udp_pkt_ctx(m)->lin stay with the queue */
            }
            st->held_busy++;
            udp_send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
    }
    if (si == UDP_NONE) {
        si = udp_sess_create(u, ctx->info.src_ip, ctx->info.src_port, h->session_id, w->now_ms, st);
        if (si == UDP_NONE) {
            st->busy++;
            udp_send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
    }
    uint64_t need = udp_dgram_mask(w, payload, ctx->payload_len, h->cmd_count);
    if ((need & ~(1ull << w->id)) != 0) {
        if (u->nmulti == UDP_MULTI_MAX) {
            st->busy++;
            udp_send_status(w, ctx, HPPROTO_ST_BUSY, true, offer, &reuse);
            goto done;
        }
        /* Marked now, so that a retransmission while it waits does not run
         * it twice (udp_multi_pending); its reply is kept when it has run. */
        hpproto_window_mark(&u->sess[si].win, h->request_id);
        udp_pkt_ctx(m)->need = need;
        u->multi[(u->multi_head + u->nmulti) % UDP_MULTI_MAX] = m;
        u->nmulti++;
        st->multi_shard++;
        return; /* udp_poll starts it (udp_multi_kick) */
    }
    udp_execute_all(w, payload, ctx->payload_len, h->cmd_count, 1ull << w->id);
    st->ops += h->cmd_count;
    hpproto_window_mark(&u->sess[si].win, h->request_id);
    udp_reply_or_hold(w, ctx, offer, &reuse);
done:
    free(ctx->lin);
    if (!single)
        rte_pktmbuf_free(m);
    else if (reuse != NULL)
        rte_pktmbuf_free(reuse);
}

void udp_serve_or_defer(struct worker *w, struct rte_mbuf *m)
{
    struct udp_worker *u = w->udp;
    if (worker_shard_free(w) && u->ndeferred == 0) {
        udp_serve(w, m);
        return;
    }
    struct udp_stats *st = &u->stats[udp_pkt_ctx(m)->port_idx];
    if (u->ndeferred == UDP_DEFER_MAX) {
        st->defer_full++;
        free(udp_pkt_ctx(m)->lin);
        rte_pktmbuf_free(m);
        return;
    }
    st->deferred++;
    u->deferred[u->ndeferred++] = m;
}

void udp_on_forward(struct worker *w, struct rte_mbuf *m)
{
    HP_ASSERT(w->udp != NULL && m != NULL);
    w->udp->stats[udp_pkt_ctx(m)->port_idx].handed_in++;
    udp_serve_or_defer(w, m);
}
