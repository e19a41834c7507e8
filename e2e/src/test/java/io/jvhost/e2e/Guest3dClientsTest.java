package io.jvhost.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.e2e.support.Guest3d;

/**
 * The 3D guest's user space, checked on the host in a second, before any guest boots: the clients build, every ELF
 * of the image loads its libraries from the image only (through the image's own loader, the host's cache ignored),
 * and gl3d run on the image's Mesa 22.3.6 (its software driver, on EGL's surfaceless platform) draws the exact
 * picture.
 */
class Guest3dClientsTest
{
    @Test
    void everyProgramOfTheImageLoadsOnlyTheImagesLibraries(@TempDir final Path dir) throws Exception
    {
        final Guest3d guest = Guest3d.detect();
        guest.requireOrSkip();
        final Path clients = guest.buildClients(dir).resolve("usr/local/bin");
        final Path lib = guest.image().resolve("usr/lib/x86_64-linux-gnu");
        final List<Path> programs = new ArrayList<>(List.of(clients.resolve("gl3d"), clients.resolve("kms3d"),
            guest.image().resolve("usr/bin/kmscube"), lib.resolve("libEGL_mesa.so.0"), lib.resolve("libEGL.so.1"),
            lib.resolve("libGLESv2.so.2"), lib.resolve("libgbm.so.1")));
        try (Stream<Path> drivers = Files.list(lib.resolve("dri")))
        {
            drivers.forEach(programs::add);
        }
        assertThat(programs).as("the virgl driver is in the image")
            .contains(lib.resolve("dri/virtio_gpu_dri.so"));

        for (final Path program : programs)
        {
            final String out = run(guest, List.of("--list", program.toString()));
            final List<String> libraries = out.lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("linux-vdso")).toList();
            assertThat(libraries).as("ldd %s", program).isNotEmpty()
                .allSatisfy(l -> assertThat(l).doesNotContain("not found")
                    .containsAnyOf(guest.image().toString(), program.toString()));
        }
    }

    @Test
    void gl3dDrawsTheExactPictureOnTheImagesMesa(@TempDir final Path dir) throws Exception
    {
        final Guest3d guest = Guest3d.detect();
        guest.requireOrSkip();
        final Path gl3d = guest.buildClients(dir).resolve("usr/local/bin/gl3d");

        final String out = run(guest, List.of(gl3d.toString(), "--surfaceless"));

        assertThat(out).as(out).contains("GL3D: GL_RENDERER=llvmpipe (", "Mesa 22.3.6",
            "GL3D: red=2016 clear=2080 other=0 misplaced=0", "GL3D: PASS");
    }

    /** Runs ARGS under the image's loader with the image's libraries, EGL vendor file and DRI drivers. */
    private static String run(final Guest3d guest, final List<String> args) throws IOException, InterruptedException
    {
        final Path image = guest.image();
        final List<String> command = new ArrayList<>(List.of(
            image.resolve("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").toString(), "--inhibit-cache",
            "--library-path", image.resolve("lib/x86_64-linux-gnu") + ":" + image.resolve("usr/lib/x86_64-linux-gnu")));
        command.addAll(args);
        final ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("__EGL_VENDOR_LIBRARY_DIRS", image.resolve("usr/share/glvnd/egl_vendor.d").toString());
        pb.environment().put("LIBGL_DRIVERS_PATH", image.resolve("usr/lib/x86_64-linux-gnu/dri").toString());
        pb.environment().put("MESA_SHADER_CACHE_DISABLE", "true");
        final Process p = pb.start();
        p.getOutputStream().close();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
        assertThat(p.exitValue()).as("exit code of %s: %s", command, out).isZero();
        return out;
    }
}
