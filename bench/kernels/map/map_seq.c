/* map, the sequential twin. */
#include "bench.h"
#include "map.h"

__attribute__((noipa)) static void run(map_data *d, void *unused)
{
    (void)unused;
    const uint64_t *in = d->in;
    uint64_t *out = d->out;
    for (size_t i = 0, n = d->n; i < n; i++)
        out[i] = map_fn(in[i]);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    map_data d = map_setup(argc, argv);
    map_reps(&d, "serial", 1, o.reps, run, NULL, "");
    map_free(&d);
    return 0;
}
