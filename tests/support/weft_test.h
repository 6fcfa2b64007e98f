/* Helpers shared by the unit tests (tests/<unit>_test.c) and the stress tests
 * (tests/stress/<unit>_stress.c): time, sleeps, polling with a deadline, seeded
 * random numbers, sanitizer detection and the stress tests' watchdog and
 * environment knobs. Header-only and free of Criterion, so the stress tests
 * (plain executables) can use it too; the Criterion helpers live in
 * weft_criterion.h. */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

/* ---- sanitizers -------------------------------------------------------------- */

/* WT_ASAN / WT_TSAN: defined when built with AddressSanitizer or
 * ThreadSanitizer (GCC and Clang spellings). */
#if defined(__SANITIZE_ADDRESS__)
#define WT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WT_TSAN 1
#endif
#endif

/* ---- time ---------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t wt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep ns nanoseconds (nanosleep, resumed after signals). */
static inline void wt_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Sleep us microseconds (nanosleep, resumed after signals). */
static inline void wt_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Busy-wait ns nanoseconds on the monotonic clock. */
static inline void wt_spin_ns(int64_t ns)
{
    int64_t end = wt_now_ns() + ns;
    while (wt_now_ns() < end) {
    }
}

/* Busy work the optimizer cannot drop (an LCG over a volatile). */
static inline uint64_t wt_spin_work(uint64_t x, unsigned iters)
{
    volatile uint64_t v = x;
    for (unsigned i = 0; i < iters; i++)
        v = v * 6364136223846793005ull + 1442695040888963407ull;
    return v;
}

/* ---- polling with a deadline ------------------------------------------------------ */

/* Poll (sleeping poll_us between reads, so the caller does not help) until
 * *v >= want or timeout_ns has passed. Returns the last value read. */
static inline int wt_await_at_least(atomic_int *v, int want, int64_t timeout_ns, long poll_us)
{
    int64_t end = wt_now_ns() + timeout_ns;
    int x;
    while ((x = atomic_load(v)) < want && wt_now_ns() < end)
        wt_sleep_us(poll_us);
    return x;
}

/* Poll (sleeping poll_us between reads) until *flag is nonzero or timeout_ns
 * has passed: how gate tasks hold their worker without helping. */
static inline void wt_await_set(atomic_int *flag, int64_t timeout_ns, long poll_us)
{
    int64_t end = wt_now_ns() + timeout_ns;
    while (!atomic_load(flag) && wt_now_ns() < end)
        wt_sleep_us(poll_us);
}

/* ---- random numbers ------------------------------------------------------------- */

/* xorshift64 (13, 7, 17): the next state, stored in *s (must not be 0). */
static inline uint64_t wt_xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A number in [0, n) from wt_xorshift64 (n > 0). */
static inline unsigned wt_rnd(uint64_t *s, unsigned n)
{
    return (unsigned)(wt_xorshift64(s) % n);
}

/* ---- stress-test plumbing ---------------------------------------------------------- */

/* SIGALRM handler: report the hang as a failed run and exit(1). */
static inline void wt_on_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: watchdog: no completion within the time limit\n"
                              "0 passed, 1 failed\n";
    ssize_t r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
    (void)r;
    _exit(1);
}

/* The iteration count: argv[1], else WEFT_STRESS_ITERS, else dflt (strtoul,
 * no validation). */
static inline unsigned wt_stress_iters(int argc, char **argv, unsigned dflt)
{
    const char *e = getenv("WEFT_STRESS_ITERS");
    if (argc > 1)
        return (unsigned)strtoul(argv[1], NULL, 0);
    if (e && *e)
        return (unsigned)strtoul(e, NULL, 0);
    return dflt;
}

/* The time budget in seconds: WEFT_STRESS_SECONDS, else dflt. */
static inline long wt_stress_seconds(long dflt)
{
    const char *e = getenv("WEFT_STRESS_SECONDS");
    return e && *e ? strtol(e, NULL, 0) : dflt;
}

/* A pool of `workers` workers, other options at their defaults. Returns
 * weft_pool_create's status; *out is the pool on WEFT_OK. */
static inline int wt_pool_new(weft_pool **out, unsigned workers)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = workers;
    return weft_pool_create(out, &o);
}

/* The seed: WEFT_STRESS_SEED, else the clock and the pid; never 0. */
static inline uint64_t wt_stress_seed(void)
{
    const char *e = getenv("WEFT_STRESS_SEED");
    uint64_t seed = e && *e ? strtoull(e, NULL, 0) : (uint64_t)wt_now_ns() ^ (uint64_t)getpid() << 32;
    return seed != 0 ? seed : 1;
}

/* Count a failure in *failures (relaxed: the caller reads it after joining
 * every thread) and print "FAIL: <message>" to stderr, for the first
 * max_reports failures only. */
static inline void wt_vfail(_Atomic uint64_t *failures, uint64_t max_reports, const char *fmt,
                            va_list ap)
{
    uint64_t n = atomic_fetch_add_explicit(failures, 1, memory_order_relaxed);
    if (n >= max_reports)
        return;
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* Check counters of a stress test that ends with "N passed, M failed". */
struct wt_checks {
    atomic_ulong passed;
    atomic_ulong failed;
    atomic_int reports; /* failures formatted so far */
};

/* Count a failed check and, for the first max_reports ones, format its
 * message into buf. Returns whether it should be reported. */
static inline bool wt_check_failed(struct wt_checks *c, int max_reports, char *buf, size_t size,
                                   const char *fmt, va_list ap)
{
    atomic_fetch_add(&c->failed, 1);
    if (atomic_fetch_add(&c->reports, 1) >= max_reports)
        return false;
    vsnprintf(buf, size, fmt, ap);
    return true;
}

/* Count cond as a passed check, or call fail(...) (which must count it
 * as failed, e.g. with wt_check_failed). */
#define WT_CHECK(checks, fail, cond, ...)               \
    do {                                                \
        if (cond)                                       \
            atomic_fetch_add(&(checks)->passed, 1);     \
        else                                            \
            fail(__VA_ARGS__);                          \
    } while (0)

/* Print the "N passed, M failed" line. Returns the number failed. */
static inline unsigned long wt_checks_summary(struct wt_checks *c)
{
    unsigned long p = atomic_load(&c->passed), f = atomic_load(&c->failed);
    printf("%lu passed, %lu failed\n", p, f);
    return f;
}

#endif /* WEFT_TEST_H */
