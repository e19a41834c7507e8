package io.jvhost.e2e.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds guest initramfs images with {@code scripts/build-initramfs.sh}.
 *
 * <p>The image holds busybox with all its applets, the named kernel modules with their
 * dependencies, {@code /modules.order} (the {@code .ko} files in load order) and
 * {@code /bin/load-modules}, which inserts them all. Virtio drivers do not pull in their transport:
 * name {@code virtio_pci} as well for a PCI device. Start init scripts with {@link #PROLOGUE}.
 */
public final class Initramfs {

    /** The usual start of an init script: a shell, the pseudo file systems, the modules. */
    public static final String PROLOGUE = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            /bin/load-modules || echo "JVHOST-INIT: some modules failed to load"
            """;

    private Initramfs() {
    }

    /**
     * Builds an initramfs in {@code workDir} whose {@code /init} is {@code initScript}.
     *
     * @return the gzip'd cpio archive, a new file in {@code workDir}
     */
    public static Path build(Path workDir, String initScript, String... modules) {
        return build(GuestEnvironment.detect(), workDir, initScript, modules);
    }

    /**
     * Builds an initramfs for the guest kernel of {@code env} (e.g. {@link GuestEnvironment#withGuest612()}):
     * its modules and its busybox.
     *
     * @return the gzip'd cpio archive, a new file in {@code workDir}
     */
    public static Path build(GuestEnvironment env, Path workDir, String initScript, String... modules) {
        try {
            Files.createDirectories(workDir);
            Path init = Files.createTempFile(workDir, "init-", ".sh");
            Files.writeString(init, initScript, StandardCharsets.UTF_8);
            Path out = workDir.resolve(init.getFileName().toString().replace("init-", "initramfs-")
                    .replace(".sh", ".cpio.gz"));
            List<String> command = new ArrayList<>(List.of("bash", env.buildInitramfsScript().toString(),
                    out.toString(), init.toString()));
            command.addAll(List.of(modules));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().put("JVHOST_GUEST_DIR", env.guestDir().toString());
            Process p = pb.start();
            p.getOutputStream().close();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("build-initramfs.sh timed out: " + output);
            }
            if (p.exitValue() != 0 || !Files.isRegularFile(out)) {
                throw new IllegalStateException("build-initramfs.sh failed (exit " + p.exitValue() + "): "
                        + output.strip());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building an initramfs", e);
        }
    }
}
