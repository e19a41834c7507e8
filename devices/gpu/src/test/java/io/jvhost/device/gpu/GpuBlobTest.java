package io.jvhost.device.gpu;

import io.jvhost.device.gpu.GpuHarness.Pages;
import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.cursorCmd;
import static io.jvhost.device.gpu.GpuHarness.flush;
import static io.jvhost.device.gpu.GpuHarness.resourceCmd;
import static io.jvhost.device.gpu.GpuHarness.setScanout;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Guest-memory blobs (RESOURCE_CREATE_BLOB with BLOB_MEM_GUEST) shown with SET_SCANOUT_BLOB: pixels read in place.
 */
class GpuBlobTest
{
    private static final int XRGB = PixelFormat.B8G8R8X8.value();
    /** Blobs are offered on request only. */
    private static final GpuOptions BLOB = GpuOptions.builder().resourceBlob(true).build();

    private GpuHarness h;

    @AfterEach
    void tearDown()
    {
        if (null != h)
        {
            h.close();
        }
    }

    private FakeDisplay start(final GpuOptions options) throws Exception
    {
        h = new GpuHarness(options);
        final FakeDisplay display = new FakeDisplay();
        h.device.setDisplay(display);
        return display;
    }

    private Resp createBlob(final int id, final int blobMem, final long size, final long[] gpas, final int[] lengths)
    {
        final byte[] head = new Req(CMD_RESOURCE_CREATE_BLOB, CREATE_BLOB_SIZE).u32(BLOB_RESOURCE_ID, id)
            .u32(BLOB_MEM, blobMem).u32(BLOB_FLAGS, 2).u32(BLOB_NR_ENTRIES, gpas.length).u64(BLOB_ID, 0)
            .u64(BLOB_SIZE, size).array();
        return h.call(HDR_SIZE, head, GpuHarness.entries(gpas, lengths));
    }

    private Resp createBlob(final int id, final Pages pages, final long size)
    {
        return createBlob(id, BLOB_MEM_GUEST, size, pages.gpas, pages.lengths());
    }

    private static Req scanoutBlob(final int scanout, final int id, final long x, final long y, final long w,
        final long height, final long fbWidth, final long fbHeight, final int format, final long stride,
        final long offset)
    {
        return new Req(CMD_SET_SCANOUT_BLOB, SET_SCANOUT_BLOB_SIZE).rect(SCANOUT_BLOB_RECT, x, y, w, height)
            .u32(SCANOUT_BLOB_SCANOUT_ID, scanout).u32(SCANOUT_BLOB_RESOURCE_ID, id).u32(SCANOUT_BLOB_WIDTH, fbWidth)
            .u32(SCANOUT_BLOB_HEIGHT, fbHeight).u32(SCANOUT_BLOB_FORMAT, format).u32(SCANOUT_BLOB_STRIDES, stride)
            .u32(SCANOUT_BLOB_OFFSETS, offset);
    }

    private static void fill(final Pages pages, final long offset, final int width, final int height,
        final int stride, final int salt)
    {
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                pages.writeInt(offset + (long)y * stride + x * 4L, GpuDeviceTest.pattern(x, y, salt));
            }
        }
    }

    private static void assertShows(final FakeDisplay display, final int scanout, final int x0, final int y0,
        final int width, final int height, final int salt)
    {
        assertThat(display.violations).isEmpty();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                // Plain comparison first: an assertion per pixel of a 1024x1100 frame would dominate the suite.
                if (display.pixel(scanout, x, y) != GpuDeviceTest.pattern(x0 + x, y0 + y, salt))
                {
                    assertThat(display.pixel(scanout, x, y)).as("pixel %d,%d", x, y)
                        .isEqualTo(GpuDeviceTest.pattern(x0 + x, y0 + y, salt));
                }
            }
        }
    }

    @Test
    void aScatteredBlobScanoutShowsGuestMemoryAtEveryFlushWithoutTransfers() throws Exception
    {
        final FakeDisplay display = start(BLOB);
        // A 100x50 framebuffer with a padded stride, 64 bytes into the blob.
        final int stride = 448;
        final long offset = 64;
        final long size = offset + 50L * stride;
        final Pages pages = h.scatteredPages(size);
        fill(pages, offset, 100, 50, stride, 1);
        assertThat(createBlob(9, pages, size).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.hostMemoryUsed()).as("no host copy").isZero();
        assertThat(h.call(scanoutBlob(0, 9, 10, 5, 80, 40, 100, 50, XRGB, stride, offset)).type())
            .isEqualTo(RESP_OK_NODATA);
        // Linux still sends TRANSFER for blob dumb buffers: a no-op.
        assertThat(h.call(transfer(9, 0, 0, 100, 50, 0)).type()).isEqualTo(RESP_OK_NODATA);

        assertThat(h.call(flush(9, 0, 0, 100, 50)).type()).isEqualTo(RESP_OK_NODATA);

        assertThat(display.events).containsSubsequence("setScanout 0 80x40", "update 0 0,0 80x40");
        assertShows(display, 0, 10, 5, 80, 40, 1);

        fill(pages, offset, 100, 50, stride, 2);
        h.call(flush(9, 20, 10, 30, 7));
        assertThat(display.events.getLast()).isEqualTo("update 0 10,5 30x7");
        assertThat(display.pixel(0, 10, 5)).isEqualTo(GpuDeviceTest.pattern(20, 10, 2));
        assertThat(display.pixel(0, 39, 11)).isEqualTo(GpuDeviceTest.pattern(49, 16, 2));
        assertThat(display.pixel(0, 40, 11)).isEqualTo(GpuDeviceTest.pattern(50, 16, 1));
    }

    @Test
    void aContiguousBlobIsHandedToTheDisplayInOneUpdate() throws Exception
    {
        final FakeDisplay display = start(BLOB);
        final Pages pages = h.contiguous(64 * 64 * 4, GpuHarness.PAGE);
        fill(pages, 0, 64, 64, 256, 3);
        createBlob(1, pages, 64 * 64 * 4);
        h.call(scanoutBlob(0, 1, 0, 0, 64, 64, 64, 64, XRGB, 256, 0));
        h.call(flush(1, 0, 0, 64, 64));
        assertThat(display.updates()).containsExactly("update 0 0,0 64x64");
        assertShows(display, 0, 0, 0, 64, 64, 3);
    }

    @Test
    void aLargeScatteredBlobScanoutIsGatheredInChunksOfRows() throws Exception
    {
        final FakeDisplay display = start(BLOB);
        // 1024 x 1100 x 4 = 4.3 MiB: more than the 4 MiB staging buffer.
        final int w = 1024;
        final int height = 1100;
        final Pages pages = h.scatteredPages((long)w * height * 4);
        fill(pages, 0, w, height, w * 4, 4);
        createBlob(1, pages, (long)w * height * 4);
        h.call(scanoutBlob(0, 1, 0, 0, w, height, w, height, XRGB, w * 4L, 0));
        h.call(flush(1, 0, 0, w, height));
        assertThat(display.updates()).containsExactly("update 0 0,0 1024x1024", "update 0 0,1024 1024x76");
        assertShows(display, 0, 0, 0, w, height, 4);
    }

    @Test
    void createBlobValidatesMemoryTypeIdSizeAndEntries() throws Exception
    {
        start(BLOB);
        final Pages pages = h.contiguous(8192, GpuHarness.PAGE);
        assertThat(createBlob(1, BLOB_MEM_HOST3D, 8192, pages.gpas, pages.lengths()).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(createBlob(1, BLOB_MEM_HOST3D_GUEST, 8192, pages.gpas, pages.lengths()).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(createBlob(0, BLOB_MEM_GUEST, 8192, pages.gpas, pages.lengths()).type())
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(createBlob(1, BLOB_MEM_GUEST, 8193, pages.gpas, pages.lengths()).type())
            .as("entries do not cover the size").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(createBlob(1, BLOB_MEM_GUEST, 0, pages.gpas, pages.lengths()).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(createBlob(1, BLOB_MEM_GUEST, -1, pages.gpas, pages.lengths()).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(createBlob(1, BLOB_MEM_GUEST, 4096, new long[] {1L << 40}, new int[] {4096}).type())
            .isEqualTo(RESP_ERR_UNSPEC);
        final byte[] huge = new Req(CMD_RESOURCE_CREATE_BLOB, CREATE_BLOB_SIZE).u32(BLOB_RESOURCE_ID, 1)
            .u32(BLOB_MEM, BLOB_MEM_GUEST).u32(BLOB_NR_ENTRIES, 0xFFFF_FFFFL).u64(BLOB_SIZE, 4096).array();
        assertThat(h.call(HDR_SIZE, huge).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.device.resourceCount()).isZero();

        assertThat(createBlob(1, pages, 8192).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(createBlob(1, pages, 8192).type()).as("duplicate").isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        h.call(create2d(2, XRGB, 4, 4));
        assertThat(createBlob(2, pages, 8192).type()).as("taken by a 2D resource")
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        // A blob is its backing: no attach, no detach; SET_SCANOUT is for 2D resources.
        assertThat(h.attach(1, pages).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_DETACH_BACKING, 1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(setScanout(0, 1, 0, 0, 4, 4)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_UNREF, 1)).type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void setScanoutBlobChecksFormatStrideOffsetsAndRectAgainstTheBlob() throws Exception
    {
        final FakeDisplay display = start(BLOB.toBuilder().maxOutputs(2).build());
        final Pages pages = h.contiguous(64 * 64 * 4, GpuHarness.PAGE);
        createBlob(1, pages, 64 * 64 * 4);
        h.call(create2d(2, XRGB, 64, 64));

        assertThat(h.call(scanoutBlob(2, 1, 0, 0, 64, 64, 64, 64, XRGB, 256, 0)).type())
            .isEqualTo(RESP_ERR_INVALID_SCANOUT_ID);
        assertThat(h.call(scanoutBlob(0, 3, 0, 0, 64, 64, 64, 64, XRGB, 256, 0)).type())
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        final long[][] bad = {
            {0, 0, 64, 64, 64, 64, 2, 256, 0},                // not a blob (resource 2 below)
            {0, 0, 64, 64, 64, 64, 7, 256, 0},                // format 7
            {0, 0, 64, 64, 64, 64, XRGB, 255, 0},             // stride < width * 4
            {0, 0, 64, 64, 64, 64, XRGB, 0xFFFF_FFFFL, 0},    // stride past the blob
            {0, 0, 64, 64, 64, 64, XRGB, 256, 4},             // offset pushes the last row out
            {0, 0, 64, 64, 64, 64, XRGB, 256, 0xFFFF_FFFFL},  // offset near 2^32
            {1, 0, 64, 64, 64, 64, XRGB, 256, 0},             // rect outside the framebuffer
            {0xFFFF_FFFFL, 0, 2, 1, 64, 64, XRGB, 256, 0},    // x + width wraps
            {0, 0, 0, 64, 64, 64, XRGB, 256, 0},              // empty rect
            {0, 0, 64, 64, 0, 64, XRGB, 256, 0},              // empty framebuffer
            {0, 0, 64, 64, 64, 0x1_0000, XRGB, 256, 0},       // framebuffer too tall
            {0, 0, 64, 65, 64, 65, XRGB, 256, 0},             // 65 rows do not fit the blob
        };
        for (int i = 0; i < bad.length; i++)
        {
            final long[] b = bad[i];
            final int resource = i == 0 ? 2 : 1;
            assertThat(h.call(scanoutBlob(0, resource, b[0], b[1], b[2], b[3], b[4], b[5], (int)b[6], b[7], b[8]))
                .type()).as("case %d", i).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        }
        assertThat(display.events).isEmpty();
        // A framebuffer bigger than the rect shown, the last row ending exactly at the blob's end.
        assertThat(h.call(scanoutBlob(1, 1, 32, 32, 32, 31, 64, 64, XRGB, 256, 256)).type())
            .isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(scanoutBlob(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).type()).as("resource 0 disables")
            .isEqualTo(RESP_OK_NODATA);
        assertThat(display.events).containsExactly("setScanout 1 32x31", "setScanout 1 0x0");
    }

    @Test
    void aliasedEntriesCostNoHostMemoryAndTheScanoutShowingThemIsCapped() throws Exception
    {
        final FakeDisplay display = start(BLOB);
        final Pages page = h.contiguous(4096, GpuHarness.PAGE);
        fill(page, 0, 64, 16, 256, 3);
        final long[] gpas = new long[16];
        final int[] lengths = new int[16];
        java.util.Arrays.fill(gpas, page.gpas[0]);
        java.util.Arrays.fill(lengths, 4096);
        assertThat(createBlob(1, BLOB_MEM_GUEST, 16 * 4096, gpas, lengths).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.memoryBudget().used()).as("read in place").isZero();

        assertThat(h.call(scanoutBlob(0, 1, 0, 0, 8193, 1, 8193, 1, XRGB, 8193 * 4, 0)).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        // 256 rows of 64 pixels: every 16 rows show the same guest page again.
        assertThat(h.call(scanoutBlob(0, 1, 0, 0, 64, 256, 64, 256, XRGB, 256, 0)).type())
            .isEqualTo(RESP_OK_NODATA);
        h.call(flush(1, 0, 0, 64, 256));
        assertThat(display.pixel(0, 5, 16 * 15 + 7)).isEqualTo(GpuDeviceTest.pattern(5, 7, 3));
    }

    @Test
    void blobCommandsWithoutTheFeatureAreUnspecified() throws Exception
    {
        start(GpuOptions.builder().resourceBlob(false).build());
        final Pages pages = h.contiguous(4096, GpuHarness.PAGE);
        assertThat(h.device.features() & 1L << F_RESOURCE_BLOB).isZero();
        assertThat(createBlob(1, pages, 4096).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(scanoutBlob(0, 1, 0, 0, 32, 32, 32, 32, XRGB, 128, 0)).type()).isEqualTo(RESP_ERR_UNSPEC);
    }

    @Test
    void aBlobCursorIsReadFromGuestMemory() throws Exception
    {
        final FakeDisplay display = start(BLOB);
        final Pages pages = h.scatteredPages(64 * 64 * 4);
        fill(pages, 0, 64, 64, 256, 5);
        createBlob(3, pages, 64 * 64 * 4);
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 1, 2, 3, 4, 5));
        assertThat(display.events).containsExactly("defineCursor 0 1,2 hot 4,5");
        assertThat(display.cursorPixels[64 * 63 + 62]).isEqualTo(GpuDeviceTest.pattern(62, 63, 5));

        final Pages small = h.contiguous(4096, GpuHarness.PAGE);
        createBlob(4, small, 4096);
        h.cursorCall(cursorCmd(CMD_UPDATE_CURSOR, 0, 1, 2, 4, 4, 5));
        assertThat(display.events).hasSize(1);
    }
}
