package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.sound.SoundRig.LE32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SoundDevice} with the WAV file back-end behind the real vhost-user back-end, driven by the in-process
 * front-end as QEMU's vhost-user-snd and Linux's virtio_snd drive it: playback held until START and completed in real
 * time into the WAV file exactly, and hostile requests refused with the spec's status while the device serves on,
 * also for the next front-end.
 */
@Timeout(120)
class SoundFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int PERIOD = 4096;
    private static final int PERIODS = 8;

    @TempDir
    Path dir;

    private Path playback;
    private SoundDevice device;
    private VhostUserDaemon daemon;
    private Thread daemonThread;
    private Path socket;

    @BeforeEach
    void setUp() throws Exception
    {
        playback = dir.resolve("out.wav");
        device = new SoundDevice("sound0", new WavFileBackend(playback, null));
        socket = dir.resolve("snd.sock");
        daemon = VhostUserDaemon.listen("sound0", device, socket);
        daemonThread = Thread.ofPlatform().name("sound-daemon").start(daemon::run);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        daemon.close();
        daemonThread.join(10_000);
        device.close();
    }

    /** The driver side: control requests and playback messages in guest RAM. */
    private record Driver(GuestRam ram, VirtioSession session, long request, long response)
    {
        static Driver of(final GuestRam ram, final VirtioSession session)
        {
            return new Driver(ram, session, ram.allocate(64, 8), ram.allocate(256, 8));
        }

        /** @return the response's status word (or -1 when the device wrote nothing). */
        int control(final byte[] request, final int responseSize) throws Exception
        {
            ram.write(this.request, request, 0, request.length);
            ram.fill(response, 256, (byte)0x5A);
            final FrontendQueue q = session.queue(Snd.CONTROL_QUEUE);
            if (responseSize == 0)
            {
                q.add(new long[] {this.request}, new int[] {request.length}, 1, 0);
            }
            else
            {
                q.add(new long[] {this.request, response}, new int[] {request.length, responseSize}, 1, 1);
            }
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).as("control request answered").isEqualTo(1);
            final int written = q.usedLength(0);
            return written < 4 ? -1 : MemorySegment.ofArray(ram.read(response, 4)).get(LE32, 0);
        }

        int control(final byte[] request) throws Exception
        {
            return control(request, 64);
        }
    }

    private static VirtioSession session(final VhostUserFrontend fe, final GuestRam ram) throws Exception
    {
        return VirtioSession.builder(fe, ram).queues(4, SoundDevice.QUEUE_SIZE).build();
    }

    @Test
    void playbackIsHeldUntilStartAndReachesTheWavFileExactlyInRealTime() throws Exception
    {
        final byte[] audio = new byte[PERIODS * PERIOD];
        new Random(7).nextBytes(audio);
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.init();
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, 16));
            assertThat(config.get(LE32, 0)).as("jacks").isEqualTo(2);
            assertThat(config.get(LE32, 4)).as("streams").isEqualTo(2);
            assertThat(config.get(LE32, 8)).as("chmaps").isEqualTo(2);
            session.start();
            final Driver d = Driver.of(ram, session);
            assertThat(d.control(SoundRig.setParams(0, 4 * PERIOD, PERIOD, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
                .isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_OK);

            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final long frames = ram.allocate(PERIODS * (4L + PERIOD), 8);
            final long status = ram.allocate(PERIODS * 8L, 8);
            for (int i = 0; i < PERIODS; i++)
            {
                final long at = frames + i * (4L + PERIOD);
                ram.write(at, new byte[4], 0, 4);
                ram.write(at + 4, audio, i * PERIOD, PERIOD);
                tx.add(new long[] {at, status + i * 8L}, new int[] {4 + PERIOD, 8}, 1, 1);
            }
            tx.publishAndKick();
            assertThat(tx.awaitUsed(Duration.ofMillis(300))).as("held until START").isZero();

            final long started = System.nanoTime();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            int done = 0;
            while (done < PERIODS)
            {
                final int n = tx.awaitUsed(WAIT);
                assertThat(n).as("periods completed").isPositive();
                done += n;
            }
            final long tookMs = (System.nanoTime() - started) / 1_000_000;
            // 8 periods of 1024 frames at 48 kHz last 170.7 ms: none completes before its time.
            assertThat(tookMs).as("real time").isGreaterThanOrEqualTo(170);
            for (int i = 0; i < PERIODS; i++)
            {
                assertThat(MemorySegment.ofArray(ram.read(status + i * 8L, 4)).get(LE32, 0)).isEqualTo(Snd.S_OK);
            }
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
            final byte[] wav = Files.readAllBytes(playback);
            assertThat(Arrays.copyOfRange(wav, 44, wav.length)).isEqualTo(audio);
        }
    }

    @Test
    void hostileRequestsAreRefusedWithTheSpecsStatusAndTheNextFrontEndIsServed() throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.init();
            assertThatThrownBy(() -> fe.getConfig(12, 8)).isInstanceOf(FrontendException.class);
            assertThatThrownBy(() -> fe.getConfig(16, 1)).isInstanceOf(FrontendException.class);
            session.start();
            final Driver d = Driver.of(ram, session);
            assertThat(d.control(new byte[] {9})).as("shorter than a code").isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.pcm(0x1234, 0))).as("unknown code").isEqualTo(Snd.S_NOT_SUPP);
            assertThat(d.control(SoundRig.query(Snd.R_PCM_INFO, 2, 1, 32))).as("no stream 2").isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.query(Snd.R_CHMAP_INFO, 0, 2, 24), 20)).as("no room")
                .isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).as("START before PREPARE")
                .isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, 99))).as("no stream 99").isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.setParams(1, 4 * PERIOD, PERIOD, 0, 2, Snd.FMT_S16, 30)))
                .as("no rate 30").isEqualTo(Snd.S_BAD_MSG);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, 0), 0)).as("no room for a status").isEqualTo(-1);

            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final long msg = ram.allocate(4 + PERIOD, 8);
            final long status = ram.allocate(8, 8);
            ram.write(msg, new byte[] {1, 0, 0, 0}, 0, 4);
            tx.add(new long[] {msg, status}, new int[] {4 + PERIOD, 8}, 1, 1);
            tx.publishAndKick();
            assertThat(tx.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(MemorySegment.ofArray(ram.read(status, 4)).get(LE32, 0)).as("capture stream on tx")
                .isEqualTo(Snd.S_BAD_MSG);

            assertThat(d.control(SoundRig.query(Snd.R_PCM_INFO, 0, 2, 32), 68)).as("still serving")
                .isEqualTo(Snd.S_OK);
        }
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final Driver d = Driver.of(ram, session);
            assertThat(d.control(SoundRig.setParams(0, 4 * PERIOD, PERIOD, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
                .as("the next front-end starts from IDLE").isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_OK);
        }
    }
}
