/*
 * xshard_grant.c - rounds of shard acquisition for a worker's multi-shard
 * ops (see xgrant.h for the rules).  The invariants asserted here are what
 * keeps the hand-over free of deadlock and starvation:
 *   held is a subset of want, and every shard of want below the awaited
 *   one is held (ascending acquisition);
 *   a joining op only adds shards above the awaited one;
 *   ops run in arrival order (the round is a prefix of the FIFO);
 *   a solo op's round holds that op only.
 */
#include "xgrant.h"

#include <string.h>

#include "../../common/hp_common.h"

static uint64_t below(uint32_t s) { return s >= 64 ? ~0ull : (1ull << s) - 1; }

void xgrant_init(struct xgrant *g)
{
    memset(g, 0, sizeof(*g));
    g->asked = XG_NONE;
}

bool xgrant_full(const struct xgrant *g) { return g->n == XOP_MAX; }

uint32_t xgrant_queued(const struct xgrant *g) { return g->n; }

bool xgrant_in_round(const struct xgrant *g) { return g->nround > 0; }

/* The highest shard the round has asked for or holds; -1: none yet. */
static int frontier(const struct xgrant *g)
{
    if (g->asked != XG_NONE)
        return (int)g->asked;
    if (g->held == 0)
        return -1;
    return 63 - __builtin_clzll(g->held);
}

bool xgrant_can_join(const struct xgrant *g, uint64_t need, bool solo)
{
    if (g->nround == 0)
        return g->n == 0; /* it starts the next round itself */
    if (g->nround != g->n || g->nrun > 0)
        return false;     /* an earlier op waits outside, or the round runs */
    if (solo || g->round_solo)
        return false;
    uint64_t add = need & ~g->want;
    if (add == 0)
        return true;
    return (int)__builtin_ctzll(add) > frontier(g);
}

void xgrant_push(struct xgrant *g, uint32_t id, uint64_t need, bool solo)
{
    HP_ASSERT(need != 0);
    HP_ASSERT(!xgrant_full(g));
    bool join = g->nround > 0 && xgrant_can_join(g, need, solo);
    uint32_t at = (g->head + g->n) % XOP_MAX;
    g->q[at] = id;
    g->qneed[at] = need;
    g->qsolo[at] = solo;
    g->n++;
    if (join) {
        g->nround++;
        g->want |= need;
    }
}

bool xgrant_begin(struct xgrant *g)
{
    HP_ASSERT(g->nround == 0);
    HP_ASSERT(g->held == 0 && g->asked == XG_NONE);
    if (g->n == 0)
        return false;
    /* Nothing is held yet, so every queued op may join in order, up to a
     * solo one (which, first, is the round alone). */
    g->want = g->qneed[g->head];
    g->nround = 1;
    g->nrun = 0;
    g->round_solo = g->qsolo[g->head];
    while (!g->round_solo && g->nround < g->n) {
        uint32_t at = (g->head + g->nround) % XOP_MAX;
        if (g->qsolo[at])
            break;
        g->want |= g->qneed[at];
        g->nround++;
    }
    HP_ASSERT(!g->round_solo || g->nround == 1);
    return true;
}

uint32_t xgrant_next(const struct xgrant *g)
{
    uint64_t missing = g->want & ~g->held;
    if (g->nround == 0 || missing == 0)
        return XG_NONE;
    return (uint32_t)__builtin_ctzll(missing);
}

void xgrant_ask(struct xgrant *g, uint32_t shard)
{
    HP_ASSERT(g->asked == XG_NONE);
    HP_ASSERT(shard == xgrant_next(g));
    g->asked = shard;
}

void xgrant_granted(struct xgrant *g, uint32_t shard)
{
    HP_ASSERT(shard == g->asked);
    HP_ASSERT(g->want & (1ull << shard));
    HP_ASSERT(!(g->held & (1ull << shard)));
    /* Ascending order: everything we want below it is held already. */
    HP_ASSERT((g->want & ~g->held & below(shard)) == 0);
    g->held |= 1ull << shard;
    g->asked = XG_NONE;
}

uint32_t xgrant_pop(struct xgrant *g)
{
    HP_ASSERT(g->nround > 0);
    HP_ASSERT(g->held == g->want);
    HP_ASSERT(g->asked == XG_NONE);
    if (g->nrun == g->nround)
        return XG_NONE;
    uint32_t at = (g->head + g->nrun) % XOP_MAX;
    HP_ASSERT((g->qneed[at] & ~g->held) == 0);
    g->nrun++;
    return g->q[at];
}

uint64_t xgrant_end(struct xgrant *g)
{
    HP_ASSERT(g->nround > 0);
    HP_ASSERT(g->nrun == g->nround);
    HP_ASSERT(g->n >= g->nround);
    uint64_t release = g->held;
    g->head = (g->head + g->nround) % XOP_MAX;
    g->n -= g->nround;
    g->nround = g->nrun = 0;
    g->want = g->held = 0;
    g->round_solo = false;
    return release;
}
