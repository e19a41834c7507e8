package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * RESOURCE_ATTACH_BACKING; its nr_entries {@code virtio_gpu_mem_entry}s follow (usually in descriptors of their own)
 * and are read from the chain, not from this view.
 * <pre>
 *   0      24            28           32
 *   +------+-------------+------------+---------------------------------------+
 *   | hdr  | resource_id | nr_entries | mem_entry[nr_entries]: addr u64,      |
 *   +------+-------------+------------+   length u32, pad u32 (16 bytes each) |
 *                                     +---------------------------------------+
 * </pre>
 */
public final class ResourceAttachBacking extends Flyweight
{
    public static final int SIZE = ATTACH_SIZE;

    public int resourceId()
    {
        return i32(ATTACH_RESOURCE_ID);
    }

    public long nrEntries()
    {
        return u32(ATTACH_NR_ENTRIES);
    }
}
