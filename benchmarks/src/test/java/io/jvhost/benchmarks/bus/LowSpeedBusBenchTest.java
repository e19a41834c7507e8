package io.jvhost.benchmarks.bus;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LowSpeedBusBench's figures.
 */
class LowSpeedBusBenchTest
{
    @Test
    void percentileIsTheNearestRank()
    {
        final long[] hundred = new long[100];
        for (int i = 0; i < hundred.length; i++)
        {
            hundred[i] = i + 1;
        }
        assertThat(LowSpeedBusBench.percentile(hundred, 0.50)).isEqualTo(50);
        assertThat(LowSpeedBusBench.percentile(hundred, 0.99)).isEqualTo(99);
        assertThat(LowSpeedBusBench.percentile(hundred, 1.0)).isEqualTo(100);
        assertThat(LowSpeedBusBench.percentile(new long[] {7}, 0.99)).isEqualTo(7);
        assertThat(LowSpeedBusBench.percentile(new long[0], 0.5)).isNaN();
    }
}
