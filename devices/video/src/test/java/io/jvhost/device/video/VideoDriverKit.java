package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The virtio-video driver's side for the front-end tests: commands built and posted on a queue with a writable reply,
 * and the answers collected in the order the device used them.
 */
final class VideoDriverKit
{
    static final Duration WAIT = Duration.ofSeconds(10);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VideoDriverKit()
    {
    }

    /** A command in flight: its head and where its answer goes. */
    record Posted(int head, long out)
    {
    }

    /** An answer: the used length and the response's bytes. */
    record Answer(int head, int usedLength, MemorySegment bytes)
    {
        int type()
        {
            return bytes.get(LE32, 0);
        }

        long timestamp()
        {
            return bytes.get(LE64, 8);
        }

        int flags()
        {
            return bytes.get(LE32, 16);
        }

        int size()
        {
            return bytes.get(LE32, 20);
        }

        int u32(final long offset)
        {
            return bytes.get(LE32, offset);
        }
    }

    /**
     * Posts {@code command} with a device-writable reply of {@code replyBytes} (filled with 0xEE), one kick.
     */
    static Posted post(final GuestRam ram, final FrontendQueue q, final byte[] command,
        final int replyBytes) throws Exception
    {
        final long in = ram.allocate(command.length, 8);
        ram.write(in, command, 0, command.length);
        final long out = ram.allocate(replyBytes, 8);
        ram.fill(out, replyBytes, (byte)0xEE);
        final int head = q.add(new long[] {in, out}, new int[] {command.length, replyBytes}, 1, 1);
        assertThat(head).isNotNegative();
        q.publishAndKick();
        return new Posted(head, out);
    }

    /**
     * Waits for {@code n} answers and returns them in the order the device used them.
     */
    static List<Answer> answers(final GuestRam ram, final FrontendQueue q, final List<Posted> posted,
        final int n, final int replyBytes) throws Exception
    {
        final List<Answer> got = new ArrayList<>();
        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (got.size() < n && System.nanoTime() < deadline)
        {
            final int used = q.awaitUsed(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            for (int i = 0; i < used; i++)
            {
                final int head = q.usedHead(i);
                final Posted p = posted.stream().filter(x -> x.head() == head).reduce((a, b) -> b).orElseThrow();
                got.add(new Answer(head, q.usedLength(i), MemorySegment.ofArray(ram.read(p.out(), replyBytes))));
            }
        }
        assertThat(got).as("answers").hasSize(n);
        return got;
    }

    static byte[] cmd(final int size, final int type, final int stream, final int... words)
    {
        final byte[] b = new byte[size];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, type);
        s.set(LE32, 4, stream);
        for (int i = 0; i < words.length; i++)
        {
            s.set(LE32, 8 + 4L * i, words[i]);
        }
        return b;
    }

    static byte[] queue(final int stream, final int queueType, final int resource, final long timestamp,
        final int dataSize)
    {
        final byte[] b = cmd(64, VideoDevice.CMD_RESOURCE_QUEUE, stream, queueType, resource);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE64, 16, timestamp);
        s.set(LE32, 24, 1);
        s.set(LE32, 28, dataSize);
        return b;
    }
}
