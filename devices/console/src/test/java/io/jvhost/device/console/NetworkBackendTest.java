package io.jvhost.device.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.LogRecorder;
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link NetworkBackend} against real TCP clients on loopback: whatever a client does (a second one arriving, leaving
 * with input unread, not reading the guest's output) the console keeps one client, delivers what was sent and loses
 * nothing it said it took.
 */
@Timeout(20)
class NetworkBackendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(1 << 20);
    private NetworkBackend backend;
    private int seen;

    @BeforeEach
    void listen() throws Exception
    {
        backend = NetworkBackend.listen("console-test", 0);
    }

    @AfterEach
    void close()
    {
        backend.close();
        arena.close();
    }

    private Socket connect() throws IOException
    {
        final Socket s = new Socket(InetAddress.getLoopbackAddress(), backend.port());
        s.setSoTimeout(10_000);
        return s;
    }

    /** Polls until the bits have all been reported (since the last call). */
    private void awaitPoll(final int bits)
    {
        seen = 0;
        assertThat(Await.until(() ->
        {
            seen |= backend.poll();
            return (seen & bits) == bits;
        }, WAIT)).as("poll reported %d (got %d)", bits, seen).isTrue();
    }

    private String read(final int length)
    {
        final long n = backend.read(buffer.address(), length);
        return new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    @Test
    void aSecondClientIsClosedAtOnceAndTheFirstKeepsTheConsole() throws Exception
    {
        try (Socket first = connect())
        {
            awaitPoll(ConsoleBackend.CONNECTION);
            assertThat(backend.connected()).isTrue();
            try (Socket second = connect())
            {
                // Accepted and closed: the second client reads the end of the stream, not a hang.
                assertThat(Await.until(() ->
                {
                    backend.poll();
                    return readsEnd(second);
                }, WAIT)).isTrue();
            }
            backend.wantInput(true);
            first.getOutputStream().write("still here".getBytes(StandardCharsets.US_ASCII));
            awaitPoll(ConsoleBackend.INPUT);
            assertThat(read(64)).isEqualTo("still here");
            assertThat(backend.connected()).isTrue();
        }
    }

    @Test
    void aStormOfSecondClientsIsLoggedByTheThrottleNotALinePerClient() throws Exception
    {
        final int clients = LogThrottle.FIRST + 15;
        try (Socket first = connect();
             LogRecorder log = LogRecorder.of(NetworkBackend.class))
        {
            awaitPoll(ConsoleBackend.CONNECTION);
            for (int i = 0; i < clients; i++)
            {
                try (Socket extra = connect())
                {
                    assertThat(Await.until(() ->
                    {
                        backend.poll();
                        return readsEnd(extra);
                    }, WAIT)).as("client %d closed", i).isTrue();
                }
            }
            final List<LogRecorder.Entry> refused = log.matching(Level.WARNING, "refused a second console client");
            assertThat(refused).as("%d refused clients", clients).hasSize(LogThrottle.FIRST);
            assertThat(refused.getLast().message()).contains("(" + LogThrottle.FIRST + " refused so far)");
            assertThat(backend.connected()).as("the first client keeps the console").isTrue();
        }
    }

    private static boolean readsEnd(final Socket s)
    {
        try
        {
            s.setSoTimeout(50);
            return s.getInputStream().read() < 0;
        }
        catch (final SocketTimeoutException e)
        {
            return false;
        }
        catch (final IOException e)
        {
            return true; // reset: closed as well
        }
    }

    @Test
    void outputWithoutAClientIsTakenAndCountedAsDiscarded()
    {
        assertThat(backend.connected()).isFalse();
        assertThat(backend.write(buffer.address(), 100)).isEqualTo(100);
        assertThat(backend.write(buffer.address(), 28)).isEqualTo(28);
        assertThat(backend.discardedBytes()).isEqualTo(128);
        assertThat(backend.readable()).isZero();
        assertThat(backend.read(buffer.address(), 10)).isZero();
    }

    @Test
    void aClientThatLeavesIsGoneOnlyAfterItsLastInputWasReadAndAnotherMayComeThen() throws Exception
    {
        try (Socket first = connect())
        {
            awaitPoll(ConsoleBackend.CONNECTION);
            first.getOutputStream().write("bye".getBytes(StandardCharsets.US_ASCII));
        }
        // Input is not wanted yet: the client's close must not lose what it sent.
        assertThat(backend.connected()).isTrue();
        backend.wantInput(true);
        awaitPoll(ConsoleBackend.INPUT);
        assertThat(read(64)).isEqualTo("bye");
        awaitPoll(ConsoleBackend.CONNECTION);
        assertThat(backend.connected()).as("connected after the client left").isFalse();
        assertThat(backend.write(buffer.address(), 5)).as("output after it left is discarded").isEqualTo(5);
        assertThat(backend.discardedBytes()).isEqualTo(5);

        try (Socket second = connect())
        {
            awaitPoll(ConsoleBackend.CONNECTION);
            assertThat(backend.connected()).isTrue();
            second.getOutputStream().write('x');
            awaitPoll(ConsoleBackend.INPUT);
            assertThat(read(1)).isEqualTo("x");
        }
    }

    @Test
    void aClientThatDoesNotReadPushesBackAndIsToldWhenItReadsAgain() throws Exception
    {
        for (int i = 0; i < buffer.byteSize(); i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, i, (byte)i);
        }
        try (Socket client = connect())
        {
            awaitPoll(ConsoleBackend.CONNECTION);
            // Offer until the socket is full: the backend takes less than offered, never blocks, never drops.
            long taken = 0;
            for (int round = 0; round < 1000; round++)
            {
                final long n = backend.write(buffer.address(), buffer.byteSize());
                assertThat(n).isBetween(0L, buffer.byteSize());
                if (n < buffer.byteSize())
                {
                    taken += n;
                    break;
                }
                taken += n;
            }
            assertThat(backend.write(buffer.address(), 1)).as("a full socket takes nothing").isZero();
            assertThat(backend.discardedBytes()).isZero();

            // The client reads it all (each offer started at byte 0 of the pattern).
            final InputStream in = client.getInputStream();
            final byte[] got = new byte[64 * 1024];
            long read = 0;
            while (read < taken)
            {
                final int n = in.read(got, 0, (int)Math.min(got.length, taken - read));
                assertThat(n).isPositive();
                read += n;
            }
            awaitPoll(ConsoleBackend.OUTPUT);
            assertThat(backend.write(buffer.address(), 3)).as("writable again").isEqualTo(3);
            final byte[] three = in.readNBytes(3);
            assertThat(three).containsExactly(0, 1, 2);
            final OutputStream out = client.getOutputStream();
            out.write('k');
            backend.wantInput(true);
            awaitPoll(ConsoleBackend.INPUT);
            assertThat(read(8)).isEqualTo("k");
        }
    }
}
