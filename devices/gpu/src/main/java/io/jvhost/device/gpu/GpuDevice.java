package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.MemoryBudget;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * virtio-gpu 2D (virtio ID 16), independent of the transport: control queue 0 and cursor queue 1, host images
 * off-heap, guest blobs read in place, output through a {@link GpuDisplay} that may come and go.
 * <p>
 * <b>Threads.</b> Both queues run on worker 0 (they share the resources). {@link #reset()} and the config
 * accessors arrive on the transport's protocol thread; a lock serialises them with queue processing. {@link #setDisplay}/{@link #clearDisplay} and the display's answers may come from any
 * thread: they only publish a value and {@link DeviceContext#wake wake} the worker, which makes every display call
 * itself (so a new display is always told about a scanout before it gets pixels for it).
 * <p>
 * <b>Held requests.</b> GET_DISPLAY_INFO and GET_EDID are asked of the display asynchronously. The request is copied
 * aside and the control queue is not read further until it is answered, so fenced responses stay in order without
 * a fence queue. No answer within {@link #DISPLAY_TIMEOUT_NANOS} (or a display that cannot answer, or answers null,
 * or goes away) means the defaults from {@link GpuOptions}, as when no display is attached at all.
 * <p>
 * <b>Errors.</b> Every guest mistake is answered with a VIRTIO_GPU_RESP_ERR_* code (QEMU's where QEMU defines one)
 * and a rate-limited warning; nothing a guest sends raises an exception. Entries of ATTACH_BACKING/CREATE_BLOB
 * outside guest memory are ERR_UNSPEC, like QEMU's failed {@code dma_memory_map}.
 * <p>
 * <b>Host memory.</b> One {@link MemoryBudget} bounds what the guest can make the process allocate: the images of
 * its 2D resources (RESOURCE_CREATE_2D beyond it is ERR_OUT_OF_MEMORY), and what the displays keep of its scanouts
 * and give their viewers, which they reserve from the same budget (a SET_SCANOUT a display cannot hold is
 * ERR_OUT_OF_MEMORY, with the scanout off). Blobs are read in place and cost nothing; a scanout is at most
 * {@link #MAX_SCANOUT_DIMENSION} a side (else ERR_INVALID_PARAMETER).
 * <p>
 * <b>Data path.</b> TRANSFER_TO_HOST_2D, RESOURCE_FLUSH and MOVE_CURSOR allocate nothing: requests are parsed from a
 * preallocated scratch segment, resources are found in an int-keyed table, backing pages are resolved to host spans
 * once per attach and memory snapshot ({@link Backing}), rows are copied with {@link MemorySegment#copy} (one copy for
 * a full-width rectangle over contiguous backing), and the display gets the host image itself, not a copy.
 */
public final class GpuDevice implements VirtioDevice
{
    /** Largest queue size accepted (QEMU uses 64 for the control queue, 16 for the cursor queue). */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** How long a held GET_DISPLAY_INFO/GET_EDID waits for the display. */
    public static final long DISPLAY_TIMEOUT_NANOS = 1_000_000_000L;
    /** Largest resource or blob framebuffer side; keeps every stride in an int. */
    public static final int MAX_DIMENSION = 32768;
    /**
     * Largest side a scanout shows: Linux's virtio-gpu driver never sets a mode beyond 8192×8192 (its
     * {@code mode_config.max_width/height}), and each display's copy of a scanout this size is already 256 MiB, the
     * default budget. QEMU has no cap of its own beyond its host memory.
     */
    public static final int MAX_SCANOUT_DIMENSION = 8192;
    /** Resources a guest may hold at once: bounds the heap a guest can make us spend on bookkeeping. */
    public static final int MAX_RESOURCES = 65536;
    /** Backing entries over all resources (each costs heap, not accounted in maxHostMem). */
    public static final long MAX_BACKING_ENTRIES = 1L << 20;

    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());
    /** Larger than any command's fixed part (SET_SCANOUT_BLOB, 96). */
    private static final int REQUEST_MAX = 128;
    private static final int ENTRY_CHUNK = 1024;
    private static final int CURSOR_BYTES = CURSOR_SIZE * CURSOR_SIZE * PixelFormat.BYTES_PER_PIXEL;
    private static final int CURSOR_STRIDE = CURSOR_SIZE * PixelFormat.BYTES_PER_PIXEL;
    /** Rows of a blob scanout that are not contiguous in this process are gathered here, chunk by chunk. */
    private static final long STAGING_BYTES = 4L << 20;
    /** execute(): the request was held, no response yet. */
    private static final int HELD = -1;
    private static final ValueLayout.OfLong U64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final String name;
    private final GpuOptions options;
    private final MemoryBudget budget;
    private final LongSupplier nanoClock;
    private final int numScanouts;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger eventsRead = new AtomicInteger();
    private final AtomicReference<DisplaySlot> displaySlot = new AtomicReference<>();
    private final Runnable outputsListener = this::outputsChanged;
    private volatile DeviceContext context;
    /** The context whose control worker the display reads its answers on (worker thread only). */
    private DeviceContext watchedContext;
    /** The held request's sequence number a display answer must carry; 0 = none awaited. */
    private volatile long awaitedSeq;
    private volatile Answer answer;

    // ---- Everything below is guarded by the lock (in practice: worker 0). ----
    private final ResourceTable resources = new ResourceTable();
    private final Scanout[] scanouts;
    private final DisplayMode[] knownModes;
    private final RateLimitedLog guestLog;
    private final MemorySegment request = MemorySegment.ofArray(new byte[REQUEST_MAX]);
    private final MemorySegment response = MemorySegment.ofArray(new byte[EDID_RESP_SIZE]);
    private final MemorySegment entryChunk = MemorySegment.ofArray(new byte[ENTRY_CHUNK * MEM_ENTRY_SIZE]);
    private final MemorySegment cursorImage = Arena.ofAuto().allocate(CURSOR_BYTES, 64);
    private MemorySegment staging;

    private DisplaySlot activeSlot;
    private GpuDisplay display;
    private boolean scanoutsStale;

    /** {@link #scanoutTarget}: the scanout and resource were found (no response code is negative). */
    private static final int TARGET_FOUND = -1;
    /** The scanout and resource of the SET_SCANOUT(_BLOB) being handled (worker thread only). */
    private Scanout targetScanout;
    private Resource targetResource;
    private int requestLength;
    private int command;
    private int hdrFlags;
    private long hdrFence;
    private int hdrCtx;
    private int hdrRing;
    private int entriesError;
    private long hostMem;
    private long backingEntries;

    private final DescriptorChain held = new DescriptorChain(MAX_QUEUE_SIZE);
    private boolean holding;
    private int heldCommand;
    private int heldScanout;
    private int heldFlags;
    private long heldFence;
    private int heldCtx;
    private int heldRing;
    private long heldDeadline;
    private GpuDisplay heldAsked;
    private long lastSeq;

    private boolean cursorDefined;
    private boolean cursorVisible;
    private boolean cursorStale;
    private int cursorScanout;
    private int cursorX;
    private int cursorY;
    private int cursorHotX;
    private int cursorHotY;

    private long shortResponseBuffers;

    /**
     * @param name for logs, e.g. {@code gpu0}.
     */
    public GpuDevice(final String name, final GpuOptions options)
    {
        this(name, options, new MemoryBudget(name, options.maxHostMem()));
    }

    /**
     * @param budget the device's host memory, shared with its displays (which reserve their copies of the scanouts
     *               and their viewers' buffers from it); {@link GpuOptions#maxHostMem()} is not used then.
     */
    public GpuDevice(final String name, final GpuOptions options, final MemoryBudget budget)
    {
        this(name, options, budget, System::nanoTime);
    }

    /**
     * With a clock for the display timeout (tests).
     */
    GpuDevice(final String name, final GpuOptions options, final LongSupplier nanoClock)
    {
        this(name, options, new MemoryBudget(name, options.maxHostMem()), nanoClock);
    }

    private GpuDevice(final String name, final GpuOptions options, final MemoryBudget budget,
        final LongSupplier nanoClock)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.options = Objects.requireNonNull(options, "options");
        this.budget = Objects.requireNonNull(budget, "budget");
        this.nanoClock = nanoClock;
        this.numScanouts = options.maxOutputs();
        this.scanouts = new Scanout[numScanouts];
        for (int i = 0; i < numScanouts; i++)
        {
            scanouts[i] = new Scanout(i);
        }
        this.knownModes = new DisplayMode[numScanouts];
        this.guestLog = new RateLimitedLog(LOG, name);
    }

    /**
     * @return the configuration.
     */
    public GpuOptions options()
    {
        return options;
    }

    /**
     * @return the host memory this device's resources, and its displays' copies and viewers, are counted against.
     */
    public MemoryBudget memoryBudget()
    {
        return budget;
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "gpu";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return MAX_QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        if (options.edid())
        {
            features |= 1L << F_EDID;
        }
        if (options.resourceUuid())
        {
            features |= 1L << F_RESOURCE_UUID;
        }
        if (options.resourceBlob())
        {
            features |= 1L << F_RESOURCE_BLOB;
        }
        return features;
    }

    @Override
    public void attach(final DeviceContext context)
    {
        this.context = context;
    }

    @Override
    public int queueWorker(final int queue)
    {
        return 0;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Config space

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        putU32(config, CONFIG_EVENTS_READ, eventsRead.get());
        putU32(config, CONFIG_NUM_SCANOUTS, numScanouts);
        putU32(config, CONFIG_NUM_CAPSETS, 0);
        MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
    }

    /**
     * Only events_clear is writable: each 1 bit written clears that bit of events_read. Writes elsewhere are ignored.
     */
    @Override
    public void writeConfig(final int offset, final MemorySegment src)
    {
        int clear = 0;
        for (int i = 0; i < src.byteSize(); i++)
        {
            final int at = offset + i;
            if (at >= CONFIG_EVENTS_CLEAR && at < CONFIG_EVENTS_CLEAR + 4)
            {
                clear |= (src.get(ValueLayout.JAVA_BYTE, i) & 0xFF) << 8 * (at - CONFIG_EVENTS_CLEAR);
            }
        }
        final int mask = ~clear;
        int current;
        do
        {
            current = eventsRead.get();
        }
        while (!eventsRead.compareAndSet(current, current & mask));
    }

    /**
     * Sets bits of events_read (e.g. {@link GpuProtocol#EVENT_DISPLAY} when a display's outputs changed). Raising
     * the config interrupt is the transport's business ({@link #outputsChanged()} asks for it).
     */
    public void raiseEvents(final int events)
    {
        eventsRead.getAndUpdate(v -> v | events);
    }

    /**
     * The display's outputs changed (a viewer asked for another size): sets {@link GpuProtocol#EVENT_DISPLAY} in
     * events_read and asks the transport to raise the config interrupt, so the guest's driver asks for display info
     * (and EDIDs) again and clears the event. The display calls this through {@link
     * GpuDisplay#setOutputsListener}; any thread, never blocks.
     *
     * @return false when the transport could not pass the change on (the guest sees it only when it next reads the
     *     config, e.g. after a reset).
     */
    public boolean outputsChanged()
    {
        raiseEvents(EVENT_DISPLAY);
        final DeviceContext c = context;
        boolean passed = false;
        try
        {
            passed = null != c && c.notifyConfigChanged();
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.WARNING, name + ": notifying the config change failed: " + e, e);
        }
        final boolean told = passed;
        LOG.log(told ? Level.INFO : Level.WARNING, () -> name + ": display outputs changed: EVENT_DISPLAY raised, "
            + (told ? "config change sent to the front-end" : "but the front-end could not be told"));
        return told;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Display attachment (any thread)

    /**
     * A display arrived (e.g. QEMU's vhost-user-gpu socket): the worker will announce every enabled scanout to it
     * (setScanout, then a full update) and re-define the cursor. Replaces any previous display. Thread-safe.
     */
    public void setDisplay(final GpuDisplay display)
    {
        displaySlot.set(new DisplaySlot(Objects.requireNonNull(display, "display")));
        try
        {
            display.setOutputsListener(outputsListener);
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.WARNING, name + ": display " + display + " refused the outputs listener: " + e, e);
        }
        wake();
    }

    /**
     * The display went away: output is dropped and display requests are answered from the defaults until the next
     * {@link #setDisplay}. Thread-safe.
     */
    public void clearDisplay()
    {
        displaySlot.set(null);
        wake();
    }

    private void wake()
    {
        final DeviceContext c = context;
        if (null != c)
        {
            try
            {
                c.wake(CONTROL_QUEUE);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.WARNING, name + ": waking the control queue failed: " + e);
            }
        }
    }

    /**
     * A display's answer, from any thread. Stale answers (for a request already settled) are dropped.
     */
    private void deliver(final long seq, final Object value)
    {
        if (seq == awaitedSeq)
        {
            answer = new Answer(seq, value);
            wake();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Lifecycle

    /**
     * Frees every resource, scanout, cursor and held request. The display (if any) stays attached; it is told that
     * the scanouts are off the next time the worker runs (display calls are made on the worker only). The
     * {@link DeviceContext} is kept: the vhost-user back-end resets on a driver reset and keeps serving the
     * connection. This is the only place resources go: a VM stop/cont keeps them, whatever the rings' indices.
     */
    @Override
    public void reset()
    {
        lock.lock();
        try
        {
            freeAll();
            eventsRead.set(0);
        }
        finally
        {
            lock.unlock();
        }
    }

    private void freeAll()
    {
        resources.drain(Resource::free);
        budget.release(hostMem);
        hostMem = 0;
        backingEntries = 0;
        for (final Scanout s : scanouts)
        {
            s.clear();
        }
        scanoutsStale = true;
        holding = false;
        heldAsked = null;
        awaitedSeq = 0;
        answer = null;
        if (cursorVisible)
        {
            cursorStale = true;
        }
        cursorDefined = false;
        cursorVisible = false;
    }

    /**
     * @return bytes of host images the guest's resources hold (part of {@link #memoryBudget()}'s use).
     */
    public long hostMemoryUsed()
    {
        lock.lock();
        try
        {
            return hostMem;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return resources the guest currently holds.
     */
    public int resourceCount()
    {
        lock.lock();
        try
        {
            return resources.size();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return host spans the backing of resource {@code resourceId} resolved to (-1 without backing), for tests.
     */
    int backingSpans(final int resourceId)
    {
        lock.lock();
        try
        {
            final Resource resource = resources.get(resourceId);
            return null == resource || null == resource.backing ? -1 : resource.backing.spanCount();
        }
        finally
        {
            lock.unlock();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Queue processing

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        lock.lock();
        try
        {
            syncDisplay(queue.memory());
            if (queue.index() == CURSOR_QUEUE)
            {
                processCursorQueue(queue);
            }
            else
            {
                processControlQueue(queue);
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Adopts a newly attached (or removed) display and brings it up to date, before any command can send it output.
     */
    private void syncDisplay(final GuestMemory memory)
    {
        final DisplaySlot slot = displaySlot.get();
        if (slot != activeSlot)
        {
            activeSlot = slot;
            offerWorker(display, null);
            display = null == slot ? null : slot.display();
            offerWorker(display, context);
            for (final Scanout s : scanouts)
            {
                s.shownWidth = 0;
                s.shownHeight = 0;
            }
            scanoutsStale = false;
            cursorStale = false;
            if (null != display)
            {
                LOG.log(Level.INFO, name + ": display attached, announcing the enabled scanouts");
                announceAll(memory);
            }
            return;
        }
        if (null != display && watchedContext != context)
        {
            // A new connection (new workers): the display's answers are read on the new control worker.
            offerWorker(display, null);
            offerWorker(display, context);
        }
        if (scanoutsStale)
        {
            scanoutsStale = false;
            for (final Scanout s : scanouts)
            {
                if (!s.enabled())
                {
                    show(s, 0, 0);
                }
            }
        }
        if (cursorStale)
        {
            cursorStale = false;
            if (null != display)
            {
                try
                {
                    display.moveCursor(cursorScanout, cursorX, cursorY, false);
                }
                catch (final RuntimeException e)
                {
                    displayFailed("moveCursor", e);
                }
            }
        }
    }

    /**
     * Offers {@code target} this worker for reading its answers (a context), or takes the offer back (null).
     */
    private void offerWorker(final GpuDisplay target, final DeviceContext on)
    {
        if (null == target)
        {
            return;
        }
        try
        {
            target.readRepliesOn(null == on ? null : on.watcher(CONTROL_QUEUE));
            watchedContext = on;
        }
        catch (final RuntimeException e)
        {
            displayFailed("readRepliesOn", e);
        }
    }

    private void announceAll(final GuestMemory memory)
    {
        for (final Scanout s : scanouts)
        {
            if (s.enabled())
            {
                // Not the guest's request: a display that cannot hold the picture (a display replaced a moment
                // ago may still hold its copy) shows it disabled alone, and the guest's next SET_SCANOUT asks again.
                if (!showOrRefuse(s, s.width, s.height))
                {
                    s.shownWidth = 0;
                    s.shownHeight = 0;
                }
                present(s, s.x, s.y, s.width, s.height, memory);
            }
        }
        if (cursorDefined)
        {
            try
            {
                display.defineCursor(cursorScanout, cursorX, cursorY, cursorHotX, cursorHotY, cursorImage);
                if (!cursorVisible)
                {
                    display.moveCursor(cursorScanout, cursorX, cursorY, false);
                }
            }
            catch (final RuntimeException e)
            {
                displayFailed("defineCursor", e);
            }
        }
    }

    private void processControlQueue(final DeviceQueue queue)
    {
        if (holding && !settleHeld(queue))
        {
            return;
        }
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            int type;
            try
            {
                type = execute(chain, queue.memory());
            }
            catch (final RuntimeException e)
            {
                // A bug, not a guest error: still answer, or the guest waits forever.
                LOG.log(Level.ERROR, name + ": " + GpuProtocol.name(command) + " failed unexpectedly: " + e, e);
                type = RESP_ERR_UNSPEC;
            }
            if (type == HELD)
            {
                if (!settleHeld(queue))
                {
                    return;
                }
                continue;
            }
            respond(queue, chain, type);
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Responses

    private static int payloadLength(final int type)
    {
        return switch (type)
        {
            case RESP_OK_DISPLAY_INFO -> DISPLAY_INFO_SIZE - HDR_SIZE;
            case RESP_OK_EDID -> EDID_RESP_SIZE - HDR_SIZE;
            case RESP_OK_RESOURCE_UUID -> UUID_RESP_SIZE - HDR_SIZE;
            default -> 0;
        };
    }

    /**
     * Writes the header (plus the payload already in {@link #response}) into the chain's writable part and returns
     * the chain. A fenced request gets FLAG_FENCE with its fence_id and ctx_id back (and ring_idx with
     * INFO_RING_IDX). A response buffer too small for the whole response gets nothing (QEMU would write the part
     * that fits; a truncated response is of no use to a driver, and 0 bytes makes the mistake obvious).
     */
    private void respond(final DeviceQueue queue, final DescriptorChain chain, final int type)
    {
        final int total = HDR_SIZE + payloadLength(type);
        int flags = 0;
        long fence = 0;
        int ctx = 0;
        int ring = 0;
        if (0 != (hdrFlags & FLAG_FENCE))
        {
            flags = FLAG_FENCE;
            fence = hdrFence;
            ctx = hdrCtx;
            if (0 != (hdrFlags & FLAG_INFO_RING_IDX))
            {
                flags |= FLAG_INFO_RING_IDX;
                ring = hdrRing;
            }
        }
        putU32(response, HDR_TYPE, type);
        putU32(response, HDR_FLAGS, flags);
        putU64(response, HDR_FENCE_ID, fence);
        putU32(response, HDR_CTX_ID, ctx);
        // ring_idx (u8) and the 3 padding bytes.
        putU32(response, HDR_RING_IDX, ring & 0xFF);
        if (chain.writableBytes() < total)
        {
            if (0 == shortResponseBuffers++)
            {
                LOG.log(Level.WARNING, name + ": response buffer of " + chain.writableBytes() + " bytes is too small"
                    + " for " + GpuProtocol.name(type) + " (" + total + " bytes); returned with nothing written"
                    + " (logged once)");
            }
            queue.complete(chain, 0);
            return;
        }
        queue.complete(chain, writeResponse(queue.memory(), chain, total) ? total : 0);
    }

    /**
     * Copies the response into the writable buffers through {@code memory} (the current snapshot: a held chain may
     * have been popped under an older one).
     */
    private boolean writeResponse(final GuestMemory memory, final DescriptorChain chain, final int total)
    {
        long done = 0;
        try
        {
            for (int i = chain.readableCount(); i < chain.count() && done < total; i++)
            {
                final long n = Math.min(total - done, chain.length(i) & 0xFFFF_FFFFL);
                memory.write(chain.address(i), response, done, n);
                done += n;
            }
            return true;
        }
        catch (final GuestMemoryException e)
        {
            if (guestLog.allow())
            {
                guestLog.warn("response to request " + chain.head() + " not written: " + e.getMessage());
            }
            return false;
        }
    }

    private int fail(final int code, final String why)
    {
        if (guestLog.allow())
        {
            guestLog.warn(GpuProtocol.name(command) + " failed with " + GpuProtocol.name(code) + ": " + why);
        }
        return code;
    }

    private int tooShort(final int needed)
    {
        return fail(RESP_ERR_UNSPEC, "request of " + requestLength + " bytes, needs " + needed);
    }

    private int noResource(final int resourceId)
    {
        return fail(RESP_ERR_INVALID_RESOURCE_ID, "no resource " + id(resourceId));
    }

    private int rectOutside(final long x, final long y, final long width, final long height, final Object area)
    {
        return fail(RESP_ERR_INVALID_PARAMETER, "rect " + x + "," + y + " " + width + "x" + height + " not inside "
            + area);
    }

    private static String id(final int resourceId)
    {
        return Integer.toUnsignedString(resourceId);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Control commands

    /**
     * Parses the header and runs one control command.
     *
     * @return the response type (its payload, if any, is in {@link #response}), or {@link #HELD}.
     */
    private int execute(final DescriptorChain chain, final GuestMemory memory)
    {
        final int n = (int)Math.min(chain.readableBytes(), REQUEST_MAX);
        requestLength = n;
        command = 0;
        hdrFlags = 0;
        hdrFence = 0;
        hdrCtx = 0;
        hdrRing = 0;
        try
        {
            chain.reader().read(request, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return fail(RESP_ERR_UNSPEC, e.getMessage());
        }
        if (n < HDR_SIZE)
        {
            return tooShort(HDR_SIZE);
        }
        command = i32(request, HDR_TYPE);
        hdrFlags = i32(request, HDR_FLAGS);
        hdrFence = u64(request, HDR_FENCE_ID);
        hdrCtx = i32(request, HDR_CTX_ID);
        hdrRing = request.get(ValueLayout.JAVA_BYTE, HDR_RING_IDX) & 0xFF;
        return switch (command)
        {
            case CMD_GET_DISPLAY_INFO -> getDisplayInfo(chain);
            case CMD_RESOURCE_CREATE_2D -> createResource2d();
            case CMD_RESOURCE_UNREF -> unrefResource();
            case CMD_SET_SCANOUT -> setScanout();
            case CMD_RESOURCE_FLUSH -> flushResource(memory);
            case CMD_TRANSFER_TO_HOST_2D -> transferToHost2d(memory);
            case CMD_RESOURCE_ATTACH_BACKING -> attachBacking(chain, memory);
            case CMD_RESOURCE_DETACH_BACKING -> detachBacking();
            case CMD_GET_EDID -> options.edid() ? getEdid(chain) : unsupported("VIRTIO_GPU_F_EDID is not offered");
            case CMD_RESOURCE_ASSIGN_UUID -> options.resourceUuid()
                ? assignUuid() : unsupported("VIRTIO_GPU_F_RESOURCE_UUID is not offered");
            case CMD_RESOURCE_CREATE_BLOB -> options.resourceBlob()
                ? createBlob(chain, memory) : unsupported("VIRTIO_GPU_F_RESOURCE_BLOB is not offered");
            case CMD_SET_SCANOUT_BLOB -> options.resourceBlob()
                ? setScanoutBlob() : unsupported("VIRTIO_GPU_F_RESOURCE_BLOB is not offered");
            case CMD_GET_CAPSET_INFO, CMD_GET_CAPSET -> unsupported("no capsets (num_capsets = 0)");
            default -> command >= CMD_CTX_CREATE && command <= CMD_RESOURCE_UNMAP_BLOB
                ? unsupported("3D commands need VIRTIO_GPU_F_VIRGL, which is not offered")
                : unsupported("unknown command");
        };
    }

    private int unsupported(final String why)
    {
        return fail(RESP_ERR_UNSPEC, why);
    }

    /**
     * GET_DISPLAY_INFO: from the display (held until it answers), else the defaults.
     */
    private int getDisplayInfo(final DescriptorChain chain)
    {
        if (null == display)
        {
            fillDisplayInfo(null);
            return RESP_OK_DISPLAY_INFO;
        }
        return hold(chain, CMD_GET_DISPLAY_INFO, 0);
    }

    /**
     * GET_EDID: the scanout is checked here, because QEMU never answers for an invalid one.
     */
    private int getEdid(final DescriptorChain chain)
    {
        if (requestLength < GET_EDID_SIZE)
        {
            return tooShort(GET_EDID_SIZE);
        }
        final long scanout = u32(request, GET_EDID_SCANOUT);
        if (scanout >= numScanouts)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "scanout " + scanout + " >= " + numScanouts);
        }
        if (null == display)
        {
            fillEdid((int)scanout, null);
            return RESP_OK_EDID;
        }
        return hold(chain, CMD_GET_EDID, (int)scanout);
    }

    /**
     * Pmodes from the display's answer, or every output enabled at the default size, side by side.
     */
    private void fillDisplayInfo(final DisplayMode[] modes)
    {
        for (int at = DISPLAY_INFO_MODES; at < DISPLAY_INFO_SIZE; at += 8)
        {
            putU64(response, at, 0);
        }
        final int width = options.defaultWidth();
        final int height = options.defaultHeight();
        for (int i = 0; i < numScanouts; i++)
        {
            final int at = DISPLAY_INFO_MODES + i * DISPLAY_ONE_SIZE;
            if (null == modes)
            {
                putRect(at, i * width, 0, width, height);
                putU32(response, at + DISPLAY_ONE_ENABLED, 1);
            }
            else
            {
                final DisplayMode m = i < modes.length ? modes[i] : null;
                knownModes[i] = m;
                if (null != m)
                {
                    putRect(at, m.x(), m.y(), m.width(), m.height());
                    putU32(response, at + DISPLAY_ONE_ENABLED, m.enabled() ? 1 : 0);
                }
            }
        }
    }

    private void putRect(final int at, final int x, final int y, final int width, final int height)
    {
        putU32(response, at + RECT_X, x);
        putU32(response, at + RECT_Y, y);
        putU32(response, at + RECT_WIDTH, width);
        putU32(response, at + RECT_HEIGHT, height);
    }

    /**
     * The EDID response: the display's bytes when it gave at least a base block, else one generated here for the
     * mode the display last reported for this output (or the default mode). size is always 1024, like QEMU.
     */
    private void fillEdid(final int scanout, final byte[] fromDisplay)
    {
        for (int at = EDID_RESP_SIZE_FIELD; at < EDID_RESP_SIZE; at += 8)
        {
            putU64(response, at, 0);
        }
        putU32(response, EDID_RESP_SIZE_FIELD, EDID_MAX_BYTES);
        final byte[] edid = null != fromDisplay && fromDisplay.length >= EdidGenerator.BLOCK_SIZE
            ? fromDisplay : localEdid(scanout);
        MemorySegment.copy(edid, 0, response, ValueLayout.JAVA_BYTE, EDID_RESP_DATA,
            Math.min(edid.length, EDID_MAX_BYTES));
    }

    private byte[] localEdid(final int scanout)
    {
        final DisplayMode m = knownModes[scanout];
        final boolean usable = null != m && m.enabled() && m.width() >= 1 && m.height() >= 1
            && m.width() <= GpuOptions.MAX_DEFAULT_DIMENSION && m.height() <= GpuOptions.MAX_DEFAULT_DIMENSION;
        return usable ? EdidGenerator.generate(m.width(), m.height(), scanout + 1)
            : EdidGenerator.generate(options.defaultWidth(), options.defaultHeight(), scanout + 1);
    }

    /**
     * RESOURCE_CREATE_2D: id 0 or taken → INVALID_RESOURCE_ID; unknown format, empty or oversized →
     * INVALID_PARAMETER; over maxHostMem (or too many resources) → OUT_OF_MEMORY.
     */
    private int createResource2d()
    {
        if (requestLength < CREATE_2D_SIZE)
        {
            return tooShort(CREATE_2D_SIZE);
        }
        final int resourceId = i32(request, CREATE_2D_RESOURCE_ID);
        final int formatValue = i32(request, CREATE_2D_FORMAT);
        final long width = u32(request, CREATE_2D_WIDTH);
        final long height = u32(request, CREATE_2D_HEIGHT);
        if (0 == resourceId)
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
        }
        if (null != resources.get(resourceId))
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + id(resourceId) + " already exists");
        }
        final PixelFormat format = PixelFormat.of(formatValue);
        if (null == format)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "unknown format " + Integer.toUnsignedString(formatValue));
        }
        if (0 == width || 0 == height || width > MAX_DIMENSION || height > MAX_DIMENSION)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "size " + width + "x" + height + " outside 1.." + MAX_DIMENSION);
        }
        if (resources.size() >= MAX_RESOURCES)
        {
            return fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_RESOURCES + " resources");
        }
        final long bytes = width * PixelFormat.BYTES_PER_PIXEL * height;
        if (!budget.tryReserve(bytes))
        {
            return fail(RESP_ERR_OUT_OF_MEMORY, width + "x" + height + " needs " + bytes + " bytes, but "
                + budget.used() + " of the " + budget.limit() + "-byte host memory budget are in use (" + hostMem
                + " by resources)");
        }
        final Resource resource;
        try
        {
            resource = Resource.create2d(resourceId, format, (int)width, (int)height);
        }
        catch (final OutOfMemoryError e)
        {
            budget.release(bytes);
            return fail(RESP_ERR_OUT_OF_MEMORY, "allocating " + bytes + " bytes failed: " + e.getMessage());
        }
        resources.put(resource);
        hostMem += resource.hostBytes;
        return RESP_OK_NODATA;
    }

    /**
     * RESOURCE_UNREF: turns off the scanouts showing it, drops its backing and frees its image.
     */
    private int unrefResource()
    {
        if (requestLength < RESOURCE_CMD_SIZE)
        {
            return tooShort(RESOURCE_CMD_SIZE);
        }
        final int resourceId = i32(request, RESOURCE_ID);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        for (final Scanout s : scanouts)
        {
            if (s.resource == resource)
            {
                disable(s);
            }
        }
        resources.remove(resourceId);
        hostMem -= resource.hostBytes;
        budget.release(resource.hostBytes);
        if (null != resource.backing)
        {
            backingEntries -= resource.backing.entries();
        }
        resource.free();
        return RESP_OK_NODATA;
    }

    /**
     * What SET_SCANOUT and SET_SCANOUT_BLOB share (both lay out rect, scanout_id and resource_id alike): the request
     * length, the scanout id, resource 0 disabling the scanout, and the resource lookup.
     *
     * @return {@link #TARGET_FOUND} with {@link #targetScanout} and {@link #targetResource} set, or the response.
     */
    private int scanoutTarget(final int size)
    {
        if (requestLength < size)
        {
            return tooShort(size);
        }
        final long scanoutId = u32(request, SET_SCANOUT_SCANOUT_ID);
        final int resourceId = i32(request, SET_SCANOUT_RESOURCE_ID);
        if (scanoutId >= numScanouts)
        {
            return fail(RESP_ERR_INVALID_SCANOUT_ID, "scanout " + scanoutId + " >= " + numScanouts);
        }
        final Scanout scanout = scanouts[(int)scanoutId];
        if (0 == resourceId)
        {
            disable(scanout);
            return RESP_OK_NODATA;
        }
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        targetScanout = scanout;
        targetResource = resource;
        return TARGET_FOUND;
    }

    /**
     * SET_SCANOUT: resource 0 disables the scanout whatever the rectangle; otherwise the rectangle must be a
     * non-empty part of a 2D resource (blobs go through SET_SCANOUT_BLOB).
     */
    private int setScanout()
    {
        final int target = scanoutTarget(SET_SCANOUT_SIZE);
        if (target != TARGET_FOUND)
        {
            return target;
        }
        final Scanout scanout = targetScanout;
        final Resource resource = targetResource;
        if (resource.isBlob())
        {
            return fail(RESP_ERR_INVALID_PARAMETER, resource + " needs SET_SCANOUT_BLOB");
        }
        final long x = u32(request, SET_SCANOUT_RECT + RECT_X);
        final long y = u32(request, SET_SCANOUT_RECT + RECT_Y);
        final long width = u32(request, SET_SCANOUT_RECT + RECT_WIDTH);
        final long height = u32(request, SET_SCANOUT_RECT + RECT_HEIGHT);
        // u32 + u32 cannot overflow a long.
        if (0 == width || 0 == height || x + width > resource.width || y + height > resource.height)
        {
            return rectOutside(x, y, width, height, resource);
        }
        if (width > MAX_SCANOUT_DIMENSION || height > MAX_SCANOUT_DIMENSION)
        {
            return tooLargeToShow(width, height);
        }
        return bind(scanout, resource, (int)x, (int)y, (int)width, (int)height, resource.format, resource.stride, 0);
    }

    /**
     * SET_SCANOUT_BLOB: the scanout shows a framebuffer laid over a guest blob; the rectangle shown must lie inside
     * the framebuffer, and its last byte inside the blob.
     */
    private int setScanoutBlob()
    {
        final int target = scanoutTarget(SET_SCANOUT_BLOB_SIZE);
        if (target != TARGET_FOUND)
        {
            return target;
        }
        final Scanout scanout = targetScanout;
        final Resource resource = targetResource;
        if (!resource.isBlob())
        {
            return fail(RESP_ERR_INVALID_PARAMETER, resource + " is not a blob");
        }
        final int formatValue = i32(request, SCANOUT_BLOB_FORMAT);
        final PixelFormat format = PixelFormat.of(formatValue);
        if (null == format)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "unknown format " + Integer.toUnsignedString(formatValue));
        }
        final long fbWidth = u32(request, SCANOUT_BLOB_WIDTH);
        final long fbHeight = u32(request, SCANOUT_BLOB_HEIGHT);
        final long stride = u32(request, SCANOUT_BLOB_STRIDES);
        final long offset = u32(request, SCANOUT_BLOB_OFFSETS);
        if (0 == fbWidth || 0 == fbHeight || fbWidth > MAX_DIMENSION || fbHeight > MAX_DIMENSION)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "framebuffer " + fbWidth + "x" + fbHeight + " outside 1.."
                + MAX_DIMENSION);
        }
        if (stride < fbWidth * PixelFormat.BYTES_PER_PIXEL || stride > Integer.MAX_VALUE)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "stride " + stride + " for width " + fbWidth);
        }
        final long x = u32(request, SCANOUT_BLOB_RECT + RECT_X);
        final long y = u32(request, SCANOUT_BLOB_RECT + RECT_Y);
        final long width = u32(request, SCANOUT_BLOB_RECT + RECT_WIDTH);
        final long height = u32(request, SCANOUT_BLOB_RECT + RECT_HEIGHT);
        if (0 == width || 0 == height || x + width > fbWidth || y + height > fbHeight)
        {
            return rectOutside(x, y, width, height, "the " + fbWidth + "x" + fbHeight + " framebuffer");
        }
        if (width > MAX_SCANOUT_DIMENSION || height > MAX_SCANOUT_DIMENSION)
        {
            return tooLargeToShow(width, height);
        }
        // Bounded: offset < 2^32, rows <= 2^15, stride < 2^31.
        final long end = offset + (y + height - 1) * stride + (x + width) * PixelFormat.BYTES_PER_PIXEL;
        if (end > resource.blobSize)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "scanout rect ends at byte " + end + " of " + resource);
        }
        return bind(scanout, resource, (int)x, (int)y, (int)width, (int)height, format, (int)stride, offset);
    }

    private int tooLargeToShow(final long width, final long height)
    {
        return fail(RESP_ERR_INVALID_PARAMETER, "a " + width + "x" + height + " scanout is larger than "
            + MAX_SCANOUT_DIMENSION + "x" + MAX_SCANOUT_DIMENSION);
    }

    /**
     * Points the scanout at the resource and tells the display. A display that cannot hold the picture (its memory
     * budget is spent) turns the scanout off everywhere.
     *
     * @return OK, or OUT_OF_MEMORY with the scanout disabled.
     */
    private int bind(final Scanout s, final Resource resource, final int x, final int y, final int width,
        final int height, final PixelFormat format, final int stride, final long offset)
    {
        if (null != s.resource && s.resource != resource)
        {
            s.resource.scanoutMask &= ~(1 << s.index);
        }
        s.resource = resource;
        resource.scanoutMask |= 1 << s.index;
        s.x = x;
        s.y = y;
        s.width = width;
        s.height = height;
        s.format = format;
        s.stride = stride;
        s.offset = offset;
        if (!show(s, width, height))
        {
            disable(s);
            return fail(RESP_ERR_OUT_OF_MEMORY, "the display has no memory for scanout " + s.index + " at " + width
                + "x" + height + " (" + budget + "); scanout disabled");
        }
        return RESP_OK_NODATA;
    }

    private void disable(final Scanout s)
    {
        if (null != s.resource)
        {
            s.resource.scanoutMask &= ~(1 << s.index);
            s.clear();
        }
        show(s, 0, 0);
    }

    /**
     * Tells the display the scanout's size when it changed (0 x 0: off). A new resource of the same size needs no
     * new surface: the guest flushes it right after.
     *
     * @return false when the display could not hold the picture: every display is then told the scanout is off
     *     (those that took the size give their memory back), so the next SET_SCANOUT asks again.
     */
    private boolean show(final Scanout s, final int width, final int height)
    {
        if (null == display || (s.shownWidth == width && s.shownHeight == height))
        {
            return true;
        }
        if (showOrRefuse(s, width, height))
        {
            return true;
        }
        s.shownWidth = 0;
        s.shownHeight = 0;
        try
        {
            display.setScanout(s.index, 0, 0);
        }
        catch (final RuntimeException e)
        {
            displayFailed("setScanout", e);
        }
        return false;
    }

    /**
     * Tells the display the new size, and records it as shown.
     *
     * @return false when a display could not hold the picture (it shows the scanout disabled).
     */
    private boolean showOrRefuse(final Scanout s, final int width, final int height)
    {
        boolean shown;
        try
        {
            shown = display.setScanout(s.index, width, height);
        }
        catch (final RuntimeException e)
        {
            displayFailed("setScanout", e);
            shown = true;
        }
        s.shownWidth = width;
        s.shownHeight = height;
        return shown;
    }

    /**
     * RESOURCE_FLUSH: presents the rectangle on every scanout showing the resource, clipped to what each shows.
     */
    private int flushResource(final GuestMemory memory)
    {
        if (requestLength < FLUSH_SIZE)
        {
            return tooShort(FLUSH_SIZE);
        }
        final int resourceId = i32(request, FLUSH_RESOURCE_ID);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        final long x = u32(request, FLUSH_RECT + RECT_X);
        final long y = u32(request, FLUSH_RECT + RECT_Y);
        final long width = u32(request, FLUSH_RECT + RECT_WIDTH);
        final long height = u32(request, FLUSH_RECT + RECT_HEIGHT);
        // A blob has no size of its own: the rectangle is clipped to each scanout's framebuffer rectangle.
        if (!resource.isBlob() && (x + width > resource.width || y + height > resource.height))
        {
            return rectOutside(x, y, width, height, resource);
        }
        if (null == display || 0 == resource.scanoutMask)
        {
            return RESP_OK_NODATA;
        }
        for (final Scanout s : scanouts)
        {
            if (s.resource == resource)
            {
                present(s, x, y, width, height, memory);
            }
        }
        return RESP_OK_NODATA;
    }

    /**
     * Sends the part of rectangle (x, y, width, height) — in resource/framebuffer coordinates — that scanout
     * {@code s} shows, in scanout coordinates.
     */
    private void present(final Scanout s, final long x, final long y, final long width, final long height,
        final GuestMemory memory)
    {
        final long left = Math.max(x, s.x);
        final long top = Math.max(y, s.y);
        final long right = Math.min(x + width, (long)s.x + s.width);
        final long bottom = Math.min(y + height, (long)s.y + s.height);
        if (right <= left || bottom <= top || null == display)
        {
            return;
        }
        final int w = (int)(right - left);
        final int h = (int)(bottom - top);
        final int ux = (int)(left - s.x);
        final int uy = (int)(top - s.y);
        final Resource resource = s.resource;
        try
        {
            if (!resource.isBlob())
            {
                display.updateScanout(s.index, ux, uy, w, h, resource.image,
                    top * resource.stride + left * PixelFormat.BYTES_PER_PIXEL, resource.stride, resource.format);
                return;
            }
            presentBlob(s, resource.backing, left, top, w, h, ux, uy, memory);
        }
        catch (final RuntimeException e)
        {
            displayFailed("updateScanout", e);
        }
    }

    /**
     * A blob scanout reads the guest's pixels in place when the rectangle is contiguous here, else gathers rows into
     * the staging buffer, a chunk of rows per update.
     */
    private void presentBlob(final Scanout s, final Backing backing, final long left, final long top, final int w,
        final int h, final int ux, final int uy, final GuestMemory memory)
    {
        if (!backing.resolve(memory))
        {
            if (guestLog.allow())
            {
                guestLog.warn("blob resource " + id(s.resource.id) + " is no longer in guest memory; scanout "
                    + s.index + " not updated");
            }
            return;
        }
        final long start = s.offset + top * s.stride + left * PixelFormat.BYTES_PER_PIXEL;
        final long rowBytes = (long)w * PixelFormat.BYTES_PER_PIXEL;
        final int span = backing.spanHolding(start, (h - 1L) * s.stride + rowBytes);
        if (span >= 0)
        {
            display.updateScanout(s.index, ux, uy, w, h, backing.spanBytes(span), backing.hostOffset(span, start),
                s.stride, s.format);
            return;
        }
        final MemorySegment buffer = staging();
        final int rowsPerChunk = (int)Math.max(1, buffer.byteSize() / rowBytes);
        for (int row = 0; row < h; )
        {
            final int rows = Math.min(rowsPerChunk, h - row);
            for (int k = 0; k < rows; k++)
            {
                backing.copyTo(start + (long)(row + k) * s.stride, buffer, k * rowBytes, rowBytes);
            }
            display.updateScanout(s.index, ux, uy + row, w, rows, buffer, 0, (int)rowBytes, s.format);
            row += rows;
        }
    }

    private MemorySegment staging()
    {
        if (null == staging)
        {
            staging = Arena.ofAuto().allocate(STAGING_BYTES, 64);
        }
        return staging;
    }

    /**
     * TRANSFER_TO_HOST_2D, QEMU semantics: row h of the rectangle comes from backing offset {@code offset + stride*h}
     * (stride = the resource's width * 4) and goes to its place in the image. No backing → INVALID_RESOURCE_ID (as
     * QEMU); rectangle outside the resource or reading past the backing → INVALID_PARAMETER. A guest blob needs no
     * transfer (the host reads it in place): OK, as QEMU.
     */
    private int transferToHost2d(final GuestMemory memory)
    {
        if (requestLength < TRANSFER_SIZE)
        {
            return tooShort(TRANSFER_SIZE);
        }
        final int resourceId = i32(request, TRANSFER_RESOURCE_ID);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        if (resource.isBlob())
        {
            return RESP_OK_NODATA;
        }
        final Backing backing = resource.backing;
        if (null == backing)
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        final long x = u32(request, TRANSFER_RECT + RECT_X);
        final long y = u32(request, TRANSFER_RECT + RECT_Y);
        final long width = u32(request, TRANSFER_RECT + RECT_WIDTH);
        final long height = u32(request, TRANSFER_RECT + RECT_HEIGHT);
        final long offset = u64(request, TRANSFER_OFFSET);
        if (x + width > resource.width || y + height > resource.height)
        {
            return rectOutside(x, y, width, height, resource);
        }
        if (0 == width || 0 == height)
        {
            return RESP_OK_NODATA;
        }
        final long stride = resource.stride;
        final long rowBytes = width * PixelFormat.BYTES_PER_PIXEL;
        // offset is checked first (it is a u64: negative here means >= 2^63); the rest is bounded by the image size.
        if (offset < 0 || offset > backing.size()
            || (height - 1) * stride + rowBytes > backing.size() - offset)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "rect " + x + "," + y + " " + width + "x" + height + " at offset "
                + Long.toUnsignedString(offset) + " reads past the " + backing.size() + "-byte backing of "
                + resource);
        }
        if (!backing.resolve(memory))
        {
            return fail(RESP_ERR_UNSPEC, "the backing of " + resource + " is no longer guest memory");
        }
        final long dst = y * stride + x * PixelFormat.BYTES_PER_PIXEL;
        if (rowBytes == stride)
        {
            // Full-width rows are contiguous on both sides: one copy per backing span.
            backing.copyTo(offset, resource.image, dst, height * stride);
        }
        else
        {
            for (long row = 0; row < height; row++)
            {
                backing.copyTo(offset + row * stride, resource.image, dst + row * stride, rowBytes);
            }
        }
        return RESP_OK_NODATA;
    }

    /**
     * RESOURCE_ATTACH_BACKING: nr_entries 1..16384 entries, read from the chain wherever they sit, each inside guest
     * memory (else ERR_UNSPEC, like QEMU); a resource that already has backing → ERR_UNSPEC.
     */
    private int attachBacking(final DescriptorChain chain, final GuestMemory memory)
    {
        if (requestLength < ATTACH_SIZE)
        {
            return tooShort(ATTACH_SIZE);
        }
        final int resourceId = i32(request, ATTACH_RESOURCE_ID);
        final long count = u32(request, ATTACH_NR_ENTRIES);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        if (null != resource.backing)
        {
            return fail(RESP_ERR_UNSPEC, resource + " already has backing");
        }
        final Backing backing = readEntries(chain, ATTACH_SIZE, count, memory);
        if (null == backing)
        {
            return entriesError;
        }
        resource.backing = backing;
        backingEntries += backing.entries();
        return RESP_OK_NODATA;
    }

    /**
     * Reads and validates {@code count} mem entries following the {@code fixed}-byte command.
     *
     * @return the backing, or null with {@link #entriesError} set.
     */
    private Backing readEntries(final DescriptorChain chain, final int fixed, final long count,
        final GuestMemory memory)
    {
        if (0 == count || count > MAX_MEM_ENTRIES)
        {
            entriesError = fail(RESP_ERR_UNSPEC, "nr_entries " + count + " outside 1.." + MAX_MEM_ENTRIES);
            return null;
        }
        if (backingEntries + count > MAX_BACKING_ENTRIES)
        {
            entriesError = fail(RESP_ERR_OUT_OF_MEMORY, "more than " + MAX_BACKING_ENTRIES + " backing entries");
            return null;
        }
        if (chain.readableBytes() < fixed + count * MEM_ENTRY_SIZE)
        {
            entriesError = fail(RESP_ERR_UNSPEC, count + " entries announced, request has "
                + chain.readableBytes() + " bytes");
            return null;
        }
        final int n = (int)count;
        final long[] addresses = new long[n];
        final long[] lengths = new long[n];
        final ChainReader reader = chain.reader();
        try
        {
            reader.rewind();
            reader.skip(fixed);
            for (int i = 0; i < n; )
            {
                final int chunk = Math.min(ENTRY_CHUNK, n - i);
                reader.read(entryChunk, 0, (long)chunk * MEM_ENTRY_SIZE);
                for (int k = 0; k < chunk; k++)
                {
                    addresses[i + k] = u64(entryChunk, (long)k * MEM_ENTRY_SIZE + MEM_ENTRY_ADDR);
                    lengths[i + k] = u32(entryChunk, (long)k * MEM_ENTRY_SIZE + MEM_ENTRY_LENGTH);
                }
                i += chunk;
            }
        }
        catch (final ChainAccessException e)
        {
            entriesError = fail(RESP_ERR_UNSPEC, e.getMessage());
            return null;
        }
        for (int i = 0; i < n; i++)
        {
            if (!memory.isValidRange(addresses[i], lengths[i]))
            {
                entriesError = fail(RESP_ERR_UNSPEC, "entry " + i + " [0x" + Long.toHexString(addresses[i])
                    + ", +" + lengths[i] + ") is not guest memory");
                return null;
            }
        }
        return new Backing(addresses, lengths);
    }

    /**
     * RESOURCE_DETACH_BACKING: no resource or no backing → INVALID_RESOURCE_ID (QEMU); a blob cannot lose its
     * memory → INVALID_PARAMETER. The host image stays.
     */
    private int detachBacking()
    {
        if (requestLength < RESOURCE_CMD_SIZE)
        {
            return tooShort(RESOURCE_CMD_SIZE);
        }
        final int resourceId = i32(request, RESOURCE_ID);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        if (resource.isBlob())
        {
            return fail(RESP_ERR_INVALID_PARAMETER, resource + " is its backing");
        }
        if (null == resource.backing)
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        backingEntries -= resource.backing.entries();
        resource.backing = null;
        return RESP_OK_NODATA;
    }

    /**
     * RESOURCE_ASSIGN_UUID: a random (RFC 4122 version 4) UUID, the same for the resource's lifetime.
     */
    private int assignUuid()
    {
        if (requestLength < RESOURCE_CMD_SIZE)
        {
            return tooShort(RESOURCE_CMD_SIZE);
        }
        final int resourceId = i32(request, RESOURCE_ID);
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return noResource(resourceId);
        }
        if (!resource.hasUuid)
        {
            final UUID uuid = UUID.randomUUID();
            resource.uuidMostSignificant = uuid.getMostSignificantBits();
            resource.uuidLeastSignificant = uuid.getLeastSignificantBits();
            resource.hasUuid = true;
        }
        // RFC 4122 byte order: big-endian.
        response.set(U64_BE, UUID_RESP_UUID, resource.uuidMostSignificant);
        response.set(U64_BE, UUID_RESP_UUID + 8, resource.uuidLeastSignificant);
        return RESP_OK_RESOURCE_UUID;
    }

    /**
     * RESOURCE_CREATE_BLOB: guest memory only (BLOB_MEM_GUEST; others → INVALID_PARAMETER), the entries are the
     * backing, each inside guest RAM, and must cover {@code size} (Linux's add up to it exactly: whole pages). Entries
     * may alias the same guest pages: no host copy is kept (the blob is read in place), so a blob costs no host
     * memory whatever its size, and a size larger than the guest's RAM is no threat; what costs is a scanout showing
     * it, whose copies the displays reserve at SET_SCANOUT_BLOB (capped at {@link #MAX_SCANOUT_DIMENSION} a side).
     */
    private int createBlob(final DescriptorChain chain, final GuestMemory memory)
    {
        if (requestLength < CREATE_BLOB_SIZE)
        {
            return tooShort(CREATE_BLOB_SIZE);
        }
        final int resourceId = i32(request, BLOB_RESOURCE_ID);
        final int blobMem = i32(request, BLOB_MEM);
        final long count = u32(request, BLOB_NR_ENTRIES);
        final long size = u64(request, BLOB_SIZE);
        if (blobMem != BLOB_MEM_GUEST)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "blob_mem " + Integer.toUnsignedString(blobMem)
                + " (only BLOB_MEM_GUEST without 3D)");
        }
        if (0 == resourceId)
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
        }
        if (null != resources.get(resourceId))
        {
            return fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + id(resourceId) + " already exists");
        }
        if (size <= 0)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "blob size " + Long.toUnsignedString(size));
        }
        if (resources.size() >= MAX_RESOURCES)
        {
            return fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_RESOURCES + " resources");
        }
        final Backing backing = readEntries(chain, CREATE_BLOB_SIZE, count, memory);
        if (null == backing)
        {
            return entriesError;
        }
        if (backing.size() < size)
        {
            return fail(RESP_ERR_INVALID_PARAMETER, "blob size " + size + " but the entries hold "
                + backing.size() + " bytes");
        }
        resources.put(Resource.createBlob(resourceId, size, backing));
        backingEntries += backing.entries();
        return RESP_OK_NODATA;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Held requests (GET_DISPLAY_INFO, GET_EDID with a display)

    private int hold(final DescriptorChain chain, final int heldType, final int scanout)
    {
        if (chain.count() > held.maxDescriptors())
        {
            // Cannot be kept aside (a transport with longer chains than ours): answer from the defaults now.
            if (heldType == CMD_GET_DISPLAY_INFO)
            {
                fillDisplayInfo(null);
                return RESP_OK_DISPLAY_INFO;
            }
            fillEdid(scanout, null);
            return RESP_OK_EDID;
        }
        held.copyFrom(chain);
        holding = true;
        heldCommand = heldType;
        heldScanout = scanout;
        heldFlags = hdrFlags;
        heldFence = hdrFence;
        heldCtx = hdrCtx;
        heldRing = hdrRing;
        heldAsked = null;
        return HELD;
    }

    /**
     * Completes the held request if it can be answered now (answer arrived, timeout, display gone or changed).
     *
     * @return true when it was completed and the queue may go on, false when it still waits (a retry is set).
     */
    private boolean settleHeld(final DeviceQueue queue)
    {
        if (heldAsked != display)
        {
            // Not asked yet, or asked of a display that has gone since: ask the current one, if any.
            if (null == display || !ask(display))
            {
                completeHeld(queue, null);
                return true;
            }
        }
        final Answer a = answer;
        if (null != a && a.seq() == awaitedSeq)
        {
            completeHeld(queue, a.value());
            return true;
        }
        final long left = heldDeadline - nanoClock.getAsLong();
        if (left <= 0)
        {
            LOG.log(Level.WARNING, name + ": the display did not answer " + GpuProtocol.name(heldCommand)
                + " within " + DISPLAY_TIMEOUT_NANOS / 1_000_000 + " ms; answered with the defaults");
            completeHeld(queue, null);
            return true;
        }
        queue.retryAfter(left);
        return false;
    }

    /**
     * @return false when the display cannot answer (then the defaults apply at once).
     */
    private boolean ask(final GpuDisplay target)
    {
        final long seq = ++lastSeq;
        awaitedSeq = seq;
        answer = null;
        heldAsked = target;
        heldDeadline = nanoClock.getAsLong() + DISPLAY_TIMEOUT_NANOS;
        try
        {
            return heldCommand == CMD_GET_DISPLAY_INFO
                ? target.requestDisplayInfo(modes -> deliver(seq, modes))
                : target.requestEdid(heldScanout, edid -> deliver(seq, edid));
        }
        catch (final RuntimeException e)
        {
            displayFailed(heldCommand == CMD_GET_DISPLAY_INFO ? "requestDisplayInfo" : "requestEdid", e);
            return false;
        }
    }

    private void completeHeld(final DeviceQueue queue, final Object value)
    {
        holding = false;
        heldAsked = null;
        awaitedSeq = 0;
        answer = null;
        command = heldCommand;
        hdrFlags = heldFlags;
        hdrFence = heldFence;
        hdrCtx = heldCtx;
        hdrRing = heldRing;
        final int type;
        if (heldCommand == CMD_GET_DISPLAY_INFO)
        {
            fillDisplayInfo(value instanceof DisplayMode[] modes ? modes : null);
            type = RESP_OK_DISPLAY_INFO;
        }
        else
        {
            fillEdid(heldScanout, value instanceof byte[] edid ? edid : null);
            type = RESP_OK_EDID;
        }
        respond(queue, held, type);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Cursor queue

    private void processCursorQueue(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            try
            {
                cursorCommand(chain, queue.memory());
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, name + ": " + GpuProtocol.name(command) + " failed unexpectedly: " + e, e);
            }
            // Cursor commands get no response (Linux gives no buffer for one).
            queue.complete(chain, 0);
        }
    }

    private void cursorCommand(final DescriptorChain chain, final GuestMemory memory)
    {
        final int n = (int)Math.min(chain.readableBytes(), CURSOR_CMD_SIZE);
        requestLength = n;
        command = 0;
        try
        {
            chain.reader().read(request, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return;
        }
        if (n < HDR_SIZE)
        {
            ignoreCursor("request of " + n + " bytes");
            return;
        }
        command = i32(request, HDR_TYPE);
        if (command != CMD_UPDATE_CURSOR && command != CMD_MOVE_CURSOR)
        {
            ignoreCursor("not a cursor command");
            return;
        }
        if (n < CURSOR_CMD_SIZE)
        {
            ignoreCursor("request of " + n + " bytes, needs " + CURSOR_CMD_SIZE);
            return;
        }
        final long scanout = u32(request, CURSOR_SCANOUT_ID);
        if (scanout >= numScanouts)
        {
            ignoreCursor("scanout " + scanout + " >= " + numScanouts);
            return;
        }
        // Positions are signed: a cursor may hang off the top/left edge.
        final int x = i32(request, CURSOR_X);
        final int y = i32(request, CURSOR_Y);
        final int resourceId = i32(request, CURSOR_RESOURCE_ID);
        cursorScanout = (int)scanout;
        cursorX = x;
        cursorY = y;
        if (command == CMD_MOVE_CURSOR || 0 == resourceId)
        {
            cursorVisible = 0 != resourceId && cursorDefined;
            if (null != display)
            {
                try
                {
                    display.moveCursor(cursorScanout, x, y, 0 != resourceId);
                }
                catch (final RuntimeException e)
                {
                    displayFailed("moveCursor", e);
                }
            }
            return;
        }
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            ignoreCursor("no resource " + id(resourceId));
            return;
        }
        if (!loadCursor(resource, memory))
        {
            return;
        }
        cursorHotX = i32(request, CURSOR_HOT_X);
        cursorHotY = i32(request, CURSOR_HOT_Y);
        cursorDefined = true;
        cursorVisible = true;
        if (null != display)
        {
            try
            {
                display.defineCursor(cursorScanout, x, y, cursorHotX, cursorHotY, cursorImage);
            }
            catch (final RuntimeException e)
            {
                displayFailed("defineCursor", e);
            }
        }
    }

    /**
     * Converts a 64x64 cursor resource into {@link #cursorImage} (B,G,R,A). A blob cursor is read from guest memory
     * as B8G8R8A8 (Linux's cursor format), like QEMU.
     */
    private boolean loadCursor(final Resource resource, final GuestMemory memory)
    {
        if (resource.isBlob())
        {
            if (resource.blobSize < CURSOR_BYTES || !resource.backing.resolve(memory))
            {
                ignoreCursor(resource + " cannot be a 64x64 cursor");
                return false;
            }
            resource.backing.copyTo(0, cursorImage, 0, CURSOR_BYTES);
            return true;
        }
        if (resource.width != CURSOR_SIZE || resource.height != CURSOR_SIZE)
        {
            ignoreCursor(resource + " is not 64x64");
            return false;
        }
        for (int row = 0; row < CURSOR_SIZE; row++)
        {
            resource.format.toBgra(resource.image, (long)row * resource.stride, cursorImage,
                (long)row * CURSOR_STRIDE, CURSOR_SIZE);
        }
        return true;
    }

    /**
     * Cursor commands have no response: a bad one is only logged.
     */
    private void ignoreCursor(final String why)
    {
        if (guestLog.allow())
        {
            guestLog.warn("cursor command " + GpuProtocol.name(command) + " ignored: " + why);
        }
    }

    private void displayFailed(final String call, final RuntimeException e)
    {
        if (guestLog.allow())
        {
            LOG.log(Level.WARNING, name + ": display " + call + " failed: " + e, e);
        }
    }

    /**
     * The display currently attached, boxed so that attaching the same display again is still a change.
     */
    private record DisplaySlot(GpuDisplay display)
    {
    }

    /**
     * A display's answer to request {@code seq}: DisplayMode[], byte[] or null.
     */
    private record Answer(long seq, Object value)
    {
    }
}
