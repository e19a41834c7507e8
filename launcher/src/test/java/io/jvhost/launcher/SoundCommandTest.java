package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SoundCommandTest
{
    @Test
    void printCapabilitiesPrintsTheSoundTypeAsJson()
    {
        final CliRun r = CliRun.of("sound", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"sound\"}");
    }

    @Test
    void helpListsVhostDeviceSoundsFlagsAndTheFileBackend()
    {
        final CliRun r = CliRun.of("sound", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s+", " ")).contains("--socket", "--socket-fd", "--backend", "null|alsa|file",
            "--alsa-device", "Default: default", "--playback-file", "--capture-file");
    }

    @Test
    void socketAndBackendAreRequiredAndCheckedAsVhostDeviceSoundDoes()
    {
        assertThat(CliRun.of("sound", "--backend", "null").err()).contains("exactly one of --socket and --socket-fd");
        assertThat(CliRun.of("sound", "--socket", "/tmp/x.sock", "--socket-fd", "3", "--backend", "null").err())
            .contains("exactly one of --socket and --socket-fd");
        assertThat(CliRun.of("sound", "--socket", "/tmp/x.sock").err()).contains("--backend is required");
        assertThat(CliRun.of("sound", "--socket", "/tmp/x.sock", "--backend", "pipewire").err())
            .contains("pipewire is not available");
        assertThat(CliRun.of("sound", "--socket", "/tmp/x.sock", "--backend", "oss").err())
            .contains("unknown --backend 'oss'");
        assertThat(CliRun.of("sound", "--socket", "/tmp/x.sock", "--backend", "null", "--playback-file", "/tmp/a.wav")
            .err()).contains("go with --backend file");
        final CliRun notWav = CliRun.of("sound", "--socket", "/tmp/x.sock", "--backend", "file", "--capture-file",
            "/etc/hostname");
        assertThat(notWav.exitCode()).isEqualTo(1);
        assertThat(notWav.err()).contains("/etc/hostname", "not a RIFF/WAVE file");
    }
}
