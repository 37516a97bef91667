#!/bin/sh
# Prints the Depends: value of the vqueue package, for the binary given:
# - the libraries it links, from dpkg-shlibdeps (the symbols it uses decide
#   each minimum version);
# - the libraries it opens at run time with dlopen (Sources/CLibAV/
#   libav_loader.c, Sources/CLibPQ/libpq_loader.c, Sources/CWebhook/
#   webhook_loader.c), which dpkg-shlibdeps cannot
#   see: each one's package, found with dpkg -S, at the lowest version whose
#   symbols file has every function the loader forwards to it;
# - libswscale6 and libswresample4: vqueue calls neither, but the scale and
#   aresample filters of its filter graphs are theirs (libavfilter8 depends on
#   them too; named here so that the package says what it runs on);
# - adduser, which the postinst uses to make the vqueue user.
# Usage: dist/deb/depends.sh BINARY (from the repository's root)
set -eu

binary=$(readlink -f "$1")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "depends.sh: $*" >&2; exit 1; }

# dpkg-shlibdeps wants a debian/control naming the package.
mkdir "$work/debian"
printf 'Source: vqueue\n\nPackage: vqueue\nArchitecture: any\n' >"$work/debian/control"
linked=$(cd "$work" && dpkg-shlibdeps -O -e"$binary" 2>"$work/shlibdeps.err") ||
    { cat "$work/shlibdeps.err" >&2; fail "dpkg-shlibdeps failed"; }
linked=${linked#shlibs:Depends=}

# The functions a loader forwards to a library: VQ_FORWARD(LIB, type, name, ...)
# and VQ_FORWARD_VOID(LIB, name, ...) in libav_loader.c (LIB is FORMAT, CODEC,
# FILTER or UTIL); VQ_FORWARD(type, name, ...) and VQ_FORWARD_VOID(name, ...)
# in libpq_loader.c (LIB empty).
forwarded() { # FILE LIB
    if [ -n "$2" ]; then
        sed -n -E -e "s/^VQ_FORWARD\($2, *[^,]+, *([A-Za-z_0-9]+),.*/\1/p" \
                  -e "s/^VQ_FORWARD_VOID\($2, *([A-Za-z_0-9]+),.*/\1/p" "$1"
    else
        sed -n -E -e 's/^VQ_FORWARD\([^,]+, *([A-Za-z_0-9]+),.*/\1/p' \
                  -e 's/^VQ_FORWARD_VOID\(([A-Za-z_0-9]+),.*/\1/p' "$1"
    fi
}

# "package (>= version)" for a library opened by soname, given the functions
# taken from it.
opened() { # SONAME FUNCTIONS...
    soname=$1; shift
    [ $# -gt 0 ] || fail "found no function forwarded to $soname (has the loader's format changed?)"
    package=$(dpkg -S "*/$multiarch/$soname" 2>/dev/null | sed -n '1s/:.*//p')
    [ -n "$package" ] || fail "no installed package has $soname"
    symbols=$(dpkg-query --control-path "$package" symbols 2>/dev/null || true)
    [ -n "$symbols" ] && [ -f "$symbols" ] || fail "$package has no symbols file"
    minimum=0
    for name in "$@"; do
        line=$(grep -m1 "^ $name@" "$symbols") || fail "$name is not in $package's symbols"
        set -- $line
        [ $# -eq 2 ] || fail "$name is one of $package's private symbols ($line)"
        if dpkg --compare-versions "$2" gt "$minimum"; then minimum=$2; fi
    done
    echo "$package (>= $minimum)"
}

libav=Sources/CLibAV/libav_loader.c
libpq=Sources/CLibPQ/libpq_loader.c
# The sonames the loaders open (their majors come from the headers built with).
for header in libavformat/version_major.h libavcodec/version_major.h libavfilter/version_major.h \
              libavutil/version.h; do
    [ -f "/usr/include/$multiarch/$header" ] || [ -f "/usr/include/$header" ] || fail "missing header $header"
done
major() { # HEADER MACRO
    f=/usr/include/$multiarch/$1; [ -f "$f" ] || f=/usr/include/$1
    sed -n -E "s/^#define $2 +([0-9]+).*/\1/p" "$f"
}
format=libavformat.so.$(major libavformat/version_major.h LIBAVFORMAT_VERSION_MAJOR)
codec=libavcodec.so.$(major libavcodec/version_major.h LIBAVCODEC_VERSION_MAJOR)
filter=libavfilter.so.$(major libavfilter/version_major.h LIBAVFILTER_VERSION_MAJOR)
util=libavutil.so.$(major libavutil/version.h LIBAVUTIL_VERSION_MAJOR)
grep -q '"libpq.so.5"' "$libpq" || fail "$libpq no longer opens libpq.so.5"

deps="$linked"
deps="$deps, $(opened "$format" $(forwarded "$libav" FORMAT))"
deps="$deps, $(opened "$codec" $(forwarded "$libav" CODEC))"
deps="$deps, $(opened "$filter" $(forwarded "$libav" FILTER))"
deps="$deps, $(opened "$util" $(forwarded "$libav" UTIL))"
for soname in libswscale.so libswresample.so; do
    package=$(dpkg -S "*/$multiarch/$soname.*" 2>/dev/null | sed -n '1s/:.*//p')
    [ -n "$package" ] || fail "no installed package has $soname.*"
    deps="$deps, $package"
done
deps="$deps, $(opened libpq.so.5 $(forwarded "$libpq" ""))"
# webhook_loader.c: VQ_TAKE(CURL, name) and VQ_TAKE(CRYPTO, name) lines; webhooks
# over https check certificates against the system's CA store.
webhook=Sources/CWebhook/webhook_loader.c
taken() { sed -n -E "s/^VQ_TAKE\($2, *([A-Za-z_0-9]+)\);.*/\1/p" "$1"; }
grep -q '"libcurl.so.4"' "$webhook" && grep -q '"libcrypto.so.3"' "$webhook" || fail "$webhook no longer opens libcurl.so.4 and libcrypto.so.3"
deps="$deps, $(opened libcurl.so.4 $(taken "$webhook" CURL)), $(opened libcrypto.so.3 $(taken "$webhook" CRYPTO)), ca-certificates"
deps="$deps, adduser"
echo "$deps"
