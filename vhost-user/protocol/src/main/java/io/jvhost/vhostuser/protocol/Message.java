package io.jvhost.vhostuser.protocol;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.os.FdList;

/**
 * A reusable buffer for one vhost-user message: header, payload and the file descriptors that came with it.
 * <p>
 * Payload fields sit at unaligned offsets (the header is 12 bytes), so every accessor uses the unaligned
 * little-endian layouts. Accessor offsets are relative to the payload start. One instance per connection direction;
 * nothing is allocated per message.
 */
public final class Message
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final MemorySegment buffer;
    private final int maxPayload;
    private final FdList fds = new FdList();

    /**
     * @param maxPayload the largest payload this buffer holds.
     */
    public Message(final int maxPayload)
    {
        this.maxPayload = maxPayload;
        this.buffer = Arena.ofAuto().allocate(MessageHeader.LENGTH + maxPayload, 8);
    }

    /**
     * @return the whole buffer (header at 0, payload at 12).
     */
    public MemorySegment buffer()
    {
        return buffer;
    }

    public int maxPayload()
    {
        return maxPayload;
    }

    /**
     * @return descriptors received with, or to send with, this message.
     */
    public FdList fds()
    {
        return fds;
    }

    public int request()
    {
        return buffer.get(U32, MessageHeader.REQUEST_OFFSET);
    }

    public int flags()
    {
        return buffer.get(U32, MessageHeader.FLAGS_OFFSET);
    }

    /**
     * @return the payload size the header declares.
     */
    public int size()
    {
        return buffer.get(U32, MessageHeader.SIZE_OFFSET);
    }

    public boolean needsReply()
    {
        return (flags() & MessageHeader.NEED_REPLY) != 0;
    }

    /**
     * Writes a header. Returns this for chaining.
     */
    public Message header(final int request, final int flags, final int size)
    {
        if (size < 0 || size > maxPayload)
        {
            throw new IllegalArgumentException("payload size " + size + " outside 0.." + maxPayload);
        }
        buffer.set(U32, MessageHeader.REQUEST_OFFSET, request);
        buffer.set(U32, MessageHeader.FLAGS_OFFSET, flags);
        buffer.set(U32, MessageHeader.SIZE_OFFSET, size);
        return this;
    }

    public int u32(final int payloadOffset)
    {
        return buffer.get(U32, MessageHeader.LENGTH + payloadOffset);
    }

    public long u64(final int payloadOffset)
    {
        return buffer.get(U64, MessageHeader.LENGTH + payloadOffset);
    }

    public int u16(final int payloadOffset)
    {
        return buffer.get(U16, MessageHeader.LENGTH + payloadOffset) & 0xFFFF;
    }

    public int u8(final int payloadOffset)
    {
        return buffer.get(ValueLayout.JAVA_BYTE, MessageHeader.LENGTH + payloadOffset) & 0xFF;
    }

    public Message u32(final int payloadOffset, final int value)
    {
        buffer.set(U32, MessageHeader.LENGTH + payloadOffset, value);
        return this;
    }

    public Message u64(final int payloadOffset, final long value)
    {
        buffer.set(U64, MessageHeader.LENGTH + payloadOffset, value);
        return this;
    }

    public Message u8(final int payloadOffset, final int value)
    {
        buffer.set(ValueLayout.JAVA_BYTE, MessageHeader.LENGTH + payloadOffset, (byte)value);
        return this;
    }

    /**
     * @return the payload bytes from {@code payloadOffset} (a slice: allocates, not for hot paths).
     */
    public MemorySegment payload(final int payloadOffset, final int length)
    {
        return buffer.asSlice(MessageHeader.LENGTH + payloadOffset, length);
    }

    /**
     * Zeroes {@code length} payload bytes from {@code payloadOffset}.
     */
    public Message clearPayload(final int payloadOffset, final int length)
    {
        buffer.asSlice(MessageHeader.LENGTH + payloadOffset, length).fill((byte)0);
        return this;
    }

    /**
     * @return "NAME(flags=0x., size=.)" for logs.
     */
    public String describe()
    {
        return FrontendRequest.name(request()) + "(flags=0x" + Integer.toHexString(flags()) + ", size=" + size()
            + (fds.count() > 0 ? ", fds=" + fds.count() : "") + ")";
    }
}
