#!/usr/bin/env bash
# jvhost benchmarks: builds the launcher and benchmark jars, then runs GpuBench, which measures jvhost's GPU
# back-end against QEMU's C vhost-user-gpu (and jvhost rng, the same-run baselines and the JMH microbenchmarks),
# then DisplayBench (jvhost's own display: frame latency and bytes per frame over the web console's WebSocket),
# and prints the Markdown for BENCHMARKS.md. With --guest, GuestBench too: vsock, scsi and sound in QEMU guests
# against their peers; with --bus, LowSpeedBusBench: gpio request round trips against rust-vmm's gpio mock. See
# BENCHMARKS.md for what every figure means.
#
#   scripts/bench.sh [--no-build] [--update] [--no-display] [--3d | --only-3d] [--guest | --guest-only]
#                    [--bus | --bus-only] [GpuBench options]
#     --no-build   use the jars as they are (launcher/target/jvhost.jar, benchmarks/target/jvhost-benchmarks.jar)
#     --update     splice the reports into BENCHMARKS.md (between the gpubench, displaybench, gpu3dbench,
#                  guestbench and busbench markers)
#     --no-display skip DisplayBench
#     --3d         also run Gpu3dBench (3D: virglrenderer frames, readback against memcpy, kmscube in the demo;
#                  needs ./jvhost setup's virglrenderer and 3D guest; about 3 minutes)
#     --only-3d    run only Gpu3dBench
#     --kmscube-seconds S  Gpu3dBench's kmscube window (default 30; 0 skips booting the guest)
#     --guest      also run GuestBench: vsock throughput and back-end CPU per MiB host<->guest (against
#                  --peer-vsock CMD), scsi sequential and 4 KiB random reads in the guest with the back-ends' CPU
#                  per MiB against qemu-storage-daemon's vhost-user-blk and --peer-scsi CMD, and sound: back-end
#                  CPU per second of 48 kHz stereo playback in a 6.12 guest against --peer-sound CMD;
#                  --guest-only runs only GuestBench. GuestBench gets --quick too, and
#                  --guest-sections vsock,scsi,sound, --peer-vsock|--peer-scsi|--peer-sound CMD
#                  [--peer-vsock-name|--peer-scsi-name|--peer-sound-name N], --accel tcg|kvm, --guest-repeats N,
#                  --vsock-mib N, --image-mib N, --rand-ms N, --sound-seconds N, --guest612-dir DIR
#                  (the peers default to vhost-device-vsock, -scsi and -sound in the rust-peers cache,
#                  ~/.cache/jvhost/rust-peers/bin or $RUST_PEERS_HOME/bin, when built; "none" leaves one out)
#     --bus        also run LowSpeedBusBench: GET_VALUE round trips (one in flight) through the in-process
#                  front-end to `jvhost gpio -l s8` and to rust-vmm's vhost-device-gpio-mock (from the rust-peers
#                  cache, or --peer-gpio CMD; "none" for jvhost alone); --bus-only runs only it. It gets --quick
#                  too, and --bus-rounds N, --bus-requests N, --bus-warmup N, --peer-gpio CMD, --peer-gpio-name N
#     GpuBench options, e.g. --quick (a short validation run), --rounds 5, --duration 10, --no-peer,
#     --jmh REGEX, --no-jmh, --peer-gpu CMD; --help lists them all. DisplayBench and Gpu3dBench get --quick,
#     --warmup, --duration and --verbose too.
# The reports are also saved as benchmarks/target/gpubench/report-<UTC time>.md,
# benchmarks/target/displaybench/report-<UTC time>.md, benchmarks/target/gpu3dbench/report-<UTC time>.md,
# benchmarks/target/guestbench/report-<UTC time>.md and benchmarks/target/busbench/report-<UTC time>.md.
# Run it on an otherwise idle machine: every figure is compared with a same-run baseline, but two cores
# shared with a compiler make the numbers meaningless.
# MAVEN_ARGS adds Maven options to the build (e.g. MAVEN_ARGS=-o to build offline).
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
die() { echo "bench: $*" >&2; exit 1; }

build=1
update=0
display=1
gpu=1
threed=0
guest=0
bus=0
help=0
args=()
display_args=()
threed_args=()
guest_args=()
bus_args=()
while [[ $# -gt 0 ]]; do
    a=$1
    shift
    case "$a" in
        --no-build) build=0 ;;
        --update) update=1 ;;
        --no-display) display=0 ;;
        --3d) threed=1 ;;
        --only-3d) threed=1 gpu=0 display=0 ;;
        --kmscube-seconds)
            [[ $# -gt 0 ]] || die "$a needs a value"
            threed_args+=("$a" "$1")
            shift
            ;;
        --guest) guest=1 ;;
        --guest-only) guest=1; gpu=0; display=0 ;;
        --bus) bus=1 ;;
        --bus-only) bus=1; gpu=0; display=0 ;;
        --bus-rounds|--bus-requests|--bus-warmup|--peer-gpio|--peer-gpio-name)
            [[ $# -gt 0 ]] || die "$a needs a value"
            case "$a" in
                --bus-rounds) bus_args+=(--rounds "$1") ;;
                --bus-requests) bus_args+=(--requests "$1") ;;
                --bus-warmup) bus_args+=(--warmup "$1") ;;
                *) bus_args+=("$a" "$1") ;;
            esac
            shift
            ;;
        --guest-sections|--peer-vsock|--peer-vsock-name|--peer-scsi|--peer-scsi-name|--peer-sound|--peer-sound-name\
        |--accel|--guest-repeats|--vsock-mib|--image-mib|--rand-ms|--sound-seconds|--guest612-dir)
            [[ $# -gt 0 ]] || die "$a needs a value"
            case "$a" in
                --guest-sections) guest_args+=(--sections "$1") ;;
                --guest-repeats) guest_args+=(--repeats "$1") ;;
                *) guest_args+=("$a" "$1") ;;
            esac
            shift
            ;;
        -h|--help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            echo
            build=0
            help=1
            args+=("$a")
            ;;
        --quick|--verbose)
            args+=("$a")
            display_args+=("$a")
            threed_args+=("$a")
            [[ $a != --quick ]] || guest_args+=("$a")
            [[ $a != --quick ]] || bus_args+=("$a")
            ;;
        --warmup|--duration)
            [[ $# -gt 0 ]] || die "$a needs a value"
            args+=("$a" "$1")
            display_args+=("$a" "$1")
            threed_args+=("$a" "$1")
            shift
            ;;
        *) args+=("$a") ;;
    esac
done

JAVA_HOME=$("$root/scripts/setup.sh" jdk) || die "no JDK 25 found (scripts/setup.sh jdk)"
export JAVA_HOME

bench_jar=$root/benchmarks/target/jvhost-benchmarks.jar
if [[ $build -eq 1 ]]; then
    echo "bench: building the launcher and benchmark jars…" >&2
    # shellcheck disable=SC2086 # MAVEN_ARGS is a list of options
    (cd "$root" && ./mvnw -q -B -ntp -Dstyle.color=never ${MAVEN_ARGS:-} -DskipTests package \
        -pl launcher,benchmarks -am) >&2 \
        || die "the build failed (run: ./mvnw -B -DskipTests package -pl launcher,benchmarks -am)"
fi
[[ -f $bench_jar ]] || die "$bench_jar is missing: run without --no-build"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out_dir=$root/benchmarks/target/gpubench
mkdir -p "$out_dir"
report=$out_dir/report-$stamp.md
extra=(--root "$root" --out "$report")
display_dir=$root/benchmarks/target/displaybench
display_extra=(--out "$display_dir/report-$stamp.md")
threed_dir=$root/benchmarks/target/gpu3dbench
threed_extra=(--root "$root" --out "$threed_dir/report-$stamp.md")
guest_dir=$root/benchmarks/target/guestbench
guest_extra=(--root "$root" --out "$guest_dir/report-$stamp.md")
bus_dir=$root/benchmarks/target/busbench
bus_extra=(--root "$root" --out "$bus_dir/report-$stamp.md")
if [[ $update -eq 1 ]]; then
    extra+=(--update-doc "$root/BENCHMARKS.md")
    display_extra+=(--update-doc "$root/BENCHMARKS.md")
    threed_extra+=(--update-doc "$root/BENCHMARKS.md")
    guest_extra+=(--update-doc "$root/BENCHMARKS.md")
    bus_extra+=(--update-doc "$root/BENCHMARKS.md")
fi

cd "$root"
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$bench_jar")
status=0
if [[ $gpu -eq 1 || $help -eq 1 ]]; then
    "${java[@]}" io.jvhost.benchmarks.gpu.GpuBench "${extra[@]}" ${args[@]+"${args[@]}"} || status=$?
fi
if [[ $help -eq 1 ]]; then
    echo
    "${java[@]}" io.jvhost.benchmarks.display.DisplayBench --help
    echo
    "${java[@]}" io.jvhost.benchmarks.gpu.Gpu3dBench --help
    echo
    "${java[@]}" io.jvhost.benchmarks.guest.GuestBench --help
    echo
    "${java[@]}" io.jvhost.benchmarks.bus.LowSpeedBusBench --help
    exit "$status"
fi
# 2: a bad command line or a missing jar; the display run would fail the same way.
if [[ $display -eq 1 && $status -ne 2 ]]; then
    mkdir -p "$display_dir"
    "${java[@]}" io.jvhost.benchmarks.display.DisplayBench "${display_extra[@]}" \
        ${display_args[@]+"${display_args[@]}"} || { s=$?; [[ $status -ne 0 ]] || status=$s; }
fi
if [[ $threed -eq 1 && $status -ne 2 ]]; then
    mkdir -p "$threed_dir"
    "${java[@]}" io.jvhost.benchmarks.gpu.Gpu3dBench "${threed_extra[@]}" \
        ${threed_args[@]+"${threed_args[@]}"} || { s=$?; [[ $status -ne 0 ]] || status=$s; }
fi
if [[ $guest -eq 1 && $status -ne 2 ]]; then
    mkdir -p "$guest_dir"
    "${java[@]}" io.jvhost.benchmarks.guest.GuestBench "${guest_extra[@]}" \
        ${guest_args[@]+"${guest_args[@]}"} || { s=$?; [[ $status -ne 0 ]] || status=$s; }
fi
if [[ $bus -eq 1 && $status -ne 2 ]]; then
    mkdir -p "$bus_dir"
    "${java[@]}" io.jvhost.benchmarks.bus.LowSpeedBusBench "${bus_extra[@]}" \
        ${bus_args[@]+"${bus_args[@]}"} || { s=$?; [[ $status -ne 0 ]] || status=$s; }
fi
exit "$status"
