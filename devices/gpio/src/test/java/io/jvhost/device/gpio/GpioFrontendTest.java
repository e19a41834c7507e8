package io.jvhost.device.gpio;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.UnaryOperator;

import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link GpioDevice} with an 8-line {@link SimulatedGpioChip} behind the real vhost-user back-end, driven by the
 * in-process front-end as Linux's gpio-virtio driver drives it: config, names, directions, values, and interrupts on
 * the event queue as the test drives the simulated inputs; hostile requests too.
 */
@Timeout(60)
class GpioFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(2, 64);
    private static final Duration QUIET = Duration.ofMillis(300);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private SimulatedGpioChip chip;
    private GpioDevice device;
    private ServedDevice served;

    @BeforeEach
    void setUp() throws Exception
    {
        chip = new SimulatedGpioChip(8);
        device = new GpioDevice("gpio0", chip);
        served = ServedDevice.serve("gpio0", device, dir.resolve("gpio.sock0"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
    }

    /** A request as the driver sends it; returns the response bytes ({@code writable} of them) and the used length. */
    private static byte[] request(final FrontendQueue q, final int type, final int line, final int value,
        final int writable) throws Exception
    {
        final byte[] req = new byte[8];
        MemorySegment.ofArray(req).set(LE16, 0, (short)type);
        MemorySegment.ofArray(req).set(LE16, 2, (short)line);
        MemorySegment.ofArray(req).set(LE32, 4, value);
        return send(q, req, writable);
    }

    private static byte[] send(final FrontendQueue q, final byte[] req, final int writable) throws Exception
    {
        final FrontendQueue.Reply r = q.exchange(req, writable, WAIT);
        final byte[] withLength = Arrays.copyOf(r.bytes(), r.bytes().length + 1);
        withLength[r.bytes().length] = (byte)r.usedLength();
        return withLength;
    }

    /** Posts an event buffer for {@code line}; returns the guest address of its status byte. */
    private static long postEvent(final GuestRam ram, final FrontendQueue eventq, final int line)
    {
        final long in = ram.allocate(2, 8);
        final byte[] b = new byte[2];
        MemorySegment.ofArray(b).set(LE16, 0, (short)line);
        ram.write(in, b, 0, 2);
        final long status = ram.allocate(1, 1);
        ram.setByte(status, (byte)0xEE);
        assertThat(eventq.add(new long[] {in, status}, new int[] {2, 1}, 1, 1)).isNotNegative();
        eventq.publishAndKick();
        return status;
    }

    @Test
    void theLinuxProbeAndLineOperationsReachTheChip() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (_, fe, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("vhost-device-gpio's features, F_IRQ included")
                .isEqualTo(0x1_7100_0001L);
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, 8));
            assertThat(config.get(LE16, 0)).as("ngpio").isEqualTo((short)8);
            final int namesSize = config.get(LE32, 4);
            assertThat(namesSize).isEqualTo(40);
            final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);

            final byte[] names = request(q, GpioDevice.MSG_GET_NAMES, 0, 0, 1 + namesSize);
            assertThat(names[0]).isEqualTo((byte)GpioDevice.STATUS_OK);
            assertThat(new String(names, 1, namesSize, StandardCharsets.UTF_8))
                .isEqualTo("sim0\0sim1\0sim2\0sim3\0sim4\0sim5\0sim6\0sim7\0");
            for (int line = 0; line < 8; line++)
            {
                final byte[] dir = request(q, GpioDevice.MSG_GET_DIRECTION, line, 0, 2);
                assertThat(dir[0]).isZero();
                assertThat(dir[1]).as("line %d starts as an input", line).isEqualTo((byte)GpioChip.DIRECTION_IN);
            }
            // gpiod_direction_output: the value first, then the direction.
            assertThat(request(q, GpioDevice.MSG_SET_VALUE, 3, 1, 2)[0]).isZero();
            assertThat(request(q, GpioDevice.MSG_SET_DIRECTION, 3, GpioChip.DIRECTION_OUT, 2)[0]).isZero();
            assertThat(chip.direction(3)).isEqualTo(GpioChip.DIRECTION_OUT);
            assertThat(chip.output(3)).isEqualTo(1);
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 3, 0, 2)[1]).as("the output reads back").isEqualTo((byte)1);
            chip.drive(4, 1);
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 4, 0, 2)[1]).as("the driven input").isEqualTo((byte)1);
            assertThat(request(q, GpioDevice.MSG_SET_DIRECTION, 3, GpioChip.DIRECTION_NONE, 2)[0]).isZero();
            assertThat(request(q, GpioDevice.MSG_GET_DIRECTION, 3, 0, 2)[1]).isZero();
            assertThat(device.refusedRequests()).isZero();
            session.stop();
        });
    }

    @Test
    void edgesAndLevelsOfDrivenInputsArriveOnTheEventQueue() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);
            final FrontendQueue eventq = session.queue(GpioDevice.EVENT_QUEUE);

            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 5, GpioChip.IRQ_EDGE_RISING, 2)[0]).isZero();
            long status = postEvent(ram, eventq, 5);
            assertThat(eventq.awaitUsed(QUIET)).as("held until the line triggers").isZero();
            chip.drive(5, 1);
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(eventq.usedLength(0)).isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_VALID);

            // A falling edge does not trigger a rising-edge line; a rising edge while masked is delivered on unmask.
            chip.drive(5, 0);
            chip.drive(5, 1);
            status = postEvent(ram, eventq, 5);
            assertThat(eventq.awaitUsed(WAIT)).as("the latched edge").isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_VALID);
            status = postEvent(ram, eventq, 5);
            chip.drive(5, 0);
            assertThat(eventq.awaitUsed(QUIET)).as("falling: nothing").isZero();

            // Disabling the interrupt returns the held buffer INVALID.
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 5, GpioChip.IRQ_NONE, 2)[0]).isZero();
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_INVALID);

            // A level-high line already high fires as soon as its buffer comes, and again while it stays high.
            chip.drive(6, 1);
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 6, GpioChip.IRQ_LEVEL_HIGH, 2)[0]).isZero();
            status = postEvent(ram, eventq, 6);
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_VALID);
            status = postEvent(ram, eventq, 6);
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_VALID);
            chip.drive(6, 0);
            postEvent(ram, eventq, 6);
            assertThat(eventq.awaitUsed(QUIET)).as("low: quiet").isZero();
            assertThat(device.interruptsDelivered()).isEqualTo(4);
            session.stop();
        });
    }

    @Test
    void heldEventBuffersGoBackInvalidAtAVmStopAndTheResumedRingDeliversTheNextEdge() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);
            final FrontendQueue eventq = session.queue(GpioDevice.EVENT_QUEUE);
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 5, GpioChip.IRQ_EDGE_RISING, 2)[0]).isZero();
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 6, GpioChip.IRQ_EDGE_RISING, 2)[0]).isZero();
            final long s5 = postEvent(ram, eventq, 5);
            final long s6 = postEvent(ram, eventq, 6);
            assertThat(eventq.awaitUsed(QUIET)).as("held until the lines trigger").isZero();

            final int[] bases = session.stop();
            assertThat(bases[GpioDevice.EVENT_QUEUE]).isEqualTo(2);
            assertThat(eventq.pollUsed()).as("both held buffers are back before the base is reported").isEqualTo(2);
            assertThat(ram.getByte(s5)).isEqualTo((byte)GpioDevice.IRQ_INVALID);
            assertThat(ram.getByte(s6)).isEqualTo((byte)GpioDevice.IRQ_INVALID);

            // cont: the driver requeues the INVALID buffers of enabled lines; the interrupt types were kept.
            session.start();
            final long again = postEvent(ram, eventq, 5);
            assertThat(eventq.awaitUsed(QUIET)).as("held again").isZero();
            chip.drive(5, 1);
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(again)).isEqualTo((byte)GpioDevice.IRQ_VALID);
            session.stop();
        });
    }

    @Test
    void hostileRequestsAreAnsweredErrAndTheDeviceServesOn() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);
            final FrontendQueue eventq = session.queue(GpioDevice.EVENT_QUEUE);
            final int err = GpioDevice.STATUS_ERR;
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 8, 0, 2)[0]).as("line 8 of 8").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 0xFFFF, 0, 2)[0]).isEqualTo((byte)err);
            assertThat(request(q, 9, 0, 0, 2)[0]).as("unknown type").isEqualTo((byte)err);
            assertThat(request(q, 0, 0, 0, 2)[0]).as("type 0").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_SET_DIRECTION, 0, 7, 2)[0]).as("direction 7").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_SET_VALUE, 0, 2, 2)[0]).as("value 2").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 0, 0x10, 2)[0]).as("irq 0x10").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 0, 0x5, 2)[0]).as("edge and level").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 0, GpioChip.IRQ_EDGE_RISING, 2)[0]).isZero();
            assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 0, GpioChip.IRQ_EDGE_FALLING, 2)[0])
                .as("changed without NONE in between").isEqualTo((byte)err);
            assertThat(send(q, new byte[] {5, 0, 1}, 2)[0]).as("a 3-byte request").isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_GET_NAMES, 0, 0, 10)[0]).as("names do not fit")
                .isEqualTo((byte)err);
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 0, 0, 1)[0]).as("no room for the value")
                .isEqualTo((byte)err);
            final byte[] none = request(q, GpioDevice.MSG_GET_VALUE, 0, 0, 0);
            assertThat(none[none.length - 1]).as("no writable byte: returned empty").isZero();

            long status = postEvent(ram, eventq, 3);
            assertThat(eventq.awaitUsed(WAIT)).as("line 3 is not armed").isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_INVALID);
            status = postEvent(ram, eventq, 99);
            assertThat(eventq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(status)).as("line 99").isEqualTo((byte)GpioDevice.IRQ_INVALID);
            postEvent(ram, eventq, 0);
            status = postEvent(ram, eventq, 0);
            assertThat(eventq.awaitUsed(WAIT)).as("a second buffer for line 0").isEqualTo(1);
            assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_INVALID);
            assertThat(device.refusedRequests()).isEqualTo(16);

            chip.drive(0, 1);
            assertThat(eventq.awaitUsed(WAIT)).as("served on: the first buffer of line 0 fires").isEqualTo(1);
            assertThat(request(q, GpioDevice.MSG_GET_VALUE, 0, 0, 2)[1]).isEqualTo((byte)1);
            session.stop();
        });
    }

    @Test
    void theControlSocketDrivesLinesAndReportsThem() throws Exception
    {
        final Path control = dir.resolve("gpio.ctl");
        try (GpioControlServer server = GpioControlServer.listen("gpio0", control, chip);
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(control)))
        {
            served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);
                final FrontendQueue eventq = session.queue(GpioDevice.EVENT_QUEUE);
                assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 2, GpioChip.IRQ_EDGE_BOTH, 2)[0]).isZero();
                assertThat(request(q, GpioDevice.MSG_SET_VALUE, 1, 1, 2)[0]).isZero();
                assertThat(request(q, GpioDevice.MSG_SET_DIRECTION, 1, GpioChip.DIRECTION_OUT, 2)[0]).isZero();
                final long status = postEvent(ram, eventq, 2);

                final OutputStream out = Channels.newOutputStream(client);
                final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                    StandardCharsets.US_ASCII));
                final String[][] dialogue = {
                    {"get 1", "1 dir=out value=1 irq=none"},
                    {"# a comment", null},
                    {"set 2 1", "ok"},
                    {"get 2", "2 dir=in value=1 irq=edge-both"},
                    {"set 9 1", "error line must be 0..7 and level 0 or 1, got 9 and 1"},
                    {"set 2 5", "error line must be 0..7 and level 0 or 1, got 2 and 5"},
                    {"set 2", "error set needs a line and a level: 'set 2'"},
                    {"get x", "error not a number in 'get x'"},
                    {"toggle 2", "error unknown command 'toggle': expected set or get"},
                };
                for (final String[] step : dialogue)
                {
                    out.write((step[0] + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    if (null != step[1])
                    {
                        assertThat(in.readLine()).as("answer to '%s'", step[0]).isEqualTo(step[1]);
                    }
                }
                assertThat(eventq.awaitUsed(WAIT)).as("the driven edge").isEqualTo(1);
                assertThat(ram.getByte(status)).isEqualTo((byte)GpioDevice.IRQ_VALID);
                out.write(("x".repeat(GpioControlServer.MAX_LINE + 1) + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).isEqualTo("error line longer than 256 bytes; closing");
                assertThat(in.readLine()).isNull();
                session.stop();
            });
        }
        assertThat(control).doesNotExist();
    }

    @Test
    void listensAgainForTheNextFrontEndWithInterruptsDisarmed() throws Exception
    {
        for (final int vm : new int[] {0, 1})
        {
            served.drive(4L << 20, 1, SESSION, (_, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(GpioDevice.REQUEST_QUEUE);
                assertThat(request(q, GpioDevice.MSG_IRQ_TYPE, 1, GpioChip.IRQ_EDGE_RISING, 2)[0])
                    .as("front-end %d arms line 1 from NONE", vm).isZero();
            });
            assertThat(Await.until(() -> chip.irqType(1) == 0, WAIT)).as("disarmed by the reset").isTrue();
        }
    }
}
