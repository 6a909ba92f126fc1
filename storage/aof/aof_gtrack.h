/*
 * aof_gtrack.h - the persistence thread's view of record groups, so that a
 * log rewrite never splits one (docs/AOF.md section 16).
 *
 * A rewrite drops the segments before K (section 15).  A group whose
 * members straddle K would lose the members before it, and recovery would
 * then drop the whole group as incomplete, including members after the cut
 * whose state the snapshot does not hold.  So the thread notes, for every
 * group it stages, the segment of its first member; and for every group
 * seen in two segments, the pair (first segment, last segment).  Before a
 * rewrite drops anything, aof_gtrack_keep lowers K until no open group and
 * no pair straddles it.  Only groups of this run matter: K is never below
 * the run's first segment, so older runs' segments all go together.
 *
 * Limits: AOF_GTRACK_OPEN_MAX groups open at once (a member staged, not all
 * of them).  A group beyond that (or when memory runs out) is not tracked:
 * the segment it began in becomes a floor no later rewrite of this run goes
 * above (conservative: more is kept, nothing is split), logged once.
 * Pairs: at most one per segment (compressed by last segment, forgotten
 * once a rewrite passes them), so at most AOF_MAX_SEGMENTS.
 */
#ifndef HP_AOF_GTRACK_H
#define HP_AOF_GTRACK_H

#include "../../common/hp_common.h"

#define AOF_GTRACK_OPEN_MAX 4096u

struct aof_gtrack_open {
    uint64_t id, first_seg;
    uint32_t left;            /* members not staged yet */
};

struct aof_gtrack_pair {
    uint64_t first_seg, last_seg;
};

struct aof_gtrack {
    struct aof_gtrack_open *open;   /* [AOF_GTRACK_OPEN_MAX], at the first group */
    uint32_t nopen;
    struct aof_gtrack_pair *pairs;  /* last_seg ascending, one per last_seg */
    uint32_t npairs, pairs_cap;
    uint64_t floor;                 /* 0: none; else no rewrite drops this segment or later */
    bool floor_logged;
};

/* A member of group (id, count) was staged into segment seg. */
void aof_gtrack_member(struct aof_gtrack *t, uint64_t id, uint32_t count, uint64_t seg);
/* The segment a rewrite may drop before, given what it would drop before
 * (keep); forgets pairs no later rewrite can need. */
uint64_t aof_gtrack_keep(struct aof_gtrack *t, uint64_t keep);
void aof_gtrack_free(struct aof_gtrack *t);

#endif
