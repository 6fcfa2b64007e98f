#!/usr/bin/env python3
"""The Python peers of the weft benchmarks: concurrent.futures on CPython.

Each subcommand runs one workload with ThreadPoolExecutor ("py-thread") or
ProcessPoolExecutor ("py-process"), checks its results, and prints the same
one-line-per-repetition format as the C programs:

    bench=batch system=py-thread workers=2 rep=0 ns=... ok=1 tasks=100000

Python runs fewer items than C where the C size would take minutes; rates
(tasks/s, items/s) are comparable, absolute times are not. A wrong result
prints "error: ..." on stderr and exits with status 1.

Standard library only. Run `peers.py SUBCOMMAND --help` for the options.
"""

import argparse
import concurrent.futures as cf
import os
import resource
import sys
import threading
import time

M64 = (1 << 64) - 1
LCG_A = 6364136223846793005
LCG_C = 1442695040888963407


def fail(msg):
    print("error: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def hwm_kb(pid="self"):
    """Peak RSS (VmHWM, KiB) of a process; 0 if unknown. wait4()'s ru_maxrss
    is no use to the harness: Linux carries the parent's peak across exec."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children_hwm_kb(ex):
    """Sum of the peaks of a ProcessPoolExecutor's worker processes."""
    procs = getattr(ex, "_processes", None) or {}
    return sum(hwm_kb(pid) for pid in list(procs))


def report(bench, system, workers, rep, ns, **extra):
    extra["hwm_kb"] = hwm_kb()
    fields = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"bench={bench} system={system} workers={workers} rep={rep} ns={ns} ok=1"
          + (" " + fields if fields else ""), flush=True)


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def make_executor(kind, workers):
    if kind == "thread":
        return cf.ThreadPoolExecutor(max_workers=workers)
    return cf.ProcessPoolExecutor(max_workers=workers)


def system_name(kind):
    return "py-thread" if kind == "thread" else "py-process"


def warm_up(ex, workers):
    """Start every worker (untimed): both executors create them on demand."""
    list(ex.map(noop, range(4 * workers)))


# ---- task bodies (module level so ProcessPoolExecutor can pickle them) ----

def noop(i):
    return i


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def spin(i, iters):
    """~20 ms of pure-Python integer work (iters LCG steps, calibrated)."""
    x = i + 1
    for _ in range(iters):
        x = (x * LCG_A + LCG_C) & M64
    return x


def spin_expected(i, iters):
    """spin(i, iters) in O(log iters): the LCG skip-ahead (F. Brown, 1994)."""
    acc_mul, acc_add, cur_mul, cur_add, k = 1, 0, LCG_A, LCG_C, iters
    while k:
        if k & 1:
            acc_mul = acc_mul * cur_mul & M64
            acc_add = (acc_add * cur_mul + cur_add) & M64
        cur_add = (cur_mul + 1) * cur_add & M64
        cur_mul = cur_mul * cur_mul & M64
        k >>= 1
    return (acc_mul * (i + 1) + acc_add) & M64


# ---- workloads ----------------------------------------------------------

def cmd_roundtrip(a):
    """One no-op submit().result() after the pool sat idle, a.reps times."""
    with cf.ThreadPoolExecutor(max_workers=a.workers) as ex:
        warm_up(ex, a.workers)
        for rep in range(a.reps):
            c0, t0 = cpu_ns(), time.monotonic_ns()
            time.sleep(a.idle_ms / 1000)
            idle_ns, idle_cpu = time.monotonic_ns() - t0, cpu_ns() - c0
            t0 = time.perf_counter_ns()
            if ex.submit(noop, 42).result() != 42:
                fail("roundtrip: wrong result")
            ns = time.perf_counter_ns() - t0
            report("roundtrip", "py-thread", a.workers, rep, ns, idle_ns=idle_ns,
                   idle_cpu_ns=idle_cpu)


def cmd_batch(a):
    """a.n no-op tasks submitted with futures, then every result awaited."""
    want = a.n * (a.n - 1) // 2
    with cf.ThreadPoolExecutor(max_workers=a.workers) as ex:
        warm_up(ex, a.workers)
        for rep in range(a.reps):
            t0 = time.perf_counter_ns()
            fs = [ex.submit(noop, i) for i in range(a.n)]
            got = sum(f.result() for f in fs)
            ns = time.perf_counter_ns() - t0
            if got != want:
                fail(f"batch: sum {got}, expected {want}")
            report("batch", "py-thread", a.workers, rep, ns, tasks=a.n, noop=1)


def cmd_calibrate(a):
    """Print the spin() iteration count that takes about a.ms milliseconds."""
    probe, best = 20000, None
    for _ in range(5):
        t0 = time.perf_counter()
        spin(0, probe)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(max(1, int(probe * (a.ms / 1000) / best)))


def cmd_cpubatch(a):
    """a.n tasks of spin(i, a.iters) (~20 ms each), submit all, await all."""
    sysname = system_name(a.executor)
    with make_executor(a.executor, a.workers) as ex:
        warm_up(ex, a.workers)
        for rep in range(a.reps):
            t0 = time.perf_counter_ns()
            fs = [ex.submit(spin, i, a.iters) for i in range(a.n)]
            cf.wait(fs)
            got = [f.result() for f in fs]
            ns = time.perf_counter_ns() - t0
            for i, v in enumerate(got):
                if v != spin_expected(i, a.iters):
                    fail(f"cpubatch: task {i} returned {v}")
            report("cpubatch", sysname, a.workers, rep, ns, tasks=a.n, iters=a.iters,
                   children_hwm_kb=children_hwm_kb(ex))


def cmd_futmap(a):
    """Executor.map(splitmix64, range(n), chunksize=c); results checked."""
    sysname = f"{system_name(a.executor)}-c{a.chunksize}"
    with make_executor(a.executor, a.workers) as ex:
        warm_up(ex, a.workers)
        for rep in range(a.reps):
            t0 = time.perf_counter_ns()
            out = list(ex.map(splitmix64, range(a.n), chunksize=a.chunksize))
            ns = time.perf_counter_ns() - t0
            if len(out) != a.n or any(v != splitmix64(i) for i, v in enumerate(out)):
                fail("futmap: wrong output")
            report("futmap", sysname, a.workers, rep, ns, items=a.n, chunk=a.chunksize,
                   children_hwm_kb=children_hwm_kb(ex))


# Nested fib: every task submits its two children to the same executor and
# blocks on their futures. `blocked` counts workers inside Future.result().
_nest = {"ex": None, "blocked": 0, "finished": 0}
_nest_lock = threading.Lock()


def nested_fib(n):
    if n < 2:
        with _nest_lock:
            _nest["finished"] += 1
        return n
    ex = _nest["ex"]
    a, b = ex.submit(nested_fib, n - 1), ex.submit(nested_fib, n - 2)
    with _nest_lock:
        _nest["blocked"] += 1
    try:
        r = a.result() + b.result()
    finally:
        with _nest_lock:
            _nest["blocked"] -= 1
            _nest["finished"] += 1
    return r


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def cmd_nestedfib(a):
    """Nested fib(n) on a ThreadPoolExecutor. It deadlocks once all workers
    block in result() while the futures they wait for are still queued: then
    no thread is left to run them. That state is detected (all workers blocked
    and no task finishing for a.stable seconds) and reported, and the process
    leaves with os._exit (a normal exit would join the wedged workers forever)."""
    ex = cf.ThreadPoolExecutor(max_workers=a.workers)
    _nest["ex"] = ex
    t0 = time.perf_counter_ns()
    f = ex.submit(nested_fib, a.n)
    stable_since, last_finished = None, -1
    deadline = time.monotonic() + a.timeout
    while not f.done():
        time.sleep(0.01)
        with _nest_lock:
            blocked, finished = _nest["blocked"], _nest["finished"]
        now = time.monotonic()
        if blocked == a.workers and finished == last_finished:
            stable_since = stable_since or now
        else:
            stable_since = None
        last_finished = finished
        if (stable_since and now - stable_since >= a.stable) or now > deadline:
            ns = time.perf_counter_ns() - t0
            why = "all-workers-blocked" if stable_since else "timeout"
            report("nestedfib", "py-thread", a.workers, 0, ns, n=a.n, outcome="deadlock",
                   detected_by=why, finished_tasks=finished)
            os._exit(0)
    ns = time.perf_counter_ns() - t0
    if f.result() != fib(a.n):
        fail(f"nested fib({a.n}) = {f.result()}")
    report("nestedfib", "py-thread", a.workers, 0, ns, n=a.n, outcome="done")
    ex.shutdown()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, n=None, reps=3):
        s = sub.add_parser(name, help=fn.__doc__.splitlines()[0])
        s.add_argument("--workers", type=int, default=2)
        s.add_argument("--reps", type=int, default=reps)
        if n is not None:
            s.add_argument("--n", type=int, default=n)
        s.set_defaults(fn=fn)
        return s

    add("roundtrip", cmd_roundtrip, reps=30).add_argument("--idle-ms", type=int, default=200)
    add("batch", cmd_batch, n=100000)
    add("calibrate", cmd_calibrate).add_argument("--ms", type=float, default=20.0)
    s = add("cpubatch", cmd_cpubatch, n=64)
    s.add_argument("--executor", choices=["thread", "process"], default="thread")
    s.add_argument("--iters", type=int, required=True)
    s = add("futmap", cmd_futmap, n=100000)
    s.add_argument("--executor", choices=["thread", "process"], default="thread")
    s.add_argument("--chunksize", type=int, default=1)
    s = add("nestedfib", cmd_nestedfib, n=25)
    s.add_argument("--timeout", type=float, default=10.0)
    s.add_argument("--stable", type=float, default=0.5)
    a = p.parse_args(argv)
    if a.workers < 1:
        fail("--workers must be at least 1")
    a.fn(a)


if __name__ == "__main__":
    main()
