/* map with weft: weft_parallel_for with a loop body (system "weft"), or
 * weft_parallel_map with a per-item function (--variant pmap, "weft-pmap").
 * --grain G sets the grain (default 0: automatic). */
#include "bench_weft.h"
#include "map.h"

static int range_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    const map_data *d = ud;
    const uint64_t *in = d->in;
    uint64_t *out = d->out;
    for (size_t i = lo; i < hi; i++)
        out[i] = map_fn(in[i]);
    return 0;
}

static int elem_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    *(uint64_t *)out = map_fn(*(const uint64_t *)in);
    return 0;
}

struct map_weft {
    weft_pool *pool;
    bool pmap;   /* weft_parallel_map instead of weft_parallel_for */
    size_t grain;
};

static void run(map_data *d, void *arg)
{
    const struct map_weft *m = arg;
    int rc = m->pmap ? weft_parallel_map(m->pool, elem_fn, NULL, d->in, sizeof(uint64_t),
                                         d->out, sizeof(uint64_t), d->n, m->grain)
                     : weft_parallel_for(m->pool, range_body, d, 0, d->n, m->grain);
    if (rc != WEFT_OK)
        bench_fail("%s: %s", m->pmap ? "weft_parallel_map" : "weft_parallel_for",
                   weft_strerror(rc));
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    bool pmap = strcmp(bench_arg_str(argc, argv, "--variant", "for"), "pmap") == 0;
    size_t grain = (size_t)bench_arg_ll(argc, argv, "--grain", 0);
    map_data d = map_setup(argc, argv);
    weft_pool *pool = bench_weft_pool(o.workers);
    struct map_weft m = {.pool = pool, .pmap = pmap, .grain = grain};
    char extra[48];
    snprintf(extra, sizeof(extra), " grain=%zu", grain);
    map_reps(&d, pmap ? "weft-pmap" : "weft", o.workers, o.reps, run, &m, extra);
    bench_weft_destroy(pool);
    map_free(&d);
    return 0;
}
