// roundtrip with oneTBB: task_arena::enqueue from main into an arena with no
// slot reserved for it, so a worker runs the task; the value comes back
// through a std::promise. global_control allows `workers` worker threads
// beside main, and the arena admits exactly that many.
#include <future>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "bench.h"
#include "roundtrip.h"

static void once(tbb::task_arena &arena)
{
    std::promise<int> p;
    std::future<int> f = p.get_future();
    arena.enqueue([&p] { p.set_value(ROUNDTRIP_MAGIC); });
    if (f.get() != ROUNDTRIP_MAGIC)
        bench_fail("roundtrip: wrong result");
}

int main(int argc, char **argv)
{
    roundtrip_opts o = roundtrip_parse(argc, argv);
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers + 1);
    tbb::task_arena arena(static_cast<int>(o.workers), 0);
    once(arena); // warm-up: starts the workers
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t idle_ns, idle_cpu = roundtrip_idle(&o, &idle_ns);
        uint64_t t0 = bench_now_ns();
        once(arena);
        roundtrip_report("tbb", &o, rep, bench_now_ns() - t0, idle_ns, idle_cpu);
    }
    return 0;
}
