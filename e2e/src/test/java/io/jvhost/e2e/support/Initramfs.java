package io.jvhost.e2e.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

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
        return build(env, workDir, initScript, List.of(), 6, modules);
    }

    /**
     * {@link #build(Path, String, String...)} with the trees of {@code trees} copied into the archive's root (links
     * kept, later trees win) and gzip at {@code gzipLevel} (1..9). The builder caches by content, trees included.
     */
    public static Path build(Path workDir, String initScript, List<Path> trees, int gzipLevel, String... modules) {
        return build(GuestEnvironment.detect(), workDir, initScript, trees, gzipLevel, modules);
    }

    /**
     * {@link #build(Path, String, List, int, String...)} for the guest kernel of {@code env}.
     */
    public static Path build(GuestEnvironment env, Path workDir, String initScript, List<Path> trees, int gzipLevel,
            String... modules) {
        try {
            Files.createDirectories(workDir);
            Path init = Files.createTempFile(workDir, "init-", ".sh");
            Files.writeString(init, initScript, StandardCharsets.UTF_8);
            Path out = workDir.resolve(init.getFileName().toString().replace("init-", "initramfs-")
                    .replace(".sh", ".cpio.gz"));
            List<String> command = new ArrayList<>(List.of("bash", env.buildInitramfsScript().toString()));
            for (Path tree : trees) {
                command.add("--add");
                command.add(tree.toAbsolutePath().toString());
            }
            command.addAll(List.of("--gzip-level", Integer.toString(gzipLevel), out.toString(), init.toString()));
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

    /**
     * Appends to {@code initrd} a gzip'd newc archive holding the one file {@code /NAME} (mode 0755). The kernel
     * unpacks concatenated archives in order, so a test's script rides on a large cached image without rebuilding
     * it.
     */
    public static void appendFile(Path initrd, String name, String content) {
        byte[] data = content.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream cpio = new ByteArrayOutputStream();
        newcEntry(cpio, name, 0100755, data);
        newcEntry(cpio, "TRAILER!!!", 0, new byte[0]);
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(initrd, StandardOpenOption.APPEND))) {
            cpio.writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append /" + name + " to " + initrd, e);
        }
    }

    /** One newc entry: "070701", 13 eight-digit hex fields, the name with its NUL, the data, each padded to 4. */
    private static void newcEntry(ByteArrayOutputStream out, String name, int mode, byte[] data) {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        String header = "070701" + "%08X".repeat(13).formatted(
                990_001, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0,
                nameBytes.length, 0);
        out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(nameBytes);
        pad(out);
        out.writeBytes(data);
        pad(out);
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) {
            out.write(0);
        }
    }
}
