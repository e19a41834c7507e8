package io.jvhost.display.rfb;

/**
 * A viewer's pending damage: at most {@link #MAX_RECTS} rectangles. A rectangle inside another is dropped; past the
 * limit the new one is merged into the rectangle whose bounds grow least, so a slow viewer's damage stays small and
 * bounded however much the guest draws. Not thread-safe (the session's monitor guards it).
 */
final class Damage
{
    static final int MAX_RECTS = 16;

    /** x0, y0, x1, y1 per rectangle. */
    private final int[] rects = new int[4 * MAX_RECTS];
    private int count;

    boolean isEmpty()
    {
        return count == 0;
    }

    int count()
    {
        return count;
    }

    void clear()
    {
        count = 0;
    }

    void add(final int x, final int y, final int width, final int height)
    {
        if (width <= 0 || height <= 0)
        {
            return;
        }
        int x0 = x;
        int y0 = y;
        int x1 = x + width;
        int y1 = y + height;
        // Merging may make the new rectangle cover others: repeat until nothing more is absorbed.
        boolean absorbed = true;
        while (absorbed)
        {
            absorbed = false;
            for (int i = 0; i < count; i++)
            {
                final int o = 4 * i;
                if (rects[o] <= x0 && rects[o + 1] <= y0 && rects[o + 2] >= x1 && rects[o + 3] >= y1)
                {
                    return;
                }
                if (x0 <= rects[o] && y0 <= rects[o + 1] && x1 >= rects[o + 2] && y1 >= rects[o + 3])
                {
                    removeAt(i);
                    i--;
                }
            }
            if (count == MAX_RECTS)
            {
                int best = 0;
                long bestGrowth = Long.MAX_VALUE;
                for (int i = 0; i < count; i++)
                {
                    final int o = 4 * i;
                    final long union = area(Math.min(x0, rects[o]), Math.min(y0, rects[o + 1]),
                        Math.max(x1, rects[o + 2]), Math.max(y1, rects[o + 3]));
                    final long growth = union - area(rects[o], rects[o + 1], rects[o + 2], rects[o + 3]);
                    if (growth < bestGrowth)
                    {
                        bestGrowth = growth;
                        best = i;
                    }
                }
                final int o = 4 * best;
                x0 = Math.min(x0, rects[o]);
                y0 = Math.min(y0, rects[o + 1]);
                x1 = Math.max(x1, rects[o + 2]);
                y1 = Math.max(y1, rects[o + 3]);
                removeAt(best);
                absorbed = true;
            }
        }
        final int o = 4 * count;
        rects[o] = x0;
        rects[o + 1] = y0;
        rects[o + 2] = x1;
        rects[o + 3] = y1;
        count++;
    }

    /**
     * Moves the rectangles into {@code out} as x, y, width, height quadruples and clears this.
     *
     * @return how many.
     */
    int drainTo(final int[] out)
    {
        final int n = count;
        for (int i = 0; i < n; i++)
        {
            out[4 * i] = rects[4 * i];
            out[4 * i + 1] = rects[4 * i + 1];
            out[4 * i + 2] = rects[4 * i + 2] - rects[4 * i];
            out[4 * i + 3] = rects[4 * i + 3] - rects[4 * i + 1];
        }
        count = 0;
        return n;
    }

    private void removeAt(final int i)
    {
        System.arraycopy(rects, 4 * (i + 1), rects, 4 * i, 4 * (count - i - 1));
        count--;
    }

    private static long area(final int x0, final int y0, final int x1, final int y1)
    {
        return (long)(x1 - x0) * (y1 - y0);
    }
}
