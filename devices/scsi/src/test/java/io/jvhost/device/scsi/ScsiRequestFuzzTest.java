package io.jvhost.device.scsi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes virtio-scsi's request and control queues against a real {@link ScsiDevice} over image files (two LUNs
 * writable, or one read-only): any request header and CDB (often a known opcode with fuzzed fields, to get past the
 * opcode switch), data-out of any bytes, data-in buffers of any sizes, task management and event queries of any
 * bytes, with disk transfers in flight while others arrive. Every request is answered exactly once: 0 bytes only when
 * its chain cannot hold a request header and a response, else a well-formed response (sense length 0 or a fixed
 * sense of 18 bytes with CHECK CONDITION, a known virtio response code (no data unless OK), a residual within data-in, used length
 * {@code 108 + data}); every control request once with 0, 1 (task management, a known answer) or 5 bytes (event
 * query). A READ that succeeds returns exactly the image's bytes when nothing wrote to it; no image changes size, a
 * read-only image does not change at all. QueueFuzzer checks that nothing outside the response buffers changes.
 */
class ScsiRequestFuzzTest
{
    private static final int IMAGE_BYTES = 64 * LogicalUnit.BLOCK_SIZE;
    private static final byte[] PATTERN = new byte[IMAGE_BYTES];
    private static final int[] OPCODES = {0x00, 0x03, 0x12, 0x25, 0x9E, 0x1A, 0x5A, 0xA0, 0x08, 0x0A, 0x28, 0x2A,
        0xA8, 0xAA, 0x88, 0x8A, 0x35, 0x91, 0x42, 0x93, 0x1B, 0x1E};
    /** Opcodes that may change an image. */
    private static final int[] WRITES = {0x0A, 0x2A, 0xAA, 0x8A, 0x42, 0x93};
    private static final QueueFuzzer CONTROL = new QueueFuzzer();
    private static final QueueFuzzer REQUESTS = new QueueFuzzer();
    private static final Semaphore WOKEN = new Semaphore(0);
    private static final ByteBuffer READ_BACK = ByteBuffer.allocate(IMAGE_BYTES);
    private static final Path DIR;
    private static final Path[] IMAGES;
    private static final ScsiDevice WRITABLE;
    private static final ScsiDevice READ_ONLY;

    static
    {
        for (int i = 0; i < IMAGE_BYTES; i++)
        {
            PATTERN[i] = (byte)(i * 7 + (i >>> 9));
        }
        try
        {
            DIR = Files.createTempDirectory("jvhost-scsi-fuzz");
            IMAGES = new Path[] {DIR.resolve("lun0.img"), DIR.resolve("lun1.img"), DIR.resolve("ro.img")};
            for (final Path p : IMAGES)
            {
                Files.write(p, PATTERN);
                p.toFile().deleteOnExit();
            }
            DIR.toFile().deleteOnExit();
            WRITABLE = ScsiDevice.open("fuzz", List.of(IMAGES[0].toString(), IMAGES[1].toString()), false, true, 2);
            READ_ONLY = ScsiDevice.open("fuzz-ro", List.of(IMAGES[2].toString()), true, false, 1);
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
        for (final ScsiDevice d : new ScsiDevice[] {WRITABLE, READ_ONLY})
        {
            d.attach(new DeviceContext()
            {
                @Override
                public void wake(final int queue)
                {
                    WOKEN.release();
                }
            });
            d.featuresAcked(d.features());
        }
    }

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredOnceAndImagesStayInBounds(final FuzzedDataProvider data) throws Exception
    {
        final boolean readOnly = data.consumeInt(0, 3) == 0;
        final ScsiDevice device = readOnly ? READ_ONLY : WRITABLE;
        final Path[] images = readOnly ? new Path[] {IMAGES[2]} : new Path[] {IMAGES[0], IMAGES[1]};
        for (final Path p : images)
        {
            restore(p);
        }
        device.reset();
        CONTROL.reset(ScsiDevice.CONTROL, device.features());
        REQUESTS.reset(ScsiDevice.REQUEST, device.features());
        REQUESTS.asynchronous(true);
        device.queueStarted(ScsiDevice.CONTROL);
        device.queueStarted(ScsiDevice.REQUEST);
        WOKEN.drainPermits();

        final byte[][] sent = new byte[QueueFuzzer.SIZE][];
        boolean wrote = false;
        while (data.remainingBytes() > 0)
        {
            if (data.consumeInt(0, 5) == 0)
            {
                final byte[] request = control(data);
                CONTROL.add(data, request, 8);
                check(CONTROL, CONTROL.serve(device), sent, false);
            }
            else
            {
                final byte[] request = request(data, readOnly ? 1 : 2);
                wrote |= Arrays.stream(WRITES).anyMatch(op -> op == (request.length > 19 ? request[19] & 0xFF : -1));
                final int head = REQUESTS.add(data, request, data.consumeBoolean() ? 108 : data.consumeInt(0, 2048));
                if (head >= 0)
                {
                    sent[head] = request;
                }
                check(REQUESTS, REQUESTS.serve(device), sent, !wrote);
            }
            if (data.consumeInt(0, 3) == 0)
            {
                drain(device, sent, !wrote);
            }
        }
        drain(device, sent, !wrote);

        for (final Path p : images)
        {
            assertThat(Files.size(p)).as("size of %s", p.getFileName()).isEqualTo(IMAGE_BYTES);
        }
        if (readOnly)
        {
            assertThat(Files.readAllBytes(images[0])).as("read-only image").isEqualTo(PATTERN);
        }
        CONTROL.finish();
        REQUESTS.finish();
    }

    /**
     * Puts back the image's pattern where an earlier input changed it: read and compared (32 KiB from the page
     * cache), written only when it differs, truncated only when its size changed; {@code Files.write} per input
     * (open with O_TRUNC of a file the LUN holds open) was most of an execution's time.
     */
    private static void restore(final Path image) throws IOException
    {
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer now = READ_BACK.clear();
            while (now.hasRemaining() && channel.read(now, now.position()) > 0)
            {
                // read on: a short read only at the end of a shrunk image
            }
            if (channel.size() != IMAGE_BYTES || now.position() != IMAGE_BYTES
                || !Arrays.equals(READ_BACK.array(), PATTERN))
            {
                final ByteBuffer pattern = ByteBuffer.wrap(PATTERN);
                while (pattern.hasRemaining())
                {
                    channel.write(pattern, pattern.position());
                }
                channel.truncate(IMAGE_BYTES);
            }
        }
    }

    /** Serves both queues until every request and control request is answered (transfers finish on disk threads). */
    private static void drain(final ScsiDevice device, final byte[][] sent, final boolean imageIntact)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (REQUESTS.outstanding() > 0 || CONTROL.outstanding() > 0)
        {
            check(REQUESTS, REQUESTS.serve(device), sent, imageIntact);
            check(CONTROL, CONTROL.serve(device), sent, false);
            if (REQUESTS.outstanding() == 0 && CONTROL.outstanding() == 0)
            {
                return;
            }
            final long left = deadline - System.nanoTime();
            assertThat(left).as("%d requests and %d control requests unanswered after 10 s",
                REQUESTS.outstanding(), CONTROL.outstanding()).isPositive();
            WOKEN.tryAcquire(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)), TimeUnit.NANOSECONDS);
        }
    }

    private static void check(final QueueFuzzer queue, final long[] used, final byte[][] sent,
        final boolean imageIntact)
    {
        for (final long u : used)
        {
            final int head = (int)(u >>> 32);
            final long length = u & 0xFFFF_FFFFL;
            if (queue == CONTROL)
            {
                checkControl(head, length);
            }
            else
            {
                checkRequest(head, length, sent[head], imageIntact);
            }
        }
    }

    private static void checkControl(final int head, final long length)
    {
        assertThat(length).as("control answer length").isIn(0L, 1L, 5L);
        if (length == 1)
        {
            assertThat(CONTROL.written(head, 1)[0] & 0xFF).as("task management answer")
                .isIn(ScsiDevice.S_FUNCTION_COMPLETE, ScsiDevice.S_BAD_TARGET, ScsiDevice.S_FUNCTION_REJECTED,
                    ScsiDevice.S_INCORRECT_LUN);
        }
        else if (length == 5)
        {
            final byte[] answer = CONTROL.written(head, 5);
            assertThat(ByteBuffer.wrap(answer).order(ByteOrder.LITTLE_ENDIAN).getInt()).as("event_actual").isZero();
            assertThat(answer[4] & 0xFF).isIn(ScsiDevice.S_OK, ScsiDevice.S_BAD_TARGET, ScsiDevice.S_INCORRECT_LUN);
        }
    }

    private static void checkRequest(final int head, final long length, final byte[] request,
        final boolean imageIntact)
    {
        final long writable = REQUESTS.writableBytes(head);
        if (length == 0)
        {
            assertThat(request.length < ScsiDevice.REQUEST_HEADER || writable < ScsiDevice.RESPONSE_HEADER)
                .as("a request of %d readable and %d writable bytes answered with nothing", request.length, writable)
                .isTrue();
            return;
        }
        assertThat(length).as("used length").isGreaterThanOrEqualTo(ScsiDevice.RESPONSE_HEADER);
        final byte[] answer = REQUESTS.written(head, length);
        final ByteBuffer r = ByteBuffer.wrap(answer).order(ByteOrder.LITTLE_ENDIAN);
        final int senseLength = r.getInt(0);
        final long resid = r.getInt(4) & 0xFFFF_FFFFL;
        final int status = answer[10] & 0xFF;
        final int response = answer[11] & 0xFF;
        final long dataIn = writable - ScsiDevice.RESPONSE_HEADER;
        assertThat(response).as("virtio response").isIn(ScsiDevice.S_OK, ScsiDevice.S_OVERRUN,
            ScsiDevice.S_BAD_TARGET, ScsiDevice.S_FAILURE);
        if (response != ScsiDevice.S_OK)
        {
            assertThat(length).as("data with virtio response %d", response).isEqualTo(ScsiDevice.RESPONSE_HEADER);
        }
        assertThat(status).as("SCSI status").isIn(Sense.GOOD, Sense.CHECK_CONDITION);
        assertThat(resid).as("residual of %d data-in bytes", dataIn).isLessThanOrEqualTo(Math.max(dataIn,
            request.length - ScsiDevice.REQUEST_HEADER));
        if (status == Sense.CHECK_CONDITION)
        {
            assertThat(senseLength).as("sense length").isEqualTo(Sense.FIXED_LENGTH);
            assertThat(answer[12] & 0x7F).as("fixed sense, current").isEqualTo(0x70);
            assertThat(length).as("data with CHECK CONDITION").isEqualTo(ScsiDevice.RESPONSE_HEADER);
        }
        else
        {
            assertThat(senseLength).as("sense length with GOOD").isZero();
        }
        final int op = request[19] & 0xFF;
        if (imageIntact && status == Sense.GOOD && response == ScsiDevice.S_OK && length > ScsiDevice.RESPONSE_HEADER
            && (op == 0x28 || op == 0x88))
        {
            final ByteBuffer cdb = ByteBuffer.wrap(request, 19, 16);
            final long lba = op == 0x28 ? cdb.getInt(21) & 0xFFFF_FFFFL : cdb.getLong(21);
            final int n = (int)(length - ScsiDevice.RESPONSE_HEADER);
            assertThat(Arrays.copyOfRange(answer, ScsiDevice.RESPONSE_HEADER, answer.length))
                .as("READ of LBA %d: the image's bytes", lba)
                .isEqualTo(Arrays.copyOfRange(PATTERN, (int)(lba * LogicalUnit.BLOCK_SIZE),
                    (int)(lba * LogicalUnit.BLOCK_SIZE) + n));
        }
    }

    /** A request header (a valid LUN address most of the time) and CDB, then data-out. */
    private static byte[] request(final FuzzedDataProvider data, final int luns)
    {
        final byte[] bytes = data.consumeBytes(data.consumeInt(0, 1200));
        if (bytes.length >= 8 && data.consumeBoolean())
        {
            bytes[0] = 1;
            bytes[1] = 0;
            bytes[2] = 0x40;
            bytes[3] = (byte)data.consumeInt(0, luns);
            Arrays.fill(bytes, 4, 8, (byte)0);
        }
        if (bytes.length > 19 && data.consumeBoolean())
        {
            bytes[19] = (byte)OPCODES[data.consumeInt(0, OPCODES.length - 1)];
        }
        return bytes;
    }

    /** A control request: task management or an event query (or any type), any subtype and LUN. */
    private static byte[] control(final FuzzedDataProvider data)
    {
        final byte[] bytes = data.consumeBytes(data.consumeInt(0, 32));
        if (bytes.length >= 4 && data.consumeBoolean())
        {
            bytes[0] = (byte)data.consumeInt(0, 2);
            bytes[1] = bytes[2] = bytes[3] = 0;
        }
        return bytes;
    }
}
