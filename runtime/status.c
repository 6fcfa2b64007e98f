/* Status codes: names for weft_strerror, the task status behind
 * WEFT_ETASK, and the internal invariant abort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "weft.h"

#define WEFT_STATUS_MAP(XX)                                                   \
    XX(WEFT_OK, "success")                                                    \
    XX(WEFT_EINVAL, "invalid argument")                                       \
    XX(WEFT_ENOMEM, "out of memory")                                          \
    XX(WEFT_ETIMEDOUT, "timed out")                                           \
    XX(WEFT_ECANCELED, "cancelled")                                           \
    XX(WEFT_ESHUTDOWN, "pool is shut down")                                   \
    XX(WEFT_EDEADLK, "would deadlock: called from one of the pool's workers") \
    XX(WEFT_EALREADY, "future already completed")                             \
    XX(WEFT_EBROKEN, "pool broken: initializer failed, or fork()")            \
    XX(WEFT_EPERM, "not allowed in this context")                             \
    XX(WEFT_EOF, "no more items")                                             \
    XX(WEFT_EAGAIN, "resource temporarily unavailable")                       \
    XX(WEFT_ETASK, "the task failed: weft_task_status() gives its status")

const char *weft_strerror(int status)
{
#define XX(code, text) \
    if (status == (code)) \
        return text;
    WEFT_STATUS_MAP(XX)
#undef XX
    return "unknown error";
}

/* The status behind the last WEFT_ETASK returned to this thread. Written
 * only by its own thread, and only on failure paths: the default TLS model,
 * so it takes nothing from the static TLS reserve dlopen() draws on. */
static _Thread_local int task_status;

int weft_task_status(void)
{
    return task_status;
}

int weft__task_failed(int status)
{
    task_status = status;
    return WEFT_ETASK;
}

int weft__task_status_of(int rc)
{
    return rc == WEFT_ETASK && task_status != 0 ? task_status : rc;
}

void weft__die(const char *file, int line, const char *msg)
{
    fprintf(stderr, "weft: internal invariant broken at %s:%d: %s\n", file, line, msg);
    abort();
}
