package io.jvhost.device.vsock;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.os.StreamFd;
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The host side's request reader against host clients that misbehave: lines in pieces, lines too long, no line at
 * all, more clients mid-request than it holds. Each bad client is closed alone; the good ones get through.
 */
@Timeout(20)
class UdsHostTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private UdsHost host;
    private final List<SocketChannel> clients = new ArrayList<>();
    private final List<Integer> requested = new ArrayList<>();
    private final List<StreamFd> handed = new ArrayList<>();
    private final UdsHost.Events events = new UdsHost.Events()
    {
        @Override
        public void hostRequest(final int port, final StreamFd client)
        {
            requested.add(port);
            handed.add(client);
        }

        @Override
        public void connectionReady(final int slot, final int mask)
        {
            throw new AssertionError("no connection was watched");
        }
    };

    @BeforeEach
    void listen() throws IOException
    {
        host = UdsHost.listen("uds-test", dir.resolve("vm.sock"), 4);
    }

    @AfterEach
    void close() throws IOException
    {
        for (final SocketChannel c : clients)
        {
            c.close();
        }
        for (final StreamFd fd : handed)
        {
            fd.close();
        }
        host.close();
    }

    private SocketChannel connect(final String first) throws IOException
    {
        final SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(host.udsPath()));
        clients.add(c);
        send(c, first);
        return c;
    }

    private static void send(final SocketChannel c, final String text) throws IOException
    {
        c.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
    }

    /** Polls until {@code c} reads the end of the stream (the host closed it). */
    private boolean closedByHost(final SocketChannel c) throws IOException
    {
        c.configureBlocking(false);
        return Await.until(() ->
        {
            host.poll(events);
            try
            {
                return c.read(ByteBuffer.allocate(64)) < 0;
            }
            catch (final IOException e)
            {
                return true;
            }
        }, WAIT);
    }

    private void awaitRequests(final int count)
    {
        assertThat(Await.until(() ->
        {
            host.poll(events);
            return requested.size() >= count;
        }, WAIT)).as("%d requests (got %s)", count, requested).isTrue();
    }

    @Test
    void aLineInPiecesWithACarriageReturnIsOneRequest() throws Exception
    {
        final SocketChannel c = connect("CONN");
        host.poll(events);
        send(c, "ECT 12");
        host.poll(events);
        assertThat(requested).as("no request before the line ends").isEmpty();
        send(c, "34\r\n");
        awaitRequests(1);
        assertThat(requested).containsExactly(1234);
    }

    @Test
    void badLinesCloseThatClientOnly() throws Exception
    {
        final SocketChannel tooLong = connect("CONNECT " + "1".repeat(40));
        final SocketChannel notConnect = connect("LISTEN 80\n");
        final SocketChannel anyPort = connect("CONNECT 4294967295\n");
        final SocketChannel leaves = connect("CONNECT 9");
        leaves.shutdownOutput();
        final SocketChannel good = connect("CONNECT 77\n");
        for (final SocketChannel c : List.of(tooLong, notConnect, anyPort, leaves))
        {
            assertThat(closedByHost(c)).isTrue();
        }
        awaitRequests(1);
        assertThat(requested).containsExactly(77);
        assertThat(good.isOpen()).isTrue();
    }

    @Test
    void clientsBeyondThoseMidRequestAreRefusedAndTheOthersStillGetThrough() throws Exception
    {
        final List<SocketChannel> slow = new ArrayList<>();
        for (int i = 0; i < UdsHost.MAX_PENDING; i++)
        {
            slow.add(connect("CONNECT " + (100 + i)));
        }
        // A Unix connect is queued on the listener when it returns: one poll accepts them all (and reads their
        // unfinished lines).
        host.poll(events);
        final SocketChannel refused = connect("CONNECT 5\n");
        assertThat(closedByHost(refused)).as("the client beyond " + UdsHost.MAX_PENDING + " mid-request").isTrue();
        for (final SocketChannel c : slow)
        {
            send(c, "\n");
        }
        awaitRequests(UdsHost.MAX_PENDING);
        assertThat(requested).hasSize(UdsHost.MAX_PENDING).contains(100, 100 + UdsHost.MAX_PENDING - 1);

        connect("CONNECT 6\n");
        awaitRequests(UdsHost.MAX_PENDING + 1);
        assertThat(requested).as("a slot is free again").endsWith(6);
    }
}
