package io.jvhost.e2e;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.jvhost.e2e.support.Gpu3dControl;
import io.jvhost.e2e.support.GpuControl;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virgl.FenceListener;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglLibrary;
import io.jvhost.virgl.VirglRenderer;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.e2e.support.Gpu3dControl.*;
import static io.jvhost.e2e.support.GpuControl.ERR_INVALID_PARAMETER;
import static io.jvhost.e2e.support.GpuControl.ERR_OUT_OF_MEMORY;
import static io.jvhost.e2e.support.GpuControl.OK_NODATA;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tier 1 of 3D: {@code jvhost gpu --gpu-mode virglrenderer} driven by the in-process front-end with no guest: capset
 * info, a context, a 64x32 render target with guest backing, a fenced SUBMIT_3D clearing it, a fenced
 * TRANSFER_FROM_HOST_3D whose guest memory holds the exact colour, and RESOURCE_FLUSH showing exact pixels on QEMU's
 * display (emulated), the right way up; then the hostile cases, each an error response with the device still
 * serving; then a second connection, which finds virglrenderer started afresh. Skipped without virglrenderer on
 * surfaceless EGL (failed under JVHOST_REQUIRE_E2E=1).
 */
@Timeout(180)
class Gpu3dFrontendTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int W = 64;
    private static final int H = 32;
    private static final int STRIDE = W * 4;
    private static final int BIND = ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT;

    @TempDir
    Path dir;

    @BeforeAll
    static void requireVirgl()
    {
        String why = VirglLibrary.available() ? null : "no " + VirglLibrary.NAME;
        if (null == why)
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
            final String message = "virglrenderer unavailable: " + why + " (run ./jvhost setup)";
            if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E")))
            {
                Assertions.fail(message);
            }
            Assumptions.abort(message);
        }
    }

    @Test
    void theWhole3dSequenceHostileRequestsAndAReconnect() throws Exception
    {
        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), JvhostProcess.daemonJvmOptions(),
            "gpu", "-s", socket.toString(), "-g", "virglrenderer", "--max-hostmem", "64M"))
        {
            connection(socket, true);
            connection(socket, false);
            assertThat(backend.process().isAlive()).as("the back-end survived; log:%n%s", backend.log()).isTrue();
            assertThat(backend.log()).contains("virglrenderer started");
        }
    }

    /**
     * {@code -c virgl2,venus}: a front-end that negotiates VIRTIO_GPU_F_CONTEXT_INIT (ours) reads the Venus capset
     * and creates a Venus context beside a virgl one, each with a fence on its ring 0; one that does not (as QEMU 10's
     * vhost-user-gpu) is refused a Venus context, and the back-end's log says why. Skipped without a Vulkan driver.
     */
    @Test
    void aVenusContextThroughAFrontEndThatNegotiatesContextInit() throws Exception
    {
        Assumptions.assumeTrue(VirglLibrary.hasContextInit(), VirglLibrary.NAME + " without context_create_fence");
        final String vulkan = vulkanMissing();
        Assumptions.assumeTrue(null == vulkan, vulkan);
        final Path socket = dir.resolve("venus.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), JvhostProcess.daemonJvmOptions(),
            "gpu", "-s", socket.toString(), "-g", "virglrenderer", "-c", "virgl2,venus", "--max-hostmem", "64M"))
        {
            try
            {
                venusConnection(socket, true);
                venusConnection(socket, false);
            }
            catch (final AssertionError e)
            {
                throw new AssertionError(e.getMessage() + "\nback-end log:\n" + backend.log(), e);
            }
            assertThat(backend.process().isAlive()).as("the back-end survived; log:%n%s", backend.log()).isTrue();
            assertThat(backend.log()).contains("capset venus").contains("QEMU 10");
            assertThat(Await.until(() -> backend.log().contains("did not accept VIRTIO_GPU_F_CONTEXT_INIT"), WAIT))
                .as("the device says why Venus cannot be used by that front-end").isTrue();
        }
    }

    private void venusConnection(final Path socket, final boolean contextInit) throws Exception
    {
        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | F_VIRGL | (contextInit ? F_CONTEXT_INIT : 0);
        try (GuestRam ram = GuestRam.builder().size(64L << 20).regions(1).name("venus").build();
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queueSizes(64, 16).driverFeatures(features)
                 .protocolFeatures(VirtioSession.SUPPORTED_PROTOCOL_FEATURES
                     & ~ProtocolFeature.bit(ProtocolFeature.STATUS)).build())
        {
            session.init();
            session.start();
            assertThat(session.features() & F_CONTEXT_INIT).as("VIRTIO_GPU_F_CONTEXT_INIT negotiated")
                .isEqualTo(contextInit ? F_CONTEXT_INIT : 0);
            final Gpu3dControl gpu = new Gpu3dControl(ram, session.queue(0));
            assertThat(gpu.begin(GET_CAPSET_INFO).u32(24, 1).call(32, 0, 0, 40)).isEqualTo(OK_CAPSET_INFO);
            assertThat(gpu.responseU32(24)).as("capset index 1 is Venus").isEqualTo(4);
            final int size = gpu.responseU32(32);
            assertThat(size).isPositive();
            assertThat(gpu.begin(GET_CAPSET).u32(24, 4).u32(28, 0).call(32, 0, 0, 24 + size)).isEqualTo(OK_CAPSET);
            boolean filled = false;
            for (int i = 0; i < size; i += 4)
            {
                filled |= 0 != gpu.responseU32(24 + i);
            }
            assertThat(filled).as("Venus caps (all zero when virglrenderer runs without Venus)").isTrue();
            if (!contextInit)
            {
                assertThat(gpu.begin(CTX_CREATE).u32(16, 1).u32(24, 4).u32(28, 4).u32(32, 0x756e6576).call(96))
                    .as("a Venus context without CONTEXT_INIT").isEqualTo(ERR_INVALID_PARAMETER);
                return;
            }
            assertThat(gpu.begin(CTX_CREATE).u32(16, 1).u32(24, 4).u32(28, 4).u32(32, 0x756e6576).call(96))
                .as("CTX_CREATE with context_init = 4 (Venus)").isEqualTo(OK_NODATA);
            assertThat(gpu.begin(CTX_CREATE).u32(16, 2).u32(24, 4).u32(28, 2).u32(32, 0x6c677276).call(96))
                .as("and a virgl2 context beside it").isEqualTo(OK_NODATA);
            for (final int ctx : new int[] {1, 2})
            {
                assertThat(gpu.begin(SUBMIT_3D).fence(100 + ctx, ctx).u32(4, FLAG_FENCE | FLAG_INFO_RING_IDX)
                    .u32(20, 0).call(32)).as("a fence on ring 0 of context %d", ctx).isEqualTo(OK_NODATA);
                assertThat(gpu.responseU32(4)).isEqualTo(FLAG_FENCE | FLAG_INFO_RING_IDX);
                assertThat(gpu.responseU64(8)).isEqualTo(100 + ctx);
                assertThat(gpu.responseU32(16)).isEqualTo(ctx);
            }
            assertThat(gpu.begin(SUBMIT_3D).fence(200, 1).u32(4, FLAG_FENCE | FLAG_INFO_RING_IDX).u32(20, 64)
                .call(32)).as("ring 64").isEqualTo(ERR_INVALID_PARAMETER);
            assertThat(gpu.begin(SUBMIT_3D).fence(201, 1).u32(4, FLAG_FENCE | FLAG_INFO_RING_IDX).u32(20, 1)
                .call(32)).as("Venus ring 1 with no VkQueue bound to it").isEqualTo(ERR_UNSPEC);
        }
    }

    /**
     * @return why Venus has no Vulkan driver to run on here, or null.
     */
    private static String vulkanMissing()
    {
        if (!java.nio.file.Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libvulkan.so.1"))
            && !java.nio.file.Files.exists(Path.of("/lib/x86_64-linux-gnu/libvulkan.so.1")))
        {
            return "no Vulkan loader libvulkan.so.1 (Debian: apt-get install libvulkan1)";
        }
        for (final String dir : new String[] {"/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"})
        {
            final java.io.File[] icds = new java.io.File(dir).listFiles((d, n) -> n.endsWith(".json"));
            if (null != icds && icds.length > 0)
            {
                return null;
            }
        }
        return "no Vulkan ICD (Debian: apt-get install mesa-vulkan-drivers, for lavapipe)";
    }

    /**
     * One front-end connection: the whole sequence, and (the first time) the hostile cases.
     */
    private void connection(final Path socket, final boolean hostile) throws Exception
    {
        try (GuestRam ram = GuestRam.builder().size(64L << 20).regions(1).name("gpu3d").build();
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             QemuDisplayEmulator qemu = QemuDisplayEmulator.builder().name("qemu-display").trace(false).start();
             VirtioSession session = VirtioSession.builder(fe, ram).queueSizes(64, 16)
                 .driverFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                     | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | F_VIRGL)
                 .protocolFeatures(VirtioSession.SUPPORTED_PROTOCOL_FEATURES
                     & ~ProtocolFeature.bit(ProtocolFeature.STATUS)).build())
        {
            session.init();
            qemu.sendSocket(fe);
            session.start();
            assertThat(session.features() & F_VIRGL).as("VIRTIO_GPU_F_VIRGL offered").isNotZero();
            final Gpu3dControl gpu = new Gpu3dControl(ram, session.queue(0));
            final GpuControl gpu2d = new GpuControl(ram, session.queue(0));

            assertThat(gpu.begin(GET_CAPSET_INFO).u32(24, 0).call(32, 0, 0, 40)).isEqualTo(OK_CAPSET_INFO);
            assertThat(gpu.responseU32(24)).as("capset 0 id").isEqualTo(1);
            assertThat(gpu.begin(GET_CAPSET_INFO).u32(24, 1).call(32, 0, 0, 40)).isEqualTo(OK_CAPSET_INFO);
            assertThat(gpu.responseU32(24)).as("capset 1 id").isEqualTo(2);
            final int size = gpu.responseU32(32);
            assertThat(gpu.begin(GET_CAPSET).u32(24, 2).u32(28, 2).call(32, 0, 0, 24 + size)).isEqualTo(OK_CAPSET);

            assertThat(gpu.begin(CTX_CREATE).u32(16, 1).u32(24, 4).u32(32, 0x74736574).call(96)).isEqualTo(OK_NODATA);
            assertThat(create3d(gpu, 1, W, H, 1)).isEqualTo(OK_NODATA);
            final long backing = ram.allocate(STRIDE * H, 4096);
            assertThat(gpu2d.attachBacking(1, gpu2d.entries(new long[] {backing}, new int[] {STRIDE * H}), 1))
                .isEqualTo(OK_NODATA);
            assertThat(gpu.begin(CTX_ATTACH_RESOURCE).u32(16, 1).u32(24, 1).call(32)).isEqualTo(OK_NODATA);

            final long stream = clearStream(ram, 1);
            assertThat(gpu.begin(SUBMIT_3D).fence(0x1_2345_6789L, 1).u32(24, 76).call(32, stream, 76, 24))
                .isEqualTo(OK_NODATA);
            assertThat(gpu.responseU32(4) & FLAG_FENCE).as("answered as fenced").isNotZero();
            assertThat(gpu.responseU64(8)).as("the guest's fence id, echoed").isEqualTo(0x1_2345_6789L);
            assertThat(transfer(gpu, TRANSFER_FROM_HOST_3D, 1, 0, true)).isEqualTo(OK_NODATA);
            final MemorySegment pixels = ram.slice(backing, STRIDE * H);
            int wrong = 0;
            for (int i = 0; i < W * H; i++)
            {
                wrong += (pixels.get(U32, i * 4L) & 0xffffff) == 0x4080ff ? 0 : 1;
            }
            assertThat(wrong).as("pixels other than ff 80 40 in guest memory").isZero();

            // A picture whose halves differ: shown upside down, they would swap.
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    pixels.set(U32, (long)y * STRIDE + x * 4L,
                        0xff000000 | y << 16 | x << 8 | (y < H / 2 ? 0x10 : 0xe0));
                }
            }
            assertThat(transfer(gpu, 0x0205, 1, 0, false)).as("TRANSFER_TO_HOST_3D").isEqualTo(OK_NODATA);
            assertThat(gpu2d.setScanout(0, 1, W, H)).isEqualTo(OK_NODATA);
            assertThat(gpu2d.flush(1, W, H)).isEqualTo(OK_NODATA);
            assertThat(qemu.await(() -> (qemu.pixel(0, W - 1, H - 1) & 0xffffff) == ((H - 1) << 16 | (W - 1) << 8
                | 0xe0), WAIT)).as("the flush reached QEMU's display").isTrue();
            int shownWrong = 0;
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    shownWrong += (qemu.pixel(0, x, y) & 0xffffff) == (y << 16 | x << 8 | (y < H / 2 ? 0x10 : 0xe0))
                        ? 0 : 1;
                }
            }
            assertThat(shownWrong).as("pixels QEMU's display shows differently from the resource").isZero();

            if (hostile)
            {
                hostile(gpu, ram, stream);
            }
            // Still serving.
            assertThat(gpu.begin(GET_CAPSET_INFO).u32(24, 0).call(32, 0, 0, 40)).isEqualTo(OK_CAPSET_INFO);
        }
    }

    private void hostile(final Gpu3dControl gpu, final GuestRam ram, final long stream) throws Exception
    {
        assertThat(gpu.begin(SUBMIT_3D).u32(16, 9).u32(24, 76).call(32, stream, 76, 24))
            .as("SUBMIT_3D in an unknown context").isEqualTo(ERR_INVALID_CONTEXT_ID);
        assertThat(gpu.begin(SUBMIT_3D).u32(16, 1).u32(24, 76 + 64).call(32, stream, 76, 24))
            .as("SUBMIT_3D whose size runs past the chain").isEqualTo(ERR_INVALID_PARAMETER);
        assertThat(gpu.begin(SUBMIT_3D).u32(16, 1).u32(24, 16 << 20).call(32, stream, 76, 24))
            .as("a 16 MiB SUBMIT_3D").isEqualTo(ERR_INVALID_PARAMETER);
        assertThat(gpu.begin(GET_CAPSET_INFO).u32(24, 2).call(32, 0, 0, 40))
            .as("capset index out of range").isEqualTo(ERR_INVALID_PARAMETER);
        assertThat(gpu.begin(GET_CAPSET).u32(24, 2).u32(28, 7).call(32, 0, 0, 24 + 4096))
            .as("capset version out of range").isEqualTo(ERR_INVALID_PARAMETER);
        assertThat(create3d(gpu, 5, 16384, 16384, 64)).as("a 64 GiB texture against 64M of host memory")
            .isEqualTo(ERR_OUT_OF_MEMORY);
        // A resource the context does not have.
        assertThat(gpu.begin(CTX_CREATE).u32(16, 2).call(96)).isEqualTo(OK_NODATA);
        assertThat(create3d(gpu, 2, W, H, 1)).isEqualTo(OK_NODATA);
        final long foreign = clearStream(ram, 2);
        assertThat(gpu.begin(SUBMIT_3D).u32(16, 2).u32(24, 76).call(32, foreign, 76, 24))
            .as("SUBMIT_3D naming a resource not attached to its context").isEqualTo(ERR_UNSPEC);
        assertThat(gpu.begin(CTX_ATTACH_RESOURCE).u32(16, 7).u32(24, 1).call(32))
            .as("CTX_ATTACH_RESOURCE to an unknown context").isEqualTo(ERR_INVALID_CONTEXT_ID);
        assertThat(gpu.begin(CTX_ATTACH_RESOURCE).u32(16, 1).u32(24, 99).call(32))
            .as("CTX_ATTACH_RESOURCE of an unknown resource").isEqualTo(ERR_INVALID_RESOURCE_ID);
    }

    private static int create3d(final Gpu3dControl gpu, final int id, final int width, final int height,
        final int depth) throws Exception
    {
        return gpu.begin(RESOURCE_CREATE_3D).u32(24, id).u32(28, 2).u32(32, 2).u32(36, BIND).u32(40, width)
            .u32(44, height).u32(48, depth).u32(52, 1).call(72);
    }

    private static int transfer(final Gpu3dControl gpu, final int type, final int id, final int ctx,
        final boolean fenced) throws Exception
    {
        gpu.begin(type).u32(16, ctx).u32(36, W).u32(40, H).u32(44, 1).u32(56, id).u32(64, STRIDE);
        if (fenced)
        {
            gpu.fence(77, ctx);
        }
        return gpu.call(72);
    }

    /**
     * @return where in guest RAM a 19-dword stream clearing resource {@code id} to (0.25, 0.5, 1.0) is.
     */
    private static long clearStream(final GuestRam ram, final int id)
    {
        final long at = ram.allocate(76, 64);
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream s = new VirglCommandStream(arena, 32);
            s.clearResource(1, id, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f, 1.0f);
            assertThat(s.dwords()).isEqualTo(19);
            MemorySegment.copy(s.segment(), 0, ram.slice(at, 76), 0, 76);
        }
        return at;
    }
}
