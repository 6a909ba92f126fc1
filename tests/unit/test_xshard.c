/*
 * test_xshard.c - the hand-over's order of acquisition (core/xshard_grant.c):
 * rounds, joining, FIFO, the XOP_MAX limit, and a simulation of several
 * coordinators and shard owners exchanging PARK/PARKED/RELEASE in random
 * order, whose test bodies run over several shards and check that they hold
 * every one of them alone, that each worker's ops run in arrival order, and
 * that nothing deadlocks or starves.
 */
#include "cu_main.h"

#include <stdlib.h>
#include <string.h>

#include "../../dataplane/core/xgrant.h"

/* ---- one coordinator ------------------------------------------------------ */

static void test_round_takes_queued_ops(void)
{
    struct xgrant g;
    xgrant_init(&g);
    CU_ASSERT_TRUE(xgrant_can_join(&g, 0x3, false));
    xgrant_push(&g, 7, 0x3, false);
    CU_ASSERT_FALSE(xgrant_in_round(&g)); /* the caller begins it */
    xgrant_push(&g, 8, 0x4, false);
    CU_ASSERT_TRUE(xgrant_begin(&g));
    CU_ASSERT_EQUAL(g.want, 0x7);
    CU_ASSERT_EQUAL(xgrant_next(&g), 0);
    xgrant_ask(&g, 0);
    CU_ASSERT_EQUAL(xgrant_next(&g), 0); /* still missing, asked */
    xgrant_granted(&g, 0);
    CU_ASSERT_EQUAL(xgrant_next(&g), 1);
    xgrant_ask(&g, 1);
    xgrant_granted(&g, 1);
    xgrant_ask(&g, 2);
    xgrant_granted(&g, 2);
    CU_ASSERT_EQUAL(xgrant_next(&g), XG_NONE);
    CU_ASSERT_EQUAL(xgrant_pop(&g), 7u);
    CU_ASSERT_EQUAL(xgrant_pop(&g), 8u);
    CU_ASSERT_EQUAL(xgrant_pop(&g), XG_NONE);
    CU_ASSERT_EQUAL(xgrant_end(&g), 0x7);
    CU_ASSERT_FALSE(xgrant_in_round(&g));
    CU_ASSERT_EQUAL(xgrant_queued(&g), 0u);
    CU_ASSERT_FALSE(xgrant_begin(&g));
}

static void test_join_keeps_ascending_order(void)
{
    struct xgrant g;
    xgrant_init(&g);
    xgrant_push(&g, 0, 0x5, false); /* shards 0 and 2 */
    CU_ASSERT_TRUE(xgrant_begin(&g));
    xgrant_ask(&g, 0);
    xgrant_granted(&g, 0);
    xgrant_ask(&g, 2);                /* waiting for shard 2, holding 0 */
    CU_ASSERT_TRUE(xgrant_can_join(&g, 0x5, false));   /* adds nothing */
    CU_ASSERT_TRUE(xgrant_can_join(&g, 0x9, false));   /* adds 3 > 2 */
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x2, false));  /* adds 1 < 2: would break the order */
    xgrant_push(&g, 1, 0x9, false);
    CU_ASSERT_EQUAL(g.nround, 2u);
    CU_ASSERT_EQUAL(g.want, 0xd);
    xgrant_push(&g, 2, 0x2, false);          /* deferred to the next round */
    CU_ASSERT_EQUAL(g.nround, 2u);
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x1, false)); /* FIFO: op 2 waits outside */
    xgrant_push(&g, 3, 0x1, false);
    CU_ASSERT_EQUAL(g.nround, 2u);
    xgrant_granted(&g, 2);
    xgrant_ask(&g, 3);
    xgrant_granted(&g, 3);
    CU_ASSERT_EQUAL(xgrant_pop(&g), 0u);
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x1, false)); /* the round runs */
    CU_ASSERT_EQUAL(xgrant_pop(&g), 1u);
    CU_ASSERT_EQUAL(xgrant_pop(&g), XG_NONE);
    CU_ASSERT_EQUAL(xgrant_end(&g), 0xd);
    CU_ASSERT_TRUE(xgrant_begin(&g));   /* the deferred ones, together */
    CU_ASSERT_EQUAL(g.want, 0x3);
    CU_ASSERT_EQUAL(g.nround, 2u);
}

static void test_limit(void)
{
    struct xgrant g;
    xgrant_init(&g);
    for (uint32_t i = 0; i < XOP_MAX; i++) {
        CU_ASSERT_FALSE(xgrant_full(&g));
        xgrant_push(&g, i, 1ull << (i % 3), false);
    }
    CU_ASSERT_TRUE(xgrant_full(&g));
    CU_ASSERT_EQUAL(xgrant_queued(&g), (uint32_t)XOP_MAX);
    CU_ASSERT_TRUE(xgrant_begin(&g));
    for (uint32_t s = 0; s < 3; s++) {
        xgrant_ask(&g, s);
        xgrant_granted(&g, s);
    }
    for (uint32_t i = 0; i < XOP_MAX; i++)
        CU_ASSERT_EQUAL(xgrant_pop(&g), i);
    xgrant_end(&g);
    CU_ASSERT_FALSE(xgrant_full(&g)); /* room again once the round ran */
}

static void test_solo_round(void)
{
    struct xgrant g;
    xgrant_init(&g);
    xgrant_push(&g, 0, 0x3, false);
    xgrant_push(&g, 1, 0x3, true);   /* solo: not in the first round */
    xgrant_push(&g, 2, 0x3, false);
    CU_ASSERT_TRUE(xgrant_begin(&g));
    CU_ASSERT_EQUAL(g.nround, 1u);   /* stops before the solo op */
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x3, true));
    for (uint32_t s = 0; s < 2; s++) {
        xgrant_ask(&g, s);
        xgrant_granted(&g, s);
    }
    CU_ASSERT_EQUAL(xgrant_pop(&g), 0u);
    CU_ASSERT_EQUAL(xgrant_pop(&g), XG_NONE);
    xgrant_end(&g);
    CU_ASSERT_TRUE(xgrant_begin(&g));
    CU_ASSERT_EQUAL(g.nround, 1u);   /* the solo op alone */
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x3, false)); /* nobody joins it */
    for (uint32_t s = 0; s < 2; s++) {
        xgrant_ask(&g, s);
        xgrant_granted(&g, s);
    }
    CU_ASSERT_EQUAL(xgrant_pop(&g), 1u);
    CU_ASSERT_EQUAL(xgrant_pop(&g), XG_NONE);
    xgrant_end(&g);
    CU_ASSERT_TRUE(xgrant_begin(&g));
    CU_ASSERT_EQUAL(g.nround, 1u);
    CU_ASSERT_EQUAL(g.want, 0x3);
    /* Nothing else queued: only soloness keeps them apart. */
    CU_ASSERT_TRUE(xgrant_can_join(&g, 0x3, false));
    CU_ASSERT_FALSE(xgrant_can_join(&g, 0x3, true));
    struct xgrant h;
    xgrant_init(&h);
    xgrant_push(&h, 5, 0x3, true);
    CU_ASSERT_TRUE(xgrant_begin(&h));
    CU_ASSERT_FALSE(xgrant_can_join(&h, 0x3, false));
    xgrant_push(&h, 6, 0x3, false);
    CU_ASSERT_EQUAL(h.nround, 1u);
}

/* ---- several coordinators and owners, messages in random order ---------- */

#define SIM_W 4
#define SIM_OPS 400            /* per worker */
#define SIM_EVENTS 4096

enum ev_kind { EV_PARK, EV_PARKED, EV_RELEASE };

struct ev {
    enum ev_kind kind;
    uint32_t from, to, shard;
};

struct sim_shard {
    int holder;                 /* -1 free */
    uint32_t fifo[SIM_W + 1];   /* waiting coordinators */
    uint32_t head, n;
    uint32_t writes;            /* by bodies */
};

struct sim {
    struct xgrant g[SIM_W];
    uint64_t need[SIM_W][XOP_MAX];
    uint32_t seq[SIM_W][XOP_MAX];    /* arrival number of the op in that slot */
    bool busy[SIM_W][XOP_MAX];
    bool solo[SIM_W][XOP_MAX];
    uint32_t submitted[SIM_W], ran[SIM_W];
    struct sim_shard sh[SIM_W];
    struct ev ev[SIM_EVENTS];
    uint32_t nev;
    bool in_round_run[SIM_W];
    uint32_t bad;               /* violations seen by bodies */
    uint32_t max_fifo;
    unsigned rnd;
};

static uint32_t sim_rand(struct sim *s, uint32_t n)
{
    s->rnd = s->rnd * 1103515245u + 12345u;
    return (s->rnd >> 8) % n;
}

static void sim_post(struct sim *s, enum ev_kind k, uint32_t from, uint32_t to, uint32_t shard)
{
    CU_ASSERT_FATAL(s->nev < SIM_EVENTS);
    s->ev[s->nev++] = (struct ev){k, from, to, shard};
}

/* The owner side: the shard goes to `w` now or when its turn comes. */
static bool sim_park(struct sim *s, uint32_t w, uint32_t shard)
{
    struct sim_shard *sh = &s->sh[shard];
    if (sh->holder < 0) {
        sh->holder = (int)w;
        return true;
    }
    CU_ASSERT_FATAL(sh->n < SIM_W + 1);
    sh->fifo[(sh->head + sh->n) % (SIM_W + 1)] = w;
    sh->n++;
    if (sh->n > s->max_fifo)
        s->max_fifo = sh->n;
    return false;
}

static void sim_grant_next(struct sim *s, uint32_t shard);

/* The test body: runs over every shard of its op; each must be ours. */
static void sim_body(struct sim *s, uint32_t w, uint32_t slot, uint64_t held)
{
    uint64_t need = s->need[w][slot];
    if ((need & ~held) != 0)
        s->bad++;
    for (uint32_t sh = 0; sh < SIM_W; sh++) {
        if (!(need & (1ull << sh)))
            continue;
        if (s->sh[sh].holder != (int)w)
            s->bad++;
        s->sh[sh].writes++;
    }
    /* A solo op runs in a round of its own. */
    if (s->solo[w][slot] && s->g[w].nround != 1)
        s->bad++;
    /* FIFO per coordinator: ops run in the order they arrived. */
    if (s->seq[w][slot] != s->ran[w])
        s->bad++;
    s->ran[w]++;
    s->busy[w][slot] = false;
}

static void sim_advance(struct sim *s, uint32_t w);

static void sim_release(struct sim *s, uint32_t w, uint32_t shard)
{
    CU_ASSERT(s->sh[shard].holder == (int)w);
    if (shard == w) {
        sim_grant_next(s, shard);
        return;
    }
    sim_post(s, EV_RELEASE, w, shard, shard);
}

static void sim_grant_next(struct sim *s, uint32_t shard)
{
    struct sim_shard *sh = &s->sh[shard];
    sh->holder = -1;
    if (sh->n == 0)
        return;
    uint32_t w = sh->fifo[sh->head];
    sh->head = (sh->head + 1) % (SIM_W + 1);
    sh->n--;
    sh->holder = (int)w;
    if (w == shard) {
        xgrant_granted(&s->g[w], shard);
        sim_advance(s, w);
    } else {
        sim_post(s, EV_PARKED, shard, w, shard);
    }
}

static void sim_advance(struct sim *s, uint32_t w)
{
    struct xgrant *g = &s->g[w];
    for (;;) {
        if (!xgrant_in_round(g) && !xgrant_begin(g))
            return;
        if (g->asked != XG_NONE)
            return;
        uint32_t sh = xgrant_next(g);
        if (sh == XG_NONE) {
            uint64_t held = g->held;
            s->in_round_run[w] = true;
            for (uint32_t id = xgrant_pop(g); id != XG_NONE; id = xgrant_pop(g))
                sim_body(s, w, id, held);
            s->in_round_run[w] = false;
            uint64_t rel = xgrant_end(g);
            for (uint32_t i = 0; i < SIM_W; i++)
                if (rel & (1ull << i))
                    sim_release(s, w, i);
            continue;
        }
        xgrant_ask(g, sh);
        if (sh == w) {
            if (!sim_park(s, w, sh))
                return;
            xgrant_granted(g, sh);
            continue;
        }
        sim_post(s, EV_PARK, w, sh, sh);
        return;
    }
}

static void sim_submit(struct sim *s, uint32_t w)
{
    struct xgrant *g = &s->g[w];
    if (xgrant_full(g))
        return; /* waits: tried again on a later step */
    uint32_t slot = 0;
    while (s->busy[w][slot])
        slot++;
    CU_ASSERT_FATAL(slot < XOP_MAX);
    uint64_t need = 0;
    while ((need & (need - 1)) == 0) /* at least two shards */
        need |= 1ull << sim_rand(s, SIM_W);
    s->need[w][slot] = need;
    s->seq[w][slot] = s->submitted[w]++;
    s->busy[w][slot] = true;
    s->solo[w][slot] = sim_rand(s, 8) == 0;
    xgrant_push(g, slot, need, s->solo[w][slot]);
    sim_advance(s, w);
}

static void sim_deliver(struct sim *s)
{
    uint32_t i = sim_rand(s, s->nev);
    struct ev e = s->ev[i];
    s->ev[i] = s->ev[--s->nev];
    switch (e.kind) {
    case EV_PARK:
        if (sim_park(s, e.from, e.shard))
            sim_post(s, EV_PARKED, e.to, e.from, e.shard);
        break;
    case EV_PARKED:
        xgrant_granted(&s->g[e.to], e.shard);
        sim_advance(s, e.to);
        break;
    case EV_RELEASE:
        sim_grant_next(s, e.shard);
        break;
    }
}

static void sim_run(unsigned seed)
{
    struct sim *s = calloc(1, sizeof(*s));
    CU_ASSERT_FATAL(s != NULL);
    s->rnd = seed;
    for (uint32_t w = 0; w < SIM_W; w++) {
        xgrant_init(&s->g[w]);
        s->sh[w].holder = -1;
    }
    uint64_t steps = 0;
    for (;;) {
        bool more = false;
        for (uint32_t w = 0; w < SIM_W; w++)
            more |= s->submitted[w] < SIM_OPS;
        if (more && (s->nev == 0 || sim_rand(s, 3) == 0)) {
            uint32_t w = sim_rand(s, SIM_W);
            if (s->submitted[w] < SIM_OPS)
                sim_submit(s, w);
        } else if (s->nev > 0) {
            sim_deliver(s);
        } else if (!more) {
            break;
        }
        CU_ASSERT_FATAL(++steps < 10000000ull);
    }
    /* Nothing in flight and every op ran: no deadlock, no starvation. */
    for (uint32_t w = 0; w < SIM_W; w++) {
        CU_ASSERT_EQUAL(s->ran[w], SIM_OPS);
        CU_ASSERT_EQUAL(xgrant_queued(&s->g[w]), 0u);
        CU_ASSERT_EQUAL(s->sh[w].holder, -1);
    }
    CU_ASSERT_EQUAL(s->bad, 0u);
    CU_ASSERT(s->max_fifo <= SIM_W); /* one PARK per coordinator, plus the owner */
    uint32_t writes = 0;
    for (uint32_t w = 0; w < SIM_W; w++)
        writes += s->sh[w].writes;
    CU_ASSERT(writes >= SIM_W * SIM_OPS * 2); /* every body touched >= 2 shards */
    free(s);
}

static void test_sim_many_coordinators(void)
{
    for (unsigned seed = 1; seed <= 50; seed++)
        sim_run(seed);
}

static CU_TestInfo grant_tests[] = {
    {"round takes the queued ops", test_round_takes_queued_ops},
    {"joining keeps ascending order and FIFO", test_join_keeps_ascending_order},
    {"XOP_MAX ops, then room again", test_limit},
    {"a solo op has a round of its own", test_solo_round},
    {"several coordinators, random delivery", test_sim_many_coordinators},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"xgrant", NULL, NULL, NULL, NULL, grant_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
