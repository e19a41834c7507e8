package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The process-global side of virglrenderer: its state is one set of C globals, so there is one cookie, one
 * callbacks struct and one live renderer per process. The struct and its upcall stubs are made once and live in
 * {@link Arena#global()}: the library keeps the pointer from init until cleanup, and a fence callback arriving
 * after a stub was freed would jump into freed code. The stubs route to whichever renderer is live.
 * <pre>
 * struct virgl_renderer_callbacks (72 bytes; fields from v2 on are read only when version says so)
 *  0         8             16                  24                   32             40           48
 *  +---------+-------------+-------------------+--------------------+--------------+------------+
 *  | version | write_fence | create_gl_context | destroy_gl_context | make_current | get_drm_fd |
 *  +---------+-------------+-------------------+--------------------+--------------+------------+
 *  48                    56              64                72
 *  +---------------------+---------------+-----------------+
 *  | write_context_fence | get_server_fd | get_egl_display |
 *  +---------------------+---------------+-----------------+
 * </pre>
 * Only {@code write_fence} (v1) and {@code write_context_fence} (v3, when the library has per-context fences) are
 * set; the GL-context callbacks stay NULL so virglrenderer uses its own EGL winsys. The callbacks run on the thread
 * that calls {@code virgl_renderer_poll}; the cookie is declared as a {@code long} in the upcalls so no segment is
 * made per fence.
 */
final class VirglCallbacks
{
    private static final System.Logger LOG = System.getLogger(VirglCallbacks.class.getName());

    private static final long VERSION = 0;
    private static final long WRITE_FENCE = 8;
    private static final long WRITE_CONTEXT_FENCE = 48;
    private static final int SIZE = 72;

    /** The renderer the callbacks reach: at most one per process. */
    private static final AtomicReference<VirglRenderer> LIVE = new AtomicReference<>();
    private static final AtomicLong FAILURES = new AtomicLong();

    /** virglrenderer refuses a NULL cookie (init returns -1): any non-NULL address will do. */
    static final MemorySegment COOKIE = Arena.global().allocate(8);
    static final MemorySegment CALLBACKS;

    static
    {
        try
        {
            final Linker linker = Linker.nativeLinker();
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            final MemorySegment callbacks = Arena.global().allocate(SIZE, 8);
            callbacks.set(JAVA_INT, VERSION, VirglLibrary.hasContextFences() ? 3 : 2);
            callbacks.set(ADDRESS, WRITE_FENCE, linker.upcallStub(
                lookup.findStatic(VirglCallbacks.class, "writeFence",
                    MethodType.methodType(void.class, long.class, int.class)),
                FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_INT), Arena.global()));
            if (VirglLibrary.hasContextFences())
            {
                callbacks.set(ADDRESS, WRITE_CONTEXT_FENCE, linker.upcallStub(
                    lookup.findStatic(VirglCallbacks.class, "writeContextFence",
                        MethodType.methodType(void.class, long.class, int.class, int.class, long.class)),
                    FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG), Arena.global()));
            }
            CALLBACKS = callbacks;
            VirglLog.install();
        }
        catch (final Throwable t)
        {
            throw new ExceptionInInitializerError(t);
        }
    }

    private VirglCallbacks()
    {
    }

    /**
     * Makes {@code renderer} the process's live one.
     *
     * @return false when another renderer is live.
     */
    static boolean claim(final VirglRenderer renderer)
    {
        return LIVE.compareAndSet(null, renderer);
    }

    /**
     * Ends {@code renderer}'s turn (after cleanup, or a failed init).
     */
    static void release(final VirglRenderer renderer)
    {
        LIVE.compareAndSet(renderer, null);
    }

    /**
     * @return the live renderer, or null.
     */
    static VirglRenderer live()
    {
        return LIVE.get();
    }

    /**
     * @return how many callbacks threw (and were kept from reaching C).
     */
    static long failures()
    {
        return FAILURES.get();
    }

    /**
     * Counts and logs what a callback threw: it must not escape into C, which would end the JVM.
     */
    static void failed(final String callback, final Throwable t)
    {
        try
        {
            FAILURES.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING,
                "virglrenderer " + callback + " threw (caught, not passed to C): " + t);
        }
        catch (final Throwable ignored)
        {
            // Nothing may leave a callback, not even a failure to log.
        }
    }

    /** {@code void write_fence(void *cookie, uint32_t fence)}. */
    private static void writeFence(final long cookie, final int fence)
    {
        try
        {
            final VirglRenderer renderer = LIVE.get();
            if (null != renderer)
            {
                renderer.fenceSignalled(Integer.toUnsignedLong(fence));
            }
        }
        catch (final Throwable t)
        {
            failed("write_fence", t);
        }
    }

    /** {@code void write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)}. */
    private static void writeContextFence(final long cookie, final int ctxId, final int ringIndex, final long fence)
    {
        try
        {
            final VirglRenderer renderer = LIVE.get();
            if (null != renderer)
            {
                renderer.contextFenceSignalled(ctxId, ringIndex, fence);
            }
        }
        catch (final Throwable t)
        {
            failed("write_context_fence", t);
        }
    }
}
