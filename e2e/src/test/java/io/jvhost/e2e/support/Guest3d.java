package io.jvhost.e2e.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.jvhost.launcher.Guest3dTree;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The 3D test guest: busybox, the guest kernel's virtio_pci and virtio_gpu modules, Debian 12's Mesa 22.3.6 (the
 * virgl driver, EGL, GBM, GLES and their library closure, unpacked by {@code scripts/setup.sh guest3d}), kmscube,
 * and our clients gl3d and kms3d (test resources, built here with gcc against that Mesa), in one initramfs.
 *
 * <p>The image is built once and cached by content (about 85 MB gzip'd; 30 s); a test's shell script rides on it as
 * a small archive appended to a copy ({@link Initramfs#appendFile}). {@code /init} mounts, loads the modules, waits
 * for {@code /dev/dri/card0}, runs the script with {@code MESA_SHADER_CACHE_DISABLE=true HOME=/tmp} and powers off.
 * It needs {@value #MEMORY} of RAM: with 512M the kernel has no room to unpack it.
 *
 * <pre>{@code
 * Guest3d guest = Guest3d.detect();
 * guest.requireOrSkip();
 * try (QemuVm vm = guest.vm(dir, Guest3d.clientsScript(30, 10)).vhostUserDevice("vhost-user-gpu-pci", sock, null)
 *         .start()) {
 *     vm.awaitSerial(Pattern.compile("GL3D: PASS"), Duration.ofSeconds(300));
 * }
 * }</pre>
 */
public final class Guest3d
{
    /** Guest RAM for the 3D guest. */
    public static final String MEMORY = Guest3dTree.MEMORY;

    /** What the guest's {@code /init} does around the test's {@code /test.sh}. */
    static final String INIT = Initramfs.PROLOGUE + """
        export MESA_SHADER_CACHE_DISABLE=true HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
        i=0
        while [ ! -e /dev/dri/card0 ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
        echo "GUEST3D: up at $(cut -d' ' -f1 /proc/uptime) s: $(ls /dev/dri 2>&1 | tr '\\n' ' ')"
        if [ -f /test.sh ]; then
            sh /test.sh
            echo "GUEST3D: test.sh exit $? at $(cut -d' ' -f1 /proc/uptime) s"
        else
            echo "GUEST3D: no /test.sh"
        fi
        poweroff -f
        """;

    private static final List<String> CLIENTS = List.of("gl3d", "kms3d");
    private static final List<String> SOURCES = List.of("gl3d.c", "kms3d.c", "picture3d.h");

    private final GuestEnvironment environment;
    private final Guest3dTree tree;

    private Guest3d(final GuestEnvironment environment, final Guest3dTree tree)
    {
        this.environment = environment;
        this.tree = tree;
    }

    /**
     * The 3D guest of this machine: {@code $JVHOST_GUEST3D_DIR}, else {@code $JVHOST_CACHE/guest3d}, else
     * {@code ~/.cache/jvhost/guest3d} (where {@code scripts/setup.sh guest3d} puts it).
     */
    public static Guest3d detect()
    {
        return new Guest3d(GuestEnvironment.detect(), Guest3dTree.detect());
    }

    /**
     * The standard client run: the kernel's virtio-gpu feature lines, {@code gl3d}, {@code kms3d HOLD} (it prints
     * {@code KMS3D: shown WxH}, then waits HOLD seconds or for a line on the serial console), and
     * {@code kmscube -c FRAMES}. Each step prints {@code GUEST3D: <step> at <uptime> s} before it starts.
     */
    public static String clientsScript(final int holdSeconds, final int kmscubeFrames)
    {
        return """
            dmesg | grep -E '\\[drm\\] (features|number of cap sets|cap set)'
            step() { echo "GUEST3D: $1 at $(cut -d' ' -f1 /proc/uptime) s"; }
            step gl3d
            timeout 300 gl3d /dev/dri/renderD128
            step kms3d
            timeout 300 kms3d %d /dev/dri/card0
            step kmscube
            timeout 300 kmscube -D /dev/dri/card0 -c %d
            step end
            """.formatted(holdSeconds, kmscubeFrames);
    }

    /** The folder of {@code scripts/setup.sh guest3d}. */
    public Path dir()
    {
        return tree.dir();
    }

    /** What goes into the guest: ld-linux, the Mesa closure, kmscube, glvnd's vendor file. */
    public Path image()
    {
        return tree.image();
    }

    /** Every package unpacked: the clients' headers and link libraries. */
    public Path root()
    {
        return tree.root();
    }

    /** What is missing, one sentence each (the base guest's problems included); empty when all is there. */
    public List<String> problems()
    {
        final List<String> problems = new ArrayList<>(environment.problems());
        if (null != tree.problem())
        {
            problems.add(tree.problem());
        }
        if (GuestEnvironment.onPath("gcc").isEmpty())
        {
            problems.add("no gcc on PATH to build the 3D guest's clients");
        }
        return problems;
    }

    /** Skips the calling test when something is missing, or fails it under {@code JVHOST_REQUIRE_E2E=1}. */
    public void requireOrSkip()
    {
        final List<String> problems = problems();
        if (problems.isEmpty())
        {
            return;
        }
        final String message = "3D guest environment incomplete: " + String.join("; ", problems)
            + " (run ./jvhost setup, or scripts/setup.sh all)";
        if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E")))
        {
            Assertions.fail(message);
        }
        Assumptions.abort(message);
    }

    /**
     * Builds gl3d and kms3d from the test resources with gcc, against Debian 12's headers and libraries in
     * {@link #root()}, into {@code workDir/guest3d-clients/usr/local/bin}.
     *
     * @return the folder to add to the image (its root)
     */
    public Path buildClients(final Path workDir)
    {
        final Path sources = workDir.resolve("guest3d-src");
        final Path tree = workDir.resolve("guest3d-clients");
        final Path bin = tree.resolve("usr/local/bin");
        final Path lib = root().resolve("usr/lib/x86_64-linux-gnu");
        try
        {
            Files.createDirectories(sources);
            Files.createDirectories(bin);
            for (final String name : SOURCES)
            {
                try (InputStream in = Guest3d.class.getResourceAsStream("/io/jvhost/e2e/" + name))
                {
                    if (in == null)
                    {
                        throw new IllegalStateException("test resource io/jvhost/e2e/" + name + " is missing");
                    }
                    Files.copy(in, sources.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            for (final String client : CLIENTS)
            {
                run(List.of("gcc", "-O2", "-s", "-Wall", "-Wextra", "-I" + sources,
                    "-I" + root().resolve("usr/include"), "-I" + root().resolve("usr/include/libdrm"),
                    "-o", bin.resolve(client).toString(), sources.resolve(client + ".c").toString(),
                    "-L" + lib, "-Wl,-rpath-link," + lib + ":" + root().resolve("lib/x86_64-linux-gnu"),
                    "-lEGL", "-lGLESv2", "-lgbm", "-ldrm", "-lm"), "building the 3D guest's " + client);
            }
            return tree;
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Builds (or takes from the cache) the guest image with freshly built clients.
     *
     * @return a copy of the image in {@code workDir}, without a {@code /test.sh}
     */
    public Path initramfs(final Path workDir)
    {
        final Path clients = buildClients(workDir);
        return Initramfs.build(workDir, INIT, List.of(image(), clients), 1, "virtio_pci", "virtio_gpu");
    }

    /**
     * A guest that runs {@code script} as {@code /test.sh}: the image with the script appended, {@value #MEMORY},
     * the guest kernel. The caller adds the GPU device (and a display) and starts it.
     */
    public QemuVm.Builder vm(final Path workDir, final String script)
    {
        final Path initrd = initramfs(workDir);
        Initramfs.appendFile(initrd, "test.sh", script);
        return QemuVm.builder(workDir).kernel(environment.kernel()).initrd(initrd).memory(MEMORY).name("guest3d");
    }

    private static void run(final List<String> command, final String what)
    {
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            process.getOutputStream().close();
            final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(120, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                throw new IllegalStateException(what + " timed out: " + String.join(" ", command));
            }
            if (process.exitValue() != 0)
            {
                throw new IllegalStateException(what + " failed (exit " + process.exitValue() + "): "
                    + String.join(" ", command) + "\n" + output.strip());
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(what + " failed", e);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while " + what, e);
        }
    }
}
