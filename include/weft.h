/* weft: a lock-free work-stealing thread pool with futures, in C11.
 *
 * Conventions used by every declaration below:
 *  - Functions that can fail return int: WEFT_OK (0) or a negative errno value
 *    (WEFT_EINVAL, WEFT_ENOMEM, ...). weft_strerror() names them.
 *  - Tasks, spawned children, loop bodies and map items return their own
 *    status (0 for success). A library call never returns such a status as
 *    its own: when the work it ran or waited for failed, it returns
 *    WEFT_ETASK, and weft_task_status() then gives the work's status (for a
 *    future also weft_future_task_status()), so a task returning -1 cannot
 *    pass for WEFT_EPERM. A task that returns WEFT_ETASK passes on the
 *    status behind it: `return weft_sync(&g);` hands the failing child's own
 *    status up a tree of tasks unchanged.
 *  - Out-parameters are written only on success.
 *  - Argument order: the object acted on (pool, future, group, ctx) first;
 *    then the function to run and its user data; then what it runs over (a
 *    range, or arrays with their strides and count); then tuning (grain,
 *    options, timeout); out-parameters last. Constructors (_create, _begin)
 *    take the object they make first, as pthread_create does.
 *  - Timeouts are relative nanoseconds: negative waits forever (WEFT_FOREVER),
 *    0 polls without blocking, and a huge one (up to INT64_MAX) never ends
 *    early: when now + timeout does not fit a time_t it waits forever.
 *    Deadlines are absolute CLOCK_MONOTONIC times. A tv_nsec outside
 *    [0, 999999999] is WEFT_EINVAL. A deadline at or before now (a negative
 *    tv_sec included) polls like timeout 0: WEFT_OK if already done, else
 *    WEFT_ETIMEDOUT, without sleeping.
 *  - "On a worker: helps" means that a wait made from inside a task running
 *    on a weft worker runs, instead of blocking the thread, only work the
 *    awaited work depends on: first the awaited task itself if it has not
 *    started; for weft_sync, the group's children (and what they spawn);
 *    and, when the child or future awaited (in a wait on several futures,
 *    the first one still pending) runs on another worker, the spawned
 *    children queued by that worker (leapfrogging). It never runs a
 *    submitted task it finds queued (a sibling may wait for what the waiter
 *    does after its wait), nor anything past half the worker's stack.
 *    Only waits that have no deadline and need everything they wait for
 *    help: weft_sync, an untimed wait on one future (weft_future_wait,
 *    weft_future_result, weft_wait on one future), an untimed
 *    WEFT_ALL_COMPLETED, as_completed without a timeout (it awaits every
 *    future; one that completes while the caller runs another's task is
 *    yielded once that task returns), weft_map without a timeout. Timed
 *    waits, including every wait after a timed as_completed or map's
 *    deadline, WEFT_FIRST_COMPLETED and WEFT_FIRST_EXCEPTION run no task,
 *    so they return at their condition or within their deadline's usual
 *    slack.
 *    A thread that is no worker of the pool helps too, in these same
 *    untimed waits on futures of a pool: when a future it awaits has not
 *    started and a worker of that pool is parked, it takes that worker's
 *    place (as weft_parallel_for's caller does) and runs the awaited task,
 *    and what that task depends on, as that worker would; once nothing is
 *    left to run it gives the place back and blocks. So submitting work
 *    and collecting it keeps as many threads busy as the pool has workers.
 *    When every worker is busy it just blocks: they reach the work. Inside
 *    the task it runs, weft_worker_index() and weft_ctx_pool() are the
 *    borrowed worker's, and the pool's worker hooks do not run. A thread
 *    that helped this way stays registered with liburcu until it exits.
 *    When a worker has nothing it may run, it blocks, and once it has been
 *    blocked for 50 us without running a task, a spare thread takes its
 *    place until it runs again: the pool keeps `workers` threads running
 *    tasks, as Java's ForkJoinPool compensates for blocked workers. So a
 *    program that completes with one thread per task completes on weft,
 *    as long as at most WEFT_SPARES_MAX of its workers and spares are
 *    blocked in waits at once (deep nesting that helps, such as sync and
 *    untimed waits on futures queued on the waiter's own worker, blocks
 *    nothing). Spares park when no longer needed and use no CPU. When no
 *    spare can be had (all in use, or no memory or thread for one), a
 *    blocked worker runs the awaited task itself rather than hang.
 *    A child that weft_sync runs inline is a frame of its own: a wait in it
 *    never runs its siblings. A child that weft_sync_take hands back is
 *    the caller's own work, like any direct call: a wait in it may run the
 *    group's older children, so it must not wait for one of them. A loop
 *    that polls with timeout 0 on a worker never blocks, so no spare takes
 *    its place: the work it polls for runs only on the pool's other
 *    threads.
 *  - No call is async-signal-safe: none may be made from a signal handler.
 *  - Waits (every call that blocks until work is done or a timeout) are not
 *    cancellation points: a pthread_cancel() of a waiting thread takes
 *    effect at its first cancellation point after the wait returns (code the
 *    call runs on the caller's thread, such as done-callbacks or
 *    weft_parallel_for bodies, may have its own). weft_pool_create,
 *    weft_pool_shutdown and weft_pool_destroy may pass through cancellation
 *    points of the C library and liburcu: a thread that may be cancelled
 *    disables cancellation around them. No call is async-cancel-safe.
 *  - Each reference to a future (from a submit, a promise, weft_future_ref)
 *    is released exactly once. Releasing it again, or using the future
 *    after its last release, is undefined.
 *  - The library never calls exit() or abort() on a caller's mistake. The
 *    exceptions are debug builds (no NDEBUG), which stop the process with a
 *    message when a task returns with unsynced spawned children, whose
 *    records would be in a dead frame, and when a release, ref or wait finds
 *    its future already freed (a double release). The check covers a future
 *    while it is among the last 64 freed by the thread that freed it; misuse
 *    of one freed longer ago goes unnoticed. */
#ifndef WEFT_H
#define WEFT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 4
#define WEFT_VERSION_PATCH 0

/* ---- status codes ------------------------------------------------------- */

#define WEFT_OK 0
#define WEFT_EINVAL (-EINVAL)            /* bad argument: NULL, bad flags */
#define WEFT_ENOMEM (-ENOMEM)            /* allocation failed; nothing was accepted */
#define WEFT_ETIMEDOUT (-ETIMEDOUT)      /* the wait ended before the future was done */
#define WEFT_ECANCELED (-ECANCELED)      /* the future was cancelled */
#define WEFT_ESHUTDOWN (-ESHUTDOWN)      /* the pool is shut down; nothing was accepted */
#define WEFT_EDEADLK (-EDEADLK)          /* a blocking pool call from one of its own workers */
#define WEFT_EALREADY (-EALREADY)        /* a promise completed twice (first value kept) */
#define WEFT_EBROKEN (-ENOTRECOVERABLE)  /* a worker initializer failed, or the pool
                                          * came through fork(): the pool is broken */
#define WEFT_EPERM (-EPERM)              /* call not allowed from this thread or context */
#define WEFT_EOF (-ENODATA)              /* an iterator is exhausted */
#define WEFT_EAGAIN (-EAGAIN)            /* resource temporarily unavailable (threads) */
#define WEFT_ETASK (-10001)              /* the work run or awaited failed: its own
                                          * status is weft_task_status() (outside
                                          * the errno range, so no errno matches) */

#define WEFT_FOREVER ((int64_t)-1)

/* Return a static, human-readable description of a status code. Any thread. */
WEFT_API const char *weft_strerror(int status);

/* The failure status of the work behind the WEFT_ETASK most recently
 * returned to this thread by a weft call (weft_future_result, weft_run,
 * weft_sync, weft_join, weft_map, weft_parallel_*): the nonzero status the
 * task, child, item or body returned, or the promise's set_error status.
 * 0 if no call returned WEFT_ETASK to this thread yet. Read it right after
 * the call: the next WEFT_ETASK on this thread replaces it. Never blocks. */
WEFT_API int weft_task_status(void);

/* ---- types ---------------------------------------------------------------- */

typedef struct weft_pool weft_pool;     /* opaque */
typedef struct weft_future weft_future; /* opaque, reference-counted */
typedef struct weft_ctx weft_ctx;       /* the running task's context; borrowed for the call */

/* A task. Return 0 for success or any nonzero failure status of your own
 * (weft_task_status() gives it back to the waiter; see the conventions).
 * *result starts as NULL; what the task stores there becomes the future's
 * value. */
typedef int (*weft_fn)(weft_ctx *ctx, void *arg, void **result);
typedef void (*weft_dtor)(void *p);
/* A done-callback. f is borrowed for the call; weft_future_ref() keeps it.
 * A nonzero return reports a failed callback: it is counted (see
 * weft_callback_failures()) and ignored; later callbacks still run and the
 * worker survives (unlike a raising callback in Python's executors). */
typedef int (*weft_callback)(weft_future *f, void *ud);

/* ---- pool ------------------------------------------------------------------- */

typedef enum weft_pin {
    WEFT_PIN_NONE = 0, /* default: the OS places the workers */
    WEFT_PIN_COMPACT,  /* worker i on the i-th allowed PU, filling cores in order */
    WEFT_PIN_SCATTER   /* spread over the topology (hwloc_distrib) */
} weft_pin;

/* Per-worker hook. For on_worker_start a nonzero return marks the pool broken
 * (see WEFT_EBROKEN), like Python's failing executor initializer. */
typedef int (*weft_worker_hook)(unsigned worker, void *ud);

/* Most workers a pool can have. */
#define WEFT_MAX_WORKERS 4096u

typedef struct weft_pool_options {
    size_t struct_size;           /* sizeof(weft_pool_options): set by _init */
    unsigned workers;             /* 0 = the CPUs in the process affinity mask
                                   * (at most WEFT_MAX_WORKERS); more than
                                   * WEFT_MAX_WORKERS is WEFT_EINVAL */
    weft_pin pin;                 /* pinning policy (only onto allowed CPUs) */
    unsigned spin_us;             /* idle spin budget before parking (default 50) */
    size_t stack_size;            /* worker stack bytes; 0 = 8 MiB */
    const char *name_prefix;      /* thread names "<prefix><i>"; NULL = "weft-" */
    weft_worker_hook on_worker_start; /* run first on each worker; nonzero = broken */
    weft_worker_hook on_worker_stop;  /* run last on each worker; return ignored */
    void *hook_ud;                /* passed to both hooks */
    uint64_t reserved[8];         /* zero; room to grow without breaking the ABI */
} weft_pool_options;

/* Fill *o with defaults. Any thread. Never fails (NULL is ignored). The
 * environment sets two of them, read once per process at the first call:
 * WEFT_WORKERS=N (1..WEFT_MAX_WORKERS) for workers, WEFT_PIN=none, compact
 * or scatter for pin; a malformed value is reported once on stderr and
 * ignored. weft_pool_create(&p, NULL) uses these defaults too. */
WEFT_API void weft_pool_options_init(weft_pool_options *o);

/* Spare threads a pool may start, at most, to take the place of workers
 * blocked in waits (see "On a worker: helps" above): a pool runs up to
 * workers + WEFT_SPARES_MAX threads, and never more than `workers` of them
 * outside waits for long. */
#define WEFT_SPARES_MAX 256

/* Create a pool and start its workers.
 * Threads:   any thread. Topology is loaded once per process.
 * Ownership: *out is a new pool; weft_pool_destroy() it.
 * fork():    the child of a fork() has none of the workers of the pools
 *            created before it. In the child those pools are broken: submit,
 *            map, the parallel calls, shutdown and destroy return
 *            WEFT_EBROKEN, and a wait that would sleep on one of their
 *            unfinished futures returns WEFT_EBROKEN instead (a poll with
 *            timeout 0 still answers WEFT_ETIMEDOUT). Their memory is not
 *            freed in the child. Futures that were done before the fork
 *            keep their outcome. Pools created in the child work normally.
 *            A task that calls fork() should only exec or _exit in the child.
 * Returns:   WEFT_OK; WEFT_EINVAL (out NULL, bad struct_size or pin, more
 *            than WEFT_MAX_WORKERS workers); WEFT_ENOMEM; WEFT_EAGAIN if
 *            threads could not be started (nothing is left running). */
WEFT_API int weft_pool_create(weft_pool **out, const weft_pool_options *opts);

enum {
    WEFT_SHUTDOWN_WAIT = 1u,   /* block until every accepted task ran or was cancelled */
    WEFT_SHUTDOWN_CANCEL = 2u  /* cancel the submitted tasks that have not started */
};

/* Stop accepting submissions. Idempotent; any thread.
 * Without WAIT it returns at once and the workers finish in the background.
 * With CANCEL, submitted tasks that have not started are cancelled (their
 * futures report WEFT_ECANCELED and their callbacks run); tasks already
 * queued on worker deques are cancelled by the workers as they reach them.
 * Blocking:  with WAIT, until the pool is drained.
 * Returns:   WEFT_OK; WEFT_EINVAL (NULL, unknown flags); WEFT_EDEADLK if WAIT
 *            is asked from one of the pool's own workers, or from a
 *            done-callback that this shutdown is running; WEFT_EBROKEN in
 *            the child of a fork() (see weft_pool_create). */
WEFT_API int weft_pool_shutdown(weft_pool *pool, unsigned flags);

/* Shut down with WAIT, join the workers and free the pool.
 * Futures obtained from the pool stay valid until released. No other thread
 * may use the pool during or after this call.
 * Returns:   WEFT_OK; WEFT_EINVAL (NULL); WEFT_EDEADLK from one of the pool's
 *            own workers (nothing is destroyed); WEFT_EBROKEN in the child of
 *            a fork() (nothing is freed; see weft_pool_create). */
WEFT_API int weft_pool_destroy(weft_pool *pool);

/* Number of workers. 0 for NULL. Any thread. */
WEFT_API unsigned weft_pool_size(const weft_pool *pool);

/* Index of the calling worker thread in its pool, or -1 on other threads. */
WEFT_API int weft_worker_index(void);

typedef struct weft_worker_stats {
    uint64_t tasks_run;     /* tasks executed (submitted, spawned and internal) */
    uint64_t steals;        /* successful steals from other workers' deques */
    uint64_t failed_steals; /* steal attempts that found nothing or lost a race */
    uint64_t parks;         /* times the worker went to sleep on its futex */
} weft_worker_stats;

/* Copy per-worker statistics into out[0..n). Counters are read without
 * stopping the workers, so they are a recent snapshot. The counts of
 * spare thread k (WEFT_SPARES_MAX) are added to worker k mod workers's
 * entry. Any thread.
 * Returns the number of workers (may exceed n), or WEFT_EINVAL. */
WEFT_API int weft_pool_stats(const weft_pool *pool, weft_worker_stats *out, size_t n);

/* ---- submit and futures ----------------------------------------------------- */

/* Submit fn(ctx, arg, &result) to run on the pool.
 * Threads:   any thread. From a worker the task goes to that worker's deque,
 *            otherwise through the lock-free injection queue.
 * Ownership: if arg_dtor is set, arg_dtor(arg) runs exactly once, after the
 *            task ran or when it was cancelled, also when this call fails.
 *            *out (if out is not NULL) is a new reference: release it once.
 *            out == NULL submits detached.
 * Blocking:  never (wakes at most one sleeping worker).
 * Returns:   WEFT_OK; WEFT_EINVAL (pool or fn NULL); WEFT_ESHUTDOWN;
 *            WEFT_EBROKEN; WEFT_ENOMEM. */
WEFT_API int weft_submit(weft_pool *pool, weft_fn fn, void *arg, weft_dtor arg_dtor,
                         weft_future **out);

/* Submit n tasks with one call: future i runs fn(ctx, args[i], &result).
 * The n futures are made as one block (64 bytes each) and enter the pool
 * as one queued task, which runs them in index order and hands halves of
 * what is left to idle workers that ask (as a parallel loop's range is
 * split), so the pool gets no queue push per task. Every future operation
 * works on each of them as on weft_submit's: result with timeout, wait,
 * cancel (one that has not started never runs), request_cancel,
 * done-callbacks, wait sets, as_completed.
 * Threads:   any thread, as weft_submit.
 * Ownership: futures[0..n) (if futures is not NULL) receive one new
 *            reference each: release them one by one (weft_future_release)
 *            or together (weft_futures_release); the block is freed with
 *            the last. futures == NULL submits detached. args is read
 *            during the call only. arg_dtor, if set, runs exactly once per
 *            argument, as for weft_submit (also for all n when this call
 *            fails).
 * Blocking:  never (wakes at most one sleeping worker).
 * Returns:   WEFT_OK (n == 0 makes nothing); WEFT_EINVAL (pool or fn NULL,
 *            args NULL with n > 0, n above UINT32_MAX); WEFT_ESHUTDOWN;
 *            WEFT_EBROKEN; WEFT_ENOMEM. */
WEFT_API int weft_submit_bulk(weft_pool *pool, weft_fn fn, void *const *args, size_t n,
                              weft_dtor arg_dtor, weft_future **futures);

/* weft_submit_bulk over an index range: future i - begin runs
 * fn(ctx, (void *)(uintptr_t)i, &result) for i in [begin, end).
 * Returns as weft_submit_bulk; WEFT_EINVAL also for end < begin. */
WEFT_API int weft_submit_range(weft_pool *pool, weft_fn fn, size_t begin, size_t end,
                               weft_future **futures);

/* Release fs[0..n) (NULL entries are skipped), as weft_future_release on
 * each; consecutive futures of one bulk call give their block's count back
 * together. Any thread. */
WEFT_API void weft_futures_release(weft_future *const *fs, size_t n);

typedef enum weft_state {
    WEFT_PENDING = 0,
    WEFT_RUNNING = 1,
    WEFT_FINISHED = 2,
    WEFT_CANCELLED = 3
} weft_state;

/* State queries. Never block; any thread; NULL gives WEFT_EINVAL / false. */
WEFT_API int weft_future_state(const weft_future *f);
WEFT_API bool weft_future_done(const weft_future *f); /* finished or cancelled */
WEFT_API bool weft_future_running(const weft_future *f);
WEFT_API bool weft_future_cancelled(const weft_future *f);

/* Wait until f is done (finished or cancelled).
 * Blocking:  spins briefly, then futex; helps when untimed, on a worker
 *            and, if a worker of f's pool is parked and f's task has not
 *            started, on any other thread ("On a worker: helps" above). A
 *            timed wait runs no task. A done future costs one load. EINTR
 *            and spurious wake-ups never end it early.
 * Returns:   WEFT_OK when done; WEFT_ETIMEDOUT; WEFT_EINVAL; WEFT_EBROKEN
 *            when f never can be done: its pool came through fork(). */
WEFT_API int weft_future_wait(weft_future *f, int64_t timeout_ns);
WEFT_API int weft_future_wait_until(weft_future *f, const struct timespec *deadline);

/* Wait (as weft_future_wait) and return the outcome.
 * Ownership: *value (may be NULL) receives the task's result, borrowed for as
 *            long as the caller holds a reference.
 * Returns:   WEFT_OK with *value set; WEFT_ETASK when the task failed (its
 *            status: weft_task_status() or weft_future_task_status(f));
 *            WEFT_ETIMEDOUT if not done in time; WEFT_ECANCELED;
 *            WEFT_EBROKEN; WEFT_EINVAL for NULL f. */
WEFT_API int weft_future_result(weft_future *f, int64_t timeout_ns, void **value);

/* The nonzero status f's task returned (or the one given to
 * weft_promise_set_error); 0 while f is not done, when it succeeded or was
 * cancelled, and for NULL. Never blocks; any thread. */
WEFT_API int weft_future_task_status(const weft_future *f);

/* The error object a failed task attached with weft_ctx_set_error() (or a
 * promise with weft_promise_set_error()), borrowed; NULL if none or not done.
 * Never blocks. Python's Future.exception() is weft_future_result + this. */
WEFT_API void *weft_future_error(const weft_future *f);

/* Cancel f if it has not started (Python semantics): a running task is
 * never interrupted. Callbacks run in the calling thread.
 * Returns:   1 if f is cancelled (now or before); 0 if running or finished;
 *            WEFT_EINVAL. */
WEFT_API int weft_future_cancel(weft_future *f);

/* Ask a running task to stop: sets a flag the task can poll with
 * weft_ctx_cancel_requested(). A pending future is cancelled outright.
 * Returns:   WEFT_OK; WEFT_EINVAL. */
WEFT_API int weft_future_request_cancel(weft_future *f);

/* Call cb(f, ud) once when f is done, on the completing (or cancelling)
 * thread, in the order callbacks were added; immediately in the caller when
 * f is already done. Callbacks must not block for long.
 * Returns:   WEFT_OK; WEFT_EINVAL; WEFT_ENOMEM (cb not registered). */
WEFT_API int weft_future_add_done_callback(weft_future *f, weft_callback cb, void *ud);

/* Number of done-callbacks that returned nonzero in this process. */
WEFT_API uint64_t weft_callback_failures(void);

/* Reference counting. ref returns f. Releasing never cancels the task.
 * Any thread; NULL is ignored. Release each reference once: a second
 * release, or a ref or wait after the last one, is undefined (debug builds
 * catch recent ones; see the conventions at the top). */
WEFT_API weft_future *weft_future_ref(weft_future *f);
WEFT_API void weft_future_release(weft_future *f);

/* ---- promises: futures completed by user code ----------------------------- */

/* Create a pending future with no task. *out: new reference, release once. */
WEFT_API int weft_promise_create(weft_future **out);
/* Mark a pending promise running (Python's set_running_or_notify_cancel).
 * Returns WEFT_OK; WEFT_ECANCELED if it was cancelled; WEFT_EALREADY if it is
 * running or done; WEFT_EINVAL. */
WEFT_API int weft_promise_set_running(weft_future *f);
/* Complete with a value (value_dtor, if set, runs when the future is freed,
 * or at once when this call fails). Returns WEFT_OK; WEFT_EALREADY if f is
 * already done (the first outcome is kept); WEFT_EINVAL (also for futures
 * that belong to a task). */
WEFT_API int weft_promise_set_result(weft_future *f, void *value, weft_dtor value_dtor);
/* Complete with a failure status (nonzero; WEFT_ETASK passes on
 * weft_task_status() as a task's return does) and an optional error object.
 * weft_future_result then returns WEFT_ETASK. */
WEFT_API int weft_promise_set_error(weft_future *f, int status, void *error,
                                    weft_dtor error_dtor);

/* ---- waiting on many futures ---------------------------------------------- */

typedef enum weft_return_when {
    WEFT_FIRST_COMPLETED = 0,
    WEFT_FIRST_EXCEPTION = 1, /* first failure (not cancel), else all */
    WEFT_ALL_COMPLETED = 2
} weft_return_when;

/* Wait on fs[0..n) until the condition holds. Cancelled futures count as
 * done. done[i] (optional, n entries) tells which are done; it is written on
 * WEFT_OK and on WEFT_ETIMEDOUT. Duplicates are allowed. Without a timeout,
 * WEFT_ALL_COMPLETED (and any condition on one future) helps, on a worker
 * or on any other thread ("On a worker: helps" above); the others run no
 * task.
 * Memory: with n > 1 the call registers a small link on each future and
 * removes the links of those still pending before it returns (lock-free),
 * so timed waits repeated on futures that stay pending do not grow memory.
 * A link (and with it the call's waiter object) outlives the call only when
 * another thread is removing links from the same future at that moment; it
 * goes when a later call with n > 1 (or weft_as_completed_end) returns
 * while that future is pending, or when the future completes or is freed.
 * n == 1 registers nothing.
 * Returns: WEFT_OK when the condition holds; WEFT_ETIMEDOUT; WEFT_EINVAL;
 *          WEFT_ENOMEM; WEFT_EBROKEN (done[] written) when it cannot hold:
 *          every future still pending belongs to a pool that came through
 *          fork() (see weft_pool_create). */
WEFT_API int weft_wait(weft_future *const *fs, size_t n, int64_t timeout_ns,
                       weft_return_when when, bool *done);

typedef struct weft_as_completed weft_as_completed; /* opaque iterator */

/* Start iterating fs[0..n) in completion order (already-done ones first,
 * duplicates once). The timeout is measured from this call. The iterator
 * holds its own references and is used by one thread at a time. _end
 * removes its links from futures still pending (see weft_wait).
 * Returns WEFT_OK; WEFT_EINVAL; WEFT_ENOMEM. */
WEFT_API int weft_as_completed_begin(weft_as_completed **out, weft_future *const *fs,
                                     size_t n, int64_t timeout_ns);
/* Next done future: *f borrowed (valid until _end or ref'd), *index (may be
 * NULL) its first position in fs. Without a timeout it helps, on a worker or
 * on any other thread ("On a worker: helps" above). After WEFT_ETIMEDOUT
 * the iterator stays usable: later calls return futures that completed since.
 * Returns WEFT_OK; WEFT_EOF when all were yielded; WEFT_ETIMEDOUT;
 * WEFT_EBROKEN when every future left belongs to a pool that came through
 * fork(). */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **f, size_t *index);
WEFT_API void weft_as_completed_end(weft_as_completed *it);

/* ---- map (concurrent.futures Executor.map) -------------------------------- */

typedef int (*weft_elem_fn)(weft_ctx *ctx, const void *in, void *out, void *ud);

typedef struct weft_map_options {
    size_t struct_size;   /* sizeof(weft_map_options): set by _init */
    size_t chunk;         /* items per task; 0 = automatic: n / (8 * workers),
                           * at least 1 and at most 4096 */
    size_t max_in_flight; /* tasks queued or running at once; 0 = automatic:
                           * 32768 * workers / chunk, at least 2 and at most
                           * 64 per worker */
    int64_t timeout_ns;   /* from the call; negative = forever */
    uint64_t reserved[4];
} weft_map_options;

WEFT_API void weft_map_options_init(weft_map_options *o);

/* out[i] = fn(in[i]) for i in [0, n), through submitted tasks of `chunk`
 * items with at most max_in_flight tasks outstanding.
 * Order and window: items start in input order (each task takes the next
 * `chunk` items when it starts; tasks on different workers start theirs in
 * parallel) and are collected in input order. At most chunk * max_in_flight
 * items are started and not yet collected at any time, so item i starts
 * only after items [0, i - chunk * max_in_flight] have returned; with chunk
 * and max_in_flight both 0, at most 32768 * workers items, whatever n is.
 * Memory does not grow with n.
 * Blocks (without a timeout it helps, on a worker or any other thread: "On
 * a worker: helps" above) until all are done, the first failure, or the
 * timeout. On a failure, *failed_index is set to the lowest failing index;
 * no task takes items once an item failed, so items after it start only in
 * tasks that had taken them before (running in parallel), which stop at
 * their next item; tasks not started are cancelled, and the call waits for
 * the running ones so nothing writes to out after it returns.
 * in_stride 0 passes the same input to every item; out_stride 0 needs n <= 1.
 * Precedence: an item's failure, then shutdown/broken pool, then timeout
 * (*failed_index is written only for an item's failure).
 * Returns WEFT_OK; WEFT_ETASK when an item failed (its status:
 *         weft_task_status()); WEFT_ETIMEDOUT; WEFT_EINVAL; WEFT_ESHUTDOWN;
 *         WEFT_EBROKEN; WEFT_ENOMEM. */
WEFT_API int weft_map(weft_pool *pool, weft_elem_fn fn, void *ud, const void *in,
                      size_t in_stride, void *out, size_t out_stride, size_t n,
                      const weft_map_options *opts, size_t *failed_index);

/* A lazy, bounded map (Executor.map with 3.14's buffersize): items are
 * submitted as the caller takes results, in chunks of `chunk` items, and
 * results come back one at a time in input order. The input is an array
 * (weft_map_iter_begin) or a callback with no known end
 * (weft_map_iter_begin_input). One thread at a time uses an iterator. */
typedef struct weft_map_iter weft_map_iter; /* opaque */

typedef struct weft_map_iter_options {
    size_t struct_size; /* sizeof(weft_map_iter_options): set by _init */
    size_t window;      /* items submitted and not yet taken by next, at most;
                         * rounded down to a multiple of chunk (a window
                         * smaller than chunk lowers chunk to it); 0 =
                         * 4 * workers * chunk */
    size_t chunk;       /* items per task; 0 = automatic: 1024, but at most
                         * window / (4 * workers) when window is set, and at
                         * most n / (8 * workers) for an array; at least 1.
                         * Items that each take long want chunk 1. */
    int64_t timeout_ns; /* deadline of the whole map, from _begin;
                         * negative = forever */
    uint64_t reserved[4];
} weft_map_iter_options;

WEFT_API void weft_map_iter_options_init(weft_map_iter_options *o);

/* Input callback, read(2)-like: write up to max items (in_size bytes each,
 * back to back) from item `index` on into items and return how many (1 to
 * max; fewer is fine, the rest is asked for again); return 0 at the end of
 * the input, or a negative failure status of your own (next reports it as
 * WEFT_ETASK at `index`; a failure after good items: return those first,
 * then fail on the call that follows). Called on the thread that calls
 * _begin_input and _next, with index 0, then each time where the last
 * run ended, and never again after it returned 0 or less. */
typedef ptrdiff_t (*weft_map_input_fn)(void *ud, size_t index, void *items, size_t max);

/* Start a lazy map of fn over in[0..n) (item i at in + i * in_stride; 0
 * broadcasts one input) and submit the first window of items.
 * Threads:   any thread; next and end then on one thread at a time.
 * Ownership: *out is a new iterator: weft_map_iter_end() it. in must stay
 *            valid until then; results live in the iterator (window *
 *            out_size bytes) until next copies them out.
 * Blocking:  never.
 * Returns:   WEFT_OK; WEFT_EINVAL (out, pool or fn NULL, in NULL with
 *            n > 0, (n - 1) * in_stride or window * out_size past
 *            PTRDIFF_MAX, bad struct_size or reserved words); WEFT_ENOMEM;
 *            WEFT_ESHUTDOWN or WEFT_EBROKEN when the pool takes nothing.
 *            *out is written only on WEFT_OK. */
WEFT_API int weft_map_iter_begin(weft_map_iter **out, weft_pool *pool, weft_elem_fn fn,
                                 void *ud, const void *in, size_t in_stride, size_t n,
                                 size_t out_size, const weft_map_iter_options *opts);

/* As weft_map_iter_begin, with the items read by input(input_ud, i, items,
 * max) into the iterator's own buffer (window * in_size bytes) on the
 * calling thread, a chunk before each task is submitted; the end is where
 * input returns 0. An input failure stops reading: the items before it still run
 * and are returned, then next returns WEFT_ETASK with *index the index
 * input failed at and weft_task_status() its status.
 * Returns:   as weft_map_iter_begin; WEFT_EINVAL also for input NULL or
 *            window * in_size past PTRDIFF_MAX. */
WEFT_API int weft_map_iter_begin_input(weft_map_iter **out, weft_pool *pool,
                                       weft_elem_fn fn, void *ud, weft_map_input_fn input,
                                       void *input_ud, size_t in_size, size_t out_size,
                                       const weft_map_iter_options *opts);

/* Copy the next result in input order to out (out_size bytes; out may be
 * NULL when out_size is 0), *index (may be NULL) its input index, and
 * submit more items as the window allows (reading them from the input
 * callback, if any).
 * Blocking:  until that result is in or the deadline; on a worker: helps,
 *            as weft_map does, when there is no deadline.
 * Returns:   WEFT_OK; WEFT_EOF after the last result (again on each later
 *            call); WEFT_ETASK when the item (or the input callback at that
 *            index) failed: *index is written, weft_task_status() gives the
 *            status; WEFT_ETIMEDOUT when the result is not in by the
 *            deadline (a result already in is returned after it, as a poll
 *            would); WEFT_ESHUTDOWN or WEFT_EBROKEN when the pool dropped or
 *            refused the iterator's tasks; WEFT_ENOMEM; WEFT_EINVAL (it
 *            NULL, out NULL with out_size > 0).
 *            Every error but WEFT_EINVAL stops the iterator for good: items
 *            not started are cancelled, running ones see
 *            weft_ctx_cancel_requested(), and each later call returns the
 *            same error (WEFT_ETASK with the same *index and status). */
WEFT_API int weft_map_iter_next(weft_map_iter *it, void *out, size_t *index);

/* weft_map_iter_next for runs: copy the next results in input order to
 * out[0..*count) (out_size bytes each), at least one and at most max:
 * after the first, which blocks as weft_map_iter_next does, as many as are
 * in already. *first (may be NULL) receives out[0]'s input index, or on
 * WEFT_ETASK the failed index. One call per run instead of per item: the
 * form for consumers that keep up with many workers.
 * Returns:   as weft_map_iter_next (*count is 0 unless WEFT_OK); WEFT_EINVAL
 *            also for count NULL or max 0. */
WEFT_API int weft_map_iter_next_n(weft_map_iter *it, void *out, size_t max, size_t *count,
                                  size_t *first);

/* weft_map_iter_next_n without the copy: *items points at the next *count
 * results in input order (at least one; out_size bytes each, back to back)
 * in the iterator's own buffer, which they stay in until the next call on
 * it (any call: they count as taken then). *first as for _next_n.
 * Returns:   as weft_map_iter_next_n; WEFT_EINVAL also for items NULL. */
WEFT_API int weft_map_iter_next_view(weft_map_iter *it, const void **items, size_t *count,
                                     size_t *first);

/* End the iterator, also before the last result: items not started are
 * cancelled and never run, running ones see weft_ctx_cancel_requested(),
 * and the call waits for them (on a worker: helps), so no item runs or
 * writes into the iterator after it returns. Frees everything. NULL is
 * ignored. */
WEFT_API void weft_map_iter_end(weft_map_iter *it);

/* ---- inside a task ---------------------------------------------------------- */

WEFT_API weft_pool *weft_ctx_pool(const weft_ctx *ctx);
WEFT_API unsigned weft_ctx_worker(const weft_ctx *ctx);
/* True once weft_future_request_cancel() was called on this task's future,
 * or after the pool shut down with WEFT_SHUTDOWN_CANCEL. */
WEFT_API bool weft_ctx_cancel_requested(const weft_ctx *ctx);
/* Attach an error object to the task's failure (Python's exception). The
 * future owns it; err_dtor runs when the future is freed (at once when this
 * call fails). Only meaningful when the task returns nonzero. The first
 * error or result destructor a task sets allocates a small record.
 * Returns WEFT_OK; WEFT_EINVAL; WEFT_EPERM outside a submitted task
 * (spawned children report a status only); WEFT_ENOMEM. */
WEFT_API int weft_ctx_set_error(weft_ctx *ctx, void *err, weft_dtor err_dtor);
/* Destructor for the value the task returns through *result; runs when the
 * future is freed. Returns WEFT_OK; WEFT_EINVAL; WEFT_EPERM and
 * WEFT_ENOMEM as above. */
WEFT_API int weft_ctx_set_result_dtor(weft_ctx *ctx, weft_dtor result_dtor);

/* ---- fork/join ---------------------------------------------------------------- */

/* Run fn(ctx, arg, &r) as a task on pool and wait for it: the way into
 * fork/join from main or any thread that is no worker (weft_spawn needs a
 * running task's ctx; compare TBB's task_arena::execute, Lace's RUN).
 * From a thread that is no worker of pool it blocks until fn returned; if
 * a worker is parked, the calling thread runs fn in its place (as
 * weft_parallel_for's caller does), else a worker runs it. On a worker of
 * pool, fn runs at once on that worker, as a direct call. fn's ctx belongs
 * to no future: weft_ctx_set_error and weft_ctx_set_result_dtor return
 * WEFT_EPERM in it.
 * Ownership: *result (may be NULL) receives what fn stored, on WEFT_OK.
 * Returns:   WEFT_OK; WEFT_ETASK when fn failed (weft_task_status() gives
 *            its status); WEFT_EINVAL (pool or fn NULL); WEFT_ESHUTDOWN;
 *            WEFT_EBROKEN. */
WEFT_API int weft_run(weft_pool *pool, weft_fn fn, void *arg, void **result);

/* A group of children spawned by one task. The group lives in the spawning
 * task's stack frame; each child's record (its function, argument and
 * result, and the runtime's part) is a fixed-size slot written in place on
 * the running worker's spawn stack, so spawning allocates nothing. Every
 * group must be synced before the task that owns it returns. Debug builds
 * of the library (no NDEBUG) stop the process with a message when a task
 * returns with unsynced children; release builds do not check.
 * Children are synced in reverse spawn order across the task (as a Cilk
 * function's cilk_sync syncs all its children): weft_sync(g) waits for
 * every child this task spawned since g was initialized, into g or into a
 * group initialized after g. So groups of one task nest: sync an inner
 * group before the outer one. A group is a plain object of its task:
 * using one from another thread is a data race, which the inline fast
 * paths do not look for (the library functions, under WEFT_NO_INLINE,
 * return WEFT_EPERM). The fields are weft's: use the calls below. */
struct weft__lazy;
struct weft__slot;

typedef struct weft_group {
    struct weft__lazy *lazy_; /* the owner's spawn stack (a stand-in without a task) */
    struct weft__slot *base_; /* its top at init: the group's children lie above */
    struct weft__slot *top_;  /* its top after the group's last spawn or sync */
} weft_group;

/* Start a group owned by the running task (ctx is its context). With ctx
 * NULL, every call on the group returns WEFT_EPERM. */
WEFT_API void weft_group_init(weft_group *g, weft_ctx *ctx);
/* Make fn(ctx, arg, &r) a child of g that other workers may steal. If
 * result is not NULL, the child's r is stored in *result by its sync
 * (NULL if fn stored nothing); it must stay valid until then. While a
 * worker of the pool is idle (searching, or asleep since it last asked),
 * the child is published at once and a sleeper woken, so it runs in
 * parallel with what the spawner does next; while all are busy it stays
 * private to the spawner until a thief asks.
 * Threads:   the worker running the group's task only.
 * Returns:   WEFT_OK; WEFT_EINVAL (g or fn NULL); WEFT_EPERM (a group
 *            without a task); WEFT_ENOMEM (the worker's spawn stack,
 *            WEFT_SPAWN_MAX unsynced children, is full). A failed spawn is
 *            also kept in the group: its sync reports it (so code that
 *            ignores spawn's return still sees the failure). */
WEFT_API int weft_spawn(weft_group *g, weft_fn fn, void *arg, void **result);
/* Unsynced children one worker can hold (its spawn stack; 64 bytes each,
 * address space reserved at pool creation, memory touched as used). */
#define WEFT_SPAWN_MAX (1u << 21)
/* Wait for every child of g: children not stolen run inline; for stolen ones
 * the worker helps (first on the thief's deque). Returns WEFT_OK; WEFT_ETASK
 * when a child failed (weft_task_status(): the status of the most recently
 * spawned failing child); else the error of the first spawn into g that
 * failed since the last sync (reported once); WEFT_EINVAL (NULL);
 * WEFT_EPERM (a group without a task). */
WEFT_API int weft_sync(weft_group *g);
/* Sync g's most recently spawned child alone, or take it back to run its
 * work yourself while it is still private to this worker (not stolen, not
 * handed to thieves): Lace's typed SYNC. A child taken back is never run
 * through its fn: the caller does its work, typically as a direct call with
 * typed arguments and a result in a register, which an indirect call
 * through fn and void pointers cannot match. A taken child counts as synced
 * (strict fork/join). Its work is part of the caller's frame: a helping
 * wait inside it may run the group's older children (unlike a child that
 * weft_sync runs), so it must not wait for one of them.
 * Groups initialized after g by this task must have no children left (be
 * synced) when it is called, as nesting requires: it looks only at g's own
 * newest child, and a child of a later group left above it would be lost.
 * A loop over k children calls it k times, newest child first:
 *     for (i = k; i-- > 0;) {
 *         rc = weft_sync_take(&g, &v);
 *         if (rc > 0) ... do child i's work, with v its argument ...
 *         else if (rc == WEFT_OK) ... v is child i's result ...
 *         else ... failure ...
 *     }
 * Threads:   the worker running the group's task.
 * Returns:   1: taken back, *value = its argument; WEFT_OK: the child ran
 *            (on a thief, or inline here), *value = its result (also
 *            stored through its spawn's result pointer); WEFT_ETASK: it
 *            failed (weft_task_status() has its status); the error of a
 *            failed spawn into g that came after the children synced so
 *            far (in the child's place); WEFT_EOF: no child left;
 *            WEFT_EINVAL (g NULL); WEFT_EPERM (a group without a task).
 *            value may be NULL. */
WEFT_API int weft_sync_take(weft_group *g, void **value);
/* Run a and b in parallel: b is pushed (stealable), a runs inline, then b is
 * synced. Returns WEFT_OK; WEFT_ETASK when a or b failed (weft_task_status():
 * a's status if it failed, else b's); WEFT_EINVAL; WEFT_EPERM. */
WEFT_API int weft_join(weft_ctx *ctx, weft_fn a, void *arg_a, weft_fn b, void *arg_b);

/* Inline fast paths of the calls above (GNU C and C++; define
 * WEFT_NO_INLINE to call the library functions instead, which behave the
 * same and also check the calling thread). A worker's spawn stack is an
 * array of 64-byte slots that only it writes while they are private: a
 * spawn fills the top slot in place (function, argument, result pointer)
 * and moves the top; a sync finds the child still private when the slot
 * lies above the split point (below it, publication handed the children to
 * thieves, in batches) and its ops word is NULL (the runtime sets it when it
 * hands a single child to a helping wait, runs it inline, or records a
 * failed spawn), and takes it back by moving the top down. The group remembers where its newest child is (top_), so
 * weft_sync_take addresses the slot without reading back the stack's top,
 * which the nested call that just returned has stored (such a load costs
 * fib a fifth of its time); hence its rule that later groups be synced
 * first. A spawn checks that the stack's top agrees with the group's, and
 * when it does not (children of another group of the task lie above), the
 * library's slow path spawns at the stack's top. Everything else (a thief asked for work, a full stack, a stolen child,
 * NULL arguments) goes to the slow paths too, which take the group's
 * fields by value: the group never escapes the caller's frame, so
 * compilers keep it in registers and may still turn the caller's
 * recursion into a loop. A task's ctx is its worker's spawn stack itself
 * (the runtime's context fields follow it), so a group's init finds the
 * stack's top one load away from the pointer the task was given, as Lace
 * hands its tasks the worker and head pointers. The layout below is
 * internal to this version of weft, not API. */
struct weft__slot {
    weft_fn fn;
    void *arg;
    void **out;      /* the spawn's result pointer, or NULL */
    const void *ops; /* NULL while private; else the runtime's task header */
    void *rt_[4];    /* the rest of the runtime's part: completion, thief, result */
};
/* steal_req, which thieves write, has a cache line pair of its own (the
 * runtime aligns the struct). The inline paths touch only top and bound;
 * the rest is the library's. A thief that asks for work sets steal_req and
 * then lowers bound to NULL, so the owner's next spawn takes the slow path,
 * which answers: the request costs the spawn fast path nothing beyond the
 * bound check it makes anyway (runtime/lazy.c, "Lazy publication"). */
struct weft__lazy {
    struct weft__slot *top;   /* the next free slot */
    struct weft__slot *bound; /* end, or NULL while a thief's request waits */
    struct weft__slot *end;   /* where spawns stop (one slot before the last) */
    struct weft__slot *base;  /* top when the running task started */
    struct weft__slot *slots; /* the first slot */
    int64_t bottom;           /* the deque's bottom when the running task started */
    struct weft__slot *split; /* slots below it are published or running */
    struct weft__slot *mark;  /* the innermost frame mark, or NULL */
    struct weft__slot *batches; /* the newest published batch's head, or NULL */
    char pad_[128 - 9 * 8];   /* two lines: x86 prefetches 64-byte lines in pairs */
    uint32_t steal_req;       /* nonzero: a thief asks us to publish (a hint) */
};
/* The spawn stack of groups without a task: empty and full at once (top,
 * bound and base NULL), so every inline path takes the slow one. */
extern WEFT_API struct weft__lazy weft__no_lazy;
/* What weft__sync_take_slow returns: weft_sync_take's return and value. */
struct weft__took {
    int rc;
    void *value;
};
/* Record status (a task's own, nonzero) as this thread's weft_task_status()
 * and return WEFT_ETASK. */
WEFT_API int weft__task_failed(int status);
/* The status a task's nonzero return rc stands for: rc itself, or for
 * WEFT_ETASK the status behind it on this thread (passed on unchanged). */
WEFT_API int weft__task_status_of(int rc);
WEFT_API int weft__spawn_slow(struct weft__lazy *l, weft_fn fn, void *arg, void **result);
WEFT_API int weft__sync_slow(struct weft__lazy *l, struct weft__slot *base);
WEFT_API struct weft__took weft__sync_take_slow(struct weft__lazy *l, struct weft__slot *base);

#if defined(__GNUC__)
/* Null pointers and casts that C++ warning sets accept as well. */
#ifdef __cplusplus
#define WEFT__NULL nullptr
#define WEFT__CAST(T, x) static_cast<T>(x)
#else
#define WEFT__NULL NULL
#define WEFT__CAST(T, x) ((T)(x))
#endif

/* relaxed: bound is a hint that a thief lowers ([LZ1] in runtime/lazy.c);
 * nothing is published through it. */
static inline struct weft__slot *weft__bound(const struct weft__lazy *l)
{
    return __atomic_load_n(&l->bound, __ATOMIC_RELAXED);
}

static inline void weft__group_init_inline(weft_group *g, weft_ctx *ctx)
{
    if (g == WEFT__NULL)
        return;
    /* A worker's ctx begins with its spawn stack; a NULL ctx stands for
     * the stand-in stack. */
    struct weft__lazy *l = ctx != WEFT__NULL
                               ? WEFT__CAST(struct weft__lazy *, WEFT__CAST(void *, ctx))
                               : &weft__no_lazy;
    g->lazy_ = l;
    g->base_ = g->top_ = l->top;
}

static inline int weft__spawn_inline(weft_group *g, weft_fn fn, void *arg, void **result)
{
    if (__builtin_expect(g == WEFT__NULL, 0))
        return WEFT_EINVAL;
    struct weft__lazy *l = g->lazy_;
    struct weft__slot *s = g->top_;
    if (__builtin_expect(s == l->top && s < weft__bound(l) && fn != WEFT__NULL, 1)) {
        s->fn = fn;
        s->arg = arg;
        s->out = result;
        g->top_ = l->top = s + 1;
        return WEFT_OK;
    }
    int rc = weft__spawn_slow(l, fn, arg, result);
    g->top_ = l->top;
    return rc;
}

static inline int weft__sync_inline(weft_group *g)
{
    if (__builtin_expect(g == WEFT__NULL, 0))
        return WEFT_EINVAL;
    int rc = weft__sync_slow(g->lazy_, g->base_);
    g->top_ = g->lazy_->top;
    return rc;
}

static inline int weft__sync_take_inline(weft_group *g, void **value)
{
    if (__builtin_expect(g == WEFT__NULL, 0))
        return WEFT_EINVAL;
    struct weft__lazy *l = g->lazy_;
    struct weft__slot *s = g->top_;
    if (__builtin_expect(s > g->base_ && s > l->split && s[-1].ops == WEFT__NULL, 1)) {
        g->top_ = l->top = --s;
        if (value != WEFT__NULL)
            *value = s->arg;
        return 1;
    }
    struct weft__took t = weft__sync_take_slow(l, g->base_);
    g->top_ = l->top;
    if (value != WEFT__NULL && t.rc >= 0)
        *value = t.value;
    return t.rc;
}

/* The library defines the functions themselves with these bodies (the
 * slow paths for spawn and sync); WEFT_NO_INLINE calls them instead. */
#ifndef WEFT_NO_INLINE
#define weft_group_init(g, ctx) weft__group_init_inline((g), (ctx))
#define weft_spawn(g, fn, arg, result) weft__spawn_inline((g), (fn), (arg), (result))
#define weft_sync(g) weft__sync_inline((g))
#define weft_sync_take(g, value) weft__sync_take_inline((g), (value))
#endif /* WEFT_NO_INLINE */
#endif /* __GNUC__ */

/* ---- data parallel ------------------------------------------------------------- */

typedef int (*weft_range_fn)(weft_ctx *ctx, size_t begin, size_t end, void *ud);

/* body(ctx, lo, hi, ud) over disjoint chunks covering [begin, end), split
 * recursively down to `grain` items (0 = automatic). On a worker it helps.
 * From a thread that is no worker it blocks, and takes part: if a worker
 * is parked, the calling thread runs the loop in its place (as oneTBB's
 * calling thread does), so bodies also run on the caller, where
 * weft_worker_index() names that worker; the pool's worker start hook has
 * not run there. With every worker busy the workers run it all. After the
 * first failing chunk, chunks not yet started are skipped.
 * Returns WEFT_OK; WEFT_ETASK when a body failed (weft_task_status(): the
 * first failing chunk's status); WEFT_EINVAL; WEFT_ESHUTDOWN; WEFT_EBROKEN. */
WEFT_API int weft_parallel_for(weft_pool *pool, weft_range_fn body, void *ud, size_t begin,
                               size_t end, size_t grain);

/* out[i*out_stride] = fn(in[i*in_stride]) for i in [0, n), by parallel_for. */
WEFT_API int weft_parallel_map(weft_pool *pool, weft_elem_fn fn, void *ud, const void *in,
                               size_t in_stride, void *out, size_t out_stride, size_t n,
                               size_t grain);

/* Reduction. acc is a value of `size` bytes (at most WEFT_REDUCE_MAX) that
 * body folds [lo, hi) into; combine(into, from, ud) merges two partials.
 * *result holds the initial value (the identity) on entry and the total on
 * return. Partials are combined in index order (left into right's left), so
 * an associative combine gives the serial result. */
#define WEFT_REDUCE_MAX 256
typedef int (*weft_fold_fn)(weft_ctx *ctx, size_t begin, size_t end, void *acc, void *ud);
typedef void (*weft_combine_fn)(void *into, const void *from, void *ud);
WEFT_API int weft_parallel_reduce(weft_pool *pool, weft_fold_fn body, weft_combine_fn combine,
                                  void *ud, size_t begin, size_t end, size_t grain,
                                  void *result, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
