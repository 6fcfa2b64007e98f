#!/usr/bin/env python3
"""Run the weft benchmarks against their peers and compare.

Runs every workload for every system (weft, oneTBB, OpenMP, serial C, Python
concurrent.futures) at 1 and 2 workers. Each (workload, system, workers) runs
as its own process, so its peak RSS comes from os.wait4(). Systems are
interleaved: each round visits them in a rotated order, and samples from all
rounds are pooled into a median and a min-max range.

Prints a table (ratios vs serial and vs the best other system), writes
bench/results/latest.csv and, when gnuplot is installed, latest.png (quick.* with --quick).
Builds nothing: run bench/run, or build with -DWEFT_BUILD_BENCH=ON first.
Exits 1 if any program failed its correctness check (or crashed, or timed out).

    python3 bench/compare.py            # default run, <= 5 minutes on 2 vCPUs
    python3 bench/compare.py --quick    # smoke test, <= 1 minute, no timing claims
"""

import argparse
import csv
import datetime
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "python", "peers.py")


# ---- workload table ------------------------------------------------------

class Variant:
    """One system's program for a workload. argv may contain {w} (workers).
    copies: run that many instances at once (their samples are pooled);
    only_w: run at that worker count only; cpu: pin the process (all its
    threads) to that CPU."""

    def __init__(self, system, argv, unit_field=None, serial=False, timeout=120,
                 python=False, timeout_is_deadlock=False, copies=1, only_w=None, cpu=None):
        self.system, self.argv, self.unit_field = system, argv, unit_field
        self.serial, self.timeout, self.python = serial, timeout, python
        self.timeout_is_deadlock = timeout_is_deadlock
        self.copies, self.only_w, self.cpu = copies, only_w, cpu


def with_pair(v):
    """v and "<system>-pair": two copies of v's program at 1 worker running at
    once (shown at w=2), one per vCPU, to see how much a thread slows down
    when the other vCPU is busy too. 2 T1 / Tpair is the speedup T1/T2 that
    perfectly parallel code like v's could reach in this run: for the serial
    program, code with no runtime; for weft's, weft's own code with no
    sharing between its workers (fork_join_summary)."""
    argv = [a.replace("{w}", "1") for a in v.argv]
    return [v, Variant(f"{v.system}-pair", argv, unit_field=v.unit_field, copies=2, only_w=2)]


class Workload:
    """rounds: how many interleaved rounds the default run gives it (at least
    the default); the short fork/join programs get more, because a process's
    speed depends on its own address layout (see bench/README.md), so their
    medians should pool many processes. chart: draw a panel in the PNG."""

    def __init__(self, name, unit, variants, note="", rounds=0, chart=True):
        self.name, self.unit, self.variants, self.note = name, unit, variants, note
        self.rounds, self.chart = rounds, chart


NQ_VCPU = "nq-vcpu"  # the vCPU probe's workload (vcpu_summary reads its rows)


def vcpu_probe(c, nq_n):
    """nqueens' serial and 1-worker weft programs pinned to each allowed CPU
    in turn, in the same rounds: Ts/T1 per vCPU. On a shared host one vCPU
    can be slowed by work outside the VM (another guest on its core) while
    the other is not, and weft's code (about twice the serial program's
    instructions per node) loses more there than the serial code does; an
    unpinned run lands on either vCPU."""
    vs = []
    for cpu in sorted(os.sched_getaffinity(0)):
        vs += [Variant(f"serial@cpu{cpu}", c("nqueens_seq", "--n", nq_n, "--reps", 3),
                       only_w=1, cpu=cpu),
               Variant(f"weft@cpu{cpu}", c("nqueens_weft", "--n", nq_n, "--reps", 3),
                       only_w=1, cpu=cpu)]
    return Workload(NQ_VCPU, "run", vs, rounds=6, chart=False,
                    note=f"nqueens({nq_n}) pinned to one vCPU at a time: serial and weft "
                         "at 1 worker; see the vCPU probe below the fork/join summary")


def family(system):
    """weft-pmap -> weft, py-process-c1 -> py-process: variants of one system."""
    for f in ("py-thread", "py-process", "tbb", "weft", "omp", "serial"):
        if system.startswith(f):
            return f
    return system


def workloads(quick, py_iters):
    q = quick

    def c(prog, *args):
        return [prog, "--workers", "{w}", *[str(a) for a in args]]

    def py(cmd, *args):
        return [sys.executable, PEERS, cmd, "--workers", "{w}", *[str(a) for a in args]]

    rt_reps, rt_idle = (3, 200) if q else (15, 200)
    batch_n, batch_py = (100000, 10000) if q else (1000000, 50000)
    fib_n = 27 if q else 37
    nq_n = 10 if q else 12
    tree = "-small" if q else ""
    map_n = 1000000 if q else 10000000
    cb_n = 16 if q else 64
    fm_n, fm_py_thread, fm_py_c1, fm_py_c1000 = ((100000, 5000, 2000, 20000) if q
                                                 else (1000000, 50000, 10000, 100000))
    nf_n = 18 if q else 25
    r = 1 if q else 2  # repetitions inside one process (rounds come on top)

    return [
        Workload("roundtrip", "round trip", [
            Variant("weft", c("roundtrip_weft", "--reps", rt_reps, "--idle-ms", rt_idle)),
            Variant("tbb", c("roundtrip_tbb", "--reps", rt_reps, "--idle-ms", rt_idle)),
            Variant("omp", c("roundtrip_omp", "--reps", rt_reps, "--idle-ms", rt_idle)),
            Variant("floor", c("roundtrip_floor", "--reps", rt_reps, "--idle-ms", rt_idle)),
            Variant("py-thread", py("roundtrip", "--reps", rt_reps, "--idle-ms", rt_idle),
                    python=True),
        ], note=f"one no-op task after {rt_idle} ms idle; omp = parallel-region fork/join "
                "from the master (OpenMP has no external submit); libgomp's default wait "
                "policy costs ms here at 2 workers, OMP_WAIT_POLICY=passive ~40 us; floor = bare "
                "futex wake of a thread that slept as long, answered back (no pool; "
                "the machine's lower bound; the same program at both w)"),
        Workload("batch", "task", [
            Variant("serial", c("batch_seq", "--n", batch_n, "--reps", r + 1),
                    unit_field="tasks", serial=True),
            Variant("weft", c("batch_weft", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("tbb", c("batch_tbb", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("omp", c("batch_omp", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("py-thread", py("batch", "--n", batch_py, "--reps", 1), unit_field="tasks",
                    python=True),
        ], note=f"{batch_n:,} tasks of ~100 ns from one thread, then all awaited; "
                f"Python: {batch_py:,} no-op tasks, compare per task"),
        Workload("fib", "run", [
            *with_pair(Variant("serial", c("fib_seq", "--n", fib_n, "--reps", 3), serial=True)),
            *with_pair(Variant("weft", c("fib_weft", "--n", fib_n, "--reps", r))),
            Variant("tbb", c("fib_tbb", "--n", fib_n, "--reps", 1)),
            Variant("omp", c("fib_omp", "--n", fib_n, "--reps", 1)),
        ], note=f"fib({fib_n}), no cutoff, one spawn per internal call"),
        Workload("nqueens", "run", [
            *with_pair(Variant("serial", c("nqueens_seq", "--n", nq_n, "--reps", 5),
                               serial=True)),
            *with_pair(Variant("weft", c("nqueens_weft", "--n", nq_n, "--reps", 3))),
            Variant("tbb", c("nqueens_tbb", "--n", nq_n, "--reps", 3)),
            Variant("omp", c("nqueens_omp", "--n", nq_n, "--reps", 3)),
        ], note=f"nqueens({nq_n}), one spawn per valid placement", rounds=6),
        vcpu_probe(c, nq_n),
        *[Workload(f"uts-{t}", "node", [
            *with_pair(Variant("serial", c("uts_seq", "--tree", t + tree, "--reps", r),
                               unit_field="nodes", serial=True)),
            *with_pair(Variant("weft", c("uts_weft", "--tree", t + tree, "--reps", r),
                               unit_field="nodes")),
            Variant("tbb", c("uts_tbb", "--tree", t + tree, "--reps", r), unit_field="nodes"),
            Variant("omp", c("uts_omp", "--tree", t + tree, "--reps", r), unit_field="nodes"),
        ], note=f"UTS {t + tree} tree, one spawn per child, ~100 ns per node", rounds=4)
          for t in ("deep", "wide")],
        Workload("map", "item", [
            Variant("serial", c("map_seq", "--n", map_n, "--reps", 5), unit_field="n",
                    serial=True),
            Variant("weft", c("map_weft", "--n", map_n, "--reps", 5), unit_field="n"),
            Variant("weft-pmap", c("map_weft", "--variant", "pmap", "--n", map_n, "--reps", 5),
                    unit_field="n"),
            Variant("tbb", c("map_tbb", "--n", map_n, "--reps", 5), unit_field="n"),
            Variant("omp", c("map_omp", "--n", map_n, "--reps", 5), unit_field="n"),
        ], note=f"out[i] = splitmix64(in[i]) over {map_n:,} uint64; weft = parallel_for, "
                "weft-pmap = parallel_map", rounds=4),
        Workload("cpubatch", "run", [
            Variant("serial", c("cpubatch_seq", "--n", cb_n, "--reps", 1), serial=True),
            Variant("weft", c("cpubatch_weft", "--n", cb_n, "--reps", 1)),
            Variant("py-thread", py("cpubatch", "--executor", "thread", "--n", cb_n,
                                    "--iters", py_iters, "--reps", 1), python=True),
            Variant("py-process", py("cpubatch", "--executor", "process", "--n", cb_n,
                                     "--iters", py_iters, "--reps", 1), python=True),
        ], note=f"{cb_n} tasks of ~20 ms CPU (C: integer spin; Python: pure-Python loop "
                "calibrated to ~20 ms); py-thread holds the GIL, so it cannot scale"),
        Workload("futmap", "item", [
            Variant("weft-chunk1", c("futmap_weft", "--n", fm_n, "--chunk", 1, "--reps", r),
                    unit_field="items"),
            Variant("weft-auto", c("futmap_weft", "--n", fm_n, "--chunk", 0, "--reps", r),
                    unit_field="items"),
            Variant("py-thread-c1", py("futmap", "--executor", "thread", "--chunksize", 1,
                                       "--n", fm_py_thread, "--reps", 1),
                    unit_field="items", python=True),
            Variant("py-process-c1", py("futmap", "--executor", "process", "--chunksize", 1,
                                        "--n", fm_py_c1, "--reps", 1),
                    unit_field="items", python=True),
            Variant("py-process-c1000", py("futmap", "--executor", "process", "--chunksize",
                                           1000, "--n", fm_py_c1000, "--reps", 1),
                    unit_field="items", python=True),
        ], note=f"Executor.map over {fm_n:,} items (Python: {fm_py_thread:,}/{fm_py_c1:,}/"
                f"{fm_py_c1000:,}; ThreadPoolExecutor ignores chunksize); compare per item"),
        Workload("nestedfib", "run", [
            Variant("weft", c("nestedfib_weft", "--n", nf_n, "--reps", r)),
            Variant("py-thread", py("nestedfib", "--n", nf_n, "--timeout", 5 if q else 10,
                                    "--stable", 0.3 if q else 0.5),
                    python=True, timeout=15, timeout_is_deadlock=True),
        ], note=f"fib({nf_n}) by nested submit + blocking wait inside tasks"),
    ]


# ---- running ------------------------------------------------------------------

LINE = re.compile(r"^bench=\S+ ")


def parse_line(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def reap(p, deadline):
    """Wait for p until the monotonic deadline, then kill its process group.
    Returns its exit status, or None if it was killed."""
    rc = None
    while True:
        pid, status, _ = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    p.returncode = rc if rc is not None else -9  # reaped here: stop Popen from waiting
    return rc


def run_process(argv, timeout, copies=1, cpu=None):
    """Run argv (copies instances at once, sharing stdout; pinned to cpu if
    given); return (rc, stdout, stderr, wall_s). rc None = timeout; otherwise
    the first nonzero exit status.
    (Peak memory comes from the programs' own VmHWM: wait4's maxrss keeps the
    harness's high-water mark across exec.)"""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
        ps = [subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True,
                               preexec_fn=pin)
              for _ in range(copies)]
        rcs = [reap(p, t0 + timeout) for p in ps]  # the copies run meanwhile
        wall = time.monotonic() - t0
        rc = None if None in rcs else next((r for r in rcs if r != 0), 0)
        out.seek(0)
        err.seek(0)
        return rc, out.read(), err.read(), wall


class Row:
    def __init__(self, wl, v, workers):
        self.wl, self.v, self.workers = wl, v, workers
        self.system = v.system
        self.samples = []      # ns per repetition
        self.unit_samples = []  # ns per unit (task, item, node) or per run
        self.lines = []
        self.rss_kb = 0
        self.outcome = ""
        self.failed = ""


def run_all(args, wls):
    bin_dir = args.bin_dir
    rows, failures = {}, []
    worker_counts = [int(w) for w in args.workers.split(",")]
    def rounds_of(wl):
        return args.rounds if args.rounds else (1 if args.quick else max(2, wl.rounds))

    rounds = max((rounds_of(wl) for wl in wls), default=1)
    for rnd in range(rounds):
        for wl in wls:
            if rnd >= rounds_of(wl):
                continue
            for w in worker_counts:
                vs = [v for v in wl.variants if not (v.serial and w != worker_counts[0])
                      and v.only_w in (None, w)]
                k = rnd % len(vs) if vs else 0
                for v in vs[k:] + vs[:k]:  # rotate the order every round
                    wshown = 1 if v.serial else w
                    key = (wl.name, v.system, wshown)
                    row = rows.setdefault(key, Row(wl, v, wshown))
                    if row.failed:
                        continue
                    argv = [a.replace("{w}", str(w)) for a in v.argv]
                    if not v.python:
                        exe = os.path.join(bin_dir, argv[0])
                        if not os.path.exists(exe):
                            row.failed = "missing"
                            if not args.allow_missing:
                                failures.append(f"{key}: {exe} not built")
                            continue
                        argv[0] = exe
                    label = f"[{rnd + 1}/{rounds_of(wl)}] {wl.name} {v.system} w={wshown}"
                    print(f"  {label:<46}", end="", flush=True, file=sys.stderr)
                    rc, out, err, wall = run_process(argv, v.timeout, v.copies, v.cpu)
                    problems = []
                    if rc is None and v.timeout_is_deadlock:
                        row.outcome = f"deadlock (no answer in {v.timeout} s; killed)"
                        print("deadlock (killed)", file=sys.stderr)
                        continue
                    if rc is None:
                        problems.append(f"timed out after {v.timeout} s")
                    elif rc != 0:
                        problems.append(f"exit status {rc}")
                    got = 0
                    for line in out.splitlines():
                        if not LINE.match(line):
                            continue
                        d = parse_line(line)
                        if d.get("ok") != "1":
                            problems.append(f"ok={d.get('ok')}")
                            continue
                        got += 1
                        row.lines.append(d)
                        rss = int(d.get("hwm_kb", 0)) + int(d.get("children_hwm_kb", 0))
                        row.rss_kb = max(row.rss_kb, rss)
                        if d.get("outcome", "done") != "done":
                            how = d.get("detected_by", "").replace("-", " ")
                            row.outcome = d["outcome"] + (f" ({how})" if how else "")
                            continue
                        ns = int(d["ns"])
                        units = int(d.get(v.unit_field, 1)) if v.unit_field else 1
                        row.samples.append(ns)
                        row.unit_samples.append(ns / max(units, 1))
                    if got == 0 and not problems:
                        problems.append("printed no result line")
                    if problems:
                        msg = "; ".join(problems)
                        tail = " | ".join(err.strip().splitlines()[-3:])
                        row.failed = msg
                        failures.append(f"{key}: {msg}{': ' + tail if tail else ''}")
                        print(f"FAILED ({msg})", file=sys.stderr)
                    else:
                        print(f"{wall:6.2f} s", file=sys.stderr)
    return rows, failures


# ---- reporting -------------------------------------------------------------------

def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def med(xs):
    return statistics.median(xs) if xs else None


def competes(row):
    """A system's own run, compared with the others in "vs best": not a
    baseline (serial, floor) and not a ceiling probe (two copies at once)."""
    return family(row.system) not in ("serial", "floor") and row.v.copies == 1


def summarize(rows):
    """Medians per row, then ratios within each (workload, workers)."""
    for row in rows.values():
        row.median = med(row.samples)
        row.unit_median = med(row.unit_samples)
        row.lo = min(row.samples) if row.samples else None
        row.hi = max(row.samples) if row.samples else None
    for row in rows.values():
        serial = next((r for r in rows.values() if r.wl is row.wl and r.system == "serial"),
                      None)
        row.vs_serial = (serial.unit_median / row.unit_median
                         if serial and serial.unit_median and row.unit_median else None)
        others = [r.unit_median for r in rows.values()
                  if r.wl is row.wl and r.workers == row.workers and r.unit_median
                  and competes(r) and family(r.system) != family(row.system)]
        row.vs_best = (min(others) / row.unit_median
                       if others and row.unit_median and competes(row) else None)
        if row.wl.name == "roundtrip" and row.lines:
            idle = sum(int(d["idle_ns"]) for d in row.lines)
            cpu = sum(int(d["idle_cpu_ns"]) for d in row.lines)
            row.idle_pct = 100.0 * cpu / idle if idle else None
        else:
            row.idle_pct = None


def print_table(wls, rows):
    hdr = (f"{'workload':<10} {'system':<17} {'w':>1} {'median':>9} {'range (min-max)':>19} "
           f"{'per unit':>16} {'vs serial':>9} {'vs best':>8} {'RSS MB':>7}  notes")
    print(hdr)
    print("-" * len(hdr))
    for wl in wls:
        mine = sorted((r for r in rows.values() if r.wl is wl),
                      key=lambda r: (r.workers, r.system != "serial", r.system))
        for r in mine:
            notes = []
            if r.failed:
                notes.append("FAILED: " + r.failed if r.failed != "missing" else "not built")
            if r.outcome:
                notes.append(r.outcome)
            if r.idle_pct is not None:
                notes.append(f"idle CPU {r.idle_pct:.2f}% of one CPU")
            per = "-"
            if r.unit_median is not None:
                per = f"{fmt_time(r.unit_median)}/{wl.unit}"
                if wl.unit in ("task", "item", "node"):
                    per = f"{1e9 / r.unit_median:.3g}/s"
            rng = f"{fmt_time(r.lo)}-{fmt_time(r.hi)}" if r.lo is not None else "-"
            vs_s = f"{r.vs_serial:.3g}x" if r.vs_serial else "-"
            vs_b = f"{r.vs_best:.3g}x" if r.vs_best else "-"
            print(f"{wl.name:<10} {r.system:<17} {r.workers:>1} {fmt_time(r.median):>9} "
                  f"{rng:>19} {per:>16} {vs_s:>9} {vs_b:>8} {r.rss_kb / 1024:7.1f}  "
                  + "; ".join(notes))
        print(f"{'':<10} ({wl.note})")
    print("vs serial: serial time / this time (per unit). vs best: the fastest other "
          "system's time / this time at the same worker count (>1: this one is faster).")


def fork_join_summary(rows):
    """Per-spawn overhead (T1 - Ts)/spawns, Ts/T1, T1/T2, Ts/T2 per system.
    spawns counts spawn operations (fib: internal calls, F(n+1) - 1); where the
    program reports calls (fib: 2 F(n+1) - 1), the overhead per call is shown too.
    ceiling = 2 Ts / Tpair (serial-pair): the T1/T2 of perfectly parallel code in
    this run, since a thread runs slower while the other vCPU is busy. own =
    2 T1 / T1pair (<system>-pair, where measured): the same for the system's
    own code, two 1-worker processes at once; T1/T2 below it is what the
    system's scheduling and sharing between workers cost."""
    out = []
    for wname in ("fib", "nqueens", "uts-deep", "uts-wide"):
        serial = next((r for r in rows.values() if r.wl.name == wname and r.system == "serial"),
                      None)
        if not serial or not serial.median or not serial.lines:
            continue
        ts = serial.median
        pair = rows.get((wname, "serial-pair", 2))
        ceiling = 2 * ts / pair.median if pair and pair.median else None
        spawns = int(serial.lines[0].get("spawns", 0))
        calls = int(serial.lines[0].get("calls", 0))
        systems = {r.system for r in rows.values() if r.wl.name == wname}
        for system in sorted(s for s in systems if s != "serial" and not s.endswith("-pair")):
            t1 = rows.get((wname, system, 1))
            t2 = rows.get((wname, system, 2))
            own = rows.get((wname, system + "-pair", 2))
            t1 = t1.median if t1 else None
            t2 = t2.median if t2 else None
            own = 2 * t1 / own.median if t1 and own and own.median else None
            out.append({"workload": wname, "system": system, "spawns": spawns,
                        "ns_per_spawn": (t1 - ts) / spawns if t1 and spawns else None,
                        "ns_per_call": (t1 - ts) / calls if t1 and calls else None,
                        "Ts/T1": ts / t1 if t1 else None,
                        "T1/T2": t1 / t2 if t1 and t2 else None,
                        "Ts/T2": ts / t2 if t2 else None, "ceiling": ceiling, "own": own})
    if not out:
        return out
    print("\nfork/join: overhead (T1-Ts)/spawns and /calls, work efficiency Ts/T1, "
          "speedup T1/T2, Ts/T2 (Ts = serial, Tn = n workers);\nceiling = 2 Ts / Tpair, "
          "Tpair = serial time with two copies running at once: the best T1/T2 this run allows;\n"
          "own = 2 T1 / T1pair, the same with two copies of the system's 1-worker program")
    print(f"{'workload':<10} {'system':<8} {'spawns':>10} {'ns/spawn':>9} {'ns/call':>8} "
          f"{'Ts/T1':>6} {'T1/T2':>6} {'Ts/T2':>6} {'ceiling':>7} {'own':>5}")
    f = lambda x, p=2: "-" if x is None else f"{x:.{p}f}"
    for o in out:
        print(f"{o['workload']:<10} {o['system']:<8} {o['spawns']:>10} "
              f"{f(o['ns_per_spawn'], 1):>9} {f(o['ns_per_call'], 1):>8} {f(o['Ts/T1']):>6} "
              f"{f(o['T1/T2']):>6} {f(o['Ts/T2']):>6} {f(o['ceiling']):>7} {f(o['own']):>5}")
    return out


def vcpu_summary(rows):
    """Ts/T1 of nqueens on each vCPU (the nq-vcpu workload)."""
    cpus = sorted({r.v.cpu for r in rows.values() if r.wl.name == NQ_VCPU})
    out = []
    for cpu in cpus:
        ts, t1 = (rows.get((NQ_VCPU, f"{s}@cpu{cpu}", 1)) for s in ("serial", "weft"))
        if ts and t1 and ts.median and t1.median:
            out.append({"cpu": cpu, "Ts": ts.median, "T1": t1.median,
                        "Ts/T1": ts.median / t1.median})
    if out:
        print("\nvCPU probe: nqueens pinned to one vCPU, serial (Ts) and weft at 1 worker "
              "(T1) in the same rounds")
        for o in out:
            print(f"  cpu{o['cpu']}: Ts {fmt_time(o['Ts'])}, T1 {fmt_time(o['T1'])}, "
                  f"Ts/T1 {o['Ts/T1']:.2f}")
    return out


def machine_header(args):
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cache = {}
    cache_path = os.path.join(os.path.dirname(args.bin_dir), "CMakeCache.txt")
    try:
        with open(cache_path) as f:
            for line in f:
                m = re.match(r"^(CMAKE_C_COMPILER|CMAKE_BUILD_TYPE|CMAKE_C_FLAGS|"
                             r"CMAKE_C_FLAGS_RELEASE):\w+=(.*)$", line.strip())
                if m:
                    cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    cc = cache.get("CMAKE_C_COMPILER", "cc")
    cc_version = (sh([cc, "--version"]).splitlines() or ["unknown"])[0]
    build = cache.get("CMAKE_BUILD_TYPE", "?")
    lib_flags = (cache.get("CMAKE_C_FLAGS", "") + " " +
                 cache.get(f"CMAKE_C_FLAGS_{build.upper()}", "")).strip()
    tbb = "unknown"
    try:
        with open("/usr/include/oneapi/tbb/version.h") as f:
            v = dict(re.findall(r"#define TBB_VERSION_(MAJOR|MINOR)\s+(\d+)", f.read()))
            tbb = f"{v.get('MAJOR')}.{v.get('MINOR')}"
    except OSError:
        pass
    allowed = len(os.sched_getaffinity(0))
    return [
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"machine: {model}; {os.cpu_count()} CPUs online, {allowed} in the affinity mask; "
        f"Linux {platform.release()}",
        f"compiler: {cc_version}; build type {build}; weft library flags: {lib_flags or '-'}; "
        f"bench programs: -O2 (given last, so it wins) -DNDEBUG, no -march",
        f"peers: oneTBB {tbb}, OpenMP libgomp (gcc), Python {platform.python_version()}",
        "pin policy: none (WEFT_PIN_NONE; OMP_PROC_BIND unset; TBB default); workers = "
        "threads that run tasks (TBB/OpenMP count the main thread; weft's main thread "
        "only submits and waits)",
        "peak RSS: VmHWM of the benchmark process (py-process: plus its worker processes), "
        "read by the program at each report line",
        f"mode: {'quick (smoke test: sizes too small for timing claims)' if args.quick else 'default'}",
    ]


def write_csv(path, header, wls, rows):
    with open(path, "w", newline="") as f:
        for h in header:
            f.write(f"# {h}\n")
        w = csv.writer(f)
        w.writerow(["workload", "system", "workers", "samples", "median_ns", "min_ns", "max_ns",
                    "unit", "median_ns_per_unit", "vs_serial", "vs_best_other", "peak_rss_kb",
                    "idle_cpu_pct", "outcome", "status"])
        for wl in wls:
            for r in sorted((r for r in rows.values() if r.wl is wl),
                            key=lambda r: (r.workers, r.system)):
                g = lambda x, p=4: "" if x is None else f"{x:.{p}f}"
                w.writerow([wl.name, r.system, r.workers, len(r.samples), g(r.median, 0),
                            r.lo or "", r.hi or "", wl.unit, g(r.unit_median, 3),
                            g(r.vs_serial), g(r.vs_best), r.rss_kb, g(r.idle_pct, 3),
                            r.outcome or ("done" if r.samples else ""),
                            r.failed or "ok"])


def scale_for(values):
    """A time unit that keeps a panel's numbers readable: (name, divisor)."""
    top = max(values) if values else 1
    for name, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if top >= 10 * div:
            return name, div
    return "ns", 1


def write_png(path, header, wls, rows):
    """One panel per workload: time per unit for each system at 1 and 2
    workers, log scale, lower is better. Deadlocks and failures are labelled."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no chart", file=sys.stderr)
        return False
    tmp = tempfile.mkdtemp(prefix="weft-bench-")
    panels = []
    for i, wl in enumerate(w for w in wls if w.chart):
        mine = [r for r in rows.values() if r.wl is wl]
        systems = list(dict.fromkeys(v.system for v in wl.variants))
        unit, div = scale_for([r.unit_median for r in mine if r.unit_median])
        labels = []
        dat = os.path.join(tmp, f"{i}.dat")
        with open(dat, "w") as f:
            for x, s in enumerate(systems):
                vals, notes = [], set()
                for w in (1, 2):
                    r = next((r for r in mine if r.system == s and r.workers == w), None)
                    if r is None and w == 2:  # serial runs once: show it at both counts
                        r = next((r for r in mine if r.system == s and r.v.serial), None)
                    vals.append(f"{r.unit_median / div:.6g}" if r and r.unit_median else "?")
                    if r and r.outcome:
                        notes.add(r.outcome.split(" (")[0])
                    elif r and r.failed:
                        notes.add("not built" if r.failed == "missing" else "FAILED")
                f.write(f"\"{s}\" {vals[0]} {vals[1]}\n")
                if notes:
                    labels.append((x, ", ".join(sorted(notes))))
        shown = [r.unit_median / div for r in mine if r.unit_median]
        # Log-scale bars start at the axis: put it well below the shortest bar.
        ymin = 10 ** math.floor(math.log10(min(shown) / 2)) if shown else 1
        panels.append((dat, f"{wl.name}: {unit} per {wl.unit}", labels, ymin))
    cols = 3
    nrows = (len(panels) + cols - 1) // cols
    title = "\\n".join(h.replace('"', "'") for h in header[:3])
    script = [
        f"set terminal pngcairo size {cols * 620},{nrows * 400 + 110} font 'sans,10'",
        f"set output '{path}'",
        "set datafile missing '?'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set logscale y",
        "set format y '%g'",
        "set grid ytics",
        "set xtics rotate by -25 nomirror",
        "set key top left",
        f"set multiplot layout {nrows},{cols} title \"{title}\\nlower is better; log scale; "
        "serial ran once and is shown at both worker counts\" font 'sans,10'",
    ]
    for dat, ptitle, labels, ymin in panels:
        script += ["unset label", f"set yrange [{ymin:g}:*]"]
        for x, text in labels:
            script.append(f"set label \"{text}\" at {x}, graph 0.06 center textcolor "
                          "rgb '#aa3377'")
        script += [f"set title \"{ptitle}\"",
                   f"plot '{dat}' using 2:xtic(1) title '1 worker' lc rgb '#4477aa', "
                   f"'' using 3 title '2 workers' lc rgb '#ee6677'"]
    script.append("unset multiplot")
    gp = os.path.join(tmp, "chart.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    res = subprocess.run([gnuplot, gp], capture_output=True, text=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if res.returncode != 0:
        print("gnuplot failed: " + res.stderr.strip()[-400:], file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, one round: a correctness smoke test in < 1 minute")
    ap.add_argument("--bin-dir", default=os.environ.get("WEFT_BENCH_BIN",
                                                        os.path.join(ROOT, "build", "bench",
                                                                     "bench")),
                    help="directory with the built programs (default: build/bench/bench)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--rounds", type=int, default=0,
                    help="interleaved rounds (default 2, quick 1)")
    ap.add_argument("--only", default="", help="comma-separated workloads to run")
    ap.add_argument("--allow-missing", action="store_true",
                    help="skip programs that were not built instead of failing")
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)

    t_start = time.monotonic()
    only = set(filter(None, args.only.split(",")))
    py_iters = 1
    if not only or "cpubatch" in only:
        # Pure-Python iterations for ~20 ms, measured once for every Python run.
        res = subprocess.run([sys.executable, PEERS, "calibrate", "--ms", "20"],
                             capture_output=True, text=True)
        py_iters = int(res.stdout.strip() or 1)
    wls = [wl for wl in workloads(args.quick, py_iters) if not only or wl.name in only]
    if only - {wl.name for wl in wls}:
        ap.error(f"unknown workloads: {', '.join(sorted(only - {wl.name for wl in wls}))}")

    header = machine_header(args)
    for h in header:
        print(h)
    print(file=sys.stderr)
    rows, failures = run_all(args, wls)
    summarize(rows)
    print()
    print_table(wls, rows)
    fork_join_summary(rows)
    vcpu_summary(rows)

    os.makedirs(args.out_dir, exist_ok=True)
    # --quick (the CI smoke run) must not overwrite the published results.
    stem = "quick" if args.quick else "latest"
    csv_path = os.path.join(args.out_dir, stem + ".csv")
    png_path = os.path.join(args.out_dir, stem + ".png")
    write_csv(csv_path, header, wls, rows)
    png_ok = write_png(png_path, header, wls, rows)
    print(f"\nwrote {os.path.relpath(csv_path)}" +
          (f" and {os.path.relpath(png_path)}" if png_ok else ""))
    print(f"total time {time.monotonic() - t_start:.0f} s")
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
