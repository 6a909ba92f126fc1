/*
 * aof_log.c - see aof_log.h and docs/AOF.md.
 *
 * Rings.  Each shard's ring is a power-of-two byte buffer with free-running
 * 64-bit head (consumer) and tail (producer) positions.  Records are stored
 * contiguously, already encoded exactly as they go to disk, so the
 * persistence thread only memcpy()s them into staging.  When a record does
 * not fit before the end of the buffer the producer skips to the start,
 * leaving a wrap marker (or nothing, when fewer than 4 bytes remain).  A
 * record may take at most half the ring, so it always fits once the ring
 * has drained, wherever the positions stand.
 *
 * Staging.  One aligned buffer whose byte 0 sits at file offset stage_off
 * of the current segment.  Three marks in it: synced <= written <= len.
 * Bytes up to `synced` are durable; [synced, len) stay in memory until an
 * fsync covers them (appendfsync no drops them once written), so a failed
 * fsync can be answered by writing them again
 * (after a failed fsync the kernel may have dropped the dirty pages; the
 * page cache cannot be trusted to still hold them).  With O_DIRECT every
 * write is whole blocks: the partial last block stays in staging and is
 * written again, with the bytes that follow it, by the next write.
 *
 * Durability.  Only this thread writes, syncs and publishes, one step at a
 * time, so after an fsync that followed a write of everything staged, every
 * record staged so far is durable: durable_lsn[s] = staged_lsn[s], stored
 * with release semantics.  That is group commit: whatever the workers
 * appended while the previous fsync ran goes out in the next write.
 */
#include "aof_log.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "aof_gtrack.h"

#define RING_WRAP_MARK 0xffffffffu    /* cannot be a record magic */
#define URING_DEPTH 16             /* write + linked sync + AOF_SYNC_DEPTH_MAX pipelined syncs */
#define UD_WRITE 1u
#define UD_SYNC 2u
#define UD_PIPE_BASE 16u           /* + slot: a pipelined sync */
#define MANIFEST_MAX_BYTES ((size_t)AOF_MAX_SEGMENTS * 64 + 256)

struct aof_ring {
    /* producer line */
    _Alignas(64) _Atomic uint64_t tail;
    uint64_t cached_head;
    uint64_t last_lsn;
    /* consumer line */
    _Alignas(64) _Atomic uint64_t head;
    uint64_t staged_lsn;
    /* published line, read by workers */
    _Alignas(64) _Atomic uint64_t durable_lsn;
    _Atomic uint64_t written_lsn;
    uint8_t *buf;
    /* rewrite: first snapshot LSN (set by the producer before it appends
     * that record; 0 = none) and, persistence thread only, the first
     * segment that got a record with LSN >= cut_lsn (0 = none yet) */
    _Atomic uint64_t cut_lsn;
    uint64_t keep_seg;
};

struct aof_log {
    struct aof_log_config cfg;
    struct aof_ring *rings;        /* [cfg.nshards] */
    size_t ring_mask;
    size_t max_record;

    pthread_t thread;
    bool thread_started;
    _Atomic bool stop;
    /* Idle wait: the thread sets `sleeping` before it blocks on wake_fd;
     * an append that sees it set clears it and writes wake_fd.  Own line:
     * every append reads it. */
    int wake_fd;
    _Alignas(64) _Atomic uint32_t sleeping;
    /* wake_on_kick: appends since the last aof_log_kick.  Own line: every
     * producer writes it. */
    _Alignas(64) _Atomic uint32_t kick_pending;
    _Atomic uint64_t st_sleeps, st_wakeups;
    /* Last group id handed out (aof_log_group_id).  Own line: coordinators
     * of multi-shard writes on any worker take ids. */
    _Alignas(64) _Atomic uint64_t group_id;

    /* ---- persistence thread only (after open) ---- */
    int dirfd;
    int seg_fd;
    uint64_t seg_id;
    uint64_t listed_max_id;        /* highest segment a MANIFEST on disk may name */
    struct io_uring uring;
    bool uring_ok;
    bool files_registered;
    bool bufs_registered;
    uint8_t *hdr_block;            /* AOF_BLOCK, aligned: segment header writes */
    uint8_t *stage;
    uint64_t stage_off;            /* file offset of stage[0] */
    size_t stage_len, stage_written, stage_synced;
    size_t stage_counted;          /* bytes already counted in the stats */
    bool file_dirty;               /* written since the last completed sync */
    bool stage_full;               /* last gather stopped for lack of staging room */
    bool need_rotate;              /* last gather stopped at the segment limit */
    uint32_t rr;                   /* ring to drain first (fairness) */
    uint64_t last_sync_ms;
    uint64_t retry_at_ms;
    struct aof_manifest man;
    uint32_t man_cap;
    int final_error;
    bool rw_seen;                  /* rewrite_step has looked at the pending request */
    struct aof_gtrack gtrack;      /* groups staged: a rewrite must not split one */
    /* commit pipeline (appendfsync always): syncs in flight, FIFO in
     * submission order; slot i covers file offsets < pipe_end[i] of the
     * current segment and the LSNs pipe_lsn[i][s] */
    uint32_t pipe_depth;
    uint32_t pipe_head, pipe_n;
    uint64_t pipe_sub_off;         /* end covered by the newest submitted sync */
    uint64_t pipe_t0[AOF_SYNC_DEPTH_MAX]; /* submission time of each (ns) */
    uint64_t sync_avg_ns;          /* moving average of a sync's duration */
    uint64_t pipe_end[AOF_SYNC_DEPTH_MAX];
    int pipe_res[AOF_SYNC_DEPTH_MAX];   /* 1 running, 0 done, < 0 failed (-errno) */
    uint64_t pipe_lsn[AOF_SYNC_DEPTH_MAX][HP_MAX_SHARDS];

    /* ---- shared ---- */
    _Atomic int error;             /* positive errno, 0 = healthy */
    _Atomic uint64_t st_bytes, st_records, st_fsyncs, st_rotations, st_errors;
    _Atomic uint64_t st_seg, st_off;
    _Atomic uint64_t st_sealed;    /* valid bytes of the sealed listed segments */
    _Atomic uint64_t st_removed;
    /* rewrite finish request: rw_end is written before rw_req (release) */
    _Atomic int rw_req;
    uint64_t rw_end[HP_MAX_SHARDS];
    _Atomic uint64_t rw_done;
    _Atomic int rw_status;
#ifdef HP_AOF_FAULT_INJECTION
    _Atomic uint32_t fault_count[AOF_FAULT_NOPS];
    _Atomic int fault_err[AOF_FAULT_NOPS];
    _Atomic uint32_t idle_delay_us;
#endif
};

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

static uint64_t mono_ms(void) { return clock_mono_ns() / 1000000u; }

static size_t align_down(size_t v) { return v & ~((size_t)AOF_BLOCK - 1); }
static size_t align_up(size_t v) { return (v + AOF_BLOCK - 1) & ~((size_t)AOF_BLOCK - 1); }

static void sleep_us(uint32_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#ifdef HP_AOF_FAULT_INJECTION
void aof_log_inject_fault(struct aof_log *l, enum aof_fault_op op, uint32_t count, int err)
{
    HP_ASSERT(op < AOF_FAULT_NOPS && err > 0);
    atomic_store(&l->fault_err[op], err);
    atomic_store(&l->fault_count[op], count);
}

void aof_log_inject_idle_delay(struct aof_log *l, uint32_t us)
{
    atomic_store(&l->idle_delay_us, us);
}

static void idle_delay(struct aof_log *l)
{
    uint32_t us = atomic_load_explicit(&l->idle_delay_us, memory_order_relaxed);
    if (us > 0)
        sleep_us(us);
}

/* 0, or the injected negative errno (consuming one of the count). */
static int fault_hit(struct aof_log *l, enum aof_fault_op op)
{
    uint32_t n = atomic_load(&l->fault_count[op]);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&l->fault_count[op], &n, n - 1))
            return -atomic_load(&l->fault_err[op]);
    }
    return 0;
}
#define FAULT(l, op) fault_hit((l), (op))
#define IDLE_DELAY(l) idle_delay(l)
#else
#define FAULT(l, op) 0
#define IDLE_DELAY(l) ((void)0)
#endif

/* ------------------------------------------------------------------------ */
/* names, segment header, manifest                                          */

const char *aof_fsync_policy_name(enum aof_fsync_policy p)
{
    switch (p) {
    case AOF_FSYNC_ALWAYS: return "always";
    case AOF_FSYNC_EVERYSEC: return "everysec";
    case AOF_FSYNC_NO: return "no";
    }
    return "?";
}

int aof_fsync_policy_parse(const char *name, enum aof_fsync_policy *out)
{
    static const enum aof_fsync_policy all[] = {AOF_FSYNC_ALWAYS, AOF_FSYNC_EVERYSEC,
                                                AOF_FSYNC_NO};
    for (size_t i = 0; i < HP_ARRAY_LEN(all); i++) {
        if (strcasecmp(name, aof_fsync_policy_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

void aof_segment_name(uint64_t id, char *buf, size_t cap)
{
    HP_ASSERT(cap >= 32);
    int n = snprintf(buf, cap, "seg-%016llx.hpaof", (unsigned long long)id);
    HP_ASSERT(n > 0 && (size_t)n < cap);
}

void aof_segment_header_flags(uint8_t hdr[AOF_SEG_HDR_USED], uint64_t id, int64_t created_ms,
                              uint32_t flags)
{
    memset(hdr, 0, AOF_SEG_HDR_USED);
    memcpy(hdr, AOF_SEG_MAGIC, 8);
    aof_store32(hdr + 8, AOF_SEG_VERSION);
    aof_store32(hdr + 12, AOF_BLOCK);
    aof_store64(hdr + 16, id);
    aof_store64(hdr + 24, (uint64_t)created_ms);
    aof_store32(hdr + 32, flags);
    aof_store32(hdr + 60, aof_crc32c(0, hdr, 60));
}

void aof_segment_header(uint8_t hdr[AOF_SEG_HDR_USED], uint64_t id, int64_t created_ms)
{
    aof_segment_header_flags(hdr, id, created_ms, 0);
}

uint32_t aof_segment_flags(const uint8_t *hdr) { return aof_load32(hdr + 32); }

int aof_segment_header_check(const uint8_t *hdr, size_t len, uint64_t id, const char **why)
{
    const char *msg = NULL;
    if (len < AOF_BLOCK)
        msg = "segment shorter than its header";
    else if (memcmp(hdr, AOF_SEG_MAGIC, 8) != 0)
        msg = "bad segment magic";
    else if (aof_load32(hdr + 60) != aof_crc32c(0, hdr, 60))
        msg = "segment header checksum mismatch";
    else if (aof_load32(hdr + 8) != AOF_SEG_VERSION)
        msg = "unsupported segment version";
    else if (aof_load32(hdr + 12) != AOF_BLOCK)
        msg = "unsupported segment header size";
    else if (aof_load64(hdr + 16) != id)
        msg = "segment id does not match its name";
    if (msg == NULL)
        return 0;
    if (why != NULL)
        *why = msg;
    return -1;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dirfd(int dirfd)
{
    return fsync(dirfd) == 0 ? 0 : -errno;
}

static char *manifest_render(const struct aof_manifest *m, size_t *len_out)
{
    size_t cap = (size_t)m->n * 64 + 128;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    size_t len = (size_t)snprintf(buf, cap, "hotpath-aof-manifest 1\n");
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->lens[i] == AOF_SEG_ACTIVE)
            len += (size_t)snprintf(buf + len, cap - len, "seg %016llx active\n",
                                    (unsigned long long)m->ids[i]);
        else
            len += (size_t)snprintf(buf + len, cap - len, "seg %016llx %llu\n",
                                    (unsigned long long)m->ids[i],
                                    (unsigned long long)m->lens[i]);
    }
    uint32_t crc = aof_crc32c(0, buf, len);
    len += (size_t)snprintf(buf + len, cap - len, "end %08x\n", crc);
    HP_ASSERT(len < cap);
    *len_out = len;
    return buf;
}

/* *renamed tells whether MANIFEST was replaced (even if the directory sync
 * after it failed: the new list may then be what a crash leaves behind). */
static int manifest_write_at(int dirfd, const struct aof_manifest *m, bool *renamed)
{
    *renamed = false;
    size_t len;
    char *text = manifest_render(m, &len);
    if (text == NULL)
        return -ENOMEM;
    int fd = openat(dirfd, AOF_MANIFEST_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0)
        rc = write_all_fd(fd, text, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    free(text);
    if (rc == 0 && renameat(dirfd, AOF_MANIFEST_TMP_NAME, dirfd, AOF_MANIFEST_NAME) != 0)
        rc = -errno;
    if (rc == 0) {
        *renamed = true;
        rc = fsync_dirfd(dirfd);
    }
    if (rc != 0 && !*renamed && fd >= 0 && unlinkat(dirfd, AOF_MANIFEST_TMP_NAME, 0) != 0 &&
        errno != ENOENT)
        log_warning("AOF: cannot remove %s: %s", AOF_MANIFEST_TMP_NAME, strerror(errno));
    return rc;
}

int aof_manifest_write(const char *dir, const struct aof_manifest *m)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    bool renamed;
    int rc = manifest_write_at(dirfd, m, &renamed);
    close(dirfd);
    return rc;
}

void aof_manifest_free(struct aof_manifest *m)
{
    free(m->ids);
    free(m->lens);
    m->ids = NULL;
    m->lens = NULL;
    m->n = 0;
}

/* Parses hex (base 16, lower case) or decimal digits up to `delim`, which
 * must follow; *pp moves past it. */
static int parse_u64(const char **pp, const char *end, int base, char delim, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    int digits = 0;
    while (p < end && *p != delim) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + (uint64_t)d;
        if (++digits > 20)
            return -1;
        p++;
    }
    if (p >= end || digits == 0)
        return -1;
    *pp = p + 1;
    *out = v;
    return 0;
}

static int manifest_parse(const char *text, size_t len, struct aof_manifest *m, char *why,
                          size_t why_cap)
{
    static const char head[] = "hotpath-aof-manifest 1\n";
    const char *p = text, *end = text + len;
    uint32_t cap = 0;
    memset(m, 0, sizeof(*m));
#define BAD(...)                                                                               \
    do {                                                                                       \
        snprintf(why, why_cap, __VA_ARGS__);                                                   \
        aof_manifest_free(m);                                                                  \
        return -EINVAL;                                                                        \
    } while (0)
    if (len < sizeof(head) - 1 || memcmp(text, head, sizeof(head) - 1) != 0)
        BAD("missing or unsupported manifest header line");
    p += sizeof(head) - 1;
    while (p < end && end - p >= 4 && memcmp(p, "seg ", 4) == 0) {
        size_t line_off = (size_t)(p - text);
        uint64_t id, seglen = AOF_SEG_ACTIVE;
        p += 4;
        const char *idstart = p;
        if (parse_u64(&p, end, 16, ' ', &id) != 0 || p - idstart != 17)
            BAD("bad segment id at byte %zu", line_off);
        if (end - p >= 7 && memcmp(p, "active\n", 7) == 0)
            p += 7;
        else if (parse_u64(&p, end, 10, '\n', &seglen) != 0 || seglen == AOF_SEG_ACTIVE ||
                 seglen < AOF_BLOCK)
            BAD("bad segment length at byte %zu", line_off);
        if (m->n > 0 && (id <= m->ids[m->n - 1] || m->lens[m->n - 1] == AOF_SEG_ACTIVE))
            BAD("segment %016llx out of order at byte %zu", (unsigned long long)id, line_off);
        if (m->n == AOF_MAX_SEGMENTS)
            BAD("more than %u segments", AOF_MAX_SEGMENTS);
        if (m->n == cap) {
            uint32_t ncap = cap == 0 ? 16 : cap * 2;
            uint64_t *ni = realloc(m->ids, ncap * sizeof(*ni));
            if (ni != NULL)
                m->ids = ni;
            uint64_t *nl = ni == NULL ? NULL : realloc(m->lens, ncap * sizeof(*nl));
            if (nl == NULL) {
                aof_manifest_free(m);
                snprintf(why, why_cap, "out of memory");
                return -ENOMEM;
            }
            m->lens = nl;
            cap = ncap;
        }
        m->ids[m->n] = id;
        m->lens[m->n] = seglen;
        m->n++;
    }
    size_t body = (size_t)(p - text);
    uint64_t crc;
    if (end - p != 13 || memcmp(p, "end ", 4) != 0)
        BAD("missing end line at byte %zu", body);
    p += 4;
    const char *cs = p;
    if (parse_u64(&p, end, 16, '\n', &crc) != 0 || p - cs != 9 || p != end)
        BAD("bad end line at byte %zu", body);
    if ((uint32_t)crc != aof_crc32c(0, text, body))
        BAD("manifest checksum mismatch");
#undef BAD
    return 0;
}

int aof_manifest_read(const char *dir, struct aof_manifest *m, char *why, size_t why_cap)
{
    memset(m, 0, sizeof(*m));
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, AOF_MANIFEST_NAME) >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if ((uint64_t)st.st_size > MANIFEST_MAX_BYTES) {
        close(fd);
        snprintf(why, why_cap, "manifest larger than %zu bytes", MANIFEST_MAX_BYTES);
        return -EINVAL;
    }
    size_t len = (size_t)st.st_size;
    char *text = malloc(len + 1);
    if (text == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    int rc = 0;
    while (got < len) {
        ssize_t r = pread(fd, text + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (rc == 0)
        rc = manifest_parse(text, len, m, why, why_cap);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* producer side                                                            */

/* Ring the persistence thread's eventfd, if it still sleeps.  The exchange
 * makes one waker out of any number of racing appends and closers. */
static void writer_wake(struct aof_log *l)
{
    if (atomic_exchange_explicit(&l->sleeping, 0, memory_order_seq_cst) == 0)
        return;
    atomic_fetch_add_explicit(&l->st_wakeups, 1, memory_order_relaxed);
    uint64_t one = 1;
    ssize_t n = write(l->wake_fd, &one, sizeof(one));
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
    HP_ASSERT(n == (ssize_t)sizeof(one) || errno == EAGAIN);
}

/* After publishing something the thread must act on.  Pairs with the
 * store of `sleeping`, fence, re-check in writer_wait: either the thread
 * sees what we published, or we see it sleeping and wake it. */
static void writer_nudge(struct aof_log *l)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&l->sleeping, memory_order_relaxed) != 0)
        writer_wake(l);
}

/* Bytes an append of `size` needs at tail t (a wrap wastes the rest of
 * the buffer), and whether they are free. */
static bool ring_fits(struct aof_log *l, struct aof_ring *r, uint64_t t, size_t size,
                      size_t *waste_out)
{
    size_t cap = l->ring_mask + 1;
    size_t contig = cap - (size_t)(t & l->ring_mask);
    size_t waste = contig < size ? contig : 0;
    uint64_t need = waste + size;
    *waste_out = waste;
    if (t + need - r->cached_head <= cap)
        return true;
    r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
    return t + need - r->cached_head <= cap;
}

bool aof_log_has_room(struct aof_log *l, uint32_t shard, size_t rec_bytes)
{
    HP_ASSERT(shard < l->cfg.nshards);
    if (rec_bytes > l->max_record)
        return false;
    struct aof_ring *r = &l->rings[shard];
    size_t waste;
    return ring_fits(l, r, atomic_load_explicit(&r->tail, memory_order_relaxed), rec_bytes,
                     &waste);
}

/* The append path of both record kinds.  Inlined with a constant g into
 * each entry point, so the ungrouped append compiles to what it was before
 * groups existed. */
__attribute__((always_inline)) static inline enum aof_append
log_append(struct aof_log *l, uint32_t shard, uint16_t db, int64_t ts_ms, uint32_t argc,
           const struct hp_slice *argv, const struct aof_group *g, uint64_t *lsn)
{
    if (shard >= l->cfg.nshards || db >= HP_NUM_DBS || argc == 0 || argc > AOF_REC_MAX_ARGC)
        return AOF_APPEND_INVALID;
    size_t size = g == NULL ? aof_record_size(argc, argv) : aof_record_size_grouped(argc, argv);
    if (size == 0 || size > l->max_record)
        return AOF_APPEND_TOO_LARGE;
    struct aof_ring *r = &l->rings[shard];
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t waste;
    if (!ring_fits(l, r, t, size, &waste))
        return AOF_APPEND_BUSY;
    if (waste > 0) {
        if (waste >= 4)
            aof_store32(r->buf + (size_t)(t & l->ring_mask), RING_WRAP_MARK);
        t += waste;
    }
    uint64_t next = r->last_lsn + 1;
    uint8_t *at = r->buf + (size_t)(t & l->ring_mask);
    size_t n = g == NULL
                   ? aof_record_encode(at, size, (uint16_t)shard, db, next, ts_ms, argc, argv)
                   : aof_record_encode_grouped(at, size, (uint16_t)shard, db, next, ts_ms, argc,
                                               argv, g);
    HP_ASSERT(n == size);
    r->last_lsn = next;
    atomic_store_explicit(&r->tail, t + size, memory_order_release);
    if (!l->cfg.wake_on_kick)
        writer_nudge(l);
    else if (atomic_load_explicit(&l->kick_pending, memory_order_relaxed) == 0)
        atomic_store_explicit(&l->kick_pending, 1, memory_order_release);
    if (lsn != NULL)
        *lsn = next;
    return AOF_APPEND_OK;
}

enum aof_append aof_log_append(struct aof_log *l, uint32_t shard, uint16_t db,
                               int64_t ts_ms, uint32_t argc, const struct hp_slice *argv,
                               uint64_t *lsn)
{
    return log_append(l, shard, db, ts_ms, argc, argv, NULL, lsn);
}

enum aof_append aof_log_append_grouped(struct aof_log *l, uint32_t shard, uint16_t db,
                                       int64_t ts_ms, uint32_t argc,
                                       const struct hp_slice *argv,
                                       const struct aof_group *g, uint64_t *lsn)
{
    if (g == NULL || !aof_group_valid(g))
        return AOF_APPEND_INVALID;
    return log_append(l, shard, db, ts_ms, argc, argv, g, lsn);
}

uint64_t aof_log_group_id(struct aof_log *l)
{
    return atomic_fetch_add_explicit(&l->group_id, 1, memory_order_relaxed) + 1;
}

void aof_log_kick(struct aof_log *l)
{
    if (atomic_load_explicit(&l->kick_pending, memory_order_acquire) == 0)
        return;
    /* Cleared before the nudge: an append racing with us either sets it
     * again (its producer kicks later) or was published before the nudge
     * (the woken thread sees it). */
    atomic_store_explicit(&l->kick_pending, 0, memory_order_relaxed);
    writer_nudge(l);
}

size_t aof_log_max_record(const struct aof_log *l) { return l->max_record; }

uint64_t aof_log_durable_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return atomic_load_explicit(&l->rings[shard].durable_lsn, memory_order_acquire);
}

uint64_t aof_log_written_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return atomic_load_explicit(&l->rings[shard].written_lsn, memory_order_acquire);
}

uint64_t aof_log_last_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return l->rings[shard].last_lsn;
}

int aof_log_error(const struct aof_log *l)
{
    return atomic_load_explicit(&l->error, memory_order_acquire);
}

void aof_log_error_text(const struct aof_log *l, char *buf, size_t cap)
{
    int e = aof_log_error(l);
    char tmp[128];
    const char *msg = e == 0 ? "no error" : strerror_r(e, tmp, sizeof(tmp));
    snprintf(buf, cap, "MISCONF Errors writing to the AOF file: %s", msg);
}

void aof_log_get_stats(const struct aof_log *l, struct aof_log_stats *out)
{
    out->bytes_written = atomic_load_explicit(&l->st_bytes, memory_order_relaxed);
    out->records_written = atomic_load_explicit(&l->st_records, memory_order_relaxed);
    out->fsyncs = atomic_load_explicit(&l->st_fsyncs, memory_order_relaxed);
    out->rotations = atomic_load_explicit(&l->st_rotations, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&l->st_errors, memory_order_relaxed);
    out->current_segment = atomic_load_explicit(&l->st_seg, memory_order_relaxed);
    out->current_offset = atomic_load_explicit(&l->st_off, memory_order_relaxed);
    out->log_bytes = atomic_load_explicit(&l->st_sealed, memory_order_relaxed) +
                     out->current_offset;
    out->removed_segments = atomic_load_explicit(&l->st_removed, memory_order_relaxed);
    out->thread_sleeps = atomic_load_explicit(&l->st_sleeps, memory_order_relaxed);
    out->thread_wakeups = atomic_load_explicit(&l->st_wakeups, memory_order_relaxed);
}

void aof_log_rewrite_mark(struct aof_log *l, uint32_t shard, uint64_t first_lsn)
{
    HP_ASSERT(shard < l->cfg.nshards && first_lsn == l->rings[shard].last_lsn + 1);
    /* Relaxed is enough: the record with this LSN is published later by the
     * release store of the ring tail, which the drainer acquires. */
    atomic_store_explicit(&l->rings[shard].cut_lsn, first_lsn, memory_order_relaxed);
}

bool aof_log_rewrite_finish(struct aof_log *l, const uint64_t end_lsn[HP_MAX_SHARDS])
{
    if (atomic_load_explicit(&l->rw_req, memory_order_acquire) != 0)
        return false;
    memcpy(l->rw_end, end_lsn, sizeof(l->rw_end));
    atomic_store_explicit(&l->rw_req, 1, memory_order_release);
    writer_nudge(l);
    return true;
}

uint64_t aof_log_rewrites_done(const struct aof_log *l, int *last_status)
{
    uint64_t n = atomic_load_explicit(&l->rw_done, memory_order_acquire);
    if (last_status != NULL)
        *last_status = atomic_load_explicit(&l->rw_status, memory_order_relaxed);
    return n;
}

/* ------------------------------------------------------------------------ */
/* I/O layer: every write and sync goes through here (and the fault hook)   */

/* The ring itself failed (not an operation): its queue state is unknown,
 * so stop using it; writes continue with pwritev2/fdatasync. */
static int uring_fail(struct aof_log *l, int rc)
{
    log_warning("AOF: io_uring failed (%s); using pwritev2/fdatasync from now on",
                strerror(-rc));
    io_uring_queue_exit(&l->uring);
    l->uring_ok = false;
    for (uint32_t i = 0; i < l->pipe_n; i++) {
        uint32_t slot = (l->pipe_head + i) % AOF_SYNC_DEPTH_MAX;
        if (l->pipe_res[slot] == 1)
            l->pipe_res[slot] = rc; /* its outcome is unknown: not durable */
    }
    l->files_registered = false;
    l->bufs_registered = false;
    return rc;
}

static void pipe_complete(struct aof_log *l, uint32_t slot, int res);

static int uring_wait(struct aof_log *l, unsigned want, int res[2])
{
    res[0] = res[1] = -ECANCELED;
    int rc = FAULT(l, AOF_FAULT_URING);
    if (rc != 0)
        return uring_fail(l, rc);
    do {
        rc = io_uring_submit_and_wait(&l->uring, want);
    } while (rc == -EINTR);
    if (rc < 0)
        return uring_fail(l, rc);
    for (unsigned got = 0; got < want;) {
        struct io_uring_cqe *cqe;
        rc = io_uring_wait_cqe(&l->uring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            return uring_fail(l, rc);
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud >= UD_PIPE_BASE) { /* a pipelined sync finished meanwhile */
            pipe_complete(l, (uint32_t)(ud - UD_PIPE_BASE), cqe->res);
            io_uring_cqe_seen(&l->uring, cqe);
            continue;
        }
        HP_ASSERT(ud == UD_WRITE || ud == UD_SYNC);
        res[ud - 1] = cqe->res;
        io_uring_cqe_seen(&l->uring, cqe);
        got++;
    }
    return 0;
}

static void prep_write(struct aof_log *l, struct io_uring_sqe *sqe, const uint8_t *p, size_t n,
                       uint64_t off, bool dsync)
{
    int fd = l->files_registered ? 0 : l->seg_fd;
    if (l->bufs_registered)
        io_uring_prep_write_fixed(sqe, fd, p, (unsigned)n, off, 0);
    else
        io_uring_prep_write(sqe, fd, p, (unsigned)n, off);
    if (l->files_registered)
        sqe->flags |= IOSQE_FIXED_FILE;
    if (dsync)
        sqe->rw_flags = RWF_DSYNC;
    io_uring_sqe_set_data64(sqe, UD_WRITE);
}

static void prep_sync(struct aof_log *l, struct io_uring_sqe *sqe)
{
    io_uring_prep_fsync(sqe, l->files_registered ? 0 : l->seg_fd, IORING_FSYNC_DATASYNC);
    if (l->files_registered)
        sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, UD_SYNC);
}

/* Serial writes and syncs as system calls from this thread (no io_uring). */
static bool use_syscalls(const struct aof_log *l)
{
    return !l->uring_ok || l->cfg.sync_method == AOF_SYNC_PWRITEV2_DSYNC;
}

/*
 * One write attempt of up to n bytes at file offset off; with `then_sync`
 * an fdatasync is linked behind it.  Returns bytes written (> 0) or a
 * negative errno; *synced tells whether the linked sync ran and succeeded.
 */
static ssize_t io_write_once(struct aof_log *l, const uint8_t *p, size_t n, uint64_t off,
                             bool dsync, bool then_sync, bool *synced)
{
    *synced = false;
    int f = FAULT(l, AOF_FAULT_WRITE);
    if (f != 0)
        return f;
    n = HP_MIN(n, (size_t)1 << 30);
    if (use_syscalls(l)) {
        /* then_sync only if io_uring failed under this flush: *synced stays
         * false and the caller syncs with fdatasync. */
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        ssize_t w;
        do {
            w = pwritev2(l->seg_fd, &iov, 1, (off_t)off, dsync ? RWF_DSYNC : 0);
        } while (w < 0 && errno == EINTR);
        return w < 0 ? -errno : (w == 0 ? -EIO : w);
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL); /* nothing else is ever queued */
    prep_write(l, sqe, p, n, off, dsync);
    if (then_sync) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *s2 = io_uring_get_sqe(&l->uring);
        HP_ASSERT(s2 != NULL);
        prep_sync(l, s2);
    }
    int res[2];
    int rc = uring_wait(l, then_sync ? 2 : 1, res);
    if (rc < 0)
        return rc;
    if (then_sync && res[0] == (int)n) {
        if (res[1] < 0)
            return res[1];
        *synced = true;
    }
    return res[0] < 0 ? res[0] : (res[0] == 0 ? -EIO : res[0]);
}

static int io_sync(struct aof_log *l)
{
    int f = FAULT(l, AOF_FAULT_SYNC);
    if (f != 0)
        return f;
    if (use_syscalls(l) || l->cfg.sync_method == AOF_SYNC_FDATASYNC)
        return fdatasync(l->seg_fd) == 0 ? 0 : -errno;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL);
    prep_sync(l, sqe);
    int res[2];
    int rc = uring_wait(l, 1, res);
    return rc < 0 ? rc : res[1];
}

/* ------------------------------------------------------------------------ */
/* staging                                                                  */

/* Drain one ring into staging.  Stops at the staging or segment limit. */
static bool drain_ring(struct aof_log *l, struct aof_ring *r)
{
    size_t cap = l->ring_mask + 1;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    bool moved = false;
    while (h != t) {
        size_t idx = (size_t)(h & l->ring_mask);
        size_t contig = cap - idx;
        if (contig < 4 || aof_load32(r->buf + idx) == RING_WRAP_MARK) {
            HP_ASSERT(t - h >= contig);
            h += contig;
            moved = true;
            continue;
        }
        const uint8_t *rec = r->buf + idx;
        HP_ASSERT(contig >= AOF_REC_HDR_LEN);
        HP_ASSERT(aof_load32(rec) == AOF_REC_MAGIC || aof_load32(rec) == AOF_REC_MAGIC_GRP);
        size_t len = aof_load32(rec + 8);
        HP_ASSERT(len >= AOF_REC_HDR_LEN && len <= contig && len <= t - h);
        if (l->stage_off + l->stage_len + len > l->cfg.segment_bytes) {
            l->need_rotate = true;
            break;
        }
        if (l->stage_len + len > l->cfg.staging_bytes) {
            l->stage_full = true;
            break;
        }
        memcpy(l->stage + l->stage_len, rec, len);
        l->stage_len += len;
        if (aof_load32(rec) == AOF_REC_MAGIC_GRP)
            aof_gtrack_member(&l->gtrack, aof_load64(rec + 40), aof_load32(rec + 48), l->seg_id);
        r->staged_lsn = aof_load64(rec + 16);
        if (r->keep_seg == 0) {
            uint64_t cut = atomic_load_explicit(&r->cut_lsn, memory_order_relaxed);
            if (cut != 0 && r->staged_lsn >= cut)
                r->keep_seg = l->seg_id;
        }
        h += len;
        moved = true;
    }
    if (moved)
        atomic_store_explicit(&r->head, h, memory_order_release);
    return moved;
}

static bool gather(struct aof_log *l)
{
    bool moved = false;
    l->stage_full = false;
    if (l->need_rotate)
        return false;
    uint32_t n = l->cfg.nshards;
    for (uint32_t k = 0; k < n && !l->stage_full && !l->need_rotate; k++)
        moved |= drain_ring(l, &l->rings[(l->rr + k) % n]);
    l->rr = (l->rr + 1) % n;
    return moved;
}

static bool rings_empty(struct aof_log *l)
{
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (atomic_load_explicit(&r->head, memory_order_relaxed) !=
            atomic_load_explicit(&r->tail, memory_order_acquire))
            return false;
    }
    return true;
}

static void publish_written(struct aof_log *l)
{
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        atomic_store_explicit(&l->rings[s].written_lsn, l->rings[s].staged_lsn,
                              memory_order_release);
}

/* Durable LSNs advance to lsn[] (never back); the runtime hears which. */
static void publish_durable_lsns(struct aof_log *l, const uint64_t *lsn)
{
    uint64_t mask = 0;
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (lsn[s] <= atomic_load_explicit(&r->durable_lsn, memory_order_relaxed))
            continue;
        atomic_store_explicit(&r->durable_lsn, lsn[s], memory_order_release);
        mask |= (uint64_t)1 << s;
    }
    if (mask != 0 && l->cfg.on_durable != NULL)
        l->cfg.on_durable(l->cfg.on_durable_arg, mask);
}

static void publish_durable(struct aof_log *l)
{
    HP_ASSERT(l->stage_written == l->stage_len);
    uint64_t lsn[HP_MAX_SHARDS];
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        lsn[s] = l->rings[s].staged_lsn;
    publish_durable_lsns(l, lsn);
}

/* Drop staged bytes up to `upto` (keeping the partial block with O_DIRECT). */
static void stage_compact(struct aof_log *l, size_t upto)
{
    size_t keep = l->cfg.direct_io ? align_down(upto) : upto;
    if (keep == 0)
        return;
    memmove(l->stage, l->stage + keep, l->stage_len - keep);
    l->stage_off += keep;
    l->stage_len -= keep;
    l->stage_written -= keep;
    l->stage_counted -= keep;
    l->stage_synced = l->stage_synced > keep ? l->stage_synced - keep : 0;
}

static void count_written(struct aof_log *l, size_t from, size_t to)
{
    /* Records are counted by walking the newly written bytes' headers. */
    uint64_t recs = 0;
    size_t off = from;
    while (off < to) {
        size_t len = aof_load32(l->stage + off + 8);
        HP_ASSERT(len >= AOF_REC_HDR_LEN && off + len <= to);
        off += len;
        recs++;
    }
    atomic_fetch_add_explicit(&l->st_bytes, to - from, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->st_records, recs, memory_order_relaxed);
    atomic_store_explicit(&l->st_off, l->stage_off + to, memory_order_relaxed);
}

/*
 * Write everything staged but not written; with `sync` make it durable too.
 * Returns 0 or a negative errno.  On a sync failure `written` falls back to
 * `synced`, so the retry writes those bytes again.
 */
static void sync_time(struct aof_log *l, uint64_t t0);

static int stage_flush(struct aof_log *l, bool sync)
{
    uint64_t t0 = sync ? clock_mono_ns() : 0;
    bool sys = use_syscalls(l);
    bool dsync = sync && (l->cfg.sync_method == AOF_SYNC_PWRITEV2_DSYNC ||
                          (!sys && l->cfg.sync_method == AOF_SYNC_DSYNC_WRITE));
    bool linked = sync && !sys && l->cfg.sync_method == AOF_SYNC_URING_FSYNC;
    bool synced = false;
    /* RWF_DSYNC covers only its own write; bytes written earlier without it
     * still need an fdatasync (a linked fsync covers the whole file). */
    bool prior_unsynced = l->stage_synced < l->stage_written;
    bool wrote = false;
    while (l->stage_written < l->stage_len) {
        size_t from = l->stage_written, to = l->stage_len;
        if (l->cfg.direct_io) {
            from = align_down(from);
            to = align_up(to);
            memset(l->stage + l->stage_len, 0, to - l->stage_len);
        }
        ssize_t w = io_write_once(l, l->stage + from, to - from, l->stage_off + from, dsync,
                                  linked, &synced);
        if (w > 0 && (dsync || synced)) {
            int sf = FAULT(l, AOF_FAULT_SYNC); /* the write carried the sync */
            if (sf != 0)
                w = sf;
        }
        if (w < 0) {
            if (sync)
                l->stage_written = HP_MIN(l->stage_written, l->stage_synced);
            return (int)w;
        }
        if (l->cfg.direct_io && (size_t)w % AOF_BLOCK != 0 && from + (size_t)w < l->stage_len)
            return -EIO; /* a short O_DIRECT write not on a block boundary */
        l->stage_written = HP_MIN(from + (size_t)w, l->stage_len);
        l->file_dirty = true;
        wrote = true;
        if (l->stage_written < l->stage_len)
            synced = false; /* a short write: the linked sync did not cover it all */
    }
    if (l->stage_written > l->stage_counted) {
        count_written(l, l->stage_counted, l->stage_written);
        l->stage_counted = l->stage_written;
        publish_written(l);
    }
    if (!sync)
        return 0;
    if (!synced && !(dsync && wrote && !prior_unsynced)) {
        int rc = io_sync(l);
        if (rc < 0) {
            l->stage_written = l->stage_synced;
            return rc;
        }
    }
    atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
    sync_time(l, t0);
    l->file_dirty = false;
    l->stage_synced = l->stage_written;
    l->last_sync_ms = mono_ms();
    publish_durable(l);
    stage_compact(l, l->stage_synced);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* segments                                                                 */

/* Creates segment `id` (header with `flags`, preallocation, synced).
 * Returns fd or -errno. */
static int segment_create(struct aof_log *l, uint64_t id, uint32_t flags)
{
    int f = FAULT(l, AOF_FAULT_CREATE);
    if (f != 0)
        return f;
    char name[64];
    aof_segment_name(id, name, sizeof(name));
    int oflags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (l->cfg.direct_io ? O_DIRECT : 0);
    int fd = openat(l->dirfd, name, oflags, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    memset(l->hdr_block, 0, AOF_BLOCK);
    aof_segment_header_flags(l->hdr_block, id, clock_unix_ms(), flags);
    ssize_t w;
    do {
        w = pwrite(fd, l->hdr_block, AOF_BLOCK, 0);
    } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)AOF_BLOCK)
        rc = w < 0 ? -errno : -EIO;
    if (rc == 0 && l->cfg.preallocate && fallocate(fd, 0, 0, (off_t)l->cfg.segment_bytes) != 0) {
        if (errno == EOPNOTSUPP) {
            log_notice("AOF: this filesystem cannot preallocate; segments grow as written");
            l->cfg.preallocate = false;
        } else {
            rc = -errno;
        }
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc != 0) {
        close(fd);
        /* A segment a MANIFEST on disk may name stays, empty: recovery
         * accepts an active segment without a header, not a missing one. */
        if (id > l->listed_max_id && unlinkat(l->dirfd, name, 0) != 0)
            log_warning("AOF: cannot remove unfinished segment %s: %s", name, strerror(errno));
        return rc;
    }
    return fd;
}

static int manifest_push(struct aof_log *l, uint64_t id, uint64_t len)
{
    if (l->man.n == AOF_MAX_SEGMENTS)
        return -EFBIG;
    if (l->man.n == l->man_cap) {
        uint32_t ncap = l->man_cap == 0 ? 64 : HP_MIN(l->man_cap * 2, AOF_MAX_SEGMENTS);
        uint64_t *ni = realloc(l->man.ids, ncap * sizeof(*ni));
        if (ni == NULL)
            return -ENOMEM;
        l->man.ids = ni;
        uint64_t *nl = realloc(l->man.lens, ncap * sizeof(*nl));
        if (nl == NULL)
            return -ENOMEM;
        l->man.lens = nl;
        l->man_cap = ncap;
    }
    l->man.ids[l->man.n] = id;
    l->man.lens[l->man.n] = len;
    l->man.n++;
    return 0;
}

static void switch_registered_file(struct aof_log *l)
{
    if (!l->uring_ok)
        return;
    if (l->files_registered) {
        int fd = l->seg_fd;
        if (io_uring_register_files_update(&l->uring, 0, &fd, 1) == 1)
            return;
        int rc = io_uring_unregister_files(&l->uring);
        if (rc < 0)
            log_warning("AOF: io_uring file unregistration failed: %s", strerror(-rc));
        l->files_registered = false;
        return;
    }
}

/* Truncate the finished segment to its data (drops preallocated space). */
static void segment_trim(struct aof_log *l, int fd, uint64_t id, uint64_t len)
{
    if (ftruncate(fd, (off_t)len) != 0) {
        char name[64];
        aof_segment_name(id, name, sizeof(name));
        log_warning("AOF: cannot trim %s to %llu bytes: %s (the manifest bounds it anyway)",
                    name, (unsigned long long)len, strerror(errno));
    }
}

/*
 * Seal the current segment at its data length and continue in a new one.
 * Everything staged must be durable.  The manifest names the new segment
 * before any record goes into it, so recovery never misses one.
 */
static int rotate(struct aof_log *l)
{
    HP_ASSERT(l->stage_synced == l->stage_len && l->stage_written == l->stage_len);
    uint64_t seal_len = l->stage_off + l->stage_len;
    uint64_t new_id = l->seg_id + 1;
    if (l->man.n == AOF_MAX_SEGMENTS)
        return -EFBIG;
    int fd = segment_create(l, new_id, 0);
    if (fd < 0)
        return fd;
    HP_ASSERT(l->man.n > 0 && l->man.lens[l->man.n - 1] == AOF_SEG_ACTIVE);
    l->man.lens[l->man.n - 1] = seal_len;
    int rc = manifest_push(l, new_id, AOF_SEG_ACTIVE);
    if (rc == 0) {
        bool renamed;
        rc = manifest_write_at(l->dirfd, &l->man, &renamed);
        if (renamed)
            l->listed_max_id = new_id;
        if (rc != 0)
            l->man.n--;
    }
    if (rc != 0) {
        /* Stay in the old segment (sealed on disk or not, it holds exactly
         * seal_len valid bytes); the retry creates new_id again. */
        l->man.lens[l->man.n - 1] = AOF_SEG_ACTIVE;
        close(fd);
        char name[64];
        aof_segment_name(new_id, name, sizeof(name));
        if (new_id > l->listed_max_id && unlinkat(l->dirfd, name, 0) != 0)
            log_warning("AOF: cannot remove unused segment %s: %s", name, strerror(errno));
        return rc;
    }
    segment_trim(l, l->seg_fd, l->seg_id, seal_len);
    close(l->seg_fd);
    l->seg_fd = fd;
    l->seg_id = new_id;
    switch_registered_file(l);
    l->stage_off = AOF_BLOCK;
    l->stage_len = l->stage_written = l->stage_synced = l->stage_counted = 0;
    l->file_dirty = false;
    l->need_rotate = false;
    atomic_fetch_add_explicit(&l->st_rotations, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->st_sealed, seal_len, memory_order_relaxed);
    atomic_store_explicit(&l->st_seg, new_id, memory_order_relaxed);
    atomic_store_explicit(&l->st_off, AOF_BLOCK, memory_order_relaxed);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* commit pipeline (appendfsync always)                                     */

/*
 * Serial group commit (write, sync, publish, repeat) leaves the disk idle
 * while records pile up and workers idle while the disk syncs.  Here the
 * thread writes staged records into the page cache at once and submits an
 * IORING_OP_FSYNC(DATASYNC) for them without waiting, up to pipe_depth in
 * flight.  A sync covers every byte written before it was submitted, but a
 * failed sync may have dropped dirty pages that a later successful one no
 * longer covers, so syncs are retired strictly in submission order and the
 * durable LSN advances only over that completed prefix.  Writes stay
 * synchronous (a page-cache copy), so a sync never runs under a buffer that
 * staging compaction moves.  Rotation and close settle the pipeline first.
 */
/* The pipeline runs only while syncs take at least sync_pipeline_min_us
 * (moving average): on a disk that syncs faster, overlapping syncs cost
 * more CPU (io_uring workers, a write and a sync per commit) than they
 * save, and the serial write+sync was faster there (docs/BENCHMARKS.md). */
static bool pipe_on(const struct aof_log *l)
{
    return l->pipe_depth > 1 && l->uring_ok && !l->cfg.direct_io &&
           l->cfg.fsync == AOF_FSYNC_ALWAYS &&
           l->sync_avg_ns >= (uint64_t)l->cfg.sync_pipeline_min_us * 1000u;
}

static void sync_time(struct aof_log *l, uint64_t t0)
{
    uint64_t d = clock_mono_ns() - t0;
    l->sync_avg_ns = l->sync_avg_ns == 0 ? d : (l->sync_avg_ns * 7 + d) / 8;
}

static void pipe_complete(struct aof_log *l, uint32_t slot, int res)
{
    HP_ASSERT(slot < AOF_SYNC_DEPTH_MAX && l->pipe_res[slot] == 1);
    if (res >= 0)
        res = FAULT(l, AOF_FAULT_SYNC);
    l->pipe_res[slot] = res < 0 ? res : 0;
    sync_time(l, l->pipe_t0[slot]);
}

/* Take finished syncs off the completion queue, waiting up to wait_us for
 * the first one (0: do not wait). */
static void pipe_reap(struct aof_log *l, uint32_t wait_us)
{
    if (!l->uring_ok || l->pipe_n == 0)
        return;
    struct io_uring_cqe *cqe;
    if (wait_us > 0) {
        struct __kernel_timespec ts = {.tv_sec = wait_us / 1000000u,
                                       .tv_nsec = (long long)(wait_us % 1000000u) * 1000};
        int rc = io_uring_wait_cqe_timeout(&l->uring, &cqe, &ts);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN) {
            uring_fail(l, rc);
            return;
        }
    }
    while (io_uring_peek_cqe(&l->uring, &cqe) == 0) {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        HP_ASSERT(ud >= UD_PIPE_BASE); /* nothing else is in flight between steps */
        pipe_complete(l, (uint32_t)(ud - UD_PIPE_BASE), cqe->res);
        io_uring_cqe_seen(&l->uring, cqe);
    }
}

/* Wait until no sync is running (their results are kept for retiring). */
static void pipe_wait_all(struct aof_log *l)
{
    for (;;) {
        bool running = false;
        for (uint32_t i = 0; i < l->pipe_n; i++)
            running |= l->pipe_res[(l->pipe_head + i) % AOF_SYNC_DEPTH_MAX] == 1;
        if (!running || !l->uring_ok)
            return;
        pipe_reap(l, 1000);
    }
}

/* Retire finished syncs in submission order.  0, or the first failure: then
 * every sync is waited for and dropped, and writing restarts at the last
 * durable byte (section 9: after a failed sync the page cache cannot be
 * trusted to still hold what was written). */
static int pipe_retire(struct aof_log *l)
{
    bool advanced = false;
    while (l->pipe_n > 0) {
        uint32_t slot = l->pipe_head;
        int res = l->pipe_res[slot];
        if (res == 1)
            break;
        if (res < 0) {
            pipe_wait_all(l);
            l->pipe_n = 0;
            l->stage_written = HP_MIN(l->stage_written, l->stage_synced);
            l->pipe_sub_off = l->stage_off + l->stage_written;
            return res;
        }
        HP_ASSERT(l->pipe_end[slot] >= l->stage_off + l->stage_synced);
        l->stage_synced = (size_t)(l->pipe_end[slot] - l->stage_off);
        publish_durable_lsns(l, l->pipe_lsn[slot]);
        atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
        l->pipe_head = (slot + 1) % AOF_SYNC_DEPTH_MAX;
        l->pipe_n--;
        advanced = true;
    }
    if (advanced) {
        l->file_dirty = l->stage_synced < l->stage_written;
        l->last_sync_ms = mono_ms();
        stage_compact(l, l->stage_synced);
    }
    return 0;
}

/* Submit a sync covering everything written so far (all of staging). */
static int pipe_submit(struct aof_log *l)
{
    HP_ASSERT(l->pipe_n < l->pipe_depth && l->stage_written == l->stage_len);
    uint32_t slot = (l->pipe_head + l->pipe_n) % AOF_SYNC_DEPTH_MAX;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL); /* URING_DEPTH covers every sqe that can be pending */
    prep_sync(l, sqe);
    io_uring_sqe_set_data64(sqe, UD_PIPE_BASE + slot);
    l->pipe_end[slot] = l->stage_off + l->stage_written;
    l->pipe_res[slot] = 1;
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        l->pipe_lsn[slot][s] = l->rings[s].staged_lsn;
    l->pipe_n++;
    l->pipe_sub_off = l->pipe_end[slot];
    l->pipe_t0[slot] = clock_mono_ns();
    int rc = FAULT(l, AOF_FAULT_URING);
    if (rc == 0) {
        do {
            rc = io_uring_submit(&l->uring);
        } while (rc == -EINTR);
    }
    return rc < 0 ? uring_fail(l, rc) : 0;
}

/* One non-blocking round: retire, write what is staged, start a sync. */
static int pipe_step(struct aof_log *l)
{
    pipe_reap(l, 0);
    int rc = pipe_retire(l);
    if (rc == 0 && l->stage_written < l->stage_len)
        rc = stage_flush(l, false);
    /* While syncs run, pipe_sub_off is in this segment (rotation settles). */
    uint64_t covered = l->pipe_n > 0 ? l->pipe_sub_off : l->stage_off + l->stage_synced;
    if (rc == 0 && l->stage_written == l->stage_len &&
        l->stage_off + l->stage_written > covered && l->pipe_n < l->pipe_depth)
        rc = pipe_submit(l);
    /* Syncs that finished while the write waited: publish them now rather
     * than after the next idle wait. */
    if (rc == 0)
        rc = pipe_retire(l);
    return rc;
}

/* Wait for and retire every sync in flight (before rotation or close, and
 * when io_uring failed under them). */
static int pipe_settle(struct aof_log *l)
{
    if (l->pipe_n == 0)
        return 0;
    pipe_wait_all(l);
    return pipe_retire(l);
}

/* ------------------------------------------------------------------------ */
/* rewrite completion (persistence thread)                                  */

/* Drop the sealed segments before `keep` from the MANIFEST, then delete them. */
static int rewrite_drop_before(struct aof_log *l, uint64_t keep)
{
    uint32_t k = 0;
    uint64_t bytes = 0;
    while (k < l->man.n && l->man.ids[k] < keep && l->man.lens[k] != AOF_SEG_ACTIVE)
        bytes += l->man.lens[k++];
    if (k == 0)
        return 0;
    uint64_t first_id = l->man.ids[0], last_id = l->man.ids[k - 1];
    struct aof_manifest nm = {.n = l->man.n - k, .ids = l->man.ids + k, .lens = l->man.lens + k};
    bool renamed = false;
    int rc = manifest_write_at(l->dirfd, &nm, &renamed);
    if (rc != 0 && !renamed)
        return rc;
    /* Renamed (maybe without the directory sync): the new list may be the
     * one on disk, so the dropped segments stay dropped in memory too. */
    for (uint32_t i = 0; i < k; i++) {
        char name[64];
        aof_segment_name(l->man.ids[i], name, sizeof(name));
        if (unlinkat(l->dirfd, name, 0) != 0 && errno != ENOENT)
            log_warning("AOF: cannot remove %s: %s (removed at next start)", name,
                        strerror(errno));
    }
    memmove(l->man.ids, l->man.ids + k, nm.n * sizeof(*l->man.ids));
    memmove(l->man.lens, l->man.lens + k, nm.n * sizeof(*l->man.lens));
    l->man.n = nm.n;
    atomic_fetch_sub_explicit(&l->st_sealed, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->st_removed, k, memory_order_relaxed);
    if (rc == 0 && fsync_dirfd(l->dirfd) != 0)
        rc = -errno;
    log_notice("AOF: rewrite removed %u segment(s) (%016llx..%016llx, %.1f MB)", k,
               (unsigned long long)first_id, (unsigned long long)last_id, (double)bytes / 1e6);
    return rc;
}

/*
 * A finish request is pending: once every snapshot record is durable, the
 * oldest segments holding only records older than their shard's cut go.
 * Returns 0 (done, or not possible yet) or -errno from a sync.
 */
static int rewrite_step(struct aof_log *l)
{
    if (atomic_load_explicit(&l->rw_req, memory_order_acquire) == 0)
        return 0;
    l->rw_seen = true;
    bool durable = true;
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        durable &= atomic_load_explicit(&l->rings[s].durable_lsn, memory_order_relaxed) >=
                   l->rw_end[s];
    if (!durable) {
        /* always: the next commits get there.  everysec / no: sync what is
         * staged now (the rest of the snapshot is still being drained). */
        if (l->cfg.fsync == AOF_FSYNC_EVERYSEC && l->stage_synced < l->stage_len)
            return stage_flush(l, true);
        if (l->cfg.fsync == AOF_FSYNC_NO && l->file_dirty) {
            int rc = io_sync(l);
            if (rc == 0) {
                atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
                l->file_dirty = false;
                publish_durable(l);
            }
            return rc;
        }
        return 0;
    }
    uint64_t keep = l->seg_id;
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (r->keep_seg != 0 && r->keep_seg < keep)
            keep = r->keep_seg;
    }
    int rc = rewrite_drop_before(l, aof_gtrack_keep(&l->gtrack, keep));
    if (rc != 0)
        log_warning("AOF: rewrite could not update the manifest: %s (the old log stays valid)",
                    strerror(-rc));
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        atomic_store_explicit(&l->rings[s].cut_lsn, 0, memory_order_relaxed);
        l->rings[s].keep_seg = 0;
    }
    atomic_store_explicit(&l->rw_status, rc, memory_order_relaxed);
    l->rw_seen = false;
    atomic_store_explicit(&l->rw_req, 0, memory_order_release);
    atomic_fetch_add_explicit(&l->rw_done, 1, memory_order_release);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* persistence thread                                                       */

/* One round of writing/syncing/rotating as the policy asks.  0 or -errno. */
static int writer_step(struct aof_log *l, bool stopping)
{
    bool unwritten = l->stage_written < l->stage_len;
    bool unsynced = l->stage_synced < l->stage_len;
    int rc = 0;
    switch (l->cfg.fsync) {
    case AOF_FSYNC_ALWAYS:
        if (pipe_on(l) && !l->need_rotate && !stopping) {
            rc = pipe_step(l);
            break;
        }
        rc = pipe_settle(l);
        if (rc == 0 && l->stage_synced < l->stage_len)
            rc = stage_flush(l, true);
        break;
    case AOF_FSYNC_EVERYSEC: {
        bool due = mono_ms() - l->last_sync_ms >= AOF_EVERYSEC_MS;
        bool must = l->stage_full || l->need_rotate || stopping || due;
        if (unsynced && must)
            rc = stage_flush(l, true);
        else if (unwritten)
            rc = stage_flush(l, false);
        break;
    }
    case AOF_FSYNC_NO:
        if (unwritten)
            rc = stage_flush(l, false);
        if (rc == 0) {
            /* The kernel decides when it is durable: keep nothing for a rewrite. */
            l->stage_synced = l->stage_written;
            stage_compact(l, l->stage_synced);
            if ((l->need_rotate || stopping) && l->file_dirty) {
                rc = io_sync(l);
                if (rc == 0) {
                    atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
                    l->file_dirty = false;
                    publish_durable(l);
                }
            }
        }
        break;
    }
    if (rc == 0 && l->need_rotate)
        rc = rotate(l);
    if (rc == 0)
        rc = rewrite_step(l);
    return rc;
}

static void enter_error(struct aof_log *l, int rc)
{
    int e = -rc;
    atomic_fetch_add_explicit(&l->st_errors, 1, memory_order_relaxed);
    if (atomic_load_explicit(&l->error, memory_order_relaxed) != e) {
        char name[64];
        aof_segment_name(l->seg_id, name, sizeof(name));
        log_warning("AOF: writing %s at offset %llu failed: %s; writes are refused until "
                    "the disk recovers (retrying every %u ms)",
                    name, (unsigned long long)(l->stage_off + l->stage_written), strerror(e),
                    l->cfg.retry_ms);
    }
    atomic_store_explicit(&l->error, e, memory_order_release);
    l->retry_at_ms = mono_ms() + l->cfg.retry_ms;
}

static void leave_error(struct aof_log *l)
{
    if (atomic_load_explicit(&l->error, memory_order_relaxed) == 0)
        return;
    atomic_store_explicit(&l->error, 0, memory_order_release);
    log_notice("AOF: disk writes succeed again; accepting writes");
}

/* How long the idle thread may block: until the next everysec sync is due,
 * at most idle_sleep_max_us.  0: do not block. */
static uint64_t writer_wait_us(const struct aof_log *l)
{
    uint64_t us = l->cfg.idle_sleep_max_us;
    if (l->stage_synced < l->stage_len) {
        if (l->cfg.fsync != AOF_FSYNC_EVERYSEC)
            return l->pipe_n > 0 ? us : 0; /* always: only a running sync leaves bytes unsynced */
        uint64_t since = mono_ms() - l->last_sync_ms;
        if (since >= AOF_EVERYSEC_MS)
            return 0;
        us = HP_MIN(us, (AOF_EVERYSEC_MS - since) * 1000u);
    }
    return us;
}

/* Anything published that the thread has not acted on yet (after the
 * sleeping flag is set: the other half of writer_nudge's handshake). */
static bool writer_has_news(struct aof_log *l)
{
    return !rings_empty(l) || atomic_load_explicit(&l->stop, memory_order_acquire) ||
           (atomic_load_explicit(&l->rw_req, memory_order_acquire) != 0 && !l->rw_seen);
}

/*
 * Idle: block on the eventfd (and on the io_uring fd while pipelined syncs
 * run, so a completion ends the wait at once) instead of polling the rings:
 * on few CPUs every poll wake-up takes a core from the workers.  The
 * announce / fence / re-check order pairs with writer_nudge, so an append
 * racing with the announcement is never missed.
 */
static void writer_wait(struct aof_log *l)
{
    uint64_t us = writer_wait_us(l);
    if (us == 0)
        return;
    if (l->stage_full && l->pipe_n > 0) {
        /* Staging is full of bytes running syncs cover: only a completion
         * frees room, new appends would only spin us. */
        pipe_reap(l, (uint32_t)HP_MIN(us, 1000000u));
        return;
    }
    IDLE_DELAY(l);
    atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (writer_has_news(l)) {
        atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&l->st_sleeps, 1, memory_order_relaxed);
    struct pollfd pf[2] = {{.fd = l->wake_fd, .events = POLLIN},
                           {.fd = l->uring_ok ? l->uring.ring_fd : -1, .events = POLLIN}};
    nfds_t n = l->pipe_n > 0 && l->uring_ok ? 2 : 1;
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                          .tv_nsec = (long)(us % 1000000u) * 1000};
    int rc = ppoll(pf, n, &ts, NULL);
    atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
    if (rc < 0 && errno != EINTR) {
        log_warning("AOF: ppoll on the wake-up fd failed: %s", strerror(errno));
        sleep_us((uint32_t)HP_MIN(us, 1000u)); /* no busy loop; the rings are looked at anyway */
        return;
    }
    if (rc > 0 && (pf[0].revents & POLLIN) != 0) {
        uint64_t cnt;
        ssize_t r = read(l->wake_fd, &cnt, sizeof(cnt));
        HP_ASSERT(r == (ssize_t)sizeof(cnt) || errno == EAGAIN);
    }
}

static void *writer_main(void *arg)
{
    struct aof_log *l = arg;
    for (;;) {
        bool stopping = atomic_load_explicit(&l->stop, memory_order_acquire);
        bool failing = atomic_load_explicit(&l->error, memory_order_relaxed) != 0;
        if (failing && !stopping && mono_ms() < l->retry_at_ms) {
            gather(l);
            sleep_us(HP_MIN(l->cfg.idle_sleep_max_us, 1000u));
            continue;
        }
        bool moved = gather(l);
        int rc = writer_step(l, stopping);
        if (rc < 0) {
            enter_error(l, rc);
            if (stopping) {
                l->final_error = rc;
                break;
            }
            continue;
        }
        leave_error(l);
        if (stopping && rings_empty(l) && l->stage_synced == l->stage_len && !l->need_rotate)
            break;
        if (moved || l->stage_written < l->stage_len)
            continue;
        writer_wait(l);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* open / close                                                             */

void aof_log_config_init(struct aof_log_config *cfg, const char *dir)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->dir = dir;
    cfg->nshards = 1;
    cfg->ring_bytes = (size_t)16 << 20;
    cfg->staging_bytes = (size_t)4 << 20;
    cfg->segment_bytes = (uint64_t)64 << 20;
    cfg->fsync = AOF_FSYNC_EVERYSEC;
    cfg->sync_method = AOF_SYNC_PWRITEV2_DSYNC; /* fastest end to end, docs/AOF.md section 8 */
    cfg->direct_io = false;
    cfg->preallocate = true;
    cfg->retry_ms = 1000;
    cfg->idle_sleep_max_us = AOF_IDLE_WAIT_DEFAULT_US;
    cfg->sync_depth = AOF_SYNC_DEPTH_DEFAULT;
    cfg->sync_pipeline_min_us = AOF_SYNC_PIPELINE_MIN_US;
}

static const char *config_problem(const struct aof_log_config *c)
{
    if (c->dir == NULL || c->dir[0] == '\0')
        return "no directory";
    if (c->nshards == 0 || c->nshards > HP_MAX_SHARDS)
        return "shard count out of range";
    if (c->ring_bytes < AOF_RING_MIN_BYTES || c->ring_bytes > AOF_RING_MAX_BYTES ||
        (c->ring_bytes & (c->ring_bytes - 1)) != 0)
        return "ring size must be a power of two in [4 KiB, 1 GiB]";
    if (c->staging_bytes < AOF_STAGING_MIN_BYTES || c->staging_bytes > AOF_STAGING_MAX_BYTES ||
        c->staging_bytes % AOF_BLOCK != 0)
        return "staging size must be a multiple of 4 KiB in [8 KiB, 1 GiB]";
    if (c->segment_bytes < AOF_SEG_MIN_BYTES || c->segment_bytes > AOF_SEG_MAX_BYTES)
        return "segment size out of range [64 KiB, 1 GiB]";
    if ((unsigned)c->fsync > AOF_FSYNC_NO || (unsigned)c->sync_method > AOF_SYNC_PWRITEV2_DSYNC)
        return "unknown fsync policy or method";
    if (c->sync_depth > AOF_SYNC_DEPTH_MAX)
        return "sync depth out of range [1, 8]";
    return NULL;
}

static void setup_uring(struct aof_log *l)
{
    int rc = io_uring_queue_init(URING_DEPTH, &l->uring, 0);
    if (rc < 0) {
        log_notice("AOF: io_uring unavailable (%s); using pwritev2/fdatasync", strerror(-rc));
        return;
    }
    l->uring_ok = true;
    struct iovec iov = {.iov_base = l->stage, .iov_len = l->cfg.staging_bytes};
    rc = io_uring_register_buffers(&l->uring, &iov, 1);
    if (rc == 0)
        l->bufs_registered = true;
    else
        log_verbose("AOF: staging buffer not registered with io_uring: %s", strerror(-rc));
    int fd = l->seg_fd;
    rc = io_uring_register_files(&l->uring, &fd, 1);
    if (rc == 0)
        l->files_registered = true;
    else
        log_verbose("AOF: segment file not registered with io_uring: %s", strerror(-rc));
}

static void log_free(struct aof_log *l)
{
    if (l->uring_ok)
        io_uring_queue_exit(&l->uring);
    if (l->seg_fd >= 0)
        close(l->seg_fd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->rings != NULL)
        for (uint32_t s = 0; s < l->cfg.nshards; s++)
            free(l->rings[s].buf);
    free(l->rings);
    free(l->stage);
    free(l->hdr_block);
    aof_manifest_free(&l->man);
    aof_gtrack_free(&l->gtrack);
    free(l);
}

static int open_alloc(struct aof_log *l)
{
    const struct aof_log_config *c = &l->cfg;
    l->rings = aligned_alloc(64, sizeof(struct aof_ring) * c->nshards);
    l->stage = aligned_alloc(AOF_BLOCK, c->staging_bytes);
    l->hdr_block = aligned_alloc(AOF_BLOCK, AOF_BLOCK);
    if (l->rings == NULL || l->stage == NULL || l->hdr_block == NULL)
        return -ENOMEM;
    memset(l->rings, 0, sizeof(struct aof_ring) * c->nshards);
    memset(l->stage, 0, c->staging_bytes);
    for (uint32_t s = 0; s < c->nshards; s++) {
        l->rings[s].buf = malloc(c->ring_bytes);
        if (l->rings[s].buf == NULL)
            return -ENOMEM;
    }
    return 0;
}

/* A crash between a rewrite's manifest switch and its deletions leaves
 * segments older than the first listed one: they are covered, delete them. */
static void remove_stale_segments(struct aof_log *l)
{
    int fd = dup(l->dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    uint64_t first = l->man.ids[0];
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long id;
        char tail[8];
        if (strlen(de->d_name) != 26 || sscanf(de->d_name, "seg-%16llx.%6s", &id, tail) != 2 ||
            strcmp(tail, "hpaof") != 0 || id >= first)
            continue;
        if (unlinkat(l->dirfd, de->d_name, 0) == 0)
            log_notice("AOF: removed %s, left over from an interrupted rewrite", de->d_name);
    }
    closedir(d);
}

/* Build the manifest from the resume data (or empty), add the new active segment. */
static int open_segments(struct aof_log *l, const struct aof_log_resume *res)
{
    struct aof_manifest old;
    char why[160] = "";
    int rc = aof_manifest_read(l->cfg.dir, &old, why, sizeof(why));
    if (rc == 0)
        aof_manifest_free(&old);
    if (res == NULL && rc != -ENOENT) {
        log_warning("AOF: %s/%s exists; recover the log before opening it for writing",
                    l->cfg.dir, AOF_MANIFEST_NAME);
        return rc == 0 ? -EEXIST : rc;
    }
    uint64_t next_id = 1;
    if (res != NULL) {
        for (uint32_t i = 0; i < res->nsegments; i++) {
            HP_ASSERT(i == 0 || res->segment_ids[i] > res->segment_ids[i - 1]);
            rc = manifest_push(l, res->segment_ids[i], res->segment_lens[i]);
            if (rc != 0)
                return rc;
            atomic_fetch_add(&l->st_sealed, res->segment_lens[i]);
        }
        if (res->nsegments > 0)
            next_id = res->segment_ids[res->nsegments - 1] + 1;
        for (uint32_t s = 0; s < l->cfg.nshards; s++) {
            struct aof_ring *r = &l->rings[s];
            r->last_lsn = r->staged_lsn = res->last_lsn[s];
            atomic_store(&r->durable_lsn, res->last_lsn[s]);
            atomic_store(&r->written_lsn, res->last_lsn[s]);
        }
        atomic_store(&l->group_id, res->last_group_id);
    }
    /* The session flag tells recovery that groups begun before it are over. */
    l->seg_fd = segment_create(l, next_id, AOF_SEGF_SESSION);
    if (l->seg_fd < 0)
        return l->seg_fd;
    l->seg_id = next_id;
    rc = manifest_push(l, next_id, AOF_SEG_ACTIVE);
    if (rc == 0) {
        bool renamed;
        rc = manifest_write_at(l->dirfd, &l->man, &renamed);
    }
    if (rc != 0)
        return rc;
    l->listed_max_id = next_id;
    /* The previous last segment may hold a torn tail or preallocated zeros
     * past its valid length; the manifest now bounds it, trimming is tidy. */
    if (res != NULL && res->nsegments > 0) {
        char name[64];
        uint32_t last = res->nsegments - 1;
        aof_segment_name(res->segment_ids[last], name, sizeof(name));
        int fd = openat(l->dirfd, name, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            segment_trim(l, fd, res->segment_ids[last], res->segment_lens[last]);
            close(fd);
        }
    }
    l->stage_off = AOF_BLOCK;
    atomic_store(&l->st_seg, next_id);
    atomic_store(&l->st_off, AOF_BLOCK);
    remove_stale_segments(l);
    return 0;
}

struct aof_log *aof_log_open(const struct aof_log_config *cfg, int *err)
{
    const char *problem = config_problem(cfg);
    if (problem != NULL) {
        log_warning("AOF: bad configuration: %s", problem);
        *err = -EINVAL;
        return NULL;
    }
    struct aof_log *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    l->cfg = *cfg;
    if (l->cfg.retry_ms == 0)
        l->cfg.retry_ms = 1000;
    if (l->cfg.idle_sleep_max_us == 0)
        l->cfg.idle_sleep_max_us = AOF_IDLE_WAIT_DEFAULT_US;
    l->cfg.resume = NULL; /* not kept: the caller owns it */
    l->wake_fd = -1;
    l->pipe_depth = l->cfg.sync_depth == 0 ? AOF_SYNC_DEPTH_DEFAULT : l->cfg.sync_depth;
    l->seg_fd = -1;
    l->ring_mask = cfg->ring_bytes - 1;
    l->max_record = HP_MIN(HP_MIN(cfg->ring_bytes / 2, cfg->staging_bytes - AOF_BLOCK),
                           HP_MIN(cfg->segment_bytes - AOF_BLOCK, (uint64_t)AOF_REC_MAX_LEN));
    l->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = l->dirfd < 0 ? -errno : open_alloc(l);
    if (rc == 0) {
        l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = l->wake_fd < 0 ? -errno : 0;
    }
    if (rc == 0)
        rc = open_segments(l, cfg->resume);
    if (rc == 0) {
        setup_uring(l);
        l->last_sync_ms = mono_ms();
        rc = -pthread_create(&l->thread, NULL, writer_main, l);
        l->thread_started = rc == 0;
    }
    if (rc != 0) {
        log_warning("AOF: cannot open the log in %s: %s", cfg->dir, strerror(-rc));
        log_free(l);
        *err = rc;
        return NULL;
    }
    log_notice("AOF: writing segment %016llx in %s (appendfsync %s%s)",
               (unsigned long long)l->seg_id, cfg->dir, aof_fsync_policy_name(cfg->fsync),
               cfg->direct_io ? ", O_DIRECT" : "");
    *err = 0;
    return l;
}

int aof_log_close(struct aof_log *l)
{
    if (l == NULL)
        return 0;
    int rc = 0;
    if (l->thread_started) {
        atomic_store_explicit(&l->stop, true, memory_order_release);
        writer_nudge(l);
        int jr = pthread_join(l->thread, NULL);
        HP_ASSERT(jr == 0);
        rc = l->final_error;
    }
    log_free(l);
    return rc;
}
