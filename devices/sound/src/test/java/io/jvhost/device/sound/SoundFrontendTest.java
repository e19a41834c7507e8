package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.Await;
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
 * time into the WAV file exactly; messages held at a VM stop (GET_VRING_BASE) put back on the ring and played once,
 * in order and in real time after the {@code cont}, nothing written while stopped, nothing after a reset; and hostile
 * requests refused with the spec's status while the device serves on, also for the next front-end.
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

    /** 480 frames of S16 stereo: 10 ms at 48 kHz. */
    private static final int SHORT_PERIOD = 1920;
    private static final int SHORT_PERIODS = 100;
    private static final int SHORT_BUFFER_PERIODS = 8;

    /**
     * Steady playback as Linux's virtio_snd plays: the buffer's messages in flight, each completion answered by the
     * next message, published and kicked when the device asks for kicks. The device looks at the ring at each message's
     * due time anyway, so it asks for none while its stream holds messages: its worker wakes once per message (the
     * timer), not twice (timer and kick). Counted, not timed: the driver's kicks and calls, and the worker thread's
     * voluntary context switches (each one a sleep in epoll_wait ended by a wake-up).
     */
    @Test
    void steadyPlaybackWakesTheWorkerOncePerPeriodWithoutAKickPerMessage() throws Exception
    {
        final byte[] audio = new byte[SHORT_PERIODS * SHORT_PERIOD];
        new Random(11).nextBytes(audio);
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.init();
            session.start();
            final Driver d = Driver.of(ram, session);
            assertThat(d.control(SoundRig.setParams(0, SHORT_BUFFER_PERIODS * SHORT_PERIOD, SHORT_PERIOD, 0, 2,
                Snd.FMT_S16, Snd.RATE_48000))).isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_OK);
            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final long frames = ram.allocate(SHORT_BUFFER_PERIODS * (4L + SHORT_PERIOD), 8);
            final long status = ram.allocate(SHORT_BUFFER_PERIODS * 8L, 8);
            int sent = 0;
            while (sent < SHORT_BUFFER_PERIODS)
            {
                sendShortPeriod(ram, tx, frames, status, audio, sent++);
            }
            tx.publishAndKick();
            final Map<String, Long> switchesBefore = workerSwitches("sound0-worker");
            final long kicksBefore = tx.kicks();
            final long suppressedBefore = tx.suppressedKicks();
            final long started = System.nanoTime();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            int done = 0;
            while (done < SHORT_PERIODS)
            {
                final int n = tx.awaitUsed(WAIT);
                assertThat(n).as("periods completed").isPositive();
                for (int i = 0; i < n; i++)
                {
                    assertThat(status(ram, status + (done++ % SHORT_BUFFER_PERIODS) * 8L)).isEqualTo(Snd.S_OK);
                    if (sent < SHORT_PERIODS)
                    {
                        sendShortPeriod(ram, tx, frames, status, audio, sent++);
                        tx.publishAndKick();
                    }
                }
            }
            final long tookMs = (System.nanoTime() - started) / 1_000_000;
            final Map<String, Long> switchesAfter = workerSwitches("sound0-worker");
            final long kicks = tx.kicks() - kicksBefore;
            final long suppressed = tx.suppressedKicks() - suppressedBefore;
            long wakeups = 0;
            for (final Map.Entry<String, Long> e : switchesAfter.entrySet())
            {
                wakeups += e.getValue() - switchesBefore.getOrDefault(e.getKey(), 0L);
            }
            // 100 messages of 10 ms: the last is due 1 s after START.
            assertThat(tookMs).as("real time").isGreaterThanOrEqualTo(SHORT_PERIODS * 10);
            // The old worker was kicked for each of the 92 messages sent while playing and woke twice per message.
            // A kick is still right when the stream ran dry (a loaded machine's driver late): a few at most.
            assertThat(kicks).as("kicks while playing (" + suppressed + " suppressed)")
                .isLessThanOrEqualTo(SHORT_PERIODS / 10);
            assertThat(suppressed).as("kicks the driver left out").isGreaterThanOrEqualTo(SHORT_PERIODS * 8 / 10);
            assertThat(wakeups).as("worker wake-ups for " + SHORT_PERIODS + " messages").isPositive()
                .isLessThanOrEqualTo(SHORT_PERIODS * 13 / 10);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
            final byte[] wav = Files.readAllBytes(playback);
            assertThat(Arrays.copyOfRange(wav, 44, wav.length)).isEqualTo(audio);
        }
    }

    private static void sendShortPeriod(final GuestRam ram, final FrontendQueue tx, final long frames,
        final long status, final byte[] audio, final int n)
    {
        final int slot = n % SHORT_BUFFER_PERIODS;
        final long at = frames + slot * (4L + SHORT_PERIOD);
        ram.write(at, new byte[4], 0, 4);
        ram.write(at + 4, audio, n * SHORT_PERIOD, SHORT_PERIOD);
        ram.fill(status + slot * 8L, 8, (byte)0x5A);
        tx.add(new long[] {at, status + slot * 8L}, new int[] {4 + SHORT_PERIOD, 8}, 1, 1);
    }

    /**
     * @return the voluntary context switches of this process's threads named {@code prefix}..., by thread id.
     */
    private static Map<String, Long> workerSwitches(final String prefix) throws Exception
    {
        final Map<String, Long> found = new HashMap<>();
        try (var tasks = Files.list(Path.of("/proc/self/task")))
        {
            for (final Path t : tasks.toList())
            {
                try
                {
                    if (Files.readString(t.resolve("comm")).startsWith(prefix))
                    {
                        for (final String line : Files.readAllLines(t.resolve("status")))
                        {
                            if (line.startsWith("voluntary_ctxt_switches:"))
                            {
                                found.put(t.getFileName().toString(),
                                    Long.parseLong(line.substring(line.indexOf(':') + 1).strip()));
                            }
                        }
                    }
                }
                catch (final NoSuchFileException e)
                {
                    // The thread ended meanwhile.
                }
            }
        }
        assertThat(found).as("threads named " + prefix).isNotEmpty();
        return found;
    }

    /** 4096 frames of S16 stereo: 85.3 ms at 48 kHz. */
    private static final int LONG_PERIOD = 16384;
    private static final long LONG_PERIOD_NANOS = LONG_PERIOD * 1_000_000_000L / (48_000 * 4);

    /** Collects used elements' heads across awaitUsed/pollUsed calls. */
    private static int collect(final FrontendQueue q, final int n, final List<Integer> heads)
    {
        for (int i = 0; i < n; i++)
        {
            heads.add(q.usedHead(i));
        }
        return n;
    }

    private static void prepare(final Driver d, final int stream, final int bufferBytes, final int periodBytes)
        throws Exception
    {
        assertThat(d.control(SoundRig.setParams(stream, bufferBytes, periodBytes, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
            .isEqualTo(Snd.S_OK);
        assertThat(d.control(SoundRig.pcm(Snd.R_PCM_PREPARE, stream))).isEqualTo(Snd.S_OK);
    }

    /** Playback messages on the ring, unpublished: where their frames and 8-byte statuses are, and their heads. */
    private record Queued(long frames, long status, List<Integer> heads)
    {
    }

    /**
     * Adds {@code periods} playback messages for stream 0 to {@code tx}, each a 4-byte header, one long period of
     * {@code audio} and an 8-byte status filled with 0x5A (so an unanswered status shows).
     */
    private static Queued queuePlayback(final GuestRam ram, final FrontendQueue tx, final byte[] audio,
        final int periods)
    {
        final long frames = ram.allocate(periods * (4L + LONG_PERIOD), 8);
        final long status = ram.allocate(periods * 8L, 8);
        ram.fill(status, periods * 8L, (byte)0x5A);
        final List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < periods; i++)
        {
            final long at = frames + i * (4L + LONG_PERIOD);
            ram.write(at, new byte[4], 0, 4);
            ram.write(at + 4, audio, i * LONG_PERIOD, LONG_PERIOD);
            heads.add(tx.add(new long[] {at, status + i * 8L}, new int[] {4 + LONG_PERIOD, 8}, 1, 1));
        }
        return new Queued(frames, status, heads);
    }

    private static int status(final GuestRam ram, final long at)
    {
        return MemorySegment.ofArray(ram.read(at, 4)).get(LE32, 0);
    }

    @Test
    void playbackHeldAtAVmStopGoesBackOnTheRingAndPlaysOnceInOrderInRealTimeAfterTheCont() throws Exception
    {
        final int periods = 16;
        final byte[] audio = new byte[periods * LONG_PERIOD];
        new Random(11).nextBytes(audio);
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final Driver d = Driver.of(ram, session);
            prepare(d, 0, periods * LONG_PERIOD, LONG_PERIOD);
            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final Queued queued = queuePlayback(ram, tx, audio, periods);
            final long status = queued.status();
            final List<Integer> added = queued.heads();
            tx.publishAndKick();
            assertThat(Await.until(() -> device.held(0) == periods, WAIT)).as("all held").isTrue();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            final List<Integer> used = new ArrayList<>();
            assertThat(collect(tx, tx.awaitUsed(WAIT), used)).as("the first period played").isPositive();

            // VM stop (SET_VRING_ENABLE 0, GET_VRING_BASE per ring) while 1.3 s of periods are still held.
            final int[] bases = session.stop();
            collect(tx, tx.pollUsed(), used);
            final int played = used.size();
            assertThat(played).as("periods were still held at the stop").isLessThan(periods);
            assertThat(bases[Snd.TX_QUEUE]).as("tx base: the first held message, put back on the ring")
                .isEqualTo(played);
            assertThat(device.held(0)).isZero();
            final long bytesAtStop = device.bytes(0);
            final byte[] usedRingAtStop = ram.read(tx.usedGpa(), 4 + 8 * SoundDevice.QUEUE_SIZE);
            final byte[] statusAtStop = ram.read(status, periods * 8);
            assertThat(tx.awaitUsed(Duration.ofNanos(4 * LONG_PERIOD_NANOS))).as("nothing completes while stopped")
                .isZero();
            assertThat(ram.read(tx.usedGpa(), 4 + 8 * SoundDevice.QUEUE_SIZE)).as("used ring untouched while stopped")
                .isEqualTo(usedRingAtStop);
            assertThat(ram.read(status, periods * 8)).as("statuses untouched while stopped").isEqualTo(statusAtStop);
            assertThat(device.bytes(0)).as("nothing played while stopped").isEqualTo(bytesAtStop);
            for (int i = played; i < periods; i++)
            {
                assertThat(status(ram, status + i * 8L)).as("held message " + i + " not answered").isEqualTo(0x5A5A5A5A);
            }

            // VM cont: every ring from the base the stop reported; the held periods are taken again.
            final long restarted = System.nanoTime();
            session.start();
            while (used.size() < periods)
            {
                assertThat(collect(tx, tx.awaitUsed(WAIT), used)).as("periods after the cont").isPositive();
            }
            final long tookNanos = System.nanoTime() - restarted;
            assertThat(used).as("every period completed exactly once, in order").isEqualTo(added);
            assertThat(tookNanos).as("the rest played in real time from the cont, not caught up in a burst")
                .isGreaterThanOrEqualTo((periods - played) * LONG_PERIOD_NANOS);
            assertThat(tx.awaitUsed(Duration.ofNanos(2 * LONG_PERIOD_NANOS))).as("nothing completed twice").isZero();
            for (int i = 0; i < periods; i++)
            {
                assertThat(status(ram, status + i * 8L)).as("message " + i).isEqualTo(Snd.S_OK);
            }
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
            final byte[] wav = Files.readAllBytes(playback);
            assertThat(Arrays.copyOfRange(wav, 44, wav.length)).as("every sample once, in order").isEqualTo(audio);
        }
    }

    @Test
    void playbackHeldAtAStopIsNeverCompletedAfterAResetAndNothingIsWrittenMeanwhile() throws Exception
    {
        final int periods = 16;
        final byte[] audio = new byte[periods * LONG_PERIOD];
        new Random(12).nextBytes(audio);
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final Driver d = Driver.of(ram, session);
            prepare(d, 0, periods * LONG_PERIOD, LONG_PERIOD);
            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final Queued queued = queuePlayback(ram, tx, audio, periods);
            final long frames = queued.frames();
            final long status = queued.status();
            tx.publishAndKick();
            assertThat(Await.until(() -> device.held(0) == periods, WAIT)).as("all held").isTrue();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            int played = tx.awaitUsed(WAIT);
            assertThat(played).as("the first period played").isPositive();

            final int[] bases = session.stop();
            played += tx.pollUsed();
            assertThat(played).as("periods were still held at the stop").isLessThan(periods);
            assertThat(bases[Snd.TX_QUEUE]).isEqualTo(played);
            final byte[] memoryAtStop = ram.read(frames, (int)(status + periods * 8L - frames));
            final byte[] usedRingAtStop = ram.read(tx.usedGpa(), 4 + 8 * SoundDevice.QUEUE_SIZE);
            final long bytesAtStop = device.bytes(0);

            // A guest reset instead of a cont: RESET_DEVICE while stopped, then a new driver's rings from base 0.
            fe.resetDevice();
            assertThat(device.state(0)).as("reset").isEqualTo(PcmState.IDLE);
            assertThat(tx.awaitUsed(Duration.ofNanos(4 * LONG_PERIOD_NANOS))).as("nothing completes").isZero();
            assertThat(ram.read(tx.usedGpa(), 4 + 8 * SoundDevice.QUEUE_SIZE)).as("used ring untouched")
                .isEqualTo(usedRingAtStop);
            assertThat(ram.read(frames, (int)(status + periods * 8L - frames))).as("messages untouched")
                .isEqualTo(memoryAtStop);
            session.resetQueues();
            fe.getConfig(0, SoundDevice.CONFIG_SIZE);
            session.start();
            prepare(d, 0, periods * LONG_PERIOD, LONG_PERIOD);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            final byte[] fresh = new byte[LONG_PERIOD];
            new Random(13).nextBytes(fresh);
            final long msg = ram.allocate(4 + LONG_PERIOD, 8);
            final long freshStatus = ram.allocate(8, 8);
            ram.write(msg, new byte[4], 0, 4);
            ram.write(msg + 4, fresh, 0, LONG_PERIOD);
            final int head = tx.add(new long[] {msg, freshStatus}, new int[] {4 + LONG_PERIOD, 8}, 1, 1);
            tx.publishAndKick();
            assertThat(tx.awaitUsed(WAIT)).as("only the new driver's message").isEqualTo(1);
            assertThat(tx.usedHead(0)).isEqualTo(head);
            assertThat(status(ram, freshStatus)).isEqualTo(Snd.S_OK);
            assertThat(tx.awaitUsed(Duration.ofNanos(2 * LONG_PERIOD_NANOS))).as("the old ones never").isZero();
            for (int i = played; i < periods; i++)
            {
                assertThat(status(ram, status + i * 8L)).as("old message " + i).isEqualTo(0x5A5A5A5A);
            }
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
            final byte[] wav = Files.readAllBytes(playback);
            final byte[] expected = new byte[(int)bytesAtStop + LONG_PERIOD];
            System.arraycopy(audio, 0, expected, 0, (int)bytesAtStop);
            System.arraycopy(fresh, 0, expected, (int)bytesAtStop, LONG_PERIOD);
            assertThat(bytesAtStop).isEqualTo((long)played * LONG_PERIOD);
            assertThat(Arrays.copyOfRange(wav, 44, wav.length)).as("what played before the stop, then the new period")
                .isEqualTo(expected);
        }
    }

    @Test
    void heldMessagesThatAreNotTheLastTakenGoBackWithIoErrBeforeTheBaseAndNeverAgain() throws Exception
    {
        final byte[] audio = new byte[LONG_PERIOD];
        new Random(14).nextBytes(audio);
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final Driver d = Driver.of(ram, session);
            prepare(d, 0, 4 * LONG_PERIOD, LONG_PERIOD);
            final FrontendQueue tx = session.queue(Snd.TX_QUEUE);
            final long frames = ram.allocate(3 * (4L + LONG_PERIOD), 8);
            final long status = ram.allocate(3 * 8L, 8);
            ram.fill(status, 3 * 8L, (byte)0x5A);
            final List<Integer> added = new ArrayList<>();
            for (int i = 0; i < 3; i++)
            {
                final long at = frames + i * (4L + LONG_PERIOD);
                // Two messages for the playback stream (held until START), then one naming the capture stream.
                ram.write(at, new byte[] {(byte)(i < 2 ? 0 : 1), 0, 0, 0}, 0, 4);
                added.add(tx.add(new long[] {at, status + i * 8L}, new int[] {4 + LONG_PERIOD, 8}, 1, 1));
            }
            tx.publishAndKick();
            final List<Integer> used = new ArrayList<>();
            assertThat(collect(tx, tx.awaitUsed(WAIT), used)).as("the third refused at once").isEqualTo(1);
            assertThat(used).containsExactly(added.get(2));
            assertThat(status(ram, status + 16)).isEqualTo(Snd.S_BAD_MSG);
            assertThat(device.held(0)).isEqualTo(2);

            final int[] bases = session.stop();
            assertThat(bases[Snd.TX_QUEUE]).as("every message taken is accounted for in the base").isEqualTo(3);
            assertThat(collect(tx, tx.pollUsed(), used)).as("the held two came back before the base").isEqualTo(2);
            assertThat(used).containsExactly(added.get(2), added.get(0), added.get(1));
            assertThat(status(ram, status)).isEqualTo(Snd.S_IO_ERR);
            assertThat(status(ram, status + 8)).isEqualTo(Snd.S_IO_ERR);
            assertThat(device.held(0)).isZero();

            session.start();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
            final long at = ram.allocate(4 + LONG_PERIOD, 8);
            final long st = ram.allocate(8, 8);
            ram.write(at, new byte[4], 0, 4);
            ram.write(at + 4, audio, 0, LONG_PERIOD);
            final int head = tx.add(new long[] {at, st}, new int[] {4 + LONG_PERIOD, 8}, 1, 1);
            tx.publishAndKick();
            assertThat(tx.awaitUsed(WAIT)).as("only the new message after the restart").isEqualTo(1);
            assertThat(tx.usedHead(0)).isEqualTo(head);
            assertThat(tx.awaitUsed(Duration.ofNanos(2 * LONG_PERIOD_NANOS))).as("none completed twice").isZero();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
            final byte[] wav = Files.readAllBytes(playback);
            assertThat(Arrays.copyOfRange(wav, 44, wav.length)).as("only the new period played").isEqualTo(audio);
        }
    }

    @Test
    void captureHeldAtAStopIsHeldAgainAfterTheContAndFilledInOrder() throws Exception
    {
        final int messages = 4;
        try (GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final Driver d = Driver.of(ram, session);
            prepare(d, 1, messages * PERIOD, PERIOD);
            final FrontendQueue rx = session.queue(Snd.RX_QUEUE);
            final long header = ram.allocate(4L * messages, 8);
            final long buffers = ram.allocate(messages * (PERIOD + 8L), 8);
            ram.fill(buffers, messages * (PERIOD + 8L), (byte)0x5A);
            final List<Integer> added = new ArrayList<>();
            for (int i = 0; i < messages; i++)
            {
                ram.write(header + 4L * i, new byte[] {1, 0, 0, 0}, 0, 4);
                added.add(rx.add(new long[] {header + 4L * i, buffers + i * (PERIOD + 8L)},
                    new int[] {4, PERIOD + 8}, 1, 1));
            }
            rx.publishAndKick();
            assertThat(Await.until(() -> device.held(1) == messages, WAIT)).as("held until START").isTrue();

            final int[] bases = session.stop();
            assertThat(bases[Snd.RX_QUEUE]).as("rx base: back at the first held message").isZero();
            assertThat(rx.pollUsed()).as("none given back").isZero();
            assertThat(device.held(1)).isZero();

            session.start();
            assertThat(Await.until(() -> device.held(1) == messages, WAIT)).as("taken again after the cont")
                .isTrue();
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_START, 1))).isEqualTo(Snd.S_OK);
            final List<Integer> used = new ArrayList<>();
            while (used.size() < messages)
            {
                final int n = rx.awaitUsed(WAIT);
                assertThat(n).as("captured").isPositive();
                for (int i = 0; i < n; i++)
                {
                    assertThat(rx.usedLength(i)).as("frames and status").isEqualTo(PERIOD + 8);
                }
                collect(rx, n, used);
            }
            assertThat(used).as("each once, in order").isEqualTo(added);
            assertThat(rx.awaitUsed(Duration.ofMillis(100))).as("none twice").isZero();
            for (int i = 0; i < messages; i++)
            {
                final long at = buffers + i * (PERIOD + 8L);
                assertThat(ram.read(at, PERIOD)).as("silence recorded").isEqualTo(new byte[PERIOD]);
                assertThat(status(ram, at + PERIOD)).isEqualTo(Snd.S_OK);
            }
            assertThat(d.control(SoundRig.pcm(Snd.R_PCM_STOP, 1))).isEqualTo(Snd.S_OK);
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
