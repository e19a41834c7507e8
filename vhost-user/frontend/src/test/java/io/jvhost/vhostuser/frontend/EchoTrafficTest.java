package io.jvhost.vhostuser.frontend;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The full QEMU-style lifecycle against our back-end and the echo device, with heavy mixed traffic.
 */
@Timeout(60)
class EchoTrafficTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private EchoBackend backend;

    @BeforeEach
    void startBackend() throws Exception
    {
        backend = EchoBackend.start(dir);
    }

    @AfterEach
    void stopBackend() throws Exception
    {
        backend.close();
    }

    @ParameterizedTest(name = "eventIdx={0}, addMemReg={1}")
    @CsvSource({"true, true", "false, false", "true, false", "false, true"})
    void tenThousandMixedEchoRequestsComeBackByteForByteThroughAFullStartStopCycle(final boolean eventIdx,
        final boolean addMemReg) throws Exception
    {
        final long requests = 10_000;
        final OpenFds baseline = OpenFds.snapshot();
        final long driverFeatures = eventIdx ? VirtioSession.DEFAULT_DRIVER_FEATURES
            : VirtioSession.DEFAULT_DRIVER_FEATURES & ~VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        try (GuestRam ram = GuestRam.builder().size(32L << 20).regions(4).build();
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 256).driverFeatures(driverFeatures)
                 .addMemReg(addMemReg).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 16, 42 + (eventIdx ? 1 : 0), true);
            session.start();

            assertThat(session.features()).isEqualTo(EchoDevice.FEATURES & driverFeatures);
            assertThat(ProtocolFeature.has(session.protocolFeatures(), ProtocolFeature.CONFIGURE_MEM_SLOTS))
                .isEqualTo(addMemReg);
            assertThat(ProtocolFeature.has(session.protocolFeatures(), ProtocolFeature.REPLY_ACK)).isTrue();
            assertThat(session.queueNum()).isEqualTo(EchoDevice.QUEUES);
            assertThat(session.queue(0).eventIdx()).isEqualTo(eventIdx);

            final long chainsBefore = backend.device().chains();
            traffic.run(requests, WAIT);

            assertThat(traffic.completed(0) + traffic.completed(1)).isEqualTo(requests);
            assertThat(traffic.completed(0)).isPositive();
            assertThat(traffic.completed(1)).isPositive();
            assertThat(traffic.indirectRequests()).as("indirect requests").isGreaterThan(requests / 10);
            assertThat(traffic.spanningRequests()).as("requests across a region boundary").isGreaterThan(100);
            assertThat(backend.device().chains() - chainsBefore).isEqualTo(requests);
            assertThat(backend.device().bytes()).isEqualTo(traffic.totalBytes());
            assertThat(traffic.totalBytes()).as("bytes echoed").isGreaterThan(100L << 20);

            final int[] bases = session.stop();
            assertThat(bases[0]).isEqualTo((int)(traffic.submitted(0) & 0xFFFF));
            assertThat(bases[1]).isEqualTo((int)(traffic.submitted(1) & 0xFFFF));
            assertThat(fe.getFeatures()).isEqualTo(EchoDevice.FEATURES | VirtioFeatures.bit(30));
        }
        OpenFds.awaitBaseline(baseline);
    }

    @Test
    void echoWorksWithRegionsSeparatedByAGuestPhysicalGap() throws Exception
    {
        try (GuestRam ram = GuestRam.builder().size(8L << 20).regions(2).baseGpa(1L << 20).gap(3L << 20).build();
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).addMemReg(false).build())
        {
            assertThat(ram.region(1).guestPhysAddr()).isEqualTo((1L << 20) + (4L << 20) + (3L << 20));
            // Put queue 1's buffers in the second region.
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 20, 7, true);
            assertThat(ram.nextFree()).isGreaterThan(ram.region(1).guestPhysAddr());
            session.start();
            traffic.run(1000, WAIT);
            session.stop();
            assertThat(traffic.completed(0) + traffic.completed(1)).isEqualTo(1000);
        }
    }

    @Test
    void configSpaceReadsAndWritesGoThroughGetConfigAndSetConfig() throws Exception
    {
        try (VhostUserFrontend fe = backend.connect();
             GuestRam ram = GuestRam.create(1 << 20, 1);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 16).build())
        {
            session.init();
            assertThat(fe.getConfig(0, 16)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            fe.setConfig(4, new byte[] {40, 41, 42});
            assertThat(fe.getConfig(3, 5)).containsExactly(3, 40, 41, 42, 7);
            assertThat(fe.getConfig(16, 0)).isEmpty();
        }
    }

    @Test
    void memoryTableAndCallDescriptorsReplacedWithRequestsInFlightKeepServing() throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).addMemReg(false).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 11, true);
            session.start();
            for (int round = 0; round < 20; round++)
            {
                for (int q = 0; q < 2; q++)
                {
                    while (traffic.submit(q))
                    {
                        if (session.queue(q).inFlight() == 8)
                        {
                            break;
                        }
                    }
                    session.queue(q).publishAndKick();
                }
                // What QEMU does while a device runs: memory hot(un)plug resends the table, MSI-X masking
                // replaces the call descriptors, the guest reads its config space.
                fe.setMemTable(ram);
                for (final FrontendQueue q : session.queues())
                {
                    fe.setVringCall(q.index(), q.callFd());
                }
                assertThat(fe.getConfig(0, 4)).containsExactly(0, 1, 2, 3);
                traffic.drain(WAIT);
            }
            assertThat(traffic.completed(0) + traffic.completed(1)).isEqualTo(20 * 16);
            traffic.run(500, WAIT);
            session.stop();
        }
    }

    @Test
    void memoryRegionsRemovedAndAddedAgainWhileStoppedServeAfterRestart() throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).addMemReg(true).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 12, true);
            session.start();
            assertThat(session.maxMemSlots()).isGreaterThanOrEqualTo(8);
            traffic.run(300, WAIT);
            session.stop();
            fe.remMemReg(ram, 1);
            fe.remMemReg(ram, 0);
            fe.addMemReg(ram, 1);
            fe.addMemReg(ram, 0);
            session.start();
            traffic.run(300, WAIT);
            session.stop();
        }
    }
}
