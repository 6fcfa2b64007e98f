/* Shared helpers for the benchmark programs: arguments, timing, the integer
 * work kernel and the one-line-per-repetition report.
 *
 * Every program is `<kernel>_<system>` and takes
 *   --workers N   threads that execute tasks (default 2)
 *   --reps R      timed repetitions (default 3)
 *   --n N         problem size (kernel-specific default)
 * plus kernel-specific options. It checks its own result and prints one line
 * per repetition:
 *   bench=fib system=weft workers=2 rep=0 ns=123456 ok=1 n=37 ...
 * A wrong result prints "error: ..." on stderr and exits with status 1.
 *
 * Header-only and valid as both C11 and C++ (the oneTBB programs include it). */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Iterations of splitmix64 that make about 100 ns of dependent integer work
 * on the 2.6 GHz EPYC development VM (measured: ~3.3 ns per iteration). */
#define BENCH_WORK_ITERS 30

static inline uint64_t bench_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* `iters` dependent rounds of splitmix64: the unit of "tiny task" work. */
static inline uint64_t bench_work(uint64_t x, unsigned iters)
{
    for (unsigned i = 0; i < iters; i++)
        x = bench_splitmix64(x);
    return x;
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* User plus system CPU time of the whole process, in nanoseconds. */
static inline uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static inline void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Print "error: <msg>" on stderr and exit with status 1. */
static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The value after `--name`, or NULL when absent. */
static inline const char *bench_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static inline long long bench_arg_ll(int argc, char **argv, const char *name, long long dflt)
{
    const char *s = bench_arg(argc, argv, name);
    if (s == NULL)
        return dflt;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < 0)
        bench_fail("%s expects a non-negative integer, got '%s'", name, s);
    return v;
}

static inline const char *bench_arg_str(int argc, char **argv, const char *name,
                                        const char *dflt)
{
    const char *s = bench_arg(argc, argv, name);
    return s != NULL ? s : dflt;
}

/* The options every program takes. */
typedef struct bench_opts {
    unsigned workers;
    unsigned reps;
} bench_opts;

static inline bench_opts bench_parse(int argc, char **argv)
{
    bench_opts o;
    o.workers = (unsigned)bench_arg_ll(argc, argv, "--workers", 2);
    o.reps = (unsigned)bench_arg_ll(argc, argv, "--reps", 3);
    if (o.workers == 0 || o.workers > 256)
        bench_fail("--workers must be in 1..256");
    return o;
}

/* Peak resident set of this process in KiB (VmHWM), or 0 if unknown. The
 * harness cannot use wait4()'s ru_maxrss: Linux carries the parent's
 * high-water mark across fork and exec, so every child would report at least
 * the (Python) harness's own size. */
static inline long bench_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    long kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* One report line: the fixed fields, then `extra` ("key=value ..." or NULL),
 * then hwm_kb (the peak RSS so far). */
static inline void bench_report(const char *bench, const char *system, unsigned workers,
                                unsigned rep, uint64_t ns, const char *extra_fmt, ...)
{
    printf("bench=%s system=%s workers=%u rep=%u ns=%" PRIu64 " ok=1", bench, system, workers,
           rep, ns);
    if (extra_fmt != NULL) {
        va_list ap;
        va_start(ap, extra_fmt);
        putchar(' ');
        vprintf(extra_fmt, ap);
        va_end(ap);
    }
    printf(" hwm_kb=%ld\n", bench_hwm_kb());
    fflush(stdout);
}

#endif /* WEFT_BENCH_H */
