// UTS with oneTBB: one task_group::run per child, then wait.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include "bench.h"
#include "uts.h"

static uts_result visit(const uts_params *p, uts_node nd)
{
    uts_result r = {1, uts_work(nd.id)};
    unsigned k = uts_num_children(p, &nd);
    if (k == 0)
        return r;
    uts_result frame[UTS_FRAME_KIDS];
    uts_result *kids = static_cast<uts_result *>(uts_kids_alloc(k, frame, sizeof *kids));
    tbb::task_group g;
    for (unsigned i = 0; i < k; i++) {
        uts_node c = uts_child(&nd, i);
        uts_result *slot = &kids[i];
        g.run([p, c, slot] { *slot = visit(p, c); });
    }
    g.wait();
    for (unsigned i = 0; i < k; i++)
        uts_add(&r, kids[i]);
    uts_kids_free(kids, frame);
    return r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    const uts_params *p = uts_parse(argc, argv);
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    // The deep tree nests ~1600 task_group frames: give workers room.
    tbb::global_control st(tbb::global_control::thread_stack_size, 64u << 20);
    uts_check(&uts_trees[3], visit(&uts_trees[3], uts_root(&uts_trees[3]))); // warm-up
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uts_result r = visit(p, uts_root(p));
        uint64_t ns = bench_now_ns() - t0;
        uts_check(p, r);
        bench_report(p->geometric ? "uts-wide" : "uts-deep", "tbb", o.workers, rep, ns, UTS_EXTRA,
                     p->name, r.nodes, r.nodes - 1);
    }
    return 0;
}
