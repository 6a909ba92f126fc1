/*
 * xgrant.h - the order in which one worker's multi-shard ops acquire shards
 * and run (xshard_grant.c).  Pure bookkeeping over shard masks and op ids:
 * no rings, no shards, so the unit test drives it directly.
 *
 * Ops queue in arrival order (a FIFO of at most XOP_MAX).  The ops at the
 * front form a *round*: the worker acquires the union of their shards one
 * at a time in ascending shard id (the total order that rules out deadlock
 * between coordinators: a round holds only shards below the one it waits
 * for), then runs every op of the round in FIFO order and releases.  An op
 * arriving while a round acquires joins it only if that keeps the order:
 * every shard it adds lies above the one being waited for, and no earlier op
 * is queued outside the round (FIFO, so no op waits forever).  Otherwise it
 * waits for the next round, which takes every queued op at once.
 *
 * A *solo* op has a round to itself: it joins none and none joins its.
 * Nothing sets it today (multi-shard writes share rounds: their records are
 * logged as one group each); it is there for bodies that must run alone.
 */
#ifndef HP_XGRANT_H
#define HP_XGRANT_H

#include <stdbool.h>
#include <stdint.h>

#define XOP_MAX 16           /* hand-over ops one worker has in flight */
#define XG_NONE UINT32_MAX

struct xgrant {
    uint64_t want;           /* shards of the current round */
    uint64_t held;           /* of those, granted so far (a subset of want) */
    uint32_t asked;          /* shard whose grant is awaited, or XG_NONE */
    uint32_t q[XOP_MAX];     /* op ids in arrival order (ring) */
    uint64_t qneed[XOP_MAX]; /* their shard masks */
    bool qsolo[XOP_MAX];     /* a round of its own */
    bool round_solo;         /* the current round is one solo op */
    uint32_t head, n;        /* queued ops */
    uint32_t nround;         /* the first nround queued ops form the round */
    uint32_t nrun;           /* of those, already handed out by xgrant_pop */
};

void xgrant_init(struct xgrant *g);
bool xgrant_full(const struct xgrant *g);
uint32_t xgrant_queued(const struct xgrant *g);
/* Would an op needing `need` join the current round (or start one)? */
bool xgrant_can_join(const struct xgrant *g, uint64_t need, bool solo);
/* Queue op `id` (need != 0, !xgrant_full); it joins the round if it can. */
void xgrant_push(struct xgrant *g, uint32_t id, uint64_t need, bool solo);
/* With no round: make the queued ops the next round (up to a solo one, or
 * the solo one alone when it is first).  False: none queued. */
bool xgrant_begin(struct xgrant *g);
/* The shard to acquire next (lowest of want & ~held), XG_NONE when the
 * round holds everything (or there is no round). */
uint32_t xgrant_next(const struct xgrant *g);
void xgrant_ask(struct xgrant *g, uint32_t shard);      /* its grant is awaited */
void xgrant_granted(struct xgrant *g, uint32_t shard);  /* the asked shard is ours */
/* Every shard held: the next op of the round to run, XG_NONE when all ran. */
uint32_t xgrant_pop(struct xgrant *g);
/* After the round ran: the mask to release; the round is gone. */
uint64_t xgrant_end(struct xgrant *g);
bool xgrant_in_round(const struct xgrant *g);

#endif
