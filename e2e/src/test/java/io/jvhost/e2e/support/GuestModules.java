package io.jvhost.e2e.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The 6.12 guest's out-of-tree drivers that {@code scripts/setup.sh guestmods} builds ({@code i2c-virtio.ko},
 * {@code gpio-virtio.ko}, {@code virtio_rtc.ko}, {@code spi-virtio.ko}, {@code virtio_can.ko}):
 * {@code JVHOST_GUEST_MODULES_DIR}, else {@code $JVHOST_CACHE/guest-modules-6.12} (default cache
 * {@code ~/.cache/jvhost}).
 */
public final class GuestModules {

    private final Path dir;

    private GuestModules(Path dir) {
        this.dir = dir;
    }

    /**
     * The modules for {@code env}'s kernel, or skips the test (fails it under {@code JVHOST_REQUIRE_E2E=1}) when they
     * are not built for it.
     */
    public static GuestModules require(GuestEnvironment env) {
        String override = System.getenv("JVHOST_GUEST_MODULES_DIR");
        String cache = System.getenv("JVHOST_CACHE");
        Path dir = override != null && !override.isBlank() ? Path.of(override)
                : (cache != null && !cache.isBlank() ? Path.of(cache)
                        : Path.of(System.getProperty("user.home"), ".cache", "jvhost")).resolve("guest-modules-6.12");
        String problem = null;
        try {
            if (!Files.isRegularFile(dir.resolve(".complete"))) {
                problem = "no out-of-tree guest drivers in " + dir + " (run scripts/setup.sh guestmods)";
            } else if (!Files.readString(dir.resolve("kernel-version")).strip().equals(env.kernelVersion())) {
                problem = "the drivers in " + dir + " are built for " + Files.readString(dir.resolve("kernel-version"))
                        .strip() + ", the guest kernel is " + env.kernelVersion() + " (run scripts/setup.sh guestmods)";
            }
        } catch (IOException e) {
            problem = "cannot read " + dir + ": " + e.getMessage();
        }
        if (problem != null) {
            if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E"))) {
                Assertions.fail(problem);
            }
            Assumptions.abort(problem);
        }
        return new GuestModules(dir);
    }

    /**
     * Copies {@code names} (e.g. {@code virtio_rtc}) into {@code tree/oot/NAME.ko}, for
     * {@link Initramfs#build(GuestEnvironment, Path, String, java.util.List, int, String...)}'s trees; the guest's
     * init then runs {@code insmod /oot/NAME.ko}. Skips the test (fails it under {@code JVHOST_REQUIRE_E2E=1}) when a
     * module is missing: the cache was built before the module was added to the set-up.
     *
     * @return {@code tree}
     */
    public Path addTo(Path tree, String... names) {
        for (String name : names) {
            if (!Files.isRegularFile(dir.resolve(name + ".ko"))) {
                String problem = dir + " has no " + name + ".ko: built by an older scripts/setup.sh"
                        + " (run scripts/setup.sh guestmods)";
                if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E"))) {
                    Assertions.fail(problem);
                }
                Assumptions.abort(problem);
            }
        }
        try {
            Files.createDirectories(tree.resolve("oot"));
            for (String name : names) {
                if (!Files.isRegularFile(dir.resolve(name + ".ko"))) {
                    // A cache built by an older set-up, without this driver.
                    String problem = "no " + name + ".ko in " + dir + " (run scripts/setup.sh guestmods)";
                    if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E"))) {
                        Assertions.fail(problem);
                    }
                    Assumptions.abort(problem);
                }
                Files.copy(dir.resolve(name + ".ko"), tree.resolve("oot").resolve(name + ".ko"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            return tree;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
