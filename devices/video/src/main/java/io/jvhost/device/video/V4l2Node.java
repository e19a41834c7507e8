package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import io.jvhost.os.Ioctl;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * The three system calls {@link V4l2Decoder} makes on a host V4L2 node: open, ioctl, close (the same seam as
 * devices/media's {@code V4l2Node}, kept per module so the devices stay independent). The host node is
 * {@link #host}; tests put a fake V4L2 driver here, which answers the same structures with the same errno rules
 * (this machine has no V4L2 device).
 * <p>
 * The descriptor {@link #open} returns must be pollable as a V4L2 node is: readable (POLLIN) when a CAPTURE buffer (a
 * decoded frame) can be dequeued or the queue is in error; the decoder watches it on the device's worker.
 */
public interface V4l2Node
{
    /**
     * Opens the node non-blocking ({@code O_RDWR | O_NONBLOCK | O_CLOEXEC}).
     *
     * @return the descriptor, or a negative errno.
     */
    int open();

    /**
     * {@code ioctl(fd, request, arg)}, {@code arg} a native structure of the request's size.
     *
     * @return 0, or a negative errno.
     */
    int ioctl(int fd, long request, MemorySegment arg);

    /**
     * Closes a descriptor {@link #open} returned.
     */
    void close(int fd);

    /**
     * @return the node at {@code path}, through open(2), ioctl(2) and close(2).
     */
    static V4l2Node host(final Path path)
    {
        return new Host(path);
    }

    /** The host's node: the system calls themselves. */
    final class Host implements V4l2Node
    {
        private static final int O_RDWR = 2;
        private static final int O_CLOEXEC = 0x80000;

        private final Path path;
        private final Ioctl ioctl = new Ioctl();

        private Host(final Path path)
        {
            this.path = path;
        }

        @Override
        public int open()
        {
            try
            {
                return LibC.open(path.toString(), O_RDWR | LibC.O_NONBLOCK | O_CLOEXEC);
            }
            catch (final NativeException e)
            {
                return -e.errno();
            }
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            return ioctl.call(fd, request, arg);
        }

        @Override
        public void close(final int fd)
        {
            LibC.closeQuietly(fd);
        }

        @Override
        public String toString()
        {
            return path.toString();
        }
    }
}
