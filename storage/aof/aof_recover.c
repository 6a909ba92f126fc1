/* aof_recover.c - see aof_recover.h and docs/AOF.md. */
#include "aof_recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "aof_group.h"

#define READ_CHUNK ((size_t)16 << 20)   /* progress granularity while reading */
#define MAX_SPANS 4096u                 /* valid runs per segment under allow_corrupt */
#define NOT_FOUND SIZE_MAX

struct span {
    size_t start, end;
};

struct rcv {
    const struct aof_recover_opts *o;
    struct aof_recover_result *res;
    int dirfd;
    uint8_t *buf;
    size_t buf_cap;
    struct span spans[MAX_SPANS];
    uint32_t nspans;
    uint64_t done, total;
    uint64_t last_lsn[HP_MAX_SHARDS];
    struct aof_gtab *gt;                /* created at the first grouped record */
    _Atomic size_t held_bytes;          /* records held for open groups, all shards */
    size_t held_max;
};

__attribute__((format(printf, 2, 3))) static int refuse(struct rcv *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->res->error, sizeof(r->res->error), fmt, ap);
    va_end(ap);
    log_warning("AOF: %s", r->res->error);
    return -1;
}

static void progress(struct rcv *r, uint64_t done)
{
    if (r->o->progress != NULL)
        r->o->progress(r->o->progress_arg, done, r->total);
}

/* ------------------------------------------------------------------------ */
/* reading                                                                  */

static int open_segment(struct rcv *r, uint64_t id, uint64_t *size)
{
    char name[64];
    aof_segment_name(id, name, sizeof(name));
    int fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* Read len bytes of the segment into r->buf, reporting progress. */
static int read_segment(struct rcv *r, int fd, size_t len)
{
    if (len > r->buf_cap) {
        uint8_t *nb = realloc(r->buf, len);
        if (nb == NULL)
            return -ENOMEM;
        r->buf = nb;
        r->buf_cap = len;
    }
    size_t got = 0;
    while (got < len) {
        size_t want = HP_MIN(READ_CHUNK, len - got);
        ssize_t n = pread(fd, r->buf + got, want, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ENODATA; /* shrank while we read it */
        got += (size_t)n;
        progress(r, r->done + got);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* validation                                                               */

/* First offset > from at which a fully valid record starts, or NOT_FOUND. */
static size_t find_valid_after(const uint8_t *buf, size_t from, size_t end)
{
    /* "HPR1" and "HPR2": the decode below tells which, if either. */
    static const uint8_t magic[3] = {'H', 'P', 'R'};
    size_t off = from;
    while (off + AOF_REC_HDR_LEN <= end) {
        const uint8_t *hit = memmem(buf + off, end - off, magic, sizeof(magic));
        if (hit == NULL)
            return NOT_FOUND;
        size_t at = (size_t)(hit - buf);
        struct aof_rec rec;
        if (aof_record_decode(buf + at, end - at, &rec, NULL) == AOF_DEC_OK)
            return at;
        off = at + 1;
    }
    return NOT_FOUND;
}

/* End of the last non-zero byte in [from, end), or from if all zero. */
static size_t nonzero_end(const uint8_t *buf, size_t from, size_t end)
{
    size_t e = end;
    while (e > from && (e & 7u) != 0 && buf[e - 1] == 0)
        e--;
    while (e - from >= 8) {
        uint64_t w;
        memcpy(&w, buf + e - 8, 8);
        if (w != 0)
            break;
        e -= 8;
    }
    while (e > from && buf[e - 1] == 0)
        e--;
    return e;
}

static int add_span(struct rcv *r, const char *name, size_t start, size_t end)
{
    if (end <= start)
        return 0;
    if (r->nspans == MAX_SPANS)
        return refuse(r, "segment %s: more than %u damaged regions; giving up", name,
                      MAX_SPANS);
    r->spans[r->nspans].start = start;
    r->spans[r->nspans].end = end;
    r->nspans++;
    return 0;
}

/* A grouped record passed validation: the scan notes it (aof_group.h). */
static int note_group(struct rcv *r, const char *name, size_t off, const struct aof_rec *rec)
{
    if (r->gt == NULL && (r->gt = aof_gtab_new()) == NULL)
        return refuse(r, "out of memory");
    char why[160];
    if (aof_gtab_note(r->gt, &rec->group, why, sizeof(why)) != 0)
        return refuse(r, "segment %s offset %zu: shard %u LSN %llu: %s; refusing to start",
                      name, off, rec->shard, (unsigned long long)rec->lsn, why);
    return 0;
}

/*
 * Validate the segment in r->buf[0..end).  Builds the spans of valid records
 * and sets *valid_end (where a writer would continue).  Returns 0 or -1.
 */
static int scan_segment(struct rcv *r, const char *name, size_t end, bool last,
                        size_t *valid_end)
{
    const char *why = NULL;
    size_t off = AOF_BLOCK, span_start = AOF_BLOCK;
    r->nspans = 0;
    while (off < end) {
        struct aof_rec rec;
        enum aof_dec d = aof_record_decode(r->buf + off, end - off, &rec, &why);
        if (d == AOF_DEC_OK) {
            uint64_t prev = r->last_lsn[rec.shard];
            if (prev != 0 && rec.lsn != prev + 1) {
                if (!r->o->allow_corrupt)
                    return refuse(r, "segment %s offset %zu: shard %u LSN %llu follows %llu "
                                  "(records are missing); refusing to start",
                                  name, off, rec.shard, (unsigned long long)rec.lsn,
                                  (unsigned long long)prev);
                log_warning("AOF: segment %s offset %zu: shard %u LSN %llu follows %llu; "
                            "going on (override)", name, off, rec.shard,
                            (unsigned long long)rec.lsn, (unsigned long long)prev);
            }
            r->last_lsn[rec.shard] = rec.lsn;
            if (rec.group.id != 0 && note_group(r, name, off, &rec) != 0)
                return -1;
            off += rec.len;
            continue;
        }
        if (d == AOF_DEC_END && !last)
            why = "zero bytes inside the sealed length";
        if (add_span(r, name, span_start, off) != 0)
            return -1;
        size_t next = find_valid_after(r->buf, off + 1, end);
        if (last && next == NOT_FOUND) {
            size_t cut = nonzero_end(r->buf, off, end) - off;
            if (cut > 0) {
                log_warning("AOF: segment %s: cut a torn record at the tail: offset %zu, "
                            "%zu bytes removed (%s)", name, off, cut, why);
                r->res->truncated_bytes += cut;
            }
            *valid_end = off;
            return 0;
        }
        if (!r->o->allow_corrupt)
            return refuse(r, "segment %s is corrupt at offset %zu (%s)%s; refusing to start "
                          "(allow a corrupt log explicitly to skip damaged records)",
                          name, off, why,
                          next == NOT_FOUND ? "" : " and valid records follow it");
        if (next == NOT_FOUND)
            next = end;
        log_warning("AOF: segment %s: skipping %zu damaged bytes at offset %zu (%s) "
                    "(override)", name, next - off, off, why);
        r->res->skipped_bytes += next - off;
        off = span_start = next;
    }
    if (add_span(r, name, span_start, off) != 0)
        return -1;
    *valid_end = off;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* replay                                                                   */

/* A record held while its group (or an earlier one of its shard) is open:
 * a copy, since the segment buffer is reused for the next segment. */
struct held {
    struct held *next;
    uint32_t len;
    uint8_t bytes[];
};

struct hold_q {
    struct held *head, *tail;
};

struct replayer {
    struct rcv *r;
    uint32_t t, nthreads;
    _Atomic bool *abort;
    struct hp_slice *argv;
    uint32_t argv_cap;
    uint64_t records, bytes, dropped;
    bool failed;
    size_t fail_off;               /* SIZE_MAX: a held record */
    const char *fail_why;          /* NULL: the callback failed */
    struct aof_rec fail_rec;
    struct hold_q q[HP_MAX_SHARDS]; /* only the shards this thread replays */
};

static int grow_argv(struct replayer *p, uint32_t argc)
{
    if (argc <= p->argv_cap)
        return 0;
    uint32_t ncap = HP_MAX(argc, p->argv_cap * 2);
    ncap = HP_MIN(ncap, AOF_REC_MAX_ARGC);
    struct hp_slice *na = realloc(p->argv, (size_t)ncap * sizeof(*na));
    if (na == NULL)
        return -1;
    p->argv = na;
    p->argv_cap = ncap;
    return 0;
}

static int fail_at(struct replayer *p, const struct aof_rec *rec, size_t off, const char *why)
{
    p->failed = true;
    p->fail_off = off;
    p->fail_why = why;
    p->fail_rec = *rec;
    atomic_store(p->abort, true);
    return -1;
}

static int apply(struct replayer *p, const struct aof_rec *rec, size_t off)
{
    int rc = grow_argv(p, rec->argc);
    if (rc == 0) {
        rc = aof_record_argv(rec, p->argv, p->argv_cap);
        HP_ASSERT(rc == 0);
        rc = p->r->o->replay(p->r->o->replay_arg, rec, p->argv);
    }
    if (rc != 0)
        return fail_at(p, rec, off, NULL);
    p->records++;
    p->bytes += rec->len;
    return 0;
}

/* What to do with a record whose shard holds nothing: apply it, drop it
 * (its group is dead) or hold it (its group is open). */
static enum aof_gstate group_state(const struct replayer *p, const struct aof_rec *rec)
{
    if (rec->group.id == 0)
        return AOF_GS_COMPLETE;
    HP_ASSERT(p->r->gt != NULL); /* the scan noted the member */
    return aof_gtab_state(p->r->gt, rec->group.id);
}

static int hold(struct replayer *p, const struct aof_rec *rec, const uint8_t *bytes, size_t off)
{
    struct rcv *r = p->r;
    size_t need = sizeof(struct held) + rec->len;
    size_t was = atomic_fetch_add(&r->held_bytes, need);
    if (was + need > r->held_max) {
        /* Name the group everything waits for: the shard's oldest held one. */
        struct aof_rec blocker = *rec;
        struct held *first = p->q[rec->shard].head;
        if (first != NULL) {
            enum aof_dec d = aof_record_peek(first->bytes, first->len, &blocker, NULL);
            HP_ASSERT(d == AOF_DEC_OK);
        }
        return fail_at(p, &blocker, off, "too many records wait for an incomplete group");
    }
    struct held *h = malloc(need);
    if (h == NULL)
        return fail_at(p, rec, off, "out of memory holding records of an incomplete group");
    h->next = NULL;
    h->len = rec->len;
    memcpy(h->bytes, bytes, rec->len);
    struct hold_q *q = &p->q[rec->shard];
    if (q->tail == NULL)
        q->head = h;
    else
        q->tail->next = h;
    q->tail = h;
    return 0;
}

/* One record of the segment, in its shard's LSN order. */
static int replay_one(struct replayer *p, const struct aof_rec *rec, const uint8_t *bytes,
                      size_t off)
{
    if (p->q[rec->shard].head != NULL)
        return hold(p, rec, bytes, off); /* keeps the shard's LSN order */
    enum aof_gstate st = group_state(p, rec);
    if (st == AOF_GS_COMPLETE)
        return apply(p, rec, off);
    if (st == AOF_GS_DEAD) {
        p->dropped++;
        return 0;
    }
    return hold(p, rec, bytes, off);
}

/* Apply or drop the shard's held records up to the first one whose group
 * is still open. */
static int release_held(struct replayer *p, uint32_t s)
{
    struct hold_q *q = &p->q[s];
    while (q->head != NULL) {
        struct held *h = q->head;
        struct aof_rec rec;
        enum aof_dec d = aof_record_peek(h->bytes, h->len, &rec, NULL);
        HP_ASSERT(d == AOF_DEC_OK); /* validated before it was held */
        enum aof_gstate st = group_state(p, &rec);
        if (st == AOF_GS_OPEN)
            return 0;
        if (st == AOF_GS_COMPLETE && apply(p, &rec, SIZE_MAX) != 0)
            return -1;
        if (st == AOF_GS_DEAD)
            p->dropped++;
        q->head = h->next;
        if (q->head == NULL)
            q->tail = NULL;
        atomic_fetch_sub(&p->r->held_bytes, sizeof(*h) + h->len);
        free(h);
    }
    return 0;
}

static void free_held(struct replayer *p)
{
    for (uint32_t s = 0; s < HP_MAX_SHARDS; s++) {
        while (p->q[s].head != NULL) {
            struct held *h = p->q[s].head;
            p->q[s].head = h->next;
            free(h);
        }
        p->q[s].tail = NULL;
    }
}

static void *replay_main(void *arg)
{
    struct replayer *p = arg;
    struct rcv *r = p->r;
    for (uint32_t s = p->t; s < HP_MAX_SHARDS; s += p->nthreads)
        if (release_held(p, s) != 0)
            return NULL;
    for (uint32_t i = 0; i < r->nspans; i++) {
        size_t off = r->spans[i].start, end = r->spans[i].end;
        while (off < end) {
            if (atomic_load_explicit(p->abort, memory_order_relaxed))
                return NULL;
            struct aof_rec rec;
            enum aof_dec d = aof_record_peek(r->buf + off, end - off, &rec, NULL);
            HP_ASSERT(d == AOF_DEC_OK); /* the span was validated */
            if (rec.shard % p->nthreads == p->t && replay_one(p, &rec, r->buf + off, off) != 0)
                return NULL;
            off += rec.len;
        }
    }
    return NULL;
}

static int replay_segment(struct rcv *r, const char *name, struct replayer *ps, uint32_t n)
{
    if (r->o->replay == NULL)
        return 0;
    _Atomic bool abort_flag = false;
    pthread_t tids[HP_MAX_SHARDS];
    uint32_t started = 0;
    for (uint32_t t = 0; t < n; t++) {
        ps[t].abort = &abort_flag;
        ps[t].failed = false;
    }
    if (n == 1) {
        replay_main(&ps[0]);
    } else {
        for (; started < n; started++)
            if (pthread_create(&tids[started], NULL, replay_main, &ps[started]) != 0)
                break;
        if (started < n) {
            atomic_store(&abort_flag, true);
            log_warning("AOF: cannot start replay thread: %s", strerror(errno));
        }
        for (uint32_t t = 0; t < started; t++) {
            int jr = pthread_join(tids[t], NULL);
            HP_ASSERT(jr == 0);
        }
        if (started < n)
            return refuse(r, "cannot start %u replay threads", n);
    }
    for (uint32_t t = 0; t < n; t++) {
        if (!ps[t].failed)
            continue;
        const struct aof_rec *fr = &ps[t].fail_rec;
        if (ps[t].fail_why != NULL)
            return refuse(r, "segment %s: shard %u LSN %llu (group %llu): %s (more than %zu "
                          "bytes held; the limit is aof_recover_opts.group_buffer_bytes); "
                          "refusing to start", name, fr->shard, (unsigned long long)fr->lsn,
                          (unsigned long long)fr->group.id, ps[t].fail_why, r->held_max);
        if (ps[t].fail_off == SIZE_MAX)
            return refuse(r, "replay callback failed for shard %u LSN %llu (a record held "
                          "for group %llu, before segment %s)", fr->shard,
                          (unsigned long long)fr->lsn, (unsigned long long)fr->group.id, name);
        return refuse(r, "segment %s offset %zu: replay callback failed for shard %u "
                      "LSN %llu", name, ps[t].fail_off, fr->shard,
                      (unsigned long long)fr->lsn);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* directory                                                                */

/* Without a manifest no segment can hold records (a segment is listed
 * before its first record is written); a segment with data then means the
 * manifest was lost, and starting empty would silently drop it. */
static int check_orphans(struct rcv *r)
{
    DIR *d = fdopendir(dup(r->dirfd));
    if (d == NULL)
        return refuse(r, "cannot list %s: %s", r->o->dir, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 10 || strncmp(de->d_name, "seg-", 4) != 0 ||
            strcmp(de->d_name + nl - 6, ".hpaof") != 0)
            continue;
        int fd = openat(r->dirfd, de->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = refuse(r, "cannot open %s: %s", de->d_name, strerror(errno));
            break;
        }
        uint8_t hdr[AOF_REC_HDR_LEN];
        ssize_t n = pread(fd, hdr, sizeof(hdr), AOF_BLOCK);
        int e = errno;
        close(fd);
        if (n < 0) {
            rc = refuse(r, "cannot read %s: %s", de->d_name, strerror(e));
            break;
        }
        bool empty = true;
        for (ssize_t i = 0; i < n && empty; i++)
            empty = hdr[i] == 0;
        if (!empty)
            rc = refuse(r, "%s holds records but %s/%s is missing; refusing to start",
                        de->d_name, r->o->dir, AOF_MANIFEST_NAME);
    }
    closedir(d);
    return rc;
}

static int alloc_resume(struct aof_recover_result *res, uint32_t n)
{
    res->resume.segment_ids = calloc(n == 0 ? 1 : n, sizeof(uint64_t));
    res->resume.segment_lens = calloc(n == 0 ? 1 : n, sizeof(uint64_t));
    return res->resume.segment_ids != NULL && res->resume.segment_lens != NULL ? 0 : -1;
}

/* Size of what to read of manifest entry i: the sealed length, or the whole
 * file for the active one.  Returns an fd or a negative errno. */
static int segment_extent(struct rcv *r, const struct aof_manifest *m, uint32_t i,
                          uint64_t *len)
{
    uint64_t size = 0;
    int fd = open_segment(r, m->ids[i], &size);
    if (fd < 0)
        return fd;
    *len = m->lens[i] == AOF_SEG_ACTIVE ? size : HP_MIN(m->lens[i], size);
    return fd;
}

/* Before scanning a segment: dead groups were all released by the last
 * replay (it followed their death), so forget them; a segment written by a
 * later run of the server ends every group still open. */
static void session_boundary(struct rcv *r, bool new_session)
{
    aof_gtab_sweep_dead(r->gt);
    if (new_session)
        r->res->groups_dropped += aof_gtab_close_open(r->gt);
}

/* After the last segment: groups still open can never complete; release
 * what their shards held (a replay pass over no records). */
static int finish_groups(struct rcv *r, struct replayer *ps, uint32_t nthreads)
{
    if (r->gt == NULL)
        return 0;
    r->res->groups_dropped += aof_gtab_close_open(r->gt);
    r->nspans = 0;
    int rc = replay_segment(r, "(end of the log)", ps, nthreads);
    if (rc == 0 && r->o->replay != NULL)
        HP_ASSERT(atomic_load(&r->held_bytes) == 0);
    return rc;
}

/* Validate and replay manifest entry i.  0: done; 1: left out (missing
 * under the override, or an empty active segment); -1: refused. */
static int recover_segment(struct rcv *r, const struct aof_manifest *m, uint32_t i,
                           struct replayer *ps, uint32_t nthreads)
{
    char name[64];
    aof_segment_name(m->ids[i], name, sizeof(name));
    bool active = m->lens[i] == AOF_SEG_ACTIVE;
    uint64_t len;
    int fd = segment_extent(r, m, i, &len);
    if (fd < 0) {
        if (fd == -ENOENT && r->o->allow_corrupt) {
            log_warning("AOF: segment %s listed in the manifest is missing; going on "
                        "(override)", name);
            return 1;
        }
        return refuse(r, "cannot open segment %s: %s; refusing to start", name,
                      strerror(-fd));
    }
    if (len > AOF_SEG_MAX_BYTES + AOF_BLOCK) {
        close(fd);
        return refuse(r, "segment %s is %llu bytes, larger than any segment can be", name,
                      (unsigned long long)len);
    }
    if (!active && len < m->lens[i] && !r->o->allow_corrupt) {
        close(fd);
        return refuse(r, "segment %s is %llu bytes but the manifest says %llu; refusing to "
                      "start", name, (unsigned long long)len,
                      (unsigned long long)m->lens[i]);
    }
    int rc = read_segment(r, fd, (size_t)len);
    close(fd);
    if (rc != 0)
        return refuse(r, "cannot read segment %s: %s", name, strerror(-rc));
    const char *why = NULL;
    /* A segment is listed only after its header was synced, so a bad one is
     * damage even in the active segment. */
    if (aof_segment_header_check(r->buf, (size_t)len, m->ids[i], &why) != 0) {
        if (active && nonzero_end(r->buf, 0, (size_t)len) == 0) {
            /* A crash while (re)creating the segment a rotation had already
             * listed: nothing was ever written to it.  Leave it out; the
             * writer recreates it. */
            log_warning("AOF: active segment %s is empty (%llu zero bytes, no header); "
                        "ignoring it", name, (unsigned long long)len);
            r->done += len;
            return 1;
        }
        return refuse(r, "segment %s offset 0: %s; refusing to start", name, why);
    }
    if (r->gt != NULL)
        session_boundary(r, (aof_segment_flags(r->buf) & AOF_SEGF_SESSION) != 0);
    size_t valid_end = AOF_BLOCK;
    if (scan_segment(r, name, (size_t)len, active, &valid_end) != 0)
        return -1;
    if (replay_segment(r, name, ps, nthreads) != 0)
        return -1;
    r->res->resume.segment_ids[r->res->resume.nsegments] = m->ids[i];
    r->res->resume.segment_lens[r->res->resume.nsegments++] = active ? valid_end : m->lens[i];
    r->res->segments++;
    r->done += len;
    progress(r, r->done);
    return 0;
}

static int recover_all(struct rcv *r, const struct aof_manifest *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t len;
        int fd = segment_extent(r, m, i, &len);
        if (fd >= 0) {
            close(fd);
            r->total += len;
        }
    }
    if (alloc_resume(r->res, m->n) != 0)
        return refuse(r, "out of memory");
    uint32_t nthreads = r->o->threads == 0 ? 1 : HP_MIN(r->o->threads, HP_MAX_SHARDS);
    struct replayer ps[HP_MAX_SHARDS];
    memset(ps, 0, sizeof(ps));
    for (uint32_t t = 0; t < nthreads; t++) {
        ps[t].r = r;
        ps[t].t = t;
        ps[t].nthreads = nthreads;
    }
    int rc = 0;
    for (uint32_t i = 0; i < m->n && rc >= 0; i++)
        rc = recover_segment(r, m, i, ps, nthreads);
    if (rc >= 0)
        rc = finish_groups(r, ps, nthreads);
    for (uint32_t t = 0; t < nthreads; t++) {
        r->res->records += ps[t].records;
        r->res->bytes += ps[t].bytes;
        r->res->group_records_dropped += ps[t].dropped;
        free(ps[t].argv);
        free_held(&ps[t]);
    }
    if (r->gt != NULL)
        r->res->resume.last_group_id = aof_gtab_max_id(r->gt);
    return rc < 0 ? -1 : 0;
}

int aof_recover(const struct aof_recover_opts *opts, struct aof_recover_result *res)
{
    memset(res, 0, sizeof(*res));
    struct rcv *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    r->o = opts;
    r->res = res;
    r->held_max = opts->group_buffer_bytes != 0 ? opts->group_buffer_bytes
                                                : AOF_GROUP_BUFFER_DEFAULT;
    uint64_t t0 = clock_mono_ns();
    int rc;
    r->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        rc = refuse(r, "cannot open AOF directory %s: %s", opts->dir, strerror(errno));
        free(r);
        return rc;
    }
    struct aof_manifest m;
    char why[160] = "";
    int mrc = aof_manifest_read(opts->dir, &m, why, sizeof(why));
    if (mrc == -ENOENT) {
        rc = check_orphans(r);
        res->fresh = rc == 0;
        if (rc == 0 && alloc_resume(res, 0) != 0)
            rc = refuse(r, "out of memory");
    } else if (mrc != 0) {
        rc = refuse(r, "cannot use %s/%s: %s", opts->dir, AOF_MANIFEST_NAME,
                    mrc == -EINVAL ? why : strerror(-mrc));
    } else {
        rc = recover_all(r, &m);
        aof_manifest_free(&m);
    }
    memcpy(res->resume.last_lsn, r->last_lsn, sizeof(r->last_lsn));
    if (rc == 0 && !res->fresh) {
        double secs = (double)(clock_mono_ns() - t0) / 1e9;
        log_notice("AOF: replayed %llu records (%.1f MB) from %u segments in %.2f s",
                   (unsigned long long)res->records, (double)res->bytes / 1e6, res->segments,
                   secs);
        if (res->groups_dropped > 0)
            log_warning("AOF: dropped %llu incomplete groups (%llu records): writes a crash "
                        "cut before all their records were logged",
                        (unsigned long long)res->groups_dropped,
                        (unsigned long long)res->group_records_dropped);
    }
    close(r->dirfd);
    aof_gtab_free(r->gt);
    free(r->buf);
    free(r);
    return rc;
}

void aof_recover_result_free(struct aof_recover_result *res)
{
    free(res->resume.segment_ids);
    free(res->resume.segment_lens);
    res->resume.segment_ids = NULL;
    res->resume.segment_lens = NULL;
    res->resume.nsegments = 0;
}

void aof_recover_log_progress(void *arg, uint64_t done, uint64_t total)
{
    struct aof_progress_logger *pl = arg;
    uint64_t now = clock_mono_ns();
    if (pl->start_ns == 0)
        pl->start_ns = now;
    bool finished = done >= total;
    if (pl->finished || (!finished && now - pl->last_ns < 1000000000ull))
        return;
    pl->last_ns = now;
    pl->finished = finished;
    double secs = (double)(now - pl->start_ns) / 1e9;
    double mb = (double)done / 1e6;
    log_notice("AOF loading: %.0f%% (%.1f of %.1f MB, %.1f MB/s)",
               total == 0 ? 100.0 : 100.0 * (double)done / (double)total, mb,
               (double)total / 1e6, secs > 0 ? mb / secs : 0.0);
}
