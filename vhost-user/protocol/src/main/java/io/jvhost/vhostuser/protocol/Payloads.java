package io.jvhost.vhostuser.protocol;

/**
 * Payload layouts of the front-end requests (offsets relative to the payload start, host byte order).
 * <pre>
 * u64                  0 u64 value                                                            (8)
 * vring state          0 u32 index    4 u32 num                                               (8)
 * vring file           0 u64: bits 0-7 index, bit 8 NOFD (no descriptor: polling)             (8)
 * vring addr           0 u32 index    4 u32 flags (bit 0 LOG)                                 (40)
 *                      8 u64 desc_user_addr  16 u64 used_user_addr  24 u64 avail_user_addr
 *                     32 u64 log_guest_addr
 * memory region        0 u64 guest_phys_addr  8 u64 memory_size  16 u64 userspace_addr
 *                     24 u64 mmap_offset                                                      (32)
 * memory region, with XEN_MMAP negotiated: the same, then
 *                     32 u32 xen_mmap_flags  36 u32 xen_mmap_data (domid)                      (40)
 * memory table         0 u32 nregions  4 u32 padding  8 region[nregions]                (8 + 32n or 8 + 40n)
 * single region        0 u64 padding   8 region                                         (40, or 48 with XEN_MMAP)
 * config               0 u32 offset    4 u32 size    8 u32 flags   12 u8 data[size]           (12 + size)
 * inflight             0 u64 mmap_size 8 u64 mmap_offset 16 u16 num_queues 18 u16 queue_size  (24)
 * </pre>
 */
public final class Payloads
{
    public static final int U64_SIZE = 8;

    public static final int VRING_STATE_SIZE = 8;
    public static final int VRING_STATE_INDEX = 0;
    public static final int VRING_STATE_NUM = 4;

    public static final int VRING_FILE_SIZE = 8;
    public static final long VRING_FILE_INDEX_MASK = 0xFF;
    public static final long VRING_FILE_NOFD = 0x100;

    public static final int VRING_ADDR_SIZE = 40;
    public static final int VRING_ADDR_INDEX = 0;
    public static final int VRING_ADDR_FLAGS = 4;
    public static final int VRING_ADDR_DESC = 8;
    public static final int VRING_ADDR_USED = 16;
    public static final int VRING_ADDR_AVAIL = 24;
    public static final int VRING_ADDR_LOG = 32;
    public static final int VRING_ADDR_F_LOG = 1;

    public static final int REGION_SIZE = 32;
    public static final int REGION_GPA = 0;
    public static final int REGION_MEMORY_SIZE = 8;
    public static final int REGION_USER_ADDR = 16;
    public static final int REGION_MMAP_OFFSET = 24;
    /** A region entry when VHOST_USER_PROTOCOL_F_XEN_MMAP is negotiated. */
    public static final int REGION_XEN_SIZE = 40;
    public static final int REGION_XEN_FLAGS = 32;
    public static final int REGION_XEN_DOMID = 36;

    public static final int MEMORY_TABLE_HEADER = 8;
    public static final int MEMORY_TABLE_NREGIONS = 0;
    /** Regions one SET_MEM_TABLE may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MEMORY_TABLE_MAX_REGIONS = 8;

    public static final int SINGLE_REGION_SIZE = 40;
    public static final int SINGLE_REGION_REGION = 8;
    public static final int SINGLE_REGION_XEN_SIZE = 48;

    public static final int CONFIG_HEADER = 12;
    public static final int CONFIG_OFFSET = 0;
    public static final int CONFIG_SIZE = 4;
    public static final int CONFIG_FLAGS = 8;
    public static final int CONFIG_DATA = 12;
    /** VHOST_USER_MAX_CONFIG_SIZE. */
    public static final int CONFIG_MAX_SIZE = 256;

    public static final int INFLIGHT_SIZE = 24;

    private Payloads()
    {
    }
}
