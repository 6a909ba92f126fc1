/*
 * test_slab.c - storage/slab.c: size classes, reuse, slabs returned when
 * empty, allocation failure, and no two live items overlapping.
 */
#include "cu_main.h"

#include "../../storage/slab.h"

#include <stdlib.h>
#include <string.h>

/* A fake page source that counts what it hands out and can fail. */
struct fake_mem {
    uint64_t live;          /* slabs out */
    uint64_t allocs;
    uint64_t fail_after;    /* allocations before failing; UINT64_MAX never */
};

static void *fake_alloc(void *ctx, size_t size)
{
    struct fake_mem *m = ctx;
    CU_ASSERT_EQUAL(size, SLAB_BYTES);
    if (m->fail_after != UINT64_MAX) {
        if (m->fail_after == 0)
            return NULL;
        m->fail_after--;
    }
    void *p = aligned_alloc(SLAB_BYTES, size);
    if (p != NULL) {
        memset(p, 0xa5, size);   /* contents undefined: prove nothing relies on zero */
        m->live++;
        m->allocs++;
    }
    return p;
}

static void fake_free(void *ctx, void *p, size_t size)
{
    struct fake_mem *m = ctx;
    CU_ASSERT_EQUAL(size, SLAB_BYTES);
    CU_ASSERT_EQUAL((uintptr_t)p & (SLAB_BYTES - 1), 0);
    CU_ASSERT(m->live > 0);
    m->live--;
    free(p);
}

static struct fake_mem mem;
static const struct slab_ops fake_ops = {fake_alloc, fake_free, &mem};

static void pool_init(struct slab_pool *p)
{
    memset(&mem, 0, sizeof(mem));
    mem.fail_after = UINT64_MAX;
    slab_pool_init(p, &fake_ops);
}

static void test_classes(void)
{
    CU_ASSERT_EQUAL(slab_class_bytes(0), SLAB_MIN_ITEM);
    CU_ASSERT_EQUAL(slab_class_bytes(1), SLAB_MIN_ITEM);
    CU_ASSERT_EQUAL(slab_class_bytes(8), 8);
    CU_ASSERT_EQUAL(slab_class_bytes(9), 12);
    CU_ASSERT_EQUAL(slab_class_bytes(52), 52);
    CU_ASSERT_EQUAL(slab_class_bytes(53), 56);
    CU_ASSERT_EQUAL(slab_class_bytes(SLAB_MAX_ITEM), SLAB_MAX_ITEM);
    CU_ASSERT(slab_fits(SLAB_MAX_ITEM));
    CU_ASSERT(!slab_fits(SLAB_MAX_ITEM + 1));
    struct slab_pool p;
    pool_init(&p);
    for (size_t size = 0; size <= SLAB_MAX_ITEM; size++) {
        uint8_t *it = slab_alloc(&p, size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it);
        CU_ASSERT_EQUAL(slab_item_bytes(it), slab_class_bytes(size));
        memset(it, 0x5a, slab_class_bytes(size));
        slab_free(&p, it);
        CU_ASSERT_EQUAL(p.slabs, 0);   /* its slab emptied: returned at once */
    }
    CU_ASSERT_EQUAL(mem.live, 0);
    CU_ASSERT_EQUAL(p.item_bytes, 0);
}

static int cmp_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t distinct_slabs(uint8_t *const *items, size_t n)
{
    uintptr_t *a = malloc(n * sizeof(*a) + 1);
    HP_ASSERT(a != NULL);
    for (size_t i = 0; i < n; i++)
        a[i] = (uintptr_t)items[i] & ~(uintptr_t)(SLAB_BYTES - 1);
    qsort(a, n, sizeof(*a), cmp_addr);
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += i == 0 || a[i] != a[i - 1];
    free(a);
    return d;
}

/* Fill several slabs of one class, write a distinct pattern into every
 * item, free a random half, refill, and check every live item still holds
 * its own pattern (no overlap, no free-list corruption). */
static void test_no_overlap_and_reuse(void)
{
    enum { N = 20000 };
    static uint8_t *items[N];
    struct slab_pool p;
    pool_init(&p);
    const size_t size = 52;
    const uint64_t per_slab = (SLAB_BYTES - SLAB_HDR) / size;
    for (size_t i = 0; i < N; i++) {
        items[i] = slab_alloc(&p, size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(items[i]);
        memset(items[i], (int)(i * 7 + 1), size);
    }
    CU_ASSERT_EQUAL(p.slabs, (N + per_slab - 1) / per_slab);
    CU_ASSERT_EQUAL(p.item_bytes, (uint64_t)N * size);
    uint64_t slabs_full = p.slabs;
    srand(7);
    for (size_t i = 0; i < N; i++) {
        if (rand() & 1) {
            slab_free(&p, items[i]);
            items[i] = NULL;
        }
    }
    for (size_t i = 0; i < N; i++) {
        if (items[i] == NULL) {
            items[i] = slab_alloc(&p, size);
            CU_ASSERT_PTR_NOT_NULL_FATAL(items[i]);
            memset(items[i], (int)(i * 7 + 1), size);
        }
    }
    /* refilling the holes needed no new slab */
    CU_ASSERT_EQUAL(p.slabs, slabs_full);
    CU_ASSERT_EQUAL(mem.allocs, slabs_full);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < size; j++)
            bad += items[i][j] != (uint8_t)(i * 7 + 1);
    CU_ASSERT_EQUAL(bad, 0);
    for (size_t i = 0; i < N; i++) {
        slab_free(&p, items[i]);
        if (i == N / 2)   /* slabs held: those with live items plus one spare at most */
            CU_ASSERT(p.slabs <= distinct_slabs(items + i + 1, N - i - 1) + 1);
    }
    CU_ASSERT_EQUAL(p.slabs, 0);
    CU_ASSERT_EQUAL(p.item_bytes, 0);
    CU_ASSERT_EQUAL(mem.live, 0);
}

/* Classes never share a slab; an emptied slab stays as the class's one
 * spare while the class has items, a second emptied one goes back, and the
 * spare goes back with the class's last item. */
static void test_classes_separate_and_release(void)
{
    struct slab_pool p;
    pool_init(&p);
    uint8_t *a = slab_alloc(&p, 20), *b = slab_alloc(&p, 24);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(p.slabs, 2);
    CU_ASSERT_NOT_EQUAL((uintptr_t)a & ~(SLAB_BYTES - 1), (uintptr_t)b & ~(SLAB_BYTES - 1));
    const uint64_t per_slab = (SLAB_BYTES - SLAB_HDR) / 20;
    static uint8_t *more[4096];
    HP_ASSERT(per_slab < HP_ARRAY_LEN(more));
    for (uint64_t i = 0; i < per_slab; i++)   /* a's slab fills, a second one opens */
        CU_ASSERT_PTR_NOT_NULL_FATAL(more[i] = slab_alloc(&p, 20));
    CU_ASSERT_EQUAL(p.slabs, 3);
    slab_free(&p, more[per_slab - 1]);   /* the only item of the second slab */
    CU_ASSERT_EQUAL(p.slabs, 3);         /* kept as the spare */
    CU_ASSERT_EQUAL(mem.allocs, 3);
    for (int round = 0; round < 100; round++) {   /* boundary insert/delete */
        uint8_t *x = slab_alloc(&p, 20);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        slab_free(&p, x);
    }
    CU_ASSERT_EQUAL(mem.allocs, 3);      /* the spare served every round */
    CU_ASSERT_EQUAL(p.slabs, 3);
    for (uint64_t i = 0; i + 1 < per_slab; i++)
        slab_free(&p, more[i]);
    CU_ASSERT_EQUAL(p.slabs, 3);         /* a's slab still holds a */
    slab_free(&p, a);                    /* class 20 empty: its slab and spare go */
    CU_ASSERT_EQUAL(p.slabs, 1);
    slab_free(&p, b);
    CU_ASSERT_EQUAL(p.slabs, 0);
    CU_ASSERT_EQUAL(mem.live, 0);
}

static void test_alloc_failure(void)
{
    struct slab_pool p;
    pool_init(&p);
    uint8_t *a = slab_alloc(&p, 40);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    mem.fail_after = 0;
    /* the open slab still serves its class; a new class needs a slab */
    uint8_t *b = slab_alloc(&p, 40);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_PTR_NULL(slab_alloc(&p, 44));
    CU_ASSERT_EQUAL(p.slabs, 1);
    CU_ASSERT_EQUAL(p.item_bytes, 80);
    mem.fail_after = UINT64_MAX;
    uint8_t *c = slab_alloc(&p, 44);
    CU_ASSERT_PTR_NOT_NULL(c);
    slab_free(&p, a);
    slab_free(&p, b);
    slab_free(&p, c);
    CU_ASSERT_EQUAL(p.slabs, 0);
    CU_ASSERT_EQUAL(mem.live, 0);
}

static CU_TestInfo slab_tests[] = {
    {"size classes", test_classes},
    {"no overlap, holes reused", test_no_overlap_and_reuse},
    {"classes separate, empty slabs released", test_classes_separate_and_release},
    {"allocation failure", test_alloc_failure},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"slab", NULL, NULL, NULL, NULL, slab_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
