#!/usr/bin/env bash
# Generates every test fixture listed in the vqueue contract into the folder
# holding this script (Fixtures/). Idempotent: every file is regenerated from
# deterministic synthetic sources (lavfi) and overwritten each run.
#
# Needs: ffmpeg + ffprobe (Debian 12, FFmpeg 5.1: libx264, libvpx, libopus,
# libmp3lame, mpeg2video, qtrle) and python3 (standard library only).
#
# Usage: bash Fixtures/make-fixtures.sh      (from any working directory)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE"

for tool in ffmpeg ffprobe python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "make-fixtures: missing $tool" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vqueue-fixtures.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ffmpeg wrapper: quiet, never interactive, overwrite, reproducible output.
ff() {
    ffmpeg -hide_banner -nostdin -loglevel error -y "$@"
}
# Output options for reproducibility (bit-exact muxers/encoders, no metadata
# copied from inputs, single-threaded encoders so slices/partitions are stable).
BE=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -threads 1)

# Synthetic sources.  vsrc NAME WxH RATE DUR -> lavfi spec
vsrc() { echo "$1=size=$2:rate=$3:duration=$4"; }
sine() { echo "sine=frequency=$1:sample_rate=${3:-48000}:duration=$2"; }

X264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p)

echo "== generating fixtures in $OUT"

# ---------------------------------------------------------------- successes

# MPEG-4 Part 2 (Xvid-tagged) + MP3 in AVI, 320x240, 2 s.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 2)" -f lavfi -i "$(sine 440 2 44100)" \
   -c:v mpeg4 -vtag XVID -q:v 5 -g 25 -c:a libmp3lame -b:a 64k -ac 1 \
   -avoid_negative_ts disabled "${BE[@]}" "$OUT/old_camera.avi"
# (-avoid_negative_ts disabled: otherwise the MP3 encoder delay shifts video by a
# fraction of a frame and the AVI muxer inserts an empty chunk = a 1-frame gap.)

# H.264 + AAC, 1920x1080, 1 s at a low bitrate.
ff -f lavfi -i "$(vsrc smptebars 1920x1080 25 1)" -f lavfi -i "$(sine 1000 1)" \
   "${X264[@]}" -b:v 300k -maxrate 300k -bufsize 300k -c:a aac -b:a 64k -ac 2 \
   "${BE[@]}" -movflags +faststart "$OUT/h264_aac_1080p.mp4"

# VP9 + Opus in WebM, 320x240, 1 s.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -f lavfi -i "$(sine 660 1)" \
   -c:v libvpx-vp9 -b:v 150k -deadline good -cpu-used 8 -row-mt 0 \
   -c:a libopus -b:a 48k "${BE[@]}" "$OUT/vp9_opus.webm"

# Coded 320x180, display matrix = "rotate 90 degrees clockwise to show upright"
# (the same tkhd matrix an iPhone writes for portrait video: 0,1,-1,0).
# FFmpeg 5.1 quirk: on stream copy, the rotate tag becomes a display matrix with
# the opposite sign, so rotate=-90 is what yields that matrix. ffprobe 5.1 then
# reports side_data rotation=-90 (counter-clockwise convention) and ffmpeg's
# autorotate applies transpose=clock -> 180x320 portrait.
ff -f lavfi -i "$(vsrc testsrc2 320x180 25 1)" -f lavfi -i "$(sine 550 1)" \
   "${X264[@]}" -crf 28 -c:a aac -b:a 64k "${BE[@]}" "$WORK/rot_src.mp4"
ff -i "$WORK/rot_src.mp4" -map 0 -c copy -metadata:s:v:0 rotate=-90 \
   "${BE[@]}" -movflags +faststart "$OUT/rotated_90.mp4"

# 641x479 (odd width and height): VP9 handles odd sizes in 4:2:0. + Opus.
# (testsrc2 rounds odd sizes down for yuv420p; testsrc renders rgb24 at any size.)
ff -f lavfi -i "$(vsrc testsrc 641x479 25 1)" -f lavfi -i "$(sine 770 1)" \
   -c:v libvpx-vp9 -b:v 200k -deadline good -cpu-used 8 -row-mt 0 -pix_fmt yuv420p \
   -c:a libopus -b:a 48k "${BE[@]}" "$OUT/odd_641x479.mkv"

# H.264 only, no audio stream.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" \
   "${X264[@]}" -crf 28 -an "${BE[@]}" -movflags +faststart "$OUT/video_only.mp4"

# Video + 5.1 AAC (6 channels, a different tone per channel).
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" \
   -f lavfi -i "aevalsrc=sin(2*PI*300*t)|sin(2*PI*400*t)|sin(2*PI*500*t)|sin(2*PI*100*t)|sin(2*PI*600*t)|sin(2*PI*700*t):channel_layout=5.1:sample_rate=48000:duration=1" \
   "${X264[@]}" -crf 28 -c:a aac -b:a 192k -ac 6 -channel_layout 5.1 \
   "${BE[@]}" "$OUT/surround_51.mkv"

# Variable frame rate: 30 fps for 0-0.5 s, every 3rd frame (10 fps) for 0.5-1.2 s,
# every 2nd frame (15 fps) for 1.2-1.6 s, 30 fps again to the end (so the last
# frame's duration matches its interval). Timestamps kept as-is (-fps_mode vfr).
ff -f lavfi -i "$(vsrc testsrc2 320x240 30 2)" -f lavfi -i "$(sine 880 2)" \
   -vf "select='if(lt(t,0.5),1,if(lt(t,1.2),not(mod(n,3)),if(lt(t,1.6),not(mod(n,2)),1)))'" -fps_mode vfr \
   "${X264[@]}" -crf 28 -c:a aac -b:a 64k "${BE[@]}" "$OUT/vfr.mkv"

# 10-bit 4:2:0: H.264 High 10 (libx264 in Debian 12 supports yuv420p10le) + AAC.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -f lavfi -i "$(sine 990 1)" \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p10le -profile:v high10 -crf 28 \
   -c:a aac -b:a 64k "${BE[@]}" "$OUT/tenbit_420.mkv"

# Interlaced MPEG-2 (top field first) + MP2 in MPEG-TS.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -f lavfi -i "$(sine 330 1)" \
   -vf "setfield=tff" -c:v mpeg2video -top 1 -b:v 800k -g 12 \
   -c:a mp2 -b:a 128k "${BE[@]}" -flags:v +ilme+ildct+bitexact "$OUT/interlaced.ts"
# (-flags:v must come after BE: the most specific/last -flags wins, it does not merge.)

# QuickTime Animation (qtrle) rgb24 + PCM in MOV. smptebars keeps RLE small.
ff -f lavfi -i "$(vsrc smptebars 320x240 25 1)" -f lavfi -i "$(sine 440 1)" \
   -c:v qtrle -pix_fmt rgb24 -c:a pcm_s16le -ac 1 "${BE[@]}" "$OUT/rgb_qtrle.mov"

# Exactly one H.264 frame, no audio.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -frames:v 1 \
   "${X264[@]}" -crf 28 -an "${BE[@]}" -movflags +faststart "$OUT/one_frame.mp4"

# Video + two audio tracks: a:0 mono 440 Hz (not default), a:1 stereo 880 Hz (default).
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -f lavfi -i "$(sine 440 1)" -f lavfi -i "$(sine 880 1)" \
   -map 0:v -map 1:a -map 2:a "${X264[@]}" -crf 28 \
   -c:a aac -b:a 64k -ac:a:0 1 -ac:a:1 2 \
   -metadata:s:a:0 language=eng -metadata:s:a:0 title="mono 440 Hz" \
   -metadata:s:a:1 language=eng -metadata:s:a:1 title="stereo 880 Hz" \
   -disposition:v:0 default -disposition:a:0 0 -disposition:a:1 default \
   "${BE[@]}" "$OUT/two_audio.mkv"

# ---------------------------------------------------------- expected failures

# AAC only, 1 s.
ff -f lavfi -i "$(sine 440 1)" -c:a aac -b:a 64k "${BE[@]}" -movflags +faststart "$OUT/audio_only.m4a"

# Empty file.
: > "$OUT/zero_bytes.mp4"

# Plain text named .avi.
cat > "$OUT/text_file.avi" <<'EOF'
This is not a video file.
It is plain text that happens to be named text_file.avi.
vqueue must refuse it with a one-line error naming the file.
EOF

# MP4 with its moov removed: a normal (non-faststart, moov last) MP4 truncated
# right where the moov box begins, leaving ftyp + free + mdat.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 1)" -f lavfi -i "$(sine 440 1)" \
   "${X264[@]}" -crf 28 -c:a aac -b:a 64k "${BE[@]}" "$WORK/moov_last.mp4"

# Fast-start MP4 (moov at the front), 5 s, truncated to 30 % of its bytes.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 5)" -f lavfi -i "$(sine 440 5)" \
   "${X264[@]}" -crf 32 -g 25 -c:a aac -b:a 48k "${BE[@]}" -movflags +faststart "$WORK/full_5s.mp4"

# 3 s H.264 + AAC; bytes inside mdat get XOR-flipped below.
ff -f lavfi -i "$(vsrc testsrc2 320x240 25 3)" -f lavfi -i "$(sine 440 3)" \
   "${X264[@]}" -crf 26 -g 25 -c:a aac -b:a 64k "${BE[@]}" -movflags +faststart "$WORK/clean_3s.mp4"

# Tiny 16x16 one-frame Annex-B H.264 whose SPS is rewritten to 16000x16000.
ff -f lavfi -i "color=c=black:size=16x16:rate=25:duration=1" -frames:v 1 \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p "${BE[@]}" -f h264 "$WORK/tiny16.h264"

python3 - "$WORK" "$OUT" <<'PY'
import struct, sys, os
work, out = sys.argv[1], sys.argv[2]

def boxes(data, start=0, end=None):
    """Yield (type, offset, size) of top-level ISO-BMFF boxes."""
    end = len(data) if end is None else end
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = end - off
        if size < 8:
            raise SystemExit("bad box at %d" % off)
        yield typ.decode("latin-1"), off, size
        off += size

def write(name, data):
    path = os.path.join(out, name)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)

# --- no_moov.mp4: cut at the start of the moov box (which must be last).
data = open(os.path.join(work, "moov_last.mp4"), "rb").read()
bl = list(boxes(data))
types = [b[0] for b in bl]
assert types[-1] == "moov" and "mdat" in types, types
write("no_moov.mp4", data[:bl[-1][1]])

# --- truncated_30pct.mp4: fast-start file, keep first 30 % of the bytes.
data = open(os.path.join(work, "full_5s.mp4"), "rb").read()
types = [b[0] for b in boxes(data)]
assert types.index("moov") < types.index("mdat"), types
write("truncated_30pct.mp4", data[:len(data) * 30 // 100])

# --- bitflip.mp4: XOR 0xFF over 4 runs of 64 bytes (256 bytes) inside mdat
# at 35/50/65/80 % of the mdat payload. Sample tables (moov) stay intact.
data = bytearray(open(os.path.join(work, "clean_3s.mp4"), "rb").read())
mdat = [b for b in boxes(data) if b[0] == "mdat"][0]
pstart, plen = mdat[1] + 8, mdat[2] - 8
for pct in (35, 50, 65, 80):
    pos = pstart + plen * pct // 100
    for i in range(pos, pos + 64):
        data[i] ^= 0xFF
write("bitflip.mp4", bytes(data))

# --- huge_dimensions.h264: rewrite the SPS to claim 16000x16000 (1000x1000 MBs).
raw = open(os.path.join(work, "tiny16.h264"), "rb").read()

def split_annexb(b):
    """Return list of NAL payloads (without start codes)."""
    idx, starts = 0, []
    while True:
        i = b.find(b"\x00\x00\x01", idx)
        if i < 0:
            break
        starts.append(i + 3)
        idx = i + 3
    nals = []
    for n, s in enumerate(starts):
        e = starts[n + 1] - 3 if n + 1 < len(starts) else len(b)
        nal = b[s:e]
        if n + 1 < len(starts):
            nal = nal.rstrip(b"\x00")  # zero_byte of a following 4-byte start code
        nals.append(nal)
    return nals

def unescape(b):
    o, z = bytearray(), 0
    for x in b:
        if z >= 2 and x == 3:
            z = 0
            continue
        o.append(x)
        z = z + 1 if x == 0 else 0
    return bytes(o)

def escape(b):
    o, z = bytearray(), 0
    for x in b:
        if z >= 2 and x <= 3:
            o.append(3)
            z = 0
        o.append(x)
        z = z + 1 if x == 0 else 0
    return bytes(o)

class BR:
    def __init__(self, b): self.b, self.p = b, 0
    def u(self, n):
        v = 0
        for _ in range(n):
            v = (v << 1) | ((self.b[self.p >> 3] >> (7 - (self.p & 7))) & 1)
            self.p += 1
        return v
    def ue(self):
        z = 0
        while self.u(1) == 0:
            z += 1
        return (1 << z) - 1 + self.u(z)
    def se(self):
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

class BW:
    def __init__(self): self.bits = []
    def u(self, n, v):
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
    def ue(self, v):
        v += 1
        n = v.bit_length()
        self.u(n - 1, 0); self.u(n, v)
    def raw(self, bits): self.bits += bits
    def bytes(self):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))

def rewrite_sps(nal, w_mbs, h_mbs):
    hdr, rbsp = nal[:1], unescape(nal[1:])
    r = BR(rbsp)
    profile = r.u(8); r.u(8); r.u(8); r.ue()
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        cf = r.ue()
        if cf == 3: r.u(1)
        r.ue(); r.ue(); r.u(1)
        if r.u(1):
            raise SystemExit("SPS with scaling matrices not handled")
    r.ue()                      # log2_max_frame_num_minus4
    poc = r.ue()
    if poc == 0:
        r.ue()
    elif poc == 1:
        r.u(1); r.se(); r.se()
        for _ in range(r.ue()): r.se()
    r.ue(); r.u(1)              # max_num_ref_frames, gaps_in_frame_num_allowed
    before = r.p
    r.ue(); r.ue()              # old pic_width_in_mbs_minus1 / pic_height_in_map_units_minus1
    after = r.p
    total = len(rbsp) * 8
    allbits = [(rbsp[i >> 3] >> (7 - (i & 7))) & 1 for i in range(total)]
    # drop trailing zero padding so the copied tail ends with the rbsp stop bit
    while allbits and allbits[-1] == 0:
        allbits.pop()
    w = BW()
    w.raw(allbits[:before])
    w.ue(w_mbs - 1); w.ue(h_mbs - 1)   # frame_mbs_only is 1 for progressive x264 output
    w.raw(allbits[after:])              # frame_mbs_only ... vui ... stop bit
    return hdr + escape(w.bytes())

nals = split_annexb(raw)
outb, n_sps = bytearray(), 0
for nal in nals:
    if nal[0] & 0x1F == 7:
        nal = rewrite_sps(nal, 1000, 1000)
        n_sps += 1
    outb += b"\x00\x00\x00\x01" + nal
assert n_sps == 1, n_sps
write("huge_dimensions.h264", bytes(outb))
PY

# Same stream in an MP4 (avcC built from the rewritten SPS; tkhd/stsd say 16000x16000).
ff -f h264 -framerate 25 -i "$OUT/huge_dimensions.h264" -c copy "${BE[@]}" "$OUT/huge_dimensions.mp4"

# ------------------------------------------------------------- verification

fail=0
err() { echo "CHECK FAILED: $*" >&2; fail=1; }
probe() { ffprobe -v error "$@"; }
vfield() { probe -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$OUT/$1" | head -n1; }

[[ "$(vfield h264_aac_1080p.mp4 width),$(vfield h264_aac_1080p.mp4 height)" == "1920,1080" ]] || err "h264_aac_1080p.mp4 size"
[[ "$(vfield old_camera.avi codec_name)" == "mpeg4" ]] || err "old_camera.avi codec"
[[ "$(probe -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$OUT/old_camera.avi")" == "mp3" ]] || err "old_camera.avi audio"
[[ "$(vfield vp9_opus.webm codec_name)" == "vp9" ]] || err "vp9_opus.webm codec"
rot="$(probe -select_streams v:0 -show_entries stream_side_data=rotation -of default=nw=1:nk=1 "$OUT/rotated_90.mp4" | head -n1)"
[[ "$rot" == "-90" ]] || err "rotated_90.mp4 rotation ($rot, want -90 = 90 clockwise)"
a="$(ffmpeg -nostdin -v error -i "$OUT/rotated_90.mp4" -frames:v 1 -f rawvideo -pix_fmt gray - | md5sum)"
b="$(ffmpeg -nostdin -v error -noautorotate -i "$OUT/rotated_90.mp4" -vf transpose=clock -frames:v 1 -f rawvideo -pix_fmt gray - | md5sum)"
[[ "$a" == "$b" ]] || err "rotated_90.mp4 autorotate is not a 90-degree clockwise turn"
[[ "$(vfield rotated_90.mp4 width)x$(vfield rotated_90.mp4 height)" == "320x180" ]] || err "rotated_90.mp4 coded size"
[[ "$(vfield odd_641x479.mkv width)x$(vfield odd_641x479.mkv height)" == "641x479" ]] || err "odd_641x479.mkv size"
[[ -z "$(probe -select_streams a -show_entries stream=index -of csv=p=0 "$OUT/video_only.mp4")" ]] || err "video_only.mp4 has audio"
[[ "$(probe -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$OUT/surround_51.mkv")" == "6" ]] || err "surround_51.mkv channels"
[[ "$(vfield tenbit_420.mkv pix_fmt)" == "yuv420p10le" ]] || err "tenbit_420.mkv pix_fmt"
[[ "$(vfield interlaced.ts field_order)" == "tt" ]] || err "interlaced.ts field_order"
[[ "$(vfield rgb_qtrle.mov codec_name),$(vfield rgb_qtrle.mov pix_fmt)" == "qtrle,rgb24" ]] || err "rgb_qtrle.mov"
nf="$(probe -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$OUT/one_frame.mp4")"
[[ "$nf" == "1" ]] || err "one_frame.mp4 frames ($nf)"
disp="$(probe -select_streams a -show_entries stream=channels:stream_disposition=default -of csv=p=0 "$OUT/two_audio.mkv" | tr '\n' ' ')"
[[ "$disp" == "1,0 2,1 " ]] || err "two_audio.mkv channels/default ($disp)"
# VFR: more than one distinct frame interval.
ndelta="$(probe -select_streams v:0 -show_entries packet=pts -of csv "$OUT/vfr.mkv" | grep '^packet,' | cut -d, -f2 | sort -n |
          awk 'NR>1{print $1-p} {p=$1}' | sort -u | wc -l)"
(( ndelta >= 2 )) || err "vfr.mkv has only $ndelta distinct frame interval(s)"
[[ -z "$(probe -select_streams v -show_entries stream=index -of csv=p=0 "$OUT/audio_only.m4a")" ]] || err "audio_only.m4a has video"
[[ ! -s "$OUT/zero_bytes.mp4" ]] || err "zero_bytes.mp4 not empty"
# (ffprobe decodes one 16000x16000 frame here: ~2-3 s and ~800 MB RSS each.)
for f in huge_dimensions.h264 huge_dimensions.mp4; do
    dims="$(probe -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$OUT/$f")"
    [[ "$dims" == "16000x16000" ]] || err "$f dimensions ($dims)"
done
probe "$OUT/no_moov.mp4" >/dev/null 2>&1 && err "no_moov.mp4 opens"
if ! ffmpeg -hide_banner -nostdin -v error -i "$OUT/bitflip.mp4" -f null - 2>"$WORK/bitflip.log"; then
    err "bitflip.mp4 does not decode through"
fi
[[ -s "$WORK/bitflip.log" ]] || err "bitflip.mp4 decodes without errors"
# Audio and video durations equal (within one video frame) for A/V fixtures.
for f in old_camera.avi h264_aac_1080p.mp4 vp9_opus.webm rotated_90.mp4 odd_641x479.mkv surround_51.mkv \
         vfr.mkv tenbit_420.mkv interlaced.ts rgb_qtrle.mov two_audio.mkv; do
    d="$(for s in v:0 a:0; do
           ffprobe -v error -select_streams $s -show_entries packet=pts_time,duration_time -of csv "$OUT/$f" |
           awk -F, '$1!="packet" || $2=="N/A" {next} {e=$2+($3=="N/A"?0:$3); if(!n++||e>m)m=e; if(n==1||$2<b)b=$2} END{printf "%.3f ", m-b}'
         done)"
    # 45 ms = one 25 fps frame + slack for AAC priming kept in Matroska/TS timestamps.
    awk -v d="$d" -v f="$f" -v verbose="${VERBOSE:-}" 'BEGIN{split(d,a," "); x=a[1]-a[2]; if(x<0)x=-x;
        if(verbose!="") print "  " f ": video " a[1] "s, audio " a[2] "s" > "/dev/stderr";
        if(x>0.045){print "CHECK FAILED: " f " video " a[1] "s vs audio " a[2] "s" > "/dev/stderr"; exit 1}}' || fail=1
done

# ------------------------------------------------------------- summary table

EXPECTED=(old_camera.avi h264_aac_1080p.mp4 vp9_opus.webm rotated_90.mp4 odd_641x479.mkv video_only.mp4
          surround_51.mkv vfr.mkv tenbit_420.mkv interlaced.ts rgb_qtrle.mov one_frame.mp4 two_audio.mkv
          audio_only.m4a zero_bytes.mp4 text_file.avi no_moov.mp4 huge_dimensions.mp4 huge_dimensions.h264
          truncated_30pct.mp4 bitflip.mp4)

printf '\n%-22s %9s  %s\n' FILE BYTES STREAMS
total=0
for f in "${EXPECTED[@]}"; do
    if [[ ! -e "$OUT/$f" ]]; then
        printf '%-22s %9s  %s\n' "$f" "-" "MISSING"; fail=1; continue
    fi
    sz=$(stat -c %s "$OUT/$f"); total=$((total + sz))
    streams="$(ffprobe -v quiet -show_entries stream=codec_type,codec_name,width,height,pix_fmt,channels -of json "$OUT/$f" 2>/dev/null |
               python3 -c '
import json, sys
try: st = json.load(sys.stdin).get("streams", [])
except ValueError: st = []
print(" | ".join("%s %s %s" % (s.get("codec_type"), s.get("codec_name"),
      "%sx%s %s" % (s["width"], s["height"], s.get("pix_fmt")) if "width" in s else "%sch" % s.get("channels"))
      for s in st))')" || true
    printf '%-22s %9d  %s\n' "$f" "$sz" "${streams:-(not probeable)}"
done
printf '%-22s %9d\n' TOTAL "$total"

if (( fail )); then
    echo "make-fixtures: FAILED (see messages above)" >&2
    exit 1
fi
echo "make-fixtures: all ${#EXPECTED[@]} fixtures present and verified"
