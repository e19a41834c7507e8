package io.jvhost.device.vsock;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A flyweight over one 44-byte {@code virtio_vsock_hdr} held in a segment of our own (copied out of or into a chain):
 * typed getters and setters, no objects per packet.
 * <pre>
 *  0            8            16          20          24      28     30     32      36          40        44
 *  +------------+------------+-----------+-----------+-------+------+------+-------+-----------+---------+
 *  | src_cid u64| dst_cid u64|src_port u32|dst_port u32|len u32|type  | op   |flags  |buf_alloc  |fwd_cnt  |
 *  |            |            |           |           |       | u16  | u16  | u32   | u32       | u32     |
 *  +------------+------------+-----------+-----------+-------+------+------+-------+-----------+---------+
 * </pre>
 * All fields little-endian.
 */
final class VsockHeader
{
    static final int SIZE = 44;

    static final int TYPE_STREAM = 1;

    static final int OP_INVALID = 0;
    static final int OP_REQUEST = 1;
    static final int OP_RESPONSE = 2;
    static final int OP_RST = 3;
    static final int OP_SHUTDOWN = 4;
    static final int OP_RW = 5;
    static final int OP_CREDIT_UPDATE = 6;
    static final int OP_CREDIT_REQUEST = 7;

    /** SHUTDOWN flags: the sender will receive no more, send no more. */
    static final int SHUTDOWN_RCV = 1;
    static final int SHUTDOWN_SEND = 2;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final MemorySegment bytes = MemorySegment.ofArray(new byte[SIZE]);

    static
    {
        if (java.nio.ByteOrder.nativeOrder() != java.nio.ByteOrder.LITTLE_ENDIAN)
        {
            throw new ExceptionInInitializerError("virtio-vsock headers are little-endian; this host is not");
        }
    }

    MemorySegment bytes()
    {
        return bytes;
    }

    long srcCid()
    {
        return bytes.get(U64, 0);
    }

    long dstCid()
    {
        return bytes.get(U64, 8);
    }

    int srcPort()
    {
        return bytes.get(U32, 16);
    }

    int dstPort()
    {
        return bytes.get(U32, 20);
    }

    /** @return payload length, unsigned. */
    long len()
    {
        return Integer.toUnsignedLong(bytes.get(U32, 24));
    }

    int type()
    {
        return Short.toUnsignedInt(bytes.get(U16, 28));
    }

    int op()
    {
        return Short.toUnsignedInt(bytes.get(U16, 30));
    }

    int flags()
    {
        return bytes.get(U32, 32);
    }

    int bufAlloc()
    {
        return bytes.get(U32, 36);
    }

    int fwdCnt()
    {
        return bytes.get(U32, 40);
    }

    /**
     * Fills every field of a stream packet.
     */
    VsockHeader set(final long srcCid, final int srcPort, final long dstCid, final int dstPort, final int op,
        final int len, final int flags, final int bufAlloc, final int fwdCnt)
    {
        bytes.set(U64, 0, srcCid);
        bytes.set(U64, 8, dstCid);
        bytes.set(U32, 16, srcPort);
        bytes.set(U32, 20, dstPort);
        bytes.set(U32, 24, len);
        bytes.set(U16, 28, (short)TYPE_STREAM);
        bytes.set(U16, 30, (short)op);
        bytes.set(U32, 32, flags);
        bytes.set(U32, 36, bufAlloc);
        bytes.set(U32, 40, fwdCnt);
        return this;
    }

    void len(final int len)
    {
        bytes.set(U32, 24, len);
    }

    static String opName(final int op)
    {
        return switch (op)
        {
            case OP_REQUEST -> "REQUEST";
            case OP_RESPONSE -> "RESPONSE";
            case OP_RST -> "RST";
            case OP_SHUTDOWN -> "SHUTDOWN";
            case OP_RW -> "RW";
            case OP_CREDIT_UPDATE -> "CREDIT_UPDATE";
            case OP_CREDIT_REQUEST -> "CREDIT_REQUEST";
            default -> "op " + op;
        };
    }
}
