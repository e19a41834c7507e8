package io.jvhost.device.sound;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A WAV file's audio format as virtio-snd codes, and the canonical 44-byte header that describes it.
 * <pre>
 *  0      4          8      12     16        20       22         24        28          32          34         36
 *  "RIFF" riff size  "WAVE" "fmt " 16 (u32)  tag u16  channels   rate u32  bytes/s u32 block u16   bits u16
 *  36     40         44
 *  "data" data size  frames...
 * </pre>
 * Tag 1 is integer PCM (8-bit unsigned, 16- and 32-bit signed), tag 3 IEEE float; all little-endian.
 *
 * @param format   virtio sample format code ({@link Snd#FMT_U8}, {@link Snd#FMT_S16}, {@link Snd#FMT_S32},
 *                 {@link Snd#FMT_FLOAT}).
 * @param channels 1..255.
 * @param rateHz   frames per second (one of the spec's rates).
 */
public record WavFormat(int format, int channels, int rateHz)
{
    public static final int HEADER = 44;
    /** The formats a WAV file can hold without conversion. */
    public static final long FORMATS = 1L << Snd.FMT_U8 | 1L << Snd.FMT_S16 | 1L << Snd.FMT_S32 | 1L << Snd.FMT_FLOAT;

    public WavFormat
    {
        if ((FORMATS & 1L << format) == 0 || format >= 64)
        {
            throw new IllegalArgumentException("format " + format + " has no WAV equivalent (U8, S16, S32, FLOAT)");
        }
        if (channels < 1 || channels > 255)
        {
            throw new IllegalArgumentException("channels " + channels + " outside 1..255");
        }
        if (Snd.rateCode(rateHz) < 0)
        {
            throw new IllegalArgumentException("rate " + rateHz + " Hz is not one of virtio-snd's rates");
        }
    }

    /**
     * @return the format of a stream with {@code params}.
     */
    public static WavFormat of(final PcmParams params)
    {
        return new WavFormat(params.format(), params.channels(), params.rateHz());
    }

    public int frameBytes()
    {
        return Snd.sampleBytes(format) * channels;
    }

    /**
     * @return the byte of silence (0x80 for unsigned 8-bit, else 0).
     */
    public byte silence()
    {
        return format == Snd.FMT_U8 ? (byte)0x80 : 0;
    }

    /**
     * @return the 44-byte header for {@code dataBytes} bytes of frames.
     */
    public ByteBuffer header(final long dataBytes)
    {
        final int bits = Snd.sampleBytes(format) * 8;
        final ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt((int)Math.min(36 + dataBytes,
            0xFFFF_FFFFL)).put("WAVE".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.put("fmt ".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(16)
            .putShort((short)(format == Snd.FMT_FLOAT ? 3 : 1)).putShort((short)channels).putInt(rateHz)
            .putInt(rateHz * frameBytes()).putShort((short)frameBytes()).putShort((short)bits);
        b.put("data".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt((int)Math.min(dataBytes,
            0xFFFF_FFFFL));
        return b.flip();
    }

    /**
     * Reads a WAV header: the {@code fmt } chunk (tag 1, 3, or 0xFFFE with one of those as sub-format) and where the
     * {@code data} chunk starts.
     *
     * @param head at least the file's first bytes up to the data chunk (the whole file's first 64 KiB will do).
     * @return the format and, in {@code dataAt[0]} and {@code dataAt[1]}, the data chunk's offset and size.
     * @throws IllegalArgumentException naming what is wrong.
     */
    public static WavFormat parse(final ByteBuffer head, final long[] dataAt)
    {
        final ByteBuffer b = head.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 12 || b.getInt(0) != 0x4646_4952 || b.getInt(8) != 0x4556_4157)
        {
            throw new IllegalArgumentException("not a RIFF/WAVE file");
        }
        int pos = 12;
        WavFormat fmt = null;
        while (pos + 8 <= b.limit())
        {
            final int id = b.getInt(pos);
            final long size = Integer.toUnsignedLong(b.getInt(pos + 4));
            if (id == 0x2074_6D66)
            {
                if (size < 16 || pos + 8 + 16 > b.limit())
                {
                    throw new IllegalArgumentException("fmt chunk of " + size + " bytes is too short");
                }
                int tag = Short.toUnsignedInt(b.getShort(pos + 8));
                final int channels = Short.toUnsignedInt(b.getShort(pos + 10));
                final int rate = b.getInt(pos + 12);
                final int bits = Short.toUnsignedInt(b.getShort(pos + 22));
                if (tag == 0xFFFE && size >= 40 && pos + 8 + 26 <= b.limit())
                {
                    tag = Short.toUnsignedInt(b.getShort(pos + 8 + 24));
                }
                final int format = tag == 3 && bits == 32 ? Snd.FMT_FLOAT : tag != 1 ? -1 : switch (bits)
                {
                    case 8 -> Snd.FMT_U8;
                    case 16 -> Snd.FMT_S16;
                    case 32 -> Snd.FMT_S32;
                    default -> -1;
                };
                if (format < 0)
                {
                    throw new IllegalArgumentException("WAV format tag " + tag + " with " + bits
                        + " bits per sample is not served (8-bit, 16-bit or 32-bit PCM, 32-bit float)");
                }
                fmt = new WavFormat(format, channels, rate);
            }
            else if (id == 0x6174_6164)
            {
                if (null == fmt)
                {
                    throw new IllegalArgumentException("data chunk before the fmt chunk");
                }
                dataAt[0] = pos + 8;
                dataAt[1] = size;
                return fmt;
            }
            pos += 8 + (int)Math.min(size + (size & 1), Integer.MAX_VALUE - pos - 8);
        }
        throw new IllegalArgumentException(null == fmt ? "no fmt chunk" : "no data chunk in the first "
            + b.limit() + " bytes");
    }
}
