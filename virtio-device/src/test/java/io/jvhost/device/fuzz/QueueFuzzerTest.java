package io.jvhost.device.fuzz;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.OneQueueDevice;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.DescriptorChain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * QueueFuzzer compares guest memory with a shadow it keeps instead of copying it per serve, compares only up to its
 * buffers' high-water mark per serve and reuses answered requests' memory: these tests prove that a device writing
 * where it may not is still caught in the input that did it, wherever it wrote, and that every input starts from
 * zeroed memory.
 */
class QueueFuzzerTest
{
    /** The first buffer {@link QueueFuzzer#add} places after a reset: the data area's start. */
    private static final long FIRST = 0x10_0000 + 4 * 4096;
    /** Guest memory's last page: above every buffer of these tests. */
    private static final long LAST_PAGE = 0x10_0000 + 63 * 4096;
    private static final MemorySegment BYTES = MemorySegment.ofArray(new byte[64]).fill((byte)0x5A);
    /** What a misbehaving device writes: not what {@link #completeAll} writes. */
    private static final MemorySegment WILD = MemorySegment.ofArray(new byte[64]).fill((byte)0x77);

    private final QueueFuzzer fuzzer = new QueueFuzzer();

    @Test
    void aDeviceFillingTheWritableBufferItCompletesPasses()
    {
        fuzzer.reset(0, 0);
        final int head = fuzzer.add(new byte[] {1, 2, 3}, 16);
        final long[] used = fuzzer.serve(device(q -> completeAll(q, 16)));

        assertThat(used).containsExactly((long)head << 32 | 16);
        assertThat(fuzzer.written(head, 16)).containsOnly((byte)0x5A);
        fuzzer.finish();
    }

    @Test
    void aByteBeyondTheWritableBufferFailsTheServe()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        fuzzer.add(new byte[] {9}, 0); // its readable byte right after the first's writable ones

        assertThatThrownBy(() -> fuzzer.serve(device(q ->
        {
            write(q, FIRST, 17);
            completeAll(q, 16);
        }))).isInstanceOf(AssertionError.class).hasMessageContaining("0x104010 changed outside");
    }

    @Test
    void aWriteIntoAReadableBufferFailsTheServe()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[] {1, 2, 3, 4}, 16);

        assertThatThrownBy(() -> fuzzer.serve(device(q ->
        {
            write(q, FIRST + 2, 1);
            completeAll(q, 0);
        }))).isInstanceOf(AssertionError.class).hasMessageContaining("0x104002 changed outside");
    }

    @Test
    void aWriteIntoAnOutstandingBufferFailsUnlessTheDeviceIsAsynchronous()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        final VirtioDevice holding = device(q -> write(q, FIRST, 8));

        assertThatThrownBy(() -> fuzzer.serve(holding)).isInstanceOf(AssertionError.class);

        fuzzer.reset(0, 0);
        fuzzer.asynchronous(true);
        fuzzer.add(new byte[0], 16);
        assertThat(fuzzer.serve(holding)).isEmpty();
    }

    @Test
    void aWriteAboveEveryBufferFailsTheInputAtItsEnd()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        fuzzer.serve(device(q ->
        {
            write(q, LAST_PAGE + 100, 1);
            completeAll(q, 16);
        }));

        assertThatThrownBy(fuzzer::finish).isInstanceOf(AssertionError.class)
            .hasMessageContaining("above this input's buffers");
        // The next input starts clean again.
        fuzzer.reset(0, 0);
        assertThat(guestBytesAreZero()).isTrue();
        fuzzer.add(new byte[0], 16);
        fuzzer.serve(device(q -> completeAll(q, 16)));
        fuzzer.finish();
    }

    @Test
    void aWriteAboveEveryBufferThatABufferLaterCoversFailsWhenItIsAdded()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        fuzzer.serve(device(q ->
        {
            write(q, FIRST + 4096, 1);
            completeAll(q, 16);
        }));
        fuzzer.add(new byte[0], 16);

        assertThatThrownBy(() -> fuzzer.add(new byte[0], 8192)).isInstanceOf(AssertionError.class)
            .hasMessageContaining("0x105000 changed before any buffer covered it");
    }

    @Test
    void aWriteAfterTheLastServeIsFoundByFinishEvenAfterAReset()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        final DeviceQueue[] kept = new DeviceQueue[1];
        fuzzer.serve(device(q ->
        {
            kept[0] = q;
            completeAll(q, 16);
        }));
        write(kept[0], LAST_PAGE, 1); // a device thread, after the input's last serve
        fuzzer.reset(0, 0); // the driver resets the device within the input

        assertThatThrownBy(fuzzer::finish).isInstanceOf(AssertionError.class)
            .hasMessageContaining("above this input's buffers");
        fuzzer.reset(0, 0);
        assertThat(guestBytesAreZero()).isTrue();
    }

    @Test
    void aWriteIntoAnAnsweredBufferIsFoundWhenItsMemoryIsReused()
    {
        fuzzer.reset(0, 0);
        fuzzer.add(new byte[0], 16);
        final DeviceQueue[] kept = new DeviceQueue[1];
        fuzzer.serve(device(q ->
        {
            kept[0] = q;
            completeAll(q, 16);
        }));
        write(kept[0], FIRST + 3, 1); // after the request was answered

        assertThatThrownBy(() -> fuzzer.add(new byte[0], 16)).isInstanceOf(AssertionError.class)
            .hasMessageContaining("0x104003 changed after the last serve");
    }

    @Test
    void reusedMemoryAndANewInputStartZeroed()
    {
        fuzzer.reset(0, 0);
        final int first = fuzzer.add(new byte[0], 32);
        fuzzer.serve(device(q -> completeAll(q, 32)));
        assertThat(fuzzer.written(first, 32)).containsOnly((byte)0x5A);

        // Nothing outstanding: the next request's buffer is the same memory, zeroed.
        final int second = fuzzer.add(new byte[0], 32);
        assertThat(fuzzer.written(second, 32)).containsOnly((byte)0);
        fuzzer.serve(device(q -> completeAll(q, 32)));

        fuzzer.reset(0, 0);
        assertThat(guestBytesAreZero()).isTrue();
    }

    @Test
    void withAllWritesAllowedAWriteAnywhereInGuestMemoryPassesAndTheNextInputIsCheckedInFullAgain()
    {
        fuzzer.reset(0, 0);
        fuzzer.allowAllWrites();
        fuzzer.add(new byte[0], 16);
        final DeviceQueue[] kept = new DeviceQueue[1];
        fuzzer.serve(device(q ->
        {
            kept[0] = q;
            write(q, LAST_PAGE + 100, 8);
            write(q, FIRST + 200, 8);
            completeAll(q, 16);
        }));
        write(kept[0], FIRST + 3, 1); // after the request was answered: the device may write anywhere
        final int reused = fuzzer.add(new byte[0], 16);
        assertThat(fuzzer.written(reused, 16)).as("a reused buffer starts zeroed").containsOnly((byte)0);
        assertThat(fuzzer.serve(device(q -> completeAll(q, 16)))).containsExactly((long)reused << 32 | 16);
        fuzzer.finish();

        fuzzer.reset(0, 0);
        assertThat(guestBytesAreZero()).isTrue();
        fuzzer.add(new byte[0], 16);
        fuzzer.add(new byte[] {9}, 0);
        assertThatThrownBy(() -> fuzzer.serve(device(q ->
        {
            write(q, FIRST, 17);
            completeAll(q, 16);
        }))).isInstanceOf(AssertionError.class).hasMessageContaining("0x104010 changed outside");
    }

    /** Guest memory from the data area to its end holds only zeros. */
    private boolean guestBytesAreZero()
    {
        final byte[] all = new byte[(int)(LAST_PAGE + 4096 - FIRST)];
        try
        {
            fuzzer.memory().read(FIRST, MemorySegment.ofArray(all), 0, all.length);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
        for (final byte b : all)
        {
            if (b != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static void write(final DeviceQueue queue, final long gpa, final int length)
    {
        try
        {
            queue.memory().write(gpa, WILD, 0, length);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
    }

    /** Completes every chain, each with up to {@code length} bytes of 0x5A written through its writer. */
    private static void completeAll(final DeviceQueue queue, final int length)
    {
        for (DescriptorChain chain; (chain = queue.next()) != null; )
        {
            final long n = Math.min(length, chain.writer().remaining());
            try
            {
                chain.writer().write(BYTES, 0, n);
            }
            catch (final Exception e)
            {
                throw new AssertionError(e);
            }
            queue.complete(chain, n);
        }
    }

    private static VirtioDevice device(final Consumer<DeviceQueue> body)
    {
        return new OneQueueDevice(QueueFuzzer.SIZE, 0, body);
    }
}
