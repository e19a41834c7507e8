package io.jvhost.os;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnixSocketTest
{
    @TempDir
    Path dir;

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void closeArena()
    {
        arena.close();
    }

    private MemorySegment bytes(final String text)
    {
        final byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        final MemorySegment s = arena.allocate(b.length);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    private static String text(final MemorySegment s, final long offset, final long length)
    {
        return new String(s.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    private static void sendText(final UnixSocket socket, final MemorySegment data) throws NativeException
    {
        socket.send(data, 0, data.byteSize(), new int[0], 0);
    }

    @Test
    void listenConnectAcceptExchangesDataBothWays() throws IOException
    {
        final Path path = dir.resolve("s.sock");
        try (UnixSocket listener = UnixSocket.listen(path, 4);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept())
        {
            assertThat(listener.boundPath()).isEqualTo(path);
            assertThat(listener).hasToString("UnixSocket[fd=" + listener.fd() + ", path=" + path + "]");
            assertThat(client.boundPath()).isNull();
            assertThat(server.boundPath()).isNull();
            assertThat(LibC.fileMode(server.fd()) & LibC.S_IFMT).isEqualTo(LibC.S_IFSOCK);
            for (final UnixSocket s : new UnixSocket[] {listener, client, server})
            {
                assertThat(OpenFds.isCloseOnExec(s.fd())).as("FD_CLOEXEC of %s", s).isTrue();
            }

            sendText(client, bytes("ping"));
            final MemorySegment buf = arena.allocate(16);
            final FdList fds = new FdList();
            assertThat(server.receiveFully(buf, 2, 4, fds)).isTrue();
            assertThat(text(buf, 2, 4)).isEqualTo("ping");
            assertThat(fds.count()).isZero();

            sendText(server, bytes("pong!"));
            assertThat(client.receiveFully(buf, 0, 5, fds)).isTrue();
            assertThat(text(buf, 0, 5)).isEqualTo("pong!");
        }
        assertThat(path).doesNotExist();
    }

    @Test
    void closeUnlinksTheSocketFile() throws IOException
    {
        final Path path = dir.resolve("unlink.sock");
        final UnixSocket listener = UnixSocket.listen(path, 1);
        assertThat(path).exists();

        listener.close();

        assertThat(listener.isClosed()).isTrue();
        assertThat(path).doesNotExist();
        listener.close();
        assertThat(catchThrowableOfType(NativeException.class, () -> UnixSocket.connect(path)).errno())
            .isEqualTo(Errno.ENOENT);
    }

    @Test
    void staleSocketFileIsReplaced() throws IOException
    {
        final Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            old.bind(UnixDomainSocketAddress.of(path));
        }
        assertThat(path).exists();

        try (UnixSocket listener = UnixSocket.listen(path, 1);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept())
        {
            sendText(client, bytes("x"));
            final MemorySegment buf = arena.allocate(1);
            assertThat(server.receive(buf, 0, 1, new FdList())).isEqualTo(1);
        }
    }

    @Test
    void regularFileAtThePathIsRefusedAndKept() throws IOException
    {
        final Path path = dir.resolve("precious.txt");
        Files.writeString(path, "keep me");
        final OpenFds before = OpenFds.snapshot();

        assertThatThrownBy(() -> UnixSocket.listen(path, 1))
            .isExactlyInstanceOf(IOException.class)
            .hasMessageContaining(path.toString())
            .hasMessageContaining("not a socket");

        assertThat(path).hasContent("keep me");
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void directoryOrSymlinkAtThePathIsRefused() throws IOException
    {
        final Path directory = Files.createDirectory(dir.resolve("a-dir"));
        assertThatThrownBy(() -> UnixSocket.listen(directory, 1)).hasMessageContaining("not a socket");
        assertThat(directory).isDirectory();

        final Path target = dir.resolve("target.sock");
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            old.bind(UnixDomainSocketAddress.of(target));
        }
        final Path link = Files.createSymbolicLink(dir.resolve("link.sock"), target);
        assertThatThrownBy(() -> UnixSocket.listen(link, 1)).hasMessageContaining("not a socket");
        assertThat(link).isSymbolicLink();
    }

    @Test
    void pathLongerThanSunPathIsRefusedWithoutLeaking()
    {
        final Path path = dir.resolve("x".repeat(120));
        final OpenFds before = OpenFds.snapshot();

        assertThatIllegalArgumentException().isThrownBy(() -> UnixSocket.listen(path, 1))
            .withMessageContaining("longer than 107 bytes");
        assertThatIllegalArgumentException().isThrownBy(() -> UnixSocket.connect(path));
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void pairIsConnectedBothWays() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            assertThat(a.fd()).isNotEqualTo(b.fd());
            assertThat(OpenFds.isCloseOnExec(a.fd())).isTrue();
            assertThat(OpenFds.isCloseOnExec(b.fd())).isTrue();
            final MemorySegment buf = arena.allocate(8);
            final FdList fds = new FdList();

            sendText(a, bytes("ab"));
            assertThat(b.receiveFully(buf, 0, 2, fds)).isTrue();
            assertThat(text(buf, 0, 2)).isEqualTo("ab");

            sendText(b, bytes("cd"));
            assertThat(a.receiveFully(buf, 0, 2, fds)).isTrue();
            assertThat(text(buf, 0, 2)).isEqualTo("cd");
        }
    }

    @Test
    void sendOffsetAndLengthSelectThePartOfTheBuffer() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            a.send(bytes("0123456789"), 3, 4, null, 0);
            final MemorySegment buf = arena.allocate(4);
            assertThat(b.receiveFully(buf, 0, 4, new FdList())).isTrue();
            assertThat(text(buf, 0, 4)).isEqualTo("3456");
        }
    }

    @Test
    void receiveFullyAssemblesSplitWritesAndCollectsDescriptorsFromEveryPart() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1];
             EventFd first = EventFd.create(); EventFd second = EventFd.create())
        {
            // A recvmsg never reads past a message that carried descriptors, so this takes three receives.
            a.send(bytes("head"), 0, 4, new int[] {first.fd()}, 1);
            a.send(bytes("middle"), 0, 6, new int[] {second.fd()}, 1);
            sendText(a, bytes("tail"));

            final MemorySegment buf = arena.allocate(14);
            final FdList fds = new FdList();
            assertThat(b.receive(buf, 0, 14, fds)).as("first receive stops after the descriptors").isEqualTo(4);
            assertThat(b.receiveFully(buf, 4, 10, fds)).isTrue();

            assertThat(text(buf, 0, 14)).isEqualTo("headmiddletail");
            assertThat(fds.count()).isEqualTo(2);
            try (PeerEventFd r0 = PeerEventFd.adopt(fds.take(0)); PeerEventFd r1 = PeerEventFd.adopt(fds.take(1)))
            {
                r0.signal();
                r1.signal();
                r1.signal();
                assertThat(first.drain()).isEqualTo(1);
                assertThat(second.drain()).isEqualTo(2);
            }
            fds.closeRemaining();
        }
    }

    @Test
    void receiveFullyReturnsFalseWhenThePeerClosesBeforeTheFirstByte() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket b = pair[1])
        {
            pair[0].close();
            final MemorySegment buf = arena.allocate(8);
            assertThat(b.receiveFully(buf, 0, 8, new FdList())).isFalse();
            assertThat(b.receive(buf, 0, 8, new FdList())).isZero();
        }
    }

    @Test
    void receiveFullyThrowsEofExceptionWhenThePeerClosesMidMessage() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket b = pair[1])
        {
            try (UnixSocket a = pair[0])
            {
                sendText(a, bytes("abc"));
            }
            final MemorySegment buf = arena.allocate(8);
            assertThatThrownBy(() -> b.receiveFully(buf, 0, 8, new FdList()))
                .isInstanceOf(EOFException.class)
                .hasMessage("peer closed the socket after 3 of 8 bytes");
            assertThat(text(buf, 0, 3)).isEqualTo("abc");
        }
    }

    @Test
    void receiveTimeoutGivesEagainAndLeavesTheSocketUsable() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            b.setReceiveTimeout(1100);
            final MemorySegment buf = arena.allocate(8);
            final long start = System.nanoTime();

            final NativeException e =
                catchThrowableOfType(NativeException.class, () -> b.receive(buf, 0, 8, new FdList()));

            final long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(e.errno()).isEqualTo(Errno.EAGAIN);
            assertThat(e).hasMessage("recvmsg failed: EAGAIN (11), fd=" + b.fd());
            assertThat(waitedMs).as("both the seconds and microseconds of the timeval count").isGreaterThanOrEqualTo(1000);

            sendText(a, bytes("ok"));
            assertThat(b.receiveFully(buf, 0, 2, new FdList())).isTrue();
            assertThat(text(buf, 0, 2)).isEqualTo("ok");
        }
    }

    @Test
    void largeSendIsWrittenCompletelyWhileThePeerReads() throws Exception
    {
        final int size = 8 << 20;
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Arena shared = Arena.ofShared())
        {
            final byte[] expected = new byte[size];
            new Random(7).nextBytes(expected);
            final MemorySegment src = shared.allocate(size);
            MemorySegment.copy(expected, 0, src, ValueLayout.JAVA_BYTE, 0, size);
            final MemorySegment dst = shared.allocate(size);

            final CompletableFuture<Boolean> reader = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return b.receiveFully(dst, 0, size, new FdList());
                }
                catch (final IOException e)
                {
                    throw new IllegalStateException(e);
                }
            });
            a.send(src, 0, size, null, 0);

            assertThat(reader.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(dst.mismatch(src)).isEqualTo(-1L);
        }
    }

    @Test
    void sendToAClosedPeerFailsWithEpipeInsteadOfKillingTheProcess() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0])
        {
            pair[1].close();
            final NativeException e = catchThrowableOfType(NativeException.class, () -> sendText(a, bytes("x")));
            assertThat(e.call()).isEqualTo("sendmsg");
            assertThat(e.errno()).isIn(Errno.EPIPE, Errno.ECONNRESET);
        }
    }

    @Test
    void useAfterCloseThrowsIllegalStateException() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        pair[1].close();
        final UnixSocket a = pair[0];
        a.close();
        final MemorySegment buf = bytes("x");

        assertThat(a.isClosed()).isTrue();
        assertThatIllegalStateException().isThrownBy(() -> a.send(buf, 0, 1, null, 0));
        assertThatIllegalStateException().isThrownBy(() -> a.receive(buf, 0, 1, new FdList()));
        a.shutdown();
        a.close();
    }

    @Test
    void closeWakesAThreadBlockedInReceive() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0])
        {
            final UnixSocket b = pair[1];
            final MemorySegment buf = Arena.global().allocate(8);
            final CompletableFuture<Object> blocked = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    // The first byte proves the thread is receiving; the second receive blocks until close.
                    b.receive(buf, 0, 1, new FdList());
                    return b.receive(buf, 0, 8, new FdList());
                }
                catch (final NativeException | IllegalStateException e)
                {
                    return e;
                }
            });
            sendText(a, bytes("1"));
            while (buf.get(ValueLayout.JAVA_BYTE, 0) != '1')
            {
                Thread.onSpinWait();
            }

            b.close();

            // Either the shutdown woke it with end of stream, or it had not reached recvmsg and found the buffers gone.
            assertThat(blocked.get(30, TimeUnit.SECONDS)).satisfiesAnyOf(
                r -> assertThat(r).isEqualTo(0L),
                r -> assertThat(r).isInstanceOf(IllegalStateException.class));
        }
    }

    @Test
    void shutdownWakesAThreadBlockedInReceiveWithEndOfStream() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            final MemorySegment buf = Arena.global().allocate(8);
            final CompletableFuture<Boolean> blocked = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return b.receiveFully(buf, 0, 8, new FdList());
                }
                catch (final IOException e)
                {
                    throw new IllegalStateException(e);
                }
            });
            b.shutdown();
            assertThat(blocked.get(30, TimeUnit.SECONDS)).isFalse();
            assertThat(b.isClosed()).isFalse();
        }
    }

    @Test
    void adoptTakesOwnershipOfTheDescriptor() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            final int copy = EventFdTest.dup(b.fd());
            final UnixSocket adopted = UnixSocket.adopt(copy);
            assertThat(adopted.fd()).isEqualTo(copy);
            assertThat(adopted.boundPath()).isNull();

            sendText(a, bytes("via dup"));
            final MemorySegment buf = arena.allocate(7);
            assertThat(adopted.receiveFully(buf, 0, 7, new FdList())).isTrue();
            assertThat(text(buf, 0, 7)).isEqualTo("via dup");

            adopted.close();
            assertThat(LibC.isOpen(copy)).isFalse();
            assertThat(LibC.isOpen(b.fd())).isTrue();
        }
    }

    @Test
    void receiveRefusesARangeOutsideTheBuffer() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            final MemorySegment small = arena.allocate(8);
            sendText(a, bytes("0123456789abcdef"));

            assertThatThrownBy(() -> b.receive(small, 0, 16, new FdList())).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> b.receive(small, 4, 8, new FdList())).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> b.receive(small, -1, 4, new FdList())).isInstanceOf(IndexOutOfBoundsException.class);
            // Nothing was consumed by the refused calls.
            assertThat(b.receiveFully(small, 0, 8, new FdList())).isTrue();
            assertThat(text(small, 0, 8)).isEqualTo("01234567");
        }
    }

    @Test
    void sendRefusesARangeOutsideTheBufferOrAHeapSegment() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            final MemorySegment small = bytes("01234567");
            assertThatThrownBy(() -> a.send(small, 0, 9, null, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> a.send(small, 6, 4, null, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> a.send(MemorySegment.ofArray(new byte[8]), 0, 8, null, 0))
                .isInstanceOf(IllegalArgumentException.class);

            LibC.setNonBlocking(b.fd(), true);
            assertThat(LibC.readRaw(b.fd(), arena.allocate(1).address(), 1)).as("nothing was sent")
                .isEqualTo(-Errno.EAGAIN);
        }
    }

    @Test
    void sendAndReceiveRefuseABufferWhoseArenaIsClosed() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
        {
            final MemorySegment gone;
            try (Arena temporary = Arena.ofConfined())
            {
                gone = temporary.allocate(8);
            }
            assertThatIllegalStateException().isThrownBy(() -> a.send(gone, 0, 8, null, 0));
            sendText(a, bytes("x"));
            assertThatIllegalStateException().isThrownBy(() -> b.receive(gone, 0, 8, new FdList()));
        }
    }
}
