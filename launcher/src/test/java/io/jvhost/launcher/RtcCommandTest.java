package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RtcCommandTest
{
    @Test
    void printCapabilitiesPrintsTheRtcTypeAsJson()
    {
        final CliRun r = CliRun.of("rtc", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"rtc\"}");
    }

    @Test
    void helpListsVhostDeviceRtcsFlags()
    {
        final CliRun r = CliRun.of("rtc", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "--socket-fd", "--no-offer-alarm", "--no-utc", "--no-tai",
            "--no-monotonic");
    }

    @Test
    void aSocketPathOrDescriptorIsRequired()
    {
        final CliRun r = CliRun.of("rtc", "--no-tai");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("exactly one of --socket-path and --fd is required");
    }
}
