/*
 * cmd_set_multi.c - set commands over several keys, which may live on
 * several shards (the dispatcher holds every shard the key specs name):
 * SMOVE, SINTER, SUNION, SDIFF, SINTERCARD, SINTERSTORE, SUNIONSTORE,
 * SDIFFSTORE, with Redis 7.0 semantics and replies.
 *
 * Results are built in a fresh set (in the destination's shard for the
 * STORE forms, in the first key's shard otherwise) before anything is
 * changed, so running out of memory replies the OOM error with the
 * keyspace as it was.  Reply order follows Redis: SINTER streams the
 * smallest input's iteration order, SUNION/SDIFF the result set's (an
 * intset result therefore comes back sorted, as in Redis).
 *
 * Logging: SMOVE is one record per shard ("SREM src m", "SADD dst m"); the
 * STORE forms log the destination's state (DEL + SADD batches), which is
 * exactly the result and names only the destination's shard.
 */
#include "cmd_set.h"

#include <stdlib.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../common/strutil.h"

static bool same_key(struct hp_slice a, struct hp_slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* ---- SMOVE ------------------------------------------------------------------ */

void cmd_smove(struct exec_ctx *x)
{
    struct hp_slice src = x->argv[1], dst = x->argv[2], m = x->argv[3];
    struct shard *ss = exec_shard(x, src), *ds = exec_shard(x, dst);
    struct set *sst, *dst_set;
    enum shard_lookup rs = cmd_set_lookup(x, ss, src, false, &sst);
    enum shard_lookup rd = cmd_set_lookup(x, ds, dst, false, &dst_set);
    /* Redis' order: a missing source is 0 before any type check. */
    if (rs == SHARD_LOOKUP_NONE) {
        resp_add_int(x->out, 0);
        return;
    }
    if (rs == SHARD_LOOKUP_WRONGTYPE || rd == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, cmd_set_err_wrongtype);
        return;
    }
    if (same_key(src, dst)) {
        resp_add_int(x->out, set_contains(sst, m) ? 1 : 0);
        return;
    }
    if (!set_contains(sst, m)) {
        resp_add_int(x->out, 0);
        return;
    }
    /* Add first: the only step that can fail, so out of memory changes
     * nothing. */
    if (dst_set == NULL) {
        struct set *n = set_new_for(ds, m);
        if (n == NULL || set_add(ds, n, m) < 0 ||
            shard_obj_set(ds, x->db, dst, OBJ_SET, n, SHARD_NO_EXPIRE, x->now_ms) != 0) {
            set_free(ds, n);
            resp_add_error(x->out, cmd_set_err_oom);
            return;
        }
    } else if (set_add(ds, dst_set, m) < 0) {
        resp_add_error(x->out, cmd_set_err_oom);
        return;
    }
    exec_key_changed(x, x->db, src);
    exec_key_changed(x, x->db, dst);
    /* One record per shard: each names only its own key. */
    struct hp_slice rem[3] = {hp_slice_make("SREM", 4), src, m};
    struct hp_slice add[3] = {hp_slice_make("SADD", 4), dst, m};
    exec_log_record(x, x->db, 3, rem);
    exec_log_record(x, x->db, 3, add);
    int removed_one = set_remove(ss, sst, m);
    HP_ASSERT(removed_one == 1);
    if (set_size(sst) == 0) {
        int deleted = shard_delete(ss, x->db, src, x->now_ms);
        HP_ASSERT(deleted == 1);
    }
    resp_add_int(x->out, 1);
}

/* ---- loading the inputs ------------------------------------------------------ */

struct set_inputs {
    struct shard *scratch;   /* where the arrays below live */
    struct set **sets;       /* NULL entries: missing keys */
    uint64_t n;
    uint64_t missing;
};

/* Looks up argv[first..first+n) as sets (lookupKeyRead: all of them, so a
 * WRONGTYPE anywhere wins over a missing key, as in Redis).  0; -1 after
 * replying WRONGTYPE or OOM (nothing to free). */
static int load_inputs(struct exec_ctx *x, int first, uint64_t n, struct set_inputs *in)
{
    HP_ASSERT(n >= 1);
    in->scratch = exec_shard(x, x->argv[first]);
    in->n = n;
    in->missing = 0;
    in->sets = shard_alloc(in->scratch, n * sizeof(*in->sets));
    if (in->sets == NULL) {
        resp_add_error(x->out, cmd_set_err_oom);
        return -1;
    }
    for (uint64_t j = 0; j < n; j++) {
        struct hp_slice key = x->argv[first + (int)j];
        enum shard_lookup r = cmd_set_lookup(x, exec_shard(x, key), key, true, &in->sets[j]);
        if (r == SHARD_LOOKUP_WRONGTYPE) {
            shard_free(in->scratch, in->sets);
            resp_add_error(x->out, cmd_set_err_wrongtype);
            return -1;
        }
        if (r == SHARD_LOOKUP_NONE)
            in->missing++;
    }
    return 0;
}

static void free_inputs(struct set_inputs *in)
{
    shard_free(in->scratch, in->sets);
}

/* Installs `res` (built in ds) as dst, or deletes dst when res is empty;
 * replies the cardinality.  Consumes res. */
static void store_result(struct exec_ctx *x, struct shard *ds, struct hp_slice dst, struct set *res)
{
    uint64_t n = set_size(res);
    if (n == 0) {
        set_free(ds, res);
        if (shard_delete(ds, x->db, dst, x->now_ms) == 1)
            exec_key_changed(x, x->db, dst);
        resp_add_int(x->out, 0);
        return;
    }
    /* Redis' setKey: replaces any type, drops the TTL. */
    if (shard_obj_set(ds, x->db, dst, OBJ_SET, res, SHARD_NO_EXPIRE, x->now_ms) != 0) {
        set_free(ds, res);
        resp_add_error(x->out, cmd_set_err_oom);
        return;
    }
    exec_key_changed(x, x->db, dst);
    resp_add_int(x->out, (int64_t)n);
}

/* ---- SINTER family ------------------------------------------------------------ */

static int by_size(const void *a, const void *b)
{
    uint64_t x = set_size(*(struct set *const *)a), y = set_size(*(struct set *const *)b);
    return x < y ? -1 : x > y;
}

/* Smallest first, as Redis' qsort (not stable there either: the order
 * among equal sizes is unspecified). */
static void sort_by_size(struct set **sets, uint64_t n)
{
    qsort(sets, n, sizeof(*sets), by_size);
}

enum inter_mode { INTER_REPLY, INTER_CARD, INTER_STORE };

static void sinter_generic(struct exec_ctx *x, int first, uint64_t nkeys, enum inter_mode mode,
                           uint64_t limit)
{
    struct hp_slice dst = mode == INTER_STORE ? x->argv[1] : hp_slice_make(NULL, 0);
    struct set_inputs in;
    if (load_inputs(x, first, nkeys, &in) != 0)
        return;
    if (in.missing > 0) {
        /* An empty input: the result is empty. */
        free_inputs(&in);
        if (mode == INTER_STORE) {
            struct shard *ds = exec_shard(x, dst);
            if (shard_delete(ds, x->db, dst, x->now_ms) == 1)
                exec_key_changed(x, x->db, dst);
            resp_add_int(x->out, 0);
        } else if (mode == INTER_CARD) {
            resp_add_int(x->out, 0);
        } else {
            resp_add_set(x->out, x->proto, 0);
        }
        return;
    }
    sort_by_size(in.sets, in.n);
    struct shard *ds = mode == INTER_STORE ? exec_shard(x, dst) : NULL;
    struct set *res = NULL;
    if (mode == INTER_STORE) {
        res = set_new(ds, SET_ENC_INTSET);
        if (res == NULL) {
            free_inputs(&in);
            resp_add_error(x->out, cmd_set_err_oom);
            return;
        }
    }
    size_t mark = x->out->len;
    uint64_t card = 0;
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, in.sets[0]);
    while (set_iter_next(&it, &m) && !x->out->overflow) {
        bool all = true;
        for (uint64_t j = 1; j < in.n && all; j++)
            if (in.sets[j] != in.sets[0] && !set_contains(in.sets[j], m))
                all = false;
        if (!all)
            continue;
        card++;
        if (mode == INTER_REPLY) {
            resp_add_bulk(x->out, m.ptr, m.len);
        } else if (mode == INTER_STORE) {
            if (set_add(ds, res, m) < 0) {
                set_free(ds, res);
                free_inputs(&in);
                resp_add_error(x->out, cmd_set_err_oom);
                return;
            }
        } else if (limit != 0 && card == limit) {
            break;
        }
    }
    free_inputs(&in);
    if (mode == INTER_REPLY)
        cmd_set_insert_header(x, mark, true, card);
    else if (mode == INTER_CARD)
        resp_add_int(x->out, (int64_t)card);
    else
        store_result(x, ds, dst, res);
}

void cmd_sinter(struct exec_ctx *x)
{
    sinter_generic(x, 1, (uint64_t)(x->argc - 1), INTER_REPLY, 0);
}

void cmd_sinterstore(struct exec_ctx *x)
{
    sinter_generic(x, 2, (uint64_t)(x->argc - 2), INTER_STORE, 0);
}

void cmd_sintercard(struct exec_ctx *x)
{
    int64_t numkeys;
    if (str_to_i64(x->argv[1].ptr, x->argv[1].len, &numkeys) != 0 || numkeys < 1) {
        resp_add_error(x->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > x->argc - 2) {
        resp_add_error(x->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    int64_t limit = 0;
    for (int i = 2 + (int)numkeys; i < x->argc; i++) {
        if (slice_eq_nocase(x->argv[i], "limit") && i + 1 < x->argc) {
            i++;
            if (str_to_i64(x->argv[i].ptr, x->argv[i].len, &limit) != 0 || limit < 0) {
                resp_add_error(x->out, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            resp_add_error(x->out, "ERR syntax error");
            return;
        }
    }
    sinter_generic(x, 2, (uint64_t)numkeys, INTER_CARD, (uint64_t)limit);
}

/* ---- SUNION / SDIFF ------------------------------------------------------------ */

enum union_op { OP_UNION, OP_DIFF };

/* Redis 7.0 sunionDiffGenericCommand's choice for SDIFF: algorithm 1
 * (each member of the first set checked against the others) unless
 * algorithm 2 (add the first set, remove every other) is estimated cheaper.
 * The choice shows in the result's encoding: algorithm 2 builds the whole
 * first set first (a hashtable past 512 integers) and never converts back,
 * so hotpath picks the same way. */
static bool diff_by_removal(const struct set_inputs *in)
{
    uint64_t one = 0, two = 0;
    for (uint64_t j = 0; j < in->n; j++) {
        if (in->sets[j] == NULL)
            continue;
        one += set_size(in->sets[0]);
        two += set_size(in->sets[j]);
    }
    return one / 2 > two;
}

/* Adds every member of src to res (0), or -1 out of memory. */
static int add_all(struct shard *rs, struct set *res, const struct set *src)
{
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, src);
    while (set_iter_next(&it, &m))
        if (set_add(rs, res, m) < 0)
            return -1;
    return 0;
}

/* The result of SUNION / SDIFF over `in` into res; -1 out of memory. */
static int union_diff(struct shard *rs, struct set *res, const struct set_inputs *in,
                      enum union_op op)
{
    if (op == OP_UNION) {
        for (uint64_t j = 0; j < in->n; j++)
            if (in->sets[j] != NULL && add_all(rs, res, in->sets[j]) != 0)
                return -1;
        return 0;
    }
    const struct set *first = in->sets[0];
    if (first == NULL)
        return 0;
    /* Naming the first set again: empty (Redis' sameset). */
    for (uint64_t k = 1; k < in->n; k++)
        if (in->sets[k] == first)
            return 0;
    if (diff_by_removal(in)) {
        if (add_all(rs, res, first) != 0)
            return -1;
        for (uint64_t j = 1; j < in->n && set_size(res) > 0; j++) {
            if (in->sets[j] == NULL)
                continue;
            struct set_iter it;
            struct hp_slice m;
            set_iter_init(&it, in->sets[j]);
            while (set_iter_next(&it, &m) && set_size(res) > 0)
                (void)set_remove(rs, res, m); /* 0: not there, fine */
        }
        return 0;
    }
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, first);
    while (set_iter_next(&it, &m)) {
        bool keep = true;
        for (uint64_t k = 1; k < in->n && keep; k++)
            if (in->sets[k] != NULL && set_contains(in->sets[k], m))
                keep = false;
        if (keep && set_add(rs, res, m) < 0)
            return -1;
    }
    return 0;
}

static void sunion_diff_generic(struct exec_ctx *x, int first, bool store, enum union_op op)
{
    uint64_t nkeys = (uint64_t)(x->argc - first);
    struct set_inputs in;
    if (load_inputs(x, first, nkeys, &in) != 0)
        return;
    struct hp_slice dst = store ? x->argv[1] : hp_slice_make(NULL, 0);
    struct shard *rs = store ? exec_shard(x, dst) : in.scratch;
    /* Redis builds the result in a set that starts as an intset. */
    struct set *res = set_new(rs, SET_ENC_INTSET);
    bool oom = res == NULL || union_diff(rs, res, &in, op) != 0;
    free_inputs(&in);
    if (oom) {
        set_free(rs, res);
        resp_add_error(x->out, cmd_set_err_oom);
        return;
    }
    if (store) {
        store_result(x, rs, dst, res);
        return;
    }
    resp_add_set(x->out, x->proto, set_size(res));
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, res);
    while (set_iter_next(&it, &m) && !x->out->overflow)
        resp_add_bulk(x->out, m.ptr, m.len);
    set_free(rs, res);
}

void cmd_sunion(struct exec_ctx *x)
{
    sunion_diff_generic(x, 1, false, OP_UNION);
}

void cmd_sunionstore(struct exec_ctx *x)
{
    sunion_diff_generic(x, 2, true, OP_UNION);
}

void cmd_sdiff(struct exec_ctx *x)
{
    sunion_diff_generic(x, 1, false, OP_DIFF);
}

void cmd_sdiffstore(struct exec_ctx *x)
{
    sunion_diff_generic(x, 2, true, OP_DIFF);
}
