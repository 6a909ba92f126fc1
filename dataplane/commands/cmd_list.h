/*
 * cmd_list.h - what the list command files (cmd_list.c, cmd_list_move.c)
 * share: lookups with Redis' replies, and the errors.
 */
#ifndef HP_CMD_LIST_H
#define HP_CMD_LIST_H

#include <strings.h>

#include "cmd.h"

#include "../../common/resp.h"
#include "../../common/strutil.h"
#include "../../storage/list/quicklist.h"
#include "../../storage/types.h"

#define LIST_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define LIST_ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
#define LIST_ERR_NOT_INT "ERR value is not an integer or out of range"
#define LIST_ERR_SYNTAX "ERR syntax error"

/* The list at key: FOUND (*ql set), NONE, or WRONGTYPE (error replied). */
static inline enum shard_lookup list_lookup(struct exec_ctx *x, struct shard *s,
                                            struct hp_slice key, struct quicklist **ql)
{
    struct entry *e = NULL;
    enum shard_lookup r = shard_find_typed(s, x->db, key, OBJ_LIST, x->now_ms, &e);
    *ql = NULL;
    if (r == SHARD_LOOKUP_WRONGTYPE)
        resp_add_error(x->out, LIST_ERR_WRONGTYPE);
    else if (r == SHARD_LOOKUP_FOUND)
        *ql = entry_obj(e);
    return r;
}

/* The same for a read (lookupKeyRead): counts a keyspace hit or miss. */
static inline enum shard_lookup list_lookup_read(struct exec_ctx *x, struct shard *s,
                                                 struct hp_slice key, struct quicklist **ql)
{
    enum shard_lookup r = list_lookup(x, s, key, ql);
    uint64_t *counter = r != SHARD_LOOKUP_NONE ? x->keyspace_hits : x->keyspace_misses;
    if (counter != NULL)
        (*counter)++;
    return r;
}

static inline bool list_parse_long(struct hp_slice a, int64_t *v)
{
    return str_to_i64(a.ptr, a.len, v) == 0;
}

/* LEFT / RIGHT (any case): 1 left, 0 right, -1 neither. */
static inline int list_where(struct hp_slice a)
{
    if (a.len == 4 && strncasecmp((const char *)a.ptr, "left", 4) == 0)
        return 1;
    if (a.len == 5 && strncasecmp((const char *)a.ptr, "right", 5) == 0)
        return 0;
    return -1;
}

/* Deletes the key when its list became empty (Redis never keeps one). */
static inline void list_drop_if_empty(struct exec_ctx *x, struct shard *s, struct hp_slice key,
                                      const struct quicklist *ql)
{
    if (ql_len(ql) == 0) {
        int d = shard_delete(s, x->db, key, x->now_ms);
        HP_ASSERT(d == 1);
    }
}

#endif
