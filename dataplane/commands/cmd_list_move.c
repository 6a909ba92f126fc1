/*
 * cmd_list_move.c - LPOS, and the list commands that may touch several
 * keys: LMOVE, RPOPLPUSH, LMPOP.
 *
 * LMOVE's two keys may live on different shards: the dispatcher holds both
 * (key specs) and the handler logs one record per shard, "RPOP src" (or
 * LPOP) on the source's and "LPUSH dst v" (or RPUSH) on the destination's,
 * never one record naming both.  LMPOP logs "LPOP key n" with the count it
 * actually popped, on that key's shard.
 */
#include "cmd_list.h"

#include <string.h>
#include <strings.h>

static bool opt_is(struct hp_slice a, const char *name)
{
    size_t n = strlen(name);
    return a.len == n && strncasecmp((const char *)a.ptr, name, n) == 0;
}

/* ---- LPOS ------------------------------------------------------------------ */

void cmd_lpos(struct exec_ctx *x)
{
    int64_t rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < x->argc; j++) {
        bool more = j + 1 < x->argc;
        if (opt_is(x->argv[j], "rank") && more) {
            if (!list_parse_long(x->argv[++j], &rank)) {
                resp_add_error(x->out, LIST_ERR_NOT_INT);
                return;
            }
            if (rank == 0) {
                resp_add_error(x->out, "ERR RANK can't be zero: use 1 to start from the first "
                                       "match, 2 from the second ... or use negative to start "
                                       "from the end of the list");
                return;
            }
        } else if (opt_is(x->argv[j], "count") && more) {
            if (!list_parse_long(x->argv[++j], &count) || count < 0) {
                resp_add_error(x->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (opt_is(x->argv[j], "maxlen") && more) {
            if (!list_parse_long(x->argv[++j], &maxlen) || maxlen < 0) {
                resp_add_error(x->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            resp_add_error(x->out, LIST_ERR_SYNTAX);
            return;
        }
    }
    bool from_tail = rank < 0;
    /* Redis 7.0 negates LONG_MIN into itself, a rank every match reaches:
     * the first match from the tail. */
    uint64_t want_rank = rank > 0 ? (uint64_t)rank
                                  : (rank == INT64_MIN ? 1 : (uint64_t)-rank);
    /* ... and its "matches - rank + 1 >= count" overflows: COUNT then
     * stops nothing, every match is listed. */
    int64_t stop_at = rank == INT64_MIN ? 0 : count;
    struct quicklist *ql;
    enum shard_lookup r = list_lookup_read(x, exec_shard(x, x->argv[1]), x->argv[1], &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE || ql_len(ql) == 0) {
        if (count != -1)
            resp_add_array(x->out, 0);
        else
            resp_add_null(x->out, x->proto);
        return;
    }
    uint64_t len = ql_len(ql);
    struct hp_slice v = x->argv[2];
    /* Positions are counted in a first pass only when COUNT asks for an
     * array, so the array header can come first; both passes are O(n). */
    uint64_t matches = 0, found = 0, first = UINT64_MAX;
    struct ql_iter it;
    struct hp_slice e;
    for (int pass = (count == -1 ? 1 : 0); pass < 2; pass++) {
        matches = 0;
        found = 0;
        ql_iter_at(ql, from_tail ? len - 1 : 0, !from_tail, &it);
        for (uint64_t i = 0; ql_iter_get(&it, &e) && (maxlen == 0 || i < (uint64_t)maxlen);
             i++, ql_iter_next(&it)) {
            if (e.len != v.len || (v.len != 0 && memcmp(e.ptr, v.ptr, v.len) != 0))
                continue;
            matches++;
            if (matches < want_rank)
                continue;
            uint64_t pos = from_tail ? len - i - 1 : i;
            if (count == -1) {
                first = pos;
                break;
            }
            found++;
            if (pass == 1)
                resp_add_int(x->out, (int64_t)pos);
            if (stop_at > 0 && found >= (uint64_t)stop_at)
                break;
        }
        if (pass == 0)
            resp_add_array(x->out, found);
    }
    if (count != -1)
        return;
    if (first == UINT64_MAX)
        resp_add_null(x->out, x->proto);
    else
        resp_add_int(x->out, (int64_t)first);
}

/* ---- LMOVE / RPOPLPUSH -------------------------------------------------------- */

static void move_generic(struct exec_ctx *x, bool from_left, bool to_left)
{
    struct hp_slice src = x->argv[1], dst = x->argv[2];
    struct shard *ss = exec_shard(x, src), *ds = exec_shard(x, dst);
    struct quicklist *sq, *dq;
    enum shard_lookup r = list_lookup(x, ss, src, &sq);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_null(x->out, x->proto);
        return;
    }
    enum shard_lookup rd = list_lookup(x, ds, dst, &dq);
    if (rd == SHARD_LOOKUP_WRONGTYPE)
        return;
    uint64_t len = ql_len(sq);
    uint64_t from = from_left ? 0 : len - 1;
    /* The value is copied into the reply first: the push may move nodes. */
    struct hp_slice v = ql_index(sq, from);
    size_t mark = x->out->len;
    resp_add_bulk(x->out, v.ptr, v.len);
    /* Reply bytes: the bulk's payload is the element, by then in out. */
    struct hp_slice copy = hp_slice_make(x->out->data + x->out->len - 2 - v.len, v.len);
    bool created = false;
    if (rd == SHARD_LOOKUP_NONE) {
        dq = ql_create(ds);
        created = true;
    }
    if (dq == NULL || x->out->overflow || ql_push(ds, dq, to_left, copy) != 0 ||
        (created && shard_obj_set(ds, x->db, dst, OBJ_LIST, dq, SHARD_NO_EXPIRE,
                                  x->now_ms) != 0)) {
        if (created && dq != NULL)
            ql_free(ds, dq);
        if (!x->out->overflow)
            x->out->len = mark;
        resp_add_error(x->out, LIST_ERR_OOM);
        return;
    }
    /* Push done (src == dst: onto the same list, so pop the shifted end). */
    if (sq == dq && to_left && !from_left)
        from = ql_len(sq) - 1;
    else if (sq == dq && !to_left && from_left)
        from = 0;
    else if (sq == dq)
        from = to_left ? 1 : ql_len(sq) - 2;
    ql_delete_range(ss, sq, from, 1);
    exec_key_changed(x, x->db, src);
    exec_key_changed(x, x->db, dst);
    if (sq == dq) {
        exec_log_argv(x);
        return;
    }
    struct hp_slice pop[2] = {hp_slice_make(from_left ? "LPOP" : "RPOP", 4), src};
    struct hp_slice push[3] = {hp_slice_make(to_left ? "LPUSH" : "RPUSH", 5), dst, copy};
    exec_log_record(x, x->db, 2, pop);
    exec_log_record(x, x->db, 3, push);
    list_drop_if_empty(x, ss, src, sq);
}

void cmd_lmove(struct exec_ctx *x)
{
    int from = list_where(x->argv[3]), to = list_where(x->argv[4]);
    if (from < 0 || to < 0) {
        resp_add_error(x->out, LIST_ERR_SYNTAX);
        return;
    }
    move_generic(x, from == 1, to == 1);
}

void cmd_rpoplpush(struct exec_ctx *x)
{
    move_generic(x, false, true);
}

/* ---- LMPOP ---------------------------------------------------------------- */

void cmd_lmpop(struct exec_ctx *x)
{
    int64_t numkeys;
    if (!list_parse_long(x->argv[1], &numkeys) || numkeys < 1) {
        resp_add_error(x->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > x->argc - 3) {
        resp_add_error(x->out, LIST_ERR_SYNTAX);
        return;
    }
    int where_ix = 2 + (int)numkeys;
    int where = list_where(x->argv[where_ix]);
    if (where < 0) {
        resp_add_error(x->out, LIST_ERR_SYNTAX);
        return;
    }
    int64_t count = -1;
    for (int j = where_ix + 1; j < x->argc; j++) {
        if (count == -1 && opt_is(x->argv[j], "count") && j + 1 < x->argc) {
            if (!list_parse_long(x->argv[++j], &count) || count < 1) {
                resp_add_error(x->out, "ERR count should be greater than 0");
                return;
            }
        } else {
            resp_add_error(x->out, LIST_ERR_SYNTAX);
            return;
        }
    }
    if (count == -1)
        count = 1;
    for (int k = 2; k < where_ix; k++) {
        struct hp_slice key = x->argv[k];
        struct shard *s = exec_shard(x, key);
        struct quicklist *ql;
        enum shard_lookup r = list_lookup(x, s, key, &ql);
        if (r == SHARD_LOOKUP_WRONGTYPE)
            return;
        if (r == SHARD_LOOKUP_NONE)
            continue;
        uint64_t n = HP_MIN((uint64_t)count, ql_len(ql));
        char num[24];
        struct hp_slice rec[3] = {hp_slice_make(where == 1 ? "LPOP" : "RPOP", 4), key,
                                  hp_slice_make(num, i64_to_str(num, (int64_t)n))};
        exec_key_changed(x, x->db, key);
        exec_log_record(x, x->db, 3, rec);
        resp_add_array(x->out, 2);
        resp_add_bulk(x->out, key.ptr, key.len);
        /* pop_and_reply lives in cmd_list.c; the same loop here. */
        uint64_t len = ql_len(ql);
        resp_add_array(x->out, n);
        struct ql_iter it;
        ql_iter_at(ql, where == 1 ? 0 : len - 1, where == 1, &it);
        for (uint64_t i = 0; i < n; i++) {
            struct hp_slice v;
            bool ok = ql_iter_get(&it, &v);
            HP_ASSERT(ok);
            resp_add_bulk(x->out, v.ptr, v.len);
            ql_iter_next(&it);
        }
        ql_delete_range(s, ql, where == 1 ? 0 : len - n, n);
        list_drop_if_empty(x, s, key, ql);
        return;
    }
    resp_add_null_array(x->out, x->proto);
}
