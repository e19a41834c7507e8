package io.jvhost.e2e;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * systemd's socket activation, as a {@code .socket} unit hands a listening socket to {@code jvhost-rng@.service}:
 * {@code systemd-socket-activate} (Debian's systemd package) listens on the path and starts {@code jvhost rng} (no
 * socket option) with the socket as descriptor 3 and LISTEN_FDS=1, LISTEN_PID=its pid. The in-process front-end
 * connects to that path twice (the listening socket is accepted on again after the first front-end leaves), each time
 * getting random bytes through virtio-rng; LISTEN_PID of another process is ignored.
 */
@Timeout(120)
class SocketActivationTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void aSocketPassedAsDescriptorThreeIsServedToEveryFrontEnd(@TempDir final Path dir) throws Exception
    {
        final Path activate = Path.of("/usr/bin/systemd-socket-activate");
        if (!Files.isExecutable(activate))
        {
            // Debian 12's systemd package has it; a machine without systemd skips unless JVHOST_REQUIRE_E2E=1.
            assertThat(System.getenv("JVHOST_REQUIRE_E2E")).as("no " + activate).isNotEqualTo("1");
            Assumptions.abort("no " + activate);
        }
        final Path socket = dir.resolve("rng.sock");
        final List<String> command = new ArrayList<>(List.of(activate.toString(), "--listen=" + socket));
        command.addAll(jvhost("rng", "--period", "1000"));
        final Path log = dir.resolve("activated.log");
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try
        {
            final long deadline = System.nanoTime() + WAIT.toNanos();
            while (!Files.exists(socket))
            {
                assertThat(p.isAlive()).as("systemd-socket-activate runs; log:\n" + read(log)).isTrue();
                assertThat(System.nanoTime()).as("socket appears").isLessThan(deadline);
                Thread.sleep(20); // polls for systemd-socket-activate's socket
            }
            readEntropy(socket);
            readEntropy(socket);
            final String output = read(log);
            assertThat(output).as("jvhost served the activated descriptor")
                .contains("rng0: rng device listening on fd 3").contains("rng0: features negotiated")
                .doesNotContain("ERROR");
            assertThat(output.split("features negotiated", -1)).as("two front-ends, one process").hasSize(3);
        }
        finally
        {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS))
            {
                p.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void anotherProcesssListenPidIsIgnored(@TempDir final Path dir) throws Exception
    {
        final ProcessBuilder pb = new ProcessBuilder(jvhost("rng")).redirectErrorStream(true)
            .redirectOutput(dir.resolve("out.log").toFile());
        pb.environment().put("LISTEN_FDS", "1");
        pb.environment().put("LISTEN_PID", "1");
        final Process p = pb.start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(read(dir.resolve("out.log"))).contains("exactly one of --socket-path and --fd is required");
    }

    /** A virtio-rng session: one 4 KiB writable buffer comes back filled. */
    private static void readEntropy(final Path socket) throws Exception
    {
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(1, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long gpa = ram.allocate(4096, 4096);
            ram.fill(gpa, 4096, (byte)0);
            assertThat(q.add(new long[] {gpa}, new int[] {4096}, 0, 1)).isNotNegative();
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(q.usedLength(0)).isEqualTo(4096);
            int zeros = 0;
            for (final byte b : ram.read(gpa, 4096))
            {
                zeros += b == 0 ? 1 : 0;
            }
            assertThat(zeros).as("zero bytes left in 4096 random ones").isLessThan(64);
            session.stop();
        }
    }

    private static List<String> jvhost(final String... args)
    {
        final List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
            "--enable-native-access=ALL-UNNAMED"));
        // The build's coverage agent, as JvhostProcess adds it: SocketActivation runs only in these processes.
        final String coverage = System.getProperty("jvhost.coverage.agent", "");
        if (coverage.startsWith("-javaagent:"))
        {
            command.add(coverage);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.jvhost.launcher.Main"));
        command.addAll(List.of(args));
        return command;
    }

    private static String read(final Path log) throws java.io.IOException
    {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }
}
