package io.jvhost.os;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class ErrnoCaptureTest
{
    @TempDir
    Path dir;

    @Test
    void closeOfNegativeDescriptorReportsEbadf()
    {
        final NativeException e = catchThrowableOfType(NativeException.class, () -> LibC.close(-1));

        assertThat(e.call()).isEqualTo("close");
        assertThat(e.errno()).isEqualTo(Errno.EBADF);
        assertThat(e.errnoName()).isEqualTo("EBADF");
        assertThat(e).hasMessage("close failed: EBADF (9), fd=-1");
    }

    @Test
    void connectToMissingPathReportsEnoentAndNamesThePath()
    {
        final Path missing = dir.resolve("nobody-here.sock");
        final OpenFds before = OpenFds.snapshot();

        final NativeException e = catchThrowableOfType(NativeException.class, () -> UnixSocket.connect(missing));

        assertThat(e.call()).isEqualTo("connect");
        assertThat(e.errnoName()).isEqualTo("ENOENT");
        assertThat(e).hasMessageContaining("ENOENT").hasMessageContaining(missing.toString());
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void connectToSocketFileWithoutListenerReportsEconnrefused() throws IOException
    {
        final Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            server.bind(UnixDomainSocketAddress.of(stale));
        }
        assertThat(stale).exists();
        final OpenFds before = OpenFds.snapshot();

        final NativeException e = catchThrowableOfType(NativeException.class, () -> UnixSocket.connect(stale));

        assertThat(e.errno()).isEqualTo(Errno.ECONNREFUSED);
        assertThat(e).hasMessageContaining("connect failed: ECONNREFUSED (111)");
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void listenWhereDirectoryIsMissingReportsEnoentFromBind()
    {
        final Path path = dir.resolve("no-such-dir").resolve("x.sock");
        final OpenFds before = OpenFds.snapshot();

        final NativeException e = catchThrowableOfType(NativeException.class, () -> UnixSocket.listen(path, 1));

        assertThat(e.call()).isEqualTo("bind");
        assertThat(e.errno()).isEqualTo(Errno.ENOENT);
        assertThat(e).hasMessageContaining("ENOENT").hasMessageContaining(path.toString());
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void openOfMissingFileReportsEnoent()
    {
        final NativeException e =
            catchThrowableOfType(NativeException.class, () -> LibC.open(dir.resolve("missing").toString(), 0));

        assertThat(e.errno()).isEqualTo(Errno.ENOENT);
        assertThat(e).hasMessageStartingWith("open failed: ENOENT (2), path=");
    }

    @Test
    void unlinkIfExistsIgnoresMissingFileButReportsOtherErrors() throws IOException
    {
        assertThatNoException().isThrownBy(() -> LibC.unlinkIfExists(dir.resolve("missing").toString()));

        final Path subdir = Files.createDirectory(dir.resolve("subdir"));
        final NativeException e =
            catchThrowableOfType(NativeException.class, () -> LibC.unlinkIfExists(subdir.toString()));
        assertThat(e.call()).isEqualTo("unlink");
        assertThat(e.errnoName()).isEqualTo("EISDIR");
        assertThat(subdir).isDirectory();
    }

    @Test
    void rawCallsReturnNegatedErrnoInsteadOfThrowing() throws NativeException
    {
        assertThat(LibC.readRaw(-1, 0, 8)).isEqualTo(-Errno.EBADF);
        assertThat(LibC.writeRaw(-1, 0, 8)).isEqualTo(-Errno.EBADF);
        assertThat(LibC.preadRaw(-1, 0, 8, 0)).isEqualTo(-Errno.EBADF);

        // An eventfd refuses reads of fewer than 8 bytes with EINVAL, and an empty non-blocking one gives EAGAIN.
        try (EventFd e = EventFd.create())
        {
            assertThat(LibC.readRaw(e.fd(), 0, 4)).isEqualTo(-Errno.EINVAL);
            try (var arena = java.lang.foreign.Arena.ofConfined())
            {
                final var buf = arena.allocate(8);
                assertThat(LibC.readRaw(e.fd(), buf.address(), 8)).isEqualTo(-Errno.EAGAIN);
            }
        }
    }

    @Test
    void invalidArgumentsNameTheirErrno()
    {
        assertThat(catchThrowableOfType(NativeException.class, () -> LibC.socket(12345, LibC.SOCK_STREAM, 0)).errno())
            .isEqualTo(97); // EAFNOSUPPORT
        assertThat(catchThrowableOfType(NativeException.class, () -> LibC.epollCreate1(-1)).errnoName())
            .isEqualTo("EINVAL");
        assertThat(catchThrowableOfType(NativeException.class, () -> LibC.fcntl(-1, LibC.F_GETFD, 0)))
            .hasMessage("fcntl failed: EBADF (9), fd=-1, cmd=1");
        assertThat(catchThrowableOfType(NativeException.class, () -> LibC.mmap(4096, LibC.PROT_READ,
            LibC.MAP_SHARED, -1, 0)).errnoName()).isEqualTo("EBADF");
        assertThat(catchThrowableOfType(NativeException.class, () -> LibC.fileSize(-1)))
            .hasMessage("fstat failed: EBADF (9), fd=-1");
    }

    @Test
    @Timeout(60)
    void errnoIsCapturedPerThread() throws Exception
    {
        final String missing = dir.resolve("missing").toString();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread other = Thread.ofPlatform().start(() ->
        {
            try
            {
                for (int i = 0; i < 5_000; i++)
                {
                    assertThat(errnoOf(() -> LibC.open(missing, 0))).isEqualTo(Errno.ENOENT);
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        for (int i = 0; i < 5_000; i++)
        {
            assertThat(errnoOf(() -> LibC.close(-1))).isEqualTo(Errno.EBADF);
        }
        other.join();
        assertThat(failure.get()).isNull();
    }

    @FunctionalInterface
    private interface NativeCall
    {
        void run() throws NativeException;
    }

    private static int errnoOf(final NativeCall call)
    {
        try
        {
            call.run();
            return 0;
        }
        catch (final NativeException e)
        {
            return e.errno();
        }
    }

    @Test
    void errnoNamesKnownAndUnknownValues()
    {
        assertThat(Errno.name(Errno.EAGAIN)).isEqualTo("EAGAIN");
        assertThat(Errno.name(Errno.ECONNREFUSED)).isEqualTo("ECONNREFUSED");
        assertThat(Errno.name(Errno.EMSGSIZE)).isEqualTo("EMSGSIZE");
        assertThat(Errno.name(Errno.ENOTSUP)).isEqualTo("EOPNOTSUPP");
        assertThat(Errno.name(125)).isEqualTo("ECANCELED");
        assertThat(Errno.name(0)).isEqualTo("errno=0");
        assertThat(Errno.name(-3)).isEqualTo("errno=-3");
        assertThat(Errno.name(41)).isEqualTo("errno=41");
        assertThat(Errno.name(134)).isEqualTo("errno=134");
        assertThat(Errno.name(Integer.MAX_VALUE)).isEqualTo("errno=" + Integer.MAX_VALUE);
    }

    @Test
    void nativeExceptionWithoutDetailHasNoTrailingSeparator()
    {
        final NativeException e = new NativeException("eventfd", Errno.EMFILE, "");

        assertThat(e).hasMessage("eventfd failed: EMFILE (24)").isInstanceOf(IOException.class);
    }
}
