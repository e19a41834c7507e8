#!/usr/bin/env bash
# jvhost machine setup: JDK 25, QEMU >= 10 and the test guest (Debian kernel + busybox).
#
# Executed:  scripts/setup.sh jdk|qemu|guest|tools|all
#   jdk    print the home of a JDK 25 ($JAVA_HOME if it is 25, else /usr/lib/jvm/*, else
#          update-alternatives); fails if there is none
#   qemu   make sure qemu-system-x86_64 >= 10 is on PATH (installs it from bookworm-backports,
#          which is added with the mirror and key of the system's existing bookworm entry)
#   guest  make sure the guest kernel, its modules and busybox are in the cache:
#          ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest (nothing is installed into the host's /boot)
#   tools  make sure the host tools the initramfs builder needs are there (cpio, kmod, ...)
#   chromium  make sure Debian's chromium is installed (/usr/bin/chromium: the web console's browser test)
#   all    all of the above
# Sourced:   . scripts/setup.sh [subcommand]
#   defines jvhost_setup_{jdk,qemu,guest,tools,all}; with a subcommand it runs it, and for `jdk`
#   it also exports JAVA_HOME. Sourcing never changes the caller's shell options.
#
# Guest cache layout (read by scripts/build-initramfs.sh and the e2e tests):
#   guest/kernel-version   e.g. 6.1.0-50-amd64
#   guest/vmlinuz          the kernel image
#   guest/root/            the kernel package unpacked (lib/modules/<kver>/..., depmod has been run)
#   guest/busybox          the static busybox binary
#   guest/.complete        written last; its presence makes `guest` a no-op
# Delete the guest folder to fetch a fresh kernel.

jvhost_setup__die() { echo "setup: $*" >&2; exit 1; }
jvhost_setup__say() { echo "setup: $*" >&2; }
jvhost_setup__cache() { echo "${JVHOST_CACHE:-$HOME/.cache/jvhost}"; }

# Runs apt-get (as root only) with quiet, non-interactive settings.
jvhost_setup__apt() {
    command -v apt-get >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get is not available; install the missing packages by hand: $*"
    [[ $(id -u) -eq 0 ]] \
        || jvhost_setup__die "need root to run 'apt-get $*'; run it with sudo, or run this script as root"
    DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 "$@" >/tmp/jvhost-apt.log 2>&1 \
        || jvhost_setup__die "'apt-get $*' failed; see /tmp/jvhost-apt.log"
}

# The major version of a JDK home, read from its release file (no JVM start); empty if unknown.
jvhost_setup__jdk_major() {
    local home=$1 v
    [[ -x $home/bin/java && -f $home/release ]] || return 0
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
    echo "$v"
}

jvhost_setup_jdk() (
    set -euo pipefail
    local home java
    if [[ -n ${JAVA_HOME:-} && $(jvhost_setup__jdk_major "$JAVA_HOME") == 25 ]]; then
        echo "$JAVA_HOME"; exit 0
    fi
    for home in /usr/lib/jvm/*/; do
        home=${home%/}
        [[ -L $home ]] && continue
        if [[ $(jvhost_setup__jdk_major "$home") == 25 ]]; then echo "$home"; exit 0; fi
    done
    if command -v update-alternatives >/dev/null 2>&1; then
        while read -r java; do
            home=$(dirname "$(dirname "$(readlink -f "$java")")")
            if [[ $(jvhost_setup__jdk_major "$home") == 25 ]]; then echo "$home"; exit 0; fi
        done < <(update-alternatives --list java 2>/dev/null || true)
    fi
    jvhost_setup__die "no JDK 25 found (checked \$JAVA_HOME, /usr/lib/jvm/*, update-alternatives); install one (e.g. Temurin 25) or set JAVA_HOME to it"
)

# Prints the major version of qemu-system-x86_64 on PATH, or nothing.
jvhost_setup__qemu_major() {
    local out
    command -v qemu-system-x86_64 >/dev/null 2>&1 || return 0
    out=$(qemu-system-x86_64 --version 2>/dev/null | head -n1) || return 0
    [[ $out =~ version\ ([0-9]+)\. ]] && echo "${BASH_REMATCH[1]}"
    return 0
}

# Prints "URIS<TAB>SIGNED-BY" of the system's Debian entry that has the suite "bookworm".
# SIGNED-BY may be empty, or (for an inline key in deb822) several lines joined with \n escapes.
jvhost_setup__bookworm_source() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '
            function flush() {
                if (suites ~ /(^|[ \t])bookworm([ \t]|$)/ && uris != "" && !found && enabled) {
                    printf "%s\t%s\n", uris, signed; found = 1
                }
                uris = ""; suites = ""; signed = ""; field = ""; enabled = 1
            }
            BEGIN { enabled = 1 }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (field == "signed-by") signed = signed "\\n" $0; next }
            {
                name = tolower($0); sub(/:.*/, "", name); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                field = name
                if (name == "uris") uris = val
                else if (name == "suites") suites = val
                else if (name == "signed-by") signed = val
                else if (name == "enabled" && tolower(val) == "no") enabled = 0
            }
            END { flush() }
        ' "$f"
    done | head -n1 | grep . && return 0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # deb [opts] URI SUITE COMPONENTS...
        awk '
            $1 != "deb" { next }
            {
                opts = ""; i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
                uri = $i; suite = $(i + 1)
                if (suite != "bookworm") next
                signed = ""
                if (match(opts, /signed-by=[^] \t]*/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
                printf "%s\t%s\n", uri, signed; exit
            }
        ' "$f"
    done | head -n1 | grep .
}

jvhost_setup__add_backports() {
    local f=/etc/apt/sources.list.d/jvhost-bookworm-backports.sources src uris signed
    if grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
        return 0
    fi
    src=$(jvhost_setup__bookworm_source) \
        || jvhost_setup__die "no Debian 'bookworm' entry found in /etc/apt/sources.list(.d); add bookworm-backports (component main) to apt's sources by hand"
    uris=${src%%$'\t'*}
    signed=${src#*$'\t'}
    {
        echo "# Added by jvhost scripts/setup.sh: the mirror and key of the system's bookworm entry."
        echo "Types: deb"
        echo "URIs: $uris"
        echo "Suites: bookworm-backports"
        echo "Components: main"
        [[ -n $signed ]] && printf 'Signed-By: %b\n' "$signed"
    } > "$f"
    jvhost_setup__say "added bookworm-backports to apt's sources ($f)"
}

jvhost_setup_qemu() (
    set -euo pipefail
    local major
    major=$(jvhost_setup__qemu_major)
    [[ -n $major && $major -ge 10 ]] && exit 0
    local what="qemu-system-x86_64 is missing"
    [[ -n $major ]] && what="qemu-system-x86_64 is version $major ($(command -v qemu-system-x86_64)), need >= 10"
    command -v apt-get >/dev/null 2>&1 \
        || jvhost_setup__die "$what and apt-get is not available; install QEMU 10 (qemu-system-x86) by hand"
    [[ $(id -u) -eq 0 ]] \
        || jvhost_setup__die "$what; run 'scripts/setup.sh qemu' as root (it adds bookworm-backports and installs qemu-system-x86 qemu-system-gui)"
    jvhost_setup__say "$what; installing QEMU 10 from bookworm-backports"
    jvhost_setup__add_backports
    jvhost_setup__apt update
    jvhost_setup__apt install -y -t bookworm-backports qemu-system-x86 qemu-system-gui
    hash -r
    major=$(jvhost_setup__qemu_major)
    [[ -n $major && $major -ge 10 ]] \
        || jvhost_setup__die "installed QEMU from bookworm-backports but $(command -v qemu-system-x86_64 || echo qemu-system-x86_64) still reports version '${major:-nothing}'; remove that older QEMU from PATH or see /tmp/jvhost-apt.log"
    jvhost_setup__say "QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') installed"
)

# Host tools for the guest setup and the initramfs builder: command -> Debian package.
jvhost_setup_tools() (
    set -euo pipefail
    local -A need=([cpio]=cpio [depmod]=kmod [modprobe]=kmod [gzip]=gzip [xz]=xz-utils [dpkg-deb]=dpkg [sha256sum]=coreutils [gcc]=gcc)
    local cmd missing=()
    for cmd in "${!need[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd || -x /sbin/$cmd ]] || missing+=("${need[$cmd]}")
    done
    [[ ${#missing[@]} -eq 0 ]] && exit 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    jvhost_setup__say "installing host tools: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        jvhost_setup__die "missing host packages: ${missing[*]}; install them (as root: apt-get install -y ${missing[*]})"
    fi
    jvhost_setup__apt install -y --no-install-recommends "${missing[@]}" \
        || { jvhost_setup__apt update; jvhost_setup__apt install -y --no-install-recommends "${missing[@]}"; }
)

# apt-get download PKG into the current folder; refreshes apt's lists once if it fails as root.
jvhost_setup__download() {
    apt-get -q download "$@" >/dev/null 2>&1 && return 0
    if [[ $(id -u) -eq 0 ]]; then
        jvhost_setup__apt update
        apt-get -q download "$@" >/dev/null 2>&1 && return 0
    fi
    jvhost_setup__die "'apt-get download $*' failed; run 'apt-get update' as root and try again"
}

jvhost_setup_guest() (
    set -euo pipefail
    local g tmp pkg kver deb
    g=$(jvhost_setup__cache)/guest
    if [[ -f $g/.complete && -f $g/vmlinuz && -x $g/busybox && -s $g/kernel-version ]]; then
        exit 0
    fi
    jvhost_setup_tools
    { command -v apt-get && command -v apt-cache; } >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get is not available, so the guest kernel cannot be fetched; put a kernel and busybox into $g by hand (see the header of scripts/setup.sh)"
    PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$g"
    tmp=$(mktemp -d "$g/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT

    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    if [[ -z $pkg && $(id -u) -eq 0 ]]; then
        jvhost_setup__apt update
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    fi
    [[ -n $pkg ]] || jvhost_setup__die "apt knows no linux-image-amd64; run 'apt-get update' as root and try again"
    jvhost_setup__say "downloading guest kernel $pkg and busybox-static"
    (cd "$tmp" && jvhost_setup__download "$pkg" busybox-static)

    mkdir -p "$tmp/root" "$tmp/bb"
    for deb in "$tmp"/linux-image-*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    for deb in "$tmp"/busybox-static_*.deb; do dpkg-deb -x "$deb" "$tmp/bb"; done

    # Modules may live under lib/modules or usr/lib/modules; modprobe -d wants lib/modules.
    if [[ ! -d $tmp/root/lib/modules && -d $tmp/root/usr/lib/modules ]]; then
        ln -s usr/lib "$tmp/root/lib"
    fi
    kver=$(find "$tmp/root/lib/modules/" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -n1)
    [[ -n $kver && -f $tmp/root/boot/vmlinuz-$kver ]] \
        || jvhost_setup__die "the package $pkg has no boot/vmlinuz-<version> and lib/modules/<version>; cannot use it as the guest kernel"
    depmod -b "$tmp/root" "$kver" \
        || jvhost_setup__die "depmod failed on the unpacked kernel modules of $pkg"
    [[ -x $tmp/bb/bin/busybox ]] || jvhost_setup__die "busybox-static has no bin/busybox"

    rm -rf "$g/root" "$g/vmlinuz" "$g/busybox" "$g/kernel-version" "$g/.complete"
    mv "$tmp/root" "$g/root"
    ln -s "root/boot/vmlinuz-$kver" "$g/vmlinuz"
    mv "$tmp/bb/bin/busybox" "$g/busybox"
    echo "$kver" > "$g/kernel-version"
    touch "$g/.complete"
    jvhost_setup__say "guest kernel $kver and busybox are in $g"
)

# Debian's Chromium for the web console's end-to-end test (headless, driven over the DevTools protocol).
# About 20 s on a fresh machine; nothing else is downloaded (no browser of a test tool's own).
jvhost_setup_chromium() (
    set -euo pipefail
    [[ -x /usr/bin/chromium ]] && exit 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        jvhost_setup__die "chromium is missing; install it (as root: apt-get install -y chromium) or the web console's browser test is skipped"
    fi
    jvhost_setup__say "installing chromium (for the web console's browser test)"
    jvhost_setup__apt install -y chromium \
        || { jvhost_setup__apt update; jvhost_setup__apt install -y chromium; }
    [[ -x /usr/bin/chromium ]] || jvhost_setup__die "installed chromium but /usr/bin/chromium is missing; see /tmp/jvhost-apt.log"
)

jvhost_setup_all() (
    set -euo pipefail
    jvhost_setup_jdk >/dev/null
    jvhost_setup_tools
    jvhost_setup_qemu
    jvhost_setup_guest
    jvhost_setup_chromium
)

jvhost_setup() {
    case "${1:-}" in
        jdk|qemu|guest|tools|chromium|all) "jvhost_setup_$1" ;;
        -h|--help|help|'') sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" ;;
        *) echo "setup: unknown subcommand '$1' (use jdk, qemu, guest, tools, chromium or all)" >&2; return 2 ;;
    esac
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    # Sourced: run the subcommand if one was given; `jdk` exports JAVA_HOME.
    if [[ $# -gt 0 ]]; then
        if [[ $1 == jdk ]]; then
            JAVA_HOME=$(jvhost_setup_jdk) && export JAVA_HOME
        else
            jvhost_setup "$@"
        fi
    fi
else
    set -euo pipefail
    jvhost_setup "$@"
fi
