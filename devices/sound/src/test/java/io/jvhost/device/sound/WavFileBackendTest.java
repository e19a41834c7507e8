package io.jvhost.device.sound;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The WAV file back-end: what playback leaves in the file (header kept up to date, format changes, appending), what
 * capture reads (the file's own format offered, silence past its end, a fresh start at each PREPARE).
 */
class WavFileBackendTest
{
    private static final PcmParams S16_STEREO_48K = new PcmParams(16384, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000);

    private static byte[] wav(final int format, final int channels, final int rate, final int bits, final byte[] data)
    {
        final ByteBuffer b = ByteBuffer.allocate(44 + 8 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(44 + data.length)
            .put("WAVE".getBytes(StandardCharsets.US_ASCII))
            .put("LIST".getBytes(StandardCharsets.US_ASCII)).putInt(0)
            .put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short)format)
            .putShort((short)channels).putInt(rate).putInt(rate * channels * bits / 8)
            .putShort((short)(channels * bits / 8)).putShort((short)bits)
            .put("data".getBytes(StandardCharsets.US_ASCII)).putInt(data.length).put(data);
        return b.array();
    }

    @Test
    void playbackIsRecordedWithAHeaderThatTracksTheDataAndAFormatChangeStartsAgain(@TempDir final Path dir)
        throws Exception
    {
        final Path out = dir.resolve("out.wav");
        try (Arena arena = Arena.ofConfined(); WavFileBackend b = new WavFileBackend(out, null))
        {
            final MemorySegment buf = arena.allocate(4096);
            for (int i = 0; i < 4096; i++)
            {
                buf.set(ValueLayout.JAVA_BYTE, i, (byte)i);
            }
            assertThat(b.prepare(0, Snd.D_OUTPUT, S16_STEREO_48K)).isNull();
            b.write(0, buf, 4096);
            b.write(0, buf, 100);
            b.stop(0);
            byte[] file = Files.readAllBytes(out);
            assertThat(file).hasSize(44 + 4196);
            final ByteBuffer h = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(h.getInt(4)).isEqualTo(36 + 4196);
            assertThat(h.getShort(20)).isEqualTo((short)1);
            assertThat(h.getShort(22)).isEqualTo((short)2);
            assertThat(h.getInt(24)).isEqualTo(48000);
            assertThat(h.getInt(28)).isEqualTo(192000);
            assertThat(h.getShort(32)).isEqualTo((short)4);
            assertThat(h.getShort(34)).isEqualTo((short)16);
            assertThat(h.getInt(40)).isEqualTo(4196);
            assertThat(Arrays.copyOfRange(file, 44, 44 + 4096)).isEqualTo(buf.toArray(ValueLayout.JAVA_BYTE));

            assertThat(b.prepare(0, Snd.D_OUTPUT, S16_STEREO_48K)).as("same format: appended").isNull();
            b.write(0, buf, 4);
            b.release(0);
            assertThat(Files.size(out)).isEqualTo(44 + 4200);

            assertThat(b.prepare(0, Snd.D_OUTPUT, new PcmParams(4096, 1024, 0, 1, Snd.FMT_FLOAT, Snd.RATE_44100)))
                .isNull();
            b.write(0, buf, 8);
            b.release(0);
            file = Files.readAllBytes(out);
            assertThat(file).as("a new format starts the file again").hasSize(44 + 8);
            assertThat(ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getShort(20)).as("IEEE float")
                .isEqualTo((short)3);
        }
    }

    @Test
    void captureOffersTheFilesFormatReadsItsFramesThenSilenceAndStartsAgainAtPrepare(@TempDir final Path dir)
        throws Exception
    {
        final byte[] data = new byte[1000];
        for (int i = 0; i < data.length; i++)
        {
            data[i] = (byte)(i % 251);
        }
        final Path in = Files.write(dir.resolve("in.wav"), wav(1, 1, 22050, 8, data));
        try (Arena arena = Arena.ofConfined(); WavFileBackend b = new WavFileBackend(null, in))
        {
            final StreamCaps caps = b.caps(Snd.D_INPUT);
            assertThat(caps.formats()).isEqualTo(1L << Snd.FMT_U8);
            assertThat(caps.rates()).isEqualTo(1L << Snd.RATE_22050);
            assertThat(caps.channelsMin()).isEqualTo(1);
            assertThat(caps.channelsMax()).isEqualTo(1);
            assertThat(b.caps(Snd.D_OUTPUT).formats()).isEqualTo(WavFormat.FORMATS);
            final PcmParams p = new PcmParams(1024, 512, 0, 1, Snd.FMT_U8, Snd.RATE_22050);
            assertThat(b.prepare(1, Snd.D_INPUT, p)).isNull();
            final MemorySegment buf = arena.allocate(1200);
            b.read(1, buf, 600);
            b.read(1, buf.asSlice(600), 600);
            final byte[] got = buf.toArray(ValueLayout.JAVA_BYTE);
            assertThat(Arrays.copyOf(got, 1000)).isEqualTo(data);
            final byte[] tail = Arrays.copyOfRange(got, 1000, 1200);
            final byte[] quiet = new byte[200];
            Arrays.fill(quiet, (byte)0x80);
            assertThat(tail).as("U8 silence past the end").isEqualTo(quiet);
            assertThat(b.prepare(1, Snd.D_INPUT, p)).isNull();
            b.read(1, buf, 10);
            assertThat(buf.asSlice(0, 10).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Arrays.copyOf(data, 10));
        }
    }

    @Test
    void filesThatAreNotServableWavAreRefusedWithTheReason(@TempDir final Path dir) throws Exception
    {
        final Path text = Files.writeString(dir.resolve("a.wav"), "hello, not a wave file");
        assertThatThrownBy(() -> new WavFileBackend(null, text)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("not a RIFF/WAVE file");
        final Path adpcm = Files.write(dir.resolve("b.wav"), wav(2, 2, 48000, 4, new byte[16]));
        assertThatThrownBy(() -> new WavFileBackend(null, adpcm)).hasMessageContaining("format tag 2");
        final Path odd = Files.write(dir.resolve("c.wav"), wav(1, 2, 12345, 16, new byte[16]));
        assertThatThrownBy(() -> new WavFileBackend(null, odd)).hasMessageContaining("12345 Hz");
        final Path s24 = Files.write(dir.resolve("d.wav"), wav(1, 2, 48000, 24, new byte[12]));
        assertThatThrownBy(() -> new WavFileBackend(null, s24)).hasMessageContaining("24 bits");
        assertThatThrownBy(() -> new WavFileBackend(null, dir.resolve("missing.wav")))
            .isInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    @Test
    void anUnwritablePlaybackFileFailsPrepareWithTheReason(@TempDir final Path dir) throws Exception
    {
        try (WavFileBackend b = new WavFileBackend(dir.resolve("no/such/dir/out.wav"), null))
        {
            assertThat(b.prepare(0, Snd.D_OUTPUT, S16_STEREO_48K)).contains("cannot write", "out.wav");
        }
    }
}
