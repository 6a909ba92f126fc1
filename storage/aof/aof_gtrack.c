/* aof_gtrack.c - see aof_gtrack.h. */
#include "aof_gtrack.h"

#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

static void untracked(struct aof_gtrack *t, uint64_t seg)
{
    if (t->floor == 0 || seg < t->floor)
        t->floor = seg;
    if (!t->floor_logged)
        log_warning("AOF: more than %u record groups in flight (or no memory to track them); "
                    "log rewrites keep every segment from %016llx on until restart",
                    AOF_GTRACK_OPEN_MAX, (unsigned long long)seg);
    t->floor_logged = true;
}

static void add_pair(struct aof_gtrack *t, uint64_t first, uint64_t last)
{
    if (t->npairs > 0 && t->pairs[t->npairs - 1].last_seg == last) {
        struct aof_gtrack_pair *p = &t->pairs[t->npairs - 1];
        p->first_seg = HP_MIN(p->first_seg, first);
        return;
    }
    HP_ASSERT(t->npairs == 0 || t->pairs[t->npairs - 1].last_seg < last);
    if (t->npairs == t->pairs_cap) {
        uint32_t ncap = t->pairs_cap == 0 ? 16 : t->pairs_cap * 2;
        struct aof_gtrack_pair *np = realloc(t->pairs, ncap * sizeof(*np));
        if (np == NULL) {
            untracked(t, first);
            return;
        }
        t->pairs = np;
        t->pairs_cap = ncap;
    }
    t->pairs[t->npairs].first_seg = first;
    t->pairs[t->npairs].last_seg = last;
    t->npairs++;
}

void aof_gtrack_member(struct aof_gtrack *t, uint64_t id, uint32_t count, uint64_t seg)
{
    uint32_t i = 0;
    while (i < t->nopen && t->open[i].id != id)
        i++;
    if (i == t->nopen) {
        if (count <= 1)
            return; /* a one-member group cannot straddle anything */
        if (t->open == NULL)
            t->open = malloc(AOF_GTRACK_OPEN_MAX * sizeof(*t->open));
        if (t->open == NULL || t->nopen == AOF_GTRACK_OPEN_MAX) {
            untracked(t, seg);
            return;
        }
        t->open[t->nopen].id = id;
        t->open[t->nopen].first_seg = seg;
        t->open[t->nopen].left = count - 1;
        t->nopen++;
        return;
    }
    struct aof_gtrack_open *e = &t->open[i];
    HP_ASSERT(e->left > 0);
    if (seg > e->first_seg)
        add_pair(t, e->first_seg, seg);
    if (--e->left == 0)
        t->open[i] = t->open[--t->nopen];
}

uint64_t aof_gtrack_keep(struct aof_gtrack *t, uint64_t keep)
{
    uint64_t k = keep;
    if (t->floor != 0)
        k = HP_MIN(k, t->floor);
    for (uint32_t i = 0; i < t->nopen; i++)
        k = HP_MIN(k, t->open[i].first_seg);
    /* Lowering k can make another pair straddle it: repeat until none does. */
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t i = 0; i < t->npairs; i++) {
            if (t->pairs[i].last_seg >= k && t->pairs[i].first_seg < k) {
                k = t->pairs[i].first_seg;
                changed = true;
            }
        }
    }
    /* Every later keep is >= k and no remaining pair crosses k, so pairs
     * ending before k can never matter again. */
    uint32_t drop = 0;
    while (drop < t->npairs && t->pairs[drop].last_seg < k)
        drop++;
    /* Only when something moves: with no pairs yet t->pairs is NULL, and
     * memmove(NULL, ...) is undefined even for 0 bytes (UBSan). */
    if (drop > 0 && drop < t->npairs)
        memmove(t->pairs, t->pairs + drop, (t->npairs - drop) * sizeof(*t->pairs));
    t->npairs -= drop;
    return k;
}

void aof_gtrack_free(struct aof_gtrack *t)
{
    free(t->open);
    free(t->pairs);
    memset(t, 0, sizeof(*t));
}
