/*
 * persist_replay.h - recovery's replay step (persist_replay.c), used by
 * persist_start: every record the log holds runs as the command it is
 * through the one execution path (core/call.c, CALL_REPLAY), so replay
 * and the live path cannot disagree about what a record means.
 */
#ifndef HP_PERSIST_REPLAY_H
#define HP_PERSIST_REPLAY_H

#include "../../common/hp_common.h"
#include "../../storage/aof/aof_recover.h"

struct runtime;

/* Shared by every replay thread: read-only while recovery runs. */
struct px_replay {
    struct runtime *rt;
    int64_t now_ms;
    bool same_layout;   /* log shard ids are our shard ids: parallel replay */
    const char *layout_name;
};

/* aof_recover's replay callback (any replay thread): 0, or -1 (logged) for
 * a record hotpathd does not write or one that fails. */
int px_replay_rec(void *arg, const struct aof_rec *rec, const struct hp_slice *argv);

#endif
