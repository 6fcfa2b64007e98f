// The lazy map with oneTBB: parallel_pipeline, a serial in-order input
// filter making chunks of items, a parallel filter mapping them, and a
// serial in-order filter summing; max tokens = window / chunk bounds the
// items in flight as the window does.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_pipeline.h>

#include <vector>

#include "lazymap.h"

static const size_t CHUNK = 1024;

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", LAZYMAP_DEFAULT_N);
    size_t window = (size_t)bench_arg_ll(argc, argv, "--window", LAZYMAP_DEFAULT_WINDOW);
    uint64_t want = lazymap_expected(n);
    size_t chunk = window / (4 * o.workers) < CHUNK ? window / (4 * o.workers) : CHUNK;
    if (chunk == 0)
        chunk = 1;
    size_t tokens = window / chunk;
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    tbb::parallel_for(0, 1000, [](int) {}); // warm-up: starts the workers
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = 0;
        size_t next = 0;
        tbb::parallel_pipeline(
            tokens,
            tbb::make_filter<void, std::vector<uint64_t> *>(
                tbb::filter_mode::serial_in_order,
                [&](tbb::flow_control &fc) -> std::vector<uint64_t> * {
                    if (next >= n) {
                        fc.stop();
                        return nullptr;
                    }
                    size_t k = n - next < chunk ? n - next : chunk;
                    auto *v = new std::vector<uint64_t>(k);
                    for (size_t j = 0; j < k; j++)
                        (*v)[j] = lazymap_item(next + j);
                    next += k;
                    return v;
                }) &
                tbb::make_filter<std::vector<uint64_t> *, std::vector<uint64_t> *>(
                    tbb::filter_mode::parallel,
                    [](std::vector<uint64_t> *v) {
                        for (auto &x : *v)
                            x = lazymap_fn(x);
                        return v;
                    }) &
                tbb::make_filter<std::vector<uint64_t> *, void>(
                    tbb::filter_mode::serial_in_order, [&](std::vector<uint64_t> *v) {
                        for (uint64_t x : *v)
                            sum += x;
                        delete v;
                    }));
        uint64_t ns = bench_now_ns() - t0;
        lazymap_check(n, sum, want);
        bench_report("lazymap", "tbb", o.workers, rep, ns, "n=%zu window=%zu", n, window);
    }
    return 0;
}
