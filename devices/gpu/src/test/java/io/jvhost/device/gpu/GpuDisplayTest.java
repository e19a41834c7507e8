package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.flush;
import static io.jvhost.device.gpu.GpuHarness.getEdid;
import static io.jvhost.device.gpu.GpuHarness.setScanout;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The display coming and going, and GET_DISPLAY_INFO / GET_EDID answered asynchronously by it.
 */
class GpuDisplayTest
{
    private static final int XRGB = PixelFormat.B8G8R8X8.value();
    private static final DisplayMode[] MODES = {
        new DisplayMode(0, 0, 1920, 1080, true), new DisplayMode(1920, 0, 800, 600, false)};

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

    private int addDisplayInfo()
    {
        return h.addControl(DISPLAY_INFO_SIZE, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
    }

    private static int[] mode(final Resp r, final int i)
    {
        final int at = DISPLAY_INFO_MODES + i * DISPLAY_ONE_SIZE;
        return new int[] {r.u32(at), r.u32(at + 4), r.u32(at + 8), r.u32(at + 12), r.u32(at + 16)};
    }

    @Test
    void settingADisplayWakesTheControlQueue()
    {
        assertThat(h.wakeCount()).isEqualTo(1);
        h.device.clearDisplay();
        assertThat(h.wakeCount()).isEqualTo(2);
    }

    @Test
    void aDisplayWhoseOutputsChangedRaisesEventDisplayTheGuestReadsTheNewModesAndClearsIt()
    {
        assertThat(display.outputsListener).as("the device gave the display its listener").isNotNull();
        assertThat(eventsRead()).isZero();

        display.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 800, 600, true), null};
        display.outputsListener.run();
        assertThat(h.configChanges.get()).as("config change asked of the transport").isEqualTo(1);
        assertThat(eventsRead()).isEqualTo(EVENT_DISPLAY);

        addDisplayInfo();
        h.serveControl();
        assertThat(mode(h.pollControl(), 0)).containsExactly(0, 0, 800, 600, 1);

        final MemorySegment clear = MemorySegment.ofArray(new byte[4]);
        putU32(clear, 0, EVENT_DISPLAY);
        h.device.writeConfig(CONFIG_EVENTS_CLEAR, clear);
        assertThat(eventsRead()).isZero();
    }

    private int eventsRead()
    {
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        h.device.readConfig(0, config);
        return i32(config, CONFIG_EVENTS_READ);
    }

    @Test
    void aHeldDisplayInfoIsAnsweredWithTheDefaultsWhenTheControlQueueStops()
    {
        final int infoHead = addDisplayInfo();
        h.serveControl();
        assertThat(h.pollControl()).as("held for the display").isNull();
        assertThat(display.infoRequests).isEqualTo(1);

        // VM stop (GET_VRING_BASE on the control ring) before the display answered.
        h.control.stop(h.device);
        final Resp r = h.pollControl();
        assertThat(r).as("answered before the ring's state is reported").isNotNull();
        assertThat(r.head()).isEqualTo(infoHead);
        assertThat(r.type()).isEqualTo(RESP_OK_DISPLAY_INFO);

        // The resumed queue serves on; the late answer of the old request is dropped.
        display.immediateModes = MODES;
        assertThat(h.call(new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE)).type()).isEqualTo(RESP_OK_DISPLAY_INFO);
    }

    @Test
    void displayInfoIsHeldUntilTheDisplayAnswersAndLaterCommandsWait()
    {
        final int infoHead = addDisplayInfo();
        final int createHead = h.addControl(HDR_SIZE, create2d(1, XRGB, 8, 8).fence(5, 0).array());

        final long retry = h.serveControl();

        assertThat(h.pollControl()).as("nothing answered yet").isNull();
        assertThat(display.infoRequests).isEqualTo(1);
        assertThat(h.device.resourceCount()).as("CREATE_2D not processed while held").isZero();
        assertThat(retry).as("called back at the timeout").isEqualTo(GpuDevice.DISPLAY_TIMEOUT_NANOS);

        // A kick meanwhile changes nothing.
        h.serveControl();
        assertThat(h.pollControl()).isNull();
        assertThat(display.infoRequests).isEqualTo(1);

        final int wakes = h.wakeCount();
        display.pendingInfo.accept(MODES);
        assertThat(h.wakeCount()).as("the answer wakes the worker").isEqualTo(wakes + 1);
        h.serveControl();

        final Resp info = h.pollControl();
        assertThat(info.head()).isEqualTo(infoHead);
        assertThat(info.type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(mode(info, 0)).containsExactly(0, 0, 1920, 1080, 1);
        assertThat(mode(info, 1)).containsExactly(1920, 0, 800, 600, 0);
        assertThat(mode(info, 2)).containsOnly(0);
        final Resp create = h.pollControl();
        assertThat(create.head()).isEqualTo(createHead);
        assertThat(create.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(create.fenceId()).isEqualTo(5);
        assertThat(h.device.resourceCount()).isEqualTo(1);
    }

    @Test
    void aDisplayThatNeverAnswersIsTimedOutAndTheDefaultsAreUsed()
    {
        addDisplayInfo();
        h.addControl(HDR_SIZE, create2d(1, XRGB, 8, 8).array());
        h.serveControl();
        h.clock.addAndGet(GpuDevice.DISPLAY_TIMEOUT_NANOS / 2);
        assertThat(h.serveControl()).as("remaining wait").isEqualTo(GpuDevice.DISPLAY_TIMEOUT_NANOS / 2);
        assertThat(h.pollControl()).isNull();

        h.clock.addAndGet(GpuDevice.DISPLAY_TIMEOUT_NANOS / 2);
        h.serveControl();

        final Resp info = h.pollControl();
        assertThat(info.type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(mode(info, 0)).containsExactly(0, 0, 1280, 800, 1);
        assertThat(mode(info, 1)).containsExactly(1280, 0, 1280, 800, 1);
        assertThat(h.pollControl().type()).isEqualTo(RESP_OK_NODATA);

        // The late answer is ignored, and does not answer the next request.
        display.pendingInfo.accept(MODES);
        addDisplayInfo();
        h.serveControl();
        assertThat(h.pollControl()).isNull();
        display.pendingInfo.accept(new DisplayMode[] {new DisplayMode(0, 0, 640, 480, true)});
        h.serveControl();
        assertThat(mode(h.pollControl(), 0)).containsExactly(0, 0, 640, 480, 1);
    }

    @Test
    void aDisplayAnsweringNullOrRefusingGivesTheDefaults()
    {
        addDisplayInfo();
        h.serveControl();
        display.pendingInfo.accept(null);
        h.serveControl();
        assertThat(mode(h.pollControl(), 1)).containsExactly(1280, 0, 1280, 800, 1);

        display.canAnswer = false;
        addDisplayInfo();
        h.serveControl();
        final Resp refused = h.pollControl();
        assertThat(refused.type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(mode(refused, 0)).containsExactly(0, 0, 1280, 800, 1);
    }

    @Test
    void aDisplayAnsweringAtOnceIsAnsweredInTheSameBatch()
    {
        display.immediateModes = MODES;
        addDisplayInfo();
        h.addControl(HDR_SIZE, create2d(1, XRGB, 8, 8).array());
        h.serveControl();
        assertThat(mode(h.pollControl(), 0)).containsExactly(0, 0, 1920, 1080, 1);
        assertThat(h.pollControl().type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void aFencedHeldRequestKeepsItsFence()
    {
        h.addControl(DISPLAY_INFO_SIZE, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).fence(42, 3).array());
        h.serveControl();
        display.pendingInfo.accept(MODES);
        h.serveControl();
        final Resp r = h.pollControl();
        assertThat(r.flags()).isEqualTo(FLAG_FENCE);
        assertThat(r.fenceId()).isEqualTo(42);
        assertThat(r.ctxId()).isEqualTo(3);
    }

    @Test
    void edidIsAskedOfTheDisplayForValidScanoutsOnly()
    {
        h.addControl(EDID_RESP_SIZE, getEdid(5).array());
        h.addControl(EDID_RESP_SIZE, getEdid(1).array());
        h.serveControl();
        assertThat(h.pollControl().type()).as("invalid scanout answered at once").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.pollControl()).isNull();
        assertThat(display.edidScanout).isEqualTo(1);
        assertThat(display.edidRequests).isEqualTo(1);

        final byte[] edid = EdidGenerator.generate(2560, 1440, 77);
        display.pendingEdid.accept(edid);
        h.serveControl();
        final Resp r = h.pollControl();
        assertThat(r.type()).isEqualTo(RESP_OK_EDID);
        assertThat(r.u32(EDID_RESP_SIZE_FIELD)).isEqualTo(1024);
        assertThat(Arrays.copyOfRange(r.bytes(), EDID_RESP_DATA, EDID_RESP_DATA + 128)).isEqualTo(edid);
    }

    @Test
    void edidFallsBackToOneGeneratedForTheModeTheDisplayReported()
    {
        display.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 1600, 900, true), null};
        addDisplayInfo();
        h.addControl(EDID_RESP_SIZE, getEdid(0).array());
        h.addControl(EDID_RESP_SIZE, getEdid(1).array());
        h.serveControl();
        h.pollControl();
        display.pendingEdid.accept(null);
        h.serveControl();
        display.pendingEdid.accept(new byte[5]);
        h.serveControl();

        final Resp first = h.pollControl();
        EdidGeneratorTest.assertValidBaseBlock(Arrays.copyOfRange(first.bytes(), EDID_RESP_DATA,
            EDID_RESP_DATA + 128), 1600, 900);
        final Resp second = h.pollControl();
        EdidGeneratorTest.assertValidBaseBlock(Arrays.copyOfRange(second.bytes(), EDID_RESP_DATA,
            EDID_RESP_DATA + 128), 1280, 800);
    }

    @Test
    void aDisplayThatGoesAwayWhileAskedGivesTheDefaultsAndANewOneIsAskedAgain()
    {
        addDisplayInfo();
        h.serveControl();
        h.device.clearDisplay();
        h.serveControl();
        assertThat(mode(h.pollControl(), 0)).containsExactly(0, 0, 1280, 800, 1);

        h.device.setDisplay(display);
        addDisplayInfo();
        h.serveControl();
        final FakeDisplay second = new FakeDisplay();
        second.immediateModes = MODES;
        h.device.setDisplay(second);
        h.serveControl();
        assertThat(second.infoRequests).isEqualTo(1);
        assertThat(mode(h.pollControl(), 0)).containsExactly(0, 0, 1920, 1080, 1);
        // The first display's late answer is dropped.
        display.pendingInfo.accept(new DisplayMode[] {new DisplayMode(0, 0, 1, 1, true)});
        assertThat(h.pollControl()).isNull();
    }

    @Test
    void aNewDisplayGetsEveryEnabledScanoutAndItsPixelsWithoutAGuestCommand()
    {
        h.device.clearDisplay();
        h.serveControl();
        final long gpa = h.alloc(32 * 16 * 4, GpuHarness.PAGE);
        for (int i = 0; i < 32 * 16; i++)
        {
            h.writeInt(gpa + i * 4L, 0x0012_3400 + i);
        }
        h.call(create2d(1, XRGB, 32, 16));
        h.attach(1, new long[] {gpa}, new int[] {32 * 16 * 4});
        h.call(transfer(1, 0, 0, 32, 16, 0));
        h.call(setScanout(1, 1, 16, 0, 16, 16));
        h.call(flush(1, 0, 0, 32, 16));

        final FakeDisplay fresh = new FakeDisplay();
        final int wakes = h.wakeCount();
        h.device.setDisplay(fresh);
        assertThat(h.wakeCount()).isEqualTo(wakes + 1);
        assertThat(fresh.events).as("nothing from the caller's thread").isEmpty();
        h.serveControl();

        assertThat(fresh.events).containsExactly("setScanout 1 16x16", "update 1 0,0 16x16");
        assertThat(fresh.violations).isEmpty();
        assertThat(fresh.pixel(1, 0, 0)).isEqualTo(0x0012_3400 + 16);
        assertThat(fresh.pixel(1, 15, 15)).isEqualTo(0x0012_3400 + 15 * 32 + 31);
        assertThat(display.updates()).as("the old display got nothing").isEmpty();

        // The same display object attached again is announced again.
        h.device.setDisplay(fresh);
        h.serveCursor();
        assertThat(fresh.events).containsExactly("setScanout 1 16x16", "update 1 0,0 16x16", "setScanout 1 16x16",
            "update 1 0,0 16x16");
    }

    @Test
    void withoutADisplayEverythingStillWorks()
    {
        h.device.clearDisplay();
        h.call(create2d(1, XRGB, 8, 8));
        h.attach(1, new long[] {h.alloc(256, 4096)}, new int[] {256});
        assertThat(h.call(transfer(1, 0, 0, 8, 8, 0)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(setScanout(0, 1, 0, 0, 8, 8)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(flush(1, 0, 0, 8, 8)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE)).type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(h.call(getEdid(1)).type()).isEqualTo(RESP_OK_EDID);
        h.cursorCall(GpuHarness.cursorCmd(CMD_MOVE_CURSOR, 0, 1, 1, 1, 0, 0));
        assertThat(display.events).isEmpty();
    }

    @Test
    void aDisplayThatThrowsDoesNotBreakTheDevice()
    {
        final GpuDisplay broken = new FakeDisplay()
        {
            @Override
            public boolean requestDisplayInfo(final java.util.function.Consumer<DisplayMode[]> done)
            {
                throw new IllegalStateException("socket closed");
            }

            @Override
            public boolean setScanout(final int scanout, final int width, final int height)
            {
                throw new IllegalStateException("socket closed");
            }
        };
        h.device.setDisplay(broken);
        assertThat(h.call(new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE)).type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        h.call(create2d(1, XRGB, 8, 8));
        assertThat(h.call(setScanout(0, 1, 0, 0, 8, 8)).type()).isEqualTo(RESP_OK_NODATA);
    }
}
