package io.jvhost.device.vsock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.device.fuzz.ErrorLog;
import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the vsock device with any sequence of guest packets on the tx queue (REQUEST, RESPONSE, RST, SHUTDOWN, RW,
 * CREDIT_UPDATE, CREDIT_REQUEST and unknown ops, in any order, with any credit, flags, lengths and payloads, mostly
 * addressed right so they reach the connection table), receive and event buffers of any sizes, and a host side of
 * real Unix sockets: listeners on two of the guest's host ports, which the harness accepts, writes to, reads from and
 * closes, and host clients that connect with a {@code CONNECT} line (or garbage). Driver resets come in between.
 * <p>
 * Checked: every tx buffer is returned at once with 0 bytes; every packet to the guest is well-formed (host CID to the
 * guest's CID, or a RST from a CID the guest addressed, stream type, a known op, len 0 except RW, RW len exactly the payload written and at most the buffer,
 * our buf_alloc except on RST); the guest never gets more data than the host sent, the host never more than the guest sent; no
 * error is logged; and after the device closes, the process holds no more descriptors than before.
 * QueueFuzzer checks that nothing outside the response buffers changes.
 */
class VsockPacketFuzzTest
{
    private static final long GUEST_CID = 3;
    /** Listened on, listened on, not listened on, the first port the device gives host clients. */
    private static final int[] HOST_PORTS = {1000, 1001, 1002, 1024};
    private static final int[] GUEST_PORTS = {5000, 5001};
    private static final int LISTENERS = 2;
    private static final QueueFuzzer RX = new QueueFuzzer();
    private static final QueueFuzzer TX = new QueueFuzzer();
    private static final QueueFuzzer EVENT = new QueueFuzzer();
    private static final Path FDS = Path.of("/proc/self/fd");
    private static final Path DIR;
    private static final Path UDS;
    private static final ServerSocketChannel[] LISTENING = new ServerSocketChannel[LISTENERS];
    private static final ErrorLog ERRORS = ErrorLog.install();
    /** The destination CIDs of this input's packets. */
    private static final java.util.Set<Long> ADDRESSED = new java.util.HashSet<>();

    static
    {
        try
        {
            // tmpfs where there is one: each input's UdsHost creates and removes its socket file, which on ext4
            // (inode allocation skipping recently deleted inodes) was 7% of an execution.
            final Path shm = Path.of("/dev/shm");
            DIR = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "jvhost-vsock-fuzz")
                : Files.createTempDirectory("jvhost-vsock-fuzz");
            DIR.toFile().deleteOnExit();
            UDS = DIR.resolve("vm.vsock");
            for (int i = 0; i < LISTENERS; i++)
            {
                final Path p = Path.of(UDS + "_" + HOST_PORTS[i]);
                LISTENING[i] = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                LISTENING[i].bind(UnixDomainSocketAddress.of(p));
                LISTENING[i].configureBlocking(false);
                p.toFile().deleteOnExit();
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void packetsInAnyOrderAreServedAndNothingLeaks(final FuzzedDataProvider data) throws IOException
    {
        discardBacklog();
        final long fdsBefore = fdCount();
        final int txBuffer = data.consumeInt(1, 4096);
        final UdsHost host = UdsHost.listen("fuzz", UDS, 16);
        final VsockDevice device = new VsockDevice("fuzz", GUEST_CID, txBuffer, QueueFuzzer.SIZE, host);
        final List<SocketChannel> sockets = new ArrayList<>();
        final List<SocketChannel> accepted = new ArrayList<>();
        ERRORS.clear();
        ADDRESSED.clear();
        long guestSent = 0;
        long guestGot = 0;
        long hostSent = 0;
        long hostGot = 0;
        try
        {
            device.attach(new DeviceContext()
            {
                @Override
                public void wake(final int queue)
                {
                    // The harness serves the queues itself.
                }

                @Override
                public FdWatch watch(final int queue, final int fd, final Runnable onReadable)
                {
                    return () ->
                    {
                    };
                }
            });
            start(device);
            while (data.remainingBytes() > 0)
            {
                switch (data.consumeInt(0, 9))
                {
                    case 0, 1, 2, 3 -> guestSent += transmit(device, data);
                    case 4 ->
                    {
                        RX.add(data, new byte[0], data.consumeBoolean() ? 44 + 64 : data.consumeInt(0, 512));
                        device.hostReady();
                        guestGot += received(RX.serve(device), txBuffer);
                    }
                    case 5 ->
                    {
                        EVENT.add(data, new byte[0], 8);
                        for (final long u : EVENT.serve(device))
                        {
                            assertThat(u & 0xFFFF_FFFFL).as("event length").isIn(0L, 4L);
                        }
                    }
                    case 6 -> accept(accepted, sockets);
                    case 7 ->
                    {
                        if (!accepted.isEmpty())
                        {
                            final SocketChannel s = accepted.get(data.consumeInt(0, accepted.size() - 1));
                            final int what = data.consumeInt(0, 3);
                            if (what == 0)
                            {
                                s.close();
                            }
                            else if (what == 1 && s.isOpen())
                            {
                                hostGot += drain(s);
                            }
                            else if (s.isOpen())
                            {
                                hostSent += write(s, data.consumeBytes(data.consumeInt(0, 256)));
                            }
                        }
                    }
                    case 8 ->
                    {
                        final byte[] line = connectLine(data);
                        final SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(UDS));
                        sockets.add(s);
                        s.configureBlocking(false);
                        // Bytes after the line are data for the guest once connected.
                        hostSent += write(s, line);
                    }
                    default ->
                    {
                        device.reset();
                        start(device);
                    }
                }
            }
            for (final SocketChannel s : accepted)
            {
                if (s.isOpen())
                {
                    hostGot += drain(s);
                }
            }
            assertThat(guestGot).as("bytes the guest got, of %d the host sent", hostSent)
                .isLessThanOrEqualTo(hostSent);
            assertThat(hostGot).as("bytes the host got, of %d the guest sent", guestSent)
                .isLessThanOrEqualTo(guestSent);
            assertThat(ERRORS.messages()).as("errors logged").isEmpty();
        }
        finally
        {
            device.close();
            for (final SocketChannel s : sockets)
            {
                s.close();
            }
        }
        // At most: the JDK may close a descriptor of its own meanwhile.
        assertThat(fdCount()).as("descriptors after the device closed").isLessThanOrEqualTo(fdsBefore);
        RX.finish();
        TX.finish();
        EVENT.finish();
    }

    private static void start(final VsockDevice device)
    {
        RX.reset(VsockDevice.RX, device.features());
        TX.reset(VsockDevice.TX, device.features());
        EVENT.reset(VsockDevice.EVENT, device.features());
        device.featuresAcked(device.features());
        for (int q = 0; q < 3; q++)
        {
            device.queueStarted(q);
        }
    }

    /**
     * One guest packet, mostly well addressed, any op, credit and payload.
     *
     * @return the payload bytes a well-formed RW of it may deliver.
     */
    private static long transmit(final VsockDevice device, final FuzzedDataProvider data)
    {
        final byte[] payload = data.consumeBytes(data.consumeInt(0, 96));
        final boolean raw = data.consumeInt(0, 15) == 0;
        final byte[] packet = new byte[VsockHeader.SIZE + payload.length];
        final ByteBuffer b = ByteBuffer.wrap(packet).order(ByteOrder.LITTLE_ENDIAN);
        final boolean rightLength = data.consumeInt(0, 7) != 0;
        final int op = data.consumeInt(0, 8);
        b.putLong(0, raw ? data.consumeLong() : GUEST_CID);
        b.putLong(8, raw ? data.consumeLong() : VsockDevice.HOST_CID);
        ADDRESSED.add(b.getLong(8));
        b.putInt(16, raw ? data.consumeInt() : GUEST_PORTS[data.consumeInt(0, GUEST_PORTS.length - 1)]);
        b.putInt(20, raw ? data.consumeInt() : HOST_PORTS[data.consumeInt(0, HOST_PORTS.length - 1)]);
        b.putInt(24, rightLength ? (op == VsockHeader.OP_RW ? payload.length : 0) : data.consumeInt());
        b.putShort(28, raw ? data.consumeShort() : VsockHeader.TYPE_STREAM);
        b.putShort(30, (short)op);
        b.putInt(32, data.consumeInt(0, 3));
        b.putInt(36, data.consumeBoolean() ? 65536 : data.consumeInt());
        b.putInt(40, data.consumeBoolean() ? 0 : data.consumeInt());
        System.arraycopy(payload, 0, packet, VsockHeader.SIZE, payload.length);
        final int head = TX.add(data, packet, 8);
        for (final long u : TX.serve(device))
        {
            assertThat(u & 0xFFFF_FFFFL).as("tx buffer returned with bytes").isZero();
        }
        assertThat(TX.outstanding()).as("tx buffers not returned").isZero();
        return head >= 0 && op == VsockHeader.OP_RW ? payload.length : 0;
    }

    /**
     * Checks the packets the device put into receive buffers.
     *
     * @return the RW payload bytes among them.
     */
    private static long received(final long[] used, final int txBuffer)
    {
        long bytes = 0;
        for (final long u : used)
        {
            final int head = (int)(u >>> 32);
            final long length = u & 0xFFFF_FFFFL;
            if (length == 0)
            {
                assertThat(RX.writableBytes(head)).as("an rx buffer returned empty").isLessThan(VsockHeader.SIZE + 1);
                continue;
            }
            assertThat(length).as("rx packet length").isGreaterThanOrEqualTo(VsockHeader.SIZE);
            final ByteBuffer p = ByteBuffer.wrap(RX.written(head, length)).order(ByteOrder.LITTLE_ENDIAN);
            final long src = p.getLong(0);
            if (src != VsockDevice.HOST_CID)
            {
                // A packet to a CID that is neither the host nor a sibling is reset from that CID.
                assertThat(p.getShort(30)).as("op of a packet from CID %d", src).isEqualTo((short)VsockHeader.OP_RST);
                assertThat(ADDRESSED).as("CIDs the guest sent to").contains(src);
            }
            assertThat(p.getLong(8)).as("dst_cid").isEqualTo(GUEST_CID);
            assertThat(p.getShort(28)).as("type").isEqualTo((short)VsockHeader.TYPE_STREAM);
            final int op = p.getShort(30);
            final long len = p.getInt(24) & 0xFFFF_FFFFL;
            assertThat(op).as("op").isBetween(VsockHeader.OP_REQUEST, VsockHeader.OP_CREDIT_REQUEST);
            if (op != VsockHeader.OP_RST)
            {
                // A reset to a connection the device does not know carries no credit.
                assertThat(p.getInt(36)).as("buf_alloc of %s", VsockHeader.opName(op)).isEqualTo(txBuffer);
            }
            if (op == VsockHeader.OP_RW)
            {
                assertThat(len).as("RW len").isPositive().isEqualTo(length - VsockHeader.SIZE);
                bytes += len;
            }
            else
            {
                assertThat(len).as("len of %s", VsockHeader.opName(op)).isZero();
                assertThat(length).as("used length of %s", VsockHeader.opName(op)).isEqualTo(VsockHeader.SIZE);
            }
        }
        return bytes;
    }

    private static void accept(final List<SocketChannel> accepted, final List<SocketChannel> sockets)
        throws IOException
    {
        for (final ServerSocketChannel l : LISTENING)
        {
            for (SocketChannel s; null != (s = l.accept()); )
            {
                s.configureBlocking(false);
                accepted.add(s);
                sockets.add(s);
            }
        }
    }

    /**
     * Closes connections an earlier input's device made and its harness never accepted: their bytes belong to that
     * input.
     */
    private static void discardBacklog() throws IOException
    {
        for (final ServerSocketChannel l : LISTENING)
        {
            for (SocketChannel s; null != (s = l.accept()); )
            {
                s.close();
            }
        }
    }

    private static long drain(final SocketChannel s) throws IOException
    {
        final ByteBuffer buffer = ByteBuffer.allocate(4096);
        long n = 0;
        try
        {
            for (int r; (r = s.read(buffer.clear())) > 0; )
            {
                n += r;
            }
        }
        catch (final IOException e)
        {
            // Reset by the device: what was read counts.
        }
        return n;
    }

    private static long write(final SocketChannel s, final byte[] bytes)
    {
        try
        {
            return s.write(ByteBuffer.wrap(bytes));
        }
        catch (final IOException e)
        {
            return 0; // The device closed its end.
        }
    }

    /** What a host program connecting to the VM's socket sends first: a CONNECT line, or any bytes. */
    private static byte[] connectLine(final FuzzedDataProvider data)
    {
        return data.consumeBoolean()
            ? ("CONNECT " + GUEST_PORTS[data.consumeInt(0, GUEST_PORTS.length - 1)] + "\n")
                .getBytes(StandardCharsets.US_ASCII)
            : data.consumeBytes(data.consumeInt(0, 40));
    }

    /**
     * @return the process's open descriptors: the size Linux (6.2 and later) reports for /proc/self/fd, one stat
     *     instead of listing the directory (twice per input, 8% of an execution); a listing where it reports 0.
     */
    private static long fdCount() throws IOException
    {
        final long size = Files.size(FDS);
        if (size > 0)
        {
            return size;
        }
        try (var fds = Files.list(FDS))
        {
            return fds.count() - 1; // not the listing's own
        }
    }

}
