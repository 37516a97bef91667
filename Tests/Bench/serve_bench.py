#!/usr/bin/env python3
"""`vqueue serve` under load (issue 12, "Load"): 200 API clients, each polling
`GET /v1/jobs/ID` every 0.5 s over a kept-alive connection (as a site's upload
page polls), and one Server-Sent Events listener, while `vqueue worker`
transcodes; against the same transcode with no server and no clients, in the
same run, alternating, best of --rounds each.

Prints requests per second, latency (median, p99) and errors, events
received, and the transcode's wall time with the load over without it (the
target: under 1.05). Both run on this machine, so the clients' own CPU is in
the ratio too.

Usage (from the repository root; `make bench` runs it after the release build):
    python3 Tests/Bench/serve_bench.py --vqueue .build/release/vqueue [--clients 200] [--rounds 2]

Exit status: 0 when everything ran, 1 when a tool failed, 2 on a setup problem.
Python 3 standard library only.
"""

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_common import SetupError, ToolFailure, log

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".build" / "bench-serve"
TARGET_WALL_RATIO = 1.05


def sample():
    """A 20 s 1280x720 clip with a tone, made once with ffmpeg (the judge, never the product)."""
    clip = REPO / ".build" / "bench-media" / "serve-720p-20s.mp4"
    if clip.exists():
        return clip
    clip.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg") or sys.exit("ffmpeg is missing (make deps-test)")
    done = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=20",
                           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=20", "-c:v", "libx264",
                           "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)])
    if done.returncode != 0:
        raise SetupError("could not make the sample clip")
    return clip


def vqueue(binary, db, *arguments, check=True):
    done = subprocess.run([binary, *arguments, "--db", str(db)], capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise ToolFailure(f"vqueue {' '.join(arguments[:1])}: exit {done.returncode}: {done.stderr.strip()[:300]}")
    return done


def transcode_wall(binary, db, clip, index):
    """Submits the clip, drains it with one worker; the job's started-to-finished time (store clock)."""
    output = WORK / f"out-{index}.mp4"
    output.unlink(missing_ok=True)
    job = vqueue(binary, db, "submit", str(clip), str(output)).stdout.strip()
    vqueue(binary, db, "worker", "--drain", "--concurrency", "1")
    status = json.loads(vqueue(binary, db, "status", job, "--json").stdout)
    if status["state"] != "succeeded":
        raise ToolFailure(f"job {job} {status['state']}: {status.get('error')}")
    parse = lambda text: time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + text[19:-1])
    return parse(status["finished_at"]) - parse(status["started_at"]), job


async def poller(port, path, stop, latencies, errors):
    reader = writer = None
    while not stop.is_set():
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n")[0].decode())
        except (OSError, asyncio.IncompleteReadError, AttributeError) as error:
            errors.append(str(error))
            writer = None
        await asyncio.sleep(0.5)
    if writer is not None:
        writer.close()


async def listener(port, stop, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(reader.readline(), 1)
        except asyncio.TimeoutError:
            continue
        if line.startswith(b"id:"):
            counts["events"] += 1
    writer.close()


async def loaded(binary, db, clip, clients, index):
    serve = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--db", str(db)], stderr=subprocess.PIPE, text=True)
    try:
        line = serve.stderr.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not found:
            raise ToolFailure(f"serve did not start: {line}")
        port = int(found.group(1))
        output = WORK / f"out-{index}.mp4"
        output.unlink(missing_ok=True)
        job = vqueue(binary, db, "submit", str(clip), str(output)).stdout.strip()
        stop = asyncio.Event()
        latencies, errors, counts = [], [], {"events": 0}
        tasks = [asyncio.create_task(poller(port, f"/v1/jobs/{job}", stop, latencies, errors)) for _ in range(clients)]
        tasks.append(asyncio.create_task(listener(port, stop, counts)))
        await asyncio.sleep(2)
        began, measured = time.perf_counter(), len(latencies)
        worker = await asyncio.create_subprocess_exec(binary, "worker", "--drain", "--concurrency", "1", "--db", str(db),
                                                      stderr=asyncio.subprocess.DEVNULL)
        await worker.wait()
        seconds = time.perf_counter() - began
        requests = latencies[measured:]
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        status = json.loads(vqueue(binary, db, "status", job, "--json").stdout)
        if status["state"] != "succeeded":
            raise ToolFailure(f"job {job} {status['state']}: {status.get('error')}")
        parse = lambda text: time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + text[19:-1])
        wall = parse(status["finished_at"]) - parse(status["started_at"])
        return wall, len(requests) / seconds, requests, errors, counts["events"]
    finally:
        serve.terminate()
        serve.wait(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vqueue", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = str(Path(args.vqueue).resolve())
    if not Path(binary).is_file():
        raise SetupError(f"no vqueue binary at {binary}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    db = WORK / "queue.db"
    clip = sample()
    quiet, busy = [], []
    for round in range(args.rounds):
        # Alternating, so that neither side always runs on a warmer machine.
        order = ["quiet", "busy"] if round % 2 == 0 else ["busy", "quiet"]
        for side in order:
            index = len(quiet) + len(busy)
            if side == "quiet":
                quiet.append(transcode_wall(binary, db, clip, index)[0])
            else:
                busy.append(asyncio.run(loaded(binary, db, clip, args.clients, index)))
            log(f"round {round + 1} {side}: done")
    best_quiet = min(quiet)
    wall, rate, latencies, errors, events = min(busy, key=lambda run: run[0])
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    ratio = wall / best_quiet
    print(f"\nvqueue serve under load: {args.clients} clients polling GET /v1/jobs/ID every 0.5 s, one SSE listener,"
          f" while one worker transcodes a 20 s 1280x720 clip (best of {args.rounds})")
    print(f"  requests/s            {rate:10.0f}")
    print(f"  latency median        {statistics.median(latencies) * 1000:10.1f} ms")
    print(f"  latency p99           {p99 * 1000:10.1f} ms")
    print(f"  errors                {len(errors):10d}" + (f"  (first: {errors[0]})" if errors else ""))
    print(f"  events received       {events:10d}")
    print(f"  transcode wall        {wall:10.2f} s with the load, {best_quiet:.2f} s without")
    print(f"  ratio                 {ratio:10.3f}   (target < {TARGET_WALL_RATIO:.2f}: {'met' if ratio < TARGET_WALL_RATIO else 'MISSED'})")


if __name__ == "__main__":
    try:
        main()
    except SetupError as error:
        log(f"serve_bench: {error}")
        sys.exit(2)
    except ToolFailure as error:
        log(f"serve_bench: {error}")
        sys.exit(1)
