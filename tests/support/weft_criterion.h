/* Criterion helpers shared by the unit tests (tests/<unit>_test.c). They assert,
 * so call them from the test's own thread only. Not for the stress tests,
 * which do not link Criterion (use weft_test.h there). */
#ifndef WEFT_CRITERION_H
#define WEFT_CRITERION_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "weft.h"
#include "weft_test.h"

/* A pool of the given number of workers, other options at their defaults. */
static inline weft_pool *wtc_pool_new(unsigned workers)
{
    weft_pool *p = NULL;
    cr_assert_eq(wt_pool_new(&p, workers), WEFT_OK, "pool of %u workers", workers);
    return p;
}

static inline void wtc_pool_drop(weft_pool *p)
{
    cr_assert_eq(weft_pool_destroy(p), WEFT_OK);
}

/* Submit fn(arg) and wait for it from the test thread. Returns its status;
 * *value (may be NULL) receives its result on success. */
static inline int wtc_run_task(weft_pool *p, weft_fn fn, void *arg, void **value)
{
    weft_future *f = NULL;
    cr_assert_eq(weft_submit(p, fn, arg, NULL, &f), WEFT_OK);
    int rc = weft_future_result(f, WEFT_FOREVER, value);
    weft_future_release(f);
    return rc;
}

/* Wait until p's workers (at most 8) sleep: each has parked at least once
 * and none has run, stolen, tried to steal or parked for a while. */
static inline void wtc_await_all_parked(weft_pool *p)
{
    unsigned n = weft_pool_size(p);
    weft_worker_stats a[8], b[8];
    cr_assert_leq(n, 8u);
    int64_t until = wt_now_ns() + 5 * 1000000000ll;
    for (;;) {
        cr_assert_eq(weft_pool_stats(p, a, n), (int)n);
        wt_sleep_us(3000);
        cr_assert_eq(weft_pool_stats(p, b, n), (int)n);
        bool quiet = memcmp(a, b, n * sizeof(a[0])) == 0;
        for (unsigned i = 0; i < n; i++)
            quiet = quiet && b[i].parks > 0;
        if (quiet)
            return;
        cr_assert_lt(wt_now_ns(), until, "workers never parked");
    }
}

/* rc is WEFT_ETASK, and the work behind it failed with `status`. */
#define wtc_assert_task_failed(rc, status)                        \
    do {                                                          \
        int wtc_rc_ = (rc);                                       \
        cr_assert_eq(wtc_rc_, WEFT_ETASK, "rc %d", wtc_rc_);      \
        cr_assert_eq(weft_task_status(), (status), "task status"); \
    } while (0)

#endif /* WEFT_CRITERION_H */
