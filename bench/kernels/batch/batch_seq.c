/* batch, the sequential twin: the same work in a loop, stored and summed. */
#include "bench.h"
#include "batch.h"

__attribute__((noipa)) static uint64_t run(uint64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = batch_task(i);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += out[i];
    return sum;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = batch_parse_n(argc, argv);
    uint64_t want = batch_expected(n);
    uint64_t *out = calloc(n, sizeof *out);
    if (out == NULL)
        bench_fail("out of memory");
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(out, n);
        uint64_t ns = bench_now_ns() - t0;
        batch_check(n, sum, want);
        bench_report("batch", "serial", 1, rep, ns, "tasks=%zu", n);
    }
    free(out);
    return 0;
}
