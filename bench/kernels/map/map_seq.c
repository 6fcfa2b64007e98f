/* map, the sequential twin. */
#include "bench.h"
#include "map.h"

__attribute__((noipa)) static void run(map_data *d)
{
    const uint64_t *in = d->in;
    uint64_t *out = d->out;
    for (size_t i = 0, n = d->n; i < n; i++)
        out[i] = map_fn(in[i]);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    map_data d = map_setup(argc, argv);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        map_clear(&d);
        uint64_t t0 = bench_now_ns();
        run(&d);
        uint64_t ns = bench_now_ns() - t0;
        map_check(&d);
        bench_report("map", "serial", 1, rep, ns, "n=%zu", d.n);
    }
    map_free(&d);
    return 0;
}
