package io.jvhost.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost sound --backend file} fronted by QEMU 10's {@code vhost-user-snd-pci}, with a 6.12 guest
 * ({@code virtio_snd}) running {@code sndplay} (a static C program built here with gcc from a test resource: ALSA
 * through the kernel's ioctls, no alsa-lib). One boot: the guest plays 49152 frames of a known waveform (S16, stereo,
 * 48 kHz, about one second), which must arrive in the playback WAV sample-exact and in real time (the back-end's own
 * measure from START to the last period, and the guest's from its first write to the end of its drain); then it
 * records 24576 frames, which must be the capture WAV's first 24576 frames exactly (compared by SHA-256); then it
 * plays three seconds more while the VM is stopped and continued (QEMU stops the rings with GET_VRING_BASE; stopped
 * again until a stop found messages held): the held messages go back on the ring and are read again after the
 * {@code cont}, so the guest's playback finishes with status 0 and every sample of both playbacks is in the WAV.
 */
class SoundGuestTest
{
    private static final int PLAY_FRAMES = 49152;
    private static final int RECORD_FRAMES = 24576;
    private static final int RATE = 48000;
    /** 1024 ms: 49152 frames at 48 kHz. */
    private static final long PLAY_MS = PLAY_FRAMES * 1000L / RATE;
    /**
     * 3072 ms, played across a VM stop/cont: whole periods of sndplay's 2048 frames (Linux's virtio_snd sends only
     * whole periods, so a last partial one would never be played and the drain would fail).
     */
    private static final int REPLAY_FRAMES = 72 * 2048;
    private static final String PUT_BACK = "held playback messages put back on the ring as it stops";
    private static final String TX_STOPPED = ": queue 2 stopped at avail index";

    /** The waveform sndplay plays: frame f is L = (int16)(f * 37 + 11), R = (int16)~(f * 53). */
    static byte[] waveform(final int frames)
    {
        final ByteBuffer b = ByteBuffer.allocate(frames * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int f = 0; f < frames; f++)
        {
            b.putShort((short)(f * 37 + 11));
            b.putShort((short)~(f * 53));
        }
        return b.array();
    }

    /** A canonical 44-byte-header WAV of S16 stereo 48 kHz frames. */
    static byte[] wav(final byte[] frames)
    {
        final ByteBuffer b = ByteBuffer.allocate(44 + frames.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(36 + frames.length)
            .put("WAVEfmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short)1).putShort((short)2)
            .putInt(RATE).putInt(RATE * 4).putShort((short)4).putShort((short)16)
            .put("data".getBytes(StandardCharsets.US_ASCII)).putInt(frames.length).put(frames);
        return b.array();
    }

    private static long size(final Path file)
    {
        try
        {
            return Files.size(file);
        }
        catch (final IOException e)
        {
            return -1;
        }
    }

    private static int count(final String text, final String what)
    {
        int n = 0;
        for (int at = text.indexOf(what); at >= 0; at = text.indexOf(what, at + what.length()))
        {
            n++;
        }
        return n;
    }

    private static Path buildPlayer(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("sndplay.c");
        try (InputStream in = SoundGuestTest.class.getResourceAsStream("sndplay.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/sndplay").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static sndplay.c: %s", out)
            .isTrue();
        return tree;
    }

    @Test
    void guestPlaysAWaveformThatArrivesSampleExactInRealTimeAndRecordsACaptureWavExactly(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withGuest612();
        env.requireOrSkip();
        final Path tree = buildPlayer(dir);

        final byte[] captureFrames = new byte[(RECORD_FRAMES + 4096) * 4];
        new Random(25).nextBytes(captureFrames);
        final Path captureWav = Files.write(dir.resolve("mic.wav"), wav(captureFrames));
        final Path playbackWav = dir.resolve("speaker.wav");

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            i=0; while [ ! -e /dev/snd/pcmC0D0c ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            # Room for TCG's stalls: buffers up to 1 s (the driver's default is 160 ms), taken at the driver's next
            # probe, so unbind and bind it (the device sees a reset).
            echo 1000 > /sys/module/virtio_snd/parameters/pcm_buffer_ms
            echo 100 > /sys/module/virtio_snd/parameters/pcm_period_ms_max
            for d in /sys/bus/virtio/drivers/virtio_snd/virtio*; do
              echo ${d##*/} > /sys/bus/virtio/drivers/virtio_snd/unbind; echo ${d##*/} > /sys/bus/virtio/drivers/virtio_snd/bind
            done
            i=0; while [ ! -e /dev/snd/pcmC0D0c ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            echo "JVHOST-SND card=$(cat /proc/asound/card0/id) pcm=$(cat /proc/asound/pcm | tr '\\n' '|') END"
            /bin/sndplay play /dev/snd/pcmC0D0p %d
            if /bin/sndplay record /dev/snd/pcmC0D0c %d /tmp/rec; then
              echo "JVHOST-SND rec=$(sha256sum /tmp/rec | cut -d' ' -f1) END"
            else
              echo "JVHOST-SND rec=failed END"
            fi
            echo "JVHOST-SND replay START"
            /bin/sndplay play /dev/snd/pcmC0D0p %d
            echo "JVHOST-SND replay rc=$? END"
            poweroff -f
            """.formatted(PLAY_FRAMES, RECORD_FRAMES, REPLAY_FRAMES), List.of(tree), 6, "virtio_pci", "virtio_snd");

        final Path socket = dir.resolve("snd.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "sound", "--socket",
            socket.toString(), "--backend", "file", "--playback-file", playbackWav.toString(), "--capture-file",
            captureWav.toString());
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-snd-pci", socket, null).start())
        {
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-SND card=.* END"), Duration.ofSeconds(120)))
                .as("the guest's sound card").contains("card=SoundCard", "playback 1", "capture 1");

            final Matcher played = Pattern.compile("SNDPLAY play frames=(\\d+) ms=(\\d+) xruns=(\\d+)")
                .matcher(vm.awaitSerial(Pattern.compile("SNDPLAY play .*"), Duration.ofSeconds(60)));
            assertThat(played.find()).isTrue();
            assertThat(Integer.parseInt(played.group(1))).isEqualTo(PLAY_FRAMES);
            assertThat(Integer.parseInt(played.group(3))).as("xruns in the guest (back-end log:\n%s)", backend.log())
                .isZero();
            assertThat(Long.parseLong(played.group(2))).as("the guest's playback took real time")
                .isBetween(PLAY_MS - 50, PLAY_MS + 3000);

            final String rec = vm.awaitSerial(Pattern.compile("JVHOST-SND rec=.* END"), Duration.ofSeconds(60));
            final MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(captureFrames, 0, RECORD_FRAMES * 4);
            assertThat(rec).as("the guest recorded the capture WAV's frames exactly (back-end log:\n%s)",
                backend.log()).contains("rec=" + HexFormat.of().formatHex(sha.digest()) + " ");
            final String logBeforeReplay = backend.log();

            // VM stop and cont while the guest plays: each time until the back-end has seen the stop (tx's
            // GET_VRING_BASE answered), again until a stop found messages held (the guest keeps up to 16 queued).
            vm.awaitSerial(Pattern.compile("JVHOST-SND replay START"), Duration.ofSeconds(60));
            // First while it plays: once four of its periods are in the WAV.
            final long playing = 44 + (PLAY_FRAMES + 4 * 2048) * 4L;
            assertThat(Await.until(() -> size(playbackWav) >= playing, Duration.ofSeconds(60)))
                .as("the second playback plays (back-end log:\n%s)", backend.log()).isTrue();
            int stops = 0;
            boolean putBack = false;
            while (!putBack && stops < 20)
            {
                final int seen = count(backend.log(), TX_STOPPED);
                vm.hmp("stop");
                stops++;
                assertThat(Await.until(() -> count(backend.log(), TX_STOPPED) > seen, Duration.ofSeconds(30)))
                    .as("the back-end saw the stop (log:\n%s)", backend.log()).isTrue();
                putBack = count(backend.log(), PUT_BACK) > 0;
                // Stopped for longer than the guest's buffer (683 ms): the device writes nothing meanwhile.
                final long sizeAtStop = size(playbackWav);
                assertThat(Await.until(() -> size(playbackWav) != sizeAtStop, Duration.ofMillis(1200)))
                    .as("nothing played while the VM is stopped").isFalse();
                vm.hmp("cont");
            }
            assertThat(putBack).as("a stop found messages held (back-end log:\n%s)", backend.log()).isTrue();
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-SND replay rc=.* END"), Duration.ofSeconds(90)))
                .as("sndplay's exit status after the cont (console:\n%s\nback-end log:\n%s)", vm.serialLog(),
                    backend.log()).contains("rc=0 END");
            final Matcher replayed = Pattern.compile("SNDPLAY play frames=(\\d+) ms=(\\d+) xruns=(\\d+)")
                .matcher(vm.serialLog());
            assertThat(replayed.find() && replayed.find()).as("the second playback's line").isTrue();
            assertThat(Integer.parseInt(replayed.group(1))).as("the playback went on after the cont")
                .isEqualTo(REPLAY_FRAMES);
            assertThat(Integer.parseInt(replayed.group(3))).as("xruns in the guest").isZero();
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();

            final Matcher stopped = Pattern.compile("stream 0 stopped: (\\d+) bytes \\((\\d+) frames\\) in (\\d+) ms")
                .matcher(backend.log());
            assertThat(stopped.find()).as("back-end log:\n%s", backend.log()).isTrue();
            assertThat(Long.parseLong(stopped.group(3))).as("START to last period, by the back-end's clock")
                .isBetween(PLAY_MS, PLAY_MS + 1500);

            System.out.println("SoundGuestTest: the guest played " + PLAY_FRAMES + " frames in " + played.group(2)
                + " ms, the back-end from START to the last period in " + stopped.group(3) + " ms; " + REPLAY_FRAMES
                + " frames across " + stops + " VM stop/cont in " + replayed.group(2) + " ms");
            final byte[] wav = Files.readAllBytes(playbackWav);
            final ByteBuffer h = ByteBuffer.wrap(wav).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(new String(wav, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("RIFF");
            assertThat(h.getShort(20)).as("PCM").isEqualTo((short)1);
            assertThat(h.getShort(22)).as("channels").isEqualTo((short)2);
            assertThat(h.getInt(24)).as("rate").isEqualTo(RATE);
            assertThat(h.getShort(34)).as("bits").isEqualTo((short)16);
            assertThat(h.getInt(40)).as("data size in the header").isEqualTo((PLAY_FRAMES + REPLAY_FRAMES) * 4);
            final byte[] data = Arrays.copyOfRange(wav, 44, wav.length);
            assertThat(data.length).as("frames recorded").isEqualTo((PLAY_FRAMES + REPLAY_FRAMES) * 4);
            assertThat(Arrays.copyOfRange(data, 0, PLAY_FRAMES * 4)).as("sample-exact")
                .isEqualTo(waveform(PLAY_FRAMES));
            assertThat(Arrays.copyOfRange(data, PLAY_FRAMES * 4, data.length))
                .as("the playback across the stop/cont: every sample once, in order").isEqualTo(waveform(REPLAY_FRAMES));
            assertThat(logBeforeReplay).doesNotContain("ERROR", "refused", "underrun");
            assertThat(backend.log()).doesNotContain("ERROR", "refused", "underrun", "IO_ERR");
        }
    }
}
