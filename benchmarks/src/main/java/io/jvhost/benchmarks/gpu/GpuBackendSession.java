package io.jvhost.benchmarks.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.jvhost.vhostuser.frontend.BackendProcess;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;
import org.HdrHistogram.Histogram;

/**
 * One GPU back-end process for one round of GpuBench: started from its command line with {@link BackendProcess},
 * driven through the in-process front-end exactly as QEMU 10 drives {@code vhost-user-gpu-pci}, with the display
 * socket played by {@link QemuDisplayEmulator}.
 * <p>
 * Negotiation (QEMU's order): GET_FEATURES; GET_PROTOCOL_FEATURES; SET_PROTOCOL_FEATURES (MQ, REPLY_ACK,
 * BACKEND_REQ, CONFIG, RESET_DEVICE and CONFIGURE_MEM_SLOTS where offered; never STATUS, which QEMU does not use for
 * vhost-user-gpu); GET_QUEUE_NUM; GET_MAX_MEM_SLOTS; SET_BACKEND_REQ_FD; SET_OWNER; GET_FEATURES; SET_VRING_CALL and
 * SET_VRING_ERR per queue. The guest probe's config read is a GET_CONFIG of the 16-byte config space. DRIVER_OK:
 * GPU_SET_SOCKET with the emulator's far end, SET_FEATURES (VERSION_1, INDIRECT_DESC, EVENT_IDX, EDID when offered,
 * plus bit 30: what QEMU acks for a Linux guest), ADD_MEM_REG per region, per queue (64 and 16 entries, QEMU's
 * sizes) SET_VRING_NUM/BASE/ADDR/KICK/CALL, then SET_VRING_ENABLE. The guest then sends GET_EDID and
 * GET_DISPLAY_INFO (both answered by the display emulator) and sets up a 1080p framebuffer.
 * <p>
 * QEMU's C back-end serves exactly one connection and exits when it ends, so each round starts a fresh process for
 * each back-end and that first connection is the one measured.
 */
final class GpuBackendSession implements AutoCloseable
{
    static final long EDID_FEATURE = 1L << 1;
    /** What QEMU 10 acks for a Linux guest (QEMU's vhost-user-gpu exposes only VIRGL and EDID of the GPU bits). */
    static final long DRIVER_FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
        | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
        | EDID_FEATURE;
    static final long PROTOCOL_FEATURES = VirtioSession.SUPPORTED_PROTOCOL_FEATURES
        & ~ProtocolFeature.bit(ProtocolFeature.STATUS);
    private static final long COMMAND_TIMEOUT_NANOS = 10_000_000_000L;
    private static final Duration DISPLAY_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final int RESOURCE_ID = 1;
    /** A display socket without a message for this long is taken as drained. */
    private static final long QUIET_MS = 100;

    private final String label;
    private final int round;
    private final BenchConfig config;
    private final Map<String, Double> metrics;
    private final List<String> notes;
    private BackendProcess process;
    private VhostUserFrontend frontend;
    private GuestRam ram;
    private VirtioSession session;
    private QemuDisplayEmulator display;
    private GpuGuest guest;
    private DisplayMeter meter;
    private long frameBytes;
    private long pixelTarget;
    private int stamp;

    private GpuBackendSession(final String label, final int round, final BenchConfig config,
        final Map<String, Double> metrics, final List<String> notes)
    {
        this.label = label;
        this.round = round;
        this.config = config;
        this.metrics = metrics;
        this.notes = notes;
    }

    /**
     * Runs every GPU workload against a fresh back-end process started from {@code command} (with {@code {socket}}
     * replaced), recording metrics under {@link Metrics} keys and anything odd in {@code notes}.
     */
    static void run(final String label, final int round, final List<String> command, final BenchConfig config,
        final Map<String, Double> metrics, final List<String> notes) throws Exception
    {
        try (GpuBackendSession s = new GpuBackendSession(label, round, config, metrics, notes))
        {
            s.start(command);
            s.setUp();
            Log.info(label + ": (a) 1080p full frames, counted at the display");
            s.fullFrames();
            Log.info(label + ": (a') 1080p full frames, guest-paced (counted at the used ring)");
            s.guestPacedFrames();
            s.residentMemory();
            Log.info(label + ": (b) 64x16 cell updates");
            s.cellUpdates();
            Log.info(label + ": (c) GET_DISPLAY_INFO round trips");
            s.displayInfoRoundTrips();
            s.finish();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (e) start-up, then the set-up every workload needs

    private void start(final List<String> template) throws Exception
    {
        final Path dir = config.workDir();
        final Path socket = dir.resolve(label + ".sock");
        Files.deleteIfExists(socket);
        final List<String> command = BenchConfig.substitute(template, socket);
        Log.info(label + ": starting " + String.join(" ", command));
        // BackendProcess polls for the listening socket with a backoff of up to 20 ms; this watcher looks every
        // millisecond so the start-up figure is not quantised by that backoff.
        final AtomicLong listenSeen = new AtomicLong();
        final Thread watcher = Thread.ofPlatform().daemon(true).name("listen-watch").start(() ->
        {
            final long end = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
            try
            {
                while (System.nanoTime() < end)
                {
                    if (BackendProcess.isListening(socket))
                    {
                        listenSeen.set(System.nanoTime());
                        return;
                    }
                    Thread.sleep(1);
                }
            }
            catch (final IOException | InterruptedException ignored)
            {
                // No figure; the start-up time then includes BackendProcess's polling delay.
            }
        });
        final long t0 = System.nanoTime();
        try
        {
            process = BackendProcess.start(command, socket, dir.resolve(label + ".stderr"), STARTUP_TIMEOUT);
        }
        finally
        {
            if (null == process)
            {
                watcher.interrupt();
            }
        }
        final long started = System.nanoTime();
        frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
        frontend.getFeatures();
        final long answered = System.nanoTime();
        watcher.join(1000);
        final long listening = listenSeen.get() != 0 ? Math.min(listenSeen.get(), started) : started;
        metrics.put(Metrics.E_LISTEN_MS, (listening - t0) / 1e6);
        metrics.put(Metrics.E_STARTUP_MS, (listening - t0 + answered - started) / 1e6);
        Log.info(label + String.format(": pid %d listening after %.1f ms, first GET_FEATURES answered after %.1f ms",
            process.pid(), metrics.get(Metrics.E_LISTEN_MS), metrics.get(Metrics.E_STARTUP_MS)));
    }

    private void setUp() throws Exception
    {
        ram = GuestRam.builder().size(config.guestRamBytes()).regions(2).name("gpubench-" + label).build();
        session = VirtioSession.builder(frontend, ram).queueSizes(64, 16).driverFeatures(DRIVER_FEATURES)
            .protocolFeatures(PROTOCOL_FEATURES).build();
        session.init();
        if (!ProtocolFeature.has(session.protocolFeatures(), ProtocolFeature.CONFIG))
        {
            throw new IllegalStateException(label + " does not offer VHOST_USER_PROTOCOL_F_CONFIG: QEMU refuses it");
        }
        // The guest driver's probe reads num_scanouts and num_capsets: each config read is a GET_CONFIG.
        final byte[] config0 = frontend.getConfig(0, 16);
        final int scanouts = (config0[8] & 0xFF) | (config0[9] & 0xFF) << 8;
        final int width = config.width();
        final int height = config.height();
        display = QemuDisplayEmulator.builder().name(label + "-display")
            .modes(QemuDisplayEmulator.Mode.of(width, height)).trace(false).start();
        display.sendSocket(frontend);
        session.start();
        Log.info(label + String.format(": features offered 0x%x, acked 0x%x; protocol features offered 0x%x,"
            + " negotiated 0x%x; config num_scanouts %d", session.offeredFeatures(), session.features(),
            session.offeredProtocolFeatures(), session.protocolFeatures(), scanouts));
        guest = new GpuGuest(ram, session.queue(0), width, height, config.seed(), COMMAND_TIMEOUT_NANOS);
        frameBytes = guest.frameBytes();
        if ((session.features() & EDID_FEATURE) != 0)
        {
            final int edidSize = guest.getEdid();
            if (edidSize < 128)
            {
                throw new IllegalStateException(label + ": GET_EDID returned " + edidSize + " bytes");
            }
        }
        else
        {
            notes.add(label + " does not offer VIRTIO_GPU_F_EDID: no GET_EDID sent");
        }
        final int type = guest.getDisplayInfo();
        final int[] mode = guest.displayMode(0);
        if (type != GpuGuest.OK_DISPLAY_INFO || mode[2] != width || mode[3] != height || mode[4] != 1)
        {
            throw new IllegalStateException(label + ": GET_DISPLAY_INFO answered 0x" + Integer.toHexString(type)
                + " with output 0 = " + mode[2] + "x" + mode[3] + " enabled=" + mode[4] + ", the display said "
                + width + "x" + height);
        }
        guest.paint();
        guest.setUpFramebuffer(RESOURCE_ID);
        // The first full frame shows that the pixels reach the display intact, then counting starts.
        frame(true);
        settle();
        checkPixelsArrived();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Helpers

    /**
     * Marks the next update with a new colour in the given pixels, so its arrival can be checked.
     */
    private int nextStamp()
    {
        stamp = (stamp + 0x9E3779B1) & 0x00FF_FFFF;
        if (stamp == 0)
        {
            stamp = 1;
        }
        return stamp;
    }

    /**
     * One full-frame TRANSFER+FLUSH with fresh corner pixels; waits for the used ring.
     */
    private void frame(final boolean await) throws Exception
    {
        final int s = nextStamp();
        guest.setPixel(0, 0, s);
        guest.setPixel(guest.width() - 1, guest.height() - 1, s);
        guest.submitUpdate(0, 0, guest.width(), guest.height());
        if (await)
        {
            guest.awaitUpdate();
        }
    }

    /**
     * Waits until the display shows the last stamp in both corners and then receives nothing for
     * {@value #QUIET_MS} ms (everything sent has arrived), then restarts the pixel count.
     */
    private void settle() throws InterruptedException
    {
        final int w = guest.width();
        final int h = guest.height();
        final int s = stamp;
        if (!display.await(() -> (display.pixel(0, 0, 0) & 0xFF_FFFF) == s
            && (display.pixel(0, w - 1, h - 1) & 0xFF_FFFF) == s, DISPLAY_TIMEOUT))
        {
            final List<String> violations = display.violations();
            throw new IllegalStateException(label + ": the display never showed the last frame (corner pixels 0x"
                + Integer.toHexString(display.pixel(0, 0, 0)) + ", 0x" + Integer.toHexString(display.pixel(0, w - 1,
                h - 1)) + ", expected 0x" + Integer.toHexString(s) + "); " + violations.size() + " protocol violations"
                + (violations.isEmpty() ? "" : ", the last: " + violations.getLast()));
        }
        // A coalescing back-end may still be sending the rest of its last pass: wait for a quiet socket.
        long seen = display.messages();
        while (true)
        {
            Thread.sleep(QUIET_MS);
            final long now = display.messages();
            if (now == seen)
            {
                break;
            }
            seen = now;
        }
        meter = new DisplayMeter(display);
        pixelTarget = 0;
    }

    /**
     * Compares a sample of the display's surface with the guest's framebuffer contents.
     */
    private void checkPixelsArrived()
    {
        final int w = guest.width();
        final int h = guest.height();
        final int[][] probes = {{1, 0}, {w / 2, h / 2}, {w - 2, h - 1}, {17, h - 3}, {w - 5, 7}};
        for (final int[] p : probes)
        {
            final int x = p[0];
            final int y = p[1];
            final int expected = (x & 0xFF) | (y & 0xFF) << 8 | ((x + y) & 0xFF) << 16;
            final int got = display.pixel(0, x, y) & 0xFF_FFFF;
            if (got != expected)
            {
                throw new IllegalStateException(label + ": display pixel (" + x + "," + y + ") is 0x"
                    + Integer.toHexString(got) + ", the guest wrote 0x" + Integer.toHexString(expected));
            }
        }
    }

    private static Histogram histogram()
    {
        return new Histogram(60_000_000_000L, 3);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (a) full frames, each complete when the display has consumed its UPDATE bytes

    private void fullFrames() throws Exception
    {
        final Histogram used = histogram();
        final Histogram shown = histogram();
        final long warmEnd = System.nanoTime() + config.warmup().toNanos();
        while (System.nanoTime() < warmEnd)
        {
            displayPacedFrame(null, null);
        }
        final long start = System.nanoTime();
        final long end = start + config.duration().toNanos();
        long frames = 0;
        long last;
        do
        {
            displayPacedFrame(used, shown);
            frames++;
            last = System.nanoTime();
        }
        while (last < end);
        meter.checkOnlyUpdates();
        final double seconds = (last - start) / 1e9;
        metrics.put(Metrics.A_FPS, frames / seconds);
        metrics.put(Metrics.A_MBPS, frames * (double)frameBytes / seconds / 1e6);
        metrics.put(Metrics.A_USED_P50_MS, used.getValueAtPercentile(50) / 1e6);
        metrics.put(Metrics.A_DISPLAY_P50_MS, shown.getValueAtPercentile(50) / 1e6);
        metrics.put(Metrics.A_DISPLAY_P99_MS, shown.getValueAtPercentile(99) / 1e6);
        metrics.put(Metrics.A_UPDATES_PER_FRAME, (double)meter.updates() / Math.max(1, pixelTarget / frameBytes));
        Log.info(label + String.format(": %d frames in %.2f s: %.1f frames/s; per frame p50 %.2f ms to the used"
            + " ring, %.2f ms to the display; %.1f UPDATE messages per frame", frames, seconds,
            metrics.get(Metrics.A_FPS), metrics.get(Metrics.A_USED_P50_MS), metrics.get(Metrics.A_DISPLAY_P50_MS),
            metrics.get(Metrics.A_UPDATES_PER_FRAME)));
        checkStamp();
    }

    private void displayPacedFrame(final Histogram used, final Histogram shown) throws Exception
    {
        final long t0 = System.nanoTime();
        frame(true);
        final long t1 = System.nanoTime();
        pixelTarget += frameBytes;
        meter.awaitPixelBytes(pixelTarget, DISPLAY_TIMEOUT);
        final long t2 = System.nanoTime();
        if (null != used)
        {
            used.recordValue(t1 - t0);
            shown.recordValue(t2 - t0);
        }
    }

    private void checkStamp()
    {
        final int s = stamp;
        final int got = display.pixel(0, 0, 0) & 0xFF_FFFF;
        if (got != s)
        {
            throw new IllegalStateException(label + ": the display's pixel (0,0) is 0x" + Integer.toHexString(got)
                + " after the last update, the guest wrote 0x" + Integer.toHexString(s));
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (a') full frames as fast as the used ring returns them; the display keeps up or not

    private void guestPacedFrames() throws Exception
    {
        final long warmEnd = System.nanoTime() + config.warmup().toNanos();
        while (System.nanoTime() < warmEnd)
        {
            frame(true);
        }
        final long start = System.nanoTime();
        final long pixels0 = meter.pixelBytes();
        final long end = start + config.duration().toNanos();
        long frames = 0;
        long last;
        do
        {
            frame(true);
            frames++;
            last = System.nanoTime();
        }
        while (last < end);
        final long pixels = meter.pixelBytes() - pixels0;
        final double seconds = (last - start) / 1e9;
        metrics.put(Metrics.A2_USED_PER_S, frames / seconds);
        metrics.put(Metrics.A2_DISPLAY_FPS, pixels / (double)frameBytes / seconds);
        settle();
        Log.info(label + String.format(": %d frames completed in %.2f s: %.1f/s at the used ring, %.1f frames/s"
            + " reached the display meanwhile", frames, seconds, metrics.get(Metrics.A2_USED_PER_S),
            metrics.get(Metrics.A2_DISPLAY_FPS)));
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (e) resident memory after (a)

    private void residentMemory() throws IOException
    {
        final ProcStatus s = ProcStatus.ofTree(process.pid());
        metrics.put(Metrics.E_RSS_MIB, s.vmRssMib());
        metrics.put(Metrics.E_ANON_MIB, s.rssAnonKib() / 1024.0);
        metrics.put(Metrics.E_FILE_MIB, s.rssFileKib() / 1024.0);
        metrics.put(Metrics.E_SHMEM_MIB, s.rssShmemKib() / 1024.0);
        Log.info(label + String.format(": VmRSS %.1f MiB (anon %.1f, file %.1f, shmem %.1f)", s.vmRssMib(),
            s.rssAnonKib() / 1024.0, s.rssFileKib() / 1024.0, s.rssShmemKib() / 1024.0));
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (b) small damage: 64x16 cells at positions that move around the screen

    private void cellUpdates() throws Exception
    {
        final int cw = config.cellWidth();
        final int ch = config.cellHeight();
        final int cols = guest.width() / cw;
        final int rows = guest.height() / ch;
        final int cells = cols * rows;
        final long cellBytes = (long)cw * ch * GpuGuest.BYTES_PER_PIXEL;
        final Histogram used = histogram();
        final Histogram shown = histogram();
        final long warmEnd = System.nanoTime() + config.warmup().toNanos();
        int i = 0;
        while (System.nanoTime() < warmEnd)
        {
            cell(i++, cols, cells, cw, ch, cellBytes, null, null);
        }
        final long start = System.nanoTime();
        final long end = start + config.duration().toNanos();
        long updates = 0;
        long last;
        do
        {
            cell(i++, cols, cells, cw, ch, cellBytes, used, shown);
            updates++;
            last = System.nanoTime();
        }
        while (last < end);
        meter.checkOnlyUpdates();
        final double seconds = (last - start) / 1e9;
        metrics.put(Metrics.B_PER_S, updates / seconds);
        metrics.put(Metrics.B_USED_P50_US, used.getValueAtPercentile(50) / 1e3);
        metrics.put(Metrics.B_DISPLAY_P50_US, shown.getValueAtPercentile(50) / 1e3);
        Log.info(label + String.format(": %d cell updates in %.2f s: %.0f/s; p50 %.1f us to the used ring, %.1f us"
            + " to the display", updates, seconds, metrics.get(Metrics.B_PER_S), metrics.get(Metrics.B_USED_P50_US),
            metrics.get(Metrics.B_DISPLAY_P50_US)));
    }

    private void cell(final int i, final int cols, final int cells, final int cw, final int ch, final long cellBytes,
        final Histogram used, final Histogram shown) throws Exception
    {
        // A stride coprime with the cell count visits every cell, jumping around like text output and cursor blinks.
        final int c = (int)((i * 337L) % cells);
        final int x = c % cols * cw;
        final int y = c / cols * ch;
        final int s = nextStamp();
        guest.setPixel(x, y, s);
        final long t0 = System.nanoTime();
        guest.submitUpdate(x, y, cw, ch);
        guest.awaitUpdate();
        final long t1 = System.nanoTime();
        pixelTarget += cellBytes;
        meter.awaitPixelBytes(pixelTarget, DISPLAY_TIMEOUT);
        final long t2 = System.nanoTime();
        if (null != used)
        {
            used.recordValue(t1 - t0);
            shown.recordValue(t2 - t0);
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // (c) GET_DISPLAY_INFO: guest → back-end → display → back-end → guest

    private void displayInfoRoundTrips() throws Exception
    {
        final Histogram rtt = histogram();
        final long warmEnd = System.nanoTime() + config.warmup().toNanos();
        while (System.nanoTime() < warmEnd)
        {
            displayInfo();
        }
        final long start = System.nanoTime();
        final long end = start + config.duration().toNanos();
        long last;
        do
        {
            final long t0 = System.nanoTime();
            displayInfo();
            last = System.nanoTime();
            rtt.recordValue(last - t0);
        }
        while (last < end);
        metrics.put(Metrics.C_P50_US, rtt.getValueAtPercentile(50) / 1e3);
        metrics.put(Metrics.C_P99_US, rtt.getValueAtPercentile(99) / 1e3);
        metrics.put(Metrics.C_P999_US, rtt.getValueAtPercentile(99.9) / 1e3);
        metrics.put(Metrics.C_PER_S, rtt.getTotalCount() / ((last - start) / 1e9));
        Log.info(label + String.format(": %d GET_DISPLAY_INFO round trips: p50 %.1f us, p99 %.1f us, p99.9 %.1f us",
            rtt.getTotalCount(), metrics.get(Metrics.C_P50_US), metrics.get(Metrics.C_P99_US),
            metrics.get(Metrics.C_P999_US)));
    }

    private void displayInfo() throws Exception
    {
        final int type = guest.getDisplayInfo();
        if (type != GpuGuest.OK_DISPLAY_INFO)
        {
            throw new IllegalStateException(label + ": GET_DISPLAY_INFO answered 0x" + Integer.toHexString(type));
        }
    }

    // ----------------------------------------------------------------------------------------------------------------

    private void finish() throws IOException
    {
        final List<String> violations = display.violations();
        if (!violations.isEmpty())
        {
            notes.add(label + ", round " + round + ": the display emulator saw " + violations.size()
                + " protocol violation(s), first: " + violations.getFirst());
        }
        if (!process.isAlive())
        {
            throw new IllegalStateException(label + " exited during the run; stderr: " + process.stderr());
        }
        final long missed = session.queue(0).missedNotifications();
        if (missed > 0)
        {
            notes.add(label + ", round " + round + ": " + missed + " used buffers came without a call notification");
        }
    }

    @Override
    public void close()
    {
        final List<Runnable> steps = new ArrayList<>();
        if (null != session)
        {
            steps.add(session::close);
        }
        if (null != frontend)
        {
            steps.add(frontend::close);
        }
        if (null != display)
        {
            steps.add(display::close);
        }
        if (null != process)
        {
            steps.add(() ->
            {
                process.close();
                try
                {
                    final String err = process.stderr().strip();
                    if (!err.isEmpty())
                    {
                        Log.detail(label + " stderr: " + err.lines().limit(20).reduce((a, b) -> a + " | " + b)
                            .orElse(""));
                    }
                }
                catch (final IOException ignored)
                {
                    // Nothing to show.
                }
            });
        }
        if (null != ram)
        {
            steps.add(ram::close);
        }
        for (final Runnable step : steps)
        {
            try
            {
                step.run();
            }
            catch (final RuntimeException e)
            {
                Log.info(label + ": while closing: " + e);
            }
        }
    }
}
