package io.jvhost.device.gpu;

import io.jvhost.device.gpu.GpuHarness.Resp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.cursorCmd;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cursor queue: a 64x64 cursor uploaded like Linux does it, then defined, moved and hidden.
 */
class GpuCursorTest
{
    private GpuHarness h;
    private FakeDisplay display;

    @BeforeEach
    void setUp() throws Exception
    {
        h = new GpuHarness(GpuOptions.builder().maxOutputs(2).build());
        display = new FakeDisplay();
        h.device.setDisplay(display);
    }

    @AfterEach
    void tearDown()
    {
        h.close();
    }

    /** Cursor pixel (x, y) as the little-endian int of its memory bytes. */
    private static int cursorPixel(final int x, final int y)
    {
        return (x * 4) | (y * 4) << 8 | (x + y) << 16 | (0x80 + x) << 24;
    }

    /**
     * RESOURCE_CREATE_2D 64x64 + ATTACH_BACKING + a fenced TRANSFER, as Linux's cursor plane update.
     */
    private void uploadCursor(final int id, final PixelFormat format)
    {
        final GpuHarness.Pages pages = h.scatteredPages(64 * 64 * 4);
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                pages.writeInt((y * 64L + x) * 4, cursorPixel(x, y));
            }
        }
        assertThat(h.call(create2d(id, format.value(), 64, 64)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.attach(id, pages).type()).isEqualTo(RESP_OK_NODATA);
        final Resp fenced = h.call(transfer(id, 0, 0, 64, 64, 0).fence(1000 + id, 0));
        assertThat(fenced.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(fenced.flags()).isEqualTo(FLAG_FENCE);
        assertThat(fenced.fenceId()).isEqualTo(1000 + id);
    }

    @Test
    void updateCursorDefinesTheUploadedPixelsWithTheHotspotThenMoveAndHide()
    {
        uploadCursor(4, PixelFormat.B8G8R8A8);

        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 1, 300, 200, 4, 7, 9));

        assertThat(display.events).containsExactly("defineCursor 1 300,200 hot 7,9");
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                assertThat(display.cursorPixels[y * 64 + x]).isEqualTo(cursorPixel(x, y));
            }
        }

        h.cursorCall(cursorCmd(CMD_MOVE_CURSOR, 1, -5, 700, 4, 0, 0));
        assertThat(display.events.getLast()).isEqualTo("moveCursor 1 -5,700");
        assertThat(display.cursorVisible).isTrue();

        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 1, 10, 10, 0, 0, 0));
        assertThat(display.events.getLast()).isEqualTo("moveCursor 1 10,10 hidden");
        assertThat(display.cursorVisible).isFalse();

        h.cursorCall(cursorCmd(CMD_MOVE_CURSOR, 0, 3, 4, 0, 0, 0));
        assertThat(display.events.getLast()).isEqualTo("moveCursor 0 3,4 hidden");
    }

    @Test
    void aCursorInAnotherFormatIsConvertedToBgra()
    {
        uploadCursor(2, PixelFormat.R8G8B8A8);
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 0, 0, 2, 0, 0));
        assertThat(display.cursorPixels[5 * 64 + 3])
            .isEqualTo(PixelFormatTest.expectedBgra(PixelFormat.R8G8B8A8, cursorPixel(3, 5)));
        uploadCursor(3, PixelFormat.X8B8G8R8);
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 0, 0, 3, 0, 0));
        assertThat(display.cursorPixels[63 * 64 + 63] >>> 24).as("opaque").isEqualTo(0xFF);
    }

    @Test
    void badCursorCommandsAreIgnoredAndStillReturned()
    {
        h.call(create2d(1, PixelFormat.B8G8R8A8.value(), 32, 32));
        uploadCursor(2, PixelFormat.B8G8R8A8);

        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 0, 0, 1, 0, 0));
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 0, 0, 99, 0, 0));
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 2, 0, 0, 2, 0, 0));
        h.cursorCall(cursorCmd(CMD_MOVE_CURSOR, -1, 0, 0, 2, 0, 0));
        h.cursorCall(cursorCmd(CMD_RESOURCE_FLUSH, 0, 0, 0, 2, 0, 0));
        h.cursorCall(new GpuHarness.Req(CMD_UPDATE_CURSOR, 40));

        assertThat(display.events).isEmpty();
    }

    @Test
    void aNewDisplayGetsTheCurrentCursor()
    {
        uploadCursor(2, PixelFormat.B8G8R8A8);
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 20, 30, 2, 1, 2));
        final FakeDisplay next = new FakeDisplay();
        h.device.setDisplay(next);
        h.serveCursor();
        assertThat(next.events).containsExactly("defineCursor 0 20,30 hot 1,2");
        assertThat(next.cursorPixels[64 * 10 + 10]).isEqualTo(cursorPixel(10, 10));

        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 21, 31, 0, 0, 0));
        final FakeDisplay third = new FakeDisplay();
        h.device.setDisplay(third);
        h.serveControl();
        assertThat(third.events).containsExactly("defineCursor 0 21,31 hot 1,2", "moveCursor 0 21,31 hidden");
    }
}
