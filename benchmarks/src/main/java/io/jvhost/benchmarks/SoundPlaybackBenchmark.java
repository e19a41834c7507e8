package io.jvhost.benchmarks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.sound.NullBackend;
import io.jvhost.device.sound.Snd;
import io.jvhost.device.sound.SoundBackend;
import io.jvhost.device.sound.SoundDevice;
import io.jvhost.device.sound.WavFileBackend;
import io.jvhost.device.sound.wire.PcmSetParams;
import io.jvhost.virtqueue.DriverQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CPU per second of 48 kHz S16 stereo playback through the sound device in process: one operation is one second of
 * audio, 50 periods of 960 frames (3840 bytes) each queued on the tx ring, paced by the device against a clock the
 * benchmark moves (no sleeping) and handed to the back-end ({@code null}: discarded; {@code file}: appended to a WAV
 * file in a temporary folder). The time per operation is the device's CPU cost of a second of playback, without
 * vhost-user's sockets and eventfds.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class SoundPlaybackBenchmark
{
    private static final int PERIOD = 3840;
    private static final int PERIODS_PER_SECOND = 50;
    private static final long PERIOD_NANOS = 20_000_000L;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"null", "file"})
    public String backend;

    private RingFixture control;
    private RingFixture tx;
    private ActiveQueue controlQueue;
    private ActiveQueue txQueue;
    private SoundDevice device;
    private Path dir;
    private long now = 1_000_000_000L;
    private final long[] gpas = new long[2];
    private final int[] lengths = {4 + PERIOD, 8};

    @Setup
    public void setUp() throws Exception
    {
        final SoundBackend host;
        if ("file".equals(backend))
        {
            dir = Files.createTempDirectory("jvhost-sound-bench");
            host = new WavFileBackend(dir.resolve("out.wav"), null);
        }
        else
        {
            host = new NullBackend();
        }
        device = new SoundDevice("bench", host, () -> now);
        control = new RingFixture(64, true);
        tx = new RingFixture(64, true);
        controlQueue = new ActiveQueue(Snd.CONTROL_QUEUE, "bench q0", control.device, 64);
        txQueue = new ActiveQueue(Snd.TX_QUEUE, "bench q2", tx.device, 64);
        device.featuresAcked(device.features());
        final MemorySegment request = MemorySegment.ofArray(new byte[24]);
        new PcmSetParams().wrap(request).set(Snd.R_PCM_SET_PARAMS, 0, 4 * PERIOD, PERIOD, 0, 2, Snd.FMT_S16,
            Snd.RATE_48000);
        control(request, 24);
        request.set(LE32, 0, Snd.R_PCM_PREPARE);
        control(request, 8);
        request.set(LE32, 0, Snd.R_PCM_START);
        control(request, 8);
        for (int i = 0; i < 64; i++)
        {
            tx.ram.set(LE32, RingFixture.DATA_BASE + i * 8192L, 0);
        }
    }

    private void control(final MemorySegment request, final int length)
    {
        final long req = RingFixture.DATA_BASE;
        MemorySegment.copy(request, 0, control.ram, req, length);
        control.driver.add(new long[] {req, req + 256}, new int[] {length, 64}, 1, 1);
        control.driver.publish();
        controlQueue.serve(device);
        final long used = control.driver.pollUsed();
        if (used == -1 || control.ram.get(LE32, req + 256) != Snd.S_OK)
        {
            throw new IllegalStateException("control request refused: " + Snd.statusName(control.ram.get(LE32,
                req + 256)));
        }
    }

    @Benchmark
    public long oneSecondOfPlayback()
    {
        long completed = 0;
        for (int i = 0; i < PERIODS_PER_SECOND; i++)
        {
            final long at = RingFixture.DATA_BASE + (i & 31) * 8192L;
            gpas[0] = at;
            gpas[1] = at + 4 + PERIOD;
            tx.driver.add(gpas, lengths, 1, 1);
            tx.driver.publish();
            now += PERIOD_NANOS;
            txQueue.serve(device);
            while (tx.driver.pollUsed() != -1)
            {
                completed++;
            }
        }
        return completed;
    }

    @TearDown
    public void tearDown() throws Exception
    {
        device.close();
        control.close();
        tx.close();
        if (null != dir)
        {
            Files.deleteIfExists(dir.resolve("out.wav"));
            Files.deleteIfExists(dir);
        }
    }
}
