package io.jvhost.vhostuser.gpu;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.gpu.GpuProtocol;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator.Mode;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole path in one process: a guest driver's virtio-gpu commands through our front-end and vhost-user to
 * {@code GpuDevice} behind {@link GpuSocketExtension}, and out of {@link VhostUserGpuDisplay} to the QEMU display
 * emulator, pixel for pixel.
 */
@Timeout(120)
class GpuDisplayIntegrationTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int W = 640;
    private static final int H = 480;
    private static final int PITCH = W * 4;
    private static final int B8G8R8X8 = 2;
    private static final int B8G8R8A8 = 1;

    @TempDir
    Path dir;

    private GpuBackend backend;
    private GpuBackend.Vm vm;
    private QemuDisplayEmulator qemu;

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != vm)
        {
            vm.close();
        }
        if (null != qemu)
        {
            qemu.close();
        }
        if (null != backend)
        {
            backend.close();
        }
    }

    private void start(final GpuOptions options, final boolean headless, final QemuDisplayEmulator.Builder display)
        throws Exception
    {
        backend = GpuBackend.start(dir, options, headless);
        vm = backend.connect();
        qemu = display.start();
        vm.driverOk(qemu);
    }

    /**
     * A framebuffer in guest RAM filled with random bytes.
     */
    private static long framebuffer(final GuestRam ram, final int width, final int height, final long seed)
    {
        final long gpa = ram.allocate((long)width * height * 4, 4096);
        final byte[] bytes = new byte[width * height * 4];
        new Random(seed).nextBytes(bytes);
        ram.write(gpa, bytes, 0, bytes.length);
        return gpa;
    }

    /**
     * @return true when {@code scanout}'s surface is {@code width}×{@code height} and shows the resource backed at
     *     {@code gpa} (pitch {@code pitch}) from ({@code x0}, {@code y0}), comparing B, G and R (QEMU ignores X).
     */
    private boolean shows(final int scanout, final GuestRam ram, final long gpa, final int pitch, final int x0,
        final int y0, final int width, final int height)
    {
        final byte[] fb = qemu.framebuffer(scanout);
        if (null == fb || fb.length != width * height * 4)
        {
            return false;
        }
        for (int y = 0; y < height; y++)
        {
            final byte[] row = ram.read(gpa + (long)(y0 + y) * pitch + x0 * 4L, width * 4);
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    if (fb[(y * width + x) * 4 + c] != row[x * 4 + c])
                    {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private boolean awaitShows(final int scanout, final GuestRam ram, final long gpa, final int pitch, final int x0,
        final int y0, final int width, final int height) throws InterruptedException
    {
        return qemu.await(() -> shows(scanout, ram, gpa, pitch, x0, y0, width, height), WAIT);
    }

    /**
     * What Linux's fbdev emulation sends on scanout 0 (reference §6.2): display info, create, attach, set scanout
     * 0 then N, transfer, flush.
     *
     * @return the framebuffer's guest address.
     */
    private long fbcon(final int resource, final long seed) throws Exception
    {
        final GpuDriver d = vm.driver;
        final long fb = framebuffer(vm.ram, W, H, seed);
        assertThat(d.create2d(resource, B8G8R8X8, W, H)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.attachBacking(resource, fb, (long)PITCH * H, 3)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.setScanout(0, 0, 0, 0, W, H)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.transfer(resource, PITCH, 0, 0, W, H, false)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.setScanout(0, resource, 0, 0, W, H)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.flush(resource, 0, 0, W, H)).isEqualTo(GpuDriver.OK_NODATA);
        return fb;
    }

    private static void assertScanoutBeforeUpdates(final List<String> trace, final int scanout)
    {
        final int announce = firstIndex(trace, "SCANOUT(" + scanout + ",");
        final int update = firstIndex(trace, "UPDATE(" + scanout + ",");
        assertThat(announce).as("SCANOUT for %d in %s", scanout, trace).isGreaterThanOrEqualTo(0);
        assertThat(update).as("first UPDATE for %d after its SCANOUT", scanout).isGreaterThan(announce);
    }

    private static int firstIndex(final List<String> trace, final String prefix)
    {
        for (int i = 0; i < trace.size(); i++)
        {
            if (trace.get(i).startsWith(prefix))
            {
                return i;
            }
        }
        return -1;
    }

    @Test
    void fbconCommandStreamProducesExactlyTheGuestPixels() throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        final GpuDriver d = vm.driver;

        final ByteBuffer info = d.getDisplayInfo();
        // The answer came back through the control-queue worker's own epoll, not the display's reader thread.
        assertThat(backend.extension().display().repliesReadByWorker()).isTrue();
        assertThat(info.getInt(0)).isEqualTo(GpuDriver.OK_DISPLAY_INFO);
        assertThat(new int[] {info.getInt(24 + 8), info.getInt(24 + 12), info.getInt(24 + 16)})
            .as("pmodes[0] from QEMU's UI, not the device default").containsExactly(W, H, 1);
        assertThat(info.getInt(48 + 16)).as("pmodes[1] disabled").isZero();

        final ByteBuffer edid = d.getEdid(0);
        assertThat(edid.getInt(0)).isEqualTo(GpuDriver.OK_EDID);
        final byte[] block = new byte[128];
        edid.get(32, block);
        assertThat(block).as("QEMU's EDID passed through").isEqualTo(QemuDisplayEmulator.generateEdid(Mode.of(W, H)));

        final long fb = fbcon(1, 42);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();

        // fbcon redraws a damage rectangle: TRANSFER with Linux's offset, then FLUSH.
        final byte[] damage = new byte[37 * 4];
        for (int y = 50; y < 71; y++)
        {
            new Random(y).nextBytes(damage);
            vm.ram.write(fb + (long)y * PITCH + 100 * 4, damage, 0, damage.length);
        }
        assertThat(d.transfer(1, PITCH, 100, 50, 37, 21, false)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.flush(1, 100, 50, 37, 21)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();

        assertThat(qemu.violations()).isEmpty();
        assertThat(qemu.negotiatedFeatures()).as("EDID kept, DMABUF2 not asked for").isEqualTo(1);
        assertScanoutBeforeUpdates(qemu.trace(), 0);
        assertThat(qemu.trace()).contains("UPDATE(0,100,50,37x21)");
    }

    @Test
    void guestResetGetsANewSocketAndTheNewDisplayShowsTheNewFramebuffer() throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        final long first = fbcon(1, 1);
        assertThat(awaitShows(0, vm.ram, first, PITCH, 0, 0, W, H)).isTrue();
        final QemuDisplayEmulator old = qemu;

        // Guest reset (QEMU §1.8 D then C): display socket closed, rings stopped, RESET_DEVICE, rings restarted
        // from 0 with a new socket. The C reference back-end refuses this second GPU_SET_SOCKET.
        vm.reset(old);
        assertThat(old.violations()).isEmpty();
        qemu = QemuDisplayEmulator.builder().modes(Mode.of(W, H)).start();
        vm.driverOk(qemu);
        assertThat(backend.extension().socketsReceived()).isEqualTo(2);

        final ByteBuffer info = vm.driver.getDisplayInfo();
        assertThat(info.getInt(24 + 8)).isEqualTo(W);
        assertThat(backend.extension().display().repliesReadByWorker()).as("the new display too").isTrue();
        final long second = fbcon(1, 2);
        assertThat(awaitShows(0, vm.ram, second, PITCH, 0, 0, W, H)).isTrue();
        assertThat(qemu.violations()).isEmpty();
        assertScanoutBeforeUpdates(qemu.trace(), 0);
        assertThat(backend.device().resourceCount()).as("the reset dropped the old resource 1").isEqualTo(1);
    }

    @Test
    void stopContGetsANewSocketAndTheScanoutIsReannouncedWithoutTheGuest() throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        final long fb = fbcon(1, 3);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();

        // stop / cont in the monitor: the same path, but the rings resume where they were and the guest sends
        // nothing: the device must re-announce its scanout and picture to the new socket by itself.
        vm.stop(qemu);
        final long updatesBefore = qemu.messages(GpuRequest.UPDATE);
        assertThat(updatesBefore).isPositive();
        qemu = QemuDisplayEmulator.builder().modes(Mode.of(W, H)).start();
        vm.driverOk(qemu);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).as("re-announced: SCANOUT then the whole frame")
            .isTrue();
        assertScanoutBeforeUpdates(qemu.trace(), 0);
        assertThat(qemu.violations()).isEmpty();

        // And it keeps working.
        vm.ram.fill(fb, PITCH * 10L, (byte)0x5A);
        assertThat(vm.driver.transfer(1, PITCH, 0, 0, W, 10, false)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(vm.driver.flush(1, 0, 0, W, 10)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();
    }

    @Test
    void stopContWithTheControlRingAtAMultipleOf65536KeepsEveryResource() throws Exception
    {
        backend = GpuBackend.start(dir, GpuOptions.defaults(), false);
        vm = backend.connect();
        // The guest has used 65,530 control buffers: the six of fbcon bring both indices to 65,536, i.e. 0.
        vm.session.resetQueues(65536 - 6);
        qemu = QemuDisplayEmulator.builder().modes(Mode.of(W, H)).start();
        vm.driverOk(qemu);
        final long fb = fbcon(1, 4);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();
        assertThat(vm.control().driver().availIdx()).as("avail index wrapped to 0").isZero();
        assertThat(vm.control().driver().usedIdx()).as("used index wrapped to 0").isZero();

        // VM stop/cont: the rings resume at 0 and 0, exactly as a driver's fresh rings look; the guest carries on.
        vm.stop(qemu);
        qemu = QemuDisplayEmulator.builder().modes(Mode.of(W, H)).start();
        vm.driverOk(qemu);
        assertThat(backend.device().resourceCount()).as("resource 1 survives the pause").isEqualTo(1);
        vm.ram.fill(fb, PITCH * 10L, (byte)0x5A);
        assertThat(vm.driver.transfer(1, PITCH, 0, 0, W, 10, false)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(vm.driver.flush(1, 0, 0, W, 10)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void aGuestResetWithoutResetDeviceIsToldByTheDriversConfigReadAndAConfigReadWhileRunningIsNot()
        throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        fbcon(1, 5);
        vm.frontend.getConfig(0, GpuProtocol.CONFIG_SIZE);
        assertThat(backend.device().resourceCount()).as("a running driver reads events_read").isEqualTo(1);

        // QEMU before 9.1 negotiated RESET_DEVICE but never sent it: the reset shows only as the driver's probe.
        vm.stop(qemu);
        vm.session.resetQueues();
        assertThat(backend.device().resourceCount()).as("stopped rings alone are a pause").isEqualTo(1);
        vm.frontend.getConfig(0, GpuProtocol.CONFIG_SIZE);
        assertThat(backend.device().resourceCount()).as("the probe's config read resets").isZero();
        qemu = QemuDisplayEmulator.builder().modes(Mode.of(W, H)).start();
        vm.driverOk(qemu);
        final long fb = fbcon(1, 6);
        assertThat(awaitShows(0, vm.ram, fb, PITCH, 0, 0, W, H)).isTrue();
    }

    @Test
    void displaySocketClosedWhileRunningLeavesTheDeviceOnItsDefaults() throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        assertThat(vm.driver.getDisplayInfo().getInt(24 + 8)).isEqualTo(W);
        qemu.close();
        final long end = System.nanoTime() + WAIT.toNanos();
        while (null != backend.extension().display() && System.nanoTime() < end)
        {
            Thread.sleep(10);
        }
        assertThat(backend.extension().display()).as("detached when QEMU closed it").isNull();
        final ByteBuffer info = vm.driver.getDisplayInfo();
        assertThat(info.getInt(0)).isEqualTo(GpuDriver.OK_DISPLAY_INFO);
        assertThat(new int[] {info.getInt(24 + 8), info.getInt(24 + 12)}).as("GpuOptions' default mode")
            .containsExactly(GpuOptions.DEFAULT_WIDTH, GpuOptions.DEFAULT_HEIGHT);
        final long fb = fbcon(1, 4);
        assertThat(fb).isPositive();
    }

    @Test
    void cursorUploadedMovedAndHiddenArrivesWithItsPixels() throws Exception
    {
        start(GpuOptions.defaults(), false, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        fbcon(1, 5);
        final GpuDriver d = vm.driver;
        final long image = framebuffer(vm.ram, 64, 64, 77);
        assertThat(d.create2d(2, B8G8R8A8, 64, 64)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.attachBacking(2, image, 64 * 64 * 4, 1)).isEqualTo(GpuDriver.OK_NODATA);
        // Linux uploads the cursor with a fenced transfer and waits for it.
        final ByteBuffer fenced = d.send(fencedTransfer(), null, 24);
        assertThat(fenced.getInt(0)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(fenced.getInt(4) & GpuDriver.FLAG_FENCE).isEqualTo(GpuDriver.FLAG_FENCE);
        assertThat(fenced.getLong(8)).isEqualTo(9999);

        d.cursorCommand(GpuDriver.UPDATE_CURSOR, 0, 100, 50, 2, 3, 4);
        assertThat(qemu.await(() -> null != qemu.cursor(0) && qemu.cursor(0).updates() == 1, WAIT)).isTrue();
        QemuDisplayEmulator.Cursor cursor = qemu.cursor(0);
        assertThat(cursor.image()).as("64x64 ARGB as the guest wrote it").isEqualTo(vm.ram.read(image, 64 * 64 * 4));
        assertThat(new int[] {cursor.x(), cursor.y(), cursor.hotX(), cursor.hotY()}).containsExactly(100, 50, 3, 4);
        assertThat(cursor.visible()).isTrue();

        // Linux repeats the cursor's resource id in MOVE_CURSOR; QEMU shows the cursor only when it is not 0.
        d.cursorCommand(GpuDriver.MOVE_CURSOR, 0, 200, 60, 2, 0, 0);
        assertThat(qemu.await(() -> qemu.cursor(0).x() == 200, WAIT)).isTrue();
        cursor = qemu.cursor(0);
        assertThat(cursor.y()).isEqualTo(60);
        assertThat(cursor.visible()).isTrue();
        assertThat(qemu.messages(GpuRequest.CURSOR_POS)).isEqualTo(1);

        d.cursorCommand(GpuDriver.UPDATE_CURSOR, 0, 200, 60, 0, 0, 0);
        assertThat(qemu.await(() -> !qemu.cursor(0).visible(), WAIT)).as("resource 0 hides it").isTrue();
        assertThat(qemu.messages(GpuRequest.CURSOR_POS_HIDE)).isEqualTo(1);
        assertThat(qemu.cursor(0).updates()).isEqualTo(1);
        assertThat(qemu.violations()).isEmpty();
    }

    private static ByteBuffer fencedTransfer()
    {
        final ByteBuffer c = ByteBuffer.allocate(56).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        c.putInt(0, GpuDriver.TRANSFER_TO_HOST_2D).putInt(4, GpuDriver.FLAG_FENCE).putLong(8, 9999);
        c.putInt(24, 0).putInt(28, 0).putInt(32, 64).putInt(36, 64).putLong(40, 0).putInt(48, 2);
        return c;
    }

    @Test
    void twoScanoutsShowTheirOwnRectangles() throws Exception
    {
        start(GpuOptions.builder().maxOutputs(2).build(), false, QemuDisplayEmulator.builder()
            .modes(Mode.of(W, H), new Mode(W, 0, 320, 240, true)));
        final GpuDriver d = vm.driver;
        final ByteBuffer info = d.getDisplayInfo();
        assertThat(new int[] {info.getInt(48), info.getInt(48 + 8), info.getInt(48 + 12), info.getInt(48 + 16)})
            .as("pmodes[1]").containsExactly(W, 320, 240, 1);

        final long fb0 = fbcon(1, 6);
        final long fb1 = framebuffer(vm.ram, 320, 240, 7);
        assertThat(d.create2d(2, B8G8R8X8, 320, 240)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.attachBacking(2, fb1, 320 * 240 * 4, 2)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.transfer(2, 320 * 4, 0, 0, 320, 240, false)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.setScanout(1, 2, 0, 0, 320, 240)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.flush(2, 0, 0, 320, 240)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(awaitShows(0, vm.ram, fb0, PITCH, 0, 0, W, H)).isTrue();
        assertThat(awaitShows(1, vm.ram, fb1, 320 * 4, 0, 0, 320, 240)).isTrue();

        // Scanout 1 now shows a window of resource 1: coordinates on the socket are scanout-relative.
        assertThat(d.setScanout(1, 1, 100, 120, 320, 240)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(d.flush(1, 0, 0, W, H)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(awaitShows(1, vm.ram, fb0, PITCH, 100, 120, 320, 240)).isTrue();
        assertThat(awaitShows(0, vm.ram, fb0, PITCH, 0, 0, W, H)).isTrue();

        assertThat(qemu.violations()).isEmpty();
        assertScanoutBeforeUpdates(qemu.trace(), 0);
        assertScanoutBeforeUpdates(qemu.trace(), 1);
    }

    @Test
    void headlessKeepsTheSocketOpenAndUnusedAndRunsOnDefaults() throws Exception
    {
        start(GpuOptions.defaults(), true, QemuDisplayEmulator.builder().modes(Mode.of(W, H)));
        final ByteBuffer info = vm.driver.getDisplayInfo();
        assertThat(new int[] {info.getInt(24 + 8), info.getInt(24 + 12)})
            .containsExactly(GpuOptions.DEFAULT_WIDTH, GpuOptions.DEFAULT_HEIGHT);
        fbcon(1, 8);
        // No display exists (GPU_SET_SOCKET makes it before its reply), so no thread could write to QEMU's socket
        // later: what it has received by now is all it will.
        assertThat(backend.extension().display()).isNull();
        assertThat(qemu.messages()).as("nothing sent to QEMU").isZero();
        assertThat(qemu.peerClosed()).as("and its socket not closed under it").isFalse();
    }
}
