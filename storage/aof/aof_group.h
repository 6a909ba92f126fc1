/*
 * aof_group.h - recovery's table of record groups (docs/AOF.md section 16).
 *
 * A group's members (grouped records, aof_record.h) may lie on several
 * shards and in several segments.  Recovery validates a segment before it
 * replays it; the validating scan notes every member here, so when replay
 * of that segment starts, each group is in one of three states:
 *   - COMPLETE: every member was seen.  Complete groups are removed from the
 *     table at once, so "not in the table" means complete (every member
 *     replay meets was noted by the scan first);
 *   - OPEN: some member not seen yet; it may still come in a later segment;
 *   - DEAD: it can never complete: a segment flagged AOF_SEGF_SESSION (a
 *     later process) or the end of the log came first.
 * The table is written only by the scan (one thread) and read by the
 * replay threads in between scans, so it needs no locks.
 *
 * Limits: AOF_GTAB_OPEN_MAX groups open at once and AOF_GTAB_BITS_MAX bytes
 * of member bitmaps (a bit per member of each open group with more than 64
 * members); beyond either, aof_gtab_note fails with a message.
 */
#ifndef HP_AOF_GROUP_H
#define HP_AOF_GROUP_H

#include "aof_record.h"

#define AOF_GTAB_OPEN_MAX 65536u
#define AOF_GTAB_BITS_MAX ((size_t)64 << 20)

enum aof_gstate { AOF_GS_COMPLETE = 0, AOF_GS_OPEN, AOF_GS_DEAD };

struct aof_gtab;

/* NULL if out of memory. */
struct aof_gtab *aof_gtab_new(void);
void aof_gtab_free(struct aof_gtab *t);

/* Scan side: note one member.  0, or -1 with why[0..cap) saying what is
 * wrong (member counts that disagree, a member seen twice, a group id of an
 * earlier, dead group used again, a limit). */
int aof_gtab_note(struct aof_gtab *t, const struct aof_group *g, char *why, size_t cap);

/* Scan side: every open group becomes dead (a session boundary or the end
 * of the log).  Logs the first few; returns how many. */
uint32_t aof_gtab_close_open(struct aof_gtab *t);

/* Scan side: forget dead groups.  Only when no record of one still waits
 * for replay (right after a replay that followed aof_gtab_close_open). */
void aof_gtab_sweep_dead(struct aof_gtab *t);

/* Replay side (read-only). */
enum aof_gstate aof_gtab_state(const struct aof_gtab *t, uint64_t id);

/* Highest group id noted so far (0: none). */
uint64_t aof_gtab_max_id(const struct aof_gtab *t);
/* Groups open now. */
uint32_t aof_gtab_open(const struct aof_gtab *t);

#endif
