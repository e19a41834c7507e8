package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglLibrary;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * VIRTIO_GPU_F_CONTEXT_INIT against the real virglrenderer, in process (the device's worker is this thread):
 * contexts of a capset, per-context fences on their rings through {@code virgl_renderer_context_create_fence}
 * answered from {@code write_context_fence}, the checks on context_init and ring_idx, and a Venus context when
 * virglrenderer has Venus and a Vulkan driver (lavapipe) is installed. Skipped without virglrenderer on
 * surfaceless EGL.
 */
class Gpu3dContextInitTest
{
    private static final long CONTEXT_INIT = 1L << F_CONTEXT_INIT;
    private static final int W = 64;
    private static final int H = 32;
    private static final int STRIDE = W * 4;

    private GpuHarness h;

    private void start(final int flags, final int capsets, final long features) throws Exception
    {
        Gpu3dTest.requireVirgl();
        Assumptions.assumeTrue(VirglLibrary.hasContextInit(), VirglLibrary.NAME + " without context_create_fence");
        h = new GpuHarness(GpuOptions.builder().virgl(flags, capsets).maxHostMem(64L << 20).build(), features);
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

    private static Req ctxCreate(final int ctx, final int contextInit)
    {
        return new Req(CMD_CTX_CREATE, 96).u32(HDR_CTX_ID, ctx).u32(24, 4).u32(28, contextInit).u32(32, 0x74736574);
    }

    private static byte[] submitHead(final int ctx, final long size, final int flags, final int ring, final long fence)
    {
        return new Req(CMD_SUBMIT_3D, 32).u32(HDR_FLAGS, flags).u64(HDR_FENCE_ID, fence).u32(HDR_CTX_ID, ctx)
            .u32(HDR_RING_IDX, ring).u32(24, size).array();
    }

    private static byte[] clearStream(final int res)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream stream = new VirglCommandStream(arena, 64);
            stream.clearResource(1, res, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f, 1.0f);
            return stream.segment().asSlice(0, stream.dwords() * 4L).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private Resp await()
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

    /** A 64x32 render target {@code res} with backing, attached to {@code ctx}. */
    private long target(final int ctx, final int res)
    {
        assertThat(h.call(new Req(CMD_RESOURCE_CREATE_3D, 72).u32(24, res).u32(28, 2).u32(32, 2)
            .u32(36, ResourceCreateArgs.BIND_RENDER_TARGET).u32(40, W).u32(44, H).u32(48, 1).u32(52, 1)).type())
            .isEqualTo(RESP_OK_NODATA);
        final long backing = h.alloc(STRIDE * H, 4096);
        assertThat(h.attach(res, new long[] {backing}, new int[] {STRIDE * H}).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(new Req(CMD_CTX_ATTACH_RESOURCE, 32).u32(HDR_CTX_ID, ctx).u32(24, res)).type())
            .isEqualTo(RESP_OK_NODATA);
        return backing;
    }

    @Test
    void contextInitIsOfferedWhenTheLibraryHasContextFences() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, CONTEXT_INIT);
        assertThat(h.device.features() & CONTEXT_INIT).isNotZero();
        assertThat(GpuDevice.contextInitAvailable()).isTrue();
    }

    @Test
    void contextInitNamesAnOfferedCapsetAndNothingElse() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, CONTEXT_INIT);
        assertThat(h.call(ctxCreate(1, 2)).type()).as("virgl2, offered").isEqualTo(RESP_OK_NODATA);
        assertThat(((VirglRendererAdapter)h.device.renderer()).capsetOf(1)).isEqualTo(2);
        assertThat(h.call(ctxCreate(2, 1)).type()).as("virgl, not offered here")
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(3, 4)).type()).as("venus, not offered").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(4, 0x102)).type()).as("reserved bits").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(5, 63)).type()).as("capset 63").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(6, 0)).type()).as("0: a plain virgl context").isEqualTo(RESP_OK_NODATA);
        assertThat(h.device.resourceCount()).isZero();
    }

    @Test
    void withoutContextInitNegotiatedContextInitAndTheRingFlagAreRefused() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, 0);
        assertThat(h.call(ctxCreate(1, 2)).type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(ctxCreate(1, 0)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, FLAG_FENCE | FLAG_INFO_RING_IDX, 0, 1)).type())
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
    }

    @Test
    void fencedSubmitsOnTwoContextsRingsAreAnsweredFromWriteContextFenceWithTheirRing() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, CONTEXT_INIT);
        assertThat(h.call(ctxCreate(1, 2)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(ctxCreate(2, 0)).type()).isEqualTo(RESP_OK_NODATA);
        final long backing1 = target(1, 1);
        target(2, 2);
        final byte[] clear1 = clearStream(1);
        final byte[] clear2 = clearStream(2);
        h.addControl(HDR_SIZE, submitHead(1, clear1.length, FLAG_FENCE | FLAG_INFO_RING_IDX, 0, 0x2_0000_0001L),
            clear1);
        h.addControl(HDR_SIZE, submitHead(2, clear2.length, FLAG_FENCE | FLAG_INFO_RING_IDX, 0, 5), clear2);
        final Resp a = await();
        final Resp b = await();
        assertThat(java.util.List.of(a.fenceId(), b.fenceId())).containsExactlyInAnyOrder(0x2_0000_0001L, 5L);
        for (final Resp r : new Resp[] {a, b})
        {
            assertThat(r.type()).isEqualTo(RESP_OK_NODATA);
            assertThat(r.flags()).isEqualTo(FLAG_FENCE | FLAG_INFO_RING_IDX);
            assertThat(r.ringIdx()).isZero();
        }
        final VirglRendererAdapter adapter = (VirglRendererAdapter)h.device.renderer();
        assertThat(adapter.contextFencesCreated()).as("per-context fences, not context 0's").isEqualTo(2);
        assertThat(adapter.fencesCreated()).isZero();

        // The work before the fence is done: read it back (a context-0 fence, as before).
        h.addControl(HDR_SIZE, new Req(CMD_TRANSFER_FROM_HOST_3D, 72).u32(HDR_CTX_ID, 1).u32(36, W).u32(40, H)
            .u32(44, 1).u32(56, 1).u32(64, STRIDE).fence(9, 1).array());
        assertThat(await().fenceId()).isEqualTo(9);
        assertThat(adapter.fencesCreated()).isEqualTo(1);
        final byte[] pixels = h.read(backing1, 4);
        assertThat(pixels).containsExactly((byte)0xff, (byte)0x80, (byte)0x40, (byte)0xff);
    }

    @Test
    void hostileRingsAndContextsAreRefusedAndTheDeviceKeepsServing() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, CONTEXT_INIT);
        assertThat(h.call(ctxCreate(1, 2)).type()).isEqualTo(RESP_OK_NODATA);
        final int ring = FLAG_FENCE | FLAG_INFO_RING_IDX;
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, ring, 64, 1)).type()).as("ring 64")
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE, submitHead(7, 0, ring, 0, 1)).type()).as("unknown context")
            .isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, ring, 1, 1)).type())
            .as("ring 1 of a virgl context: one timeline per GL context, refused before virglrenderer")
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, ring, 63, 1)).type()).as("ring 63 of a virgl context")
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        final VirglRendererAdapter adapter = (VirglRendererAdapter)h.device.renderer();
        assertThat(adapter.contextFencesCreated()).isZero();
        // Still serving, and the ring works.
        h.addControl(HDR_SIZE, submitHead(1, 0, ring, 0, 3));
        final Resp ok = await();
        assertThat(ok.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(ok.fenceId()).isEqualTo(3);
    }

    @Test
    void aFenceWaitingOnADestroyedContextIsAnsweredAndAResetClearsEverything() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL, 1 << 2, CONTEXT_INIT);
        assertThat(h.call(ctxCreate(1, 2)).type()).isEqualTo(RESP_OK_NODATA);
        final int ring = FLAG_FENCE | FLAG_INFO_RING_IDX;
        // Both in one batch: the fence is made, then its context goes before virglrenderer is polled.
        h.addControl(HDR_SIZE, submitHead(1, 0, ring, 0, 41));
        h.addControl(HDR_SIZE, new Req(CMD_CTX_DESTROY, HDR_SIZE).u32(HDR_CTX_ID, 1).array());
        final Resp fence = await();
        assertThat(fence.fenceId()).isEqualTo(41);
        assertThat(await().type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, ring, 0, 42)).type()).as("the context is gone")
            .isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);

        assertThat(h.call(ctxCreate(2, 2)).type()).isEqualTo(RESP_OK_NODATA);
        h.device.reset();
        assertThat(h.call(HDR_SIZE, submitHead(2, 0, ring, 0, 43)).type()).as("reset dropped the context")
            .isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(h.call(ctxCreate(2, 2)).type()).as("the same id again").isEqualTo(RESP_OK_NODATA);
        h.addControl(HDR_SIZE, submitHead(2, 0, ring, 0, 44));
        assertThat(await().fenceId()).isEqualTo(44);
    }

    @Test
    void aVenusContextIsCreatedAndItsCapsetRead() throws Exception
    {
        start(VirglFlags.SURFACELESS_EGL | VirglFlags.VENUS, 1 << 2 | 1 << 4, CONTEXT_INIT);
        Assumptions.assumeTrue(VulkanDriver.present(), VulkanDriver.why());
        final Resp info = h.call(40, new Req(CMD_GET_CAPSET_INFO, 32).u32(24, 1).array());
        assertThat(info.type()).isEqualTo(RESP_OK_CAPSET_INFO);
        assertThat(info.u32(24)).as("index 1 is capset 4").isEqualTo(4);
        final int size = info.u32(32);
        assertThat(size).isPositive();
        final Resp caps = h.call(HDR_SIZE + size, new Req(CMD_GET_CAPSET, 32).u32(24, 4).u32(28, 0).array());
        assertThat(caps.type()).isEqualTo(RESP_OK_CAPSET);
        boolean nonZero = false;
        for (int i = 0; i < size; i += 4)
        {
            nonZero |= 0 != caps.u32(HDR_SIZE + i);
        }
        assertThat(nonZero).as("Venus caps filled (all zero without the VENUS flag)").isTrue();

        assertThat(h.call(ctxCreate(1, 4)).type()).as("a Venus context").isEqualTo(RESP_OK_NODATA);
        assertThat(((VirglRendererAdapter)h.device.renderer()).capsetOf(1)).isEqualTo(4);
        // Ring 0 is Venus's CPU timeline: a fence there signals once what came before is decoded.
        h.addControl(HDR_SIZE, submitHead(1, 0, FLAG_FENCE | FLAG_INFO_RING_IDX, 0, 77));
        final Resp fenced = await();
        assertThat(fenced.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(fenced.fenceId()).isEqualTo(77);
        // Ring 1 needs a VkQueue bound to it by the guest's Venus driver: refused, not crashed into.
        assertThat(h.call(HDR_SIZE, submitHead(1, 0, FLAG_FENCE | FLAG_INFO_RING_IDX, 1, 78)).type())
            .isEqualTo(RESP_ERR_UNSPEC);
        assertThat(h.call(ctxCreate(2, 2)).type()).as("virgl beside Venus").isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(new Req(CMD_CTX_DESTROY, HDR_SIZE).u32(HDR_CTX_ID, 1)).type()).isEqualTo(RESP_OK_NODATA);
    }
}
