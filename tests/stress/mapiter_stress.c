/* weft_map_iter over 10^7 items on two workers, once from an array and once
 * from an input callback, each with a window of 10^4 items: every result in
 * input order and equal to the serial map, then EOF. WEFT_STRESS_ITERS sets
 * the item count. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft.h"
#include "weft_test.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 27);
}

static int mix_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    *(uint64_t *)out = mix(*(const uint64_t *)in);
    return 0;
}

static ptrdiff_t count_fn(void *ud, size_t index, void *items, size_t max)
{
    size_t n = *(size_t *)ud, k = index < n ? n - index : 0;
    if (k > max)
        k = max;
    for (size_t j = 0; j < k; j++)
        ((uint64_t *)items)[j] = index + j;
    return (ptrdiff_t)k;
}

/* Take every result of it: 0 when all n are right and EOF follows. */
static int check(weft_map_iter *it, size_t n, const char *form)
{
    uint64_t y;
    size_t idx;
    for (size_t i = 0; i < n; i++) {
        int rc = weft_map_iter_next(it, &y, &idx);
        if (rc != WEFT_OK || idx != i || y != mix(i)) {
            printf("FAIL: %s: item %zu: rc %d index %zu\n", form, i, rc, idx);
            return 1;
        }
    }
    if (weft_map_iter_next(it, &y, &idx) != WEFT_EOF) {
        printf("FAIL: %s: no EOF after %zu items\n", form, n);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = wt_stress_iters(argc, argv, 10000000u);
    signal(SIGALRM, wt_on_watchdog);
    alarm(100);
    weft_pool *pool = NULL;
    if (wt_pool_new(&pool, 2) != WEFT_OK) {
        printf("mapiter_stress: pool_create failed\n0 passed, 1 failed\n");
        return 1;
    }
    uint64_t *in = malloc(n * sizeof(*in));
    if (in == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        in[i] = i;
    weft_map_iter_options o;
    weft_map_iter_options_init(&o);
    o.window = 10000;
    int failed = 0;
    weft_map_iter *it = NULL;
    int64_t t0 = wt_now_ns();
    if (weft_map_iter_begin(&it, pool, mix_fn, NULL, in, sizeof(*in), n, sizeof(uint64_t), &o) !=
        WEFT_OK)
        return 1;
    failed += check(it, n, "array");
    weft_map_iter_end(it);
    int64_t t1 = wt_now_ns();
    if (weft_map_iter_begin_input(&it, pool, mix_fn, NULL, count_fn, &n, sizeof(uint64_t),
                                  sizeof(uint64_t), &o) != WEFT_OK)
        return 1;
    failed += check(it, n, "callback");
    weft_map_iter_end(it);
    int64_t t2 = wt_now_ns();
    free(in);
    if (weft_pool_destroy(pool) != WEFT_OK)
        failed++;
    alarm(0);
    printf("mapiter_stress: %zu items, array %.3f s, callback %.3f s\n%d passed, %d failed\n", n,
           (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9, failed ? 0 : 2, failed);
    return failed ? 1 : 0;
}
