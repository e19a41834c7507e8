package io.jvhost.device;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The host memory one device may spend on what its guest and its viewers make it allocate (a GPU's images, the
 * display's copies of its scanouts, each viewer's buffers), so that no peer can grow the process beyond a bound the
 * user chose. Memory is reserved before it is allocated and released after it is freed; what does not fit is refused
 * and the caller answers with its protocol's error.
 * <p>
 * Thread-safe and lock-free; {@link #used()} is never negative and never above {@link #limit()}. Reserving and
 * releasing allocate nothing (only a refusal by {@link #reserve} builds its exception).
 */
public final class MemoryBudget
{
    private final String name;
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    /**
     * @param name  for messages, e.g. {@code gpu0}.
     * @param limit bytes that may be reserved at once (positive).
     */
    public MemoryBudget(final String name, final long limit)
    {
        this.name = Objects.requireNonNull(name, "name");
        if (limit <= 0)
        {
            throw new IllegalArgumentException("the memory budget of " + name + " must be positive, got " + limit);
        }
        this.limit = limit;
    }

    /**
     * @return a budget that refuses nothing, for components used on their own (tests, tools) whose allocations are
     *     bounded otherwise.
     */
    public static MemoryBudget unlimited(final String name)
    {
        return new MemoryBudget(name, Long.MAX_VALUE);
    }

    /**
     * Reserves {@code bytes} if they fit.
     *
     * @return false (and nothing reserved) when they do not.
     * @throws IllegalArgumentException when {@code bytes} is negative.
     */
    public boolean tryReserve(final long bytes)
    {
        if (bytes < 0)
        {
            throw new IllegalArgumentException("cannot reserve " + bytes + " bytes of " + this);
        }
        long current;
        do
        {
            current = used.get();
            if (bytes > limit - current)
            {
                return false;
            }
        }
        while (!used.compareAndSet(current, current + bytes));
        return true;
    }

    /**
     * Reserves {@code bytes} for {@code purpose}.
     *
     * @throws ExceededException naming the purpose, the bytes asked for, those in use and the limit, when they do not
     *                           fit (nothing is reserved then).
     */
    public void reserve(final long bytes, final String purpose)
    {
        if (!tryReserve(bytes))
        {
            throw new ExceededException(this, purpose, bytes, used.get());
        }
    }

    /**
     * Gives back {@code bytes} reserved earlier.
     *
     * @throws IllegalStateException when more would be released than is reserved (a bookkeeping bug: nothing is
     *                               released then, so the budget never goes negative).
     */
    public void release(final long bytes)
    {
        if (bytes < 0)
        {
            throw new IllegalArgumentException("cannot release " + bytes + " bytes of " + this);
        }
        long current;
        do
        {
            current = used.get();
            if (bytes > current)
            {
                throw new IllegalStateException("releasing " + bytes + " bytes of " + name + " but only " + current
                    + " are reserved");
            }
        }
        while (!used.compareAndSet(current, current - bytes));
    }

    /**
     * @return bytes reserved now.
     */
    public long used()
    {
        return used.get();
    }

    /**
     * @return bytes that may be reserved at once.
     */
    public long limit()
    {
        return limit;
    }

    /**
     * @return bytes that could be reserved now.
     */
    public long available()
    {
        return limit - used.get();
    }

    public String name()
    {
        return name;
    }

    @Override
    public String toString()
    {
        return "memory budget " + name + " (" + used.get() + " of " + (limit == Long.MAX_VALUE ? "unlimited"
            : limit + " bytes") + " in use)";
    }

    /**
     * A reservation that did not fit.
     */
    public static final class ExceededException extends RuntimeException
    {
        private final long requested;

        ExceededException(final MemoryBudget budget, final String purpose, final long requested, final long used)
        {
            super(purpose + " needs " + requested + " bytes, but " + used + " of the " + budget.limit
                + " bytes of " + budget.name + "'s memory budget are in use", null, false, false);
            this.requested = requested;
        }

        /**
         * @return the bytes that were asked for.
         */
        public long requested()
        {
            return requested;
        }
    }
}
