/* aof_group.c - see aof_group.h. */
#include "aof_group.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

#define GT_BITS 17u                      /* 2^17 slots: load <= 1/2 at OPEN_MAX */
#define GT_SLOTS (1u << GT_BITS)
#define GT_MASK (GT_SLOTS - 1u)
#define GT_LOG_DEAD_MAX 8u               /* dead groups logged one by one */

struct gent {
    uint64_t id;          /* 0: empty slot */
    uint32_t count, seen;
    uint32_t state;       /* AOF_GS_OPEN or AOF_GS_DEAD */
    uint64_t inl;         /* member bits when count <= 64 */
    uint64_t *bits;       /* else (count + 63) / 64 words */
};

struct aof_gtab {
    struct gent *slots;   /* [GT_SLOTS], open addressing, linear probing */
    uint32_t n;           /* used slots (open + dead) */
    uint32_t nopen;
    size_t bits_bytes;
    uint64_t max_id;
};

static uint32_t home(uint64_t id)
{
    return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> (64 - GT_BITS));
}

struct aof_gtab *aof_gtab_new(void)
{
    struct aof_gtab *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->slots = calloc(GT_SLOTS, sizeof(*t->slots));
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void aof_gtab_free(struct aof_gtab *t)
{
    if (t == NULL)
        return;
    for (uint32_t i = 0; i < GT_SLOTS; i++)
        free(t->slots[i].bits);
    free(t->slots);
    free(t);
}

/* Slot holding id, or the empty slot where it would go. */
static uint32_t find(const struct aof_gtab *t, uint64_t id)
{
    uint32_t i = home(id);
    while (t->slots[i].id != 0 && t->slots[i].id != id)
        i = (i + 1) & GT_MASK;
    return i;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void remove_slot(struct aof_gtab *t, uint32_t i)
{
    free(t->slots[i].bits);
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & GT_MASK;
        if (t->slots[j].id == 0)
            break;
        uint32_t k = home(t->slots[j].id);
        bool movable = j > i ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    memset(&t->slots[i], 0, sizeof(t->slots[i]));
    HP_ASSERT(t->n > 0);
    t->n--;
}

__attribute__((format(printf, 3, 4))) static int why_fmt(char *why, size_t cap,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int insert(struct aof_gtab *t, uint32_t i, const struct aof_group *g, char *why,
                  size_t cap)
{
    if (t->n >= AOF_GTAB_OPEN_MAX)
        return why_fmt(why, cap, "more than %u groups are incomplete at once (group %llu)",
                       AOF_GTAB_OPEN_MAX, (unsigned long long)g->id);
    struct gent *e = &t->slots[i];
    memset(e, 0, sizeof(*e));
    if (g->count > 64) {
        size_t bytes = ((size_t)g->count + 63) / 64 * sizeof(uint64_t);
        if (t->bits_bytes + bytes > AOF_GTAB_BITS_MAX)
            return why_fmt(why, cap, "incomplete groups need more than %zu MB of member "
                           "bitmaps (group %llu)", AOF_GTAB_BITS_MAX >> 20,
                           (unsigned long long)g->id);
        e->bits = calloc(1, bytes);
        if (e->bits == NULL)
            return why_fmt(why, cap, "out of memory for group %llu",
                           (unsigned long long)g->id);
        t->bits_bytes += bytes;
    }
    e->id = g->id;
    e->count = g->count;
    e->state = AOF_GS_OPEN;
    t->n++;
    t->nopen++;
    return 0;
}

int aof_gtab_note(struct aof_gtab *t, const struct aof_group *g, char *why, size_t cap)
{
    HP_ASSERT(aof_group_valid(g)); /* the decoder checked the fields */
    if (g->id > t->max_id)
        t->max_id = g->id;
    uint32_t i = find(t, g->id);
    struct gent *e = &t->slots[i];
    if (e->id == 0 && insert(t, i, g, why, cap) != 0)
        return -1;
    if (e->state == AOF_GS_DEAD)
        return why_fmt(why, cap, "group %llu of an earlier run of the server is used again "
                       "(member %u)", (unsigned long long)g->id, g->index);
    if (e->count != g->count)
        return why_fmt(why, cap, "group %llu: members disagree on the group size (%u and %u)",
                       (unsigned long long)g->id, e->count, g->count);
    uint64_t *w = e->bits != NULL ? &e->bits[g->index / 64] : &e->inl;
    uint64_t bit = 1ull << (g->index % 64);
    if ((*w & bit) != 0)
        return why_fmt(why, cap, "group %llu: member %u appears twice",
                       (unsigned long long)g->id, g->index);
    *w |= bit;
    e->seen++;
    HP_ASSERT(e->seen <= e->count);
    if (e->seen == e->count) {
        if (e->bits != NULL)
            t->bits_bytes -= ((size_t)e->count + 63) / 64 * sizeof(uint64_t);
        HP_ASSERT(t->nopen > 0);
        t->nopen--;
        remove_slot(t, i);
    }
    return 0;
}

uint32_t aof_gtab_close_open(struct aof_gtab *t)
{
    uint32_t dead = 0;
    for (uint32_t i = 0; i < GT_SLOTS && t->nopen > 0; i++) {
        struct gent *e = &t->slots[i];
        if (e->id == 0 || e->state != AOF_GS_OPEN)
            continue;
        e->state = AOF_GS_DEAD;
        t->nopen--;
        if (dead < GT_LOG_DEAD_MAX)
            log_warning("AOF: group %llu is incomplete (%u of its %u records are in the log: "
                        "a crash cut it); none of its records is applied",
                        (unsigned long long)e->id, e->seen, e->count);
        dead++;
    }
    HP_ASSERT(t->nopen == 0);
    if (dead > GT_LOG_DEAD_MAX)
        log_warning("AOF: ... %u incomplete groups in all", dead);
    return dead;
}

void aof_gtab_sweep_dead(struct aof_gtab *t)
{
    /* Rare (once per restart boundary): a linear pass, restarting at a slot
     * whenever a deletion shifted another entry into it. */
    for (uint32_t i = 0; i < GT_SLOTS; i++) {
        while (t->slots[i].id != 0 && t->slots[i].state == AOF_GS_DEAD) {
            if (t->slots[i].bits != NULL)
                t->bits_bytes -= ((size_t)t->slots[i].count + 63) / 64 * sizeof(uint64_t);
            remove_slot(t, i);
        }
    }
}

enum aof_gstate aof_gtab_state(const struct aof_gtab *t, uint64_t id)
{
    const struct gent *e = &t->slots[find(t, id)];
    return e->id == 0 ? AOF_GS_COMPLETE : (enum aof_gstate)e->state;
}

uint64_t aof_gtab_max_id(const struct aof_gtab *t) { return t->max_id; }
uint32_t aof_gtab_open(const struct aof_gtab *t) { return t->nopen; }
