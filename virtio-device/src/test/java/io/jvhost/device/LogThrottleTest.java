package io.jvhost.device;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link LogThrottle}: of a run of events counted from 1, the first ten and then every thousandth are due.
 */
class LogThrottleTest
{
    @Test
    void theFirstTenThenEveryThousandthAreDue()
    {
        final List<Long> due = new ArrayList<>();
        for (long n = 1; n <= 3000; n++)
        {
            if (LogThrottle.due(n))
            {
                due.add(n);
            }
        }
        assertThat(due).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 1000L, 2000L, 3000L);
    }

    @Test
    void aCountPastTheIntRangeStillFollowsTheRule()
    {
        assertThat(LogThrottle.due(5_000_000_000L)).isTrue();
        assertThat(LogThrottle.due(5_000_000_001L)).isFalse();
    }
}
