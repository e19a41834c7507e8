package io.jvhost.memory;

/**
 * The current guest memory map, replaced atomically by the protocol thread while workers run.
 * <p>
 * Readers {@link #acquire()} a snapshot for a batch of work and release it after; {@link #replace} publishes the
 * new map and drops the holder's reference to the old one, which is unmapped when its last reader releases it.
 */
public final class GuestMemoryAtomic
{
    private volatile GuestMemory current = GuestMemory.EMPTY;

    /**
     * @return the current snapshot with a reference taken; pair with {@link GuestMemory#release()}.
     */
    public GuestMemory acquire()
    {
        while (true)
        {
            final GuestMemory snapshot = current;
            if (snapshot == GuestMemory.EMPTY || snapshot.tryRetain())
            {
                return snapshot;
            }
            // Released between the read and the retain: a newer snapshot is already published.
            Thread.onSpinWait();
        }
    }

    /**
     * @return the current snapshot without taking a reference (only for the thread that replaces it).
     */
    public GuestMemory peek()
    {
        return current;
    }

    /**
     * Publishes {@code next} (whose reference passes to this holder) and releases the previous snapshot.
     */
    public void replace(final GuestMemory next)
    {
        final GuestMemory previous = current;
        current = next;
        previous.release();
    }
}
