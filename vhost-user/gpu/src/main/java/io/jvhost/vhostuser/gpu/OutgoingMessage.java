package io.jvhost.vhostuser.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.LongAdder;

import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * The one message on its way to QEMU and how it is sent: a control message composed in {@link #control()}, or an
 * UPDATE whose pixels the kernel gathers from a shadow framebuffer (one iovec for a band of whole rows, else one per
 * row, at most {@link #MAX_IOVECS}), so pixels are never copied into a message. {@link #send} hands what is left to
 * the socket without blocking and remembers how far it got, so whoever owns the socket next resumes it.
 * <p>
 * Used only by the thread that owns the socket's write side ({@link VhostUserGpuDisplay} hands it over under its
 * lock); the buffers are allocated once.
 */
final class OutgoingMessage
{
    /** {@link #send}: the message went out whole. */
    static final int SEND_DONE = 1;
    /** {@link #send}: the socket is full; the rest goes when it drains. */
    static final int SEND_WOULD_BLOCK = 0;
    /** {@link #send}: the socket failed ({@link #failure()} says how). */
    static final int SEND_FAILED = -1;

    /** Linux's IOV_MAX: an UPDATE of a partial-width rectangle has one iovec per row after its prefix. */
    static final int MAX_IOVECS = 1024;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final int HEADER = MessageHeader.LENGTH;
    private static final int UPDATE_PREFIX = HEADER + GpuPayloads.UPDATE_HEADER_SIZE;
    private static final long IOVEC_SIZE = 16;
    private static final long MSGHDR_SIZE = 56;
    private static final long MSGHDR_IOV = 16;
    private static final long MSGHDR_IOVLEN = 24;

    private final int fd;
    private final Arena arena;
    private final MemorySegment control;
    private final MemorySegment updatePrefix;
    private final MemorySegment iov;
    private final MemorySegment msghdr;
    /** Sends that found QEMU's socket full. */
    private final LongAdder socketFull = new LongAdder();
    private int iovCount;
    private int iovIndex;
    private long length;
    private long sent;
    private int request;
    private String failure;

    OutgoingMessage(final int fd)
    {
        this.fd = fd;
        this.arena = Arena.ofShared();
        this.control = arena.allocate(HEADER + GpuPayloads.CURSOR_UPDATE_SIZE, 8);
        this.updatePrefix = arena.allocate(UPDATE_PREFIX, 8);
        this.iov = arena.allocate(IOVEC_SIZE * MAX_IOVECS, 8);
        this.msghdr = arena.allocate(MSGHDR_SIZE, 8);
    }

    /**
     * @return the control message's bytes: its payload starts at {@link MessageHeader#LENGTH}.
     */
    MemorySegment control()
    {
        return control;
    }

    void putU32(final int payloadOffset, final int value)
    {
        control.set(U32, HEADER + payloadOffset, value);
    }

    void putU64(final int payloadOffset, final long value)
    {
        control.set(U64, HEADER + payloadOffset, value);
    }

    /**
     * Makes the control message with a {@code size}-byte payload already in {@link #control()} the outgoing one.
     *
     * @return its length.
     */
    long controlMessage(final int type, final int size)
    {
        control.set(U32, MessageHeader.REQUEST_OFFSET, type);
        control.set(U32, MessageHeader.FLAGS_OFFSET, GpuRequest.REQUEST_FLAGS);
        control.set(U32, MessageHeader.SIZE_OFFSET, size);
        iovCount = 0;
        putIovec(control.address(), HEADER + size);
        return start(type);
    }

    /**
     * Makes an UPDATE of {@code rows} rows of {@code columns} pixels at ({@code x}, {@code y}) the outgoing message,
     * its pixels gathered from the shadow starting at address {@code first}, rows {@code shadowStride} bytes apart.
     *
     * @return its length.
     */
    long update(final int scanout, final int x, final int y, final int columns, final int rows, final long first,
        final long shadowStride)
    {
        final long rowBytes = 4L * columns;
        final long payload = GpuPayloads.UPDATE_HEADER_SIZE + rowBytes * rows;
        updatePrefix.set(U32, MessageHeader.REQUEST_OFFSET, GpuRequest.UPDATE);
        updatePrefix.set(U32, MessageHeader.FLAGS_OFFSET, GpuRequest.REQUEST_FLAGS);
        updatePrefix.set(U32, MessageHeader.SIZE_OFFSET, (int)payload);
        updatePrefix.set(U32, HEADER + GpuPayloads.UPDATE_SCANOUT_ID, scanout);
        updatePrefix.set(U32, HEADER + GpuPayloads.UPDATE_X, x);
        updatePrefix.set(U32, HEADER + GpuPayloads.UPDATE_Y, y);
        updatePrefix.set(U32, HEADER + GpuPayloads.UPDATE_WIDTH, columns);
        updatePrefix.set(U32, HEADER + GpuPayloads.UPDATE_HEIGHT, rows);
        iovCount = 0;
        putIovec(updatePrefix.address(), UPDATE_PREFIX);
        if (rowBytes == shadowStride)
        {
            putIovec(first, rowBytes * rows);
        }
        else
        {
            for (int row = 0; row < rows; row++)
            {
                putIovec(first + row * shadowStride, rowBytes);
            }
        }
        return start(GpuRequest.UPDATE);
    }

    private void putIovec(final long address, final long bytes)
    {
        final long at = iovCount * IOVEC_SIZE;
        iov.set(U64, at, address);
        iov.set(U64, at + 8, bytes);
        iovCount++;
    }

    private long start(final int type)
    {
        long total = 0;
        for (int i = 0; i < iovCount; i++)
        {
            total += iov.get(U64, i * IOVEC_SIZE + 8);
        }
        iovIndex = 0;
        sent = 0;
        length = total;
        request = type;
        return total;
    }

    long length()
    {
        return length;
    }

    /**
     * @return bytes not sent yet.
     */
    long remaining()
    {
        return length - sent;
    }

    /**
     * @return the vhost-user-gpu request type of the message.
     */
    int request()
    {
        return request;
    }

    /**
     * Sends what is left of the message without blocking.
     *
     * @return {@link #SEND_DONE}, {@link #SEND_WOULD_BLOCK} or {@link #SEND_FAILED}.
     */
    int send()
    {
        while (sent < length)
        {
            msghdr.fill((byte)0);
            msghdr.set(U64, MSGHDR_IOV, iov.address() + iovIndex * IOVEC_SIZE);
            msghdr.set(U64, MSGHDR_IOVLEN, iovCount - iovIndex);
            final long n = LibC.sendmsgRaw(fd, msghdr, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n >= 0)
            {
                advance(n);
                continue;
            }
            final int errno = (int)-n;
            if (errno == Errno.EINTR)
            {
                continue;
            }
            if (errno == Errno.EAGAIN)
            {
                socketFull.increment();
                return SEND_WOULD_BLOCK;
            }
            failure = "send failed: " + Errno.name(errno) + " after " + sent + " of " + length + " bytes of "
                + GpuRequest.name(request);
            return SEND_FAILED;
        }
        return SEND_DONE;
    }

    /**
     * @return why the last {@link #send} failed.
     */
    String failure()
    {
        return failure;
    }

    /**
     * Moves past {@code n} sent bytes: whole iovecs are skipped, a partly sent one is shortened in place.
     */
    private void advance(final long n)
    {
        sent += n;
        long left = n;
        while (left > 0 && iovIndex < iovCount)
        {
            final long at = iovIndex * IOVEC_SIZE;
            final long bytes = iov.get(U64, at + 8);
            if (left >= bytes)
            {
                left -= bytes;
                iovIndex++;
            }
            else
            {
                iov.set(U64, at, iov.get(U64, at) + left);
                iov.set(U64, at + 8, bytes - left);
                left = 0;
            }
        }
    }

    /**
     * @return how many sends found QEMU's socket full.
     */
    long socketFullCount()
    {
        return socketFull.sum();
    }

    /**
     * Frees the buffers; only once no thread sends any more.
     */
    void free()
    {
        arena.close();
    }
}
