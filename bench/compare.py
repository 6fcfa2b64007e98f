#!/usr/bin/env python3
"""Run the weft benchmarks against their peers and compare.

Runs every workload for every system (weft, oneTBB, OpenMP, serial C, Python
concurrent.futures) at 1 and 2 workers. Each (workload, system, workers) cell
runs as its own processes, interleaved: each round visits the systems in a
rotated order, and the samples of all rounds are pooled into a median and a
min-max range. The peers' cells have a time budget (--cell-budget: no more
processes once a cell has used it) and a hard cap (--hard-cap: a process still
running then is killed; with no sample yet the cell reads ">cap").

Prints a table (ratios vs serial and vs the best other system) and writes a
run folder (default: a new bench/out/<UTC time>/): results.csv, results.json,
chart.png (when gnuplot is installed) and report.md (bench/report.py); with
the proxy (not with --quick or --only, unless --only names "proxy") also
proxy.md, proxy.csv and proxy.log. Progress goes to stderr.
Builds nothing: run bench/run, or build with -DWEFT_BUILD_BENCH=ON first.
Exits 1 if any program failed its correctness check (or crashed, or timed out).

    python3 bench/compare.py            # default run
    python3 bench/compare.py --quick    # smoke test, no timing claims
"""

import argparse
import collections
import csv
import datetime
import json
import os
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

import report  # noqa: E402  (bench/report.py: machine facts, report.md, chart)


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


DEFAULT_ROUNDS = 2  # interleaved rounds of a workload that sets none


class Workload:
    """rounds: how many interleaved rounds the default run gives it; the
    short fork/join programs get more, because a process's speed varies from
    process to process (see bench/README.md), so their medians should pool
    many processes. title: a short description (report, headline, chart).
    headline: weft's variant in the report's headline table. chart: draw a
    panel in the PNG."""

    def __init__(self, name, unit, variants, note="", rounds=DEFAULT_ROUNDS, chart=True,
                 title="", headline="weft"):
        self.name, self.unit, self.variants, self.note = name, unit, variants, note
        self.rounds, self.chart = rounds, chart
        self.title, self.headline = title or name, headline


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
                    title=f"nqueens({nq_n}) pinned to one vCPU at a time",
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

    rt_reps, rt_idle = (3, 50) if q else (5, 200)
    batch_n, batch_py = (100000, 10000) if q else (1000000, 50000)
    fib_n = 27 if q else 37
    nq_n = 10 if q else 12
    tree = "-small" if q else ""
    map_n = 1000000 if q else 10000000
    lm_n = 1000000 if q else 100000000
    cb_n = 16 if q else 64
    fm_n, fm_py_thread, fm_py_c1, fm_py_c1000 = ((100000, 5000, 2000, 20000) if q
                                                 else (1000000, 50000, 10000, 100000))
    nf_n = 18 if q else 25
    flat_n = 100000 if q else 1000000
    coarse_ms = 10 if q else 100
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
                "the machine's lower bound; the same program at both w)",
           title=f"round trip after {rt_idle} ms idle"),
        Workload("batch", "task", [
            Variant("serial", c("batch_seq", "--n", batch_n, "--reps", r + 1),
                    unit_field="tasks", serial=True),
            Variant("weft", c("batch_weft", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("weft-bulk", c("batch_weft", "--n", batch_n, "--reps", r, "--bulk", 1),
                    unit_field="tasks"),
            Variant("tbb", c("batch_tbb", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("omp", c("batch_omp", "--n", batch_n, "--reps", r), unit_field="tasks"),
            Variant("py-thread", py("batch", "--n", batch_py, "--reps", 1), unit_field="tasks",
                    python=True),
        ], note=f"{batch_n:,} tasks of ~100 ns from one thread, then all awaited; "
                f"Python: {batch_py:,} no-op tasks, compare per task",
           title=f"{batch_n:,} tasks of ~100 ns, a future each"),
        Workload("fib", "run", [
            *with_pair(Variant("serial", c("fib_seq", "--n", fib_n, "--reps", 3), serial=True)),
            *with_pair(Variant("weft", c("fib_weft", "--n", fib_n, "--reps", r))),
            Variant("tbb", c("fib_tbb", "--n", fib_n, "--reps", 1)),
            Variant("omp", c("fib_omp", "--n", fib_n, "--reps", 1)),
        ], note=f"fib({fib_n}), no cutoff, one spawn per internal call",
           title=f"fib({fib_n}), a spawn per call"),
        Workload("flat", "run", [
            *with_pair(Variant("serial", c("flat_seq", "--n", flat_n, "--reps", 5), serial=True)),
            *with_pair(Variant("weft", c("flat_weft", "--n", flat_n, "--reps", 5))),
            Variant("tbb", c("flat_tbb", "--n", flat_n, "--reps", 2)),
            Variant("omp", c("flat_omp", "--n", flat_n, "--reps", 2)),
        ], note=f"one task spawns {flat_n:,} children of ~20 ns each into one group, then "
                "syncs them: how work reaches thieves when a single task makes all of it",
           title=f"{flat_n:,} children of ~20 ns spawned by one task"),
        Workload("coarse", "run", [
            Variant("serial", c("coarse_seq", "--ms", coarse_ms, "--reps", 3), serial=True),
            Variant("weft", c("coarse_weft", "--ms", coarse_ms, "--reps", 3)),
            Variant("weft-spawn", c("coarse_weft", "--ms", coarse_ms, "--reps", 3,
                                    "--variant", "spawn")),
        ], note=f"two leaves of ~{coarse_ms} ms CPU after 50 ms idle: weft_join (weft) or "
                "spawn A, call B, sync (weft-spawn), the root by weft_run from main; on 2 "
                "workers the sleeping worker must get A while B runs",
           title=f"two {coarse_ms} ms leaves forked after idling"),
        Workload("nqueens", "run", [
            *with_pair(Variant("serial", c("nqueens_seq", "--n", nq_n, "--reps", 5),
                               serial=True)),
            *with_pair(Variant("weft", c("nqueens_weft", "--n", nq_n, "--reps", 3))),
            Variant("tbb", c("nqueens_tbb", "--n", nq_n, "--reps", 3)),
            Variant("omp", c("nqueens_omp", "--n", nq_n, "--reps", 3)),
        ], note=f"nqueens({nq_n}), one spawn per valid placement", rounds=6,
           title=f"nqueens({nq_n}), a spawn per placement"),
        vcpu_probe(c, nq_n),
        *[Workload(f"uts-{t}", "node", [
            *with_pair(Variant("serial", c("uts_seq", "--tree", t + tree, "--reps", r),
                               unit_field="nodes", serial=True)),
            *with_pair(Variant("weft", c("uts_weft", "--tree", t + tree, "--reps", r),
                               unit_field="nodes")),
            Variant("tbb", c("uts_tbb", "--tree", t + tree, "--reps", r), unit_field="nodes"),
            Variant("omp", c("uts_omp", "--tree", t + tree, "--reps", r), unit_field="nodes"),
        ], note=f"UTS {t + tree} tree, one spawn per child, ~100 ns per node", rounds=3,
           title=f"UTS {t + tree} tree ({shape})")
          for t, shape in (("deep", "binomial"), ("wide", "geometric"))],
        Workload("map", "item", [
            Variant("serial", c("map_seq", "--n", map_n, "--reps", 5), unit_field="n",
                    serial=True),
            Variant("weft", c("map_weft", "--n", map_n, "--reps", 5), unit_field="n"),
            Variant("weft-pmap", c("map_weft", "--variant", "pmap", "--n", map_n, "--reps", 5),
                    unit_field="n"),
            Variant("tbb", c("map_tbb", "--n", map_n, "--reps", 5), unit_field="n"),
            Variant("omp", c("map_omp", "--n", map_n, "--reps", 5), unit_field="n"),
        ], note=f"out[i] = splitmix64(in[i]) over {map_n:,} uint64; weft = parallel_for, "
                "weft-pmap = parallel_map", rounds=3,
           title=f"map over {map_n:,} uint64 (parallel_for)"),
        Workload("lazymap", "item", [
            Variant("serial", c("lazymap_seq", "--n", lm_n, "--reps", 2), unit_field="n",
                    serial=True),
            Variant("weft", c("lazymap_weft", "--n", lm_n, "--reps", 2), unit_field="n"),
            Variant("weft-item", c("lazymap_weft", "--variant", "item", "--n", lm_n,
                                   "--reps", 2), unit_field="n"),
            Variant("weft-map", c("lazymap_weft", "--variant", "eager", "--n", lm_n,
                                  "--reps", 2), unit_field="n"),
            Variant("tbb", c("lazymap_tbb", "--n", lm_n, "--reps", 2), unit_field="n"),
            Variant("omp", c("lazymap_omp", "--n", lm_n, "--reps", 2), unit_field="n"),
        ], note=f"sum of splitmix64(item(i)) over {lm_n:,} items made as needed and consumed "
                "in order, at most 10,000 in flight; weft = weft_map_iter (input callback, "
                "results read in place), weft-item = one next per result, weft-map = the eager "
                "weft_map over arrays (memory grows with n)",
           title=f"lazy map over {lm_n:,} items, window 10,000"),
        Workload("cpubatch", "run", [
            Variant("serial", c("cpubatch_seq", "--n", cb_n, "--reps", 1), serial=True),
            Variant("weft", c("cpubatch_weft", "--n", cb_n, "--reps", 1)),
            Variant("py-thread", py("cpubatch", "--executor", "thread", "--n", cb_n,
                                    "--iters", py_iters, "--reps", 1), python=True),
            Variant("py-process", py("cpubatch", "--executor", "process", "--n", cb_n,
                                     "--iters", py_iters, "--reps", 1), python=True),
        ], note=f"{cb_n} tasks of ~20 ms CPU (C: integer spin; Python: pure-Python loop "
                "calibrated to ~20 ms); py-thread holds the GIL, so it cannot scale",
           title=f"{cb_n} tasks of ~20 ms CPU"),
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
                f"{fm_py_c1000:,}; ThreadPoolExecutor ignores chunksize); compare per item",
           title=f"futures map over {fm_n:,} items, automatic chunks", headline="weft-auto"),
        Workload("nestedfib", "run", [
            Variant("weft", c("nestedfib_weft", "--n", nf_n, "--reps", r)),
            Variant("py-thread", py("nestedfib", "--n", nf_n, "--timeout", 5 if q else 10,
                                    "--stable", 0.3 if q else 0.5),
                    python=True, timeout=15, timeout_is_deadlock=True),
        ], note=f"fib({nf_n}) by nested submit + blocking wait inside tasks",
           title=f"fib({nf_n}) by nested submit and wait"),
    ]


# ---- running ------------------------------------------------------------------

LINE = re.compile(r"^bench=\S+ ")
PEER_FAMILIES = ("tbb", "omp", "py-thread", "py-process")


def parse_line(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def reap(p, deadline, tick=None):
    """Wait for p until the monotonic deadline, then kill its process group.
    Returns its exit status, or None if it was killed. Calls tick() about
    twice a second meanwhile."""
    rc = None
    next_tick = time.monotonic() + 0.5
    while True:
        pid, status, _ = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            break
        if tick and time.monotonic() > next_tick:
            tick()
            next_tick += 0.5
        time.sleep(0.005)
    p.returncode = rc if rc is not None else -9  # reaped here: stop Popen from waiting
    return rc


def run_process(argv, timeout, copies=1, cpu=None, tick=None):
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
        rcs = [reap(p, t0 + timeout, tick) for p in ps]  # the copies run meanwhile
        wall = time.monotonic() - t0
        rc = None if None in rcs else next((r for r in rcs if r != 0), 0)
        out.seek(0)
        err.seek(0)
        return rc, out.read(), err.read(), wall


def capped_peer(v):
    """The cells that get a time budget and a hard cap: the peers' own runs.
    weft, the serial baselines and the pair probes are never cut short (a
    weft program that runs too long is a failure, not a capped cell)."""
    return family(v.system) in PEER_FAMILIES and v.copies == 1 and not v.timeout_is_deadlock


class Row:
    def __init__(self, wl, v, workers):
        self.wl, self.v, self.workers = wl, v, workers
        self.system = v.system
        self.samples = []       # ns per repetition
        self.unit_samples = []  # ns per unit (task, item, node) or per run
        self.units = set()      # units per repetition (1 for a run)
        self.walls = []         # seconds per process
        self.lines = []
        self.rss_kb = 0
        self.outcome = ""
        self.failed = ""
        self.cut = False        # fewer processes or repetitions than planned (cap)
        self.cap_first = False  # killed at the hard cap before its first sample
        self.median = self.unit_median = self.lo = self.hi = None
        self.vs_serial = self.vs_best = self.idle_pct = None
        self.best_other = ""
        self.capped = ""


def rounds_of(args, wl):
    return args.rounds if args.rounds else (1 if args.quick else wl.rounds)


def make_plan(args, wls):
    """Every process of the run, in order: (round, workload, workers, variant,
    the workers it is shown at). Each round visits every workload; per
    workload and worker count the variants run in an order rotated by one
    every round."""
    worker_counts = [int(w) for w in args.workers.split(",")]
    plan = []
    for rnd in range(max((rounds_of(args, wl) for wl in wls), default=1)):
        for wl in wls:
            if rnd >= rounds_of(args, wl):
                continue
            for w in worker_counts:
                vs = [v for v in wl.variants if not (v.serial and w != worker_counts[0])
                      and v.only_w in (None, w)]
                k = rnd % len(vs) if vs else 0
                for v in vs[k:] + vs[:k]:
                    plan.append((rnd, wl, w, v, 1 if v.serial else w))
    return plan


def show_path(path):
    """path relative to the current folder when it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def fmt_clock(s):
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}"


class Progress:
    """One progress line on stderr for the whole run: steps done and total
    (a step is one process of a cell, or one step of the proxy), cells
    finished, the time so far and an estimate of the time left. Rewritten in
    place on a terminal; elsewhere printed every ~10 %."""

    def __init__(self, total, cells, stream=sys.stderr):
        self.total, self.done, self.cells, self.cells_done = total, 0, cells, 0
        self.stream, self.tty = stream, stream.isatty()
        self.t0 = time.monotonic()
        self.left = None
        self.next_pct = 10
        self.shown = False
        self.what, self.since = "", self.t0
        self.printed = -1  # the step of the last line printed (not on a terminal)

    def line(self, what=""):
        left = "" if self.left is None else \
            f", ~{fmt_clock(self.left - (time.monotonic() - self.since))} left"
        return (f"bench: step {self.done}/{self.total}, cells {self.cells_done}/{self.cells}, "
                f"{fmt_clock(time.monotonic() - self.t0)} elapsed{left}"
                + (f"  [{what}]" if what and self.tty else ""))

    def show(self, what=""):
        self.what, self.since = what, time.monotonic()
        self.draw()

    def tick(self):
        """While a process runs: the clock and the estimate move on."""
        if self.tty:
            self.draw()

    def draw(self):
        what = self.what
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\033[K" + self.line(what)[:width])
            self.stream.flush()
            self.shown = True
        elif self.total and 100 * self.done >= self.next_pct * self.total:
            print(self.line(), file=self.stream, flush=True)
            self.printed = self.done
            self.next_pct = 100 * self.done // self.total // 10 * 10 + 10

    def note(self, msg):
        """A line of its own (a failure), above the progress line."""
        if self.tty and self.shown:
            self.stream.write("\r\033[K")
        print(msg, file=self.stream, flush=True)

    def finish(self):
        self.left = None
        if self.tty and self.shown:
            self.stream.write("\r\033[K" + self.line() + "\n")
        elif not self.tty and self.printed != self.done:
            print(self.line(), file=self.stream)
            self.printed = self.done
        self.stream.flush()


def load_prior(path):
    """Process times recorded in the run folder of the same mode that
    bench/out/latest(-quick) names (its results.json),
    for the estimate of the time left: {(workload, system, workers): mean s}
    and the proxy's step times."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, {}
    cells = {}
    for wl in data.get("workloads", []):
        for r in wl["rows"]:
            if r.get("walls"):
                cells[(wl["name"], r["system"], r["workers"])] = statistics.mean(r["walls"])
    return cells, data.get("proxy") or {}


def estimate_left(plan, i, rows, prior, args):
    """Seconds the processes plan[i:] should take: a cell's mean so far, else
    its mean in the recorded run folder, else the mean process of this run; nothing
    for a cell the caps will skip."""
    done = [w for r in rows.values() for w in r.walls]
    fallback = statistics.mean(done) if done else 1.0
    left = 0.0
    for _, wl, _, v, wshown in plan[i:]:
        row = rows[(wl.name, v.system, wshown)]
        if row.failed or row.cap_first or row.cut:
            continue
        if row.walls:
            if capped_peer(v) and args.cell_budget and sum(row.walls) >= args.cell_budget:
                continue
            left += statistics.mean(row.walls)
        else:
            left += prior.get((wl.name, v.system, wshown), fallback)
    return left


def run_cell(args, row, argv, v, progress, failures):
    """One process of a cell; its samples go to row."""
    key = (row.wl.name, row.system, row.workers)
    capped = capped_peer(v) and args.hard_cap > 0 and args.hard_cap < v.timeout
    timeout = args.hard_cap if capped else v.timeout
    rc, out, err, wall = run_process(argv, timeout, v.copies, v.cpu, progress.tick)
    row.walls.append(wall)
    if rc is None and v.timeout_is_deadlock:
        row.outcome = f"deadlock (no answer in {v.timeout} s; killed)"
        return
    problems = []
    if rc is None and not capped:
        problems.append(f"timed out after {v.timeout} s")
    elif rc is not None and rc != 0:
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
        row.units.add(units)
    if rc is None and capped:
        # Killed at the hard cap: keep what it printed, run the cell no more.
        row.cut = True
        row.cap_first = not row.samples
    elif got == 0 and not problems:
        problems.append("printed no result line")
    if problems:
        msg = "; ".join(problems)
        tail = " | ".join(err.strip().splitlines()[-3:])
        row.failed = msg
        failures.append(f"{key}: {msg}{': ' + tail if tail else ''}")
        progress.note(f"FAILED {row.wl.name} {row.system} w={row.workers}: {msg}")


def run_all(args, wls, plan, progress, prior):
    rows = {}
    for _, wl, _, v, wshown in plan:
        rows.setdefault((wl.name, v.system, wshown), Row(wl, v, wshown))
    left_in_cell = collections.Counter((wl.name, v.system, ws) for _, wl, _, v, ws in plan)
    failures = []
    for i, (rnd, wl, w, v, wshown) in enumerate(plan):
        key = (wl.name, v.system, wshown)
        row = rows[key]
        progress.left = estimate_left(plan, i, rows, prior, args) + args.left_after
        progress.show(f"{wl.name} {v.system} w={wshown}, round {rnd + 1}/{rounds_of(args, wl)}")
        argv = [a.replace("{w}", str(w)) for a in v.argv]
        runnable = not (row.failed or row.cap_first or (row.cut and capped_peer(v)))
        if runnable and capped_peer(v) and args.cell_budget and \
                sum(row.walls) >= args.cell_budget:
            row.cut, runnable = True, False
        if runnable and not v.python:
            exe = os.path.join(args.bin_dir, argv[0])
            if not os.path.exists(exe):
                row.failed = "missing"
                if not args.allow_missing:
                    failures.append(f"{key}: {exe} not built")
                runnable = False
            argv[0] = exe
        if runnable:
            run_cell(args, row, argv, v, progress, failures)
        progress.done += 1
        left_in_cell[key] -= 1
        if left_in_cell[key] == 0:
            progress.cells_done += 1
    return rows, failures


PROXY_STEP = re.compile(r"^bench/proxy/run: (built in|\S+, \d+ workers:)")
PROXY_PLAN = re.compile(r"^bench/proxy/run: (\d+) configurations")


SPAWNCOST_LINE = re.compile(r"^\s*(serial fib|weft, a spawn)[^:]*:\s*([0-9.]+)")


def run_spawncost(args):
    """bench/spawncost on the bench programs of this build: instructions per
    spawn+sync by callgrind, into spawncost.txt. Returns {"serial", "weft"}
    per call of fib, or None if it failed."""
    path = os.path.join(args.out_dir, "spawncost.txt")
    with open(path, "w") as out:
        rc = subprocess.call(["bash", os.path.join(HERE, "spawncost"), args.bin_dir],
                             stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        return None
    found = {}
    with open(path) as f:
        for line in f:
            m = SPAWNCOST_LINE.match(line)
            if m:
                found["serial" if m.group(1) == "serial fib" else "weft"] = float(m.group(2))
    return found if len(found) == 2 else None


def run_proxy(args, progress, prior):
    """bench/proxy/run into the run folder: proxy.md (its report), proxy.csv,
    proxy.log (its stderr). Its steps (the build, each configuration) count
    in the progress line. Returns (ok, {"build_s", "step_s", "total_s"})."""
    env = dict(os.environ, PROXY_CSV=os.path.join(args.out_dir, "proxy.csv"))
    t0 = last = time.monotonic()
    info = {"build_s": None, "step_s": [], "total_s": None}
    steps_left = args.proxy_steps
    prior_step = statistics.mean(prior.get("step_s") or [3.5])
    prior_build = prior.get("build_s") or 15

    def left():
        step = statistics.mean(info["step_s"]) if info["step_s"] else prior_step
        return (steps_left - (info["build_s"] is None)) * step + \
            (prior_build if info["build_s"] is None else 0)

    with open(os.path.join(args.out_dir, "proxy.md"), "w") as md, \
            open(os.path.join(args.out_dir, "proxy.log"), "w") as log:
        p = subprocess.Popen(["bash", os.path.join(HERE, "proxy", "run"), args.proxy],
                             stdout=md, stderr=subprocess.PIPE, text=True, env=env)
        progress.left = left()
        progress.show("proxy: build")
        for line in p.stderr:
            log.write(line)
            log.flush()
            m = PROXY_PLAN.match(line)
            if m:  # the proxy's own count of configurations (+ its build)
                progress.total += int(m.group(1)) + 1 - args.proxy_steps
                steps_left += int(m.group(1)) + 1 - args.proxy_steps
            if PROXY_STEP.match(line):
                now = time.monotonic()
                if info["build_s"] is None:
                    info["build_s"] = now - last
                else:
                    info["step_s"].append(now - last)
                last = now
                steps_left -= 1
                progress.done += 1
                progress.left = left()
                progress.show("proxy: " + line.split(": ", 1)[1].split(":")[0].strip())
        rc = p.wait()
    info["total_s"] = time.monotonic() - t0
    if rc != 0:
        with open(os.path.join(args.out_dir, "proxy.log")) as f:
            tail = f.read().strip().splitlines()[-15:]
        progress.note("FAILED bench/proxy/run (exit status %d); the end of %s:\n  %s" % (
            rc, show_path(os.path.join(args.out_dir, "proxy.log")), "\n  ".join(tail)))
    return rc == 0, info


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


def summarize(rows, args):
    """Medians per row, then ratios within each (workload, workers), and the
    caps' labels."""
    for row in rows.values():
        row.median = med(row.samples)
        row.unit_median = med(row.unit_samples)
        row.lo = min(row.samples) if row.samples else None
        row.hi = max(row.samples) if row.samples else None
        n = len(row.samples)
        row.capped = (f"> {args.hard_cap:g} s" if row.cap_first else
                      f"capped after {n} sample{'s' if n != 1 else ''}" if row.cut else "")
    for row in rows.values():
        serial = next((r for r in rows.values() if r.wl is row.wl and r.system == "serial"),
                      None)
        row.vs_serial = (serial.unit_median / row.unit_median
                         if serial and serial.unit_median and row.unit_median else None)
        others = [r for r in rows.values()
                  if r.wl is row.wl and r.workers == row.workers and r.unit_median
                  and competes(r) and family(r.system) != family(row.system)]
        best = min(others, key=lambda r: r.unit_median, default=None)
        if best and row.unit_median and competes(row):
            row.vs_best, row.best_other = best.unit_median / row.unit_median, best.system
        if row.wl.name == "roundtrip" and row.lines:
            idle = sum(int(d["idle_ns"]) for d in row.lines)
            cpu = sum(int(d["idle_cpu_ns"]) for d in row.lines)
            row.idle_pct = 100.0 * cpu / idle if idle else None


def row_notes(r):
    notes = []
    if r.failed:
        notes.append("FAILED: " + r.failed if r.failed != "missing" else "not built")
    if r.capped:
        notes.append(r.capped if not r.cap_first else f"killed at the hard cap ({r.capped})")
    if r.outcome:
        notes.append(r.outcome)
    if r.idle_pct is not None:
        notes.append(f"idle CPU {r.idle_pct:.2f}% of one CPU")
    return notes


FAMILY_ORDER = ("serial", "floor", "weft", "tbb", "omp", "py-thread", "py-process")


def sorted_rows(wl, rows):
    """By worker count, then serial, weft, the peers; pairs last."""
    rank = lambda r: FAMILY_ORDER.index(family(r.system)) if family(r.system) in FAMILY_ORDER \
        else len(FAMILY_ORDER)
    return sorted((r for r in rows.values() if r.wl is wl),
                  key=lambda r: (r.workers, r.v.copies, rank(r), r.system))


def print_table(wls, rows):
    hdr = (f"{'workload':<10} {'system':<17} {'w':>1} {'median':>9} {'range (min-max)':>19} "
           f"{'per unit':>16} {'vs serial':>9} {'vs best':>8} {'RSS MB':>7}  notes")
    print(hdr)
    print("-" * len(hdr))
    for wl in wls:
        for r in sorted_rows(wl, rows):
            per = "-"
            if r.unit_median is not None:
                per = f"{fmt_time(r.unit_median)}/{wl.unit}"
                if wl.unit in ("task", "item", "node"):
                    per = f"{1e9 / r.unit_median:.3g}/s"
            rng = f"{fmt_time(r.lo)}-{fmt_time(r.hi)}" if r.lo is not None else "-"
            vs_s = f"{r.vs_serial:.3g}x" if r.vs_serial else "-"
            vs_b = f"{r.vs_best:.3g}x" if r.vs_best else "-"
            median = r.capped if r.cap_first else fmt_time(r.median)
            print(f"{wl.name:<10} {r.system:<17} {r.workers:>1} {median:>9} "
                  f"{rng:>19} {per:>16} {vs_s:>9} {vs_b:>8} {r.rss_kb / 1024:7.1f}  "
                  + "; ".join(row_notes(r)))
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
    for wname in ("fib", "flat", "nqueens", "uts-deep", "uts-wide"):
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


def write_csv(path, header, wls, rows):
    with open(path, "w", newline="") as f:
        for h in header:
            f.write(f"# {h}\n")
        w = csv.writer(f)
        w.writerow(["workload", "system", "workers", "samples", "median_ns", "min_ns", "max_ns",
                    "unit", "median_ns_per_unit", "vs_serial", "vs_best_other", "best_other",
                    "peak_rss_kb", "idle_cpu_pct", "capped", "outcome", "status"])
        for wl in wls:
            for r in sorted_rows(wl, rows):
                g = lambda x, p=4: "" if x is None else f"{x:.{p}f}"
                w.writerow([wl.name, r.system, r.workers, len(r.samples), g(r.median, 0),
                            r.lo or "", r.hi or "", wl.unit, g(r.unit_median, 3),
                            g(r.vs_serial), g(r.vs_best), r.best_other, r.rss_kb,
                            g(r.idle_pct, 3), r.capped,
                            r.outcome or ("done" if r.samples else ""), r.failed or "ok"])


def reps_of(v):
    return int(v.argv[v.argv.index("--reps") + 1]) if "--reps" in v.argv else 1


def row_json(r):
    return {"system": r.system, "family": family(r.system), "workers": r.workers,
            "serial": r.v.serial, "copies": r.v.copies, "competes": competes(r),
            "reps_per_process": reps_of(r.v), "samples": r.samples,
            "units": sorted(r.units), "median": r.median, "lo": r.lo, "hi": r.hi,
            "unit_median": r.unit_median, "vs_serial": r.vs_serial, "vs_best": r.vs_best,
            "best_other": r.best_other, "rss_kb": r.rss_kb, "idle_pct": r.idle_pct,
            "outcome": r.outcome, "failed": r.failed, "capped": r.capped,
            "cap_first": r.cap_first, "capped_peer": capped_peer(r.v), "walls": r.walls,
            "argv": [os.path.basename(a) if i < 2 else a for i, a in enumerate(
                a for a in r.v.argv if a != sys.executable)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, one round: a correctness smoke test")
    ap.add_argument("--bin-dir", default=os.environ.get("WEFT_BENCH_BIN",
                                                        os.path.join(ROOT, "build", "bench",
                                                                     "bench")),
                    help="directory with the built programs (default: build/bench/bench)")
    ap.add_argument("--out-dir", default="",
                    help="the run folder (default: a new bench/out/<UTC time>[-quick])")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--rounds", type=int, default=0,
                    help="interleaved rounds of every workload (default: the workload's own, "
                         "quick 1)")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads to run; 'proxy' names the proxy")
    ap.add_argument("--allow-missing", action="store_true",
                    help="skip programs that were not built instead of failing")
    ap.add_argument("--cell-budget", type=float, default=4.0, metavar="S",
                    help="seconds of processes a peer's cell may use: once used, it runs "
                         "no more (default 4; 0: no budget)")
    ap.add_argument("--hard-cap", type=float, default=8.0, metavar="S",
                    help="a peer's process still running after S seconds is killed, and the "
                         "cell runs no more (default 8; 0: no cap)")
    ap.add_argument("--proxy", default="", metavar="BUILD_DIR",
                    help="also run bench/proxy/run, building into BUILD_DIR (not with "
                         "--quick, nor with --only unless it names 'proxy')")
    ap.add_argument("--command", default="", help=argparse.SUPPRESS)       # for the report
    ap.add_argument("--started", type=float, default=0, help=argparse.SUPPRESS)  # epoch s
    ap.add_argument("--build-seconds", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    started = args.started or time.time()
    t_start = time.monotonic()

    only = set(filter(None, args.only.split(",")))
    with_proxy = bool(args.proxy) and not args.quick and (not only or "proxy" in only)
    only.discard("proxy")
    py_iters = 1
    if (not only and not args.only) or "cpubatch" in only:
        # Pure-Python iterations for ~20 ms, measured once for every Python run.
        res = subprocess.run([sys.executable, PEERS, "calibrate", "--ms", "20"],
                             capture_output=True, text=True)
        py_iters = int(res.stdout.strip() or 1)
    wls = [wl for wl in workloads(args.quick, py_iters)
           if (not only and not args.only) or wl.name in only]
    if only - {wl.name for wl in wls}:
        ap.error(f"unknown workloads: {', '.join(sorted(only - {wl.name for wl in wls}))}")

    args.out_dir = os.path.abspath(args.out_dir or report.new_run_dir(args.quick))
    os.makedirs(args.out_dir, exist_ok=True)
    info = report.collect_info(os.path.dirname(args.bin_dir))
    header = report.header_lines(info, args.quick)
    for h in header:
        print(h)
    print(f"run folder: {show_path(args.out_dir)}", flush=True)

    plan = make_plan(args, wls)
    prior_cells, prior_proxy = load_prior(report.latest_results(args.quick))
    args.proxy_steps = 13 if with_proxy else 0  # its build + 12 configurations
    args.left_after = 2.0 + ((prior_proxy.get("total_s") or 55) if with_proxy else 0)
    progress = Progress(len(plan) + args.proxy_steps,
                        len({(wl.name, v.system, ws) for _, wl, _, v, ws in plan}))
    rows, failures = run_all(args, wls, plan, progress, prior_cells)
    cells_s = time.monotonic() - t_start
    summarize(rows, args)
    fj, vcpu = [], []
    if wls:
        progress.finish()
        print()
        print_table(wls, rows)
        fj = fork_join_summary(rows)
        vcpu = vcpu_summary(rows)
        print(flush=True)

    proxy_ok, proxy_info, spawncost = True, None, None
    if with_proxy:
        spawncost = run_spawncost(args)
        if spawncost is None:
            failures.append("bench/spawncost failed (see spawncost.txt)")
        args.left_after = 2.0
        proxy_ok, proxy_info = run_proxy(args, progress, prior_proxy)
        progress.finish()
        if not proxy_ok:
            failures.append("bench/proxy/run failed (see proxy.log)")
        print(f"proxy: {show_path(os.path.join(args.out_dir, 'proxy.md'))}")

    write_csv(os.path.join(args.out_dir, "results.csv"), header, wls, rows)
    data = {
        "mode": "quick" if args.quick else "default",
        "command": args.command or " ".join(["python3", "bench/compare.py"] + sys.argv[1:]),
        "date_utc": datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
                    .strftime("%Y-%m-%d %H:%M UTC"),
        "info": info,
        "method": {"workers": [int(w) for w in args.workers.split(",")],
                   "rounds_option": args.rounds, "cell_budget_s": args.cell_budget,
                   "hard_cap_s": args.hard_cap, "capped_families": list(PEER_FAMILIES),
                   "processes": len(plan)},
        "workloads": [{"name": wl.name, "title": wl.title, "unit": wl.unit, "note": wl.note,
                       "rounds": rounds_of(args, wl), "headline": wl.headline,
                       "chart": wl.chart, "rows": [row_json(r) for r in sorted_rows(wl, rows)]}
                      for wl in wls],
        "fork_join": fj, "vcpu": vcpu,
        "proxy": proxy_info, "proxy_ok": proxy_ok, "spawncost": spawncost,
        "failures": failures,
        "timing": {"build_s": args.build_seconds, "cells_s": cells_s,
                   "proxy_s": proxy_info["total_s"] if proxy_info else None},
    }
    data["timing"]["total_s"] = time.time() - started  # up to the report
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    report.render(args.out_dir)
    report.point_latest(args.out_dir, args.quick)
    print(f"report: {show_path(os.path.join(args.out_dir, 'report.md'))} "
          f"(and results.csv, results.json, chart.png in the same folder)")
    print(f"total time {time.time() - started:.0f} s")
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
