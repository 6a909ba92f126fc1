/*
 * quicklist.h - the list value (Redis' quicklist): a doubly linked list of
 * bounded packed nodes, built in a shard's arena.
 *
 * Each node holds its elements back to back as [u32 len][bytes][u32 len]
 * (the trailing length lets iteration run backwards inside a node, as a
 * listpack's backlen does) in at most QL_NODE_MAX_BYTES bytes, Redis'
 * list-max-listpack-size -2 (8 KiB).  A single element bigger than that
 * gets a node of its own (Redis' "plain" nodes).  Every operation touches
 * a bounded amount of bytes per node it visits; locating an index walks
 * nodes (never elements) from the nearer end.
 *
 * Failure: any function that allocates returns -1 when the shard is out of
 * memory, and the list then holds exactly the elements it held before
 * (a node split may have happened, which changes no element).
 *
 * Same threading rules as the shard: one thread at a time.
 */
#ifndef HP_STORAGE_QUICKLIST_H
#define HP_STORAGE_QUICKLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "../types.h"

/* list-max-listpack-size -2: 8 KiB of packed elements per node. */
#define QL_NODE_MAX_BYTES 8192u
/* Per-element framing bytes in a node. */
#define QL_ENTRY_OVERHEAD 8u
/* Largest element (proto-max-bulk-len's default, 512 MiB). */
#define QL_MAX_ELEM ((size_t)512 << 20)

struct ql_node {
    struct ql_node *prev, *next;
    uint32_t count;    /* elements */
    uint32_t used;     /* bytes of buf in use */
    uint32_t cap;      /* bytes of buf allocated */
    uint8_t buf[];
};

struct quicklist {
    struct ql_node *head, *tail;
    uint64_t count;    /* elements in all nodes */
    uint64_t nodes;
    size_t mem;        /* arena bytes of this list (root + nodes) */
};

/* A position: an element of a node, by byte offset and index in the node. */
struct ql_iter {
    const struct quicklist *ql;
    struct ql_node *node;
    uint32_t off;      /* offset of the current element's header */
    uint32_t ix;       /* its index in the node */
    bool forward;
};

struct quicklist *ql_create(struct shard *s);
void ql_free(struct shard *s, struct quicklist *ql);
/* A deep copy in dst's arena, NULL when out of memory. */
struct quicklist *ql_copy(struct shard *dst, const struct quicklist *ql);
static inline uint64_t ql_len(const struct quicklist *ql) { return ql->count; }
static inline size_t ql_mem_usage(const struct quicklist *ql) { return ql->mem; }

/* Adds v at the head or the tail.  0, or -1 (out of memory, too big). */
int ql_push(struct shard *s, struct quicklist *ql, bool head, struct hp_slice v);
/* Inserts v so it becomes element `ix` (0..len).  0 or -1 as ql_push. */
int ql_insert(struct shard *s, struct quicklist *ql, uint64_t ix, struct hp_slice v);
/* Replaces element ix (< len) by v.  0 or -1 (nothing changed). */
int ql_replace(struct shard *s, struct quicklist *ql, uint64_t ix, struct hp_slice v);
/* Deletes count elements from index start (start + count <= len).  Never
 * fails: nodes only shrink or go. */
void ql_delete_range(struct shard *s, struct quicklist *ql, uint64_t start, uint64_t count);
/* LREM: deletes up to `limit` elements equal to v (0: all) scanning from
 * the head (from_tail false) or the tail.  Returns how many went. */
uint64_t ql_remove(struct shard *s, struct quicklist *ql, struct hp_slice v, uint64_t limit,
                   bool from_tail);

/* Positions `it` on element ix (< len), iterating forward or backward. */
void ql_iter_at(const struct quicklist *ql, uint64_t ix, bool forward, struct ql_iter *it);
/* The current element (valid until the list changes); false at the end. */
bool ql_iter_get(const struct ql_iter *it, struct hp_slice *out);
/* Moves to the next element in the iterator's direction. */
void ql_iter_next(struct ql_iter *it);
/* Element ix (< len). */
struct hp_slice ql_index(const struct quicklist *ql, uint64_t ix);

/* Checks every invariant (tests): counts, links, framing, bounds. */
bool ql_check(const struct quicklist *ql);

/* Registers the list type (OBJ_LIST) once; idempotent.  0 or -1. */
int list_type_register(void);

#endif
