package io.jvhost.vhostuser.frontend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Ring start/stop/restart semantics: legacy (no protocol features) and protocol-feature lifecycles, GET_VRING_BASE
 * as a consistent stop point, and resuming from it.
 */
@Timeout(60)
class RingLifecycleTest
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

    @Test
    void legacyFrontendNeverNegotiatesProtocolFeaturesAndRingsRunOnceStarted() throws Exception
    {
        final OpenFds baseline = OpenFds.snapshot();
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 128).legacy(true).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 1, true);
            session.start();
            assertThat(VirtioFeatures.has(session.offeredFeatures(), VirtioFeatures.PROTOCOL_FEATURES)).isTrue();
            assertThat(session.protocolFeaturesInUse()).isFalse();
            assertThat(session.protocolFeatures()).isZero();
            assertThat(session.offeredProtocolFeatures()).isZero();
            assertThat(fe.replyAck()).isFalse();
            assertThat(session.backendChannel()).isNull();

            traffic.run(300, WAIT);
            // SET_VRING_ENABLE is only valid with protocol features: a back-end asked for a reply refuses it.
            final MemorySegment enable = Arena.ofAuto().allocate(8);
            enable.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 1);
            fe.sendRaw(FrontendRequest.SET_VRING_ENABLE, 0x9, enable, null);
            final VhostUserFrontend.Reply refusal = fe.receiveReply();
            assertThat(refusal.isAck(FrontendRequest.SET_VRING_ENABLE)).isTrue();
            assertThat(refusal.u64(0)).isNotZero();
            int[] bases = session.stop();
            assertThat(bases).containsExactly((int)traffic.submitted(0), (int)traffic.submitted(1));

            session.start();
            traffic.run(300, WAIT);
            bases = session.stop();
            assertThat(bases).containsExactly((int)traffic.submitted(0), (int)traffic.submitted(1));
            assertThat(traffic.completed(0) + traffic.completed(1)).isEqualTo(600);
        }
        OpenFds.awaitBaseline(baseline);
    }

    @ParameterizedTest(name = "legacy={0}")
    @ValueSource(booleans = {false, true})
    void getVringBaseStopsTheRingAtTheNextAvailIndexAndRestartResumesFromIt(final boolean legacy) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).legacy(legacy).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 2, true);
            session.start();
            // More requests than the ring size: the indices wrap around the ring.
            traffic.run(250, WAIT);
            final int[] stopped = session.stop();
            assertThat(stopped).containsExactly((int)traffic.submitted(0), (int)traffic.submitted(1));
            final long chains = backend.device().chains();

            // While stopped, the back-end does not touch the ring even when kicked.
            final FrontendQueue q0 = session.queue(0);
            for (int i = 0; i < 5; i++)
            {
                assertThat(traffic.submit(0)).isTrue();
            }
            q0.publish();
            q0.kickFd().signal();
            assertThat(q0.awaitUsed(Duration.ofMillis(200))).isZero();
            assertThat(backend.device().chains()).isEqualTo(chains);

            // Restarting from the base serves what was published meanwhile, then new traffic.
            session.start();
            traffic.drain(WAIT);
            assertThat(backend.device().chains()).isEqualTo(chains + 5);
            traffic.run(100, WAIT);
            final int[] again = session.stop();
            assertThat(again).containsExactly((int)traffic.submitted(0), (int)traffic.submitted(1));
        }
    }

    @Test
    void restartAfterAQueueResetBeginsAtBaseZero() throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 4, 3, false);
            session.start();
            traffic.run(100, WAIT);
            session.stop();

            session.resetQueues();
            session.start();
            final long before0 = traffic.submitted(0);
            final long before1 = traffic.submitted(1);
            traffic.run(40, WAIT);
            assertThat(session.stop()).containsExactly((int)(traffic.submitted(0) - before0),
                (int)(traffic.submitted(1) - before1));
        }
    }

    @Test
    void statusFollowsTheDriverThroughStartAndStopWithoutResettingTheDevice() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32).build())
        {
            session.start();
            assertThat(ProtocolFeature.has(session.protocolFeatures(), ProtocolFeature.STATUS)).isTrue();
            assertThat(fe.getStatus()).isEqualTo(VirtioSession.STATUS_ACKNOWLEDGE | VirtioSession.STATUS_DRIVER
                | VirtioSession.STATUS_FEATURES_OK | VirtioSession.STATUS_DRIVER_OK);
            final long resets = backend.device().resets();
            session.stop();
            assertThat(fe.getStatus()).isZero();
            // QEMU sends SET_STATUS 0 on every stop, VM pauses included: the device keeps its state.
            assertThat(backend.device().resets()).isEqualTo(resets);
        }
    }

    @Test
    void onlyTheTransportsResetSignalsResetTheDeviceNeverRingsRestartingAtIndexZero() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(1, 32).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 4, 5, true);
            session.resetQueues(65536 - 40);
            fe.getConfig(0, EchoDevice.CONFIG_SIZE);
            session.start();
            final long resets = backend.device().resets();
            fe.getConfig(0, EchoDevice.CONFIG_SIZE);
            traffic.run(40, WAIT);
            // A VM stop/cont with the ring at 65,536: it resumes at index 0, as a fresh ring would.
            assertThat(session.stop()).as("the ring wrapped").containsExactly(0);
            assertThat(session.queue(0).driver().usedIdx()).isZero();
            session.start();
            traffic.run(20, WAIT);
            assertThat(backend.device().resets()).as("config reads before the first start and while running, and"
                + " a resume at 0, are no reset").isEqualTo(resets);

            // A guest reset as QEMU 10 sends it: RESET_DEVICE, then the probe's config read finds nothing to do.
            session.stop();
            session.reset(EchoDevice.CONFIG_SIZE);
            assertThat(backend.device().resets()).isEqualTo(resets + 1);
            session.start();
            traffic.run(20, WAIT);

            // Without RESET_DEVICE (QEMU before 9.1) the probe's config read with every ring stopped is the reset.
            session.stop();
            session.resetQueues();
            assertThat(backend.device().resets()).isEqualTo(resets + 1);
            fe.getConfig(0, EchoDevice.CONFIG_SIZE);
            assertThat(backend.device().resets()).isEqualTo(resets + 2);
            fe.getConfig(0, EchoDevice.CONFIG_SIZE);
            assertThat(backend.device().resets()).as("once per probe").isEqualTo(resets + 2);
            session.start();
            traffic.run(20, WAIT);
        }
    }

    @ParameterizedTest(name = "resetOwner={0}")
    @ValueSource(booleans = {false, true})
    void resetThenAFreshStartServesRequests(final boolean resetOwner) throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 4, 4, true);
            session.start();
            traffic.run(50, WAIT);
            session.stop();
            if (resetOwner)
            {
                fe.resetOwner();
            }
            else
            {
                fe.resetDevice();
            }
            session.resetQueues();
            session.start();
            traffic.run(50, WAIT);
            session.stop();
            assertThat(traffic.completed(0) + traffic.completed(1)).isEqualTo(100);
        }
    }

    @Test
    void backendRequestChannelIsHandedOverWhenBackendReqIsNegotiated() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32).build())
        {
            session.init();
            assertThat(ProtocolFeature.has(session.protocolFeatures(), ProtocolFeature.BACKEND_REQ)).isTrue();
            assertThat(session.backendChannel()).isNotNull();
            assertThat(session.backendChannel().poll(100)).isNull();
            assertThat(session.backendChannel().isConnected()).as("the back-end keeps its end open").isTrue();
        }
    }
}
