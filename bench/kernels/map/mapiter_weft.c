/* The lazy map against the eager one: out[i] = splitmix64(in[i]) over --n
 * uint64 items (default 10 M), the results summed in input order by the
 * caller. --variant eager: weft_map into an array, then the sum over it
 * (system "weft-map"); iter: weft_map_iter over the input array
 * ("weft-iter"); input: weft_map_iter with an input callback that makes
 * item i = i * golden ratio, no input array ("weft-iter-input"). --window W
 * (default 10^4) sets the iterator's window, 0 its default; --runs K > 1
 * consumes with weft_map_iter_next_n, K results at most per call (systems
 * "weft-iter-runs", "weft-iter-input-runs"), --runs 0 in place with
 * weft_map_iter_next_view ("weft-iter-view", "weft-iter-input-view"). Checked against
 * the serial sum; hwm_kb shows the iterator's memory staying flat. */
#include "bench_weft.h"

static int elem_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    *(uint64_t *)out = bench_splitmix64(*(const uint64_t *)in);
    return 0;
}

static uint64_t item(size_t i)
{
    return i * 0x9e3779b97f4a7c15ull;
}

static ptrdiff_t input_fn(void *ud, size_t index, void *items, size_t max)
{
    size_t n = *(const size_t *)ud, k = index < n ? n - index : 0;
    if (k > max)
        k = max;
    for (size_t j = 0; j < k; j++)
        ((uint64_t *)items)[j] = item(index + j);
    return (ptrdiff_t)k;
}

/* Sum the results in input order: one weft_map_iter_next per item,
 * (runs > 1) weft_map_iter_next_n runs of up to `runs` results, or (runs
 * 0) runs read in place through weft_map_iter_next_view. */
static uint64_t drain(weft_map_iter *it, size_t runs)
{
    uint64_t sum = 0, y[1024];
    int rc;
    size_t k;
    if (runs == 0) {
        const void *v;
        while ((rc = weft_map_iter_next_view(it, &v, &k, NULL)) == WEFT_OK)
            for (size_t i = 0; i < k; i++)
                sum += ((const uint64_t *)v)[i];
    } else if (runs == 1) {
        while ((rc = weft_map_iter_next(it, y, NULL)) == WEFT_OK)
            sum += y[0];
    } else {
        if (runs > 1024)
            runs = 1024;
        while ((rc = weft_map_iter_next_n(it, y, runs, &k, NULL)) == WEFT_OK)
            for (size_t i = 0; i < k; i++)
                sum += y[i];
    }
    if (rc != WEFT_EOF)
        bench_fail("weft_map_iter_next: %s", weft_strerror(rc));
    weft_map_iter_end(it);
    return sum;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", 10000000);
    size_t window = (size_t)bench_arg_ll(argc, argv, "--window", 10000);
    size_t runs = (size_t)bench_arg_ll(argc, argv, "--runs", 1);
    const char *variant = bench_arg_str(argc, argv, "--variant", "iter");
    bool eager = strcmp(variant, "eager") == 0, input = strcmp(variant, "input") == 0;
    if (!eager && !input && strcmp(variant, "iter") != 0)
        bench_fail("--variant: eager, iter or input");
    uint64_t *in = NULL, *out = NULL;
    if (!input) {
        in = malloc(n * sizeof *in);
        if (in == NULL)
            bench_fail("out of memory");
        for (size_t i = 0; i < n; i++)
            in[i] = item(i);
    }
    if (eager && (out = malloc(n * sizeof *out)) == NULL)
        bench_fail("out of memory");
    uint64_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += bench_splitmix64(item(i));
    weft_map_iter_options io;
    weft_map_iter_options_init(&io);
    io.window = window;
    weft_pool *pool = bench_weft_pool(o.workers);
    const char *sys = eager ? "weft-map"
                      : input ? (runs == 0  ? "weft-iter-input-view"
                                 : runs > 1 ? "weft-iter-input-runs"
                                            : "weft-iter-input")
                              : (runs == 0 ? "weft-iter-view" : runs > 1 ? "weft-iter-runs" : "weft-iter");
    for (unsigned rep = 0; rep < o.reps; rep++) {
        if (out != NULL)
            memset(out, 0, n * sizeof *out);
        uint64_t sum = 0;
        weft_map_iter *it = NULL;
        int rc = WEFT_OK;
        uint64_t t0 = bench_now_ns();
        if (eager) {
            size_t failed = 0;
            rc = weft_map(pool, elem_fn, NULL, in, sizeof *in, out, sizeof *out, n, NULL, &failed);
            for (size_t i = 0; rc == WEFT_OK && i < n; i++)
                sum += out[i];
        } else if (input) {
            rc = weft_map_iter_begin_input(&it, pool, elem_fn, NULL, input_fn, &n, sizeof(uint64_t),
                                           sizeof(uint64_t), &io);
        } else {
            rc = weft_map_iter_begin(&it, pool, elem_fn, NULL, in, sizeof *in, n, sizeof(uint64_t),
                                     &io);
        }
        if (rc != WEFT_OK)
            bench_fail("%s: %s", sys, weft_strerror(rc));
        if (it != NULL)
            sum = drain(it, runs);
        uint64_t ns = bench_now_ns() - t0;
        if (sum != want)
            bench_fail("mapiter: sum %016" PRIx64 ", expected %016" PRIx64, sum, want);
        bench_report("mapiter", sys, o.workers, rep, ns, "n=%zu window=%zu", n,
                     eager ? (size_t)0 : window);
    }
    bench_weft_destroy(pool);
    free(in);
    free(out);
    return 0;
}
