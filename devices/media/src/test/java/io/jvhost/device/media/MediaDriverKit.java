package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Map;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The virtio-media driver's side for the front-end tests: commands written into guest RAM and sent on the commandq,
 * their answers read back, V4L2 structures built, event buffers posted and DQBUF events collected.
 */
final class MediaDriverKit
{
    static final Duration WAIT = Duration.ofSeconds(10);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MediaDriverKit()
    {
    }

    record Answer(int usedLength, MemorySegment bytes)
    {
        int status()
        {
            return bytes.get(LE32, 0);
        }

        int u32(final long offset)
        {
            return bytes.get(LE32, offset);
        }

        long u64(final long offset)
        {
            return bytes.get(LE64, offset);
        }
    }

    static Answer send(final GuestRam ram, final FrontendQueue q, final byte[] command, final int writable)
        throws Exception
    {
        final long in = ram.allocate(Math.max(1, command.length), 8);
        ram.write(in, command, 0, command.length);
        final long out = ram.allocate(Math.max(1, writable), 8);
        ram.fill(out, Math.max(1, writable), (byte)0xEE);
        final int head = writable == 0
            ? q.add(new long[] {in}, new int[] {command.length}, 1, 0)
            : q.add(new long[] {in, out}, new int[] {command.length, writable}, 1, 1);
        assertThat(head).isNotNegative();
        q.publishAndKick();
        assertThat(q.awaitUsed(WAIT)).as("one answer").isEqualTo(1);
        assertThat(q.usedHead(0)).isEqualTo(head);
        return new Answer(q.usedLength(0), MemorySegment.ofArray(ram.read(out, Math.max(1, writable))));
    }

    static byte[] header(final int cmd, final int size)
    {
        final byte[] b = new byte[size];
        MemorySegment.ofArray(b).set(LE32, 0, cmd);
        return b;
    }

    static byte[] ioctl(final int session, final int code, final byte[] payload)
    {
        final byte[] b = header(MediaDevice.CMD_IOCTL, 16 + payload.length);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 8, session);
        s.set(LE32, 12, code);
        System.arraycopy(payload, 0, b, 16, payload.length);
        return b;
    }

    static Answer ioctl(final GuestRam ram, final FrontendQueue q, final int session, final int code,
        final byte[] payload) throws Exception
    {
        final int size = V4l2.payloadSize(code);
        final boolean reads = size >= 0 && (V4l2.direction(code) & V4l2.DIR_READ) != 0;
        return send(ram, q, ioctl(session, code, payload), 8 + (reads ? size : 0));
    }

    static byte[] u32s(final int size, final int... values)
    {
        final byte[] b = new byte[size];
        for (int i = 0; i < values.length; i++)
        {
            MemorySegment.ofArray(b).set(LE32, 4L * i, values[i]);
        }
        return b;
    }

    static byte[] format(final int width, final int height, final int pixelformat)
    {
        final byte[] b = new byte[208];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        s.set(LE32, 8, width);
        s.set(LE32, 12, height);
        s.set(LE32, 16, pixelformat);
        return b;
    }

    /**
     * QBUF of buffer {@code index}, USERPTR, {@code length} bytes, followed by the SG entries {@code sg} (start, len
     * pairs).
     */
    static byte[] qbuf(final int index, final long userptr, final int length, final long... sg)
    {
        final byte[] b = new byte[88 + sg.length / 2 * 16];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, index);
        s.set(LE32, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        s.set(LE32, 60, V4l2.MEMORY_USERPTR);
        s.set(LE64, 64, userptr);
        s.set(LE32, 72, length);
        for (int i = 0; i < sg.length / 2; i++)
        {
            s.set(LE64, 88 + 16L * i, sg[2 * i]);
            s.set(LE32, 88 + 16L * i + 8, (int)sg[2 * i + 1]);
        }
        return b;
    }

    static void postEventBuffers(final Map<Integer, Long> eventBuffers, final GuestRam ram,
        final FrontendQueue eventq, final int count)
    {
        for (int i = 0; i < count; i++)
        {
            final long gpa = ram.allocate(MediaDevice.DQBUF_EVENT_SIZE, 8);
            final int head = eventq.add(new long[] {gpa}, new int[] {MediaDevice.DQBUF_EVENT_SIZE}, 0, 1);
            assertThat(head).isNotNegative();
            eventBuffers.put(head, gpa);
        }
        eventq.publishAndKick();
    }

    /**
     * @return the next {@code count} events, in the order the device returned them.
     */
    static Answer[] awaitEvents(final Map<Integer, Long> eventBuffers, final GuestRam ram,
        final FrontendQueue eventq, final int count) throws Exception
    {
        final Answer[] events = new Answer[count];
        int got = 0;
        while (got < count)
        {
            final int n = eventq.awaitUsed(WAIT);
            assertThat(n).as("events after %d of %d", got, count).isPositive();
            for (int i = 0; i < n; i++)
            {
                final long gpa = eventBuffers.get(eventq.usedHead(i));
                events[got++] = new Answer(eventq.usedLength(i),
                    MemorySegment.ofArray(ram.read(gpa, MediaDevice.DQBUF_EVENT_SIZE)));
            }
        }
        return events;
    }
}
