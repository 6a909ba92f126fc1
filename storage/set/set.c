/*
 * set.c - the set value: intset and hashtable encodings, conversion,
 * iteration, random pick and SSCAN's cursor.  Contracts in set.h.
 */
#include "set.h"

#include <string.h>
#include <sys/random.h>

#include "../../common/strutil.h"

#define SET_HT_MIN 4u            /* Redis' DICT_HT_INITIAL_SIZE */
#define SET_HT_MIN_FILL 10u      /* shrink below 10% fill, Redis' HASHTABLE_MIN_FILL */
#define SET_INTSET_MIN_CAP 4u

/* Hash seed, drawn once at registration: per process, so a client cannot
 * aim members at one bucket. */
static uint64_t set_seed = 0x9e3779b97f4a7c15ull;

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Seeded 64-bit hash: 8 bytes a step, murmur-style finalizer. */
static uint64_t set_hash(const uint8_t *p, size_t len)
{
    uint64_t h = set_seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w) + 0x632be59bd9b4e019ull;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    return mix64(h ^ w ^ ((uint64_t)len << 56));
}

bool set_member_is_int(struct hp_slice m, int64_t *out)
{
    /* Redis' isSdsRepresentableAsLongLong: string2ll, at most 20 bytes. */
    if (m.len == 0 || m.len > 20)
        return false;
    return str_to_i64(m.ptr, m.len, out) == 0;
}

/* ---- intset ---------------------------------------------------------------- */

/* Index of v, or where it would go (*found false). */
static uint64_t is_search(const struct set *st, int64_t v, bool *found)
{
    uint64_t lo = 0, hi = st->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (st->iv[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < st->count && st->iv[lo] == v;
    return lo;
}

static int is_add(struct shard *s, struct set *st, int64_t v)
{
    bool found;
    uint64_t at = is_search(st, v, &found);
    if (found)
        return 0;
    if (st->count == st->icap) {
        uint64_t cap = st->icap == 0 ? SET_INTSET_MIN_CAP : st->icap * 2;
        int64_t *nv = shard_realloc(s, st->iv, cap * sizeof(int64_t));
        if (nv == NULL)
            return -1;
        st->iv = nv;
        st->icap = cap;
    }
    memmove(&st->iv[at + 1], &st->iv[at], (st->count - at) * sizeof(int64_t));
    st->iv[at] = v;
    st->count++;
    return 1;
}

static int is_remove(struct shard *s, struct set *st, int64_t v)
{
    bool found;
    uint64_t at = is_search(st, v, &found);
    if (!found)
        return 0;
    memmove(&st->iv[at], &st->iv[at + 1], (st->count - at - 1) * sizeof(int64_t));
    st->count--;
    /* Give memory back when a quarter is used; a failed shrink keeps it. */
    if (st->icap > SET_INTSET_MIN_CAP && st->count * 4 <= st->icap) {
        int64_t *nv = shard_realloc(s, st->iv, (st->icap / 2) * sizeof(int64_t));
        if (nv != NULL) {
            st->iv = nv;
            st->icap /= 2;
        }
    }
    return 1;
}

/* ---- hashtable ------------------------------------------------------------- */

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = SET_HT_MIN;
    while (p < n)
        p <<= 1;
    return p;
}

static struct set_node *ht_find(const struct set *st, const uint8_t *p, size_t len, uint64_t h)
{
    if (st->nbk == 0)
        return NULL;
    for (struct set_node *n = st->bk[h & (st->nbk - 1)]; n != NULL; n = n->next)
        if (n->hash == h && n->len == len && memcmp(n->data, p, len) == 0)
            return n;
    return NULL;
}

/* Moves every node into a table of nbk buckets; -1 (nothing changed) out
 * of memory.  All at once: bounded by the set's size, which a command
 * touching the set pays anyway. */
static int ht_resize(struct shard *s, struct set *st, uint64_t nbk)
{
    HP_ASSERT(nbk >= SET_HT_MIN);
    HP_ASSERT((nbk & (nbk - 1)) == 0);
    struct set_node **nb = shard_zalloc(s, nbk * sizeof(*nb));
    if (nb == NULL)
        return -1;
    for (uint64_t i = 0; i < st->nbk; i++) {
        struct set_node *n = st->bk[i];
        while (n != NULL) {
            struct set_node *next = n->next;
            uint64_t b = n->hash & (nbk - 1);
            n->next = nb[b];
            nb[b] = n;
            n = next;
        }
    }
    shard_free(s, st->bk);
    st->bk = nb;
    st->nbk = nbk;
    return 0;
}

static struct set_node *node_new(struct shard *s, const uint8_t *p, size_t len, uint64_t h)
{
    if (len > SET_MEMBER_MAX_LEN)
        return NULL;
    struct set_node *n = shard_alloc(s, sizeof(*n) + (len == 0 ? 1 : len));
    if (n == NULL)
        return NULL;
    n->next = NULL;
    n->hash = h;
    n->len = (uint32_t)len;
    memcpy(n->data, p, len);
    return n;
}

/* Adds a member known to be absent; -1 out of memory (unchanged). */
static int ht_insert_new(struct shard *s, struct set *st, const uint8_t *p, size_t len,
                         uint64_t h)
{
    if (st->count >= SET_MAX_MEMBERS)
        return -1;
    /* Grow at load 1, as Redis' dict does. */
    if (st->nbk == 0 || st->count + 1 > st->nbk) {
        uint64_t want = st->nbk == 0 ? SET_HT_MIN : st->nbk * 2;
        if (ht_resize(s, st, want) != 0)
            return -1;
    }
    struct set_node *n = node_new(s, p, len, h);
    if (n == NULL)
        return -1;
    uint64_t b = h & (st->nbk - 1);
    n->next = st->bk[b];
    st->bk[b] = n;
    st->count++;
    return 0;
}

static void ht_free_nodes(struct shard *s, struct set *st)
{
    for (uint64_t i = 0; i < st->nbk; i++) {
        struct set_node *n = st->bk[i];
        while (n != NULL) {
            struct set_node *next = n->next;
            shard_free(s, n);
            n = next;
        }
    }
    shard_free(s, st->bk);
    st->bk = NULL;
    st->nbk = 0;
}

/* intset -> hashtable, presized for `room` members; -1 (unchanged) out of
 * memory. */
static int convert_to_ht(struct shard *s, struct set *st, uint64_t room)
{
    HP_ASSERT(st->enc == SET_ENC_INTSET);
    struct set tmp = {.enc = SET_ENC_HT};
    if (ht_resize(s, &tmp, pow2_at_least(room)) != 0)
        return -1;
    for (uint64_t i = 0; i < st->count; i++) {
        char buf[SET_INT_BUF];
        size_t n = i64_to_str(buf, st->iv[i]);
        if (ht_insert_new(s, &tmp, (const uint8_t *)buf, n, set_hash((const uint8_t *)buf, n)) !=
            0) {
            ht_free_nodes(s, &tmp);
            return -1;
        }
    }
    HP_ASSERT(tmp.count == st->count);
    shard_free(s, st->iv);
    st->iv = NULL;
    st->icap = 0;
    st->bk = tmp.bk;
    st->nbk = tmp.nbk;
    st->enc = SET_ENC_HT;
    return 0;
}

/* ---- the set --------------------------------------------------------------- */

struct set *set_new(struct shard *s, enum set_enc enc)
{
    struct set *st = shard_zalloc(s, sizeof(*st));
    if (st != NULL)
        st->enc = (uint8_t)enc;
    return st;
}

struct set *set_new_for(struct shard *s, struct hp_slice first)
{
    int64_t v;
    return set_new(s, set_member_is_int(first, &v) ? SET_ENC_INTSET : SET_ENC_HT);
}

void set_free(struct shard *s, struct set *st)
{
    if (st == NULL)
        return;
    if (st->enc == SET_ENC_HT)
        ht_free_nodes(s, st);
    else
        shard_free(s, st->iv);
    shard_free(s, st);
}

struct set *set_copy(struct shard *dst, const struct set *src)
{
    struct set *st = set_new(dst, (enum set_enc)src->enc);
    if (st == NULL)
        return NULL;
    if (src->enc == SET_ENC_INTSET) {
        if (src->count > 0) {
            st->iv = shard_alloc(dst, src->count * sizeof(int64_t));
            if (st->iv == NULL) {
                set_free(dst, st);
                return NULL;
            }
            memcpy(st->iv, src->iv, src->count * sizeof(int64_t));
            st->icap = src->count;
            st->count = src->count;
        }
        return st;
    }
    if (src->nbk > 0 && ht_resize(dst, st, src->nbk) != 0) {
        set_free(dst, st);
        return NULL;
    }
    for (uint64_t i = 0; i < src->nbk; i++) {
        for (const struct set_node *n = src->bk[i]; n != NULL; n = n->next) {
            if (ht_insert_new(dst, st, n->data, n->len, n->hash) != 0) {
                set_free(dst, st);
                return NULL;
            }
        }
    }
    HP_ASSERT(st->count == src->count);
    return st;
}

int set_add(struct shard *s, struct set *st, struct hp_slice m)
{
    int64_t v;
    bool is_int = set_member_is_int(m, &v);
    if (st->enc == SET_ENC_INTSET) {
        if (is_int) {
            bool found;
            (void)is_search(st, v, &found);
            if (found)
                return 0;
            if (st->count + 1 <= SET_MAX_INTSET_ENTRIES)
                return is_add(s, st, v);
        }
        /* A non-integer, or one past the intset limit: Redis converts
         * (setTypeConvert presizes for the current members). */
        if (convert_to_ht(s, st, st->count + 1) != 0)
            return -1;
    }
    uint64_t h = set_hash(m.ptr, m.len);
    if (ht_find(st, m.ptr, m.len, h) != NULL)
        return 0;
    return ht_insert_new(s, st, m.ptr, m.len, h) == 0 ? 1 : -1;
}

int set_remove(struct shard *s, struct set *st, struct hp_slice m)
{
    if (st->enc == SET_ENC_INTSET) {
        int64_t v;
        return set_member_is_int(m, &v) ? is_remove(s, st, v) : 0;
    }
    if (st->nbk == 0)
        return 0;
    uint64_t h = set_hash(m.ptr, m.len);
    struct set_node **pp = &st->bk[h & (st->nbk - 1)];
    while (*pp != NULL) {
        struct set_node *n = *pp;
        if (n->hash == h && n->len == m.len && memcmp(n->data, m.ptr, m.len) == 0) {
            *pp = n->next;
            shard_free(s, n);
            st->count--;
            if (st->nbk > SET_HT_MIN && st->count * 100 / st->nbk < SET_HT_MIN_FILL)
                (void)ht_resize(s, st, pow2_at_least(st->count)); /* failure: keep it */
            return 1;
        }
        pp = &n->next;
    }
    return 0;
}

bool set_contains(const struct set *st, struct hp_slice m)
{
    int64_t v;
    if (st->enc == SET_ENC_INTSET) {
        bool found = false;
        if (set_member_is_int(m, &v))
            (void)is_search(st, v, &found);
        return found;
    }
    return ht_find(st, m.ptr, m.len, set_hash(m.ptr, m.len)) != NULL;
}

const char *set_encoding(const struct set *st)
{
    return st->enc == SET_ENC_INTSET ? "intset" : "hashtable";
}

size_t set_mem_usage(const struct set *st)
{
    size_t n = shard_alloc_size(st);
    if (st->enc == SET_ENC_INTSET)
        return n + (st->iv != NULL ? shard_alloc_size(st->iv) : 0);
    if (st->bk != NULL)
        n += shard_alloc_size(st->bk);
    for (uint64_t i = 0; i < st->nbk; i++)
        for (const struct set_node *nd = st->bk[i]; nd != NULL; nd = nd->next)
            n += shard_alloc_size(nd);
    return n;
}

/* ---- iteration, random, scan ---------------------------------------------- */

void set_iter_init(struct set_iter *it, const struct set *st)
{
    it->st = st;
    it->pos = 0;
    it->node = NULL;
}

bool set_iter_next(struct set_iter *it, struct hp_slice *out)
{
    const struct set *st = it->st;
    if (st->enc == SET_ENC_INTSET) {
        if (it->pos >= st->count)
            return false;
        size_t n = i64_to_str(it->buf, st->iv[it->pos++]);
        *out = hp_slice_make(it->buf, n);
        return true;
    }
    while (it->node == NULL) {
        if (it->pos >= st->nbk)
            return false;
        it->node = st->bk[it->pos++];
    }
    *out = hp_slice_make(it->node->data, it->node->len);
    it->node = it->node->next;
    return true;
}

uint64_t set_rng_next(uint64_t *state)
{
    HP_ASSERT(*state != 0);
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

struct hp_slice set_random(const struct set *st, uint64_t *rng, char buf[SET_INT_BUF])
{
    HP_ASSERT(st->count > 0);
    if (st->enc == SET_ENC_INTSET) {
        size_t n = i64_to_str(buf, st->iv[set_rng_next(rng) % st->count]);
        return hp_slice_make(buf, n);
    }
    /* Load is kept above 10% (shrink) so this ends fast on average. */
    const struct set_node *head;
    do {
        head = st->bk[set_rng_next(rng) & (st->nbk - 1)];
    } while (head == NULL);
    uint64_t len = 0;
    for (const struct set_node *n = head; n != NULL; n = n->next)
        len++;
    uint64_t k = set_rng_next(rng) % len;
    while (k-- > 0)
        head = head->next;
    return hp_slice_make(head->data, head->len);
}

static uint64_t rev64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++)
        r |= ((v >> i) & 1u) << (63 - i);
    return r;
}

uint64_t set_scan(const struct set *st, uint64_t cursor, set_scan_fn fn, void *arg)
{
    HP_ASSERT(st->enc == SET_ENC_HT);
    if (st->nbk == 0)
        return 0;
    uint64_t mask = st->nbk - 1;
    for (const struct set_node *n = st->bk[cursor & mask]; n != NULL; n = n->next)
        fn(arg, hp_slice_make(n->data, n->len));
    /* Redis' dictScan step: set the bits above the mask, then increment
     * the reversed cursor. */
    cursor |= ~mask;
    return rev64(rev64(cursor) + 1);
}

/* ---- log records ----------------------------------------------------------- */

/* Arguments of one SADD record: the bound exec.h puts on operation
 * records too (EXEC_RECORD_ARGC_MAX). */
#define SET_RECORD_ARGC 64
#define SET_RECORD_MEMBERS (SET_RECORD_ARGC - 2)

int set_state_records(const struct set *st, struct hp_slice key, entry_emit_fn emit, void *arg)
{
    struct hp_slice av[SET_RECORD_ARGC];
    char nums[SET_RECORD_MEMBERS][SET_INT_BUF];
    av[0] = hp_slice_make("DEL", 3);
    av[1] = key;
    int rc = emit(arg, 2, av);
    if (rc != 0)
        return rc;
    /* A hashtable that replayed SADDs would make an intset (all integers,
     * few enough): a first non-integer member (the empty string, which no
     * such set holds) forces the hashtable, and is removed at the end. */
    bool sentinel = false;
    if (st->enc == SET_ENC_HT && st->count <= SET_MAX_INTSET_ENTRIES) {
        sentinel = true;
        struct set_iter it;
        struct hp_slice m;
        int64_t v;
        set_iter_init(&it, st);
        while (set_iter_next(&it, &m))
            if (!set_member_is_int(m, &v)) {
                sentinel = false;
                break;
            }
    }
    av[0] = hp_slice_make("SADD", 4);
    uint32_t n = 2;
    if (sentinel)
        av[n++] = hp_slice_make("", 0);
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, st);
    uint32_t slot = 0;
    while (set_iter_next(&it, &m)) {
        if (st->enc == SET_ENC_INTSET) {
            /* The iterator's buffer is reused: keep each member's text. */
            HP_ASSERT(slot < SET_RECORD_MEMBERS);
            memcpy(nums[slot], m.ptr, m.len);
            m = hp_slice_make(nums[slot], m.len);
            slot++;
        }
        av[n++] = m;
        if (n == SET_RECORD_ARGC) {
            rc = emit(arg, n, av);
            if (rc != 0)
                return rc;
            n = 2;
            slot = 0;
        }
    }
    if (n > 2) {
        rc = emit(arg, n, av);
        if (rc != 0)
            return rc;
    }
    if (sentinel) {
        av[0] = hp_slice_make("SREM", 4);
        av[2] = hp_slice_make("", 0);
        rc = emit(arg, 3, av);
    }
    return rc;
}

/* ---- type ops ---------------------------------------------------------------- */

static void ops_free(struct shard *s, void *p)
{
    set_free(s, p);
}

static void *ops_copy(struct shard *dst, const void *p)
{
    return set_copy(dst, p);
}

static size_t ops_mem_usage(const void *p)
{
    return set_mem_usage(p);
}

static const char *ops_encoding(const void *p)
{
    return set_encoding(p);
}

static int ops_state_records(const void *p, struct hp_slice key, entry_emit_fn emit, void *arg)
{
    return set_state_records(p, key, emit, arg);
}

static const struct type_ops set_ops = {
    .name = "set",
    .free = ops_free,
    .copy = ops_copy,
    .mem_usage = ops_mem_usage,
    .encoding = ops_encoding,
    .state_records = ops_state_records,
};

int set_type_register(void)
{
    if (obj_type_ops(OBJ_SET) == &set_ops)
        return 0;
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed) && seed != 0)
        set_seed = seed;
    return obj_type_register(OBJ_SET, &set_ops);
}

bool set_check(const struct set *st)
{
    if (st->enc == SET_ENC_INTSET) {
        if (st->count > SET_MAX_INTSET_ENTRIES || st->count > st->icap || st->bk != NULL)
            return false;
        for (uint64_t i = 1; i < st->count; i++)
            if (st->iv[i - 1] >= st->iv[i])
                return false;
        return true;
    }
    if (st->iv != NULL || (st->nbk != 0 && (st->nbk & (st->nbk - 1)) != 0))
        return false;
    uint64_t n = 0;
    for (uint64_t i = 0; i < st->nbk; i++) {
        for (const struct set_node *nd = st->bk[i]; nd != NULL; nd = nd->next) {
            if (nd->hash != set_hash(nd->data, nd->len) || (nd->hash & (st->nbk - 1)) != i)
                return false;
            n++;
        }
    }
    return n == st->count;
}
