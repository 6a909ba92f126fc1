/*
 * cmd_list.c - list commands of one key (LPUSH...LPOS) with Redis 7.0's
 * replies and errors, over storage/list's quicklist.
 *
 * Argument errors come in Redis' order (some commands parse numbers
 * before looking the key up, others after), since the first error is the
 * reply.  Replies that carry elements are built before the elements are
 * deleted: the slices point into the list's nodes.  Logging: each write
 * reports its key and logs itself as received (deterministic), split into
 * records of at most EXEC_RECORD_ARGC_MAX arguments for wide pushes.
 */
#include "cmd_list.h"

#include <string.h>
#include <strings.h>

/* Logs a push as records of at most EXEC_RECORD_ARGC_MAX arguments: the
 * values in order, each chunk under the same command word (an LPUSHX of a
 * later chunk finds the key created or extended by the earlier one). */
static void log_push(struct exec_ctx *x)
{
    if (x->argc <= EXEC_RECORD_ARGC_MAX) {
        exec_log_argv(x);
        return;
    }
    struct hp_slice rec[EXEC_RECORD_ARGC_MAX];
    rec[0] = x->argv[0];
    rec[1] = x->argv[1];
    for (int i = 2; i < x->argc;) {
        uint32_t n = 2;
        while (i < x->argc && n < EXEC_RECORD_ARGC_MAX)
            rec[n++] = x->argv[i++];
        exec_log_record(x, x->db, n, rec);
    }
}

static void push_generic(struct exec_ctx *x, bool head, bool only_existing)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        if (only_existing) {
            resp_add_int(x->out, 0);
            return;
        }
        ql = ql_create(s);
        if (ql == NULL) {
            resp_add_error(x->out, LIST_ERR_OOM);
            return;
        }
        for (int i = 2; i < x->argc; i++) {
            if (ql_push(s, ql, head, x->argv[i]) != 0) {
                ql_free(s, ql);
                resp_add_error(x->out, LIST_ERR_OOM);
                return;
            }
        }
        if (shard_obj_set(s, x->db, key, OBJ_LIST, ql, SHARD_NO_EXPIRE, x->now_ms) != 0) {
            ql_free(s, ql);
            resp_add_error(x->out, LIST_ERR_OOM);
            return;
        }
        exec_key_changed(x, x->db, key);
        log_push(x);
        resp_add_int(x->out, (int64_t)ql_len(ql));
        return;
    }
    exec_key_changed(x, x->db, key);
    for (int i = 2; i < x->argc; i++) {
        if (ql_push(s, ql, head, x->argv[i]) != 0) {
            /* Part of it went in: the log writes the key's state. */
            exec_log_states(x);
            resp_add_error(x->out, LIST_ERR_OOM);
            return;
        }
    }
    log_push(x);
    resp_add_int(x->out, (int64_t)ql_len(ql));
}

void cmd_lpush(struct exec_ctx *x) { push_generic(x, true, false); }
void cmd_rpush(struct exec_ctx *x) { push_generic(x, false, false); }
void cmd_lpushx(struct exec_ctx *x) { push_generic(x, true, true); }
void cmd_rpushx(struct exec_ctx *x) { push_generic(x, false, true); }

/* Replies the n elements at the head (or tail) in pop order, then deletes
 * them; drops the key when it empties. */
static void pop_and_reply(struct exec_ctx *x, struct shard *s, struct hp_slice key,
                          struct quicklist *ql, bool head, uint64_t n, bool as_array)
{
    uint64_t len = ql_len(ql);
    HP_ASSERT(n >= 1);
    HP_ASSERT(n <= len);
    if (as_array)
        resp_add_array(x->out, n);
    struct ql_iter it;
    ql_iter_at(ql, head ? 0 : len - 1, head, &it);
    for (uint64_t i = 0; i < n; i++) {
        struct hp_slice v;
        bool ok = ql_iter_get(&it, &v);
        HP_ASSERT(ok);
        resp_add_bulk(x->out, v.ptr, v.len);
        ql_iter_next(&it);
    }
    ql_delete_range(s, ql, head ? 0 : len - n, n);
    list_drop_if_empty(x, s, key, ql);
}

static void pop_generic(struct exec_ctx *x, bool head)
{
    if (x->argc > 3) {
        resp_add_errorf(x->out, "ERR wrong number of arguments for '%s' command",
                        head ? "lpop" : "rpop");
        return;
    }
    bool hascount = x->argc == 3;
    int64_t count = 1;
    if (hascount && (!list_parse_long(x->argv[2], &count) || count < 0)) {
        resp_add_error(x->out, "ERR value is out of range, must be positive");
        return;
    }
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        if (hascount)
            resp_add_null_array(x->out, x->proto);
        else
            resp_add_null(x->out, x->proto);
        return;
    }
    if (count == 0) {
        resp_add_array(x->out, 0);
        return;
    }
    uint64_t n = HP_MIN((uint64_t)count, ql_len(ql));
    exec_key_changed(x, x->db, key);
    exec_log_argv(x);
    pop_and_reply(x, s, key, ql, head, n, hascount);
}

void cmd_lpop(struct exec_ctx *x) { pop_generic(x, true); }
void cmd_rpop(struct exec_ctx *x) { pop_generic(x, false); }

void cmd_llen(struct exec_ctx *x)
{
    struct quicklist *ql;
    enum shard_lookup r = list_lookup_read(x, exec_shard(x, x->argv[1]), x->argv[1], &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    resp_add_int(x->out, r == SHARD_LOOKUP_FOUND ? (int64_t)ql_len(ql) : 0);
}

/* Redis' start/end normalisation of LRANGE and LTRIM: false when the
 * range is empty, else [*a, *b] within the list. */
static bool norm_range(int64_t start, int64_t end, uint64_t len, uint64_t *a, uint64_t *b)
{
    int64_t l = (int64_t)len;
    if (start < 0)
        start += l;
    if (end < 0)
        end += l;
    if (start < 0)
        start = 0;
    if (start > end || start >= l)
        return false;
    if (end >= l)
        end = l - 1;
    *a = (uint64_t)start;
    *b = (uint64_t)end;
    return true;
}

void cmd_lrange(struct exec_ctx *x)
{
    int64_t start, end;
    if (!list_parse_long(x->argv[2], &start) || !list_parse_long(x->argv[3], &end)) {
        resp_add_error(x->out, LIST_ERR_NOT_INT);
        return;
    }
    struct quicklist *ql;
    enum shard_lookup r = list_lookup_read(x, exec_shard(x, x->argv[1]), x->argv[1], &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    uint64_t a, b;
    if (r == SHARD_LOOKUP_NONE || !norm_range(start, end, ql_len(ql), &a, &b)) {
        resp_add_array(x->out, 0);
        return;
    }
    /* One walk to the start, then element by element: O(nodes + range). */
    resp_add_array(x->out, b - a + 1);
    struct ql_iter it;
    ql_iter_at(ql, a, true, &it);
    for (uint64_t i = a; i <= b; i++) {
        struct hp_slice v;
        bool ok = ql_iter_get(&it, &v);
        HP_ASSERT(ok);
        resp_add_bulk(x->out, v.ptr, v.len);
        ql_iter_next(&it);
    }
}

/* index (negative from the tail) as a position, false when outside. */
static bool norm_index(int64_t ix, uint64_t len, uint64_t *out)
{
    if (ix < 0)
        ix += (int64_t)len;
    if (ix < 0 || (uint64_t)ix >= len)
        return false;
    *out = (uint64_t)ix;
    return true;
}

void cmd_lindex(struct exec_ctx *x)
{
    struct quicklist *ql;
    enum shard_lookup r = list_lookup_read(x, exec_shard(x, x->argv[1]), x->argv[1], &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_null(x->out, x->proto);
        return;
    }
    int64_t ix;
    uint64_t pos;
    if (!list_parse_long(x->argv[2], &ix)) {
        resp_add_error(x->out, LIST_ERR_NOT_INT);
        return;
    }
    if (!norm_index(ix, ql_len(ql), &pos)) {
        resp_add_null(x->out, x->proto);
        return;
    }
    struct hp_slice v = ql_index(ql, pos);
    resp_add_bulk(x->out, v.ptr, v.len);
}

void cmd_lset(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_error(x->out, "ERR no such key");
        return;
    }
    int64_t ix;
    uint64_t pos;
    if (!list_parse_long(x->argv[2], &ix)) {
        resp_add_error(x->out, LIST_ERR_NOT_INT);
        return;
    }
    if (!norm_index(ix, ql_len(ql), &pos)) {
        resp_add_error(x->out, "ERR index out of range");
        return;
    }
    if (ql_replace(s, ql, pos, x->argv[3]) != 0) {
        resp_add_error(x->out, LIST_ERR_OOM);
        return;
    }
    exec_key_changed(x, x->db, key);
    exec_log_argv(x);
    resp_add_simple(x->out, "OK");
}

/* First position of v from the head, or -1. */
static int64_t find_first(const struct quicklist *ql, struct hp_slice v)
{
    if (ql_len(ql) == 0)
        return -1;
    struct ql_iter it;
    struct hp_slice e;
    ql_iter_at(ql, 0, true, &it);
    for (int64_t i = 0; ql_iter_get(&it, &e); i++, ql_iter_next(&it))
        if (e.len == v.len && (v.len == 0 || memcmp(e.ptr, v.ptr, v.len) == 0))
            return i;
    return -1;
}

void cmd_linsert(struct exec_ctx *x)
{
    bool after;
    struct hp_slice w = x->argv[2];
    if (w.len == 6 && strncasecmp((const char *)w.ptr, "before", 6) == 0)
        after = false;
    else if (w.len == 5 && strncasecmp((const char *)w.ptr, "after", 5) == 0)
        after = true;
    else {
        resp_add_error(x->out, LIST_ERR_SYNTAX);
        return;
    }
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_int(x->out, 0);
        return;
    }
    int64_t at = find_first(ql, x->argv[3]);
    if (at < 0) {
        resp_add_int(x->out, -1);
        return;
    }
    if (ql_insert(s, ql, (uint64_t)at + (after ? 1 : 0), x->argv[4]) != 0) {
        resp_add_error(x->out, LIST_ERR_OOM);
        return;
    }
    exec_key_changed(x, x->db, key);
    exec_log_argv(x);
    resp_add_int(x->out, (int64_t)ql_len(ql));
}

void cmd_lrem(struct exec_ctx *x)
{
    int64_t count;
    if (!list_parse_long(x->argv[2], &count)) {
        resp_add_error(x->out, LIST_ERR_NOT_INT);
        return;
    }
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_int(x->out, 0);
        return;
    }
    /* INT64_MIN's magnitude does not fit: it means "all" in practice. */
    uint64_t limit = count >= 0 ? (uint64_t)count
                                : (count == INT64_MIN ? 0 : (uint64_t)-count);
    uint64_t removed = ql_remove(s, ql, x->argv[3], limit, count < 0);
    if (removed > 0) {
        exec_key_changed(x, x->db, key);
        exec_log_argv(x);
        list_drop_if_empty(x, s, key, ql);
    }
    resp_add_int(x->out, (int64_t)removed);
}

void cmd_ltrim(struct exec_ctx *x)
{
    int64_t start, end;
    if (!list_parse_long(x->argv[2], &start) || !list_parse_long(x->argv[3], &end)) {
        resp_add_error(x->out, LIST_ERR_NOT_INT);
        return;
    }
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct quicklist *ql;
    enum shard_lookup r = list_lookup(x, s, key, &ql);
    if (r == SHARD_LOOKUP_WRONGTYPE)
        return;
    if (r == SHARD_LOOKUP_NONE) {
        resp_add_simple(x->out, "OK");
        return;
    }
    uint64_t len = ql_len(ql), a, b;
    uint64_t ltrim = len, rtrim = 0;
    if (norm_range(start, end, len, &a, &b)) {
        ltrim = a;
        rtrim = len - b - 1;
    }
    if (ltrim + rtrim > 0) {
        /* Whole nodes go in O(1) each: no per-element work outside the
         * two boundary nodes. */
        ql_delete_range(s, ql, len - rtrim, rtrim);
        ql_delete_range(s, ql, 0, ltrim);
        exec_key_changed(x, x->db, key);
        exec_log_argv(x);
        list_drop_if_empty(x, s, key, ql);
    }
    resp_add_simple(x->out, "OK");
}
