package io.jvhost.device.input;

/**
 * A virtual absolute pointer, like QEMU's virtio-tablet: {@code ABS_X}/{@code ABS_Y} from 0 to
 * {@link InputSink#ABS_MAX} (the display's full width and height, whatever its resolution), the left, right and
 * middle buttons and a wheel. Like QEMU's it sets no input property: the guest treats it as a pointer that
 * jumps to absolute positions (no {@code INPUT_PROP_DIRECT}, which would make it a touchscreen).
 */
public final class VirtualTablet
{
    /** The name the guest sees. */
    public static final String NAME = "jvhost virtual tablet";
    /** QEMU's vendor id for its virtual HID devices. */
    public static final int VENDOR = 0x0627;
    public static final int PRODUCT = 0x0003;
    public static final int VERSION = 0x0001;

    private VirtualTablet()
    {
    }

    /**
     * @return the tablet's capabilities.
     */
    public static InputCapabilities capabilities()
    {
        return addTo(InputCapabilities.builder(NAME).serial("jvhost-tablet")
            .ids(InputCodes.BUS_VIRTUAL, VENDOR, PRODUCT, VERSION)).build();
    }

    /**
     * Adds the tablet's axes, buttons and wheel to {@code builder}.
     */
    public static InputCapabilities.Builder addTo(final InputCapabilities.Builder builder)
    {
        final InputCapabilities.AbsInfo range = InputCapabilities.AbsInfo.range(0, InputSink.ABS_MAX);
        return builder.abs(InputCodes.ABS_X, range).abs(InputCodes.ABS_Y, range)
            .code(InputSink.EV_KEY, InputCodes.BTN_LEFT)
            .code(InputSink.EV_KEY, InputCodes.BTN_RIGHT)
            .code(InputSink.EV_KEY, InputCodes.BTN_MIDDLE)
            .code(InputSink.EV_REL, InputCodes.REL_WHEEL);
    }
}
