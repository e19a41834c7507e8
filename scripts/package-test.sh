#!/usr/bin/env bash
# scripts/package-test.sh --dpkg-x|--chroot DEB: install-tests the package scripts/package.sh built.
#
#   --dpkg-x   (about 10 s) dpkg-deb -x into an empty folder; that folder's usr/bin/jvhost runs with an empty
#              environment whose PATH has only dirname and readlink (no java, no JAVA_HOME): --version must name the
#              bundled Java 25 with the AOT cache required (-XX:AOTMode=on fails when the JVM cannot use it), the
#              man pages must render, and `jvhost rng --socket-path` must answer a vhost-user GET_FEATURES with
#              VERSION_1 and PROTOCOL_FEATURES, then stop on SIGTERM with status 0 and remove its socket.
#   --chroot   (about 2 min the first time, then 15 s) a fresh Debian 12 root: debootstrap --variant=minbase from
#              the mirror and key of the system's bookworm apt entry (installs debootstrap with apt when missing;
#              the root is cached in ~/.cache/jvhost/debian12-root and copied for each run), `dpkg -i` of the
#              package inside it with chroot, no java in the root, then the same --version and rng checks with
#              jvhost running in the chroot and the front-end outside.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
[[ $# -eq 2 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
mode=$1
deb=$(readlink -f "$2")
[[ -f $deb ]] || { echo "package-test: no $2" >&2; exit 2; }
say() { echo "package-test: $*" >&2; }
die() { echo "package-test: FAILED: $*" >&2; exit 1; }
python=/usr/bin/python3
[[ -x $python ]] || python=python3

# probe SOCKET: a vhost-user front-end's first message, GET_FEATURES; checks the reply and prints the features.
probe() {
    "$python" - "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(struct.pack('<III', 1, 1, 0))           # GET_FEATURES, version 1, no payload
reply = b''
while len(reply) < 20:
    chunk = s.recv(20 - len(reply))
    if not chunk:
        sys.exit('connection closed after %d bytes' % len(reply))
    reply += chunk
request, flags, size = struct.unpack('<III', reply[:12])
features, = struct.unpack('<Q', reply[12:20])
if request != 1 or flags & 0x3 != 1 or not flags & 0x4 or size != 8:
    sys.exit('bad reply header: request %d flags 0x%x size %d' % (request, flags, size))
if not features & (1 << 32) or not features & (1 << 30):
    sys.exit('features 0x%x lack VIRTIO_F_VERSION_1 or VHOST_USER_F_PROTOCOL_FEATURES' % features)
print('0x%x' % features)
PY
}

# serve_and_probe SOCKET-FILE COMMAND...: starts COMMAND (jvhost rng), probes SOCKET-FILE, stops it with SIGTERM.
serve_and_probe() {
    local sock=$1 pid i features rc
    shift
    "$@" > "$work/rng.log" 2>&1 &
    pid=$!
    server=$pid
    for ((i = 0; i < 300; i++)); do
        [[ -S $sock ]] && break
        kill -0 "$pid" 2>/dev/null || die "jvhost rng exited before listening: $(cat "$work/rng.log")"
        sleep 0.1
    done
    [[ -S $sock ]] || die "jvhost rng did not create $sock in 30 s: $(cat "$work/rng.log")"
    features=$(probe "$sock") || die "GET_FEATURES on $sock failed; jvhost's log: $(cat "$work/rng.log")"
    say "jvhost rng answered GET_FEATURES: $features"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    server=""
    [[ $rc -eq 0 ]] || die "jvhost rng exited $rc after SIGTERM: $(cat "$work/rng.log")"
    [[ ! -e $sock ]] || die "jvhost rng left $sock behind"
    grep -q "rng0: features negotiated\|rng0: rng device listening" "$work/rng.log" \
        || die "jvhost's log lacks its listening line: $(cat "$work/rng.log")"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/jvhost-package-test.XXXXXX")
mounts=()
server=""
cleanup() {
    local m
    if [[ -n $server ]]; then
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    for m in ${mounts[@]+"${mounts[@]}"}; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

case $mode in
    --dpkg-x)
        dpkg-deb -x "$deb" "$work/root"
        mkdir "$work/tools"
        ln -s "$(command -v dirname)" "$(command -v readlink)" "$work/tools/"
        clean=(env -i PATH="$work/tools" HOME="$work")
        "${clean[@]}" /bin/sh -c 'command -v java' >/dev/null 2>&1 && die "java is on the test's PATH"
        version=$("${clean[@]}" JVHOST_JAVA_OPTS=-XX:AOTMode=on "$work/root/usr/bin/jvhost" --version 2>&1) \
            || die "jvhost --version (AOT cache required) failed: $version"
        [[ $version == "jvhost "*"(Java 25"* ]] || die "unexpected version line: $version"
        say "unpacked: $version, with its AOT cache"
        for page in "$work"/root/usr/share/man/man1/*.1.gz; do
            out=$(MANPAGER=cat LANG=C man -l "$page" 2>&1 >/dev/null) || die "man -l $page failed"
            [[ -z $out ]] || die "man -l $page warns: $out"
        done
        say "$(ls "$work"/root/usr/share/man/man1 | wc -l) man pages render"
        serve_and_probe "$work/rng.sock0" "${clean[@]}" "$work/root/usr/bin/jvhost" rng --socket-path "$work/rng.sock"
        ;;
    --chroot)
        [[ $(id -u) -eq 0 ]] || die "--chroot needs root (debootstrap, chroot, mount)"
        # Sourced without arguments: only its functions (the system's bookworm mirror, apt with a log).
        set --
        # shellcheck source=setup.sh
        source "$root/scripts/setup.sh"
        cache=${JVHOST_CACHE:-$HOME/.cache/jvhost}/debian12-root
        if [[ ! -f $cache/.complete ]]; then
            command -v debootstrap >/dev/null || jvhost_setup__apt install -y --no-install-recommends debootstrap
            src=$(jvhost_setup__bookworm_source bookworm) || die "no Debian 'bookworm' entry in apt's sources"
            uri=${src%%$'\t'*}
            keyring=${src#*$'\t'}
            keyopt=()
            [[ -n $keyring && -f $keyring ]] && keyopt=(--keyring="$keyring")
            say "debootstrap --variant=minbase bookworm from the system's bookworm mirror (once; cached in $cache)"
            rm -rf "$cache"
            mkdir -p "$cache"
            debootstrap --variant=minbase ${keyopt[@]+"${keyopt[@]}"} bookworm "$cache/root" "$uri" \
                > "$cache/debootstrap.log" 2>&1 || die "debootstrap failed; see $cache/debootstrap.log"
            touch "$cache/.complete"
        fi
        cp -a "$cache/root" "$work/root"
        r=$work/root
        chroot "$r" sh -c 'command -v java' >/dev/null 2>&1 && die "the fresh root has java"
        cp "$deb" "$r/tmp/jvhost.deb"
        chroot "$r" dpkg -i /tmp/jvhost.deb > "$work/dpkg.log" 2>&1 || die "dpkg -i failed: $(cat "$work/dpkg.log")"
        say "dpkg -i in a fresh Debian 12 root: $(grep -m1 'Setting up' "$work/dpkg.log")"
        mount -t proc proc "$r/proc"
        mounts+=("$r/proc")
        version=$(chroot "$r" env -i PATH=/usr/bin:/bin JVHOST_JAVA_OPTS=-XX:AOTMode=on jvhost --version 2>&1) \
            || die "jvhost --version in the root failed: $version"
        [[ $version == "jvhost "*"(Java 25"* ]] || die "unexpected version line: $version"
        say "in the root: $version, with its AOT cache"
        [[ -x $r/usr/libexec/jvhost/jvhost-gpu && -f $r/usr/share/qemu/vhost-user/50-jvhost-gpu.json \
            && -f $r/lib/systemd/system/jvhost-gpu@.socket && -f $r/usr/share/bash-completion/completions/jvhost ]] \
            || die "the package left out a libexec wrapper, descriptor, unit or completion"
        serve_and_probe "$r/tmp/rng.sock0" chroot "$r" env -i PATH=/usr/bin:/bin jvhost rng --socket-path /tmp/rng.sock
        ;;
    *) die "unknown mode $mode (--dpkg-x or --chroot)" ;;
esac
say "passed ($mode)"
