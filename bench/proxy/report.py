#!/usr/bin/env python3
"""Tables of the scalability proxy (bench/proxy/run writes the inputs).

For every configuration <workload>-<workers> and run k the output directory
holds
  <cfg>.r<k>.lc     the instrumented run: the driver's line and linecount's
                    report (totals and per-site counts)
  <cfg>.r<k>.cg.*   callgrind's dumps; the one its client request "measured"
                    triggered holds the measured phase
  <cfg>.r<k>.cgrun  the driver's line of the callgrind run

Printed (Markdown): the per-task tables (medians over runs) with the ratio of
the largest to the smallest pool per metric; per workload, the sites whose
counts per task grow the most (summed over runs) and the functions whose
self Ir per task grows the most; then the top sites by shared-line writes of
every configuration. results.csv (or --csv) gets every run's per-task figures.
"""
import argparse
import collections
import glob
import os
import re
import statistics
import subprocess
import sys


def kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def read_lc(path):
    """The instrumented run: driver line, linecount totals, sites."""
    run, counts, cols, sites = {}, {}, [], []
    with open(path) as f:
        for line in f:
            if line.startswith("proxy "):
                run = kv(line)
            elif line.startswith("linecount "):
                counts = {k: int(v) for k, v in kv(line).items()}
            elif line.startswith("sitecols "):
                cols = line.split()[1:]
            elif line.startswith("site "):
                p = line.split()
                sites.append(([int(x, 16) for x in p[1:4]], dict(zip(cols, map(int, p[4:])))))
    return run, counts, sites


def read_run(path):
    with open(path) as f:
        for line in f:
            if line.startswith("proxy "):
                return kv(line)
    return {}


def measured_dump(prefix):
    for path in sorted(glob.glob(prefix + ".*")):
        if path.endswith(("run", ".vg")):
            continue
        with open(path, errors="replace") as f:
            for _, line in zip(range(40), f):
                if line.startswith("desc: Trigger:") and "measured" in line:
                    return path
    return None


def callgrind_self(path):
    """Self (exclusive) Ir per (object, function) from a callgrind dump.

    Inclusive costs of calls are skipped: ZERO_STATS in the middle of a run
    leaves calls active at that moment with meaningless inclusive costs,
    while self costs are exact."""
    names = {"ob": {}, "fn": {}}
    cost = collections.Counter()
    ob = fn = ""
    skip_next = False

    def name(kind, value):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), value)

    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    cost[(ob, fn)] += int(parts[1])
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:].strip())
            elif line.startswith("cob="):
                name("ob", line[4:].strip())
            elif line.startswith("fn="):
                fn = name("fn", line[3:].strip())
            elif line.startswith("cfn="):
                name("fn", line[4:].strip())
            elif line.startswith("calls="):
                skip_next = True
    return cost


class Resolver:
    """addr2line for return addresses (the call instruction is at pc - 1)."""

    def __init__(self, binary, src):
        self.binary, self.src, self.cache = binary, src.rstrip("/") + "/", {}

    def resolve(self, pcs):
        todo = sorted({pc for pc in pcs if pc and pc not in self.cache})
        if todo:
            out = subprocess.run(
                ["addr2line", "-e", self.binary, "-f", "-i", "-a"] + ["%#x" % (pc - 1) for pc in todo],
                check=True, capture_output=True, text=True).stdout.splitlines()
            i, cur = 0, None
            frames = {}
            while i < len(out):
                if out[i].startswith("0x"):
                    cur = int(out[i], 16) + 1
                    frames[cur] = []
                    i += 1
                    continue
                fn = out[i]
                loc = out[i + 1] if i + 1 < len(out) else "??:0"
                loc = re.sub(r" \(discriminator \d+\)", "", loc)
                if loc.startswith(self.src):
                    loc = loc[len(self.src):]
                frames[cur].append((fn, loc))
                i += 2
            self.cache.update(frames)

    def site(self, pc):
        """'file:line fn < inlined-into < ...' (innermost first)."""
        if not pc:
            return "?"
        frames = self.cache.get(pc) or [("??", "??:0")]
        fns = [f for f, _ in frames]
        return "%s %s" % (frames[0][1], " < ".join(fns))



def fmt(x):
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return "%.0f" % x
    return "%.3g" % x


def ratio(a, b):
    if a is None or b is None:
        return "-"
    if b == 0:
        return "=" if a == 0 else "new"
    return "%.2fx" % (a / b)


# linecount's counters: (name in its report, column title).
LC = [("shared_writes", "shared-line writes"), ("rmws", "atomic RMWs"),
      ("shared_reads", "shared-line reads"), ("seq_cst_fences", "seq_cst fences"),
      ("yields", "sched_yield"), ("futex_wakes", "futex wakes"), ("futex_waits", "futex waits")]
SHORT = {"shared_writes": "sh.W", "rmws": "RMW", "shared_reads": "sh.R", "seq_cst_fences": "fence",
         "yields": "yield", "futex_wakes": "wake", "futex_waits": "wait"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--lc-bin", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--workloads", required=True)
    ap.add_argument("--workers", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tree", default="")
    ap.add_argument("--csv", default="", help="where every run's figures go "
                    "(default: results.csv in --out)")
    a = ap.parse_args()
    workloads = a.workloads.split()
    workers = [int(w) for w in a.workers.split()]
    lo, hi = min(workers), max(workers)
    lib = os.path.basename(a.lib)

    def per(v, t):
        return v / t if (v is not None and t) else None

    rows = {}
    csv = ["workload,workers,run,tasks," + ",".join(k for k, _ in LC) +
           ",ir_all,ir_libweft,parks,steals,failed_steals,cg_parks,cg_steals,cg_failed_steals"]
    for wl in workloads:
        for w in workers:
            per_run = []
            sites = collections.defaultdict(collections.Counter)
            site_tasks = 0
            cg_sum = collections.Counter()
            cg_tasks = 0
            threads = dropped = 0
            args = {}
            for k in range(1, a.runs + 1):
                prefix = os.path.join(a.out, "%s-%d.r%d" % (wl, w, k))
                run, counts, lc_sites = read_lc(prefix + ".lc")
                cgrun = read_run(prefix + ".cgrun")
                dump = measured_dump(prefix + ".cg")
                cg = callgrind_self(dump) if dump else None
                tl = int(run.get("tasks", 0)) or None
                tc = int(cgrun.get("tasks", 0)) or None
                m = {c: per(counts.get(c), tl) for c, _ in LC}
                m["ir"] = per(sum(cg.values()), tc) if cg is not None else None
                m["irw"] = per(sum(v for (ob, _), v in cg.items()
                                   if os.path.basename(ob) == lib), tc) if cg is not None else None
                for c in ("parks", "steals", "failed_steals"):
                    m[c] = per(int(run[c]), tl) if c in run else None
                    m["cg_" + c] = per(int(cgrun[c]), tc) if c in cgrun else None
                per_run.append(m)
                csv.append("%s,%d,%d,%s,%s" % (wl, w, k, tl or "", ",".join(
                    "" if m[c] is None else "%.6g" % m[c]
                    for c in [c for c, _ in LC] + ["ir", "irw", "parks", "steals", "failed_steals",
                                                    "cg_parks", "cg_steals", "cg_failed_steals"])))
                if tl:
                    site_tasks += tl
                    for pcs, cnt in lc_sites:
                        sites[tuple(pcs)].update(cnt)
                if cg is not None and tc:
                    cg_sum.update(cg)
                    cg_tasks += tc
                threads = max(threads, counts.get("threads", 0))
                dropped += counts.get("sites_dropped", 0)
                args = args or run
            r = {}
            for c in per_run[0]:
                vals = [m[c] for m in per_run if m[c] is not None]
                r[c] = statistics.median(vals) if vals else None
                r[c + "_min"] = min(vals) if vals else None
                r[c + "_max"] = max(vals) if vals else None
            r.update(tasks=site_tasks or None, run=args, cg=cg_sum, cg_tasks=cg_tasks or None,
                     sites=[(list(pcs), cnt) for pcs, cnt in sites.items()],
                     threads=threads, dropped=dropped)
            rows[(wl, w)] = r
    csv_path = a.csv or os.path.join(a.out, "results.csv")
    csv_where = ("%s next to the raw outputs" % os.path.basename(csv_path)
                 if os.path.dirname(os.path.abspath(csv_path)) == os.path.abspath(a.out)
                 else os.path.basename(csv_path))
    with open(csv_path, "w") as f:
        f.write("\n".join(csv) + "\n")

    print("# weft scalability proxy\n")
    if a.tree:
        print("weft tree: %s.\n" % a.tree)

    def table(title, cols, note):
        print("## %s\n" % title)
        print("| workload | workers | " + " | ".join(c for _, c in cols) + " |")
        print("|---|---:|" + "---:|" * len(cols))
        for wl in workloads:
            for w in workers:
                r = rows[(wl, w)]
                print("| %s | %d | %s |" % (wl, w, " | ".join(fmt(r[k]) for k, _ in cols)))
            print("| **%s** | **%dw/%dw** | %s |" % (
                wl, hi, lo, " | ".join(ratio_cell(rows[(wl, hi)][k], rows[(wl, lo)][k])
                                       for k, _ in cols)))
        print("\n" + note + "\n")

    def ratio_cell(x, y):
        """The ratio, and the difference: a ratio of two tiny figures says little."""
        if x is None or y is None:
            return "-"
        return "**%s** (%s%s)" % (ratio(x, y), "+" if x >= y else "-", fmt(abs(x - y)))

    args = {wl: rows[(wl, lo)]["run"] for wl in workloads}
    table("Per task: must not grow with the worker count",
          [("shared_writes", "shared-line writes/task"), ("rmws", "atomic RMWs/task"),
           ("ir", "Ir/task (callgrind, all)"), ("irw", "Ir/task in libweft")],
          "Medians of %d processes per configuration and tool. A task: submit = a future,\n"
          "fib = a spawn, pfor = a leaf of grain 1, map = a chunk of 1 item. Workloads (n, work\n"
          "rounds, repetitions in the phase): %s.\n"
          "Ratio rows: %dw/%dw, and in brackets the difference per task.\n"
          "Shared-line writes and RMWs count the weft runtime's own accesses (instrumented\n"
          "build); Ir counts every thread in the measured phase under callgrind: `all` includes\n"
          "the task bodies and weft.h's inline fork/join paths, `libweft` only the library."
          % (a.runs, ", ".join("%s (%s, %s, %s)" % (wl, r.get("n"), r.get("work"), r.get("reps"))
                               for wl, r in args.items()), hi, lo))
    table("More per-task counts (instrumented run)",
          [("shared_reads", "shared-line reads"), ("seq_cst_fences", "seq_cst fences"),
           ("yields", "sched_yield"), ("futex_wakes", "futex wakes"),
           ("futex_waits", "futex waits"), ("parks", "parks"), ("steals", "steals"),
           ("failed_steals", "failed steals"), ("cg_steals", "steals (callgrind run)")],
          "Medians as above. Parks, steals and failed steals are weft_pool_stats deltas over\n"
          "the phase; all runs' figures are in %s." % csv_where)

    res = Resolver(a.lc_bin, a.src)
    res.resolve(pc for r in rows.values() for pcs, _ in r["sites"] for pc in pcs)

    def by_place(r):
        """Counts per task by (access site, call site of its function)."""
        agg = collections.defaultdict(collections.Counter)
        for (pc, c1, _), cnt in r["sites"]:
            agg[(res.site(pc), res.site(c1))].update(cnt)
        t = r["tasks"] or 1
        return {k: {c: v / t for c, v in cnt.items()} for k, cnt in agg.items()}

    print("## Where the growth comes from (%dw against %dw)\n" % (hi, lo))
    print("Sites: file:line of the access (or fence, yield, futex call), with the functions it is")
    print("inlined in, innermost first; `from`: the call site of the outermost of them. Per task,")
    print("`%dw→%dw`; the sites with the largest growth of each count.\n" % (lo, hi))
    for wl in workloads:
        p2, p64 = by_place(rows[(wl, lo)]), by_place(rows[(wl, hi)])
        keys = set(p2) | set(p64)
        delta = lambda k, c: p64.get(k, {}).get(c, 0) - p2.get(k, {}).get(c, 0)
        chosen = []
        for c, _ in LC:
            ranked = sorted((k for k in keys if delta(k, c) > 0.002), key=lambda k: -delta(k, c))
            for k in ranked[:4]:
                if k not in chosen:
                    chosen.append(k)
        chosen.sort(key=lambda k: [-delta(k, c) for c, _ in LC])
        print("### %s\n" % wl)
        if chosen:
            print("| " + " | ".join(SHORT[c] for c, _ in LC) + " | site | from |")
            print("|" + "---:|" * len(LC) + "---|---|")
            for k in chosen[:2 * a.top]:
                cells = []
                for c, _ in LC:
                    x, y = p2.get(k, {}).get(c, 0), p64.get(k, {}).get(c, 0)
                    cells.append("" if x == 0 and y == 0 else "%s→%s" % (fmt(x), fmt(y)))
                print("| %s | `%s` | `%s` |" % (" | ".join(cells), k[0], k[1]))
            print()
        else:
            print("No site grew by more than 0.002 per task.\n")

        def fnir(cg, t):
            d = collections.Counter()
            for (ob, fn), v in cg.items():
                d["%s [%s]" % (fn, "libweft" if os.path.basename(ob) == lib else os.path.basename(ob))] += v
            return {k: v / (t or 1) for k, v in d.items()}
        f2 = fnir(rows[(wl, lo)]["cg"], rows[(wl, lo)]["cg_tasks"])
        f64 = fnir(rows[(wl, hi)]["cg"], rows[(wl, hi)]["cg_tasks"])
        grow = [k for k in sorted(set(f2) | set(f64), key=lambda k: -(f64.get(k, 0) - f2.get(k, 0)))
                if f64.get(k, 0) - f2.get(k, 0) > 0.05][:a.top]
        if grow:
            print("| Ir/task %dw | %dw | function (self cost) [object] |" % (lo, hi))
            print("|---:|---:|---|")
            for k in grow:
                print("| %s | %s | `%s` |" % (fmt(f2.get(k, 0)), fmt(f64.get(k, 0)), k))
            print()

    print("## Top %d sites by shared-line writes, per configuration\n" % a.top)
    print("Per task. `site` is the access; `from` the call site of the instrumented function")
    print("holding it, then that function's own call site.\n")
    for wl in workloads:
        for w in workers:
            r = rows[(wl, w)]
            t = r["tasks"] or 1
            top = [s for s in sorted(r["sites"], key=lambda s: -s[1].get("shared_writes", 0))
                   if s[1].get("shared_writes", 0) > 0][:a.top]
            print("### %s, %d workers%s\n" % (wl, w, " (%d sites dropped)" % r["dropped"] if r["dropped"] else ""))
            if not top:
                print("No shared-line writes.\n")
                continue
            print("| sh.W | RMW | sh.R | site | from | from |")
            print("|---:|---:|---:|---|---|---|")
            for (pc, c1, c2), cnt in top:
                print("| %s | %s | %s | `%s` | `%s` | `%s` |" % (
                    fmt(cnt.get("shared_writes", 0) / t), fmt(cnt.get("rmws", 0) / t),
                    fmt(cnt.get("shared_reads", 0) / t), res.site(pc), res.site(c1), res.site(c2)))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
