package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import io.jvhost.virgl.FenceListener;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglLibrary;
import io.jvhost.virgl.VirglRenderer;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * 3D mode in process: the device's {@link VirglRendererAdapter} on this test's thread (the "worker"), driven through
 * the control queue. Skipped without virglrenderer on surfaceless EGL; failed instead under JVHOST_REQUIRE_E2E.
 */
class Gpu3dTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int W = 64;
    private static final int H = 32;
    private static final int STRIDE = W * 4;
    private static final int RES = 1;
    private static final int CTX = 1;
    private static final int SURFACE = 1;
    private static final int VIRGL_BIND_RT_SCANOUT = ResourceCreateArgs.BIND_RENDER_TARGET
        | ResourceCreateArgs.BIND_SCANOUT;

    private GpuHarness h;
    private FakeDisplay display;

    @BeforeEach
    void setUp() throws Exception
    {
        requireVirgl();
        h = new GpuHarness(GpuOptions.builder().virgl(VirglFlags.SURFACELESS_EGL, 1 << 1 | 1 << 2)
            .maxHostMem(64L << 20).build());
    }

    @AfterEach
    void tearDown()
    {
        if (null != h)
        {
            h.device.workerEnding(0);
            h.close();
        }
    }

    /** Skips (or fails under JVHOST_REQUIRE_E2E) when virglrenderer cannot start on surfaceless EGL here. */
    static void requireVirgl()
    {
        String why = null;
        if (!VirglLibrary.available())
        {
            why = "no " + VirglLibrary.NAME;
        }
        else
        {
            try
            {
                VirglRenderer.init(VirglFlags.SURFACELESS_EGL, (FenceListener)id -> { }).close();
            }
            catch (final Exception e)
            {
                why = e.getMessage();
            }
        }
        if (null != why)
        {
            final String env = System.getenv("JVHOST_REQUIRE_E2E");
            final String message = "virglrenderer unavailable: " + why;
            if (null != env && !env.isBlank() && !"0".equals(env.strip()))
            {
                Assertions.fail(message);
            }
            Assumptions.abort(message);
        }
    }

    // ---- requests ----

    private static Req capsetInfo(final int index)
    {
        return new Req(CMD_GET_CAPSET_INFO, 32).u32(24, index);
    }

    private static Req capset(final int id, final int version)
    {
        return new Req(CMD_GET_CAPSET, 32).u32(24, id).u32(28, version);
    }

    private static Req ctxCreate(final int ctx)
    {
        return new Req(CMD_CTX_CREATE, 96).u32(HDR_CTX_ID, ctx).u32(24, 4).u32(32, 0x74736574);
    }

    private static Req ctxResource(final int type, final int ctx, final int res)
    {
        return new Req(type, 32).u32(HDR_CTX_ID, ctx).u32(24, res);
    }

    private static Req create3d(final int res, final long width, final long height, final long depth)
    {
        return new Req(CMD_RESOURCE_CREATE_3D, 72).u32(24, res).u32(28, 2).u32(32, 2)
            .u32(36, VIRGL_BIND_RT_SCANOUT).u32(40, width).u32(44, height).u32(48, depth).u32(52, 1);
    }

    private static Req transfer3d(final int type, final int ctx, final int res, final int width, final int height)
    {
        return new Req(type, 72).u32(HDR_CTX_ID, ctx).u32(36, width).u32(40, height).u32(44, 1).u32(56, res)
            .u32(64, STRIDE);
    }

    private static byte[] submitHead(final int ctx, final long size)
    {
        return new Req(CMD_SUBMIT_3D, 32).u32(HDR_CTX_ID, ctx).u32(24, size).array();
    }

    private static byte[] clearStream(final int res, final float r, final float g, final float b)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream stream = new VirglCommandStream(arena, 64);
            stream.clearResource(SURFACE, res, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, r, g, b, 1.0f);
            return stream.segment().asSlice(0, stream.dwords() * 4L).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * Serves the control queue until the request added last is answered (a fenced one is answered when virgl's
     * fence has signalled, which the device polls for while it holds the queue).
     */
    private Resp awaitResponse()
    {
        final long deadline = System.nanoTime() + 30_000_000_000L;
        Resp r;
        while (null == (r = h.pollControl()))
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new AssertionError("no response within 30 s");
            }
            h.serveControl();
        }
        return r;
    }

    private Resp fenced(final Req req, final long fenceId, final int ctx)
    {
        h.addControl(HDR_SIZE, req.fence(fenceId, ctx).array());
        return awaitResponse();
    }

    /** Resource {@link #RES} (64x32 B8G8R8X8) with backing at the returned address, attached to {@link #CTX}. */
    private long renderTarget()
    {
        assertThat(h.call(ctxCreate(CTX)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(create3d(RES, W, H, 1)).type()).isEqualTo(RESP_OK_NODATA);
        final long backing = h.alloc(STRIDE * H, 4096);
        assertThat(h.attach(RES, new long[] {backing}, new int[] {STRIDE * H}).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(ctxResource(CMD_CTX_ATTACH_RESOURCE, CTX, RES)).type()).isEqualTo(RESP_OK_NODATA);
        return backing;
    }

    // ---- tests ----

    @Test
    void leftToChooseTheAdapterRunsDesktopGlAndTriesOpenGlEsOnlyWhenDesktopGlDoesNotStart() throws Exception
    {
        final int capsets = 1 << 1 | 1 << 2;
        try (GpuHarness auto = new GpuHarness(GpuOptions.builder()
            .virgl(VirglFlags.SURFACELESS_EGL | GpuOptions.VIRGL_GLES_FALLBACK, capsets).build()))
        {
            try
            {
                assertThat(auto.call(40, capsetInfo(0).array()).type()).isEqualTo(RESP_OK_CAPSET_INFO);
                final VirglRendererAdapter adapter = (VirglRendererAdapter)auto.device.renderer();
                assertThat(adapter.runningFlags()).as("desktop GL started: no USE_GLES, and our bit stripped")
                    .isEqualTo(VirglFlags.SURFACELESS_EGL);
            }
            finally
            {
                auto.device.workerEnding(0);
            }
        }
        // GLX has no X display here: desktop GL fails, so does the OpenGL ES retry, and the failure names both.
        try (GpuHarness neither = new GpuHarness(GpuOptions.builder()
            .virgl(VirglFlags.USE_GLX | VirglFlags.THREAD_SYNC | GpuOptions.VIRGL_GLES_FALLBACK, capsets).build()))
        {
            try
            {
                assertThat(neither.call(40, capsetInfo(0).array()).type()).isEqualTo(RESP_ERR_UNSPEC);
                final VirglRendererAdapter adapter = (VirglRendererAdapter)neither.device.renderer();
                assertThat(adapter.runningFlags()).isZero();
                assertThat(adapter.failure()).contains("THREAD_SYNC|USE_GLX (0x6)")
                    .contains("; with OpenGL ES: ").contains("USE_GLES");
            }
            finally
            {
                neither.device.workerEnding(0);
            }
        }
    }

    @Test
    void offersVirglAndTwoCapsets()
    {
        assertThat(h.device.features() & 1L << F_VIRGL).isNotZero();
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        h.device.readConfig(0, config);
        assertThat(config.get(U32, CONFIG_NUM_CAPSETS)).isEqualTo(2);
    }

    @Test
    void capsetInfoAndCapsetAreAnsweredAndIndexAndVersionChecked()
    {
        final Resp first = h.call(40, capsetInfo(0).array());
        assertThat(first.type()).isEqualTo(RESP_OK_CAPSET_INFO);
        assertThat(first.length()).isEqualTo(40);
        assertThat(first.u32(24)).isEqualTo(1);
        assertThat(first.u32(28)).isEqualTo(1);
        final Resp second = h.call(40, capsetInfo(1).array());
        assertThat(second.u32(24)).isEqualTo(2);
        assertThat(second.u32(28)).isEqualTo(2);
        final int size = second.u32(32);
        assertThat(size).isPositive();
        assertThat(h.call(40, capsetInfo(2).array()).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);

        final Resp caps = h.call(HDR_SIZE + size, capset(2, 2).array());
        assertThat(caps.type()).isEqualTo(RESP_OK_CAPSET);
        assertThat(caps.length()).isEqualTo(HDR_SIZE + size);
        assertThat(caps.u32(HDR_SIZE)).as("first dword of the virgl2 caps (max_version)").isEqualTo(2);
        assertThat(h.call(HDR_SIZE + size, capset(2, 3).array()).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE + size, capset(4, 0).array()).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
    }

    @Test
    void aFencedClearIsAnsweredWithItsFenceAndReadsBackExactIntoGuestMemory()
    {
        final long backing = renderTarget();
        final byte[] stream = clearStream(RES, 0.25f, 0.5f, 1.0f);
        h.addControl(HDR_SIZE, new Req(CMD_SUBMIT_3D, 32).u32(HDR_CTX_ID, CTX).u32(24, stream.length)
            .fence(0x1_0000_0007L, CTX).array(), stream);
        final Resp submitted = awaitResponse();
        assertThat(submitted.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(submitted.flags() & FLAG_FENCE).isNotZero();
        assertThat(submitted.fenceId()).as("the guest's 64-bit fence id, echoed").isEqualTo(0x1_0000_0007L);

        final Resp read = fenced(transfer3d(CMD_TRANSFER_FROM_HOST_3D, CTX, RES, W, H), 8, CTX);
        assertThat(read.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(read.fenceId()).isEqualTo(8);
        assertThat(((VirglRendererAdapter)h.device.renderer()).fencesCreated())
            .as("both answers waited for a virgl fence").isEqualTo(2);
        final byte[] pixels = h.read(backing, STRIDE * H);
        int wrong = 0;
        for (int i = 0; i < pixels.length; i += 4)
        {
            if ((pixels[i] & 0xff) != 0xff || (pixels[i + 1] & 0xff) != 0x80 || (pixels[i + 2] & 0xff) != 0x40)
            {
                wrong++;
            }
        }
        assertThat(wrong).as("pixels other than ff 80 40 xx").isZero();
    }

    @Test
    void flushShowsTheResourceReadBackTheRightWayUp()
    {
        final long backing = renderTarget();
        display = new FakeDisplay();
        h.device.setDisplay(display);
        // Top half one colour, bottom half another: a vertical flip would swap them.
        final byte[] picture = new byte[STRIDE * H];
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                final int at = y * STRIDE + x * 4;
                picture[at] = (byte)(y < H / 2 ? 0x10 : 0xe0);
                picture[at + 1] = (byte)x;
                picture[at + 2] = (byte)y;
                picture[at + 3] = (byte)0xff;
            }
        }
        h.write(backing, picture);
        assertThat(h.call(transfer3d(CMD_TRANSFER_TO_HOST_3D, 0, RES, W, H)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(GpuHarness.setScanout(0, RES, 0, 0, W, H)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(GpuHarness.flush(RES, 0, 0, W, H)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(display.pixel(0, 3, 0) & 0xffffff).isEqualTo(0x000310);
        assertThat(display.pixel(0, 5, H - 1) & 0xffffff).isEqualTo((H - 1) << 16 | 5 << 8 | 0xe0);
        int wrong = 0;
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                final int expected = y << 16 | x << 8 | (y < H / 2 ? 0x10 : 0xe0);
                wrong += (display.pixel(0, x, y) & 0xffffff) == expected ? 0 : 1;
            }
        }
        assertThat(wrong).as("display pixels not as written").isZero();
    }

    @Test
    void hostileRequestsAreAnsweredWithErrorsAndTheDeviceKeepsServing()
    {
        renderTarget();
        final byte[] stream = clearStream(RES, 0, 0, 0);
        assertThat(h.call(HDR_SIZE, submitHead(9, stream.length), stream).type())
            .as("unknown context").isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(h.call(HDR_SIZE, submitHead(CTX, 4L << 20), stream).type())
            .as("oversized submit").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE, submitHead(CTX, stream.length + 64), stream).type())
            .as("a size past the chain").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(CTX)).type()).as("a context twice").isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(h.call(ctxResource(CMD_CTX_ATTACH_RESOURCE, CTX, 77)).type())
            .as("unknown resource").isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(create3d(2, 16384, 16384, 64)).type())
            .as("a 64 GiB texture").isEqualTo(RESP_ERR_OUT_OF_MEMORY);

        // A second resource the context does not have: virglrenderer refuses the stream.
        assertThat(h.call(ctxCreate(2)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(create3d(3, W, H, 1)).type()).isEqualTo(RESP_OK_NODATA);
        final byte[] foreign = clearStream(3, 0, 0, 0);
        assertThat(h.call(HDR_SIZE, submitHead(2, foreign.length), foreign).type())
            .as("resource not attached to the context").isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(transfer3d(CMD_TRANSFER_FROM_HOST_3D, 2, RES, W, H)).type())
            .as("transfer through a context the resource is not attached to")
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);

        // Still serving: the first context renders.
        assertThat(h.call(HDR_SIZE, submitHead(CTX, stream.length), stream).type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void whenVirglrendererCannotStartEvery3dCommandIsErrUnspecAndTheDeviceKeepsServing() throws Exception
    {
        // Without USE_SURFACELESS, EGL needs a render node: there is none on a machine without /dev/dri.
        Assumptions.assumeFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/dev/dri")), "a render node");
        h.device.workerEnding(0);
        h.close();
        h = new GpuHarness(GpuOptions.builder().virgl(VirglFlags.USE_EGL | VirglFlags.THREAD_SYNC, 1 << 2).build());
        assertThat(h.call(40, capsetInfo(0).array()).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(ctxCreate(CTX)).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(create3d(RES, W, H, 1)).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(GpuHarness.create2d(RES, 2, W, H)).type()).isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE)).type()).as("2D commands without resources")
            .isEqualTo(RESP_OK_DISPLAY_INFO);
    }

    @Test
    void aResetClearsContextsAndResourcesAndTheDeviceServesAgain()
    {
        renderTarget();
        h.device.reset();
        assertThat(h.device.resourceCount()).isZero();
        // Same ids again: virglrenderer was reset too.
        renderTarget();
        final byte[] stream = clearStream(RES, 1, 1, 1);
        assertThat(h.call(HDR_SIZE, submitHead(CTX, stream.length), stream).type()).isEqualTo(RESP_OK_NODATA);
    }

    @Test
    void theEndOfTheWorkerCleansUpAndANewOneStartsAfresh()
    {
        renderTarget();
        assertThat(h.call(ctxResource(CMD_CTX_DETACH_RESOURCE, CTX, RES)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(ctxResource(CMD_CTX_DETACH_RESOURCE, CTX, RES)).type()).as("detached already")
            .isEqualTo(RESP_ERR_INVALID_RESOURCE_ID);
        assertThat(h.call(new Req(CMD_CTX_DESTROY, HDR_SIZE).u32(HDR_CTX_ID, CTX)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(new Req(CMD_CTX_DESTROY, HDR_SIZE).u32(HDR_CTX_ID, CTX)).type())
            .isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        h.device.workerEnding(0);
        // The same thread as a "new worker": virglrenderer starts again, with nothing from before.
        renderTarget();
        final byte[] stream = clearStream(RES, 1, 0, 0);
        assertThat(h.call(HDR_SIZE, submitHead(CTX, stream.length), stream).type()).isEqualTo(RESP_OK_NODATA);
    }
}
