package io.jvhost.device.scsi;

import java.nio.charset.StandardCharsets;

/**
 * An emulated SBC direct-access disk of 512-byte blocks over one raw image: answers every command it does not hand to
 * the disk executor at once, in {@link Request#data}; plans READ, WRITE, SYNCHRONIZE CACHE, UNMAP and WRITE SAME as a
 * {@link Request#io} after checking their ranges against the image. Also answers for LUNs that do not exist
 * ({@link #answerAbsent}), as Linux expects while it scans.
 */
final class LogicalUnit
{
    static final int BLOCK_SIZE = 512;
    static final int BLOCK_SHIFT = 9;
    /** Blocks one READ or WRITE may move (32 MiB), said in the Block Limits page; the chain bounds it further. */
    static final long MAX_TRANSFER_BLOCKS = 65536;
    /** Blocks one WRITE SAME or one UNMAP descriptor may cover (1 GiB). */
    static final long MAX_WRITE_SAME_BLOCKS = 1L << 21;

    private static final byte[] VENDOR = "JVHOST  ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PRODUCT = "vhost-user disk ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] REVISION = "0001".getBytes(StandardCharsets.US_ASCII);
    private static final int[] VPD_PAGES = {0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2};

    private final int lun;
    private final ImageFile image;
    private final boolean solidState;
    private final boolean canUnmap;
    private final long blocks;
    private final byte[] serial;

    /**
     * @param canUnmap whether the image takes hole punching (then UNMAP and WRITE SAME with UNMAP are offered).
     */
    LogicalUnit(final int lun, final ImageFile image, final boolean solidState, final boolean canUnmap)
    {
        this.lun = lun;
        this.image = image;
        this.solidState = solidState;
        this.canUnmap = canUnmap && !image.readOnly();
        this.blocks = image.size() >>> BLOCK_SHIFT;
        this.serial = String.format("JVH%02X%08X", lun, image.path().hashCode()).getBytes(StandardCharsets.US_ASCII);
        if (blocks == 0)
        {
            throw new IllegalArgumentException("image " + image.path() + " has " + image.size()
                + " bytes, less than one " + BLOCK_SIZE + "-byte block");
        }
    }

    int lun()
    {
        return lun;
    }

    ImageFile image()
    {
        return image;
    }

    long blocks()
    {
        return blocks;
    }

    boolean canUnmap()
    {
        return canUnmap;
    }

    /**
     * Answers or plans {@code r}; {@code units} are all units of the target (for REPORT LUNS).
     */
    void execute(final Request r, final LogicalUnit[] units)
    {
        r.clear();
        switch (r.opcode())
        {
            case 0x00, 0x1B, 0x1E -> r.reply(0, 0); // TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL
            case 0x03 -> requestSense(r, Sense.NO_SENSE, Sense.NONE);
            case 0x12 -> inquiry(r);
            case 0x25 -> readCapacity10(r);
            case 0x9E -> serviceActionIn(r);
            case 0x1A -> modeSense(r, false);
            case 0x5A -> modeSense(r, true);
            case 0xA0 -> reportLuns(r, units);
            case 0x08 -> transfer(r, false, ((r.cdbByte(1) & 0x1F) << 16) | r.cdb16(2), r.cdbByte(4) == 0 ? 256
                : r.cdbByte(4));
            case 0x0A -> transfer(r, true, ((r.cdbByte(1) & 0x1F) << 16) | r.cdb16(2), r.cdbByte(4) == 0 ? 256
                : r.cdbByte(4));
            case 0x28 -> transfer(r, false, r.cdb32(2), r.cdb16(7));
            case 0x2A -> transfer(r, true, r.cdb32(2), r.cdb16(7));
            case 0xA8 -> transfer(r, false, r.cdb32(2), r.cdb32(6));
            case 0xAA -> transfer(r, true, r.cdb32(2), r.cdb32(6));
            case 0x88 -> transfer(r, false, r.cdb64(2), r.cdb32(10));
            case 0x8A -> transfer(r, true, r.cdb64(2), r.cdb32(10));
            case 0x35 -> synchronize(r, r.cdb32(2), r.cdb16(7));
            case 0x91 -> synchronize(r, r.cdb64(2), r.cdb32(10));
            case 0x42 -> unmap(r);
            case 0x93 -> writeSame(r);
            default -> r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_COMMAND_OPERATION_CODE);
        }
    }

    /**
     * Answers {@code r} addressed to a LUN that does not exist on target 0: INQUIRY says "no unit here", REPORT LUNS
     * lists the units that do exist, everything else is LOGICAL UNIT NOT SUPPORTED.
     */
    static void answerAbsent(final Request r, final LogicalUnit[] units)
    {
        r.clear();
        switch (r.opcode())
        {
            case 0x12 ->
            {
                if ((r.cdbByte(1) & 1) != 0 || r.cdbByte(2) != 0)
                {
                    r.fail(Sense.ILLEGAL_REQUEST, Sense.LOGICAL_UNIT_NOT_SUPPORTED);
                    return;
                }
                final int n = standardInquiry(r);
                r.data[0] = 0x7F;
                r.reply(n, r.cdb16(3));
            }
            case 0xA0 -> reportLuns(r, units);
            case 0x03 -> requestSense(r, Sense.ILLEGAL_REQUEST, Sense.LOGICAL_UNIT_NOT_SUPPORTED);
            default -> r.fail(Sense.ILLEGAL_REQUEST, Sense.LOGICAL_UNIT_NOT_SUPPORTED);
        }
    }

    private static void requestSense(final Request r, final int key, final int code)
    {
        if ((r.cdbByte(1) & 1) != 0)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB); // descriptor format not offered
            return;
        }
        Sense.writeFixed(r.data, key, code);
        r.reply(Sense.FIXED_LENGTH, r.cdbByte(4));
    }

    private static int standardInquiry(final Request r)
    {
        r.zero(36);
        r.data[2] = 0x06; // SPC-4
        r.data[3] = 0x02; // response data format 2
        r.data[4] = 36 - 5;
        r.data[7] = 0x02; // CMDQUE
        System.arraycopy(VENDOR, 0, r.data, 8, 8);
        System.arraycopy(PRODUCT, 0, r.data, 16, 16);
        System.arraycopy(REVISION, 0, r.data, 32, 4);
        return 36;
    }

    private void inquiry(final Request r)
    {
        final long allocation = r.cdb16(3);
        if ((r.cdbByte(1) & 1) == 0)
        {
            if (r.cdbByte(2) != 0)
            {
                r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
                return;
            }
            r.reply(standardInquiry(r), allocation);
            return;
        }
        final int page = r.cdbByte(2);
        final int n;
        switch (page)
        {
            case 0x00 ->
            {
                r.zero(4 + VPD_PAGES.length);
                for (int i = 0; i < VPD_PAGES.length; i++)
                {
                    r.data[4 + i] = (byte)VPD_PAGES[i];
                }
                n = 4 + VPD_PAGES.length;
            }
            case 0x80 ->
            {
                r.zero(4);
                System.arraycopy(serial, 0, r.data, 4, serial.length);
                n = 4 + serial.length;
            }
            case 0x83 ->
            {
                // One designator: T10 vendor ID (type 1), ASCII (code set 2), for the logical unit.
                r.zero(8);
                r.data[4] = 0x02;
                r.data[5] = 0x01;
                r.data[7] = (byte)(VENDOR.length + serial.length);
                System.arraycopy(VENDOR, 0, r.data, 8, VENDOR.length);
                System.arraycopy(serial, 0, r.data, 8 + VENDOR.length, serial.length);
                n = 8 + VENDOR.length + serial.length;
            }
            case 0xB0 ->
            {
                n = 64;
                r.zero(n);
                r.data[4] = 0x01; // WSNZ: WRITE SAME with 0 blocks is refused, not "to the end"
                r.put16(6, 8); // optimal transfer length granularity: 4 KiB
                r.put32(8, MAX_TRANSFER_BLOCKS);
                if (canUnmap)
                {
                    r.put32(20, MAX_WRITE_SAME_BLOCKS);
                    r.put32(24, Request.MAX_UNMAP_DESCRIPTORS);
                    r.put32(28, 8);
                }
                r.put64(36, image.readOnly() ? 0 : MAX_WRITE_SAME_BLOCKS);
            }
            case 0xB1 ->
            {
                n = 64;
                r.zero(n);
                r.put16(4, solidState ? 1 : 0); // 1: non-rotating medium; 0: rate not reported
            }
            case 0xB2 ->
            {
                n = 8;
                r.zero(n);
                if (canUnmap)
                {
                    r.data[5] = (byte)(0x80 | 0x40 | 0x04); // LBPU, LBPWS, LBPRZ: unmapped blocks read as zeros
                    r.data[6] = 0x02; // thin provisioned
                }
            }
            default ->
            {
                r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
                return;
            }
        }
        r.data[1] = (byte)page;
        r.put16(2, n - 4);
        r.reply(n, allocation);
    }

    private void readCapacity10(final Request r)
    {
        r.zero(8);
        r.put32(0, Math.min(blocks - 1, 0xFFFF_FFFFL));
        r.put32(4, BLOCK_SIZE);
        r.reply(8, 8);
    }

    private void serviceActionIn(final Request r)
    {
        if ((r.cdbByte(1) & 0x1F) != 0x10)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
            return;
        }
        r.zero(32);
        r.put64(0, blocks - 1);
        r.put32(8, BLOCK_SIZE);
        if (canUnmap)
        {
            r.data[14] = (byte)0xC0; // LBPME, LBPRZ
        }
        r.reply(32, r.cdb32(10));
    }

    private void modeSense(final Request r, final boolean ten)
    {
        final boolean dbd = (r.cdbByte(1) & 0x08) != 0;
        final boolean longLba = ten && (r.cdbByte(1) & 0x10) != 0;
        final int control = r.cdbByte(2) >>> 6;
        final int page = r.cdbByte(2) & 0x3F;
        final int subpage = r.cdbByte(3);
        final long allocation = ten ? r.cdb16(7) : r.cdbByte(4);
        if (control == 3)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.SAVING_PARAMETERS_NOT_SUPPORTED);
            return;
        }
        if ((page != 0x08 && page != 0x0A && page != 0x3F) || (subpage != 0 && !(page == 0x3F && subpage == 0xFF)))
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
            return;
        }
        final int header = ten ? 8 : 4;
        final int descriptor = dbd ? 0 : longLba ? 16 : 8;
        r.zero(header + descriptor + 20 + 12);
        int n = header;
        if (descriptor == 8)
        {
            r.put32(n, Math.min(blocks, 0xFF_FFFFL)); // byte 0 (density) stays 0 below
            r.data[n] = 0;
            r.put32(n + 4, BLOCK_SIZE);
        }
        else if (descriptor == 16)
        {
            r.put64(n, blocks);
            r.put32(n + 12, BLOCK_SIZE);
        }
        n += descriptor;
        final boolean changeable = control == 1;
        if (page == 0x08 || page == 0x3F)
        {
            r.data[n] = 0x08;
            r.data[n + 1] = 18;
            // Write cache enabled: writes sit in the host's page cache until SYNCHRONIZE CACHE (fdatasync).
            r.data[n + 2] = changeable ? 0 : (byte)0x04;
            n += 20;
        }
        if (page == 0x0A || page == 0x3F)
        {
            r.data[n] = 0x0A;
            r.data[n + 1] = 10;
            n += 12;
        }
        final int deviceSpecific = (image.readOnly() ? 0x80 : 0) | 0x10; // WP, DPOFUA
        if (ten)
        {
            r.put16(0, n - 2);
            r.data[3] = (byte)deviceSpecific;
            r.data[4] = (byte)(longLba ? 1 : 0);
            r.put16(6, descriptor);
        }
        else
        {
            r.data[0] = (byte)(n - 1);
            r.data[2] = (byte)deviceSpecific;
            r.data[3] = (byte)descriptor;
        }
        r.reply(n, allocation);
    }

    private static void reportLuns(final Request r, final LogicalUnit[] units)
    {
        final long allocation = r.cdb32(6);
        if (allocation < 16)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
            return;
        }
        final LogicalUnit[] list = units;
        final int count = list.length;
        final int n = 8 + 8 * count;
        r.zero(n);
        r.put32(0, 8L * count);
        for (int i = 0; i < count; i++)
        {
            final int id = list[i].lun;
            if (id < 256)
            {
                r.data[8 + 8 * i + 1] = (byte)id;
            }
            else
            {
                r.data[8 + 8 * i] = (byte)(0x40 | id >>> 8);
                r.data[8 + 8 * i + 1] = (byte)id;
            }
        }
        r.reply(n, allocation);
    }

    private boolean inRange(final Request r, final long lba, final long count)
    {
        if (lba < 0 || lba > blocks || count > blocks - lba)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.LBA_OUT_OF_RANGE);
            return false;
        }
        return true;
    }

    private void transfer(final Request r, final boolean write, final long lba, final long count)
    {
        if (!inRange(r, lba, count))
        {
            return;
        }
        if (write && image.readOnly())
        {
            r.fail(Sense.DATA_PROTECT, Sense.WRITE_PROTECTED);
            return;
        }
        if (count > MAX_TRANSFER_BLOCKS)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
            return;
        }
        if (count == 0)
        {
            r.reply(0, 0);
            return;
        }
        r.io = write ? Request.IO_WRITE : Request.IO_READ;
        r.offset = lba << BLOCK_SHIFT;
        r.length = count << BLOCK_SHIFT;
        r.fua = write && (r.cdbByte(1) & 0x08) != 0 && r.opcode() != 0x0A;
    }

    private void synchronize(final Request r, final long lba, final long count)
    {
        if (!inRange(r, lba, count))
        {
            return;
        }
        r.io = Request.IO_SYNC;
    }

    private void unmap(final Request r)
    {
        if (!canUnmap)
        {
            if (image.readOnly())
            {
                r.fail(Sense.DATA_PROTECT, Sense.WRITE_PROTECTED);
            }
            else
            {
                r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_COMMAND_OPERATION_CODE);
            }
            return;
        }
        final int listLength = r.cdb16(7);
        if (listLength == 0)
        {
            r.reply(0, 0);
            return;
        }
        if (listLength < 8 || r.paramsLength < listLength)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        final int descriptorBytes = Math.min(r.param16(2), listLength - 8);
        final int descriptors = descriptorBytes / 16;
        if (descriptors > Request.MAX_UNMAP_DESCRIPTORS)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_PARAMETER_LIST);
            return;
        }
        for (int i = 0; i < descriptors; i++)
        {
            final long lba = r.param64(8 + 16 * i);
            final long count = r.param32(16 + 16 * i);
            if (!inRange(r, lba, count))
            {
                return;
            }
            if (count > MAX_WRITE_SAME_BLOCKS)
            {
                r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_PARAMETER_LIST);
                return;
            }
            r.ranges[2 * i] = lba << BLOCK_SHIFT;
            r.ranges[2 * i + 1] = count << BLOCK_SHIFT;
        }
        r.rangeCount = descriptors;
        r.io = Request.IO_UNMAP;
    }

    private void writeSame(final Request r)
    {
        final long lba = r.cdb64(2);
        final long count = r.cdb32(10);
        if (image.readOnly())
        {
            r.fail(Sense.DATA_PROTECT, Sense.WRITE_PROTECTED);
            return;
        }
        if (count == 0 || count > MAX_WRITE_SAME_BLOCKS || (r.cdbByte(1) & 0x01) != 0)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB); // WSNZ; NDOB not offered
            return;
        }
        if (!inRange(r, lba, count))
        {
            return;
        }
        if (r.paramsLength < BLOCK_SIZE)
        {
            r.fail(Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        r.io = Request.IO_WRITE_SAME;
        r.offset = lba << BLOCK_SHIFT;
        r.length = count << BLOCK_SHIFT;
        r.unmap = canUnmap && (r.cdbByte(1) & 0x08) != 0 && allZero(r.params, BLOCK_SIZE);
    }

    private static boolean allZero(final byte[] b, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            if (b[i] != 0)
            {
                return false;
            }
        }
        return true;
    }
}
