/* roundtrip floor: no pool, just the hand-off any pool with sleeping workers
 * must make. A thread sleeps in FUTEX_WAIT for the idle period; main stores
 * the word, calls FUTEX_WAKE and polls until the woken thread answers.
 * Nothing is queued, allocated or run: the median is what this machine
 * charges for waking a thread that has slept, the lower bound for every
 * pool's round trip here. --workers is accepted and ignored. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "roundtrip.h"

static inline void floor_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static _Atomic uint32_t word; /* 1: a request is pending */
static _Atomic uint32_t answer;

static void *sleeper(void *unused)
{
    (void)unused;
    for (;;) {
        /* acquire: pairs with main's release store of the request. */
        while (atomic_load_explicit(&word, memory_order_acquire) == 0)
            syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        atomic_store_explicit(&word, 0, memory_order_relaxed);
        /* release: main's acquire poll sees the answer. */
        atomic_store_explicit(&answer, ROUNDTRIP_MAGIC, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    roundtrip_opts o = roundtrip_parse(argc, argv);
    pthread_t t;
    if (pthread_create(&t, NULL, sleeper, NULL) != 0)
        bench_fail("pthread_create failed");
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t idle_ns, idle_cpu = roundtrip_idle(&o, &idle_ns);
        atomic_store_explicit(&answer, 0, memory_order_relaxed);
        uint64_t t0 = bench_now_ns();
        /* release: the sleeper's acquire load sees the request. */
        atomic_store_explicit(&word, 1, memory_order_release);
        syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        /* acquire: pairs with the sleeper's release store. A few pauses,
         * then yields, so a sleeper woken onto our CPU still gets to run
         * (as weft's waiter does). */
        for (unsigned spins = 0;
             atomic_load_explicit(&answer, memory_order_acquire) != ROUNDTRIP_MAGIC; spins++) {
            if (spins < 64)
                floor_pause();
            else
                sched_yield();
        }
        roundtrip_report("floor", &o, rep, bench_now_ns() - t0, idle_ns, idle_cpu);
    }
    return 0; /* the sleeper dies with the process */
}
