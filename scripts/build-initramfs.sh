#!/usr/bin/env bash
# Builds a gzip'd newc initramfs for a jvhost test guest.
#
#   scripts/build-initramfs.sh [--add DIR]... [--gzip-level N] OUT.cpio.gz INIT_SCRIPT [MODULE...]
#
#   --add DIR         copy DIR's tree into the archive's root (symlinks and hard links kept; repeatable, later
#                     ones win); e.g. the 3D guest's Mesa from `scripts/setup.sh guest3d`
#   --gzip-level N    gzip level 1..9 (default 6; 1 for the 200 MB 3D guest: 3x faster, 5% larger)
#
# The archive holds:
#   /init                INIT_SCRIPT (use "#!/bin/sh" as its first line)
#   /bin/busybox         busybox-static, with a symlink for every applet (/bin/sh, /sbin/insmod, ...)
#   /lib/modules/*.ko    the MODULEs and everything they depend on (decompressed)
#   /modules.order       those .ko paths, one a line, in load order
#   /bin/load-modules    insmods every file in /modules.order, ignoring "File exists";
#                        prints the failures and exits 1 if any module failed
#   /dev/console, /dev/null, and empty /proc /sys /dev /tmp /run /root /etc /mnt
# A typical /init: mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev;
# /bin/load-modules; <test>; poweroff -f
#
# A guest folder with a busybox-applets file (the arm64 guest of `scripts/setup.sh arm64`, whose busybox cannot run
# here) has its applet list read from it instead of `busybox --list-full`.
# Names are resolved with modprobe --show-depends against the guest kernel from
# `scripts/setup.sh guest` ($JVHOST_GUEST_DIR, else ${JVHOST_CACHE:-$HOME/.cache/jvhost}/guest).
# Virtio drivers do not pull in their transport: list virtio_pci too for PCI devices.
# Results are cached by content hash (of the script, INIT_SCRIPT, busybox, the modules' names, the level and every
# file, link and mode under each DIR) in ${JVHOST_CACHE:-$HOME/.cache/jvhost}/initramfs.
set -euo pipefail

die() { echo "build-initramfs: $*" >&2; exit 1; }

usage="usage: build-initramfs.sh [--add DIR]... [--gzip-level N] OUT.cpio.gz INIT_SCRIPT [MODULE...]"
adds=() level=6
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        --add) [[ $# -ge 2 && -d $2 ]] || die "--add needs a folder (got '${2:-}')"; adds+=("$(cd "$2" && pwd)"); shift 2 ;;
        --gzip-level) [[ ${2:-} =~ ^[1-9]$ ]] || die "--gzip-level needs 1..9 (got '${2:-}')"; level=$2; shift 2 ;;
        *) die "unknown option '$1'; $usage" ;;
    esac
done
[[ $# -ge 2 ]] || die "$usage"
out=$1 init=$2
shift 2
[[ -f $init ]] || die "init script '$init' does not exist"

cache=${JVHOST_CACHE:-$HOME/.cache/jvhost}
guest=${JVHOST_GUEST_DIR:-$cache/guest}
[[ -s $guest/kernel-version && -x $guest/busybox && -d $guest/root ]] \
    || die "no guest kernel/busybox in $guest; run 'scripts/setup.sh guest' first"
kver=$(<"$guest/kernel-version")

# The content of an --add folder: every entry's path, type, link target and mode, then every file's hash.
tree_hash() {
    (cd "$1" && find . -printf '%p %y %l %m\n' | LC_ALL=C sort \
        && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}
hash=$( {
    for f in "${BASH_SOURCE[0]}" "$init" "$guest/busybox"; do sha256sum < "$f"; done   # contents, not names
    echo "$kver" "$@" "level $level"
    for dir in ${adds[@]+"${adds[@]}"}; do tree_hash "$dir"; done
} | sha256sum | cut -c1-32)
cached=$cache/initramfs/$hash.cpio.gz
if [[ ! -s $cached ]]; then
    PATH=$PATH:/usr/sbin:/sbin
    for tool in cpio gzip modprobe; do
        command -v "$tool" >/dev/null 2>&1 \
            || die "'$tool' is missing; run 'scripts/setup.sh tools' (or apt-get install cpio gzip kmod)"
    done
    mkdir -p "$cache/initramfs"
    stage=$(mktemp -d "$cache/initramfs/.stage.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    root=$stage/root
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,run,root,etc,mnt}

    cp "$guest/busybox" "$root/bin/busybox"
    while read -r applet; do
        [[ $applet == bin/busybox ]] && continue
        if [[ $applet == */* && ! -d $root/${applet%/*} ]]; then mkdir -p "$root/${applet%/*}"; fi
        ln -sf /bin/busybox "$root/$applet"
    done < <(if [[ -s $guest/busybox-applets ]]; then cat "$guest/busybox-applets"; else "$guest/busybox" --list-full; fi)
    cp "$init" "$root/init"
    chmod 755 "$root/init"
    for dir in ${adds[@]+"${adds[@]}"}; do
        cp -a "$dir/." "$root/"
    done

    # Resolve the modules and their dependencies in load order, without duplicates.
    declare -A seen=()
    : > "$root/modules.order"
    for mod in "$@"; do
        deps=$(modprobe -d "$guest/root" -S "$kver" --show-depends "$mod" 2>&1) \
            || die "module '$mod' not found for kernel $kver: $deps"
        while read -r kind path _; do
            [[ $kind == insmod ]] || continue   # "builtin NAME" needs nothing
            name=$(basename "$path")
            name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
            [[ -n ${seen[$name]:-} ]] && continue
            seen[$name]=1
            case $path in
                *.ko.xz)  xz -dc "$path" > "$root/lib/modules/$name" ;;
                *.ko.zst) zstd -qdc "$path" > "$root/lib/modules/$name" ;;
                *.ko.gz)  gzip -dc "$path" > "$root/lib/modules/$name" ;;
                *)        cp "$path" "$root/lib/modules/$name" ;;
            esac
            echo "/lib/modules/$name" >> "$root/modules.order"
        done <<< "$deps"
    done

    cat > "$root/bin/load-modules" <<'EOF'
#!/bin/sh
# Inserts every module listed in /modules.order, in order; "File exists" is not an error.
rc=0
while read -r ko; do
    [ -n "$ko" ] || continue
    if ! msg=$(insmod "$ko" 2>&1); then
        case "$msg" in
            *"File exists"*) ;;
            *) echo "load-modules: $ko: $msg" >&2; rc=1 ;;
        esac
    fi
done < /modules.order
exit $rc
EOF
    chmod 755 "$root/bin/load-modules"

    # Device nodes need root to mknod, so they go into a hand-written newc archive instead
    # (the kernel unpacks concatenated archives): c_magic then 13 eight-digit hex fields.
    newc_entry() { # name mode rdevmajor rdevminor
        local name=$1 namesize=$(( ${#1} + 1 ))
        printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
            "$ino" "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
        printf '%s\0' "$name"
        # pad header (110 bytes) + name to a multiple of 4
        printf '%*s' $(( (4 - (110 + namesize) % 4) % 4 )) '' | tr ' ' '\0'
        ino=$(( ino + 1 ))
    }
    ino=900001
    {
        newc_entry dev $(( 8#040755 )) 0 0
        newc_entry dev/console $(( 8#020600 )) 5 1
        newc_entry dev/null $(( 8#020666 )) 1 3
        newc_entry TRAILER!!! 0 0 0
    } > "$stage/nodes.cpio"

    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$stage/files.cpio"
    cat "$stage/nodes.cpio" "$stage/files.cpio" | gzip "-$level" -n > "$stage/out.cpio.gz"
    mv "$stage/out.cpio.gz" "$cached"
    # Forget images unused for two weeks (hits touch their file).
    find "$cache/initramfs" -maxdepth 1 -name '*.cpio.gz' -mtime +14 -delete 2>/dev/null || true
else
    touch "$cached"
fi

mkdir -p "$(dirname "$out")"
cp "$cached" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
