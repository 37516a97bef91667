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

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import SetupError, ToolFailure, log

REPO = Path(__file__).resolve().parents[2]

# Bump when the generated clip changes so that stale caches are not reused.
SOURCE_VERSION = "v1"

TARGET_WALL_RATIO = 1.00
TARGET_MEM_RATIO = 1.10
TARGET_PSNR_DROP_DB = 0.30
TARGET_DURATION_MS = 50.0

VIDEO_BITRATE = "1M"
AUDIO_BITRATE = "128k"
PRESET = "veryfast"




# --------------------------------------------------------------------------------------------
# Helpers to run programs


def run_capture(argv, what, timeout=None):
    """Run argv (no shell), return (returncode, stdout, stderr) as text."""
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            errors="replace", timeout=timeout)
    except FileNotFoundError as e:
        raise SetupError(f"{what}: cannot run {argv[0]}: {e}") from e
    except subprocess.TimeoutExpired as e:
        raise ToolFailure(f"{what}: timed out after {timeout} s") from e
    return cp.returncode, cp.stdout, cp.stderr


def tail(text, lines=8):
    parts = text.strip().splitlines()
    return "\n".join("    " + l for l in parts[-lines:])


def ffprobe(ffprobe_bin, path, count_packets=False):
    argv = [ffprobe_bin, "-v", "error", "-of", "json", "-show_format", "-show_streams"]
    if count_packets:
        argv.append("-count_packets")
    argv.append(str(path))
    rc, out, err = run_capture(argv, f"ffprobe {path}", timeout=300)
    if rc != 0:
        raise ToolFailure(f"ffprobe failed on {path} (exit {rc}):\n{tail(err)}")
    return json.loads(out)


def fnum(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v


def first_stream(info, kind):
    for s in info.get("streams", []):
        if s.get("codec_type") == kind:
            return s
    return None


def durations(info):
    """{'container': s, 'video': s, 'audio': s} (None where unknown)."""
    fmt = fnum(info.get("format", {}).get("duration"))
    out = {"container": fmt}
    for kind in ("video", "audio"):
        s = first_stream(info, kind)
        out[kind] = fnum(s.get("duration")) if s else None
        if s is not None and out[kind] is None:
            out[kind] = fmt  # e.g. Matroska has no per-stream duration
    return out


def describe_source(info):
    fmt = info.get("format", {})
    dur = fnum(fmt.get("duration"))
    br = fnum(fmt.get("bit_rate"))
    parts = [f"{dur:.2f} s" if dur is not None else "duration unknown"]
    v = first_stream(info, "video")
    if v:
        rate = v.get("avg_frame_rate") or v.get("r_frame_rate") or "?"
        try:
            n, d = rate.split("/")
            rate = f"{float(n) / float(d):.3g}"
        except (ValueError, ZeroDivisionError):
            pass
        parts.append(f"{v.get('codec_name')} {v.get('width')}x{v.get('height')} {rate} fps "
                     f"{v.get('pix_fmt')}")
    a = first_stream(info, "audio")
    if a:
        parts.append(f"{a.get('codec_name')} {a.get('sample_rate')} Hz {a.get('channels')} ch")
    if br:
        parts.append(f"{br / 1e6:.1f} Mb/s")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Source clip


def texture_cmd(ffmpeg_bin, out):
    # One frame of a Mandelbrot zoom: lots of fine detail next to smooth gradients and flat areas.
    return [ffmpeg_bin, "-nostdin", "-y", "-v", "error", "-f", "lavfi",
            "-i", "mandelbrot=size=2560x1440:start_scale=0.05:end_scale=0.05:maxiter=1024:inner=period",
            "-frames:v", "1", str(out)]


def source_cmd(ffmpeg_bin, texture, seconds, out):
    # Video: a Ken Burns pan/zoom over the texture (jumping to a new path every 10 s, like scene
    # cuts), screen-blended with a "life" automaton (independent local motion), plus temporal
    # grain. Audio: two wobbling tones with amplitude modulation and a little noise, stereo 48 kHz.
    vgraph = (
        "[0:v]format=yuv420p,loop=loop=-1:size=1:start=0,"
        "zoompan=z='1.2+0.4*sin(on/90)'"
        ":x='(iw-iw/zoom)/2+(iw-iw/zoom)/2*sin(on/55+floor(on/250)*2)'"
        ":y='(ih-ih/zoom)/2+(ih-ih/zoom)/2*cos(on/70+floor(on/250)*3)'"
        ":d=1:s=1280x720:fps=25[bg];"
        "[1:v]format=yuv420p[lf];"
        "[bg][lf]blend=all_mode=screen:all_opacity=0.35,"
        "noise=alls=8:allf=t+u,format=yuv420p[v]"
    )
    life = ("life=size=1280x720:rate=25:mold=10:ratio=0.1:seed=42"
            ":death_color=#402010:life_color=#40ff80")
    audio = ("aevalsrc=exprs="
             "'0.25*sin(2*PI*(220+30*sin(0.7*t))*t)*(0.6+0.4*sin(2*PI*2*t))+0.04*(random(0)*2-1)"
             "|0.25*sin(2*PI*(330+20*sin(0.5*t))*t)*(0.6+0.4*cos(2*PI*3*t))+0.04*(random(1)*2-1)'"
             ":s=48000:c=stereo")
    return [ffmpeg_bin, "-nostdin", "-y", "-v", "error",
            "-i", str(texture),
            "-f", "lavfi", "-i", life,
            "-f", "lavfi", "-i", audio,
            "-filter_complex", vgraph,
            "-map", "[v]", "-map", "2:a", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-ac", "2",
            "-movflags", "+faststart", str(out)]


def usable_clip(ffprobe_bin, path, seconds):
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        info = ffprobe(ffprobe_bin, path)
    except (ToolFailure, SetupError, ValueError):
        return False
    d = durations(info)
    return (d["container"] is not None and d["container"] >= seconds - 0.1
            and first_stream(info, "video") is not None and first_stream(info, "audio") is not None)


def ensure_source(args):
    if args.source:
        src = Path(args.source)
        if not src.is_file():
            raise SetupError(f"--source {src}: no such file")
        return src
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    seconds = 10 if args.quick else 30
    src = cache / f"bench-src-{SOURCE_VERSION}-{seconds}s.mp4"
    if usable_clip(args.ffprobe, src, seconds):
        return src
    t0 = time.monotonic()
    texture = cache / f"bench-texture-{SOURCE_VERSION}.png"
    if not texture.is_file() or texture.stat().st_size == 0:
        log(f"making the texture {texture} (once) ...")
        tmp = texture.with_name(f".{texture.stem}.{os.getpid()}.tmp.png")
        rc, _, err = run_capture(texture_cmd(args.ffmpeg, tmp), "making the texture", timeout=600)
        if rc != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise SetupError(f"making the texture failed (exit {rc}):\n{tail(err)}")
        os.replace(tmp, texture)
    log(f"making the {seconds} s source clip {src} (once; about {seconds + 10} s on 2 cores) ...")
    tmp = src.with_name(f".{src.stem}.{os.getpid()}.tmp.mp4")
    try:
        rc, _, err = run_capture(source_cmd(args.ffmpeg, texture, seconds, tmp),
                                 "making the source clip", timeout=1800)
        if rc != 0 or not usable_clip(args.ffprobe, tmp, seconds):
            raise SetupError(f"making the source clip failed (exit {rc}):\n{tail(err)}")
        os.replace(tmp, src)
    finally:
        tmp.unlink(missing_ok=True)
    log(f"source clip made in {time.monotonic() - t0:.1f} s")
    return src


def warm_page_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


# --------------------------------------------------------------------------------------------
# Measured runs


class RunResult:
    def __init__(self, tool, wall, maxrss_kib, cpu, exitcode, stderr_text):
        self.tool = tool
        self.wall = wall
        self.maxrss_kib = maxrss_kib
        self.cpu = cpu
        self.exitcode = exitcode
        self.stderr = stderr_text


def run_measured(tool, argv, timeout):
    """Start argv (no shell), reap it with os.wait4 and return wall time and peak RSS."""
    with tempfile.TemporaryFile(mode="w+b") as errf:
        timed_out = threading.Event()
        reaped = threading.Event()
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=errf, close_fds=True, start_new_session=True)
        except OSError as e:
            raise ToolFailure(f"{tool}: cannot start {argv[0]}: {e}") from e

        def on_timeout():
            if not reaped.is_set():
                timed_out.set()
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # the child and anything it started
                except ProcessLookupError:
                    pass

        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        except BaseException:
            # e.g. Ctrl-C: do not leave the child behind.
            try:
                os.killpg(p.pid, signal.SIGKILL)
                os.wait4(p.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            p.returncode = -9
            raise
        finally:
            reaped.set()
            timer.cancel()
        wall = time.monotonic() - t0
        code = os.waitstatus_to_exitcode(status)
        p.returncode = code  # tell Popen the child is already reaped
        errf.seek(0)
        err = errf.read().decode("utf-8", "replace")
    if timed_out.is_set():
        err += f"\n(killed after the {timeout} s time limit)"
    return RunResult(tool, wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, code, err)


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


def verdict(ok):
    return "PASS" if ok else "MISS"


def mib(kib):
    return kib / 1024.0


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
    ap = argparse.ArgumentParser(
        description="Benchmark `vqueue transcode` against the ffmpeg program (wall time, peak "
                    "memory, PSNR/SSIM, durations).")
    ap.add_argument("--vqueue", default=str(REPO / ".build/release/vqueue"),
                    help="vqueue binary (default: %(default)s)")
    ap.add_argument("--ffmpeg", default="ffmpeg", help="ffmpeg program (default: %(default)s)")
    ap.add_argument("--ffprobe", default="ffprobe", help="ffprobe program (default: %(default)s)")
    ap.add_argument("--cache-dir", default=str(REPO / ".build/bench-media"),
                    help="where the generated source clip and outputs live (default: %(default)s)")
    ap.add_argument("--source", help="use this file as the source instead of the generated clip")
    ap.add_argument("--runs", type=int, default=None, help="rounds of (vqueue, ffmpeg); default 3")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round on a 10 s clip (unless --runs/--source say otherwise)")
    ap.add_argument("--timeout", type=float, default=1800.0,
                    help="kill a transcode after this many seconds (default: %(default)s)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = ap.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def resolve_program(name, what):
    if os.sep in name:
        p = Path(name)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SetupError(f"{what}: {name} is not an executable file")
        return os.path.abspath(name)
    found = shutil.which(name)
    if not found:
        raise SetupError(f"{what}: {name} not found on PATH")
    return found


def main(argv):
    args = parse_args(argv)
    try:
        args.vqueue = resolve_program(args.vqueue, "--vqueue")
        args.ffmpeg = resolve_program(args.ffmpeg, "--ffmpeg")
        args.ffprobe = resolve_program(args.ffprobe, "--ffprobe")
        args.src = ensure_source(args)
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
