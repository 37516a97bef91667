#!/usr/bin/env bash
# The package, tried as an operator would (`make test-deb`, as root or with sudo):
#  1. `make install DESTDIR=<temp> PREFIX=/usr/local` installs exactly the
#     expected files (the binary stripped, a man page per command, completions,
#     units naming /usr/local/bin/vqueue), and `make uninstall` removes them;
#  2. `make deb` builds .build/vqueue_VERSION_ARCH.deb; lintian finds no error
#     or warning in it;
#  3. `apt-get install ./.build/vqueue_....deb` (which brings its
#     dependencies); then: the package's files are exactly the expected ones,
#     `vqueue --version`, `man -w`, the completions, the units
#     (systemd-analyze verify, where there is one), the vqueue user and group,
#     /var/lib/vqueue (vqueue:vqueue, 2775), which the vqueue user can create
#     the queue database in; a job through the queue with the installed binary,
#     judged by ffprobe (H.264 + AAC);
#  4. `apt-get purge vqueue`: the files, the user, the group and
#     /var/lib/vqueue are gone.
# It changes the system (/usr, a user), so it refuses to run where vqueue is
# installed or a vqueue user or /var/lib/vqueue exists, and purges the package
# however it ends. Any failed check stops it, saying which, with exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
VERSION=$(cat VERSION)
ARCH=$(dpkg --print-architecture)
DEB=.build/vqueue_${VERSION}_${ARCH}.deb
MAKE=${MAKE:-make}
passed=0
installed_by_us=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vqueue-deb-test.XXXXXX")

fail() {
    echo "deb-test: FAIL: $*" >&2
    echo "$passed passed, 1 failed"
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "deb-test: ok: $*"
}
cleanup() {
    if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' vqueue 2>/dev/null | grep -q 'install ok'; then
        echo "deb-test: purging the package after a failure" >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq vqueue >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The files `make install` puts under PREFIX (UNITDIR for the units): one man
# page per command, from the binary's own command tree.
expected_files() { # PREFIX UNITDIR VQUEUE
    local prefix=$1 unitdir=$2 vqueue=$3
    {
        echo "$prefix/bin/vqueue"
        echo "$prefix/share/bash-completion/completions/vqueue"
        echo "$prefix/share/zsh/site-functions/_vqueue"
        echo "$prefix/share/fish/vendor_completions.d/vqueue.fish"
        echo "$unitdir/vqueue-worker.service"
        echo "$unitdir/vqueue-worker@.service"
        echo "$unitdir/vqueue-serve.service"
        "$vqueue" --experimental-dump-help | python3 -c '
import json, sys
def walk(command, path):
    path = path + [command["commandName"]]
    print("-".join(path))
    for sub in command.get("subcommands", []):
        walk(sub, path)
walk(json.load(sys.stdin)["command"], [])' | sed "s|.*|$prefix/share/man/man1/&.1.gz|"
    } | LC_ALL=C sort
}

# --- 0. Nothing of ours is on the machine yet.
if dpkg-query -W -f='${Status}' vqueue 2>/dev/null | grep -q 'install ok'; then
    fail "the vqueue package is installed here; this test installs and purges it (apt-get purge vqueue first)"
fi
getent passwd vqueue >/dev/null && fail "a vqueue user exists; the package's purge would remove it"
getent group vqueue >/dev/null && fail "a vqueue group exists; the package's purge would remove it"
[ -e /var/lib/vqueue ] && fail "/var/lib/vqueue exists; the package's purge would remove it"
ok "no vqueue package, user, group or /var/lib/vqueue before the test"

# --- 1. make install / make uninstall into a temporary DESTDIR.
dest=$work/destdir
mkdir "$dest"
$MAKE --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local >"$work/install.log" 2>&1 ||
    { tail -20 "$work/install.log" >&2; fail "make install DESTDIR=$dest PREFIX=/usr/local failed"; }
(cd "$dest" && find . -type f -o -type l) | sed 's|^\.||' | LC_ALL=C sort >"$work/installed"
expected_files /usr/local /usr/local/lib/systemd/system .build/release/vqueue >"$work/expected"
diff -u "$work/expected" "$work/installed" >&2 ||
    fail "make install put other files than expected (- expected, + installed)"
ok "make install puts exactly $(wc -l <"$work/expected") files: $(grep -c '/man1/' "$work/expected") man pages, 3 completions, 3 units, the binary"
file "$dest/usr/local/bin/vqueue" | grep -q ', stripped' || fail "the installed binary is not stripped: $(file "$dest/usr/local/bin/vqueue")"
ok "the installed binary is stripped"
for unit in vqueue-worker.service vqueue-worker@.service vqueue-serve.service; do
    grep -q '^ExecStart=/usr/local/bin/vqueue \(worker\|serve\)' "$dest/usr/local/lib/systemd/system/$unit" ||
        fail "$unit does not run /usr/local/bin/vqueue"
done
ok "the units run /usr/local/bin/vqueue"
$MAKE --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local >"$work/uninstall.log" 2>&1 ||
    { cat "$work/uninstall.log" >&2; fail "make uninstall failed"; }
left=$(cd "$dest" && find . -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removes every file make install put"

# --- 2. make deb, lintian.
rm -f "$DEB"
$MAKE --no-print-directory deb >"$work/deb.log" 2>&1 || { tail -20 "$work/deb.log" >&2; fail "make deb failed"; }
[ -f "$DEB" ] || fail "make deb made no $DEB"
ok "make deb built $DEB ($(du -h "$DEB" | cut -f1))"
if command -v lintian >/dev/null; then
    lintian -I "$DEB" >"$work/lintian" 2>&1 || true
    if grep -E '^[EW]: ' "$work/lintian" >&2; then
        fail "lintian reports errors or warnings (above)"
    fi
    ok "lintian: no errors or warnings ($(grep -c '^I: ' "$work/lintian") informational tags)"
else
    echo "deb-test: lintian is not installed (make deps-test): not run"
fi

# --- 3. Install it; check what it put where.
installed_by_us=1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "./$DEB" >"$work/apt-install.log" 2>&1 ||
    { tail -20 "$work/apt-install.log" >&2; fail "apt-get install ./$DEB failed"; }
dpkg-query -W -f='${Status}' vqueue | grep -q 'install ok installed' || fail "vqueue is not installed after apt-get install"
ok "apt-get install ./$DEB"

dpkg -L vqueue | while read -r path; do if [ -f "$path" ]; then echo "$path"; fi; done | LC_ALL=C sort >"$work/package"
{
    expected_files /usr /lib/systemd/system /usr/bin/vqueue
    printf '%s\n' /usr/share/doc/vqueue/README.md.gz /usr/share/doc/vqueue/changelog.gz /usr/share/doc/vqueue/copyright
} | LC_ALL=C sort >"$work/expected-package"
diff -u "$work/expected-package" "$work/package" >&2 || fail "the package's files are not the expected ones (- expected, + package)"
ok "the package has exactly the expected $(wc -l <"$work/package") files"

version_line=$(/usr/bin/vqueue --version) || fail "vqueue --version failed"
case "$version_line" in
    "vqueue $VERSION" | "vqueue $VERSION "*) ok "vqueue --version: $version_line" ;;
    *) fail "vqueue --version says '$version_line', not vqueue $VERSION" ;;
esac

# (man -aw: a /usr/local install of vqueue, if any, comes first.)
for page in vqueue vqueue-worker-stop; do
    man -aw "$page" | grep -qx "/usr/share/man/man1/$page.1.gz" || fail "man -w $page: $(man -aw "$page" 2>&1)"
done
for page in $(grep '/man1/' "$work/expected-package"); do
    warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null) || fail "man $page failed: $warnings"
    [ -z "$warnings" ] || fail "man $page: $warnings"
done
ok "man -w vqueue, vqueue-worker-stop; every page formats without a warning"

[ -s /usr/share/bash-completion/completions/vqueue ] || fail "no bash completion"
[ -s /usr/share/zsh/site-functions/_vqueue ] || fail "no zsh completion"
[ -s /usr/share/fish/vendor_completions.d/vqueue.fish ] || fail "no fish completion"
bash -c 'source /usr/share/bash-completion/completions/vqueue && complete -p vqueue' >/dev/null ||
    fail "the bash completion does not register a completion for vqueue"
if command -v zsh >/dev/null; then zsh -n /usr/share/zsh/site-functions/_vqueue || fail "zsh -n _vqueue"; fi
if command -v fish >/dev/null; then fish -n /usr/share/fish/vendor_completions.d/vqueue.fish || fail "fish -n vqueue.fish"; fi
ok "bash, zsh and fish completions installed (bash's registers)"

for unit in vqueue-worker.service vqueue-worker@.service vqueue-serve.service; do
    [ -f "/lib/systemd/system/$unit" ] || fail "no /lib/systemd/system/$unit"
    grep -q '^ExecStart=/usr/bin/vqueue \(worker\|serve\)' "/lib/systemd/system/$unit" || fail "$unit does not run /usr/bin/vqueue"
done
if command -v systemd-analyze >/dev/null; then
    # A template is verified through an instance of it.
    mkdir "$work/units"
    cp /lib/systemd/system/vqueue-worker.service /lib/systemd/system/vqueue-serve.service "$work/units/"
    cp /lib/systemd/system/vqueue-worker@.service "$work/units/vqueue-worker@fast.service"
    out=$(systemd-analyze verify "$work/units/vqueue-worker.service" "$work/units/vqueue-worker@fast.service" \
        "$work/units/vqueue-serve.service" 2>&1) ||
        fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
    ok "units in /lib/systemd/system; systemd-analyze verify passes"
else
    ok "units in /lib/systemd/system (no systemd-analyze here to verify them)"
fi

passwd_line=$(getent passwd vqueue) || fail "no vqueue user"
IFS=: read -r _ _ uid gid _ home shell <<<"$passwd_line"
[ "$home" = /var/lib/vqueue ] || fail "the vqueue user's home is $home, not /var/lib/vqueue"
[ "$uid" -lt 1000 ] || fail "the vqueue user is not a system user (uid $uid)"
case "$shell" in */nologin | /bin/false) ;; *) fail "the vqueue user has a login shell ($shell)" ;; esac
[ "$(getent group vqueue | cut -d: -f3)" = "$gid" ] || fail "the vqueue user's primary group is not vqueue"
ok "vqueue system user (uid $uid, group vqueue, home /var/lib/vqueue, shell $shell)"
[ "$(stat -c '%U:%G %a' /var/lib/vqueue)" = "vqueue:vqueue 2775" ] ||
    fail "/var/lib/vqueue is $(stat -c '%U:%G %a' /var/lib/vqueue), not vqueue:vqueue 2775"
# As the units run it: the vqueue user, umask 0002, VQUEUE_DB in /var/lib/vqueue.
out=$(cd / && $SUDO env VQUEUE_DB=/var/lib/vqueue/queue.db \
          setpriv --reuid vqueue --regid vqueue --init-groups -- sh -c 'umask 0002 && exec /usr/bin/vqueue list' 2>&1) ||
    fail "vqueue list as the vqueue user with VQUEUE_DB=/var/lib/vqueue/queue.db: $out"
[ -f /var/lib/vqueue/queue.db ] || fail "vqueue list as the vqueue user made no /var/lib/vqueue/queue.db"
[ "$(stat -c '%U:%G %a' /var/lib/vqueue/queue.db)" = "vqueue:vqueue 664" ] ||
    fail "/var/lib/vqueue/queue.db is $(stat -c '%U:%G %a' /var/lib/vqueue/queue.db), not vqueue:vqueue 664"
ok "/var/lib/vqueue is vqueue:vqueue 2775; the vqueue user makes the queue database there, group-writable"

# A job through the queue with the installed binary.
demo=$work/demo
mkdir "$demo"
id=$(/usr/bin/vqueue submit --db "$demo/queue.db" "$PWD/Fixtures/old_camera.avi" "$demo/old_camera.mp4") ||
    fail "vqueue submit failed"
timeout 600 /usr/bin/vqueue worker --db "$demo/queue.db" --drain >"$work/worker.log" 2>&1 ||
    { tail -20 "$work/worker.log" >&2; fail "vqueue worker --drain failed"; }
/usr/bin/vqueue status --db "$demo/queue.db" "$id" >"$work/status" 2>&1 ||
    { cat "$work/status" >&2; fail "job $id did not succeed"; }
streams=$(ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 "$demo/old_camera.mp4" | LC_ALL=C sort | tr '\n' ' ')
[ "$streams" = "aac,audio h264,video " ] || fail "ffprobe: the output's streams are '$streams', not h264 video and aac audio"
ok "submit Fixtures/old_camera.avi, worker --drain, status: succeeded; ffprobe: h264 + aac"

# --- 4. Purge.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq vqueue >"$work/apt-purge.log" 2>&1 ||
    { tail -20 "$work/apt-purge.log" >&2; fail "apt-get purge vqueue failed"; }
installed_by_us=0
if dpkg-query -W -f='${Status}' vqueue 2>/dev/null | grep -q 'install ok'; then fail "vqueue is still installed after purge"; fi
while read -r path; do
    [ ! -e "$path" ] || fail "$path is still there after purge"
done <"$work/package"
getent passwd vqueue >/dev/null && fail "the vqueue user is still there after purge"
getent group vqueue >/dev/null && fail "the vqueue group is still there after purge"
[ ! -e /var/lib/vqueue ] || fail "/var/lib/vqueue is still there after purge"
ok "apt-get purge vqueue: files, user, group and /var/lib/vqueue gone"

echo "$passed passed, 0 failed"
