/*
 * aof_segment.c - segments: names and the header block, creating one,
 * the in-memory segment list, trimming and rotation.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* segment names and header                                                 */

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

/* ------------------------------------------------------------------------ */
/* segments                                                                 */

/* Creates segment `id` (header with `flags`, preallocation, synced).
 * Returns fd or -errno. */
int aof_segment_create(struct aof_log *l, uint64_t id, uint32_t flags)
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

int aof_manifest_push(struct aof_log *l, uint64_t id, uint64_t len)
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
void aof_segment_trim(struct aof_log *l, int fd, uint64_t id, uint64_t len)
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
int aof_segment_rotate(struct aof_log *l)
{
    HP_ASSERT(l->stage_synced == l->stage_len && l->stage_written == l->stage_len);
    uint64_t seal_len = l->stage_off + l->stage_len;
    uint64_t new_id = l->seg_id + 1;
    if (l->man.n == AOF_MAX_SEGMENTS)
        return -EFBIG;
    int fd = aof_segment_create(l, new_id, 0);
    if (fd < 0)
        return fd;
    HP_ASSERT(l->man.n > 0 && l->man.lens[l->man.n - 1] == AOF_SEG_ACTIVE);
    l->man.lens[l->man.n - 1] = seal_len;
    int rc = aof_manifest_push(l, new_id, AOF_SEG_ACTIVE);
    if (rc == 0) {
        bool renamed;
        rc = aof_manifest_write_at(l->dirfd, &l->man, &renamed);
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
    aof_segment_trim(l, l->seg_fd, l->seg_id, seal_len);
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
