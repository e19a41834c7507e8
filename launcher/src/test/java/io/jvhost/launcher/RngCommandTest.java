package io.jvhost.launcher;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class RngCommandTest
{
    private static CliRun run(final String... args)
    {
        return CliRun.of(args);
    }

    @Test
    void printCapabilitiesPrintsTheRngTypeAsJson()
    {
        final CliRun r = run("rng", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"rng\"}");
    }

    @Test
    void versionNamesTheProjectVersion()
    {
        final CliRun r = run("--version");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("jvhost 0.");
    }

    @Test
    void periodOutsideOneTo65536IsRefused()
    {
        assertThat(run("rng", "-s", "/tmp/x.sock", "--period", "0").err()).contains("--period must be 1..65536");
        assertThat(run("rng", "-s", "/tmp/x.sock", "-p", "65537").exitCode()).isEqualTo(2);
    }

    @Test
    void socketPathOrFdIsRequiredButNotBoth()
    {
        assertThat(run("rng").err()).contains("exactly one of --socket-path and --fd");
        assertThat(run("rng", "-s", "/tmp/x.sock", "--fd", "3").exitCode()).isEqualTo(2);
    }

    @Test
    void socketCountMustBePositive()
    {
        assertThat(run("rng", "-s", "/tmp/x.sock", "-c", "0").err()).contains("--socket-count must be at least 1");
    }

    @Test
    void unreadableRngSourceFailsWithItsPath()
    {
        final CliRun r = run("rng", "-s", "/tmp/x.sock", "-f", "/nonexistent/entropy");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("/nonexistent/entropy").contains("ENOENT");
    }

    @Test
    void socketInAMissingDirectoryFailsWithTheErrno(@TempDir final Path dir)
    {
        final CliRun r = run("rng", "-s", dir.resolve("missing/rng.sock").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("bind failed: ENOENT");
    }

    @Test
    void socketPathsAreSuffixedLikeVhostDeviceRng()
    {
        final DaemonOptions options = new DaemonOptions();
        options.socketPath = Path.of("/run/vm/rng.sock");
        options.socketCount = 1;
        assertThat(options.socketPaths(true)).containsExactly(Path.of("/run/vm/rng.sock0"));
        assertThat(options.socketPaths(false)).containsExactly(Path.of("/run/vm/rng.sock"));
        options.socketCount = 3;
        assertThat(options.socketPaths(false)).isEqualTo(List.of(Path.of("/run/vm/rng.sock0"),
            Path.of("/run/vm/rng.sock1"), Path.of("/run/vm/rng.sock2")));
    }
}
