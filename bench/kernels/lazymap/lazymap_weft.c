/* The lazy map with weft. --variant:
 *   view (system "weft", the default): weft_map_iter over an input
 *     callback that makes a run of items at a time, the results read in
 *     place in runs (weft_map_iter_next_view);
 *   item ("weft-item"): the same input, one weft_map_iter_next per result;
 *   eager ("weft-map"): the items made into an array first (timed), then
 *     weft_map into an output array, then its sum: not lazy, its memory
 *     grows with n, the reference the lazy forms are measured against.
 * --window W (default 10^4) is the iterator's window. */
#include "bench_weft.h"
#include "lazymap.h"

static int elem_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    *(uint64_t *)out = lazymap_fn(*(const uint64_t *)in);
    return 0;
}

/* Items [index, index + max) of n, or fewer at the end. */
static ptrdiff_t input_fn(void *ud, size_t index, void *items, size_t max)
{
    size_t n = *(const size_t *)ud, k = index < n ? n - index : 0;
    if (k > max)
        k = max;
    for (size_t j = 0; j < k; j++)
        ((uint64_t *)items)[j] = lazymap_item(index + j);
    return (ptrdiff_t)k;
}

/* Sum the results in input order, read in place or one per call. */
static uint64_t drain(weft_map_iter *it, bool per_item)
{
    uint64_t sum = 0, y;
    const void *v;
    size_t k;
    int rc;
    if (per_item) {
        while ((rc = weft_map_iter_next(it, &y, NULL)) == WEFT_OK)
            sum += y;
    } else {
        while ((rc = weft_map_iter_next_view(it, &v, &k, NULL)) == WEFT_OK)
            for (size_t i = 0; i < k; i++)
                sum += ((const uint64_t *)v)[i];
    }
    if (rc != WEFT_EOF)
        bench_fail("weft_map_iter: %s", weft_strerror(rc));
    weft_map_iter_end(it);
    return sum;
}

static uint64_t run_eager(weft_pool *pool, size_t n)
{
    uint64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out), sum = 0;
    if (in == NULL || out == NULL)
        bench_fail("out of memory for %zu items", n);
    for (size_t i = 0; i < n; i++)
        in[i] = lazymap_item(i);
    size_t failed = 0;
    int rc = weft_map(pool, elem_fn, NULL, in, sizeof *in, out, sizeof *out, n, NULL, &failed);
    if (rc != WEFT_OK)
        bench_fail("weft_map: %s", weft_strerror(rc));
    for (size_t i = 0; i < n; i++)
        sum += out[i];
    free(in);
    free(out);
    return sum;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", LAZYMAP_DEFAULT_N);
    size_t window = (size_t)bench_arg_ll(argc, argv, "--window", LAZYMAP_DEFAULT_WINDOW);
    const char *variant = bench_arg_str(argc, argv, "--variant", "view");
    bool eager = strcmp(variant, "eager") == 0, item = strcmp(variant, "item") == 0;
    if (!eager && !item && strcmp(variant, "view") != 0)
        bench_fail("--variant: view, item or eager");
    const char *sys = eager ? "weft-map" : item ? "weft-item" : "weft";
    uint64_t want = lazymap_expected(n);
    weft_map_iter_options io;
    weft_map_iter_options_init(&io);
    io.window = window;
    weft_pool *pool = bench_weft_pool(o.workers);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum;
        if (eager) {
            sum = run_eager(pool, n);
        } else {
            weft_map_iter *it = NULL;
            int rc = weft_map_iter_begin_input(&it, pool, elem_fn, NULL, input_fn, &n,
                                               sizeof(uint64_t), sizeof(uint64_t), &io);
            if (rc != WEFT_OK)
                bench_fail("weft_map_iter_begin_input: %s", weft_strerror(rc));
            sum = drain(it, item);
        }
        uint64_t ns = bench_now_ns() - t0;
        lazymap_check(n, sum, want);
        bench_report("lazymap", sys, o.workers, rep, ns, "n=%zu window=%zu", n,
                     eager ? (size_t)0 : window);
    }
    bench_weft_destroy(pool);
    return 0;
}
