package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import io.jvhost.device.gpu.GpuHarness.Pages;
import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.flush;
import static io.jvhost.device.gpu.GpuHarness.getEdid;
import static io.jvhost.device.gpu.GpuHarness.resourceCmd;
import static io.jvhost.device.gpu.GpuHarness.setScanout;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The control queue, command by command, without a display (headless) and with a recording one.
 */
class GpuDeviceTest
{
    private static final int XRGB = PixelFormat.B8G8R8X8.value();

    private GpuHarness h;

    @AfterEach
    void tearDown()
    {
        if (null != h)
        {
            h.close();
        }
    }

    private GpuHarness harness(final GpuOptions options) throws Exception
    {
        h = new GpuHarness(options);
        return h;
    }

    private GpuHarness harness() throws Exception
    {
        return harness(GpuOptions.defaults());
    }

    private FakeDisplay attachDisplay()
    {
        final FakeDisplay display = new FakeDisplay();
        h.device.setDisplay(display);
        return display;
    }

    /** A recognisable B8G8R8X8 pixel for (x, y) with X = 0, as the LE int read from memory. */
    static int pattern(final int x, final int y, final int salt)
    {
        return (x * 0x010307 + y * 0x070301 + salt * 0x112233) & 0x00FF_FFFF;
    }

    /** Fills a W x H B8G8R8X8 buffer (pitch W*4) behind {@code pages}. */
    private static void fill(final Pages pages, final int width, final int height, final int salt)
    {
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                pages.writeInt((long)y * width * 4 + x * 4L, pattern(x, y, salt));
            }
        }
    }

    private static int type(final Resp r)
    {
        return r.type();
    }

    private Pages framebuffer(final int id, final int width, final int height, final int salt)
    {
        final Pages pages = h.scatteredPages((long)width * height * 4);
        fill(pages, width, height, salt);
        assertThat(type(h.call(create2d(id, XRGB, width, height)))).isEqualTo(RESP_OK_NODATA);
        assertThat(type(h.attach(id, pages))).isEqualTo(RESP_OK_NODATA);
        return pages;
    }

    // ---- identity and config ----

    @Test
    void isAGpuWithTwoQueuesOnOneWorkerAndOffersTheEnabledFeatures() throws Exception
    {
        final GpuDevice all = new GpuDevice("gpu", GpuOptions.builder().resourceBlob(true).build());
        assertThat(all.deviceType()).isEqualTo(16);
        assertThat(all.queueCount()).isEqualTo(2);
        assertThat(all.maxQueueSize()).isEqualTo(1024);
        assertThat(all.queueWorker(0)).isZero();
        assertThat(all.queueWorker(1)).isZero();
        // VERSION_1 | EVENT_IDX | INDIRECT_DESC | EDID | RESOURCE_UUID | RESOURCE_BLOB
        assertThat(all.features()).isEqualTo(0x1_3000_000EL);

        final GpuDevice bare = new GpuDevice("gpu", GpuOptions.builder().edid(false).resourceUuid(false).build());
        assertThat(bare.features()).isEqualTo(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC));
    }

    @Test
    void configSpaceReportsScanoutsAndNoCapsetsAndEventsClearIsWriteOneToClear() throws Exception
    {
        final GpuDevice gpu = new GpuDevice("gpu", GpuOptions.builder().maxOutputs(3).build());
        assertThat(gpu.configSize()).isEqualTo(16);
        gpu.raiseEvents(EVENT_DISPLAY | 4);

        final MemorySegment config = MemorySegment.ofArray(new byte[16]);
        gpu.readConfig(0, config);
        assertThat(GpuProtocol.i32(config, 0)).isEqualTo(5);
        assertThat(GpuProtocol.i32(config, 4)).isZero();
        assertThat(GpuProtocol.i32(config, 8)).isEqualTo(3);
        assertThat(GpuProtocol.i32(config, 12)).isZero();

        // Writes to read-only fields are ignored; events_clear clears only the bits written.
        final MemorySegment write = MemorySegment.ofArray(new byte[16]);
        GpuProtocol.putU32(write, 0, 0);
        GpuProtocol.putU32(write, 4, EVENT_DISPLAY);
        GpuProtocol.putU32(write, 8, 9);
        GpuProtocol.putU32(write, 12, 7);
        gpu.writeConfig(0, write);
        gpu.readConfig(0, config);
        assertThat(GpuProtocol.i32(config, 0)).isEqualTo(4);
        assertThat(GpuProtocol.i32(config, 8)).isEqualTo(3);
        assertThat(GpuProtocol.i32(config, 12)).isZero();

        // A single-byte write at offset 4 (byte-granular access).
        gpu.writeConfig(4, MemorySegment.ofArray(new byte[] {4}));
        final MemorySegment eventsRead = MemorySegment.ofArray(new byte[4]);
        gpu.readConfig(0, eventsRead);
        assertThat(GpuProtocol.i32(eventsRead, 0)).isZero();
    }

    // ---- display info and EDID without a display ----

    @Test
    void headlessDisplayInfoEnablesEveryOutputAtTheDefaultModeSideBySide() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(3).defaultMode(1024, 768).build());

        final Resp r = h.call(new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE));

        assertThat(r.type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(r.length()).isEqualTo(DISPLAY_INFO_SIZE);
        for (int i = 0; i < 16; i++)
        {
            final int at = DISPLAY_INFO_MODES + i * DISPLAY_ONE_SIZE;
            if (i < 3)
            {
                assertThat(new int[] {r.u32(at), r.u32(at + 4), r.u32(at + 8), r.u32(at + 12), r.u32(at + 16)})
                    .as("pmode %d", i).containsExactly(i * 1024, 0, 1024, 768, 1);
            }
            else
            {
                assertThat(r.u32(at + 16)).as("pmode %d enabled", i).isZero();
                assertThat(r.u32(at + 8)).isZero();
            }
        }
    }

    @Test
    void headlessEdidIsAValidBlockForTheDefaultModeWithSize1024() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(2).defaultMode(1920, 1080).build());

        final Resp r = h.call(getEdid(1));

        assertThat(r.type()).isEqualTo(RESP_OK_EDID);
        assertThat(r.length()).isEqualTo(EDID_RESP_SIZE);
        assertThat(r.u32(EDID_RESP_SIZE_FIELD)).isEqualTo(1024);
        final byte[] edid = Arrays.copyOfRange(r.bytes(), EDID_RESP_DATA, EDID_RESP_DATA + 128);
        EdidGeneratorTest.assertValidBaseBlock(edid, 1920, 1080);
        assertThat(Arrays.copyOfRange(r.bytes(), EDID_RESP_DATA + 128, EDID_RESP_SIZE)).containsOnly(0);
    }

    @Test
    void edidForAScanoutPastNumScanoutsIsAnInvalidParameter() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(2).build());
        assertThat(h.call(getEdid(2)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(getEdid(-1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
    }

    @Test
    void edidWithoutTheFeatureIsUnspecified() throws Exception
    {
        harness(GpuOptions.builder().edid(false).build());
        assertThat(h.device.features() & 1L << F_EDID).isZero();
        assertThat(h.call(getEdid(0)).type()).isEqualTo(RESP_ERR_UNSPEC);
    }

    // ---- the Linux fbcon sequence ----

    @Test
    void linuxFbconSequenceShowsExactlyTheGuestPixelsIncludingADamageRectNotAtTheOrigin() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        display.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 100, 60, true)};
        final int w = 100;
        final int height = 60;
        final int pitch = w * 4;

        // 1-2: GET_EDID, GET_DISPLAY_INFO, batched. The display answers the EDID with null (generated here) and the
        // display info at once.
        final int edidHead = h.addControlIndirect(EDID_RESP_SIZE, getEdid(0).array());
        h.addControlIndirect(DISPLAY_INFO_SIZE, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
        h.serveControl();
        assertThat(h.pollControl()).as("GET_EDID is held for the display").isNull();
        display.pendingEdid.accept(null);
        h.serveControl();
        final Resp edid = h.pollControl();
        assertThat(edid.head()).isEqualTo(edidHead);
        assertThat(edid.type()).isEqualTo(RESP_OK_EDID);
        final Resp info = h.pollControl();
        assertThat(info.type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(info.u32(DISPLAY_INFO_MODES + RECT_WIDTH)).isEqualTo(w);

        // 3: RESOURCE_CREATE_2D, format 2, pitch W*4.
        final Pages pages = h.scatteredPages((long)pitch * height);
        fill(pages, w, height, 1);
        h.addControlIndirect(HDR_SIZE, create2d(1, XRGB, w, height).array());
        // 4: ATTACH_BACKING, entries in their own descriptor, one per scattered 4 KiB page.
        final byte[] attachHead = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, 1)
            .u32(ATTACH_NR_ENTRIES, pages.gpas.length).array();
        h.addControlIndirect(HDR_SIZE, attachHead, GpuHarness.entries(pages.gpas, pages.lengths()));
        // 5: SET_SCANOUT with resource 0 during the modeset.
        h.addControlIndirect(HDR_SIZE, setScanout(0, 0, 0, 0, w, height).array());
        // 6-8: TRANSFER, SET_SCANOUT, FLUSH of the whole screen.
        h.addControlIndirect(HDR_SIZE, transfer(1, 0, 0, w, height, 0).array());
        h.addControlIndirect(HDR_SIZE, setScanout(0, 1, 0, 0, w, height).array());
        h.addControlIndirect(HDR_SIZE, flush(1, 0, 0, w, height).array());
        h.serveControl();
        for (int i = 0; i < 6; i++)
        {
            assertThat(h.pollControl().type()).as("command %d", i + 3).isEqualTo(RESP_OK_NODATA);
        }
        assertThat(display.violations).isEmpty();
        assertThat(display.events).contains("setScanout 0 100x60", "update 0 0,0 100x60");
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < w; x++)
            {
                assertThat(display.pixel(0, x, y)).as("pixel %d,%d", x, y).isEqualTo(pattern(x, y, 1));
            }
        }

        // 9: the guest redraws a damage rectangle at (37, 21) 23x9; Linux sends offset = y*pitch + x*4.
        for (int y = 21; y < 30; y++)
        {
            for (int x = 37; x < 60; x++)
            {
                pages.writeInt((long)y * pitch + x * 4L, pattern(x, y, 2));
            }
        }
        // Pixels outside the rectangle change in guest memory too, but were not transferred.
        pages.writeInt(20L * pitch + 37 * 4, 0x00ABCDEF);
        assertThat(h.call(transfer(1, 37, 21, 23, 9, 21L * pitch + 37 * 4)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(flush(1, 37, 21, 23, 9)).type()).isEqualTo(RESP_OK_NODATA);

        assertThat(display.events.getLast()).isEqualTo("update 0 37,21 23x9");
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < w; x++)
            {
                final boolean damaged = x >= 37 && x < 60 && y >= 21 && y < 30;
                assertThat(display.pixel(0, x, y)).as("pixel %d,%d", x, y)
                    .isEqualTo(pattern(x, y, damaged ? 2 : 1));
            }
        }
        assertThat(display.violations).isEmpty();
    }

    @Test
    void fullWidthTransferOverContiguousBackingResolvesToOneSpan() throws Exception
    {
        harness();
        final int w = 64;
        final int height = 32;
        // Linux hands out one entry per page; contiguous pages merge into one host span.
        final Pages pages = h.contiguous((long)w * height * 4, GpuHarness.PAGE);
        fill(pages, w, height, 3);
        h.call(create2d(5, XRGB, w, height));
        h.attach(5, pages);
        final FakeDisplay display = attachDisplay();
        h.call(setScanout(0, 5, 0, 0, w, height));

        assertThat(h.call(transfer(5, 0, 0, w, height, 0)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.backingSpans(5)).isEqualTo(1);
        h.call(flush(5, 0, 0, w, height));
        assertThat(display.pixel(0, 63, 31)).isEqualTo(pattern(63, 31, 3));
        assertThat(display.pixel(0, 0, 0)).isEqualTo(pattern(0, 0, 3));
    }

    @Test
    void backingThatCrossesAGuestMemoryRegionBoundaryIsCopiedFromBothRegions() throws Exception
    {
        harness();
        final int w = 32;
        final int height = 64;
        final long bytes = (long)w * height * 4;
        // One entry straddling the 32 MiB boundary between the two regions.
        h.allocateFrom(GpuHarness.REGION_SIZE - bytes / 2);
        final Pages pages = h.contiguous(bytes, (int)bytes);
        fill(pages, w, height, 4);
        h.call(create2d(2, XRGB, w, height));
        h.attach(2, pages);
        final FakeDisplay display = attachDisplay();
        h.call(setScanout(0, 2, 0, 0, w, height));
        h.call(transfer(2, 0, 0, w, height, 0));
        h.call(flush(2, 0, 0, w, height));

        assertThat(h.device.backingSpans(2)).isEqualTo(2);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < w; x++)
            {
                assertThat(display.pixel(0, x, y)).isEqualTo(pattern(x, y, 4));
            }
        }
    }

    @Test
    void scanoutShowingAPartOfTheResourceGetsUpdatesInScanoutCoordinates() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        framebuffer(1, 120, 90, 5);
        h.call(transfer(1, 0, 0, 120, 90, 0));
        assertThat(h.call(setScanout(0, 1, 30, 20, 50, 40)).type()).isEqualTo(RESP_OK_NODATA);

        // Partly outside the scanout: clipped to (30..80) x (20..60).
        h.call(flush(1, 10, 25, 30, 50));

        assertThat(display.events).containsSubsequence("setScanout 0 50x40", "update 0 0,5 10x35");
        assertThat(display.violations).isEmpty();
        for (int y = 5; y < 40; y++)
        {
            for (int x = 0; x < 10; x++)
            {
                assertThat(display.pixel(0, x, y)).isEqualTo(pattern(x + 30, y + 20, 5));
            }
        }
        // A flush entirely outside the scanout sends nothing.
        final int before = display.updates().size();
        h.call(flush(1, 0, 0, 30, 90));
        assertThat(display.updates()).hasSize(before);
    }

    @Test
    void twoScanoutsShowingOneResourceEachGetTheirClippedPartOfAFlush() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(2).build());
        final FakeDisplay display = attachDisplay();
        framebuffer(7, 200, 100, 6);
        h.call(transfer(7, 0, 0, 200, 100, 0));
        h.call(setScanout(0, 7, 0, 0, 100, 100));
        h.call(setScanout(1, 7, 100, 0, 100, 100));

        h.call(flush(7, 50, 10, 100, 20));

        assertThat(display.updates()).containsExactly("update 0 50,10 50x20", "update 1 0,10 50x20");
        assertThat(display.violations).isEmpty();
        assertThat(display.pixel(0, 50, 10)).isEqualTo(pattern(50, 10, 6));
        assertThat(display.pixel(0, 99, 29)).isEqualTo(pattern(99, 29, 6));
        assertThat(display.pixel(1, 0, 10)).isEqualTo(pattern(100, 10, 6));
        assertThat(display.pixel(1, 49, 29)).isEqualTo(pattern(149, 29, 6));
    }

    @Test
    void everyPixelFormatReachesTheDisplayInItsOwnFormatAndConvertsToBgrx() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(1).build());
        final FakeDisplay display = attachDisplay();
        // Memory bytes 0x11 0x22 0x33 0x44 in every format; the expected B,G,R (X = 0xFF or copied).
        final byte[] pixel = {0x11, 0x22, 0x33, 0x44};
        int id = 1;
        for (final PixelFormat format : PixelFormat.values())
        {
            final long gpa = h.alloc(16 * 16 * 4, GpuHarness.PAGE);
            for (int i = 0; i < 16 * 16; i++)
            {
                h.write(gpa + i * 4L, pixel);
            }
            assertThat(h.call(create2d(id, format.value(), 16, 16)).type()).as("%s", format).isEqualTo(RESP_OK_NODATA);
            h.attach(id, new long[] {gpa}, new int[] {16 * 16 * 4});
            h.call(transfer(id, 0, 0, 16, 16, 0));
            h.call(setScanout(0, id, 0, 0, 16, 16));
            h.call(flush(id, 0, 0, 16, 16));
            assertThat(display.pixel(0, 15, 15)).as("%s", format)
                .isEqualTo(PixelFormatTest.expectedBgrx(format, 0x44332211));
            id++;
        }
    }

    // ---- RESOURCE_CREATE_2D / UNREF and host memory ----

    @Test
    void create2dRejectsIdZeroDuplicatesUnknownFormatsAndEmptyOrHugeSizes() throws Exception
    {
        harness();
        assertThat(h.call(create2d(0, XRGB, 4, 4)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(create2d(1, XRGB, 4, 4)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(create2d(1, XRGB, 4, 4)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(create2d(2, 5, 4, 4)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(create2d(2, 0, 4, 4)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(create2d(2, XRGB, 0, 4)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(create2d(2, XRGB, 4, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        // width*4*height would overflow 32 and 64 bits.
        assertThat(h.call(create2d(2, XRGB, 0x4000_0000, 0x4000_0000)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(create2d(2, XRGB, -1, -1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.device.resourceCount()).isEqualTo(1);
        assertThat(h.device.hostMemoryUsed()).isEqualTo(64);
    }

    @Test
    void resourcesBeyondMaxHostMemAreOutOfMemoryAndUnrefGivesTheMemoryBack() throws Exception
    {
        harness(GpuOptions.builder().maxHostMem(1 << 20).build());
        // 512x512x4 = exactly 1 MiB.
        assertThat(h.call(create2d(1, XRGB, 512, 512)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.hostMemoryUsed()).isEqualTo(1 << 20);
        assertThat(h.call(create2d(2, XRGB, 1, 1)).type()).isEqualTo(RESP_ERR_OUT_OF_MEMORY);
        assertThat(h.call(create2d(3, XRGB, 32768, 32768)).type()).isEqualTo(RESP_ERR_OUT_OF_MEMORY);

        assertThat(h.call(resourceCmd(CMD_RESOURCE_UNREF, 1)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.hostMemoryUsed()).isZero();
        assertThat(h.call(create2d(2, XRGB, 256, 256)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.hostMemoryUsed()).isEqualTo(256 * 256 * 4);
    }

    @Test
    void unrefOfAShownResourceDisablesItsScanoutsAndTheIdIsGone() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(2).build());
        final FakeDisplay display = attachDisplay();
        framebuffer(3, 32, 32, 0);
        h.call(setScanout(0, 3, 0, 0, 32, 32));
        h.call(setScanout(1, 3, 0, 0, 16, 16));

        assertThat(h.call(resourceCmd(CMD_RESOURCE_UNREF, 3)).type()).isEqualTo(RESP_OK_NODATA);

        assertThat(display.events).contains("setScanout 0 0x0", "setScanout 1 0x0");
        assertThat(h.call(flush(3, 0, 0, 1, 1)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_UNREF, 3)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_UNREF, 0)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.device.resourceCount()).isZero();
        assertThat(h.device.hostMemoryUsed()).isZero();
    }

    // ---- SET_SCANOUT ----

    @Test
    void setScanoutValidatesScanoutResourceAndRectAndResourceZeroDisables() throws Exception
    {
        harness(GpuOptions.builder().maxOutputs(2).build());
        final FakeDisplay display = attachDisplay();
        h.call(create2d(1, XRGB, 64, 48));

        assertThat(h.call(setScanout(2, 1, 0, 0, 64, 48)).type()).isEqualTo(RESP_ERR_INVALID_SCANOUT_ID);
        assertThat(h.call(setScanout(-1, 1, 0, 0, 64, 48)).type()).isEqualTo(RESP_ERR_INVALID_SCANOUT_ID);
        assertThat(h.call(setScanout(0, 9, 0, 0, 64, 48)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(setScanout(0, 1, 1, 0, 64, 48)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(setScanout(0, 1, 0, 0, 64, 49)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(setScanout(0, 1, 0, 0, 0, 48)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        // x + width wraps around 32 bits.
        assertThat(h.call(setScanout(0, 1, 0xFFFF_FFFFL, 0, 2, 48)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(setScanout(0, 1, 0, 0xFFFF_FFF0L, 64, 0x20)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(display.events).isEmpty();

        assertThat(h.call(setScanout(0, 1, 0, 0, 64, 48)).type()).isEqualTo(RESP_OK_NODATA);
        // Same size again (page flip to the same size): no new surface.
        assertThat(h.call(setScanout(0, 1, 0, 0, 64, 48)).type()).isEqualTo(RESP_OK_NODATA);
        // Resource 0 disables whatever the rectangle says.
        assertThat(h.call(setScanout(0, 0, 5, 5, 0xFFFF_FFFFL, 0)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(display.events).containsExactly("setScanout 0 64x48", "setScanout 0 0x0");
    }

    @Test
    void aScanoutLargerThan8192IsAnInvalidParameterAndOneTheDisplayCannotHoldIsOutOfMemoryAndOff() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        h.call(create2d(1, XRGB, 8193, 2));
        h.call(create2d(2, XRGB, 2, 8193));
        assertThat(h.call(setScanout(0, 1, 0, 0, 8193, 1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(setScanout(0, 2, 0, 0, 1, 8193)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(display.events).isEmpty();
        assertThat(h.call(setScanout(0, 1, 1, 0, 8192, 2)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(setScanout(0, 2, 0, 1, 2, 8192)).type()).isEqualTo(RESP_OK_NODATA);

        // The display's memory holds 100 pixels from now on.
        display.maxPixels = 100;
        display.events.clear();
        assertThat(h.call(setScanout(0, 1, 0, 0, 50, 2)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(setScanout(0, 1, 0, 0, 51, 2)).type()).isEqualTo(RESP_ERR_OUT_OF_MEMORY);
        assertThat(display.events).containsExactly("setScanout 0 50x2", "setScanout 0 51x2 refused",
            "setScanout 0 0x0");
        assertThat(h.call(flush(1, 0, 0, 8193, 2)).type()).as("the scanout is off").isEqualTo(RESP_OK_NODATA);
        assertThat(display.updates()).isEmpty();
        // Asked again at the size it had, it is shown again.
        assertThat(h.call(setScanout(0, 1, 0, 0, 50, 2)).type()).isEqualTo(RESP_OK_NODATA);
        h.call(flush(1, 0, 0, 8193, 2));
        assertThat(display.updates()).containsExactly("update 0 0,0 50x2");
        assertThat(display.violations).isEmpty();
    }

    // ---- RESOURCE_FLUSH ----

    @Test
    void flushValidatesResourceAndRect() throws Exception
    {
        harness();
        attachDisplay();
        h.call(create2d(1, XRGB, 64, 48));
        assertThat(h.call(flush(2, 0, 0, 1, 1)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(flush(1, 0, 0, 65, 1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(flush(1, 0xFFFF_FFFFL, 0, 2, 1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(flush(1, 0, 0xFFFF_FFFFL, 1, 0xFFFF_FFFFL)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        // Not shown anywhere: nothing to do.
        assertThat(h.call(flush(1, 0, 0, 64, 48)).type()).isEqualTo(RESP_OK_NODATA);
    }

    // ---- TRANSFER_TO_HOST_2D ----

    @Test
    void transferWithoutBackingIsAnInvalidResourceAndOutsideTheResourceAnInvalidParameter() throws Exception
    {
        harness();
        h.call(create2d(1, XRGB, 64, 48));
        assertThat(h.call(transfer(9, 0, 0, 1, 1, 0)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(transfer(1, 0, 0, 1, 1, 0)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);

        h.attach(1, h.scatteredPages(64 * 48 * 4));
        assertThat(h.call(transfer(1, 0, 0, 65, 1, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 1, 47, 64, 2, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0xFFFF_FFFFL, 0, 2, 1, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0xFFFF_FFFFL, 1, 0xFFFF_FFFFL, 0)).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0, 64, 48, 0)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(transfer(1, 0, 0, 0, 0, 0)).type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void transferReadingPastTheBackingIsRefusedAndCopiesNothing() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        final int w = 64;
        final int height = 48;
        // Backing one byte short of the image.
        final long gpa = h.alloc((long)w * height * 4, GpuHarness.PAGE);
        for (int i = 0; i < w * height; i++)
        {
            h.writeInt(gpa + i * 4L, 0x00FF_FFFF);
        }
        h.call(create2d(1, XRGB, w, height));
        h.attach(1, new long[] {gpa}, new int[] {w * height * 4 - 1});
        h.call(setScanout(0, 1, 0, 0, w, height));

        assertThat(h.call(transfer(1, 0, 0, w, height, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 47, 64, 1, 47L * 256)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0, 1, 1, Long.MIN_VALUE)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0, 1, 1, -1)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0, 1, 2, w * height * 4L - 4)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        h.call(flush(1, 0, 0, w, height));
        assertThat(display.pixel(0, 63, 47)).as("host image untouched").isZero();
        assertThat(display.pixel(0, 0, 0)).isZero();

        // The rows that do fit are fine.
        assertThat(h.call(transfer(1, 0, 0, w, height - 1, 0)).type()).isEqualTo(RESP_OK_NODATA);
        h.call(flush(1, 0, 0, w, height));
        assertThat(display.pixel(0, 63, 46)).isEqualTo(0x00FF_FFFF);
    }

    @Test
    void transferUsesQemuSourceOffsetsOffsetPlusStrideTimesRow() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        final Pages pages = framebuffer(1, 40, 30, 7);
        h.call(setScanout(0, 1, 0, 0, 40, 30));
        // Take the rectangle (5, 6) 3x2 from the buffer's top-left corner: offset 0 → rows 0 and 1, x 0..2.
        h.call(transfer(1, 5, 6, 3, 2, 0));
        h.call(flush(1, 0, 0, 40, 30));
        assertThat(display.pixel(0, 5, 6)).isEqualTo(pattern(0, 0, 7));
        assertThat(display.pixel(0, 7, 7)).isEqualTo(pattern(2, 1, 7));
        assertThat(display.pixel(0, 8, 6)).isZero();
        assertThat(pages.gpas).isNotEmpty();
    }

    // ---- ATTACH / DETACH ----

    @Test
    void attachRejectsUnknownResourceSecondBackingAndBadEntryCounts() throws Exception
    {
        harness();
        h.call(create2d(1, XRGB, 16, 16));
        final long gpa = h.alloc(4096, 4096);
        assertThat(h.attach(9, new long[] {gpa}, new int[] {1024}).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);

        final byte[] zero = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, 1)
            .u32(ATTACH_NR_ENTRIES, 0).array();
        assertThat(h.call(HDR_SIZE, zero).type()).isEqualTo(RESP_ERR_UNSPEC);
        for (final long count : new long[] {16385, 0xFFFF_FFFFL, 0x8000_0000L})
        {
            final byte[] huge = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, 1)
                .u32(ATTACH_NR_ENTRIES, count).array();
            assertThat(h.call(HDR_SIZE, huge, GpuHarness.entries(new long[] {gpa}, new int[] {64})).type())
                .as("nr_entries %d", count).isEqualTo(RESP_ERR_UNSPEC);
        }
        // Four entries announced, two present.
        final byte[] four = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, 1)
            .u32(ATTACH_NR_ENTRIES, 4).array();
        assertThat(h.call(HDR_SIZE, four, GpuHarness.entries(new long[] {gpa, gpa + 64}, new int[] {64, 64})).type())
            .isEqualTo(RESP_ERR_UNSPEC);

        assertThat(h.attach(1, new long[] {gpa}, new int[] {1024}).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.attach(1, new long[] {gpa}, new int[] {1024}).type()).isEqualTo(RESP_ERR_UNSPEC);
    }

    @Test
    void attachEntriesOutsideGuestMemoryAreUnspecified() throws Exception
    {
        harness();
        h.call(create2d(1, XRGB, 16, 16));
        final long ok = h.alloc(4096, 4096);
        final long[][] bad = {
            {1L << 40, 4096},                          // no RAM there
            {GpuHarness.RAM_END - 100, 4096},          // runs off the end of RAM
            {-4096, 8192},                             // 2^64 - 4096: wraps
            {Long.MAX_VALUE, 0xFFFF_FFFFL},            // addr + len overflows
        };
        for (final long[] entry : bad)
        {
            final Resp r = h.attach(1, new long[] {ok, entry[0]}, new int[] {1024, (int)entry[1]});
            assertThat(r.type()).as("entry 0x%x +%d", entry[0], entry[1]).isEqualTo(RESP_ERR_UNSPEC);
        }
        assertThat(h.call(transfer(1, 0, 0, 1, 1, 0)).type()).as("still no backing")
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
    }

    /**
     * Backings are used in place: an entry in a Xen grant region mapped per access (no bytes of its own) fails the
     * transfer like an entry no longer in guest memory, and no grant is mapped for it.
     */
    @Test
    void backingEntryInAXenGrantRegionMappedPerAccessFailsTheTransfer() throws Exception
    {
        final long grant = 1L << 63 | 0x40L << 12;
        try (io.jvhost.memory.xen.FakeXen xen = new io.jvhost.memory.xen.FakeXen(3, 4 * 4096))
        {
            xen.grant(0x40, io.jvhost.memory.xen.FakeXen.RAM_GPA);
            final int gntdev = xen.openGntdev();
            final io.jvhost.memory.MemoryRegion region;
            try
            {
                region = io.jvhost.memory.MemoryRegion.mapXen(xen, gntdev, grant, 4096, 0, 0, 0xa, 3);
            }
            finally
            {
                io.jvhost.os.LibC.closeQuietly(gntdev);
            }
            try (io.jvhost.os.LogRecorder log = io.jvhost.os.LogRecorder.named(""))
            {
                h = new GpuHarness(GpuOptions.defaults(), 0, null, java.util.List.of(region));
                h.call(create2d(1, XRGB, 16, 16));
                final long ok = h.alloc(4096, 4096);
                // Attach checks the entries are guest memory (they are); a transfer resolves them to host spans.
                assertThat(h.attach(1, new long[] {ok, grant}, new int[] {512, 512}).type())
                    .isEqualTo(RESP_OK_NODATA);
                assertThat(h.call(transfer(1, 0, 0, 16, 16, 0)).type()).as("transfer from the backing")
                    .isEqualTo(RESP_ERR_UNSPEC);
                assertThat(log.entries()).as("refused as memory, not failed on an empty segment")
                    .anyMatch(e -> e.message().contains("is no longer guest memory"))
                    .noneMatch(e -> e.message().contains("unexpectedly"));
            }
            assertThat(xen.grantMmaps()).as("no grant mapped for a backing").isZero();
        }
    }

    @Test
    void attachEntriesSplitAcrossDescriptorsMidEntryAreReadWhole() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        final int w = 64;
        final int height = 64;
        final Pages pages = h.scatteredPages((long)w * height * 4);
        fill(pages, w, height, 8);
        h.call(create2d(1, XRGB, w, height));
        final byte[] header = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, 1)
            .u32(ATTACH_NR_ENTRIES, pages.gpas.length).array();
        final byte[] entries = GpuHarness.entries(pages.gpas, pages.lengths());
        // Header and the first 5 bytes of entry 0 in one descriptor, the rest split again in the middle of entry 1.
        final byte[] first = Arrays.copyOf(header, ATTACH_SIZE + 5);
        System.arraycopy(entries, 0, first, ATTACH_SIZE, 5);
        final byte[] second = Arrays.copyOfRange(entries, 5, 27);
        final byte[] third = Arrays.copyOfRange(entries, 27, entries.length);

        assertThat(h.call(HDR_SIZE, first, second, third).type()).isEqualTo(RESP_OK_NODATA);

        h.call(transfer(1, 0, 0, w, height, 0));
        h.call(setScanout(0, 1, 0, 0, w, height));
        h.call(flush(1, 0, 0, w, height));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < w; x++)
            {
                assertThat(display.pixel(0, x, y)).isEqualTo(pattern(x, y, 8));
            }
        }
    }

    @Test
    void detachDropsTheBackingButKeepsTheImage() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        framebuffer(1, 16, 16, 9);
        h.call(transfer(1, 0, 0, 16, 16, 0));

        assertThat(h.call(resourceCmd(CMD_RESOURCE_DETACH_BACKING, 1)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_DETACH_BACKING, 1)).type())
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_DETACH_BACKING, 2)).type())
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(transfer(1, 0, 0, 16, 16, 0)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);

        h.call(setScanout(0, 1, 0, 0, 16, 16));
        h.call(flush(1, 0, 0, 16, 16));
        assertThat(display.pixel(0, 15, 15)).isEqualTo(pattern(15, 15, 9));
        // A new backing may be attached.
        assertThat(h.attach(1, h.scatteredPages(16 * 16 * 4)).type()).isEqualTo(RESP_OK_NODATA);
    }

    // ---- RESOURCE_ASSIGN_UUID ----

    @Test
    void assignUuidGivesAStableVersion4UuidPerResource() throws Exception
    {
        harness();
        h.call(create2d(1, XRGB, 4, 4));
        h.call(create2d(2, XRGB, 4, 4));

        final Resp first = h.call(resourceCmd(CMD_RESOURCE_ASSIGN_UUID, 1));
        final Resp again = h.call(resourceCmd(CMD_RESOURCE_ASSIGN_UUID, 1));
        final Resp other = h.call(resourceCmd(CMD_RESOURCE_ASSIGN_UUID, 2));

        assertThat(first.type()).isEqualTo(RESP_OK_RESOURCE_UUID);
        assertThat(first.length()).isEqualTo(UUID_RESP_SIZE);
        final byte[] uuid = Arrays.copyOfRange(first.bytes(), UUID_RESP_UUID, UUID_RESP_UUID + 16);
        assertThat(uuid[6] & 0xF0).as("version").isEqualTo(0x40);
        assertThat(uuid[8] & 0xC0).as("variant").isEqualTo(0x80);
        assertThat(Arrays.copyOfRange(again.bytes(), UUID_RESP_UUID, UUID_RESP_UUID + 16)).isEqualTo(uuid);
        assertThat(Arrays.copyOfRange(other.bytes(), UUID_RESP_UUID, UUID_RESP_UUID + 16)).isNotEqualTo(uuid);
        assertThat(h.call(resourceCmd(CMD_RESOURCE_ASSIGN_UUID, 3)).type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
    }

    @Test
    void assignUuidWithoutTheFeatureIsUnspecified() throws Exception
    {
        harness(GpuOptions.builder().resourceUuid(false).build());
        h.call(create2d(1, XRGB, 4, 4));
        assertThat(h.call(resourceCmd(CMD_RESOURCE_ASSIGN_UUID, 1)).type()).isEqualTo(RESP_ERR_UNSPEC);
    }

    // ---- unsupported, unknown, short ----

    @Test
    void threeDCommandsCapsetsUnknownAndShortRequestsAreUnspecified() throws Exception
    {
        harness();
        for (int type = 0x0200; type <= 0x0209; type++)
        {
            assertThat(h.call(HDR_SIZE, new Req(type, 96).array()).type()).as("0x%x", type)
                .isEqualTo(RESP_ERR_UNSPEC);
        }
        assertThat(h.call(HDR_SIZE, new Req(CMD_GET_CAPSET_INFO, 32).array()).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(HDR_SIZE, new Req(CMD_GET_CAPSET, 32).array()).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(HDR_SIZE, new Req(0x0999, 64).array()).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(HDR_SIZE, new Req(CMD_UPDATE_CURSOR, 56).array()).type()).as("cursor command on controlq")
            .isEqualTo(RESP_ERR_UNSPEC);
        // One byte short of each command's fixed part.
        final int[][] sizes = {
            {CMD_RESOURCE_CREATE_2D, CREATE_2D_SIZE}, {CMD_RESOURCE_UNREF, RESOURCE_CMD_SIZE},
            {CMD_SET_SCANOUT, SET_SCANOUT_SIZE}, {CMD_RESOURCE_FLUSH, FLUSH_SIZE},
            {CMD_TRANSFER_TO_HOST_2D, TRANSFER_SIZE}, {CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE},
            {CMD_RESOURCE_DETACH_BACKING, RESOURCE_CMD_SIZE}, {CMD_GET_EDID, GET_EDID_SIZE},
            {CMD_RESOURCE_ASSIGN_UUID, RESOURCE_CMD_SIZE}, {CMD_RESOURCE_CREATE_BLOB, CREATE_BLOB_SIZE},
            {CMD_SET_SCANOUT_BLOB, SET_SCANOUT_BLOB_SIZE}};
        for (final int[] size : sizes)
        {
            final byte[] request = Arrays.copyOf(new Req(size[0], size[1]).array(), size[1] - 1);
            assertThat(h.call(EDID_RESP_SIZE, request).type()).as(GpuProtocol.name(size[0]))
                .isEqualTo(RESP_ERR_UNSPEC);
        }
        // Shorter than the header: no type at all.
        assertThat(h.call(HDR_SIZE, new byte[10]).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.device.resourceCount()).isZero();
    }

    // ---- responses and fences ----

    @Test
    void fencedRequestsGetTheirFenceAndContextBackAndUnfencedOnesNone() throws Exception
    {
        harness();
        final Resp fenced = h.call(create2d(1, XRGB, 4, 4).fence(0x1234_5678_9ABCL, 7));
        assertThat(fenced.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(fenced.flags()).isEqualTo(FLAG_FENCE);
        assertThat(fenced.fenceId()).isEqualTo(0x1234_5678_9ABCL);
        assertThat(fenced.ctxId()).isEqualTo(7);

        // Errors are fenced too.
        final Resp error = h.call(create2d(1, XRGB, 4, 4).fence(99, 3));
        assertThat(error.type()).isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(error.flags()).isEqualTo(FLAG_FENCE);
        assertThat(error.fenceId()).isEqualTo(99);
        assertThat(error.ctxId()).isEqualTo(3);

        // With INFO_RING_IDX the ring index comes back as well.
        final Resp ring = h.call(create2d(2, XRGB, 4, 4).fence(100, 1).u32(HDR_FLAGS, FLAG_FENCE | FLAG_INFO_RING_IDX)
            .u32(HDR_RING_IDX, 5));
        assertThat(ring.flags()).isEqualTo(FLAG_FENCE | FLAG_INFO_RING_IDX);
        assertThat(ring.ringIdx()).isEqualTo(5);
        assertThat(ring.fenceId()).isEqualTo(100);

        // A fence_id without FLAG_FENCE is no fence: key on the flag.
        final Resp unfenced = h.call(create2d(3, XRGB, 4, 4).u64(HDR_FENCE_ID, 555).u32(HDR_CTX_ID, 9));
        assertThat(unfenced.flags()).isZero();
        assertThat(unfenced.fenceId()).isZero();
        assertThat(unfenced.ctxId()).isZero();
    }

    @Test
    void fencedResponsesCompleteInSubmissionOrder() throws Exception
    {
        harness();
        for (int i = 1; i <= 10; i++)
        {
            h.addControl(HDR_SIZE, create2d(i, XRGB, 4, 4).fence(i, 0).array());
        }
        h.serveControl();
        for (int i = 1; i <= 10; i++)
        {
            assertThat(h.pollControl().fenceId()).isEqualTo(i);
        }
    }

    @Test
    void aResponseBufferTooSmallGetsNothingWritten() throws Exception
    {
        harness();
        final Resp small = h.call(16, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
        assertThat(small.length()).isZero();
        assertThat(small.bytes()).containsOnly(0);
        final Resp none = h.call(0, create2d(1, XRGB, 4, 4).array());
        assertThat(none.length()).isZero();
        assertThat(h.device.resourceCount()).as("the command itself ran").isEqualTo(1);
        // A response split over two descriptors is fine.
        final long a = h.alloc(10);
        final long b = h.alloc(14);
        final long req = h.alloc(HDR_SIZE);
        h.write(req, create2d(2, XRGB, 4, 4).fence(77, 0).array());
        h.controlDriver.add(new long[] {req, a, b}, new int[] {CREATE_2D_SIZE, 10, 14}, 1, 2);
        h.controlDriver.publish();
        h.serveControl();
        assertThat((int)h.controlDriver.pollUsed()).isEqualTo(HDR_SIZE);
        final byte[] joined = new byte[HDR_SIZE];
        System.arraycopy(h.read(a, 10), 0, joined, 0, 10);
        System.arraycopy(h.read(b, 14), 0, joined, 10, 14);
        final MemorySegment hdr = MemorySegment.ofArray(joined);
        assertThat(GpuProtocol.i32(hdr, HDR_TYPE)).isEqualTo(RESP_OK_NODATA);
        assertThat(GpuProtocol.u64(hdr, HDR_FENCE_ID)).isEqualTo(77);
    }

    // ---- reset ----

    @Test
    void resetFreesEveryResourceScanoutAndCursorSoIdsCanBeReused() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        framebuffer(1, 64, 64, 0);
        h.call(setScanout(0, 1, 0, 0, 64, 64));
        h.cursorCall(GpuHarness.cursorCmd(CMD_UPDATE_CURSOR, 0, 5, 5, 1, 0, 0));

        h.device.reset();

        assertThat(h.device.resourceCount()).isZero();
        assertThat(h.device.hostMemoryUsed()).isZero();
        assertThat(h.call(create2d(1, XRGB, 64, 64)).type()).isEqualTo(RESP_OK_NODATA);
        // The display learns that the scanout and cursor are gone the next time the worker runs.
        assertThat(display.events).contains("setScanout 0 0x0", "moveCursor 0 5,5 hidden");
        assertThat(h.call(flush(1, 0, 0, 64, 64)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(display.updates()).hasSize(0);
    }

    @Test
    void aResetWithTheMostResourcesAGuestMayHoldGivesAllTheirMemoryBackAndTheDeviceServesOn() throws Exception
    {
        harness();
        final int batch = 32;
        for (int first = 1; first <= GpuDevice.MAX_RESOURCES; first += batch)
        {
            for (int id = first; id < first + batch; id++)
            {
                h.addControl(HDR_SIZE, create2d(id, XRGB, 2, 2).array());
            }
            h.serveControl();
            for (int k = 0; k < batch; k++)
            {
                final GpuHarness.Resp r = h.pollControl();
                if (null == r || r.type() != RESP_OK_NODATA)
                {
                    throw new AssertionError("RESOURCE_CREATE_2D " + (first + k) + ": " + r);
                }
            }
        }
        assertThat(h.device.resourceCount()).isEqualTo(GpuDevice.MAX_RESOURCES);
        assertThat(h.call(create2d(GpuDevice.MAX_RESOURCES + 1, XRGB, 1, 1)).type())
            .isEqualTo(RESP_ERR_OUT_OF_MEMORY);
        assertThat(h.device.memoryBudget().used()).isEqualTo(GpuDevice.MAX_RESOURCES * 16L);

        h.device.reset();

        assertThat(h.device.resourceCount()).isZero();
        assertThat(h.device.hostMemoryUsed()).isZero();
        assertThat(h.device.memoryBudget().used()).as("every image's bytes are back").isZero();
        assertThat(h.call(create2d(7, XRGB, 64, 64)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.memoryBudget().used()).isEqualTo(64 * 64 * 4);
    }

    @Test
    void queuesRestartingKeepEverythingAndOnlyAResetDropsIt() throws Exception
    {
        harness();
        h.call(create2d(1, XRGB, 8, 8));

        // Restarts carry no reset, even from index 0 (a ring paused at a multiple of 65,536).
        h.device.queueStopped(CONTROL_QUEUE);
        h.device.queueStarted(CONTROL_QUEUE);
        h.device.queueStarted(CURSOR_QUEUE);
        assertThat(h.device.resourceCount()).isEqualTo(1);

        h.device.reset();
        assertThat(h.device.resourceCount()).isZero();
        assertThat(h.device.hostMemoryUsed()).isZero();
        assertThat(h.call(create2d(1, XRGB, 8, 8)).type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void guestBytesBeyondTheLastEntryAreNeverRead() throws Exception
    {
        harness();
        final FakeDisplay display = attachDisplay();
        // Entries cover exactly rows 0..1 of a 4-wide image; the guest bytes right after are a marker.
        final long gpa = h.alloc(4096, 4096);
        for (int i = 0; i < 16; i++)
        {
            h.writeInt(gpa + i * 4L, i < 8 ? 0x0011_2233 : 0x00EE_EEEE);
        }
        h.call(create2d(1, XRGB, 4, 4));
        h.attach(1, new long[] {gpa}, new int[] {32});
        h.call(setScanout(0, 1, 0, 0, 4, 4));
        assertThat(h.call(transfer(1, 0, 0, 4, 3, 0)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(transfer(1, 0, 0, 4, 2, 0)).type()).isEqualTo(RESP_OK_NODATA);
        h.call(flush(1, 0, 0, 4, 4));
        assertThat(display.pixel(0, 3, 1)).isEqualTo(0x0011_2233);
        assertThat(display.pixel(0, 0, 2)).isZero();
        assertThat(MemorySegment.ofArray(h.read(gpa + 32, 4)).get(ValueLayout.JAVA_INT_UNALIGNED, 0))
            .isEqualTo(0x00EE_EEEE);
    }
}
