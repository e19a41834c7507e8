package io.jvhost.os;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The three system calls a device back-end makes on a host character device driven by ioctls (a V4L2 node for media's
 * proxy and video's decoder): open, ioctl, close. The host node is {@link #host}; tests put a fake driver here, which
 * answers the same structures with the same errno rules (this machine has no such devices).
 * <p>
 * The descriptor {@link #open} returns must be pollable as the real node is (a V4L2 node: readable, POLLIN, when a
 * buffer can be dequeued or the queue is in error); the back-ends watch it on the device's worker.
 */
public interface DeviceNode
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
    static DeviceNode host(final Path path)
    {
        return new Host(path);
    }

    /** The host's node: the system calls themselves. */
    final class Host implements DeviceNode
    {

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
                return LibC.open(path.toString(), LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
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
