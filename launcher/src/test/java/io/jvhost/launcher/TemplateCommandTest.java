package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TemplateCommandTest
{
    @Test
    void printCapabilitiesPrintsTheTemplateTypeAsJson()
    {
        final CliRun r = CliRun.of("template", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"template\"}");
    }

    @Test
    void helpListsVhostDeviceTemplatesFlag()
    {
        final CliRun r = CliRun.of("template", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "listens on PATH exactly");
    }

    @Test
    void aSocketPathIsRequired()
    {
        final CliRun r = CliRun.of("template");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("exactly one of --socket-path and --fd is required");
    }
}
