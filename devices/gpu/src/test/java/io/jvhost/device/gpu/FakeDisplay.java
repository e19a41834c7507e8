package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A display that records every call and keeps a B,G,R,X surface per scanout, filled the way QEMU would (each update
 * converted with {@link PixelFormat#toBgrx} into place). Updates for a scanout never announced, or outside its
 * surface, are recorded as violations instead.
 */
class FakeDisplay implements GpuDisplay
{
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final List<String> events = new ArrayList<>();
    final List<String> violations = new ArrayList<>();
    final int[] widths = new int[GpuProtocol.MAX_SCANOUTS];
    final int[] heights = new int[GpuProtocol.MAX_SCANOUTS];
    final int[][] surfaces = new int[GpuProtocol.MAX_SCANOUTS][];

    /** Larger pictures are refused, as by a display whose memory budget is spent. */
    long maxPixels = Long.MAX_VALUE;
    /** The scanout's last size was refused: it is shown disabled and its updates are dropped, as real displays do. */
    final boolean[] refused = new boolean[GpuProtocol.MAX_SCANOUTS];
    /** false: requests are refused (return false). */
    boolean canAnswer = true;
    /** When set, requestDisplayInfo answers these at once (synchronously). */
    DisplayMode[] immediateModes;
    Consumer<DisplayMode[]> pendingInfo;
    Consumer<byte[]> pendingEdid;
    int edidScanout = -1;
    int infoRequests;
    /** What the device gave to be told of output changes. */
    volatile Runnable outputsListener;
    int edidRequests;

    int cursorScanout = -1;
    int cursorX;
    int cursorY;
    int cursorHotX;
    int cursorHotY;
    boolean cursorVisible;
    int[] cursorPixels;

    @Override
    public void setOutputsListener(final Runnable outputsChanged)
    {
        outputsListener = outputsChanged;
    }

    @Override
    public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
    {
        infoRequests++;
        events.add("requestDisplayInfo");
        if (!canAnswer)
        {
            return false;
        }
        if (null != immediateModes)
        {
            done.accept(immediateModes);
            return true;
        }
        pendingInfo = done;
        return true;
    }

    @Override
    public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
    {
        edidRequests++;
        events.add("requestEdid " + scanout);
        if (!canAnswer)
        {
            return false;
        }
        edidScanout = scanout;
        pendingEdid = done;
        return true;
    }

    @Override
    public boolean setScanout(final int scanout, final int width, final int height)
    {
        if ((long)width * height > maxPixels)
        {
            events.add("setScanout " + scanout + " " + width + "x" + height + " refused");
            refused[scanout] = true;
            widths[scanout] = 0;
            heights[scanout] = 0;
            surfaces[scanout] = null;
            return false;
        }
        events.add("setScanout " + scanout + " " + width + "x" + height);
        refused[scanout] = false;
        widths[scanout] = width;
        heights[scanout] = height;
        surfaces[scanout] = 0 == width ? null : new int[width * height];
        return true;
    }

    @Override
    public void updateScanout(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
    {
        if (refused[scanout])
        {
            events.add("dropped " + scanout + " " + x + "," + y + " " + width + "x" + height);
            return;
        }
        events.add("update " + scanout + " " + x + "," + y + " " + width + "x" + height);
        final int[] surface = surfaces[scanout];
        if (null == surface)
        {
            violations.add("update of scanout " + scanout + " before setScanout");
            return;
        }
        if (x < 0 || y < 0 || x + width > widths[scanout] || y + height > heights[scanout])
        {
            violations.add("update " + x + "," + y + " " + width + "x" + height + " outside " + widths[scanout] + "x"
                + heights[scanout]);
            return;
        }
        final MemorySegment dst = MemorySegment.ofArray(surface);
        for (int row = 0; row < height; row++)
        {
            format.toBgrx(pixels, offset + (long)row * stride, dst, ((long)(y + row) * widths[scanout] + x) * 4, width);
        }
    }

    @Override
    public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment argb64x64)
    {
        events.add("defineCursor " + scanout + " " + x + "," + y + " hot " + hotX + "," + hotY);
        cursorScanout = scanout;
        cursorX = x;
        cursorY = y;
        cursorHotX = hotX;
        cursorHotY = hotY;
        cursorVisible = true;
        cursorPixels = new int[64 * 64];
        for (int i = 0; i < cursorPixels.length; i++)
        {
            cursorPixels[i] = argb64x64.get(PIXEL, i * 4L);
        }
    }

    @Override
    public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        events.add("moveCursor " + scanout + " " + x + "," + y + (visible ? "" : " hidden"));
        cursorScanout = scanout;
        cursorX = x;
        cursorY = y;
        cursorVisible = visible;
    }

    /**
     * @return the surface pixel (0xXXRRGGBB).
     */
    int pixel(final int scanout, final int x, final int y)
    {
        return surfaces[scanout][y * widths[scanout] + x];
    }

    List<String> updates()
    {
        return events.stream().filter(e -> e.startsWith("update")).toList();
    }
}
