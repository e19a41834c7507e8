package io.jvhost.device.input;

/**
 * A virtual PC keyboard, like QEMU's virtio-keyboard: every key of the regular block ({@code KEY_ESC} to
 * {@code KEY_MICMUTE}, 1..248, less the unassigned codes 84 and 195..199), key repeat done by the guest
 * ({@code EV_REP}), and the Num, Caps and Scroll Lock LEDs, which the guest sets through the status queue.
 */
public final class VirtualKeyboard
{
    /** The name the guest sees. */
    public static final String NAME = "jvhost virtual keyboard";
    /** QEMU's vendor id for its virtual HID devices. */
    public static final int VENDOR = 0x0627;
    public static final int PRODUCT = 0x0001;
    public static final int VERSION = 0x0001;

    private VirtualKeyboard()
    {
    }

    /**
     * @return the keyboard's capabilities.
     */
    public static InputCapabilities capabilities()
    {
        return addTo(InputCapabilities.builder(NAME).serial("jvhost-keyboard")
            .ids(InputCodes.BUS_VIRTUAL, VENDOR, PRODUCT, VERSION)).build();
    }

    /**
     * Adds the keyboard's keys, repeat and LEDs to {@code builder}.
     */
    public static InputCapabilities.Builder addTo(final InputCapabilities.Builder builder)
    {
        builder.codes(InputSink.EV_KEY, InputCodes.KEY_ESC, InputCodes.KEY_MICMUTE)
            .withoutCode(InputSink.EV_KEY, 84);
        for (int code = 195; code <= 199; code++)
        {
            builder.withoutCode(InputSink.EV_KEY, code);
        }
        return builder.eventType(InputCodes.EV_REP)
            .code(InputSink.EV_LED, InputCodes.LED_NUML)
            .code(InputSink.EV_LED, InputCodes.LED_CAPSL)
            .code(InputSink.EV_LED, InputCodes.LED_SCROLLL);
    }
}
