package io.jvhost.display.rfb;

/**
 * Where a viewer's SetDesktopSize goes: asks the guest to show a scanout at another size.
 */
@FunctionalInterface
public interface DesktopResizer
{
    /** Refuses every request: nothing behind the viewers can change the guest's mode. */
    DesktopResizer PROHIBITED = (scanout, width, height) -> RfbSession.RESIZE_PROHIBITED;

    /**
     * Asks for {@code scanout} at {@code width}×{@code height} (already checked: 1..{@link
     * RfbSession#MAX_DESKTOP_SIZE}). Called on the viewer's reader thread; must not block.
     *
     * @return {@link RfbSession#RESIZE_FORWARDED} when the guest was asked, else why not ({@link
     *     RfbSession#RESIZE_PROHIBITED}, {@link RfbSession#RESIZE_OUT_OF_RESOURCES}).
     */
    int requestSize(int scanout, int width, int height);
}
