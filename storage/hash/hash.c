/*
 * hash.c - the two encodings of a hash value (see hash.h).
 */
#include "hash.h"

#include <string.h>

/* ---- layout --------------------------------------------------------------- */
/* Listpack: header, then `used` bytes of varint-length-prefixed strings,
 * field then value, `n` pairs. */
struct hlp {
    uint8_t enc;          /* HASH_ENC_LISTPACK */
    uint32_t n;
    uint32_t used;
    uint8_t data[];
};

struct hnode {
    struct hnode *next;
    uint32_t flen, vlen;  /* the value follows the field in d */
    uint8_t d[];
};

struct hht {
    uint8_t enc;          /* HASH_ENC_HT */
    uint8_t log2;         /* buckets = 1 << log2 */
    uint32_t n;
    struct hnode **b;
};

struct hash {
    uint8_t enc;
};

#define HT_MIN_LOG2 3
#define HT_MAX_LOG2 31

_Static_assert(HASH_LP_MAX_ENTRIES * 2 * (HASH_LP_MAX_VALUE + 2) < UINT32_MAX, "lp size");

/* ---- varints (LEB128, at most 5 bytes for a 32-bit length) ---------------- */
static size_t varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t varint_get(const uint8_t *p, uint32_t *v)
{
    uint32_t r = 0;
    size_t n = 0;
    for (unsigned shift = 0;; shift += 7) {
        HP_ASSERT(shift <= 28);
        uint8_t c = p[n++];
        r |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
    }
    *v = r;
    return n;
}

/* Reads the string at offset *pos, advancing it. */
static struct hp_slice lp_str(const struct hlp *l, size_t *pos)
{
    uint32_t len;
    size_t k = varint_get(l->data + *pos, &len);
    struct hp_slice s = {.ptr = l->data + *pos + k, .len = len};
    *pos += k + len;
    HP_ASSERT(*pos <= l->used);
    return s;
}

static bool slice_eq(struct hp_slice a, const uint8_t *p, size_t len)
{
    return a.len == len && (len == 0 || memcmp(a.ptr, p, len) == 0);
}

/* Offset of the pair whose field is f, or SIZE_MAX. */
static size_t lp_find(const struct hlp *l, struct hp_slice f)
{
    size_t pos = 0;
    while (pos < l->used) {
        size_t at = pos;
        struct hp_slice k = lp_str(l, &pos);
        bool eq = slice_eq(f, k.ptr, k.len);
        (void)lp_str(l, &pos);
        if (eq)
            return at;
    }
    return SIZE_MAX;
}

/* ---- hashtable ------------------------------------------------------------- */
static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    /* FNV-1a with a final avalanche (murmur3 fmix64): bucket index from the
     * low bits, so they must depend on every input byte. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static size_t ht_buckets(const struct hht *t)
{
    return (size_t)1 << t->log2;
}

static struct hnode **ht_slot(const struct hht *t, struct hp_slice f)
{
    uint64_t h = hash_bytes(f.ptr, f.len);
    struct hnode **pp = &t->b[h & (ht_buckets(t) - 1)];
    while (*pp != NULL && !slice_eq(f, (*pp)->d, (*pp)->flen))
        pp = &(*pp)->next;
    return pp;
}

static struct hnode *node_new(struct shard *s, struct hp_slice f, struct hp_slice v)
{
    struct hnode *n = shard_alloc(s, sizeof(*n) + f.len + v.len);
    if (n == NULL)
        return NULL;
    n->next = NULL;
    n->flen = (uint32_t)f.len;
    n->vlen = (uint32_t)v.len;
    if (f.len > 0)
        memcpy(n->d, f.ptr, f.len);
    if (v.len > 0)
        memcpy(n->d + f.len, v.ptr, v.len);
    return n;
}

/* Doubles the table (whole rehash: bounded by HASH_MAX_FIELDS; an
 * incremental resize like storage/index.c's is future work).  -1: OOM,
 * unchanged. */
static int ht_grow(struct shard *s, struct hht *t)
{
    if (t->log2 >= HT_MAX_LOG2)
        return 0;   /* chains just get longer */
    uint8_t nl = (uint8_t)(t->log2 + 1);
    size_t nb = (size_t)1 << nl;
    struct hnode **b = shard_zalloc(s, nb * sizeof(*b));
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < ht_buckets(t); i++) {
        struct hnode *n = t->b[i];
        while (n != NULL) {
            struct hnode *next = n->next;
            uint64_t h = hash_bytes(n->d, n->flen);
            n->next = b[h & (nb - 1)];
            b[h & (nb - 1)] = n;
            n = next;
        }
    }
    shard_free(s, t->b);
    t->b = b;
    t->log2 = nl;
    return 0;
}

static struct hht *ht_new(struct shard *s, uint8_t log2)
{
    struct hht *t = shard_alloc(s, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->enc = HASH_ENC_HT;
    t->log2 = log2;
    t->n = 0;
    t->b = shard_zalloc(s, ((size_t)1 << log2) * sizeof(*t->b));
    if (t->b == NULL) {
        shard_free(s, t);
        return NULL;
    }
    return t;
}

static void ht_free(struct shard *s, struct hht *t)
{
    for (size_t i = 0; i < ht_buckets(t); i++) {
        struct hnode *n = t->b[i];
        while (n != NULL) {
            struct hnode *next = n->next;
            shard_free(s, n);
            n = next;
        }
    }
    shard_free(s, t->b);
    shard_free(s, t);
}

/* Inserts a field known to be absent. */
static int ht_insert_new(struct shard *s, struct hht *t, struct hp_slice f, struct hp_slice v)
{
    if (t->n >= HASH_MAX_FIELDS)
        return -1;
    struct hnode *n = node_new(s, f, v);
    if (n == NULL)
        return -1;
    if (t->n + 1 > ht_buckets(t) && ht_grow(s, t) != 0) {
        shard_free(s, n);
        return -1;
    }
    struct hnode **pp = ht_slot(t, f);
    HP_ASSERT(*pp == NULL);
    *pp = n;
    t->n++;
    return 1;
}

static int ht_set(struct shard *s, struct hht *t, struct hp_slice f, struct hp_slice v)
{
    struct hnode **pp = ht_slot(t, f);
    struct hnode *old = *pp;
    if (old == NULL)
        return ht_insert_new(s, t, f, v);
    size_t need = sizeof(*old) + f.len + v.len;
    if (shard_alloc_size(old) >= need) {
        /* fits: in place (memmove: v may point into old itself) */
        if (v.len > 0)
            memmove(old->d + old->flen, v.ptr, v.len);
        old->vlen = (uint32_t)v.len;
        return 0;
    }
    struct hnode *n = node_new(s, f, v);
    if (n == NULL)
        return -1;
    n->next = old->next;
    *pp = n;
    shard_free(s, old);
    return 0;
}

/* ---- public ---------------------------------------------------------------- */
struct hash *hash_new(struct shard *s)
{
    struct hlp *l = shard_alloc(s, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->enc = HASH_ENC_LISTPACK;
    l->n = 0;
    l->used = 0;
    return (struct hash *)l;
}

enum hash_enc hash_encoding(const struct hash *h)
{
    HP_ASSERT(h->enc == HASH_ENC_LISTPACK || h->enc == HASH_ENC_HT);
    return (enum hash_enc)h->enc;
}

void hash_free(struct shard *s, struct hash *h)
{
    if (hash_encoding(h) == HASH_ENC_LISTPACK)
        shard_free(s, h);
    else
        ht_free(s, (struct hht *)h);
}

size_t hash_len(const struct hash *h)
{
    if (hash_encoding(h) == HASH_ENC_LISTPACK)
        return ((const struct hlp *)h)->n;
    return ((const struct hht *)h)->n;
}

size_t hash_mem(const struct hash *h)
{
    if (hash_encoding(h) == HASH_ENC_LISTPACK)
        return shard_alloc_size(h);
    const struct hht *t = (const struct hht *)h;
    size_t m = shard_alloc_size(t) + shard_alloc_size(t->b);
    for (size_t i = 0; i < ht_buckets(t); i++)
        for (const struct hnode *n = t->b[i]; n != NULL; n = n->next)
            m += shard_alloc_size(n);
    return m;
}

bool hash_get(const struct hash *h, struct hp_slice f, struct hp_slice *v)
{
    if (hash_encoding(h) == HASH_ENC_LISTPACK) {
        const struct hlp *l = (const struct hlp *)h;
        size_t pos = lp_find(l, f);
        if (pos == SIZE_MAX)
            return false;
        (void)lp_str(l, &pos);
        *v = lp_str(l, &pos);
        return true;
    }
    const struct hht *t = (const struct hht *)h;
    struct hnode *n = *ht_slot(t, f);
    if (n == NULL)
        return false;
    v->ptr = n->d + n->flen;
    v->len = n->vlen;
    return true;
}

int hash_convert(struct shard *s, struct hash **h)
{
    if (hash_encoding(*h) == HASH_ENC_HT)
        return 0;
    struct hlp *l = (struct hlp *)*h;
    uint8_t log2 = HT_MIN_LOG2;
    while (((size_t)1 << log2) < l->n)
        log2++;
    struct hht *t = ht_new(s, log2);
    if (t == NULL)
        return -1;
    size_t pos = 0;
    while (pos < l->used) {
        struct hp_slice f = lp_str(l, &pos);
        struct hp_slice v = lp_str(l, &pos);
        if (ht_insert_new(s, t, f, v) < 0) {
            ht_free(s, t);
            return -1;
        }
    }
    HP_ASSERT(t->n == l->n);
    shard_free(s, l);
    *h = (struct hash *)t;
    return 0;
}

static int lp_set(struct shard *s, struct hash **h, struct hp_slice f, struct hp_slice v)
{
    struct hlp *l = (struct hlp *)*h;
    size_t pos = lp_find(l, f);
    size_t vlen_new = varint_len((uint32_t)v.len) + v.len;
    if (pos != SIZE_MAX) {
        size_t vat = pos;
        (void)lp_str(l, &vat);
        size_t vend = vat;
        (void)lp_str(l, &vend);
        size_t old = vend - vat;
        size_t used = l->used - old + vlen_new;
        if (used > shard_alloc_size(l) - sizeof(*l)) {
            /* v may point into l: copy it first */
            uint8_t tmp[HASH_LP_MAX_VALUE];
            HP_ASSERT(v.len <= sizeof(tmp));
            if (v.len > 0)
                memcpy(tmp, v.ptr, v.len);
            v.ptr = tmp;
            struct hlp *nl = shard_realloc(s, l, sizeof(*l) + used);
            if (nl == NULL)
                return -1;
            l = nl;
            *h = (struct hash *)l;
            memmove(l->data + vat + vlen_new, l->data + vend, l->used - vend);
            size_t k = varint_put(l->data + vat, (uint32_t)v.len);
            if (v.len > 0)
                memcpy(l->data + vat + k, tmp, v.len);
        } else {
            uint8_t tmp[HASH_LP_MAX_VALUE];
            HP_ASSERT(v.len <= sizeof(tmp));
            if (v.len > 0)
                memcpy(tmp, v.ptr, v.len);
            memmove(l->data + vat + vlen_new, l->data + vend, l->used - vend);
            size_t k = varint_put(l->data + vat, (uint32_t)v.len);
            if (v.len > 0)
                memcpy(l->data + vat + k, tmp, v.len);
        }
        l->used = (uint32_t)used;
        return 0;
    }
    size_t add = varint_len((uint32_t)f.len) + f.len + vlen_new;
    size_t used = l->used + add;
    if (used > shard_alloc_size(l) - sizeof(*l)) {
        struct hlp *nl = shard_realloc(s, l, sizeof(*l) + used);
        if (nl == NULL)
            return -1;
        l = nl;
        *h = (struct hash *)l;
    }
    uint8_t *p = l->data + l->used;
    p += varint_put(p, (uint32_t)f.len);
    if (f.len > 0)
        memcpy(p, f.ptr, f.len);
    p += f.len;
    p += varint_put(p, (uint32_t)v.len);
    if (v.len > 0)
        memcpy(p, v.ptr, v.len);
    l->used = (uint32_t)used;
    l->n++;
    return 1;
}

int hash_set(struct shard *s, struct hash **h, struct hp_slice f, struct hp_slice v)
{
    if (f.len > HASH_MAX_STR || v.len > HASH_MAX_STR)
        return -1;
    if (hash_encoding(*h) == HASH_ENC_LISTPACK) {
        bool big = f.len > HASH_LP_MAX_VALUE || v.len > HASH_LP_MAX_VALUE;
        struct hp_slice cur;
        bool grows = !hash_get(*h, f, &cur);
        if (!big && !(grows && hash_len(*h) + 1 > HASH_LP_MAX_ENTRIES))
            return lp_set(s, h, f, v);
        /* Convert, then set; a failed set after the conversion leaves the
         * same fields (in the other encoding), which no reply can tell
         * apart except OBJECT ENCODING. */
        if (hash_convert(s, h) != 0)
            return -1;
    }
    return ht_set(s, (struct hht *)*h, f, v);
}

int hash_del(struct shard *s, struct hash **h, struct hp_slice f)
{
    if (hash_encoding(*h) == HASH_ENC_LISTPACK) {
        struct hlp *l = (struct hlp *)*h;
        size_t pos = lp_find(l, f);
        if (pos == SIZE_MAX)
            return 0;
        size_t end = pos;
        (void)lp_str(l, &end);
        (void)lp_str(l, &end);
        memmove(l->data + pos, l->data + end, l->used - end);
        l->used -= (uint32_t)(end - pos);
        HP_ASSERT(l->n > 0);
        l->n--;
        return 1;
    }
    struct hht *t = (struct hht *)*h;
    struct hnode **pp = ht_slot(t, f);
    struct hnode *n = *pp;
    if (n == NULL)
        return 0;
    *pp = n->next;
    shard_free(s, n);
    HP_ASSERT(t->n > 0);
    t->n--;
    return 1;
}

struct hash *hash_copy(struct shard *dst, const struct hash *h)
{
    struct hash *c = hash_new(dst);
    if (c == NULL)
        return NULL;
    if (hash_encoding(h) == HASH_ENC_HT && hash_convert(dst, &c) != 0) {
        hash_free(dst, c);
        return NULL;
    }
    struct hash_iter it;
    struct hp_slice f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        if (hash_set(dst, &c, f, v) < 0) {
            hash_free(dst, c);
            return NULL;
        }
    }
    return c;
}

void hash_iter_init(struct hash_iter *it, const struct hash *h)
{
    it->h = h;
    it->pos = 0;
    it->node = NULL;
    if (hash_encoding(h) == HASH_ENC_HT)
        it->node = ((const struct hht *)h)->b[0];
}

bool hash_iter_next(struct hash_iter *it, struct hp_slice *f, struct hp_slice *v)
{
    if (hash_encoding(it->h) == HASH_ENC_LISTPACK) {
        const struct hlp *l = (const struct hlp *)it->h;
        if (it->pos >= l->used)
            return false;
        *f = lp_str(l, &it->pos);
        *v = lp_str(l, &it->pos);
        return true;
    }
    const struct hht *t = (const struct hht *)it->h;
    while (it->node == NULL) {
        if (++it->pos >= ht_buckets(t))
            return false;
        it->node = t->b[it->pos];
    }
    const struct hnode *n = it->node;
    f->ptr = n->d;
    f->len = n->flen;
    v->ptr = n->d + n->flen;
    v->len = n->vlen;
    it->node = n->next;
    return true;
}

void hash_random(const struct hash *h, uint64_t rnd, struct hp_slice *f, struct hp_slice *v)
{
    size_t n = hash_len(h);
    HP_ASSERT(n > 0);
    if (hash_encoding(h) == HASH_ENC_LISTPACK) {
        size_t k = rnd % n;
        struct hash_iter it;
        hash_iter_init(&it, h);
        for (size_t i = 0; i <= k; i++) {
            bool ok = hash_iter_next(&it, f, v);
            HP_ASSERT(ok);
        }
        return;
    }
    /* A random non-empty bucket (load <= 1, so a few tries usually do;
     * bounded by scanning forward from the draw), then a random node of
     * its chain, as Redis' dictGetFairRandomKey approximates. */
    const struct hht *t = (const struct hht *)h;
    size_t mask = ht_buckets(t) - 1;
    size_t b = rnd & mask;
    uint64_t r2 = rnd >> 32;
    for (int tries = 0; tries < 16 && t->b[b] == NULL; tries++) {
        r2 = r2 * 6364136223846793005ull + 1442695040888963407ull;
        b = (size_t)(r2 >> 20) & mask;
    }
    while (t->b[b] == NULL)
        b = (b + 1) & mask;
    size_t len = 0;
    for (const struct hnode *x = t->b[b]; x != NULL; x = x->next)
        len++;
    size_t k = (size_t)(r2 % len);
    const struct hnode *x = t->b[b];
    while (k-- > 0)
        x = x->next;
    f->ptr = x->d;
    f->len = x->flen;
    v->ptr = x->d + x->flen;
    v->len = x->vlen;
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t hash_scan(const struct hash *h, uint64_t cursor, size_t count, hash_scan_fn fn,
                   void *arg)
{
    if (hash_encoding(h) == HASH_ENC_LISTPACK) {
        struct hash_iter it;
        struct hp_slice f, v;
        hash_iter_init(&it, h);
        while (hash_iter_next(&it, &f, &v))
            fn(arg, f, v);
        return 0;
    }
    const struct hht *t = (const struct hht *)h;
    uint64_t mask = ht_buckets(t) - 1;
    uint64_t c = cursor;
    size_t visited = 0;
    if (count == 0)
        count = 1;
    do {
        for (const struct hnode *x = t->b[c & mask]; x != NULL; x = x->next) {
            fn(arg, (struct hp_slice){.ptr = x->d, .len = x->flen},
               (struct hp_slice){.ptr = x->d + x->flen, .len = x->vlen});
        }
        visited++;
        c |= ~mask;
        c = rev64(c);
        c++;
        c = rev64(c);
    } while (c != 0 && visited < count);
    return c;
}
