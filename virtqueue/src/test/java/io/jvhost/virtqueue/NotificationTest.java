package io.jvhost.virtqueue;

import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_F_NO_INTERRUPT;
import static io.jvhost.virtqueue.SplitRingLayout.USED_F_NO_NOTIFY;
import static org.assertj.core.api.Assertions.assertThat;

class NotificationTest
{
    private static final int SIZE = 16;
    private static final long PLAIN = VirtioFeatures.bit(VirtioFeatures.VERSION_1);
    private static final long NOTIFY_ON_EMPTY = VirtioFeatures.bit(VirtioFeatures.NOTIFY_ON_EMPTY);

    private Fixture f = new Fixture(SIZE, ALL);

    @AfterEach
    void close()
    {
        f.close();
    }

    private void useFeatures(final long features)
    {
        f.close();
        f = new Fixture(SIZE, features);
    }

    private void startAt(final int index)
    {
        f.driver.reset(index);
        f.queue.unbind();
        f.queue.setNextAvail(index);
        f.bind();
    }

    private void addAndPop(final int chains)
    {
        final long a = f.alloc(8);
        for (int i = 0; i < chains; i++)
        {
            f.add(new long[]{a}, new int[]{8}, 1, 0);
        }
        for (int i = 0; i < chains; i++)
        {
            assertThat(f.pop()).isTrue();
        }
    }

    @Test
    void firstDecisionAfterBindAlwaysNotifiesWithEventIdx()
    {
        f.driver.setUsedEvent(100);
        f.queue.pushUsed(0, 0);

        assertThat(f.queue.needsNotification()).isTrue();
        f.queue.pushUsed(1, 0);
        assertThat(f.queue.needsNotification()).isFalse();
    }

    @Test
    void needsNotificationIsFalseWhenNothingWasPushedSinceTheLastDecision()
    {
        assertThat(f.queue.needsNotification()).isFalse();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        assertThat(f.queue.needsNotification()).isFalse();
    }

    @Test
    void eventIdxNotifiesOnlyWhenUsedIdxPassesUsedEvent()
    {
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        f.driver.setUsedEvent(3);

        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).as("used.idx 2, event 3").isFalse();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).as("used.idx 3, event 3 not passed yet").isFalse();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).as("used.idx 4 passed event 3").isTrue();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).as("event 3 already passed").isFalse();
    }

    @Test
    void eventIdxNotifiesWhenABatchPassesUsedEvent()
    {
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        f.driver.setUsedEvent(2);

        f.queue.pushUsed(0, 0);
        f.queue.pushUsed(0, 0);
        f.queue.pushUsed(0, 0);

        assertThat(f.queue.needsNotification()).isTrue();
    }

    @Test
    void eventIdxDecisionsAcrossTheU16WrapMatchAnUnwrappedModel()
    {
        final Random random = new Random(29);
        final int start = 65530;
        startAt(start);
        long used = start;
        f.queue.pushUsed(0, 0);
        used++;
        assertThat(f.queue.needsNotification()).isTrue();
        for (int i = 0; i < 5000; i++)
        {
            final long old = used;
            final int pushes = 1 + random.nextInt(3);
            final long event = old + random.nextInt(pushes + 6) - 3;
            f.driver.setUsedEvent((int)(event & 0xFFFF));
            for (int p = 0; p < pushes; p++)
            {
                f.queue.pushUsed(p, 0);
            }
            used += pushes;

            final boolean expected = event >= old && event < used;
            assertThat(f.queue.needsNotification()).as("old=%d new=%d event=%d", old, used, event)
                .isEqualTo(expected);
        }
        assertThat(used).isGreaterThan(65536 + 5000);
        assertThat(f.queue.nextUsed()).isEqualTo((int)(used & 0xFFFF));
    }

    @Test
    void eventIdxWrapAtExactBoundary()
    {
        startAt(0xFFFE);
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        f.driver.setUsedEvent(0xFFFF);

        f.queue.pushUsed(0, 0);

        assertThat(f.queue.nextUsed()).isZero();
        assertThat(f.queue.needsNotification()).as("used.idx wrapped from 0xffff to 0 past event 0xffff").isTrue();
        f.driver.setUsedEvent(1);
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isFalse();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
    }

    @Test
    void decisionAfterMoreThanHalfTheIndexSpaceAlwaysNotifies()
    {
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        f.driver.setUsedEvent(0);

        for (int i = 0; i < 40_000; i++)
        {
            f.queue.pushUsed(0, 0);
        }

        assertThat(f.queue.needsNotification()).isTrue();
    }

    @Test
    void withoutEventIdxNotifiesUnlessTheDriverSetNoInterrupt()
    {
        useFeatures(PLAIN);
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();

        f.driver.disableInterrupts();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isFalse();

        assertThat(f.driver.enableInterrupts()).as("two used elements pending").isTrue();
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
    }

    @Test
    void notifyOnEmptyOverridesNoInterruptWhenTheAvailRingIsEmpty()
    {
        useFeatures(PLAIN | NOTIFY_ON_EMPTY);
        f.driver.setAvailFlags(AVAIL_F_NO_INTERRUPT);
        addAndPop(2);

        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).as("ring empty").isTrue();

        f.add(new long[]{f.alloc(8)}, new int[]{8}, 1, 0);
        f.queue.pushUsed(1, 0);
        assertThat(f.queue.needsNotification()).as("a chain is still available").isFalse();
    }

    @Test
    void withoutNotifyOnEmptyAnEmptyRingDoesNotOverrideNoInterrupt()
    {
        useFeatures(PLAIN);
        f.driver.setAvailFlags(AVAIL_F_NO_INTERRUPT);
        addAndPop(1);

        f.queue.pushUsed(0, 0);

        assertThat(f.queue.needsNotification()).isFalse();
    }

    @Test
    void notifyOnEmptyAlsoOverridesUsedEvent()
    {
        useFeatures(ALL | NOTIFY_ON_EMPTY);
        f.queue.pushUsed(0, 0);
        assertThat(f.queue.needsNotification()).isTrue();
        f.driver.setUsedEvent(1000);

        f.queue.pushUsed(0, 0);

        assertThat(f.queue.needsNotification()).isTrue();
    }

    @Test
    void enableNotificationWithEventIdxWritesAvailEventAndRechecksTheRing()
    {
        addAndPop(3);
        assertThat(f.queue.enableNotification()).isFalse();
        assertThat(f.driver.availEvent()).isEqualTo(3);

        // The driver publishes between the device's last pop and its enable: the re-check must catch it.
        f.add(new long[]{f.alloc(8)}, new int[]{8}, 1, 0);
        assertThat(f.queue.enableNotification()).isTrue();
        assertThat(f.queue.hasAvailable()).isTrue();
    }

    @Test
    void driverKicksOnlyWhenTheDevicePassedAvailEvent()
    {
        final long a = f.alloc(8);
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.needsKick()).as("avail_event 0, first chain").isTrue();
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.needsKick()).as("device has not consumed chain 0 yet").isFalse();

        assertThat(f.pop()).isTrue();
        assertThat(f.pop()).isTrue();
        assertThat(f.queue.enableNotification()).isFalse();
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.needsKick()).isTrue();
        assertThat(f.driver.needsKick()).as("nothing new published").isFalse();
    }

    @Test
    void disableAndEnableNotificationToggleUsedNoNotifyWithoutEventIdx()
    {
        useFeatures(PLAIN);
        final long a = f.alloc(8);

        f.queue.disableNotification();
        assertThat(f.driver.usedFlags() & USED_F_NO_NOTIFY).isEqualTo(USED_F_NO_NOTIFY);
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.needsKick()).isFalse();

        assertThat(f.queue.enableNotification()).as("a chain arrived while disabled").isTrue();
        assertThat(f.driver.usedFlags() & USED_F_NO_NOTIFY).isZero();
        assertThat(f.pop()).isTrue();
        assertThat(f.queue.enableNotification()).isFalse();
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.needsKick()).isTrue();
    }

    @Test
    void disableNotificationWritesNothingWithEventIdx()
    {
        f.queue.disableNotification();

        assertThat(f.driver.usedFlags()).isZero();
    }

    @Test
    void needEventFollowsTheSpecFormula()
    {
        assertThat(SplitRingLayout.needEvent(5, 7, 5)).isTrue();
        assertThat(SplitRingLayout.needEvent(6, 7, 5)).isTrue();
        assertThat(SplitRingLayout.needEvent(7, 7, 5)).isFalse();
        assertThat(SplitRingLayout.needEvent(9, 7, 5)).isFalse();
        assertThat(SplitRingLayout.needEvent(4, 7, 5)).isFalse();
        assertThat(SplitRingLayout.needEvent(0xFFFF, 1, 0xFFFE)).isTrue();
        assertThat(SplitRingLayout.needEvent(0, 1, 0xFFFE)).isTrue();
        assertThat(SplitRingLayout.needEvent(1, 1, 0xFFFE)).isFalse();
    }
}
