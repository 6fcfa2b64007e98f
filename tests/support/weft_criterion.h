/* Criterion helpers shared by the unit tests (tests/<unit>_test.c). They assert,
 * so call them from the test's own thread only. Not for the stress tests,
 * which do not link Criterion (use weft_test.h there). */
#ifndef WEFT_CRITERION_H
#define WEFT_CRITERION_H

#include <criterion/criterion.h>

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

#endif /* WEFT_CRITERION_H */
