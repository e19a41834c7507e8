package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.flush;
import static io.jvhost.device.gpu.GpuHarness.setScanout;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.CMD_GET_DISPLAY_INFO;
import static io.jvhost.device.gpu.GpuProtocol.DISPLAY_INFO_MODES;
import static io.jvhost.device.gpu.GpuProtocol.DISPLAY_INFO_SIZE;
import static io.jvhost.device.gpu.GpuProtocol.HDR_SIZE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * One device, several displays: output reaches every member, requests the first member that can answer, and a
 * member added at run time (QEMU's socket coming back) gets the whole picture while the others keep theirs.
 */
class CompositeDisplayTest
{
    private static final int XRGB = 2;

    private GpuHarness h;
    private CompositeDisplay composite;
    private FakeDisplay viewers;

    @BeforeEach
    void setUp() throws Exception
    {
        h = new GpuHarness(GpuOptions.builder().defaultMode(1024, 768).build());
        composite = new CompositeDisplay("gpu0");
        viewers = new FakeDisplay();
        viewers.canAnswer = false;
        composite.add(viewers);
        composite.attachTo(h.device);
        h.serveControl();
    }

    @AfterEach
    void tearDown()
    {
        h.close();
    }

    private void showPicture()
    {
        final long gpa = h.alloc(32 * 16 * 4, GpuHarness.PAGE);
        for (int i = 0; i < 32 * 16; i++)
        {
            h.writeInt(gpa + i * 4L, 0x0012_3400 + i);
        }
        h.call(create2d(1, XRGB, 32, 16));
        h.attach(1, new long[] {gpa}, new int[] {32 * 16 * 4});
        h.call(transfer(1, 0, 0, 32, 16, 0));
        h.call(setScanout(0, 1, 0, 0, 32, 16));
        h.call(flush(1, 0, 0, 32, 16));
    }

    private int[] firstMode()
    {
        h.addControl(DISPLAY_INFO_SIZE, new GpuHarness.Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
        h.serveControl();
        final GpuHarness.Resp r = h.pollControl();
        final int at = DISPLAY_INFO_MODES;
        return new int[] {r.u32(at + 8), r.u32(at + 12)};
    }

    @Test
    void everyMemberAndOneAddedLaterCanTellTheDeviceItsOutputsChanged()
    {
        assertThat(viewers.outputsListener).isNotNull();
        viewers.outputsListener.run();
        assertThat(h.configChanges.get()).isEqualTo(1);

        final FakeDisplay qemu = new FakeDisplay();
        composite.add(qemu, true);
        assertThat(qemu.outputsListener).as("a member added after attachTo").isNotNull();
        qemu.outputsListener.run();
        assertThat(h.configChanges.get()).isEqualTo(2);
    }

    @Test
    void outputReachesEveryMember()
    {
        final FakeDisplay second = new FakeDisplay();
        composite.add(second);
        h.serveControl();
        showPicture();
        assertThat(viewers.events).contains("setScanout 0 32x16", "update 0 0,0 32x16");
        assertThat(second.events).contains("setScanout 0 32x16", "update 0 0,0 32x16");
        assertThat(second.pixel(0, 5, 3)).isEqualTo(viewers.pixel(0, 5, 3)).isEqualTo(0x0012_3400 + 3 * 32 + 5);
        assertThat(viewers.violations).isEmpty();
        assertThat(second.violations).isEmpty();
    }

    @Test
    void withoutADisplayThatAnswersTheDefaultsApply()
    {
        assertThat(firstMode()).containsExactly(1024, 768);
        assertThat(viewers.infoRequests).as("asked, could not answer").isEqualTo(1);
    }

    @Test
    void qemusDisplayAddedFirstAnswersAndGetsTheWholePictureThenGoesAway()
    {
        showPicture();
        final int viewerEvents = viewers.events.size();
        final FakeDisplay qemu = new FakeDisplay();
        qemu.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 800, 600, true)};
        composite.add(qemu, true);
        assertThat(composite.members()).containsExactly(qemu, viewers);
        h.serveControl();
        assertThat(qemu.events).containsExactly("setScanout 0 32x16", "update 0 0,0 32x16");
        assertThat(qemu.pixel(0, 31, 15)).isEqualTo(0x0012_3400 + 16 * 32 - 1);
        assertThat(viewers.events.subList(viewerEvents, viewers.events.size()))
            .as("the viewers see the re-announcement too").containsExactly("setScanout 0 32x16",
                "update 0 0,0 32x16");

        assertThat(firstMode()).as("QEMU's xres/yres win").containsExactly(800, 600);
        assertThat(viewers.infoRequests).isZero();

        final FakeDisplay next = new FakeDisplay();
        next.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 640, 480, true)};
        composite.replace(qemu, next, true);
        assertThat(composite.members()).containsExactly(next, viewers);
        h.serveControl();
        assertThat(firstMode()).containsExactly(640, 480);

        assertThat(composite.remove(next)).isTrue();
        assertThat(composite.remove(next)).isFalse();
        assertThat(firstMode()).containsExactly(1024, 768);
    }

    @Test
    void aMemberThatCannotHoldThePictureTurnsTheScanoutOffEverywhereAndTheGuestIsTold()
    {
        final FakeDisplay small = new FakeDisplay();
        small.maxPixels = 100;
        composite.add(small);
        h.serveControl();
        h.call(create2d(1, XRGB, 32, 16));
        assertThat(h.call(setScanout(0, 1, 0, 0, 32, 16)).type()).isEqualTo(GpuProtocol.RESP_ERR_OUT_OF_MEMORY);
        assertThat(viewers.events).containsExactly("setScanout 0 32x16", "setScanout 0 0x0");
        assertThat(small.events).containsExactly("setScanout 0 32x16 refused", "setScanout 0 0x0");
        h.call(flush(1, 0, 0, 32, 16));
        assertThat(viewers.updates()).isEmpty();
        assertThat(small.updates()).isEmpty();

        assertThat(h.call(setScanout(0, 1, 0, 0, 10, 10)).type()).isEqualTo(GpuProtocol.RESP_OK_NODATA);
        h.call(flush(1, 0, 0, 32, 16));
        assertThat(viewers.updates()).containsExactly("update 0 0,0 10x10");
        assertThat(small.updates()).containsExactly("update 0 0,0 10x10");
    }

    @Test
    void aMemberAddedLaterThatCannotHoldThePictureShowsItDisabledAloneUntilTheNextSetScanout()
    {
        showPicture();
        final FakeDisplay small = new FakeDisplay();
        small.maxPixels = 100;
        composite.add(small);
        h.serveControl();
        assertThat(small.events).contains("setScanout 0 32x16 refused");
        assertThat(small.updates()).isEmpty();
        assertThat(viewers.events).as("the others keep the picture").doesNotContain("setScanout 0 0x0");
        assertThat(viewers.updates()).last().isEqualTo("update 0 0,0 32x16");

        small.maxPixels = Long.MAX_VALUE;
        assertThat(h.call(setScanout(0, 1, 0, 0, 32, 16)).type()).as("the same mode again")
            .isEqualTo(GpuProtocol.RESP_OK_NODATA);
        h.call(flush(1, 0, 0, 32, 16));
        assertThat(small.events).containsSubsequence("setScanout 0 32x16", "update 0 0,0 32x16");
        assertThat(small.violations).isEmpty();
        assertThat(viewers.violations).isEmpty();
    }

    @Test
    void aFailingMemberDoesNotStopTheOthers()
    {
        final GpuDisplay broken = new GpuDisplay()
        {
            @Override
            public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
            {
                throw new IllegalStateException("broken");
            }

            @Override
            public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
            {
                throw new IllegalStateException("broken");
            }

            @Override
            public boolean setScanout(final int scanout, final int width, final int height)
            {
                throw new IllegalStateException("broken");
            }

            @Override
            public void updateScanout(final int scanout, final int x, final int y, final int width,
                final int height, final MemorySegment pixels, final long offset, final int stride,
                final PixelFormat format)
            {
                throw new IllegalStateException("broken");
            }

            @Override
            public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
                final MemorySegment argb64x64)
            {
                throw new IllegalStateException("broken");
            }

            @Override
            public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
            {
                throw new IllegalStateException("broken");
            }
        };
        composite.add(broken, true);
        h.serveControl();
        showPicture();
        assertThat(viewers.events).contains("setScanout 0 32x16", "update 0 0,0 32x16");
        assertThat(firstMode()).containsExactly(1024, 768);
    }
}
