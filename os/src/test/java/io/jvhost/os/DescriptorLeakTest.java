package io.jvhost.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A thousand create/use/close cycles of every wrapper must leave the process's descriptor table as it found it.
 */
@Timeout(120)
class DescriptorLeakTest
{
    private static final int CYCLES = 1000;

    @TempDir
    Path dir;

    @FunctionalInterface
    interface Cycle
    {
        void run(int i) throws IOException;
    }

    private static void assertNoLeakOver(final Cycle cycle) throws IOException
    {
        // Warm up first, so class loading and JIT work opening files of their own happen before the snapshot.
        for (int i = 0; i < 10; i++)
        {
            cycle.run(i);
        }
        final OpenFds before = OpenFds.snapshot();
        for (int i = 0; i < CYCLES; i++)
        {
            cycle.run(i);
        }
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void eventFdCyclesDoNotLeak() throws IOException
    {
        assertNoLeakOver(i ->
        {
            try (EventFd e = EventFd.create())
            {
                e.signal();
                assertThat(e.drain()).isEqualTo(1);
            }
        });
    }

    @Test
    void memFdAndMappingCyclesDoNotLeak() throws IOException
    {
        assertNoLeakOver(i ->
        {
            try (MemFd memFd = MemFd.create("leak-" + i, 4096); MappedMemory map = memFd.map())
            {
                map.segment().set(ValueLayout.JAVA_INT, 0, i);
            }
        });
    }

    @Test
    void epollCyclesDoNotLeak() throws IOException
    {
        try (EventFd e = EventFd.create())
        {
            e.signal();
            assertNoLeakOver(i ->
            {
                try (Epoll epoll = Epoll.create(4))
                {
                    epoll.add(e.fd(), LibC.EPOLLIN, i);
                    assertThat(epoll.await(0)).isEqualTo(1);
                    epoll.remove(e.fd());
                }
            });
        }
    }

    @Test
    void socketPairCyclesDoNotLeak() throws IOException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment buf = arena.allocate(8);
            assertNoLeakOver(i ->
            {
                final UnixSocket[] pair = UnixSocket.pair();
                try (UnixSocket a = pair[0]; UnixSocket b = pair[1])
                {
                    a.send(buf, 0, 8, null, 0);
                    assertThat(b.receiveFully(buf, 0, 8, new FdList())).isTrue();
                }
            });
        }
    }

    @Test
    void listenConnectAcceptCyclesDoNotLeak() throws IOException
    {
        final Path path = dir.resolve("leak.sock");
        assertNoLeakOver(i ->
        {
            try (UnixSocket listener = UnixSocket.listen(path, 1);
                 UnixSocket client = UnixSocket.connect(path);
                 UnixSocket server = listener.accept())
            {
                assertThat(server.fd()).isNotNegative();
                assertThat(client.fd()).isNotNegative();
            }
        });
        assertThat(path).doesNotExist();
    }

    @Test
    void failedConnectCyclesDoNotLeak() throws IOException
    {
        final Path missing = dir.resolve("missing.sock");
        assertNoLeakOver(i ->
        {
            try
            {
                UnixSocket.connect(missing).close();
            }
            catch (final NativeException expected)
            {
                assertThat(expected.errno()).isEqualTo(Errno.ENOENT);
            }
        });
    }

    @Test
    void descriptorPassingCyclesDoNotLeak() throws IOException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Arena arena = Arena.ofConfined())
        {
            final MemorySegment buf = arena.allocate(4);
            final FdList fds = new FdList();
            assertNoLeakOver(i ->
            {
                try (EventFd e = EventFd.create(); MemFd m = MemFd.create("passed", 4096))
                {
                    a.send(buf, 0, 4, new int[] {e.fd(), m.fd()}, 2);
                    assertThat(b.receiveFully(buf, 0, 4, fds)).isTrue();
                    try (PeerEventFd received = PeerEventFd.adopt(fds.take(0)))
                    {
                        received.signal();
                        assertThat(e.drain()).isEqualTo(1);
                    }
                    fds.closeRemaining();
                }
            });
        }
    }
}
