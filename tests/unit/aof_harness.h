/*
 * aof_harness.h - shared by the append-only log suites (test_aof_record.c,
 * test_aof_log.c, test_aof_fault.c, test_aof_recover.c, test_aof_idle.c):
 * scratch directories, record contents that can be checked after recovery,
 * appends and waits, a small log configuration, recovery into a checker.
 * The suites are built with HP_AOF_FAULT_INJECTION (storage/aof/meson.build:
 * aof_test_dep).  Every test works in its own directory under /tmp and removes it.
 */
#ifndef HP_AOF_HARNESS_H
#define HP_AOF_HARNESS_H

#include "cu_main.h"

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../storage/aof/aof_log.h"
#include "../../storage/aof/aof_record.h"
#include "../../storage/aof/aof_recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 10000  /* upper bound for anything the tests wait for */
#define IDLE_WAIT_LONG_US 3000000u /* idle thread wait bound in most tests */

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static inline void make_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/hp-aof-test.XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(out) != NULL);
}

static inline void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        CU_ASSERT(unlink(path) == 0);
    }
    closedir(d);
    CU_ASSERT(rmdir(dir) == 0);
}

static inline void seg_path(const char *dir, uint64_t id, char *out, size_t cap)
{
    char name[64];
    aof_segment_name(id, name, sizeof(name));
    snprintf(out, cap, "%s/%s", dir, name);
}

static inline off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static inline void sleep_ms(unsigned ms) { usleep(ms * 1000u); }

/* Deterministic record content, so replay can check every byte:
 * SET k<shard>:<lsn> <value of (lsn*7)%300 bytes> */
struct content {
    char key[48];
    uint8_t val[300];
    struct hp_slice argv[3];
};

static inline void content_make(struct content *c, uint32_t shard, uint64_t lsn)
{
    int kl = snprintf(c->key, sizeof(c->key), "k%u:%llu", shard, (unsigned long long)lsn);
    size_t vl = (size_t)((lsn * 7) % 300);
    for (size_t i = 0; i < vl; i++)
        c->val[i] = (uint8_t)(lsn + i * 13 + shard);
    c->argv[0] = hp_slice_make("SET", 3);
    c->argv[1] = hp_slice_make(c->key, (size_t)kl);
    c->argv[2] = hp_slice_make(c->val, vl);
}

static inline bool content_matches(const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct content c;
    content_make(&c, rec->shard, rec->lsn);
    if (rec->argc != 3 || rec->db != rec->shard % HP_NUM_DBS)
        return false;
    for (int i = 0; i < 3; i++)
        if (argv[i].len != c.argv[i].len || memcmp(argv[i].ptr, c.argv[i].ptr, argv[i].len) != 0)
            return false;
    return true;
}

/* Append with the deterministic content, retrying BUSY (bounded). */
static inline uint64_t append_one(struct aof_log *l, uint32_t shard)
{
    struct content c;
    uint64_t lsn = aof_log_last_lsn(l, shard) + 1;
    content_make(&c, shard, lsn);
    uint64_t got = 0;
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    enum aof_append rc;
    while ((rc = aof_log_append(l, shard, (uint16_t)(shard % HP_NUM_DBS), clock_unix_ms(), 3,
                                c.argv, &got)) == AOF_APPEND_BUSY) {
        if (clock_mono_ns() > deadline)
            return 0;
        sched_yield();
    }
    CU_ASSERT(rc == AOF_APPEND_OK);
    CU_ASSERT(got == lsn);
    return rc == AOF_APPEND_OK ? got : 0;
}

static inline bool wait_durable(struct aof_log *l, uint32_t shard, uint64_t lsn)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (aof_log_durable_lsn(l, shard) < lsn) {
        if (clock_mono_ns() > deadline)
            return false;
        usleep(200);
    }
    return true;
}

static inline bool wait_error(struct aof_log *l, int want)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (aof_log_error(l) != want) {
        if (clock_mono_ns() > deadline)
            return false;
        usleep(200);
    }
    return true;
}

static inline void cfg_small(struct aof_log_config *c, const char *dir, uint32_t nshards)
{
    aof_log_config_init(c, dir);
    c->nshards = nshards;
    c->ring_bytes = 64 * 1024;
    c->staging_bytes = 64 * 1024;
    c->segment_bytes = 1 << 20;
    c->retry_ms = 20;
    /* Long: every test relies on appends, close and rewrite finishes waking
     * the idle thread, not on its wait timing out. */
    c->idle_sleep_max_us = IDLE_WAIT_LONG_US;
}

/* Replay checker: per-shard expected next LSN (each shard is touched by one
 * replay thread only, so no locking). */
struct checker {
    uint64_t next[HP_MAX_SHARDS];   /* 0: accept any first LSN */
    uint64_t count[HP_MAX_SHARDS];
    bool bad[HP_MAX_SHARDS];
    bool check_content;
    uint64_t fail_at_lsn;           /* make the callback fail (0: never) */
};

static inline int check_cb(void *arg, const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct checker *k = arg;
    uint32_t s = rec->shard;
    if (k->fail_at_lsn != 0 && rec->lsn == k->fail_at_lsn)
        return -1;
    if (k->next[s] != 0 && rec->lsn != k->next[s])
        k->bad[s] = true;
    if (k->check_content && !content_matches(rec, argv))
        k->bad[s] = true;
    k->next[s] = rec->lsn + 1;
    k->count[s]++;
    return 0;
}

static inline int recover_dir(const char *dir, struct checker *k, uint32_t threads, bool allow,
                       struct aof_recover_result *res)
{
    struct aof_recover_opts o = {
        .dir = dir, .threads = threads, .allow_corrupt = allow,
        .replay = check_cb, .replay_arg = k,
    };
    return aof_recover(&o, res);
}

static inline uint64_t total_count(const struct checker *k)
{
    uint64_t n = 0;
    for (int s = 0; s < HP_MAX_SHARDS; s++) {
        CU_ASSERT(!k->bad[s]);
        n += k->count[s];
    }
    return n;
}

static inline int suite_init(void)
{
    log_set_level(LOG_WARNING);
    return 0;
}

#endif
