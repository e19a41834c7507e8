package io.jvhost.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.e2e.support.Guest3d;
import io.jvhost.e2e.support.QemuVm;

/**
 * The 3D test guest works, proven against QEMU's own in-process virgl ({@code virtio-gpu-gl-pci} with an SDL GL
 * display; no X server is needed here, only a private {@code XDG_RUNTIME_DIR}), so that a jvhost 3D test is only
 * "boot this guest against jvhost and assert". The guest's kernel negotiates virgl, gl3d renders offscreen through
 * virgl and its pixels are exact, kms3d shows its frame at the connector's mode, and kmscube renders frames.
 * (QEMU's screendump cannot read an SDL GL display, so the displayed frame's pixels are checked against jvhost.)
 */
class Guest3dImageTest
{
    private static final Duration STEP = Duration.ofSeconds(300);

    @Test
    void guestRendersThroughQemusOwnVirgl(@TempDir final Path dir) throws Exception
    {
        final Guest3d guest = Guest3d.detect();
        guest.requireOrSkip();
        final Path runtime = Files.createDirectory(dir.resolve("xdg"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));

        final long started = System.nanoTime();
        final QemuVm.Builder builder = guest.vm(dir, Guest3d.clientsScript(60, 10));
        final long built = System.nanoTime();
        try (QemuVm vm = builder.display("sdl,gl=on").environment("XDG_RUNTIME_DIR", runtime.toString())
            .args("-device", "virtio-gpu-gl-pci").start())
        {
            assertThat(vm.awaitSerial(Pattern.compile("\\[drm\\] features:"), STEP))
                .as("the guest's virtio-gpu negotiated 3D").contains("+virgl");
            assertThat(vm.awaitSerial(Pattern.compile("GL3D: GL_RENDERER="), STEP))
                .as("Mesa renders through virgl, not its own llvmpipe").contains("GL3D: GL_RENDERER=virgl (");
            assertThat(vm.awaitSerial(Pattern.compile("GL3D: red="), STEP))
                .endsWith("GL3D: red=2016 clear=2080 other=0 misplaced=0");
            assertThat(vm.awaitSerial(Pattern.compile("GL3D: (PASS|FAIL)"), STEP)).endsWith("GL3D: PASS");
            final long gl3d = System.nanoTime();

            assertThat(vm.awaitSerial(Pattern.compile("KMS3D: GL_RENDERER="), STEP)).contains("=virgl (");
            assertThat(vm.awaitSerial(Pattern.compile("KMS3D: red="), STEP)).as("the frame as GL drew it")
                .contains("misplaced=0");
            assertThat(vm.awaitSerial(Pattern.compile("KMS3D: (shown|FAIL)"), STEP))
                .as("virtio-gpu-gl-pci's default mode").contains("KMS3D: shown 1280x800 ");
            vm.sendSerial("\n");  // kms3d holds its frame until a line arrives
            assertThat(vm.awaitSerial(Pattern.compile("KMS3D: (done|FAIL)"), STEP)).endsWith("KMS3D: done");

            assertThat(vm.awaitSerial(Pattern.compile("renderer: "), STEP)).as("kmscube's GL")
                .contains("virgl (");
            assertThat(vm.awaitSerial(Pattern.compile("Rendered \\d+ frames|GUEST3D: end"), STEP))
                .as("kmscube -c 10").containsPattern("Rendered [1-9]\\d* frames");
            assertThat(vm.awaitSerial(Pattern.compile("GUEST3D: test.sh exit"), STEP)).contains("exit 0");
            assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
            assertThat(vm.serialLog()).as("no kernel error on the console (quiet shows errors only)")
                .doesNotContain("Kernel panic", "JVHOST-INIT: some modules failed", "*ERROR*");

            final long end = System.nanoTime();
            vm.serialLog().lines().filter(l -> l.matches(".*(GUEST3D|GL3D|KMS3D|Rendered|\\[drm\\] features).*"))
                .forEach(System.out::println);
            System.out.printf("3D guest: image %d ms, boot to GL3D PASS %d ms, whole run %d ms%n",
                (built - started) / 1_000_000, (gl3d - built) / 1_000_000, (end - started) / 1_000_000);
        }
    }
}
