package io.jvhost.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class VideoCommandTest
{
    @TempDir
    java.nio.file.Path dir;

    @Test
    void printCapabilitiesPrintsTheVideoTypeAsJson()
    {
        final CliRun r = CliRun.of("video", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"video\"}");
    }

    @Test
    void helpListsVhostDeviceVideosFlagsAndSaysStaging()
    {
        final CliRun r = CliRun.of("video", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("STAGING", "-s, --socket-path", "-d, --v4l2-device", "-b, --backend",
            "Default: /dev/video0");
    }

    @Test
    void theBackEndIsRequired()
    {
        final CliRun r = CliRun.of("video", "-s", dir.resolve("v.sock").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--backend is required");
    }

    @Test
    void aDecoderThatIsNotV4l2FailsWithItsErrno()
    {
        final CliRun r = CliRun.of("video", "-s", dir.resolve("v.sock").toString(), "-b", "v4l2-decoder", "-d",
            "/dev/null");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("/dev/null cannot decode", "ENOTTY");
    }
}
