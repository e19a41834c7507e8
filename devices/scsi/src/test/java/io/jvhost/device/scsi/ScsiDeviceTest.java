package io.jvhost.device.scsi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ScsiDevice} on mock rings (the driver side is {@link DriverQueue} in a plain memory segment) over image files
 * in a temporary directory: every command's exact data and sense bytes, bad LUNs, ranges, read-only refusals, short
 * chains, and the control queue.
 */
class ScsiDeviceTest
{
    private static final int SIZE = 128;
    private static final int IMAGE_BYTES = 1 << 20;
    private static final long HEADER = 0x100000;
    private static final long DATA_OUT = 0x110000;
    private static final long RESPONSE = 0x300000;
    private static final long DATA_IN = 0x310000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private MemorySegment ram;
    private final DriverQueue[] driver = new DriverQueue[3];
    private final ActiveQueue[] queue = new ActiveQueue[3];
    private final Semaphore[] woken = {new Semaphore(0), new Semaphore(0), new Semaphore(0)};
    private ScsiDevice device;
    private byte[] image;
    private Path imagePath;
    /** Regions beside the RAM region (a Xen grant region in one test). */
    private List<MemoryRegion> extraRegions = List.of();

    /** One answered command: the used length, the 108-byte response, the data-in bytes. */
    private record Answer(int used, byte[] response, byte[] dataIn)
    {
        int senseLength()
        {
            return ByteBuffer.wrap(response).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        }

        int resid()
        {
            return ByteBuffer.wrap(response).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
        }

        int status()
        {
            return response[10] & 0xFF;
        }

        int virtioResponse()
        {
            return response[11] & 0xFF;
        }

        /**
         * @return sense key, ASC, ASCQ as "k/aa/qq".
         */
        String sense()
        {
            return String.format("%x/%02x/%02x", response[12 + 2] & 0xF, response[12 + 12] & 0xFF,
                response[12 + 13] & 0xFF);
        }
    }

    private void start(final boolean readOnly, final boolean solidState, final int luns) throws Exception
    {
        start(readOnly, solidState, luns, IoSlot::run, IoSlot::tryReadCached);
    }

    /** With a disk of the test's own, which every transfer goes to (no READ from the page cache on the worker). */
    private void start(final boolean readOnly, final boolean solidState, final int luns,
        final java.util.function.Consumer<IoSlot> runner) throws Exception
    {
        start(readOnly, solidState, luns, runner, slot -> false);
    }

    private void start(final boolean readOnly, final boolean solidState, final int luns,
        final java.util.function.Consumer<IoSlot> runner, final java.util.function.Predicate<IoSlot> cachedRead)
        throws Exception
    {
        image = new byte[IMAGE_BYTES];
        for (int i = 0; i < image.length; i++)
        {
            image[i] = (byte)(i * 7 + (i >>> 9));
        }
        final java.util.ArrayList<String> paths = new java.util.ArrayList<>();
        for (int l = 0; l < luns; l++)
        {
            final Path p = dir.resolve("lun" + l + ".img");
            Files.write(p, image);
            paths.add(p.toString());
        }
        imagePath = dir.resolve("lun0.img");
        ram = arena.allocate(16 << 20, 4096);
        final java.util.ArrayList<MemoryRegion> regions = new java.util.ArrayList<>(extraRegions);
        regions.add(MemoryRegion.ofSegment(0, ram, 0x7000_0000L));
        final GuestMemory memory = GuestMemory.of(regions, 64);
        for (int q = 0; q < 3; q++)
        {
            driver[q] = new DriverQueue(ram, 0, SIZE, 0x1000 + q * 0x8000L);
            final SplitQueue ring = new SplitQueue(ScsiDevice.QUEUE_SIZE);
            ring.setSize(SIZE);
            ring.setGuestPhysAddresses(driver[q].descGpa(), driver[q].availGpa(), driver[q].usedGpa());
            ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            ring.bind(memory);
            queue[q] = new ActiveQueue(q, "scsi q" + q, ring, SIZE);
        }
        device = ScsiDevice.open("scsi-test", paths, readOnly, solidState, 2, runner, cachedRead);
        device.attach(new DeviceContext()
        {
            @Override
            public void wake(final int q)
            {
                woken[q].release();
            }
        });
        device.featuresAcked(device.features());
        for (int q = 0; q < 3; q++)
        {
            device.queueStarted(q);
        }
    }

    @AfterEach
    void tearDown()
    {
        if (null != device)
        {
            device.close();
        }
        arena.close();
    }

    /**
     * Serves {@code q} until the driver sees a used buffer: after each pass, waits for the device's wake-up (a disk
     * transfer that finished), never a fixed time.
     */
    private long awaitUsed(final int q) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true)
        {
            queue[q].serve(device);
            final long used = driver[q].pollUsed();
            if (used != -1)
            {
                return used;
            }
            final long left = deadline - System.nanoTime();
            assertThat(left).as("queue " + q + " answered within 10 s").isPositive();
            woken[q].tryAcquire(left, TimeUnit.NANOSECONDS);
        }
    }

    private static byte[] header(final int target, final int lun, final byte... cdb)
    {
        final byte[] h = new byte[ScsiDevice.REQUEST_HEADER];
        h[0] = 1;
        h[1] = (byte)target;
        h[2] = (byte)(0x40 | lun >>> 8);
        h[3] = (byte)lun;
        System.arraycopy(cdb, 0, h, 19, cdb.length);
        return h;
    }

    private Answer command(final byte[] header, final byte[] dataOut, final int dataIn) throws Exception
    {
        MemorySegment.copy(header, 0, ram, ValueLayout.JAVA_BYTE, HEADER, header.length);
        ram.asSlice(RESPONSE, 108).fill((byte)0x5A);
        ram.asSlice(DATA_IN, Math.max(dataIn, 1)).fill((byte)0x5A);
        final int outs = null == dataOut ? 1 : 2;
        final int ins = dataIn > 0 ? 2 : 1;
        final long[] gpas = new long[outs + ins];
        final int[] lengths = new int[outs + ins];
        gpas[0] = HEADER;
        lengths[0] = header.length;
        if (null != dataOut)
        {
            MemorySegment.copy(dataOut, 0, ram, ValueLayout.JAVA_BYTE, DATA_OUT, dataOut.length);
            gpas[1] = DATA_OUT;
            lengths[1] = dataOut.length;
        }
        gpas[outs] = RESPONSE;
        lengths[outs] = 108;
        if (dataIn > 0)
        {
            gpas[outs + 1] = DATA_IN;
            lengths[outs + 1] = dataIn;
        }
        driver[2].add(gpas, lengths, outs, ins);
        driver[2].publish();
        final long used = awaitUsed(2);
        final int length = (int)used;
        final byte[] response = ram.asSlice(RESPONSE, 108).toArray(ValueLayout.JAVA_BYTE);
        final byte[] data = ram.asSlice(DATA_IN, Math.max(0, Math.min(dataIn, length - 108)))
            .toArray(ValueLayout.JAVA_BYTE);
        return new Answer(length, response, data);
    }

    private Answer command(final byte[] dataOut, final int dataIn, final byte... cdb) throws Exception
    {
        return command(header(0, 0, cdb), dataOut, dataIn);
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

    private static void assertGood(final Answer a)
    {
        assertThat(a.virtioResponse()).as("virtio response").isZero();
        assertThat(a.status()).as("SCSI status").isZero();
        assertThat(a.senseLength()).as("sense length").isZero();
    }

    private static void assertCheck(final Answer a, final String sense)
    {
        assertThat(a.virtioResponse()).as("virtio response").isZero();
        assertThat(a.status()).as("SCSI status: CHECK CONDITION").isEqualTo(2);
        assertThat(a.senseLength()).as("fixed-format sense length").isEqualTo(18);
        assertThat(a.response[12] & 0xFF).as("response code: current, fixed").isEqualTo(0x70);
        assertThat(a.response[12 + 7]).as("additional sense length").isEqualTo((byte)10);
        assertThat(a.sense()).as("sense key/ASC/ASCQ").isEqualTo(sense);
    }

    private byte[] imageNow() throws Exception
    {
        return Files.readAllBytes(imagePath);
    }

    @Test
    void offersVhostDeviceScsisFeaturesQueuesAndConfig() throws Exception
    {
        start(false, false, 3);
        assertThat(device.deviceType()).isEqualTo(8);
        assertThat(device.queueCount()).isEqualTo(3);
        assertThat(device.maxQueueSize()).isEqualTo(128);
        assertThat(device.features()).isEqualTo(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
            | 1L << 1);
        final MemorySegment config = MemorySegment.ofArray(new byte[36]);
        device.readConfig(0, config);
        assertThat(HexFormat.of().formatHex(config.toArray(ValueLayout.JAVA_BYTE))).isEqualTo(
            "01000000" + "7e000000" + "ffff0000" + "80000000" + "00000000" + "60000000" + "20000000" + "0000"
                + "0000" + "02000000");
    }

    @Test
    void standardInquiryIsAnSpc4DiskWithVendorProductRevision() throws Exception
    {
        start(false, false, 1);
        final Answer a = command(null, 96, bytes(0x12, 0, 0, 0, 96, 0));
        assertGood(a);
        assertThat(a.used()).isEqualTo(108 + 36);
        assertThat(a.resid()).as("96-byte buffer, 36 bytes sent").isEqualTo(60);
        assertThat(HexFormat.of().formatHex(a.dataIn(), 0, 8)).isEqualTo("000006021f000002");
        assertThat(new String(a.dataIn(), 8, 28, StandardCharsets.US_ASCII)).isEqualTo("JVHOST  vhost-user disk 0001");
        final Answer cut = command(null, 96, bytes(0x12, 0, 0, 0, 5, 0));
        assertThat(cut.used()).as("cut to the allocation length").isEqualTo(108 + 5);
        assertCheck(command(null, 96, bytes(0x12, 0, 0x80, 0, 96, 0)), "5/24/00");
    }

    @Test
    void vpdPagesListSerialIdentificationLimitsRotationAndProvisioning() throws Exception
    {
        start(false, true, 1);
        final Answer pages = command(null, 255, bytes(0x12, 1, 0x00, 0, 255, 0));
        assertGood(pages);
        assertThat(HexFormat.of().formatHex(pages.dataIn())).isEqualTo("000000060080" + "83b0b1b2");
        final Answer serial = command(null, 255, bytes(0x12, 1, 0x80, 0, 255, 0));
        assertThat(serial.dataIn()[1]).isEqualTo((byte)0x80);
        assertThat(new String(serial.dataIn(), 4, serial.dataIn()[3], StandardCharsets.US_ASCII)).startsWith("JVH00");
        final Answer id = command(null, 255, bytes(0x12, 1, 0x83, 0, 255, 0));
        assertThat(HexFormat.of().formatHex(id.dataIn(), 0, 8)).isEqualTo("0083001902010015");
        final Answer limits = command(null, 255, bytes(0x12, 1, 0xB0, 0, 255, 0));
        assertThat(limits.dataIn()).hasSize(64);
        assertThat(HexFormat.of().formatHex(limits.dataIn(), 0, 16)).isEqualTo("00b0003c010000080001000000000000");
        final Answer rotation = command(null, 255, bytes(0x12, 1, 0xB1, 0, 255, 0));
        assertThat(HexFormat.of().formatHex(rotation.dataIn(), 0, 6)).as("--solid-state: non-rotating (1)")
            .isEqualTo("00b1003c0001");
        final Answer provisioning = command(null, 255, bytes(0x12, 1, 0xB2, 0, 255, 0));
        assertThat(HexFormat.of().formatHex(provisioning.dataIn())).as("LBPU, LBPWS, LBPRZ; thin provisioned")
            .isEqualTo("00b2000400c40200");
        assertCheck(command(null, 255, bytes(0x12, 1, 0x81, 0, 255, 0)), "5/24/00");
    }

    @Test
    void rotationRateIsNotReportedWithoutSolidState() throws Exception
    {
        start(false, false, 1);
        assertThat(HexFormat.of().formatHex(command(null, 255, bytes(0x12, 1, 0xB1, 0, 255, 0)).dataIn(), 0, 6))
            .isEqualTo("00b1003c0000");
    }

    @Test
    void readCapacityTenAndSixteenGiveTheLastBlockAndBlockSize() throws Exception
    {
        start(false, false, 1);
        final Answer ten = command(null, 8, bytes(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        assertGood(ten);
        assertThat(HexFormat.of().formatHex(ten.dataIn())).isEqualTo("000007ff00000200");
        final Answer sixteen = command(null, 32, bytes(0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0));
        assertGood(sixteen);
        assertThat(HexFormat.of().formatHex(sixteen.dataIn())).isEqualTo(
            "00000000000007ff" + "00000200" + "00" + "00" + "c000" + "0".repeat(32));
        assertCheck(command(null, 32, bytes(0x9E, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0)), "5/24/00");
    }

    @Test
    void readsOfEverySizeReturnTheImagesBytes() throws Exception
    {
        start(false, false, 1);
        final Answer r10 = command(null, 4096, bytes(0x28, 0, 0, 0, 0, 3, 0, 0, 8, 0));
        assertGood(r10);
        assertThat(r10.used()).isEqualTo(108 + 4096);
        assertThat(r10.resid()).isZero();
        assertThat(r10.dataIn()).isEqualTo(Arrays.copyOfRange(image, 3 * 512, 3 * 512 + 4096));
        final Answer r6 = command(null, 512 * 256, bytes(0x08, 0, 0, 5, 0, 0));
        assertGood(r6);
        assertThat(r6.dataIn()).as("READ(6) length 0 means 256 blocks")
            .isEqualTo(Arrays.copyOfRange(image, 5 * 512, 261 * 512));
        final Answer r12 = command(null, 2048, bytes(0xA8, 0, 0, 0, 0x07, 0xFF, 0, 0, 0, 1, 0, 0));
        assertThat(r12.resid()).as("one block into a 2048-byte buffer").isEqualTo(1536);
        assertThat(Arrays.copyOf(r12.dataIn(), 512)).isEqualTo(Arrays.copyOfRange(image, IMAGE_BYTES - 512,
            IMAGE_BYTES));
        final Answer r16 = command(null, 1024, bytes(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0));
        assertThat(r16.dataIn()).isEqualTo(Arrays.copyOfRange(image, 512, 1536));
    }

    @Test
    void writesOfEverySizeLandInTheImage() throws Exception
    {
        start(false, false, 1);
        final byte[] data = new byte[1024];
        Arrays.fill(data, (byte)0xA5);
        assertGood(command(data, 0, bytes(0x2A, 0x08, 0, 0, 0, 10, 0, 0, 2, 0)));
        final byte[] block = new byte[512];
        Arrays.fill(block, (byte)0x3C);
        assertGood(command(block, 0, bytes(0x0A, 0, 0, 20, 1, 0)));
        assertGood(command(block, 0, bytes(0xAA, 0, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0)));
        assertGood(command(block, 0, bytes(0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0)));
        assertGood(command(null, 0, bytes(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0)));
        final byte[] now = imageNow();
        assertThat(Arrays.copyOfRange(now, 10 * 512, 12 * 512)).isEqualTo(data);
        for (final int lba : new int[] {20, 30, 40})
        {
            assertThat(Arrays.copyOfRange(now, lba * 512, lba * 512 + 512)).as("block " + lba).isEqualTo(block);
        }
        assertThat(Arrays.copyOfRange(now, 12 * 512, 20 * 512)).as("blocks around untouched")
            .isEqualTo(Arrays.copyOfRange(image, 12 * 512, 20 * 512));
    }

    /**
     * A transfer over 120 one-block buffers placed in reverse order in guest memory: every block lands in its own
     * buffer, in order.
     */
    @Test
    void transfersScatteredOverManyBuffersMoveEveryBlockToItsOwnBuffer() throws Exception
    {
        start(false, false, 1);
        final int buffers = 120;
        final long[] gpas = new long[2 + buffers];
        final int[] lengths = new int[2 + buffers];
        final byte[] read = header(0, 0, bytes(0x28, 0, 0, 0, 0, 9, 0, 0, buffers, 0));
        MemorySegment.copy(read, 0, ram, ValueLayout.JAVA_BYTE, HEADER, read.length);
        gpas[0] = HEADER;
        lengths[0] = read.length;
        gpas[1] = RESPONSE;
        lengths[1] = 108;
        for (int i = 0; i < buffers; i++)
        {
            gpas[2 + i] = DATA_IN + (long)(buffers - 1 - i) * 1024;
            lengths[2 + i] = 512;
        }
        ram.asSlice(DATA_IN, buffers * 1024L).fill((byte)0x5A);
        driver[2].add(gpas, lengths, 1, 1 + buffers);
        driver[2].publish();
        assertThat((int)awaitUsed(2)).as("used length").isEqualTo(108 + 512 * buffers);
        assertThat(ram.get(ValueLayout.JAVA_SHORT, RESPONSE + 10)).as("status GOOD, response OK").isZero();
        for (int i = 0; i < buffers; i++)
        {
            assertThat(ram.asSlice(gpas[2 + i], 512).toArray(ValueLayout.JAVA_BYTE)).as("block %d", 9 + i)
                .isEqualTo(Arrays.copyOfRange(image, (9 + i) * 512, (10 + i) * 512));
        }

        // The same buffers written back to LBA 300: the image gets them in chain order.
        final byte[] write = header(0, 0, bytes(0x2A, 0, 0, 0, 0x01, 0x2C, 0, 0, buffers, 0));
        MemorySegment.copy(write, 0, ram, ValueLayout.JAVA_BYTE, HEADER, write.length);
        final long[] out = new long[2 + buffers];
        final int[] outLengths = new int[2 + buffers];
        out[0] = HEADER;
        outLengths[0] = write.length;
        System.arraycopy(gpas, 2, out, 1, buffers);
        System.arraycopy(lengths, 2, outLengths, 1, buffers);
        out[1 + buffers] = RESPONSE;
        outLengths[1 + buffers] = 108;
        driver[2].add(out, outLengths, 1 + buffers, 1);
        driver[2].publish();
        assertThat((int)awaitUsed(2)).as("used length").isEqualTo(108);
        assertThat(ram.get(ValueLayout.JAVA_SHORT, RESPONSE + 10)).as("status GOOD, response OK").isZero();
        assertThat(Arrays.copyOfRange(imageNow(), 300 * 512, (300 + buffers) * 512))
            .isEqualTo(Arrays.copyOfRange(image, 9 * 512, (9 + buffers) * 512));
    }

    /**
     * A Linux guest's large read: a chain of 126 page-sized buffers (the most its 128 descriptors carry beside the
     * two headers). The disk moves it with one vectored call, from the page cache on the worker and from a disk
     * thread alike, and the write of the same buffers too.
     */
    @Test
    void aFullChainOfPagesMovesWithOneVectoredCall() throws Exception
    {
        final java.util.List<Integer> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        final boolean[] fromCache = {true};
        startCountingVectorCalls(calls, fromCache);
        final int buffers = ScsiDevice.QUEUE_SIZE - 2;
        final long[] gpas = new long[2 + buffers];
        final int[] lengths = new int[2 + buffers];
        gpas[0] = HEADER;
        lengths[0] = ScsiDevice.REQUEST_HEADER;
        gpas[1] = RESPONSE;
        lengths[1] = 108;
        for (int i = 0; i < buffers; i++)
        {
            // Every other page, last buffer first: no two buffers adjoin.
            gpas[2 + i] = DATA_IN + (long)(buffers - 1 - i) * 8192;
            lengths[2 + i] = 4096;
        }
        final int blocks = buffers * 8;
        for (final boolean cached : new boolean[] {true, false})
        {
            fromCache[0] = cached;
            calls.clear();
            MemorySegment.copy(header(0, 0, bytes(0x28, 0, 0, 0, 0, 16, 0, blocks >>> 8, blocks & 0xFF, 0)), 0, ram,
                ValueLayout.JAVA_BYTE, HEADER, ScsiDevice.REQUEST_HEADER);
            for (int i = 0; i < buffers; i++)
            {
                ram.asSlice(gpas[2 + i], 4096).fill((byte)0x5A);
            }
            driver[2].add(gpas, lengths, 1, 1 + buffers);
            driver[2].publish();
            assertThat((int)awaitUsed(2)).as("used length").isEqualTo(108 + 4096 * buffers);
            assertThat(ram.get(ValueLayout.JAVA_SHORT, RESPONSE + 10)).as("status GOOD, response OK").isZero();
            for (int i = 0; i < buffers; i++)
            {
                assertThat(ram.asSlice(gpas[2 + i], 4096).toArray(ValueLayout.JAVA_BYTE)).as("page %d", i)
                    .isEqualTo(Arrays.copyOfRange(image, 16 * 512 + i * 4096, 16 * 512 + (i + 1) * 4096));
            }
            assertThat(calls).as(cached ? "preadv2 calls on the worker" : "preadv calls on a disk thread")
                .containsExactly(1);
        }

        calls.clear();
        writeBackAt1024(gpas, lengths, buffers, blocks);
        assertThat(calls).as("pwritev calls").containsExactly(1);
        assertThat(Arrays.copyOfRange(imageNow(), 1024 * 512, (1024 + blocks) * 512))
            .isEqualTo(Arrays.copyOfRange(image, 16 * 512, (16 + blocks) * 512));
    }

    /**
     * Starts one LUN whose transfers record their preadv/pwritev call count in {@code calls}: on a disk thread, and on
     * the worker for a READ the page cache holds while {@code fromCache[0]} (false sends every READ to a disk thread).
     */
    private void startCountingVectorCalls(final java.util.List<Integer> calls, final boolean[] fromCache)
        throws Exception
    {
        start(false, false, 1, slot ->
        {
            slot.run();
            calls.add(slot.vectorCalls);
        }, slot ->
        {
            if (!fromCache[0] || !slot.tryReadCached())
            {
                return false;
            }
            calls.add(slot.vectorCalls);
            return true;
        });
    }

    /**
     * WRITE(10) of {@code blocks} blocks at LBA 1024 from the data buffers a READ test used ({@code gpas[2..]},
     * {@code lengths[2..]}), answered GOOD.
     */
    private void writeBackAt1024(final long[] gpas, final int[] lengths, final int buffers, final int blocks)
        throws Exception
    {
        final long[] out = new long[2 + buffers];
        final int[] outLengths = new int[2 + buffers];
        out[0] = HEADER;
        outLengths[0] = ScsiDevice.REQUEST_HEADER;
        System.arraycopy(gpas, 2, out, 1, buffers);
        System.arraycopy(lengths, 2, outLengths, 1, buffers);
        out[1 + buffers] = RESPONSE;
        outLengths[1 + buffers] = 108;
        MemorySegment.copy(header(0, 0, bytes(0x2A, 0, 0, 0, 0x04, 0, 0, blocks >>> 8, blocks & 0xFF, 0)), 0, ram,
            ValueLayout.JAVA_BYTE, HEADER, ScsiDevice.REQUEST_HEADER);
        driver[2].add(out, outLengths, 1 + buffers, 1);
        driver[2].publish();
        assertThat((int)awaitUsed(2)).as("used length").isEqualTo(108);
        assertThat(ram.get(ValueLayout.JAVA_SHORT, RESPONSE + 10)).as("status GOOD, response OK").isZero();
    }

    /**
     * Buffers that each cross from one memory region into the next need an iovec per region: 120 buffers of three
     * blocks over 45 regions of one page are 150 iovecs, more than one call takes, so the data moves in two batches
     * (read from the page cache, read on a disk thread, written), every block to or from its own place.
     */
    @Test
    void buffersSplitOverManyMemoryRegionsMoveInBatchesInOrder() throws Exception
    {
        final int regions = 45;
        final long scatterGpa = 0x1000_0000L;
        final MemorySegment scatter = arena.allocate(regions * 4096L, 4096);
        final java.util.ArrayList<MemoryRegion> split = new java.util.ArrayList<>();
        for (int i = 0; i < regions; i++)
        {
            split.add(MemoryRegion.ofSegment(scatterGpa + i * 4096L, scatter.asSlice(i * 4096L, 4096),
                0x9000_0000L + i * 4096L));
        }
        extraRegions = split;
        final java.util.List<Integer> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        final boolean[] fromCache = {true};
        startCountingVectorCalls(calls, fromCache);
        final int buffers = 120;
        final int length = 3 * 512;
        final long[] gpas = new long[2 + buffers];
        final int[] lengths = new int[2 + buffers];
        gpas[0] = HEADER;
        lengths[0] = ScsiDevice.REQUEST_HEADER;
        gpas[1] = RESPONSE;
        lengths[1] = 108;
        for (int i = 0; i < buffers; i++)
        {
            // Last buffer first, so batches out of order would put blocks in the wrong buffers.
            gpas[2 + i] = scatterGpa + (long)(buffers - 1 - i) * length;
            lengths[2 + i] = length;
        }
        final int blocks = 3 * buffers;
        for (final boolean cached : new boolean[] {true, false})
        {
            fromCache[0] = cached;
            calls.clear();
            scatter.fill((byte)0x5A);
            MemorySegment.copy(header(0, 0, bytes(0x28, 0, 0, 0, 0, 9, 0, blocks >>> 8, blocks & 0xFF, 0)), 0, ram,
                ValueLayout.JAVA_BYTE, HEADER, ScsiDevice.REQUEST_HEADER);
            driver[2].add(gpas, lengths, 1, 1 + buffers);
            driver[2].publish();
            assertThat((int)awaitUsed(2)).as("used length").isEqualTo(108 + length * buffers);
            assertThat(ram.get(ValueLayout.JAVA_SHORT, RESPONSE + 10)).as("status GOOD, response OK").isZero();
            for (int i = 0; i < buffers; i++)
            {
                assertThat(scatter.asSlice(gpas[2 + i] - scatterGpa, length).toArray(ValueLayout.JAVA_BYTE))
                    .as("buffer %d", i).isEqualTo(Arrays.copyOfRange(image, (9 + 3 * i) * 512, (12 + 3 * i) * 512));
            }
            assertThat(calls).as(cached ? "preadv2 calls on the worker" : "preadv calls on a disk thread")
                .containsExactly(2);
        }

        calls.clear();
        writeBackAt1024(gpas, lengths, buffers, blocks);
        assertThat(calls).as("pwritev calls").containsExactly(2);
        assertThat(Arrays.copyOfRange(imageNow(), 1024 * 512, (1024 + blocks) * 512))
            .isEqualTo(Arrays.copyOfRange(image, 9 * 512, (9 + blocks) * 512));
    }

    /**
     * Disk I/O hands host addresses to the kernel: a buffer in a Xen grant region mapped per access (which has no
     * host address of its own) fails the request with a log line, and no grant is ever mapped for it.
     */
    @Test
    void bufferInAXenGrantRegionMappedPerAccessFailsTheRequestWithoutAHostAddress() throws Exception
    {
        final long grant = 1L << 63 | 0x40L << 12;
        try (io.jvhost.memory.xen.FakeXen xen = new io.jvhost.memory.xen.FakeXen(3, 16 * 4096))
        {
            for (int i = 0; i < 16; i++)
            {
                xen.grant(0x40 + i, io.jvhost.memory.xen.FakeXen.RAM_GPA + i * 4096L);
            }
            final int gntdev = xen.openGntdev();
            try
            {
                extraRegions = List.of(MemoryRegion.mapXen(xen, gntdev, grant, 16 * 4096, 0, 0, 0xa, 3));
            }
            finally
            {
                io.jvhost.os.LibC.closeQuietly(gntdev);
            }
            try (io.jvhost.os.LogRecorder log = io.jvhost.os.LogRecorder.of(IoSlot.class))
            {
                start(false, false, 1);
                final byte[] read = header(0, 0, bytes(0x28, 0, 0, 0, 0, 9, 0, 0, 2, 0));
                MemorySegment.copy(read, 0, ram, ValueLayout.JAVA_BYTE, HEADER, read.length);
                driver[2].add(new long[] {HEADER, RESPONSE, grant + 0x100}, new int[] {read.length, 108, 1024}, 1, 2);
                driver[2].publish();
                awaitUsed(2);
                assertThat(ram.get(ValueLayout.JAVA_BYTE, RESPONSE + 11)).as("virtio response S_FAILURE")
                    .isEqualTo((byte)ScsiDevice.S_FAILURE);
                assertThat(log.matching(java.util.logging.Level.ALL, "buffer at guest address 0x8000000000040100 is not"
                    + " in guest memory mapped in advance")).isNotEmpty();
                assertThat(xen.grantMmaps()).as("no grant mapped for the disk").isZero();
                assertThat(xen.ram().asSlice(0x100, 1024).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte)0);
            }
            finally
            {
                device.close();
                device = null;
                extraRegions.getFirst().release();
            }
        }
    }

    @Test
    void blocksPastTheEndAreRefusedWithLbaOutOfRangeAndNothingMoves() throws Exception
    {
        start(false, false, 1);
        final Answer read = command(null, 1024, bytes(0x28, 0, 0, 0, 0x07, 0xFF, 0, 0, 2, 0));
        assertCheck(read, "5/21/00");
        assertThat(read.used()).isEqualTo(108);
        assertCheck(command(null, 512, bytes(0x88, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)), "5/21/00");
        final byte[] block = new byte[512];
        assertCheck(command(block, 0, bytes(0x2A, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0)), "5/21/00");
        assertCheck(command(null, 0, bytes(0x35, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0)), "5/21/00");
        assertThat(imageNow()).isEqualTo(image);
    }

    @Test
    void aReadLargerThanTheChainsBuffersIsAnOverrunWithoutData() throws Exception
    {
        start(false, false, 1);
        final Answer a = command(null, 1024, bytes(0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0));
        assertThat(a.virtioResponse()).as("VIRTIO_SCSI_S_OVERRUN").isEqualTo(1);
        assertThat(a.used()).isEqualTo(108);
        final Answer w = command(new byte[512], 0, bytes(0x2A, 0, 0, 0, 0, 0, 0, 0, 2, 0));
        assertThat(w.virtioResponse()).as("a write with less data-out than it says").isEqualTo(1);
        assertThat(imageNow()).isEqualTo(image);
    }

    @Test
    void aReadOnlyUnitRefusesWritesAndSaysSoInModeSense() throws Exception
    {
        start(true, false, 1);
        final byte[] block = new byte[512];
        assertCheck(command(block, 0, bytes(0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0)), "7/27/00");
        assertCheck(command(block, 0, bytes(0x0A, 0, 0, 0, 1, 0)), "7/27/00");
        assertCheck(command(block, 0, bytes(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)), "7/27/00");
        assertCheck(command(bytes(0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0), 0,
            bytes(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0)), "7/27/00");
        final Answer mode = command(null, 255, bytes(0x1A, 0, 0x3F, 0, 255, 0));
        assertGood(mode);
        assertThat(mode.dataIn()[2] & 0x80).as("WP").isEqualTo(0x80);
        assertGood(command(null, 512, bytes(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0)));
        assertThat(imageNow()).isEqualTo(image);
    }

    @Test
    void modeSenseSixAndTenGiveHeaderBlockDescriptorCachingAndControlPages() throws Exception
    {
        start(false, false, 1);
        final Answer six = command(null, 255, bytes(0x1A, 0, 0x3F, 0, 255, 0));
        assertGood(six);
        assertThat(HexFormat.of().formatHex(six.dataIn())).isEqualTo("2b001008" + "00000800" + "00000200"
            + "0812" + "04" + "00".repeat(17) + "0a0a" + "00".repeat(10));
        final Answer caching = command(null, 255, bytes(0x5A, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0));
        assertThat(HexFormat.of().formatHex(caching.dataIn())).as("MODE SENSE(10), DBD, caching page")
            .isEqualTo("001a00100000" + "0000" + "0812" + "04" + "00".repeat(17));
        final Answer longLba = command(null, 255, bytes(0x5A, 0x10, 0x0A, 0, 0, 0, 0, 0, 255, 0));
        assertThat(HexFormat.of().formatHex(longLba.dataIn(), 0, 24)).isEqualTo("0022001001000010"
            + "0000000000000800" + "0000000000000200");
        assertCheck(command(null, 255, bytes(0x1A, 0, 0x01, 0, 255, 0)), "5/24/00");
        assertCheck(command(null, 255, bytes(0x1A, 0, 0xC8, 0, 255, 0)), "5/39/00");
    }

    @Test
    void unknownCommandsGetInvalidOperationCode() throws Exception
    {
        start(false, false, 1);
        assertCheck(command(null, 64, bytes(0x3B, 0, 0, 0, 0, 0, 0, 0, 0, 0)), "5/20/00");
        assertCheck(command(null, 64, bytes(0xFF)), "5/20/00");
        assertGood(command(null, 0, bytes(0x00, 0, 0, 0, 0, 0)));
        final Answer sense = command(null, 252, bytes(0x03, 0, 0, 0, 252, 0));
        assertGood(sense);
        assertThat(HexFormat.of().formatHex(sense.dataIn())).isEqualTo("700000000000000a" + "00".repeat(10));
    }

    @Test
    void reportLunsListsEveryImageAndAbsentLunsAnswerAsLinuxExpects() throws Exception
    {
        start(false, false, 3);
        final Answer luns = command(null, 256, bytes(0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0));
        assertGood(luns);
        assertThat(HexFormat.of().formatHex(luns.dataIn())).isEqualTo("0000001800000000" + "0000000000000000"
            + "0001000000000000" + "0002000000000000");
        final Answer absent = command(header(0, 7, bytes(0x12, 0, 0, 0, 36, 0)), null, 36);
        assertGood(absent);
        assertThat(absent.dataIn()[0]).as("peripheral qualifier 3: no unit at this LUN").isEqualTo((byte)0x7F);
        assertCheck(command(header(0, 7, bytes(0x00, 0, 0, 0, 0, 0)), null, 0), "5/25/00");
        final Answer lun2 = command(header(0, 2, bytes(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0)), null, 8);
        assertGood(lun2);
        final Answer badTarget = command(header(1, 0, bytes(0x12, 0, 0, 0, 36, 0)), null, 36);
        assertThat(badTarget.virtioResponse()).as("VIRTIO_SCSI_S_BAD_TARGET").isEqualTo(3);
        assertThat(badTarget.used()).isEqualTo(108);
        assertCheck(command(null, 8, bytes(0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0)), "5/24/00");
    }

    @Test
    void unmapAndWriteSameWithUnmapPunchHolesWriteSameWritesThePattern() throws Exception
    {
        start(false, false, 1);
        assertGood(command(bytes(0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 0), 0,
            bytes(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0)));
        assertThat(Arrays.copyOfRange(imageNow(), 8 * 512, 16 * 512)).containsOnly(0);
        assertGood(command(new byte[512], 0, bytes(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 8, 0, 0)));
        assertThat(Arrays.copyOfRange(imageNow(), 32 * 512, 40 * 512)).containsOnly(0);
        final byte[] pattern = new byte[512];
        Arrays.fill(pattern, (byte)0x77);
        assertGood(command(pattern, 0, bytes(0x93, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 1, 0, 0, 0)));
        final byte[] now = imageNow();
        assertThat(Arrays.copyOfRange(now, 100 * 512, 356 * 512)).containsOnly(0x77);
        assertThat(Arrays.copyOfRange(now, 356 * 512, 357 * 512)).isEqualTo(Arrays.copyOfRange(image, 356 * 512,
            357 * 512));
        assertCheck(command(pattern, 0, bytes(0x93, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0)), "5/24/00");
        assertCheck(command(bytes(0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xFF, 0, 0, 0, 2, 0, 0, 0, 0),
            0, bytes(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0)), "5/21/00");
    }

    @Test
    void chainsTooShortForHeaderOrResponseAreReturnedUnusedAndServingGoesOn() throws Exception
    {
        start(false, false, 1);
        driver[2].add(new long[] {HEADER, RESPONSE}, new int[] {20, 108}, 1, 1);
        driver[2].add(new long[] {HEADER, RESPONSE}, new int[] {51, 50}, 1, 1);
        driver[2].add(new long[] {HEADER}, new int[] {51}, 1, 0);
        driver[2].publish();
        for (int i = 0; i < 3; i++)
        {
            assertThat((int)awaitUsed(2)).as("used length of bad chain " + i).isZero();
        }
        assertThat(device.badChains()).isEqualTo(3);
        assertGood(command(null, 0, bytes(0x00, 0, 0, 0, 0, 0)));
    }

    private byte[] control(final byte[] request, final int writable) throws Exception
    {
        MemorySegment.copy(request, 0, ram, ValueLayout.JAVA_BYTE, HEADER, request.length);
        ram.asSlice(RESPONSE, 16).fill((byte)0x5A);
        driver[0].add(new long[] {HEADER, RESPONSE}, new int[] {request.length, writable}, 1, 1);
        driver[0].publish();
        final int used = (int)awaitUsed(0);
        return ram.asSlice(RESPONSE, used).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void taskManagementAndEventQueriesOnTheControlQueue() throws Exception
    {
        start(false, false, 2);
        final byte[] abort = bytes(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x40, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0);
        assertThat(control(abort, 1)).as("ABORT_TASK on lun 1: FUNCTION COMPLETE").containsExactly(0);
        final byte[] badLun = abort.clone();
        badLun[11] = 5;
        assertThat(control(badLun, 1)).as("VIRTIO_SCSI_S_INCORRECT_LUN").containsExactly(12);
        final byte[] badTarget = abort.clone();
        badTarget[9] = 3;
        assertThat(control(badTarget, 1)).as("VIRTIO_SCSI_S_BAD_TARGET").containsExactly(3);
        final byte[] unknown = abort.clone();
        unknown[4] = 42;
        assertThat(control(unknown, 1)).as("VIRTIO_SCSI_S_FUNCTION_REJECTED").containsExactly(11);
        final byte[] query = bytes(1, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 0x7E, 0, 0, 0);
        assertThat(control(query, 5)).as("AN_QUERY: no events, OK").containsExactly(0, 0, 0, 0, 0);
        assertThat(control(bytes(1, 0, 0, 0, 1, 0), 5)).as("too short: returned unused").isEmpty();
    }

    @Test
    void aStalledDiskHoldsOnlyItsTransferControlRequestsAndOtherCommandsAreAnswered() throws Exception
    {
        final java.util.concurrent.CountDownLatch diskStarted = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch diskMayGo = new java.util.concurrent.CountDownLatch(1);
        start(false, false, 1, slot ->
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
        // A READ whose disk transfer stalls.
        MemorySegment.copy(header(0, 0, bytes(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0)), 0, ram, ValueLayout.JAVA_BYTE,
            0x200000, ScsiDevice.REQUEST_HEADER);
        driver[2].add(new long[] {0x200000, 0x210000, 0x220000}, new int[] {ScsiDevice.REQUEST_HEADER, 108, 512}, 1,
            2);
        driver[2].publish();
        queue[2].serve(device);
        assertThat(diskStarted.await(10, TimeUnit.SECONDS)).as("the transfer reached the disk").isTrue();
        assertThat(driver[2].pollUsed()).as("the stalled READ is not answered").isEqualTo(-1);

        // Commands that need no disk are answered meanwhile, and so is an event query.
        assertGood(command(null, 0, bytes(0x00, 0, 0, 0, 0, 0)));
        assertThat(command(null, 36, bytes(0x12, 0, 0, 0, 36, 0)).dataIn()).hasSize(36);
        assertThat(control(bytes(1, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0), 5)).containsExactly(0, 0, 0, 0, 0);

        // ABORT TASK waits for the transfer in flight: it is confirmed only after the READ completed.
        MemorySegment.copy(bytes(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0), 0, ram,
            ValueLayout.JAVA_BYTE, 0x230000, 24);
        driver[0].add(new long[] {0x230000, 0x240000}, new int[] {24, 1}, 1, 1);
        driver[0].publish();
        queue[0].serve(device);
        assertThat(driver[0].pollUsed()).as("the abort is held while the READ is in flight").isEqualTo(-1);

        diskMayGo.countDown();
        final long read = awaitUsed(2);
        assertThat((int)read).isEqualTo(108 + 512);
        assertThat(ram.asSlice(0x220000, 512).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Arrays.copyOf(image, 512));
        assertThat((int)awaitUsed(0)).as("then the abort is answered").isEqualTo(1);
        assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x240000)).as("FUNCTION COMPLETE").isZero();
    }

    /** A disk whose every transfer waits for {@code mayGo}; counts {@code started} down as one arrives. */
    private static java.util.function.Consumer<IoSlot> stalledDisk(final java.util.concurrent.CountDownLatch started,
        final java.util.concurrent.CountDownLatch mayGo)
    {
        return slot ->
        {
            started.countDown();
            try
            {
                mayGo.await();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
            slot.run();
        };
    }

    @Test
    void aReadThePageCacheHoldsIsAnsweredOnTheWorkerWhileTheDiskIsStalled() throws Exception
    {
        final java.util.concurrent.CountDownLatch diskStarted = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch diskMayGo = new java.util.concurrent.CountDownLatch(1);
        start(false, false, 1, stalledDisk(diskStarted, diskMayGo), IoSlot::tryReadCached);
        // A WRITE(10) of one block, stalled on the disk.
        MemorySegment.copy(header(0, 0, bytes(0x2A, 0, 0, 0, 0, 9, 0, 0, 1, 0)), 0, ram, ValueLayout.JAVA_BYTE,
            0x200000, ScsiDevice.REQUEST_HEADER);
        ram.asSlice(0x250000, 512).fill((byte)0x3C);
        driver[2].add(new long[] {0x200000, 0x250000, 0x210000}, new int[] {ScsiDevice.REQUEST_HEADER, 512, 108}, 2,
            1);
        driver[2].publish();
        queue[2].serve(device);
        assertThat(diskStarted.await(10, TimeUnit.SECONDS)).as("the WRITE reached the disk").isTrue();

        // READs of the image just written (in the page cache) need no disk thread: every one of them would stall.
        final Answer small = command(null, 4096, bytes(0x28, 0, 0, 0, 0, 3, 0, 0, 8, 0));
        assertGood(small);
        assertThat(small.dataIn()).isEqualTo(Arrays.copyOfRange(image, 3 * 512, 3 * 512 + 4096));
        final Answer large = command(null, 512 * 1024, bytes(0x28, 0, 0, 0, 0, 0, 0, 0x04, 0, 0));
        assertGood(large);
        assertThat(large.dataIn()).isEqualTo(Arrays.copyOf(image, 512 * 1024));
        assertThat(device.transfersRunning()).as("only the WRITE is on a disk thread").isEqualTo(1);

        diskMayGo.countDown();
        assertThat((int)awaitUsed(2)).as("the WRITE, answered once the disk went on").isEqualTo(108);
        assertThat(Arrays.copyOfRange(imageNow(), 9 * 512, 10 * 512)).containsOnly((byte)0x3C);
    }

    @Test
    void aReadOfBlocksNotInThePageCacheGoesToADiskThreadAndTheWorkerServesOn() throws Throwable
    {
        final java.util.concurrent.CountDownLatch diskStarted = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch diskMayGo = new java.util.concurrent.CountDownLatch(1);
        start(false, false, 1, stalledDisk(diskStarted, diskMayGo), IoSlot::tryReadCached);
        evictFromPageCache(imagePath);
        MemorySegment.copy(header(0, 0, bytes(0x28, 0, 0, 0, 0x02, 0, 0, 0, 8, 0)), 0, ram, ValueLayout.JAVA_BYTE,
            0x200000, ScsiDevice.REQUEST_HEADER);
        driver[2].add(new long[] {0x200000, 0x210000, 0x220000}, new int[] {ScsiDevice.REQUEST_HEADER, 108, 4096}, 1,
            2);
        driver[2].publish();
        queue[2].serve(device);
        assertThat(diskStarted.await(10, TimeUnit.SECONDS)).as("the READ of evicted blocks reached the disk").isTrue();
        assertThat(driver[2].pollUsed()).as("and waits for it").isEqualTo(-1);
        assertGood(command(null, 0, bytes(0x00, 0, 0, 0, 0, 0)));
        assertThat(control(bytes(1, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0), 5)).containsExactly(0, 0, 0, 0, 0);

        diskMayGo.countDown();
        assertThat((int)awaitUsed(2)).isEqualTo(108 + 4096);
        assertThat(ram.asSlice(0x220000, 4096).toArray(ValueLayout.JAVA_BYTE))
            .isEqualTo(Arrays.copyOfRange(image, 512 * 512, 512 * 512 + 4096));
    }

    /** Writes {@code file}'s dirty pages back and drops its clean ones (posix_fadvise DONTNEED). */
    private static void evictFromPageCache(final Path file) throws Throwable
    {
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(file,
            java.nio.file.StandardOpenOption.WRITE))
        {
            c.force(true);
        }
        final java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        final java.lang.invoke.MethodHandle fadvise = linker.downcallHandle(
            linker.defaultLookup().findOrThrow("posix_fadvise"), java.lang.foreign.FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT));
        final int fd = io.jvhost.os.LibC.open(file.toString(), 0);
        try
        {
            assertThat((int)fadvise.invokeExact(fd, 0L, 0L, 4)).as("posix_fadvise(DONTNEED)").isZero();
        }
        finally
        {
            io.jvhost.os.LibC.closeQuietly(fd);
        }
    }
}
