#!/usr/bin/env python3
"""Split transcodes (`vqueue submit --split`): one long video across several workers.

Usage (from the repository root; `make bench` does this):

    python3 Tests/Bench/split_bench.py --vqueue .build/release/vqueue [--runs 3] [--chunk 10]

What it does, on a 60 s 1280x720 25 fps clip (the benches' generated clip, made once and cached):
  1. Unsplit: `vqueue submit SRC OUT.mp4`, then ONE worker pinned to core 0 (`taskset -c 0
     vqueue worker --concurrency 1 --drain`) transcodes it whole.
  2. Split: `vqueue submit SRC OUT.mp4 --split --chunk 10s`, then TWO workers, one pinned to core 0
     and one to core 1, take its chunks and its audio; one of them stitches.
  Both with the same options (--x264-preset veryfast, the default CRF, AAC 128k), each on a
  fresh SQLite queue, alternating the order over --runs rounds. The wall time is from the
  submit command's start to the job's end as the queue recorded it (finished_at).
  3. From the queue's events of the split run: each part's time (claimed to succeeded), the
     stitch's time, and the overhead of splitting: what the parts and the stitch cost beyond the
     unsplit transcode (the per-chunk start-up: a new decoder seeking to its keyframe, a new
     encoder; the audio's own read of the input; the stitch).
  4. Checks the split output against the unsplit one: the same number of pictures (ffprobe),
     duration, and PSNR of each against the source.
  5. Prints the speed-up (target >= 1.8x on 2 cores) and a model, with the measured figures, of
     a two-hour video on K boxes of one such core each:
        T(K) = ceil(N / K) * (chunk time + per-chunk start-up) + stitch, N = 7200 s / chunk length,
     the audio (a part like the chunks) running beside them; against T(1 box, unsplit).

Exit status: 0 when every run finished (a missed target is reported, not fatal), 1 when a tool
failed, 2 on a setup problem. Python 3 standard library only.
"""

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import (SetupError, ToolFailure, ensure_clip, ffprobe, first_stream, fnum, log,
                          resolve_program, run_capture, tail, verdict, warm_page_cache)

REPO = Path(__file__).resolve().parents[2]
TARGET_SPEEDUP = 1.8
OPTIONS = ["--x264-preset", "veryfast", "--audio-bitrate", "128k"]
MODEL_SECONDS = 7200
MODEL_CHUNK = 30.0


def iso_seconds(text):
    # 2026-12-03T11:32:23.356Z
    import calendar
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + text[19:-1])


def vq(args, db, *argv, check=True):
    rc, out, err = run_capture([args.vqueue, *argv, "--db", str(db)], "vqueue " + argv[0], timeout=args.timeout)
    if check and rc != 0:
        raise ToolFailure(f"vqueue {' '.join(argv)} exited {rc}:\n{tail(err)}")
    return out


def run_farm(args, src, out, cores, split):
    """Submits and runs the job with one worker per core; returns (wall, events, job id)."""
    work = Path(tempfile.mkdtemp(prefix="split-bench-", dir=args.cache_dir))
    db = work / "queue.db"
    try:
        if out.exists():
            out.unlink()
        warm_page_cache(src)
        t0 = time.time()
        extra = ["--split", "--chunk", f"{args.chunk:g}s"] if split else []
        job = int(vq(args, db, "submit", str(src), str(out), *OPTIONS, *extra).strip())
        workers = [subprocess.Popen(["taskset", "-c", str(core), args.vqueue, "worker", "--concurrency", "1", "--drain",
                                     "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for core in cores]
        for w in workers:
            _, err = w.communicate(timeout=args.timeout)
            if w.returncode != 0:
                raise ToolFailure(f"a worker exited {w.returncode}:\n{tail(err.decode(errors='replace'))}")
        status = json.loads(vq(args, db, "status", str(job), "--json", check=False))
        if status["state"] != "succeeded":
            raise ToolFailure(f"the job ended {status['state']}: {status.get('error')}")
        # From submit to the job's end as the queue recorded it (not to the workers' exit,
        # which waits for their drain check).
        wall = iso_seconds(status["finished_at"]) - t0
        events = [json.loads(line) for line in vq(args, db, "events", "--json").splitlines() if line.strip()]
        return wall, events, job
    finally:
        shutil.rmtree(work, ignore_errors=True)


def part_times(events, whole):
    """Per job: seconds from running to succeeded (its last attempt); and which are parts."""
    started, spans, parents = {}, {}, {}
    for e in events:
        if e.get("kind") != "job":
            continue
        job = e["job"]
        if e.get("parent_id") is not None:
            parents[job] = e["parent_id"]
        if e["to"] == "running":
            started[job] = iso_seconds(e["at"])
        elif e["to"] == "succeeded" and job in started:
            spans[job] = iso_seconds(e["at"]) - started[job]
    parts = {job: spans[job] for job in spans if parents.get(job) == whole}
    return parts, spans.get(whole)


def makespan(jobs, boxes):
    """When the last of `jobs` (seconds each, taken in order, as workers claim parts) ends on
    `boxes` slots, each job going to the slot free first."""
    import heapq
    free = [0.0] * boxes
    for job in jobs:
        heapq.heappush(free, heapq.heappop(free) + job)
    return max(free)


def psnr(args, output, src):
    rc, _, err = run_capture([args.ffmpeg, "-nostdin", "-v", "info", "-i", str(output), "-i", str(src),
                              "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"], "psnr", timeout=args.timeout)
    match = re.search(r"PSNR .*average:([0-9.inf]+)", err)
    if rc != 0 or not match:
        raise ToolFailure(f"psnr of {output} failed:\n{tail(err)}")
    return float(match.group(1))


def frames(args, path):
    rc, out, err = run_capture([args.ffprobe, "-v", "error", "-select_streams", "v:0", "-count_packets",
                                "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)], "ffprobe",
                               timeout=args.timeout)
    if rc != 0:
        raise ToolFailure(f"ffprobe {path} failed:\n{tail(err)}")
    return int(out.strip())


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="vqueue --split on two pinned workers vs unsplit on one")
    ap.add_argument("--vqueue", default=str(REPO / ".build/release/vqueue"))
    ap.add_argument("--ffmpeg", default="ffmpeg")
    ap.add_argument("--ffprobe", default="ffprobe")
    ap.add_argument("--cache-dir", default=str(REPO / ".build/bench-media"))
    ap.add_argument("--source", help="use this file instead of the generated 60 s clip")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=float, default=10.0, help="chunk length in seconds (default 10)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args(argv)
    try:
        args.vqueue = resolve_program(args.vqueue, "--vqueue")
        args.ffmpeg = resolve_program(args.ffmpeg, "--ffmpeg")
        args.ffprobe = resolve_program(args.ffprobe, "--ffprobe")
        if shutil.which("taskset") is None:
            raise SetupError("taskset (util-linux) is missing")
        if (os.cpu_count() or 1) < 2:
            raise SetupError("two cores are needed")
        src = Path(args.source) if args.source else ensure_clip(args.ffmpeg, args.ffprobe, args.cache_dir, 60)
    except SetupError as e:
        log(f"setup: {e}")
        return 2
    info = ffprobe(args.ffprobe, src)
    video = first_stream(info, "video")
    seconds = float(info["format"]["duration"])
    out_dir = Path(args.cache_dir)
    whole_out, split_out = out_dir / "split-bench-whole.mp4", out_dir / "split-bench-split.mp4"

    unsplit_walls, split_walls, overheads, stitches, chunk_spans, audio_spans = [], [], [], [], [], []
    try:
        for run in range(args.runs):
            order = [False, True] if run % 2 == 0 else [True, False]
            for split in order:
                if split:
                    wall, events, job = run_farm(args, src, split_out, [0, 1], True)
                    split_walls.append(wall)
                    parts, stitch = part_times(events, job)
                    # The audio part is queued first (the lowest id), then the chunks in order.
                    chunks = sorted(parts.items())
                    audio = chunks[0][1] if len(chunks) > 1 else 0.0
                    chunk_spans.append([span for _, span in chunks[1:]])
                    audio_spans.append(audio)
                    stitches.append(stitch or 0.0)
                    log(f"run {run + 1}: split on 2 cores {wall:.1f} s ({len(chunks) - 1} chunks, audio {audio:.1f} s, "
                        f"stitch {stitch or 0:.2f} s)")
                else:
                    wall, events, job = run_farm(args, src, whole_out, [0], False)
                    unsplit_walls.append(wall)
                    _, own = part_times(events, job)
                    log(f"run {run + 1}: unsplit on 1 core {wall:.1f} s (the transcode itself {own or 0:.1f} s)")
        whole_frames, split_frames = frames(args, whole_out), frames(args, split_out)
        whole_psnr, split_psnr = psnr(args, whole_out, src), psnr(args, split_out, src)
    except ToolFailure as e:
        log(f"FAILED: {e}")
        return 1

    unsplit = statistics.median(unsplit_walls)
    split = statistics.median(split_walls)
    # Each round's own ratio (its two runs side by side), then their median: the machine's
    # speed drifts between rounds (seen: the same unsplit run 12 % apart).
    ratios = [u / s for u, s in zip(unsplit_walls, split_walls)]
    speedup = statistics.median(ratios)
    spans = chunk_spans[-1]
    busy = sum(spans) + audio_spans[-1] + stitches[-1]
    # The chunks' pictures cost what the unsplit transcode's cost; what they cost beyond it is
    # the start-up of each chunk (its own decoder seeking, its own encoder).
    rate = unsplit / seconds  # wall seconds per media second, one core
    per_chunk = (sum(spans) - rate * seconds) / max(1, len(spans))
    stitch_per_second = stitches[-1] / seconds
    audio_per_second = audio_spans[-1] / seconds

    print()
    print(f"split bench: {src.name}, {seconds:.1f} s {video.get('width')}x{video.get('height')}, "
          f"chunks of {args.chunk:g} s, {args.runs} round(s), options {' '.join(OPTIONS)}")
    print(f"  unsplit, 1 worker on 1 core      {unsplit:8.1f} s   ({fnum(rate)} s per media second)")
    print(f"  split, 2 workers on 1 core each  {split:8.1f} s")
    print(f"  speed-up (median of the rounds)  {speedup:8.2f}x   target >= {TARGET_SPEEDUP}x  {verdict(speedup >= TARGET_SPEEDUP)}"
          f"   rounds: {', '.join(f'{r:.2f}x' for r in ratios)}")
    print(f"  chunks: {len(spans)}, each {min(spans):.1f} to {max(spans):.1f} s; start-up per chunk "
          f"{per_chunk:+.2f} s (chunks' total beyond the unsplit transcode, per chunk; within the rounds' noise when near 0)")
    print(f"  audio part {audio_spans[-1]:.2f} s; stitch {stitches[-1]:.2f} s; all parts and stitch busy {busy:.1f} s "
          f"= {busy / unsplit:.2f}x the unsplit transcode")
    print(f"  output: {split_frames} pictures split vs {whole_frames} unsplit "
          f"{verdict(split_frames == whole_frames)}; PSNR vs source {split_psnr:.2f} dB split, {whole_psnr:.2f} dB unsplit "
          f"({split_psnr - whole_psnr:+.2f} dB)")
    print()
    n = math.ceil(MODEL_SECONDS / MODEL_CHUNK)
    chunk_time = rate * MODEL_CHUNK + max(per_chunk, 0.0)
    stitch = stitch_per_second * MODEL_SECONDS
    audio = audio_per_second * MODEL_SECONDS
    alone = rate * MODEL_SECONDS
    print(f"model: a two-hour video ({MODEL_SECONDS} s), {n} chunks of {MODEL_CHUNK:g} s, boxes of one such core, "
          f"from the figures above (chunk {chunk_time:.1f} s, audio {audio:.0f} s, stitch {stitch:.0f} s; "
          "parts taken in order by the first box free)")
    print(f"  {'boxes':>6} {'time':>10} {'speed-up':>9}")
    print(f"  {'1*':>6} {alone / 60:9.1f}m {1:8.2f}x   (* unsplit)")
    for boxes in (1, 2, 4, 10, 20, 50, 100):
        total = makespan([audio] + [chunk_time] * n, boxes) + stitch
        print(f"  {boxes:>6} {total / 60:9.1f}m {alone / total:8.2f}x")
    # With a box for every part, the longest part (the audio, encoded whole on one box, or a
    # chunk) and then the stitch (reading and writing the whole file once) are all that is left.
    floor = max(audio, chunk_time) + stitch
    longest = "the audio part (encoded whole, on one box)" if audio >= chunk_time else "one chunk"
    print(f"  (with a box for every part, {longest} and then the stitch bound the speed-up: "
          f"{alone / floor if floor > 0 else float('inf'):.0f}x at most)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
