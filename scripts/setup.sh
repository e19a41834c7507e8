#!/usr/bin/env bash
# jvhost machine setup: JDK 25, QEMU >= 10 and the test guests (Debian kernel + busybox; Debian 12's Mesa).
#
# Executed:  scripts/setup.sh jdk|qemu|guest|guest3d|tools|virgl|chromium|qemu11|guest612|guestmods|arm64|uinput|all
#   jdk    print the home of a JDK 25 ($JAVA_HOME if it is 25, else /usr/lib/jvm/*, else
#          update-alternatives); fails if there is none
#   qemu   make sure qemu-system-x86_64 >= 10 is on PATH (installs it from bookworm-backports,
#          which is added with the mirror and key of the system's existing bookworm entry)
#   guest  make sure the guest kernel, its modules and busybox are in the cache:
#          ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest (nothing is installed into the host's /boot)
#   guest3d  make sure Debian 12's own Mesa 22.3.6 (virgl driver, EGL, GBM, GLES), kmscube, every library
#          of their closure and the headers the 3D guest's clients are built against are unpacked in
#          ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest3d (apt-get download + dpkg-deb -x: nothing is
#          installed and no host package changes; needs Debian 12's suites in apt's sources)
#   tools  make sure the host tools the initramfs builder needs are there (cpio, kmod, ...)
#   virgl  make sure virglrenderer and Mesa's EGL with llvmpipe are installed (libvirglrenderer1, libegl1,
#          libegl-mesa0, libgl1-mesa-dri: the GPU's 3D mode and its tests; no GPU or render node needed)
#   chromium  make sure Debian's chromium is installed (/usr/bin/chromium: the web console's browser test)
#   qemu11 make sure QEMU 11.1 (trixie-backports) is unpacked in ${JVHOST_CACHE:-$HOME/.cache/jvhost}/qemu-11,
#          not installed: a private apt (the system's bookworm mirror and key, trixie suites, empty dpkg
#          status) downloads qemu-system-x86 with its trixie libraries; no root needed. It brings the
#          generic vhost-user-test-device-pci that QEMU 10 cannot create
#   uinput    load the uinput module when the kernel has one (evdev passthrough test); never fails
#   guest612  make sure the 6.12 guest kernel (bookworm-security, else bookworm-backports) and busybox
#          are in ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest-6.12 (same layout as guest/)
#   guestmods  build the 6.12 guest's out-of-tree i2c-virtio, gpio-virtio, virtio_rtc, spi-virtio and virtio_can
#          drivers into
#          ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest-modules-6.12 (Debian builds none of them)
#   arm64  the SCMI guest: install qemu-system-arm (QEMU 10, bookworm-backports), device-tree-compiler and
#          gcc-12-aarch64-linux-gnu; stage the arm64 6.12 kernel and busybox-static (downloaded, not installed) and
#          cross-build its scmi_transport_virtio.ko, scmi-hwmon.ko and scmi_iio.ko into
#          ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest-arm64-6.12
#   all    all of the above
# Sourced:   . scripts/setup.sh [subcommand]
#   defines jvhost_setup_{jdk,qemu,guest,guest3d,tools,virgl,chromium,qemu11,guest612,guestmods,arm64,uinput,all}; with a subcommand it runs it, and for `jdk`
#   it also exports JAVA_HOME. Sourcing never changes the caller's shell options.
#
# Guest cache layout (read by scripts/build-initramfs.sh and the e2e tests):
#   guest/kernel-version   e.g. 6.1.0-50-amd64
#   guest/vmlinuz          the kernel image
#   guest/root/            the kernel package unpacked (lib/modules/<kver>/..., depmod has been run)
#   guest/busybox          the static busybox binary
#   guest/.complete        written last; its presence makes `guest` a no-op
# Delete the guest folder to fetch a fresh kernel.
#
# arm64 guest cache layout (the scmi guest test; same names as guest/ where they mean the same):
#   guest-arm64-6.12/kernel-version   e.g. 6.12.118+deb12-arm64
#   guest-arm64-6.12/vmlinuz          the arm64 kernel image (QEMU's -kernel)
#   guest-arm64-6.12/root/            the kernel package unpacked (lib/modules/<kver>/..., depmod has been run)
#   guest-arm64-6.12/busybox          the static arm64 busybox
#   guest-arm64-6.12/busybox-applets  its applets (busybox --list-full of the amd64 busybox of the same release)
#   guest-arm64-6.12/modules/         scmi_transport_virtio.ko, scmi-hwmon.ko, scmi_iio.ko (cross-built out of tree)
#   guest-arm64-6.12/build.log        what the private apt and the cross build printed
#   guest-arm64-6.12/.complete        written last; its presence makes `arm64` a no-op
#
# QEMU 11.1 cache layout (delete the folder to fetch it again):
#   qemu-11/qemu-system-x86_64   the wrapper to run: trixie's ld-linux with the unpacked libraries
#   qemu-11/root/                the unpacked packages (usr/bin, usr/lib/x86_64-linux-gnu, usr/share/qemu, ...)
#   qemu-11/version              the first line of its --version
#   qemu-11/apt.log              what the private apt-get printed
#   qemu-11/.complete            written last; its presence makes `qemu11` a no-op
#
# 3D guest cache layout (read by the e2e tests' Guest3d):
#   guest3d/root/       every downloaded package unpacked (headers and link libraries for the clients)
#   guest3d/image/      what the guest gets, hard links into root/: ld-linux, the ldd closure of Mesa's
#                       EGL/GBM/GLES libraries, the virtio_gpu (and swrast) DRI driver and kmscube, glvnd's
#                       50_mesa.json
#   guest3d/packages    NAME=VERSION of every package downloaded, one a line
#   guest3d/.complete   written last, holds the key of the pinned versions; a different key fetches again

jvhost_setup__die() { echo "setup: $*" >&2; exit 1; }
jvhost_setup__say() { echo "setup: $*" >&2; }
jvhost_setup__cache() { echo "${JVHOST_CACHE:-$HOME/.cache/jvhost}"; }

# Runs apt-get (as root only) with quiet, non-interactive settings; returns its status (for a first try that
# falls back to 'apt-get update' and a second one).
jvhost_setup__apt_try() {
    command -v apt-get >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get is not available; install the missing packages by hand: $*"
    [[ $(id -u) -eq 0 ]] \
        || jvhost_setup__die "need root to run 'apt-get $*'; run it with sudo, or run this script as root"
    DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 "$@" >/tmp/jvhost-apt.log 2>&1
}

# Runs apt-get as jvhost_setup__apt_try does, and stops the set-up step if it fails.
jvhost_setup__apt() {
    jvhost_setup__apt_try "$@" || jvhost_setup__die "'apt-get $*' failed; see /tmp/jvhost-apt.log"
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

# Prints "URIS<TAB>SIGNED-BY" of the system's Debian entry that has the suite $1 (default "bookworm").
# SIGNED-BY may be empty, or (for an inline key in deb822) several lines joined with \n escapes.
jvhost_setup__bookworm_source() {
    local f suite=${1:-bookworm}
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v suite="$suite" '
            function flush() {
                if ((" " suites " ") ~ ("[ \t]" suite "[ \t]") && uris != "" && !found && enabled) {
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
        awk -v want="$suite" '
            $1 != "deb" { next }
            {
                opts = ""; i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
                uri = $i; suite = $(i + 1)
                if (suite != want) next
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
    local -A need=([cpio]=cpio [depmod]=kmod [modprobe]=kmod [gzip]=gzip [xz]=xz-utils [dpkg-deb]=dpkg [sha256sum]=coreutils [gcc]=gcc [man]=man-db [zsh]=zsh)
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
    jvhost_setup__apt_try install -y --no-install-recommends "${missing[@]}" \
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

# virglrenderer and Mesa's EGL with its software rasteriser (llvmpipe): what the GPU's 3D mode loads at run time
# (io.jvhost.virgl) and what its tests render with, surfaceless, on a machine without a GPU. Installed only when
# missing. Mesa's packages require one another at one version, and QEMU 10 from bookworm-backports pulls Mesa's
# libgbm1 from there, so they are taken from bookworm-backports when it is configured.
jvhost_setup_virgl() (
    set -euo pipefail
    local pkgs=(libvirglrenderer1 libegl1 libegl-mesa0 libgl1-mesa-dri) pkg missing=() target=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        ldconfig -p 2>/dev/null | grep -q 'libvirglrenderer\.so\.1 ' && ldconfig -p | grep -q 'libEGL_mesa\.so\.0 ' \
            && exit 0
        jvhost_setup__die "libvirglrenderer.so.1 or Mesa's libEGL_mesa.so.0 is missing; install virglrenderer and Mesa's EGL (the GPU's 3D mode and its tests need them)"
    fi
    for pkg in "${pkgs[@]}"; do
        [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && exit 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        jvhost_setup__die "missing packages for 3D (virglrenderer on Mesa's llvmpipe): ${missing[*]}; install them (as root: apt-get install -y ${missing[*]})"
    fi
    if grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        target=(-t bookworm-backports)
    fi
    jvhost_setup__say "installing ${missing[*]} (virglrenderer and Mesa's EGL/llvmpipe, for 3D)"
    jvhost_setup__apt update
    jvhost_setup__apt install -y --no-install-recommends ${target[@]+"${target[@]}"} "${missing[@]}"
)

# The 3D guest's Mesa: Debian 12's own (bookworm, not bookworm-backports, whose Mesa 25 the host may have), pinned.
# Its libraries' closure is downloaded too (from bookworm, never the host's versions), so the guest image does not
# depend on what the host has installed. Changing a pin changes the key and fetches everything again.
JVHOST_GUEST3D_PINS=(
    libgl1-mesa-dri=22.3.6-1+deb12u2 libegl-mesa0=22.3.6-1+deb12u2 libgbm1=22.3.6-1+deb12u2
    libglapi-mesa=22.3.6-1+deb12u2 libdrm2=2.4.114-1+b1 libegl1=1.6.0-1 libgles2=1.6.0-1 libglvnd0=1.6.0-1
    kmscube=0.0.0~git20210103-1
)
# Headers and link libraries of the guest clients (gl3d.c, kms3d.c), unpacked only: installing libdrm-dev or
# libgbm-dev on a host with backports' Mesa would downgrade or replace its libraries.
JVHOST_GUEST3D_HEADERS=(
    libgbm-dev=22.3.6-1+deb12u2 libdrm-dev=2.4.114-1+b1 libegl-dev=1.6.0-1 libgles-dev=1.6.0-1 libgl-dev=1.6.0-1
)
# What the guest image is the ldd closure of (paths in the unpacked tree).
JVHOST_GUEST3D_ROOTS=(
    usr/lib/x86_64-linux-gnu/libEGL.so.1 usr/lib/x86_64-linux-gnu/libGLESv2.so.2
    usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0 usr/lib/x86_64-linux-gnu/libgbm.so.1
    usr/lib/x86_64-linux-gnu/libglapi.so.0 usr/lib/x86_64-linux-gnu/libdrm.so.2
    usr/lib/x86_64-linux-gnu/dri/virtio_gpu_dri.so usr/lib/x86_64-linux-gnu/dri/swrast_dri.so
    usr/lib/x86_64-linux-gnu/dri/kms_swrast_dri.so usr/bin/kmscube
)
# Files the guest needs that no ELF names: the program interpreter's path and glvnd's EGL vendor file.
JVHOST_GUEST3D_FILES=(lib64/ld-linux-x86-64.so.2 usr/share/glvnd/egl_vendor.d/50_mesa.json)

# For each PKG, prints "PKG=VERSION" with the highest version apt knows from a Debian 12 suite (bookworm,
# bookworm-updates, bookworm-security; never bookworm-backports); PKGs it knows none for are left out.
jvhost_setup__bookworm_versions() {
    [[ $# -gt 0 ]] || return 0
    apt-cache madison "$@" 2>/dev/null | awk -F'|' '
        { gsub(/[ \t]/, "", $1); gsub(/[ \t]/, "", $2) }
        $3 ~ /[ \t]bookworm(-updates|-security)?\/[a-z-]+[ \t]+(amd64|all)[ \t]+Packages/ { print $1, $2 }' \
    | {
        local -A best=()
        local p v
        while read -r p v; do
            if [[ -z ${best[$p]:-} ]] || dpkg --compare-versions "$v" gt "${best[$p]}"; then best[$p]=$v; fi
        done
        for p in "${!best[@]}"; do echo "$p=${best[$p]}"; done
    }
}

# Prints "PKG=VERSION" for the pins PKG=VERSION: the pinned version where apt has it, else (a Debian point
# release replaced it on the mirror) the newest Debian 12 one, with a note.
jvhost_setup__guest3d_resolve() {
    local avail best pin name v
    avail=$(apt-cache madison "${@%%=*}" 2>/dev/null | awk -F'|' '{ gsub(/[ \t]/, "", $1); gsub(/[ \t]/, "", $2); print $1 "=" $2 }')
    best=$(jvhost_setup__bookworm_versions "${@%%=*}")
    for pin in "$@"; do
        if grep -qxF -- "$pin" <<< "$avail"; then echo "$pin"; continue; fi
        name=${pin%%=*}
        v=$(awk -F= -v n="$name" '$1 == n { print; exit }' <<< "$best")
        [[ -n $v ]] || jvhost_setup__die "apt knows no Debian 12 (bookworm) version of $name; Debian 12's suites must be in apt's sources (then run 'apt-get update')"
        jvhost_setup__say "note: $pin is no longer on the mirror; using Debian 12's ${v#*=}"
        echo "$v"
    done
}

# Prints PKG=VERSION for the packages PKG=VERSION... and the library packages they depend on, recursively, with
# Debian 12's versions. Only lib* and zlib1g are kept: tools, -dev, -common and -data packages put no shared
# object into a process (ldd checks the result).
jvhost_setup__guest3d_closure() {
    local deps names
    deps=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances "$@" 2>/dev/null | awk '/^[^ <]/ { print $1 }' | grep -E '^(lib|zlib1g)' \
        | grep -vE -- '-(dev|bin|common|data)$' | LC_ALL=C sort -u) || true
    names=$(grep -vxF -f <(printf '%s\n' "${@%%=*}") <<< "$deps" || true)
    # shellcheck disable=SC2086 # one name a word
    deps=$(jvhost_setup__bookworm_versions $names)
    names=$(grep -vxF -f <(cut -d= -f1 <<< "$deps") <<< "$names" || true)
    [[ -z $names ]] || jvhost_setup__die "apt knows no Debian 12 (bookworm) version of $(echo $names) (needed by Debian 12's Mesa)"
    printf '%s\n' "$@" $deps | LC_ALL=C sort -u
}

# Prints, relative to ROOT, every file the ELF files ROOT/REL... load (ldd through ROOT's own loader, ROOT's
# library folders only, host cache ignored) and the symlinks on the way to each. A library that resolves outside
# ROOT is printed as "HOST /path"; one that is not found as "MISSING name".
jvhost_setup__guest3d_ldd() {
    local root=$1 rel
    shift
    local loader=$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    local path=$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu
    [[ -x $loader ]] || jvhost_setup__die "Debian 12's libc6 unpacked into $root has no $loader"
    for rel in "$@"; do
        [[ -e $root/$rel ]] || jvhost_setup__die "the unpacked Mesa has no $rel"
        echo "$root/$rel"
        "$loader" --inhibit-cache --library-path "$path" --list "$root/$rel" \
            || jvhost_setup__die "'ld.so --list $root/$rel' failed"
    done | awk -v root="$root/" '
        $2 == "=>" && $3 == "not" { print "MISSING", $1; next }
        $2 == "=>" { p = $3 }
        $2 != "=>" { p = $1 }
        p !~ /^\// { next }
        index(p, root) == 1 { print substr(p, length(root) + 1); next }
        { print "HOST", p }' | LC_ALL=C sort -u
}

jvhost_setup_guest3d() (
    set -euo pipefail
    local g key tmp specs headers all closure rel target round owner extra
    g=$(jvhost_setup__cache)/guest3d
    key=$( { printf '%s\n' "${JVHOST_GUEST3D_PINS[@]}" "${JVHOST_GUEST3D_HEADERS[@]}" "${JVHOST_GUEST3D_ROOTS[@]}" \
        "${JVHOST_GUEST3D_FILES[@]}"; echo "layout 2"; } | sha256sum | cut -c1-16)
    if [[ -f $g/.complete && $(<"$g/.complete") == "$key" && -d $g/image && -d $g/root ]]; then
        exit 0
    fi
    jvhost_setup_tools
    { command -v apt-get && command -v apt-cache && command -v dpkg; } >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get is not available, so Debian 12's Mesa cannot be fetched for the 3D guest"
    PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$g"
    tmp=$(mktemp -d "$g/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/debs" "$tmp/root" "$tmp/image"
    chmod 755 "$tmp" "$tmp/debs"    # apt's _apt user downloads into it

    if [[ -z $(jvhost_setup__bookworm_versions kmscube) && $(id -u) -eq 0 ]]; then
        jvhost_setup__apt update
    fi
    specs=$(jvhost_setup__guest3d_resolve "${JVHOST_GUEST3D_PINS[@]}")
    headers=$(jvhost_setup__guest3d_resolve "${JVHOST_GUEST3D_HEADERS[@]}")
    # shellcheck disable=SC2086 # one PKG=VERSION a word
    all=$(jvhost_setup__guest3d_closure $specs)
    jvhost_setup__say "downloading $(printf '%s\n%s\n' "$all" "$headers" | wc -l) packages for the 3D guest: Debian 12's Mesa $(awk -F= '$1 == "libgl1-mesa-dri" { print $2 }' <<< "$all"), kmscube, their libraries, headers"
    # shellcheck disable=SC2086
    (cd "$tmp/debs" && jvhost_setup__download $all $headers)
    for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done

    # The image is the ldd closure; a library found only on the host names the package still missing.
    for round in 1 2 3 4 5; do
        closure=$(jvhost_setup__guest3d_ldd "$tmp/root" "${JVHOST_GUEST3D_ROOTS[@]}")
        if grep -q '^MISSING ' <<< "$closure"; then
            jvhost_setup__die "libraries of Debian 12's Mesa not found: $(awk '$1 == "MISSING" { printf "%s ", $2 }' <<< "$closure")"
        fi
        extra=$(awk '$1 == "HOST" { print $2 }' <<< "$closure")
        [[ -z $extra ]] && break
        [[ $round -lt 5 ]] || jvhost_setup__die "the closure of Debian 12's Mesa still takes $extra from the host"
        owner=$(dpkg -S $extra 2>/dev/null | awk -F: '{ print $1 }' | sort -u | tr '\n' ' ')
        [[ -n $owner ]] || jvhost_setup__die "Debian 12's Mesa loads $extra from the host, and no package owns it"
        # shellcheck disable=SC2086
        extra=$(jvhost_setup__bookworm_versions $owner)
        jvhost_setup__say "adding $extra to the 3D guest (found by ldd)"
        all=$(printf '%s\n%s\n' "$all" "$extra" | LC_ALL=C sort -u)
        # shellcheck disable=SC2086
        (cd "$tmp/debs" && jvhost_setup__download $extra)
        for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    done

    # Hard links into root/, with every symlink on the way (absolute ones are resolved inside root/).
    for rel in $(grep -v '^HOST ' <<< "$closure") "${JVHOST_GUEST3D_FILES[@]}"; do
        while true; do
            [[ -e $tmp/root/$rel || -L $tmp/root/$rel ]] || jvhost_setup__die "the unpacked Mesa has no $rel"
            (cd "$tmp/root" && cp -al --parents "$rel" "$tmp/image/")
            [[ -L $tmp/root/$rel ]] || break
            target=$(readlink "$tmp/root/$rel")
            [[ $target == /* ]] || target=/$(dirname "$rel")/$target
            rel=$(realpath -m -s --relative-to=/ "$target")
        done
    done

    rm -rf "$g/root" "$g/image" "$g/packages" "$g/.complete"
    mv "$tmp/root" "$g/root"
    mv "$tmp/image" "$g/image"
    printf '%s\n%s\n' "$all" "$headers" > "$g/packages"
    echo "$key" > "$g/.complete"
    jvhost_setup__say "Debian 12's Mesa for the 3D guest is in $g ($(du -sh "$g/image" | cut -f1) for the guest)"
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
    jvhost_setup__apt_try install -y chromium \
        || { jvhost_setup__apt update; jvhost_setup__apt install -y chromium; }
    [[ -x /usr/bin/chromium ]] || jvhost_setup__die "installed chromium but /usr/bin/chromium is missing; see /tmp/jvhost-apt.log"
)

# ---- QEMU 11.1, unpacked (step qemu11) ----------------------------------------------------------------------
# QEMU 10 cannot create a generic vhost-user device (console, can, media, ... need one); trixie-backports' QEMU 11.1
# has vhost-user-test-device-pci. It is not installable on bookworm, so its packages and their trixie libraries are
# downloaded with a private apt (an empty dpkg status: nothing of the system's is assumed installed) and unpacked;
# a wrapper runs it through trixie's own dynamic loader.

# Prints a deb822 entry: $1 the "URIS<TAB>SIGNED-BY" of jvhost_setup__bookworm_source, $2 the suites.
jvhost_setup__deb822_entry() {
    local uris=${1%%$'\t'*} signed=${1#*$'\t'}
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uris" "$2"
    if [[ -n $signed ]]; then printf 'Signed-By: %b\n' "$signed"; fi
}

# Writes the private apt set-up into $1 (config $1/apt.conf) for trixie with the system's bookworm mirror and key
# (and bookworm-security's for trixie-security, when the system has that entry).
jvhost_setup__trixie_apt() {
    local work=$1 main sec
    main=$(jvhost_setup__bookworm_source bookworm) \
        || jvhost_setup__die "no Debian 'bookworm' entry in /etc/apt/sources.list(.d), so the mirror for trixie is unknown; QEMU 11.1 cannot be fetched"
    sec=$(jvhost_setup__bookworm_source bookworm-security) || sec=""
    mkdir -p "$work"/{lists/partial,archives/partial,sources.list.d,preferences.d}
    : > "$work/status"
    {
        echo "# Written by jvhost scripts/setup.sh qemu11: the mirrors and keys of the system's bookworm entries."
        jvhost_setup__deb822_entry "$main" "trixie trixie-updates trixie-backports"
        if [[ -n $sec ]]; then
            echo
            jvhost_setup__deb822_entry "$sec" "trixie-security"
        fi
    } > "$work/sources.list.d/trixie.sources"
    # Read after the system's apt.conf.d, so the machine's network settings stay and these win.
    cat > "$work/apt.conf" <<CONF
Dir::State "$work";
Dir::State::Lists "$work/lists";
Dir::State::status "$work/status";
Dir::State::extended_states "$work/extended_states";
Dir::Cache "$work";
Dir::Cache::archives "$work/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc::SourceList "$work/sources.list";
Dir::Etc::SourceParts "$work/sources.list.d";
Dir::Etc::Preferences "$work/preferences";
Dir::Etc::PreferencesParts "$work/preferences.d";
#clear APT::Architectures;
APT::Architectures { "amd64"; };
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Post-Invoke;
CONF
}

jvhost_setup_qemu11() (
    set -euo pipefail
    local q tmp log deb version
    q=$(jvhost_setup__cache)/qemu-11
    if [[ -f $q/.complete && -x $q/qemu-system-x86_64 && -x $q/root/usr/bin/qemu-system-x86_64 ]]; then
        exit 0
    fi
    { command -v apt-get && command -v dpkg-deb; } >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get and dpkg-deb are needed to fetch QEMU 11.1 from trixie-backports; without it the tests that need QEMU 11.1 are skipped"
    mkdir -p "$q"
    tmp=$(mktemp -d "$q/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    log=$q/apt.log
    jvhost_setup__trixie_apt "$tmp/apt"
    jvhost_setup__say "downloading QEMU 11.1 (qemu-system-x86 from trixie-backports, about 40 MB) into $q"
    apt-get -c "$tmp/apt/apt.conf" -q update >"$log" 2>&1 \
        || jvhost_setup__die "'apt-get update' of the trixie suites (a private apt, nothing of the system's) failed; see $log"
    apt-get -c "$tmp/apt/apt.conf" -q -t trixie-backports install --download-only --no-install-recommends -y \
        qemu-system-x86 >>"$log" 2>&1 \
        || jvhost_setup__die "downloading qemu-system-x86 from trixie-backports failed; see $log"
    mkdir -p "$tmp/root"
    for deb in "$tmp"/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$tmp/root" || jvhost_setup__die "cannot unpack $(basename "$deb")"
    done
    [[ -x $tmp/root/usr/bin/qemu-system-x86_64 && -e $tmp/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ]] \
        || jvhost_setup__die "the downloaded packages have no usr/bin/qemu-system-x86_64 or trixie's ld-linux-x86-64.so.2; see $log"

    # The wrapper finds the unpacked root beside itself. QEMU_MODULE_DIR keeps it from loading the system's QEMU 10
    # modules (it aborts on those); -L points it at its own firmware, since through the loader it cannot find it.
    cat > "$tmp/qemu-system-x86_64" <<'WRAPPER'
#!/bin/sh
# QEMU 11.1 from trixie-backports, unpacked by jvhost's scripts/setup.sh qemu11, run by trixie's own loader.
root=$(dirname "$(readlink -f "$0")")/root
lib=$root/usr/lib/x86_64-linux-gnu
QEMU_MODULE_DIR=$lib/qemu
export QEMU_MODULE_DIR
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$root/usr/bin/qemu-system-x86_64" \
    -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" "$@"
WRAPPER
    chmod 755 "$tmp/qemu-system-x86_64"
    version=$("$tmp/qemu-system-x86_64" --version 2>&1 | head -n1) \
        || jvhost_setup__die "the unpacked QEMU 11.1 does not start: $version"
    [[ $version =~ version\ (1[1-9]|[2-9][0-9])\. ]] \
        || jvhost_setup__die "the unpacked QEMU reports '$version', expected version 11 or newer"

    rm -rf "$q/root" "$q/qemu-system-x86_64" "$q/version" "$q/.complete"
    mv "$tmp/root" "$q/root"
    mv "$tmp/qemu-system-x86_64" "$q/qemu-system-x86_64"
    echo "$version" > "$q/version"
    touch "$q/.complete"
    jvhost_setup__say "$version is unpacked in $q (run it as $q/qemu-system-x86_64)"
)

# ---- The 6.12 guest kernel (step guest612) --------------------------------------------------------------------
# Devices whose guest drivers 6.1 lacks (virtio-snd) or that out-of-tree drivers are built against need 6.12:
# bookworm-security's linux-image-6.12-amd64, else bookworm-backports' 6.12. Same layout as the `guest` folder
# (kernel-version, vmlinuz, root/, busybox, .complete), so scripts/build-initramfs.sh reads either.

# Prints the versioned 6.12 image package apt knows (e.g. linux-image-6.12.118+deb12-amd64), or nothing.
jvhost_setup__kernel612_package() {
    local bpo
    apt-cache depends linux-image-6.12-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.12\.[0-9]/ {print $2; exit}' | grep . && return 0
    bpo=$(apt-cache madison linux-image-amd64 2>/dev/null | awk -F'|' '$2 ~ /^ *6\.12\./ {gsub(/ /, "", $2); print $2; exit}')
    [[ -n $bpo ]] && apt-cache depends "linux-image-amd64=$bpo" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.12\.[0-9]/ {print $2; exit}' | grep .
}

jvhost_setup_guest612() (
    set -euo pipefail
    local g tmp pkg kver deb
    g=$(jvhost_setup__cache)/guest-6.12
    if [[ -f $g/.complete && -f $g/vmlinuz && -x $g/busybox && -s $g/kernel-version ]]; then
        exit 0
    fi
    jvhost_setup_tools
    { command -v apt-get && command -v apt-cache; } >/dev/null 2>&1 \
        || jvhost_setup__die "apt-get is not available, so the 6.12 guest kernel cannot be fetched; put a 6.12 kernel and busybox into $g by hand (the layout of the guest folder, see the header of scripts/setup.sh)"
    PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$g"
    tmp=$(mktemp -d "$g/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT

    pkg=$(jvhost_setup__kernel612_package) || pkg=""
    if [[ -z $pkg && $(id -u) -eq 0 ]]; then
        jvhost_setup__apt update
        pkg=$(jvhost_setup__kernel612_package) || pkg=""
    fi
    [[ -n $pkg ]] \
        || jvhost_setup__die "apt knows no 6.12 kernel (linux-image-6.12-amd64 of bookworm-security, or linux-image-amd64 6.12 of bookworm-backports); add bookworm-security to apt's sources, run 'apt-get update' as root and try again"
    jvhost_setup__say "downloading the 6.12 guest kernel $pkg (about 110 MB) and busybox-static"
    (cd "$tmp" && jvhost_setup__download "$pkg" busybox-static)

    mkdir -p "$tmp/root" "$tmp/bb"
    for deb in "$tmp"/linux-image-*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    for deb in "$tmp"/busybox-static_*.deb; do dpkg-deb -x "$deb" "$tmp/bb"; done
    if [[ ! -d $tmp/root/lib/modules && -d $tmp/root/usr/lib/modules ]]; then
        ln -s usr/lib "$tmp/root/lib"
    fi
    kver=$(find "$tmp/root/lib/modules/" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -n1)
    [[ $kver == 6.12.* && -f $tmp/root/boot/vmlinuz-$kver ]] \
        || jvhost_setup__die "the package $pkg has no boot/vmlinuz-6.12.<version> and lib/modules/6.12.<version>; cannot use it as the 6.12 guest kernel"
    # 6.12's modules are .ko.xz: depmod and modprobe read them, scripts/build-initramfs.sh decompresses them.
    depmod -b "$tmp/root" "$kver" \
        || jvhost_setup__die "depmod failed on the unpacked kernel modules of $pkg"
    [[ -x $tmp/bb/bin/busybox ]] || jvhost_setup__die "busybox-static has no bin/busybox"

    rm -rf "$g/root" "$g/vmlinuz" "$g/busybox" "$g/kernel-version" "$g/.complete"
    mv "$tmp/root" "$g/root"
    ln -s "root/boot/vmlinuz-$kver" "$g/vmlinuz"
    mv "$tmp/bb/bin/busybox" "$g/busybox"
    echo "$kver" > "$g/kernel-version"
    touch "$g/.complete"
    jvhost_setup__say "6.12 guest kernel $kver and busybox are in $g"
)

# /dev/uinput for the evdev passthrough test: loads the module when the kernel has it and the node is missing.
# A kernel without uinput (built in or as a module) is not a failure: the test then says so and is skipped.
jvhost_setup_uinput() (
    set -uo pipefail
    [[ -e /dev/uinput ]] && exit 0
    if grep -qw uinput /proc/misc 2>/dev/null; then
        if [[ $(id -u) -eq 0 ]]; then
            mknod -m 0660 /dev/uinput c 10 "$(awk '$2 == "uinput" { print $1 }' /proc/misc)" \
                || jvhost_setup__say "uinput is built in but /dev/uinput could not be made"
        fi
    elif [[ -d /lib/modules/$(uname -r) ]] && find "/lib/modules/$(uname -r)" -name 'uinput.ko*' | grep -q .; then
        if [[ $(id -u) -eq 0 ]]; then
            PATH=$PATH:/usr/sbin:/sbin modprobe uinput || jvhost_setup__say "modprobe uinput failed"
        else
            jvhost_setup__say "the kernel has a uinput module: load it as root (modprobe uinput) for the passthrough test"
        fi
    fi
    exit 0
)

# ---- Out-of-tree guest drivers for the 6.12 guest (step guestmods) ----------------------------------------------
# Debian builds none of the virtio i2c, gpio and rtc guest drivers. They build out of tree in seconds against the
# 6.12 guest's own headers (unpacked, not installed) and load unsigned: i2c-virtio and gpio-virtio from
# bookworm-security's linux-source-6.12, virtio_rtc, spi-virtio and virtio_can from trixie-backports' linux-source-7.3
# (through the same private apt as qemu11) with one backport each; spi-virtio also gets jvhost's test hook (below).
# Output: guest-modules-6.12/{i2c-virtio,gpio-virtio,virtio_rtc,spi-virtio,virtio_can}.ko, kernel-version, modules
# (the list built), scmi-src/ (the SCMI virtio transport, scmi-hwmon and scmi_iio sources the arm64 step cross-builds),
# build.log, .complete. About 300 MB downloaded once (the two source tarballs); only the driver files are unpacked.
jvhost_setup_guestmods() (
    set -euo pipefail
    local m g kver ver tmp log hdr src deb
    jvhost_setup_guest612
    g=$(jvhost_setup__cache)/guest-6.12
    kver=$(cat "$g/kernel-version")
    m=$(jvhost_setup__cache)/guest-modules-6.12
    # The modules this step builds: a cache built by an older script, with fewer of them, is built again.
    local mods="i2c-virtio gpio-virtio virtio_rtc spi-virtio virtio_can"
    if [[ -f $m/.complete && $(cat "$m/kernel-version" 2>/dev/null) == "$kver" \
        && $(cat "$m/modules" 2>/dev/null) == "$mods" \
        && -f $m/scmi-src/arm_scmi/transports/virtio.c && -f $m/scmi-src/scmi-hwmon.c \
        && -f $m/scmi-src/scmi_iio.c ]]; then
        exit 0
    fi
    local tool
    for tool in gcc make tar xz dpkg-deb apt-get; do
        command -v "$tool" >/dev/null 2>&1 \
            || jvhost_setup__die "$tool is needed to build the guest's i2c, gpio and rtc drivers; without them those guest tests are skipped"
    done
    mkdir -p "$m"
    tmp=$(mktemp -d "$m/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    log=$m/build.log
    : > "$log"
    ver=${kver%-amd64}
    jvhost_setup__say "downloading the $kver headers and linux-source-6.12 (about 150 MB) for the guest's i2c and gpio drivers"
    (cd "$tmp" && jvhost_setup__download "linux-headers-$kver" "linux-headers-$ver-common" "linux-kbuild-$ver" \
        linux-source-6.12)
    hdr=$tmp/hdr
    mkdir -p "$hdr" "$tmp/src"
    for deb in "$tmp"/linux-headers-*.deb "$tmp"/linux-kbuild-*.deb; do
        dpkg-deb -x "$deb" "$hdr" || jvhost_setup__die "cannot unpack $(basename "$deb")"
    done
    # The headers' one-line Makefile names /usr/src: point it at the unpacked tree.
    sed -i "s#include /usr/src/#include $hdr/usr/src/#" "$hdr/usr/src/linux-headers-$kver/Makefile"
    dpkg-deb -x "$tmp"/linux-source-6.12_*.deb "$tmp/src"
    mkdir -p "$tmp/i2cgpio"
    tar -xJf "$tmp"/src/usr/src/linux-source-6.12.tar.xz -C "$tmp/i2cgpio" --strip-components=3 --wildcards \
        '*/drivers/i2c/busses/i2c-virtio.c' '*/drivers/gpio/gpio-virtio.c' \
        '*/drivers/firmware/arm_scmi/*.h' '*/drivers/firmware/arm_scmi/transports/virtio.c' \
        '*/drivers/hwmon/scmi-hwmon.c' '*/drivers/iio/common/scmi_sensors/scmi_iio.c' >>"$log" 2>&1 \
        || jvhost_setup__die "linux-source-6.12 has no drivers/i2c/busses/i2c-virtio.c, drivers/gpio/gpio-virtio.c or the SCMI virtio transport and hwmon sources; see $log"
    # The arm64 guest's SCMI drivers (step arm64 cross-builds them): kept as sources, arm_scmi/, scmi-hwmon.c and
    # scmi_iio.c.
    mkdir -p "$tmp/scmi-src"
    mv "$tmp/i2cgpio/arm_scmi" "$tmp/i2cgpio/scmi-hwmon.c" "$tmp/i2cgpio/common/scmi_sensors/scmi_iio.c" \
        "$tmp/scmi-src/"
    mv "$tmp"/i2cgpio/*/i2c-virtio.c "$tmp"/i2cgpio/*/gpio-virtio.c "$tmp/i2cgpio/" 2>/dev/null || true
    find "$tmp/i2cgpio" -name '*.c' -exec mv -t "$tmp/i2cgpio" {} + 2>/dev/null || true
    printf 'obj-m += i2c-virtio.o\nobj-m += gpio-virtio.o\n' > "$tmp/i2cgpio/Kbuild"
    rm -rf "$tmp/src" "$tmp"/linux-source-6.12_*.deb

    jvhost_setup__say "downloading linux-source-7.3 from trixie-backports (about 150 MB) for the guest's virtio_rtc driver"
    jvhost_setup__trixie_apt "$tmp/apt"
    apt-get -c "$tmp/apt/apt.conf" -q update >>"$log" 2>&1 \
        || jvhost_setup__die "'apt-get update' of the trixie suites (a private apt) failed; see $log"
    apt-get -c "$tmp/apt/apt.conf" -q -t trixie-backports install --download-only --no-install-recommends -y \
        linux-source-7.3 >>"$log" 2>&1 \
        || jvhost_setup__die "downloading linux-source-7.3 from trixie-backports failed; see $log"
    mkdir -p "$tmp/src" "$tmp/rtc/include/uapi/linux" "$tmp/spi/include/linux" "$tmp/can/include/linux"
    dpkg-deb -x "$tmp"/apt/archives/linux-source-7.3_*.deb "$tmp/src"
    tar -xJf "$tmp"/src/usr/src/linux-source-7.3.tar.xz -C "$tmp/rtc" --wildcards \
        '*/drivers/virtio/virtio_rtc_driver.c' '*/drivers/virtio/virtio_rtc_class.c' \
        '*/drivers/virtio/virtio_rtc_internal.h' '*/include/uapi/linux/virtio_rtc.h' >>"$log" 2>&1 \
        || jvhost_setup__die "linux-source-7.3 lacks the virtio_rtc sources; see $log"
    find "$tmp/rtc" -path '*/drivers/virtio/*' -type f -exec mv -t "$tmp/rtc" {} +
    find "$tmp/rtc" -path '*/linux-source-7.3/include/uapi/linux/virtio_rtc.h' -exec mv -t "$tmp/rtc/include/uapi/linux" {} +
    tar -xJf "$tmp"/src/usr/src/linux-source-7.3.tar.xz -C "$tmp/spi" --wildcards \
        '*/drivers/spi/spi-virtio.c' '*/include/uapi/linux/virtio_spi.h' >>"$log" 2>&1 \
        || jvhost_setup__die "linux-source-7.3 lacks the spi-virtio sources; see $log"
    find "$tmp/spi" -path '*/drivers/spi/spi-virtio.c' -exec mv -t "$tmp/spi" {} +
    find "$tmp/spi" -path '*/linux-source-7.3/include/uapi/linux/virtio_spi.h' -exec mv -t "$tmp/spi/include/linux" {} +
    tar -xJf "$tmp"/src/usr/src/linux-source-7.3.tar.xz -C "$tmp/can" --wildcards \
        '*/drivers/net/can/virtio_can.c' '*/include/uapi/linux/virtio_can.h' >>"$log" 2>&1 \
        || jvhost_setup__die "linux-source-7.3 lacks the virtio_can sources; see $log"
    find "$tmp/can" -path '*/drivers/net/can/virtio_can.c' -exec mv -t "$tmp/can" {} +
    find "$tmp/can" -path '*/linux-source-7.3/include/uapi/linux/virtio_can.h' -exec mv -t "$tmp/can/include/linux" {} +
    rm -rf "$tmp/src" "$tmp/apt/archives"/*.deb "$tmp"/rtc/linux-source-7.3 "$tmp"/spi/linux-source-7.3 "$tmp"/can/linux-source-7.3
    # 6.12 has device_init_wakeup, not yet its devm_ form; the PTP part needs timekeeping newer than 6.12 (left out).
    sed -i 's/devm_device_init_wakeup(dev);/device_init_wakeup(dev, true);/' "$tmp/rtc/virtio_rtc_driver.c"
    printf 'obj-m += virtio_rtc.o\nvirtio_rtc-y := virtio_rtc_driver.o virtio_rtc_class.o\nccflags-y += -I$(src)/include -DCONFIG_VIRTIO_RTC_CLASS=1\n' \
        > "$tmp/rtc/Kbuild"
    # spi-virtio: 6.12 has no kzalloc_obj yet and no VIRTIO_ID_SPI. jvhost's test hook, module parameter test_spidev=1:
    # x86 has no DT or ACPI node to declare an SPI device, so after the controller registers, put a spidev (modalias
    # spi-petra, which spidev binds) on each of its chip selects: /dev/spidev<bus>.<cs> for the guest tests.
    sed -i 's/kzalloc_obj(\*spi_req)/kzalloc(sizeof(*spi_req), GFP_KERNEL)/' "$tmp/spi/spi-virtio.c"
    cat > "$tmp/spi/hook-param.c" <<'HOOK'
static bool test_spidev;
module_param(test_spidev, bool, 0444);
MODULE_PARM_DESC(test_spidev, "jvhost test hook: a spidev (modalias spi-petra) on every chip select");
HOOK
    cat > "$tmp/spi/hook-probe.c" <<'HOOK'
	if (test_spidev) {
		u16 cs;

		for (cs = 0; cs < ctrl->num_chipselect; cs++) {
			struct spi_board_info info = {
				.modalias = "spi-petra", .max_speed_hz = 1000000, .chip_select = cs,
			};

			if (!spi_new_device(ctrl, &info))
				dev_warn(&vdev->dev, "jvhost test hook: no spidev on chip select %u\n", cs);
		}
	}
HOOK
    sed -i -e "/^#include <linux\/virtio_spi.h>/r $tmp/spi/hook-param.c" \
        -e "/\"Cannot register controller\\\\n\");/r $tmp/spi/hook-probe.c" "$tmp/spi/spi-virtio.c"
    [[ $(grep -c 'test_spidev' "$tmp/spi/spi-virtio.c") -ge 4 ]] \
        || jvhost_setup__die "the spi-virtio test hook did not apply (has drivers/spi/spi-virtio.c changed?)"
    printf 'obj-m += spi-virtio.o\nccflags-y += -I$(src)/include -DVIRTIO_ID_SPI=45\n' > "$tmp/spi/Kbuild"

    # virtio_can: 6.12's can_priv keeps data_bittiming at its top level (7.3 moved it into can_priv.fd).
    sed -i 's/priv->can\.fd\.data_bittiming/priv->can.data_bittiming/' "$tmp/can/virtio_can.c"
    printf 'obj-m += virtio_can.o\nccflags-y += -I$(src)/include\n' > "$tmp/can/Kbuild"

    jvhost_setup__say "building i2c-virtio, gpio-virtio, virtio_rtc, spi-virtio and virtio_can for $kver"
    for src in i2cgpio rtc spi can; do
        make -C "$hdr/usr/src/linux-headers-$kver" M="$tmp/$src" CONFIG_DEBUG_INFO_BTF_MODULES= modules >>"$log" 2>&1 \
            || jvhost_setup__die "building the out-of-tree guest drivers in $src failed; see $log"
    done
    rm -rf "$m"/*.ko "$m/.complete" "$m/scmi-src"
    cp "$tmp/i2cgpio/i2c-virtio.ko" "$tmp/i2cgpio/gpio-virtio.ko" "$tmp/rtc/virtio_rtc.ko" "$tmp/spi/spi-virtio.ko" \
        "$tmp/can/virtio_can.ko" "$m/"
    mv "$tmp/scmi-src" "$m/scmi-src"
    echo "$kver" > "$m/kernel-version"
    echo "$mods" > "$m/modules"
    touch "$m/.complete"
    jvhost_setup__say "the guest's i2c-virtio.ko, gpio-virtio.ko, virtio_rtc.ko, spi-virtio.ko and virtio_can.ko are in $m"
)

# ---- The aarch64 guest for SCMI (step arm64) --------------------------------------------------------------------
# virtio-scmi is only meaningful on Arm: the guest's SCMI core binds through a device-tree node. This step installs
# qemu-system-arm (QEMU 10, bookworm-backports), device-tree-compiler and gcc-12-aarch64-linux-gnu, and stages the
# arm64 6.12 guest without installing it: a private apt (the system's bookworm mirrors and keys, architecture arm64,
# empty dpkg status) downloads linux-image-6.12-arm64's kernel, its headers and busybox-static, unpacked with
# dpkg-deb -x. Debian's arm64 6.12 has ARM_SCMI_PROTOCOL=y but not the virtio transport, scmi-hwmon or scmi_iio:
# they are cross-built out of tree from the sources step guestmods keeps (linux-source-6.12) against the unpacked
# arm64 headers and the amd64 linux-kbuild of the same version.
jvhost_setup__arm64_apt() {
    local work=$1 main sec
    main=$(jvhost_setup__bookworm_source bookworm) \
        || jvhost_setup__die "no Debian 'bookworm' entry in /etc/apt/sources.list(.d); the arm64 guest cannot be fetched"
    sec=$(jvhost_setup__bookworm_source bookworm-security) || sec=""
    jvhost_setup__trixie_apt "$work"
    {
        echo "# Written by jvhost scripts/setup.sh arm64: the mirrors and keys of the system's bookworm entries."
        jvhost_setup__deb822_entry "$main" "bookworm bookworm-updates"
        if [[ -n $sec ]]; then
            echo
            jvhost_setup__deb822_entry "$sec" "bookworm-security"
        fi
    } > "$work/sources.list.d/trixie.sources"
    sed -i 's/^APT::Architectures { "amd64"; };/APT::Architectures { "arm64"; };\nAPT::Architecture "arm64";/' \
        "$work/apt.conf"
}

jvhost_setup_arm64() (
    set -euo pipefail
    local a m tmp log kver ver pkg deb conf
    a=$(jvhost_setup__cache)/guest-arm64-6.12
    if ! command -v qemu-system-aarch64 >/dev/null 2>&1 || ! command -v dtc >/dev/null 2>&1 \
        || ! command -v aarch64-linux-gnu-gcc-12 >/dev/null 2>&1; then
        [[ $(id -u) -eq 0 ]] \
            || jvhost_setup__die "qemu-system-aarch64, dtc or aarch64-linux-gnu-gcc-12 is missing; run 'scripts/setup.sh arm64' as root (it installs qemu-system-arm from bookworm-backports, device-tree-compiler and gcc-12-aarch64-linux-gnu)"
        jvhost_setup__say "installing qemu-system-arm (bookworm-backports), device-tree-compiler and gcc-12-aarch64-linux-gnu"
        jvhost_setup__add_backports
        jvhost_setup__apt_try install -y --no-install-recommends -t bookworm-backports qemu-system-arm \
            || { jvhost_setup__apt update; jvhost_setup__apt install -y --no-install-recommends -t bookworm-backports qemu-system-arm; }
        jvhost_setup__apt install -y --no-install-recommends device-tree-compiler gcc-12-aarch64-linux-gnu
    fi
    if [[ -f $a/.complete && -f $a/vmlinuz && -f $a/busybox && -f $a/modules/scmi_transport_virtio.ko \
        && -f $a/modules/scmi-hwmon.ko && -f $a/modules/scmi_iio.ko ]]; then
        exit 0
    fi
    jvhost_setup_guestmods
    m=$(jvhost_setup__cache)/guest-modules-6.12
    mkdir -p "$a"
    tmp=$(mktemp -d "$a/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    log=$a/build.log
    : > "$log"
    jvhost_setup__arm64_apt "$tmp/apt"
    conf=$tmp/apt/apt.conf
    apt-get -c "$conf" -q update >>"$log" 2>&1 \
        || jvhost_setup__die "'apt-get update' of bookworm for arm64 (a private apt) failed; see $log"
    pkg=$(apt-cache -c "$conf" depends linux-image-6.12-arm64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.12\.[0-9]/ {print $2; exit}') || pkg=""
    [[ -n $pkg ]] || jvhost_setup__die "apt knows no linux-image-6.12-arm64 (bookworm-security); see $log"
    kver=${pkg#linux-image-}
    ver=${kver%-arm64}
    jvhost_setup__say "downloading the arm64 guest kernel $pkg, its headers and busybox-static (about 90 MB)"
    (cd "$tmp" && apt-get -c "$conf" -q download "$pkg" "linux-headers-$kver" "linux-headers-$ver-common" \
        busybox-static >>"$log" 2>&1) \
        || jvhost_setup__die "downloading $pkg, linux-headers-$kver and busybox-static for arm64 failed; see $log"
    (cd "$tmp" && jvhost_setup__download "linux-kbuild-$ver")
    mkdir -p "$tmp/root" "$tmp/bb" "$tmp/hdr"
    dpkg-deb -x "$tmp/${pkg}"_*.deb "$tmp/root"
    for deb in "$tmp"/busybox-static_*.deb; do dpkg-deb -x "$deb" "$tmp/bb"; done
    for deb in "$tmp"/linux-headers-*.deb "$tmp"/linux-kbuild-*.deb; do
        dpkg-deb -x "$deb" "$tmp/hdr" || jvhost_setup__die "cannot unpack $(basename "$deb")"
    done
    if [[ ! -d $tmp/root/lib/modules && -d $tmp/root/usr/lib/modules ]]; then
        ln -s usr/lib "$tmp/root/lib"
    fi
    [[ -f $tmp/root/boot/vmlinuz-$kver && -f $tmp/bb/bin/busybox ]] \
        || jvhost_setup__die "$pkg has no boot/vmlinuz-$kver, or busybox-static:arm64 no bin/busybox"
    PATH=$PATH:/usr/sbin:/sbin depmod -b "$tmp/root" "$kver" \
        || jvhost_setup__die "depmod failed on the unpacked arm64 kernel modules of $pkg"
    sed -i "s#include /usr/src/#include $tmp/hdr/usr/src/#" "$tmp/hdr/usr/src/linux-headers-$kver/Makefile"

    # virtio.c stays in transports/ (it includes "../common.h"); scmi-hwmon.c and scmi_iio.c build alone.
    mkdir -p "$tmp/scmi" "$tmp/hwmon"
    cp -r "$m/scmi-src/arm_scmi" "$tmp/scmi/"
    cp "$m/scmi-src/scmi-hwmon.c" "$m/scmi-src/scmi_iio.c" "$tmp/hwmon/"
    printf 'obj-m += scmi_transport_virtio.o\nscmi_transport_virtio-objs := virtio.o\nccflags-y += -DCONFIG_ARM_SCMI_TRANSPORT_VIRTIO_VERSION1_COMPLIANCE=1\n' \
        > "$tmp/scmi/arm_scmi/transports/Kbuild"
    printf 'obj-m += scmi-hwmon.o\nobj-m += scmi_iio.o\n' > "$tmp/hwmon/Kbuild"
    jvhost_setup__say "cross-building scmi_transport_virtio, scmi-hwmon and scmi_iio for $kver"
    local dir
    for dir in "$tmp/scmi/arm_scmi/transports" "$tmp/hwmon"; do
        make -C "$tmp/hdr/usr/src/linux-headers-$kver" M="$dir" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
            CC=aarch64-linux-gnu-gcc-12 CONFIG_DEBUG_INFO_BTF_MODULES= modules >>"$log" 2>&1 \
            || jvhost_setup__die "cross-building the SCMI guest drivers in $dir failed; see $log"
    done

    rm -rf "$a/root" "$a/vmlinuz" "$a/busybox" "$a/busybox-applets" "$a/modules" "$a/kernel-version" "$a/.complete"
    mkdir -p "$a/modules"
    cp "$tmp/scmi/arm_scmi/transports/scmi_transport_virtio.ko" "$tmp/hwmon/scmi-hwmon.ko" "$tmp/hwmon/scmi_iio.ko" \
        "$a/modules/"
    mv "$tmp/root" "$a/root"
    ln -s "root/boot/vmlinuz-$kver" "$a/vmlinuz"
    mv "$tmp/bb/bin/busybox" "$a/busybox"
    # The arm64 busybox cannot run here to list its applets: the amd64 one of the same release has the same list.
    "$(jvhost_setup__cache)/guest-6.12/busybox" --list-full > "$a/busybox-applets"
    echo "$kver" > "$a/kernel-version"
    touch "$a/.complete"
    jvhost_setup__say "the arm64 guest kernel $kver, busybox and the SCMI modules are in $a"
)

jvhost_setup_all() (
    set -euo pipefail
    jvhost_setup_jdk >/dev/null
    jvhost_setup_tools
    jvhost_setup_uinput
    jvhost_setup_qemu
    jvhost_setup_virgl
    jvhost_setup_guest
    jvhost_setup_guest3d
    jvhost_setup_chromium
    jvhost_setup_qemu11
    jvhost_setup_guest612
    jvhost_setup_guestmods
    jvhost_setup_arm64
)

jvhost_setup() {
    case "${1:-}" in
        jdk|qemu|guest|guest3d|tools|virgl|chromium|qemu11|guest612|guestmods|arm64|uinput|all) "jvhost_setup_$1" ;;
        -h|--help|help|'') sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" ;;
        *) echo "setup: unknown subcommand '$1' (use jdk, qemu, guest, guest3d, tools, virgl, chromium, qemu11, guest612, guestmods, arm64, uinput or all)" >&2; return 2 ;;
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
