package io.jvhost.vhostuser.frontend;

import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.vhostuser.protocol.BackendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A device's config change reaches the front-end as BACKEND_CONFIG_CHANGE_MSG on the back-end channel, and the
 * front-end reads the new config; a front-end that does not answer, or gave no channel, never holds up the device.
 */
@Timeout(30)
class ConfigChangeTest
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
    void stopBackend()
    {
        backend.close();
    }

    @Test
    void aConfigChangeReachesTheFrontEndWhichReadsTheNewConfig() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32).build())
        {
            session.init();
            assertThat(fe.replyAck()).isTrue();
            assertThat(session.backendChannel().configChanges()).isZero();

            assertThat(backend.device().changeConfig(3, (byte)0x5a)).isTrue();
            final byte[] config = session.awaitConfigChange(1, WAIT, EchoDevice.CONFIG_SIZE);
            assertThat(config[3]).isEqualTo((byte)0x5a);

            final BackendChannel.BackendRequest sent = session.backendChannel().poll(0);
            assertThat(sent.request()).isEqualTo(BackendRequest.CONFIG_CHANGE_MSG);
            assertThat(sent.flags()).as("version 1, and an answer asked for (REPLY_ACK)")
                .isEqualTo(MessageHeader.VERSION | MessageHeader.NEED_REPLY);
            assertThat(sent.payload()).isEmpty();
            assertThat(sent.fdCount()).isZero();

            assertThat(backend.device().changeConfig(4, (byte)0x11)).isTrue();
            assertThat(session.awaitConfigChange(2, WAIT, EchoDevice.CONFIG_SIZE)[4]).isEqualTo((byte)0x11);
        }
    }

    @Test
    void aFrontEndThatNeverAnswersDoesNotHoldUpTheDeviceOrTheConnection() throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 128).build())
        {
            session.init();
            session.backendChannel().answerConfigChanges(BackendChannel.NO_ANSWER);
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 1, true);
            session.start();

            int accepted = 0;
            for (int i = 0; i < 200; i++)
            {
                if (backend.device().changeConfig(0, (byte)i))
                {
                    accepted++;
                }
            }
            assertThat(accepted).as("sent until too many went unanswered").isPositive().isLessThan(200);
            assertThat(session.backendChannel().awaitConfigChanges(accepted, WAIT.toMillis())).isTrue();
            traffic.run(100, WAIT);
            assertThat(fe.getConfig(0, EchoDevice.CONFIG_SIZE)[0]).isEqualTo((byte)199);
            session.stop();
        }
    }

    @Test
    void withoutABackendChannelTheDeviceIsToldTheChangeWasNotPassedOn() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 32)
                 .protocolFeatures(VirtioSession.SUPPORTED_PROTOCOL_FEATURES
                     & ~ProtocolFeature.bit(ProtocolFeature.BACKEND_REQ)).build())
        {
            session.init();
            assertThat(session.backendChannel()).isNull();
            assertThat(backend.device().changeConfig(0, (byte)1)).isFalse();
            assertThat(fe.getConfig(0, EchoDevice.CONFIG_SIZE)[0]).isEqualTo((byte)1);
        }
    }
}
