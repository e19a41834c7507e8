package io.jvhost.benchmarks.gpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.jvhost.vhostuser.frontend.BackendProcess;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import org.HdrHistogram.Histogram;

/**
 * One {@code jvhost gpu -g virglrenderer} process for Gpu3dBench, driven through the in-process front-end as QEMU 10
 * drives {@code vhost-user-gpu-pci} (GpuBackendSession's negotiation, plus VIRTIO_GPU_F_VIRGL), with QEMU's side of
 * the display socket played by {@link QemuDisplayEmulator} at the frame's size.
 * <p>
 * The workload ({@link Gpu3dGuest}): each frame a SUBMIT_3D clearing the 1080p render target to a new colour and a
 * RESOURCE_FLUSH of it, one kick, one frame in flight; a frame counts when both commands are used <b>and</b> the
 * display has consumed the frame's UPDATE pixel bytes (jvhost reads the target back from virglrenderer on the flush
 * and sends it as UPDATEs). Back-end CPU is the process's user + system time (all its threads: the control worker,
 * virglrenderer's and llvmpipe's, the JIT and GC) over the measured frames.
 * <p>
 * With {@link Gpu3dGuest.Workload#READBACK_TO_GUEST} (the workload QEMU's C back-end can serve here too) a frame is
 * the clear and a TRANSFER_FROM_HOST_3D of the whole target into guest memory; it counts once both commands are used,
 * and its colour is checked in the guest's memory, every frame.
 */
final class Gpu3dSession implements AutoCloseable
{
    private static final long COMMAND_TIMEOUT_NANOS = 30_000_000_000L;
    private static final Duration DISPLAY_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final int RESOURCE_ID = 1;

    private final Map<String, Double> metrics;
    private final Gpu3dGuest.Workload workload;
    private BackendProcess process;
    private VhostUserFrontend frontend;
    private GuestRam ram;
    private VirtioSession session;
    private QemuDisplayEmulator display;
    private Gpu3dGuest guest;
    private DisplayMeter meter;
    private int colour;

    private Gpu3dSession(final Map<String, Double> metrics, final Gpu3dGuest.Workload workload)
    {
        this.metrics = metrics;
        this.workload = workload;
    }

    /**
     * Starts {@code command} (with {@code {socket}} replaced) in {@code workDir}, sets the 3D scanout up, then runs
     * {@code warmup} of frames and measures {@code duration} of them, recording {@code Gpu3dBench} metrics.
     */
    static void run(final List<String> command, final Path workDir, final int width, final int height,
        final Duration warmup, final Duration duration, final Map<String, Double> metrics) throws Exception
    {
        run(command, workDir, width, height, warmup, duration, metrics, Gpu3dGuest.Workload.DISPLAY);
    }

    /** As {@link #run(List, Path, int, int, Duration, Duration, Map)}, with the frames of {@code workload}. */
    static void run(final List<String> command, final Path workDir, final int width, final int height,
        final Duration warmup, final Duration duration, final Map<String, Double> metrics,
        final Gpu3dGuest.Workload workload) throws Exception
    {
        try (Gpu3dSession s = new Gpu3dSession(metrics, workload))
        {
            s.start(command, workDir);
            s.setUp(width, height);
            s.frames(warmup, duration);
        }
    }

    private void start(final List<String> template, final Path dir) throws Exception
    {
        final Path socket = dir.resolve("gpu3d.sock");
        Files.deleteIfExists(socket);
        final List<String> command = BenchConfig.substitute(template, socket);
        Log.info("3D: starting " + String.join(" ", command));
        process = BackendProcess.start(command, socket, dir.resolve("gpu3d.stderr"), STARTUP_TIMEOUT);
        frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
    }

    private void setUp(final int width, final int height) throws Exception
    {
        ram = GuestRam.builder().size(64L << 20).regions(2).name("gpu3dbench").build();
        session = VirtioSession.builder(frontend, ram).queueSizes(64, 16)
            .driverFeatures(GpuBackendSession.DRIVER_FEATURES | Gpu3dGuest.F_VIRGL)
            .protocolFeatures(GpuBackendSession.PROTOCOL_FEATURES).build();
        session.init();
        display = QemuDisplayEmulator.builder().name("gpu3d-display")
            .modes(QemuDisplayEmulator.Mode.of(width, height)).trace(false).start();
        display.sendSocket(frontend);
        session.start();
        if ((session.features() & Gpu3dGuest.F_VIRGL) == 0)
        {
            throw new IllegalStateException("the back-end does not offer VIRTIO_GPU_F_VIRGL (features 0x"
                + Long.toHexString(session.offeredFeatures()) + "): is it in --gpu-mode virglrenderer?");
        }
        guest = new Gpu3dGuest(ram, session.queue(0), width, height, COMMAND_TIMEOUT_NANOS);
        guest.setUp(RESOURCE_ID, workload);
        meter = new DisplayMeter(display);
        // The first frame shows that the clear colour reaches the display (or the guest's memory), in both corners,
        // then counting starts.
        final long target = frame(0);
        awaitShown(target);
        checkColour(width, height);
    }

    /** Waits until the display has consumed {@code pixelBytes}; a READBACK_TO_GUEST frame is there once used. */
    private void awaitShown(final long pixelBytes) throws Exception
    {
        if (workload == Gpu3dGuest.Workload.DISPLAY)
        {
            meter.awaitPixelBytes(pixelBytes, DISPLAY_TIMEOUT);
        }
        else
        {
            checkGuestCorners();
        }
    }

    private void checkGuestCorners()
    {
        final int first = guest.guestPixel(0, 0);
        final int last = guest.guestPixel(guest.width() - 1, guest.height() - 1);
        if (first != colour || last != colour)
        {
            throw new IllegalStateException("3D: the guest's copy of the frame has 0x" + Integer.toHexString(first)
                + " and 0x" + Integer.toHexString(last) + " in its corners, the frame was cleared to 0x"
                + Integer.toHexString(colour));
        }
    }

    /**
     * One frame of a new colour: submitted, both commands used.
     *
     * @return the pixel bytes the display must have received once this frame is there.
     */
    private long frame(final long before) throws Exception
    {
        colour = (colour + 0x10_0F_07) & 0xFF_FFFF;
        guest.submitFrame(colour);
        guest.awaitFrame();
        return before + guest.frameBytes();
    }

    private void checkColour(final int width, final int height)
    {
        if (workload != Gpu3dGuest.Workload.DISPLAY)
        {
            checkGuestCorners();
            final int middle = guest.guestPixel(width / 2, height / 3);
            if (middle != colour)
            {
                throw new IllegalStateException("3D: guest pixel (" + width / 2 + "," + height / 3 + ") is 0x"
                    + Integer.toHexString(middle) + ", the frame was cleared to 0x" + Integer.toHexString(colour));
            }
            return;
        }
        for (final int[] p : new int[][] {{0, 0}, {width - 1, height - 1}, {width / 2, height / 3}})
        {
            final int got = display.pixel(0, p[0], p[1]) & 0xFF_FFFF;
            if (got != colour)
            {
                throw new IllegalStateException("3D: display pixel (" + p[0] + "," + p[1] + ") is 0x"
                    + Integer.toHexString(got) + ", the frame was cleared to 0x" + Integer.toHexString(colour));
            }
        }
    }

    private void frames(final Duration warmup, final Duration duration) throws Exception
    {
        long target = meter.pixelBytes();
        final long warmEnd = System.nanoTime() + warmup.toNanos();
        while (System.nanoTime() < warmEnd)
        {
            target = frame(target);
            awaitShown(target);
        }
        final Histogram shown = new Histogram(60_000_000_000L, 3);
        final ProcessHandle backend = ProcessHandle.of(process.pid()).orElseThrow();
        final long cpu0 = cpuNanos(backend);
        final long start = System.nanoTime();
        final long end = start + duration.toNanos();
        long frames = 0;
        long last = start;
        do
        {
            final long t0 = last;
            target = frame(target);
            awaitShown(target);
            last = System.nanoTime();
            shown.recordValue(last - t0);
            frames++;
        }
        while (last < end);
        final long cpu = cpuNanos(backend) - cpu0;
        final double seconds = (last - start) / 1e9;
        metrics.put(Gpu3dBench.FPS, frames / seconds);
        metrics.put(Gpu3dBench.CPU_MS_PER_FRAME, cpu / 1e6 / frames);
        metrics.put(Gpu3dBench.CPU_CORES, cpu / 1e9 / seconds);
        metrics.put(Gpu3dBench.FRAME_P50_MS, shown.getValueAtPercentile(50) / 1e6);
        metrics.put(Gpu3dBench.FRAME_P99_MS, shown.getValueAtPercentile(99) / 1e6);
        metrics.put(Gpu3dBench.UPDATES_PER_FRAME, (double)meter.updates() / Math.max(1, target / guest.frameBytes()));
        Log.info(String.format("3D: %d frames in %.2f s: %.1f frames/s; back-end CPU %.2f ms per frame (%.2f cores);"
            + " frame p50 %.2f ms, p99 %.2f ms; %d UPDATEs, %d pixel bytes at the display", frames, seconds,
            metrics.get(Gpu3dBench.FPS), metrics.get(Gpu3dBench.CPU_MS_PER_FRAME), metrics.get(Gpu3dBench.CPU_CORES),
            metrics.get(Gpu3dBench.FRAME_P50_MS), metrics.get(Gpu3dBench.FRAME_P99_MS), meter.updates(),
            meter.pixelBytes()));
        checkColour(guest.width(), guest.height());
    }

    /** User + system time of the process, all threads (clock-tick resolution: 10 ms on Linux). */
    private static long cpuNanos(final ProcessHandle process)
    {
        return process.info().totalCpuDuration().orElseThrow(
            () -> new IllegalStateException("no CPU time for pid " + process.pid())).toNanos();
    }

    @Override
    public void close() throws Exception
    {
        // GpuBackendSession's order: the guest's side, the display, the back-end, then the RAM it mapped.
        if (null != session)
        {
            session.close();
        }
        if (null != frontend)
        {
            frontend.close();
        }
        if (null != display)
        {
            display.close();
        }
        if (null != process)
        {
            process.close();
        }
        if (null != ram)
        {
            ram.close();
        }
    }
}
