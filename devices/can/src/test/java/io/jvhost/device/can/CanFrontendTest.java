package io.jvhost.device.can;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.can.wire.CanMessage;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two {@link CanDevice}s on one {@link VirtualCanBus}, each behind its own vhost-user back-end (socket), driven by two
 * in-process front-ends as Linux's virtio_can driver drives them: RX buffers of 80 bytes posted up front, a control
 * request (2 bytes out, 1 in) to start, TX requests of header and payload with a 1-byte result. Classic, extended,
 * RTR and FD frames cross the bus both ways; hostile requests are answered NOT_OK and the next is served.
 */
@Timeout(60)
class CanFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long ALL = VirtioSession.DEFAULT_DRIVER_FEATURES;
    private static final long CLASSIC_ONLY = ALL & ~(1L << CanDevice.F_CAN_FD) & ~(1L << CanDevice.F_RTR_FRAMES);

    @TempDir
    Path dir;

    private final VirtualCanBus bus = new VirtualCanBus("test");
    private final List<ServedDevice> served = new ArrayList<>();
    private final List<AutoCloseable> open = new ArrayList<>();

    /** One guest: its device, RAM, front-end and session. */
    private final class Guest
    {
        final CanDevice device;
        final GuestRam ram;
        final VirtioSession session;
        final VhostUserFrontend fe;
        final FrontendQueue txq;
        final FrontendQueue rxq;
        final FrontendQueue ctrlq;
        final java.util.Map<Integer, Long> rxBuffers = new java.util.HashMap<>();
        final java.util.ArrayDeque<byte[]> received = new java.util.ArrayDeque<>();

        Guest(final int index, final long driverFeatures) throws Exception
        {
            device = new CanDevice("can" + index, bus.join());
            final ServedDevice daemon = ServedDevice.serve("can" + index, device, dir.resolve("can.sock" + index));
            served.add(daemon);
            ram = GuestRam.create(4L << 20, 1);
            open.add(ram);
            fe = daemon.connect();
            open.add(fe);
            session = VirtioSession.builder(fe, ram).queues(3, CanDevice.QUEUE_SIZE).driverFeatures(driverFeatures)
                .build();
            open.add(session);
            session.start();
            txq = session.queue(CanDevice.TX_QUEUE);
            rxq = session.queue(CanDevice.RX_QUEUE);
            ctrlq = session.queue(CanDevice.CONTROL_QUEUE);
        }

        void postRx(final int count, final int size)
        {
            for (int i = 0; i < count; i++)
            {
                final long gpa = ram.allocate(size, 8);
                ram.fill(gpa, size, (byte)0xEE);
                final int head = rxq.add(new long[] {gpa}, new int[] {size}, 0, 1);
                assertThat(head).isNotNegative();
                rxBuffers.put(head, gpa);
            }
            rxq.publishAndKick();
        }

        int control(final byte[] request) throws Exception
        {
            return request(ctrlq, request, 1);
        }

        int send(final int canId, final int flags, final byte[] payload) throws Exception
        {
            return request(txq, txMessage(CanDevice.MSG_TX, canId, flags, payload.length, payload), 1);
        }

        /**
         * One request (its bytes in one readable buffer, none when empty; {@code writable} bytes for the answer).
         *
         * @return the answer's first byte, or -1 when the chain came back with nothing written.
         */
        int request(final FrontendQueue q, final byte[] request, final int writable) throws Exception
        {
            final FrontendQueue.Reply r = q.exchange(request, writable, WAIT);
            if (r.usedLength() == 0)
            {
                return -1;
            }
            assertThat(r.usedLength()).as("the result byte").isEqualTo(1);
            return r.bytes()[0] & 0xFF;
        }

        /**
         * Waits for the next RX buffer the device filled.
         *
         * @return its bytes (the used length of them).
         */
        byte[] awaitRx() throws Exception
        {
            if (received.isEmpty())
            {
                final int n = rxq.awaitUsed(WAIT);
                assertThat(n).as("%s: received frames", device).isPositive();
                for (int i = 0; i < n; i++)
                {
                    received.add(ram.read(rxBuffers.get(rxq.usedHead(i)), rxq.usedLength(i)));
                }
            }
            return received.remove();
        }

        int status() throws Exception
        {
            return MemorySegment.ofArray(fe.getConfig(0, 2)).get(LE16, 0) & 0xFFFF;
        }
    }

    static byte[] txMessage(final int type, final int canId, final int flags, final int length, final byte[] payload)
    {
        final byte[] b = new byte[CanMessage.HEADER_SIZE + payload.length];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE16, 0, (short)type);
        s.set(LE16, 2, (short)length);
        s.set(LE32, 8, flags);
        s.set(LE32, 12, canId);
        System.arraycopy(payload, 0, b, CanMessage.HEADER_SIZE, payload.length);
        return b;
    }

    static byte[] ctrl(final int type)
    {
        final byte[] b = new byte[2];
        MemorySegment.ofArray(b).set(LE16, 0, (short)type);
        return b;
    }

    private static void assertRx(final byte[] rx, final int canId, final int flags, final byte[] payload)
    {
        final MemorySegment s = MemorySegment.ofArray(rx);
        assertThat(rx.length).as("used length: header and payload").isEqualTo(CanMessage.HEADER_SIZE + payload.length);
        assertThat(s.get(LE16, 0) & 0xFFFF).as("msg_type RX").isEqualTo(CanDevice.MSG_RX);
        assertThat(s.get(LE16, 2) & 0xFFFF).as("length").isEqualTo(payload.length);
        assertThat(s.get(LE32, 4)).as("reserved bytes").isZero();
        assertThat(s.get(LE32, 8)).as("flags").isEqualTo(flags);
        assertThat(s.get(LE32, 12)).as("can_id").isEqualTo(canId);
        final byte[] data = new byte[payload.length];
        System.arraycopy(rx, CanMessage.HEADER_SIZE, data, 0, payload.length);
        assertThat(data).as("payload").isEqualTo(payload);
    }

    private static byte[] bytes(final int n, final int seed)
    {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)(seed + 7 * i);
        }
        return b;
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (int i = open.size() - 1; i >= 0; i--)
        {
            open.get(i).close();
        }
        served.forEach(ServedDevice::close);
    }

    @Test
    void twoGuestsOnTheVirtualBusExchangeClassicExtendedRtrAndFdFrames() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest b = new Guest(1, ALL);
        assertThat(a.session.offeredFeatures() & 0xFF).as("CAN_CLASSIC, CAN_FD, RTR_FRAMES; no LATE_TX_ACK")
            .isEqualTo(0b111);
        assertThat(a.session.offeredFeatures() & 1L << VirtioFeatures.VERSION_1).isNotZero();
        assertThat(a.status()).as("config status").isZero();
        a.postRx(4, CanMessage.MAX_SIZE);
        b.postRx(4, CanMessage.MAX_SIZE);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);

        final byte[] jv = "JVHOST".getBytes(StandardCharsets.US_ASCII);
        assertThat(a.send(0x123, 0, jv)).isEqualTo(CanDevice.RESULT_OK);
        assertRx(b.awaitRx(), 0x123, 0, jv);

        final byte[] fd = bytes(64, 3);
        assertThat(a.send(0x1ABC_DEF0, CanFrame.FLAG_EXTENDED | CanFrame.FLAG_FD, fd)).isEqualTo(CanDevice.RESULT_OK);
        assertRx(b.awaitRx(), 0x1ABC_DEF0, CanFrame.FLAG_EXTENDED | CanFrame.FLAG_FD, fd);

        // B answers on the same bus; an RTR frame carries its DLC as length and no payload.
        assertThat(b.send(0x7FF, 0, bytes(8, 9))).isEqualTo(CanDevice.RESULT_OK);
        assertRx(a.awaitRx(), 0x7FF, 0, bytes(8, 9));
        assertThat(b.request(b.txq, txMessage(CanDevice.MSG_TX, 0x55, CanFrame.FLAG_RTR, 4, new byte[4]), 1))
            .isEqualTo(CanDevice.RESULT_OK);
        assertRx(a.awaitRx(), 0x55, CanFrame.FLAG_RTR, new byte[4]);
        assertThat(b.send(0x10, CanFrame.FLAG_FD, bytes(12, 1))).isEqualTo(CanDevice.RESULT_OK);
        assertRx(a.awaitRx(), 0x10, CanFrame.FLAG_FD, bytes(12, 1));

        // The bus delivers before the sender's result is written: nothing else is on its way.
        assertThat(a.device.pending() + b.device.pending()).as("frames waiting for buffers").isZero();
        assertThat(a.rxq.pollUsed() + b.rxq.pollUsed()).as("no frame came back to its sender").isZero();
        assertThat(a.device.transmitted()).isEqualTo(2);
        assertThat(b.device.transmitted()).isEqualTo(3);
        assertThat(a.device.delivered()).isEqualTo(3);
        assertThat(b.device.delivered()).isEqualTo(2);
        assertThat(bus.frames()).isEqualTo(5);
        assertThat(a.device.refusedRequests() + b.device.refusedRequests()).isZero();
    }

    @Test
    void framesWaitForRxBuffersInOrderAndAStoppedControllerNeitherSendsNorReceives() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest b = new Guest(1, ALL);
        assertThat(a.send(0x1, 0, new byte[] {1})).as("TX before START").isEqualTo(CanDevice.RESULT_NOT_OK);
        assertThat(bus.frames()).isZero();
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(a.send(0x2, 0, new byte[] {2})).as("B is stopped: the frame is on the bus, B drops it")
            .isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).as("START when started: already there")
            .isEqualTo(CanDevice.RESULT_OK);
        for (int i = 0; i < 5; i++)
        {
            assertThat(a.send(0x100 + i, 0, new byte[] {(byte)i})).isEqualTo(CanDevice.RESULT_OK);
        }
        assertThat(Await.until(() -> b.device.pending() == 5, WAIT)).as("five frames wait for buffers").isTrue();
        b.postRx(5, CanMessage.MAX_SIZE);
        for (int i = 0; i < 5; i++)
        {
            assertRx(b.awaitRx(), 0x100 + i, 0, new byte[] {(byte)i});
        }

        assertThat(b.control(ctrl(CanDevice.CTRL_STOP))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.device.started()).isFalse();
        b.postRx(1, CanMessage.MAX_SIZE);
        assertThat(a.send(0x200, 0, new byte[] {9})).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.device.pending()).as("stopped: nothing received").isZero();
        assertThat(b.rxq.pollUsed()).isZero();
        assertThat(b.send(0x201, 0, new byte[] {9})).as("stopped: TX refused").isEqualTo(CanDevice.RESULT_NOT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_STOP))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(a.send(0x202, 0, new byte[] {7})).isEqualTo(CanDevice.RESULT_OK);
        assertRx(b.awaitRx(), 0x202, 0, new byte[] {7});
    }

    @Test
    void aGuestWithoutFdGetsClassicFramesOnlyAndItsFdFramesAreRefused() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest c = new Guest(1, CLASSIC_ONLY);
        a.postRx(2, CanMessage.MAX_SIZE);
        c.postRx(1, CanMessage.HEADER_SIZE + 8);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(c.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);

        assertThat(a.send(0x300, CanFrame.FLAG_FD, bytes(16, 5))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(Await.until(() -> c.device.filtered() == 1, WAIT)).as("the FD frame dropped for C").isTrue();
        assertThat(a.send(0x301, CanFrame.FLAG_RTR, new byte[0])).isEqualTo(CanDevice.RESULT_OK);
        assertThat(Await.until(() -> c.device.filtered() == 2, WAIT)).as("RTR not negotiated by C").isTrue();
        assertThat(a.send(0x302, 0, bytes(8, 2))).isEqualTo(CanDevice.RESULT_OK);
        assertRx(c.awaitRx(), 0x302, 0, bytes(8, 2));

        assertThat(c.send(0x303, CanFrame.FLAG_FD, bytes(8, 1))).as("FD not negotiated")
            .isEqualTo(CanDevice.RESULT_NOT_OK);
        assertThat(c.request(c.txq, txMessage(CanDevice.MSG_TX, 0x304, CanFrame.FLAG_RTR, 0, new byte[0]), 1))
            .as("RTR not negotiated").isEqualTo(CanDevice.RESULT_NOT_OK);
        assertThat(c.send(0x305, 0, bytes(3, 1))).isEqualTo(CanDevice.RESULT_OK);
        assertRx(a.awaitRx(), 0x305, 0, bytes(3, 1));
        assertThat(a.device.pending()).as("only the valid frame reached A").isZero();
        assertThat(a.rxq.pollUsed()).isZero();
    }

    @Test
    void hostileRequestsAreAnsweredNotOkAndNeverReachTheBus() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest b = new Guest(1, ALL);
        b.postRx(2, CanMessage.MAX_SIZE);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);

        final FrontendQueue tx = a.txq;
        final int notOk = CanDevice.RESULT_NOT_OK;
        assertThat(a.request(tx, new byte[15], 1)).as("shorter than the header").isEqualTo(notOk);
        assertThat(a.request(tx, new byte[0], 1)).as("no message").isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(CanDevice.MSG_RX, 1, 0, 1, new byte[1]), 1)).as("msg_type RX")
            .isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(0x7777, 1, 0, 1, new byte[1]), 1)).as("unknown msg_type").isEqualTo(notOk);
        assertThat(a.send(1, 0x1000, new byte[1])).as("undefined flag").isEqualTo(notOk);
        assertThat(a.send(1, 0, new byte[9])).as("classic with 9 bytes").isEqualTo(notOk);
        assertThat(a.send(1, CanFrame.FLAG_FD, new byte[65])).as("FD with 65 bytes").isEqualTo(notOk);
        assertThat(a.send(1, CanFrame.FLAG_FD, new byte[13])).as("FD with 13 bytes (no DLC)").isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(CanDevice.MSG_TX, 1, 0, 8, new byte[4]), 1))
            .as("length 8, 4 bytes of payload").isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(CanDevice.MSG_TX, 1, CanFrame.FLAG_RTR, 9, new byte[0]), 1))
            .as("RTR with DLC 9").isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(CanDevice.MSG_TX, 1, CanFrame.FLAG_RTR | CanFrame.FLAG_FD, 0,
            new byte[0]), 1)).as("RTR with FD").isEqualTo(notOk);
        assertThat(a.send(0x800, 0, new byte[1])).as("standard id of 12 bits").isEqualTo(notOk);
        assertThat(a.send(0x2000_0000, CanFrame.FLAG_EXTENDED, new byte[1])).as("extended id of 30 bits")
            .isEqualTo(notOk);
        assertThat(a.send(0x8000_0123, 0, new byte[1])).as("SocketCAN's EFF flag in can_id").isEqualTo(notOk);
        assertThat(a.request(tx, txMessage(CanDevice.MSG_TX, 1, 0, 1, new byte[1]), 0))
            .as("no room for the result: returned empty").isEqualTo(-1);
        assertThat(a.control(new byte[1])).as("control shorter than its type").isEqualTo(notOk);
        assertThat(a.control(ctrl(0x0203))).as("unknown control").isEqualTo(notOk);
        assertThat(a.request(a.ctrlq, ctrl(CanDevice.CTRL_STOP), 0)).as("control without room for the result")
            .isEqualTo(-1);
        assertThat(a.device.started()).as("a control without a result changes nothing").isTrue();
        assertThat(bus.frames()).as("nothing reached the bus").isZero();
        assertThat(a.device.refusedRequests()).isEqualTo(18);

        assertThat(a.send(0x1FFF_FFFF, CanFrame.FLAG_EXTENDED, bytes(2, 4))).as("served on")
            .isEqualTo(CanDevice.RESULT_OK);
        assertRx(b.awaitRx(), 0x1FFF_FFFF, CanFrame.FLAG_EXTENDED, bytes(2, 4));
    }

    @Test
    void rxBuffersTooSmallOrReadableAreReturnedEmptyAndTheFrameWaits() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest b = new Guest(1, ALL);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(a.send(0x42, 0, bytes(2, 0))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(Await.until(() -> b.device.pending() == 1, WAIT)).isTrue();

        // FD negotiated: a buffer needs 80 bytes, even for a short classic frame.
        b.postRx(1, CanMessage.HEADER_SIZE + 8);
        assertThat(b.rxq.awaitUsed(WAIT)).isEqualTo(1);
        assertThat(b.rxq.usedLength(0)).as("20-byte buffer returned empty").isZero();
        final long readable = b.ram.allocate(CanMessage.MAX_SIZE, 8);
        assertThat(b.rxq.add(new long[] {readable, readable}, new int[] {4, CanMessage.MAX_SIZE}, 1, 1))
            .isNotNegative();
        b.rxq.publishAndKick();
        assertThat(b.rxq.awaitUsed(WAIT)).isEqualTo(1);
        assertThat(b.rxq.usedLength(0)).as("buffer with a readable part returned empty").isZero();
        assertThat(b.device.pending()).as("the frame still waits").isEqualTo(1);
        b.postRx(1, CanMessage.MAX_SIZE);
        assertRx(b.awaitRx(), 0x42, 0, bytes(2, 0));
    }

    @Test
    void aFullFifoDropsNewFramesAsOverrunsAndAResetClearsIt() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        final Guest b = new Guest(1, ALL);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(b.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        for (int i = 0; i < CanDevice.FIFO_FRAMES + 3; i++)
        {
            assertThat(a.send(i & 0x7FF, 0, new byte[] {(byte)i})).isEqualTo(CanDevice.RESULT_OK);
        }
        assertThat(b.device.pending()).isEqualTo(CanDevice.FIFO_FRAMES);
        assertThat(b.device.overruns()).isEqualTo(3);
        b.postRx(1, CanMessage.MAX_SIZE);
        assertRx(b.awaitRx(), 0, 0, new byte[] {0});

        b.session.stop();
        b.session.reset(CanDevice.CONFIG_SIZE);
        assertThat(Await.until(() -> b.device.pending() == 0 && !b.device.started(), WAIT))
            .as("the device reset: stopped, FIFO empty").isTrue();
    }

    @Test
    void theConfigStatusReportsBusOffWithAConfigChangeAndStartClearsIt() throws Exception
    {
        final Guest a = new Guest(0, ALL);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        a.device.busOff();
        final byte[] config = a.session.awaitConfigChange(1, WAIT, CanDevice.CONFIG_SIZE);
        assertThat(MemorySegment.ofArray(config).get(LE16, 0)).as("status after the config change")
            .isEqualTo((short)CanDevice.S_CTRL_BUSOFF);
        assertThat(a.device.started()).isFalse();
        assertThat(a.send(0x1, 0, new byte[1])).as("bus-off: stopped").isEqualTo(CanDevice.RESULT_NOT_OK);
        assertThat(a.control(ctrl(CanDevice.CTRL_START))).isEqualTo(CanDevice.RESULT_OK);
        assertThat(a.status()).isZero();
        assertThat(a.send(0x1, 0, new byte[1])).isEqualTo(CanDevice.RESULT_OK);
    }
}
