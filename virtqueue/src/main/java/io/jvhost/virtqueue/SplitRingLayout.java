package io.jvhost.virtqueue;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import static java.nio.ByteOrder.LITTLE_ENDIAN;

/**
 * Wire layout of a virtio 1.x split virtqueue (all fields little-endian, naturally aligned), shared by the device
 * side ({@link SplitQueue}) and the driver side ({@link DriverQueue}).
 * <pre>
 * Descriptor table: size entries, align 16
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  addr (u64, guest-physical)                   |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                           len (u32)                           |  8
 *  +-------------------------------+-------------------------------+
 *  |  flags (NEXT 1 WRITE 2 IND 4) |           next (u16)          |  12
 *  +-------------------------------+-------------------------------+
 *
 * Available ring (driver area), align 2       Used ring (device area), align 4
 *  +-------------+-------------+               +-------------+-------------+
 *  | flags u16   | idx u16     |  0            | flags u16   | idx u16     |  0
 *  +-------------+-------------+               +-------------+-------------+
 *  | ring[0] u16 | ring[1] ... |  4            | ring[0].id u32            |  4
 *  +-------------+-------------+               | ring[0].len u32           |  8
 *  | used_event u16            |  4 + 2*size   | ... ring[size-1]          |
 *  +---------------------------+               | avail_event u16           |  4 + 8*size
 *                                              +---------------------------+
 * </pre>
 * {@code used_event} and {@code avail_event} exist only with VIRTIO_RING_F_EVENT_IDX.
 */
public final class SplitRingLayout
{
    /** Bytes per descriptor. */
    public static final int DESC_SIZE = 16;
    /** Offset of the u64 buffer address in a descriptor. */
    public static final int DESC_ADDR_OFFSET = 0;
    /** Offset of the u32 buffer length in a descriptor. */
    public static final int DESC_LEN_OFFSET = 8;
    /** Offset of the u16 flags in a descriptor. */
    public static final int DESC_FLAGS_OFFSET = 12;
    /** Offset of the u16 next index in a descriptor. */
    public static final int DESC_NEXT_OFFSET = 14;

    /** Descriptor flag: the chain continues at {@code next}. */
    public static final int DESC_F_NEXT = 1;
    /** Descriptor flag: the buffer is device-writable. */
    public static final int DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer is a table of descriptors. */
    public static final int DESC_F_INDIRECT = 4;

    /** Offset of the u16 flags in the avail ring. */
    public static final int AVAIL_FLAGS_OFFSET = 0;
    /** Offset of the u16 idx in the avail ring. */
    public static final int AVAIL_IDX_OFFSET = 2;
    /** Offset of the u16 ring[] in the avail ring. */
    public static final int AVAIL_RING_OFFSET = 4;
    /** Avail flag: the driver does not want interrupts (ignored with EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    /** Offset of the u16 flags in the used ring. */
    public static final int USED_FLAGS_OFFSET = 0;
    /** Offset of the u16 idx in the used ring. */
    public static final int USED_IDX_OFFSET = 2;
    /** Offset of the {u32 id, u32 len} ring[] in the used ring. */
    public static final int USED_RING_OFFSET = 4;
    /** Bytes per used element. */
    public static final int USED_ELEM_SIZE = 8;
    /** Used flag: the device does not want kicks (ignored with EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Required alignment of the descriptor table. */
    public static final int DESC_ALIGN = 16;
    /** Required alignment of the avail ring. */
    public static final int AVAIL_ALIGN = 2;
    /** Required alignment of the used ring. */
    public static final int USED_ALIGN = 4;

    /** Aligned little-endian layouts for the rings (alignment is checked when a queue binds). */
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(LITTLE_ENDIAN);

    /** Unaligned little-endian layouts for indirect tables and payload bytes (no alignment is promised there). */
    static final ValueLayout.OfShort U16_UNALIGNED = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32_UNALIGNED = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64_UNALIGNED = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LITTLE_ENDIAN);

    /** {@code (MemorySegment, long offset) -> short}: for acquire loads and release stores of the ring indices. */
    static final VarHandle U16_HANDLE = U16.varHandle();

    private SplitRingLayout()
    {
    }

    /**
     * @param size queue size.
     * @return bytes of the descriptor table.
     */
    public static long descTableBytes(final int size)
    {
        return (long)DESC_SIZE * size;
    }

    /**
     * @param size     queue size.
     * @param eventIdx whether the trailing used_event field is present.
     * @return bytes of the avail ring.
     */
    public static long availRingBytes(final int size, final boolean eventIdx)
    {
        return AVAIL_RING_OFFSET + 2L * size + (eventIdx ? 2 : 0);
    }

    /**
     * @param size     queue size.
     * @param eventIdx whether the trailing avail_event field is present.
     * @return bytes of the used ring.
     */
    public static long usedRingBytes(final int size, final boolean eventIdx)
    {
        return USED_RING_OFFSET + (long)USED_ELEM_SIZE * size + (eventIdx ? 2 : 0);
    }

    /**
     * @return offset of avail.ring[slot].
     */
    public static long availRingOffset(final int slot)
    {
        return AVAIL_RING_OFFSET + 2L * slot;
    }

    /**
     * @return offset of used_event at the end of the avail ring.
     */
    public static long usedEventOffset(final int size)
    {
        return AVAIL_RING_OFFSET + 2L * size;
    }

    /**
     * @return offset of used.ring[slot].
     */
    public static long usedElemOffset(final int slot)
    {
        return USED_RING_OFFSET + (long)USED_ELEM_SIZE * slot;
    }

    /**
     * @return offset of avail_event at the end of the used ring.
     */
    public static long availEventOffset(final int size)
    {
        return USED_RING_OFFSET + (long)USED_ELEM_SIZE * size;
    }

    /**
     * The virtio event-index rule ({@code vring_need_event}), in free-running u16 arithmetic: true when
     * {@code eventIdx} lies in {@code [oldIdx, newIdx)}, i.e. the other side asked to be told once the index moved
     * past {@code eventIdx} and this batch moved it past.
     *
     * @param eventIdx the other side's used_event / avail_event.
     * @param newIdx   the index after the batch.
     * @param oldIdx   the index at the previous notification.
     * @return true when a notification is due.
     */
    public static boolean needEvent(final int eventIdx, final int newIdx, final int oldIdx)
    {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }
}
