/*
 * persist_replay.c - replays one log record (see persist_replay.h).
 *
 * Records are states (persist.h): SET k v [PXAT ms], DEL k, PEXPIREAT k ms,
 * a type's own records (entry_state_records), FLUSHDB, FLUSHALL.  Each runs
 * through call_exec with CALL_REPLAY (no admission, no log, no stats) on
 * the record's shard (parallel replay: one thread per shard) or on every
 * shard (serial replay of a log without its layout file).
 */
#include "persist_replay.h"

#include <string.h>

#include "../../common/log.h"
#include "../../common/rbuf.h"
#include "../../common/strutil.h"
#include "../core/runtime.h"

/* Replies of replayed records are small ("+OK", ":1"); bounded anyway. */
#define PX_REPLAY_REPLY_LIMIT (64 * 1024)

static int px_replay_bad(const struct aof_rec *rec, const struct hp_slice *argv, const char *why)
{
    log_warning("AOF: record LSN %llu of shard %u (%.*s, %u arguments): %s",
                (unsigned long long)rec->lsn, rec->shard,
                (int)(argv[0].len > 32 ? 32 : argv[0].len), (const char *)argv[0].ptr, rec->argc,
                why);
    return -1;
}

/* Which shards the record may touch; false: its key is on another shard
 * than the one the log filed it under. */
static bool px_replay_mask(const struct px_replay *r, const struct cmd_spec *spec,
                           const struct aof_rec *rec, const struct hp_slice *argv,
                           uint64_t *held, uint32_t *home)
{
    struct runtime *rt = r->rt;
    uint64_t all = rt->nworkers == 64 ? ~0ull : (1ull << rt->nworkers) - 1;
    *home = rec->shard < rt->nworkers ? rec->shard : 0;
    if (!r->same_layout) {
        *held = all;
        return true;
    }
    *held = 1ull << *home;
    if (spec->kind != CMD_KIND_KEYED || rec->argc < 2)
        return true;
    struct hp_slice key = argv[1];
    uint32_t sid = rt->nworkers == 1 ? 0 : rt->slot_to_shard[slot_of_key(key.ptr, key.len)];
    if (sid != rec->shard) {
        log_warning("AOF: record LSN %llu of shard %u holds a key of shard %u: the layout file "
                    "%s is wrong; remove it to replay serially",
                    (unsigned long long)rec->lsn, rec->shard, sid, r->layout_name);
        return false;
    }
    return true;
}

int px_replay_rec(void *arg, const struct aof_rec *rec, const struct hp_slice *argv)
{
    struct px_replay *r = arg;
    struct runtime *rt = r->rt;
    HP_ASSERT(rec->argc >= 1);
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL || spec->exec == NULL || !(spec->flags & CMD_WRITE) ||
        spec->kind == CMD_KIND_SCAN || !cmd_arity_ok(spec, (int)rec->argc))
        return px_replay_bad(rec, argv, "not a record hotpathd writes");
    if (rec->db >= HP_NUM_DBS)
        return px_replay_bad(rec, argv, "db out of range");
    uint64_t held;
    uint32_t home;
    if (!px_replay_mask(r, spec, rec, argv, &held, &home))
        return -1;
    struct rbuf out;
    rbuf_init(&out, PX_REPLAY_REPLY_LIMIT);
    struct exec_ctx x = {
        .shards = rt->shards,
        .slot_to_shard = rt->slot_to_shard,
        .nshards = rt->nworkers,
        .home = home,
        .held_mask = held,
        .db = rec->db,
        .proto = 2,
        .now_ms = r->now_ms,
        .max_bulk = INT64_MAX, /* what was logged was accepted once */
        .argc = (int)rec->argc,
        .argv = argv,
        .out = &out,
    };
    /* Per call: replay threads share `r`; the changes list is scratch. */
    struct call_env env = {.w = NULL};
    struct persist_wait wt;
    enum call_rc rc = call_exec(&env, spec, &x, CALL_REPLAY, &wt);
    HP_ASSERT(rc == CALL_DONE);
    int ret = 0;
    if (out.len > 0 && out.data[0] == '-') {
        char why[128];
        size_t n = HP_MIN(out.len, sizeof(why) - 1);
        memcpy(why, out.data, n);
        why[n] = '\0';
        why[strcspn(why, "\r\n")] = '\0';
        ret = px_replay_bad(rec, argv, why);
    }
    rbuf_free(&out);
    return ret;
}
