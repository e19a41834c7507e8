package io.jvhost.device.fuzz;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A driver for device fuzz harnesses: one queue in guest memory fenced by canary pages, requests made of fuzzer
 * bytes (readable part cut into buffers, writable buffers of fuzzer-chosen sizes), served through the real
 * {@link ActiveQueue}. {@link #serve} checks what holds for every device: each used element names a request that was
 * outstanding (once), its length is at most that request's writable bytes, no guest byte outside the writable buffers
 * of the requests completed in that call changed, and the canaries are intact. Reused across inputs (allocated once).
 *
 * <p>Cost per input (the device harnesses run millions): {@code shadow} always holds what guest memory should hold
 * (the harness's own writes go to both), so a serve compares guest memory with it, no copy, and skips a whole allowed
 * buffer at its first changed byte, copying it into the shadow; a device writing anything else fails that serve. A
 * serve compares only up to the high-water mark of the buffers (and allowed ranges) of this input; the zeroed memory
 * above it is checked when a new buffer first covers it and by {@link #finish}, which every harness calls at the end
 * of an input (after its resets too: reset zeroes only below the mark and leaves the rest to be checked). So every
 * byte is checked in the input that changed it, and reset zeroes only what the input used (everything when a check
 * of it failed). Once
 * every request is answered, {@link #add} places buffers from the start of the data area again (checked unchanged
 * since they were answered, then zeroed, so a new buffer is zero as before), which keeps that mark low.
 *
 * <p>After {@link #allowAllWrites} (the device may write anywhere in guest memory until the next reset) there is
 * nothing in guest memory left to compare: a serve checks the answers and the canaries only, and neither it nor
 * {@link #add} compares guest memory with the shadow (256 KiB read twice per serve, for a check that could not fail).
 * The shadow is then left as it was (the next reset zeroes only what it held), and when the reset before zeroed all of
 * guest memory and nothing was served since, {@link #allowAllWrites} does not compare the memory above the buffers
 * either: only a device thread could have written there since, and the same write a moment later is allowed.
 */
public final class QueueFuzzer
{
    public static final int SIZE = 64;
    private static final long PAGE = 4096;
    private static final long RAM_SIZE = 64 * PAGE;
    private static final long GPA = 0x10_0000;
    private static final long DATA = GPA + 4 * PAGE;
    private static final byte CANARY = (byte)0xC3;
    private static final int MAX_BUFFERS = 8;
    /**
     * While fuzzing ({@code JAZZER_FUZZ} set) jvhost logs errors only: a device's line per refused request (a
     * WARNING, formatted and written to the test's output) was most of an execution's time, and millions of them fill
     * the disk; errors still show, and {@link ErrorLog} still collects them. Replaying leaves the levels alone. Held:
     * java.util.logging keeps loggers weakly.
     */
    private static final Logger LOGGER = quietWhileFuzzing();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment host = arena.allocate(RAM_SIZE + 2 * PAGE, PAGE);
    private final MemorySegment ram = host.asSlice(PAGE, RAM_SIZE);
    private final MemorySegment shadow = arena.allocate(RAM_SIZE);
    private final MemorySegment canaries = arena.allocate(PAGE).fill(CANARY);
    private final MemorySegment zeroPage = arena.allocate(PAGE);
    private final GuestMemory memory;
    private final long[][] bufferGpa = new long[SIZE][MAX_BUFFERS];
    private final int[][] bufferLen = new int[SIZE][MAX_BUFFERS];
    private final int[] readableCount = new int[SIZE];
    private final int[] bufferCount = new int[SIZE];
    private final long[] writable = new long[SIZE];
    private final boolean[] outstanding = new boolean[SIZE];
    private final long[] gpas = new long[MAX_BUFFERS];
    private final int[] lengths = new int[MAX_BUFFERS];
    private DriverQueue driver;
    private ActiveQueue queue;
    private long bump;
    /** Where {@link #add} allocates from once no request is outstanding: above what {@link #allocate} handed out. */
    private long floor;
    private boolean asynchronous;
    private final long[] allowedGpa = new long[8];
    private final long[] allowedLength = new long[8];
    private int allowedCount;
    /** Since {@link #allowAllWrites}: every guest byte may change, the shadow is not kept (zeroed by reset). */
    private boolean allWritable;
    /** End of what the shadow may hold that is not zero, while {@link #allWritable} (the shadow is not written). */
    private long shadowEnd = GPA + RAM_SIZE;
    /** The last reset zeroed all of guest memory and nothing was served since. */
    private boolean zeroedAll;
    private int outstandingCount;
    /** End of the buffers and allowed ranges of this input: serves compare below, memory above must still be zero. */
    private long highWater = GPA + RAM_SIZE;
    /** False from the start of a serve until its checks passed: memory may then hold anything, reset fills it all. */
    private boolean clean;

    public QueueFuzzer()
    {
        try
        {
            memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(GPA, ram, GPA)), 8);
        }
        catch (final GuestMemoryException e)
        {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Starts a fresh queue (zeroed memory, nothing outstanding) with {@code features} acked.
     */
    public ActiveQueue reset(final int index, final long features)
    {
        if (clean && allWritable)
        {
            // Any byte may have changed; the shadow was not written above shadowEnd.
            ram.fill((byte)0);
            shadow.asSlice(0, shadowEnd - GPA).fill((byte)0);
            zeroedAll = true;
        }
        else if (clean)
        {
            // After an input's finish(), or within an input (a driver resetting the device): memory above the
            // high-water mark is left as it is, so a change there since the last serve is still found by this
            // input's finish() (or when a buffer first covers it), not hidden by zeroing. (After an input that
            // failed for another reason before its finish, such a change would be reported by the next input.)
            ram.asSlice(0, highWater - GPA).fill((byte)0);
            shadow.asSlice(0, highWater - GPA).fill((byte)0);
            zeroedAll = highWater == GPA + RAM_SIZE;
        }
        else
        {
            host.fill(CANARY);
            ram.fill((byte)0);
            shadow.fill((byte)0);
            clean = true;
            zeroedAll = true;
        }
        highWater = DATA;
        driver = new DriverQueue(ram, GPA, SIZE, GPA);
        final SplitQueue ring = new SplitQueue(SplitQueue.MAX_SIZE);
        ring.setSize(SIZE);
        ring.setFeatures(features | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        try
        {
            ring.bind(memory);
        }
        catch (final GuestMemoryException e)
        {
            throw new IllegalStateException(e);
        }
        queue = new ActiveQueue(index, "fuzz q" + index, ring, 2 * MAX_BUFFERS);
        queue.setAckedFeatures(features | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        bump = DATA;
        floor = DATA;
        Arrays.fill(outstanding, false);
        outstandingCount = 0;
        asynchronous = false;
        allowedCount = 0;
        allWritable = false;
        return queue;
    }

    /**
     * For devices that fill response buffers on other threads before they complete the request (disk transfers): bytes
     * in the writable buffers of requests still outstanding may change too during a {@link #serve}. Off after
     * {@link #reset}.
     */
    public void asynchronous(final boolean fillsOutstanding)
    {
        asynchronous = fillsOutstanding;
    }

    /**
     * Guest memory the device may write outside response buffers until the next {@link #reset}: buffers the guest
     * gave it for that (a GPU resource's backing that TRANSFER_FROM_HOST fills).
     */
    public void allowWrites(final long gpa, final long length)
    {
        // Serves compare it from now on (the device may write there), the next reset zeroes it.
        if (length > 0 && gpa < GPA + RAM_SIZE && gpa + length > GPA)
        {
            raiseHighWater(gpa + length < gpa ? GPA + RAM_SIZE : gpa + length);
        }
        if (allowedCount == allowedGpa.length)
        {
            // More ranges than kept: the whole of guest memory, which holds them all.
            raiseHighWater(GPA + RAM_SIZE);
            allowedGpa[0] = GPA;
            allowedLength[0] = RAM_SIZE;
            allowedCount = 1;
            return;
        }
        allowedGpa[allowedCount] = gpa;
        allowedLength[allowedCount++] = length;
    }

    /**
     * Lets the device write anywhere in guest memory until the next {@link #reset} (the guest gave it addresses the
     * harness did not choose); the canary pages around guest memory are still checked.
     */
    public void allowAllWrites()
    {
        if (zeroedAll && !allWritable)
        {
            // Guest memory and shadow are zero above the buffers: nothing to compare before allowing every write.
            shadowEnd = highWater;
            highWater = GPA + RAM_SIZE;
        }
        else if (!allWritable)
        {
            raiseHighWater(GPA + RAM_SIZE);
            shadowEnd = GPA + RAM_SIZE;
        }
        allowWrites(GPA, RAM_SIZE);
        allWritable = true;
    }

    /**
     * Adds a request: {@code readable} cut into up to 4 buffers at fuzzer-chosen points, then up to 4 writable buffers
     * of fuzzer-chosen lengths (at most {@code maxWritable} each).
     *
     * @return the head, or -1 when the ring or the data area is full.
     */
    public int add(final FuzzedDataProvider data, final byte[] readable, final int maxWritable)
    {
        rewind();
        final int out = readable.length == 0 ? 0 : data.consumeInt(1, 4);
        final int in = data.consumeInt(0, 4);
        int at = 0;
        for (int i = 0; i < out; i++)
        {
            final int len = i == out - 1 ? readable.length - at : data.consumeInt(0, readable.length - at);
            gpas[i] = alloc(len);
            lengths[i] = len;
            if (gpas[i] < 0)
            {
                return -1;
            }
            MemorySegment.copy(MemorySegment.ofArray(readable), at, ram, gpas[i] - GPA, len);
            if (!allWritable)
            {
                MemorySegment.copy(MemorySegment.ofArray(readable), at, shadow, gpas[i] - GPA, len);
            }
            at += len;
        }
        long writableBytes = 0;
        for (int i = out; i < out + in; i++)
        {
            lengths[i] = data.consumeInt(0, maxWritable);
            gpas[i] = alloc(lengths[i]);
            if (gpas[i] < 0)
            {
                return -1;
            }
            writableBytes += lengths[i];
        }
        return publish(out, in, writableBytes);
    }

    /**
     * Adds a request of one readable buffer holding {@code readable} (none when empty) and one writable buffer of
     * {@code writableBytes} (none when 0), as a well-behaved driver would.
     *
     * @return the head, or -1 when the ring or the data area is full.
     */
    public int add(final byte[] readable, final int writableBytes)
    {
        rewind();
        final int out = readable.length > 0 ? 1 : 0;
        final int in = writableBytes > 0 ? 1 : 0;
        if (out > 0)
        {
            gpas[0] = alloc(readable.length);
            lengths[0] = readable.length;
            if (gpas[0] < 0)
            {
                return -1;
            }
            MemorySegment.copy(MemorySegment.ofArray(readable), 0, ram, gpas[0] - GPA, readable.length);
            if (!allWritable)
            {
                MemorySegment.copy(MemorySegment.ofArray(readable), 0, shadow, gpas[0] - GPA, readable.length);
            }
        }
        if (in > 0)
        {
            gpas[out] = alloc(writableBytes);
            lengths[out] = writableBytes;
            if (gpas[out] < 0)
            {
                return -1;
            }
        }
        return publish(out, in, writableBytes);
    }

    /**
     * Puts the {@code out} readable and {@code in} writable buffers staged in {@link #gpas}/{@link #lengths} on the
     * ring, published, and remembers them for the completion checks.
     *
     * @return the head, or -1 when the ring is full (or there is no buffer at all).
     */
    private int publish(final int out, final int in, final long writableBytes)
    {
        if (out + in == 0 || driver.freeDescriptors() < out + in)
        {
            return -1;
        }
        final int head = driver.add(gpas, lengths, out, in);
        if (head < 0)
        {
            return -1;
        }
        driver.publish();
        System.arraycopy(gpas, 0, bufferGpa[head], 0, out + in);
        System.arraycopy(lengths, 0, bufferLen[head], 0, out + in);
        readableCount[head] = out;
        bufferCount[head] = out + in;
        writable[head] = writableBytes;
        outstanding[head] = true;
        outstandingCount++;
        return head;
    }

    /**
     * @return guest memory of {@code length} bytes filled with {@code fill} (e.g. a resource's backing), or -1 when
     *     the data area is full.
     */
    public long allocate(final int length, final byte fill)
    {
        final long gpa = alloc(length);
        if (gpa >= 0)
        {
            ram.asSlice(gpa - GPA, length).fill(fill);
            if (!allWritable)
            {
                shadow.asSlice(gpa - GPA, length).fill(fill);
            }
            floor = bump;
        }
        return gpa;
    }

    /**
     * Serves the queue once and checks the device's answers (see class comment).
     *
     * @return the used elements, {@code (long)head << 32 | length}, in order.
     */
    public long[] serve(final VirtioDevice device)
    {
        clean = false;
        zeroedAll = false;
        queue.serve(device);
        return checkAnswers();
    }

    /**
     * Stops the queue as GET_VRING_BASE does ({@link ActiveQueue#stop}: the device gives back, or puts back on the
     * ring, what it holds) and checks its answers as {@link #serve} does. The ring stays bound at the base the stop
     * left, so the next {@link #serve} is the restarted ring.
     *
     * @return the used elements, {@code (long)head << 32 | length}, in order.
     */
    public long[] stop(final VirtioDevice device)
    {
        MemorySegment.copy(ram, 0, shadow, 0, RAM_SIZE);
        shadowEnd = GPA + RAM_SIZE;
        zeroedAll = false;
        queue.stop(device);
        return checkAnswers();
    }

    private long[] checkAnswers()
    {
        long[] used = new long[0];
        final long ringEnd = GPA + DriverQueue.ringBytes(SIZE);
        final long scanEnd = highWater - GPA;
        for (long u; (u = driver.pollUsed()) >= 0; )
        {
            final int head = (int)(u >>> 32);
            final long len = u & 0xFFFF_FFFFL;
            if (!outstanding[head])
            {
                throw new AssertionError("used element for head " + head + ", which was not outstanding");
            }
            if (len > writable[head])
            {
                throw new AssertionError("used length " + len + " of head " + head + " exceeds its " + writable[head]
                    + " writable bytes");
            }
            outstanding[head] = false;
            outstandingCount--;
            used = Arrays.copyOf(used, used.length + 1);
            used[used.length - 1] = u;
        }
        for (long from = ringEnd - GPA; !allWritable && from < scanEnd; )
        {
            final long off = ram.asSlice(from, scanEnd - from).mismatch(shadow.asSlice(from, scanEnd - from));
            if (off < 0)
            {
                break;
            }
            final long gpa = GPA + from + off;
            long end = inWritableOfCompleted(gpa, used);
            if (end < 0 && asynchronous)
            {
                end = inWritableOfOutstanding(gpa);
            }
            if (end < 0)
            {
                end = allowed(gpa);
            }
            if (end < 0)
            {
                throw new AssertionError("guest byte at 0x" + Long.toHexString(gpa)
                    + " changed outside the writable buffers of the requests completed");
            }
            // The rest of that buffer may change too: take it as it is now, the next change is checked from its end.
            final long to = Math.min(end - GPA, scanEnd);
            MemorySegment.copy(ram, from + off, shadow, from + off, to - from - off);
            from = to;
        }
        if (host.asSlice(0, PAGE).mismatch(canaries) >= 0 || host.asSlice(PAGE + RAM_SIZE).mismatch(canaries) >= 0)
        {
            throw new AssertionError("a canary page around guest memory changed");
        }
        clean = true;
        return used;
    }

    /**
     * Ends an input: checks that guest memory above this input's buffers and allowed ranges (which serves do not
     * compare) and the canaries are unchanged since the last full reset. Every harness calls it last: nothing else
     * checks a change there made after the input's last serve (by a device thread, say).
     */
    public void finish()
    {
        if (!untouchedAbove(highWater))
        {
            clean = false;
            throw new AssertionError("guest memory above this input's buffers (from 0x" + Long.toHexString(highWater)
                + ") or a canary page changed");
        }
    }

    /**
     * Moves the high-water mark up to {@code to}, after checking that the memory it now covers is still unchanged.
     */
    private void raiseHighWater(final long to)
    {
        final long end = Math.min(to, GPA + RAM_SIZE);
        if (end <= highWater)
        {
            return;
        }
        final long from = highWater - GPA;
        final long off = ram.asSlice(from, end - highWater).mismatch(shadow.asSlice(from, end - highWater));
        if (off >= 0)
        {
            clean = false;
            throw new AssertionError("guest byte at 0x" + Long.toHexString(highWater + off)
                + " changed before any buffer covered it");
        }
        highWater = end;
    }

    private static Logger quietWhileFuzzing()
    {
        final Logger logger = Logger.getLogger("io.jvhost");
        if (null != System.getenv("JAZZER_FUZZ"))
        {
            logger.setLevel(Level.SEVERE);
        }
        return logger;
    }

    /**
     * @return whether guest memory from {@code gpa} is still zero (as its shadow above the high-water mark always is,
     *     compared page by page with one zero page: half the bytes read) and the canaries are intact.
     */
    private boolean untouchedAbove(final long gpa)
    {
        for (long from = gpa - GPA; from < RAM_SIZE; )
        {
            final long n = Math.min(PAGE - (from & (PAGE - 1)), RAM_SIZE - from);
            if (ram.asSlice(from, n).mismatch(zeroPage.asSlice(0, n)) >= 0)
            {
                return false;
            }
            from += n;
        }
        return host.asSlice(0, PAGE).mismatch(canaries) < 0 && host.asSlice(PAGE + RAM_SIZE).mismatch(canaries) < 0;
    }

    /**
     * @return the bytes the device wrote into the writable buffers of {@code head}, {@code length} in all.
     */
    public byte[] written(final int head, final long length)
    {
        final byte[] bytes = new byte[(int)length];
        int at = 0;
        for (int i = readableCount[head]; i < bufferCount[head] && at < length; i++)
        {
            final int n = (int)Math.min(bufferLen[head][i], length - at);
            MemorySegment.copy(ram, bufferGpa[head][i] - GPA, MemorySegment.ofArray(bytes), at, n);
            at += n;
        }
        return bytes;
    }

    public int outstanding()
    {
        return outstandingCount;
    }

    public boolean isOutstanding(final int head)
    {
        return outstanding[head];
    }

    public long writableBytes(final int head)
    {
        return writable[head];
    }

    public GuestMemory memory()
    {
        return memory;
    }

    /**
     * @return the end of the writable buffer of a request completed in this serve that holds {@code gpa}, or -1.
     */
    private long inWritableOfCompleted(final long gpa, final long[] used)
    {
        for (final long u : used)
        {
            final long end = inWritableOf((int)(u >>> 32), gpa);
            if (end >= 0)
            {
                return end;
            }
        }
        return -1;
    }

    /**
     * @return the end of the allowed range that holds {@code gpa}, or -1.
     */
    private long allowed(final long gpa)
    {
        for (int i = 0; i < allowedCount; i++)
        {
            if (gpa >= allowedGpa[i] && gpa - allowedGpa[i] < allowedLength[i])
            {
                final long end = allowedGpa[i] + allowedLength[i];
                return end < allowedGpa[i] ? Long.MAX_VALUE : end;
            }
        }
        return -1;
    }

    /**
     * @return the end of the writable buffer of an outstanding request that holds {@code gpa}, or -1.
     */
    private long inWritableOfOutstanding(final long gpa)
    {
        for (int head = 0; head < SIZE; head++)
        {
            if (outstanding[head])
            {
                final long end = inWritableOf(head, gpa);
                if (end >= 0)
                {
                    return end;
                }
            }
        }
        return -1;
    }

    private long inWritableOf(final int head, final long gpa)
    {
        for (int i = readableCount[head]; i < bufferCount[head]; i++)
        {
            if (gpa >= bufferGpa[head][i] && gpa < bufferGpa[head][i] + bufferLen[head][i])
            {
                return bufferGpa[head][i] + bufferLen[head][i];
            }
        }
        return -1;
    }

    /**
     * With no request outstanding the device holds no buffer: the next ones may reuse the memory of the answered ones.
     */
    private void rewind()
    {
        if (outstandingCount == 0)
        {
            bump = floor;
        }
    }

    private long alloc(final int length)
    {
        final long gpa = bump;
        if (gpa + length > GPA + RAM_SIZE)
        {
            return -1;
        }
        bump = (bump + length + 7) & -8L;
        final long reused = Math.min(bump, highWater) - gpa;
        if (reused > 0 && allWritable)
        {
            // The device may have written here in any serve: nothing to compare, a new buffer is zero all the same.
            ram.asSlice(gpa - GPA, reused).fill((byte)0);
        }
        else if (reused > 0)
        {
            // Memory of answered requests: unchanged since the last serve compared it, then zero like fresh memory.
            final long off = ram.asSlice(gpa - GPA, reused).mismatch(shadow.asSlice(gpa - GPA, reused));
            if (off >= 0)
            {
                clean = false;
                throw new AssertionError("guest byte at 0x" + Long.toHexString(gpa + off)
                    + " changed after the last serve, with no request outstanding");
            }
            ram.asSlice(gpa - GPA, reused).fill((byte)0);
            shadow.asSlice(gpa - GPA, reused).fill((byte)0);
        }
        raiseHighWater(bump);
        return gpa;
    }
}
