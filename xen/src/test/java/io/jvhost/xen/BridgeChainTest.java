package io.jvhost.xen;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.jvhost.device.rng.EntropySource;
import io.jvhost.device.rng.RngDevice;
import io.jvhost.memory.xen.FakeXen;
import io.jvhost.memory.xen.PrivcmdMmapBatchV2;
import io.jvhost.os.EventFd;
import io.jvhost.os.UnixSocket;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.vhostuser.backend.VhostUserBackend;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.xen.VirtioMmio.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole device-model chain in process: a driver writes the virtio-mmio registers through ioreq slots,
 * {@link VhostUserBridge} hands jvhost's rng back-end the domU's RAM as a FOREIGN region (mapped through
 * {@link FakeXen}'s privcmd over a memfd), QueueNotify kicks, the back-end fills the driver's buffers with the
 * source's bytes and signals the call eventfd, which raises the interrupt the driver reads and acknowledges.
 */
class BridgeChainTest
{
    private static final int DOMID = 5;
    private static final long RAM = 4L << 20;
    private static final long BASE = 0x200_0000L;

    @TempDir
    Path dir;

    private FakeXen xen;
    private byte[] source;
    private VhostUserBackend backend;
    private Thread server;
    private VhostUserBridge bridge;
    private VirtioMmio mmio;
    private IoreqPage ioreq;
    private MemorySegment page;
    private final List<Boolean> irq = new ArrayList<>();
    private final EventFd[] calls = new EventFd[1];

    @BeforeEach
    void setUp() throws Exception
    {
        xen = new FakeXen(DOMID, RAM);
        source = new byte[4096];
        new Random(16).nextBytes(source);
        final Path file = dir.resolve("entropy");
        Files.write(file, source);
        backend = new VhostUserBackend("rng-xen", new RngDevice("rng", EntropySource.open(file.toString()), 1000,
            Long.MAX_VALUE), null, xen);
        final UnixSocket[] pair = UnixSocket.pair();
        server = Thread.ofPlatform().name("serve").start(() ->
        {
            try (VhostUserConnection conn = new VhostUserConnection(pair[0], true))
            {
                backend.serve(conn);
            }
            catch (final IOException e)
            {
                // the test closed the front-end
            }
        });
        bridge = new VhostUserBridge(VhostUserFrontend.over(pair[1]), xen.openPrivcmd(), DOMID, FakeXen.RAM_GPA, RAM,
            1, new VhostUserBridge.CallListener()
            {
                @Override
                public void added(final int queue, final EventFd call)
                {
                    calls[queue] = call;
                }

                @Override
                public void removed(final int queue, final EventFd call)
                {
                    calls[queue] = null;
                }
            });
        mmio = new VirtioMmio(4, 1, 256, FakeXen.RAM_GPA, RAM, bridge, irq::add);
        page = Arena.ofAuto().allocate(4096, 8);
        ioreq = new IoreqPage(page, 1, BASE, mmio);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        bridge.close();
        server.join(5_000);
        backend.close();
        xen.close();
    }

    private long access(final boolean read, final int offset, final long value)
    {
        page.set(ValueLayout.JAVA_LONG, 0, BASE + offset);
        page.set(ValueLayout.JAVA_LONG, 8, value);
        page.set(ValueLayout.JAVA_INT, 16, 1);
        page.set(ValueLayout.JAVA_INT, 20, 4);
        page.set(ValueLayout.JAVA_BYTE, 31, (byte)IoreqPage.TYPE_COPY);
        page.set(ValueLayout.JAVA_BYTE, 30, (byte)(IoreqPage.STATE_READY | (read ? 0x20 : 0)));
        assertThat(ioreq.serve(0)).isTrue();
        return page.get(ValueLayout.JAVA_LONG, 8);
    }

    @Test
    void aDriverOnTheRegistersGetsTheBackEndsBytesThroughTheForeignRegionAndAnInterrupt() throws Exception
    {
        assertThat(access(true, DEVICE_ID, 0)).isEqualTo(4);
        access(false, STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        access(false, DEVICE_FEATURES_SEL, 1);
        assertThat(access(true, DEVICE_FEATURES, 0) & 1).as("VERSION_1 offered").isEqualTo(1);
        access(false, DEVICE_FEATURES_SEL, 0);
        assertThat(access(true, DEVICE_FEATURES, 0) & 1L << 30).as("PROTOCOL_FEATURES hidden").isZero();
        access(false, DRIVER_FEATURES_SEL, 1);
        access(false, DRIVER_FEATURES, 1);
        access(false, STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        final DriverQueue driver = new DriverQueue(xen.ram(), FakeXen.RAM_GPA, 64, FakeXen.RAM_GPA + 0x1_0000);
        access(false, QUEUE_SEL, 0);
        access(false, QUEUE_NUM, 64);
        access(false, QUEUE_DESC_LOW, driver.descGpa());
        access(false, QUEUE_DRIVER_LOW, driver.availGpa());
        access(false, QUEUE_DEVICE_LOW, driver.usedGpa());
        access(false, QUEUE_READY, 1);
        access(false, STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        assertThat(mmio.started()).as(mmio.lastError()).isTrue();
        assertThat(mmio.status() & STATUS_NEEDS_RESET).isZero();

        final List<FakeXen.Call> batches = xen.calls("MMAPBATCH_V2");
        assertThat(batches).as("the back-end mapped the domU's RAM by frame").hasSize(1);
        final PrivcmdMmapBatchV2 batch = new PrivcmdMmapBatchV2().wrap(MemorySegment.ofArray(batches.getFirst()
            .bytes()));
        assertThat(batch.dom()).isEqualTo(DOMID);
        assertThat(batch.num()).isEqualTo((int)(RAM >>> 12));

        final long[] buffers = {FakeXen.RAM_GPA + 0x2_0000 - 8, FakeXen.RAM_GPA + 0x3_0000, FakeXen.RAM_GPA + 0x3_1000};
        for (final long gpa : buffers)
        {
            driver.add(new long[] {gpa}, new int[] {64}, 0, 1);
        }
        driver.publish();
        access(false, QUEUE_NOTIFY, 0);
        assertThat(Await.until(() -> null != calls[0] && calls[0].drain() > 0, Duration.ofSeconds(10)))
            .as("the back-end signalled its call eventfd").isTrue();
        mmio.usedBuffers();
        assertThat(irq).containsExactly(true);
        assertThat(access(true, INTERRUPT_STATUS, 0)).isEqualTo(INT_VRING);
        access(false, INTERRUPT_ACK, INT_VRING);
        assertThat(irq).containsExactly(true, false);

        final byte[] got = new byte[3 * 64];
        int used = 0;
        final long end = System.nanoTime() + 10_000_000_000L;
        while (used < 3 && System.nanoTime() < end)
        {
            final long u = driver.pollUsed();
            if (u != -1)
            {
                assertThat(u & 0xFFFF_FFFFL).isEqualTo(64);
                final int head = (int)(u >>> 32);
                MemorySegment.copy(xen.ram(), ValueLayout.JAVA_BYTE, buffers[head] - FakeXen.RAM_GPA, got, head * 64,
                    64);
                used++;
            }
            else
            {
                Thread.onSpinWait();
            }
        }
        assertThat(used).as("buffers used").isEqualTo(3);
        assertThat(got).as("the guest's buffers hold the back-end's source bytes in order")
            .isEqualTo(java.util.Arrays.copyOf(source, 3 * 64));
        assertThat(ioreq.refused()).isZero();
        assertThat(mmio.ignoredAccesses()).as(mmio.lastError()).isZero();

        access(false, STATUS, 0);
        assertThat(calls[0]).as("a reset stops the ring and drops its call eventfd").isNull();
        assertThat(mmio.started()).isFalse();
    }
}
