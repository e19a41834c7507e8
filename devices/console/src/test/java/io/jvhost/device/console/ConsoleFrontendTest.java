package io.jvhost.device.console;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ConsoleDevice} with its TCP back-end behind the real vhost-user back-end, driven by the in-process front-end
 * as QEMU's generic device and Linux's virtio_console drive it, with a TCP client on the other side.
 */
@Timeout(120)
class ConsoleFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int QUEUE = 64;
    private static final int BUFFER = 4096;
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(4, QUEUE);

    @TempDir
    Path dir;

    private NetworkBackend backend;
    private ConsoleDevice device;
    private ServedDevice served;

    @BeforeEach
    void setUp() throws Exception
    {
        backend = NetworkBackend.listen("console0", 0);
        device = new ConsoleDevice("console0", backend, ConsoleDevice.DEFAULT_QUEUE_SIZE);
        served = ServedDevice.serve("console0", device, dir.resolve("console.sock0"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
        device.close();
    }

    /** A guest driver's view: receive buffers posted, transmit buffers from a pool, control messages. */
    private static final class Driver
    {
        final GuestRam ram;
        final VirtioSession session;
        final long[] rxBuffers = new long[QUEUE];
        final long[] ctrlBuffers = new long[QUEUE];
        final long txPool;
        final long ctrlOut;

        Driver(final GuestRam ram, final VirtioSession session) throws Exception
        {
            this.ram = ram;
            this.session = session;
            for (int i = 0; i < QUEUE / 2; i++)
            {
                post(rx(), rxBuffers, ram.allocate(BUFFER, 8));
                post(session.queue(ConsoleDevice.CONTROL_RX), ctrlBuffers, ram.allocate(BUFFER, 8));
            }
            rx().publishAndKick();
            session.queue(ConsoleDevice.CONTROL_RX).publishAndKick();
            txPool = ram.allocate(QUEUE * (long)BUFFER, 4096);
            ctrlOut = ram.allocate(64, 8);
        }

        FrontendQueue rx()
        {
            return session.queue(ConsoleDevice.RX);
        }

        FrontendQueue tx()
        {
            return session.queue(ConsoleDevice.TX);
        }

        static void post(final FrontendQueue q, final long[] table, final long gpa)
        {
            table[q.add(new long[] {gpa}, new int[] {BUFFER}, 0, 1)] = gpa;
        }

        void control(final int id, final int event, final int value) throws Exception
        {
            final MemorySegment m = MemorySegment.ofArray(new byte[8]);
            m.set(LE32, 0, id);
            m.set(LE16, 4, (short)event);
            m.set(LE16, 6, (short)value);
            ram.write(ctrlOut, m, 0, 8);
            final FrontendQueue q = session.queue(ConsoleDevice.CONTROL_TX);
            q.add(new long[] {ctrlOut}, new int[] {8}, 1, 0);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).as("control message %d returned", event).isEqualTo(1);
        }

        /**
         * @return the next control message from the device, as "id EVENT value".
         */
        String nextControl() throws Exception
        {
            final FrontendQueue q = session.queue(ConsoleDevice.CONTROL_RX);
            if (pendingControl.isEmpty())
            {
                final int n = q.awaitUsed(WAIT);
                assertThat(n).as("a control message from the device").isPositive();
                // Every element is read before any buffer goes back: a re-post reuses the heads just returned.
                final long[] done = new long[n];
                for (int i = 0; i < n; i++)
                {
                    final long gpa = ctrlBuffers[q.usedHead(i)];
                    done[i] = gpa;
                    final MemorySegment m = MemorySegment.ofArray(ram.read(gpa, q.usedLength(i)));
                    pendingControl.add(m.get(LE32, 0) + " " + MultiportControl.eventName(m.get(LE16, 4)) + " "
                        + m.get(LE16, 6) + (m.byteSize() > 8 ? " " + new String(
                        m.asSlice(8).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8) : ""));
                }
                for (final long gpa : done)
                {
                    post(q, ctrlBuffers, gpa);
                }
                q.publishAndKick();
            }
            return pendingControl.removeFirst();
        }

        final java.util.ArrayDeque<String> pendingControl = new java.util.ArrayDeque<>();

        /**
         * Receives exactly {@code count} bytes, re-posting each used buffer.
         */
        byte[] receive(final int count) throws Exception
        {
            final byte[] got = new byte[count];
            int n = 0;
            while (n < count)
            {
                final int used = rx().awaitUsed(WAIT);
                assertThat(used).as("receive buffers used after %d of %d bytes", n, count).isPositive();
                final long[] done = new long[used];
                for (int i = 0; i < used; i++)
                {
                    final int length = rx().usedLength(i);
                    assertThat(n + length).as("no more bytes than sent").isLessThanOrEqualTo(count);
                    final long gpa = rxBuffers[rx().usedHead(i)];
                    System.arraycopy(ram.read(gpa, length), 0, got, n, length);
                    n += length;
                    done[i] = gpa;
                }
                for (final long gpa : done)
                {
                    post(rx(), rxBuffers, gpa);
                }
                rx().publishAndKick();
            }
            return got;
        }

        /**
         * Sends {@code bytes} in chains of two buffers of random sizes, at most half the ring in flight.
         */
        void transmit(final byte[] bytes, final Random random) throws Exception
        {
            int sent = 0;
            int slot = 0;
            while (sent < bytes.length || tx().inFlight() > 0)
            {
                while (sent < bytes.length && tx().inFlight() < QUEUE / 4)
                {
                    final int a = Math.min(bytes.length - sent, 1 + random.nextInt(BUFFER / 2));
                    final int b = Math.min(bytes.length - sent - a, random.nextInt(BUFFER / 2));
                    final long gpa = txPool + (slot++ % (QUEUE / 2)) * (long)BUFFER;
                    ram.write(gpa, bytes, sent, a + b);
                    if (b > 0)
                    {
                        tx().add(new long[] {gpa, gpa + a}, new int[] {a, b}, 2, 0);
                    }
                    else
                    {
                        tx().add(new long[] {gpa}, new int[] {a}, 1, 0);
                    }
                    sent += a + b;
                }
                tx().publishAndKick();
                assertThat(tx().awaitUsed(WAIT)).as("transmit buffers returned after %d of %d bytes", sent,
                    bytes.length).isPositive();
            }
        }
    }

    private Socket connectClient() throws Exception
    {
        final Socket client = new Socket(InetAddress.getLoopbackAddress(), backend.port());
        client.setSoTimeout((int)WAIT.toMillis());
        return client;
    }

    @Test
    void bytesCrossExactlyBothWaysBetweenATcpClientAndTheGuestAndTheHandshakeReportsTheClient() throws Exception
    {
        final byte[] toGuest = new byte[512 * 1024];
        final byte[] toHost = new byte[512 * 1024];
        new Random(11).nextBytes(toGuest);
        new Random(12).nextBytes(toHost);
        served.drive(16L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            assertThat(session.features() & 1L << ConsoleDevice.F_MULTIPORT).as("MULTIPORT negotiated").isNotZero();
            final Driver driver = new Driver(ram, session);
            driver.control(-1, MultiportControl.DEVICE_READY, 1);
            assertThat(driver.nextControl()).isEqualTo("0 PORT_ADD 1");
            driver.control(0, MultiportControl.PORT_READY, 1);
            assertThat(driver.nextControl()).isEqualTo("0 CONSOLE_PORT 1");
            assertThat(driver.nextControl()).isEqualTo("0 PORT_NAME 1 " + ConsoleDevice.PORT_NAME);
            assertThat(driver.nextControl()).as("no client yet").isEqualTo("0 PORT_OPEN 0");
            driver.control(0, MultiportControl.PORT_OPEN, 1);

            try (Socket client = connectClient())
            {
                assertThat(driver.nextControl()).as("the client connected").isEqualTo("0 PORT_OPEN 1");
                final OutputStream out = client.getOutputStream();
                final InputStream in = client.getInputStream();
                final CompletableFuture<Void> writer = CompletableFuture.runAsync(() ->
                {
                    try
                    {
                        out.write(toGuest);
                        out.flush();
                    }
                    catch (final java.io.IOException e)
                    {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                final CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() ->
                {
                    try
                    {
                        return in.readNBytes(toHost.length);
                    }
                    catch (final java.io.IOException e)
                    {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                // The front-end thread does both directions in turn, as a vCPU would.
                final byte[] gotByGuest = driver.receive(toGuest.length);
                driver.transmit(toHost, new Random(13));
                writer.get();
                assertThat(gotByGuest).as("host to guest, exact").isEqualTo(toGuest);
                assertThat(reader.get()).as("guest to host, exact").isEqualTo(toHost);
            }
            assertThat(driver.nextControl()).as("the client left").isEqualTo("0 PORT_OPEN 0");
            assertThat(device.portOpen(0)).isTrue();
            driver.control(0, MultiportControl.PORT_OPEN, 0);
            assertThat(device.portOpen(0)).isFalse();
        });
    }

    @Test
    void aSlowClientSlowsTheGuestWithoutTheBackEndBufferingItsOutput() throws Exception
    {
        final int chain = 512 * 1024;
        final int chains = QUEUE / 2;
        final byte[] toHost = new byte[chain * chains];
        new Random(21).nextBytes(toHost);
        try (Socket client = new Socket())
        {
            served.drive(64L << 20, 1, SESSION, (ram, _, session) ->
            {
                client.setReceiveBufferSize(4096);
                client.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), backend.port()));
                client.setSoTimeout((int)WAIT.toMillis());
                session.start();
                final Driver driver = new Driver(ram, session);
                final long pool = ram.allocate(toHost.length, 4096);
                ram.write(pool, toHost, 0, toHost.length);
                for (int i = 0; i < chains; i++)
                {
                    driver.tx().add(new long[] {pool + (long)i * chain}, new int[] {chain}, 1, 0);
                }
                driver.tx().publishAndKick();
                // The client reads nothing: the device fills the socket, then holds the buffer it could not finish.
                assertThat(Await.until(device::holdingOutput, WAIT)).as("the device holds a transmit buffer").isTrue();
                final int returned = driver.tx().pollUsed();
                assertThat(returned).as("buffers returned while the client reads nothing").isLessThan(chains / 2);
                assertThat(device.bytesFromGuest()).as("bytes taken from the guest").isLessThan(toHost.length / 2);

                final byte[] got = client.getInputStream().readNBytes(toHost.length);
                assertThat(got).isEqualTo(toHost);
                int total = returned;
                while (total < chains)
                {
                    total += driver.tx().awaitUsed(WAIT);
                }
                assertThat(total).isEqualTo(chains);
            });
        }
    }

    @Test
    void aTransmitBufferHeldForASlowClientGoesBackAtAVmStopAndTheResumedRingSendsOn() throws Exception
    {
        final int chain = 512 * 1024;
        final int chains = 8;
        final byte[] marker = "after the cont".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (Socket client = new Socket())
        {
            served.drive(64L << 20, 1, SESSION, (ram, _, session) ->
            {
                client.setReceiveBufferSize(4096);
                client.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), backend.port()));
                client.setSoTimeout((int)WAIT.toMillis());
                session.start();
                final Driver driver = new Driver(ram, session);
                final long pool = ram.allocate((long)chain * chains, 4096);
                for (int i = 0; i < chains; i++)
                {
                    driver.tx().add(new long[] {pool + (long)i * chain}, new int[] {chain}, 1, 0);
                }
                driver.tx().publishAndKick();
                assertThat(Await.until(device::holdingOutput, WAIT)).as("the device holds a transmit buffer").isTrue();
                int returned = driver.tx().pollUsed();

                final int[] bases = session.stop();
                returned += driver.tx().pollUsed();
                assertThat(device.holdingOutput()).as("nothing held once the ring stopped").isFalse();
                assertThat(returned).as("every buffer the device took is back when its base is reported")
                    .isEqualTo(bases[ConsoleDevice.TX]).isPositive();

                session.start();
                final long tail = ram.allocate(marker.length, 8);
                ram.write(tail, marker, 0, marker.length);
                driver.tx().add(new long[] {tail}, new int[] {marker.length}, 1, 0);
                driver.tx().publishAndKick();
                final java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
                final byte[] buf = new byte[64 * 1024];
                while (got.size() < marker.length || !Arrays.equals(Arrays.copyOfRange(got.toByteArray(),
                    got.size() - marker.length, got.size()), marker))
                {
                    final int n = client.getInputStream().read(buf);
                    assertThat(n).as("the client gets the resumed ring's bytes").isPositive();
                    got.write(buf, 0, n);
                }
                int total = returned;
                while (total < chains + 1)
                {
                    final int n = driver.tx().awaitUsed(WAIT);
                    assertThat(n).as("the resumed ring's buffers come back").isPositive();
                    total += n;
                }
            });
        }
    }

    @Test
    void malformedRequestsAreRefusedAndTheNextFrontEndIsServedByTheSameProcess() throws Exception
    {
        served.drive(8L << 20, 1, SESSION, (ram, fe, session) ->
        {
            session.init();
            assertThatThrownBy(() -> fe.getConfig(8, 8)).isInstanceOf(FrontendException.class);
            assertThatThrownBy(() -> fe.getConfig(12, 1)).isInstanceOf(FrontendException.class);
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, 12));
            assertThat(config.get(LE32, 4)).as("max_nr_ports, after the refusals").isEqualTo(1);
            session.start();
            final Driver driver = new Driver(ram, session);
            driver.control(-1, MultiportControl.DEVICE_READY, 1);
            driver.control(0, 0xBEEF, 7);
            driver.control(42, MultiportControl.PORT_OPEN, 1);
            assertThat(driver.nextControl()).isEqualTo("0 PORT_ADD 1");
            assertThat(device.ignoredControlMessages()).isEqualTo(2);
        });
        // QEMU restarted: the same process serves the next front-end, and the TCP port is still the console's.
        try (Socket client = connectClient())
        {
            served.drive(8L << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                final Driver driver = new Driver(ram, session);
                client.getOutputStream()
                    .write("after a re-listen".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                assertThat(new String(driver.receive(17), java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo("after a re-listen");
            });
        }
    }
}
