// map with oneTBB: parallel_for over a blocked_range (auto partitioner).
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include "bench.h"
#include "map.h"

static void run(map_data *d, void *)
{
    uint64_t *in = d->in, *out = d->out;
    tbb::parallel_for(tbb::blocked_range<size_t>(0, d->n), [in, out](const tbb::blocked_range<size_t> &r) {
        for (size_t i = r.begin(); i != r.end(); i++)
            out[i] = map_fn(in[i]);
    });
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    map_data d = map_setup(argc, argv);
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    tbb::parallel_for(0, 1000, [](int) {}); // warm-up: starts the workers
    map_reps(&d, "tbb", o.workers, o.reps, run, nullptr, "");
    map_free(&d);
    return 0;
}
