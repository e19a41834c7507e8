package io.jvhost.device.gpu;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Resources by guest id: open addressing with linear probing over int keys, so lookups on the data path neither box
 * the id nor allocate. Id 0 (never valid in virtio-gpu) marks a free slot. Not thread-safe.
 */
final class ResourceTable
{
    private int[] keys = new int[64];
    private Resource[] values = new Resource[64];
    private int mask = 63;
    private int size;

    int size()
    {
        return size;
    }

    /**
     * @return the resource with {@code id}, or null.
     */
    Resource get(final int id)
    {
        if (0 == id)
        {
            return null;
        }
        for (int i = hash(id) & mask; ; i = (i + 1) & mask)
        {
            final int k = keys[i];
            if (k == id)
            {
                return values[i];
            }
            if (0 == k)
            {
                return null;
            }
        }
    }

    /**
     * Adds a resource whose id is not in the table yet.
     */
    void put(final Resource resource)
    {
        if ((size + 1) * 2 > keys.length)
        {
            grow();
        }
        insert(resource);
        size++;
    }

    private void insert(final Resource resource)
    {
        int i = hash(resource.id) & mask;
        while (0 != keys[i])
        {
            i = (i + 1) & mask;
        }
        keys[i] = resource.id;
        values[i] = resource;
    }

    /**
     * @return the removed resource, or null if there was none.
     */
    Resource remove(final int id)
    {
        if (0 == id)
        {
            return null;
        }
        int i = hash(id) & mask;
        while (keys[i] != id)
        {
            if (0 == keys[i])
            {
                return null;
            }
            i = (i + 1) & mask;
        }
        final Resource removed = values[i];
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        int hole = i;
        for (int j = (i + 1) & mask; 0 != keys[j]; j = (j + 1) & mask)
        {
            final int home = hash(keys[j]) & mask;
            if (((j - home) & mask) >= ((j - hole) & mask))
            {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = 0;
        values[hole] = null;
        size--;
        return removed;
    }

    /**
     * Hands every resource to {@code action}, which must not change the table.
     */
    void forEach(final Consumer<Resource> action)
    {
        for (int i = 0; i < keys.length; i++)
        {
            if (0 != keys[i])
            {
                action.accept(values[i]);
            }
        }
    }

    /**
     * Hands every resource to {@code action} and empties the table.
     */
    void drain(final Consumer<Resource> action)
    {
        for (int i = 0; i < keys.length; i++)
        {
            if (0 != keys[i])
            {
                action.accept(values[i]);
            }
        }
        Arrays.fill(keys, 0);
        Arrays.fill(values, null);
        size = 0;
    }

    private void grow()
    {
        final int[] oldKeys = keys;
        final Resource[] oldValues = values;
        keys = new int[oldKeys.length * 2];
        values = new Resource[oldKeys.length * 2];
        mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++)
        {
            if (0 != oldKeys[i])
            {
                insert(oldValues[i]);
            }
        }
    }

    private static int hash(final int id)
    {
        final int h = id * 0x9E37_79B9;
        return h ^ h >>> 16;
    }
}
