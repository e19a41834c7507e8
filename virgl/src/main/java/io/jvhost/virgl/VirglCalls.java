package io.jvhost.virgl;

import java.lang.foreign.MemorySegment;

/**
 * The calls a device makes on an initialised virglrenderer, as {@link VirglRenderer} declares them (see there for
 * each call's contract: codes returned, exceptions, what virglrenderer checks itself). {@link VirglRenderer} is the
 * real one; a test may put a fake in its place to drive the device's own decoding and checks without the C library
 * (the device refuses every out-of-range id, length and box before it calls here).
 */
public interface VirglCalls extends AutoCloseable
{
    Thread owner();

    int flags();

    /**
     * @return true when {@link #contextCreateFence} is there (virglrenderer with per-context fences).
     */
    boolean hasContextFences();

    /**
     * @return the library's name and version, for logs.
     */
    String describe();

    int createFence(long fenceId, int ctxId);

    int contextCreateFence(int ctxId, int fenceFlags, int ringIndex, long fenceId);

    int pollFd();

    void poll();

    void reset();

    void forceCtx0();

    @Override
    void close();

    CapsetInfo getCapSet(int capsetId);

    int fillCaps(int capsetId, int version, MemorySegment destination);

    void contextCreate(int ctxId, String name) throws VirglException;

    void contextCreateWithFlags(int ctxId, int contextFlags, String name) throws VirglException;

    void contextDestroy(int ctxId);

    void ctxAttachResource(int ctxId, int resourceId);

    void ctxDetachResource(int ctxId, int resourceId);

    int submitCmd(MemorySegment commands, int ctxId, int dwords);

    void resourceCreate(ResourceCreateArgs args) throws VirglException;

    void resourceUnref(int resourceId);

    void resourceAttachIov(int resourceId, IoVecArray iov) throws VirglException;

    int resourceDetachIov(int resourceId);

    CursorImage cursorData(int resourceId, MemorySegment destination);

    int transferRead(int resourceId, int ctxId, int level, int stride, int layerStride, Box box, long offset,
        IoVecArray iov);

    int transferWrite(int resourceId, int ctxId, int level, int stride, int layerStride, Box box, long offset,
        IoVecArray iov);

    int readback(int resourceId, Box box, int stride, MemorySegment host);
}
