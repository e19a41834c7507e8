package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.MemoryBudget;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virgl.VirglLibrary;
import io.jvhost.virgl.VirglRenderer;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * virtio-gpu 2D (virtio ID 16), independent of the transport: control queue 0 and cursor queue 1, output through a
 * {@link GpuDisplay} that may come and go. This class is the {@link VirtioDevice} (features, config, queues,
 * lifecycle, threads); the work is done by its parts:
 * <ul>
 * <li>{@link CommandDecoder} takes requests off both queues through one preamble and the {@link CommandTable} built
 * by {@link GpuCommands} (each command's request structure, OK response and handler; requests are read through
 * flyweights in {@code io.jvhost.device.gpu.wire}); {@link Responses} writes the answers.</li>
 * <li>A {@link Renderer} holds the resources and makes pixels: {@link SoftwareRenderer}, host images off-heap, guest
 * blobs read in place.</li>
 * <li>{@link Scanouts} (what each scanout shows), {@link Cursor}, {@link HeldRequests} (GET_DISPLAY_INFO and GET_EDID
 * answered when the display has), {@link DisplayInfo} (their payloads).</li>
 * <li>{@link DisplayOutputs}: the attached display, and the one place its failures are caught.</li>
 * </ul>
 * <b>Threads.</b> Both queues run on worker 0 (they share the resources). {@link #reset()} and the config
 * accessors arrive on the transport's protocol thread; a lock serialises them with queue processing. {@link #setDisplay}/{@link #clearDisplay} and the display's answers may come from any
 * thread: they only publish a value and {@link DeviceContext#wake wake} the worker, which makes every display call
 * itself (so a new display is always told about a scanout before it gets pixels for it).
 * <p>
 * <b>Errors.</b> Every guest mistake is answered with a VIRTIO_GPU_RESP_ERR_* code (QEMU's where QEMU defines one)
 * and a rate-limited warning ({@link GuestErrors}); nothing a guest sends raises an exception. Entries of
 * ATTACH_BACKING/CREATE_BLOB outside guest memory are ERR_UNSPEC, like QEMU's failed {@code dma_memory_map}.
 * <p>
 * <b>Host memory.</b> One {@link MemoryBudget} bounds what the guest can make the process allocate: the images of
 * its 2D resources (RESOURCE_CREATE_2D beyond it is ERR_OUT_OF_MEMORY), and what the displays keep of its scanouts
 * and give their viewers, which they reserve from the same budget (a SET_SCANOUT a display cannot hold is
 * ERR_OUT_OF_MEMORY, with the scanout off). Blobs are read in place and cost nothing; a scanout is at most
 * {@link #MAX_SCANOUT_DIMENSION} a side (else ERR_INVALID_PARAMETER).
 * <p>
 * <b>Data path.</b> TRANSFER_TO_HOST_2D, RESOURCE_FLUSH and MOVE_CURSOR allocate nothing: requests are parsed from a
 * preallocated buffer through reused flyweights, commands are found in an array, and the renderer copies without
 * allocating ({@link SoftwareRenderer}).
 */
public final class GpuDevice implements VirtioDevice
{
    /** Largest queue size accepted (QEMU uses 64 for the control queue, 16 for the cursor queue). */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** How long a held GET_DISPLAY_INFO/GET_EDID waits for the display. */
    public static final long DISPLAY_TIMEOUT_NANOS = 1_000_000_000L;
    /** The longest a stopping control queue waits for the fences of the requests it holds. */
    static final long STOP_FENCE_WAIT_NANOS = 5_000_000_000L;
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

    private final String name;
    private final GpuOptions options;
    private final MemoryBudget budget;
    private final int numScanouts;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger eventsRead = new AtomicInteger();
    private final Runnable outputsListener = this::outputsChanged;
    private volatile DeviceContext context;
    /** The renderer's fence descriptor, watched on the worker (3D); worker only. */
    private FdWatch fenceWatch;
    private int watchedFd = -1;

    // ---- The parts, guarded by the lock (in practice: worker 0). ----
    private final DisplayOutputs outputs;
    private final Renderer renderer;
    private final Scanouts scanouts;
    private final Cursor cursor;
    private final HeldRequests held;
    private final RingFences rings;
    private final CommandDecoder decoder;

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
        this(name, options, budget, nanoClock, null);
    }

    /**
     * Makes the renderer of a device (tests put a scripted one in virglrenderer's place).
     */
    @FunctionalInterface
    interface RendererFactory
    {
        Renderer create(GuestErrors errors, RingFences rings);
    }

    /**
     * With a renderer of the test's making; null: the options' (2D, or virglrenderer).
     */
    GpuDevice(final String name, final GpuOptions options, final MemoryBudget budget, final LongSupplier nanoClock,
        final RendererFactory factory)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.options = Objects.requireNonNull(options, "options");
        this.budget = Objects.requireNonNull(budget, "budget");
        this.numScanouts = options.maxOutputs();
        final GuestErrors errors = new GuestErrors(name);
        this.outputs = new DisplayOutputs(errors);
        final Responses responses = new Responses(name, errors);
        this.rings = new RingFences(name, responses);
        this.renderer = null != factory ? factory.create(errors, rings) : options.threeD()
            ? new VirglRendererAdapter(name, options.virglFlags(), options.capsets(), budget, errors, rings)
            : new SoftwareRenderer(budget, errors);
        this.scanouts = new Scanouts(numScanouts, renderer, outputs, errors, budget);
        this.cursor = new Cursor(numScanouts, renderer, outputs, errors);
        final DisplayInfo info = new DisplayInfo(options, numScanouts);
        this.held = new HeldRequests(name, outputs, info, responses.buffer, responses, this::wake,
            Objects.requireNonNull(nanoClock, "nanoClock"), renderer);
        final ControlRequest request = new ControlRequest();
        final GpuCommands commands = new GpuCommands(options, request, renderer, scanouts, cursor, held, info,
            outputs, new BackingReader(errors), errors, responses);
        this.decoder = new CommandDecoder(name, commands.table(), request, responses, held, errors, renderer, rings);
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
        if (options.threeD())
        {
            features |= 1L << F_VIRGL;
            if (contextInitAvailable())
            {
                features |= 1L << F_CONTEXT_INIT;
            }
        }
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

    /**
     * @return true when the bound virglrenderer has what VIRTIO_GPU_F_CONTEXT_INIT needs: contexts of a capset
     *     ({@code virgl_renderer_context_create_with_flags}) and per-ring fences
     *     ({@code virgl_renderer_context_create_fence}, callbacks v3).
     */
    static boolean contextInitAvailable()
    {
        return VirglLibrary.available() && VirglLibrary.hasContextInit();
    }

    /**
     * Venus needs contexts of capset 4 (CONTEXT_INIT): a front-end that did not take the feature cannot use it,
     * which is said once here rather than at each refused CTX_CREATE.
     */
    @Override
    public void featuresAcked(final long features)
    {
        if (0 != (options.capsets() & 1 << VirglRenderer.CAPSET_VENUS) && 0 == (features & 1L << F_CONTEXT_INIT))
        {
            LOG.log(Level.WARNING, name + ": capset venus is offered, but the front-end did not accept"
                + " VIRTIO_GPU_F_CONTEXT_INIT (QEMU 10's vhost-user-gpu drops it, and has no blob resources or"
                + " host-visible memory): the guest cannot create a Venus context; only virgl (GL) contexts work");
        }
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
        putU32(config, CONFIG_NUM_CAPSETS, renderer.capsetCount());
        ConfigSpace.read(config, offset, dst);
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
        outputs.offer(display);
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
        outputs.withdraw();
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
        // The scanouts let go of the resources before the renderer frees them.
        scanouts.reset();
        renderer.reset();
        held.reset();
        cursor.reset();
    }

    /**
     * @return bytes of host images the guest's resources hold (part of {@link #memoryBudget()}'s use).
     */
    public long hostMemoryUsed()
    {
        lock.lock();
        try
        {
            return renderer.hostMemoryUsed();
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
            return renderer.resourceCount();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return the renderer (tests).
     */
    Renderer renderer()
    {
        return renderer;
    }

    /**
     * @return host spans the backing of resource {@code resourceId} resolved to (-1 without backing), for tests.
     */
    int backingSpans(final int resourceId)
    {
        lock.lock();
        try
        {
            final Resource resource = renderer.resource(resourceId);
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
            renderer.enter();
            watchFences();
            syncDisplay(queue.memory());
            if (queue.index() == CURSOR_QUEUE)
            {
                decoder.processCursorQueue(queue);
            }
            else
            {
                decoder.processControlQueue(queue);
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * The control ring stops (GET_VRING_BASE: a VM stop; on the worker, like {@link #processQueue}): the request held
     * for the display or a fence, and the requests waiting for their rings' fences, are answered before the ring's
     * state is reported (fences are waited for up to {@link #STOP_FENCE_WAIT_NANOS}); the resources, scanouts and
     * contexts stay for the {@code cont}. The cursor queue holds nothing.
     */
    @Override
    public void queueStopping(final DeviceQueue queue)
    {
        if (queue.index() != CONTROL_QUEUE)
        {
            return;
        }
        lock.lock();
        try
        {
            renderer.enter();
            final long deadline = System.nanoTime() + STOP_FENCE_WAIT_NANOS;
            held.answerAtStop(queue, deadline);
            rings.answerAtStop(queue, renderer, deadline);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * 3D: has the worker woken when virglrenderer's fence descriptor becomes readable, so held fences are answered
     * without polling.
     */
    private void watchFences()
    {
        final int fd = renderer.pollFd();
        final DeviceContext c = context;
        if (fd < 0 || fd == watchedFd || null == c)
        {
            return;
        }
        closeFenceWatch();
        fenceWatch = c.watch(CONTROL_QUEUE, fd, this::fencesReadable);
        watchedFd = null == fenceWatch ? -1 : fd;
        held.fencesWatched(null != fenceWatch);
        decoder.fencesWatched(null != fenceWatch);
    }

    private void fencesReadable()
    {
        lock.lock();
        try
        {
            renderer.pollFences();
        }
        finally
        {
            lock.unlock();
        }
    }

    private void closeFenceWatch()
    {
        if (null != fenceWatch)
        {
            fenceWatch.close();
            fenceWatch = null;
        }
        watchedFd = -1;
        held.fencesWatched(false);
        decoder.fencesWatched(false);
    }

    /**
     * The worker serving the queues is ending (its connection closed): 3D mode cleans virglrenderer up on it, the
     * only thread that may, with everything the guest held; the next connection's worker starts it afresh.
     */
    @Override
    public void workerEnding(final int worker)
    {
        if (!options.threeD())
        {
            // 2D holds nothing bound to a thread; the connection's reset has freed the rest.
            return;
        }
        // Not under the lock: closing waits for a running callback, which takes the lock.
        closeFenceWatch();
        lock.lock();
        try
        {
            scanouts.reset();
            cursor.reset();
            held.reset();
            renderer.threadEnding();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Adopts a newly attached (or removed) display and brings it up to date, before any command can send it output;
     * else tells the display what a reset changed.
     */
    private void syncDisplay(final GuestMemory memory)
    {
        if (outputs.adopt(context))
        {
            scanouts.forgetShown();
            cursor.forgetShown();
            if (outputs.attached())
            {
                LOG.log(Level.INFO, name + ": display attached, announcing the enabled scanouts");
                scanouts.announce(memory);
                cursor.announce();
            }
            return;
        }
        scanouts.syncDisplay();
        cursor.syncDisplay();
    }
}
