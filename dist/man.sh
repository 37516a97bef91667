#!/bin/sh
# Writes vqueue's man pages, gzipped, into OUTDIR: vqueue.1.gz and one page per
# subcommand (vqueue-submit.1.gz, vqueue-worker-stop.1.gz, ...), from the
# binary's own help (`vqueue --experimental-dump-help`) by swift-argument-
# parser's generate-manual tool, the one its GenerateManual plugin runs.
# Then, what man, mandb and lintian need of them:
# - git-style names (vqueue-worker-stop.1 for `vqueue worker stop`; the tool
#   writes vqueue.worker.stop.1), in the file names, .Dt and .Xr;
# - NAME gives the page's name as one word and its description unquoted, or
#   lexgrog cannot read the whatis entry; SYNOPSIS keeps the command's words;
# - help text lines that begin with "." or "'" are text, not requests;
#   blank lines are paragraph breaks (.Pp).
# Usage: dist/man.sh GENERATE_MANUAL VQUEUE DATE(yyyy-mm-dd) OUTDIR
set -eu

tool=$1 vqueue=$2 date=$3 out=$4
raw=$out.raw
rm -rf "$out" "$raw"
mkdir -p "$out" "$raw"
"$tool" "$vqueue" --multi-page --date "$date" --output-directory "$raw"
for page in "$raw"/*.1; do
    name=$(basename "$page" .1 | tr . -)
    awk -v page="$name" '
        /^\.(Xr|Dt) / { w = $2; gsub(/\./, "-", w); $2 = w; print; next }
        !named && /^\.Nm / {
            named = 1; command = substr($0, 5)
            print ".Nm " page; next
        }
        /^\.Nm$/ && named { print ".Nm " command; next }
        /^\.Nd "/ { sub(/^\.Nd "/, ".Nd "); sub(/"$/, ""); print; next }
        /^$/ { print ".Pp"; next }
        /^\.[^A-Z\\]/ || /^'\''/ { print "\\&" $0; next }
        { print }
    ' "$page" >"$out/$name.1"
    gzip -9n "$out/$name.1"
done
rm -rf "$raw"
