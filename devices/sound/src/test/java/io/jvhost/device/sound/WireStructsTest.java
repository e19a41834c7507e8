package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;

import io.jvhost.device.sound.wire.ChmapInfo;
import io.jvhost.device.sound.wire.JackInfo;
import io.jvhost.device.sound.wire.JackRemap;
import io.jvhost.device.sound.wire.PcmHeader;
import io.jvhost.device.sound.wire.PcmInfo;
import io.jvhost.device.sound.wire.PcmSetParams;
import io.jvhost.device.sound.wire.PcmStatus;
import io.jvhost.device.sound.wire.QueryInfo;
import io.jvhost.device.sound.wire.SoundEvent;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every wire struct's bytes, little-endian at the spec's offsets, against hand-written hex.
 */
class WireStructsTest
{
    private static MemorySegment seg(final int size)
    {
        return MemorySegment.ofArray(new byte[size]);
    }

    private static String hex(final MemorySegment s)
    {
        return HexFormat.of().formatHex(s.toArray(ValueLayout.JAVA_BYTE));
    }

    private static MemorySegment of(final String hex)
    {
        return MemorySegment.ofArray(HexFormat.of().parseHex(hex));
    }

    @Test
    void requestsReadTheirFieldsLittleEndian()
    {
        final QueryInfo q = new QueryInfo().wrap(of("00010000" + "01000000" + "02000000" + "20000000"));
        assertThat(q.code()).isEqualTo(Snd.R_PCM_INFO);
        assertThat(q.startId()).isEqualTo(1);
        assertThat(q.count()).isEqualTo(2);
        assertThat(q.size()).isEqualTo(32);
        assertThat(new QueryInfo().wrap(of("00010000ffffffffffffffffffffffff")).count()).as("unsigned")
            .isEqualTo(0xFFFF_FFFFL);

        final PcmHeader h = new PcmHeader().wrap(of("0401000001000000"));
        assertThat(h.code()).isEqualTo(Snd.R_PCM_START);
        assertThat(h.streamId()).isEqualTo(1);

        final PcmSetParams p = new PcmSetParams().wrap(of("01010000" + "00000000" + "00400000" + "00100000"
            + "10000000" + "02" + "05" + "07" + "00"));
        assertThat(p.streamId()).isZero();
        assertThat(p.bufferBytes()).isEqualTo(16384);
        assertThat(p.periodBytes()).isEqualTo(4096);
        assertThat(p.features()).isEqualTo(1 << Snd.PCM_F_EVT_XRUNS);
        assertThat(p.channels()).isEqualTo(2);
        assertThat(p.format()).isEqualTo(Snd.FMT_S16);
        assertThat(p.rate()).isEqualTo(Snd.RATE_48000);
        final MemorySegment back = seg(PcmSetParams.SIZE);
        new PcmSetParams().wrap(back).set(Snd.R_PCM_SET_PARAMS, 0, 16384, 4096, 16, 2, Snd.FMT_S16, Snd.RATE_48000);
        assertThat(hex(back)).isEqualTo("0101000000000000004000000010000010000000020507" + "00");

        final JackRemap r = new JackRemap().wrap(of("02000000" + "01000000" + "03000000" + "05000000"));
        assertThat(r.jackId()).isEqualTo(1);
        assertThat(r.association()).isEqualTo(3);
        assertThat(r.sequence()).isEqualTo(5);
    }

    @Test
    void responsesWriteTheSpecsLayout()
    {
        final MemorySegment j = seg(JackInfo.SIZE);
        j.fill((byte)0x77);
        new JackInfo().wrap(j).set(0, 1, 0x01014010, 0x14, true);
        assertThat(hex(j)).isEqualTo("00000000" + "01000000" + "10400101" + "14000000" + "01" + "00000000000000");

        final MemorySegment p = seg(PcmInfo.SIZE);
        new PcmInfo().wrap(p).set(0, 16, 1L << Snd.FMT_S16, 1L << Snd.RATE_48000, Snd.D_INPUT, 1, 6);
        assertThat(hex(p)).isEqualTo("00000000" + "10000000" + "2000000000000000" + "8000000000000000" + "01"
            + "01" + "06" + "0000000000");

        final MemorySegment c = seg(ChmapInfo.SIZE);
        new ChmapInfo().wrap(c).set(0, Snd.D_OUTPUT, new byte[] {Snd.CHMAP_FL, Snd.CHMAP_FR});
        assertThat(hex(c)).isEqualTo("00000000" + "00" + "02" + "0304" + "00".repeat(16));

        final MemorySegment s = seg(PcmStatus.SIZE);
        new PcmStatus().wrap(s).set(Snd.S_BAD_MSG, 4096);
        assertThat(hex(s)).isEqualTo("01800000" + "00100000");
        assertThat(new PcmStatus().wrap(s).status()).isEqualTo(Snd.S_BAD_MSG);

        final MemorySegment e = seg(SoundEvent.SIZE);
        new SoundEvent().wrap(e).set(Snd.EVT_PCM_XRUN, 1);
        assertThat(hex(e)).isEqualTo("01110000" + "01000000");
    }

    @Test
    void formatAndRateTablesFollowTheSpec()
    {
        assertThat(Snd.sampleBytes(Snd.FMT_S16)).isEqualTo(2);
        assertThat(Snd.sampleBytes(Snd.FMT_S24)).as("S24 in a 32-bit container").isEqualTo(4);
        assertThat(Snd.sampleBytes(0)).as("IMA ADPCM: not served").isZero();
        assertThat(Snd.sampleBytes(-1)).isZero();
        assertThat(Snd.sampleBytes(200)).isZero();
        assertThat(Snd.rateHz(Snd.RATE_48000)).isEqualTo(48000);
        assertThat(Snd.rateHz(0)).isEqualTo(5512);
        assertThat(Snd.rateHz(13)).isEqualTo(384000);
        assertThat(Snd.rateHz(14)).isZero();
        assertThat(Snd.rateCode(44100)).isEqualTo(Snd.RATE_44100);
        assertThat(Snd.rateCode(12345)).isEqualTo(-1);
        assertThat(Snd.statusName(Snd.S_IO_ERR)).isEqualTo("IO_ERR");
        assertThat(Snd.requestName(0x300)).isEqualTo("0x300");
    }
}
