package io.jvhost.vhostuser.backend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.xen.FakeXen;
import io.jvhost.memory.xen.PrivcmdMmapBatchV2;
import io.jvhost.os.EventFd;
import io.jvhost.os.MemFd;
import io.jvhost.os.UnixSocket;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * VHOST_USER_PROTOCOL_F_XEN_MMAP on a back-end connection, against the in-process fake of privcmd and gntdev
 * ({@link FakeXen}): the feature is offered, the memory messages take 32-byte region entries without it and 40-byte
 * ones with it (exact bytes below), foreign and grant regions serve a real ring whose buffers the device reads and
 * writes, per-access grants are all unmapped once a request is done, and malformed Xen regions are refused with a
 * failure reply while the connection goes on.
 */
@Timeout(30)
class XenMemoryTableTest
{
    private static final HexFormat HEX = HexFormat.of();
    private static final int DOMID = 5;
    private static final long PAGE = 4096;
    private static final long RAM = 256 * PAGE;
    private static final long GRANT = 1L << 63;
    private static final long UADDR = 0x7F00_0000_0000L;
    private static final int QUEUE_SIZE = 16;

    private FakeXen xen;
    private VhostUserBackend backend;
    private VhostUserConnection front;
    private Thread server;
    private final Message out = new Message(MessageHeader.MAX_PAYLOAD);
    private final Message in = new Message(MessageHeader.MAX_PAYLOAD);
    private EventFd kick;
    private EventFd call;
    /** Why serve() ended, when it ended with an error. */
    private final java.util.concurrent.atomic.AtomicReference<IOException> ended =
        new java.util.concurrent.atomic.AtomicReference<>();

    /** The back-end's log lines of WARNING and up. */
    private final java.util.List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.logging.Handler handler = new java.util.logging.Handler()
    {
        @Override
        public void publish(final java.util.logging.LogRecord record)
        {
            if (record.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue())
            {
                log.add(record.getMessage());
            }
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
        }
    };

    @BeforeEach
    void connect() throws Exception
    {
        java.util.logging.Logger.getLogger(VhostUserBackend.class.getName()).addHandler(handler);
        xen = new FakeXen(DOMID, RAM);
        backend = new VhostUserBackend("xen-test", new IncrementingDevice(), null, xen);
        final UnixSocket[] pair = UnixSocket.pair();
        server = Thread.ofPlatform().name("xen-serve").start(() ->
        {
            try (VhostUserConnection conn = new VhostUserConnection(pair[0], true))
            {
                backend.serve(conn);
            }
            catch (final IOException e)
            {
                ended.set(e);
            }
        });
        pair[1].setReceiveTimeout(10_000);
        front = new VhostUserConnection(pair[1], false);
        kick = EventFd.create();
        call = EventFd.create();
    }

    @AfterEach
    void disconnect() throws Exception
    {
        java.util.logging.Logger.getLogger(VhostUserBackend.class.getName()).removeHandler(handler);
        front.shutdown();
        server.join(10_000);
        front.close();
        backend.close();
        kick.close();
        call.close();
        assertThat(xen.outstandingGrantMaps()).as("grant maps left after the connection closed").isZero();
        xen.close();
    }

    @Test
    void xenMmapIsOfferedAnd32ByteEntriesStayWithoutItAndWhenAFrontEndAcksItButSendsThemAsQemuDoes() throws Exception
    {
        out.header(FrontendRequest.GET_PROTOCOL_FEATURES, MessageHeader.VERSION, 0);
        front.send(out);
        assertThat(front.receive(in)).isTrue();
        assertThat(ProtocolFeature.has(in.u64(0), ProtocolFeature.XEN_MMAP)).isTrue();
        negotiate(false);
        try (MemFd memfd = MemFd.create("plain-ram", RAM))
        {
            // SET_MEM_TABLE, NEED_REPLY, 40 bytes: nregions 1, then gpa 0x40000000, size 0x100000, uaddr, offset 0.
            raw("05000000" + "09000000" + "28000000" + "01000000" + "00000000"
                + "0000004000000000" + "0000100000000000" + "0000000000" + "7f0000" + "0000000000000000");
            assertThat(sendForReply(io.jvhost.os.LibC.fcntl(memfd.fd(), io.jvhost.os.LibC.F_DUPFD_CLOEXEC, 0))).as("memfd table in 32-byte entries accepted").isZero();
            assertThat(xen.calls()).isEmpty();
            // QEMU (10 too) acks XEN_MMAP when offered, yet sends 32-byte entries: the payload's size says so, and
            // the table and a single added region are memfd regions, as before.
            negotiate(true);
            raw("05000000" + "09000000" + "28000000" + "01000000" + "00000000"
                + "0000004000000000" + "0000100000000000" + "0000000000" + "7f0000" + "0000000000000000");
            assertThat(sendForReply(io.jvhost.os.LibC.fcntl(memfd.fd(), io.jvhost.os.LibC.F_DUPFD_CLOEXEC, 0)))
                .as("32-byte entries with XEN_MMAP acked, as QEMU sends them").isZero();
            // ADD_MEM_REG, NEED_REPLY, 40 bytes: padding, then gpa 0x80000000, size 0x100000, uaddr, offset 0.
            raw("25000000" + "09000000" + "28000000" + "0000000000000000"
                + "0000008000000000" + "0000100000000000" + "0000100000" + "7f0000" + "0000000000000000");
            assertThat(sendForReply(io.jvhost.os.LibC.fcntl(memfd.fd(), io.jvhost.os.LibC.F_DUPFD_CLOEXEC, 0)))
                .as("a 40-byte ADD_MEM_REG with XEN_MMAP acked").isZero();
            assertThat(xen.calls()).isEmpty();
        }
    }

    @Test
    void foreignRegionIn40ByteEntryIsMappedByFrameAndServesARing() throws Exception
    {
        negotiate(true);
        // SET_MEM_TABLE, NEED_REPLY, 48 bytes: nregions 1; gpa 0x40000000, size 0x100000, uaddr 0x7f0000000000,
        // mmap_offset 0, xen_mmap_flags FOREIGN, xen_mmap_data (domid) 5.
        raw("05000000" + "09000000" + "30000000" + "01000000" + "00000000"
            + "0000004000000000" + "0000100000000000" + "0000000000" + "7f0000" + "0000000000000000"
            + "01000000" + "05000000");
        assertThat(sendForReply(xen.openPrivcmd())).isZero();
        assertThat(xen.calls("MMAPBATCH_V2")).hasSize(1);
        final PrivcmdMmapBatchV2 batch = new PrivcmdMmapBatchV2()
            .wrap(MemorySegment.ofArray(xen.calls("MMAPBATCH_V2").getFirst().bytes()));
        assertThat(batch.num()).isEqualTo(256);
        assertThat(batch.dom()).isEqualTo(DOMID);

        final DriverQueue driver = new DriverQueue(xen.ram(), FakeXen.RAM_GPA, QUEUE_SIZE, FakeXen.RAM_GPA);
        startQueue(driver, UADDR);
        final long outGpa = FakeXen.RAM_GPA + 100 * PAGE - 10; // crosses a page
        final long inGpa = FakeXen.RAM_GPA + 120 * PAGE;
        for (int i = 0; i < 20; i++)
        {
            xen.ram().set(ValueLayout.JAVA_BYTE, outGpa - FakeXen.RAM_GPA + i, (byte)(i * 3));
        }
        final int head = driver.add(new long[] {outGpa, inGpa}, new int[] {20, 20}, 1, 1);
        driver.publish();
        kick.signal();
        final long used = awaitUsed(driver);
        assertThat(used >>> 32).isEqualTo(head);
        assertThat(used & 0xFFFF_FFFFL).isEqualTo(20);
        for (int i = 0; i < 20; i++)
        {
            assertThat(xen.ram().get(ValueLayout.JAVA_BYTE, inGpa - FakeXen.RAM_GPA + i)).isEqualTo((byte)(i * 3 + 1));
        }
    }

    @Test
    void grantRingsMappedUpFrontAndBuffersMappedPerAccessLeaveNoGrantMapped() throws Exception
    {
        negotiate(true);
        final int ringPages = (int)((DriverQueue.ringBytes(QUEUE_SIZE) + PAGE - 1) / PAGE);
        for (int i = 0; i < ringPages; i++)
        {
            xen.grant(0x10 + i, FakeXen.RAM_GPA + i * PAGE);
        }
        final int bufferPages = 40;
        for (int i = 0; i < bufferPages; i++)
        {
            xen.grant(0x100 + i, FakeXen.RAM_GPA + (64 + i) * PAGE);
        }
        final long ringGpa = GRANT | 0x10L << 12;
        final long bufferGpa = GRANT | 0x100L << 12;
        // Two regions the way xen-vhost-frontend sends them: the ring pages GRANT, the rest GRANT|NO_ADVANCE_MAP
        // (0xa) with no front-end address.
        out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 2 * 40)
            .u32(0, 2).u32(4, 0)
            .u64(8, ringGpa).u64(16, ringPages * PAGE).u64(24, UADDR).u64(32, 0).u32(40, 0x2).u32(44, DOMID)
            .u64(48, bufferGpa).u64(56, bufferPages * PAGE).u64(64, 0).u64(72, 0).u32(80, 0xa).u32(84, DOMID);
        assertThat(sendForReply(xen.openGntdev(), xen.openGntdev())).isZero();
        assertThat(xen.outstandingGrantMaps()).as("only the ring region is mapped in advance").isEqualTo(1);

        final DriverQueue driver = new DriverQueue(xen.ram().asSlice(0, ringPages * PAGE), ringGpa, QUEUE_SIZE,
            ringGpa);
        startQueue(driver, UADDR);
        final long outGpa = bufferGpa + 3 * PAGE - 7; // 7 bytes on one page, 13 on the next
        final long inGpa = bufferGpa + 10 * PAGE + 5;
        final int inLength = (int)(20 * PAGE); // more than one grant window
        for (int i = 0; i < 20; i++)
        {
            xen.ram().set(ValueLayout.JAVA_BYTE, (64 + 3) * PAGE - 7 + i, (byte)(i * 3));
        }
        final int head = driver.add(new long[] {outGpa, inGpa}, new int[] {20, inLength}, 1, 1);
        driver.publish();
        kick.signal();
        final long used = awaitUsed(driver);
        assertThat(used >>> 32).isEqualTo(head);
        assertThat(used & 0xFFFF_FFFFL).isEqualTo(inLength);
        for (final long at : new long[] {0, 1, 19, 20, PAGE, 16 * PAGE + 3, inLength - 1})
        {
            assertThat(xen.ram().get(ValueLayout.JAVA_BYTE, (64 + 10) * PAGE + 5 + at)).as("in byte %d", at)
                .isEqualTo((byte)(at % 20 * 3 + 1));
        }
        assertThat(xen.grantMmaps()).as("buffers mapped per access").isGreaterThan(2);
        assertThat(xen.outstandingGrantMaps()).as("per-access grants all unmapped; the ring's stays").isEqualTo(1);

        // ADD_MEM_REG and REM_MEM_REG carry 48-byte payloads with XEN_MMAP.
        xen.grant(0x200, FakeXen.RAM_GPA + 200 * PAGE);
        out.header(FrontendRequest.ADD_MEM_REG, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 48).u64(0, 0)
            .u64(8, GRANT | 0x200L << 12).u64(16, PAGE).u64(24, UADDR + 0x10_0000).u64(32, 0).u32(40, 0x2)
            .u32(44, DOMID);
        assertThat(sendForReply(xen.openGntdev())).isZero();
        assertThat(xen.outstandingGrantMaps()).isEqualTo(2);
        out.header(FrontendRequest.REM_MEM_REG, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 48).u64(0, 0)
            .u64(8, GRANT | 0x200L << 12).u64(16, PAGE).u64(24, UADDR + 0x10_0000).u64(32, 0).u32(40, 0x2)
            .u32(44, DOMID);
        assertThat(sendForReply()).isZero();
        awaitOutstanding(1);
    }

    @Test
    void aBufferWhoseGrantTheGuestRevokedEndsTheConnectionNamingTheReference() throws Exception
    {
        negotiate(true);
        xen.grant(0x10, FakeXen.RAM_GPA);
        for (int i = 0; i < 4; i++)
        {
            xen.grant(0x100 + i, FakeXen.RAM_GPA + (64 + i) * PAGE);
        }
        final long ringGpa = GRANT | 0x10L << 12;
        out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 2 * 40)
            .u32(0, 2).u32(4, 0)
            .u64(8, ringGpa).u64(16, PAGE).u64(24, UADDR).u64(32, 0).u32(40, 0x2).u32(44, DOMID)
            .u64(48, GRANT | 0x100L << 12).u64(56, 4 * PAGE).u64(64, 0).u64(72, 0).u32(80, 0x102).u32(84, DOMID);
        assertThat(sendForReply(xen.openGntdev(), xen.openGntdev())).isZero();
        final DriverQueue driver = new DriverQueue(xen.ram().asSlice(0, PAGE), ringGpa, QUEUE_SIZE, ringGpa);
        startQueue(driver, UADDR);
        xen.revoke(0x102);
        driver.add(new long[] {GRANT | 0x101L << 12, GRANT | 0x102L << 12}, new int[] {16, 16}, 1, 1);
        driver.publish();
        kick.signal();
        server.join(10_000);
        assertThat(server.isAlive()).as("the connection ended").isFalse();
        assertThat(ended.get()).isNotNull();
        assertThat(ended.get().getMessage()).contains("serving queue 0")
            .contains("cannot map the grants of buffer gpa=0x8000000000102000 (ref 258, domid 5): EFAULT");
        assertThat(driver.pollUsed()).as("nothing used").isEqualTo(-1);
    }

    @Test
    void malformedXenRegionsAreRefusedAndTheConnectionGoesOn() throws Exception
    {
        negotiate(true);
        xen.grant(1, FakeXen.RAM_GPA);
        // flags, domid, gpa, size, mmap_offset; and what the refusal's log line says
        final Object[][] bad = {
            {0x3, DOMID, FakeXen.RAM_GPA, RAM, 0L, "invalid xen_mmap_flags 0x3"}, // FOREIGN|GRANT
            {0x8, DOMID, GRANT | 1L << 12, PAGE, 0L, "invalid xen_mmap_flags 0x8"}, // NO_ADVANCE_MAP alone
            {0x9, DOMID, FakeXen.RAM_GPA, RAM, 0L, "invalid xen_mmap_flags 0x9"}, // FOREIGN is mapped in advance
            {0x1, DOMID, FakeXen.RAM_GPA, RAM, PAGE, "must have mmap_offset 0: xen_mmap_flags=0x1, xen_mmap_data"
                + " (domid)=5, guest_phys_addr=0x40000000, size=0x100000, mmap_offset=0x1000"},
            {0x1, 0, FakeXen.RAM_GPA, RAM, 0L, "domid must be a guest's"}, // dom0 itself
            {0x1, 0x7FF0, FakeXen.RAM_GPA, RAM, 0L, "(domid)=32752"}, // DOMID_SELF and up
            {0x1, DOMID + 1, FakeXen.RAM_GPA, RAM, 0L, "refused gfn 0x40000: ESRCH, domid=6"}, // not the guest
            {0x2, DOMID, 1L << 12, PAGE, 0L, "must have bit 63 set"},
            {0x2, DOMID, GRANT | 0xFFFF_FFFFL << 12, 2 * PAGE, 0L, "pass 2^32"},
            {0x2, DOMID, GRANT | 1L << 12, 2 * PAGE, 0L, "failed: EFAULT, domid=5, refs 1..2"}, // ref 2 not granted
            {0x0, DOMID, 0L, PAGE, 0L, "must have domid 0"}, // a plain region with a domid
        };
        for (final Object[] b : bad)
        {
            final int flags = (Integer)b[0];
            final int fd = (flags & 0x2) != 0 ? xen.openGntdev() : xen.openPrivcmd();
            out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 40)
                .u32(0, 1).u32(4, 0).u64(8, (Long)b[2]).u64(16, (Long)b[3]).u64(24, UADDR).u64(32, (Long)b[4])
                .u32(40, flags).u32(44, (Integer)b[1]);
            final int logged = log.size();
            assertThat(sendForReply(fd)).as("flags 0x%x domid %d gpa 0x%x size 0x%x offset 0x%x", b).isEqualTo(1);
            assertThat(log.subList(logged, log.size())).as("log of the refusal").singleElement().asString()
                .startsWith("xen-test: SET_MEM_TABLE refused: ").contains((String)b[5]);
        }
        // Two domains in one table.
        xen.grant(2, FakeXen.RAM_GPA + PAGE);
        out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 2 * 40)
            .u32(0, 2).u32(4, 0)
            .u64(8, FakeXen.RAM_GPA).u64(16, PAGE).u64(24, UADDR).u64(32, 0).u32(40, 0x1).u32(44, DOMID)
            .u64(48, GRANT | 2L << 12).u64(56, PAGE).u64(64, UADDR + PAGE).u64(72, 0).u32(80, 0x2).u32(84, DOMID + 2);
        assertThat(sendForReply(xen.openPrivcmd(), xen.openGntdev())).as("two domains").isEqualTo(1);
        assertThat(log.getLast()).contains("two domains on one connection: domid 5 (region 0) and domid 7 (region 1)");
        // ADD_MEM_REG in the 40-byte layout once XEN_MMAP is negotiated.
        out.header(FrontendRequest.ADD_MEM_REG, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 40).u64(0, 0)
            .u64(8, FakeXen.RAM_GPA).u64(16, PAGE).u64(24, UADDR).u64(32, 0);
        assertThat(sendForReply(xen.openPrivcmd())).as("ADD_MEM_REG of 40 bytes").isEqualTo(1);
        assertThat(xen.outstandingGrantMaps()).as("refused regions left nothing mapped").isZero();
        // Still served, and a valid table still maps.
        out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 40)
            .u32(0, 1).u32(4, 0).u64(8, FakeXen.RAM_GPA).u64(16, RAM).u64(24, UADDR).u64(32, 0).u32(40, 0x1)
            .u32(44, DOMID);
        assertThat(sendForReply(xen.openPrivcmd())).isZero();
        // ADD_MEM_REG of a second domain's region next to it.
        out.header(FrontendRequest.ADD_MEM_REG, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 48).u64(0, 0)
            .u64(8, GRANT | 1L << 12).u64(16, PAGE).u64(24, UADDR + RAM).u64(32, 0).u32(40, 0x2).u32(44, DOMID + 1);
        assertThat(sendForReply(xen.openGntdev())).as("ADD_MEM_REG of another domain").isEqualTo(1);
        assertThat(log.getLast()).contains("ADD_MEM_REG refused: Xen regions of two domains").contains("domid 6");
        assertThat(xen.calls("MAP_GRANT_REF").stream().filter(c -> c.bytes()[16] == DOMID + 1).count())
            .as("nothing was mapped for the other domain").isZero();
    }

    private void negotiate(final boolean xenMmap) throws Exception
    {
        out.header(FrontendRequest.SET_FEATURES, MessageHeader.VERSION, 8).u64(0,
            VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES));
        front.send(out);
        out.header(FrontendRequest.SET_PROTOCOL_FEATURES, MessageHeader.VERSION, 8).u64(0,
            ProtocolFeature.bit(ProtocolFeature.REPLY_ACK)
                | (xenMmap ? ProtocolFeature.bit(ProtocolFeature.XEN_MMAP) : 0));
        front.send(out);
    }

    private void raw(final String hex)
    {
        final byte[] bytes = HEX.parseHex(hex);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, out.buffer(), 0, bytes.length);
        assertThat(out.size()).isEqualTo(bytes.length - MessageHeader.LENGTH);
    }

    /**
     * Sends {@code out} with {@code fds} (then closed here) and returns the REPLY_ACK's u64.
     */
    private long sendForReply(final int... fds) throws Exception
    {
        try
        {
            front.send(out, fds, fds.length);
        }
        finally
        {
            for (final int fd : fds)
            {
                io.jvhost.os.LibC.closeQuietly(fd);
            }
        }
        final int request = out.request();
        assertThat(front.receive(in)).isTrue();
        assertThat(in.request()).isEqualTo(request);
        return in.u64(0);
    }

    private void startQueue(final DriverQueue driver, final long uaddrOfRingRegion) throws Exception
    {
        final long base = driver.descGpa();
        out.header(FrontendRequest.SET_VRING_NUM, MessageHeader.VERSION, 8).u32(0, 0).u32(4, QUEUE_SIZE);
        front.send(out);
        out.header(FrontendRequest.SET_VRING_ADDR, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 40).u32(0, 0)
            .u32(4, 0).u64(8, uaddrOfRingRegion).u64(16, uaddrOfRingRegion + driver.usedGpa() - base)
            .u64(24, uaddrOfRingRegion + driver.availGpa() - base).u64(32, 0);
        assertThat(sendForReply()).as("SET_VRING_ADDR").isZero();
        out.header(FrontendRequest.SET_VRING_BASE, MessageHeader.VERSION, 8).u32(0, 0).u32(4, 0);
        front.send(out);
        out.header(FrontendRequest.SET_VRING_CALL, MessageHeader.VERSION, 8).u64(0, 0);
        front.send(out, new int[] {call.fd()}, 1);
        out.header(FrontendRequest.SET_VRING_KICK, MessageHeader.VERSION, 8).u64(0, 0);
        front.send(out, new int[] {kick.fd()}, 1);
        out.header(FrontendRequest.SET_VRING_ENABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8).u32(0, 0)
            .u32(4, 1);
        assertThat(sendForReply()).as("SET_VRING_ENABLE").isZero();
    }

    private static long awaitUsed(final DriverQueue driver)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long used;
        while ((used = driver.pollUsed()) == -1)
        {
            assertThat(System.nanoTime()).as("a used element within 10 s").isLessThan(deadline);
            LockSupport.parkNanos(1_000_000);
        }
        return used;
    }

    private void awaitOutstanding(final int expected)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (xen.outstandingGrantMaps() != expected)
        {
            assertThat(System.nanoTime()).as("%d grant maps outstanding within 10 s", expected).isLessThan(deadline);
            LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * Reads the readable part and fills the writable part with it, repeated, each byte plus one.
     */
    private static final class IncrementingDevice implements VirtioDevice
    {
        private final MemorySegment readBuffer = Arena.ofAuto().allocate(4096);
        private final MemorySegment writeBuffer = Arena.ofAuto().allocate(4096);

        @Override
        public int deviceType()
        {
            return 4;
        }

        @Override
        public String name()
        {
            return "incrementing";
        }

        @Override
        public int queueCount()
        {
            return 1;
        }

        @Override
        public int maxQueueSize()
        {
            return QUEUE_SIZE;
        }

        @Override
        public long features()
        {
            return VirtioFeatures.bit(VirtioFeatures.VERSION_1);
        }

        @Override
        public void processQueue(final DeviceQueue queue)
        {
            for (DescriptorChain chain; (chain = queue.next()) != null; )
            {
                final ChainReader reader = chain.reader();
                final ChainWriter writer = chain.writer();
                try
                {
                    final int n = (int)Math.min(reader.remaining(), readBuffer.byteSize());
                    reader.read(readBuffer, 0, n);
                    for (int i = 0; i < writeBuffer.byteSize(); i++)
                    {
                        writeBuffer.set(ValueLayout.JAVA_BYTE, i, (byte)(readBuffer.get(ValueLayout.JAVA_BYTE, i % n)
                            + 1));
                    }
                    long left = writer.remaining();
                    int phase = 0;
                    while (left > 0)
                    {
                        // Continue the pattern across chunks: writeBuffer holds it from phase 0.
                        final int chunk = (int)Math.min(left, writeBuffer.byteSize() - phase);
                        writer.write(writeBuffer, phase, chunk);
                        left -= chunk;
                        phase = (phase + chunk) % n;
                    }
                }
                catch (final Exception e)
                {
                    throw new AssertionError(e);
                }
                queue.complete(chain, writer.written());
            }
        }
    }
}
