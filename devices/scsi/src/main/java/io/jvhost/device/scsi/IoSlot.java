package io.jvhost.device.scsi;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * One disk transfer in flight: the request chain (a copy: the queue reuses its own), the guest memory snapshot it
 * was popped under (retained until the chain is completed, so the buffers stay mapped while a disk thread fills
 * them), the plan from {@link Request}, and the outcome. Runs on a {@link DiskIo} thread; completed on the worker.
 * A READ is first tried on the worker from the page cache ({@link #tryReadCached}), which never waits for the disk.
 */
final class IoSlot
{
    private static final System.Logger LOG = System.getLogger(IoSlot.class.getName());
    /** Bytes of the WRITE SAME pattern written per call. */
    private static final int PATTERN_BYTES = 64 * 1024;
    /** Bytes of one {@code struct iovec}. */
    private static final long IOVEC = 16;
    /**
     * iovecs handed to one preadv/pwritev, at most (Linux's IOV_MAX is 1024): a whole chain's data buffers (the queue
     * size, less the two headers) and a few buffers that cross a memory region's end, so the disk moves a request in
     * one call (a Linux guest's 1 MiB read is three requests of up to 126 pages).
     */
    static final int MAX_IOVECS = ScsiDevice.QUEUE_SIZE + 8;

    final DescriptorChain chain;
    final byte[] sense = new byte[Sense.FIXED_LENGTH];
    /** The WRITE SAME block repeated, allocated at the first WRITE SAME without unmapping. */
    private MemorySegment pattern;
    private final long[] ranges = new long[2 * Request.MAX_UNMAP_DESCRIPTORS];

    GuestMemory memory;
    LogicalUnit unit;
    long generation;
    /** Offset of the data in the readable part (data-out) or the writable part (data-in). */
    long dataStart;
    long dataCapacity;
    int io;
    long offset;
    long length;
    boolean fua;
    boolean unmap;
    int rangeCount;
    private byte[] block;

    // Outcome, read by the worker after the slot comes back.
    int status;
    int senseLength;
    /** virtio-scsi response code (0: OK). */
    int response;
    long transferred;

    /**
     * The guest buffers of one transfer as iovecs (host address, length), so the disk moves a request's data with one
     * preadv/pwritev instead of a call per page-sized buffer; disk thread only.
     */
    private final MemorySegment iov = Arena.ofAuto().allocate(IOVEC * MAX_IOVECS, 8);
    private int iovCount;
    /** Bytes the gathered iovecs hold. */
    private long pending;
    /** preadv/pwritev/preadv2 calls the last transfer made (tests count them). */
    int vectorCalls;
    /** Set while {@link #tryReadCached} runs: reads use RWF_NOWAIT, and anything short of all of it gives up. */
    private boolean cachedOnly;
    /** Set when a {@link #cachedOnly} read could not be done from the page cache. */
    private boolean notCached;

    IoSlot(final int maxDescriptors)
    {
        this.chain = new DescriptorChain(maxDescriptors);
    }

    /**
     * Takes the plan of {@code r} for {@code popped}.
     */
    void plan(final Request r, final DescriptorChain popped, final GuestMemory snapshot, final LogicalUnit lu,
        final long start, final long capacity)
    {
        chain.copyFrom(popped);
        memory = snapshot;
        unit = lu;
        dataStart = start;
        dataCapacity = capacity;
        io = r.io;
        offset = r.offset;
        length = r.length;
        fua = r.fua;
        unmap = r.unmap;
        rangeCount = r.rangeCount;
        System.arraycopy(r.ranges, 0, ranges, 0, 2 * r.rangeCount);
        if (io == Request.IO_WRITE_SAME && !unmap)
        {
            if (null == block)
            {
                block = new byte[LogicalUnit.BLOCK_SIZE];
            }
            System.arraycopy(r.params, 0, block, 0, LogicalUnit.BLOCK_SIZE);
        }
        status = Sense.GOOD;
        senseLength = 0;
        response = 0;
        transferred = 0;
        vectorCalls = 0;
    }

    /**
     * Runs the transfer (on a disk thread). Never throws.
     */
    void run()
    {
        try
        {
            switch (io)
            {
                case Request.IO_READ -> move(false);
                case Request.IO_WRITE -> move(true);
                case Request.IO_SYNC -> check(unit.image().sync(), "fdatasync", 0, 0);
                case Request.IO_UNMAP ->
                {
                    for (int i = 0; i < rangeCount && status == Sense.GOOD; i++)
                    {
                        if (ranges[2 * i + 1] > 0)
                        {
                            check(unit.image().punchHole(ranges[2 * i], ranges[2 * i + 1]), "punch hole",
                                ranges[2 * i], ranges[2 * i + 1]);
                        }
                    }
                }
                case Request.IO_WRITE_SAME -> writeSame();
                default -> fail(Sense.ILLEGAL_REQUEST, Sense.INVALID_COMMAND_OPERATION_CODE);
            }
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, "scsi lun " + unit.lun() + ": transfer failed on " + unit.image().path() + ": " + e, e);
            fail(Sense.MEDIUM_ERROR, io == Request.IO_READ ? Sense.UNRECOVERED_READ_ERROR : Sense.WRITE_ERROR);
        }
    }

    /**
     * Tries this READ from the page cache without waiting for the disk (preadv2 with RWF_NOWAIT), on the calling
     * thread: the ring's worker, which must never wait for a slow disk. Anything but the whole transfer read at once
     * (a page not cached, a file system that cannot promise not to wait, an error) leaves the slot as planned for
     * {@link #run} on a disk thread, which reads it all again and reports any error as usual.
     *
     * @return true when the outcome is final (read, or refused before touching the disk); false for a disk thread.
     */
    boolean tryReadCached()
    {
        if (io != Request.IO_READ || !unit.image().noWaitReads())
        {
            return false;
        }
        cachedOnly = true;
        try
        {
            move(false);
        }
        catch (final RuntimeException e)
        {
            notCached = true;
        }
        finally
        {
            cachedOnly = false;
        }
        if (notCached)
        {
            notCached = false;
            status = Sense.GOOD;
            senseLength = 0;
            response = 0;
            transferred = 0;
            return false;
        }
        return true;
    }

    private void move(final boolean write)
    {
        if (length > dataCapacity)
        {
            // The CDB asks for more than the chain's buffers hold: refused before touching the disk.
            response = ScsiDevice.S_OVERRUN;
            return;
        }
        final int first = write ? 0 : chain.readableCount();
        final int end = write ? chain.readableCount() : chain.count();
        long skip = dataStart;
        long done = 0;
        iovCount = 0;
        pending = 0;
        for (int d = first; d < end && done < length; d++)
        {
            final long bufferLength = Integer.toUnsignedLong(chain.length(d));
            if (skip >= bufferLength)
            {
                skip -= bufferLength;
                continue;
            }
            long at = skip;
            skip = 0;
            while (at < bufferLength && done < length)
            {
                final long gpa = chain.address(d) + at;
                final int index = memory.regionIndexOf(gpa);
                // Disk I/O goes straight to host addresses: a Xen grant region mapped per access has none.
                if (index < 0 || memory.region(index).isMappedOnAccess())
                {
                    LOG.log(Level.WARNING, "scsi lun " + unit.lun() + ": buffer at guest address 0x"
                        + Long.toHexString(gpa) + " is not in guest memory mapped in advance; request "
                        + chain.head() + " failed");
                    response = ScsiDevice.S_FAILURE;
                    return;
                }
                final MemoryRegion region = memory.region(index);
                final long span = Math.min(Math.min(bufferLength - at, region.guestPhysEnd() - gpa), length - done);
                final long host = region.bytes().address() + (gpa - region.guestPhysAddr());
                if (iovCount == MAX_IOVECS && !flush(write, done))
                {
                    return;
                }
                iov.set(ValueLayout.JAVA_LONG, iovCount * IOVEC, host);
                iov.set(ValueLayout.JAVA_LONG, iovCount * IOVEC + 8, span);
                iovCount++;
                pending += span;
                at += span;
                done += span;
            }
        }
        if (!flush(write, done))
        {
            return;
        }
        transferred = done;
        if (write && fua)
        {
            check(unit.image().sync(), "fdatasync", 0, 0);
        }
    }

    /**
     * Moves the gathered iovecs' {@link #pending} bytes, which end at {@code done} bytes into the transfer, with as
     * many preadv/pwritev calls as the disk needs (a short one continues where it stopped).
     *
     * @return false when the disk failed: {@link #transferred} then counts what was moved.
     */
    private boolean flush(final boolean write, final long done)
    {
        long moved = 0;
        int index = 0;
        final long start = done - pending;
        while (moved < pending)
        {
            vectorCalls++;
            if (cachedOnly)
            {
                final long n = unit.image().readVectorNoWait(iov.address() + index * IOVEC, iovCount - index,
                    offset + start + moved);
                if (n != pending - moved)
                {
                    // Not (all) in the page cache, or an error: a disk thread does it, and says why if it fails.
                    notCached = true;
                    return false;
                }
                break;
            }
            final long n = unit.image().transferVector(write, iov.address() + index * IOVEC, iovCount - index,
                offset + start + moved);
            if (n <= 0)
            {
                check(n == 0 ? -Errno.EIO : n, write ? "pwritev" : "preadv", offset + start + moved, pending - moved);
                transferred = start + moved;
                return false;
            }
            moved += n;
            // Skip the iovecs moved whole; shorten a partly moved one in place.
            long left = n;
            while (left > 0 && index < iovCount)
            {
                final long length = iov.get(ValueLayout.JAVA_LONG, index * IOVEC + 8);
                if (left >= length)
                {
                    left -= length;
                    index++;
                }
                else
                {
                    iov.set(ValueLayout.JAVA_LONG, index * IOVEC, iov.get(ValueLayout.JAVA_LONG, index * IOVEC) + left);
                    iov.set(ValueLayout.JAVA_LONG, index * IOVEC + 8, length - left);
                    left = 0;
                }
            }
        }
        iovCount = 0;
        pending = 0;
        return true;
    }

    private void writeSame()
    {
        if (unmap)
        {
            check(unit.image().punchHole(offset, length), "punch hole", offset, length);
            return;
        }
        if (null == pattern)
        {
            pattern = java.lang.foreign.Arena.ofAuto().allocate(PATTERN_BYTES, 4096);
        }
        for (int i = 0; i < PATTERN_BYTES; i += LogicalUnit.BLOCK_SIZE)
        {
            MemorySegment.copy(block, 0, pattern, java.lang.foreign.ValueLayout.JAVA_BYTE, i, LogicalUnit.BLOCK_SIZE);
        }
        long done = 0;
        while (done < length)
        {
            final long span = Math.min(PATTERN_BYTES, length - done);
            final long n = unit.image().write(pattern.address(), span, offset + done);
            if (n <= 0)
            {
                check(n == 0 ? -Errno.EIO : n, "pwrite", offset + done, span);
                return;
            }
            done += n;
        }
    }

    private void check(final long result, final String call, final long at, final long bytes)
    {
        if (result >= 0)
        {
            return;
        }
        final int errno = (int)-result;
        LOG.log(Level.WARNING, "scsi lun " + unit.lun() + ": " + call + " on " + unit.image().path() + " at "
            + at + " (" + bytes + " bytes) failed: " + Errno.name(errno));
        if (io == Request.IO_UNMAP || (io == Request.IO_WRITE_SAME && unmap))
        {
            fail(Sense.MEDIUM_ERROR, Sense.WRITE_ERROR);
        }
        else
        {
            fail(Sense.MEDIUM_ERROR, io == Request.IO_READ ? Sense.UNRECOVERED_READ_ERROR : Sense.WRITE_ERROR);
        }
    }

    private void fail(final int key, final int code)
    {
        status = Sense.CHECK_CONDITION;
        Sense.writeFixed(sense, key, code);
        senseLength = Sense.FIXED_LENGTH;
    }
}
