package io.jvhost.device.vsock;

import java.util.Arrays;

/**
 * The connections of one guest, by (remote CID, remote port, guest port) and by slot (the epoll token of its socket). Fixed
 * capacity, open addressing with linear probing over primitive keys: lookups and removals allocate nothing.
 */
final class ConnectionTable
{
    private static final int EMPTY = -1;

    private final VsockConnection[] slots;
    private final int[] freeSlots;
    private int freeCount;
    private final long[] keys;
    private final long[] cids;
    private final int[] values;
    private final int mask;
    private int size;

    ConnectionTable(final int capacity)
    {
        slots = new VsockConnection[capacity];
        freeSlots = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            freeSlots[i] = capacity - 1 - i;
        }
        freeCount = capacity;
        final int buckets = Integer.highestOneBit(capacity * 2 - 1) << 1;
        keys = new long[buckets];
        cids = new long[buckets];
        values = new int[buckets];
        Arrays.fill(values, EMPTY);
        mask = buckets - 1;
    }

    int capacity()
    {
        return slots.length;
    }

    int size()
    {
        return size;
    }

    /**
     * @return a free slot for a new connection, or -1 when the table is full.
     */
    int reserveSlot()
    {
        return freeCount == 0 ? -1 : freeSlots[freeCount - 1];
    }

    VsockConnection bySlot(final int slot)
    {
        return slot >= 0 && slot < slots.length ? slots[slot] : null;
    }

    /**
     * @param remoteCid the host's CID (2) or a sibling's; {@code localPort} is the remote end's port.
     */
    VsockConnection get(final long remoteCid, final int localPort, final int peerPort)
    {
        final long key = VsockConnection.key(localPort, peerPort);
        for (int i = index(remoteCid, key); values[i] != EMPTY; i = (i + 1) & mask)
        {
            if (keys[i] == key && cids[i] == remoteCid)
            {
                return slots[values[i]];
            }
        }
        return null;
    }

    /**
     * Adds {@code c}, whose slot came from {@link #reserveSlot()} and whose key is not in the table.
     */
    void add(final VsockConnection c)
    {
        if (freeCount == 0 || freeSlots[freeCount - 1] != c.slot)
        {
            throw new IllegalStateException("slot " + c.slot + " was not reserved");
        }
        freeCount--;
        slots[c.slot] = c;
        int i = index(c.remoteCid, c.key);
        while (values[i] != EMPTY)
        {
            i = (i + 1) & mask;
        }
        keys[i] = c.key;
        cids[i] = c.remoteCid;
        values[i] = c.slot;
        size++;
    }

    void remove(final VsockConnection c)
    {
        if (slots[c.slot] != c)
        {
            return;
        }
        slots[c.slot] = null;
        freeSlots[freeCount++] = c.slot;
        size--;
        int i = index(c.remoteCid, c.key);
        while (values[i] != c.slot)
        {
            i = (i + 1) & mask;
        }
        // Backward-shift deletion: later entries of the same probe run move up, so no tombstones build up.
        int hole = i;
        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            if (values[j] == EMPTY)
            {
                break;
            }
            final int home = index(cids[j], keys[j]);
            final boolean movable = hole <= j ? home <= hole || home > j : home <= hole && home > j;
            if (movable)
            {
                keys[hole] = keys[j];
                cids[hole] = cids[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        values[hole] = EMPTY;
    }

    private int index(final long cid, final long key)
    {
        final long h = (key ^ cid * 0xC2B2_AE3D_27D4_EB4FL) * 0x9E37_79B9_7F4A_7C15L;
        return (int)(h >>> 32) & mask;
    }
}
