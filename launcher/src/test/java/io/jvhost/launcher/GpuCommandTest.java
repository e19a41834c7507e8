package io.jvhost.launcher;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.os.FdList;
import io.jvhost.os.LibC;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

@Timeout(60)
class GpuCommandTest
{
    private static CliRun run(final String... args)
    {
        return CliRun.of(args);
    }

    private static GpuCommand parse(final String... args)
    {
        final GpuCommand command = new GpuCommand();
        new CommandLine(command).parseArgs(args);
        return command;
    }

    @Test
    void theDemosGpuIsWhatJvhostGpuServesWithTheSameFlags()
    {
        final GpuOptions demo = GpuCommand.gpuOptions("-g", "virglrenderer", "--resolution", "640x480");
        assertThat(demo).isEqualTo(parse("-s", "/tmp/x.sock", "-g", "virglrenderer", "--resolution", "640x480")
            .gpuOptions());
        assertThat(demo.threeD()).isTrue();
        assertThat(demo.virglFlags()).isEqualTo(io.jvhost.virgl.VirglFlags.SURFACELESS_EGL
            | GpuOptions.VIRGL_GLES_FALLBACK);
        assertThat(new int[] {demo.defaultWidth(), demo.defaultHeight()}).containsExactly(640, 480);
    }

    @Test
    void useGlesChoosesTheHostContextAndLeftOutMeansDesktopGlFallingBackToGles()
    {
        final int base = io.jvhost.virgl.VirglFlags.SURFACELESS_EGL;
        assertThat(parse("-s", "/tmp/x.sock", "-g", "virglrenderer").gpuOptions().virglFlags())
            .isEqualTo(base | GpuOptions.VIRGL_GLES_FALLBACK);
        assertThat(parse("-s", "/tmp/x.sock", "-g", "virglrenderer", "--use-gles").gpuOptions().virglFlags())
            .isEqualTo(base | io.jvhost.virgl.VirglFlags.USE_GLES);
        assertThat(parse("-s", "/tmp/x.sock", "-g", "virglrenderer", "--use-gles", "true").gpuOptions().virglFlags())
            .isEqualTo(base | io.jvhost.virgl.VirglFlags.USE_GLES);
        assertThat(parse("-s", "/tmp/x.sock", "-g", "virglrenderer", "--use-gles", "false").gpuOptions().virglFlags())
            .isEqualTo(base);
    }

    @Test
    void printCapabilitiesPrintsTheGpuTypeAsJson()
    {
        final CliRun r = run("gpu", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        final String features = !io.jvhost.virgl.VirglLibrary.available() ? ""
            : GpuCommand.hasRenderNode(Path.of("/dev/dri")) ? ",\"features\":[\"render-node\",\"virgl\"]"
            : ",\"features\":[\"virgl\"]";
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"gpu\"" + features + "}");
    }

    @Test
    void mainListsTheGpuSubcommand()
    {
        assertThat(run("--help").out()).contains("gpu");
        final CliRun help = run("gpu", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--gpu-mode").contains("--capset").contains("--headless")
            .contains("--max-outputs").contains("--max-hostmem").contains("--resolution").contains("--socket-count")
            .contains("--fd").contains("--print-capabilities");
    }

    @Test
    void gfxstreamIsRefused()
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "-g", "gfxstream");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--gpu-mode gfxstream is not supported");
    }

    @Test
    void unknownModesAreRefusedNamingTheChoices()
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "-g", "3d");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unknown --gpu-mode '3d'").contains("expected 2d or virglrenderer");
    }

    @Test
    void capsetsAnd3dFlagsNeedVirglrenderer()
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "-c", "virgl,virgl2");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--capset virgl,virgl2 needs --gpu-mode virglrenderer");
        assertThat(run("gpu", "-s", "/tmp/x.sock", "--capset", "virgl2").exitCode()).isEqualTo(2);
        for (final String flag : new String[] {"--use-egl", "--use-gles", "--use-surfaceless"})
        {
            final CliRun two = run("gpu", "-s", "/tmp/x.sock", flag, "false");
            assertThat(two.exitCode()).as(flag).isEqualTo(2);
            assertThat(two.err()).contains(flag + " needs --gpu-mode virglrenderer");
        }
        assertThat(run("gpu", "-s", "/tmp/x.sock", "--gpu-device", "/dev/null").err())
            .contains("--gpu-device needs --gpu-mode virglrenderer");
    }

    @ParameterizedTest
    @CsvSource({"gfxstream-vulkan,not supported by gpu mode virglrenderer",
        "gfxstream-gles,not supported by gpu mode virglrenderer", "virgl3,unknown capset 'virgl3'"})
    void capsetsVirglrendererCannotOfferAreRefused(final String capset, final String message)
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "-g", "virgl-renderer", "-c", "virgl," + capset);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains(message);
    }

    @Test
    void capsetVenusStartsVirglrendererWithVenusWhereContextInitCanServeIt()
    {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.jvhost.virgl.VirglLibrary.available()
            && io.jvhost.virgl.VirglLibrary.hasContextInit(), "virglrenderer with context_create_fence");
        final GpuOptions options = parse("-s", "/tmp/x.sock", "-g", "virglrenderer", "-c", "virgl2,venus")
            .gpuOptions();
        assertThat(options.capsets()).isEqualTo(1 << 2 | 1 << 4);
        assertThat(options.virglFlags() & io.jvhost.virgl.VirglFlags.VENUS).isNotZero();
        assertThat(parse("-s", "/tmp/x.sock", "-g", "virglrenderer").gpuOptions().virglFlags()
            & io.jvhost.virgl.VirglFlags.VENUS).as("not without -c venus").isZero();
    }

    @Test
    void threeDModeRefusesSeveralSocketsBlobAndEglLessSurfaceless()
    {
        final CliRun sockets = run("gpu", "-s", "/tmp/x.sock", "-g", "virglrenderer", "--socket-count", "2");
        assertThat(sockets.exitCode()).isEqualTo(2);
        assertThat(sockets.err()).contains("one GPU per process").contains("--socket-count 2");
        assertThat(run("gpu", "-s", "/tmp/x.sock", "--virgl", "--blob").err()).contains("--blob is 2D only");
        assertThat(run("gpu", "-s", "/tmp/x.sock", "-g", "virglrenderer", "--use-egl", "false").err())
            .contains("--use-surfaceless needs EGL");
        assertThat(run("gpu", "-s", "/tmp/x.sock", "-g", "virglrenderer", "--gpu-device", "/nonexistent/renderD9")
            .err()).contains("--gpu-device /nonexistent/renderD9 cannot be opened read-write");
    }

    @Test
    void hasRenderNodeLooksForRenderDEntries(@TempDir final Path dir) throws Exception
    {
        assertThat(GpuCommand.hasRenderNode(dir.resolve("missing"))).isFalse();
        java.nio.file.Files.createFile(dir.resolve("card0"));
        assertThat(GpuCommand.hasRenderNode(dir)).as("a card but no render node").isFalse();
        java.nio.file.Files.createFile(dir.resolve("renderD128"));
        assertThat(GpuCommand.hasRenderNode(dir)).isTrue();
    }

    @Test
    void printCapabilitiesListsVirglAndRenderNodeWhenVirglrendererIsThere()
    {
        final CliRun r = run("gpu", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("\"type\": \"gpu\"");
        if (io.jvhost.virgl.VirglLibrary.available())
        {
            assertThat(r.out()).contains("\"virgl\"");
            assertThat(r.out().contains("\"render-node\"")).as("render-node listed only with a render node")
                .isEqualTo(GpuCommand.hasRenderNode(Path.of("/dev/dri")));
        }
        else
        {
            assertThat(r.out()).doesNotContain("virgl");
        }
    }

    @ParameterizedTest
    @CsvSource({"0", "17", "-1"})
    void maxOutputsMustBeOneToSixteen(final String outputs)
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "--max-outputs", outputs);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--max-outputs must be 1..16, got " + outputs);
    }

    @ParameterizedTest
    @CsvSource({"256M, 268435456", "1G, 1073741824", "64k, 65536", "4096, 4096", "512MiB, 536870912", "2g, 2147483648"})
    void maxHostmemTakesSuffixes(final String text, final long bytes)
    {
        assertThat(parse("-s", "/tmp/x.sock", "--max-hostmem", text).gpuOptions().maxHostMem()).isEqualTo(bytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "lots", "-5M", "12Q", "99999999999999999999"})
    void badMaxHostmemIsRefused(final String text)
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "--max-hostmem", text);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--max-hostmem");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1280", "0x600", "800x0", "4096x768", "axb", "800x600x2"})
    void badResolutionsAreRefused(final String text)
    {
        final CliRun r = run("gpu", "-s", "/tmp/x.sock", "--resolution", text);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--resolution must be WIDTHxHEIGHT with each side 1..4095");
    }

    @Test
    void defaultsAreQemusAndFlagsReachTheDevice()
    {
        final GpuOptions defaults = parse("-s", "/tmp/x.sock").gpuOptions();
        assertThat(defaults.maxOutputs()).isEqualTo(1);
        assertThat(defaults.maxHostMem()).isEqualTo(256L << 20);
        assertThat(defaults.defaultWidth()).isEqualTo(1280);
        assertThat(defaults.defaultHeight()).isEqualTo(800);
        assertThat(defaults.resourceBlob()).as("blobs only on request").isFalse();

        final GpuOptions set = parse("-s", "/tmp/x.sock", "--max-outputs", "4", "--resolution", "1920x1080",
            "--headless", "-g", "2D", "--blob").gpuOptions();
        assertThat(set.maxOutputs()).isEqualTo(4);
        assertThat(set.defaultWidth()).isEqualTo(1920);
        assertThat(set.defaultHeight()).isEqualTo(1080);
        assertThat(set.resourceBlob()).isTrue();
    }

    @Test
    void socketPathIsUsedAsIsForOneSocketAndSuffixedForMore()
    {
        assertThat(parse("-s", "/run/vm/gpu.sock").daemonOptions().socketPaths(false))
            .containsExactly(Path.of("/run/vm/gpu.sock"));
        assertThat(parse("-s", "/run/vm/gpu.sock", "--socket-count", "2").daemonOptions().socketPaths(false))
            .containsExactly(Path.of("/run/vm/gpu.sock0"), Path.of("/run/vm/gpu.sock1"));
    }

    @Test
    void socketPathOrFdIsRequiredButNotBoth()
    {
        assertThat(run("gpu").err()).contains("exactly one of --socket-path and --fd");
        assertThat(run("gpu", "-s", "/tmp/x.sock", "--fd", "3").exitCode()).isEqualTo(2);
    }

    /**
     * The real thing on an inherited connection: the GPU device answers, its config shows --max-outputs, and
     * GPU_SET_SOCKET reaches the display extension, which opens with GET_PROTOCOL_FEATURES.
     */
    @Test
    void servesAnInheritedConnectionWithTheGpuDeviceAndTheDisplaySocket() throws Exception
    {
        final int daemonFd;
        final UnixSocket front;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(8, 4);
            LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds);
            front = UnixSocket.adopt(fds.get(ValueLayout.JAVA_INT, 0));
            daemonFd = fds.get(ValueLayout.JAVA_INT, 4);
        }
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("jvhost-gpu-under-test").start(() ->
            exit.complete(Main.commandLine().execute("gpu", "--fd", String.valueOf(daemonFd), "--max-outputs", "3",
                "--resolution", "800x600")));
        try (VhostUserConnection c = new VhostUserConnection(front, true))
        {
            front.setReceiveTimeout(10_000);
            final Message m = new Message(MessageHeader.MAX_PAYLOAD);
            c.send(m.header(FrontendRequest.GET_FEATURES, MessageHeader.VERSION, 0));
            assertThat(c.receive(m)).isTrue();
            assertThat(m.u64(0) & (1L << 32)).as("VERSION_1").isNotZero();
            assertThat(m.u64(0) & (1L << 1)).as("VIRTIO_GPU_F_EDID").isNotZero();

            c.send(m.header(FrontendRequest.GET_PROTOCOL_FEATURES, MessageHeader.VERSION, 0));
            assertThat(c.receive(m)).isTrue();
            assertThat(ProtocolFeature.has(m.u64(0), ProtocolFeature.CONFIG)).isTrue();
            c.send(m.header(FrontendRequest.SET_PROTOCOL_FEATURES, MessageHeader.VERSION, 8)
                .u64(0, ProtocolFeature.bit(ProtocolFeature.CONFIG)));

            c.send(m.header(FrontendRequest.GET_CONFIG, MessageHeader.VERSION, 12 + 16).u32(0, 0).u32(4, 16)
                .u32(8, 0).clearPayload(12, 16));
            assertThat(c.receive(m)).isTrue();
            assertThat(m.size()).isEqualTo(28);
            assertThat(m.u32(12 + 8)).as("num_scanouts = --max-outputs").isEqualTo(3);

            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment fds = arena.allocate(8, 4);
                LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds);
                final int far = fds.get(ValueLayout.JAVA_INT, 4);
                try (UnixSocket display = UnixSocket.adopt(fds.get(ValueLayout.JAVA_INT, 0)))
                {
                    c.send(m.header(FrontendRequest.GPU_SET_SOCKET, MessageHeader.VERSION, 0), new int[] {far}, 1);
                    LibC.closeQuietly(far);
                    display.setReceiveTimeout(10_000);
                    final MemorySegment header = arena.allocate(12, 4);
                    assertThat(display.receiveFully(header, 0, 12, new FdList())).isTrue();
                    assertThat(header.get(ValueLayout.JAVA_INT, 0)).as("GET_PROTOCOL_FEATURES").isEqualTo(1);
                    assertThat(header.get(ValueLayout.JAVA_INT, 4)).as("no version bits").isZero();
                }
            }
        }
        assertThat(exit.get(10, TimeUnit.SECONDS)).as("a connected --fd is served once").isZero();
    }
}
