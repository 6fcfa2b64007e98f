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
 *    Only waits that need everything they wait for and have no deadline
 *    help: weft_sync, an untimed wait on one future, an untimed
 *    WEFT_ALL_COMPLETED, weft_map without a timeout. Timed waits,
 *    WEFT_FIRST_COMPLETED, WEFT_FIRST_EXCEPTION and as_completed run no
 *    task, so they return at their deadline or condition.
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
 * Blocking:  spins briefly, then futex; on a worker: helps. A done future
 *            costs one load. EINTR and spurious wake-ups never end it early.
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
 * WEFT_OK and on WEFT_ETIMEDOUT. Duplicates are allowed. On a worker: helps.
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
 * NULL) its first position in fs. On a worker: helps. After WEFT_ETIMEDOUT
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
 * Blocks (on a worker: helps) until all are done, the first failure, or the
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

/* ---- inside a task ---------------------------------------------------------- */

WEFT_API weft_pool *weft_ctx_pool(const weft_ctx *ctx);
WEFT_API unsigned weft_ctx_worker(const weft_ctx *ctx);
/* True once weft_future_request_cancel() was called on this task's future,
 * or after the pool shut down with WEFT_SHUTDOWN_CANCEL. */
WEFT_API bool weft_ctx_cancel_requested(const weft_ctx *ctx);
/* Attach an error object to the task's failure (Python's exception). The
 * future owns it; err_dtor runs when the future is freed. Only meaningful when
 * the task returns nonzero. Returns WEFT_OK; WEFT_EINVAL; WEFT_EPERM outside a
 * submitted task (spawned children report a status only). */
WEFT_API int weft_ctx_set_error(weft_ctx *ctx, void *err, weft_dtor err_dtor);
/* Destructor for the value the task returns through *result; runs when the
 * future is freed. Returns WEFT_OK; WEFT_EINVAL; WEFT_EPERM as above. */
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

/* A group of children spawned by one task, and the storage for one child.
 * Both live in the spawning task's stack frame: spawning allocates nothing.
 * Every group must be synced before the task that owns it returns: the
 * child records would otherwise live in a dead stack frame. Debug builds of
 * the library (no NDEBUG) stop the process with a message when a task
 * returns with unsynced children; release builds do not check.
 * The fields are weft's: read and write them only through the calls below. */
struct weft__lazy;

typedef struct weft_child {
    weft_fn fn_;
    void *arg_;
    void *result_;
    struct weft_child *prev_; /* the group's previously spawned child */
    void *rt_[4];             /* runtime part: task header, completion word, thief */
} weft_child;

typedef struct weft_group {
    struct weft__lazy *lazy_; /* the owner's private spawn stack; NULL: slow path */
    weft_child *last_;        /* most recently spawned unsynced child */
    weft_ctx *ctx_;           /* the owning task's context */
    uintptr_t flags_;         /* runtime flags */
} weft_group;

/* Start a group owned by the running task (ctx is its context). */
WEFT_API void weft_group_init(weft_group *g, weft_ctx *ctx);
/* Make fn(ctx, arg, &result) a child of g that other workers may steal.
 * While a worker of the pool is idle (searching, or asleep since it last
 * asked), the child is published at once and a sleeper woken, so it runs
 * in parallel with what the spawner does next; while all are busy it stays
 * private to the spawner until a thief asks for work.
 * Threads:   the worker running the group's task only.
 * Returns:   WEFT_OK; WEFT_EINVAL (NULL); WEFT_EPERM from another thread or
 *            a group initialized without a task context. A failed spawn is
 *            also kept in g: the next weft_sync(g) reports it (so code that
 *            ignores spawn's return still sees the failure). */
WEFT_API int weft_spawn(weft_group *g, weft_child *slot, weft_fn fn, void *arg);
/* Wait for every child of g: children not stolen run inline; for stolen ones
 * the worker helps (first on the thief's deque). Returns WEFT_OK; WEFT_ETASK
 * when a child failed (weft_task_status(): the status of the most recently
 * spawned failing child); else the error of the first spawn into g that
 * failed since the last sync (reported once); WEFT_EINVAL; WEFT_EPERM. */
WEFT_API int weft_sync(weft_group *g);
/* Take g's most recently spawned child back, to run its work yourself,
 * while it is still private to this worker (not stolen, not handed to
 * thieves). Its fn is then never called: the caller does the child's work
 * itself, typically as a direct call with typed arguments and a result in a
 * register, which an indirect call through fn and void pointers cannot
 * match (Lace's typed SYNC). Call it until it returns NULL, or until every
 * child came back, then weft_sync(g) for the children it did not return
 * (run by thieves, or inline through fn; with none left it returns at
 * once). The children returned are always the most recent ones: with
 * slots[0..k) spawned in order, a loop that took m children took
 * slots[k-m..k), and weft_sync ran slots[0..k-m). A taken child counts as
 * synced (strict fork/join). Its work is part of the caller's frame: a
 * helping wait inside it may run the group's older children (unlike a child
 * that weft_sync runs), so it must not wait for one of them.
 * Threads:   the worker running the group's task; elsewhere it returns NULL.
 * Returns:   the child's slot, or NULL (none left that is private; g NULL). */
WEFT_API weft_child *weft_sync_take(weft_group *g);
/* The result a child stored in *result (valid after weft_sync). */
WEFT_API void *weft_child_result(const weft_child *slot);
/* Run a and b in parallel: b is pushed (stealable), a runs inline, then b is
 * synced. Returns WEFT_OK; WEFT_ETASK when a or b failed (weft_task_status():
 * a's status if it failed, else b's); WEFT_EINVAL; WEFT_EPERM. */
WEFT_API int weft_join(weft_ctx *ctx, weft_fn a, void *arg_a, weft_fn b, void *arg_b);

/* Inline fast paths of the four calls above (GNU C and C++; define
 * WEFT_NO_INLINE to call the library functions instead, which behave the
 * same). A spawned child first goes on its worker's private spawn stack, a
 * plain array only that worker touches; a child still on top of it at sync
 * runs as a direct call. Everything else (a thief asked for work, a full
 * stack, a stolen child, a call from the wrong thread, NULL arguments) goes
 * to the library's slow paths. The layout below is internal to this
 * version of weft, not API. */
/* steal_req, which thieves write, has a cache line of its own (the runtime
 * aligns the struct). The inline paths touch only n, ctx, cap, items and
 * steal_req; open is the library's. items grows (doubling) in the
 * library's slow path, so deep recursion never runs out of private slots. */
struct weft__lazy {
    unsigned n;          /* children in items[] */
    unsigned base;       /* n when the running task started */
    weft_ctx *ctx;       /* the context children run with */
    unsigned open;       /* exposed, not yet synced children (strict fork/join) */
    unsigned cap;        /* slots in items */
    int64_t bottom;      /* the deque's bottom when the running task started */
    weft_child **items;  /* oldest first; also frame marks (WEFT__MARK) */
    const int64_t *dqb;  /* the owner's deque bottom (read relaxed, owner only) */
    char pad_[128 - 6 * 8]; /* two lines: x86 prefetches 64-byte lines in pairs */
    uint32_t steal_req; /* nonzero: a thief asks us to publish (a hint) */
};
/* The head of every weft_ctx. */
struct weft__ctx_head {
    struct weft__lazy *lazy; /* the running worker's spawn stack */
};
/* This thread's spawn stack if it is a weft worker, else NULL. */
#if defined(__GNUC__)
extern WEFT_API __thread struct weft__lazy *weft__tls_lazy
    __attribute__((tls_model("initial-exec")));
#endif
/* Record status (a task's own, nonzero) as this thread's weft_task_status()
 * and return WEFT_ETASK. */
WEFT_API int weft__task_failed(int status);
/* The status a task's nonzero return rc stands for: rc itself, or for
 * WEFT_ETASK the status behind it on this thread (passed on unchanged). */
WEFT_API int weft__task_status_of(int rc);
WEFT_API int weft__spawn_slow(weft_group *g, weft_child *slot, weft_fn fn, void *arg);
WEFT_API int weft__sync_slow(weft_group *g, int status);
WEFT_API weft_child *weft__sync_take_slow(weft_group *g);

#if defined(__GNUC__)
/* Casts and null pointers that C++ warning sets accept as well. */
#ifdef __cplusplus
#define WEFT__CAST(T, x) static_cast<T>(x)
#define WEFT__INT2PTR(T, x) reinterpret_cast<T>(x)
#define WEFT__NULL nullptr
#else
#define WEFT__CAST(T, x) ((T)(x))
#define WEFT__INT2PTR(T, x) ((T)(x))
#define WEFT__NULL NULL
#endif

/* The thief's flag is read relaxed: it only asks for publication sooner
 * (runtime/lazy.c, "Lazy publication"); nothing is published through it. */
static inline int weft__steal_requested(const struct weft__lazy *l)
{
    return __atomic_load_n(&l->steal_req, __ATOMIC_RELAXED) != 0;
}

/* c is on top of the private stack (n: its entry count, as the caller
 * loaded it) and no thief asked for work: the owner may take c back
 * without touching anything shared. The caller keeps using its n, since
 * the relaxed load of steal_req keeps compilers from reusing a load of n
 * made before it. */
static inline int weft__private_top(const struct weft__lazy *l, unsigned n, const weft_child *c)
{
    return __builtin_expect(n != 0 && l->items[n - 1] == c && !weft__steal_requested(l), 1);
}

/* A child that sync runs inline gets a frame of its own: its slot on the
 * private stack becomes a mark holding the deque bottom at its start (odd,
 * so never a child pointer), and the mark is popped when it returns. A
 * helping wait inside it runs only what lies above the innermost mark, on
 * the private stack and on the deque, never a sibling (runtime/lazy.c,
 * "Frames of inline children"). */
#define WEFT__MARK(bottom) \
    WEFT__INT2PTR(weft_child *, WEFT__CAST(uintptr_t, (WEFT__CAST(uint64_t, (bottom)) << 1) | 1u))

static inline weft_child *weft__mark_here(const struct weft__lazy *l)
{
    return WEFT__MARK(__atomic_load_n(l->dqb, __ATOMIC_RELAXED));
}

static inline void weft__group_init_inline(weft_group *g, weft_ctx *ctx)
{
    if (g == WEFT__NULL)
        return;
    g->lazy_ = ctx != WEFT__NULL
                   ? WEFT__CAST(const struct weft__ctx_head *, WEFT__CAST(const void *, ctx))->lazy
                   : WEFT__NULL;
    g->last_ = WEFT__NULL;
    g->ctx_ = ctx;
    g->flags_ = 0;
}

static inline int weft__spawn_inline(weft_group *g, weft_child *c, weft_fn fn, void *arg)
{
    struct weft__lazy *l = g != WEFT__NULL ? g->lazy_ : WEFT__NULL;
    if (__builtin_expect(l != WEFT__NULL && c != WEFT__NULL && fn != WEFT__NULL &&
                             l == weft__tls_lazy && l->n < l->cap &&
                             !weft__steal_requested(l),
                         1)) {
        c->fn_ = fn;
        c->arg_ = arg;
        c->prev_ = g->last_;
        g->last_ = c;
        l->items[l->n++] = c;
        return WEFT_OK;
    }
    return weft__spawn_slow(g, c, fn, arg);
}

/* g->flags_: a spawn into g failed since its last sync, with the error
 * -(flags_ >> 8) (weft_spawn, weft_sync). */
#define WEFT__GROUP_SPAWN_FAILED 2u

static inline int weft__sync_inline(weft_group *g)
{
    if (g == WEFT__NULL)
        return WEFT_EINVAL;
    struct weft__lazy *l = g->lazy_;
    if (__builtin_expect((g->flags_ & WEFT__GROUP_SPAWN_FAILED) != 0, 0) || l == WEFT__NULL ||
        l != weft__tls_lazy)
        return g->last_ != WEFT__NULL || (g->flags_ & WEFT__GROUP_SPAWN_FAILED)
                   ? weft__sync_slow(g, WEFT_OK)
                   : WEFT_OK;
    int status = WEFT_OK;
    weft_child *c;
    while ((c = g->last_) != WEFT__NULL) {
        unsigned n = l->n;
        if (__builtin_expect(!weft__private_top(l, n, c), 0))
            return weft__sync_slow(g, status);
        l->items[n - 1] = weft__mark_here(l);
        g->last_ = c->prev_;
        c->result_ = WEFT__NULL;
        int s = c->fn_(l->ctx, c->arg_, &c->result_);
        l->n--; /* the child's mark, on top again */
        if (__builtin_expect(s != 0, 0) && status == WEFT_OK)
            status = weft__task_status_of(s);
    }
    return __builtin_expect(status == WEFT_OK, 1) ? WEFT_OK : weft__task_failed(status);
}

static inline weft_child *weft__sync_take_inline(weft_group *g)
{
    weft_child *c = g != WEFT__NULL ? g->last_ : WEFT__NULL;
    if (c == WEFT__NULL)
        return WEFT__NULL;
    struct weft__lazy *l = g->lazy_;
    unsigned n;
    if (__builtin_expect(l != WEFT__NULL && l == weft__tls_lazy &&
                             weft__private_top(l, n = l->n, c),
                         1)) {
        l->n = n - 1;
        g->last_ = c->prev_;
        return c;
    }
    return weft__sync_take_slow(g);
}

static inline void *weft__child_result_inline(const weft_child *c)
{
    return c != WEFT__NULL ? c->result_ : WEFT__NULL;
}

/* The library defines the functions themselves with these bodies (the
 * slow paths for spawn and sync); WEFT_NO_INLINE calls them instead. */
#ifndef WEFT_NO_INLINE
#define weft_group_init(g, ctx) weft__group_init_inline((g), (ctx))
#define weft_spawn(g, slot, fn, arg) weft__spawn_inline((g), (slot), (fn), (arg))
#define weft_sync(g) weft__sync_inline((g))
#define weft_sync_take(g) weft__sync_take_inline((g))
#define weft_child_result(slot) weft__child_result_inline((slot))
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
