package io.jvhost.device.sound;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code --backend file}: playback is recorded into a WAV file ({@code --playback-file}), capture is read from one
 * ({@code --capture-file}). For tests and recording.
 * <ul>
 * <li>Playback: the file is (re)written with a header for the stream's format at the first PREPARE, and again when a
 * later PREPARE changes the format; with the same format, later recordings are appended. The header's sizes are
 * brought up to date at STOP, RELEASE and close, so the file is a valid WAV whenever the stream is not running. Offers
 * U8, S16, S32 and FLOAT (what WAV holds without conversion), vhost-device-sound's rates, 1 to 6 channels.</li>
 * <li>Capture: the stream offers exactly the file's format, rate and channel count, so the guest records it as it is;
 * every PREPARE starts again at the file's first frame, and past its end the guest records silence.</li>
 * </ul>
 * Without a playback file playback is discarded; without a capture file capture is silence (2-channel S16 at 48 kHz,
 * or what the guest asks of vhost-device-sound's set).
 */
public final class WavFileBackend implements SoundBackend
{
    private static final System.Logger LOG = System.getLogger(WavFileBackend.class.getName());

    private final Path playbackPath;
    private final Path capturePath;
    private FileChannel playback;
    private WavFormat playbackFormat;
    private long playbackBytes;
    private final FileChannel capture;
    private final WavFormat captureFormat;
    private final long captureStart;
    private final long captureEnd;
    private long capturePos;
    private MemorySegment viewOf;
    private ByteBuffer view;

    /**
     * @param playbackFile where playback is recorded (created or replaced at the first PREPARE), or null.
     * @param captureFile  the WAV file capture reads, or null.
     * @throws IOException              when the capture file cannot be read.
     * @throws IllegalArgumentException when it is not a WAV file this back-end serves.
     */
    public WavFileBackend(final Path playbackFile, final Path captureFile) throws IOException
    {
        this.playbackPath = playbackFile;
        this.capturePath = captureFile;
        if (null == captureFile)
        {
            capture = null;
            captureFormat = null;
            captureStart = 0;
            captureEnd = 0;
            return;
        }
        capture = FileChannel.open(captureFile, StandardOpenOption.READ);
        try
        {
            final ByteBuffer head = ByteBuffer.allocate((int)Math.min(capture.size(), 65536));
            while (head.hasRemaining() && capture.read(head, head.position()) > 0)
            {
                // read until full or end of file
            }
            final long[] data = new long[2];
            captureFormat = WavFormat.parse(head.flip(), data);
            captureStart = data[0];
            captureEnd = Math.min(capture.size(), data[0] + data[1]);
        }
        catch (final IllegalArgumentException e)
        {
            capture.close();
            throw new IllegalArgumentException(captureFile + ": " + e.getMessage(), e);
        }
        capturePos = captureStart;
        LOG.log(Level.INFO, "capture from " + captureFile + ": " + captureFormat + ", "
            + (captureEnd - captureStart) / captureFormat.frameBytes() + " frames");
    }

    @Override
    public String name()
    {
        return "file";
    }

    @Override
    public StreamCaps caps(final int direction)
    {
        if (direction == Snd.D_INPUT && null != captureFormat)
        {
            return new StreamCaps(direction, 1L << captureFormat.format(), 1L << Snd.rateCode(captureFormat.rateHz()),
                captureFormat.channels(), captureFormat.channels(), 1 << Snd.PCM_F_EVT_XRUNS);
        }
        final StreamCaps rust = StreamCaps.rustVmm(direction);
        return new StreamCaps(direction, WavFormat.FORMATS, rust.rates(), rust.channelsMin(), rust.channelsMax(),
            rust.features());
    }

    /**
     * @return the capture file's format, or null without one.
     */
    public WavFormat captureFormat()
    {
        return captureFormat;
    }

    @Override
    public String prepare(final int streamId, final int direction, final PcmParams params)
    {
        if (direction == Snd.D_INPUT)
        {
            capturePos = captureStart;
            return null;
        }
        if (null == playbackPath)
        {
            return null;
        }
        final WavFormat format = WavFormat.of(params);
        if (null != playback && format.equals(playbackFormat))
        {
            return null;
        }
        try
        {
            if (null != playback)
            {
                LOG.log(Level.INFO, playbackPath + ": the format changes from " + playbackFormat + " to " + format
                    + "; the recording starts again");
                playback.close();
            }
            playback = FileChannel.open(playbackPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
            playbackFormat = format;
            playbackBytes = 0;
            playback.write(format.header(0), 0);
            playback.position(WavFormat.HEADER);
            LOG.log(Level.INFO, "recording playback into " + playbackPath + ": " + format);
            return null;
        }
        catch (final IOException e)
        {
            playback = null;
            return "cannot write " + playbackPath + ": " + e;
        }
    }

    @Override
    public void stop(final int streamId)
    {
        updateHeader();
    }

    @Override
    public void release(final int streamId)
    {
        updateHeader();
    }

    private void updateHeader()
    {
        if (null == playback)
        {
            return;
        }
        try
        {
            playback.write(playbackFormat.header(playbackBytes), 0);
            playback.force(false);
        }
        catch (final IOException e)
        {
            LOG.log(Level.WARNING, playbackPath + ": updating the header failed: " + e);
        }
    }

    /**
     * @return a reusable ByteBuffer over {@code segment}'s first {@code length} bytes.
     */
    private ByteBuffer view(final MemorySegment segment, final long length)
    {
        if (viewOf != segment)
        {
            viewOf = segment;
            view = segment.asByteBuffer();
        }
        view.clear().limit((int)length);
        return view;
    }

    @Override
    public void write(final int streamId, final MemorySegment src, final long length)
    {
        if (null == playback)
        {
            return;
        }
        final ByteBuffer b = view(src, length);
        try
        {
            while (b.hasRemaining())
            {
                playback.write(b);
            }
            playbackBytes += length;
        }
        catch (final IOException e)
        {
            LOG.log(Level.WARNING, playbackPath + ": writing failed, recording stops: " + e);
            closePlayback();
        }
    }

    @Override
    public void read(final int streamId, final MemorySegment dst, final long length)
    {
        final ByteBuffer b = view(dst, length);
        if (null != capture)
        {
            try
            {
                while (b.hasRemaining() && capturePos < captureEnd)
                {
                    final int limit = b.limit();
                    b.limit((int)Math.min(limit, b.position() + captureEnd - capturePos));
                    final int n = capture.read(b, capturePos);
                    b.limit(limit);
                    if (n <= 0)
                    {
                        break;
                    }
                    capturePos += n;
                }
            }
            catch (final IOException e)
            {
                LOG.log(Level.WARNING, capturePath + ": reading failed: " + e);
                capturePos = captureEnd;
            }
        }
        final byte quiet = null != captureFormat ? captureFormat.silence() : 0;
        while (b.hasRemaining())
        {
            b.put(quiet);
        }
    }

    private void closePlayback()
    {
        try
        {
            playback.close();
        }
        catch (final IOException e)
        {
            LOG.log(Level.WARNING, playbackPath + ": closing failed: " + e);
        }
        playback = null;
    }

    @Override
    public void close()
    {
        updateHeader();
        if (null != playback)
        {
            closePlayback();
        }
        if (null != capture)
        {
            try
            {
                capture.close();
            }
            catch (final IOException e)
            {
                LOG.log(Level.WARNING, capturePath + ": closing failed: " + e);
            }
        }
    }
}
