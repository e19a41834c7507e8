package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

/**
 * A virglrenderer without C or GL, for the 3D command fuzz harness: keeps the state the real one keeps (contexts and
 * their capsets, resources with their size and attached iovecs, which resources a context may use, fences pending
 * per timeline) and answers as it would: EINVAL (22) for a transfer box outside the resource or its iovecs, a
 * resource it cannot create, a context it cannot make; fences retire in order from {@link #poll}, a few per call (so
 * the device holds requests across serves), ring fences merged as MERGEABLE allows; {@link #reset} and a context's
 * destruction drop what was pending. TRANSFER_FROM_HOST writes a pattern into exactly the iovec bytes the box covers.
 * <p>
 * What the device must never pass (it refuses those itself, before calling here) is a <b>violation</b>: an unknown
 * context or resource id, one created twice, a detach of what is not attached, a ring the context does not have, a
 * fence id out of sequence, a stream longer than its buffer or not the bytes the guest sent, an iovec outside guest
 * memory, a negative (wrapped) box, an offset beyond the backing, a call from another thread or from inside a fence
 * callback. The first violation is kept ({@link #violation}) and thrown as an AssertionError, which no device catch
 * stops.
 */
final class RecordingVirgl implements VirglCalls
{
    static final int EINVAL = 22;
    private static final int CAPSET_VIRGL_SIZE = 308;
    private static final int CAPSET_VIRGL2_SIZE = 1376;
    private static final int CAPSET_VENUS_SIZE = 160;
    private static final int TARGET_BUFFER = 0;
    /** PIPE_MAX_TEXTURE_TYPES: targets 0..8. */
    private static final int MAX_TARGET = 8;
    /** Formats virglrenderer's table holds (VIRGL_FORMAT_MAX is about 300). */
    private static final int MAX_FORMAT = 300;
    private static final byte PATTERN = (byte)0xA5;

    /** A SUBMIT_3D stream the device handed over. */
    record Submit(int ctxId, byte[] stream)
    {
    }

    private static final class Res
    {
        final int id;
        final int target;
        final int width;
        final int height;
        final int depth;
        final int lastLevel;
        long[] iovBase;
        long[] iovLength;
        long iovTotal;

        Res(final ResourceCreateArgs a)
        {
            id = a.handle();
            target = a.target();
            width = a.width();
            height = a.height();
            depth = a.depth();
            lastLevel = a.lastLevel();
        }

        int bytesPerTexel()
        {
            return TARGET_BUFFER == target ? 1 : 4;
        }
    }

    private final Thread owner;
    private final int flags;
    private final FenceListener fences;
    private final long ramStart;
    private final long ramEnd;
    private final Map<Integer, Integer> contexts = new HashMap<>();
    private final Map<Integer, Set<Integer>> attached = new HashMap<>();
    private final Map<Integer, Res> resources = new HashMap<>();
    /** Context-0 fence ids waiting, in order. */
    private final ArrayDeque<Long> ctx0Pending = new ArrayDeque<>();
    /** Ring fences waiting: ctx << 8 | ring to their sequence numbers, in order. */
    private final Map<Long, ArrayDeque<Long>> ringPending = new HashMap<>();
    private final Map<Long, Long> ringSignalled = new HashMap<>();
    private final Map<Long, Long> ringDropped = new HashMap<>();
    private final List<Submit> submits = new ArrayList<>();
    private long lastCtx0Fence = -1;
    private long lastRingSeq;
    private long ctx0Signalled;
    private long polls;
    private boolean inCallback;
    private boolean closed;
    private String violation;

    RecordingVirgl(final int flags, final FenceListener fences, final MemorySegment guestRam)
    {
        this.owner = Thread.currentThread();
        this.flags = flags;
        this.fences = fences;
        this.ramStart = guestRam.address();
        this.ramEnd = guestRam.address() + guestRam.byteSize();
    }

    // ---- what the harness looks at -----------------------------------------------------------------------------

    /**
     * @return the first call the device should never have made, or null.
     */
    String violation()
    {
        return violation;
    }

    int resourceCount()
    {
        return resources.size();
    }

    int contextCount()
    {
        return contexts.size();
    }

    Set<Integer> contextIds()
    {
        return contexts.keySet();
    }

    int pendingFences()
    {
        int n = ctx0Pending.size();
        for (final ArrayDeque<Long> q : ringPending.values())
        {
            n += q.size();
        }
        return n;
    }

    /**
     * @return context-0 fences signalled since {@link #reset}.
     */
    long ctx0Signalled()
    {
        return ctx0Signalled;
    }

    /**
     * @return ring fences of (ctx, ring) signalled or dropped (context destroyed) since {@link #reset}.
     */
    long ringRetired(final int ctxId, final int ring)
    {
        final long key = key(ctxId, ring);
        return ringSignalled.getOrDefault(key, 0L) + ringDropped.getOrDefault(key, 0L);
    }

    /**
     * @return the streams submitted since the last call, in order, and forgets them.
     */
    List<Submit> takeSubmits()
    {
        final List<Submit> taken = new ArrayList<>(submits);
        submits.clear();
        return taken;
    }

    private static long key(final int ctxId, final int ring)
    {
        return Integer.toUnsignedLong(ctxId) << 8 | ring;
    }

    private AssertionError violated(final String what)
    {
        if (null == violation)
        {
            violation = what;
        }
        return new AssertionError("virglrenderer was passed what the device should have refused: " + what);
    }

    private void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw violated(what);
        }
    }

    private void usable()
    {
        check(Thread.currentThread() == owner, "a call from thread " + Thread.currentThread().getName());
        check(!closed, "a call after close");
        check(!inCallback, "a call from inside a fence callback");
    }

    private Res resource(final int resourceId, final String call)
    {
        final Res r = resources.get(resourceId);
        check(null != r, call + " of resource " + Integer.toUnsignedString(resourceId) + ", which does not exist");
        return r;
    }

    private void context(final int ctxId, final String call)
    {
        check(contexts.containsKey(ctxId), call + " in context " + Integer.toUnsignedString(ctxId)
            + ", which does not exist");
    }

    // ---- VirglCalls ---------------------------------------------------------------------------------------------

    @Override
    public Thread owner()
    {
        return owner;
    }

    @Override
    public int flags()
    {
        return flags;
    }

    @Override
    public boolean hasContextFences()
    {
        return true;
    }

    @Override
    public String describe()
    {
        return "recording fake";
    }

    @Override
    public int createFence(final long fenceId, final int ctxId)
    {
        usable();
        check(fenceId >= 0 && fenceId <= 0xFFFF_FFFFL, "fence id " + fenceId + " beyond 32 bits");
        check(lastCtx0Fence < 0 || fenceId == (lastCtx0Fence + 1 & 0xFFFF_FFFFL), "context-0 fence " + fenceId
            + " after " + lastCtx0Fence + " (not the next number)");
        lastCtx0Fence = fenceId;
        ctx0Pending.add(fenceId);
        return 0;
    }

    @Override
    public int contextCreateFence(final int ctxId, final int fenceFlags, final int ringIndex, final long fenceId)
    {
        usable();
        context(ctxId, "context_create_fence");
        final int capset = contexts.get(ctxId);
        final int rings = capset <= VirglRenderer.CAPSET_VIRGL2 ? 1 : RingFences.MAX_RINGS;
        check(ringIndex >= 0 && ringIndex < rings, "ring " + ringIndex + " of context " + ctxId + " (capset "
            + capset + ", " + rings + " ring(s))");
        check(fenceId > lastRingSeq, "ring fence " + fenceId + " after " + lastRingSeq + " (numbers must grow)");
        lastRingSeq = fenceId;
        ringPending.computeIfAbsent(key(ctxId, ringIndex), k -> new ArrayDeque<>()).add(fenceId);
        return 0;
    }

    @Override
    public int pollFd()
    {
        usable();
        return -1;
    }

    /**
     * Retires the oldest context-0 fence and, on every ring, the oldest (every other poll: all of that ring's,
     * reported once with the last number, as MERGEABLE lets virglrenderer do).
     */
    @Override
    public void poll()
    {
        usable();
        polls++;
        inCallback = true;
        try
        {
            if (!ctx0Pending.isEmpty())
            {
                final long id = ctx0Pending.poll();
                ctx0Signalled++;
                fences.fenceSignalled(id);
            }
            for (final Map.Entry<Long, ArrayDeque<Long>> e : List.copyOf(ringPending.entrySet()))
            {
                final ArrayDeque<Long> q = e.getValue();
                if (q.isEmpty())
                {
                    continue;
                }
                long seq = q.poll();
                long n = 1;
                while (0 == (polls & 1) && !q.isEmpty())
                {
                    seq = q.poll();
                    n++;
                }
                ringSignalled.merge(e.getKey(), n, Long::sum);
                fences.contextFenceSignalled((int)(e.getKey() >>> 8), (int)(e.getKey() & 0xFF), seq);
            }
        }
        finally
        {
            inCallback = false;
        }
    }

    @Override
    public void reset()
    {
        usable();
        contexts.clear();
        attached.clear();
        resources.clear();
        ctx0Pending.clear();
        ringPending.clear();
        ringSignalled.clear();
        ringDropped.clear();
        submits.clear();
        ctx0Signalled = 0;
    }

    @Override
    public void forceCtx0()
    {
        usable();
    }

    @Override
    public void close()
    {
        check(Thread.currentThread() == owner, "close from thread " + Thread.currentThread().getName());
        closed = true;
    }

    // ---- capsets ------------------------------------------------------------------------------------------------

    @Override
    public CapsetInfo getCapSet(final int capsetId)
    {
        usable();
        return switch (capsetId)
        {
            case VirglRenderer.CAPSET_VIRGL -> new CapsetInfo(capsetId, 1, CAPSET_VIRGL_SIZE);
            case VirglRenderer.CAPSET_VIRGL2 -> new CapsetInfo(capsetId, 2, CAPSET_VIRGL2_SIZE);
            case VirglRenderer.CAPSET_VENUS -> 0 != (flags & VirglFlags.VENUS)
                ? new CapsetInfo(capsetId, 0, CAPSET_VENUS_SIZE) : new CapsetInfo(capsetId, 0, 0);
            default -> new CapsetInfo(capsetId, 0, 0);
        };
    }

    @Override
    public int fillCaps(final int capsetId, final int version, final MemorySegment destination)
    {
        usable();
        final int size = getCapSet(capsetId).maxSize();
        check(destination.byteSize() >= size, "capset " + capsetId + " of " + size + " bytes into " + destination);
        destination.asSlice(0, size).fill((byte)capsetId);
        return size;
    }

    // ---- contexts -----------------------------------------------------------------------------------------------

    @Override
    public void contextCreate(final int ctxId, final String name) throws VirglException
    {
        create(ctxId, 0, name);
    }

    @Override
    public void contextCreateWithFlags(final int ctxId, final int contextFlags, final String name)
        throws VirglException
    {
        create(ctxId, contextFlags, name);
    }

    private void create(final int ctxId, final int capset, final String name) throws VirglException
    {
        usable();
        check(0 != ctxId && !contexts.containsKey(ctxId), "context " + Integer.toUnsignedString(ctxId)
            + " created, but it is 0 or exists");
        check(name.length() <= io.jvhost.device.gpu.wire.CtxCreate.DEBUG_NAME_MAX, "a debug name of "
            + name.length() + " characters");
        check(capset >= 0 && capset <= 0xFF, "context flags 0x" + Integer.toHexString(capset));
        if (VirglRenderer.CAPSET_VENUS == capset && 0 == (flags & VirglFlags.VENUS)
            || 0 != capset && VirglRenderer.CAPSET_VIRGL != capset && VirglRenderer.CAPSET_VIRGL2 != capset
            && VirglRenderer.CAPSET_VENUS != capset)
        {
            throw new VirglException("virgl_renderer_context_create_with_flags", EINVAL, "ctx=" + ctxId);
        }
        contexts.put(ctxId, capset);
        attached.put(ctxId, new HashSet<>());
    }

    @Override
    public void contextDestroy(final int ctxId)
    {
        usable();
        context(ctxId, "context_destroy");
        contexts.remove(ctxId);
        attached.remove(ctxId);
        for (final Map.Entry<Long, ArrayDeque<Long>> e : ringPending.entrySet())
        {
            if (e.getKey() >>> 8 == Integer.toUnsignedLong(ctxId))
            {
                ringDropped.merge(e.getKey(), (long)e.getValue().size(), Long::sum);
                e.getValue().clear();
            }
        }
    }

    @Override
    public void ctxAttachResource(final int ctxId, final int resourceId)
    {
        usable();
        context(ctxId, "ctx_attach_resource");
        resource(resourceId, "ctx_attach_resource");
        attached.get(ctxId).add(resourceId);
    }

    @Override
    public void ctxDetachResource(final int ctxId, final int resourceId)
    {
        usable();
        context(ctxId, "ctx_detach_resource");
        resource(resourceId, "ctx_detach_resource");
        check(attached.get(ctxId).remove(resourceId), "ctx_detach_resource of resource " + resourceId
            + ", not attached to context " + ctxId);
    }

    @Override
    public int submitCmd(final MemorySegment commands, final int ctxId, final int dwords)
    {
        usable();
        context(ctxId, "submit_cmd");
        check(dwords >= 0 && (long)dwords * 4 <= commands.byteSize() && commands.isNative(), "a stream of "
            + dwords + " dwords in " + commands);
        submits.add(new Submit(ctxId, commands.asSlice(0, (long)dwords * 4).toArray(ValueLayout.JAVA_BYTE)));
        return 0;
    }

    // ---- resources ----------------------------------------------------------------------------------------------

    @Override
    public void resourceCreate(final ResourceCreateArgs a) throws VirglException
    {
        usable();
        check(0 != a.handle() && !resources.containsKey(a.handle()), "resource " + Integer.toUnsignedString(
            a.handle()) + " created, but it is 0 or exists");
        check(a.width() > 0 && a.height() > 0 && a.depth() > 0 && a.arraySize() > 0 && a.lastLevel() >= 0
            && a.nrSamples() >= 0, "resource_create with " + a);
        if (Integer.compareUnsigned(a.target(), MAX_TARGET) > 0 || Integer.compareUnsigned(a.format(), MAX_FORMAT) > 0
            || TARGET_BUFFER == a.target() && (a.height() != 1 || a.depth() != 1 || a.lastLevel() != 0)
            || a.lastLevel() > 0 && 32 - Integer.numberOfLeadingZeros(Math.max(a.width(), a.height())) <= a.lastLevel())
        {
            throw new VirglException("virgl_renderer_resource_create", EINVAL, a.toString());
        }
        resources.put(a.handle(), new Res(a));
    }

    @Override
    public void resourceUnref(final int resourceId)
    {
        usable();
        resource(resourceId, "resource_unref");
        resources.remove(resourceId);
        for (final Set<Integer> s : attached.values())
        {
            s.remove(resourceId);
        }
    }

    @Override
    public void resourceAttachIov(final int resourceId, final IoVecArray iov) throws VirglException
    {
        usable();
        final Res r = resource(resourceId, "attach_iov");
        check(null == r.iovBase, "attach_iov of resource " + resourceId + ", which has backing");
        final int n = iov.count();
        check(n >= 1, "attach_iov with " + n + " entries");
        r.iovBase = new long[n];
        r.iovLength = new long[n];
        r.iovTotal = 0;
        for (int i = 0; i < n; i++)
        {
            final long base = iov.base(i);
            final long length = iov.length(i);
            check(length >= 0 && base >= ramStart && base <= ramEnd && length <= ramEnd - base, "iovec " + i
                + " of resource " + resourceId + " at 0x" + Long.toHexString(base) + ", " + length
                + " bytes: not inside guest memory 0x" + Long.toHexString(ramStart) + "..0x" + Long.toHexString(ramEnd));
            r.iovBase[i] = base;
            r.iovLength[i] = length;
            r.iovTotal += length;
        }
    }

    @Override
    public int resourceDetachIov(final int resourceId)
    {
        usable();
        final Res r = resource(resourceId, "detach_iov");
        final int n = null == r.iovBase ? 0 : r.iovBase.length;
        r.iovBase = null;
        r.iovLength = null;
        r.iovTotal = 0;
        return n;
    }

    @Override
    public CursorImage cursorData(final int resourceId, final MemorySegment destination)
    {
        usable();
        final Res r = resource(resourceId, "get_cursor_data");
        final long bytes = 4L * r.width * r.height;
        final boolean fits = bytes <= destination.byteSize();
        if (fits)
        {
            destination.asSlice(0, bytes).fill(PATTERN);
        }
        return new CursorImage(r.width, r.height, fits);
    }

    // ---- transfers ----------------------------------------------------------------------------------------------

    @Override
    public int transferRead(final int resourceId, final int ctxId, final int level, final int stride,
        final int layerStride, final Box box, final long offset, final IoVecArray iov)
    {
        return transfer(false, resourceId, ctxId, level, stride, layerStride, box, offset, iov);
    }

    @Override
    public int transferWrite(final int resourceId, final int ctxId, final int level, final int stride,
        final int layerStride, final Box box, final long offset, final IoVecArray iov)
    {
        return transfer(true, resourceId, ctxId, level, stride, layerStride, box, offset, iov);
    }

    @Override
    public int readback(final int resourceId, final Box box, final int stride, final MemorySegment host)
    {
        usable();
        final Res r = resource(resourceId, "readback");
        check(box.x() >= 0 && box.y() >= 0 && box.width() >= 0 && box.height() >= 0 && stride >= 0, "readback "
            + box + ", stride " + stride);
        check((long)stride * box.height() <= host.byteSize(), "readback of " + box + " at stride " + stride
            + " into " + host.byteSize() + " bytes");
        if ((long)box.x() + box.width() > r.width || (long)box.y() + box.height() > r.height)
        {
            return EINVAL;
        }
        host.asSlice(0, (long)stride * box.height()).fill(PATTERN);
        return 0;
    }

    /**
     * As virglrenderer's transfer_iov: the box must lie in the level, the bytes it covers in the iovecs.
     */
    private int transfer(final boolean toHost, final int resourceId, final int ctxId, final int level,
        final int stride, final int layerStride, final Box box, final long offset, final IoVecArray iov)
    {
        usable();
        final String call = toHost ? "transfer_write_iov" : "transfer_read_iov";
        final Res r = resource(resourceId, call);
        check(null == iov, call + " with iovecs of its own (the device uses the attached backing)");
        check(null != r.iovBase, call + " of resource " + resourceId + ", which has no backing");
        if (0 != ctxId)
        {
            context(ctxId, call);
            check(attached.get(ctxId).contains(resourceId), call + " of resource " + resourceId
                + " through context " + ctxId + ", which it is not attached to");
        }
        check(box.x() >= 0 && box.y() >= 0 && box.z() >= 0 && box.width() >= 0 && box.height() >= 0
            && box.depth() >= 0, call + " of a wrapped box " + box);
        check(offset >= 0 && offset < r.iovTotal, call + " at offset " + offset + " of a " + r.iovTotal
            + "-byte backing");
        if (level < 0 || level > r.lastLevel || level > 31)
        {
            return EINVAL;
        }
        final long w = Math.max(1, r.width >>> level);
        final long h = TARGET_BUFFER == r.target ? 1 : Math.max(1, r.height >>> level);
        final long d = Math.max(1, r.depth >>> level);
        if (box.x() + (long)box.width() > w || box.y() + (long)box.height() > h || box.z() + (long)box.depth() > d
            || 0 == box.width() || 0 == box.height() || 0 == box.depth())
        {
            return EINVAL;
        }
        final long row = (long)box.width() * r.bytesPerTexel();
        final long rowStride = 0 == stride ? row : Integer.toUnsignedLong(stride);
        final long layer = 0 == layerStride ? rowStride * box.height() : Integer.toUnsignedLong(layerStride);
        if (rowStride < row || box.depth() > 1 && layer < rowStride * box.height())
        {
            return EINVAL;
        }
        final long last = offset + (box.depth() - 1L) * layer + (box.height() - 1L) * rowStride + row;
        if (last > r.iovTotal || last < 0)
        {
            return EINVAL;
        }
        if (!toHost)
        {
            for (long z = 0; z < box.depth(); z++)
            {
                for (long y = 0; y < box.height(); y++)
                {
                    fill(r, offset + z * layer + y * rowStride, row);
                }
            }
        }
        return 0;
    }

    /** Writes the pattern into {@code length} bytes of the resource's iovecs from byte {@code at}. */
    private static void fill(final Res r, final long at, final long length)
    {
        long skip = at;
        long left = length;
        for (int i = 0; i < r.iovBase.length && left > 0; i++)
        {
            if (skip >= r.iovLength[i])
            {
                skip -= r.iovLength[i];
                continue;
            }
            final long n = Math.min(r.iovLength[i] - skip, left);
            MemorySegment.ofAddress(r.iovBase[i] + skip).reinterpret(n).fill(PATTERN);
            left -= n;
            skip = 0;
        }
    }

    @Override
    public String toString()
    {
        return "RecordingVirgl" + Arrays.asList(contexts.size() + " contexts", resources.size() + " resources",
            pendingFences() + " fences pending");
    }
}
