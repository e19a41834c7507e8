package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.media.wire.V4l2Buffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link DoneBuffers}: each session's done buffers come back oldest first, sessions take turns, a cleared session
 * gives nothing back, and an event carries exactly what was added.
 */
class DoneBuffersTest
{
    private final V4l2Buffer out = new V4l2Buffer();
    private final MemorySegment event = MemorySegment.ofArray(new byte[V4l2Buffer.SIZE]);

    DoneBuffersTest()
    {
        out.wrap(event);
    }

    private static void add(final DoneBuffers done, final int slot, final int index)
    {
        done.add(slot, index, 100 + index, 1000 + index, V4l2.BUF_FLAG_DONE, V4l2.FIELD_NONE, 7, 8);
    }

    @Test
    void anEventCarriesWhatWasAddedWithTheRestCleared()
    {
        final DoneBuffers done = new DoneBuffers(2, 4);
        event.fill((byte)0x5A);
        done.add(1, 3, 42, 614_400, V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_ERROR, 4, 1_700_000_000L, 999_999);
        assertThat(done.take(out)).isEqualTo(1);
        assertThat(out.index()).isEqualTo(3);
        assertThat(out.type()).isEqualTo(V4l2.BUF_TYPE_VIDEO_CAPTURE);
        assertThat(out.sequence()).isEqualTo(42);
        assertThat(out.bytesused()).isEqualTo(614_400);
        assertThat(out.flags()).isEqualTo(V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_ERROR);
        assertThat(out.field()).isEqualTo(4);
        assertThat(out.timestampSeconds()).isEqualTo(1_700_000_000L);
        assertThat(out.timestampMicros()).isEqualTo(999_999);
        assertThat(out.memory()).isEqualTo(V4l2.MEMORY_USERPTR);
        assertThat(out.userptr()).as("left to the back-end, cleared").isZero();
        assertThat(out.length()).as("left to the back-end, cleared").isZero();
    }

    @Test
    void eachSessionInOrderAndTheSessionsInTurn()
    {
        final DoneBuffers done = new DoneBuffers(3, 4);
        assertThat(done.any()).isFalse();
        assertThat(done.take(out)).as("nothing done").isEqualTo(-1);
        add(done, 0, 0);
        add(done, 0, 1);
        add(done, 0, 2);
        add(done, 2, 3);
        add(done, 2, 1);
        assertThat(done.count(0)).isEqualTo(3);
        assertThat(done.count(2)).isEqualTo(2);
        final int[][] expected = {{0, 0}, {2, 3}, {0, 1}, {2, 1}, {0, 2}};
        for (final int[] e : expected)
        {
            assertThat(done.any()).isTrue();
            assertThat(done.take(out)).as("session of buffer %d", e[1]).isEqualTo(e[0]);
            assertThat(out.index()).isEqualTo(e[1]);
            assertThat(out.sequence()).isEqualTo(100 + e[1]);
        }
        assertThat(done.any()).isFalse();
        assertThat(done.take(out)).isEqualTo(-1);
    }

    @Test
    void theRingWrapsAndAFullSessionGivesAllBack()
    {
        final DoneBuffers done = new DoneBuffers(1, 4);
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 4; i++)
            {
                add(done, 0, (i + round) % 4);
            }
            for (int i = 0; i < 4; i++)
            {
                assertThat(done.take(out)).isZero();
                assertThat(out.index()).as("round %d, %d", round, i).isEqualTo((i + round) % 4);
            }
            add(done, 0, 1);
            assertThat(done.take(out)).isZero();
            assertThat(out.index()).isEqualTo(1);
        }
        assertThat(done.any()).isFalse();
    }

    @Test
    void aClearedSessionGivesNothingBackAndTheOthersKeepTheirs()
    {
        final DoneBuffers done = new DoneBuffers(2, 4);
        add(done, 0, 0);
        add(done, 0, 1);
        add(done, 1, 2);
        done.clear(0);
        assertThat(done.count(0)).isZero();
        assertThat(done.any()).isTrue();
        assertThat(done.take(out)).isEqualTo(1);
        assertThat(out.index()).isEqualTo(2);
        assertThat(done.any()).as("the cleared buffers are not pending").isFalse();
        assertThat(done.take(out)).isEqualTo(-1);
        add(done, 0, 3);
        assertThat(done.take(out)).as("the cleared session starts afresh").isZero();
        assertThat(out.index()).isEqualTo(3);
    }
}
