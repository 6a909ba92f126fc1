/*
 * index.c - the shard hash index; layout and guarantees in index.h and
 * docs/STORAGE.md.
 *
 * Chain invariant (what keeps lookups at one line and removal O(chain)):
 * every bucket of a chain except the last one ("tail") is full, i.e. holds
 * 6 items plus the link in slot 6, and a tail that is not the home bucket
 * holds at least 2 items.  Insert therefore only ever looks at the tail;
 * remove fills its hole with the tail's last item and folds a tail left
 * with one item back into the slot 6 of the bucket before it.
 */
#include "index.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LINK_SLOT (IDX_BUCKET_SLOTS - 1)
#define MASK_UNCHAINED 0x7fu
#define MASK_CHAINED 0x3fu

/* ---- hash --------------------------------------------------------------- */

/* Fractional parts of sqrt(2), sqrt(3), sqrt(5), sqrt(7): arbitrary odd
 * constants with no structure. */
#define HASH_C0 0x6a09e667f3bcc909ull
#define HASH_C1 0xbb67ae8584caa73bull
#define HASH_C2 0x3c6ef372fe94f82bull
#define HASH_C3 0xa54ff53a5f1d36f1ull

/* 64x64->128 multiply folded by xor: every output bit depends on every
 * input bit of both operands, at the cost of one mul instruction. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * Short keys (the common case, <= 16 bytes) are read as two possibly
 * overlapping words, so there is no per-byte loop; the length is mixed in
 * so overlaps cannot make two lengths collide.  Longer keys fold 16 bytes
 * per multiply into an accumulator, then the last 16 bytes as a short key.
 */
uint64_t idx_hash_bytes(uint64_t seed, const uint8_t *p, size_t len)
{
    uint64_t s = seed ^ HASH_C0;
    uint64_t a = 0, b = 0;
    if (len > 16) {
        const uint8_t *q = p;
        size_t left = len;
        while (left > 16) {
            s = fold_mul(load64(q) ^ HASH_C1, load64(q + 8) ^ s);
            q += 16;
            left -= 16;
        }
        a = load64(p + len - 16);
        b = load64(p + len - 8);
    } else if (len >= 8) {
        a = load64(p);
        b = load64(p + len - 8);
    } else if (len >= 4) {
        a = load32(p);
        b = load32(p + len - 4);
    } else if (len > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
    }
    uint64_t x = fold_mul(a ^ s ^ HASH_C1, b ^ HASH_C2 ^ (uint64_t)len);
    return fold_mul(x ^ HASH_C3, s ^ HASH_C2);
}

/* ---- bucket primitives ------------------------------------------------- */

/* Tag 0 marks an empty slot, so a hash whose top byte is 0 uses tag 1. */
static inline uint8_t hash_tag(uint64_t h)
{
    uint8_t t = (uint8_t)(h >> 56);
    return (uint8_t)(t | (t == 0));
}

static inline bool bucket_chained(const struct idx_bucket *b)
{
    return (b->ctl & IDX_CTL_CHAINED) != 0;
}

static inline struct idx_bucket *bucket_next(const struct idx_bucket *b)
{
    return bucket_chained(b) ? (struct idx_bucket *)b->slot[LINK_SLOT] : NULL;
}

/* Bit i set when tag[i] == tag, for the slots that can hold items. */
static inline unsigned bucket_match(const struct idx_bucket *b, uint8_t tag)
{
#ifdef __SSE2__
    __m128i tags = _mm_loadl_epi64((const __m128i *)(const void *)b->tag);
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(tags, _mm_set1_epi8((char)tag)));
#else
    unsigned m = 0;
    for (unsigned i = 0; i < IDX_BUCKET_SLOTS; i++)
        m |= (unsigned)(b->tag[i] == tag) << i;
#endif
    return m & (bucket_chained(b) ? MASK_CHAINED : MASK_UNCHAINED);
}

static inline unsigned bucket_used(const struct idx_bucket *b)
{
    return ~bucket_match(b, 0) & (bucket_chained(b) ? MASK_CHAINED : MASK_UNCHAINED);
}

static inline unsigned lowest(unsigned m) { return (unsigned)__builtin_ctz(m); }
static inline unsigned highest(unsigned m) { return 31u - (unsigned)__builtin_clz(m); }

static inline struct idx_bucket *home_of(const struct idx_table *t, uint64_t h)
{
    return &t->b[h & t->mask];
}

static inline bool key_equal(const struct index *ix, const void *item,
                             const uint8_t *key, size_t len)
{
    struct hp_slice k = ix->ops->key_of(item);
    return k.len == len && memcmp(k.ptr, key, len) == 0;
}

static inline uint64_t item_hash(const struct index *ix, const void *item)
{
    struct hp_slice k = ix->ops->key_of(item);
    return idx_hash(ix, k.ptr, k.len);
}

/* ---- memory ------------------------------------------------------------- */

static void *index_alloc(struct index *ix, size_t size)
{
    void *p = ix->ops->alloc(ix->ops->ctx, size);
    if (p == NULL)
        return NULL;
    HP_ASSERT(((uintptr_t)p & (IDX_BUCKET_BYTES - 1)) == 0);
    ix->bytes += size;
    return p;
}

static void index_free(struct index *ix, void *p, size_t size)
{
    HP_ASSERT(ix->bytes >= size);
    ix->bytes -= size;
    ix->ops->free(ix->ops->ctx, p, size);
}

static struct idx_bucket *overflow_alloc(struct index *ix)
{
    struct idx_bucket *b = index_alloc(ix, sizeof(struct idx_bucket));
    if (b != NULL)
        ix->overflow++;
    return b;
}

static void overflow_free(struct index *ix, struct idx_bucket *b)
{
    HP_ASSERT(ix->overflow > 0);
    ix->overflow--;
    index_free(ix, b, sizeof(*b));
}

static int table_alloc(struct index *ix, struct idx_table *t, uint32_t log2)
{
    HP_ASSERT(log2 <= IDX_MAX_LOG2);
    struct idx_bucket *b = index_alloc(ix, ((size_t)1 << log2) * sizeof(struct idx_bucket));
    if (b == NULL)
        return -1;
    t->b = b;
    t->mask = ((uint64_t)1 << log2) - 1;
    t->log2 = log2;
    return 0;
}

static void table_free(struct index *ix, struct idx_table *t)
{
    index_free(ix, t->b, (size_t)(t->mask + 1) * sizeof(struct idx_bucket));
    memset(t, 0, sizeof(*t));
}

/* ---- chains ------------------------------------------------------------- */

/* Where an item sits: its home bucket, the chain bucket and slot. */
struct idx_pos {
    struct idx_bucket *home;
    struct idx_bucket *node;
    unsigned slot;
};

static void *chain_find(const struct index *ix, const struct idx_bucket *b, uint8_t tag,
                        const uint8_t *key, size_t len)
{
    do {
        for (unsigned m = bucket_match(b, tag); m != 0; m &= m - 1) {
            void *item = b->slot[lowest(m)];
            if (HP_LIKELY(key_equal(ix, item, key, len)))
                return item;
        }
        b = bucket_next(b);
    } while (b != NULL);
    return NULL;
}

/* Locates by identity when item != NULL, else by key. */
static bool chain_locate(const struct index *ix, struct idx_bucket *home, uint8_t tag,
                         const uint8_t *key, size_t len, const void *item,
                         struct idx_pos *pos)
{
    for (struct idx_bucket *b = home; b != NULL; b = bucket_next(b)) {
        for (unsigned m = bucket_match(b, tag); m != 0; m &= m - 1) {
            unsigned i = lowest(m);
            if (item != NULL ? b->slot[i] == item : key_equal(ix, b->slot[i], key, len)) {
                pos->home = home;
                pos->node = b;
                pos->slot = i;
                return true;
            }
        }
    }
    return false;
}

static struct idx_bucket *chain_tail(struct idx_bucket *home, struct idx_bucket **prev)
{
    struct idx_bucket *tail = home, *next;
    *prev = NULL;
    while ((next = bucket_next(tail)) != NULL) {
        *prev = tail;
        tail = next;
    }
    return tail;
}

static int chain_insert(struct index *ix, struct idx_bucket *home, uint8_t tag, void *item)
{
    struct idx_bucket *prev;
    struct idx_bucket *tail = chain_tail(home, &prev);
    unsigned free_slots = bucket_match(tail, 0);
    if (free_slots != 0) {
        unsigned i = lowest(free_slots);
        tail->tag[i] = tag;
        tail->slot[i] = item;
        return 0;
    }
    /* Tail full with 7 items: its slot 6 item moves to a new tail along with
     * the new one, so the new tail starts with the 2 items the invariant wants. */
    struct idx_bucket *n = overflow_alloc(ix);
    if (n == NULL)
        return -1;
    n->tag[0] = tail->tag[LINK_SLOT];
    n->slot[0] = tail->slot[LINK_SLOT];
    n->tag[1] = tag;
    n->slot[1] = item;
    tail->tag[LINK_SLOT] = 0;
    tail->slot[LINK_SLOT] = n;
    tail->ctl |= IDX_CTL_CHAINED;
    return 0;
}

/* A non-home tail left with one item gives it back to the bucket before it. */
static void chain_fold_tail(struct index *ix, struct idx_bucket *prev, struct idx_bucket *tail)
{
    unsigned used = bucket_used(tail);
    if (__builtin_popcount(used) > 1)
        return;
    prev->ctl &= (uint8_t)~IDX_CTL_CHAINED;
    prev->tag[LINK_SLOT] = 0;
    prev->slot[LINK_SLOT] = NULL;
    if (used != 0) {
        prev->tag[LINK_SLOT] = tail->tag[lowest(used)];
        prev->slot[LINK_SLOT] = tail->slot[lowest(used)];
    }
    overflow_free(ix, tail);
}

static void chain_remove_at(struct index *ix, const struct idx_pos *pos)
{
    struct idx_bucket *prev;
    struct idx_bucket *tail = chain_tail(pos->home, &prev);
    struct idx_bucket *node = pos->node;
    unsigned slot = pos->slot;
    if (node != tail) {
        unsigned used = bucket_used(tail);
        HP_ASSERT(used != 0);
        unsigned j = highest(used);
        node->tag[slot] = tail->tag[j];
        node->slot[slot] = tail->slot[j];
        node = tail;
        slot = j;
    }
    node->tag[slot] = 0;
    node->slot[slot] = NULL;
    if (prev != NULL)
        chain_fold_tail(ix, prev, tail);
}

static void chain_visit(const struct idx_bucket *b, idx_item_fn fn, void *arg)
{
    for (; b != NULL; b = bucket_next(b))
        for (unsigned m = bucket_used(b); m != 0; m &= m - 1)
            fn(arg, b->slot[lowest(m)]);
}

static uint64_t chain_count(const struct idx_bucket *b)
{
    uint64_t n = 0;
    for (; b != NULL; b = bucket_next(b))
        n += (uint64_t)__builtin_popcount(bucket_used(b));
    return n;
}

/* The k-th item of a chain (k < chain_count). */
static void *chain_nth(const struct idx_bucket *b, uint64_t k)
{
    for (; b != NULL; b = bucket_next(b)) {
        for (unsigned m = bucket_used(b); m != 0; m &= m - 1) {
            if (k-- == 0)
                return b->slot[lowest(m)];
        }
    }
    HP_ASSERT(!"chain_nth past the end");
    return NULL;
}

/* ---- lookup ------------------------------------------------------------- */

/* During a rehash a t[0] home bucket below rehash_idx has been moved. */
static inline bool t0_holds(const struct index *ix, uint64_t h)
{
    return ix->rehash_idx < 0 || (int64_t)(h & ix->t[0].mask) >= ix->rehash_idx;
}

static bool index_locate(const struct index *ix, uint64_t h, const uint8_t *key, size_t len,
                         const void *item, struct idx_pos *pos)
{
    if (ix->t[0].b == NULL)
        return false;
    uint8_t tag = hash_tag(h);
    if (t0_holds(ix, h) && chain_locate(ix, home_of(&ix->t[0], h), tag, key, len, item, pos))
        return true;
    return idx_rehashing(ix) &&
           chain_locate(ix, home_of(&ix->t[1], h), tag, key, len, item, pos);
}

static void *find_rehashing(const struct index *ix, uint64_t h, uint8_t tag,
                            const uint8_t *key, size_t len)
{
    const struct idx_bucket *b1 = home_of(&ix->t[1], h);
    __builtin_prefetch(b1);   /* overlap the second line's miss with the first */
    if (t0_holds(ix, h)) {
        void *item = chain_find(ix, home_of(&ix->t[0], h), tag, key, len);
        if (item != NULL)
            return item;
    }
    return chain_find(ix, b1, tag, key, len);
}

void *idx_find(const struct index *ix, uint64_t h, const uint8_t *key, size_t len)
{
    if (HP_UNLIKELY(ix->t[0].b == NULL))
        return NULL;
    if (HP_LIKELY(ix->rehash_idx < 0))
        return chain_find(ix, home_of(&ix->t[0], h), hash_tag(h), key, len);
    return find_rehashing(ix, h, hash_tag(h), key, len);
}

void idx_prefetch(const struct index *ix, uint64_t h, int stage)
{
    /* A hint only: skipped during a rehash (the home may be in either
     * table) and for chained buckets beyond the home. */
    if (HP_UNLIKELY(ix->t[0].b == NULL) || ix->rehash_idx >= 0)
        return;
    const struct idx_bucket *b = home_of(&ix->t[0], h);
    if (stage == 0) {
        __builtin_prefetch(b);
        return;
    }
    /* Items are not line-aligned (slab classes step by 4 bytes): their
     * start may sit near a line's end, so the next line is asked for too. */
    for (unsigned m = bucket_match(b, hash_tag(h)); m != 0; m &= m - 1) {
        const char *item = b->slot[lowest(m)];
        __builtin_prefetch(item);
        __builtin_prefetch(item + 63);
    }
}

/* ---- resize ------------------------------------------------------------- */

/* Growing doubles (more if the count ran ahead while a resize was
 * running), leaving the load at about IDX_GROW_LOAD / 2.  Shrinking picks the
 * smallest table that holds count at half the grow load, so a shrink is never
 * followed by an immediate grow. */
static uint32_t grow_log2(const struct index *ix)
{
    uint32_t log2 = ix->t[0].log2 + 1;
    while (log2 < ix->max_log2 && ((uint64_t)1 << log2) * IDX_GROW_LOAD < ix->count)
        log2++;
    return HP_MIN(log2, ix->max_log2);
}

static uint32_t shrink_log2(const struct index *ix)
{
    uint32_t log2 = 0;
    while (log2 < ix->max_log2 && ((uint64_t)1 << log2) * IDX_GROW_LOAD < 2 * ix->count)
        log2++;
    return log2;
}

static void resize_start(struct index *ix, uint32_t log2)
{
    if (table_alloc(ix, &ix->t[1], log2) != 0) {
        /* Keep serving from the current table (chains just get longer) and
         * try again after as many operations as it has buckets. */
        ix->resize_wait = ix->t[0].mask + 1;
        return;
    }
    ix->rehash_idx = 0;
}

static void resize_check(struct index *ix)
{
    if (idx_rehashing(ix))
        return;
    if (ix->resize_wait > 0) {
        ix->resize_wait--;
        return;
    }
    uint64_t buckets = ix->t[0].mask + 1;
    bool grow = ix->count > buckets * IDX_GROW_LOAD && ix->t[0].log2 < ix->max_log2;
    bool shrink = ix->t[0].log2 > 0 &&
                  ix->count * IDX_SHRINK_DIV < buckets * IDX_GROW_LOAD;
    if (!grow && !shrink)
        return;
    uint32_t log2 = grow ? grow_log2(ix) : shrink_log2(ix);
    if (log2 != ix->t[0].log2)
        resize_start(ix, log2);
}

static void rehash_finish(struct index *ix)
{
    table_free(ix, &ix->t[0]);
    ix->t[0] = ix->t[1];
    memset(&ix->t[1], 0, sizeof(ix->t[1]));
    ix->rehash_idx = -1;
}

/* Moves a whole home chain to t[1], tail first so no hole is ever filled.
 * An item is inserted into t[1] before it leaves t[0], so when an overflow
 * allocation fails the item simply stays where lookups still find it. */
static bool bucket_move(struct index *ix, struct idx_bucket *home)
{
    for (const struct idx_bucket *b = home; b != NULL; b = bucket_next(b))
        for (unsigned m = bucket_used(b); m != 0; m &= m - 1)
            __builtin_prefetch(b->slot[lowest(m)]);
    while (bucket_used(home) != 0) {
        struct idx_bucket *prev;
        struct idx_bucket *tail = chain_tail(home, &prev);
        struct idx_pos pos = {home, tail, highest(bucket_used(tail))};
        void *item = tail->slot[pos.slot];
        uint64_t h = item_hash(ix, item);
        if (chain_insert(ix, home_of(&ix->t[1], h), tail->tag[pos.slot], item) != 0)
            return false;
        chain_remove_at(ix, &pos);
    }
    return true;
}

size_t idx_rehash_step(struct index *ix, size_t n)
{
    if (!idx_rehashing(ix) || n == 0)
        return 0;
    struct idx_table *t0 = &ix->t[0];
    size_t visited = 0, empty_left = n * IDX_EMPTY_VISITS;
    while (n > 0 && (uint64_t)ix->rehash_idx <= t0->mask) {
        struct idx_bucket *home = &t0->b[ix->rehash_idx];
        if (bucket_used(home) == 0) {   /* a chained home is always full */
            ix->rehash_idx++;
            visited++;
            if (--empty_left == 0)
                break;
            continue;
        }
        if (!bucket_move(ix, home))
            break;
        ix->rehash_idx++;
        visited++;
        n--;
    }
    if ((uint64_t)ix->rehash_idx > t0->mask)
        rehash_finish(ix);
    return visited;
}

/* ---- modification ------------------------------------------------------- */

int idx_insert(struct index *ix, uint64_t h, void *item)
{
    if (ix->t[0].b == NULL && table_alloc(ix, &ix->t[0], 0) != 0)
        return -1;
    (void)idx_rehash_step(ix, 1);
    struct idx_table *t = idx_rehashing(ix) ? &ix->t[1] : &ix->t[0];
    if (chain_insert(ix, home_of(t, h), hash_tag(h), item) != 0)
        return -1;
    ix->count++;
    resize_check(ix);
    return 0;
}

static void remove_at(struct index *ix, const struct idx_pos *pos)
{
    chain_remove_at(ix, pos);
    HP_ASSERT(ix->count > 0);
    ix->count--;
    if (ix->count == 0) {   /* an empty index holds no memory at all */
        idx_release(ix, NULL, NULL);
        return;
    }
    (void)idx_rehash_step(ix, 1);
    resize_check(ix);
}

void *idx_remove(struct index *ix, uint64_t h, const uint8_t *key, size_t len)
{
    struct idx_pos pos;
    if (!index_locate(ix, h, key, len, NULL, &pos))
        return NULL;
    void *item = pos.node->slot[pos.slot];
    remove_at(ix, &pos);
    return item;
}

bool idx_remove_item(struct index *ix, uint64_t h, const void *item)
{
    struct idx_pos pos;
    HP_ASSERT(item != NULL);
    if (!index_locate(ix, h, NULL, 0, item, &pos))
        return false;
    remove_at(ix, &pos);
    return true;
}

bool idx_replace_item(struct index *ix, uint64_t h, const void *old_item, void *new_item)
{
    struct idx_pos pos;
    HP_ASSERT(old_item != NULL && new_item != NULL);
    if (!index_locate(ix, h, NULL, 0, old_item, &pos))
        return false;
    pos.node->slot[pos.slot] = new_item;
    return true;
}

/* ---- scan and random ---------------------------------------------------- */

static uint64_t bit_reverse64(uint64_t v)
{
    v = __builtin_bswap64(v);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    return v;
}

/*
 * Increment the cursor from its most significant masked bit downwards.
 * Buckets b and b + 2^k of a doubled table are both expansions of bucket b,
 * and this order visits all expansions of a prefix before moving on, which
 * is why a resize between calls loses nothing (see docs/STORAGE.md).
 */
static uint64_t cursor_next(uint64_t cursor, uint64_t mask)
{
    cursor |= ~mask;
    cursor = bit_reverse64(cursor);
    cursor++;
    return bit_reverse64(cursor);
}

uint64_t idx_scan(const struct index *ix, uint64_t cursor, idx_item_fn fn, void *arg)
{
    if (ix->t[0].b == NULL)
        return 0;
    if (!idx_rehashing(ix)) {
        chain_visit(home_of(&ix->t[0], cursor), fn, arg);
        return cursor_next(cursor, ix->t[0].mask);
    }
    const struct idx_table *small = &ix->t[0], *large = &ix->t[1];
    if (small->mask > large->mask) {
        small = &ix->t[1];
        large = &ix->t[0];
    }
    chain_visit(home_of(small, cursor), fn, arg);
    do {
        chain_visit(home_of(large, cursor), fn, arg);
        cursor = cursor_next(cursor, large->mask);
    } while (cursor & (small->mask ^ large->mask));
    return cursor;
}

static uint64_t splitmix_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Home buckets that may hold items, numbered across both tables. */
static uint64_t live_homes(const struct index *ix)
{
    if (!idx_rehashing(ix))
        return ix->t[0].mask + 1;
    return (ix->t[0].mask + 1 - (uint64_t)ix->rehash_idx) + ix->t[1].mask + 1;
}

static const struct idx_bucket *live_home(const struct index *ix, uint64_t i)
{
    if (!idx_rehashing(ix))
        return &ix->t[0].b[i];
    uint64_t n0 = ix->t[0].mask + 1 - (uint64_t)ix->rehash_idx;
    return i < n0 ? &ix->t[0].b[(uint64_t)ix->rehash_idx + i] : &ix->t[1].b[i - n0];
}

/* A few random probes (a table is at least 1/8 loaded, so one almost always
 * hits), then a walk from a random home so an item is always found. */
void *idx_random(const struct index *ix, uint64_t random_bits)
{
    if (ix->count == 0)
        return NULL;
    uint64_t state = random_bits, homes = live_homes(ix);
    for (int probe = 0; probe < 32; probe++) {
        const struct idx_bucket *b = live_home(ix, splitmix_next(&state) % homes);
        uint64_t n = chain_count(b);
        if (n != 0)
            return chain_nth(b, splitmix_next(&state) % n);
    }
    uint64_t start = splitmix_next(&state) % homes;
    for (uint64_t i = 0; i < homes; i++) {
        const struct idx_bucket *b = live_home(ix, (start + i) % homes);
        uint64_t n = chain_count(b);
        if (n != 0)
            return chain_nth(b, splitmix_next(&state) % n);
    }
    HP_ASSERT(!"index count > 0 but no item found");
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

void idx_init(struct index *ix, const struct idx_ops *ops, uint64_t seed)
{
    memset(ix, 0, sizeof(*ix));
    ix->ops = ops;
    ix->seed = seed;
    ix->rehash_idx = -1;
    ix->hash_mask = ~(uint64_t)0;
    ix->max_log2 = IDX_MAX_LOG2;
}

static void table_release(struct index *ix, struct idx_table *t, idx_item_fn fn, void *arg)
{
    if (t->b == NULL)
        return;
    for (uint64_t i = 0; i <= t->mask; i++) {
        struct idx_bucket *b = &t->b[i];
        if (fn != NULL)
            chain_visit(b, fn, arg);
        struct idx_bucket *next = bucket_next(b);
        while (next != NULL) {
            struct idx_bucket *after = bucket_next(next);
            overflow_free(ix, next);
            next = after;
        }
    }
    table_free(ix, t);
}

void idx_release(struct index *ix, idx_item_fn fn, void *arg)
{
    table_release(ix, &ix->t[0], fn, arg);
    table_release(ix, &ix->t[1], fn, arg);
    HP_ASSERT(ix->overflow == 0 && ix->bytes == 0);
    ix->count = 0;
    ix->rehash_idx = -1;
    ix->resize_wait = 0;
}
