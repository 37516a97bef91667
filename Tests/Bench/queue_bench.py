#!/usr/bin/env python3
"""Queue benchmark (DESIGN.md section 5, issue 3 "Benchmark"): the queue's overhead on each store
(SQLite, and PostgreSQL with --postgres) and a batch drained by `vqueue worker` against the
`ffmpeg` program.

Usage (from the repository root; `make bench` does this after `swift build -c release`, with a
throw-away PostgreSQL server it starts for the run and stops afterwards):

    python3 Tests/Bench/queue_bench.py --vqueue .build/release/vqueue \
        --queue-bench .build/release/queue-bench [--postgres postgres://USER@HOST:PORT/] \
        [--runs 30] [--rounds 2] [--quick]

--postgres names a server, not a database (Tests/Support/postgres-server.sh prints such a URL):
the benchmark makes its own databases there, vqueue_bench_*, dropped and created afresh through
`psql BASEURLpostgres` (so the user must be allowed to create databases; psql must be on PATH), and
leaves them behind. Without --postgres only SQLite is measured.

What it measures, each on a fresh database: on SQLite a file under .build/bench-queue-py/ (the
project's disk, never a tmpfs, so fsync costs what it costs); on PostgreSQL a database on the
server, with the server's own durability settings (printed), wherever its data folder is:
  1. No-op jobs per second through submit, claim and complete, one process and several
     (--processes): runs the `queue-bench` target (a no-op JobHandler, so only the queue is
     measured; `--postgres` for the PostgreSQL run) and reads its JSON.
  2. Idle cost and submit-to-start latency: starts `vqueue worker --db LOCATION`, waits 2 s,
     measures the CPU time it uses over --idle-seconds (from /proc/PID/stat: user + system),
     then --runs times submits Fixtures/one_frame.mp4 to a new output, waits for the job to finish
     (`status --wait --json`) and takes started_at - submitted_at (both on the store's clock).
     Prints median and p95.
  3. Whole-process wall time of `vqueue submit` and of `vqueue status` (median of --runs each),
     and, to show where it goes (SQLite column): `vqueue --version` (the binary alone), loading
     FFmpeg's libavformat with its libraries (from Python, no Swift), `vqueue probe` of the same
     file, and the `sqlite3` program reading one job (when installed).
  Then, SQLite only (it measures transcoding, not the store):
  4. A batch of varied files (the Fixtures that transcode, plus a 10 s 640x360 and a 10 s 1280x720
     clip made once with ffmpeg into --cache-dir) drained by `vqueue worker --drain` (defaults:
     x264 veryfast, crf 23, AAC 128k), with the default --threads-per-job and with 1, against the
     `ffmpeg` program with the same settings run sequentially and 2 at a time (a thread pool
     starting processes, as `xargs -P 2` would; no shell). Each configuration runs --rounds times,
     alternating the order; the best time of each counts. Prints vqueue / best-of-ffmpeg.

Prints one table, a column per store, with the targets: SQLite >= 3,000 no-op jobs/s and
submit-to-start <= 20 ms median (inotify on the database's folder wakes an idle worker);
PostgreSQL >= 2,000 no-op jobs/s and submit-to-start <= 20 ms median (a NOTIFY wakes it); on
both, an idle worker <= 0.2 % of a core, submit and status <= 10 ms each; batch ratio <= 1.00.

Exit status: 0 when everything ran (a missed target is a finding, not an error), 1 when a tool
failed (non-zero exit, missing output), 2 on a setup problem (missing program or fixture).
Python 3 standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench_common import SetupError, ToolFailure, log

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Fixtures"

# Bump when the generated clips change so that stale caches are not reused.
MEDIA_VERSION = "v1"

# Per store: (SQLite, PostgreSQL).
TARGET_NOOP_JOBS_PER_S = {"sqlite": 3000.0, "postgres": 2000.0}
TARGET_START_MS = {"sqlite": 20.0, "postgres": 20.0}
TARGET_PROCESS_MS = {"sqlite": 10.0, "postgres": 10.0}
TARGET_IDLE_PCT = 0.2
STORES = [("sqlite", "SQLite"), ("postgres", "PostgreSQL")]
TARGET_BATCH_RATIO = 1.00

# The Fixtures that transcode (Fixtures/README.md, "Successes").
BATCH_FIXTURES = [
    "old_camera.avi", "h264_aac_1080p.mp4", "vp9_opus.webm", "rotated_90.mp4", "odd_641x479.mkv",
    "video_only.mp4", "surround_51.mkv", "vfr.mkv", "tenbit_420.mkv", "interlaced.ts",
    "rgb_qtrle.mov", "one_frame.mp4", "two_audio.mkv",
]
# (name, size) of the longer synthetic clips, 10 s each.
SYNTHETIC = [("640x360", "640x360"), ("1280x720", "1280x720")]

# The even-size scale is a no-op except on odd sizes (odd_641x479.mkv), which x264 refuses in 4:2:0
# and which vqueue rounds to even itself.
FFMPEG_SETTINGS = ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-b:a", "128k", "-ac", "2"]




def run(argv, what, check=True, timeout=600, ok_codes=(0,)):
    """Runs argv (no shell); returns the CompletedProcess (text)."""
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            errors="replace", timeout=timeout)
    except FileNotFoundError as e:
        raise SetupError(f"{what}: cannot run {argv[0]}: {e}")
    except subprocess.TimeoutExpired:
        raise ToolFailure(f"{what}: timed out after {timeout} s")
    if check and cp.returncode not in ok_codes:
        tail = (cp.stderr or cp.stdout).strip().splitlines()[-3:]
        raise ToolFailure(f"{what}: exit {cp.returncode}: {' | '.join(tail)}")
    return cp


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def iso_seconds(text):
    """ISO 8601 UTC with milliseconds (2025-01-02T03:04:05.678Z) to seconds since 1970."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def postgres_url(base, database):
    """The URL of `database` on the server `base` names (postgres://user@host:port/[?params])."""
    head, mark, query = base.partition("?")
    return (head if head.endswith("/") else head + "/") + database + mark + query


def fresh_postgres_database(base, name):
    """Drops and creates vqueue_bench_NAME on the server; returns its URL."""
    database = f"vqueue_bench_{name}"
    # Separate -c's: CREATE DATABASE cannot run inside a transaction.
    run(["psql", postgres_url(base, "postgres"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", "-c", f"CREATE DATABASE {database}"],
        f"psql (creating {database})", timeout=120)
    return postgres_url(base, database)


# --------------------------------------------------------------------------------------------
# 1. No-op jobs per second (queue-bench)


def noop_throughput(args, store):
    argv = [args.queue_bench, "--json", "--jobs", str(args.jobs), "--processes", str(args.processes),
            "--dir", str(args.work / "noop")]
    if store == "postgres":
        argv += ["--postgres", args.postgres]
    if args.profile:
        argv.append("--profile")
    log(f"no-op throughput ({store}): " + " ".join(argv))
    cp = run(argv, "queue-bench", timeout=1800)
    lines = cp.stdout.strip().splitlines()
    for line in lines[:-1]:
        log("  " + line)
    return json.loads(lines[-1])


# --------------------------------------------------------------------------------------------
# 2 and 3. Submit-to-start latency, submit and status process times


class Worker:
    """A `vqueue worker` process, its log in a file."""

    def __init__(self, vqueue, db, log_path, extra=()):
        self.log_file = open(log_path, "w")
        self.process = subprocess.Popen([vqueue, "worker", "--db", str(db), *extra], stdin=subprocess.DEVNULL,
                                        stdout=self.log_file, stderr=subprocess.STDOUT)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def latency_and_process_times(args, store):
    work = fresh_dir(args.work / ("latency" if store == "sqlite" else f"latency-{store}"))
    db = work / "queue.db" if store == "sqlite" else fresh_postgres_database(args.postgres, "latency")
    source = FIXTURES / "one_frame.mp4"
    vq = args.vqueue
    # Create the database (tables) first so the worker's start-up is not part of anything measured.
    run([vq, "list", "--db", str(db)], "vqueue list")
    worker = Worker(vq, db, work / "worker.log")
    starts_ms, submit_ms, status_ms = [], [], []
    ids = []
    try:
        time.sleep(2.0)
        if worker.process.poll() is not None:
            raise ToolFailure(f"vqueue worker exited with {worker.process.returncode}; see {work / 'worker.log'}")
        log(f"idle cost ({store}): the worker's CPU time over {args.idle_seconds} s")
        before, t0 = cpu_seconds(worker.process.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        idle_pct = 100 * (cpu_seconds(worker.process.pid) - before) / (time.monotonic() - t0)
        log(f"submit-to-start ({store}): {args.runs} jobs on an idle worker")
        for i in range(args.runs):
            out = work / f"latency {i}.mp4"
            t0 = time.monotonic()
            cp = run([vq, "submit", str(source), str(out), "--db", str(db)], "vqueue submit")
            submit_ms.append((time.monotonic() - t0) * 1000)
            job_id = cp.stdout.strip()
            ids.append(job_id)
            cp = run([vq, "status", job_id, "--db", str(db), "--wait", "--timeout", "60s", "--json"],
                     "vqueue status --wait")
            # The last line (older builds printed the job twice after --wait).
            job = json.loads(cp.stdout.strip().splitlines()[-1])
            if job["state"] != "succeeded" or not out.exists():
                raise ToolFailure(f"latency job {job_id} ended {job['state']}: {job.get('error')}")
            starts_ms.append((iso_seconds(job["started_at"]) - iso_seconds(job["submitted_at"])) * 1000)
            time.sleep(0.2 + 0.3 * (i % 3) / 2)  # idle again, for a varying while
    finally:
        worker.stop()
    # `status` of a finished job, on a database with some history.
    log(f"process times ({store}): {args.runs} x vqueue status, then {args.runs} more x vqueue submit (no worker)")
    for i in range(args.runs):
        t0 = time.monotonic()
        run([vq, "status", ids[i % len(ids)], "--db", str(db), "--json"], "vqueue status")
        status_ms.append((time.monotonic() - t0) * 1000)
    for i in range(args.runs):
        t0 = time.monotonic()
        run([vq, "submit", str(source), str(work / f"queued {i}.mp4"), "--db", str(db)], "vqueue submit")
        submit_ms.append((time.monotonic() - t0) * 1000)
    result = {"start_ms": starts_ms, "submit_ms": submit_ms, "status_ms": status_ms, "idle_pct": idle_pct}
    if store == "sqlite":
        log(f"start-up parts: {args.runs} x each of vqueue --version, vqueue probe, loading libavformat, sqlite3")
        result["parts"] = startup_parts(args, db)
    return result


def process_ms(argv, what, runs):
    """Median wall time (ms) of `runs` whole processes of argv."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        run(argv, what)
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times)


def startup_parts(args, sqlite_db):
    """Where a short command's time goes, each part measured as a whole process (median ms):
    the binary alone (`vqueue --version`: exec, dynamic linking and relocation of the 90 MB
    binary, the Swift runtime and Foundation starting, argument parsing); loading FFmpeg's
    libavformat with every library it needs (a Python ctypes load minus Python alone: no Swift
    involved), which `submit` and `probe` pay to check an upload; `vqueue probe` (the binary,
    that load, and reading the file); and the `sqlite3` program reading one job's row, the floor
    for a process that reads the queue."""
    source = str(FIXTURES / "one_frame.mp4")
    python = [sys.executable, "-S", "-c"]
    libav = "libavformat.so.59"
    parts = {
        "binary": process_ms([args.vqueue, "--version"], "vqueue --version", args.runs),
        "probe": process_ms([args.vqueue, "probe", source, "--json"], "vqueue probe", args.runs),
        "libav": process_ms(python + [f"import ctypes; ctypes.CDLL({libav!r})"], f"loading {libav}", args.runs)
                 - process_ms(python + ["import ctypes"], "python alone", args.runs),
        "libav_count": None,
        "sqlite3": None,
    }
    ldd = run(["ldd", f"/usr/lib/{os.uname().machine}-linux-gnu/{libav}"], "ldd", check=False)
    if ldd.returncode == 0:
        parts["libav_count"] = len([line for line in ldd.stdout.splitlines() if "=>" in line or "/" in line])
    if shutil.which("sqlite3"):
        parts["sqlite3"] = process_ms(["sqlite3", str(sqlite_db), "SELECT * FROM jobs WHERE id = 1"], "sqlite3",
                                      args.runs)
    return parts


def cpu_seconds(pid):
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# 4. Batch: vqueue worker --drain vs the ffmpeg program


def batch_sources(args):
    sources = []
    for name in BATCH_FIXTURES:
        path = FIXTURES / name
        if not path.exists():
            raise SetupError(f"missing fixture {path} (make fixtures)")
        sources.append(path)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    for name, size in SYNTHETIC:
        path = args.cache_dir / f"queue-bench-{MEDIA_VERSION}-{name}-10s.mp4"
        if not path.exists():
            log(f"making {path} (once)")
            tmp = path.with_name(path.stem + ".part.mp4")
            run(["ffmpeg", "-nostdin", "-y", "-v", "error",
                 "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=10",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
                 "-vf", "noise=alls=12:allf=t+u", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-shortest", str(tmp)],
                "ffmpeg (making a synthetic clip)")
            tmp.rename(path)
        sources.append(path)
    return sources


def ffmpeg_argv(source, out):
    return ["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(source), *FFMPEG_SETTINGS, str(out)]


def check_outputs(outputs, what):
    for out in outputs:
        if not out.exists() or out.stat().st_size == 0:
            raise ToolFailure(f"{what}: no output {out}")


def run_ffmpeg(sources, out_dir, parallel):
    outputs = [out_dir / f"{i:02d} {s.stem}.mp4" for i, s in enumerate(sources)]
    jobs = list(zip(sources, outputs))
    t0 = time.monotonic()
    if parallel <= 1:
        for source, out in jobs:
            run(ffmpeg_argv(source, out), f"ffmpeg {source.name}")
    else:
        # Longest first would be smarter than xargs; keep xargs' order (as given) to be fair to it.
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(run, ffmpeg_argv(s, o), f"ffmpeg {s.name}") for s, o in jobs]
            for f in futures:
                f.result()
    wall = time.monotonic() - t0
    check_outputs(outputs, "ffmpeg")
    return wall


def run_vqueue(args, sources, out_dir, threads_per_job):
    db = out_dir / "queue.db"
    # One batch, as a site would submit a folder of uploads (outputs named by input stem).
    outputs = [out_dir / f"{s.stem}.mp4" for s in sources]
    run([args.vqueue, "submit", "--db", str(db), "--out-dir", str(out_dir), "--format", "mp4", "--", *map(str, sources)],
        "vqueue submit (batch)")
    extra = ["--drain"] + (["--threads-per-job", str(threads_per_job)] if threads_per_job is not None else [])
    t0 = time.monotonic()
    with open(out_dir / "worker.log", "w") as log_file:
        rc = subprocess.run([args.vqueue, "worker", "--db", str(db), *extra], stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - t0
    if rc != 0:
        raise ToolFailure(f"vqueue worker --drain exited {rc}; see {out_dir / 'worker.log'}")
    listing = json.loads(run([args.vqueue, "list", "--db", str(db), "--json", "--limit", "1000"], "vqueue list").stdout)
    jobs = listing if isinstance(listing, list) else listing.get("jobs", [])
    bad = [j for j in jobs if j.get("state") != "succeeded"]
    if bad:
        raise ToolFailure(f"vqueue batch: job {bad[0].get('id')} {bad[0].get('state')}: {bad[0].get('error')}")
    check_outputs(outputs, "vqueue")
    return wall


def batch_comparison(args):
    sources = batch_sources(args)
    configs = [
        ("ffmpeg sequential", lambda d: run_ffmpeg(sources, d, 1)),
        (f"ffmpeg -P {args.parallel}", lambda d: run_ffmpeg(sources, d, args.parallel)),
        ("vqueue worker (default)", lambda d: run_vqueue(args, sources, d, None)),
        ("vqueue worker --threads-per-job 1", lambda d: run_vqueue(args, sources, d, 1)),
    ]
    times = {name: [] for name, _ in configs}
    log(f"batch: {len(sources)} files, {args.rounds} round(s) of {len(configs)} configurations")
    for r in range(args.rounds):
        order = configs if r % 2 == 0 else list(reversed(configs))
        for name, fn in order:
            out_dir = fresh_dir(args.work / "batch" / name.replace(" ", "_"))
            wall = fn(out_dir)
            times[name].append(wall)
            log(f"  round {r + 1}: {name}: {wall:.2f} s")
    return {"files": [s.name for s in sources], "times": times}


# --------------------------------------------------------------------------------------------
# The table


METRIC_WIDTH = 56


def cell(value, target, passed):
    """One store's value, target and PASS/MISS (blank when there is no target)."""
    result = "" if passed is None else ("PASS" if passed else "MISS")
    return f"{value:>10} {target:>9} {result:<4}"


def row(metric, cells):
    """A metric and a cell per store (SQLite, PostgreSQL); None for a store not measured."""
    line = f"{metric:<{METRIC_WIDTH}}" + "".join("  " + (c if c is not None else cell("-", "", None)) for c in cells)
    return line.rstrip()


def header():
    names = "".join(f"  {label:>10} {'target':>9} {'':<4}" for _, label in STORES)
    return f"{'metric':<{METRIC_WIDTH}}{names}".rstrip()


def print_table(args, noop, lat, batch):
    """noop and lat: per store, None when that store was not measured."""
    print()
    measured = [label for key, label in STORES if lat.get(key) is not None]
    rounds = f"; batch best of {args.rounds} round(s)" if batch else ""
    print(f"Queue benchmark ({os.cpu_count()} cores; {args.runs} samples{rounds}; stores: {', '.join(measured)})")
    print(header())
    print("-" * len(header()))
    if any(noop.values()):
        multi = next(n["processes"] for n in noop.values() if n)
        batch_size = next(n["batch"] for n in noop.values() if n)
        concurrency = next(n["concurrency"] for n in noop.values() if n)
        for key, label in [("single", "1 process"), ("multi", f"{multi} processes")]:
            def noop_cell(store, field, target=True):
                n = noop.get(store)
                if not n:
                    return None
                value = n[key][field]
                goal = TARGET_NOOP_JOBS_PER_S[store]
                return cell(f"{value:.0f}", f">= {goal:.0f}" if target else "", value >= goal if target else None)
            print(row(f"no-op jobs/s, {label}, submit+claim+complete",
                      [noop_cell(store, "jobs_per_s") for store, _ in STORES]))
            print(row(f"  of which submit alone (batches of {batch_size})",
                      [noop_cell(store, "submit_jobs_per_s", target=False) for store, _ in STORES]))
            print(row(f"  of which claim+complete alone (drain, conc. {concurrency})",
                      [noop_cell(store, "drain_jobs_per_s") for store, _ in STORES]))

    def lat_cell(store, fn, targets):
        values = lat.get(store)
        if values is None:
            return None
        value = fn(values)
        if targets is None:
            return cell(f"{value:.1f}", "", None)
        return cell(f"{value:.1f}", f"<= {targets[store]:.0f}", value <= targets[store])
    def idle_cell(store):
        values = lat.get(store)
        if values is None:
            return None
        return cell(f"{values['idle_pct']:.3f}", f"<= {TARGET_IDLE_PCT}", values["idle_pct"] <= TARGET_IDLE_PCT)
    print(row(f"idle worker, CPU over {args.idle_seconds:.0f} s (% of a core)", [idle_cell(s) for s, _ in STORES]))
    print(row("submit-to-start on an idle worker, median (ms)",
              [lat_cell(s, lambda v: statistics.median(v["start_ms"]), TARGET_START_MS) for s, _ in STORES]))
    print(row("submit-to-start on an idle worker, p95 (ms)",
              [lat_cell(s, lambda v: percentile(v["start_ms"], 95), None) for s, _ in STORES]))
    for key, label in [("submit_ms", "vqueue submit"), ("status_ms", "vqueue status")]:
        print(row(f"{label}, whole process, median (ms)",
                  [lat_cell(s, lambda v: statistics.median(v[key]), TARGET_PROCESS_MS) for s, _ in STORES]))
    parts = (lat.get("sqlite") or {}).get("parts")
    if parts:
        only = lambda value: [cell(f"{value:.1f}", "", None), cell("", "", None)]
        print(row("  where it goes: vqueue --version (binary alone)", only(parts["binary"])))
        count = f" and its {parts['libav_count']} libraries" if parts["libav_count"] else ""
        print(row(f"  loading libavformat{count}", only(parts["libav"])))
        print(row("  vqueue probe (binary + libavformat + reading)", only(parts["probe"])))
        if parts["sqlite3"] is not None:
            print(row("  the sqlite3 program reading one job", only(parts["sqlite3"])))
    if batch:
        sqlite_only = lambda c: [c, cell("", "", None)]
        best = {name: min(ts) for name, ts in batch["times"].items()}
        ff = min(v for k, v in best.items() if k.startswith("ffmpeg"))
        ff_name = min((k for k in best if k.startswith("ffmpeg")), key=lambda k: best[k])
        print(row(f"batch of {len(batch['files'])} files, wall (s) (SQLite only):", sqlite_only(cell("", "", None))))
        for name, t in best.items():
            print(row(f"  {name}", sqlite_only(cell(f"{t:.2f}", "", None))))
        vq = best["vqueue worker (default)"]
        t1 = best["vqueue worker --threads-per-job 1"]
        print(row(f"batch ratio vqueue (default) / best ffmpeg ({ff_name})",
                  sqlite_only(cell(f"{vq / ff:.2f}", f"<= {TARGET_BATCH_RATIO:.2f}", vq / ff <= TARGET_BATCH_RATIO))))
        print(row("batch ratio vqueue --threads-per-job 1 / best ffmpeg",
                  sqlite_only(cell(f"{t1 / ff:.2f}", f"<= {TARGET_BATCH_RATIO:.2f}", t1 / ff <= TARGET_BATCH_RATIO))))
        faster = "--threads-per-job 1" if t1 < vq else "default (--threads-per-job 0)"
        print(f"faster worker setting for this batch: {faster} ({min(vq, t1):.2f} s vs {max(vq, t1):.2f} s)")
    for store, label in STORES:
        n = noop.get(store)
        if n and store == "sqlite":
            print(f"{label}: write+fsync {n['fsync_ms']:.2f} ms, one-job submit transaction {n['commit_ms']:.2f} ms "
                  f"(median; {n.get('durability', '')})")
        elif n:
            print(f"{label}: one-job submit transaction {n['commit_ms']:.2f} ms (median; {n.get('durability', '')})")
    if args.postgres is None:
        print("PostgreSQL: not measured (no --postgres; `make bench` starts a server for it)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vqueue", default=str(REPO / ".build/release/vqueue"))
    parser.add_argument("--queue-bench", default=str(REPO / ".build/release/queue-bench"))
    parser.add_argument("--postgres", metavar="BASEURL", default=os.environ.get("VQUEUE_TEST_POSTGRES") or None,
                        help="also measure PostgreSQL on this server (postgres://user@host:port/); "
                             "makes databases vqueue_bench_* there (default: $VQUEUE_TEST_POSTGRES, "
                             "which `Tests/Support/postgres-server.sh run` sets)")
    parser.add_argument("--runs", type=int, default=30, help="latency and process-time samples (default 30)")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle cost measured over (default 60 s)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the batch comparison (default 2)")
    parser.add_argument("--jobs", type=int, default=20000, help="no-op jobs (default 20000)")
    parser.add_argument("--processes", type=int, default=4, help="worker processes for the no-op run (default 4)")
    parser.add_argument("--parallel", type=int, default=2, help="ffmpeg processes at once, as xargs -P (default 2)")
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".build/bench-media")
    parser.add_argument("--work", type=Path, default=REPO / ".build/bench-queue-py")
    parser.add_argument("--profile", action="store_true", help="queue-bench --profile: where the no-op time goes")
    parser.add_argument("--skip-noop", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer samples: --runs 10 --rounds 1 --jobs 5000")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rounds, args.jobs, args.idle_seconds = 10, 1, 5000, 10
    if args.runs < 1 or args.rounds < 1 or args.jobs < 1:
        parser.error("--runs, --rounds and --jobs must be positive")
    if args.postgres is not None and not args.postgres.lower().startswith(("postgres://", "postgresql://")):
        parser.error(f"--postgres wants a postgres://user@host:port/ URL, not {args.postgres!r}")
    stores = ["sqlite"] + (["postgres"] if args.postgres else [])

    try:
        for program in ["ffmpeg", "ffprobe"] + (["psql"] if args.postgres else []):
            if shutil.which(program) is None:
                raise SetupError(f"{program} is not on PATH")
        if not os.access(args.vqueue, os.X_OK):
            raise SetupError(f"{args.vqueue} is not executable (swift build -c release)")
        if not args.skip_noop and not os.access(args.queue_bench, os.X_OK):
            raise SetupError(f"{args.queue_bench} is not executable (swift build -c release --product queue-bench)")
        args.vqueue = str(Path(args.vqueue).resolve())
        args.queue_bench = str(Path(args.queue_bench).resolve())
        args.work.mkdir(parents=True, exist_ok=True)

        noop = {store: None if args.skip_noop else noop_throughput(args, store) for store in stores}
        lat = {store: latency_and_process_times(args, store) for store in stores}
        batch = None if args.skip_batch else batch_comparison(args)
    except SetupError as e:
        log(f"queue_bench: setup: {e}")
        return 2
    except ToolFailure as e:
        log(f"queue_bench: failed: {e}")
        return 1

    print_table(args, noop, lat, batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
