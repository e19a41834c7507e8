package io.jvhost.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GpuControl;
import io.jvhost.e2e.support.GreedyVncViewer;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.e2e.support.GpuControl.ERR_INVALID_PARAMETER;
import static io.jvhost.e2e.support.GpuControl.ERR_OUT_OF_MEMORY;
import static io.jvhost.e2e.support.GpuControl.OK_NODATA;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A guest cannot make {@code jvhost gpu} allocate beyond {@code --max-hostmem} (default 256 MiB): a blob whose 16
 * entries alias the same 64 MiB of guest RAM passes for 1 GiB, is shown on a 16384×16384 scanout and flushed, then a
 * blob aliasing 16 MiB is shown at the largest scanout size allowed (8192×8192, 256 MiB a copy); QEMU's display socket
 * is there (its shadow framebuffers), and in two of the tests jvhost's own display with a viewer asking for every
 * frame whole (framebuffer and per-viewer buffers). Every refusal is ERR_OUT_OF_MEMORY or ERR_INVALID_PARAMETER, and the
 * back-end's peak resident set (VmHWM, run with {@code launcher/jvm.options} as {@code ./jvhost} does) stays under
 * 400 MiB: 256 MiB of budget, the JVM's ~70 MiB and the guest pages it reads.
 */
@Timeout(300)
class GpuHostMemoryTest
{
    private static final long RSS_LIMIT_KIB = 400L * 1024;
    private static final int ENTRIES = 16;
    private static final long HUGE_ALIAS = 64L << 20;
    private static final long LARGEST_ALIAS = 16L << 20;
    private static final int HUGE = 16384;
    private static final int LARGEST = 8192;
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Pattern VNC_PORT = Pattern.compile("VNC viewers of scanout 0 on 127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path dir;

    @Test
    void anAliasedBlobOnAHugeScanoutIsRefusedAndQemusDisplayStaysInTheBudget() throws Exception
    {
        final List<Integer> largest = attack(1, false);
        assertThat(largest).as("8192x8192 on QEMU's display alone: its shadow is the whole budget").containsOnly(
            OK_NODATA);
    }

    @Test
    void anAliasedBlobOnAHugeScanoutIsRefusedWithAViewerOnJvhostsOwnDisplay() throws Exception
    {
        final List<Integer> largest = attack(1, true);
        assertThat(largest).as("QEMU's shadow and the viewers' framebuffer do not both fit").containsOnly(
            ERR_OUT_OF_MEMORY);
    }

    @Test
    void anAliasedBlobOnSixteenScanoutsStaysInTheBudget() throws Exception
    {
        final List<Integer> largest = attack(16, true);
        assertThat(largest).hasSize(16).isSubsetOf(OK_NODATA, ERR_OUT_OF_MEMORY).contains(ERR_OUT_OF_MEMORY);
    }

    /**
     * Runs the attack on {@code outputs} scanouts, with or without a greedy VNC viewer of scanout 0.
     *
     * @return the answers to SET_SCANOUT_BLOB at the largest size, by scanout.
     */
    private List<Integer> attack(final int outputs, final boolean viewer) throws Exception
    {
        final Path socket = dir.resolve("gpu.sock");
        final List<String> args = new ArrayList<>(List.of("gpu", "-s", socket.toString(), "--blob",
            "--max-outputs", Integer.toString(outputs)));
        if (viewer)
        {
            args.addAll(List.of("--display", "vnc=127.0.0.1:0"));
        }
        final List<Integer> largest = new ArrayList<>();
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), JvhostProcess.daemonJvmOptions(),
            args.toArray(String[]::new));
             GuestRam ram = GuestRam.builder().size(128L << 20).regions(1).name("gpu-hostmem").build();
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             QemuDisplayEmulator qemu = QemuDisplayEmulator.builder().name("qemu-display").maxOutputs(outputs)
                 .trace(false).start())
        {
            final long pid = backend.process().pid();
            try (VirtioSession session = VirtioSession.builder(fe, ram).queueSizes(64, 16)
                .driverFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                    | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | GpuControl.F_RESOURCE_BLOB)
                .protocolFeatures(VirtioSession.SUPPORTED_PROTOCOL_FEATURES
                    & ~ProtocolFeature.bit(ProtocolFeature.STATUS)).build();
                 GreedyVncViewer vnc = viewer ? GreedyVncViewer.connect(vncAddress(backend)) : null)
            {
                session.init();
                qemu.sendSocket(fe);
                session.start();
                assertThat(session.features() & GpuControl.F_RESOURCE_BLOB).as("--blob offers blobs").isNotZero();
                final GpuControl gpu = new GpuControl(ram, session.queue(0));
                final long huge = ram.allocate(HUGE_ALIAS, 4096);
                final long small = ram.allocate(LARGEST_ALIAS, 4096);
                assertThat(gpu.createBlob(1, ENTRIES * HUGE_ALIAS, aliases(gpu, huge, HUGE_ALIAS), ENTRIES))
                    .as("aliasing costs no host memory").isEqualTo(OK_NODATA);
                assertThat(gpu.createBlob(2, ENTRIES * LARGEST_ALIAS, aliases(gpu, small, LARGEST_ALIAS), ENTRIES))
                    .isEqualTo(OK_NODATA);
                for (int s = 0; s < outputs; s++)
                {
                    final int refused = gpu.setScanoutBlob(s, 1, HUGE, HUGE);
                    assertRss(pid, "SET_SCANOUT_BLOB " + HUGE + "x" + HUGE + " on scanout " + s);
                    assertThat(refused).as("SET_SCANOUT_BLOB %dx%d on scanout %d", HUGE, HUGE, s)
                        .isIn(ERR_OUT_OF_MEMORY, ERR_INVALID_PARAMETER);
                    gpu.flush(1, HUGE, HUGE);
                    assertRss(pid, "RESOURCE_FLUSH of the 1 GiB blob");
                    largest.add(gpu.setScanoutBlob(s, 2, LARGEST, LARGEST));
                    assertRss(pid, "SET_SCANOUT_BLOB " + LARGEST + "x" + LARGEST + " on scanout " + s);
                    assertThat(gpu.flush(2, LARGEST, LARGEST)).isEqualTo(OK_NODATA);
                    assertRss(pid, "RESOURCE_FLUSH of the 256 MiB blob on scanout " + s);
                }
                if (viewer && null != vnc.ended())
                {
                    assertThat(backend.log()).as("a viewer is only ever disconnected for want of memory, and says so")
                        .contains("memory");
                }
                // Still serving: a small 2D resource fits once the scanouts are off (a shadow QEMU's display is
                // still sending a band from is freed, and its memory given back, when that message is out).
                for (int s = 0; s < outputs; s++)
                {
                    assertThat(gpu.setScanout(s, 0, 0, 0)).isEqualTo(OK_NODATA);
                }
                final long end = System.nanoTime() + WAIT.toNanos();
                int created;
                while ((created = gpu.create2d(3, 64, 64)) == ERR_OUT_OF_MEMORY && System.nanoTime() < end)
                {
                    Thread.sleep(10);
                }
                assertThat(created).isEqualTo(OK_NODATA);
                assertRss(pid, "the end");
            }
            assertThat(backend.process().isAlive()).as("the back-end survived; log:%n%s", backend.log()).isTrue();
            System.out.printf("%d output(s)%s: VmHWM %d KiB, VmRSS %d KiB%n", outputs, viewer ? " + viewer" : "",
                status(pid, "VmHWM"), status(pid, "VmRSS"));
        }
        return largest;
    }

    /**
     * {@code ENTRIES} mem entries, each the same {@code length} bytes at {@code gpa}.
     */
    private static long aliases(final GpuControl gpu, final long gpa, final long length)
    {
        final long[] gpas = new long[ENTRIES];
        final int[] lengths = new int[ENTRIES];
        Arrays.fill(gpas, gpa);
        Arrays.fill(lengths, (int)length);
        return gpu.entries(gpas, lengths);
    }

    private static void assertRss(final long pid, final String after) throws IOException
    {
        final long peak = status(pid, "VmHWM");
        assertThat(peak).as("back-end's peak VmHWM in KiB after %s (VmRSS %d KiB)", after, status(pid, "VmRSS"))
            .isLessThan(RSS_LIMIT_KIB);
    }

    /**
     * @return a {@code /proc/PID/status} field in KiB.
     */
    private static long status(final long pid, final String field) throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")))
        {
            if (line.startsWith(field + ":"))
            {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/" + pid + "/status");
    }

    private static InetSocketAddress vncAddress(final JvhostProcess backend) throws InterruptedException
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end)
        {
            final Matcher m = VNC_PORT.matcher(backend.log());
            if (m.find())
            {
                return new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException("the back-end logged no VNC port; log:\n" + backend.log());
    }
}
