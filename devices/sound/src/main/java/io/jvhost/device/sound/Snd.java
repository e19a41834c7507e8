package io.jvhost.device.sound;

/**
 * The virtio-snd protocol's numbers (virtio 1.2, section 5.14): queues, request codes, statuses, events, stream
 * features, sample formats, frame rates, channel positions and jack features, with the sizes of what they encode.
 */
public final class Snd
{
    /** virtio device ID of the sound device. */
    public static final int DEVICE_TYPE = 25;

    public static final int CONTROL_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    public static final int TX_QUEUE = 2;
    public static final int RX_QUEUE = 3;

    /** Device feature: control elements (not offered). */
    public static final int F_CTLS = 0;

    // Request codes.
    public static final int R_JACK_INFO = 1;
    public static final int R_JACK_REMAP = 2;
    public static final int R_PCM_INFO = 0x0100;
    public static final int R_PCM_SET_PARAMS = 0x0101;
    public static final int R_PCM_PREPARE = 0x0102;
    public static final int R_PCM_RELEASE = 0x0103;
    public static final int R_PCM_START = 0x0104;
    public static final int R_PCM_STOP = 0x0105;
    public static final int R_CHMAP_INFO = 0x0200;

    // Event codes.
    public static final int EVT_JACK_CONNECTED = 0x1000;
    public static final int EVT_JACK_DISCONNECTED = 0x1001;
    public static final int EVT_PCM_PERIOD_ELAPSED = 0x1100;
    public static final int EVT_PCM_XRUN = 0x1101;

    // Statuses.
    public static final int S_OK = 0x8000;
    public static final int S_BAD_MSG = 0x8001;
    public static final int S_NOT_SUPP = 0x8002;
    public static final int S_IO_ERR = 0x8003;

    // Stream directions.
    public static final int D_OUTPUT = 0;
    public static final int D_INPUT = 1;

    // Stream feature bits (PCM_INFO features, SET_PARAMS features).
    public static final int PCM_F_SHMEM_HOST = 0;
    public static final int PCM_F_SHMEM_GUEST = 1;
    public static final int PCM_F_MSG_POLLING = 2;
    public static final int PCM_F_EVT_SHMEM_PERIODS = 3;
    public static final int PCM_F_EVT_XRUNS = 4;

    // Sample formats (bit positions in PCM_INFO formats, values in SET_PARAMS format).
    public static final int FMT_S8 = 3;
    public static final int FMT_U8 = 4;
    public static final int FMT_S16 = 5;
    public static final int FMT_U16 = 6;
    public static final int FMT_S24 = 15;
    public static final int FMT_U24 = 16;
    public static final int FMT_S32 = 17;
    public static final int FMT_U32 = 18;
    public static final int FMT_FLOAT = 19;
    public static final int FMT_FLOAT64 = 20;
    /** One past the last format the spec defines (IEC958_SUBFRAME is 24). */
    public static final int FMT_COUNT = 25;

    // Frame rates (bit positions in PCM_INFO rates, values in SET_PARAMS rate).
    public static final int RATE_8000 = 1;
    public static final int RATE_11025 = 2;
    public static final int RATE_16000 = 3;
    public static final int RATE_22050 = 4;
    public static final int RATE_32000 = 5;
    public static final int RATE_44100 = 6;
    public static final int RATE_48000 = 7;
    private static final int[] RATE_HZ = {5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000,
        176400, 192000, 384000};

    // Channel positions (CHMAP_INFO).
    public static final int CHMAP_NONE = 0;
    public static final int CHMAP_MONO = 2;
    public static final int CHMAP_FL = 3;
    public static final int CHMAP_FR = 4;
    public static final int CHMAP_RL = 5;
    public static final int CHMAP_RR = 6;
    public static final int CHMAP_FC = 7;
    public static final int CHMAP_LFE = 8;
    /** Positions a chmap can hold. */
    public static final int CHMAP_MAX_SIZE = 18;

    /** Jack feature: JACK_REMAP is supported. */
    public static final int JACK_F_REMAP = 0;

    /** Frame sizes the spec's formats occupy per sample (physical width), 0 where not a linear format we serve. */
    private static final int[] SAMPLE_BYTES = new int[FMT_COUNT];

    static
    {
        SAMPLE_BYTES[FMT_S8] = 1;
        SAMPLE_BYTES[FMT_U8] = 1;
        SAMPLE_BYTES[FMT_S16] = 2;
        SAMPLE_BYTES[FMT_U16] = 2;
        SAMPLE_BYTES[FMT_S24] = 4;
        SAMPLE_BYTES[FMT_U24] = 4;
        SAMPLE_BYTES[FMT_S32] = 4;
        SAMPLE_BYTES[FMT_U32] = 4;
        SAMPLE_BYTES[FMT_FLOAT] = 4;
        SAMPLE_BYTES[FMT_FLOAT64] = 8;
    }

    private Snd()
    {
    }

    /**
     * @return bytes per sample of {@code format} (its physical width), or 0 for a format this device never offers.
     */
    public static int sampleBytes(final int format)
    {
        return format >= 0 && format < FMT_COUNT ? SAMPLE_BYTES[format] : 0;
    }

    /**
     * @return the frame rate in Hz of rate code {@code rate}, or 0 for an unknown code.
     */
    public static int rateHz(final int rate)
    {
        return rate >= 0 && rate < RATE_HZ.length ? RATE_HZ[rate] : 0;
    }

    /**
     * @return the rate code of {@code hz}, or -1 when the spec has none.
     */
    public static int rateCode(final int hz)
    {
        for (int i = 0; i < RATE_HZ.length; i++)
        {
            if (RATE_HZ[i] == hz)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return a request code's name for logs.
     */
    public static String requestName(final int code)
    {
        return switch (code)
        {
            case R_JACK_INFO -> "JACK_INFO";
            case R_JACK_REMAP -> "JACK_REMAP";
            case R_PCM_INFO -> "PCM_INFO";
            case R_PCM_SET_PARAMS -> "PCM_SET_PARAMS";
            case R_PCM_PREPARE -> "PCM_PREPARE";
            case R_PCM_RELEASE -> "PCM_RELEASE";
            case R_PCM_START -> "PCM_START";
            case R_PCM_STOP -> "PCM_STOP";
            case R_CHMAP_INFO -> "CHMAP_INFO";
            default -> "0x" + Integer.toHexString(code);
        };
    }

    /**
     * @return a status's name for logs.
     */
    public static String statusName(final int status)
    {
        return switch (status)
        {
            case S_OK -> "OK";
            case S_BAD_MSG -> "BAD_MSG";
            case S_NOT_SUPP -> "NOT_SUPP";
            case S_IO_ERR -> "IO_ERR";
            default -> "0x" + Integer.toHexString(status);
        };
    }
}
