/*
 * aof_manifest.c - the MANIFEST file: render, write (temporary file, fsync,
 * rename, directory sync), read and parse.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX_BYTES ((size_t)AOF_MAX_SEGMENTS * 64 + 256)

/* ------------------------------------------------------------------------ */
/* manifest                                                                 */

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

int aof_fsync_dirfd(int dirfd)
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
int aof_manifest_write_at(int dirfd, const struct aof_manifest *m, bool *renamed)
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
        rc = aof_fsync_dirfd(dirfd);
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
    int rc = aof_manifest_write_at(dirfd, m, &renamed);
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
