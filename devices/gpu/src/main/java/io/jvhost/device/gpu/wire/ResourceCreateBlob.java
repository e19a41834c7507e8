package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * RESOURCE_CREATE_BLOB; nr_entries mem entries follow, read from the chain like ATTACH_BACKING's.
 * <pre>
 *   0      24            28         32           36           40             48          56
 *   +------+-------------+----------+------------+------------+--------------+-----------+-----------------+
 *   | hdr  | resource_id | blob_mem | blob_flags | nr_entries | blob_id u64  | size u64  | mem_entry[...]  |
 *   +------+-------------+----------+------------+------------+--------------+-----------+-----------------+
 * </pre>
 */
public final class ResourceCreateBlob extends Flyweight
{
    public static final int SIZE = CREATE_BLOB_SIZE;

    public int resourceId()
    {
        return i32(BLOB_RESOURCE_ID);
    }

    public int blobMem()
    {
        return i32(BLOB_MEM);
    }

    public int blobFlags()
    {
        return i32(BLOB_FLAGS);
    }

    public long nrEntries()
    {
        return u32(BLOB_NR_ENTRIES);
    }

    public long blobId()
    {
        return u64(BLOB_ID);
    }

    /**
     * @return the blob's size (a u64: 2^63 and more come back negative).
     */
    public long size()
    {
        return u64(BLOB_SIZE);
    }
}
