#!/usr/bin/env python3
"""Side-by-side benchmark: `vqueue transcode` vs the `ffmpeg` program (DESIGN.md section 5).

Usage (from the repository root; `make bench` does this):

    python3 Tests/Bench/transcode_bench.py --vqueue .build/release/vqueue [--runs 3] [--quick]

What it does:
  1. Makes a 30 s 1280x720 25 fps H.264 (crf 18, veryfast) + AAC stereo 48 kHz MP4 source clip
     once with the `ffmpeg` program and caches it under --cache-dir (default .build/bench-media/).
     The picture is a slow pan/zoom over a fractal texture with scene cuts, blended with a
     "life" cellular automaton and temporal film grain, so the encoder has real work to do.
     --source PATH uses your own file instead.
  2. Runs, --runs times and alternating the order (ab, ba, ab, ...):
       vqueue transcode SRC OUT.mp4 --x264-preset veryfast --video-bitrate 1M --audio-bitrate 128k --overwrite
       ffmpeg -y -v error -i SRC -c:v libx264 -preset veryfast -b:v 1M -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 OUT.mp4
     measuring wall time (time.monotonic) and peak RSS (ru_maxrss from os.wait4) of each child.
  3. Measures PSNR and SSIM of each tool's last output against the source (ffmpeg psnr/ssim
     filters) and checks the output durations against the source's (ffprobe, within 50 ms).
  4. Prints the table with the targets: wall ratio <= 1.00, peak memory ratio <= 1.10, PSNR of
     vqueue no more than 0.3 dB below ffmpeg's, durations within 50 ms.

Exit status: 0 when every run finished (even if a target is missed: this is a report),
1 when a tool failed (non-zero exit, missing output, unmeasurable output), 2 on a setup problem
(bad arguments, missing program, source clip could not be made).

Python 3 standard library only.
"""

import json
import os
import re
import statistics
import sys
from pathlib import Path

from bench_common import (SetupError, ToolFailure, describe_source, durations, ffprobe, first_stream,
                          fnum, log, mib, run_capture, run_measured, tail, verdict, warm_page_cache,
                          standard_arguments, parse_standard, resolve_standard)

REPO = Path(__file__).resolve().parents[2]

TARGET_WALL_RATIO = 1.00
TARGET_MEM_RATIO = 1.10
TARGET_PSNR_DROP_DB = 0.30
TARGET_DURATION_MS = 50.0

VIDEO_BITRATE = "1M"
AUDIO_BITRATE = "128k"
PRESET = "veryfast"




# --------------------------------------------------------------------------------------------
# Source clip


# --------------------------------------------------------------------------------------------
# Measured runs


def vqueue_argv(vqueue, src, out):
    return [vqueue, "transcode", str(src), str(out),
            "--x264-preset", PRESET, "--video-bitrate", VIDEO_BITRATE,
            "--audio-bitrate", AUDIO_BITRATE, "--overwrite"]


def ffmpeg_argv(ffmpeg_bin, src, out):
    return [ffmpeg_bin, "-y", "-v", "error", "-i", str(src),
            "-c:v", "libx264", "-preset", PRESET, "-b:v", VIDEO_BITRATE, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", str(out)]


# --------------------------------------------------------------------------------------------
# Quality


PSNR_RE = re.compile(r"PSNR y:\S+ u:\S+ v:\S+ average:(\S+)")
SSIM_RE = re.compile(r"SSIM Y:.*?All:(\S+)")


def quality(ffmpeg_bin, out, src):
    graph = ("[0:v]settb=AVTB,setpts=PTS-STARTPTS,split[a0][a1];"
             "[1:v]settb=AVTB,setpts=PTS-STARTPTS,split[b0][b1];"
             "[a0][b0]psnr;[a1][b1]ssim")
    argv = [ffmpeg_bin, "-nostdin", "-hide_banner", "-nostats", "-i", str(out), "-i", str(src),
            "-lavfi", graph, "-f", "null", "-"]
    rc, _, err = run_capture(argv, f"PSNR/SSIM of {out}", timeout=1800)
    if rc != 0:
        raise ToolFailure(f"measuring PSNR/SSIM of {out} failed (exit {rc}):\n{tail(err)}")
    pm = PSNR_RE.search(err)
    sm = SSIM_RE.search(err)
    if not pm or not sm:
        raise ToolFailure(f"no PSNR/SSIM summary from ffmpeg for {out}:\n{tail(err)}")
    return float(pm.group(1)), float(sm.group(1))


# --------------------------------------------------------------------------------------------
# Report


def print_report(args, src, src_info, runs, measures, extra):
    vq = [r for r in runs if r.tool == "vqueue"]
    ff = [r for r in runs if r.tool == "ffmpeg"]
    med = lambda rs, attr: statistics.median(getattr(r, attr) for r in rs)
    p = print

    p("")
    p("vqueue transcode vs ffmpeg (DESIGN.md section 5)")
    p(f"source:   {src}")
    p(f"          {describe_source(src_info)}")
    p(f"settings: libx264 preset {PRESET}, video {VIDEO_BITRATE}b/s, audio AAC {AUDIO_BITRATE}b/s "
      f"stereo, MP4 out")
    p(f"machine:  {os.cpu_count()} CPUs, load average at start "
      f"{extra['load_start']:.2f}, at end {os.getloadavg()[0]:.2f}")
    p(f"runs:     {args.runs}, order alternates (ab, ba, ...)")
    p("")
    hdr = (f"{'run':<4} {'order':<14} {'vqueue wall':>12} {'cpu':>9} {'peak RSS':>11}   "
           f"{'ffmpeg wall':>12} {'cpu':>9} {'peak RSS':>11}")
    p(hdr)
    p("-" * len(hdr))
    for i in range(args.runs):
        a, b = vq[i], ff[i]
        order = "vqueue,ffmpeg" if i % 2 == 0 else "ffmpeg,vqueue"
        p(f"{i + 1:<4} {order:<14} {a.wall:>10.2f} s {a.cpu:>7.2f} s {mib(a.maxrss_kib):>7.1f} MiB   "
          f"{b.wall:>10.2f} s {b.cpu:>7.2f} s {mib(b.maxrss_kib):>7.1f} MiB")
    p("-" * len(hdr))
    vw, fw = med(vq, "wall"), med(ff, "wall")
    vc, fc = med(vq, "cpu"), med(ff, "cpu")
    vm, fm = med(vq, "maxrss_kib"), med(ff, "maxrss_kib")
    p(f"{'med':<4} {'':<14} {vw:>10.2f} s {vc:>7.2f} s {mib(vm):>7.1f} MiB   "
      f"{fw:>10.2f} s {fc:>7.2f} s {mib(fm):>7.1f} MiB")
    p("")

    wall_ratio = vw / fw
    mem_ratio = vm / fm
    cpu_ratio = vc / fc if fc > 0 else float("nan")
    qv, qf = measures["vqueue"], measures["ffmpeg"]
    psnr_diff = qv["psnr"] - qf["psnr"]
    ssim_diff = qv["ssim"] - qf["ssim"]

    rows = []  # (metric, vqueue, ffmpeg, value, target, result)
    rows.append(("wall ratio (vqueue/ffmpeg)", f"{vw:.2f} s", f"{fw:.2f} s", f"{wall_ratio:.3f}",
                 f"<= {TARGET_WALL_RATIO:.2f}", verdict(wall_ratio <= TARGET_WALL_RATIO)))
    rows.append(("peak memory ratio", f"{mib(vm):.1f} MiB", f"{mib(fm):.1f} MiB", f"{mem_ratio:.3f}",
                 f"<= {TARGET_MEM_RATIO:.2f}", verdict(mem_ratio <= TARGET_MEM_RATIO)))
    rows.append(("PSNR average (dB), diff", f"{qv['psnr']:.3f}", f"{qf['psnr']:.3f}",
                 f"{psnr_diff:+.3f} dB", f">= -{TARGET_PSNR_DROP_DB:.1f} dB",
                 verdict(psnr_diff >= -TARGET_PSNR_DROP_DB)))
    rows.append(("SSIM all, diff", f"{qv['ssim']:.5f}", f"{qf['ssim']:.5f}", f"{ssim_diff:+.5f}",
                 "(info)", ""))
    dv, df = qv["duration_err_ms"], qf["duration_err_ms"]
    rows.append(("max duration error vs source", f"{dv:.1f} ms", f"{df:.1f} ms", "",
                 f"<= {TARGET_DURATION_MS:.0f} ms",
                 verdict(dv <= TARGET_DURATION_MS and df <= TARGET_DURATION_MS)))
    paired = statistics.median(a.wall / b.wall for a, b in zip(vq, ff))
    rows.append(("wall ratio, median of rounds", "", "", f"{paired:.3f}", "(info)", ""))
    rows.append(("cpu time ratio (user+sys)", f"{vc:.2f} s", f"{fc:.2f} s", f"{cpu_ratio:.3f}",
                 "(info)", ""))
    rows.append(("video bitrate (kb/s)", qv["vbitrate"], qf["vbitrate"], "", "(info)", ""))
    rows.append(("video frames (source " + str(measures["source_frames"]) + ")",
                 str(qv["frames"]), str(qf["frames"]), "", "(info)", ""))
    rows.append(("output size (KiB)", f"{qv['size'] / 1024:.0f}", f"{qf['size'] / 1024:.0f}", "",
                 "(info)", ""))

    hdr2 = (f"{'metric':<34} {'vqueue':>12} {'ffmpeg':>12} {'value':>12}  {'target':<12} result")
    p(hdr2)
    p("-" * len(hdr2))
    for m, a, b, v, t, r in rows:
        p(f"{m:<34} {a:>12} {b:>12} {v:>12}  {t:<12} {r}")
    p("")
    for tool in ("vqueue", "ffmpeg"):
        d = measures[tool]["durations"]
        s = measures["source_durations"]
        parts = []
        for k in ("container", "video", "audio"):
            if s.get(k) is not None and d.get(k) is not None:
                parts.append(f"{k} {d[k]:.3f} s ({(d[k] - s[k]) * 1000:+.1f} ms)")
        p(f"durations {tool:<7} " + ", ".join(parts))
    p("")
    spread = max((max(r.wall for r in rs) - min(r.wall for r in rs)) / med(rs, "wall")
                 for rs in (vq, ff))
    if args.runs > 1 and spread > 0.05:
        p(f"note: wall times of one tool vary by up to {spread * 100:.0f} % between rounds "
          f"(busy machine?); treat the wall ratio with care or use more --runs.")
    if args.runs == 1:
        p("note: a single round (--quick) is a smoke test; the wall ratio is not meaningful.")
    summary = {
        "wall": verdict(wall_ratio <= TARGET_WALL_RATIO),
        "memory": verdict(mem_ratio <= TARGET_MEM_RATIO),
        "psnr": verdict(psnr_diff >= -TARGET_PSNR_DROP_DB),
        "duration": verdict(dv <= TARGET_DURATION_MS and df <= TARGET_DURATION_MS),
    }
    p("summary: " + ", ".join(f"{k} {v}" for k, v in summary.items()))

    return {
        "source": str(src), "runs": args.runs,
        "targets": {"wall_ratio": TARGET_WALL_RATIO, "memory_ratio": TARGET_MEM_RATIO,
                    "psnr_drop_db": TARGET_PSNR_DROP_DB, "duration_ms": TARGET_DURATION_MS},
        "per_run": [{"tool": r.tool, "wall_s": r.wall, "cpu_s": r.cpu, "peak_rss_kib": r.maxrss_kib}
                    for r in runs],
        "median": {"vqueue": {"wall_s": vw, "cpu_s": vc, "peak_rss_kib": vm},
                   "ffmpeg": {"wall_s": fw, "cpu_s": fc, "peak_rss_kib": fm}},
        "wall_ratio": wall_ratio, "wall_ratio_paired": paired, "memory_ratio": mem_ratio, "cpu_ratio": cpu_ratio,
        "psnr": {"vqueue": qv["psnr"], "ffmpeg": qf["psnr"], "diff_db": psnr_diff},
        "ssim": {"vqueue": qv["ssim"], "ffmpeg": qf["ssim"], "diff": ssim_diff},
        "duration_error_ms": {"vqueue": dv, "ffmpeg": df},
        "summary": summary,
    }


# --------------------------------------------------------------------------------------------


def measure_output(args, path, src_durs):
    if not path.is_file() or path.stat().st_size == 0:
        raise ToolFailure(f"{path}: no output file")
    info = ffprobe(args.ffprobe, path, count_packets=True)
    v = first_stream(info, "video")
    if v is None:
        raise ToolFailure(f"{path}: output has no video stream")
    d = durations(info)
    errs = [abs(d[k] - src_durs[k]) * 1000.0 for k in ("container", "video", "audio")
            if src_durs.get(k) is not None and d.get(k) is not None]
    if src_durs.get("audio") is not None and first_stream(info, "audio") is None:
        errs.append(float("inf"))  # audio went missing
    psnr, ssim = quality(args.ffmpeg, path, args.src)
    br = fnum(v.get("bit_rate"))
    return {
        "psnr": psnr, "ssim": ssim, "durations": d,
        "duration_err_ms": max(errs) if errs else float("inf"),
        "vbitrate": f"{br / 1000:.0f}" if br else "?",
        "frames": v.get("nb_read_packets", "?"),
        "size": path.stat().st_size,
    }


def parse_args(argv):
    ap = standard_arguments(
        "Benchmark `vqueue transcode` against the ffmpeg program (wall time, peak "
        "memory, PSNR/SSIM, durations).",
        'rounds of (vqueue, ffmpeg); default 3',
        'kill a transcode after this many seconds (default: %(default)s)', REPO)
    return parse_standard(ap, argv)


def main(argv):
    args = parse_args(argv)
    try:
        resolve_standard(args)
        src_info = ffprobe(args.ffprobe, args.src, count_packets=True)
    except SetupError as e:
        log(f"transcode_bench: {e}")
        return 2
    except ToolFailure as e:
        log(f"transcode_bench: {e}")
        return 2

    out_dir = Path(args.cache_dir) / "transcode-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    outs = {"vqueue": out_dir / "vqueue.mp4", "ffmpeg": out_dir / "ffmpeg.mp4"}
    commands = {
        "vqueue": vqueue_argv(args.vqueue, args.src, outs["vqueue"]),
        "ffmpeg": ffmpeg_argv(args.ffmpeg, args.src, outs["ffmpeg"]),
    }
    log("commands:")
    for tool in ("vqueue", "ffmpeg"):
        log("  " + " ".join(commands[tool]))

    warm_page_cache(args.src)
    load_start = os.getloadavg()[0]
    runs = []
    for i in range(args.runs):
        order = ("vqueue", "ffmpeg") if i % 2 == 0 else ("ffmpeg", "vqueue")
        for tool in order:
            outs[tool].unlink(missing_ok=True)
            try:
                r = run_measured(tool, commands[tool], args.timeout)
            except ToolFailure as e:
                log(f"transcode_bench: {e}")
                return 1
            log(f"round {i + 1}/{args.runs} {tool:<6}: {r.wall:7.2f} s wall, "
                f"{r.cpu:7.2f} s cpu, {mib(r.maxrss_kib):7.1f} MiB peak, exit {r.exitcode}")
            if r.stderr.strip():
                log(f"  {tool} stderr:\n{tail(r.stderr)}")
            if r.exitcode != 0:
                log(f"transcode_bench: {tool} failed with exit status {r.exitcode}")
                return 1
            runs.append(r)

    measures = {"source_durations": durations(src_info)}
    sv = first_stream(src_info, "video")
    measures["source_frames"] = sv.get("nb_read_packets", "?") if sv else "?"
    try:
        for tool in ("vqueue", "ffmpeg"):
            log(f"measuring PSNR/SSIM of the {tool} output ...")
            measures[tool] = measure_output(args, outs[tool], measures["source_durations"])
    except ToolFailure as e:
        log(f"transcode_bench: {e}")
        return 1

    result = print_report(args, args.src, src_info, runs, measures, {"load_start": load_start})
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("transcode_bench: interrupted")
        sys.exit(130)
