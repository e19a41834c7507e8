package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Tier 0: virglrenderer in-process through the binding, on llvmpipe (EGL surfaceless), no QEMU. A 64x32 render
 * target is cleared by a virgl command stream to (0.25, 0.5, 1.0, 1.0) and read back after its fence: every pixel
 * must be the bytes {@code ff 80 40 ff} (B, G, R, X). Around that: capsets, resource info, the thread and
 * lifetime rules the binding enforces, malformed streams, reset and re-initialisation.
 */
@Timeout(120)
class VirglRendererTest
{
    private static final int W = 64;
    private static final int H = 32;
    private static final int STRIDE = W * 4;
    private static final int CTX = 1;
    private static final int RES = 1;
    private static final int SURFACE = 1;
    private static final long FENCE_TIMEOUT_MS = 10_000;

    private static VirglThread thread;
    private static Fences fences;
    private static VirglRenderer renderer;
    private static Arena arena;
    private static MemorySegment backing;
    private static ResourceCreateArgs args;
    private static Box box;
    private static IoVecArray iov;
    private static VirglCommandStream stream;
    private static long nextFence = 1;

    @BeforeAll
    static void init() throws Exception
    {
        thread = new VirglThread("virgl-tier0");
        fences = new Fences();
        arena = Arena.ofShared();
        backing = arena.allocate((long)STRIDE * H, 64);
        args = new ResourceCreateArgs(arena);
        box = new Box(arena);
        iov = new IoVecArray(arena, 4);
        stream = new VirglCommandStream(arena, 64);
        renderer = VirglEnvironment.initOrSkip(thread, VirglFlags.SURFACELESS_EGL, fences);
    }

    @AfterAll
    static void cleanup() throws Exception
    {
        if (null != renderer)
        {
            thread.run(() -> renderer.close());
        }
        thread.run(fences::close);
        thread.close();
        arena.close();
    }

    @BeforeEach
    void freshState() throws Exception
    {
        thread.run(() -> renderer.reset());
        fences.toThrow = null;
        fences.reentry = null;
        fences.reentryFailure = null;
        fences.last = -1;
    }

    /** Context {@link #CTX} with render target {@link #RES} (64x32 B8G8R8X8) backed by {@link #backing}. */
    private static void createTarget(final int ctx, final int res) throws VirglException
    {
        renderer.contextCreate(ctx, "tier0");
        renderer.resourceCreate(args.set2d(res, ResourceCreateArgs.TARGET_TEXTURE_2D,
            ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM,
            ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT, W, H));
        renderer.resourceAttachIov(res, iov.single(backing));
        renderer.ctxAttachResource(ctx, res);
    }

    /** Submits the clear stream, fences it and waits for the fence through the poll fd; returns the fence id. */
    private static long clearAndFence(final int ctx, final int res) throws Exception
    {
        stream.reset().clearResource(SURFACE, res, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f,
            1.0f);
        assertThat(renderer.submitCmd(stream.segment(), ctx, stream.dwords())).as("submit_cmd").isZero();
        final long fence = nextFence++;
        assertThat(renderer.createFence(fence, 0)).as("create_fence").isZero();
        assertThat(fences.awaitFence(renderer, fence, FENCE_TIMEOUT_MS)).as("write_fence(%d) within %d ms", fence,
            FENCE_TIMEOUT_MS).isTrue();
        assertThat(fences.last).isEqualTo(fence);
        return fence;
    }

    /** Reads the whole target back into its attached backing (TRANSFER_FROM_HOST_3D). */
    private static void readIntoBacking(final int res)
    {
        backing.fill((byte)0);
        assertThat(renderer.transferRead(res, 0, 0, STRIDE, 0, box.set(0, 0, W, H), 0, null))
            .as("transfer_read_iov into the backing").isZero();
    }

    private static void assertEveryPixelIsTheClearColour(final MemorySegment pixels)
    {
        int mismatches = 0;
        String first = null;
        for (long offset = 0; offset < (long)STRIDE * H; offset += 4)
        {
            final int b = pixels.get(JAVA_BYTE, offset) & 0xff;
            final int g = pixels.get(JAVA_BYTE, offset + 1) & 0xff;
            final int r = pixels.get(JAVA_BYTE, offset + 2) & 0xff;
            final int x = pixels.get(JAVA_BYTE, offset + 3) & 0xff;
            if (b != 0xff || g != 0x80 || r != 0x40 || x != 0xff)
            {
                mismatches++;
                if (null == first)
                {
                    first = String.format("pixel %d: %02x %02x %02x %02x", offset / 4, b, g, r, x);
                }
            }
        }
        assertThat(mismatches).as("pixels other than ff 80 40 ff of %d (first: %s)", W * H, first).isZero();
    }

    @Test
    void clearedRenderTargetReadsBackAsTheExactColourAfterItsFence() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            stream.reset().clearResource(SURFACE, RES, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f,
                1.0f);
            assertThat(stream.dwords()).isEqualTo(19);
            assertThat(renderer.submitCmd(stream.segment(), CTX, stream.dwords())).isZero();
            final long fence = Math.max(7, nextFence); // the brief's fence 7 when this test runs first
            nextFence = fence + 1;
            assertThat(renderer.createFence(fence, 0)).isZero();
            assertThat(fences.awaitFence(renderer, fence, FENCE_TIMEOUT_MS)).isTrue();
            assertThat(fences.last).isEqualTo(fence);

            readIntoBacking(RES);
            assertEveryPixelIsTheClearColour(backing);

            assertThat(renderer.resourceDetachIov(RES)).as("entries detached").isEqualTo(1);
            assertThat(renderer.resourceDetachIov(RES)).as("nothing left to detach").isZero();
            assertThat(renderer.transferRead(RES, 0, 0, STRIDE, 0, box.set(0, 0, W, H), 0, null))
                .as("transfer into a detached backing").isNotZero();
        });
    }

    @Test
    void readbackIntoAHostBufferIsExactAndATooSmallBufferIsRefused() throws Exception
    {
        try (Arena local = Arena.ofShared())
        {
            final MemorySegment host = local.allocate((long)STRIDE * H, 64);
            final MemorySegment small = local.allocate(64, 64);
            thread.run(() ->
            {
                createTarget(CTX, RES);
                clearAndFence(CTX, RES);
                assertThat(renderer.readback(RES, box.set(0, 0, W, H), STRIDE, host)).isZero();
                assertEveryPixelIsTheClearColour(host);
                assertThat(renderer.readback(RES, box.set(0, 0, W, H), STRIDE, small))
                    .as("a box larger than the buffer").isEqualTo(22);
                assertThat(renderer.readback(RES, box.set(0, 0, W + 1, H), STRIDE, host))
                    .as("a box outside the resource").isNotZero();
            });
        }
    }

    @Test
    void transferWriteThenReadRoundTripsThroughTheResource() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            for (int i = 0; i < W * H; i++)
            {
                backing.set(JAVA_INT, i * 4L, 0xff000000 | (i * 0x010203) & 0xffffff);
            }
            final MemorySegment written = arena.allocate(backing.byteSize());
            written.copyFrom(backing);
            assertThat(renderer.transferWrite(RES, 0, 0, STRIDE, 0, box.set(0, 0, W, H), 0, null)).isZero();
            readIntoBacking(RES);
            assertThat(backing.mismatch(written)).as("first differing byte").isEqualTo(-1L);
        });
    }

    @Test
    void capsetsVirglAndVirgl2AreOfferedWithTheirSizesAndFilled() throws Exception
    {
        thread.run(() ->
        {
            final int[] byIndex = {VirglRenderer.CAPSET_VIRGL, VirglRenderer.CAPSET_VIRGL2};
            for (int index = 0; index < byIndex.length; index++)
            {
                final CapsetInfo info = renderer.getCapSet(byIndex[index]);
                assertThat(info.id()).isEqualTo(index + 1);
                assertThat(info.maxVersion()).as("max version of capset %d", info.id()).isEqualTo(index + 1);
                assertThat(info.maxSize()).as("size of capset %d", info.id()).isPositive();

                try (Arena local = Arena.ofConfined())
                {
                    final MemorySegment caps = local.allocate(info.maxSize());
                    assertThat(renderer.fillCaps(info.id(), info.maxVersion(), caps)).isEqualTo(info.maxSize());
                    assertThat(caps.mismatch(local.allocate(info.maxSize()))).as("caps are not all zero")
                        .isNotEqualTo(-1L);
                    final MemorySegment shortBy1 = local.allocate(info.maxSize() - 1);
                    assertThatThrownBy(() -> renderer.fillCaps(info.id(), info.maxVersion(), shortBy1))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("capset " + info.id() + " has " + info.maxSize() + " bytes");
                }
            }
            assertThat(renderer.getCapSet(3)).isEqualTo(new CapsetInfo(3, 0, 0));
        });
    }

    @Test
    void resourceInfoReportsTheResourceAsCreatedAndAnUnknownOneIsAnError() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            final ResourceInfo info = renderer.resourceInfo(RES);
            assertThat(info.handle()).isEqualTo(RES);
            assertThat(info.virglFormat()).isEqualTo(ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM);
            assertThat(info.width()).isEqualTo(W);
            assertThat(info.height()).isEqualTo(H);
            assertThat(info.depth()).isEqualTo(1);
            assertThat(info.flags()).isZero();
            assertThat(info.texId()).as("GL texture name").isPositive();

            assertThatThrownBy(() -> renderer.resourceInfo(99))
                .isInstanceOfSatisfying(VirglException.class, e -> assertThat(e.code()).isEqualTo(22))
                .hasMessage("virgl_renderer_resource_get_info failed: EINVAL (22), resource=99");
        });
    }

    @Test
    void callsFromAnotherThreadAreRefusedBeforeTheyReachC() throws Exception
    {
        // This test's thread is not the one that initialised virglrenderer: a call reaching C from here crashes.
        assertThat(Thread.currentThread()).isNotSameAs(thread.thread());
        final MemorySegment commands = stream.reset().clearResource(SURFACE, RES, 2, 0, 0, 0, 1).segment();
        assertThatThrownBy(() -> renderer.contextCreate(5, "foreign")).isInstanceOf(WrongThreadException.class)
            .hasMessageContaining("bound to thread 'virgl-tier0'");
        assertThatThrownBy(() -> renderer.submitCmd(commands, CTX, 19)).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.createFence(1, 0)).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.poll()).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.pollFd()).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.transferRead(RES, 0, 0, STRIDE, 0, box, 0, null))
            .isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.getCapSet(1)).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.reset()).isInstanceOf(WrongThreadException.class);
        assertThatThrownBy(() -> renderer.close()).isInstanceOf(WrongThreadException.class);

        thread.run(() ->
        {
            renderer.contextCreate(5, "owner");
            assertThat(renderer.isOpen()).isTrue();
        });
    }

    @Test
    void malformedCommandStreamsReturnAnErrorCodeAndTheRendererStaysUsable() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);

            renderer.contextCreate(2, "unknown command");
            stream.reset().dword(VirglCommandStream.header(200, 0, 0));
            assertThat(renderer.submitCmd(stream.segment(), 2, stream.dwords())).as("unknown command").isEqualTo(22);

            renderer.contextCreate(3, "wrong length");
            stream.reset().dword(VirglCommandStream.header(VirglCommandStream.CMD_CLEAR, 0, 3)).dword(4).dword(0)
                .dword(0);
            assertThat(renderer.submitCmd(stream.segment(), 3, stream.dwords())).as("CLEAR of 3 dwords").isEqualTo(22);

            // A length past the end of the stream: 0.10.4 logs "Illegal command buffer", stops decoding and returns 0
            // (a device cannot rely on the code alone); nothing past the stream is read.
            renderer.contextCreate(7, "overlong command");
            stream.reset().dword(VirglCommandStream.header(VirglCommandStream.CMD_CLEAR, 0, 100)).dword(4);
            assertThat(renderer.submitCmd(stream.segment(), 7, stream.dwords())).as("length past the stream")
                .isIn(0, 22);

            renderer.contextCreate(4, "unknown resource");
            stream.reset().createSurface(SURFACE, 99, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0, 0, 0);
            assertThat(renderer.submitCmd(stream.segment(), 4, stream.dwords())).as("surface on resource 99")
                .isEqualTo(22);

            renderer.contextCreate(6, "not attached");
            stream.reset().clearResource(SURFACE, RES, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0, 0, 0, 1);
            assertThat(renderer.submitCmd(stream.segment(), 6, stream.dwords()))
                .as("resource not attached to the context").isEqualTo(22);

            assertThat(renderer.submitCmd(stream.segment(), 99, stream.dwords())).as("unknown context").isEqualTo(22);

            assertThatThrownBy(() -> renderer.submitCmd(stream.segment(), CTX, stream.capacity() + 1))
                .as("more dwords than the segment holds").isInstanceOf(IndexOutOfBoundsException.class);

            clearAndFence(CTX, RES);
            readIntoBacking(RES);
            assertEveryPixelIsTheClearColour(backing);
        });
    }

    @Test
    void contextsByCapsetDetachAndDestroyAreHonoured() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            renderer.contextCreateWithFlags(2, VirglRenderer.CAPSET_VIRGL2, "virgl2 context");
            assertThatThrownBy(() -> renderer.contextCreateWithFlags(3, VirglRenderer.CAPSET_VENUS, "venus"))
                .as("Venus without the VENUS init flag")
                .isInstanceOfSatisfying(VirglException.class, e -> assertThat(e.code()).isEqualTo(22))
                .hasMessageContaining("virgl_renderer_context_create_with_flags failed: EINVAL (22), ctx=3");
            assertThatThrownBy(() -> renderer.contextCreate(0, "zero")).isInstanceOf(VirglException.class)
                .hasMessageContaining("ctx=0");

            renderer.forceCtx0();
            renderer.ctxDetachResource(CTX, RES);
            stream.reset().clearResource(SURFACE, RES, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0, 0, 0, 1);
            assertThat(renderer.submitCmd(stream.segment(), CTX, stream.dwords())).as("a detached resource")
                .isEqualTo(22);
            renderer.contextDestroy(2);
            stream.reset().dword(VirglCommandStream.header(VirglCommandStream.CMD_NOP, 0, 0));
            assertThat(renderer.submitCmd(stream.segment(), 2, stream.dwords())).as("a destroyed context")
                .isEqualTo(22);
        });
    }

    @Test
    void resetDestroysEverythingAndTheSameClearWorksAgain() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            clearAndFence(CTX, RES);
            renderer.reset();
            assertThatThrownBy(() -> renderer.resourceInfo(RES)).isInstanceOf(VirglException.class);

            createTarget(CTX, RES);
            clearAndFence(CTX, RES);
            readIntoBacking(RES);
            assertEveryPixelIsTheClearColour(backing);
        });
    }

    @Test
    void cleanupThenInitWorksThreeTimes() throws Exception
    {
        for (int round = 0; round < 3; round++)
        {
            final VirglRenderer old = renderer;
            thread.run(() ->
            {
                old.close();
                old.close();
                assertThat(old.isOpen()).isFalse();
                fences.close(); // the poll fd went with the old renderer
                assertThatThrownBy(old::pollFd).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cleaned up");
                renderer = VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fences);
                createTarget(CTX, RES);
                clearAndFence(CTX, RES);
                readIntoBacking(RES);
                assertEveryPixelIsTheClearColour(backing);
            });
        }
    }

    @Test
    void aSecondLiveRendererIsRefusedOnAnyThread() throws Exception
    {
        try (VirglThread other = new VirglThread("virgl-second"))
        {
            assertThatThrownBy(() -> other.call(() -> VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fences)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a renderer is already live (initialised by thread virgl-tier0)");
        }
        thread.run(() ->
        {
            assertThatThrownBy(() -> VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fences))
                .isInstanceOf(IllegalStateException.class);
            assertThat(renderer.pollFd()).as("the live renderer still works").isNotNegative();
        });
    }

    @Test
    void initOnAVirtualThreadIsRefused() throws Exception
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread.ofVirtual().start(() ->
        {
            try
            {
                VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fences);
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        }).join();
        assertThat(failure.get()).isInstanceOf(WrongThreadException.class).hasMessageContaining("platform thread");
    }

    @Test
    void fenceIdsBeyond32BitsAreRefusedRatherThanCut() throws Exception
    {
        thread.run(() ->
        {
            assertThatThrownBy(() -> renderer.createFence(1L << 32, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4294967296");
            assertThatThrownBy(() -> renderer.createFence(-1, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThat(renderer.createFence(0xFFFF_FFFFL, 0)).isZero();
            assertThat(fences.await(renderer, () -> fences.last == 0xFFFF_FFFFL, FENCE_TIMEOUT_MS))
                .as("fence 2^32-1 reported as itself").isTrue();
        });
    }

    @Test
    void aThrowingFenceListenerIsCaughtAndCountedAndCannotCallBackIn() throws Exception
    {
        thread.run(() ->
        {
            createTarget(CTX, RES);
            final long before = VirglRenderer.callbackFailures();
            fences.toThrow = new IllegalStateException("listener failure (expected by the test)");
            fences.reentry = renderer::poll;
            clearAndFence(CTX, RES);
            assertThat(VirglRenderer.callbackFailures()).as("callback failures counted").isGreaterThan(before);
            assertThat(fences.reentryFailure).as("a call from inside the callback")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("inside its own fence callback");

            fences.toThrow = null;
            fences.reentry = null;
            clearAndFence(CTX, RES);
            readIntoBacking(RES);
            assertEveryPixelIsTheClearColour(backing);
        });
    }

    @Test
    void perContextFenceIsReportedWithItsContextRingAndFull64BitId() throws Exception
    {
        thread.run(() ->
        {
            if (!VirglLibrary.hasContextFences())
            {
                return;
            }
            createTarget(CTX, RES);
            final long id = 0x1_0000_0005L;
            assertThat(renderer.contextCreateFence(CTX, 0, 0, id)).isZero();
            assertThat(fences.await(renderer, () -> fences.lastContextFence == id, FENCE_TIMEOUT_MS)).isTrue();
            assertThat(fences.lastContext).isEqualTo(CTX);
            assertThat(fences.lastRing).isZero();
        });
    }

    @Test
    void cursorDataIsCopiedWhenItFitsAndReportedWhenItDoesNot() throws Exception
    {
        try (Arena local = Arena.ofShared())
        {
            final MemorySegment cursor = local.allocate((long)STRIDE * H);
            final MemorySegment tooSmall = local.allocate(16);
            thread.run(() ->
            {
                createTarget(CTX, RES);
                clearAndFence(CTX, RES);
                final CursorImage image = renderer.cursorData(RES, cursor);
                assertThat(image).isEqualTo(new CursorImage(W, H, true));
                assertThat(cursor.get(JAVA_INT, 0)).as("first pixel, as an int").isNotZero();
                assertThat(renderer.cursorData(RES, tooSmall)).isEqualTo(new CursorImage(W, H, false));
                assertThat(renderer.cursorData(99, cursor)).as("unknown resource").isNull();
            });
        }
    }
}
