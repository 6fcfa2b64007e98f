/* Futures map over 1 M items: weft_map (concurrent.futures Executor.map) with
 * --chunk 1 (one task per item, system "weft-chunk1") or --chunk 0 (automatic
 * chunking, "weft-auto"). out[i] = splitmix64(in[i]); checked item by item. */
#include "bench_weft.h"

static int elem_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    *(uint64_t *)out = bench_splitmix64(*(const uint64_t *)in);
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", 1000000);
    size_t chunk = (size_t)bench_arg_ll(argc, argv, "--chunk", 0);
    uint64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    if (in == NULL || out == NULL)
        bench_fail("out of memory");
    for (size_t i = 0; i < n; i++)
        in[i] = i;
    weft_map_options mo;
    weft_map_options_init(&mo);
    mo.chunk = chunk;
    weft_pool *pool = bench_weft_pool(o.workers);
    const char *sys = chunk == 0 ? "weft-auto" : (chunk == 1 ? "weft-chunk1" : "weft-chunkN");
    for (unsigned rep = 0; rep < o.reps; rep++) {
        memset(out, 0, n * sizeof *out);
        size_t failed = 0;
        uint64_t t0 = bench_now_ns();
        int rc = weft_map(pool, elem_fn, NULL, in, sizeof *in, out, sizeof *out, n, &mo, &failed);
        uint64_t ns = bench_now_ns() - t0;
        if (rc != WEFT_OK)
            bench_fail("weft_map: %s (item %zu)", weft_strerror(rc), failed);
        for (size_t i = 0; i < n; i++)
            if (out[i] != bench_splitmix64(in[i]))
                bench_fail("futmap: out[%zu] is wrong", i);
        bench_report("futmap", sys, o.workers, rep, ns, "items=%zu chunk=%zu", n, chunk);
    }
    bench_weft_destroy(pool);
    free(in);
    free(out);
    return 0;
}
