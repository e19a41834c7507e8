package io.jvhost.vhostuser.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import io.jvhost.os.FdList;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;

/**
 * QEMU's end of a display socket driven by hand, byte by byte, with offsets written out as literals from
 * {@code vhost-user-gpu.rst}: a check on the layouts that does not reuse the constants under test.
 */
final class RawQemu implements AutoCloseable
{
    /**
     * One message as read from the socket.
     */
    record Msg(int request, int flags, int size, byte[] payload, int fds)
    {
        int u32(final int offset)
        {
            return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder()).getInt(offset);
        }

        long u64(final int offset)
        {
            return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder()).getLong(offset);
        }
    }

    private final UnixSocket socket;
    private final Arena arena = Arena.ofShared();
    private final FdList fds = new FdList();

    RawQemu(final UnixSocket socket) throws NativeException
    {
        this.socket = socket;
        socket.setReceiveTimeout(5000);
    }

    /**
     * @return a connected pair: [0] for the display, [1] wrapped as QEMU.
     */
    static UnixSocket[] pair() throws NativeException
    {
        return UnixSocket.pair();
    }

    /**
     * @return the next message, or null at end of stream.
     */
    Msg read() throws IOException
    {
        final MemorySegment header = arena.allocate(12, 8);
        if (!socket.receiveFully(header, 0, 12, fds))
        {
            return null;
        }
        final int request = header.get(ValueLayout.JAVA_INT, 0);
        final int flags = header.get(ValueLayout.JAVA_INT, 4);
        final int size = header.get(ValueLayout.JAVA_INT, 8);
        final byte[] payload = new byte[size];
        if (size > 0)
        {
            final MemorySegment p = arena.allocate(size, 8);
            socket.receiveFully(p, 0, size, fds);
            MemorySegment.copy(p, ValueLayout.JAVA_BYTE, 0, payload, 0, size);
        }
        final int count = fds.count();
        fds.closeRemaining();
        return new Msg(request, flags, size, payload, count);
    }

    /**
     * Reads messages until one of type {@code request} (skipping others).
     */
    Msg readUntil(final int request) throws IOException
    {
        while (true)
        {
            final Msg m = read();
            if (null == m || m.request() == request)
            {
                return m;
            }
        }
    }

    /**
     * Sends a message with the given header fields and payload.
     */
    void send(final int request, final int flags, final byte[] payload) throws NativeException
    {
        final MemorySegment m = arena.allocate(12 + payload.length, 8);
        m.set(ValueLayout.JAVA_INT, 0, request);
        m.set(ValueLayout.JAVA_INT, 4, flags);
        m.set(ValueLayout.JAVA_INT, 8, payload.length);
        MemorySegment.copy(payload, 0, m, ValueLayout.JAVA_BYTE, 12, payload.length);
        socket.send(m, 0, m.byteSize(), null, 0);
    }

    /**
     * Answers as QEMU does: flags 0x4.
     */
    void reply(final int request, final byte[] payload) throws NativeException
    {
        send(request, 0x4, payload);
    }

    void replyU64(final int request, final long value) throws NativeException
    {
        reply(request, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).array());
    }

    /**
     * The GET_PROTOCOL_FEATURES / SET_PROTOCOL_FEATURES handshake, offering {@code offered}.
     *
     * @return what SET_PROTOCOL_FEATURES carried.
     */
    long handshake(final long offered) throws IOException
    {
        final Msg get = read();
        if (null == get || get.request() != 1)
        {
            throw new IOException("expected GET_PROTOCOL_FEATURES first, got " + get);
        }
        replyU64(1, offered);
        final Msg set = readUntil(2);
        if (null == set)
        {
            throw new IOException("no SET_PROTOCOL_FEATURES");
        }
        return set.u64(0);
    }

    UnixSocket socket()
    {
        return socket;
    }

    private boolean closed;

    @Override
    public synchronized void close()
    {
        if (!closed)
        {
            closed = true;
            socket.close();
            arena.close();
        }
    }
}
