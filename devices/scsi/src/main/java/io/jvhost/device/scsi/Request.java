package io.jvhost.device.scsi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One SCSI command as the target sees it: the CDB, the data-out parameters it needs (UNMAP, WRITE SAME), and what the
 * target answered: status and sense, data-in bytes, or a disk transfer to run ({@link #io}). Reused for every command
 * on the worker; a disk transfer's plan is copied into an {@link IoSlot}.
 */
final class Request
{
    static final int CDB_SIZE = 32;
    static final int DATA_CAPACITY = 4096;
    static final int MAX_UNMAP_DESCRIPTORS = 64;

    static final int IO_NONE = 0;
    static final int IO_READ = 1;
    static final int IO_WRITE = 2;
    static final int IO_SYNC = 3;
    static final int IO_UNMAP = 4;
    static final int IO_WRITE_SAME = 5;

    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    final byte[] cdb = new byte[CDB_SIZE];
    final MemorySegment cdbSegment = MemorySegment.ofArray(cdb);
    final byte[] data = new byte[DATA_CAPACITY];
    final MemorySegment dataSegment = MemorySegment.ofArray(data);
    final byte[] params = new byte[DATA_CAPACITY];
    final MemorySegment paramsSegment = MemorySegment.ofArray(params);
    final byte[] sense = new byte[Sense.FIXED_LENGTH];
    final long[] ranges = new long[2 * MAX_UNMAP_DESCRIPTORS];

    int paramsLength;
    int status;
    int senseLength;
    int dataLength;
    int io;
    long offset;
    long length;
    boolean fua;
    boolean unmap;
    int rangeCount;

    void clear()
    {
        status = Sense.GOOD;
        senseLength = 0;
        dataLength = 0;
        io = IO_NONE;
        offset = 0;
        length = 0;
        fua = false;
        unmap = false;
        rangeCount = 0;
    }

    int opcode()
    {
        return cdb[0] & 0xFF;
    }

    int cdbByte(final int i)
    {
        return cdb[i] & 0xFF;
    }

    int cdb16(final int i)
    {
        return cdbSegment.get(BE16, i) & 0xFFFF;
    }

    long cdb32(final int i)
    {
        return Integer.toUnsignedLong(cdbSegment.get(BE32, i));
    }

    long cdb64(final int i)
    {
        return cdbSegment.get(BE64, i);
    }

    int param16(final int i)
    {
        return paramsSegment.get(BE16, i) & 0xFFFF;
    }

    long param32(final int i)
    {
        return Integer.toUnsignedLong(paramsSegment.get(BE32, i));
    }

    long param64(final int i)
    {
        return paramsSegment.get(BE64, i);
    }

    void put16(final int i, final int v)
    {
        dataSegment.set(BE16, i, (short)v);
    }

    void put32(final int i, final long v)
    {
        dataSegment.set(BE32, i, (int)v);
    }

    void put64(final int i, final long v)
    {
        dataSegment.set(BE64, i, v);
    }

    /**
     * CHECK CONDITION with fixed-format sense.
     */
    void fail(final int key, final int code)
    {
        status = Sense.CHECK_CONDITION;
        Sense.writeFixed(sense, key, code);
        senseLength = Sense.FIXED_LENGTH;
        dataLength = 0;
        io = IO_NONE;
    }

    /**
     * GOOD with {@code produced} data-in bytes, cut to the CDB's allocation length.
     */
    void reply(final int produced, final long allocation)
    {
        status = Sense.GOOD;
        dataLength = (int)Math.min(produced, allocation);
    }

    /**
     * Zeroes the first {@code n} bytes of {@link #data} for a new reply.
     */
    void zero(final int n)
    {
        java.util.Arrays.fill(data, 0, n, (byte)0);
    }
}
