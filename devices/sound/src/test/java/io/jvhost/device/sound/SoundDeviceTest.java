package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import io.jvhost.device.sound.wire.ChmapInfo;
import io.jvhost.device.sound.wire.JackInfo;
import io.jvhost.device.sound.wire.PcmInfo;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.sound.SoundRig.LE32;
import static io.jvhost.device.sound.SoundRig.pcm;
import static io.jvhost.device.sound.SoundRig.query;
import static io.jvhost.device.sound.SoundRig.setParams;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SoundDevice} on mock rings with a clock the test moves: the information requests, the PCM lifecycle with its
 * refusals, hold-until-START, real-time completion, capture, xruns, RELEASE, and hostile requests answered with the
 * spec's status while the device serves on.
 */
class SoundDeviceTest
{
    /** 1024 frames of S16 stereo at 48 kHz. */
    private static final int PERIOD = 4096;
    private static final long PERIOD_NANOS = 1024L * 1_000_000_000L / 48000;

    private RecordingBackend backend;

    /** @return how long {@code periods} periods last, as the device computes it (whole nanoseconds, rounded down). */
    private static long nanos(final int periods)
    {
        return periods * (long)PERIOD * 1_000_000_000L / (48000 * 4);
    }
    private SoundRig rig;

    @BeforeEach
    void setUp() throws Exception
    {
        backend = new RecordingBackend();
        rig = new SoundRig(backend);
    }

    @AfterEach
    void tearDown()
    {
        rig.close();
    }

    private static byte[] frames(final int n, final int seed)
    {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)(i * 7 + seed);
        }
        return b;
    }

    @Test
    void offersVhostDeviceSoundsFeaturesQueuesAndConfig()
    {
        final SoundDevice d = rig.device;
        assertThat(d.deviceType()).isEqualTo(25);
        assertThat(d.queueCount()).isEqualTo(4);
        assertThat(d.maxQueueSize()).isEqualTo(64);
        assertThat(d.features()).isEqualTo(0x1_3100_0000L & ~VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.NOTIFY_ON_EMPTY) | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        assertThat(d.configSize()).isEqualTo(16);
        final MemorySegment config = MemorySegment.ofArray(new byte[16]);
        d.readConfig(0, config);
        assertThat(config.get(LE32, 0)).as("jacks").isEqualTo(2);
        assertThat(config.get(LE32, 4)).as("streams").isEqualTo(2);
        assertThat(config.get(LE32, 8)).as("chmaps").isEqualTo(2);
        assertThat(config.get(LE32, 12)).as("controls").isZero();
        assertThatThrownBy(() -> d.readConfig(12, MemorySegment.ofArray(new byte[8])))
            .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("offset 12");
    }

    @Test
    void pcmInfoDescribesAPlaybackAndACaptureStreamOnOneFunction()
    {
        final byte[] r = rig.control(query(Snd.R_PCM_INFO, 0, 2, PcmInfo.SIZE), 4 + 2 * PcmInfo.SIZE);
        assertThat(r).hasSize(4 + 2 * PcmInfo.SIZE);
        final MemorySegment s = MemorySegment.ofArray(r);
        assertThat(s.get(LE32, 0)).isEqualTo(Snd.S_OK);
        final PcmInfo info = new PcmInfo();
        for (int i = 0; i < 2; i++)
        {
            info.wrap(s.asSlice(4 + i * PcmInfo.SIZE));
            assertThat(info.direction()).isEqualTo(i == 0 ? Snd.D_OUTPUT : Snd.D_INPUT);
            assertThat(info.formats()).isEqualTo(1L << Snd.FMT_U8 | 1L << Snd.FMT_S16 | 1L << Snd.FMT_S24
                | 1L << Snd.FMT_S32);
            assertThat(info.rates()).isEqualTo(0xFEL);
            assertThat(info.channelsMin()).isEqualTo(1);
            assertThat(info.channelsMax()).isEqualTo(6);
            assertThat(info.features()).isEqualTo(1 << Snd.PCM_F_EVT_XRUNS);
            assertThat(s.get(LE32, 4 + i * PcmInfo.SIZE)).as("hda_fn_nid").isZero();
        }
    }

    @Test
    void jackAndChmapInfoAnswerEveryItemAndPadALargerItemSize()
    {
        final byte[] jacks = rig.control(query(Snd.R_JACK_INFO, 0, 2, 32), 4 + 64);
        assertThat(jacks).hasSize(4 + 64);
        final MemorySegment j = MemorySegment.ofArray(jacks);
        final JackInfo jack = new JackInfo();
        assertThat(jack.wrap(j.asSlice(4)).defconf()).isEqualTo(ControlRequests.LINE_OUT_DEFCONF);
        assertThat(jack.connected()).isTrue();
        assertThat(jack.features()).isEqualTo(1 << Snd.JACK_F_REMAP);
        assertThat(j.asSlice(4 + 24, 8).toArray(ValueLayout.JAVA_BYTE)).as("padding up to size").containsOnly(0);
        assertThat(jack.wrap(j.asSlice(4 + 32)).defconf()).isEqualTo(ControlRequests.MIC_IN_DEFCONF);

        final byte[] maps = rig.control(query(Snd.R_CHMAP_INFO, 1, 1, ChmapInfo.SIZE), 64);
        final ChmapInfo map = new ChmapInfo().wrap(MemorySegment.ofArray(maps).asSlice(4));
        assertThat(map.direction()).isEqualTo(Snd.D_INPUT);
        assertThat(map.channels()).isEqualTo(2);
        assertThat(map.position(0)).isEqualTo(Snd.CHMAP_FL);
        assertThat(map.position(1)).isEqualTo(Snd.CHMAP_FR);
    }

    @Test
    void jackRemapChangesTheAssociationAndSequenceAndRefusesOutOfRange()
    {
        final MemorySegment req = MemorySegment.ofArray(new byte[16]);
        new io.jvhost.device.sound.wire.JackRemap().wrap(req).set(Snd.R_JACK_REMAP, 1, 3, 5);
        assertThat(rig.controlStatus(req.toArray(ValueLayout.JAVA_BYTE))).isEqualTo(Snd.S_OK);
        final byte[] r = rig.control(query(Snd.R_JACK_INFO, 1, 1, JackInfo.SIZE), 64);
        assertThat(new JackInfo().wrap(MemorySegment.ofArray(r).asSlice(4)).defconf())
            .isEqualTo(ControlRequests.MIC_IN_DEFCONF & ~0xFF | 0x35);
        new io.jvhost.device.sound.wire.JackRemap().wrap(req).set(Snd.R_JACK_REMAP, 1, 16, 0);
        assertThat(rig.controlStatus(req.toArray(ValueLayout.JAVA_BYTE))).isEqualTo(Snd.S_BAD_MSG);
        new io.jvhost.device.sound.wire.JackRemap().wrap(req).set(Snd.R_JACK_REMAP, 2, 0, 0);
        assertThat(rig.controlStatus(req.toArray(ValueLayout.JAVA_BYTE))).as("no jack 2").isEqualTo(Snd.S_BAD_MSG);
    }

    @Test
    void hostileInfoRequestsAreRefusedWithBadMsgAndUnknownCodesWithNotSupp()
    {
        assertThat(rig.controlStatus(query(Snd.R_PCM_INFO, 1, 2, PcmInfo.SIZE))).as("past the streams")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(query(Snd.R_PCM_INFO, -1, 2, PcmInfo.SIZE))).as("start wraps")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(query(Snd.R_JACK_INFO, 0, -1, JackInfo.SIZE))).as("huge count")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(query(Snd.R_PCM_INFO, 0, 1, 8))).as("item smaller than ours")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(query(Snd.R_PCM_INFO, 0, 1, 1 << 20))).as("item absurdly large")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(MemorySegment.ofArray(rig.control(query(Snd.R_PCM_INFO, 0, 2, PcmInfo.SIZE), 40)).get(LE32, 0))
            .as("response too small for two items").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(new byte[] {1, 1})).as("shorter than a code").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(new byte[] {0, 1, 0, 0, 0, 0, 0, 0})).as("PCM_INFO header only")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(0x0300, 0))).as("CTL_INFO without F_CTLS").isEqualTo(Snd.S_NOT_SUPP);
        assertThat(rig.controlStatus(pcm(0x7777, 0))).isEqualTo(Snd.S_NOT_SUPP);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 2))).as("no stream 2").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, -1))).as("stream id 2^32-1").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.control(pcm(Snd.R_PCM_PREPARE, 0), 0)).as("no room for a status: returned unused").isEmpty();
        assertThat(rig.control(query(Snd.R_PCM_INFO, 0, 2, PcmInfo.SIZE), 68)).as("still serving").hasSize(68);
    }

    @Test
    void setParamsOutOfRangeIsRefusedAndChangesNothing()
    {
        final int ok = rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000));
        assertThat(ok).isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 7, Snd.FMT_S16, Snd.RATE_48000))).as("7 channels")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 0, Snd.FMT_S16, Snd.RATE_48000))).as("0 channels")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_FLOAT64, Snd.RATE_48000)))
            .as("format not offered").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, 200, Snd.RATE_48000))).as("no such format")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, 13))).as("384 kHz not offered")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, 99))).as("no such rate")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 0, 0, 2, Snd.FMT_S16, Snd.RATE_48000))).as("period 0")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4094, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
            .as("period not whole frames").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 2048, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
            .as("buffer below period").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, -4, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000))).as("4 GiB buffer")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 1 << Snd.PCM_F_SHMEM_HOST, 2, Snd.FMT_S16,
            Snd.RATE_48000))).as("feature not offered").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.device.state(0)).isEqualTo(PcmState.PARAMS_SET);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).as("the first parameters stand")
            .isEqualTo(Snd.S_OK);
    }

    @Test
    void requestsInTheWrongStateAreRefusedWithBadMsg()
    {
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).as("PREPARE before SET_PARAMS")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).as("START before PREPARE").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).as("STOP while idle").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_RELEASE, 0))).as("RELEASE while idle").isEqualTo(Snd.S_BAD_MSG);
        rig.prepareS16Stereo(0, 0);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).as("STOP while prepared").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).as("START while running").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_RELEASE, 0))).as("RELEASE while running")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
            .as("SET_PARAMS while running").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).as("PREPARE while running")
            .isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.device.state(0)).isEqualTo(PcmState.RUNNING);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).as("START again after STOP").isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).as("START after RELEASE").isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).as("PREPARE after RELEASE").isEqualTo(Snd.S_OK);
        assertThat(backend.calls).containsExactly("prepare 0", "start 0", "stop 0", "start 0", "stop 0", "release 0",
            "prepare 0");
    }

    @Test
    void aFailingBackendAnswersPrepareWithIoErrAndTheStreamStaysUnprepared()
    {
        backend.failPrepare = "no such card";
        assertThat(rig.controlStatus(setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000)))
            .isEqualTo(Snd.S_OK);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_IO_ERR);
        assertThat(rig.device.state(0)).isEqualTo(PcmState.PARAMS_SET);
        backend.failPrepare = null;
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_OK);
    }

    @Test
    void playbackIsHeldUntilStartThenCompletedInRealTimeAndReachesTheBackendExactly()
    {
        rig.prepareS16Stereo(0, 0);
        final byte[][] sent = new byte[4][];
        for (int i = 0; i < 4; i++)
        {
            sent[i] = frames(PERIOD, i);
            rig.playback(0, sent[i]);
        }
        assertThat(rig.serve(2)).as("nothing due before START").isZero();
        assertThat(rig.used(2)).as("held until START").isEmpty();
        assertThat(rig.device.held(0)).isEqualTo(4);
        rig.now += 5_000_000_000L;
        rig.serve(2);
        assertThat(rig.used(2)).as("still held: time alone does not start a stream").isEmpty();

        final long started = rig.now;
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.wakes).as("START wakes the tx queue").contains(Snd.TX_QUEUE);
        assertThat(rig.serve(2)).as("the first is due one period after START").isEqualTo(PERIOD_NANOS);
        assertThat(rig.used(2)).isEmpty();
        rig.now += PERIOD_NANOS - 1;
        rig.serve(2);
        assertThat(rig.used(2)).as("not a nanosecond early").isEmpty();
        rig.now += 1;
        rig.serve(2);
        final List<Long> first = rig.used(2);
        assertThat(first).hasSize(1);
        assertThat((int)(first.get(0) & 0xFFFF_FFFFL)).as("used length: the status").isEqualTo(8);
        assertThat(rig.playbackStatus(0)).isEqualTo(Snd.S_OK);
        rig.now = started + nanos(4);
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(3);
        final byte[] expected = new byte[4 * PERIOD];
        for (int i = 0; i < 4; i++)
        {
            System.arraycopy(sent[i], 0, expected, i * PERIOD, PERIOD);
        }
        assertThat(backend.played.toByteArray()).isEqualTo(expected);
        assertThat(rig.device.bytes(0)).isEqualTo(4 * PERIOD);
    }

    @Test
    void aMessageAddedWithoutAKickWhileRunningIsTakenAtStopAndGoesBackOkAtRelease()
    {
        rig.prepareS16Stereo(0, 0);
        rig.playback(0, frames(PERIOD, 0));
        rig.playback(0, frames(PERIOD, 1));
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.serve(2)).isEqualTo(PERIOD_NANOS);
        rig.driver[2].needsKick();
        rig.playback(0, frames(PERIOD, 2));
        assertThat(rig.driver[2].needsKick()).as("no kick while the stream holds messages").isFalse();
        rig.wakes.clear();
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
        assertThat(rig.wakes).as("STOP wakes the tx queue").contains(Snd.TX_QUEUE);
        rig.serve(2);
        assertThat(rig.device.held(0)).as("taken at the STOP, held").isEqualTo(3);
        rig.playback(0, frames(PERIOD, 3));
        assertThat(rig.driver[2].needsKick()).as("kicks wanted again once stopped").isTrue();
        rig.serve(2);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(4);
        for (int i = 0; i < 4; i++)
        {
            assertThat(rig.playbackStatus(i)).as("message " + i).isEqualTo(Snd.S_OK);
        }
        assertThat(rig.device.refusedMessages()).isZero();
    }

    @Test
    void aLongPlaybackKeepsExactlyToRealTimeWithoutDrift()
    {
        rig.prepareS16Stereo(0, 0);
        final long start = rig.now;
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        int completed = 0;
        // 48000 frames per second in periods of 1024 frames: 3000 periods are exactly 64 seconds.
        for (int sent = 0, rounds = 0; sent < 3000; rounds++)
        {
            assertThat(rounds).as("rounds").isLessThan(10_000);
            while (sent < 3000 && sent - completed < 4)
            {
                rig.playback(0, new byte[PERIOD]);
                sent++;
            }
            final long wait = rig.serve(2);
            completed += rig.used(2).size();
            if (wait > 0)
            {
                rig.now += wait;
            }
        }
        for (int rounds = 0; completed < 3000; rounds++)
        {
            assertThat(rounds).as("rounds").isLessThan(100);
            final long wait = rig.serve(2);
            completed += rig.used(2).size();
            if (completed < 3000)
            {
                rig.now += Math.max(wait, 1);
            }
        }
        assertThat(rig.now - start).as("3000 periods take 64 s, to the nanosecond")
            .isBetween(64_000_000_000L, 64_000_000_001L);
    }

    @Test
    void stopKeepsHeldMessagesAndReleaseReturnsThemUnplayed()
    {
        rig.prepareS16Stereo(0, 0);
        rig.playback(0, frames(PERIOD, 1));
        rig.playback(0, frames(PERIOD, 2));
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        rig.now += PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_STOP, 0))).isEqualTo(Snd.S_OK);
        rig.now += 10 * PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.used(2)).as("stopped: held, not played").isEmpty();
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_RELEASE, 0))).isEqualTo(Snd.S_OK);
        rig.serve(2);
        assertThat(rig.used(2)).as("RELEASE returns every held message").hasSize(1);
        assertThat(rig.playbackStatus(1)).isEqualTo(Snd.S_OK);
        assertThat(backend.played.size()).as("only the played period reached the back-end").isEqualTo(PERIOD);
        assertThat(rig.device.held(0)).isZero();
    }

    @Test
    void captureFillsMessagesFromTheBackendInRealTimeWithTheirLengthAndStatus()
    {
        rig.prepareS16Stereo(1, 0);
        final long a = rig.capture(1, PERIOD);
        final long b = rig.capture(1, PERIOD);
        rig.serve(3);
        assertThat(rig.used(3)).as("held until START").isEmpty();
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 1))).isEqualTo(Snd.S_OK);
        assertThat(rig.serve(3)).isEqualTo(PERIOD_NANOS);
        rig.now += 2 * PERIOD_NANOS;
        rig.serve(3);
        final List<Long> used = rig.used(3);
        assertThat(used).hasSize(2);
        assertThat(used).allSatisfy(u -> assertThat((int)(u & 0xFFFF_FFFFL)).as("frames and status")
            .isEqualTo(PERIOD + 8));
        for (int i = 0; i < PERIOD; i++)
        {
            assertThat(rig.ram.get(ValueLayout.JAVA_BYTE, a + i)).isEqualTo((byte)i);
            assertThat(rig.ram.get(ValueLayout.JAVA_BYTE, b + i)).isEqualTo((byte)(PERIOD + i));
        }
        assertThat(rig.ram.get(LE32, a + PERIOD)).isEqualTo(Snd.S_OK);
        assertThat(rig.ram.get(LE32, b + PERIOD)).isEqualTo(Snd.S_OK);
    }

    @Test
    void aStreamLeftWithoutMessagesForAWholeBufferIsAnXrunToldOnTheEventQueue()
    {
        rig.prepareS16Stereo(0, 1 << Snd.PCM_F_EVT_XRUNS);
        rig.driver[1].add(new long[] {0xA0000}, new int[] {8}, 0, 1);
        rig.driver[1].publish();
        rig.serve(1);
        assertThat(rig.used(1)).as("no event yet: the buffer waits").isEmpty();
        rig.playback(0, frames(PERIOD, 0));
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        rig.now += PERIOD_NANOS;
        final long wait = rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
        assertThat(wait).as("an xrun is due a buffer (4 periods) after the audio ran out").isEqualTo(nanos(4));
        rig.now += wait - 1;
        rig.serve(2);
        assertThat(rig.device.xruns(0)).isZero();
        rig.now += 1;
        rig.serve(2);
        assertThat(rig.device.xruns(0)).isEqualTo(1);
        assertThat(rig.wakes).contains(Snd.EVENT_QUEUE);
        rig.serve(1);
        final List<Long> events = rig.used(1);
        assertThat(events).hasSize(1);
        assertThat((int)(events.get(0) & 0xFFFF_FFFFL)).isEqualTo(8);
        assertThat(rig.ram.get(LE32, 0xA0000)).isEqualTo(Snd.EVT_PCM_XRUN);
        assertThat(rig.ram.get(LE32, 0xA0004)).as("stream id").isZero();
        rig.now += 100 * PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.device.xruns(0)).as("one xrun per dry spell").isEqualTo(1);

        rig.playback(0, frames(PERIOD, 0));
        rig.serve(2);
        assertThat(rig.used(2)).as("after a gap audio resumes now, not in a burst").isEmpty();
        rig.now += PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
    }

    @Test
    void aCaptureStreamWithNoBufferToRecordIntoForAWholeBufferIsAnOverrunTold()
    {
        rig.prepareS16Stereo(1, 1 << Snd.PCM_F_EVT_XRUNS);
        rig.driver[1].add(new long[] {0xA0000}, new int[] {8}, 0, 1);
        rig.driver[1].publish();
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 1))).isEqualTo(Snd.S_OK);
        assertThat(rig.serve(3)).as("nothing to record into: an overrun is due a buffer later").isEqualTo(nanos(4));
        rig.now += nanos(4);
        rig.serve(3);
        assertThat(rig.device.xruns(1)).isEqualTo(1);
        rig.serve(1);
        assertThat(rig.used(1)).hasSize(1);
        assertThat(rig.ram.get(LE32, 0xA0000)).isEqualTo(Snd.EVT_PCM_XRUN);
        assertThat(rig.ram.get(LE32, 0xA0004)).as("stream id").isEqualTo(1);
    }

    @Test
    void newParametersWhilePreparedReturnTheHeldMessagesAndReleaseTheHostSide()
    {
        rig.prepareS16Stereo(0, 0);
        rig.playback(0, frames(PERIOD, 0));
        rig.serve(2);
        assertThat(rig.device.held(0)).isEqualTo(1);
        assertThat(rig.controlStatus(setParams(0, 8192, 2048, 0, 1, Snd.FMT_S16, Snd.RATE_44100)))
            .isEqualTo(Snd.S_OK);
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
        assertThat(rig.playbackStatus(0)).isEqualTo(Snd.S_OK);
        assertThat(backend.played.size()).as("returned, not played").isZero();
        assertThat(backend.calls).containsExactly("prepare 0", "release 0");
        assertThat(rig.device.state(0)).isEqualTo(PcmState.PARAMS_SET);
    }

    @Test
    void withoutXrunEventsEnabledAnXrunIsCountedButNotSent()
    {
        rig.prepareS16Stereo(0, 0);
        rig.driver[1].add(new long[] {0xA0000}, new int[] {8}, 0, 1);
        rig.driver[1].publish();
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        rig.serve(2);
        rig.now += 10 * PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.device.xruns(0)).isEqualTo(1);
        rig.serve(1);
        assertThat(rig.used(1)).isEmpty();
    }

    @Test
    void hostileIoMessagesAreRefusedWithBadMsgAndTheStreamPlaysOn()
    {
        // Before any PREPARE: the stream takes no I/O.
        rig.playback(0, frames(PERIOD, 0));
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
        assertThat(rig.playbackStatus(0)).isEqualTo(Snd.S_BAD_MSG);

        rig.prepareS16Stereo(0, 0);
        rig.playback(7, frames(PERIOD, 0));
        rig.playback(1, frames(PERIOD, 0));
        rig.playback(0, frames(PERIOD - 1, 0));
        rig.playback(0, frames(16384 + 4, 0));
        rig.serve(2);
        assertThat(rig.used(2)).as("no stream 7, a capture stream, not whole frames, beyond the buffer").hasSize(4);
        for (int slot = 1; slot <= 4; slot++)
        {
            assertThat(rig.playbackStatus(slot)).isEqualTo(Snd.S_BAD_MSG);
        }
        // A message with no room for its status comes back unused; one without its header gets BAD_MSG.
        rig.driver[2].add(new long[] {SoundRig.IO}, new int[] {4 + PERIOD}, 1, 0);
        rig.driver[2].add(new long[] {SoundRig.IO, SoundRig.STATUS + 0x8000}, new int[] {2, 8}, 1, 1);
        rig.driver[2].add(new long[] {SoundRig.STATUS + 0x9000}, new int[] {8}, 0, 1);
        rig.driver[2].publish();
        rig.serve(2);
        final List<Long> used = rig.used(2);
        assertThat(used).hasSize(3);
        assertThat((int)(used.get(0) & 0xFFFF_FFFFL)).isZero();
        assertThat(rig.ram.get(LE32, SoundRig.STATUS + 0x8000)).isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.ram.get(LE32, SoundRig.STATUS + 0x9000)).isEqualTo(Snd.S_BAD_MSG);
        assertThat(rig.device.refusedMessages()).as("1 before PREPARE, 4 bad, 3 malformed").isEqualTo(8);

        final byte[] good = frames(PERIOD, 9);
        rig.playback(0, good);
        assertThat(rig.controlStatus(pcm(Snd.R_PCM_START, 0))).isEqualTo(Snd.S_OK);
        rig.now += PERIOD_NANOS;
        rig.serve(2);
        assertThat(rig.used(2)).hasSize(1);
        assertThat(backend.played.toByteArray()).isEqualTo(good);
    }

    @Test
    void aResetForgetsStreamsAndTheirHeldMessages()
    {
        rig.prepareS16Stereo(0, 0);
        rig.playback(0, frames(PERIOD, 0));
        rig.serve(2);
        assertThat(rig.device.held(0)).isEqualTo(1);
        rig.device.reset();
        assertThat(rig.device.state(0)).isEqualTo(PcmState.IDLE);
        assertThat(rig.device.held(0)).isZero();
        assertThat(backend.calls).endsWith("release 0");
    }
}
