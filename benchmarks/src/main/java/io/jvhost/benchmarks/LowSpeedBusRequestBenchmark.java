package io.jvhost.benchmarks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.VirtioDevice;
import io.jvhost.device.gpio.GpioDevice;
import io.jvhost.device.gpio.SimulatedGpioChip;
import io.jvhost.device.i2c.DeviceList;
import io.jvhost.device.i2c.I2cBus;
import io.jvhost.device.i2c.I2cDevice;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Request round-trip latency of the low-speed bus devices through the whole stack in one JVM, one request at a time
 * as a guest driver sends them: the front-end places the chains and kicks, the back-end's worker serves them and
 * signals, the front-end wakes. {@code i2cEepromRead} is an {@code i2cget} (a one-byte write and a one-byte read,
 * one transfer, on the simulated EEPROM); {@code gpioGetValue} one GET_VALUE on a simulated line. Compare with
 * {@link RngRequestBenchmark#baselineEventfdRoundTrip}, the floor of any kick-work-call cycle. The same GET_VALUE against
 * rust-vmm's gpio mock ({@code vhost-device-gpio-mock -l s8}), process against process, is
 * {@link io.jvhost.benchmarks.bus.LowSpeedBusBench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class LowSpeedBusRequestBenchmark
{
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A back-end in this JVM and a front-end session to it. */
    abstract static class Backend
    {
        Path dir;
        VhostUserDaemon daemon;
        Thread server;
        GuestRam ram;
        VhostUserFrontend frontend;
        VirtioSession session;
        FrontendQueue queue;

        void start(final String name, final VirtioDevice device, final int queues) throws Exception
        {
            dir = Files.createTempDirectory("jvhost-bench-");
            final Path socket = dir.resolve(name + ".sock");
            daemon = VhostUserDaemon.listen(name, device, socket);
            server = Thread.ofPlatform().daemon(true).start(daemon::run);
            ram = GuestRam.create(16L << 20, 1);
            frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
            session = VirtioSession.builder(frontend, ram).queues(queues, 256).build();
            session.start();
            queue = session.queue(0);
        }

        void stop() throws Exception
        {
            session.close();
            frontend.close();
            daemon.close();
            server.join(5000);
            ram.close();
            Files.deleteIfExists(dir);
        }
    }

    @State(Scope.Thread)
    public static class I2c extends Backend
    {
        I2cBus bus;
        final long[][] gpas = new long[2][];
        final int[][] lengths = {{8, 1, 1}, {8, 1, 1}};

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            bus = DeviceList.open(DeviceList.parse("sim:0x50=eeprom"));
            start("i2c0", new I2cDevice("i2c0", bus), 1);
            for (int m = 0; m < 2; m++)
            {
                final long hdr = ram.allocate(8, 8);
                final byte[] h = new byte[8];
                MemorySegment.ofArray(h).set(LE16, 0, (short)(0x50 << 1));
                MemorySegment.ofArray(h).set(LE32, 4, m == 0 ? 1 : 2);
                ram.write(hdr, h, 0, 8);
                gpas[m] = new long[] {hdr, ram.allocate(1, 8), ram.allocate(1, 8)};
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception
        {
            stop();
            bus.close();
        }
    }

    @State(Scope.Thread)
    public static class Gpio extends Backend
    {
        final long[] gpas = new long[2];
        final int[] lengths = {8, 2};

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            start("gpio0", new GpioDevice("gpio0", new SimulatedGpioChip(8)), 2);
            gpas[0] = ram.allocate(8, 8);
            final byte[] r = new byte[8];
            MemorySegment.ofArray(r).set(LE16, 0, (short)GpioDevice.MSG_GET_VALUE);
            MemorySegment.ofArray(r).set(LE16, 2, (short)3);
            ram.write(gpas[0], r, 0, 8);
            gpas[1] = ram.allocate(2, 8);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception
        {
            stop();
        }
    }

    private static int await(final FrontendQueue q, final int count) throws Exception
    {
        int got = 0;
        while (got < count)
        {
            got += q.awaitUsed(1_000_000_000L);
        }
        return got;
    }

    @Benchmark
    public int i2cEepromRead(final I2c i2c) throws Exception
    {
        final FrontendQueue q = i2c.queue;
        q.add(i2c.gpas[0], i2c.lengths[0], 2, 1);
        q.add(i2c.gpas[1], i2c.lengths[1], 1, 2);
        q.publishAndKick();
        return await(q, 2);
    }

    @Benchmark
    public int gpioGetValue(final Gpio gpio) throws Exception
    {
        final FrontendQueue q = gpio.queue;
        q.add(gpio.gpas, gpio.lengths, 1, 1);
        q.publishAndKick();
        return await(q, 1);
    }
}
