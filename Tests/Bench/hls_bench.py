#!/usr/bin/env python3
"""Side-by-side benchmark: an HLS ladder by `vqueue transcode IN OUT.hls` vs the `ffmpeg` program.

Usage (from the repository root; `make bench` does this):

    python3 Tests/Bench/hls_bench.py --vqueue .build/release/vqueue [--runs 3] [--quick]

What it does:
  1. Uses the 30 s 1280x720 25 fps H.264 + AAC stereo clip transcode_bench.py uses (made once with
     the `ffmpeg` program and cached under --cache-dir; bench_common.ensure_clip). --source PATH
     uses your own file instead.
  2. Works out each rung's size and x264 VBV cap as vqueue does (HLSLadder.rungs: never upscale,
     the preset's bit rate scaled to the rung's pixel rate, at most the source's bit rate share;
     bufsize 2x maxrate), so that ffmpeg gets exactly the same settings.
  3. Runs, --runs times, three contenders, the order rotating from round to round:
       vqueue    vqueue transcode SRC OUT.hls --ladder 240p,360p,480p,720p --segment 4s
                   --hls-segment-type fmp4 --crf 23 --x264-preset veryfast --audio-bitrate 128k
       ffmpeg    one process: one decode, split=4, the same scale filters, libx264 (preset, crf 23,
                   profile high, per-rung -maxrate/-bufsize, -force_key_frames every 4 s,
                   -forced-idr 1), AAC 128k, -f hls fmp4 with -var_stream_map and a master playlist
       4 runs    what a script does: one ffmpeg process per rung (each decoding the source), one
                   more for the audio, one after another
     measuring wall time (time.monotonic), CPU time and peak RSS (ru_maxrss from os.wait4) of
     each process (for the 4 runs: the sums of wall and CPU, the largest peak). vqueue gets
     --no-poster when it has it: ffmpeg makes no poster.jpg, and the ladders are compared.
  4. Checks that vqueue's and ffmpeg's rungs were encoded with the same x264 options (the
     options string x264 writes into the stream), then measures the PSNR of each rung of each
     tool's last ladder against the source scaled to the rung's size with the same bicubic scaler
     (one ffmpeg process, the psnr filter).
  5. Prints the tables, with the targets: wall ratio vqueue/ffmpeg <= 1.00, peak memory ratio
     <= 1.10, every rung's PSNR within 0.3 dB of ffmpeg's, wall ratio vqueue/4 runs < 0.70.

Exit status: 0 when every run finished (even if a target is missed: this is a report),
1 when a tool failed (non-zero exit, missing output, unmeasurable output), 2 on a setup problem.

Python 3 standard library only.
"""

import json
import math
import os
import re
import shutil
import statistics
import sys
from pathlib import Path

from bench_common import (SetupError, ToolFailure, RunResult, describe_source, durations, ffprobe,
                          first_stream, fnum, log, mib, run_capture, run_measured, tail, verdict,
                          warm_page_cache, standard_arguments, parse_standard, resolve_standard)

REPO = Path(__file__).resolve().parents[2]

TARGET_WALL_RATIO = 1.00
TARGET_MEM_RATIO = 1.10
TARGET_PSNR_DIFF_DB = 0.30
TARGET_SEPARATE_RATIO = 0.70

LADDER = ["240p", "360p", "480p", "720p"]
SEGMENT_SECONDS = 4
CRF = 23
PRESET = "veryfast"
AUDIO_BITRATE = "128k"

# WebPreset: each rung's short side and the bit rate meant for 16:9 at 30 fps.
PRESET_BITRATES = {"240p": (240, 400_000), "360p": (360, 800_000), "480p": (480, 1_200_000),
                   "720p": (720, 2_500_000), "1080p": (1080, 5_000_000)}
# TranscodeOptions.smallestScaledBitrate
SMALLEST_SCALED_BITRATE = 32_000

TOOLS = ("vqueue", "ffmpeg", "4 runs")


# --------------------------------------------------------------------------------------------
# The ladder, as vqueue works it out


def swift_round(x):
    """Swift's Double.rounded(): to nearest, halves away from zero (Python's round() is banker's)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def even(value):
    return max(2, int(swift_round(value / 2)) * 2)


def frame_rate(stream):
    """av_guess_frame_rate, near enough for a constant-rate clip: r_frame_rate, else the average."""
    for key in ("r_frame_rate", "avg_frame_rate"):
        try:
            n, d = (int(x) for x in (stream.get(key) or "0/0").split("/"))
        except ValueError:
            continue
        if n > 0 and d > 0:
            return n / d
    return None


def ladder_rungs(src_info):
    """[(name, width, height, maxrate)] as HLSLadder.rungs gives them for this source (an upright,
    square-pixel source; the bench's clip is)."""
    v = first_stream(src_info, "video")
    width, height = int(v["width"]), int(v["height"])
    fps = frame_rate(v)
    source_bitrate = fnum(v.get("bit_rate")) or fnum(src_info.get("format", {}).get("bit_rate"))
    portrait = height > width
    short_side, long_side = min(width, height), max(width, height)
    rungs = []
    for name in LADDER:
        short, bitrate = PRESET_BITRATES[name]
        if short > short_side:
            continue  # never upscale
        long = long_side if short == short_side else even(long_side * short / short_side)
        w, h = (short, long) if portrait else (long, short)
        ref_width = (short * 16 // 9 + 1) // 2 * 2
        pixel_rate = ref_width * short * 30
        rate = fps if fps and math.isfinite(fps) and fps > 0 else 30
        share = min(1.0, w * h * rate / pixel_rate)
        scaled = swift_round(bitrate * share)
        cap = bitrate if scaled >= bitrate else max(SMALLEST_SCALED_BITRATE, int(scaled))
        if source_bitrate and source_bitrate > 0:
            pixel_share = (w * h) / (width * height)
            cap = min(cap, max(SMALLEST_SCALED_BITRATE, int(source_bitrate * pixel_share)))
        rungs.append((name, w, h, cap))
    if not rungs:
        raise SetupError(f"the source ({width}x{height}) is smaller than every rung of {LADDER}")
    return rungs


def scale_filter(w, h):
    # VideoProfile's chain for an upright progressive source.
    return f"scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p"


# --------------------------------------------------------------------------------------------
# Commands


def x264_args(spec, maxrate):
    """libx264 as vqueue sets it, for the output stream(s) `spec` names (":v", ":v:2")."""
    return ["-c" + spec, "libx264", "-preset" + spec, PRESET, "-crf" + spec, str(CRF),
            "-profile" + spec, "high", "-maxrate" + spec, str(maxrate),
            "-bufsize" + spec, str(2 * maxrate)]


KEYFRAME_ARGS = ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "-forced-idr", "1"]
AUDIO_ARGS = ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", "48000"]


def hls_args(segment_filename):
    return ["-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", segment_filename]


def vqueue_argv(vqueue, src, out, no_poster):
    # --no-poster: ffmpeg makes no poster.jpg; the ladder alone is compared.
    return [vqueue, "transcode", str(src), str(out), "--ladder", ",".join(LADDER),
            "--segment", f"{SEGMENT_SECONDS}s", "--hls-segment-type", "fmp4", "--crf", str(CRF),
            "--x264-preset", PRESET, "--audio-bitrate", AUDIO_BITRATE, "--overwrite"] + (
            ["--no-poster"] if no_poster else [])


def knows_option(vqueue, option):
    rc, out, _ = run_capture([vqueue, "transcode", "--help"], "vqueue transcode --help", timeout=60)
    return rc == 0 and option in out


def ffmpeg_ladder_argv(ffmpeg_bin, src, out, rungs):
    """One process: one decode, split, one encoder per rung, HLS with a master playlist."""
    n = len(rungs)
    graph = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n)) + ";" + ";".join(
        f"[s{i}]{scale_filter(w, h)}[v{i}]" for i, (_, w, h, _) in enumerate(rungs))
    argv = [ffmpeg_bin, "-nostdin", "-y", "-v", "error", "-i", str(src), "-filter_complex", graph]
    for i in range(n):
        argv += ["-map", f"[v{i}]"]
    argv += ["-map", "0:a:0"]
    for i, (_, _, _, cap) in enumerate(rungs):
        argv += x264_args(f":v:{i}", cap)
    argv += KEYFRAME_ARGS + AUDIO_ARGS
    argv += hls_args(str(out / "%v" / "seg%d.m4s"))
    stream_map = " ".join(f"v:{i},agroup:aud,name:{name}" for i, (name, _, _, _) in enumerate(rungs))
    argv += ["-master_pl_name", "master.m3u8",
             "-var_stream_map", stream_map + " a:0,agroup:aud,name:audio",
             str(out / "%v" / "index.m3u8")]
    return argv


def ffmpeg_separate_argvs(ffmpeg_bin, src, out, rungs):
    """What a script does: a process per rung, each decoding the source, and one for the audio."""
    argvs = []
    for name, w, h, cap in rungs:
        d = out / name
        argvs.append([ffmpeg_bin, "-nostdin", "-y", "-v", "error", "-i", str(src),
                      "-map", "0:v:0", "-vf", scale_filter(w, h)] + x264_args(":v", cap)
                     + KEYFRAME_ARGS + ["-an"] + hls_args(str(d / "seg%d.m4s"))
                     + [str(d / "index.m3u8")])
    d = out / "audio"
    argvs.append([ffmpeg_bin, "-nostdin", "-y", "-v", "error", "-i", str(src), "-map", "0:a:0",
                  "-vn"] + AUDIO_ARGS + hls_args(str(d / "seg%d.m4s")) + [str(d / "index.m3u8")])
    return argvs


# --------------------------------------------------------------------------------------------
# Measured runs


def fresh(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def run_contender(tool, argvs, timeout, prepare):
    """Runs argvs one after another (one process for vqueue and the ffmpeg ladder); returns a
    RunResult with the summed wall and CPU times and the largest peak RSS."""
    prepare()
    wall = cpu = 0.0
    peak = 0
    for argv in argvs:
        r = run_measured(tool, argv, timeout)
        if r.stderr.strip():
            log(f"  {tool} stderr:\n{tail(r.stderr)}")
        if r.exitcode != 0:
            raise ToolFailure(f"{tool} failed with exit status {r.exitcode}: {' '.join(argv)}")
        wall += r.wall
        cpu += r.cpu
        peak = max(peak, r.maxrss_kib)
    return RunResult(tool, wall, peak, cpu, 0, "")


# --------------------------------------------------------------------------------------------
# Outputs: files, x264 options, PSNR


def playlist_files(playlist):
    """The init segment and the media segments an HLS media playlist lists, in order."""
    files = []
    for line in playlist.read_text().splitlines():
        line = line.strip()
        m = re.match(r'#EXT-X-MAP:.*URI="([^"]+)"', line)
        if m:
            files.append(m.group(1))
        elif line and not line.startswith("#"):
            files.append(line)
    return files


def rendition(folder, name):
    """(concatenated init + segments as one fragmented MP4 file, segment count, bytes)."""
    d = folder / name
    playlist = d / "index.m3u8"
    if not playlist.is_file():
        raise ToolFailure(f"{playlist}: missing")
    files = playlist_files(playlist)
    if len(files) < 2:
        raise ToolFailure(f"{playlist}: lists {len(files)} files")
    joined = folder.parent / f"{folder.name}-{name}.mp4"
    size = 0
    with open(joined, "wb") as out:
        for f in files:
            data = (d / f).read_bytes()
            size += len(data)
            out.write(data)
    return joined, len(files) - 1, size


X264_OPTIONS_RE = re.compile(rb"x264 - core \d+[^\x00]*? - options: ([^\x00]*)")


def x264_options(folder, name):
    """The options x264 wrote into the rung's stream (its SEI), as a dict."""
    d = folder / name
    for f in playlist_files(d / "index.m3u8")[:3]:
        m = X264_OPTIONS_RE.search((d / f).read_bytes())
        if m:
            return dict(kv.split("=", 1) for kv in m.group(1).decode("ascii", "replace").split()
                        if "=" in kv)
    return {}


PSNR_RE = re.compile(r"\[Parsed_psnr_(\d+) @ [^\]]*\] PSNR y:\S+ u:\S+ v:\S+ average:(\S+)")


def psnr_all(ffmpeg_bin, src, rungs, outputs):
    """PSNR of each tool's rungs against the source scaled to the rung's size (same bicubic
    scaler), in one ffmpeg process that decodes the source once. outputs: {tool: [file per rung]}.
    Returns {tool: [dB per rung]}."""
    tools = list(outputs)
    argv = [ffmpeg_bin, "-nostdin", "-hide_banner", "-nostats", "-i", str(src)]
    for tool in tools:
        for f in outputs[tool]:
            argv += ["-i", str(f)]
    n, k = len(rungs), len(tools)
    parts = ["[0:v]settb=AVTB,setpts=PTS-STARTPTS,split=%d%s" % (n, "".join(f"[s{i}]" for i in range(n)))]
    order = []  # (tool, rung index), in the order the psnr filters appear
    for i, (_, w, h, _) in enumerate(rungs):
        parts.append(f"[s{i}]{scale_filter(w, h)},split={k}" + "".join(f"[r{i}_{j}]" for j in range(k)))
        for j, tool in enumerate(tools):
            input_index = 1 + j * n + i
            parts.append(f"[{input_index}:v]settb=AVTB,setpts=PTS-STARTPTS[d{i}_{j}]")
            parts.append(f"[d{i}_{j}][r{i}_{j}]psnr")
            order.append((tool, i))
    argv += ["-filter_complex", ";".join(parts), "-f", "null", "-"]
    rc, _, err = run_capture(argv, "PSNR of the rungs", timeout=1800)
    if rc != 0:
        raise ToolFailure(f"measuring PSNR failed (exit {rc}):\n{tail(err)}")
    found = sorted((int(m.group(1)), float(m.group(2))) for m in PSNR_RE.finditer(err))
    if len(found) != len(order):
        raise ToolFailure(f"expected {len(order)} PSNR summaries from ffmpeg, got {len(found)}:\n"
                          f"{tail(err)}")
    result = {tool: [None] * n for tool in tools}
    for (tool, i), (_, db) in zip(order, found):
        result[tool][i] = db
    return result


def measure_outputs(args, rungs, folders):
    """Per tool and rung: segments, bytes, kb/s, x264 options; the video duration; then PSNR."""
    measures = {}
    joined = {}
    for tool, folder in folders.items():
        m = {"rungs": [], "audio": None}
        joined[tool] = []
        for name, w, h, _ in rungs:
            path, segments, size = rendition(folder, name)
            info = ffprobe(args.ffprobe, path)
            v = first_stream(info, "video")
            if v is None or (int(v["width"]), int(v["height"])) != (w, h):
                got = f"{v['width']}x{v['height']}" if v else "no video"
                raise ToolFailure(f"{tool} rung {name}: expected {w}x{h}, got {got}")
            dur = durations(info)["video"] or durations(info)["container"]
            m["rungs"].append({"segments": segments, "bytes": size, "duration": dur,
                               "kbps": size * 8 / dur / 1000 if dur else None,
                               "x264": x264_options(folder, name)})
            joined[tool].append(path)
        _, segments, size = rendition(folder, "audio")
        m["audio"] = {"segments": segments, "bytes": size}
        m["master"] = (folder / "master.m3u8").is_file()
        measures[tool] = m
    log("measuring PSNR of every rung (one ffmpeg process) ...")
    psnr = psnr_all(args.ffmpeg, args.src, rungs, joined)
    for tool in folders:
        for i, db in enumerate(psnr[tool]):
            measures[tool]["rungs"][i]["psnr"] = db
    for paths in joined.values():
        for p in paths:
            p.unlink(missing_ok=True)
    return measures


# Options that say how the stream was encoded and should be the same in both: all of them but
# the thread counts, which depend on how the process drove x264 (and are compared separately).
THREAD_KEYS = {"threads", "lookahead_threads", "sliced_threads"}


def option_differences(a, b):
    keys = sorted(set(a) | set(b))
    return [f"{k}={a.get(k, '-')}/{b.get(k, '-')}" for k in keys
            if k not in THREAD_KEYS and a.get(k) != b.get(k)]


# --------------------------------------------------------------------------------------------
# Report


def print_report(args, src_info, rungs, commands, runs, measures, extra):
    by = {t: [r for r in runs if r.tool == t] for t in TOOLS}
    med = lambda t, attr: statistics.median(getattr(r, attr) for r in by[t])
    p = print

    p("")
    p("vqueue HLS ladder vs ffmpeg (one process, split) vs ffmpeg (4 runs, one per rung)")
    p(f"source:   {args.src}")
    p(f"          {describe_source(src_info)}")
    p(f"ladder:   " + ", ".join(f"{n} {w}x{h} maxrate {c / 1000:.0f}k" for n, w, h, c in rungs)
      + f"; bufsize 2x maxrate")
    p(f"settings: libx264 preset {PRESET} crf {CRF} profile high, IDR every {SEGMENT_SECONDS} s, "
      f"AAC {AUDIO_BITRATE}b/s stereo, HLS fMP4 {SEGMENT_SECONDS} s segments")
    p(f"machine:  {os.cpu_count()} CPUs, load average at start "
      f"{extra['load_start']:.2f}, at end {os.getloadavg()[0]:.2f}")
    p(f"runs:     {args.runs}, order rotates (vqueue, ffmpeg, 4 runs; ffmpeg, 4 runs, vqueue; ...)")
    p("")
    hdr = f"{'run':<4}" + "".join(f"{t + ' wall':>13} {'cpu':>8} {'peak RSS':>11}  " for t in TOOLS)
    p(hdr.rstrip())
    p("-" * len(hdr.rstrip()))
    for i in range(args.runs):
        p(f"{i + 1:<4}" + "".join(
            f"{by[t][i].wall:>11.2f} s {by[t][i].cpu:>6.1f} s {mib(by[t][i].maxrss_kib):>7.1f} MiB  "
            for t in TOOLS).rstrip())
    p("-" * len(hdr.rstrip()))
    p(f"{'med':<4}" + "".join(
        f"{med(t, 'wall'):>11.2f} s {med(t, 'cpu'):>6.1f} s {mib(med(t, 'maxrss_kib')):>7.1f} MiB  "
        for t in TOOLS).rstrip())
    p("")

    vw, fw, sw = med("vqueue", "wall"), med("ffmpeg", "wall"), med("4 runs", "wall")
    vc, fc, sc = med("vqueue", "cpu"), med("ffmpeg", "cpu"), med("4 runs", "cpu")
    vm, fm, sm = (med(t, "maxrss_kib") for t in TOOLS)
    wall_ratio, mem_ratio, sep_ratio = vw / fw, vm / fm, vw / sw
    paired = statistics.median(a.wall / b.wall for a, b in zip(by["vqueue"], by["ffmpeg"]))
    paired_sep = statistics.median(a.wall / b.wall for a, b in zip(by["vqueue"], by["4 runs"]))
    qv, qf = measures["vqueue"]["rungs"], measures["ffmpeg"]["rungs"]
    diffs = [a["psnr"] - b["psnr"] for a, b in zip(qv, qf)]
    worst = max(diffs, key=abs)
    psnr_ok = all(abs(d) <= TARGET_PSNR_DIFF_DB for d in diffs)

    rows = []  # (metric, vqueue, other, value, target, result)
    rows.append(("wall ratio vqueue/ffmpeg", f"{vw:.2f} s", f"{fw:.2f} s", f"{wall_ratio:.3f}",
                 f"<= {TARGET_WALL_RATIO:.2f}", verdict(wall_ratio <= TARGET_WALL_RATIO)))
    rows.append(("peak memory ratio vqueue/ffmpeg", f"{mib(vm):.1f} MiB", f"{mib(fm):.1f} MiB",
                 f"{mem_ratio:.3f}", f"<= {TARGET_MEM_RATIO:.2f}", verdict(mem_ratio <= TARGET_MEM_RATIO)))
    rows.append(("PSNR, largest rung diff", "", "", f"{worst:+.3f} dB",
                 f"within {TARGET_PSNR_DIFF_DB:.1f} dB", verdict(psnr_ok)))
    rows.append(("wall ratio vqueue/4 runs", f"{vw:.2f} s", f"{sw:.2f} s", f"{sep_ratio:.3f}",
                 f"< {TARGET_SEPARATE_RATIO:.2f}", verdict(sep_ratio < TARGET_SEPARATE_RATIO)))
    rows.append(("wall ratio vqueue/ffmpeg, med of rounds", "", "", f"{paired:.3f}", "(info)", ""))
    rows.append(("wall ratio vqueue/4 runs, med of rounds", "", "", f"{paired_sep:.3f}", "(info)", ""))
    rows.append(("wall ratio ffmpeg/4 runs", f"{fw:.2f} s", f"{sw:.2f} s", f"{fw / sw:.3f}", "(info)", ""))
    rows.append(("cpu ratio vqueue/ffmpeg (user+sys)", f"{vc:.1f} s", f"{fc:.1f} s", f"{vc / fc:.3f}",
                 "(info)", ""))
    rows.append(("cpu ratio vqueue/4 runs", f"{vc:.1f} s", f"{sc:.1f} s", f"{vc / sc:.3f}", "(info)", ""))
    rows.append(("peak memory ratio vqueue/4 runs", f"{mib(vm):.1f} MiB", f"{mib(sm):.1f} MiB",
                 f"{vm / sm:.3f}", "(info)", ""))
    hdr2 = f"{'metric':<40} {'vqueue':>10} {'other':>10} {'value':>11}  {'target':<15} result"
    p(hdr2)
    p("-" * len(hdr2))
    for m, a, b, v, t, r in rows:
        p(f"{m:<40} {a:>10} {b:>10} {v:>11}  {t:<15} {r}")
    p("")

    qs = measures["4 runs"]["rungs"]
    hdr3 = (f"{'rung':<6} {'size':>9} {'PSNR vqueue':>12} {'ffmpeg':>8} {'diff':>8} {'4 runs':>8}   "
            f"{'kb/s vqueue':>11} {'ffmpeg':>7} {'4 runs':>7}   {'segments':>8}")
    p(hdr3)
    p("-" * len(hdr3))
    for (name, w, h, _), a, b, c, d in zip(rungs, qv, qf, qs, diffs):
        segs = "/".join(str(x["segments"]) for x in (a, b, c))
        p(f"{name:<6} {f'{w}x{h}':>9} {a['psnr']:>9.3f} dB {b['psnr']:>8.3f} {d:>+8.3f} {c['psnr']:>8.3f}   "
          f"{a['kbps']:>11.0f} {b['kbps']:>7.0f} {c['kbps']:>7.0f}   {segs:>8}")
    p("")

    # Same encoder settings? The options string x264 put into each rung's stream.
    settings_ok = True
    for (name, _, _, cap), a, b, c in zip(rungs, qv, qf, qs):
        diff = option_differences(a["x264"], b["x264"])
        diff_sep = option_differences(a["x264"], c["x264"])
        vbv = a["x264"].get("vbv_maxrate")
        if not a["x264"] or not b["x264"] or diff or vbv != str(cap // 1000):
            settings_ok = False
            p(f"x264 options {name}: vqueue/ffmpeg differ: {', '.join(diff) or '-'}; vqueue "
              f"vbv_maxrate={vbv} (expected {cap // 1000})")
        if diff_sep:
            p(f"x264 options {name}: vqueue/4 runs differ: {', '.join(diff_sep)}")
    threads = lambda o: f"{o.get('threads', '?')}+{o.get('lookahead_threads', '?')}"
    if settings_ok:
        p("x264 options: identical in vqueue's and ffmpeg's rungs (crf, vbv_maxrate/bufsize, "
          "keyint, every other option) but threads")
    p("x264 threads (frame+lookahead) per rung: vqueue "
      + ", ".join(threads(r["x264"]) for r in qv) + "; ffmpeg "
      + ", ".join(threads(r["x264"]) for r in qf) + "; 4 runs "
      + ", ".join(threads(r["x264"]) for r in qs))
    p("audio segments (vqueue/ffmpeg/4 runs): "
      + "/".join(str(measures[t]["audio"]["segments"]) for t in TOOLS)
      + f"; master playlist: vqueue {'yes' if measures['vqueue']['master'] else 'MISSING'}, "
        f"ffmpeg {'yes' if measures['ffmpeg']['master'] else 'MISSING'}")
    src_dur = extra["source_durations"].get("video")
    if src_dur:
        worst_ms = max(abs(r["duration"] - src_dur) * 1000 for t in TOOLS for r in measures[t]["rungs"]
                       if r["duration"] is not None)
        p(f"rung durations: within {worst_ms:.0f} ms of the source's video ({src_dur:.3f} s)")
    p("")
    for t in TOOLS:
        rs = by[t]
        spread = (max(r.wall for r in rs) - min(r.wall for r in rs)) / med(t, "wall")
        if args.runs > 1 and spread > 0.05:
            p(f"note: {t} wall times vary by {spread * 100:.0f} % between rounds (busy machine?); "
              f"compare the ratios, not the seconds.")
    if args.runs == 1:
        p("note: a single round (--quick) is a smoke test; the wall ratios are not meaningful.")
    summary = {
        "wall": verdict(wall_ratio <= TARGET_WALL_RATIO),
        "memory": verdict(mem_ratio <= TARGET_MEM_RATIO),
        "psnr": verdict(psnr_ok),
        "vs 4 runs": verdict(sep_ratio < TARGET_SEPARATE_RATIO),
        "same x264 options": verdict(settings_ok),
    }
    p("summary: " + ", ".join(f"{k} {v}" for k, v in summary.items()))

    return {
        "source": str(args.src), "runs": args.runs,
        "ladder": [{"name": n, "width": w, "height": h, "maxrate": c} for n, w, h, c in rungs],
        "commands": commands,
        "targets": {"wall_ratio": TARGET_WALL_RATIO, "memory_ratio": TARGET_MEM_RATIO,
                    "psnr_diff_db": TARGET_PSNR_DIFF_DB, "separate_wall_ratio": TARGET_SEPARATE_RATIO},
        "per_run": [{"tool": r.tool, "wall_s": r.wall, "cpu_s": r.cpu, "peak_rss_kib": r.maxrss_kib}
                    for r in runs],
        "median": {t: {"wall_s": med(t, "wall"), "cpu_s": med(t, "cpu"),
                       "peak_rss_kib": med(t, "maxrss_kib")} for t in TOOLS},
        "wall_ratio": wall_ratio, "wall_ratio_paired": paired, "memory_ratio": mem_ratio,
        "separate_wall_ratio": sep_ratio, "separate_wall_ratio_paired": paired_sep,
        "rungs": {t: [{k: v for k, v in r.items() if k != "x264"} for r in measures[t]["rungs"]]
                  for t in TOOLS},
        "psnr_diff_db": diffs,
        "summary": summary,
    }


# --------------------------------------------------------------------------------------------


def parse_args(argv):
    ap = standard_arguments(
        "Benchmark vqueue's HLS ladder against the ffmpeg program (one process, and "
        "one process per rung): wall time, peak memory, PSNR per rung.",
        'rounds of the three; default 3',
        'kill a process after this many seconds (default: %(default)s)', REPO)
    return parse_standard(ap, argv)


def main(argv):
    args = parse_args(argv)
    try:
        resolve_standard(args)
        src_info = ffprobe(args.ffprobe, args.src)
        if first_stream(src_info, "video") is None or first_stream(src_info, "audio") is None:
            raise SetupError(f"{args.src}: the ladder bench needs a source with video and audio")
        rungs = ladder_rungs(src_info)
    except (SetupError, ToolFailure) as e:
        log(f"hls_bench: {e}")
        return 2

    out_dir = Path(args.cache_dir) / "hls-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = {"vqueue": out_dir / "vqueue.hls", "ffmpeg": out_dir / "ffmpeg", "4 runs": out_dir / "separate"}
    commands = {
        "vqueue": [vqueue_argv(args.vqueue, args.src, folders["vqueue"],
                               knows_option(args.vqueue, "--no-poster"))],
        "ffmpeg": [ffmpeg_ladder_argv(args.ffmpeg, args.src, folders["ffmpeg"], rungs)],
        "4 runs": ffmpeg_separate_argvs(args.ffmpeg, args.src, folders["4 runs"], rungs),
    }

    def prepare(tool):
        def go():
            fresh(folders[tool])
            if tool == "4 runs":
                for name in [r[0] for r in rungs] + ["audio"]:
                    (folders[tool] / name).mkdir(parents=True)
        return go

    log("commands:")
    for tool in TOOLS:
        for argv in commands[tool]:
            log(f"  {tool}: " + " ".join(f"'{a}'" if re.search(r"[ ;\[\]()*,]", a) else a for a in argv))

    warm_page_cache(args.src)
    load_start = os.getloadavg()[0]
    runs = []
    for i in range(args.runs):
        order = TOOLS[i % 3:] + TOOLS[:i % 3]
        for tool in order:
            try:
                r = run_contender(tool, commands[tool], args.timeout, prepare(tool))
            except ToolFailure as e:
                log(f"hls_bench: {e}")
                return 1
            log(f"round {i + 1}/{args.runs} {tool:<6}: {r.wall:7.2f} s wall, {r.cpu:7.2f} s cpu, "
                f"{mib(r.maxrss_kib):7.1f} MiB peak")
            runs.append(r)

    try:
        measures = measure_outputs(args, rungs, folders)
    except (ToolFailure, OSError) as e:
        log(f"hls_bench: {e}")
        return 1

    result = print_report(args, src_info, rungs, commands, runs, measures,
                          {"load_start": load_start, "source_durations": durations(src_info)})
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("hls_bench: interrupted")
        sys.exit(130)
