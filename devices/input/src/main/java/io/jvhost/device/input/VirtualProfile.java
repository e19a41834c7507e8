package io.jvhost.device.input;

import java.util.Locale;

/**
 * The virtual devices jvhost offers when no host device is passed through: events come from a program (jvhost's
 * display server, or the {@code jvhost input --control-socket} line protocol).
 */
public enum VirtualProfile
{
    /** {@link VirtualKeyboard}. */
    KEYBOARD,
    /** {@link VirtualTablet}. */
    TABLET,
    /** Keyboard and tablet on one device (one socket): what a remote-display viewer needs. */
    COMBINED;

    /** The name the guest sees for {@link #COMBINED}. */
    public static final String COMBINED_NAME = "jvhost virtual keyboard+tablet";
    public static final int COMBINED_PRODUCT = 0x4a01;

    /**
     * @return the profile's capabilities.
     */
    public InputCapabilities capabilities()
    {
        return switch (this)
        {
            case KEYBOARD -> VirtualKeyboard.capabilities();
            case TABLET -> VirtualTablet.capabilities();
            case COMBINED -> VirtualTablet.addTo(VirtualKeyboard.addTo(InputCapabilities.builder(COMBINED_NAME)
                .serial("jvhost-combined")
                .ids(InputCodes.BUS_VIRTUAL, VirtualKeyboard.VENDOR, COMBINED_PRODUCT, 0x0001))).build();
        };
    }

    /**
     * @return the lower-case name used on the command line.
     */
    public String cliName()
    {
        return name().toLowerCase(Locale.ROOT);
    }
}
