package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The payloads of GET_DISPLAY_INFO and GET_EDID: from the display's answer, else from the {@link GpuOptions}
 * defaults; remembers the modes the display last reported, so a generated EDID matches them. Guarded by the device
 * lock.
 */
final class DisplayInfo
{
    private final GpuOptions options;
    private final int numScanouts;
    private final DisplayMode[] knownModes;

    DisplayInfo(final GpuOptions options, final int numScanouts)
    {
        this.options = options;
        this.numScanouts = numScanouts;
        this.knownModes = new DisplayMode[numScanouts];
    }

    /**
     * Pmodes from the display's answer, or (null) every output enabled at the default size, side by side.
     */
    void fillDisplayInfo(final MemorySegment response, final DisplayMode[] modes)
    {
        for (int at = DISPLAY_INFO_MODES; at < DISPLAY_INFO_SIZE; at += 8)
        {
            putU64(response, at, 0);
        }
        final int width = options.defaultWidth();
        final int height = options.defaultHeight();
        for (int i = 0; i < numScanouts; i++)
        {
            final int at = DISPLAY_INFO_MODES + i * DISPLAY_ONE_SIZE;
            if (null == modes)
            {
                putRect(response, at, i * width, 0, width, height);
                putU32(response, at + DISPLAY_ONE_ENABLED, 1);
            }
            else
            {
                final DisplayMode m = i < modes.length ? modes[i] : null;
                knownModes[i] = m;
                if (null != m)
                {
                    putRect(response, at, m.x(), m.y(), m.width(), m.height());
                    putU32(response, at + DISPLAY_ONE_ENABLED, m.enabled() ? 1 : 0);
                }
            }
        }
    }

    private static void putRect(final MemorySegment response, final int at, final int x, final int y,
        final int width, final int height)
    {
        putU32(response, at + RECT_X, x);
        putU32(response, at + RECT_Y, y);
        putU32(response, at + RECT_WIDTH, width);
        putU32(response, at + RECT_HEIGHT, height);
    }

    /**
     * The EDID response: the display's bytes when it gave at least a base block, else one generated here for the
     * mode the display last reported for this output (or the default mode). size is always 1024, like QEMU.
     */
    void fillEdid(final MemorySegment response, final int scanout, final byte[] fromDisplay)
    {
        for (int at = EDID_RESP_SIZE_FIELD; at < EDID_RESP_SIZE; at += 8)
        {
            putU64(response, at, 0);
        }
        putU32(response, EDID_RESP_SIZE_FIELD, EDID_MAX_BYTES);
        final byte[] edid = null != fromDisplay && fromDisplay.length >= EdidGenerator.BLOCK_SIZE
            ? fromDisplay : localEdid(scanout);
        MemorySegment.copy(edid, 0, response, ValueLayout.JAVA_BYTE, EDID_RESP_DATA,
            Math.min(edid.length, EDID_MAX_BYTES));
    }

    private byte[] localEdid(final int scanout)
    {
        final DisplayMode m = knownModes[scanout];
        final boolean usable = null != m && m.enabled() && m.width() >= 1 && m.height() >= 1
            && m.width() <= GpuOptions.MAX_DEFAULT_DIMENSION && m.height() <= GpuOptions.MAX_DEFAULT_DIMENSION;
        return usable ? EdidGenerator.generate(m.width(), m.height(), scanout + 1)
            : EdidGenerator.generate(options.defaultWidth(), options.defaultHeight(), scanout + 1);
    }
}
