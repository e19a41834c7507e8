package io.jvhost.device.can;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.can.wire.CanMessage;
import io.jvhost.device.can.wire.SocketCanFrame;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SocketCanPort}'s frame I/O on a {@code SOCK_SEQPACKET} socket pair standing in for the raw CAN socket (one
 * {@code can_frame} or {@code canfd_frame} per read and write, as PF_CAN gives them): the frames it writes, the
 * frames it reads (through the device's watch, behind the real back-end), bus-off error frames, and what it says when
 * the host has no such interface or no SocketCAN at all (this machine's kernel has no CAN support).
 */
@Timeout(60)
class SocketCanPortTest
{
    private static final int SOCK_SEQPACKET = 5;
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(128, 8);
    private int bus;
    private SocketCanPort port;

    @BeforeEach
    void pair() throws Exception
    {
        final MemorySegment fds = arena.allocate(8, 4);
        LibC.socketpair(LibC.AF_UNIX, SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0, fds);
        final int near = fds.get(ValueLayout.JAVA_INT, 0);
        bus = fds.get(ValueLayout.JAVA_INT, 4);
        LibC.setNonBlocking(near, true);
        port = new SocketCanPort("pair0", near, true);
    }

    @AfterEach
    void close()
    {
        port.close();
        LibC.closeQuietly(bus);
        arena.close();
    }

    /** What the port hands its device. */
    private static final class Recorder implements CanPort.Receiver
    {
        final List<String> frames = new ArrayList<>();
        int busOffs;

        @Override
        public void receive(final CanFrame frame)
        {
            frames.add(frame.toString());
        }

        @Override
        public void busOff()
        {
            busOffs++;
        }
    }

    /** Reads one frame the port wrote. */
    private MemorySegment readBus(final int expectedSize)
    {
        final long n = LibC.readRaw(bus, buf.address(), buf.byteSize());
        assertThat(n).as("one frame of %d bytes", expectedSize).isEqualTo(expectedSize);
        return buf;
    }

    private void writeBus(final int rawId, final int length, final int size, final int seed)
    {
        buf.fill((byte)0);
        buf.set(ValueLayout.JAVA_INT_UNALIGNED, 0, rawId);
        buf.set(ValueLayout.JAVA_BYTE, 4, (byte)length);
        for (int i = 0; i < length && i < size - 8; i++)
        {
            buf.set(ValueLayout.JAVA_BYTE, 8 + i, (byte)(seed + i));
        }
        assertThat(LibC.writeRaw(bus, buf.address(), size)).isEqualTo(size);
    }

    @Test
    void framesAreWrittenAsCanFrameAndCanfdFrameInHostOrderWithSocketCansIdFlags()
    {
        assertThat(port.transmit(new CanFrame().set(0x123, 0, new byte[] {1, 2, 3}))).isZero();
        MemorySegment f = readBus(SocketCanFrame.CAN_MTU);
        assertThat(f.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(0x123);
        assertThat(f.get(ValueLayout.JAVA_BYTE, 4)).isEqualTo((byte)3);
        assertThat(f.asSlice(8, 8).toArray(ValueLayout.JAVA_BYTE)).containsExactly(1, 2, 3, 0, 0, 0, 0, 0);

        assertThat(port.transmit(new CanFrame().set(0x1234567, CanFrame.FLAG_EXTENDED | CanFrame.FLAG_RTR, 6,
            MemorySegment.ofArray(new byte[6]), 0))).isZero();
        f = readBus(SocketCanFrame.CAN_MTU);
        assertThat(f.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).as("EFF | RTR | id")
            .isEqualTo(0x8000_0000 | 0x4000_0000 | 0x1234567);
        assertThat(f.get(ValueLayout.JAVA_BYTE, 4)).as("the RTR frame's DLC").isEqualTo((byte)6);

        final byte[] data = new byte[48];
        for (int i = 0; i < data.length; i++)
        {
            data[i] = (byte)(0x40 + i);
        }
        assertThat(port.transmit(new CanFrame().set(0x7FF, CanFrame.FLAG_FD, data))).isZero();
        f = readBus(SocketCanFrame.CANFD_MTU);
        assertThat(f.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(0x7FF);
        assertThat(f.get(ValueLayout.JAVA_BYTE, 4)).isEqualTo((byte)48);
        assertThat(f.get(ValueLayout.JAVA_BYTE, 5)).as("CANFD_FDF").isEqualTo((byte)SocketCanFrame.CANFD_FDF);
        assertThat(f.asSlice(8, 48).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
        assertThat(f.asSlice(56, 16).toArray(ValueLayout.JAVA_BYTE)).as("the rest zero").containsOnly(0);
    }

    @Test
    void aRefusedWriteIsTheKernelsErrno()
    {
        LibC.closeQuietly(bus);
        bus = -1;
        assertThat(port.transmit(new CanFrame().set(0x1, 0, new byte[1]))).isEqualTo(Errno.EPIPE);
    }

    @Test
    void readFramesReachTheReceiverAndBusOffAndOddReadsAreRecognised()
    {
        final Recorder r = new Recorder();
        port.bind(r);
        writeBus(0x321, 2, SocketCanFrame.CAN_MTU, 0x10);
        writeBus(0x8000_0000 | 0x1ABCDEF, 64, SocketCanFrame.CANFD_MTU, 0x20);
        writeBus(0x4000_0000 | 0x12, 3, SocketCanFrame.CAN_MTU, 0);
        writeBus(0x2000_0000 | SocketCanFrame.CAN_ERR_BUSOFF, 8, SocketCanFrame.CAN_MTU, 0);
        writeBus(0x2000_0000 | 0x4, 8, SocketCanFrame.CAN_MTU, 0);
        writeBus(0x5, 9, SocketCanFrame.CAN_MTU, 0);
        writeBus(0x6, 13, SocketCanFrame.CANFD_MTU, 0);
        writeBus(0x7, 1, 20, 0);
        port.drain();
        assertThat(r.frames).containsExactly("id=0x321 len=2 data=1011",
            "id=0x1abcdef EXT FD len=64 data=" + hex(0x20, 64), "id=0x12 RTR len=3 data=");
        assertThat(r.busOffs).as("one bus-off error frame; the other error frame ignored").isEqualTo(1);
    }

    private static String hex(final int seed, final int n)
    {
        final StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            s.append(String.format("%02x", (seed + i) & 0xFF));
        }
        return s.toString();
    }

    @Test
    void behindTheBackEndGuestFramesGoOutAndBusFramesComeInThroughTheWatch() throws Exception
    {
        final CanDevice device = new CanDevice("can0", port);
        try (ServedDevice served = ServedDevice.serve("can0", device, dir.resolve("can.sock0")))
        {
            served.drive(4L << 20, 1, b -> b.queues(3, CanDevice.QUEUE_SIZE), (ram, _, session) ->
            {
                session.start();
                final FrontendQueue txq = session.queue(CanDevice.TX_QUEUE);
                final FrontendQueue rxq = session.queue(CanDevice.RX_QUEUE);
                final FrontendQueue ctrlq = session.queue(CanDevice.CONTROL_QUEUE);
                final long rxBuf = ram.allocate(CanMessage.MAX_SIZE, 8);
                final int rxHead = rxq.add(new long[] {rxBuf}, new int[] {CanMessage.MAX_SIZE}, 0, 1);
                rxq.publishAndKick();
                assertThat(request(ram, ctrlq, CanFrontendTest.ctrl(CanDevice.CTRL_START))).isEqualTo(0);

                assertThat(request(ram, txq,
                    CanFrontendTest.txMessage(CanDevice.MSG_TX, 0x99, 0, 2, new byte[] {7, 8})))
                    .isEqualTo(CanDevice.RESULT_OK);
                final MemorySegment out = readBus(SocketCanFrame.CAN_MTU);
                assertThat(out.get(ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(0x99);
                assertThat(out.asSlice(8, 2).toArray(ValueLayout.JAVA_BYTE)).containsExactly(7, 8);

                writeBus(0x8000_0000 | 0x1000, 12, SocketCanFrame.CANFD_MTU, 0x30);
                assertThat(rxq.awaitUsed(WAIT)).as("the bus's frame in the RX buffer").isEqualTo(1);
                assertThat(rxq.usedHead(0)).isEqualTo(rxHead);
                assertThat(rxq.usedLength(0)).isEqualTo(CanMessage.HEADER_SIZE + 12);
                final MemorySegment rx = MemorySegment.ofArray(ram.read(rxBuf, CanMessage.HEADER_SIZE + 12));
                assertThat(rx.get(LE16, 0) & 0xFFFF).isEqualTo(CanDevice.MSG_RX);
                assertThat(rx.get(LE32, 8)).isEqualTo(CanFrame.FLAG_EXTENDED | CanFrame.FLAG_FD);
                assertThat(rx.get(LE32, 12)).isEqualTo(0x1000);
                assertThat(rx.get(ValueLayout.JAVA_BYTE, CanMessage.HEADER_SIZE + 11)).isEqualTo((byte)0x3B);

                writeBus(0x2000_0000 | SocketCanFrame.CAN_ERR_BUSOFF, 8, SocketCanFrame.CAN_MTU, 0);
                final byte[] config = session.awaitConfigChange(1, WAIT, CanDevice.CONFIG_SIZE);
                assertThat(config[0]).as("VIRTIO_CAN_S_CTRL_BUSOFF").isEqualTo((byte)CanDevice.S_CTRL_BUSOFF);
                assertThat(device.started()).isFalse();
                session.stop();
            });
        }
    }

    private static int request(final GuestRam ram, final FrontendQueue q, final byte[] request) throws Exception
    {
        final long in = ram.allocate(request.length, 8);
        ram.write(in, request, 0, request.length);
        final long out = ram.allocate(1, 8);
        q.add(new long[] {in, out}, new int[] {request.length, 1}, 1, 1);
        q.publishAndKick();
        assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
        assertThat(q.usedLength(0)).isEqualTo(1);
        return ram.read(out, 1)[0] & 0xFF;
    }

    @Test
    void aMissingInterfaceAndAnInterfaceThatIsNotCanAreNamed()
    {
        assertThatThrownBy(() -> SocketCanPort.open("jvcan7")).isInstanceOf(IOException.class)
            .hasMessage("SocketCAN interface jvcan7: no such network interface (SIOCGIFINDEX: ENODEV)");
        assertThatThrownBy(() -> SocketCanPort.open("lo")).isInstanceOf(IOException.class)
            .hasMessage("SocketCAN interface lo: not a CAN interface (its link type is 772, CAN's is 280)");
        assertThatThrownBy(() -> SocketCanPort.open("a:b")).isInstanceOf(IOException.class)
            .hasMessageContaining("'a:b' is not a network interface name");
        assertThatThrownBy(() -> SocketCanPort.open("sixteen-bytes-xx")).isInstanceOf(IOException.class)
            .hasMessageContaining("is not a network interface name");
    }

    @Test
    void aHostKernelWithoutSocketCanIsNamedWithItsErrno()
    {
        Assumptions.assumeFalse(Files.exists(Path.of("/proc/net/can")), "this kernel has SocketCAN");
        assertThatThrownBy(() -> SocketCanPort.openSocket("can0")).isInstanceOf(IOException.class)
            .hasMessage("SocketCAN interface can0: socket(PF_CAN, SOCK_RAW, CAN_RAW) failed: EAFNOSUPPORT (97): the"
                + " host kernel has no SocketCAN (modules can and can_raw)");
    }
}
