package io.jvhost.device.scsi;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ScsiDevice} behind the real vhost-user back-end, driven by the in-process front-end as QEMU 10's
 * vhost-user-scsi-pci and a hostile guest drive it.
 */
@Timeout(120)
class ScsiFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int QUEUE = 128;
    private static final int IMAGE_BYTES = 4 << 20;
    /** VIRTIO_SCSI_F_CHANGE: QEMU adds it itself (param_change=on) and forwards the guest's ack. */
    private static final long F_CHANGE = 1L << 2;

    @TempDir
    Path dir;

    private ScsiDevice device;
    private ServedDevice served;
    private Path imagePath;
    private byte[] image;

    @BeforeEach
    void setUp() throws Exception
    {
        image = new byte[IMAGE_BYTES];
        new Random(5).nextBytes(image);
        imagePath = dir.resolve("disk.img");
        Files.write(imagePath, image);
        device = ScsiDevice.open("scsi0", List.of(imagePath.toString()), false, false, 2);
        served = ServedDevice.serve("scsi0", device, dir.resolve("scsi.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
        device.close();
    }

    /** A driver's request queue: one chain at a time, header, data-out, response, data-in at fixed places. */
    private static final class Driver
    {
        final GuestRam ram;
        final FrontendQueue requests;
        final long header;
        final long dataOut;
        final long response;
        final long dataIn;

        Driver(final GuestRam ram, final VirtioSession session)
        {
            this.ram = ram;
            this.requests = session.queue(ScsiDevice.REQUEST);
            this.header = ram.allocate(64, 8);
            this.dataOut = ram.allocate(1 << 20, 4096);
            this.response = ram.allocate(128, 8);
            this.dataIn = ram.allocate(1 << 20, 4096);
        }

        /**
         * @return the used length; the response and data-in stay in guest memory.
         */
        int send(final byte[] cdb, final byte[] out, final int in) throws Exception
        {
            final byte[] h = new byte[ScsiDevice.REQUEST_HEADER];
            h[0] = 1;
            h[2] = 0x40;
            System.arraycopy(cdb, 0, h, 19, Math.min(cdb.length, 32));
            ram.write(header, h, 0, h.length);
            if (null != out)
            {
                ram.write(dataOut, out, 0, out.length);
            }
            final int outs = null == out ? 1 : 2;
            final int ins = in > 0 ? 2 : 1;
            final long[] gpas = new long[outs + ins];
            final int[] lengths = new int[outs + ins];
            gpas[0] = header;
            lengths[0] = h.length;
            if (null != out)
            {
                gpas[1] = dataOut;
                lengths[1] = out.length;
            }
            gpas[outs] = response;
            lengths[outs] = 108;
            if (in > 0)
            {
                gpas[outs + 1] = dataIn;
                lengths[outs + 1] = in;
            }
            requests.add(gpas, lengths, outs, ins);
            requests.publishAndKick();
            assertThat(requests.awaitUsed(WAIT)).as("answered").isEqualTo(1);
            return requests.usedLength(0);
        }

        byte[] response()
        {
            return ram.slice(response, 108).toArray(ValueLayout.JAVA_BYTE);
        }

        byte[] dataIn(final int n)
        {
            return ram.slice(dataIn, n).toArray(ValueLayout.JAVA_BYTE);
        }

        String sense()
        {
            final byte[] r = response();
            return r[10] == 0 ? "good" : String.format("%x/%02x/%02x", r[14] & 0xF, r[24] & 0xFF, r[25] & 0xFF);
        }
    }

    private static byte[] bytes(final int... values)
    {
        final byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++)
        {
            b[i] = (byte)values[i];
        }
        return b;
    }

    @Test
    void aVmStopAnswersTheReadInFlightAndTheAbortHeldForItAndTheResumedRingServesOn() throws Exception
    {
        served.close();
        device.close();
        final CountDownLatch diskStarted = new CountDownLatch(1);
        final CountDownLatch diskMayGo = new CountDownLatch(1);
        device = ScsiDevice.open("scsi0", List.of(imagePath.toString()), false, false, 2, slot ->
        {
            diskStarted.countDown();
            try
            {
                diskMayGo.await();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
            slot.run();
        });
        served = ServedDevice.serve("scsi0", device, dir.resolve("scsi.sock"));
        served.drive(16L << 20, 1, b -> b.queues(3, QUEUE), (ram, fe, session) ->
        {
            session.start();
            final Driver driver = new Driver(ram, session);
            // READ(10) of 8 blocks from block 32, stalled on the disk.
            final byte[] h = new byte[ScsiDevice.REQUEST_HEADER];
            h[0] = 1;
            h[2] = 0x40;
            System.arraycopy(bytes(0x28, 0, 0, 0, 0, 32, 0, 0, 8, 0), 0, h, 19, 10);
            ram.write(driver.header, h, 0, h.length);
            ram.fill(driver.dataIn, 4096, (byte)0xEE);
            driver.requests.add(new long[] {driver.header, driver.response, driver.dataIn},
                new int[] {h.length, 108, 4096}, 1, 2);
            driver.requests.publishAndKick();
            assertThat(diskStarted.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the READ reached the disk").isTrue();
            // ABORT TASK, held while the READ is in flight.
            final FrontendQueue control = session.queue(ScsiDevice.CONTROL);
            final long tmf = ram.allocate(24, 8);
            final long tmfResponse = ram.allocate(8, 8);
            ram.write(tmf, bytes(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0), 0, 24);
            ram.setByte(tmfResponse, (byte)0xEE);
            control.add(new long[] {tmf, tmfResponse}, new int[] {24, 1}, 1, 1);
            control.publishAndKick();
            assertThat(control.awaitUsed(Duration.ofMillis(200))).as("the abort is held").isZero();

            // VM stop, as QEMU sends it: every ring disabled first; the disk finishes while no ring is served.
            for (int q = 0; q < 3; q++)
            {
                fe.setVringEnable(q, false);
            }
            fe.sync();
            diskMayGo.countDown();
            assertThat(Await.until(() -> device.transfersRunning() == 0, WAIT)).isTrue();
            assertThat(driver.requests.pollUsed()).as("a disabled ring is not served").isZero();
            final int[] bases = session.stop();
            assertThat(bases[ScsiDevice.REQUEST]).isEqualTo(1);
            assertThat(bases[ScsiDevice.CONTROL]).isEqualTo(1);
            assertThat(driver.requests.pollUsed()).as("the READ is answered before its ring's base is reported")
                .isEqualTo(1);
            assertThat(driver.requests.usedLength(0)).isEqualTo(108 + 4096);
            assertThat(driver.sense()).isEqualTo("good");
            assertThat(driver.dataIn(4096)).isEqualTo(Arrays.copyOfRange(image, 32 * 512, 32 * 512 + 4096));
            assertThat(control.pollUsed()).as("and so is the abort held for it").isEqualTo(1);
            assertThat(ram.getByte(tmfResponse)).as("FUNCTION COMPLETE").isZero();

            // cont: each ring from its base; the next READ is served.
            session.start();
            assertThat(driver.send(bytes(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), null, 512)).isEqualTo(108 + 512);
            assertThat(driver.dataIn(512)).isEqualTo(Arrays.copyOf(image, 512));
        });
    }

    @Test
    void servesAFrontendThatAcksQemusOwnChangeFeatureReadsWritesAndReListens() throws Exception
    {
        for (final int round : new int[] {0, 1})
        {
            served.drive(16L << 20, 1, b -> b.queues(3, QUEUE), (ram, fe, session) ->
            {
                session.init();
                assertThat(HexFormat.of().formatHex(fe.getConfig(0, 36))).as("virtio_scsi_config").isEqualTo(
                    "010000007e000000ffff00008000000000000000600000002000000000000000" + "00000000");
                // As QEMU 10 does: the guest's ack includes VIRTIO_SCSI_F_CHANGE, never offered; REPLY_ACK would
                // turn a refusal into an exception here.
                fe.setFeatures(session.offeredFeatures() | F_CHANGE);
                session.start();
                assertThat(session.features() & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)).isNotZero();
                final Driver driver = new Driver(ram, session);
                assertThat(driver.send(bytes(0x28, 0, 0, 0, 0, 16, 0, 1, 0, 0), null, 128 * 1024)).isEqualTo(108
                    + 128 * 1024);
                final byte[] disk = Files.readAllBytes(imagePath);
                assertThat(Arrays.equals(driver.dataIn(128 * 1024), Arrays.copyOfRange(disk, 16 * 512, 16 * 512
                    + 128 * 1024))).as("128 KiB read from block 16 equal the image's").isTrue();
                final byte[] block = new byte[4096];
                Arrays.fill(block, (byte)(0x40 + round));
                assertThat(driver.send(bytes(0x2A, 0, 0, 0, 1, 0, 0, 0, 8, 0), block, 0)).isEqualTo(108);
                assertThat(driver.sense()).isEqualTo("good");
                assertThat(driver.send(bytes(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), null, 0)).isEqualTo(108);
                assertThat(Arrays.copyOfRange(Files.readAllBytes(imagePath), 256 * 512, 264 * 512)).isEqualTo(block);
            });
        }
    }

    @Test
    void hostileRequestsAreAnsweredOrReturnedUnusedAndServingGoesOn() throws Exception
    {
        served.drive(16L << 20, 1, b -> b.queues(3, QUEUE), (ram, _, session) ->
        {
            session.start();
            final Driver driver = new Driver(ram, session);
            // A transfer length far past the disk, and one past what a READ may move.
            assertThat(driver.send(bytes(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF), null, 4096))
                .isEqualTo(108);
            assertThat(driver.sense()).isEqualTo("5/21/00");
            // An LBA near 2^64 (would overflow lba + count).
            assertThat(driver.send(bytes(0x88, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 0, 0x20),
                null, 4096)).isEqualTo(108);
            assertThat(driver.sense()).isEqualTo("5/21/00");
            // UNMAP whose parameter list length says more than the data-out holds.
            assertThat(driver.send(bytes(0x42, 0, 0, 0, 0, 0, 0, 0x10, 0), new byte[24], 0)).isEqualTo(108);
            assertThat(driver.sense()).isEqualTo("5/1a/00");
            // WRITE SAME without its data block.
            assertThat(driver.send(bytes(0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), null, 0)).isEqualTo(108);
            assertThat(driver.sense()).isEqualTo("5/1a/00");
            // A buffer outside guest memory: the chain is invalid and goes back unused.
            final FrontendQueue q = driver.requests;
            q.add(new long[] {driver.header, 0x7000_0000L}, new int[] {51, 108}, 1, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(q.usedLength(0)).isZero();
            // Random CDBs: each answered with a whole response, never a hang or a crash.
            final Random random = new Random(99);
            for (int i = 0; i < 300; i++)
            {
                final byte[] cdb = new byte[32];
                random.nextBytes(cdb);
                if ((cdb[0] & 0xFF) == 0x0A || (cdb[0] & 0xFF) == 0x2A || (cdb[0] & 0xFF) == 0xAA
                    || (cdb[0] & 0xFF) == 0x8A || (cdb[0] & 0xFF) == 0x93 || (cdb[0] & 0xFF) == 0x42)
                {
                    cdb[0] = 0x00; // keep the image as it is: writes are covered above
                }
                assertThat(driver.send(cdb, null, 4096)).as("random CDB %d: %s", i, HexFormat.of().formatHex(cdb))
                    .isGreaterThanOrEqualTo(108);
            }
            assertThat(driver.send(bytes(0x00, 0, 0, 0, 0, 0), null, 0)).isEqualTo(108);
            assertThat(driver.sense()).isEqualTo("good");
            assertThat(Arrays.equals(Files.readAllBytes(imagePath), image)).as("image unchanged").isTrue();
        });
    }
}
