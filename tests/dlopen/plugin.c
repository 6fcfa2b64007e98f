/* A plugin that uses weft (spawn/sync and a future) and is then unloaded:
 * loaded by tests/dlopen/host.c. */
#include <stdint.h>

#include <weft.h>

static int fib(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_group g;
    void *c = NULL;
    void *b = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, fib, (void *)(n - 1), &c);
    int rb = fib(ctx, (void *)(n - 2), &b);
    int rs = weft_sync(&g);
    *result = (void *)((uintptr_t)c + (uintptr_t)b);
    return rc != WEFT_OK ? rc : rb != 0 ? rb : rs;
}

__attribute__((visibility("default"))) long plugin_fib(unsigned n)
{
    weft_pool *p;
    if (weft_pool_create(&p, NULL) != WEFT_OK)
        return -1;
    weft_future *f = NULL;
    void *v = NULL;
    int rc = weft_submit(p, fib, (void *)(uintptr_t)n, NULL, &f);
    if (rc == WEFT_OK)
        rc = weft_future_result(f, WEFT_FOREVER, &v);
    weft_future_release(f);
    if (weft_pool_destroy(p) != WEFT_OK || rc != WEFT_OK)
        return -1;
    return (long)(uintptr_t)v;
}
