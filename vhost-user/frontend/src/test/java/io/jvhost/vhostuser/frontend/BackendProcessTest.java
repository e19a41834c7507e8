package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Back-ends run as child processes.
 */
@Timeout(60)
class BackendProcessTest
{
    @TempDir
    Path dir;

    private static String java()
    {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    @Test
    void externalBackendIsReadyOnceListeningServesASessionAndIsKilledOnClose() throws Exception
    {
        final Path socket = dir.resolve("echo.sock");
        final Process process;
        try (BackendProcess backend = BackendProcess.start(List.of(java(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), EchoBackendMain.class.getName(), socket.toString()),
                socket, dir.resolve("echo.stderr"), Duration.ofSeconds(30)))
        {
            process = backend.process();
            assertThat(BackendProcess.isListening(socket)).isTrue();
            try (GuestRam ram = GuestRam.create(8L << 20, 2);
                 VhostUserFrontend fe = VhostUserFrontend.connect(socket);
                 VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
            {
                final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 77, true);
                session.start();
                traffic.run(500, Duration.ofSeconds(5));
                session.stop();
            }
            assertThat(backend.isAlive()).isTrue();
            assertThat(backend.stderr()).contains("echo back-end starting");
        }
        assertThat(process.isAlive()).isFalse();
    }

    @Test
    void backendThatExitsBeforeListeningFailsStartWithItsStatusAndStderr()
    {
        final Path socket = dir.resolve("never.sock");
        assertThatThrownBy(() -> BackendProcess.start(List.of("sh", "-c", "echo no-gpu-here >&2; exit 3"), socket,
            dir.resolve("fail.stderr"), Duration.ofSeconds(10)))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("status 3")
            .hasMessageContaining("no-gpu-here");
    }

    @Test
    void backendThatNeverListensFailsStartAfterTheTimeoutAndIsKilled()
    {
        final Path socket = dir.resolve("never.sock");
        final long started = System.nanoTime();
        assertThatThrownBy(() -> BackendProcess.start(List.of("sleep", "30"), socket, dir.resolve("sleep.stderr"),
            Duration.ofMillis(300)))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("did not listen");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThat(ProcessHandle.current().children()
            .filter(p -> p.info().command().orElse("").endsWith("sleep")).toList()).isEmpty();
    }

    @Test
    void frontendConnectRetriesUntilALateBackendListens() throws Exception
    {
        final Path socket = dir.resolve("late.sock");
        final CountDownLatch done = new CountDownLatch(1);
        final Thread late = Thread.ofPlatform().start(() ->
        {
            try
            {
                Thread.sleep(300);
                final EchoBackend backend = EchoBackend.start(dir);
                done.await();
                backend.close();
            }
            catch (final Exception e)
            {
                throw new IllegalStateException(e);
            }
        });
        try (VhostUserFrontend fe = VhostUserFrontend.connect(dir.resolve("echo.sock"), Duration.ofSeconds(10)))
        {
            assertThat(fe.getFeatures()).isEqualTo(EchoDevice.FEATURES | (1L << 30));
        }
        finally
        {
            done.countDown();
        }
        late.join();
        assertThatThrownBy(() -> VhostUserFrontend.connect(socket, Duration.ofMillis(100)))
            .isInstanceOf(IOException.class).hasMessageContaining("cannot connect");
    }
}
