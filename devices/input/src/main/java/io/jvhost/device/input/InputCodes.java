package io.jvhost.device.input;

/**
 * The Linux evdev numbers jvhost's input devices use ({@code linux/input-event-codes.h}, {@code linux/input.h}),
 * beyond the few {@link InputSink} carries. The values are part of the Linux user-space ABI and the same on every
 * architecture.
 */
public final class InputCodes
{
    // Event types (EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_LED are in InputSink).
    public static final int EV_MSC = 0x04;
    public static final int EV_SW = 0x05;
    public static final int EV_SND = 0x12;
    public static final int EV_REP = 0x14;
    public static final int EV_FF = 0x15;
    public static final int EV_PWR = 0x16;
    public static final int EV_FF_STATUS = 0x17;
    /** Highest event type; there are {@code EV_MAX + 1} types. */
    public static final int EV_MAX = 0x1f;

    // EV_SYN codes.
    public static final int SYN_REPORT = 0;
    public static final int SYN_DROPPED = 3;

    // EV_KEY codes.
    public static final int KEY_ESC = 1;
    public static final int KEY_A = 30;
    public static final int KEY_B = 48;
    public static final int KEY_ENTER = 28;
    public static final int KEY_CAPSLOCK = 58;
    /** The last code of the regular keyboard block (0x0f8). */
    public static final int KEY_MICMUTE = 248;
    public static final int BTN_MISC = 0x100;
    public static final int BTN_LEFT = 0x110;
    public static final int BTN_RIGHT = 0x111;
    public static final int BTN_MIDDLE = 0x112;
    public static final int BTN_SIDE = 0x113;
    public static final int BTN_EXTRA = 0x114;
    /** Highest key or button code; there are {@code KEY_MAX + 1}. */
    public static final int KEY_MAX = 0x2ff;

    // EV_REL codes.
    public static final int REL_X = 0x00;
    public static final int REL_Y = 0x01;
    public static final int REL_HWHEEL = 0x06;
    public static final int REL_WHEEL = 0x08;
    public static final int REL_MAX = 0x0f;

    // EV_ABS codes.
    public static final int ABS_X = 0x00;
    public static final int ABS_Y = 0x01;
    public static final int ABS_MAX = 0x3f;

    // EV_LED codes.
    public static final int LED_NUML = 0x00;
    public static final int LED_CAPSL = 0x01;
    public static final int LED_SCROLLL = 0x02;
    public static final int LED_MAX = 0x0f;

    // Input properties (EVIOCGPROP / VIRTIO_INPUT_CFG_PROP_BITS).
    public static final int INPUT_PROP_POINTER = 0x00;
    public static final int INPUT_PROP_DIRECT = 0x01;
    public static final int INPUT_PROP_MAX = 0x1f;

    // struct input_id bustype values.
    public static final int BUS_USB = 0x03;
    public static final int BUS_VIRTUAL = 0x06;

    private InputCodes()
    {
    }

    /**
     * @return a short name for an event type, e.g. {@code EV_KEY}, or its number in hex.
     */
    public static String typeName(final int type)
    {
        return switch (type)
        {
            case InputSink.EV_SYN -> "EV_SYN";
            case InputSink.EV_KEY -> "EV_KEY";
            case InputSink.EV_REL -> "EV_REL";
            case InputSink.EV_ABS -> "EV_ABS";
            case EV_MSC -> "EV_MSC";
            case EV_SW -> "EV_SW";
            case InputSink.EV_LED -> "EV_LED";
            case EV_SND -> "EV_SND";
            case EV_REP -> "EV_REP";
            case EV_FF -> "EV_FF";
            case EV_PWR -> "EV_PWR";
            case EV_FF_STATUS -> "EV_FF_STATUS";
            default -> "type 0x" + Integer.toHexString(type);
        };
    }
}
