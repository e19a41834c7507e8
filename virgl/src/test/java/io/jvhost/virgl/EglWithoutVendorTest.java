package io.jvhost.virgl;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On a host whose EGL has no surfaceless platform (glvnd's libEGL without Mesa's vendor library, made here with
 * {@code __EGL_VENDOR_LIBRARY_DIRS=/nonexistent}), virglrenderer 0.10.4's init crashes the process with SIGSEGV.
 * The binding asks EGL first and refuses with the reason: the child JVM prints it and exits normally.
 */
@Timeout(120)
class EglWithoutVendorTest
{
    @Test
    void initWithoutASurfacelessEglIsRefusedWithTheReasonInsteadOfCrashing() throws Exception
    {
        if (!VirglLibrary.available())
        {
            try
            {
                VirglLibrary.check();
            }
            catch (final VirglUnavailableException e)
            {
                VirglEnvironment.unavailable(e.getMessage());
            }
        }
        final ProcessBuilder builder = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "-XX:ErrorFile=target/hs_err_egl_probe_%p.log",
            "-cp", System.getProperty("java.class.path"),
            EglWithoutVendorProbe.class.getName())
            .redirectErrorStream(true);
        builder.environment().put("__EGL_VENDOR_LIBRARY_DIRS", "/nonexistent");
        final Process child = builder.start();
        final String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(child.exitValue()).as("exit status of the child JVM; its output:%n%s", output).isZero();
        assertThat(output).contains("PROBE unavailable: EGL has no EGL_MESA_platform_surfaceless");
    }
}
