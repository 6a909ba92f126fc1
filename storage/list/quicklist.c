/*
 * quicklist.c - the list value: doubly linked bounded packed nodes
 * (quicklist.h says the layout and the rules).
 */
#include "quicklist.h"

#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* Bytes of element at `off`, framing included. */
static uint32_t entry_size_at(const struct ql_node *n, uint32_t off)
{
    HP_ASSERT(off + QL_ENTRY_OVERHEAD <= n->used);
    return QL_ENTRY_OVERHEAD + rd32(n->buf + off);
}

static struct hp_slice entry_at(const struct ql_node *n, uint32_t off)
{
    return hp_slice_make(n->buf + off + 4, rd32(n->buf + off));
}

static struct ql_node *node_new(struct shard *s, struct quicklist *ql, uint32_t cap)
{
    struct ql_node *n = shard_alloc(s, sizeof(*n) + cap);
    if (n == NULL)
        return NULL;
    n->prev = n->next = NULL;
    n->count = n->used = 0;
    n->cap = cap;
    ql->mem += shard_alloc_size(n);
    return n;
}

static void node_free(struct shard *s, struct quicklist *ql, struct ql_node *n)
{
    size_t sz = shard_alloc_size(n);
    HP_ASSERT(ql->mem >= sz);
    ql->mem -= sz;
    shard_free(s, n);
}

/* Links n after `at` (NULL: as the head). */
static void link_after(struct quicklist *ql, struct ql_node *at, struct ql_node *n)
{
    n->prev = at;
    n->next = at != NULL ? at->next : ql->head;
    if (n->next != NULL)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at != NULL)
        at->next = n;
    else
        ql->head = n;
    ql->nodes++;
}

static void unlink_node(struct quicklist *ql, struct ql_node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    HP_ASSERT(ql->nodes > 0);
    ql->nodes--;
}

/* After a realloc moved n: its neighbours and the ends point at it. */
static void relink(struct quicklist *ql, struct ql_node *m)
{
    if (m->prev != NULL)
        m->prev->next = m;
    else
        ql->head = m;
    if (m->next != NULL)
        m->next->prev = m;
    else
        ql->tail = m;
}

/* Makes room for `used` bytes in *np (may move it); -1 when out of memory. */
static int node_reserve(struct shard *s, struct quicklist *ql, struct ql_node **np, uint32_t used)
{
    struct ql_node *n = *np;
    if (used <= n->cap)
        return 0;
    uint32_t cap = n->cap * 2 > used ? n->cap * 2 : used;
    if (cap > QL_NODE_MAX_BYTES && used <= QL_NODE_MAX_BYTES)
        cap = QL_NODE_MAX_BYTES;
    size_t old = shard_alloc_size(n);
    struct ql_node *m = shard_realloc(s, n, sizeof(*m) + cap);
    if (m == NULL)
        return -1;
    m->cap = cap;
    ql->mem = ql->mem - old + shard_alloc_size(m);
    if (m != n)
        relink(ql, m);
    *np = m;
    return 0;
}

/* Neighbours whose bytes together fit half a node are merged, so deletes
 * cannot leave a long chain of near-empty nodes (Redis merges too); the
 * half keeps a merge from being split again by the next insert. */
#define QL_MERGE_BYTES (QL_NODE_MAX_BYTES / 2)

/* Appends b's elements to a and frees b (b == a->next).  Out of memory:
 * nothing happens (a merge is an optimisation). */
static struct ql_node *node_merge(struct shard *s, struct quicklist *ql, struct ql_node *a)
{
    struct ql_node *b = a->next;
    HP_ASSERT(b != NULL);
    if (node_reserve(s, ql, &a, a->used + b->used) != 0)
        return a;
    b = a->next;
    memcpy(a->buf + a->used, b->buf, b->used);
    a->used += b->used;
    a->count += b->count;
    unlink_node(ql, b);
    node_free(s, ql, b);
    return a;
}

/* Gives back most of a node's unused room (failure: it keeps it). */
static struct ql_node *node_shrink(struct shard *s, struct quicklist *ql, struct ql_node *n)
{
    if (n->cap <= 256 || n->cap / 2 < n->used)
        return n;
    uint32_t cap = n->used < 128 ? 128 : n->used;
    size_t old = shard_alloc_size(n);
    struct ql_node *m = shard_realloc(s, n, sizeof(*m) + cap);
    if (m == NULL)
        return n;
    m->cap = cap;
    ql->mem = ql->mem - old + shard_alloc_size(m);
    if (m != n)
        relink(ql, m);
    return m;
}

/* After n shrank: merges it with the neighbour(s) allowed (prev: into the
 * previous node; next: the next one into n), then shrinks it. */
static void node_settle(struct shard *s, struct quicklist *ql, struct ql_node *n, bool prev,
                        bool next)
{
    if (prev && n->prev != NULL && n->prev->used + n->used <= QL_MERGE_BYTES)
        n = node_merge(s, ql, n->prev);
    if (next && n->next != NULL && n->used + n->next->used <= QL_MERGE_BYTES)
        n = node_merge(s, ql, n);
    node_shrink(s, ql, n);
}

/* Writes v at byte offset off of n (growing it). */
static int node_write(struct shard *s, struct quicklist *ql, struct ql_node *n, uint32_t off,
                      struct hp_slice v)
{
    uint32_t need = QL_ENTRY_OVERHEAD + (uint32_t)v.len;
    HP_ASSERT(off <= n->used);
    if (node_reserve(s, ql, &n, n->used + need) != 0)
        return -1;
    memmove(n->buf + off + need, n->buf + off, n->used - off);
    wr32(n->buf + off, (uint32_t)v.len);
    if (v.len > 0)
        memcpy(n->buf + off + 4, v.ptr, v.len);
    wr32(n->buf + off + 4 + v.len, (uint32_t)v.len);
    n->used += need;
    n->count++;
    ql->count++;
    return 0;
}

/* A new node holding only v, linked after `at` (NULL: head). */
static int node_insert_alone(struct shard *s, struct quicklist *ql, struct ql_node *at,
                             struct hp_slice v)
{
    uint32_t need = QL_ENTRY_OVERHEAD + (uint32_t)v.len;
    struct ql_node *n = node_new(s, ql, need);
    if (n == NULL)
        return -1;
    link_after(ql, at, n);
    int rc = node_write(s, ql, n, 0, v);
    HP_ASSERT(rc == 0); /* cap was reserved */
    return 0;
}

/* Splits n at (off, ix): elements from ix on move to a new node after it. */
static int node_split(struct shard *s, struct quicklist *ql, struct ql_node *n, uint32_t off,
                      uint32_t ix)
{
    HP_ASSERT(off > 0);
    HP_ASSERT(off < n->used);
    struct ql_node *b = node_new(s, ql, n->used - off);
    if (b == NULL)
        return -1;
    memcpy(b->buf, n->buf + off, n->used - off);
    b->used = n->used - off;
    b->count = n->count - ix;
    n->used = off;
    n->count = ix;
    link_after(ql, n, b);
    return 0;
}

/* Finds element ix (0..count) as (node, byte offset, index in node); for
 * ix == count: the tail's end (node NULL when the list is empty). */
static struct ql_node *locate(const struct quicklist *ql, uint64_t ix, uint32_t *off,
                              uint32_t *nix)
{
    HP_ASSERT(ix <= ql->count);
    struct ql_node *n;
    uint64_t base;
    if (ix == ql->count) {
        n = ql->tail;
        *off = n != NULL ? n->used : 0;
        *nix = n != NULL ? n->count : 0;
        return n;
    }
    if (ix < ql->count / 2) {
        n = ql->head;
        base = 0;
        while (ix >= base + n->count) {
            base += n->count;
            n = n->next;
        }
    } else {
        n = ql->tail;
        base = ql->count - n->count;
        while (ix < base) {
            n = n->prev;
            base -= n->count;
        }
    }
    uint32_t want = (uint32_t)(ix - base);
    uint32_t o;
    if (want <= n->count / 2) {
        o = 0;
        for (uint32_t i = 0; i < want; i++)
            o += entry_size_at(n, o);
    } else {
        o = n->used;
        for (uint32_t i = n->count; i > want; i--)
            o -= QL_ENTRY_OVERHEAD + rd32(n->buf + o - 4);
    }
    *off = o;
    *nix = want;
    return n;
}

struct quicklist *ql_create(struct shard *s)
{
    struct quicklist *ql = shard_alloc(s, sizeof(*ql));
    if (ql == NULL)
        return NULL;
    memset(ql, 0, sizeof(*ql));
    ql->mem = shard_alloc_size(ql);
    return ql;
}

void ql_free(struct shard *s, struct quicklist *ql)
{
    struct ql_node *n = ql->head;
    while (n != NULL) {
        struct ql_node *next = n->next;
        shard_free(s, n);
        n = next;
    }
    shard_free(s, ql);
}

struct quicklist *ql_copy(struct shard *dst, const struct quicklist *src)
{
    struct quicklist *ql = ql_create(dst);
    if (ql == NULL)
        return NULL;
    for (const struct ql_node *n = src->head; n != NULL; n = n->next) {
        struct ql_node *c = node_new(dst, ql, n->used);
        if (c == NULL) {
            ql_free(dst, ql);
            return NULL;
        }
        memcpy(c->buf, n->buf, n->used);
        c->used = n->used;
        c->count = n->count;
        link_after(ql, ql->tail, c);
        ql->count += n->count;
    }
    return ql;
}

/* Inserts v at (n, off, nix) as found by locate(). */
static int insert_at(struct shard *s, struct quicklist *ql, struct ql_node *n, uint32_t off,
                     uint32_t nix, struct hp_slice v)
{
    if (v.len > QL_MAX_ELEM)
        return -1;
    uint32_t need = QL_ENTRY_OVERHEAD + (uint32_t)v.len;
    if (n == NULL)
        return node_insert_alone(s, ql, NULL, v);
    if (n->used + need <= QL_NODE_MAX_BYTES)
        return node_write(s, ql, n, off, v);
    if (off == 0) {
        if (n->prev != NULL && n->prev->used + need <= QL_NODE_MAX_BYTES)
            return node_write(s, ql, n->prev, n->prev->used, v);
        return node_insert_alone(s, ql, n->prev, v);
    }
    if (off == n->used) {
        if (n->next != NULL && n->next->used + need <= QL_NODE_MAX_BYTES)
            return node_write(s, ql, n->next, 0, v);
        return node_insert_alone(s, ql, n, v);
    }
    /* In the middle of a full node: split it there, then place v at the
     * end of the first half, the start of the second, or alone between. */
    if (node_split(s, ql, n, off, nix) != 0)
        return -1;
    if (n->used + need <= QL_NODE_MAX_BYTES)
        return node_write(s, ql, n, n->used, v);
    if (n->next->used + need <= QL_NODE_MAX_BYTES)
        return node_write(s, ql, n->next, 0, v);
    return node_insert_alone(s, ql, n, v);
}

int ql_push(struct shard *s, struct quicklist *ql, bool head, struct hp_slice v)
{
    return ql_insert(s, ql, head ? 0 : ql->count, v);
}

int ql_insert(struct shard *s, struct quicklist *ql, uint64_t ix, struct hp_slice v)
{
    uint32_t off, nix;
    struct ql_node *n;
    if (ix == 0) {
        n = ql->head;
        off = nix = 0;
    } else {
        n = locate(ql, ix, &off, &nix);
    }
    return insert_at(s, ql, n, off, nix, v);
}

int ql_replace(struct shard *s, struct quicklist *ql, uint64_t ix, struct hp_slice v)
{
    HP_ASSERT(ix < ql->count);
    /* Insert first, delete after: running out of memory changes nothing. */
    if (ql_insert(s, ql, ix, v) != 0)
        return -1;
    ql_delete_range(s, ql, ix + 1, 1);
    return 0;
}

void ql_delete_range(struct shard *s, struct quicklist *ql, uint64_t start, uint64_t count)
{
    HP_ASSERT(start <= ql->count);
    HP_ASSERT(count <= ql->count - start);
    if (count == 0)
        return;
    uint32_t off, nix;
    struct ql_node *n = locate(ql, start, &off, &nix);
    while (count > 0) {
        HP_ASSERT(n != NULL);
        struct ql_node *next = n->next;
        uint32_t del = (uint32_t)HP_MIN((uint64_t)(n->count - nix), count);
        if (nix == 0 && del == n->count) {
            unlink_node(ql, n);
            node_free(s, ql, n);
        } else {
            uint32_t end = off;
            for (uint32_t i = 0; i < del; i++)
                end += entry_size_at(n, end);
            memmove(n->buf + off, n->buf + end, n->used - end);
            n->used -= end - off;
            n->count -= del;
        }
        ql->count -= del;
        count -= del;
        n = next;
        off = nix = 0;
    }
    /* The cut: the node now holding position start (or the tail). */
    if (ql->count > 0) {
        uint32_t o, i;
        struct ql_node *at = locate(ql, HP_MIN(start, ql->count - 1), &o, &i);
        node_settle(s, ql, at, true, true);
    }
}

/* Removes from node n the first k of its matches (or, from_tail, the last
 * k of its m matches), compacting in place. */
static uint32_t node_remove(struct ql_node *n, struct hp_slice v, uint32_t m, uint32_t k,
                            bool from_tail)
{
    uint32_t r = 0, w = 0, seen = 0, removed = 0;
    uint32_t skip_from = from_tail ? m - k : 0; /* matches before this one stay */
    while (r < n->used) {
        uint32_t sz = entry_size_at(n, r);
        struct hp_slice e = entry_at(n, r);
        bool match = e.len == v.len && (v.len == 0 || memcmp(e.ptr, v.ptr, v.len) == 0);
        bool drop = false;
        if (match) {
            drop = seen >= skip_from && removed < k;
            seen++;
        }
        if (drop) {
            removed++;
        } else {
            if (w != r)
                memmove(n->buf + w, n->buf + r, sz);
            w += sz;
        }
        r += sz;
    }
    n->used = w;
    n->count -= removed;
    return removed;
}

static uint32_t node_matches(const struct ql_node *n, struct hp_slice v)
{
    uint32_t m = 0;
    for (uint32_t o = 0; o < n->used; o += entry_size_at(n, o)) {
        struct hp_slice e = entry_at(n, o);
        if (e.len == v.len && (v.len == 0 || memcmp(e.ptr, v.ptr, v.len) == 0))
            m++;
    }
    return m;
}

uint64_t ql_remove(struct shard *s, struct quicklist *ql, struct hp_slice v, uint64_t limit,
                   bool from_tail)
{
    uint64_t removed = 0;
    struct ql_node *n = from_tail ? ql->tail : ql->head;
    while (n != NULL && (limit == 0 || removed < limit)) {
        struct ql_node *after = from_tail ? n->prev : n->next;
        uint32_t m = node_matches(n, v);
        uint32_t k = m;
        if (limit != 0 && limit - removed < m)
            k = (uint32_t)(limit - removed);
        if (k > 0) {
            uint32_t got = node_remove(n, v, m, k, from_tail);
            HP_ASSERT(got == k);
            removed += k;
            ql->count -= k;
            if (n->count == 0) {
                unlink_node(ql, n);
                node_free(s, ql, n);
            } else {
                /* Only with the side already visited: the other one is
                 * still to scan. */
                node_settle(s, ql, n, !from_tail, from_tail);
            }
        }
        n = after;
    }
    return removed;
}

void ql_iter_at(const struct quicklist *ql, uint64_t ix, bool forward, struct ql_iter *it)
{
    HP_ASSERT(ix < ql->count);
    it->ql = ql;
    it->forward = forward;
    it->node = locate(ql, ix, &it->off, &it->ix);
}

bool ql_iter_get(const struct ql_iter *it, struct hp_slice *out)
{
    if (it->node == NULL)
        return false;
    *out = entry_at(it->node, it->off);
    return true;
}

void ql_iter_next(struct ql_iter *it)
{
    struct ql_node *n = it->node;
    if (n == NULL)
        return;
    if (it->forward) {
        it->off += entry_size_at(n, it->off);
        it->ix++;
        if (it->ix == n->count) {
            it->node = n->next;
            it->off = it->ix = 0;
        }
        return;
    }
    if (it->ix == 0) {
        it->node = n->prev;
        if (it->node != NULL) {
            struct ql_node *p = it->node;
            it->ix = p->count - 1;
            it->off = p->used - QL_ENTRY_OVERHEAD - rd32(p->buf + p->used - 4);
        }
        return;
    }
    it->off -= QL_ENTRY_OVERHEAD + rd32(n->buf + it->off - 4);
    it->ix--;
}

struct hp_slice ql_index(const struct quicklist *ql, uint64_t ix)
{
    struct ql_iter it;
    struct hp_slice v;
    ql_iter_at(ql, ix, true, &it);
    bool ok = ql_iter_get(&it, &v);
    HP_ASSERT(ok);
    return v;
}

bool ql_check(const struct quicklist *ql)
{
    uint64_t count = 0, nodes = 0;
    size_t mem = shard_alloc_size(ql);
    const struct ql_node *prev = NULL;
    for (const struct ql_node *n = ql->head; n != NULL; n = n->next) {
        if (n->prev != prev || n->count == 0 || n->used > n->cap)
            return false;
        if (n->count > 1 && n->used > QL_NODE_MAX_BYTES)
            return false;
        uint32_t o = 0, c = 0;
        while (o < n->used) {
            if (o + QL_ENTRY_OVERHEAD > n->used)
                return false;
            uint32_t len = rd32(n->buf + o);
            if (o + QL_ENTRY_OVERHEAD + len > n->used ||
                rd32(n->buf + o + 4 + len) != len)
                return false;
            o += QL_ENTRY_OVERHEAD + len;
            c++;
        }
        if (c != n->count)
            return false;
        count += c;
        nodes++;
        mem += shard_alloc_size(n);
        prev = n;
    }
    return prev == ql->tail && count == ql->count && nodes == ql->nodes && mem == ql->mem;
}
