package io.jvhost.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Where the pieces of an end-to-end test are: the guest kernel and busybox prepared by
 * {@code scripts/setup.sh guest}, the QEMU binary, and the repository's scripts.
 *
 * <p>Reads the variables that {@code ./jvhost test} exports: {@code JVHOST_GUEST_DIR} (else
 * {@code $JVHOST_CACHE/guest}, else {@code ~/.cache/jvhost/guest}) and {@code JVHOST_QEMU} (else
 * {@code qemu-system-x86_64} on {@code PATH}). Call {@link #requireOrSkip()} at the start of a test:
 * when something is missing, the test is skipped, or fails when {@code JVHOST_REQUIRE_E2E=1}.
 *
 * <p>A test that needs more than QEMU 10 and the 6.1 guest says so explicitly:
 * {@code detect().withQemu11()} runs QEMU 11.1 (its user-creatable generic
 * {@code vhost-user-test-device-pci}), {@code detect().withGuest612()} boots the 6.12 kernel. Hand the result to
 * {@link QemuVm.Builder#environment} and {@link Initramfs#build(GuestEnvironment, Path, String, String...)}.
 */
public final class GuestEnvironment {

    /** The lowest QEMU major version the tests are written for (vhost-user gpu/input under TCG). */
    public static final int MIN_QEMU_MAJOR = 10;
    /** The QEMU major version of {@link #withQemu11()}: the first whose generic vhost-user device is user-creatable. */
    public static final int QEMU11_MAJOR = 11;
    /** The kernel series of {@link #withGuest612()}. */
    public static final String GUEST612_SERIES = "6.12.";

    private static volatile GuestEnvironment detected;

    private final Path repoRoot;
    private final Path guestDir;
    private final Path qemu;
    private final int minQemuMajor;
    private final String kernelSeries;
    private final boolean arm64;
    private volatile String qemuVersion;

    private GuestEnvironment(Path repoRoot, Path guestDir, Path qemu, int minQemuMajor, String kernelSeries) {
        this(repoRoot, guestDir, qemu, minQemuMajor, kernelSeries, false);
    }

    private GuestEnvironment(Path repoRoot, Path guestDir, Path qemu, int minQemuMajor, String kernelSeries,
            boolean arm64) {
        this.repoRoot = repoRoot;
        this.guestDir = guestDir;
        this.qemu = qemu;
        this.minQemuMajor = minQemuMajor;
        this.kernelSeries = kernelSeries;
        this.arm64 = arm64;
    }

    /** The environment of this machine, looked up once. */
    public static GuestEnvironment detect() {
        GuestEnvironment env = detected;
        if (env == null) {
            synchronized (GuestEnvironment.class) {
                env = detected;
                if (env == null) {
                    env = new GuestEnvironment(findRepoRoot(), findGuestDir(), findQemu(), MIN_QEMU_MAJOR, null);
                    detected = env;
                }
            }
        }
        return env;
    }

    /**
     * This environment with QEMU 11.1 as the front-end: {@code JVHOST_QEMU11} (else the wrapper that
     * {@code scripts/setup.sh qemu11} writes, {@code $JVHOST_CACHE/qemu-11/qemu-system-x86_64}). Needed for
     * {@code vhost-user-test-device-pci}, the generic device QEMU 10 cannot create.
     */
    public GuestEnvironment withQemu11() {
        return new GuestEnvironment(repoRoot, guestDir, findQemu11(), QEMU11_MAJOR, kernelSeries);
    }

    /**
     * This environment with the 6.12 guest kernel and its busybox: {@code JVHOST_GUEST612_DIR} (else
     * {@code $JVHOST_CACHE/guest-6.12}, from {@code scripts/setup.sh guest612}). Needed for drivers 6.1 lacks.
     */
    public GuestEnvironment withGuest612() {
        return new GuestEnvironment(repoRoot, findGuest612Dir(), qemu, minQemuMajor, GUEST612_SERIES);
    }

    /**
     * The aarch64 guest of {@code scripts/setup.sh arm64}: {@code qemu-system-aarch64} (QEMU 10,
     * {@code JVHOST_QEMU_AARCH64} else on {@code PATH}) with {@code -M virt -cpu max}, the arm64 6.12 kernel and busybox of
     * {@code JVHOST_GUEST_ARM64_DIR} (else {@code $JVHOST_CACHE/guest-arm64-6.12}). Its console is
     * {@code ttyAMA0}; its out-of-tree SCMI drivers are in {@code modules/} there.
     */
    public GuestEnvironment withArm64Guest() {
        String dir = System.getenv("JVHOST_GUEST_ARM64_DIR");
        String q = System.getenv("JVHOST_QEMU_AARCH64");
        return new GuestEnvironment(repoRoot, dir != null && !dir.isBlank() ? Path.of(dir).toAbsolutePath()
                : cacheDir().resolve("guest-arm64-6.12"), q != null && !q.isBlank() ? Path.of(q).toAbsolutePath()
                : onPath("qemu-system-aarch64").orElse(null), MIN_QEMU_MAJOR, GUEST612_SERIES, true);
    }

    /** True for {@link #withArm64Guest()}: QEMU's {@code virt} machine with {@code -cpu max}, not {@code pc}. */
    public boolean arm64() {
        return arm64;
    }

    /** The repository's root (the folder holding {@code scripts/build-initramfs.sh}), or null. */
    public Path repoRoot() {
        return repoRoot;
    }

    /** The guest folder of {@code scripts/setup.sh guest}. */
    public Path guestDir() {
        return guestDir;
    }

    /** The guest kernel image. */
    public Path kernel() {
        return guestDir.resolve("vmlinuz");
    }

    /** The guest kernel's version (e.g. {@code 6.1.0-56-amd64}), or null when unknown. */
    public String kernelVersion() {
        try {
            return Files.readString(guestDir.resolve("kernel-version"), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return null;
        }
    }

    /** The QEMU binary, or null when none was found. */
    public Path qemu() {
        return qemu;
    }

    /** The first line of {@code qemu --version}, or null when QEMU is missing or does not answer. */
    public String qemuVersion() {
        String v = qemuVersion;
        if (v == null && qemu != null && Files.isExecutable(qemu)) {
            try {
                Process p = new ProcessBuilder(qemu.toString(), "--version").redirectErrorStream(true).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    v = out.lines().findFirst().orElse("").strip();
                    qemuVersion = v;
                }
            } catch (IOException e) {
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return v;
    }

    /** The major version of {@link #qemu()}, or -1 when unknown. */
    public int qemuMajor() {
        String v = qemuVersion();
        if (v == null) {
            return -1;
        }
        Matcher m = Pattern.compile("version (\\d+)\\.").matcher(v);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** A script of the repository, e.g. {@code script("build-initramfs.sh")}. */
    public Path script(String name) {
        if (repoRoot == null) {
            throw new IllegalStateException("the repository root (with scripts/" + name + ") was not found from "
                    + Path.of("").toAbsolutePath());
        }
        return repoRoot.resolve("scripts").resolve(name);
    }

    /** The initramfs builder, {@code scripts/build-initramfs.sh}. */
    public Path buildInitramfsScript() {
        return script("build-initramfs.sh");
    }

    /** What is missing, one readable sentence each; empty when everything is there. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (repoRoot == null) {
            problems.add("scripts/build-initramfs.sh not found in " + Path.of("").toAbsolutePath() + " or its parents");
        }
        if (!Files.isRegularFile(kernel())) {
            problems.add("no guest kernel at " + kernel());
        } else if (kernelSeries != null && !String.valueOf(kernelVersion()).startsWith(kernelSeries)) {
            problems.add("the guest kernel in " + guestDir + " is '" + kernelVersion() + "', need " + kernelSeries + "x");
        }
        if (arm64 && !Files.isRegularFile(guestDir.resolve(".complete"))) {
            problems.add("no arm64 guest in " + guestDir + " (run scripts/setup.sh arm64)");
        }
        if (arm64 && onPath("dtc").isEmpty()) {
            problems.add("no dtc, which adds the SCMI node to QEMU's device tree (run scripts/setup.sh arm64)");
        }
        if (!Files.isExecutable(guestDir.resolve("busybox"))) {
            problems.add("no busybox at " + guestDir.resolve("busybox"));
        }
        if (qemu == null) {
            problems.add(arm64 ? "no qemu-system-aarch64 (JVHOST_QEMU_AARCH64 unset and none on PATH; run"
                    + " scripts/setup.sh arm64)" : "no qemu-system-x86_64 (JVHOST_QEMU unset and none on PATH)");
        } else if (!Files.isExecutable(qemu)) {
            problems.add("QEMU " + qemu + " is not executable");
        } else if (qemuMajor() < minQemuMajor) {
            problems.add("QEMU " + qemu + " is '" + qemuVersion() + "', need version " + minQemuMajor + " or newer");
        }
        return problems;
    }

    /**
     * Skips the calling test when the environment is incomplete, or fails it when the variable
     * {@code JVHOST_REQUIRE_E2E} is {@code 1} (as under {@code ./jvhost test}).
     */
    public void requireOrSkip() {
        List<String> problems = problems();
        if (problems.isEmpty()) {
            return;
        }
        String message = "end-to-end environment incomplete: " + String.join("; ", problems)
                + " (run ./jvhost setup, or scripts/setup.sh all)";
        if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E"))) {
            Assertions.fail(message);
        }
        Assumptions.abort(message);
    }

    private static Path findRepoRoot() {
        String prop = System.getProperty("jvhost.root");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop).toAbsolutePath();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("scripts/build-initramfs.sh"))) {
                return dir;
            }
        }
        return null;
    }

    private static Path findGuestDir() {
        String dir = System.getenv("JVHOST_GUEST_DIR");
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir).toAbsolutePath();
        }
        return cacheDir().resolve("guest");
    }

    private static Path cacheDir() {
        String cache = System.getenv("JVHOST_CACHE");
        if (cache != null && !cache.isBlank()) {
            return Path.of(cache).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".cache", "jvhost");
    }

    private static Path findGuest612Dir() {
        String dir = System.getenv("JVHOST_GUEST612_DIR");
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir).toAbsolutePath();
        }
        return cacheDir().resolve("guest-6.12");
    }

    private static Path findQemu11() {
        String env = System.getenv("JVHOST_QEMU11");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        return cacheDir().resolve("qemu-11").resolve("qemu-system-x86_64");
    }

    private static Path findQemu() {
        String env = System.getenv("JVHOST_QEMU");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        return onPath("qemu-system-x86_64").orElse(null);
    }

    static Optional<Path> onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "GuestEnvironment[root=" + repoRoot + ", guest=" + guestDir + ", qemu=" + qemu + " (>= "
                + minQemuMajor + ")]";
    }
}
