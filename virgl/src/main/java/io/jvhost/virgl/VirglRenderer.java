package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * virglrenderer, initialised: the host side of virtio-gpu 3D (contexts, resources, command streams, transfers,
 * fences). One per process, because virglrenderer keeps its state in C globals: a second live instance is
 * refused here, since the library would accept it and mix the two up.
 * <p>
 * <b>One thread.</b> virglrenderer's EGL context is current on the OS thread that called init, and a call from
 * any other thread crashes inside C (a NULL {@code glGetString} at the first context create). So the renderer is
 * bound to the platform thread that made it, every method checks its caller and throws
 * {@link WrongThreadException} before reaching C, and a closed renderer throws {@link IllegalStateException}.
 * <p>
 * <b>Results.</b> Every non-zero return is a failure (most calls return a positive errno such as 22). Set-up calls
 * throw {@link VirglException} naming the function, its arguments and the code; the per-request calls
 * ({@link #submitCmd}, {@link #transferRead}, {@link #transferWrite}, {@link #createFence}) return the code, 0 on
 * success, so a device answers a guest's bad request with an error response without allocating, and
 * {@link VirglException#describe} names it for the log. Those calls and {@link #poll} allocate nothing.
 * <p>
 * <b>Memory.</b> virglrenderer keeps the iovec array of an attached backing ({@code res->iov = iov}) until detach:
 * {@link #resourceAttachIov} copies the caller's entries into an array owned here, freed at detach, unref, reset
 * and close. The pages the entries point at are the caller's to keep mapped until then.
 */
public final class VirglRenderer implements VirglCalls
{
    private static final System.Logger LOG = System.getLogger(VirglRenderer.class.getName());

    /** Capset id of virgl (GL) caps, version 1. */
    public static final int CAPSET_VIRGL = 1;
    /** Capset id of virgl (GL) caps, version 2. */
    public static final int CAPSET_VIRGL2 = 2;
    /** Capset id of Venus (Vulkan) caps. */
    public static final int CAPSET_VENUS = 4;

    private static final long MAX_FENCE_ID = 0xFFFF_FFFFL;

    private final Thread owner;
    private final int flags;
    private final FenceListener fences;
    /** Scratch structs, confined to the owner thread like every call. */
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment outA;
    private final MemorySegment outB;
    private final MemorySegment outPointer;
    private final ResourceInfo info;
    private final IoVecArray hostIov;
    /** The iovec arrays virglrenderer holds, by resource id. */
    private final Map<Integer, Arena> backings = new HashMap<>();
    private boolean closed;
    private boolean inCallback;

    private VirglRenderer(final Thread owner, final int flags, final FenceListener fences)
    {
        this.owner = owner;
        this.flags = flags;
        this.fences = fences;
        this.outA = arena.allocate(JAVA_INT);
        this.outB = arena.allocate(JAVA_INT);
        this.outPointer = arena.allocate(ADDRESS);
        this.info = new ResourceInfo(arena);
        this.hostIov = new IoVecArray(arena, 1);
    }

    /**
     * Initialises virglrenderer on the calling thread, which becomes the only thread allowed to use it.
     *
     * @param flags  {@link VirglFlags}, e.g. {@link VirglFlags#SURFACELESS_EGL}.
     * @param fences told when fences retire, on this thread, from inside {@link #poll()}.
     * @throws VirglUnavailableException when the library or one of its symbols is missing, or (surfaceless) EGL
     *                                   cannot open a surfaceless display.
     * @throws VirglException            when {@code virgl_renderer_init} fails (e.g. -1: no EGL, no render node).
     * @throws WrongThreadException      on a virtual thread: it can move between OS threads, the GL context cannot.
     * @throws IllegalStateException     when another renderer is live in this process.
     */
    public static VirglRenderer init(final int flags, final FenceListener fences)
        throws VirglUnavailableException, VirglException
    {
        VirglLibrary.check();
        final Thread thread = Thread.currentThread();
        if (thread.isVirtual())
        {
            throw new WrongThreadException("virglrenderer needs a platform thread: its GL context is current on one "
                + "OS thread, and a virtual thread moves between carriers");
        }
        if (null == fences)
        {
            throw new NullPointerException("fences");
        }
        final VirglRenderer renderer = new VirglRenderer(thread, flags, fences);
        if (!VirglCallbacks.claim(renderer))
        {
            renderer.arena.close();
            final VirglRenderer live = VirglCallbacks.live();
            throw new IllegalStateException("virglrenderer keeps one state per process and a renderer is already live"
                + (null == live ? "" : " (initialised by thread " + live.owner.getName() + ")")
                + "; close it before initialising another");
        }
        final int result;
        try
        {
            if (0 != (flags & VirglFlags.USE_EGL) && 0 != (flags & VirglFlags.USE_SURFACELESS))
            {
                // 0.10.4 crashes instead of failing when EGL has no surfaceless display: ask EGL first.
                SurfacelessEgl.check();
            }
            result = (int)VirglLibrary.INIT.invokeExact(VirglCallbacks.COOKIE, flags, VirglCallbacks.CALLBACKS);
        }
        catch (final VirglUnavailableException e)
        {
            VirglCallbacks.release(renderer);
            renderer.arena.close();
            throw e;
        }
        catch (final Throwable t)
        {
            VirglCallbacks.release(renderer);
            renderer.arena.close();
            throw rethrow(t);
        }
        if (0 != result)
        {
            // On failure virglrenderer has cleaned up after itself: a later init starts afresh.
            VirglCallbacks.release(renderer);
            renderer.arena.close();
            final String hint = 0 != (flags & VirglFlags.USE_SURFACELESS) ? ""
                : " (without USE_SURFACELESS EGL needs a render node)";
            throw new VirglException("virgl_renderer_init", result, "flags=" + VirglFlags.describe(flags) + hint);
        }
        return renderer;
    }

    /**
     * @return the API version of the loaded library.
     */
    public static VirglVersion version()
    {
        try
        {
            return VirglLibrary.version();
        }
        catch (final VirglUnavailableException e)
        {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * @return how many times a callback from C (fence, log) threw and was stopped from reaching C, process-wide.
     */
    public static long callbackFailures()
    {
        return VirglCallbacks.failures();
    }

    /**
     * @return the thread every call must come from.
     */
    @Override
    public Thread owner()
    {
        return owner;
    }

    /**
     * @return the flags init was given.
     */
    @Override
    public int flags()
    {
        return flags;
    }

    @Override
    public boolean hasContextFences()
    {
        return VirglLibrary.hasContextFences();
    }

    @Override
    public String describe()
    {
        return version().toString();
    }

    /**
     * @return false once {@link #close()} has run.
     */
    public boolean isOpen()
    {
        return !closed;
    }

    private void checkUsable()
    {
        if (Thread.currentThread() != owner)
        {
            throw new WrongThreadException("virglrenderer is bound to thread '" + owner.getName()
                + "' (it called init; its GL context is current there), called from '"
                + Thread.currentThread().getName() + "'");
        }
        if (closed)
        {
            throw new IllegalStateException("virglrenderer was cleaned up (closed)");
        }
        if (inCallback)
        {
            throw new IllegalStateException("virglrenderer called from inside its own fence callback");
        }
    }

    private static RuntimeException rethrow(final Throwable t)
    {
        if (t instanceof RuntimeException e)
        {
            return e;
        }
        if (t instanceof Error e)
        {
            throw e;
        }
        return new IllegalStateException(t);
    }

    // ---- fences -----------------------------------------------------------------------------------------------

    /** From the write_fence callback. */
    void fenceSignalled(final long fenceId)
    {
        final boolean own = Thread.currentThread() == owner;
        inCallback |= own;
        try
        {
            fences.fenceSignalled(fenceId);
        }
        finally
        {
            if (own)
            {
                inCallback = false;
            }
        }
    }

    /** From the write_context_fence callback. */
    void contextFenceSignalled(final int ctxId, final int ringIndex, final long fenceId)
    {
        final boolean own = Thread.currentThread() == owner;
        inCallback |= own;
        try
        {
            fences.contextFenceSignalled(ctxId, ringIndex, fenceId);
        }
        finally
        {
            if (own)
            {
                inCallback = false;
            }
        }
    }

    /**
     * {@code virgl_renderer_create_fence}: a context-0 fence after everything submitted so far; the listener hears
     * of it from {@link #poll()} once the GL work before it is done.
     *
     * @param fenceId 0..2^32-1: virglrenderer cuts fence ids to 32 bits, so a larger one is refused here rather
     *                than reported back as another.
     * @param ctxId   unused by 0.10 (QEMU passes the command type); kept for the ABI.
     * @return 0, or the code virglrenderer returned.
     */
    @Override
    public int createFence(final long fenceId, final int ctxId)
    {
        checkUsable();
        if (fenceId < 0 || fenceId > MAX_FENCE_ID)
        {
            throw new IllegalArgumentException("fence id " + fenceId + " does not fit the 32 bits virglrenderer keeps");
        }
        try
        {
            return (int)VirglLibrary.CREATE_FENCE.invokeExact((int)fenceId, ctxId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_context_create_fence}: a fence on one ring of one context, reported through
     * {@link FenceListener#contextFenceSignalled}.
     *
     * @return 0, or the code virglrenderer returned (negative or positive).
     * @throws UnsupportedOperationException when the library has no per-context fences.
     */
    @Override
    public int contextCreateFence(final int ctxId, final int fenceFlags, final int ringIndex, final long fenceId)
    {
        checkUsable();
        if (null == VirglLibrary.CONTEXT_CREATE_FENCE)
        {
            throw new UnsupportedOperationException(VirglLibrary.NAME + " has no virgl_renderer_context_create_fence");
        }
        try
        {
            return (int)VirglLibrary.CONTEXT_CREATE_FENCE.invokeExact(ctxId, fenceFlags,
                Integer.toUnsignedLong(ringIndex), fenceId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_get_poll_fd}: with {@link VirglFlags#THREAD_SYNC} an eventfd that becomes readable when
     * a fence may have retired; watch it and call {@link #poll()}. Owned by virglrenderer: never close it.
     *
     * @return the descriptor, or -1 without THREAD_SYNC (then call {@link #poll()} periodically).
     */
    @Override
    public int pollFd()
    {
        checkUsable();
        try
        {
            return (int)VirglLibrary.GET_POLL_FD.invokeExact();
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_poll}: retires finished fences, calling the listener on this thread.
     */
    @Override
    public void poll()
    {
        checkUsable();
        try
        {
            VirglLibrary.POLL.invokeExact();
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    // ---- lifecycle --------------------------------------------------------------------------------------------

    /**
     * {@code virgl_renderer_reset}: destroys every context and resource (their ids may be used again) and frees
     * the iovec arrays virglrenderer held. The renderer stays initialised.
     */
    @Override
    public void reset()
    {
        checkUsable();
        try
        {
            VirglLibrary.RESET.invokeExact();
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        freeBackings();
    }

    /**
     * {@code virgl_renderer_force_ctx_0}: makes context 0 current; QEMU calls it before every control command.
     */
    @Override
    public void forceCtx0()
    {
        checkUsable();
        try
        {
            VirglLibrary.FORCE_CTX_0.invokeExact();
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_cleanup}: frees everything and lets another renderer be initialised. Must be called on
     * the owner thread; a second call does nothing.
     */
    @Override
    public void close()
    {
        if (Thread.currentThread() != owner)
        {
            throw new WrongThreadException("virglrenderer is bound to thread '" + owner.getName()
                + "'; close it there, not from '" + Thread.currentThread().getName() + "'");
        }
        if (closed)
        {
            return;
        }
        if (inCallback)
        {
            throw new IllegalStateException("virglrenderer closed from inside its own fence callback");
        }
        closed = true;
        try
        {
            VirglLibrary.CLEANUP.invokeExact(VirglCallbacks.COOKIE);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        finally
        {
            freeBackings();
            arena.close();
            VirglCallbacks.release(this);
        }
    }

    // ---- capsets ----------------------------------------------------------------------------------------------

    /**
     * {@code virgl_renderer_get_cap_set}.
     *
     * @param capsetId e.g. {@link #CAPSET_VIRGL2}; an unknown id reads as version 0, size 0.
     */
    @Override
    public CapsetInfo getCapSet(final int capsetId)
    {
        checkUsable();
        outA.set(JAVA_INT, 0, 0);
        outB.set(JAVA_INT, 0, 0);
        try
        {
            VirglLibrary.GET_CAP_SET.invokeExact(capsetId, outA, outB);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        return new CapsetInfo(capsetId, outA.get(JAVA_INT, 0), outB.get(JAVA_INT, 0));
    }

    /**
     * {@code virgl_renderer_fill_caps}: writes the capset's bytes into {@code destination}. The C call takes no
     * length, so the destination is checked here against the size the capset reports.
     *
     * @return the number of bytes the capset has (and that were written).
     * @throws IllegalArgumentException when {@code destination} is smaller than that, or not native.
     */
    @Override
    public int fillCaps(final int capsetId, final int version, final MemorySegment destination)
    {
        final int size = getCapSet(capsetId).maxSize();
        if (!destination.isNative() || destination.byteSize() < size)
        {
            throw new IllegalArgumentException("capset " + capsetId + " has " + size + " bytes; destination "
                + destination + " cannot take them");
        }
        if (0 == size)
        {
            return 0;
        }
        try
        {
            VirglLibrary.FILL_CAPS.invokeExact(capsetId, version, destination);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        return size;
    }

    // ---- contexts ---------------------------------------------------------------------------------------------

    /**
     * {@code virgl_renderer_context_create}: a virgl (GL) context.
     *
     * @param ctxId 1 or more.
     * @param name  the guest's debug name (sent without a terminating NUL, as virtio-gpu carries it).
     */
    @Override
    public void contextCreate(final int ctxId, final String name) throws VirglException
    {
        checkUsable();
        final int result;
        try (Arena call = Arena.ofConfined())
        {
            final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            result = (int)VirglLibrary.CONTEXT_CREATE.invokeExact(ctxId, bytes.length, nameIn(call, bytes));
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (0 != result)
        {
            throw new VirglException("virgl_renderer_context_create", result, "ctx=" + ctxId + ", name=" + name);
        }
    }

    /**
     * {@code virgl_renderer_context_create_with_flags}: a context of a given capset (CONTEXT_INIT).
     *
     * @param contextFlags the capset id in the low 8 bits (e.g. {@link #CAPSET_VENUS}).
     */
    @Override
    public void contextCreateWithFlags(final int ctxId, final int contextFlags, final String name)
        throws VirglException
    {
        checkUsable();
        final int result;
        try (Arena call = Arena.ofConfined())
        {
            final byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            result = (int)VirglLibrary.CONTEXT_CREATE_WITH_FLAGS.invokeExact(ctxId, contextFlags, bytes.length,
                nameIn(call, bytes));
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (0 != result)
        {
            throw new VirglException("virgl_renderer_context_create_with_flags", result, "ctx=" + ctxId
                + ", flags=0x" + Integer.toHexString(contextFlags) + ", name=" + name);
        }
    }

    /** The name's bytes in native memory, without a NUL (virglrenderer takes a length). */
    private static MemorySegment nameIn(final Arena call, final byte[] bytes)
    {
        final MemorySegment text = call.allocate(Math.max(1, bytes.length));
        MemorySegment.copy(bytes, 0, text, JAVA_BYTE, 0, bytes.length);
        return text;
    }

    /**
     * {@code virgl_renderer_context_destroy}; an unknown id is ignored by virglrenderer.
     */
    @Override
    public void contextDestroy(final int ctxId)
    {
        checkUsable();
        try
        {
            VirglLibrary.CONTEXT_DESTROY.invokeExact(ctxId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_ctx_attach_resource}: lets the context's command streams use the resource (without it
     * a stream naming the resource fails). Unknown ids are ignored by virglrenderer.
     */
    @Override
    public void ctxAttachResource(final int ctxId, final int resourceId)
    {
        checkUsable();
        try
        {
            VirglLibrary.CTX_ATTACH_RESOURCE.invokeExact(ctxId, resourceId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_ctx_detach_resource}. Unknown ids are ignored by virglrenderer.
     */
    @Override
    public void ctxDetachResource(final int ctxId, final int resourceId)
    {
        checkUsable();
        try
        {
            VirglLibrary.CTX_DETACH_RESOURCE.invokeExact(ctxId, resourceId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_submit_cmd}: decodes and runs a virgl command stream in a context. The stream is read
     * from native memory the caller owns (a device copies the guest's bytes there first: the guest could change
     * them while virglrenderer decodes).
     *
     * @param commands the stream, at least {@code dwords * 4} bytes of native memory.
     * @param ctxId    the context.
     * @param dwords   its length in 32-bit words.
     * @return 0, or the code virglrenderer returned (22 for an unknown context or a malformed stream; the
     *         context is then in error and refuses further streams).
     */
    @Override
    public int submitCmd(final MemorySegment commands, final int ctxId, final int dwords)
    {
        checkUsable();
        if (dwords < 0 || (long)dwords * Integer.BYTES > commands.byteSize() || !commands.isNative())
        {
            throw new IndexOutOfBoundsException("command stream of " + dwords + " dwords does not fit " + commands);
        }
        try
        {
            return (int)VirglLibrary.SUBMIT_CMD.invokeExact(commands, ctxId, dwords);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    // ---- resources --------------------------------------------------------------------------------------------

    /**
     * {@code virgl_renderer_resource_create}, without backing (attach it with {@link #resourceAttachIov}).
     */
    @Override
    public void resourceCreate(final ResourceCreateArgs args) throws VirglException
    {
        checkUsable();
        final int result;
        try
        {
            result = (int)VirglLibrary.RESOURCE_CREATE.invokeExact(args.segment(), MemorySegment.NULL, 0);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (0 != result)
        {
            throw new VirglException("virgl_renderer_resource_create", result, args.toString());
        }
    }

    /**
     * {@code virgl_renderer_resource_unref}, after detaching and freeing its backing's iovec array (as QEMU does).
     * An unknown id is ignored by virglrenderer.
     */
    @Override
    public void resourceUnref(final int resourceId)
    {
        checkUsable();
        detach(resourceId);
        try
        {
            VirglLibrary.RESOURCE_UNREF.invokeExact(resourceId);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_resource_attach_iov}: gives the resource guest pages as backing. The entries are
     * copied into an array owned here, which virglrenderer keeps until {@link #resourceDetachIov}.
     *
     * @param iov the pages; {@link IoVecArray#count()} entries, at least one.
     * @throws VirglException when virglrenderer refuses (22: unknown resource, or one already attached).
     */
    @Override
    public void resourceAttachIov(final int resourceId, final IoVecArray iov) throws VirglException
    {
        checkUsable();
        final int count = iov.count();
        if (count < 1)
        {
            throw new IllegalArgumentException("attach_iov of resource " + resourceId + " with no entries");
        }
        final Arena backing = Arena.ofConfined();
        final MemorySegment copy = backing.allocate((long)count * IoVecArray.ENTRY_SIZE, 8);
        MemorySegment.copy(iov.segment(), 0, copy, 0, copy.byteSize());
        final int result;
        try
        {
            result = (int)VirglLibrary.ATTACH_IOV.invokeExact(resourceId, copy, count);
        }
        catch (final Throwable t)
        {
            backing.close();
            throw rethrow(t);
        }
        if (0 != result)
        {
            backing.close();
            throw new VirglException("virgl_renderer_resource_attach_iov", result, "resource=" + resourceId
                + ", entries=" + count + ", bytes=" + iov.totalLength());
        }
        final Arena previous = backings.put(resourceId, backing);
        if (null != previous)
        {
            // virglrenderer accepted a new array, so it no longer held the old one (its resource went away).
            previous.close();
        }
    }

    /**
     * {@code virgl_renderer_resource_detach_iov}: takes the backing away and frees its iovec array.
     *
     * @return how many entries were attached (0 when none, or the resource is unknown).
     */
    @Override
    public int resourceDetachIov(final int resourceId)
    {
        checkUsable();
        return detach(resourceId);
    }

    private int detach(final int resourceId)
    {
        outPointer.set(ADDRESS, 0, MemorySegment.NULL);
        outA.set(JAVA_INT, 0, 0);
        try
        {
            VirglLibrary.DETACH_IOV.invokeExact(resourceId, outPointer, outA);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        final long returned = outPointer.get(ADDRESS, 0).address();
        final int count = outA.get(JAVA_INT, 0);
        final Arena backing = backings.remove(resourceId);
        if (null != backing)
        {
            backing.close();
        }
        if (0 != returned && null == backing)
        {
            LOG.log(System.Logger.Level.WARNING, "virgl_renderer_resource_detach_iov of resource " + resourceId
                + " returned an iovec array this binding did not attach (0x" + Long.toHexString(returned)
                + ", " + count + " entries); not freed");
        }
        return count;
    }

    private void freeBackings()
    {
        for (final Arena backing : backings.values())
        {
            backing.close();
        }
        backings.clear();
    }

    /**
     * {@code virgl_renderer_resource_get_info}: what SET_SCANOUT needs to know of a resource.
     *
     * @return this renderer's {@link ResourceInfo}, overwritten by the next call.
     * @throws VirglException 22 for an unknown resource or one without storage.
     */
    public ResourceInfo resourceInfo(final int resourceId) throws VirglException
    {
        checkUsable();
        info.clear();
        final int result;
        try
        {
            result = (int)VirglLibrary.RESOURCE_GET_INFO.invokeExact(resourceId, info.segment());
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (0 != result)
        {
            throw new VirglException("virgl_renderer_resource_get_info", result, "resource=" + resourceId);
        }
        return info;
    }

    /**
     * {@code virgl_renderer_get_cursor_data}: the resource's image as 4-byte pixels, copied into
     * {@code destination} when it fits; the library's copy is freed with libc {@code free} in every case.
     *
     * @return its size and whether it was copied, or null when the resource has no image (unknown, no storage).
     */
    @Override
    public CursorImage cursorData(final int resourceId, final MemorySegment destination)
    {
        checkUsable();
        outA.set(JAVA_INT, 0, 0);
        outB.set(JAVA_INT, 0, 0);
        final MemorySegment data;
        try
        {
            data = (MemorySegment)VirglLibrary.GET_CURSOR_DATA.invokeExact(resourceId, outA, outB);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (MemorySegment.NULL.equals(data))
        {
            return null;
        }
        try
        {
            final int width = outA.get(JAVA_INT, 0);
            final int height = outB.get(JAVA_INT, 0);
            final long bytes = Integer.toUnsignedLong(width) * Integer.toUnsignedLong(height) * 4L;
            final boolean fits = bytes <= destination.byteSize();
            if (fits)
            {
                MemorySegment.copy(data.reinterpret(bytes), 0, destination, 0, bytes);
            }
            return new CursorImage(width, height, fits);
        }
        finally
        {
            try
            {
                VirglLibrary.FREE.invokeExact(data);
            }
            catch (final Throwable t)
            {
                throw rethrow(t);
            }
        }
    }

    // ---- transfers --------------------------------------------------------------------------------------------

    /**
     * {@code virgl_renderer_transfer_read_iov}: copies a box of the resource out to its attached backing
     * ({@code iov == null}: TRANSFER_FROM_HOST_3D) or to the given buffers. virglrenderer checks that the box fits
     * the resource and the buffers, and answers 22 otherwise.
     *
     * @param ctxId 0 for the resource itself; a context id to go through that context.
     * @return 0, or the code virglrenderer returned.
     */
    @Override
    public int transferRead(final int resourceId, final int ctxId, final int level, final int stride,
        final int layerStride, final Box box, final long offset, final IoVecArray iov)
    {
        checkUsable();
        final MemorySegment entries = null == iov ? MemorySegment.NULL : iov.segment();
        final int count = null == iov ? 0 : iov.count();
        try
        {
            return (int)VirglLibrary.TRANSFER_READ_IOV.invokeExact(resourceId, ctxId, level, stride, layerStride,
                box.segment(), offset, entries, count);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code virgl_renderer_transfer_write_iov}: copies a box into the resource from its attached backing
     * ({@code iov == null}: TRANSFER_TO_HOST_3D) or from the given buffers.
     *
     * @return 0, or the code virglrenderer returned.
     */
    @Override
    public int transferWrite(final int resourceId, final int ctxId, final int level, final int stride,
        final int layerStride, final Box box, final long offset, final IoVecArray iov)
    {
        checkUsable();
        final MemorySegment entries = null == iov ? MemorySegment.NULL : iov.segment();
        final int count = null == iov ? 0 : iov.count();
        try
        {
            return (int)VirglLibrary.TRANSFER_WRITE_IOV.invokeExact(resourceId, ctxId, level, stride, layerStride,
                box.segment(), offset, entries, count);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Reads a box of the resource into a host buffer (the display's readback: no context, level 0), row
     * {@code box.y()} landing at byte 0 with {@code stride} bytes per row.
     *
     * @param host native memory; virglrenderer refuses (22) a box that does not fit it.
     * @return 0, or the code virglrenderer returned.
     */
    @Override
    public int readback(final int resourceId, final Box box, final int stride, final MemorySegment host)
    {
        checkUsable();
        hostIov.single(host);
        return transferRead(resourceId, 0, 0, stride, 0, box, 0, hostIov);
    }
}
