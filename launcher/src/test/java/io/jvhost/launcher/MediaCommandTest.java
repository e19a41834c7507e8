package io.jvhost.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class MediaCommandTest
{
    @TempDir
    java.nio.file.Path dir;

    @Test
    void printCapabilitiesPrintsTheMediaTypeAsJson()
    {
        final CliRun r = CliRun.of("media", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"media\"}");
    }

    @Test
    void helpListsVhostDeviceMediasFlags()
    {
        final CliRun r = CliRun.of("media", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "--socket-fd", "-d, --v4l2-device", "-b, --backend",
            "Default: /dev/video0", "Default: null");
    }

    @Test
    void anUnknownOrMissingBackEndIsRefused()
    {
        final CliRun unknown = CliRun.of("media", "-s", dir.resolve("m.sock").toString(), "-b", "webcam");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown --backend 'webcam'");
        final CliRun ffmpeg = CliRun.of("media", "-s", dir.resolve("m.sock").toString(), "-b", "ffmpeg-decoder");
        assertThat(ffmpeg.exitCode()).isEqualTo(2);
        assertThat(ffmpeg.err()).contains("ffmpeg-decoder is not available");
    }

    @Test
    void aV4l2ProxyOfAMissingNodeFailsWithItsErrno()
    {
        final CliRun r = CliRun.of("media", "-s", dir.resolve("m.sock").toString(), "-b", "v4l2-proxy", "-d",
            dir.resolve("video5").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("video5 cannot be proxied", "ENOENT");
    }
}
