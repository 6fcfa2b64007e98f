/* Installed-package consumer: uses only <weft.h> and the installed library.
 * Built by tests/install/check_install.cmake through find_package(weft) and
 * through pkg-config. Exits 0 when a submitted task's result comes back and
 * fork/join through weft.h's inline spawn/sync/sync_take (which reach into
 * the library for its thread-local spawn stack) computes fib(20). */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#define ANSWER 42

static int answer(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = (void *)((uintptr_t)arg + ANSWER);
    return 0;
}

static int fib(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_group g;
    void *b = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, fib, (void *)(n - 1), NULL);
    int rb = fib(ctx, (void *)(n - 2), &b);
    void *a = NULL;
    int rs = weft_sync_take(&g, &a);
    if (rs > 0) /* not stolen: run it here */
        rs = fib(ctx, (void *)(n - 1), &a);
    /* else synced: a is the child's result */
    *result = (void *)((uintptr_t)a + (uintptr_t)b);
    return rc != WEFT_OK ? rc : rb != 0 ? rb : rs;
}

int main(void)
{
    weft_pool *pool;
    int rc = weft_pool_create(&pool, NULL);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_pool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_future *f = NULL;
    void *value = NULL;
    rc = weft_submit(pool, answer, (void *)(uintptr_t)1, NULL, &f);
    if (rc == WEFT_OK)
        rc = weft_future_result(f, WEFT_FOREVER, &value);
    weft_future_release(f);
    void *fib20 = NULL;
    if (rc == WEFT_OK && (rc = weft_submit(pool, fib, (void *)(uintptr_t)20, NULL, &f)) == WEFT_OK) {
        rc = weft_future_result(f, WEFT_FOREVER, &fib20);
        weft_future_release(f);
    }
    if (rc == WEFT_OK && (uintptr_t)fib20 != 6765) {
        fprintf(stderr, "fib(20) = %ju, want 6765\n", (uintmax_t)(uintptr_t)fib20);
        return 1;
    }
    int drc = weft_pool_destroy(pool);
    if (rc != WEFT_OK || drc != WEFT_OK) {
        fprintf(stderr, "submit/result: %s, destroy: %s\n", weft_strerror(rc),
                weft_strerror(drc));
        return 1;
    }
    if ((uintptr_t)value != ANSWER + 1) {
        fprintf(stderr, "result %ju, want %d\n", (uintmax_t)(uintptr_t)value, ANSWER + 1);
        return 1;
    }
    printf("consumer: weft %d.%d.%d returned %ju\n", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
           WEFT_VERSION_PATCH, (uintmax_t)(uintptr_t)value);
    return 0;
}
