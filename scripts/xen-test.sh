#!/usr/bin/env bash
# scripts/xen-test.sh [stage|boot|stage-ioreq|virtio]: jvhost against real Xen, under TCG (issue 16). Not part of ./jvhost test.
#
#   stage  unpack, without installing anything, an arm64 Xen system into ${JVHOST_CACHE:-$HOME/.cache/jvhost}/xen-arm64:
#          trixie's xen-hypervisor-4.20-arm64, xen-utils-4.20, openjdk-25-jre-headless, busybox-static and
#          linux-image-arm64 (6.12: the dom0 and domU kernel, and its Xen modules privcmd, gntdev, gntalloc, evtchn,
#          xenfs) with their library closure (a private apt: the system's bookworm mirror and key with the trixie
#          suites, architecture arm64, empty dpkg status). About 230 MB once.
#   boot   (default; stages first when needed) pack dom0's initramfs (the unpacked system, busybox, the kernel's Xen
#          modules, a busybox domU) and boot Xen 4.20 under qemu-system-aarch64 -machine virt,virtualization=on
#          (TCG), dom0 from QEMU's -device loader described in /chosen of the DTB. dom0 starts xenstored,
#          xen-init-dom0 and xenconsoled, creates the domU with xl, waits for it, and prints XEN-TEST lines;
#          the script reports what it saw and exits 0 only when every expected line came.
#   stage-ioreq  rebuild Debian's Xen 4.17 (bookworm's source, apt-get source) with CONFIG_IOREQ_SERVER and stage
#          bookworm's xl 4.17 into ${JVHOST_CACHE}/xen-arm64-ioreq (once; about a minute of cross-compiling).
#   virtio stage, stage-ioreq, then boot that Xen: a domU's own virtio_mmio/virtio_rng drivers read /dev/hwrng through
#          jvhost xen-vhost-frontend (the Java IOREQ device model) and jvhost rng in dom0 (about 2.5 min of TCG).
#
# Needs qemu-system-aarch64 (QEMU 10, bookworm-backports' qemu-system-arm), fdtput (device-tree-compiler), apt-get,
# dpkg-deb, cpio and xz; aarch64-linux-gnu-gcc-12 for the grant part (the domU's granter, scripts/xen/granter.c).
# The Java proof (devices/rng's XenRngProof) is compiled first with the project's JDK.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
what=${1:-boot}
set --  # setup.sh runs a subcommand when sourced with arguments
# shellcheck source=setup.sh
source "$root/scripts/setup.sh"

cache=$(jvhost_setup__cache)
x=$cache/xen-arm64
packages="xen-hypervisor-4.20-arm64 xen-utils-4.20 xenstore-utils busybox-static openjdk-25-jre-headless linux-image-arm64"

die() { echo "xen-test: $*" >&2; exit 1; }
say() { echo "xen-test: $*" >&2; }

stage() {
    [[ -f $x/.complete && $(cat "$x/.complete") == "$packages" ]] && return 0
    command -v qemu-system-aarch64 >/dev/null && command -v fdtput >/dev/null \
        || die "qemu-system-aarch64 and fdtput are needed (apt-get install -t bookworm-backports qemu-system-arm; device-tree-compiler)"
    rm -rf "$x"
    mkdir -p "$x"
    local tmp=$x/apt log=$x/stage.log
    jvhost_setup__trixie_apt "$tmp"
    sed -i 's/^APT::Architectures { "amd64"; };/APT::Architectures { "arm64"; };\nAPT::Architecture "arm64";/' \
        "$tmp/apt.conf"
    say "downloading $packages for arm64 from trixie with their libraries (a private apt; about 230 MB)"
    apt-get -c "$tmp/apt.conf" -q update >"$log" 2>&1 || die "'apt-get update' (private, trixie arm64) failed; see $log"
    apt-get -c "$tmp/apt.conf" -q install --download-only --no-install-recommends -y $packages >>"$log" 2>&1 \
        || die "downloading $packages failed; see $log"
    mkdir -p "$x/root"
    for deb in "$tmp"/archives/*.deb; do
        dpkg-deb -x "$deb" "$x/root" || die "unpacking $deb failed"
    done
    ls "$tmp"/archives/*.deb | sed 's|.*/||' > "$x/packages"
    rm -rf "$tmp"
    [[ -f $x/root/boot/xen-4.20-arm64 ]] || die "xen-hypervisor-4.20-arm64 has no boot/xen-4.20-arm64; see $log"
    # The kernel: its Image and the Xen modules (decompressed) kept beside the system, the rest of its modules dropped.
    mv "$x/root/boot/xen-4.20-arm64" "$x/xen"
    mv "$(ls "$x"/root/boot/vmlinuz-* | head -1)" "$x/vmlinuz" || die "linux-image-arm64 has no boot/vmlinuz-*; see $log"
    mkdir -p "$x/mods"
    local m ko
    for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do
        ko=$(find "$x/root/usr/lib/modules" -name "$m.ko*" | head -1)
        [[ -n $ko ]] || die "the arm64 kernel has no $m module"
        case $ko in *.xz) xz -dc "$ko" > "$x/mods/$m.ko" ;; *) cp "$ko" "$x/mods/$m.ko" ;; esac
    done
    rm -rf "$x/root/usr/lib/modules" "$x/root/boot" "$x"/root/usr/lib/linux-image-*
    echo "$packages" > "$x/.complete"
    say "staged $(wc -l < "$x/packages") packages into $x"
}

# The IOREQ variant (issue 16, "beyond the anchors"): Debian's arm64 Xen has CONFIG_IOREQ_SERVER off, so a domU's
# virtio-mmio accesses cannot reach a device model in dom0. Debian's archive serves the source of bookworm's Xen 4.17
# (trixie's 4.20 source and bookworm-security's are not on the mirror: 404), so this rebuilds 4.17 with
# CONFIG_EXPERT=y and CONFIG_IOREQ_SERVER=y from Debian's own config (xen-hypervisor-4.17-arm64's boot/*.config),
# and stages bookworm's matching toolstack (xl 4.17 speaks the 4.17 hypervisor's domctl version; trixie's 4.20 does
# not). Into ${JVHOST_CACHE}/xen-arm64-ioreq: xen (the rebuilt Image), tools/ (xen-utils-4.17 and its library closure,
# copied into dom0 without overwriting trixie's files), xen.config. Needs flex, bison and aarch64-linux-gnu-gcc-12.
xi=$cache/xen-arm64-ioreq
ioreq_packages="xen-utils-4.17 xenstore-utils xen-hypervisor-4.17-arm64"
ioreq_stamp="source xen/bookworm + CONFIG_EXPERT CONFIG_IOREQ_SERVER; $ioreq_packages"

stage_ioreq() {
    [[ -f $xi/.complete && $(cat "$xi/.complete") == "$ioreq_stamp" ]] && return 0
    local t
    if ! command -v flex >/dev/null || ! command -v bison >/dev/null || ! command -v dpkg-source >/dev/null \
        || ! command -v make >/dev/null; then
        say "installing flex, bison, dpkg-dev and make (Xen's Kconfig and its Debian source need them)"
        jvhost_setup__apt install -y --no-install-recommends flex bison dpkg-dev make
    fi
    for t in aarch64-linux-gnu-gcc-12 flex bison dpkg-source make; do
        command -v "$t" >/dev/null || die "$t is needed to rebuild Xen (apt-get install gcc-12-aarch64-linux-gnu flex bison dpkg-dev make)"
    done
    rm -rf "$xi"
    mkdir -p "$xi/src" "$xi/tools" "$xi/hv"
    local tmp=$xi/apt log=$xi/stage.log
    # setup.sh's private bookworm arm64 apt (the system's own mirrors and keys), with source entries.
    jvhost_setup__arm64_apt "$tmp"
    sed -i 's/^Types: deb$/Types: deb deb-src/' "$tmp/sources.list.d/trixie.sources"
    say "downloading Debian's Xen 4.17 source (bookworm) and $ioreq_packages for arm64"
    apt-get -c "$tmp/apt.conf" -q update >"$log" 2>&1 || die "'apt-get update' (private, bookworm arm64 + source) failed; see $log"
    (cd "$xi/src" && apt-get -c "$tmp/apt.conf" -q source --download-only xen/bookworm) >>"$log" 2>&1 \
        || die "'apt-get source xen/bookworm' failed; see $log"
    (cd "$xi/src" && dpkg-source -x ./*.dsc xen) >>"$log" 2>&1 || die "dpkg-source -x of Xen's source failed; see $log"
    apt-get -c "$tmp/apt.conf" -q install --download-only --no-install-recommends -y $ioreq_packages >>"$log" 2>&1 \
        || die "downloading $ioreq_packages failed; see $log"
    local deb
    for deb in "$tmp"/archives/*.deb; do
        case ${deb##*/} in
            xen-hypervisor-*) dpkg-deb -x "$deb" "$xi/hv" ;;
            *) dpkg-deb -x "$deb" "$xi/tools" ;;
        esac || die "unpacking $deb failed"
    done
    local config
    config=$(ls "$xi"/hv/boot/xen-*-arm64.config 2>/dev/null | head -1)
    [[ -n $config ]] || die "xen-hypervisor-4.17-arm64 has no boot/xen-*-arm64.config; see $log"
    # Debian's hypervisor config, plus IOREQ (which needs EXPERT on Arm).
    local make=(make -C "$xi/src/xen/xen" XEN_TARGET_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc-12)
    { cat "$config"; printf 'CONFIG_EXPERT=y\nCONFIG_IOREQ_SERVER=y\n'; } > "$xi/src/xen/xen/.config"
    say "cross-building Xen $(sed -n 's/^xen (\([^)]*\)).*/\1/p;q' "$xi/src/xen/debian/changelog") with CONFIG_IOREQ_SERVER (about a minute)"
    "${make[@]}" olddefconfig >>"$log" 2>&1 || die "Xen's olddefconfig failed; see $log"
    grep -qx CONFIG_IOREQ_SERVER=y "$xi/src/xen/xen/.config" || die "CONFIG_IOREQ_SERVER did not stay set; see $xi/src/xen/xen/.config"
    "${make[@]}" -j"$(nproc)" >>"$log" 2>&1 || die "building Xen failed; see $log"
    cp "$xi/src/xen/xen/xen" "$xi/xen"
    cp "$xi/src/xen/xen/.config" "$xi/xen.config"
    rm -rf "$xi/src" "$xi/hv" "$tmp" "$xi"/tools/usr/share/doc "$xi"/tools/usr/share/man
    echo "$ioreq_stamp" > "$xi/.complete"
    say "rebuilt Xen with CONFIG_IOREQ_SERVER into $xi/xen"
}

# The start both dom0 inits share: busybox, the mounts, Xen's modules and xenfs, and the XEN-TEST line helper t;
# $1 is the version of the toolstack under /usr/lib/xen-$1.
dom0_init_start() {
    sed "s/@XENVER@/$1/" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /var/lib/xen /var/log/xen/console /etc/xen
[ -L /var/run ] || { /bin/busybox rm -rf /var/run; /bin/busybox ln -s /run /var/run; }
/bin/busybox --install -s /bin 2>/dev/null
export PATH=/usr/lib/xen-@XENVER@/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /run
mkdir -p /dev/pts /run/xen /run/xenstored; mount -t devpts devpts /dev/pts
t() { echo "XEN-TEST $* (t=$(cut -d' ' -f1 /proc/uptime)s)"; }
t dom0 up
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do insmod /mods/$m.ko || t "insmod $m failed"; done
mount -t xenfs xenfs /proc/xen
INIT
}

# The dom0 init: Xen's device nodes, the toolstack, a domU; XEN-TEST lines are what the script checks.
dom0_init() {
    dom0_init_start 4.20
    cat <<'INIT'
[ -c /dev/xen/privcmd ] && [ -c /dev/xen/gntdev ] && t devices privcmd gntdev present
xenstored --pid-file /run/xenstored.pid
for i in $(seq 50); do [ -S /run/xenstored/socket ] && break; sleep 0.2; done
xen-init-dom0 >/tmp/init-dom0.log 2>&1 && t xen-init-dom0 ok || { t xen-init-dom0 failed; cat /tmp/init-dom0.log; }
xenconsoled --log=guest --log-dir=/var/log/xen/console
xl create /etc/xen/domu.cfg >/tmp/xl.log 2>&1 && t xl create ok || { t xl create failed; cat /tmp/xl.log; }
for i in $(seq 300); do grep -q DOMU-UP /var/log/xen/console/guest-domu.log 2>/dev/null && break; sleep 0.2; done
grep -q DOMU-UP /var/log/xen/console/guest-domu.log && t domu up "$(xl domid domu)" || { t domu not up; xl list; cat /var/log/xen/console/guest-domu.log; }
/usr/lib/jvm/java-25-openjdk-arm64/bin/java -version 2>&1 | head -1 | sed 's/^/XEN-TEST java: /'
if [ -x /jvhost/proof.sh ]; then
    /jvhost/proof.sh foreign "$(xl domid domu)"
    for i in $(seq 100); do grep -q '^GREFS' /var/log/xen/console/guest-domu.log && break; sleep 0.2; done
    refs=$(grep -a '^GREFS' /var/log/xen/console/guest-domu.log | tr -d '\r' | head -1 | cut -d' ' -f2-)
    grep -a 'GRANTER-FAILED' /var/log/xen/console/guest-domu.log | sed 's/^/XEN-TEST domU: /'
    if [ -n "$refs" ]; then
        t domu granted $refs
        /jvhost/proof.sh grant "$(xl domid domu)" $refs
        sleep 2
        grep -a '^DOMU-SEES' /var/log/xen/console/guest-domu.log | tr -d '\r' | sed 's/^/XEN-TEST domU: /'
    fi
fi
t done
poweroff -f
INIT
}

domu_init() {
    cat <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox insmod /xen-gntalloc.ko 2>/dev/null
echo DOMU-UP
[ -x /granter ] && /granter &
while true; do /bin/busybox sleep 3600; done
INIT
}

# jvhost's classes and the proof (devices/rng's XenRngProof: the Java front-end and rng back-end, run in dom0).
proof() {
    local dest=$1 cp="" m
    say "compiling jvhost and XenRngProof (./mvnw -o -pl devices/rng -am test-compile)"
    (cd "$root" && JAVA_HOME=$(jvhost_setup_jdk) ./mvnw -o -q -B -Djvhost.aot.skip -Djacoco.skip -pl devices/rng -am \
        test-compile >"$x/compile.log" 2>&1) || die "compiling jvhost failed; see $x/compile.log"
    mkdir -p "$dest"
    for m in os memory virtqueue virtio-device vhost-user/protocol vhost-user/backend devices/rng; do
        cp -a "$root/$m/target/classes" "$dest/${m//\//-}"
        cp="$cp${cp:+:}/jvhost/${m//\//-}"
    done
    cp -a "$root/devices/rng/target/test-classes" "$dest/rng-test"
    cat > "$dest/proof.sh" <<PROOF
#!/bin/sh
# \$1: the domU's domain id. The unused area: the domU boots with mem=192M of memory=256, RAM from 0x40000000.
# foreign <domid> | grant <domid> <refs...>
mode=\$1; shift
[ "\$mode" = foreign ] && set -- "\$1" 0x4e000000
exec /usr/lib/jvm/java-25-openjdk-arm64/bin/java --enable-native-access=ALL-UNNAMED -Xshare:auto -XX:TieredStopAtLevel=1 -Xmx256m \\
    -cp $cp:/jvhost/rng-test io.jvhost.device.rng.XenRngProof "\$mode" "\$@"
PROOF
    chmod +x "$dest/proof.sh"
}

# Packs $1/dom0 into the initramfs, writes QEMU's own DTB for these machine options with Xen's boot modules and command
# lines in /chosen, and boots hypervisor $2 with dom0 kernel $3 and $4 dom0 vCPUs; the console goes to $1/console.log.
pack_and_boot() {
    local w=$1 xen=$2 kernel=$3 vcpus=$4 what=$5
    say "packing dom0's initramfs ($(du -sh "$w/dom0" | cut -f1))"
    (cd "$w/dom0" && find . | cpio -o -H newc --quiet | gzip -1) > "$w/dom0.cpio.gz"
    rm -rf "$w/dom0" "$w/domu"

    local machine="virt,virtualization=on,gic-version=3"
    qemu-system-aarch64 -machine "$machine,dumpdtb=$w/virt.dtb" -cpu cortex-a57 -m 3G -smp 2 -nographic \
        >/dev/null 2>&1 || die "qemu-system-aarch64 could not dump its DTB"
    cp "$w/virt.dtb" "$w/xen.dtb"
    fdtput -t s "$w/xen.dtb" /chosen xen,xen-bootargs \
        "console=dtuart dtuart=/pl011@9000000 dom0_mem=1536M dom0_max_vcpus=$vcpus bootscrub=0 loglvl=all guest_loglvl=all"
    fdtput -t s "$w/xen.dtb" /chosen xen,dom0-bootargs "console=hvc0 earlycon=xen rdinit=/init"
    fdtput -t i "$w/xen.dtb" /chosen '#address-cells' 2
    fdtput -t i "$w/xen.dtb" /chosen '#size-cells' 2
    fdtput -c "$w/xen.dtb" /chosen/module@50000000
    fdtput -t s "$w/xen.dtb" /chosen/module@50000000 compatible multiboot,kernel multiboot,module
    fdtput -t x "$w/xen.dtb" /chosen/module@50000000 reg 0 0x50000000 0 "$(printf %x "$(stat -L -c %s "$kernel")")"
    fdtput -c "$w/xen.dtb" /chosen/module@54000000
    fdtput -t s "$w/xen.dtb" /chosen/module@54000000 compatible multiboot,ramdisk multiboot,module
    fdtput -t x "$w/xen.dtb" /chosen/module@54000000 reg 0 0x54000000 0 \
        "$(printf %x "$(stat -c %s "$w/dom0.cpio.gz")")"

    say "booting $what; console in $w/console.log"
    local start=$SECONDS
    timeout 900 qemu-system-aarch64 -machine "$machine" -cpu cortex-a57 -m 3G -smp 2 -nographic -monitor none \
        -serial stdio -no-reboot -kernel "$xen" -dtb "$w/xen.dtb" \
        -device loader,file="$kernel",addr=0x50000000,force-raw=on \
        -device loader,file="$w/dom0.cpio.gz",addr=0x54000000,force-raw=on </dev/null >"$w/console.log" 2>&1 || true
    say "QEMU ran $((SECONDS - start)) s"
}

boot() {
    local w=$x/run
    rm -rf "$w"
    mkdir -p "$w/domu/bin" "$w/dom0"
    # domU: busybox alone.
    cp "$x/root/usr/bin/busybox" "$w/domu/bin/busybox"
    # The grant proof's domU side: our granter (freestanding, no libc) and the kernel's gntalloc module.
    if command -v aarch64-linux-gnu-gcc-12 >/dev/null; then
        aarch64-linux-gnu-gcc-12 -static -nostdlib -ffreestanding -fno-stack-protector -O2 \
            -o "$w/domu/granter" "$root/scripts/xen/granter.c" || die "building scripts/xen/granter.c failed"
        cp "$x/mods/xen-gntalloc.ko" "$w/domu/xen-gntalloc.ko"
    else
        say "no aarch64-linux-gnu-gcc-12: the domU grants nothing and the grant proof is skipped"
    fi
    domu_init > "$w/domu/init"
    chmod +x "$w/domu/init"
    (cd "$w/domu" && find . | cpio -o -H newc --quiet | gzip -1) > "$w/domu.cpio.gz"
    # dom0: the unpacked trixie system (merged /usr), its busybox, the kernel's Xen modules, the domU.
    cp -a "$x/root/." "$w/dom0/"
    rm -rf "$w/dom0/usr/share/doc" "$w/dom0/usr/share/man" "$w/dom0/usr/share/locale"
    for d in bin sbin lib; do [[ -e $w/dom0/$d ]] || ln -s "usr/$d" "$w/dom0/$d"; done
    mkdir -p "$w/dom0/boot" "$w/dom0/etc/xen"
    cp -a "$x/mods" "$w/dom0/mods"
    cp "$x/vmlinuz" "$w/dom0/boot/Image"
    cp "$w/domu.cpio.gz" "$w/dom0/boot/domu.cpio.gz"
    cat > "$w/dom0/etc/xen/domu.cfg" <<CFG
name = "domu"
kernel = "/boot/Image"
ramdisk = "/boot/domu.cpio.gz"
extra = "console=hvc0 rdinit=/init mem=192M"
memory = 256
vcpus = 1
CFG
    proof "$w/dom0/jvhost"
    dom0_init > "$w/dom0/init"
    chmod +x "$w/dom0/init"
    pack_and_boot "$w" "$x/xen" "$x/vmlinuz" 1 "Xen 4.20 (arm64, TCG) with dom0 and a domU"
    grep -a 'XEN-TEST' "$w/console.log" | tr -d '\r' >&2 || true
    local missing=0 want expect=('dom0 up' 'devices privcmd gntdev present' 'xen-init-dom0 ok' 'xl create ok' 'domu up'
        'java: ' 'done')
    [[ -f $root/devices/rng/target/test-classes/io/jvhost/device/rng/XenRngProof.class ]] \
        && expect+=('foreign rng ok')
    command -v aarch64-linux-gnu-gcc-12 >/dev/null && expect+=('domu granted' 'grant rng ok' 'domU: DOMU-SEES page 1')
    for want in "${expect[@]}"; do
        grep -aq "XEN-TEST $want" "$w/console.log" || { say "missing: XEN-TEST $want"; missing=1; }
    done
    # The domU must see in its own granted page what the front-end read through its mapping: buffer 0 starts 8
    # bytes before the end of page 1.
    local fe domu
    fe=$(grep -a 'XEN-TEST grant rng ok' "$w/console.log" | sed -n 's/.*(first 16 of buffer 0: \([0-9a-f]*\)).*/\1/p')
    domu=$(grep -a 'DOMU-SEES page 1: 4088 ' "$w/console.log" | tr -d '\r' | sed 's/.* 4088 //')
    if [[ -n $fe || -n $domu ]]; then
        [[ -n $fe && ${fe:0:16} == "$domu" ]] \
            && say "the domU sees in its page what the back-end wrote through the grant: $domu" \
            || { say "the domU's page 1 ($domu) differs from what the front-end read (${fe:0:16})"; missing=1; }
    fi
    [[ $missing -eq 0 ]] || die "not every step came; see $w/console.log"
    say "every step came"
}

# The genuine virtio path: the domU's own virtio_mmio and virtio_rng drivers use jvhost rng in dom0 through jvhost's
# Java device model (jvhost xen-vhost-frontend: an IOREQ server on the rebuilt Xen 4.17). libxl 4.17 only makes
# virtio-mmio nodes for disks, so the domU gets a "specification=virtio" disk whose DT node (virtio@2000000, SPI 33)
# the front-end serves as an rng (the node says only "virtio,mmio"; the device ID register says what it is); dom0's
# init answers libxl's wait for that disk's back-end (state 2) itself.
dom0_init_virtio() {
    dom0_init_start 4.17
    cat <<'INIT'
xenstored --pid-file /run/xenstored.pid
for i in $(seq 50); do [ -S /run/xenstored/socket ] && break; sleep 0.2; done
xen-init-dom0 >/tmp/init-dom0.log 2>&1 && t xen-init-dom0 ok || { t xen-init-dom0 failed; cat /tmp/init-dom0.log; }
xenconsoled --log=guest --log-dir=/var/log/xen/console
java="/usr/lib/jvm/java-25-openjdk-arm64/bin/java --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1 -Xmx192m -cp $(cat /jvhost/classpath)"
$java io.jvhost.launcher.Main rng --socket-path /run/rng --rng-source /etc/jvhost-rng.src >/tmp/rng.log 2>&1 &
xl create -p /etc/xen/domu.cfg >/tmp/xl.log 2>&1 &
xl_pid=$!
be=/local/domain/0/backend/virtio_disk
while kill -0 $xl_pid 2>/dev/null; do
    for d in $(xenstore-list $be 2>/dev/null); do for n in $(xenstore-list $be/$d 2>/dev/null); do
        [ "$(xenstore-read $be/$d/$n/state 2>/dev/null)" = 1 ] && xenstore-write $be/$d/$n/state 2 && t virtio back-end state 2 for $d/$n
    done; done
    sleep 0.2
done
wait $xl_pid && t xl create ok || { t xl create failed; cat /tmp/xl.log; }
domid=$(xl domid domu)
dev=$(xenstore-list $be/$domid | head -1)
base=$(xenstore-read $be/$domid/$dev/base); irq=$(xenstore-read $be/$domid/$dev/irq)
t virtio-mmio base $base irq $irq domid $domid
$java io.jvhost.launcher.Main xen-vhost-frontend --domid $domid --socket-path /run/rng0 --device rng \
    --base $base --irq $irq --memory 256 >/tmp/fe.log 2>&1 &
for i in $(seq 150); do grep -q 'serving' /tmp/fe.log && break; sleep 0.2; done
sed 's/^/XEN-TEST fe: /' /tmp/fe.log
grep -q 'serving' /tmp/fe.log && t front-end serving
xl unpause domu && t domu unpaused
log=/var/log/xen/console/guest-domu.log
for i in $(seq 300); do grep -q 'DOMU-RNG-BYTES\|DOMU-NO-RNG' $log 2>/dev/null && break; sleep 0.2; done
grep -a 'DOMU\|virtio\|rng' $log | tr -d '\r' | sed 's/^/XEN-TEST domU: /'
xl destroy domu && t domu destroyed
for i in $(seq 50); do grep -q 'served [0-9]* accesses, refused' /tmp/fe.log && break; sleep 0.2; done
sed 's/^/XEN-TEST fe: /' /tmp/fe.log | tail -n +3
sed 's/^/XEN-TEST rng: /' /tmp/rng.log | tail -20
t done
poweroff -f
INIT
}

domu_init_virtio() {
    cat <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
echo DOMU-UP
/bin/busybox insmod /virtio_mmio.ko && /bin/busybox insmod /virtio-rng.ko
for i in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/hwrng ] && break; /bin/busybox sleep 0.5; done
echo "DOMU-RNG-CURRENT $(/bin/busybox cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
if /bin/busybox dd if=/dev/hwrng of=/rng.bin bs=64 count=4 2>/dev/null; then
    echo "DOMU-RNG-BYTES $(/bin/busybox wc -c < /rng.bin) bytes $(/bin/busybox od -An -tx1 -N32 /rng.bin | /bin/busybox tr -d ' \n')"
else
    echo DOMU-NO-RNG
fi
while true; do /bin/busybox sleep 3600; done
INIT
}

boot_virtio() {
    local w=$x/run-virtio g=$cache/guest-arm64-6.12
    [[ -f $g/.complete ]] || die "the arm64 6.12 guest kernel is not staged ($g; scripts/setup.sh guest-arm64-6.12)"
    rm -rf "$w"
    mkdir -p "$w/domu/bin" "$w/dom0"
    cp "$x/root/usr/bin/busybox" "$w/domu/bin/busybox"
    local kver m ko
    kver=$(cat "$g/kernel-version")
    for m in drivers/virtio/virtio_mmio drivers/char/hw_random/virtio-rng; do
        ko=$g/root/lib/modules/$kver/kernel/$m.ko.xz
        [[ -f $ko ]] || die "the arm64 guest kernel has no $m module ($ko)"
        xz -dc "$ko" > "$w/domu/${m##*/}.ko"
    done
    domu_init_virtio > "$w/domu/init"
    chmod +x "$w/domu/init"
    (cd "$w/domu" && find . | cpio -o -H newc --quiet | gzip -1) > "$w/domu.cpio.gz"
    # dom0: trixie's system (merged /usr), then each file of bookworm's 4.17 toolstack that trixie does not have
    # (bookworm's /bin, /sbin, /lib go to /usr; trixie's libc and the stable Xen libraries stay).
    cp -a "$x/root/." "$w/dom0/"
    rm -rf "$w/dom0/usr/share/doc" "$w/dom0/usr/share/man" "$w/dom0/usr/share/locale"
    for d in bin sbin lib; do [[ -e $w/dom0/$d ]] || ln -s "usr/$d" "$w/dom0/$d"; done
    local f t
    while IFS= read -r f; do
        t=${f#./}
        case $t in bin/*|sbin/*|lib/*) t=usr/$t ;; esac
        [[ -e $w/dom0/$t || -L $w/dom0/$t ]] && continue
        mkdir -p "$(dirname "$w/dom0/$t")"
        cp -a "$xi/tools/$f" "$w/dom0/$t"
    done < <(cd "$xi/tools" && find . -type f -o -type l)
    [[ -x $w/dom0/usr/lib/xen-4.17/bin/xl ]] || die "bookworm's xl 4.17 did not land in dom0"
    mkdir -p "$w/dom0/boot" "$w/dom0/etc/xen" "$w/dom0/jvhost"
    cp -a "$x/mods" "$w/dom0/mods"
    cp -L "$g/vmlinuz" "$w/dom0/boot/Image"
    cp "$w/domu.cpio.gz" "$w/dom0/boot/domu.cpio.gz"
    cat > "$w/dom0/etc/xen/domu.cfg" <<CFG
name = "domu"
kernel = "/boot/Image"
ramdisk = "/boot/domu.cpio.gz"
extra = "console=hvc0 rdinit=/init"
memory = 256
vcpus = 2
disk = [ "backendtype=standalone,specification=virtio,vdev=xvda,target=/etc/xen/virtio-rng.placeholder" ]
CFG
    # libxl wants a regular file or block device as the "disk"; nothing reads it.
    : > "$w/dom0/etc/xen/virtio-rng.placeholder"
    # The back-end's entropy: 1 MiB the host keeps, so what the domU reads can be found in it.
    head -c 1048576 /dev/urandom > "$w/rng.src"
    cp "$w/rng.src" "$w/dom0/etc/jvhost-rng.src"
    # jvhost: the launcher's classes (every main module) and its two libraries.
    say "compiling jvhost (./mvnw -o -pl launcher -am compile)"
    (cd "$root" && JAVA_HOME=$(jvhost_setup_jdk) ./mvnw -o -q -B -Djvhost.aot.skip -Djacoco.skip -pl launcher -am \
        compile >"$x/compile-launcher.log" 2>&1) || die "compiling jvhost failed; see $x/compile-launcher.log"
    local cp="" c name jar
    for c in "$root"/*/target/classes "$root"/*/*/target/classes; do
        case $c in */benchmarks/*|*/e2e/*|*/coverage/*) continue ;; esac
        name=${c#"$root"/}; name=${name%/target/classes}; name=${name//\//-}
        cp -a "$c" "$w/dom0/jvhost/$name"
        cp="$cp${cp:+:}/jvhost/$name"
    done
    for jar in info/picocli/picocli org/snakeyaml/snakeyaml-engine; do
        c=$(ls "$HOME"/.m2/repository/$jar/*/*.jar 2>/dev/null | grep -v sources | sort -V | tail -1)
        [[ -n $c ]] || die "no $jar jar in ~/.m2 (build jvhost once online)"
        cp "$c" "$w/dom0/jvhost/"
        cp="$cp:/jvhost/${c##*/}"
    done
    echo "$cp" > "$w/dom0/jvhost/classpath"
    dom0_init_virtio > "$w/dom0/init"
    chmod +x "$w/dom0/init"
    pack_and_boot "$w" "$xi/xen" "$x/vmlinuz" 2 \
        "the rebuilt Xen 4.17 (IOREQ) with dom0 (jvhost rng + xen-vhost-frontend) and a virtio domU"
    grep -a 'XEN-TEST' "$w/console.log" | tr -d '\r' >&2 || true
    local missing=0 want
    # The driver brought the device to DRIVER_OK (0xf) with no request refused.
    for want in 'dom0 up' 'xen-init-dom0 ok' 'xl create ok' 'front-end serving' 'domu unpaused' 'domU: DOMU-UP' \
        'domU: DOMU-RNG-BYTES ' 'fe: xen-vhost-frontend: status 0xf, .*, started ([0-9]* accesses served, 0 refused' \
        'domu destroyed' 'fe: xen-vhost-frontend: the domain is gone' 'done'; do
        grep -aq "XEN-TEST $want" "$w/console.log" || { say "missing: XEN-TEST $want"; missing=1; }
    done
    # The domU's first 32 bytes from /dev/hwrng must be bytes the back-end read from its source (at a byte offset).
    local got
    got=$(grep -a 'DOMU-RNG-BYTES' "$w/console.log" | tr -d '\r' | sed -n 's/.* bytes \([0-9a-f]*\)$/\1/p' | head -1)
    if [[ ${#got} -eq 64 ]] && od -An -v -tx1 "$w/rng.src" | tr -d ' \n' | grep -ob "$got" | grep -q '^[0-9]*[02468]:'; then
        say "the domU's /dev/hwrng bytes $got are the back-end's source bytes"
    else
        say "the domU's bytes '$got' are not in the back-end's source"; missing=1
    fi
    [[ $missing -eq 0 ]] || die "not every step came; see $w/console.log"
    say "the domU read /dev/hwrng through jvhost rng over Xen IOREQ"
}

case "$what" in
    stage) stage ;;
    boot) stage; boot ;;
    stage-ioreq) stage_ioreq ;;
    virtio) stage; stage_ioreq; boot_virtio ;;
    *) die "usage: scripts/xen-test.sh [stage|boot|stage-ioreq|virtio]" ;;
esac
