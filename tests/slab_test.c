/* Unit tests for the per-thread slabs behind futures (runtime/slab.c):
 * distinct, aligned, writable blocks across many slabs; blocks given back
 * by other threads; threads that exit with a partly carved slab. The ASan
 * run of this suite checks the accounting: a slab that is never freed is a
 * leak once its thread is gone, and a block used after it was given back
 * is poisoned. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

TestSuite(slab, .timeout = 60);

#define MANY 1000 /* about 16 slabs */

struct held {
    void *block[MANY];
    struct weft__slab *slab[MANY];
};

static void carve(struct held *h, unsigned n, unsigned char fill)
{
    for (unsigned i = 0; i < n; i++) {
        h->block[i] = weft__slab_alloc(&h->slab[i]);
        cr_assert_not_null(h->block[i]);
        cr_assert_eq((uintptr_t)h->block[i] % WEFT_SLAB_BLOCK, 0, "block %u misaligned", i);
        memset(h->block[i], fill, WEFT_SLAB_BLOCK);
    }
}

static void give_back(struct held *h, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        weft__slab_free(h->slab[i], h->block[i]);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

Test(slab, blocks_are_distinct_aligned_and_keep_their_contents)
{
    static struct held h;
    carve(&h, MANY, 0);
    for (unsigned i = 0; i < MANY; i++)
        memset(h.block[i], (int)(i & 0xff), WEFT_SLAB_BLOCK);
    for (unsigned i = 0; i < MANY; i++) {
        const unsigned char *b = h.block[i];
        for (unsigned j = 0; j < WEFT_SLAB_BLOCK; j++)
            cr_assert_eq(b[j], i & 0xff, "block %u byte %u overwritten", i, j);
    }
    static uintptr_t sorted[MANY];
    for (unsigned i = 0; i < MANY; i++)
        sorted[i] = (uintptr_t)h.block[i];
    qsort(sorted, MANY, sizeof(sorted[0]), by_address);
    for (unsigned i = 1; i < MANY; i++)
        cr_assert_geq(sorted[i] - sorted[i - 1], WEFT_SLAB_BLOCK, "blocks overlap");
    give_back(&h, MANY);
}

static void *give_back_thread(void *arg)
{
    give_back(arg, MANY);
    return NULL;
}

Test(slab, blocks_given_back_by_another_thread)
{
    static struct held h;
    for (int round = 0; round < 3; round++) {
        carve(&h, MANY, (unsigned char)round);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, give_back_thread, &h), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
}

static void *carve_some_and_exit(void *arg)
{
    carve(arg, 10, 7); /* a partly carved slab when the thread ends */
    return NULL;
}

Test(slab, a_thread_that_exits_leaves_no_slab_behind)
{
    static struct held h;
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, carve_some_and_exit, &h), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        /* The slab outlives its thread until its blocks come back; then it
         * is freed (ASan's leak check fails the suite otherwise). */
        for (unsigned i = 0; i < 10; i++)
            cr_assert_eq(((unsigned char *)h.block[i])[0], 7);
        give_back(&h, 10);
    }
}

/* Each block comes back before the next is carved: every slab is freed the
 * moment its last block returns, while its thread goes on carving (a
 * thread that kept looking at such a slab would read freed memory, which
 * the ASan run reports). */
Test(slab, blocks_given_back_one_by_one)
{
    for (unsigned i = 0; i < 10 * MANY; i++) {
        struct weft__slab *s;
        unsigned char *b = weft__slab_alloc(&s);
        cr_assert_not_null(b);
        b[0] = (unsigned char)i;
        b[WEFT_SLAB_BLOCK - 1] = (unsigned char)i;
        weft__slab_free(s, b);
    }
}
