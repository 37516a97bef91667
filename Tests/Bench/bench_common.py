"""What the benchmark scripts share: their error types and their log, running and measuring
programs (wall time, CPU time, peak RSS), ffprobe, and the generated source clip."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Bump when the generated clip changes so that stale caches are not reused.
SOURCE_VERSION = "v1"


class SetupError(Exception):
    """The benchmark could not be set up (missing binary, clip generation failed)."""


class ToolFailure(Exception):
    """A measured tool failed (non-zero exit, timeout, missing output)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def resolve_program(name, what):
    """The absolute path of program `name` (a path, or a name looked up on PATH)."""
    if os.sep in name:
        p = Path(name)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SetupError(f"{what}: {name} is not an executable file")
        return os.path.abspath(name)
    found = shutil.which(name)
    if not found:
        raise SetupError(f"{what}: {name} not found on PATH")
    return found


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


def ensure_clip(ffmpeg_bin, ffprobe_bin, cache_dir, seconds):
    """The generated bench clip of `seconds` under cache_dir (made once, then reused by every
    bench that asks for the same length): 1280x720 25 fps H.264 (crf 18, veryfast) + AAC stereo
    48 kHz, a slow pan/zoom over a fractal texture with scene cuts, blended with a "life"
    cellular automaton and temporal film grain."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    src = cache / f"bench-src-{SOURCE_VERSION}-{seconds}s.mp4"
    if usable_clip(ffprobe_bin, src, seconds):
        return src
    t0 = time.monotonic()
    texture = cache / f"bench-texture-{SOURCE_VERSION}.png"
    if not texture.is_file() or texture.stat().st_size == 0:
        log(f"making the texture {texture} (once) ...")
        tmp = texture.with_name(f".{texture.stem}.{os.getpid()}.tmp.png")
        rc, _, err = run_capture(texture_cmd(ffmpeg_bin, tmp), "making the texture", timeout=600)
        if rc != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise SetupError(f"making the texture failed (exit {rc}):\n{tail(err)}")
        os.replace(tmp, texture)
    log(f"making the {seconds} s source clip {src} (once; about {seconds + 10} s on 2 cores) ...")
    tmp = src.with_name(f".{src.stem}.{os.getpid()}.tmp.mp4")
    try:
        rc, _, err = run_capture(source_cmd(ffmpeg_bin, texture, seconds, tmp),
                                 "making the source clip", timeout=1800)
        if rc != 0 or not usable_clip(ffprobe_bin, tmp, seconds):
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


# --------------------------------------------------------------------------------------------
# Report


def verdict(ok):
    return "PASS" if ok else "MISS"


def mib(kib):
    return kib / 1024.0


def standard_arguments(description, runs_help, timeout_help, repo):
    """The options every transcode bench takes: the programs, the clip's cache, --source, --runs,
    --quick, --timeout and --json. Returns the parser, for a bench's own options."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--vqueue", default=str(repo / ".build/release/vqueue"),
                    help="vqueue binary (default: %(default)s)")
    ap.add_argument("--ffmpeg", default="ffmpeg", help="ffmpeg program (default: %(default)s)")
    ap.add_argument("--ffprobe", default="ffprobe", help="ffprobe program (default: %(default)s)")
    ap.add_argument("--cache-dir", default=str(repo / ".build/bench-media"),
                    help="where the generated source clip and outputs live (default: %(default)s)")
    ap.add_argument("--source", help="use this file as the source instead of the generated clip")
    ap.add_argument("--runs", type=int, default=None, help=runs_help)
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round on a 10 s clip (unless --runs/--source say otherwise)")
    ap.add_argument("--timeout", type=float, default=1800.0, help=timeout_help)
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return ap


def parse_standard(ap, argv):
    """Parses with `ap` and settles --runs (1 with --quick, else 3; at least 1)."""
    args = ap.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def resolve_standard(args):
    """Finds the three programs (--vqueue, --ffmpeg, --ffprobe) and the source: --source, or the
    generated clip (10 s with --quick, else 30 s), made once and cached. Sets `args.src`."""
    args.vqueue = resolve_program(args.vqueue, "--vqueue")
    args.ffmpeg = resolve_program(args.ffmpeg, "--ffmpeg")
    args.ffprobe = resolve_program(args.ffprobe, "--ffprobe")
    if args.source:
        args.src = Path(args.source)
        if not args.src.is_file():
            raise SetupError(f"--source {args.src}: no such file")
    else:
        args.src = ensure_clip(args.ffmpeg, args.ffprobe, args.cache_dir, 10 if args.quick else 30)
