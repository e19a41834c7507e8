package io.jvhost.os;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link TcpListener}, {@link UnixStreamListener} and the {@link StreamFd}s they accept, against peers that do what
 * peers do: nothing (accept and read say "nothing now", never block), send and close (every byte, then end of
 * stream), leave while we write (an error code, never a signal), connect where nobody listens (the errno, named).
 */
@Timeout(20)
class StreamFdTest
{
    @TempDir
    Path dir;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buffer = arena.allocate(1 << 16);
    private OpenFds before;

    /**
     * The JDK opens descriptors of its own the first time a socket is used (/dev/random, /dev/urandom, a socket of
     * its own), which are not ours to account for.
     */
    @BeforeAll
    static void warmUpJdkSockets() throws IOException
    {
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket accepted = server.accept())
        {
            client.setSoLinger(true, 0);
            accepted.getOutputStream().write(1);
        }
        try (ServerSocketChannel unix = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            unix.bind(null);
        }
    }

    @BeforeEach
    void snapshot()
    {
        before = OpenFds.snapshot();
    }

    @AfterEach
    void noLeak()
    {
        arena.close();
        OpenFds.assertNoLeakSince(before);
    }

    private String read(final StreamFd fd, final int length)
    {
        final long n = fd.read(buffer.address(), length);
        assertThat(n).as("read").isNotNegative();
        return new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    private long write(final StreamFd fd, final String text)
    {
        final byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return fd.write(buffer.address(), bytes.length);
    }

    /** Accepts without blocking, retrying until the connection the peer made is there. */
    private static StreamFd awaitAccept(final TcpListener listener) throws NativeException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        StreamFd fd;
        while (null == (fd = listener.accept()))
        {
            assertThat(System.nanoTime() - deadline).as("a connection to accept").isNegative();
            Thread.onSpinWait();
        }
        return fd;
    }

    @Test
    void tcpAcceptAndReadSayNothingNowAndDeliverEveryByteThenTheEnd() throws Exception
    {
        try (TcpListener listener = TcpListener.loopback(0))
        {
            assertThat(listener.port()).isPositive();
            assertThat(listener.accept()).as("nothing pending").isNull();
            try (Socket peer = new Socket(InetAddress.getLoopbackAddress(), listener.port());
                 StreamFd fd = awaitAccept(listener))
            {
                assertThat(OpenFds.isCloseOnExec(fd.fd())).isTrue();
                assertThat(fd.read(buffer.address(), 16)).as("nothing sent yet").isEqualTo(-Errno.EAGAIN);
                assertThat(fd.readable()).isZero();

                peer.getOutputStream().write("hello, guest".getBytes(StandardCharsets.US_ASCII));
                final long deadline = System.nanoTime() + 10_000_000_000L;
                while (fd.readable() < 12)
                {
                    assertThat(System.nanoTime() - deadline).isNegative();
                    Thread.onSpinWait();
                }
                assertThat(read(fd, 5)).isEqualTo("hello");
                assertThat(fd.readable()).isEqualTo(7);
                assertThat(read(fd, 64)).isEqualTo(", guest");

                assertThat(write(fd, "hi, host")).isEqualTo(8);
                final InputStream in = peer.getInputStream();
                assertThat(new String(in.readNBytes(8), StandardCharsets.US_ASCII)).isEqualTo("hi, host");
                fd.shutdownOutput();
                assertThat(in.read()).as("end of stream after shutdownOutput").isEqualTo(-1);

                peer.getOutputStream().write('!');
                peer.close();
                long n;
                while ((n = fd.read(buffer.address(), 16)) == -Errno.EAGAIN)
                {
                    Thread.onSpinWait();
                }
                assertThat(n).as("the last byte before the close").isEqualTo(1);
                assertThat(fd.read(buffer.address(), 16)).as("then the end").isZero();
            }
        }
    }

    @Test
    void writingToAPeerThatLeftIsAnErrorCodeNotASignal() throws Exception
    {
        try (TcpListener listener = TcpListener.loopback(0))
        {
            final Socket peer = new Socket(InetAddress.getLoopbackAddress(), listener.port());
            try (StreamFd fd = awaitAccept(listener))
            {
                peer.setSoLinger(true, 0);
                peer.close(); // RST
                long n = 0;
                for (int i = 0; i < 1000 && n >= 0; i++)
                {
                    n = fd.write(buffer.address(), 1024);
                }
                assertThat(n).as("write after the peer reset").isIn((long)-Errno.EPIPE, (long)-Errno.ECONNRESET);
            }
        }
    }

    @Test
    void aTakenPortIsRefusedWithItsErrno() throws Exception
    {
        try (TcpListener listener = TcpListener.loopback(0))
        {
            assertThatThrownBy(() -> TcpListener.loopback(listener.port()).close())
                .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE))
                .hasMessageContaining(String.valueOf(listener.port()));
        }
    }

    @Test
    void unixListenerConnectsWithoutBlockingAndRemovesItsFileOnClose() throws Exception
    {
        final Path path = dir.resolve("l.sock");
        try (UnixStreamListener listener = UnixStreamListener.listen(path, 4))
        {
            assertThat(listener.path()).isEqualTo(path);
            assertThat(listener.accept()).isNull();
            try (StreamFd client = UnixStreamListener.connect(path);
                 StreamFd server = listener.accept())
            {
                assertThat(server).as("a Unix connect is pending at once").isNotNull();
                assertThat(write(client, "CONNECT 1234\n")).isEqualTo(13);
                assertThat(read(server, 64)).isEqualTo("CONNECT 1234\n");
                client.shutdownOutput();
                assertThat(server.read(buffer.address(), 8)).as("end after the client's shutdown").isZero();
                assertThat(write(server, "OK 1\n")).isEqualTo(5);
                assertThat(read(client, 64)).isEqualTo("OK 1\n");
            }
        }
        assertThat(Files.exists(path)).as("socket file after close").isFalse();
    }

    @Test
    void aStaleSocketFileIsReplacedAnyOtherFileIsRefused() throws Exception
    {
        final Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            old.bind(UnixDomainSocketAddress.of(stale));
        }
        assertThat(Files.exists(stale)).as("left behind by its closed listener").isTrue();
        try (UnixStreamListener listener = UnixStreamListener.listen(stale, 4);
             StreamFd client = UnixStreamListener.connect(stale);
             StreamFd server = listener.accept())
        {
            assertThat(server).isNotNull();
        }

        final Path file = dir.resolve("data.img");
        Files.writeString(file, "precious");
        assertThatThrownBy(() -> UnixStreamListener.listen(file, 4)).isInstanceOf(IOException.class)
            .hasMessageContaining("not a socket");
        assertThat(Files.readString(file)).as("the file is left alone").isEqualTo("precious");
        final Path link = Files.createSymbolicLink(dir.resolve("dangling.sock"), dir.resolve("nowhere"));
        assertThatThrownBy(() -> UnixStreamListener.listen(link, 4)).isInstanceOf(IOException.class)
            .hasMessageContaining("not a socket");
        assertThat(link).as("the link is left alone").isSymbolicLink();
        final Path directory = Files.createDirectory(dir.resolve("dir.sock"));
        assertThatThrownBy(() -> UnixStreamListener.listen(directory, 4)).isInstanceOf(IOException.class)
            .hasMessageContaining("not a socket");
    }

    @Test
    void connectingWhereNobodyListensNamesTheErrno()
    {
        final Path missing = dir.resolve("nobody.sock");
        assertThatThrownBy(() -> UnixStreamListener.connect(missing).close())
            .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
            .hasMessageContaining(missing.toString());
    }
}
