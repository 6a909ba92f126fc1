/*
 * aof_log.h - the append-only log: per-shard SPSC record rings drained by one
 * persistence thread into segment files (docs/AOF.md has the whole story).
 *
 * Worker side (the data path, no locks; a system call only to wake the
 * persistence thread, see below):
 *   - after applying a write, aof_log_append() encodes it into the shard's
 *     ring and returns its LSN; AOF_APPEND_BUSY means the ring is full: stall
 *     the client and retry later (the persistence thread is behind).  If the
 *     thread announced that it sleeps (the rings were empty), the append
 *     that sees the announcement writes its eventfd: one write(2) per sleep,
 *     not per record;
 *   - with appendfsync always, hold the reply until
 *     aof_log_durable_lsn(shard) >= that LSN (an acquire load; the persistence
 *     thread publishes it with a release store after each fsync, so one fsync
 *     releases every record staged before it: group commit);
 *   - aof_log_error() != 0 means the disk is failing: refuse new writes (the
 *     MISCONF-like text is aof_log_error_text()), keep serving reads.  The
 *     persistence thread retries every retry_ms and clears the error itself.
 * A shard's ring follows the shard's ownership rules (storage/shard.h): it
 * is appended to only by the thread that currently holds the shard, and the
 * hand-over provides the memory barrier, so the ring stays single-producer.
 *
 * Persistence thread: drains all rings into one aligned staging buffer and
 * writes it (pwritev2 or io_uring, sync_method) at the end of the current
 * segment (preallocated,
 * rotated at segment_bytes, listed in the MANIFEST which is replaced
 * atomically).  Records never span segments.
 */
#ifndef HP_AOF_LOG_H
#define HP_AOF_LOG_H

#include "../../common/hp_common.h"
#include "aof_record.h"

#define AOF_BLOCK 4096u                       /* O_DIRECT alignment, segment header size */
#define AOF_SEG_MIN_BYTES ((uint64_t)64 * 1024)
#define AOF_SEG_MAX_BYTES ((uint64_t)1 << 30)
#define AOF_RING_MIN_BYTES ((size_t)4096)
#define AOF_RING_MAX_BYTES ((size_t)1 << 30)
#define AOF_STAGING_MIN_BYTES ((size_t)2 * AOF_BLOCK)
#define AOF_STAGING_MAX_BYTES ((size_t)1 << 30)
#define AOF_MAX_SEGMENTS 65536u              /* manifest entries; beyond: error state */
#define AOF_EVERYSEC_MS 1000u
#define AOF_SYNC_DEPTH_DEFAULT 4u
#define AOF_SYNC_DEPTH_MAX 8u
#define AOF_SYNC_PIPELINE_MIN_US 1000u
#define AOF_IDLE_WAIT_DEFAULT_US 100000u

enum aof_fsync_policy { AOF_FSYNC_ALWAYS = 0, AOF_FSYNC_EVERYSEC, AOF_FSYNC_NO };

/* How an fsync is done.  The DSYNC methods only change `always` (the
 * write itself carries RWF_DSYNC); everysec and rotation still need a
 * standalone fdatasync, done with IORING_OP_FSYNC (AOF_SYNC_DSYNC_WRITE)
 * or fdatasync(2) (AOF_SYNC_PWRITEV2_DSYNC) then.  The commit pipeline
 * (sync_depth) always uses io_uring for its syncs. */
enum aof_sync_method {
    AOF_SYNC_URING_FSYNC = 0,  /* IORING_OP_FSYNC(DATASYNC), linked after the write */
    AOF_SYNC_FDATASYNC,        /* fdatasync(2) after the io_uring write completes */
    AOF_SYNC_DSYNC_WRITE,      /* IORING_OP_WRITE with RWF_DSYNC */
    AOF_SYNC_PWRITEV2_DSYNC,   /* pwritev2(2) with RWF_DSYNC in the log thread (the default):
                                * io_uring punts a DSYNC write to a worker thread, one
                                * more thread hop per commit */
};

/* What recovery learned, needed to continue an existing log
 * (filled by aof_recover, see aof_recover.h). */
struct aof_log_resume {
    uint64_t last_lsn[HP_MAX_SHARDS];  /* next append of shard s gets last_lsn[s] + 1 */
    uint32_t nsegments;                /* segments listed in the manifest */
    uint64_t *segment_ids;             /* [nsegments], ascending */
    uint64_t *segment_lens;            /* [nsegments], valid bytes (header included) */
    uint64_t last_group_id;            /* highest group id in the log: new ids are above it */
};

struct aof_log_config {
    const char *dir;                  /* must exist */
    uint32_t nshards;                 /* 1..HP_MAX_SHARDS */
    size_t ring_bytes;                /* per shard, power of two */
    size_t staging_bytes;             /* multiple of AOF_BLOCK */
    uint64_t segment_bytes;           /* rotate before a segment would exceed this */
    enum aof_fsync_policy fsync;
    enum aof_sync_method sync_method;
    bool direct_io;                   /* O_DIRECT segment writes */
    bool preallocate;                 /* fallocate each new segment to segment_bytes */
    uint32_t retry_ms;                /* error state: retry interval (0: 1000) */
    /* Idle, the thread blocks until an append (or close, or a rewrite
     * finish, or a pipelined sync's completion) wakes it; this bounds one
     * such wait, so timed duties (everysec) are never late by more
     * (0: AOF_IDLE_WAIT_DEFAULT_US).  Also the retry nap in error state. */
    uint32_t idle_sleep_max_us;
    /* false: every append wakes a sleeping thread at once.  true: appends
     * only mark work pending and the producer calls aof_log_kick after a
     * batch (one worker loop iteration), so one commit gathers the whole
     * batch instead of its first record. */
    bool wake_on_kick;
    /* appendfsync always, buffered I/O, io_uring: how many fdatasyncs may be
     * in flight at once (commit pipeline: records keep being written while
     * earlier syncs run; the durable LSN only advances over the longest
     * prefix of completed syncs).  1: the serial write+sync path, which
     * sync_method selects.  0: AOF_SYNC_DEPTH_DEFAULT; at most AOF_SYNC_DEPTH_MAX. */
    uint32_t sync_depth;
    /* The pipeline runs only while a sync takes at least this long on
     * average (a faster disk does better with the serial path); 0: always. */
    uint32_t sync_pipeline_min_us;
    /* Called by the persistence thread (any time, no locks held) after the
     * durable LSN of the shards in `shard_mask` (bit s = shard s) advanced,
     * so the runtime can wake workers holding replies.  May be NULL. */
    void (*on_durable)(void *arg, uint64_t shard_mask);
    void *on_durable_arg;
    /* NULL for a fresh directory (refused if it has a MANIFEST); otherwise
     * the result of aof_recover on this directory. */
    const struct aof_log_resume *resume;
};

/* Defaults: 1 shard, 16 MiB rings, 4 MiB staging, 64 MiB segments,
 * everysec, PWRITEV2_DSYNC, buffered I/O, preallocation on. */
void aof_log_config_init(struct aof_log_config *cfg, const char *dir);

struct aof_log;

/* Checks the config, creates the first new segment and the manifest, starts
 * the persistence thread.  NULL on failure, with *err = a negative errno
 * (-EINVAL for a bad config; logged). */
struct aof_log *aof_log_open(const struct aof_log_config *cfg, int *err);

/* Stops the thread after writing and syncing everything already appended
 * (unless the disk is failing, then after one last attempt), closes files,
 * frees.  Returns 0 if everything appended became durable, else the error
 * (negative errno).  Producers must have stopped appending. */
int aof_log_close(struct aof_log *l);

enum aof_append {
    AOF_APPEND_OK = 0,
    AOF_APPEND_BUSY,       /* ring full now: retry after the persistence thread drains */
    AOF_APPEND_TOO_LARGE,  /* larger than aof_log_max_record(): can never be logged */
    AOF_APPEND_INVALID,    /* argc 0, shard/db out of range, argument too long */
};

/*
 * Groups (docs/AOF.md section 16): records that replay applies all or
 * none, e.g. the per-key records of one multi-shard MSET.  The coordinator
 * takes one id (any thread; unique in this log, also across restarts,
 * since recovery hands the highest id it saw to the log via resume) and
 * gives every member {id, count, index}: count = records of the whole
 * write over all shards, index = 0..count-1, each used exactly once; each
 * member is appended by its shard's owner like any record.  A member is a
 * record of AOF_REC_GRP_EXTRA more bytes: size aof_log_has_room checks with
 * aof_record_size_grouped.  Nothing else changes: each member gets its
 * shard's next LSN, and a reply waits for every shard's durable LSN as
 * before.  A group cut by a crash (some member not in the log) is dropped
 * whole at recovery.
 */
uint64_t aof_log_group_id(struct aof_log *l);
/* aof_log_append for a group member; g must satisfy aof_group_valid
 * (else AOF_APPEND_INVALID, also for count > AOF_GROUP_MAX). */
enum aof_append aof_log_append_grouped(struct aof_log *l, uint32_t shard, uint16_t db,
                                       int64_t ts_ms, uint32_t argc,
                                       const struct hp_slice *argv,
                                       const struct aof_group *g, uint64_t *lsn);

/* With wake_on_kick: wake the thread if appends are pending since the last
 * kick (any producer; a no-op otherwise). */
void aof_log_kick(struct aof_log *l);

/* Worker side; see the file comment.  On AOF_APPEND_OK *lsn (if not NULL)
 * is the record's LSN (consecutive per shard, starting after resume). */
enum aof_append aof_log_append(struct aof_log *l, uint32_t shard, uint16_t db,
                               int64_t ts_ms, uint32_t argc, const struct hp_slice *argv,
                               uint64_t *lsn);
/*
 * True if an append of a record of at most rec_bytes (aof_record_size)
 * would succeed now.  Only the shard's owner appends, and the persistence
 * thread only frees space, so after `true` the next append of a record that
 * size or smaller cannot be BUSY.  A worker checks this BEFORE applying a
 * write (with an upper bound of the record it will log) and stalls the
 * client when it is false, so no applied write is ever left unlogged.
 */
bool aof_log_has_room(struct aof_log *l, uint32_t shard, size_t rec_bytes);
/* Largest record aof_log_append accepts (bytes, header included). */
size_t aof_log_max_record(const struct aof_log *l);
/* LSN of the shard's newest record covered by a completed fsync. */
uint64_t aof_log_durable_lsn(const struct aof_log *l, uint32_t shard);
/* LSN of the shard's newest record handed to the kernel (written). */
uint64_t aof_log_written_lsn(const struct aof_log *l, uint32_t shard);
/* LSN the shard's last append got (producer side; only its owner calls). */
uint64_t aof_log_last_lsn(const struct aof_log *l, uint32_t shard);
/* 0, or the positive errno of the failure that put the log in error state. */
int aof_log_error(const struct aof_log *l);
/* Client-facing error line for refused writes (without "-" and CRLF), e.g.
 * "MISCONF Errors writing to the AOF file: No space left on device". */
void aof_log_error_text(const struct aof_log *l, char *buf, size_t cap);

struct aof_log_stats {
    uint64_t bytes_written;     /* record bytes written to segments */
    uint64_t records_written;
    uint64_t fsyncs;
    uint64_t rotations;
    /* Error episodes: writes, syncs or segment creations failing until one
     * succeeds again; calls that fail together count once. */
    uint64_t write_errors;
    uint64_t current_segment;   /* id */
    uint64_t current_offset;    /* logical end of data in it */
    uint64_t log_bytes;         /* valid bytes of every listed segment, headers included */
    uint64_t removed_segments;  /* deleted by rewrites since open */
    uint64_t thread_sleeps;     /* times the idle thread announced it would block
                                 * (a re-check that finds news skips the block) */
    uint64_t thread_wakeups;    /* ... and an append had to wake it (eventfd); <= sleeps */
};
/*
 * Log rewrite (compaction without fork, docs/AOF.md section 15).  Each shard
 * appends a fuzzy snapshot of its keyspace as ordinary state records
 * (SET k v [PXAT t]) through its own ring, between its normal writes:
 *  1. the shard's owner calls aof_log_rewrite_mark(shard, S) with S = the
 *     LSN its first snapshot record will get (last LSN + 1);
 *  2. it appends the snapshot records, a bounded number per loop iteration;
 *  3. when every shard is done, someone calls aof_log_rewrite_finish with
 *     each shard's last snapshot LSN E[s].
 * The persistence thread then makes everything up to E durable and drops
 * from the MANIFEST (atomically) the oldest segments whose records all have
 * LSN < S of their shard, and deletes them.  Replaying the remaining
 * segments converges on the same state (state records, section 14).
 */
void aof_log_rewrite_mark(struct aof_log *l, uint32_t shard, uint64_t first_lsn);
/* Returns false (nothing done) if a finish is still being processed. */
bool aof_log_rewrite_finish(struct aof_log *l, const uint64_t end_lsn[HP_MAX_SHARDS]);
/* Finished rewrites (successful or not) since open; last outcome (0 or -errno). */
uint64_t aof_log_rewrites_done(const struct aof_log *l, int *last_status);

/* Snapshot of counters (relaxed; approximate while running). */
void aof_log_get_stats(const struct aof_log *l, struct aof_log_stats *out);

/* Names and parsing for the config layer. */
const char *aof_fsync_policy_name(enum aof_fsync_policy p);
int aof_fsync_policy_parse(const char *name, enum aof_fsync_policy *out);

/* Segment file name for id: "seg-<16 hex digits>.hpaof" (cap >= 32). */
void aof_segment_name(uint64_t id, char *buf, size_t cap);
#define AOF_MANIFEST_NAME "MANIFEST"
#define AOF_MANIFEST_TMP_NAME "MANIFEST.tmp"

/* Segment header (first AOF_BLOCK bytes of every segment; rest zero):
 *   0 8 magic "HPAOFSG1"   8 4 version (1)   12 4 header_size (4096)
 *  16 8 segment id         24 8 created Unix ms  32 4 flags  36..59 zero
 *  60 4 CRC32C of bytes 0..59
 * Flag AOF_SEGF_SESSION: the first segment an aof_log_open created, so no
 * group begun before it can get another member in it or later (a group is
 * written by one process).  Older segments have flags 0. */
#define AOF_SEG_MAGIC "HPAOFSG1"
#define AOF_SEG_VERSION 1u
#define AOF_SEG_HDR_USED 64u
#define AOF_SEGF_SESSION 1u
void aof_segment_header(uint8_t hdr[AOF_SEG_HDR_USED], uint64_t id, int64_t created_ms);
void aof_segment_header_flags(uint8_t hdr[AOF_SEG_HDR_USED], uint64_t id, int64_t created_ms,
                              uint32_t flags);
/* Flags of a header that passed aof_segment_header_check. */
uint32_t aof_segment_flags(const uint8_t *hdr);
/* 0 if hdr is a valid header for segment id, else -1 with *why set. */
int aof_segment_header_check(const uint8_t *hdr, size_t len, uint64_t id, const char **why);

/*
 * Manifest (text, see docs/AOF.md):
 *   "hotpath-aof-manifest 1\n"
 *   "seg <16 hex id> <valid bytes>\n"   for each sealed segment, ascending
 *   "seg <16 hex id> active\n"          the one being written, last
 *   "end <8 hex CRC32C of every byte before this line>\n"
 * Written as MANIFEST.tmp, fsync, rename over MANIFEST, fsync of the dir.
 */
struct aof_manifest {
    uint32_t n;
    uint64_t *ids;
    uint64_t *lens;        /* sealed length; UINT64_MAX for the active segment */
};
#define AOF_SEG_ACTIVE UINT64_MAX
/* Returns 0, or a negative errno (-EIO style) with nothing replaced. */
int aof_manifest_write(const char *dir, const struct aof_manifest *m);
/* 0 and *m filled (caller frees with aof_manifest_free); -ENOENT if there is
 * no manifest; -EINVAL if it is malformed (why set); other negative errno. */
int aof_manifest_read(const char *dir, struct aof_manifest *m, char *why, size_t why_cap);
void aof_manifest_free(struct aof_manifest *m);

#ifdef HP_AOF_FAULT_INJECTION
/* Test builds only: make the next `count` operations of this kind fail with
 * `err` (positive errno).  Safe to call from any thread while running. */
enum aof_fault_op {
    AOF_FAULT_WRITE = 0,  /* a segment write */
    AOF_FAULT_SYNC,       /* an fdatasync (or the sync part of a linked/RWF_DSYNC write) */
    AOF_FAULT_CREATE,     /* creating a segment */
    AOF_FAULT_URING,      /* the io_uring itself (submit/wait): falls back to syscalls */
    AOF_FAULT_NOPS
};
void aof_log_inject_fault(struct aof_log *l, enum aof_fault_op op, uint32_t count, int err);
/* Test builds only: the idle thread pauses this long between finding
 * nothing to do and announcing that it sleeps, widening the window in
 * which an append must still be noticed (the lost wake-up tests). */
void aof_log_inject_idle_delay(struct aof_log *l, uint32_t us);
#endif

#endif
