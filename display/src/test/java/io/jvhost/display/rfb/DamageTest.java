package io.jvhost.display.rfb;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DamageTest
{
    private static int[] drain(final Damage d)
    {
        final int[] out = new int[4 * Damage.MAX_RECTS];
        final int n = d.drainTo(out);
        return java.util.Arrays.copyOf(out, 4 * n);
    }

    @Test
    void containedRectanglesAreDroppedAndContainingOnesReplace()
    {
        final Damage d = new Damage();
        d.add(10, 10, 20, 20);
        d.add(12, 12, 2, 2);
        assertThat(drain(d)).containsExactly(10, 10, 20, 20);
        d.add(12, 12, 2, 2);
        d.add(30, 30, 1, 1);
        d.add(0, 0, 100, 100);
        assertThat(drain(d)).containsExactly(0, 0, 100, 100);
        assertThat(d.isEmpty()).isTrue();
        d.add(0, 0, 0, 5);
        assertThat(d.isEmpty()).isTrue();
    }

    @Test
    void pastTheLimitRectanglesMergeIntoTheCheapestUnion()
    {
        final Damage d = new Damage();
        for (int i = 0; i < 100; i++)
        {
            d.add(i * 10, i * 10, 2, 2);
        }
        assertThat(d.count()).isLessThanOrEqualTo(Damage.MAX_RECTS);
        final int[] rects = drain(d);
        // Every damaged pixel is still covered.
        for (int i = 0; i < 100; i++)
        {
            boolean covered = false;
            for (int r = 0; r < rects.length; r += 4)
            {
                covered |= rects[r] <= i * 10 && rects[r + 1] <= i * 10 && rects[r] + rects[r + 2] >= i * 10 + 2
                    && rects[r + 1] + rects[r + 3] >= i * 10 + 2;
            }
            assertThat(covered).as("damage %d covered", i).isTrue();
        }
    }
}
