#!/usr/bin/env bash
# scripts/package.sh [--out DIR] [--test] [--test-chroot]: builds jvhost as a Debian package that needs no system JDK.
#
#   launcher/target/package/jvhost_VERSION_amd64.deb (or --out DIR) holds
#     /usr/lib/jvhost/runtime/           a jlink runtime of only the modules jdeps finds in jvhost.jar
#     /usr/lib/jvhost/jvhost.jar, jvm.options, jvhost.aot   the launcher, its JVM options, the AOT cache trained
#                                        on that runtime (the JVM refuses a cache made by another one)
#     /usr/bin/jvhost                    the wrapper (java from the runtime above, -XX:AOTCache, exec)
#     /usr/libexec/jvhost/jvhost-DEVICE  one executable per device, for QEMU's vhost-user descriptors
#     /usr/share/man/man1/, bash and zsh completion, /usr/share/qemu/vhost-user/, /lib/systemd/system/
#   (everything under share/ and the units are generated from the picocli model: launcher/target/dist).
#
#   --test         then install-test it: dpkg -x into an empty folder and run that folder's usr/bin/jvhost with an
#                  empty environment (no JDK on PATH, no JAVA_HOME): --version with the AOT cache required, and
#                  `jvhost rng --socket-path` answering a vhost-user GET_FEATURES (scripts/package-test.sh)
#   --test-chroot  then install it with dpkg -i into a fresh Debian 12 root (debootstrap, cached) and run
#                  `jvhost rng --socket-path` there (scripts/package-test.sh --chroot)
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
out=$root/launcher/target/package
tests=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --test) tests+=(--dpkg-x); shift ;;
        --test-chroot) tests+=(--chroot); shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
say() { echo "package: $*" >&2; }
die() { echo "package: $*" >&2; exit 1; }

JAVA_HOME=$("$root/scripts/setup.sh" jdk)
export JAVA_HOME
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"

say "building the launcher (jvhost.jar, man pages, completion, descriptors, units)"
# The same build as ./jvhost's (its AOT cache included, so launcher/target stays consistent for ./jvhost, which
# this stamp tells it is up to date).
(cd "$root" && ./mvnw -q -B -ntp -Dstyle.color=never -DskipTests package -pl launcher -am) >&2 \
    || die "the build failed (run: ./mvnw -B -DskipTests package -pl launcher -am)"
target=$root/launcher/target
touch "$target/.built"
jar=$target/jvhost.jar
dist=$target/dist
[[ -f $jar && -d $dist/man/man1 && -d $dist/systemd ]] || die "the build made no $jar or $dist"
version=$(sed -n 's/^version=//p' "$target/classes/io/jvhost/launcher/version.properties")
debversion=${version//-/\~}
arch=$(dpkg --print-architecture)

stage=$(mktemp -d "${TMPDIR:-/tmp}/jvhost-package.XXXXXX")
trap 'rm -rf "$stage" "$stage.aot.log"' EXIT
lib=$stage/usr/lib/jvhost
mkdir -p "$lib" "$stage/usr/bin" "$stage/usr/libexec/jvhost" "$stage/usr/share/man/man1" \
    "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/qemu/vhost-user" "$stage/lib/systemd/system" "$stage/usr/share/doc/jvhost" "$stage/DEBIAN"

modules=$("$JAVA_HOME/bin/jdeps" --multi-release 25 --ignore-missing-deps --print-module-deps "$jar")
[[ -n $modules ]] || die "jdeps found no modules in $jar"
say "jlink runtime: $modules"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-6 --output "$lib/runtime"
cp "$jar" "$lib/jvhost.jar"
cp "$root/launcher/jvm.options" "$lib/jvm.options"

say "training the AOT cache on the packaged runtime"
# The options must be those the wrapper runs with; the cache records the jar's path relative to the runtime's, so
# it also serves an unpacked copy (dpkg -x) of the same tree.
"$lib/runtime/bin/java" --enable-native-access=ALL-UNNAMED "@$lib/jvm.options" -XX:AOTCacheOutput="$lib/jvhost.aot" \
    -Xlog:aot=error -cp "$lib/jvhost.jar" io.jvhost.launcher.AotTraining > "$stage.aot.log" 2>&1 \
    || die "the AOT training run failed: $(cat "$stage.aot.log")"
rm -f "$stage.aot.log"
[[ -f $lib/jvhost.aot ]] || die "no AOT cache was written"

cat > "$stage/usr/bin/jvhost" <<'WRAPPER'
#!/bin/sh
# jvhost: vhost-user device back-ends in Java, on the Java runtime of the package (no system JDK needed).
# JVHOST_JAVA_OPTS adds JVM options.
lib=$(dirname "$(readlink -f "$0")")/../lib/jvhost
# shellcheck disable=SC2086 # JVHOST_JAVA_OPTS is a list of options
exec "$lib/runtime/bin/java" --enable-native-access=ALL-UNNAMED "@$lib/jvm.options" -XX:AOTCache="$lib/jvhost.aot" \
    ${JVHOST_JAVA_OPTS:-} -jar "$lib/jvhost.jar" "$@"
WRAPPER
chmod 755 "$stage/usr/bin/jvhost"

# One executable per device type for QEMU's vhost-user descriptors (they name a binary, not a command line).
for json in "$dist"/qemu/vhost-user/*.json; do
    device=$(basename "$json" .json)
    device=${device#50-jvhost-}
    printf '#!/bin/sh\n# jvhost %s, for QEMU/libvirt (/usr/share/qemu/vhost-user/%s)\nexec /usr/bin/jvhost %s "$@"\n' \
        "$device" "$(basename "$json")" "$device" > "$stage/usr/libexec/jvhost/jvhost-$device"
    chmod 755 "$stage/usr/libexec/jvhost/jvhost-$device"
    cp "$json" "$stage/usr/share/qemu/vhost-user/"
done
for page in "$dist"/man/man1/*.1; do
    gzip -9n < "$page" > "$stage/usr/share/man/man1/$(basename "$page").gz"
done
cp "$dist/completion/jvhost" "$stage/usr/share/bash-completion/completions/jvhost"
cp "$dist/completion/_jvhost" "$stage/usr/share/zsh/vendor-completions/_jvhost"
cp "$dist"/systemd/* "$stage/lib/systemd/system/"
cat > "$stage/usr/share/doc/jvhost/copyright" <<'COPYRIGHT'
jvhost, with the Java runtime it bundles (jlink of Eclipse Temurin 25: GPLv2 with the Classpath Exception) and,
inside jvhost.jar, picocli (Apache-2.0), snakeyaml-engine (Apache-2.0) and noVNC (MPL-2.0).
COPYRIGHT
chmod -R u=rwX,go=rX "$stage/usr" "$stage/lib"

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: jvhost
Version: $debversion
Architecture: $arch
Maintainer: jvhost developers <jvhost@localhost>
Installed-Size: $size
Depends: libc6 (>= 2.36)
Recommends: qemu-system-x86 (>= 1:10)
Suggests: libvirglrenderer1, libegl1, libegl-mesa0, libgl1-mesa-dri
Section: misc
Priority: optional
Description: vhost-user device back-ends in Java
 Virtual-machine device back-ends (gpu, input, rng, console, scsi, vsock, sound,
 i2c, gpio, rtc) that serve QEMU over a vhost-user Unix socket, each in its own
 process. Bundles its own Java runtime (no system JDK needed) with an
 ahead-of-time cache, man pages, bash and zsh completion, QEMU vhost-user
 descriptors and systemd socket-activated template units.
CONTROL
mkdir -p "$out"
deb=$out/jvhost_${debversion}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
say "wrote $deb ($(du -h "$deb" | cut -f1), installed $((size / 1024)) MB)"
echo "$deb"

for t in ${tests[@]+"${tests[@]}"}; do
    "$root/scripts/package-test.sh" "$t" "$deb"
done
