/*
 * aof_recover.h - replay an append-only log directory at start-up.
 *
 * Reads the MANIFEST, then each listed segment in order: the whole segment
 * is read and validated first (every record's CRCs, lengths, and per-shard
 * LSNs increasing by exactly one), then its records are replayed, shards in
 * parallel: with T threads, thread t replays every shard s with s % T == t,
 * in LSN order.  So the callback runs concurrently for different shards but
 * never for the same shard; with T == 1 everything runs on the caller's
 * thread.  (Replaying into a different shard layout than the one that wrote
 * the log needs T == 1, since the callback then routes records itself.)
 *
 * Damage rules (docs/AOF.md):
 *  - in the LAST segment, a bad or incomplete record with no valid record
 *    anywhere after it is a torn tail: it is cut (logged with segment,
 *    offset and bytes cut) and recovery succeeds;
 *  - anything else (bad record in a sealed segment, a valid record after a
 *    bad one, a sealed segment shorter than the manifest says, a missing
 *    segment, an LSN gap) refuses start-up, naming segment and offset,
 *    unless allow_corrupt is set: then damaged bytes are skipped (logged)
 *    and replay goes on at the next valid record.
 *
 * Groups (aof_log_append_grouped): the callback gets a group's records only
 * once every member of the group is known to be in the log, each in its
 * shard's LSN order; a group that can no longer complete (a member missing
 * at the end of the log or before the first segment of a later run) is
 * dropped whole, and the records of its shards after it still apply.  A
 * shard whose next record belongs to a group still open (a member in a
 * later segment) holds that record and its later ones in memory, at most
 * group_buffer_bytes over all shards; beyond that recovery refuses to
 * start, naming the group.  Logs without groups take none of these paths.
 */
#ifndef HP_AOF_RECOVER_H
#define HP_AOF_RECOVER_H

#include "aof_log.h"
#include "aof_record.h"

/* Apply one record.  argv[0..rec->argc) are slices into the segment buffer,
 * valid only during the call.  Return 0, or non-zero to stop recovery (it
 * then fails with "replay callback failed" naming the record). */
typedef int (*aof_replay_fn)(void *arg, const struct aof_rec *rec, const struct hp_slice *argv);
/* Bytes processed so far of the total; called from the caller's thread. */
typedef void (*aof_progress_fn)(void *arg, uint64_t bytes_done, uint64_t bytes_total);

struct aof_recover_opts {
    const char *dir;
    uint32_t threads;            /* replay threads, 1..HP_MAX_SHARDS (0: 1) */
    bool allow_corrupt;          /* the explicit override, see above */
    aof_replay_fn replay;        /* may be NULL: validate only */
    void *replay_arg;
    aof_progress_fn progress;    /* may be NULL */
    void *progress_arg;
    /* Records held while their group is open (0: AOF_GROUP_BUFFER_DEFAULT). */
    size_t group_buffer_bytes;
};
#define AOF_GROUP_BUFFER_DEFAULT ((size_t)256 << 20)

struct aof_recover_result {
    bool fresh;                  /* no manifest (and no segment with records) */
    struct aof_log_resume resume; /* pass &resume to aof_log_config.resume */
    uint64_t records;            /* replayed */
    uint64_t bytes;              /* record bytes replayed */
    uint32_t segments;           /* segments read */
    uint64_t truncated_bytes;    /* torn tail cut from the last segment */
    uint64_t skipped_bytes;      /* damaged bytes skipped under allow_corrupt */
    uint64_t groups_dropped;     /* incomplete groups (cut by a crash) not applied */
    uint64_t group_records_dropped; /* their records found in the log */
    char error[320];             /* why recovery failed ("" on success) */
};

/* 0 on success (res filled; free with aof_recover_result_free), -1 if
 * start-up must be refused (res->error says why, naming segment and offset;
 * also logged).  Records replayed before a failure stay applied. */
int aof_recover(const struct aof_recover_opts *opts, struct aof_recover_result *res);
void aof_recover_result_free(struct aof_recover_result *res);

/* A ready-made progress callback: logs "AOF loading: 42% (12.0 of 28.6 MB,
 * 310.2 MB/s)" at most once a second and once at 100%.  arg points to a
 * zeroed struct aof_progress_logger owned by the caller. */
struct aof_progress_logger {
    uint64_t start_ns;
    uint64_t last_ns;
    bool finished;
};
void aof_recover_log_progress(void *arg, uint64_t bytes_done, uint64_t bytes_total);

#endif
