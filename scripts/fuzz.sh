#!/usr/bin/env bash
# ./jvhost fuzz [target|all] [--time D] [--runs N]: coverage-guided fuzzing of one or all Jazzer harnesses
# (JAZZER_FUZZ=1). Each target runs for D (libFuzzer seconds, or 30s / 10m / 2h; default 10m), or until it has
# executed N inputs (1000000, 500k, 10M) when --runs is given (then D, default 24h, only caps it), in its module's surefire, with
# scripts/fuzz/ClassVersionAgent on the command line so Jazzer 0.24.0 can instrument Java 25 classes. The growing
# corpus stays in <module>/.cifuzz-corpus (not committed); a crashing input is written by Jazzer into the harness's
# src/test/resources/...Inputs folder, so the next ./jvhost test replays it. Prints executions and coverage.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

# target  module  test class (a harness may hold several @FuzzTest methods: each runs in a Maven run of its own, one
# after another, since Jazzer fuzzes only the first of a class's fuzz tests and skips the others)
targets=(
    "virtqueue         virtqueue           io.jvhost.virtqueue.SplitQueueFuzzTest"
    "vhost-user        vhost-user/backend  io.jvhost.vhostuser.backend.VhostUserBackendFuzzTest"
    "gpu               devices/gpu         io.jvhost.device.gpu.GpuCommandFuzzTest"
    "gpu3d             devices/gpu         io.jvhost.device.gpu.Gpu3dCommandFuzzTest"
    "gpu3d-commands    devices/gpu         io.jvhost.device.gpu.Gpu3dCommandPathFuzzTest"
    "websocket         display             io.jvhost.display.websocket.WebSocketFrameFuzzTest"
    "http              display             io.jvhost.display.http.HttpRequestFuzzTest"
    "rfb               display             io.jvhost.display.rfb.RfbSessionFuzzTest"
    "scsi              devices/scsi        io.jvhost.device.scsi.ScsiRequestFuzzTest"
    "vsock             devices/vsock       io.jvhost.device.vsock.VsockPacketFuzzTest"
    "rng               devices/rng         io.jvhost.device.rng.RngRequestFuzzTest"
    "input             devices/input       io.jvhost.device.input.InputRequestFuzzTest"
    "console           devices/console     io.jvhost.device.console.ConsoleRequestFuzzTest"
    "rtc               devices/rtc         io.jvhost.device.rtc.RtcRequestFuzzTest"
    "can               devices/can         io.jvhost.device.can.CanRequestFuzzTest"
    "scmi              devices/scmi        io.jvhost.device.scmi.ScmiRequestFuzzTest"
    "i2c               devices/i2c         io.jvhost.device.i2c.I2cRequestFuzzTest"
    "spi               devices/spi         io.jvhost.device.spi.SpiRequestFuzzTest"
    "gpio              devices/gpio        io.jvhost.device.gpio.GpioRequestFuzzTest"
    "sound             devices/sound       io.jvhost.device.sound.SoundRequestFuzzTest"
    "media             devices/media       io.jvhost.device.media.MediaCommandFuzzTest"
    "media-proxy       devices/media       io.jvhost.device.media.V4l2ProxyFuzzTest"
    "video             devices/video       io.jvhost.device.video.VideoCommandFuzzTest"
    "xen-ioreq         xen                 io.jvhost.xen.IoreqFuzzTest"
)

die() { echo "jvhost fuzz: $*" >&2; exit 2; }

usage() {
    echo "usage: ./jvhost fuzz [target|all] [--time D] [--runs N]"
    echo "  D: seconds or 30s, 10m, 2h (default 10m, or 24h with --runs); N: executions per harness method, 10M, 500k"
    echo "targets:"
    for t in "${targets[@]}"; do read -r name module class <<<"$t"; echo "  $name  ($module: ${class##*.})"; done
}

seconds() {
    case $1 in
        *h) echo $(( ${1%h} * 3600 )) ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *[!0-9]*|'') die "not a duration: $1" ;;
        *) echo "$1" ;;
    esac
}

count() {
    case $1 in
        *M) echo $(( ${1%M} * 1000000 )) ;;
        *k) echo $(( ${1%k} * 1000 )) ;;
        *[!0-9]*|'') die "not a number of executions: $1" ;;
        *) echo "$1" ;;
    esac
}

want=all time='' runs=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --time) [[ $# -ge 2 ]] || die "--time needs a value"; time=$(seconds "$2"); shift 2 ;;
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; runs=$(count "$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) want=$1; shift ;;
    esac
done
if [[ -n $runs ]]; then time=${time:-86400}; else time=${time:-600}; fi
limits=("-Djazzer.internal.arg.1=-max_total_time=$time")
[[ -z $runs ]] || limits+=("-Djazzer.internal.arg.3=-runs=$runs")

agent_dir=$root/target/fuzz-agent
if [[ ! -f $agent_dir/class-version-agent.jar || $root/scripts/fuzz/ClassVersionAgent.java -nt $agent_dir/class-version-agent.jar ]]; then
    mkdir -p "$agent_dir/classes"
    "$JAVA_HOME/bin/javac" -d "$agent_dir/classes" "$root/scripts/fuzz/ClassVersionAgent.java"
    printf 'Premain-Class: ClassVersionAgent\nCan-Retransform-Classes: true\n' >"$agent_dir/manifest.txt"
    "$JAVA_HOME/bin/jar" cfm "$agent_dir/class-version-agent.jar" "$agent_dir/manifest.txt" -C "$agent_dir/classes" .
fi

found=0 failed=0
for t in "${targets[@]}"; do
    read -r name module class <<<"$t"
    [[ $want == all || $want == "$name" ]] || continue
    found=1
    methods=$(awk '/@FuzzTest/ { f = 1; next } f && match($0, /void [A-Za-z0-9_]+\(/) {
        print substr($0, RSTART + 5, RLENGTH - 6); f = 0 }' "$root/$module/src/test/java/${class//.//}.java")
    [[ -n $methods ]] || die "no @FuzzTest method in $class"
    for method in $methods; do
        [[ $(wc -w <<<"$methods") -eq 1 ]] && label=$name || label=$name#$method
        echo "jvhost fuzz: $label ($class) for ${time}s${runs:+ or $runs executions}" >&2
        status=0
        log=$root/target/fuzz-${label/\#/-}.log
        (cd "$root" && JAZZER_FUZZ=1 ./mvnw -B -ntp -q -Dstyle.color=never -Djvhost.aot.skip -Djacoco.skip=true \
            -Djvhost.allocationTests.skip=true \
            -pl "$module" -am verify -Dtest="${class##*.}#$method" -Dsurefire.failIfNoSpecifiedTests=false \
            "-Djvhost.test.jvmArgs=--enable-native-access=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -javaagent:$agent_dir/class-version-agent.jar" \
            -Djazzer.hooks=true -Djazzer.internal.arg.0=fuzz "${limits[@]}" \
            -Djazzer.internal.arg.2=-print_final_stats=1) >"$log" 2>&1 || status=$?
        out=$root/$module/target/surefire-reports/$class-output.txt
        cat "$log" "$out" 2>/dev/null \
            | grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|== Java Exception|^(INFO|WARN): .*(crash|Crash)' \
            | sed "s/^/  $label: /" | tail -n 12
        [[ $status -eq 0 ]] || { failed=1; echo "jvhost fuzz: $label failed (see $log and $out)" >&2; }
    done
done
[[ $found -eq 1 ]] || { usage >&2; die "no target named $want"; }
exit $failed
