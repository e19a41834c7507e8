package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;

import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitRingLayout;

/**
 * A virtqueue as the guest driver sees it: a split ring ({@link DriverQueue}) placed in {@link GuestRam}, its kick
 * and call eventfds, and a pool of indirect descriptor tables.
 * <p>
 * The steady-state path allocates nothing: {@link #add}/{@link #addIndirect} take caller-owned arrays,
 * {@link #kick()} signals the eventfd only when the device asked for it, and {@link #awaitUsed} waits on the call
 * eventfd with epoll and collects the used elements into arrays read back with {@link #usedHead(int)} and
 * {@link #usedLength(int)}. Single-threaded, like a driver's queue lock.
 */
public final class FrontendQueue implements AutoCloseable
{
    /** Default most buffers in one indirect table. */
    public static final int DEFAULT_MAX_INDIRECT = 16;

    private final GuestRam ram;
    private final int index;
    private final int size;
    private final long ringGpa;
    private final int maxIndirect;
    private final long tablesGpa;
    private final DriverQueue driver;
    private final EventFd kick;
    private final EventFd call;
    private final EventFd err;
    private final Epoll epoll;
    /** Free indirect table slots (a stack), and the slot each pending indirect chain's head holds (-1: none). */
    private final int[] freeTables;
    private int freeTableCount;
    private final int[] tableOfHead;
    private final int[] usedHeads;
    private final int[] usedLengths;
    private int usedCount;
    private int inFlight;
    private boolean eventIdx;
    private long kicks;
    private long suppressedKicks;
    private long calls;
    private long missedNotifications;

    /**
     * Places a ring of {@code size} entries and {@value #DEFAULT_MAX_INDIRECT}-entry indirect tables in {@code ram}.
     */
    public FrontendQueue(final GuestRam ram, final int index, final int size) throws NativeException
    {
        this(ram, index, size, DEFAULT_MAX_INDIRECT);
    }

    /**
     * Places a ring of {@code size} entries in {@code ram}, followed by {@code size} indirect tables of
     * {@code maxIndirect} entries each (0: none), and creates the eventfds.
     */
    public FrontendQueue(final GuestRam ram, final int index, final int size, final int maxIndirect)
        throws NativeException
    {
        if (size < 1 || size > 32768 || Integer.bitCount(size) != 1)
        {
            throw new IllegalArgumentException("queue size must be a power of two up to 32768, size=" + size);
        }
        this.ram = ram;
        this.index = index;
        this.size = size;
        this.maxIndirect = maxIndirect;
        final long ringBytes = ringFootprint(size);
        final long tableBytes = (long)SplitRingLayout.DESC_SIZE * maxIndirect;
        // Ring and tables in one allocation: they then lie in one run of RAM the driver can address.
        this.ringGpa = ram.allocate(ringBytes + tableBytes * size, 4096);
        this.tablesGpa = ringGpa + ((ringBytes + 15) & ~15L);
        ram.fill(ringGpa, ringBytes, (byte)0);
        final long runStart = ram.runStart(ringGpa);
        final MemorySegment run = ram.runSegment(ringGpa);
        this.driver = new DriverQueue(run, runStart, size, ringGpa);
        this.freeTables = new int[size];
        this.tableOfHead = new int[size];
        resetTables();
        this.usedHeads = new int[size];
        this.usedLengths = new int[size];
        EventFd k = null;
        EventFd c = null;
        EventFd r = null;
        Epoll e = null;
        try
        {
            k = EventFd.create();
            c = EventFd.create();
            r = EventFd.create();
            e = Epoll.create(1);
            e.add(c.fd(), LibC.EPOLLIN, 0);
        }
        catch (final NativeException | RuntimeException ex)
        {
            for (final AutoCloseable x : new AutoCloseable[] {k, c, r, e})
            {
                closeQuietly(x);
            }
            throw ex;
        }
        this.kick = k;
        this.call = c;
        this.err = r;
        this.epoll = e;
    }

    private static void closeQuietly(final AutoCloseable c)
    {
        if (null != c)
        {
            try
            {
                c.close();
            }
            catch (final Exception ignored)
            {
                // Best effort while failing anyway.
            }
        }
    }

    /**
     * @return bytes the rings take, event-index fields included, whatever {@link DriverQueue#ringBytes} counts.
     */
    private static long ringFootprint(final int size)
    {
        final long desc = SplitRingLayout.descTableBytes(size);
        final long availEnd = desc + SplitRingLayout.availRingBytes(size, true);
        final long usedStart = (availEnd + SplitRingLayout.USED_ALIGN - 1) & -SplitRingLayout.USED_ALIGN;
        return Math.max(DriverQueue.ringBytes(size), usedStart + SplitRingLayout.usedRingBytes(size, true));
    }

    private void resetTables()
    {
        for (int i = 0; i < size; i++)
        {
            freeTables[i] = size - 1 - i;
            tableOfHead[i] = -1;
        }
        freeTableCount = maxIndirect > 0 ? size : 0;
    }

    public int index()
    {
        return index;
    }

    public int size()
    {
        return size;
    }

    /**
     * @return the driver ring, for raw (hostile) manipulation.
     */
    public DriverQueue driver()
    {
        return driver;
    }

    public GuestRam ram()
    {
        return ram;
    }

    /**
     * @return the eventfd the back-end watches (SET_VRING_KICK).
     */
    public EventFd kickFd()
    {
        return kick;
    }

    /**
     * @return the eventfd the back-end signals (SET_VRING_CALL).
     */
    public EventFd callFd()
    {
        return call;
    }

    /**
     * @return the eventfd the back-end signals on a ring error (SET_VRING_ERR).
     */
    public EventFd errFd()
    {
        return err;
    }

    public long descGpa()
    {
        return driver.descGpa();
    }

    public long availGpa()
    {
        return driver.availGpa();
    }

    public long usedGpa()
    {
        return driver.usedGpa();
    }

    /**
     * @return the guest-physical address where the ring and its indirect tables start.
     */
    public long ringGpa()
    {
        return ringGpa;
    }

    /**
     * Turns the EVENT_IDX rules on or off (must match the negotiated features).
     */
    public void setEventIdx(final boolean enabled)
    {
        this.eventIdx = enabled;
        driver.setEventIdx(enabled);
    }

    public boolean eventIdx()
    {
        return eventIdx;
    }

    /**
     * Sends this queue's configuration: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK,
     * SET_VRING_CALL, in QEMU's order. The ring addresses are sent as our virtual addresses, like QEMU's.
     */
    public void configure(final VhostUserFrontend frontend, final int base) throws FrontendException
    {
        frontend.setVringNum(index, size);
        frontend.setVringBase(index, base);
        frontend.setVringAddr(index, ram.userAddrOf(descGpa()), ram.userAddrOf(usedGpa()),
            ram.userAddrOf(availGpa()));
        frontend.setVringKick(index, kick);
        frontend.setVringCall(index, call);
    }

    /**
     * Adds a chain: {@code outCount} device-readable buffers, then {@code inCount} device-writable ones. Not visible
     * to the device until {@link #publish()}.
     *
     * @return the head descriptor index, or -1 when the ring has too few free descriptors.
     */
    public int add(final long[] gpas, final int[] lengths, final int outCount, final int inCount)
    {
        final int head = driver.add(gpas, lengths, outCount, inCount);
        if (head >= 0)
        {
            inFlight++;
        }
        return head;
    }

    /**
     * Adds a chain as one INDIRECT descriptor pointing at a table from this queue's pool.
     *
     * @return the head descriptor index, or -1 when no descriptor or table is free.
     */
    public int addIndirect(final long[] gpas, final int[] lengths, final int outCount, final int inCount)
    {
        if (outCount + inCount > maxIndirect)
        {
            throw new IllegalArgumentException(outCount + inCount + " buffers do not fit an indirect table of "
                + maxIndirect);
        }
        if (freeTableCount == 0)
        {
            return -1;
        }
        final int slot = freeTables[--freeTableCount];
        final long tableGpa = tablesGpa + (long)slot * SplitRingLayout.DESC_SIZE * maxIndirect;
        final int head = driver.addIndirect(tableGpa, gpas, lengths, outCount, inCount);
        if (head < 0)
        {
            freeTables[freeTableCount++] = slot;
            return -1;
        }
        tableOfHead[head] = slot;
        inFlight++;
        return head;
    }

    /**
     * Makes the chains added since the last publish visible to the device.
     */
    public void publish()
    {
        driver.publish();
    }

    /**
     * Signals the kick eventfd if the device asked for a notification (EVENT_IDX avail_event, or NO_NOTIFY clear).
     *
     * @return true if it was signalled.
     */
    public boolean kick()
    {
        if (driver.needsKick())
        {
            kicks++;
            kick.signal();
            return true;
        }
        suppressedKicks++;
        return false;
    }

    /**
     * {@link #publish()} then {@link #kick()}.
     */
    public boolean publishAndKick()
    {
        driver.publish();
        return kick();
    }

    /**
     * A request's answer from {@link #exchange}: the length the device said it wrote, and the bytes of the writable
     * buffer (at least one: a request without one reads back the 0xEE fill of a 1-byte area).
     */
    public record Reply(int usedLength, byte[] bytes)
    {
    }

    /**
     * Sends one request as a driver does and waits for its answer (a test's round trip; it allocates): {@code request}
     * in one device-readable buffer (none when it is empty), then one device-writable buffer of {@code writable} bytes
     * filled with 0xEE first (none when 0), as a direct chain or one INDIRECT descriptor.
     *
     * @throws IllegalStateException when the ring has no room, nothing but this chain is to come back, or it does not
     *     within {@code wait}.
     */
    public Reply exchange(final byte[] request, final int writable, final boolean indirect, final Duration wait)
        throws NativeException
    {
        final long in = ram.allocate(Math.max(1, request.length), 8);
        ram.write(in, request, 0, request.length);
        final long out = ram.allocate(Math.max(1, writable), 8);
        ram.fill(out, Math.max(1, writable), (byte)0xEE);
        final int readables = request.length > 0 ? 1 : 0;
        final int writables = writable > 0 ? 1 : 0;
        final long[] gpas = readables == 1 ? new long[] {in, out} : new long[] {out};
        final int[] lengths = readables == 1 ? new int[] {request.length, writable} : new int[] {writable};
        final long[] g = Arrays.copyOf(gpas, readables + writables);
        final int[] l = Arrays.copyOf(lengths, readables + writables);
        final int head = indirect ? addIndirect(g, l, readables, writables) : add(g, l, readables, writables);
        if (head < 0)
        {
            throw new IllegalStateException("queue " + index + ": no room for a chain of " + (readables + writables)
                + " buffers");
        }
        publishAndKick();
        final int used = awaitUsed(wait);
        if (used != 1 || usedHeads[0] != head)
        {
            throw new IllegalStateException("queue " + index + ": " + used + " chains came back within " + wait
                + (used > 0 ? ", the first head " + usedHeads[0] : "") + "; expected head " + head + " alone");
        }
        return new Reply(usedLengths[0], ram.read(out, Math.max(1, writable)));
    }

    /** {@link #exchange(byte[], int, boolean, Duration)} as a direct chain. */
    public Reply exchange(final byte[] request, final int writable, final Duration wait) throws NativeException
    {
        return exchange(request, writable, false, wait);
    }

    /**
     * Collects every used element pending now, without waiting.
     *
     * @return how many were collected (read them with {@link #usedHead}/{@link #usedLength}).
     */
    public int pollUsed()
    {
        usedCount = 0;
        collect();
        return usedCount;
    }

    /**
     * Waits until the device has returned at least one chain and signalled the call eventfd, or {@code timeout}
     * passes.
     *
     * @return how many used elements were collected (0 on timeout); read them with {@link #usedHead}/
     *     {@link #usedLength}, valid until the next call. Elements that are only found after the timeout, without a
     *     notification, are returned too and counted in {@link #missedNotifications()}.
     */
    public int awaitUsed(final Duration timeout) throws NativeException
    {
        return awaitUsed(timeout.toNanos());
    }

    /**
     * {@link #awaitUsed(Duration)} with a timeout in nanoseconds (allocation-free).
     */
    public int awaitUsed(final long timeoutNanos) throws NativeException
    {
        usedCount = 0;
        collect();
        if (usedCount > 0)
        {
            return usedCount;
        }
        final long deadline = System.nanoTime() + timeoutNanos;
        while (true)
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0)
            {
                return 0;
            }
            final int ready = epoll.await((int)Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000));
            final boolean signalled = ready > 0 && call.drain() > 0;
            if (signalled)
            {
                calls++;
            }
            collect();
            if (usedCount > 0)
            {
                if (!signalled)
                {
                    // Found only by the last look after the timeout: the device never signalled the call eventfd.
                    missedNotifications++;
                }
                return usedCount;
            }
        }
    }

    private void collect()
    {
        long e;
        while (usedCount < usedHeads.length && (e = driver.pollUsed()) != -1)
        {
            final int head = (int)(e >>> 32);
            usedHeads[usedCount] = head;
            usedLengths[usedCount] = (int)e;
            usedCount++;
            inFlight--;
            if (head >= 0 && head < size && tableOfHead[head] >= 0)
            {
                freeTables[freeTableCount++] = tableOfHead[head];
                tableOfHead[head] = -1;
            }
        }
    }

    /**
     * @return the head of used element {@code i} of the last {@link #awaitUsed}/{@link #pollUsed}.
     */
    public int usedHead(final int i)
    {
        if (i >= usedCount)
        {
            throw new IndexOutOfBoundsException("used element " + i + " of " + usedCount);
        }
        return usedHeads[i];
    }

    /**
     * @return the length the device wrote into used element {@code i}.
     */
    public int usedLength(final int i)
    {
        if (i >= usedCount)
        {
            throw new IndexOutOfBoundsException("used element " + i + " of " + usedCount);
        }
        return usedLengths[i];
    }

    /**
     * @return chains added and not yet returned.
     */
    public int inFlight()
    {
        return inFlight;
    }

    /**
     * @return kicks actually signalled.
     */
    public long kicks()
    {
        return kicks;
    }

    /**
     * @return kicks skipped because the device did not ask for them.
     */
    public long suppressedKicks()
    {
        return suppressedKicks;
    }

    /**
     * @return how many times {@link #awaitUsed} timed out waiting for the call eventfd yet found used elements: the
     *     device returned buffers without the interrupt the driver asked for (a back-end bug; a guest would hang).
     */
    public long missedNotifications()
    {
        return missedNotifications;
    }

    /**
     * @return call notifications consumed.
     */
    public long calls()
    {
        return calls;
    }

    /**
     * Re-initialises the ring as a driver does after a device reset: zeroes it, forgets every pending chain and
     * drains both eventfds.
     */
    public void reset()
    {
        reset(0);
    }

    /**
     * Like {@link #reset()}, with the ring's indices at {@code startIndex} (see {@link DriverQueue#reset(int)}).
     */
    public void reset(final int startIndex)
    {
        ram.fill(ringGpa, ringFootprint(size), (byte)0);
        driver.reset(startIndex);
        driver.setEventIdx(eventIdx);
        resetTables();
        usedCount = 0;
        inFlight = 0;
        kick.drain();
        call.drain();
    }

    @Override
    public void close()
    {
        epoll.close();
        kick.close();
        call.close();
        err.close();
    }

    @Override
    public String toString()
    {
        return "FrontendQueue[index=" + index + ", size=" + size + ", ring=0x" + Long.toHexString(ringGpa)
            + ", inFlight=" + inFlight + "]";
    }
}
