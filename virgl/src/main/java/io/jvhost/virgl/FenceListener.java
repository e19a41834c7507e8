package io.jvhost.virgl;

/**
 * Told when virglrenderer has retired a fence: the device completes the commands parked behind it. Called on the
 * renderer's thread from inside {@link VirglRenderer#poll()} (a callback from C): it must not call the renderer,
 * which refuses, and what it throws is caught, counted and logged, because an exception escaping a callback
 * would end the JVM. (With {@link VirglFlags#ASYNC_FENCE_CB} virglrenderer calls it from a thread of its own
 * instead, where every call to the renderer is refused too.)
 */
@FunctionalInterface
public interface FenceListener
{
    /**
     * A context-0 fence: every fence created with an id up to {@code fenceId} has signalled (virglrenderer
     * reports only the latest).
     *
     * @param fenceId the fence id, 0..2^32-1 (virglrenderer keeps 32 bits).
     */
    void fenceSignalled(long fenceId);

    /**
     * A per-context fence ({@link VirglRenderer#contextCreateFence}, callbacks v3) has signalled.
     *
     * @param ctxId     the context.
     * @param ringIndex the context's ring (timeline).
     * @param fenceId   the 64-bit fence id given at creation.
     */
    default void contextFenceSignalled(final int ctxId, final int ringIndex, final long fenceId)
    {
    }
}
