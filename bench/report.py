#!/usr/bin/env python3
"""The benchmark report: report.md and chart.png of a run folder, and their
publication as the reference report.

bench/compare.py writes a run folder (results.json, results.csv, proxy.md)
and calls render(); bench/publish calls publish(). By hand:

    python3 bench/report.py render RUN_DIR         # redraw chart.png, rewrite report.md
    python3 bench/report.py publish [RUN_DIR] [--no-readme] [--force]
    python3 bench/report.py --self-test            # the tests of this file

publish copies RUN_DIR/report.md (default bench/out/latest) to
bench/report/README.md with its chart and raw figures, and puts its headline table in
README.md between the lines <!-- bench:headline:begin --> and
<!-- bench:headline:end -->.

Standard library only.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_ROOT = os.path.join(HERE, "out")
BEGIN = "<!-- bench:headline:begin -->"
END = "<!-- bench:headline:end -->"


# ---- run folders ---------------------------------------------------------------

def new_run_dir(quick, out_root=OUT_ROOT):
    """A new folder bench/out/<UTC date-time>[-quick] (created)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = os.path.join(out_root, stamp + ("-quick" if quick else ""))
    path, n = base, 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"


def latest_link(quick, out_root=OUT_ROOT):
    return os.path.join(out_root, "latest-quick" if quick else "latest")


def latest_results(quick):
    return os.path.join(latest_link(quick), "results.json")


def point_latest(run_dir, quick, out_root=OUT_ROOT):
    """bench/out/latest (latest-quick) -> run_dir, replaced atomically, when
    run_dir is a folder of bench/out (a run elsewhere leaves the link alone)."""
    run_dir = os.path.realpath(run_dir)
    if os.path.dirname(run_dir) != os.path.realpath(out_root):
        return
    link = latest_link(quick, out_root)
    tmp = f"{link}.{os.getpid()}"
    os.symlink(os.path.basename(run_dir), tmp)
    os.replace(tmp, link)


# ---- the machine, the versions, the build flags -----------------------------------

def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                              cwd=cwd).stdout.rstrip()
    except (OSError, subprocess.SubprocessError):
        return ""


def first_line(text, default="unknown"):
    return (text.splitlines() or [default])[0].strip() or default


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cmake_cache(build_dir):
    cache = {}
    for line in read(os.path.join(build_dir, "CMakeCache.txt")).splitlines():
        m = re.match(r"^([A-Za-z_][\w-]*):\w+=(.*)$", line)
        if m:
            cache[m.group(1)] = m.group(2)
    return cache


def flags_of(entry):
    """A compile command's options without the compiler, the files and the
    include and dependency paths."""
    args = entry.get("arguments") or shlex.split(entry.get("command", ""))
    out, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-I", "-isystem", "-iquote", "-MT", "-MF", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith(("-I", "-isystem", "-o")):
            continue
        if a == entry.get("file") or not a.startswith("-"):
            continue
        out.append(a)
    return " ".join(out)


def build_flags(build_dir):
    """{"source", "library", "programs": [[flags, [program, ...]], ...]} from
    the build's compile_commands.json, else from its CMake cache."""
    try:
        with open(os.path.join(build_dir, "compile_commands.json")) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        entries = None
    if not entries:
        c = cmake_cache(build_dir)
        bt = c.get("CMAKE_BUILD_TYPE", "")
        flags = " ".join(filter(None, [c.get("CMAKE_C_FLAGS", ""),
                                       c.get(f"CMAKE_C_FLAGS_{bt.upper()}", "")]))
        return {"source": "CMakeCache.txt (no compile_commands.json: the targets' own "
                          "options are not shown)",
                "library": flags, "programs": []}
    lib = next((flags_of(e) for e in sorted(entries, key=lambda e: e["file"])
                if f"{os.sep}runtime{os.sep}" in e["file"]), "")
    groups = {}
    for e in sorted(entries, key=lambda e: e["file"]):
        if f"{os.sep}bench{os.sep}kernels{os.sep}" in e["file"]:
            name = os.path.splitext(os.path.basename(e["file"]))[0]
            groups.setdefault(flags_of(e), []).append(name)
    return {"source": "compile_commands.json", "library": lib,
            "programs": [[f, names] for f, names in groups.items()]}


def dpkg_version(pkg):
    return sh(["dpkg-query", "-W", "-f=${Version}", pkg]) or ""


def git_state(root):
    if not shutil.which("git"):
        return {"commit": "", "short": "", "subject": "", "dirty": None, "changes": []}
    commit = sh(["git", "-C", root, "rev-parse", "HEAD"]).strip()
    changes = [l[3:] for l in sh(["git", "-C", root, "status", "--porcelain"]).splitlines()]
    return {"commit": commit, "short": commit[:10],
            "subject": sh(["git", "-C", root, "log", "-1", "--format=%s"]),
            "dirty": bool(changes) if commit else None, "changes": changes}


def collect_info(build_dir, root=ROOT):
    """The machine, the versions and the build flags, as a dict for results.json."""
    cpuinfo = read("/proc/cpuinfo")

    def cpu(field):
        m = re.search(rf"^{field}\s*:\s*(.*)$", cpuinfo, re.M)
        return m.group(1).strip() if m else ""

    flags = cpu("flags").split()
    lscpu = dict(re.findall(r"^([^:\n]+):\s*(.+)$", sh(["lscpu"]), re.M))
    mem = re.search(r"^MemTotal:\s*(\d+) kB", read("/proc/meminfo"), re.M)
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', read("/etc/os-release"), re.M)
    virt = sh(["systemd-detect-virt"]) if shutil.which("systemd-detect-virt") else ""
    cache = cmake_cache(build_dir)
    cc = cache.get("CMAKE_C_COMPILER", "cc")
    cxx = cache.get("CMAKE_CXX_COMPILER", "c++")
    cmake = ".".join(cache.get(f"CMAKE_CACHE_{p}_VERSION", "?")
                     for p in ("MAJOR", "MINOR", "PATCH"))
    tbb_h = read("/usr/include/oneapi/tbb/version.h")
    tbb = ".".join(re.findall(r"#define TBB_VERSION_(?:MAJOR|MINOR)\s+(\d+)", tbb_h))
    # The project's version: CMakeLists.txt's when it spells it out, else weft.h's.
    parts = dict(re.findall(r"^#define WEFT_VERSION_(MAJOR|MINOR|PATCH) (\d+)",
                            read(os.path.join(root, "include", "weft.h")), re.M))
    weft_version = next(iter(re.findall(r"project\(weft VERSION ([\d.]+)",
                                        read(os.path.join(root, "CMakeLists.txt")))),
                        ".".join(parts.get(k, "?") for k in ("MAJOR", "MINOR", "PATCH")))
    return {
        "machine": {
            "cpu": cpu("model name") or platform.processor() or "unknown",
            "cpu_id": (f"family {cpu('cpu family')}, model {cpu('model')}, "
                       f"stepping {cpu('stepping')}") if cpu("cpu family") else "",
            "vcpus": os.cpu_count(), "allowed": len(os.sched_getaffinity(0)),
            "threads_per_core": lscpu.get("Thread(s) per core", "").strip(),
            "cores_per_socket": lscpu.get("Core(s) per socket", "").strip(),
            "l3": lscpu.get("L3 cache", "").strip(),
            "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
            "kernel": platform.release(),
            "os": os_name.group(1) if os_name else platform.system(),
            "vm": "hypervisor" in flags,
            "detect_virt": virt,
            "hypervisor_vendor": lscpu.get("Hypervisor vendor", "").strip(),
        },
        "versions": {
            "cc": first_line(sh([cc, "--version"])), "cc_path": cc,
            "cxx": first_line(sh([cxx, "--version"])),
            "cmake": cmake,
            "build_type": cache.get("CMAKE_BUILD_TYPE", "?"),
            "tbb": tbb or "unknown", "tbb_package": dpkg_version("libtbb-dev"),
            "libgomp_package": dpkg_version("libgomp1"),
            "python": platform.python_version(), "python_path": sys.executable,
            "gnuplot": first_line(sh(["gnuplot", "--version"]), "not installed")
            if shutil.which("gnuplot") else "not installed",
            "valgrind": first_line(sh(["valgrind", "--version"]), "not installed")
            if shutil.which("valgrind") else "not installed",
            "weft": weft_version,
            "git": git_state(root),
        },
        "flags": build_flags(build_dir),
    }


def machine_line(info):
    m, v = info["machine"], info["versions"]
    vm = " VM" if m["vm"] else ""
    mem = f", {m['memory_gib']:g} GiB" if m["memory_gib"] else ""
    return (f"{m['vcpus']}-vCPU {m['cpu']}{vm}{mem}, {m['os']}, Linux {m['kernel']}; "
            f"{gcc_short(v['cc'])}, oneTBB {v['tbb']}, Python {v['python']}")


def gcc_short(version_line):
    """'cc (Debian 12.2.0-14) 12.2.0' -> 'gcc 12.2.0'."""
    m = re.match(r"^(\S+) \(.*\) (\d+\.\d+\S*)", version_line)
    if not m:
        return version_line
    name = "gcc" if m.group(1) in ("cc", "gcc") or m.group(1).endswith("-gcc") else m.group(1)
    return f"{name} {m.group(2)}"


def header_lines(info, quick):
    """A few lines on the run, for the terminal and the CSV's comments."""
    m, v = info["machine"], info["versions"]
    git = v["git"]
    tree = (f"{git['short']}{' with uncommitted changes' if git['dirty'] else ''}"
            if git["commit"] else "unknown")
    return [
        f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {m['cpu']}; {m['vcpus']} CPUs online, {m['allowed']} in the affinity mask; "
        f"Linux {m['kernel']}{'; virtual machine' if m['vm'] else ''}",
        f"compiler: {v['cc']}; build type {v['build_type']}; weft library flags: "
        f"{info['flags']['library'] or '-'}",
        f"peers: oneTBB {v['tbb']}, OpenMP libgomp {v['libgomp_package'] or '(gcc)'}, "
        f"Python {v['python']}",
        f"weft: {v['weft']} at {tree}",
        "pin policy: none (WEFT_PIN_NONE; OMP_PROC_BIND unset; TBB default); workers = "
        "threads that run tasks (TBB/OpenMP count the main thread; weft's main thread "
        "only submits and waits)",
        f"mode: {'quick (smoke test: sizes too small for timing claims)' if quick else 'default'}",
    ]


# ---- numbers -------------------------------------------------------------------------

UNITS = (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0))


def sig3(x):
    """Three significant digits, never an exponent: 0.0894, 31.9, 4490."""
    if x == 0:
        return "0"
    d = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{d}f}"


def unit_for(ns):
    return next(((n, d) for n, d in UNITS if ns >= d), UNITS[-1])


def fmt_time(ns):
    if ns is None:
        return "–"
    name, div = unit_for(ns)
    return f"{sig3(ns / div)} {name}"


def fmt_range(lo, hi, like=None):
    """'82.9–95.2 ms' in the unit of like (default lo)."""
    if lo is None:
        return "–"
    name, div = unit_for(like if like is not None else lo)
    return f"{sig3(lo / div)}–{sig3(hi / div)} {name}"


def fmt_ratio(x):
    return "–" if x is None else f"{sig3(x)}×"


def fmt_duration(s):
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


# ---- the chart --------------------------------------------------------------------------

FAMILY_ORDER = ("serial", "floor", "weft", "tbb", "omp", "py-thread", "py-process")
COLORS = {1: 0x4477AA, 2: 0xEE6677, "serial": 0x999999, "peer": 0x228833}


def system_order(rows):
    names = list(dict.fromkeys(r["system"] for r in rows))
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return sorted(names, key=lambda s: (rank.get(next((r["family"] for r in rows
                                                        if r["system"] == s), s), 99), s))


def gp_str(s):
    """A gnuplot string: double quotes (so \\n is a line break), none inside."""
    return '"' + str(s).replace('"', "'") + '"'


def speedups(data):
    """Per workload with a serial program: (name, weft T1 speedup, weft T2
    speedup, best peer at 2 workers, its speedup), speedup = Ts / T."""
    out = []
    for wl in data["workloads"]:
        if not wl["chart"]:
            continue
        rows = wl["rows"]
        serial = find(rows, "serial", 1)
        if not serial or not serial["unit_median"]:
            continue
        w1, w2 = find(rows, wl["headline"], 1), find(rows, wl["headline"], 2)
        peer = best_peer(rows, 2)
        sp = lambda r: serial["unit_median"] / r["unit_median"] if r and r["unit_median"] \
            else None
        out.append((wl["name"], sp(w1), sp(w2), peer["system"] if peer else "", sp(peer)))
    return out


def write_chart(data, path):
    """One panel of speedups over serial, then one per workload: time per
    unit of every system at 1 and 2 workers, log scale, one time unit per
    panel, a value on every bar. Returns False without gnuplot."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no chart", file=sys.stderr)
        return False
    tmp = tempfile.mkdtemp(prefix="weft-chart-")
    script = []
    panels = 0

    def bars(name, entries):
        """entries: (x, y, color, label); y None = no bar."""
        dat = os.path.join(tmp, f"{name}.dat")
        with open(dat, "w") as f:
            for x, y, color, label in entries:
                if y is not None:
                    f.write(f"{x:.3f} {y:.6g} {color} {gp_str(label)}\n")
        return dat

    sp = speedups(data)
    if sp:
        panels += 1
        entries, tics = [], []
        for i, (name, s1, s2, peer, sp_peer) in enumerate(sp):
            tics.append(f"{gp_str(name + (chr(92) + 'n' + peer if peer else ''))} {i}")
            for j, (s, color) in enumerate(((s1, COLORS[1]), (s2, COLORS[2]),
                                           (sp_peer, COLORS["peer"]))):
                entries.append((i + (j - 1) * 0.27, s, color, "" if s is None else f"{s:.2f}"))
        top = max([e[1] for e in entries if e[1] is not None] + [1])
        dat = bars("speedup", entries)
        script += [
            "unset logscale y", "unset label", "unset arrow",
            f"set yrange [0:{top * 1.3:.3g}]", "set format y '%g'",
            f"set xrange [-0.6:{len(sp) - 0.4}]",
            f"set xtics ({', '.join(tics)}) rotate by 0 center",
            "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#555555'",
            "set title \"speedup over serial C, × (serial time / time); higher is better\\n"
            "blue: weft 1 worker, red: weft 2 workers, green: the fastest peer at 2 workers "
            "(named below)\"",
            f"plot '{dat}' using 1:2:(0.26):3 with boxes lc rgb variable notitle, "
            f"'' using 1:2:4 with labels rotate by 90 left offset 0,0.4 font ',8' notitle",
        ]
    for wl in (w for w in data["workloads"] if w["chart"]):
        rows = wl["rows"]
        shown = [r["unit_median"] for r in rows if r["unit_median"]]
        if not shown and not rows:
            continue
        panels += 1
        unit, div = unit_for(min(shown)) if shown else ("ns", 1.0)
        systems = system_order(rows)
        entries, notes = [], []
        for i, s in enumerate(systems):
            mine = [r for r in rows if r["system"] == s]
            for r in mine:
                single = len(mine) == 1
                x = i if single else i + (-0.2 if r["workers"] == 1 else 0.2)
                color = COLORS["serial"] if r["family"] == "serial" else COLORS[r["workers"]]
                y = r["unit_median"] / div if r["unit_median"] else None
                label = "" if y is None else sig3(y) + ("*" if r["capped"] else "")
                entries.append((x, y, color, label))
                note = (r["capped"] if r["cap_first"] else
                        r["outcome"].split(" (")[0] if r["outcome"] and y is None else
                        ("not built" if r["failed"] == "missing" else "FAILED")
                        if r["failed"] else "")
                if note:
                    notes.append((x, note))
        ys = [e[1] for e in entries if e[1] is not None] or [1]
        lo, hi = min(ys), max(ys)
        ymin = 10 ** math.floor(math.log10(lo / 2))
        span = math.log10(hi / ymin)
        ymax = hi * 10 ** (0.3 * span + 0.15)
        dat = bars(wl["name"], entries)
        script += ["unset label", "unset arrow", "set logscale y", "set format y '%g'",
                   f"set yrange [{ymin:g}:{ymax:.4g}]",
                   f"set xrange [-0.6:{len(systems) - 0.4}]",
                   "set xtics (" + ", ".join(f"{gp_str(s)} {i}" for i, s in enumerate(systems))
                   + ") rotate by 30 right"]
        for x, text in notes:
            script.append(f"set label {gp_str(text)} at {x:.3f}, graph 0.04 rotate by 90 left "
                          "textcolor rgb '#aa3377' font ',8'")
        ptitle = f"{wl['title']}: {unit} per {wl['unit']}, lower is better (log scale)"
        script += [f"set title {gp_str(ptitle)}",
                   f"plot '{dat}' using 1:2:(0.38):3 with boxes lc rgb variable notitle, "
                   f"'' using 1:2:4 with labels rotate by 90 left offset 0,0.4 font ',8' "
                   "notitle"]
    if not panels:
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    cols = 3
    nrows = (panels + cols - 1) // cols
    info = data["info"]
    title = (f"weft benchmarks, {data['date_utc']}: {machine_line(info)}\\n"
             "gray: serial C (one thread), blue: 1 worker, red: 2 workers (the -pair bars: "
             "two 1-worker copies at once); * capped: fewer samples (see the report)")
    if data["mode"] == "quick":
        title += "\\nQUICK SMOKE RUN: sizes too small for timing claims"
    head = [
        f"set terminal pngcairo size {cols * 640},{nrows * 420 + 90} font 'sans,10'",
        f"set output '{path}'",
        "set termoption noenhanced",
        "set style fill solid 0.85 border -1",
        "set bmargin 5",
        "set grid ytics",
        "set key off",
        "set xtics nomirror",
        f"set multiplot layout {nrows},{cols} title {gp_str(title)} font 'sans,11'",
    ]
    gp = os.path.join(tmp, "chart.gp")
    with open(gp, "w") as f:
        f.write("\n".join(head + script + ["unset multiplot"]) + "\n")
    res = subprocess.run([gnuplot, gp], capture_output=True, text=True)
    if res.returncode != 0:
        print("gnuplot failed: " + res.stderr.strip()[-600:], file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    return res.returncode == 0


# ---- the report ----------------------------------------------------------------------------

def find(rows, system, workers):
    return next((r for r in rows if r["system"] == system and r["workers"] == workers), None)


def best_peer(rows, workers):
    """The fastest peer (not weft, not a baseline, not a pair) at that worker
    count, by time per unit; else a peer with no median (a deadlock, a cap)."""
    peers = [r for r in rows if r["competes"] and r["family"] != "weft"
             and r["workers"] == workers]
    timed = [r for r in peers if r["unit_median"]]
    if timed:
        return min(timed, key=lambda r: r["unit_median"])
    return peers[0] if peers else None


def median_cell(r, per_unit=False):
    """The median of a row (of its time per unit if per_unit), its state when
    it has none, and a mark when it was capped."""
    if r is None:
        return "–"
    if r["cap_first"]:
        return f"{r['capped']} (killed at the hard cap)"
    if r["failed"]:
        return "not built" if r["failed"] == "missing" else "FAILED"
    if r["median"] is None:
        return r["outcome"].split(" (")[0] if r["outcome"] else "–"
    text = fmt_time(r["unit_median"] if per_unit else r["median"])
    return text + (f" ({r['capped']})" if r["capped"] else "")


def headline(data):
    """The headline rows: per workload, serial, weft at 1 and 2 workers, the
    fastest peer at 2 workers, and weft's ratios at 2 workers."""
    out = []
    for wl in data["workloads"]:
        rows = wl["rows"]
        w1, w2 = find(rows, wl["headline"], 1), find(rows, wl["headline"], 2)
        if not (w1 or w2):
            continue
        serial = find(rows, "serial", 1)
        peer = best_peer(rows, 2)
        shown = [r for r in (serial, w1, w2, peer) if r and r["median"] is not None]
        units = {tuple(r["units"]) for r in shown}
        per_unit = len(units) > 1 or any(len(u) > 1 for u in units)
        top = w2 or w1

        def ratio(r):
            if r and r["unit_median"] and top and top["unit_median"]:
                return r["unit_median"] / top["unit_median"]
            return None

        def cell(r):
            if r is None:
                return "–"
            text = median_cell(r, per_unit)
            if r["median"] is None or r["cap_first"]:
                return text
            val = r["unit_median"] if per_unit else r["median"]
            k = (r["units"][0] if per_unit and r["units"] else 1)
            return f"{text}<br><sub>{fmt_range(r['lo'] / k, r['hi'] / k, val)}</sub>"

        out.append({
            "workload": wl["title"],
            "per": wl["unit"] if per_unit or wl["unit"] == "round trip" else "run",
            "serial": cell(serial), "weft1": cell(w1), "weft2": cell(w2),
            "peer": (f"{peer['system']}: " + cell(peer)) if peer else "–",
            "vs_serial": fmt_ratio(ratio(serial)), "vs_peer": fmt_ratio(ratio(peer)),
            "weft": wl["headline"],
        })
    return out


def workload(data, name):
    return next((wl for wl in data["workloads"] if wl["name"] == name), None)


def facts(data):
    """Three sentences for a reader's first screen, each from this run's
    rows: fork/join against the fastest peer, an idle pool's cost and wake-up,
    and Python's executors. A fact whose rows are missing is left out."""
    out = []

    def row(wl_name, system, workers):
        wl = workload(data, wl_name)
        return find(wl["rows"], system, workers) if wl else None

    fib, fib_serial = row("fib", "weft", 2), row("fib", "serial", 1)
    fib_wl = workload(data, "fib")
    fib_peer = best_peer(fib_wl["rows"], 2) if fib_wl else None
    if fib and fib["median"] and fib_peer and fib_peer["unit_median"] and fib_serial:
        out.append(
            f"**Fork/join:** {fib_wl['title']}: {fmt_time(fib['median'])} on 2 workers, "
            f"{fmt_ratio(fib_peer['unit_median'] / fib['unit_median'])} faster than the fastest "
            f"peer (`{fib_peer['system']}`, {fmt_time(fib_peer['median'])}) and "
            f"{fmt_ratio(fib_serial['median'] / fib['median'])} faster than the serial program "
            f"({fmt_time(fib_serial['median'])}).")
    rt, rt_wl = row("roundtrip", "weft", 2), workload(data, "roundtrip")
    rt_peer = find(rt_wl["rows"], "tbb", 2) if rt_wl else None
    if rt and rt["median"] and rt.get("idle_pct") is not None and rt_peer and rt_peer["median"]:
        out.append(
            f"**Idle pools sleep:** between tasks a 2-worker pool uses {rt['idle_pct']:.2f} % "
            f"of one CPU, and a task submitted after 200 ms of idling comes back in "
            f"{fmt_time(rt['median'])} (oneTBB: {fmt_time(rt_peer['median'])}).")
    fm, fm_py = row("futmap", "weft-chunk1", 2), row("futmap", "py-thread-c1", 2)
    nf, nf_py = row("nestedfib", "weft", 2), row("nestedfib", "py-thread", 2)
    if fm and fm["unit_median"] and fm_py and fm_py["unit_median"] and nf and nf["median"]:
        deadlock = nf_py is not None and nf_py["median"] is None and nf_py["outcome"]
        out.append(
            f"**Against Python's executors:** with one future per item, weft maps "
            f"{fmt_ratio(fm_py['unit_median'] / fm['unit_median'])} faster than "
            f"`ThreadPoolExecutor.map` ({fmt_time(fm['unit_median'])} against "
            f"{fmt_time(fm_py['unit_median'])} per item), and a task that submits to its own "
            f"pool and waits (fib(25)) finishes in {fmt_time(nf['median'])}"
            + (", where `ThreadPoolExecutor` deadlocks." if deadlock else "."))
    return out


def headline_markdown(data, link=""):
    t = data["timing"]
    took = fmt_duration(t.get("total_s")) + (
        ", build and proxy included" if t.get("build_s") is not None and t.get("proxy_s")
        else "")
    lines = [
        f"Medians, with min–max ranges below them, of one run of `{data['command']}` "
        f"({took}) on a {machine_line(data['info'])}. Ratios: the other system's time over weft's "
        "at 2 workers (above 1: weft is faster); peers: oneTBB (`tbb`), OpenMP tasks "
        "(`omp`), Python `concurrent.futures` (`py-*`)."
        + (f" Method, ranges of every system, memory and the machine: [{link}]({link})."
           if link else ""),
        "",
        "| workload | time per | serial C | weft, 1 worker | weft, 2 workers "
        "| fastest peer, 2 workers | serial / weft 2w | peer / weft 2w |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    found = facts(data)
    lines = [f"- {f}" for f in found] + ([""] if found else []) + lines
    for h in headline(data):
        name = h["workload"] + (f" (`{h['weft']}`)" if h["weft"] != "weft" else "")
        lines.append(f"| {name} | {h['per']} | {h['serial']} | {h['weft1']} | {h['weft2']} | "
                     f"{h['peer']} | {h['vs_serial']} | {h['vs_peer']} |")
    return "\n".join(lines)


def workload_table(wl):
    rows = wl["rows"]
    per_unit = wl["unit"] not in ("run", "round trip")
    head = ["system", "workers", "samples", "median", "min–max"]
    if per_unit:
        head.append(f"per {wl['unit']}")
    head += ["vs serial", "vs fastest other", "peak RSS", "notes"]
    out = ["| " + " | ".join(head) + " |",
           "|---|---:|---:|---:|---:|" + ("---:|" if per_unit else "") + "---:|---:|---:|---|"]
    for r in rows:
        notes = []
        if r["failed"]:
            notes.append("not built" if r["failed"] == "missing" else "FAILED: " + r["failed"])
        if r["outcome"]:
            notes.append(r["outcome"])
        if r["idle_pct"] is not None:
            notes.append(f"idle CPU {r['idle_pct']:.2f} % of one CPU")
        if r["copies"] > 1:
            notes.append(f"{r['copies']} copies of the 1-worker program at once")
        cells = [f"`{r['system']}`", str(r["workers"]), str(len(r["samples"])), median_cell(r),
                 fmt_range(r["lo"], r["hi"], r["median"])]
        if per_unit:
            cells.append(fmt_time(r["unit_median"]))
        best = (f"{fmt_ratio(r['vs_best'])} (`{r['best_other']}`)" if r["vs_best"] else "–")
        cells += [fmt_ratio(r["vs_serial"]), best,
                  f"{r['rss_kb'] / 1024:.1f} MB" if r["rss_kb"] else "–", "; ".join(notes)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def fork_join_markdown(fj):
    out = ["| workload | system | spawns | (T1 − Ts) / spawn | per call | Ts/T1 | T1/T2 | Ts/T2 "
           "| ceiling | own |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    f = lambda x, p=2: "–" if x is None else f"{x:.{p}f}"
    for o in fj:
        ns = lambda x: "–" if x is None else f"{x:.1f} ns"
        out.append(f"| {o['workload']} | `{o['system']}` | {o['spawns']:,} | "
                   f"{ns(o['ns_per_spawn'])} | {ns(o['ns_per_call'])} | {f(o['Ts/T1'])} | "
                   f"{f(o['T1/T2'])} | {f(o['Ts/T2'])} | {f(o['ceiling'])} | {f(o['own'])} |")
    return "\n".join(out)


def method_markdown(data):
    info, meth = data["info"], data["method"]
    fl = info["flags"]
    wls = data["workloads"]
    rounds = ", ".join(f"{wl['name']} {wl['rounds']}" for wl in wls)
    lines = [
        f"- Every (workload, system, workers) cell runs as its own processes, at "
        f"{' and '.join(map(str, meth['workers']))} workers; {meth['processes']} processes in "
        "all. The run goes in rounds: each round runs every workload once, and per workload "
        "and worker count its systems one after the other, in an order rotated by one system "
        "every round, so that every system meets the machine's slow and fast phases alike. "
        "A process repeats its kernel (the repetitions per process are in the programs' "
        "commands below); every repetition checks its result and is one sample. The samples "
        "of all rounds are pooled: medians and min–max ranges are over them.",
        f"- Rounds per workload: {rounds}.",
        f"- Caps, for the peers' cells only (families {', '.join(meth['capped_families'])}; "
        "never weft, the serial programs or the pair probes): "
        + (f"a cell that has used {meth['cell_budget_s']:g} s of processes starts no more "
           "(\"capped after k samples\"); " if meth["cell_budget_s"] else "no time budget; ")
        + (f"a process still running after {meth['hard_cap_s']:g} s is killed, the samples it "
           "printed are kept, and the cell runs no more; with no sample at all it reads "
           f"\"> {meth['hard_cap_s']:g} s\"." if meth["hard_cap_s"] else "no hard cap."),
        "- Ratios are per unit of work (task, item, node, run) and within this run: `vs serial` "
        "= the serial program's time / this time; `vs fastest other` = the fastest other "
        "system's time at the same worker count / this time (above 1: this one is faster).",
        "- Workers are the threads that run tasks: oneTBB and OpenMP count their main thread, "
        "weft's main thread only submits and waits (in parallel loops it runs the loop in a "
        "parked worker's place). Nothing is pinned (`WEFT_PIN_NONE`, `OMP_PROC_BIND` unset, "
        "oneTBB's default), except the vCPU probe.",
        "- Peak RSS: the VmHWM of the benchmark process (Python process pools: plus their "
        "workers), the largest over the cell's processes.",
        f"- Build: {info['versions']['build_type']}; the flags below come from the build's "
        f"{fl['source']} (where two `-O` options are given, gcc uses the last). weft library: "
        f"`{fl['library'] or '?'}`.",
    ]
    for flags, names in fl["programs"]:
        kinds = sorted({n.rsplit("_", 1)[-1] for n in names})
        lines.append(f"- Bench programs `*_{'`, `*_'.join(kinds)}` ({len(names)}): `{flags}`.")
    lines.append("- The scalability proxy builds its own two variants of the runtime "
                 "(`bench/proxy/run`, flags there); its method is in `bench/proxy/README.md`.")
    return "\n".join(lines)


def machine_markdown(data):
    m, v = data["info"]["machine"], data["info"]["versions"]
    git = v["git"]
    vm = "yes" if m["vm"] else "no"
    vm_how = ["the CPU reports the `hypervisor` flag" if m["vm"] else
              "no `hypervisor` flag in /proc/cpuinfo"]
    if m["hypervisor_vendor"]:
        vm_how.append(f"hypervisor vendor {m['hypervisor_vendor']}")
    if m["detect_virt"]:
        vm_how.append(f"systemd-detect-virt: {m['detect_virt']}")
    topo = ", ".join(filter(None, [
        f"{m['cores_per_socket']} cores per socket" if m["cores_per_socket"] else "",
        f"{m['threads_per_core']} thread(s) per core" if m["threads_per_core"] else "",
        f"L3 {m['l3']}" if m["l3"] else ""]))
    if git["commit"]:
        tree = f"`{git['commit']}` ({git['subject']})"
        if git["dirty"]:
            shown = ", ".join(f"`{c}`" for c in git["changes"][:6])
            more = len(git["changes"]) - 6
            tree += (f"; the tree was dirty: {shown}" + (f" and {more} more" if more > 0 else ""))
        else:
            tree += "; clean tree"
    else:
        tree = "unknown (not a git checkout, or no git)"
    rows = [
        ("CPU", f"{m['cpu']}" + (f" ({m['cpu_id']})" if m["cpu_id"] else "")),
        ("vCPUs", f"{m['vcpus']} online, {m['allowed']} in the affinity mask"
                  + (f"; {topo}" if topo else "")),
        ("memory", f"{m['memory_gib']:g} GiB" if m["memory_gib"] else "unknown"),
        ("OS, kernel", f"{m['os']}, Linux {m['kernel']}"),
        ("virtual machine", f"{vm} ({'; '.join(vm_how)})"),
        ("C compiler", f"{v['cc']} (`{v['cc_path']}`)"),
        ("C++ compiler", v["cxx"]),
        ("CMake", v["cmake"]),
        ("oneTBB", f"{v['tbb']}" + (f" (Debian libtbb-dev {v['tbb_package']})"
                                   if v["tbb_package"] else "")),
        ("OpenMP", "libgomp, gcc's runtime" + (f" (Debian libgomp1 {v['libgomp_package']})"
                                                if v["libgomp_package"] else "")),
        ("Python", f"{v['python']} (`{v['python_path']}`)"),
        ("gnuplot, valgrind", f"{v['gnuplot']}; {v['valgrind']}"),
        ("weft", f"{v['weft']} at {tree}"),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {val} |" for k, val in rows)


def proxy_markdown(text):
    """proxy.md one level down (its # title becomes ###)."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            hashes, _, rest = line.partition(" ")
            if hashes == "#":
                continue  # the report gives it its own title
            line = "#" * (len(hashes) + 1) + " " + rest
        out.append(line)
    return "\n".join(out).strip()


def report_markdown(data, run_dir, chart_ok):
    t = data["timing"]
    parts = [f"{fmt_duration(t.get('build_s'))} build" if t.get("build_s") is not None else "",
             f"{fmt_duration(t.get('cells_s'))} benchmarks",
             f"{fmt_duration(t.get('proxy_s'))} proxy" if t.get("proxy_s") is not None else ""]
    git = data["info"]["versions"]["git"]
    tree = (f"weft `{git['short']}`{' (dirty tree)' if git['dirty'] else ''}"
            if git["commit"] else "weft (no git)")
    out = [
        "# weft benchmark report",
        "",
        f"`{data['command']}`, {data['date_utc']}, {tree}; the whole run took "
        f"{fmt_duration(t.get('total_s'))} ({', '.join(p for p in parts if p)}).",
        "",
    ]
    if data["mode"] == "quick":
        out += ["> **Smoke run (`--quick`)**: sizes far too small for timing claims; it only "
                "shows that every program ran and checked its result.", ""]
    if data["failures"]:
        out += ["> **Failures** (this report is not fit for publication):", ">"]
        out += [f"> - {f}" for f in data["failures"]] + [""]
    if chart_ok:
        out += ["![weft and its peers, per workload](chart.png)", ""]
    if headline(data):
        out += ["## Headline", "", headline_markdown(data), ""]
    out += ["## Machine and versions", "", machine_markdown(data), "",
            "## Method", "", method_markdown(data), "",
            "## Results per workload", "",
            "Raw figures: [results.csv](results.csv) (every cell) and "
            "[results.json](results.json) (every sample, every process's time).", ""]
    for wl in data["workloads"]:
        out += [f"### {wl['name']}: {wl['title']}", "", f"*{wl['note']}.*", "",
                f"{wl['rounds']} round{'s' if wl['rounds'] != 1 else ''}; time per "
                f"{wl['unit']}.", "", workload_table(wl), ""]
    if data["fork_join"]:
        out += ["## Fork/join summary", "",
                "Overhead per spawn (T1 − Ts) / spawns (and per call where the program counts "
                "calls), work efficiency Ts/T1, speedup T1/T2 and Ts/T2; Ts = serial, Tn = n "
                "workers. `ceiling` = 2 Ts / Tpair, Tpair = the serial program's time with two "
                "copies running at once: the best T1/T2 this run allows. `own` = 2 T1 / T1pair, "
                "the same for two copies of the system's 1-worker program.", "",
                fork_join_markdown(data["fork_join"]), ""]
    if data["vcpu"]:
        out += ["## vCPU probe", "",
                "nqueens pinned to one vCPU at a time, serial (Ts) and weft at 1 worker (T1) "
                "in the same rounds:", "",
                "| vCPU | Ts | T1 | Ts/T1 |", "|---|---:|---:|---:|"]
        out += [f"| cpu{o['cpu']} | {fmt_time(o['Ts'])} | {fmt_time(o['T1'])} | "
                f"{o['Ts/T1']:.2f} |" for o in data["vcpu"]]
        out.append("")
    sc = data.get("spawncost")
    if sc:
        out += ["## Spawn cost", "",
                "`bash bench/spawncost`: instructions per call of fib(n) under callgrind "
                "(n = 25 minus n = 20, collected inside fib only), weft at 1 worker with a "
                "spawn+sync per call against the serial fib that makes every call:", "",
                "| serial fib | weft fib | weft above serial, per spawn+sync |",
                "|---:|---:|---:|",
                f"| {sc['serial']:.1f} | {sc['weft']:.1f} | {sc['weft'] - sc['serial']:.1f} |",
                ""]
    proxy_md = read(os.path.join(run_dir, "proxy.md"))
    if data.get("proxy") is not None:
        out += ["## Scalability proxy", "",
                f"`bench/proxy/run` ({fmt_duration(data['proxy']['total_s'])}"
                + ("" if data["proxy_ok"] else ", FAILED: see proxy.log in the run folder")
                + "): per-task costs of weft on pools of 2, 8 and 64 workers "
                "(`bench/proxy/README.md`).", ""]
        if proxy_md.strip():
            out += [proxy_markdown(proxy_md), ""]
    out += ["## Programs", "", "<details><summary>The command of every cell "
            "(<code>{w}</code> = the worker count)</summary>", ""]
    for wl in data["workloads"]:
        seen = set()
        for r in wl["rows"]:
            cmd = " ".join(r["argv"])
            if (r["system"], cmd) in seen:
                continue
            seen.add((r["system"], cmd))
            out.append(f"- {wl['name']} `{r['system']}`: `{cmd}`")
    out += ["", "</details>", ""]
    return "\n".join(out)


def render(run_dir):
    """chart.png and report.md of a run folder, from its results.json."""
    with open(os.path.join(run_dir, "results.json")) as f:
        data = json.load(f)
    chart_ok = write_chart(data, os.path.join(run_dir, "chart.png"))
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write(report_markdown(data, run_dir, chart_ok))
    return data


# ---- publication ------------------------------------------------------------------------

class MarkerError(Exception):
    pass


def replace_block(text, body, begin=BEGIN, end=END):
    """text with the lines between the line `begin` and the line `end`
    replaced by body. Each marker must stand alone on exactly one line,
    begin before end."""
    lines = text.splitlines(keepends=True)
    b = [i for i, l in enumerate(lines) if l.strip() == begin]
    e = [i for i, l in enumerate(lines) if l.strip() == end]
    if len(b) != 1 or len(e) != 1:
        what = []
        for name, found in ((begin, b), (end, e)):
            if len(found) != 1:
                what.append(f"{name} {'is missing' if not found else f'is there {len(found)} times'}")
        raise MarkerError("; ".join(what))
    if e[0] < b[0]:
        raise MarkerError(f"{end} comes before {begin}")
    nl = "\r\n" if lines[b[0]].endswith("\r\n") else "\n"
    block = body.rstrip("\n").replace("\n", nl) + nl if body.strip() else ""
    return "".join(lines[:b[0] + 1]) + block + "".join(lines[e[0]:])


PUBLISHED = os.path.join("bench", "report")


def generated_note(source, kind):
    return (f"<!-- Generated by `bash bench/publish` from {source}{kind}; do not edit by hand: "
            "run `bash bench/run`, then `bash bench/publish`. -->")


def publish(run_dir, root=ROOT, readme=True, force=False):
    """Copy a run's report into <root>/bench/report and its headline into
    <root>/README.md. Checks everything before writing anything. Returns the
    list of files written."""
    run_dir = os.path.realpath(run_dir)
    try:
        with open(os.path.join(run_dir, "results.json")) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"bench/publish: {run_dir} has no readable results.json ({e}); "
                         "run bash bench/run first")
    report_md = read(os.path.join(run_dir, "report.md"))
    if not report_md:
        raise SystemExit(f"bench/publish: {run_dir}/report.md is missing")
    if not force and data["mode"] != "default":
        raise SystemExit(f"bench/publish: {run_dir} is a {data['mode']} run; publish a "
                         "default run (bash bench/run), or pass --force")
    if not force and data["failures"]:
        raise SystemExit(f"bench/publish: {run_dir} recorded failures; fix them and run "
                         "again, or pass --force")
    readme_path = os.path.join(root, "README.md")
    dest = os.path.join(root, PUBLISHED)
    new_readme = None
    if readme:
        body = "\n".join([generated_note(f"{PUBLISHED}/README.md", ""),
                          headline_markdown(data, link=f"{PUBLISHED}/README.md")])
        try:
            new_readme = replace_block(read(readme_path), body)
        except MarkerError as e:
            raise SystemExit(
                f"bench/publish: {readme_path}: {e}.\nPut the two lines\n  {BEGIN}\n  {END}\n"
                "where the headline table belongs (the text between them is replaced), or "
                "pass --no-readme to publish the report alone.")
    os.makedirs(dest, exist_ok=True)
    written = []
    src = os.path.basename(run_dir)
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write(generated_note(f"the run folder bench/out/{src}", "/report.md") + "\n\n"
                + report_md)
    written.append(os.path.join(dest, "README.md"))
    for name in ("chart.png", "results.csv", "results.json"):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            shutil.copyfile(path, os.path.join(dest, name))
            written.append(os.path.join(dest, name))
        elif os.path.exists(os.path.join(dest, name)):
            os.remove(os.path.join(dest, name))
    if new_readme is not None:
        with open(readme_path, "w") as f:
            f.write(new_readme)
        written.append(readme_path)
    return written


# ---- self-test -------------------------------------------------------------------------------

def sample_data():
    """A small results.json: one fork/join workload, weft against a peer."""
    def row(system, family, workers, samples, units=1, competes=True, serial=False, **kw):
        r = {"system": system, "family": family, "workers": workers, "serial": serial,
             "copies": 1, "competes": competes, "reps_per_process": 1, "samples": samples,
             "units": [units], "median": sorted(samples)[len(samples) // 2] if samples else None,
             "lo": min(samples, default=None), "hi": max(samples, default=None),
             "vs_serial": None, "vs_best": None,
             "best_other": "", "rss_kb": 2048, "idle_pct": None, "outcome": "",
             "failed": "", "capped": "", "cap_first": False, "capped_peer": False,
             "walls": [0.5], "argv": [f"fib_{system}", "--workers", "{w}"]}
        r["unit_median"] = r["median"] / units if samples else None
        r.update(kw)
        return r
    rows = [row("serial", "serial", 1, [100e6, 110e6, 120e6], competes=False, serial=True),
            row("weft", "weft", 1, [150e6, 160e6]), row("weft", "weft", 2, [80e6, 90e6, 85e6]),
            row("tbb", "tbb", 1, [4e9], capped="capped after 1 sample"),
            row("tbb", "tbb", 2, [2e9, 2.2e9, 2.1e9]),
            row("omp", "omp", 2, [], capped="> 8 s", cap_first=True)]
    info = collect_info(os.path.join(tempfile.gettempdir(), "no-such-build"))
    return {"mode": "default", "command": "bash bench/run", "date_utc": "2000-01-01 00:00 UTC",
            "info": info, "method": {"workers": [1, 2], "rounds_option": 0,
                                     "cell_budget_s": 4, "hard_cap_s": 8,
                                     "capped_families": ["tbb", "omp"], "processes": 9},
            "workloads": [{"name": "fib", "title": "fib(37), a spawn per call", "unit": "run",
                           "note": "fib", "rounds": 2, "headline": "weft", "chart": True,
                           "rows": rows}],
            "fork_join": [], "vcpu": [], "proxy": None, "proxy_ok": True, "failures": [],
            "timing": {"build_s": 20, "cells_s": 100, "proxy_s": None, "total_s": 125}}


class SelfTest(unittest.TestCase):
    """The marker replacement on a temporary copy of this tree's README.md,
    and publish() end to end in a temporary tree."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="weft-report-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        readme = read(os.path.join(ROOT, "README.md")) or "# weft\n\nSome text.\n"
        if BEGIN not in readme:  # give the copy the markers, after its first paragraph
            head, sep, tail = readme.partition("\n\n")
            readme = f"{head}{sep}{BEGIN}\nold table\n{END}\n\n{tail}"
        self.readme = readme
        with open(os.path.join(self.tmp, "README.md"), "w") as f:
            f.write(readme)

    def test_replaces_only_between_markers(self):
        new = replace_block(self.readme, "| a | b |\n|---|---|")
        before, after = self.readme.split(BEGIN)[0], self.readme.split(END)[1]
        self.assertTrue(new.startswith(before + BEGIN + "\n| a | b |\n|---|---|\n" + END))
        self.assertTrue(new.endswith(END + after))
        self.assertEqual(replace_block(new, "| a | b |\n|---|---|"), new)  # idempotent
        self.assertEqual(replace_block(new, ""), before + BEGIN + "\n" + END + after)

    def test_keeps_crlf(self):
        text = f"x\r\n{BEGIN}\r\nold\r\n{END}\r\ny\r\n"
        self.assertEqual(replace_block(text, "a\nb"), f"x\r\n{BEGIN}\r\na\r\nb\r\n{END}\r\ny\r\n")

    def test_bad_markers(self):
        for text, msg in [("no markers\n", "missing"),
                          (f"{BEGIN}\nx\n", f"{END} is missing"),
                          (f"{END}\nx\n{BEGIN}\n", "comes before"),
                          (f"{BEGIN}\n{BEGIN}\n{END}\n", "2 times"),
                          (f"text {BEGIN}\n{END}\n", f"{BEGIN} is missing")]:
            with self.assertRaises(MarkerError) as cm:
                replace_block(text, "x")
            self.assertIn(msg, str(cm.exception))

    def test_headline(self):
        h = headline(sample_data())[0]
        self.assertEqual(h["per"], "run")
        self.assertTrue(h["serial"].startswith("110 ms<br><sub>100–120 ms</sub>"))
        self.assertTrue(h["weft2"].startswith("85.0 ms"))
        self.assertTrue(h["peer"].startswith("tbb: 2.10 s<br><sub>2.00–2.20 s</sub>"))
        self.assertEqual(h["vs_serial"], "1.29×")
        self.assertEqual(h["vs_peer"], "24.7×")

    def test_publish(self):
        run = os.path.join(self.tmp, "out", "20000101T000000Z")
        os.makedirs(run)
        data = sample_data()
        with open(os.path.join(run, "results.json"), "w") as f:
            json.dump(data, f)
        with open(os.path.join(run, "report.md"), "w") as f:
            f.write(report_markdown(data, run, False))
        written = publish(run, root=self.tmp)
        self.assertEqual([os.path.basename(w) for w in written],
                         ["README.md", "results.json", "README.md"])
        report = read(os.path.join(self.tmp, PUBLISHED, "README.md"))
        self.assertTrue(report.startswith("<!-- Generated by `bash bench/publish`"))
        self.assertIn("| fib(37), a spawn per call | run |", report)
        self.assertIn("> 8 s (killed at the hard cap)", report)
        self.assertIn("4.00 s (capped after 1 sample)", report)
        readme = read(os.path.join(self.tmp, "README.md"))
        self.assertIn("[bench/report/README.md](bench/report/README.md)", readme)
        self.assertIn("| fib(37), a spawn per call | run |", readme)
        self.assertEqual(readme.split(BEGIN)[0], self.readme.split(BEGIN)[0])
        self.assertEqual(readme.split(END)[1], self.readme.split(END)[1])
        data["mode"] = "quick"
        with open(os.path.join(run, "results.json"), "w") as f:
            json.dump(data, f)
        with self.assertRaises(SystemExit):
            publish(run, root=self.tmp)

    def test_publish_checks_markers_first(self):
        with open(os.path.join(self.tmp, "README.md"), "w") as f:
            f.write("# no markers\n")
        run = os.path.join(self.tmp, "run")
        os.makedirs(run)
        data = sample_data()
        with open(os.path.join(run, "results.json"), "w") as f:
            json.dump(data, f)
        with open(os.path.join(run, "report.md"), "w") as f:
            f.write("# report\n")
        with self.assertRaises(SystemExit) as cm:
            publish(run, root=self.tmp)
        self.assertIn(BEGIN, str(cm.exception))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, PUBLISHED)))
        publish(run, root=self.tmp, readme=False)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, PUBLISHED, "README.md")))


# ---- command line ---------------------------------------------------------------------------

def main():
    if "--self-test" in sys.argv[1:]:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        res = unittest.TextTestRunner(verbosity=1).run(suite)
        n, bad = res.testsRun, len(res.failures) + len(res.errors)
        print(f"bench/report.py self-test: {n - bad} passed, {bad} failed")
        return 0 if res.wasSuccessful() else 1
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="redraw chart.png and rewrite report.md of a run folder")
    r.add_argument("run_dir")
    p = sub.add_parser("publish", help="copy a run's report to bench/report and its "
                                       "headline into README.md")
    p.add_argument("run_dir", nargs="?", default=latest_link(False))
    p.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    p.add_argument("--force", action="store_true",
                   help="publish a quick run or one with failures")
    sub.add_parser("new-run-dir", help="create a run folder and print its path") \
        .add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.cmd == "render":
        render(a.run_dir)
        print(os.path.join(a.run_dir, "report.md"))
    elif a.cmd == "new-run-dir":
        print(new_run_dir(a.quick))
    else:
        for path in publish(a.run_dir, readme=not a.no_readme, force=a.force):
            print("wrote " + os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
