package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.wire.ResourceCreate3d;
import io.jvhost.device.gpu.wire.Transfer3d;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virgl.Box;
import io.jvhost.virgl.CapsetInfo;
import io.jvhost.virgl.CursorImage;
import io.jvhost.virgl.FenceListener;
import io.jvhost.virgl.IoVecArray;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCalls;
import io.jvhost.virgl.VirglException;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglRenderer;
import io.jvhost.virgl.VirglUnavailableException;

import static io.jvhost.device.gpu.GpuDevice.MAX_DIMENSION;
import static io.jvhost.device.gpu.GpuDevice.MAX_RESOURCES;
import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The 3D renderer: resources and contexts live in virglrenderer ({@link VirglRenderer}), the guest's backing is
 * given to it as iovecs into guest memory, and the display gets pixels read back on RESOURCE_FLUSH into a buffer
 * counted against the device's {@link MemoryBudget}.
 * <p>
 * <b>One thread.</b> virglrenderer must be called from the thread that initialised it. It is started by the first
 * {@link #enter()} on the control queue's worker and stopped by {@link #threadEnding()} as that worker ends (a
 * vhost-user connection has workers of its own, so a reconnect starts it afresh on the new worker). A guest reset
 * arrives on the transport's thread: it drops the tables here and leaves {@code virgl_renderer_reset} to the next
 * {@link #enter()}.
 * <p>
 * <b>Failures.</b> When virglrenderer cannot start, that is logged once and every command that needs it is
 * answered ERR_UNSPEC; a call it refuses is ERR_UNSPEC with its code, through {@link GuestErrors}.
 * <p>
 * <b>Memory.</b> A 3D resource's host memory is estimated from its size (4 bytes a texel, 1 a buffer byte, a third
 * more with mipmaps, times the samples) and reserved from the budget before virglrenderer allocates it.
 */
final class VirglRendererAdapter implements Renderer, FenceListener
{
    /** Largest SUBMIT_3D command stream: Mesa's virgl driver flushes at 256 KiB; QEMU has no bound. */
    static final int MAX_SUBMIT_BYTES = 1 << 20;
    /** Contexts a guest may hold (Linux makes one per opened render node). */
    static final int MAX_CONTEXTS = 1024;
    /** Largest capset returned (virgl2 is 1376 bytes with 0.10.4). */
    static final int MAX_CAPSET_BYTES = 4096;
    /** How often a held fence is polled for when the poll fd cannot be watched. */
    static final long FENCE_POLL_NANOS = 1_000_000L;

    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());
    private static final int TARGET_BUFFER = 0;
    private static final int TARGET_TEXTURE_2D = 2;
    private static final int CURSOR_PIXELS = CURSOR_SIZE * CURSOR_SIZE;
    /** VIRGL_RENDERER_FENCE_FLAG_MERGEABLE. */
    private static final int FENCE_FLAG_MERGEABLE = 1;
    /** Capsets up to this one are virgl (GL) contexts. */
    private static final int CAPSET_VIRGL_MAX = VirglRenderer.CAPSET_VIRGL2;
    /** VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK: the rest of context_init is reserved. */
    private static final int CONTEXT_INIT_CAPSET_MASK = 0xFF;

    private final String name;
    private final int flags;
    private final int[] capsetIds;
    private final MemoryBudget budget;
    private final GuestErrors errors;
    private final ResourceTable resources = new ResourceTable();
    private final RingFences rings;
    private long contextFencesCreated;
    private long foreignCallbacks;
    /** Live context ids, sorted (the first {@link #contextCount}): found without boxing on the data path. */
    private final int[] contexts = new int[MAX_CONTEXTS];
    /** The capset each live context was created with (0: plain virgl), beside {@link #contexts}. */
    private final int[] contextCapsets = new int[MAX_CONTEXTS];
    private int contextCount;
    private long hostMem;
    private long backingEntries;

    /** How virglrenderer is started: {@link VirglRenderer#init}, or a test's fake. */
    private final Starter starter;
    private VirglCalls virgl;
    private String failure;
    private boolean resetPending;
    private Arena arena;
    private Box box;
    private ResourceCreateArgs args;
    private MemorySegment submitBuffer;
    private MemorySegment capsBuffer;
    private MemorySegment staging;
    private long stagingReserved;
    private int capsetBytes;
    private int lastFence;
    private long fencesCreated;
    /** The last context-0 fence virglrenderer reported (from {@link VirglRenderer#poll}, on the worker). */
    private volatile int signalledFence;

    /**
     * Starts virglrenderer on the calling thread ({@link VirglRenderer#init}; tests put a fake in its place).
     */
    @FunctionalInterface
    interface Starter
    {
        VirglCalls init(int flags, FenceListener fences) throws VirglUnavailableException, VirglException;
    }

    VirglRendererAdapter(final String name, final int flags, final int capsetMask, final MemoryBudget budget,
        final GuestErrors errors, final RingFences rings)
    {
        this(name, flags, capsetMask, budget, errors, rings, VirglRenderer::init);
    }

    /**
     * With virglrenderer started by {@code starter} (tests: a fake behind the same calls).
     */
    VirglRendererAdapter(final String name, final int flags, final int capsetMask, final MemoryBudget budget,
        final GuestErrors errors, final RingFences rings, final Starter starter)
    {
        this.starter = starter;
        this.name = name;
        this.rings = rings;
        this.flags = flags;
        this.capsetIds = new int[Integer.bitCount(capsetMask)];
        int n = 0;
        for (int id = 0; id < 32; id++)
        {
            if (0 != (capsetMask & 1 << id))
            {
                capsetIds[n++] = id;
            }
        }
        this.budget = budget;
        this.errors = errors;
    }

    // ---- lifecycle (worker) -------------------------------------------------------------------------------------

    /**
     * Before the worker handles commands: starts virglrenderer on this thread the first time, and carries out a
     * reset that arrived on another thread.
     */
    @Override
    public void enter()
    {
        if (null == virgl)
        {
            if (null == failure)
            {
                start();
            }
            return;
        }
        if (virgl.owner() != Thread.currentThread())
        {
            // A worker that ended without threadEnding(): the renderer cannot be reached from here.
            failure = "virglrenderer is bound to thread '" + virgl.owner().getName() + "', the worker is now '"
                + Thread.currentThread().getName() + "'";
            LOG.log(Level.ERROR, name + ": " + failure + "; 3D commands are answered ERR_UNSPEC");
            virgl = null;
            return;
        }
        if (resetPending)
        {
            resetPending = false;
            virgl.reset();
            signalledFence = lastFence;
        }
    }

    private void start()
    {
        final int initFlags = flags & ~GpuOptions.VIRGL_GLES_FALLBACK;
        try
        {
            virgl = starter.init(initFlags, this);
        }
        catch (final Exception e)
        {
            final boolean retry = !(e instanceof VirglUnavailableException)
                && 0 != (flags & GpuOptions.VIRGL_GLES_FALLBACK) && 0 == (initFlags & VirglFlags.USE_GLES);
            failure = e.getMessage();
            if (!retry || !startGles(initFlags | VirglFlags.USE_GLES, e))
            {
                LOG.log(Level.ERROR, name + ": virglrenderer did not start (" + failure
                    + "); 3D commands are answered ERR_UNSPEC");
                return;
            }
            failure = null;
        }
        arena = Arena.ofShared();
        box = new Box(arena);
        args = new ResourceCreateArgs(arena);
        submitBuffer = arena.allocate(MAX_SUBMIT_BYTES, 8);
        capsBuffer = arena.allocate(MAX_CAPSET_BYTES, 8);
        resetPending = false;
        signalledFence = lastFence;
        LOG.log(Level.INFO, name + ": virglrenderer started on thread '" + Thread.currentThread().getName()
            + "' (" + virgl.describe() + ")");
    }

    /**
     * @return the flags virglrenderer runs with (0 while it does not), for tests.
     */
    int runningFlags()
    {
        return null == virgl ? 0 : virgl.flags();
    }

    /**
     * @return why virglrenderer is not running, or null.
     */
    String failure()
    {
        return failure;
    }

    /**
     * Desktop GL did not start ({@code desktop}): tries an OpenGL ES host context.
     *
     * @return true when virglrenderer runs now; else {@code failure} says why both failed.
     */
    private boolean startGles(final int glesFlags, final Exception desktop)
    {
        LOG.log(Level.WARNING, name + ": virglrenderer did not start with desktop GL (" + desktop.getMessage()
            + "); trying OpenGL ES");
        try
        {
            virgl = starter.init(glesFlags, this);
            return true;
        }
        catch (final Exception e)
        {
            failure = desktop.getMessage() + "; with OpenGL ES: " + e.getMessage();
            return false;
        }
    }

    /**
     * The worker that started virglrenderer is ending: cleans it up there (nothing else may call it), with
     * everything the guest held, so the next worker starts afresh.
     */
    @Override
    public void threadEnding()
    {
        dropTables();
        if (null == virgl || virgl.owner() != Thread.currentThread())
        {
            failure = null == virgl ? null : failure;
            return;
        }
        try
        {
            virgl.close();
        }
        finally
        {
            virgl = null;
            failure = null;
            staging = null;
            budget.release(stagingReserved);
            stagingReserved = 0;
            arena.close();
            arena = null;
            signalledFence = lastFence;
        }
    }

    @Override
    public int pollFd()
    {
        return null == virgl ? -1 : virgl.pollFd();
    }

    @Override
    public void pollFences()
    {
        if (null != virgl && virgl.owner() == Thread.currentThread())
        {
            virgl.poll();
        }
    }

    /**
     * @return true while virglrenderer runs; context 0 is made current, as before every control command in QEMU.
     */
    private boolean ready()
    {
        if (null == virgl)
        {
            return false;
        }
        virgl.forceCtx0();
        return true;
    }

    private int down()
    {
        return errors.fail(RESP_ERR_UNSPEC, "virglrenderer is not running"
            + (null == failure ? "" : ": " + failure));
    }

    // ---- fences ---------------------------------------------------------------------------------------------------

    @Override
    public boolean fenceCompletesLater()
    {
        return true;
    }

    @Override
    public long createFence()
    {
        if (!ready())
        {
            down();
            return -1;
        }
        // Our own 32-bit sequence: virglrenderer keeps 32 bits of a fence id, the guest's are 64.
        final int fence = lastFence + 1;
        final int result = virgl.createFence(Integer.toUnsignedLong(fence), 0);
        if (0 != result)
        {
            errors.fail(RESP_ERR_UNSPEC, "virgl_renderer_create_fence(" + Integer.toUnsignedString(fence)
                + ") returned " + VirglException.describe(result));
            return -1;
        }
        lastFence = fence;
        fencesCreated++;
        return Integer.toUnsignedLong(fence);
    }

    /**
     * @return context-0 fences made for fenced commands since this renderer was created (tests).
     */
    long fencesCreated()
    {
        return fencesCreated;
    }

    @Override
    public boolean fenceDone(final long fence)
    {
        // Wrap-safe: fences signal in order.
        return signalledFence - (int)fence >= 0;
    }

    @Override
    public long fencePollNanos()
    {
        return FENCE_POLL_NANOS;
    }

    @Override
    public void fenceSignalled(final long fenceId)
    {
        signalledFence = (int)fenceId;
    }

    /**
     * {@code virgl_renderer_context_fence_create} with our own number and the MERGEABLE flag (a later signal
     * covers the earlier ones, which {@link RingFences#signalled} counts on anyway).
     */
    @Override
    public int createContextFence(final int ctxId, final int ring, final long seq)
    {
        if (!ready())
        {
            return down();
        }
        if (!virgl.hasContextFences())
        {
            return errors.fail(RESP_ERR_UNSPEC, "virglrenderer (" + virgl.describe()
                + ") has no per-context fences");
        }
        final int result = virgl.contextCreateFence(ctxId, FENCE_FLAG_MERGEABLE, ring, seq);
        if (0 != result)
        {
            return errors.fail(RESP_ERR_UNSPEC, "virgl_renderer_context_create_fence(ctx " + GuestErrors.id(ctxId)
                + ", ring " + ring + ") returned " + VirglException.describe(result)
                + (0 == ring ? "" : " (a Venus ring above 0 must be bound to a VkQueue first)"));
        }
        contextFencesCreated++;
        return Command.Handler.OK;
    }

    /**
     * @return per-context fences made for fenced commands on rings (tests).
     */
    long contextFencesCreated()
    {
        return contextFencesCreated;
    }

    /**
     * From inside {@link VirglRenderer#poll}, on the worker: hands the signal to the ring it belongs to. A call
     * from another thread (virglrenderer's own, were ASYNC_FENCE_CB ever set) is counted and dropped: the tables
     * are the worker's.
     */
    @Override
    public void contextFenceSignalled(final int ctxId, final int ringIndex, final long fenceId)
    {
        final VirglCalls live = virgl;
        if (null == live || live.owner() != Thread.currentThread())
        {
            if (0 == foreignCallbacks++)
            {
                LOG.log(Level.WARNING, name + ": write_context_fence from thread '" + Thread.currentThread().getName()
                    + "', not the worker; dropped (logged once)");
            }
            return;
        }
        rings.signalled(ctxId, ringIndex, fenceId);
    }

    // ---- resources ------------------------------------------------------------------------------------------------

    @Override
    public Resource resource(final int resourceId)
    {
        return resources.get(resourceId);
    }

    @Override
    public int resourceCount()
    {
        return resources.size();
    }

    @Override
    public long hostMemoryUsed()
    {
        return hostMem;
    }

    /**
     * As QEMU: a 2D render target with Y_0_TOP; checked like the 2D renderer's.
     */
    @Override
    public int createResource2d(final int resourceId, final int format, final long width, final long height)
    {
        if (null == PixelFormat.of(format))
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "unknown format " + Integer.toUnsignedString(format));
        }
        if (0 == width || 0 == height || width > MAX_DIMENSION || height > MAX_DIMENSION)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "size " + width + "x" + height + " outside 1.."
                + MAX_DIMENSION);
        }
        return create(resourceId, TARGET_TEXTURE_2D, format, ResourceCreateArgs.BIND_RENDER_TARGET, width, height,
            1, 1, 0, 0, ResourceCreateArgs.FLAG_Y_0_TOP);
    }

    @Override
    public int createResource3d(final ResourceCreate3d r)
    {
        final long width = r.width();
        final long height = r.height();
        final long depth = r.depth();
        final long layers = r.arraySize();
        if (0 == width || 0 == height || 0 == depth || 0 == layers || width > Integer.MAX_VALUE
            || height > MAX_DIMENSION || depth > MAX_DIMENSION || layers > MAX_DIMENSION || r.lastLevel() > 31
            || r.nrSamples() > 64)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "size " + width + "x" + height + "x" + depth + ", "
                + layers + " layers, last level " + r.lastLevel() + ", " + r.nrSamples() + " samples");
        }
        return create(r.resourceId(), r.target(), r.format(), r.bind(), width, height, depth, layers,
            (int)r.lastLevel(), (int)r.nrSamples(), r.flags());
    }

    /**
     * @return the host bytes a resource is counted as: an estimate (virglrenderer does not say), saturating.
     */
    static long estimate(final int target, final long width, final long height, final long depth, final long layers,
        final int lastLevel, final int samples)
    {
        long bytes = TARGET_BUFFER == target ? width : width * PixelFormat.BYTES_PER_PIXEL;
        for (final long factor : new long[] {height, depth, layers, Math.max(1, samples)})
        {
            if (Math.multiplyHigh(bytes, factor) != 0 || bytes * factor < 0)
            {
                return Long.MAX_VALUE;
            }
            bytes *= factor;
        }
        // A full mipmap chain adds a third.
        return lastLevel > 0 ? bytes + Math.min(bytes / 3, Long.MAX_VALUE - bytes) : bytes;
    }

    private int create(final int resourceId, final int target, final int format, final int bind, final long width,
        final long height, final long depth, final long layers, final int lastLevel, final int samples,
        final int resourceFlags)
    {
        if (0 == resourceId)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
        }
        if (null != resources.get(resourceId))
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + GuestErrors.id(resourceId)
                + " already exists");
        }
        if (resources.size() >= MAX_RESOURCES)
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_RESOURCES + " resources");
        }
        if (!ready())
        {
            return down();
        }
        final long bytes = estimate(target, width, height, depth, layers, lastLevel, samples);
        if (!budget.tryReserve(bytes))
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, width + "x" + height + "x" + depth + " (" + layers
                + " layers) is estimated at " + bytes + " bytes, but " + budget.used() + " of the "
                + budget.limit() + "-byte host memory budget are in use (" + hostMem + " by resources)");
        }
        args.handle(resourceId).target(target).format(format).bind(bind).width((int)width).height((int)height)
            .depth((int)depth).arraySize((int)layers).lastLevel(lastLevel).nrSamples(samples)
            .flags(resourceFlags);
        try
        {
            virgl.resourceCreate(args);
        }
        catch (final VirglException e)
        {
            budget.release(bytes);
            return errors.fail(RESP_ERR_UNSPEC, e.getMessage());
        }
        final PixelFormat shown = TARGET_TEXTURE_2D == target ? PixelFormat.of(format) : null;
        resources.put(Resource.createVirgl(resourceId, shown, (int)width, (int)height, bytes));
        hostMem += bytes;
        return Command.Handler.OK;
    }

    @Override
    public int createBlob(final ControlRequest request, final BackingReader entries, final int resourceId,
        final int blobMem, final long size, final long count)
    {
        return errors.fail(RESP_ERR_UNSPEC, "blob resources are not offered in 3D mode");
    }

    @Override
    public void unref(final Resource resource)
    {
        if (null != virgl && virgl.owner() == Thread.currentThread())
        {
            virgl.resourceUnref(resource.id);
        }
        resources.remove(resource.id);
        hostMem -= resource.hostBytes;
        budget.release(resource.hostBytes);
        if (null != resource.backing)
        {
            backingEntries -= resource.backing.entries();
        }
        resource.free();
    }

    @Override
    public int attachBacking(final ControlRequest request, final BackingReader entries, final int resourceId,
        final long count)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (null != resource.backing)
        {
            return errors.fail(RESP_ERR_UNSPEC, resource + " already has backing");
        }
        if (!ready())
        {
            return down();
        }
        final Backing backing = entries.read(request, ATTACH_SIZE, count, backingEntries);
        if (null == backing)
        {
            return entries.error();
        }
        final int result = giveIov(resource, backing, request.memory);
        if (Command.Handler.OK != result)
        {
            return result;
        }
        resource.backing = backing;
        backingEntries += backing.entries();
        return Command.Handler.OK;
    }

    /**
     * Hands virglrenderer the backing's host spans in {@code memory} (it keeps the array until detach).
     */
    private int giveIov(final Resource resource, final Backing backing, final GuestMemory memory)
    {
        if (!backing.resolve(memory))
        {
            return errors.fail(RESP_ERR_UNSPEC, "the backing of " + resource + " is no longer guest memory");
        }
        try (Arena call = Arena.ofConfined())
        {
            final int spans = backing.spanCount();
            final IoVecArray iov = new IoVecArray(call, spans);
            for (int i = 0; i < spans; i++)
            {
                iov.set(i, backing.spanAddress(i), backing.spanLength(i));
            }
            iov.count(spans);
            virgl.resourceAttachIov(resource.id, iov);
        }
        catch (final VirglException e)
        {
            return errors.fail(RESP_ERR_UNSPEC, e.getMessage());
        }
        resource.virglIovFor = memory;
        return Command.Handler.OK;
    }

    /**
     * The guest memory was remapped since the backing was attached: virglrenderer gets the new addresses.
     */
    private int refreshIov(final Resource resource, final GuestMemory memory)
    {
        if (resource.virglIovFor == memory)
        {
            return Command.Handler.OK;
        }
        virgl.resourceDetachIov(resource.id);
        resource.virglIovFor = null;
        return giveIov(resource, resource.backing, memory);
    }

    @Override
    public int detachBacking(final int resourceId)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (null == resource.backing)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        if (!ready())
        {
            return down();
        }
        virgl.resourceDetachIov(resourceId);
        backingEntries -= resource.backing.entries();
        resource.backing = null;
        resource.virglIovFor = null;
        return Command.Handler.OK;
    }

    @Override
    public int transferToHost2d(final int resourceId, final long x, final long y, final long width,
        final long height, final long offset, final GuestMemory memory)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (null == resource.backing)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        if (x + width > resource.width || y + height > resource.height)
        {
            return errors.rectOutside(x, y, width, height, resource);
        }
        return transfer(true, resource, 0, 0, 0, 0, box(x, y, 0, width, height, 1), offset, memory);
    }

    @Override
    public int transfer3d(final boolean toHost, final int ctxId, final Transfer3d t, final GuestMemory memory)
    {
        final Resource resource = resources.get(t.resourceId());
        if (null == resource)
        {
            return errors.noResource(t.resourceId());
        }
        if (0 != ctxId)
        {
            if (!hasContext(ctxId))
            {
                return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "no context " + GuestErrors.id(ctxId));
            }
            if (!resource.inContext(ctxId))
            {
                return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " is not attached to context "
                    + GuestErrors.id(ctxId));
            }
        }
        if (null == resource.backing)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        if (t.x() > Integer.MAX_VALUE || t.y() > Integer.MAX_VALUE || t.z() > Integer.MAX_VALUE
            || t.width() > Integer.MAX_VALUE || t.height() > Integer.MAX_VALUE || t.depth() > Integer.MAX_VALUE)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "box " + t.x() + "," + t.y() + "," + t.z() + " "
                + t.width() + "x" + t.height() + "x" + t.depth());
        }
        return transfer(toHost, resource, ctxId, t.level(), t.stride(), t.layerStride(),
            box(t.x(), t.y(), t.z(), t.width(), t.height(), t.depth()), t.offset(), memory);
    }

    private Box box(final long x, final long y, final long z, final long width, final long height, final long depth)
    {
        return null == box ? null : box.set((int)x, (int)y, (int)z, (int)width, (int)height, (int)depth);
    }

    private int transfer(final boolean toHost, final Resource resource, final int ctxId, final int level,
        final int stride, final int layerStride, final Box area, final long offset, final GuestMemory memory)
    {
        if (offset < 0 || offset >= resource.backing.size())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "offset " + Long.toUnsignedString(offset) + " outside the "
                + resource.backing.size() + "-byte backing of " + resource);
        }
        if (!ready())
        {
            return down();
        }
        final int refreshed = refreshIov(resource, memory);
        if (Command.Handler.OK != refreshed)
        {
            return refreshed;
        }
        final int result = toHost
            ? virgl.transferWrite(resource.id, ctxId, level, stride, layerStride, area, offset, null)
            : virgl.transferRead(resource.id, ctxId, level, stride, layerStride, area, offset, null);
        if (0 != result)
        {
            return errors.fail(RESP_ERR_UNSPEC, (toHost ? "virgl_renderer_transfer_write_iov" :
                "virgl_renderer_transfer_read_iov") + " of " + resource + ", ctx " + ctxId + ", " + area + ", level "
                + level + ", offset " + offset + " returned " + VirglException.describe(result));
        }
        return Command.Handler.OK;
    }

    // ---- display --------------------------------------------------------------------------------------------------

    /**
     * Reads the rectangle back from virglrenderer into the staging buffer, then hands it to the display.
     */
    @Override
    public void present(final Scanout s, final long left, final long top, final int w, final int h, final int ux,
        final int uy, final GuestMemory memory, final DisplayOutputs out)
    {
        if (!ready())
        {
            return;
        }
        final int stride = w * PixelFormat.BYTES_PER_PIXEL;
        final MemorySegment buffer = staging((long)stride * h);
        if (null == buffer)
        {
            if (errors.allow())
            {
                errors.warn("no room in the host memory budget (" + budget.used() + " of " + budget.limit()
                    + " bytes in use) to read back " + w + "x" + h + " of " + s.resource + "; scanout " + s.index
                    + " not updated");
            }
            return;
        }
        final int result = virgl.readback(s.resource.id, box.set((int)left, (int)top, w, h), stride, buffer);
        if (0 != result)
        {
            if (errors.allow())
            {
                errors.warn("reading back " + w + "x" + h + " at " + left + "," + top + " of " + s.resource
                    + " failed: " + VirglException.describe(result) + "; scanout " + s.index + " not updated");
            }
            return;
        }
        out.updateScanout(s.index, ux, uy, w, h, buffer, 0, stride, s.format);
    }

    /**
     * @return a readback buffer of at least {@code bytes}, grown within the budget; null when it does not fit.
     */
    private MemorySegment staging(final long bytes)
    {
        if (null != staging && staging.byteSize() >= bytes)
        {
            return staging;
        }
        final long more = bytes - stagingReserved;
        if (!budget.tryReserve(more))
        {
            return null;
        }
        stagingReserved = bytes;
        // Grown rarely (a larger scanout); the old buffer goes with the arena.
        staging = arena.allocate(bytes, 64);
        return staging;
    }

    @Override
    public int loadCursor(final Resource resource, final GuestMemory memory, final MemorySegment image)
    {
        if (!ready())
        {
            return CURSOR_BAD_BLOB;
        }
        final CursorImage cursor = virgl.cursorData(resource.id, image);
        if (null == cursor)
        {
            return CURSOR_BAD_BLOB;
        }
        if (cursor.width() != CURSOR_SIZE || cursor.height() != CURSOR_SIZE
            || (long)cursor.width() * cursor.height() != CURSOR_PIXELS)
        {
            return CURSOR_NOT_64;
        }
        return cursor.copied() ? CURSOR_LOADED : CURSOR_BAD_BLOB;
    }

    // ---- contexts, capsets, submit --------------------------------------------------------------------------------

    @Override
    public int capsetCount()
    {
        return capsetIds.length;
    }

    @Override
    public int capsetInfo(final long index, final MemorySegment response)
    {
        if (index >= capsetIds.length)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "capset index " + index + " >= " + capsetIds.length);
        }
        if (!ready())
        {
            return down();
        }
        final CapsetInfo info = virgl.getCapSet(capsetIds[(int)index]);
        putU32(response, HDR_SIZE, capsetIds[(int)index]);
        putU32(response, HDR_SIZE + 4, info.maxVersion());
        putU32(response, HDR_SIZE + 8, info.maxSize());
        putU32(response, HDR_SIZE + 12, 0);
        return Command.Handler.OK;
    }

    @Override
    public int capset(final long capsetId, final long version, final MemorySegment response)
    {
        if (!offers(capsetId))
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "capset id " + capsetId + " is not offered");
        }
        if (!ready())
        {
            return down();
        }
        final CapsetInfo info = virgl.getCapSet((int)capsetId);
        if (version > info.maxVersion())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "capset " + capsetId + " version " + version + " > "
                + info.maxVersion());
        }
        if (info.maxSize() <= 0 || info.maxSize() > MAX_CAPSET_BYTES
            || HDR_SIZE + info.maxSize() > response.byteSize())
        {
            return errors.fail(RESP_ERR_UNSPEC, "capset " + capsetId + " has " + info.maxSize() + " bytes");
        }
        final int size = virgl.fillCaps((int)capsetId, (int)version, capsBuffer);
        MemorySegment.copy(capsBuffer, 0, response, HDR_SIZE, size);
        capsetBytes = size;
        return Command.Handler.OK;
    }

    @Override
    public int capsetBytes()
    {
        return capsetBytes;
    }

    @Override
    public int ctxCreate(final int ctxId, final long nameLength, final int contextInit,
        final boolean contextInitNegotiated, final MemorySegment request)
    {
        if (0 == ctxId)
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "context id 0");
        }
        if (hasContext(ctxId))
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "context " + GuestErrors.id(ctxId) + " already exists");
        }
        if (0 != contextInit && !contextInitNegotiated)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "context_init 0x" + Integer.toHexString(contextInit)
                + " without VIRTIO_GPU_F_CONTEXT_INIT negotiated");
        }
        final int capset = contextInit & CONTEXT_INIT_CAPSET_MASK;
        if (0 != (contextInit & ~CONTEXT_INIT_CAPSET_MASK))
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "context_init 0x" + Integer.toHexString(contextInit)
                + " sets reserved bits (only the capset id, bits 0-7, is defined)");
        }
        if (0 != capset && !offers(capset))
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "context_init names capset " + capset
                + ", which is not offered (offered: " + Arrays.toString(capsetIds) + ")");
        }
        if (nameLength > io.jvhost.device.gpu.wire.CtxCreate.DEBUG_NAME_MAX)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "debug name of " + nameLength + " bytes > "
                + io.jvhost.device.gpu.wire.CtxCreate.DEBUG_NAME_MAX);
        }
        if (contextCount >= MAX_CONTEXTS)
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_CONTEXTS + " contexts");
        }
        if (!ready())
        {
            return down();
        }
        final byte[] bytes = request.asSlice(io.jvhost.device.gpu.wire.CtxCreate.DEBUG_NAME, nameLength)
            .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        final String debugName = new String(bytes, StandardCharsets.UTF_8);
        try
        {
            if (0 == capset)
            {
                virgl.contextCreate(ctxId, debugName);
            }
            else
            {
                virgl.contextCreateWithFlags(ctxId, capset, debugName);
            }
        }
        catch (final VirglException e)
        {
            return errors.fail(RESP_ERR_UNSPEC, e.getMessage() + (VirglRenderer.CAPSET_VENUS == capset
                && 0 == (flags & io.jvhost.virgl.VirglFlags.VENUS) ? " (virglrenderer was started without VENUS)"
                : ""));
        }
        final int at = -Arrays.binarySearch(contexts, 0, contextCount, ctxId) - 1;
        System.arraycopy(contexts, at, contexts, at + 1, contextCount - at);
        System.arraycopy(contextCapsets, at, contextCapsets, at + 1, contextCount - at);
        contexts[at] = ctxId;
        contextCapsets[at] = capset;
        contextCount++;
        if (0 != capset)
        {
            LOG.log(Level.INFO, name + ": context " + GuestErrors.id(ctxId) + " created for capset " + capset
                + (VirglRenderer.CAPSET_VENUS == capset ? " (Venus)" : ""));
        }
        return Command.Handler.OK;
    }

    private boolean offers(final long capsetId)
    {
        for (final int id : capsetIds)
        {
            if (id == capsetId)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * A virgl (GL) context has one timeline, ring 0 (virglrenderer refuses the others); a Venus context has one per
     * VkQueue the guest binds, up to 64. A ring a GL context does not have is refused here, never passed to C.
     */
    @Override
    public int ringCount(final int ctxId)
    {
        final int at = Arrays.binarySearch(contexts, 0, contextCount, ctxId);
        return at < 0 ? 0 : contextCapsets[at] <= CAPSET_VIRGL_MAX ? 1 : RingFences.MAX_RINGS;
    }

    /**
     * @return the capset context {@code ctxId} was created with (0: plain virgl, or no such context).
     */
    int capsetOf(final int ctxId)
    {
        final int at = Arrays.binarySearch(contexts, 0, contextCount, ctxId);
        return at < 0 ? 0 : contextCapsets[at];
    }

    /**
     * @return live contexts (tests).
     */
    int contextCount()
    {
        return contextCount;
    }

    @Override
    public boolean hasContext(final int ctxId)
    {
        return Arrays.binarySearch(contexts, 0, contextCount, ctxId) >= 0;
    }

    @Override
    public int ctxDestroy(final int ctxId)
    {
        final int at = Arrays.binarySearch(contexts, 0, contextCount, ctxId);
        if (at < 0)
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "no context " + GuestErrors.id(ctxId));
        }
        if (!ready())
        {
            return down();
        }
        virgl.contextDestroy(ctxId);
        System.arraycopy(contexts, at + 1, contexts, at, contextCount - at - 1);
        System.arraycopy(contextCapsets, at + 1, contextCapsets, at, contextCount - at - 1);
        contextCount--;
        rings.contextDestroyed(ctxId);
        resources.forEach(r -> r.removeContext(ctxId));
        return Command.Handler.OK;
    }

    @Override
    public int ctxResource(final boolean attach, final int ctxId, final int resourceId)
    {
        if (!hasContext(ctxId))
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "no context " + GuestErrors.id(ctxId));
        }
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (!attach && !resource.inContext(ctxId))
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + GuestErrors.id(resourceId)
                + " is not attached to context " + GuestErrors.id(ctxId));
        }
        if (!ready())
        {
            return down();
        }
        if (attach)
        {
            virgl.ctxAttachResource(ctxId, resourceId);
            resource.addContext(ctxId);
        }
        else
        {
            virgl.ctxDetachResource(ctxId, resourceId);
            resource.removeContext(ctxId);
        }
        return Command.Handler.OK;
    }

    /**
     * The stream is copied out of the guest first (the guest could change it while virglrenderer decodes).
     */
    @Override
    public int submit3d(final int ctxId, final long size, final ControlRequest request, final int fixed)
    {
        if (!hasContext(ctxId))
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "no context " + GuestErrors.id(ctxId));
        }
        if (0 != size % 4 || size > MAX_SUBMIT_BYTES)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "command stream of " + size + " bytes (a multiple of 4,"
                + " at most " + MAX_SUBMIT_BYTES + ")");
        }
        if (request.chain.readableBytes() < fixed + size)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "command stream of " + size + " bytes, but the request"
                + " has " + request.chain.readableBytes() + " bytes");
        }
        if (!ready())
        {
            return down();
        }
        try
        {
            final io.jvhost.virtqueue.ChainReader reader = request.chain.reader();
            reader.rewind();
            reader.skip(fixed);
            reader.read(submitBuffer, 0, size);
        }
        catch (final io.jvhost.virtqueue.ChainAccessException e)
        {
            return errors.fail(RESP_ERR_UNSPEC, e.getMessage());
        }
        final int result = virgl.submitCmd(submitBuffer, ctxId, (int)(size / 4));
        if (0 != result)
        {
            return errors.fail(RESP_ERR_UNSPEC, "virgl_renderer_submit_cmd of " + size + " bytes in context "
                + GuestErrors.id(ctxId) + " returned " + VirglException.describe(result)
                + " (a malformed stream, or a resource not attached to the context)");
        }
        return Command.Handler.OK;
    }

    // ---- reset ----------------------------------------------------------------------------------------------------

    /**
     * Any thread, under the device lock: drops what the guest held; virglrenderer itself is reset by the next
     * {@link #enter()} on its thread.
     */
    @Override
    public void reset()
    {
        dropTables();
        resetPending = true;
    }

    private void dropTables()
    {
        resources.drain(Resource::free);
        budget.release(hostMem);
        hostMem = 0;
        backingEntries = 0;
        contextCount = 0;
        rings.reset();
    }
}
