package io.jvhost.launcher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@code scripts/build-initramfs.sh} of the jvhost checkout: busybox, the guest kernel's modules and the given
 * trees in a gzip'd cpio, cached by content (an unchanged init script and tree come from the cache in a moment).
 * Its output goes to this process's.
 *
 * @param home     the jvhost checkout (its {@code scripts/}).
 * @param guestDir the guest kernel's folder ({@code scripts/setup.sh guest}).
 */
record InitramfsScript(Path home, Path guestDir)
{
    /**
     * Builds {@code out} with {@code init} as {@code /init}.
     *
     * @param trees     folders copied into the archive's root (e.g. {@link Guest3dTree#image()}).
     * @param gzipLevel 1..9: 1 for the 3D guest's 200 MB (3x faster, 5 % larger).
     * @param modules   kernel modules, with their dependencies.
     * @throws IOException naming the script when it fails.
     */
    void build(final Path out, final Path init, final List<Path> trees, final int gzipLevel, final String... modules)
        throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of("bash",
            home.resolve("scripts/build-initramfs.sh").toString()));
        for (final Path tree : trees)
        {
            command.add("--add");
            command.add(tree.toString());
        }
        command.addAll(List.of("--gzip-level", Integer.toString(gzipLevel), out.toString(), init.toString()));
        command.addAll(List.of(modules));
        final ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
        pb.environment().put("JVHOST_GUEST_DIR", guestDir.toString());
        final int exit = pb.start().waitFor();
        if (exit != 0)
        {
            throw new IOException("building the guest initramfs failed (scripts/build-initramfs.sh exit " + exit + ")");
        }
    }
}
