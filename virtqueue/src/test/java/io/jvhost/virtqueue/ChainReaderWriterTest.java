package io.jvhost.virtqueue;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.GPA0;
import static io.jvhost.virtqueue.Fixture.GPA1;
import static io.jvhost.virtqueue.Fixture.GPA2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The chain under test: readable buffers R0 (5 bytes, region 0), R1 (16 bytes straddling the region boundary), R2 (3
 * bytes, region 1); writable buffers W0 (3 bytes, region 0), W1 (12 bytes straddling the region 1/2 boundary), W2
 * (empty), W3 (20 bytes, region 2).
 */
class ChainReaderWriterTest
{
    private static final long[] READ_GPAS = {GPA0 + 0x8000, GPA1 - 6, GPA1 + 0x100};
    private static final int[] READ_LENGTHS = {5, 16, 3};
    private static final long[] WRITE_GPAS = {GPA0 + 0x9000, GPA2 - 5, GPA1 + 0x200, GPA2 + 0x300};
    private static final int[] WRITE_LENGTHS = {3, 12, 0, 20};
    private static final int READABLE = 24;
    private static final int WRITABLE = 35;

    private final Fixture f = new Fixture(16, ALL);
    private byte[] stream;

    @BeforeEach
    void addChain()
    {
        stream = Fixture.pattern(READABLE, 0x31);
        int at = 0;
        for (int i = 0; i < READ_GPAS.length; i++)
        {
            f.write(READ_GPAS[i], Arrays.copyOfRange(stream, at, at + READ_LENGTHS[i]));
            at += READ_LENGTHS[i];
        }
        for (int i = 0; i < WRITE_GPAS.length; i++)
        {
            f.write(WRITE_GPAS[i], filled(WRITE_LENGTHS[i], (byte)0xEE));
        }
        final long[] gpas = new long[7];
        final int[] lengths = new int[7];
        System.arraycopy(READ_GPAS, 0, gpas, 0, 3);
        System.arraycopy(WRITE_GPAS, 0, gpas, 3, 4);
        System.arraycopy(READ_LENGTHS, 0, lengths, 0, 3);
        System.arraycopy(WRITE_LENGTHS, 0, lengths, 3, 4);
        f.add(gpas, lengths, 3, 4);
        assertThat(f.pop()).isTrue();
    }

    @AfterEach
    void close()
    {
        f.close();
    }

    private static byte[] filled(final int length, final byte value)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, value);
        return bytes;
    }

    /** What the writable buffers hold, concatenated. */
    private byte[] writableBytes()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < WRITE_GPAS.length; i++)
        {
            out.writeBytes(f.read(WRITE_GPAS[i], WRITE_LENGTHS[i]));
        }
        return out.toByteArray();
    }

    private static ByteBuffer le(final byte[] bytes)
    {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void readerReadsOneStreamAcrossDescriptorsAndRegions() throws Exception
    {
        final ChainReader reader = f.chain.reader();
        assertThat(reader.remaining()).isEqualTo(READABLE);

        assertThat(reader.readByte()).isEqualTo(stream[0]);
        assertThat(reader.readShort()).isEqualTo(le(stream).getShort(1));
        assertThat(reader.readLong()).as("crosses R0/R1").isEqualTo(le(stream).getLong(3));
        assertThat(reader.readInt()).as("crosses the region boundary inside R1").isEqualTo(le(stream).getInt(11));
        final byte[] rest = new byte[READABLE - 15];
        reader.read(MemorySegment.ofArray(rest), 0, rest.length);

        assertThat(rest).isEqualTo(Arrays.copyOfRange(stream, 15, READABLE));
        assertThat(reader.position()).isEqualTo(READABLE);
        assertThat(reader.remaining()).isZero();
    }

    @Test
    void readerReadsCorrectValuesAtEveryOffset() throws Exception
    {
        final ChainReader reader = f.chain.reader();
        for (int offset = 0; offset <= READABLE - 8; offset++)
        {
            reader.rewind();
            reader.skip(offset);
            assertThat(reader.readLong()).as("long at %d", offset).isEqualTo(le(stream).getLong(offset));
            reader.rewind();
            reader.skip(offset);
            assertThat(reader.readInt()).as("int at %d", offset).isEqualTo(le(stream).getInt(offset));
            assertThat(reader.readShort()).as("short at %d", offset + 4).isEqualTo(le(stream).getShort(offset + 4));
            assertThat(reader.position()).isEqualTo(offset + 6);
        }
    }

    @Test
    void readerCopiesEverySplitOfTheStream() throws Exception
    {
        final ChainReader reader = f.chain.reader();
        for (int first = 0; first <= READABLE; first++)
        {
            reader.rewind();
            final MemorySegment dst = MemorySegment.ofArray(new byte[READABLE + 4]);
            reader.read(dst, 2, first);
            reader.read(dst, 2 + first, READABLE - first);
            assertThat(dst.asSlice(2, READABLE).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).isEqualTo(stream);
        }
    }

    @Test
    void readPastTheEndThrowsAndConsumesNothing() throws Exception
    {
        final ChainReader reader = f.chain.reader();
        reader.skip(READABLE - 3);

        assertThatThrownBy(reader::readInt).isInstanceOf(ChainAccessException.class)
            .hasMessageContaining("read of 4 bytes at position 21").hasMessageContaining("remaining=3")
            .hasMessageContaining("head=" + f.chain.head());
        assertThatThrownBy(() -> reader.read(MemorySegment.ofArray(new byte[8]), 0, 4))
            .isInstanceOf(ChainAccessException.class);
        assertThatThrownBy(() -> reader.skip(4)).isInstanceOf(ChainAccessException.class);
        assertThat(reader.remaining()).isEqualTo(3);
        assertThat(reader.readShort()).isEqualTo(le(stream).getShort(21));
        assertThat(reader.readByte()).isEqualTo(stream[23]);
        assertThatThrownBy(reader::readByte).isInstanceOf(ChainAccessException.class);
    }

    @Test
    void readIntoTooSmallDestinationConsumesNothing()
    {
        final ChainReader reader = f.chain.reader();

        assertThatThrownBy(() -> reader.read(MemorySegment.ofArray(new byte[4]), 1, 4))
            .isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(reader.position()).isZero();
    }

    @Test
    void writerWritesOneStreamAcrossDescriptorsAndRegions() throws Exception
    {
        final ChainWriter writer = f.chain.writer();
        assertThat(writer.remaining()).isEqualTo(WRITABLE);
        final ByteBuffer expected = ByteBuffer.allocate(WRITABLE).order(ByteOrder.LITTLE_ENDIAN);

        writer.writeByte((byte)0x11);
        expected.put((byte)0x11);
        writer.writeInt(0x22334455);
        expected.putInt(0x22334455);
        writer.writeLong(0x0102030405060708L);
        expected.putLong(0x0102030405060708L);
        writer.writeShort((short)0x6677);
        expected.putShort((short)0x6677);
        final byte[] tail = Fixture.pattern(WRITABLE - 15, 0x50);
        writer.write(MemorySegment.ofArray(tail), 0, tail.length);
        expected.put(tail);

        assertThat(writer.written()).isEqualTo(WRITABLE);
        assertThat(writer.remaining()).isZero();
        assertThat(writableBytes()).isEqualTo(expected.array());
    }

    @Test
    void writePastTheEndThrowsAndWritesNothing() throws Exception
    {
        final ChainWriter writer = f.chain.writer();
        writer.fill(WRITABLE - 5);
        final byte[] before = writableBytes();

        assertThatThrownBy(() -> writer.writeLong(-1L)).isInstanceOf(ChainAccessException.class)
            .hasMessageContaining("write of 8 bytes at position 30").hasMessageContaining("remaining=5");
        assertThatThrownBy(() -> writer.write(MemorySegment.ofArray(new byte[6]), 0, 6))
            .isInstanceOf(ChainAccessException.class);
        assertThatThrownBy(() -> writer.fill(6)).isInstanceOf(ChainAccessException.class);

        assertThat(writer.written()).isEqualTo(WRITABLE - 5);
        assertThat(writableBytes()).isEqualTo(before);
        writer.writeInt(-1);
        writer.writeByte((byte)-1);
        assertThatThrownBy(() -> writer.writeByte((byte)0)).isInstanceOf(ChainAccessException.class);
    }

    @Test
    void writerRewindStartsTheWritablePartOver() throws Exception
    {
        final ChainWriter writer = f.chain.writer();
        writer.fill(WRITABLE);

        writer.rewind();
        writer.writeInt(0x01020304);

        assertThat(writer.written()).isEqualTo(4);
        assertThat(writer.remaining()).isEqualTo(WRITABLE - 4);
        assertThat(Arrays.copyOf(writableBytes(), 5)).containsExactly(4, 3, 2, 1, 0);
    }

    @Test
    void fillWritesZeros() throws Exception
    {
        final ChainWriter writer = f.chain.writer();

        writer.writeByte((byte)7);
        writer.fill(WRITABLE - 2);

        final byte[] expected = new byte[WRITABLE];
        expected[0] = 7;
        expected[WRITABLE - 1] = (byte)0xEE;
        assertThat(writableBytes()).isEqualTo(expected);
    }

    private record Span(long address, long length)
    {
    }

    private static long host(final MemorySegment ram, final long regionGpa, final long gpa)
    {
        return ram.address() + (gpa - regionGpa);
    }

    @Test
    @SuppressWarnings("restricted") // The transfer writes through the raw host address it is given, like read(2) would.
    void transferFromSplitsSpansAtDescriptorAndRegionBoundaries()
    {
        final List<Span> spans = new ArrayList<>();
        final byte[] source = Fixture.pattern(WRITABLE, 0x70);

        final long done = f.chain.writer().transferFrom((address, length) ->
        {
            final int from = spans.stream().mapToInt(s -> (int)s.length()).sum();
            spans.add(new Span(address, length));
            MemorySegment.ofAddress(address).reinterpret(length)
                .copyFrom(MemorySegment.ofArray(Arrays.copyOfRange(source, from, from + (int)length)));
            return length;
        }, Long.MAX_VALUE);

        assertThat(done).isEqualTo(WRITABLE);
        assertThat(f.chain.writer().written()).isEqualTo(WRITABLE);
        assertThat(spans).containsExactly(
            new Span(host(f.ram0, GPA0, WRITE_GPAS[0]), 3),
            new Span(host(f.ram1, GPA1, GPA2 - 5), 5),
            new Span(host(f.ram2, GPA2, GPA2), 7),
            new Span(host(f.ram2, GPA2, WRITE_GPAS[3]), 20));
        assertThat(writableBytes()).isEqualTo(source);
    }

    @Test
    void transferFromStopsAtMaxLength()
    {
        final List<Span> spans = new ArrayList<>();

        final long done = f.chain.writer().transferFrom((address, length) ->
        {
            spans.add(new Span(address, length));
            return length;
        }, 6);

        assertThat(done).isEqualTo(6);
        assertThat(spans).extracting(Span::length).containsExactly(3L, 3L);
        assertThat(f.chain.writer().remaining()).isEqualTo(WRITABLE - 6);
    }

    @Test
    void transferFromStopsAtAShortSpan() throws Exception
    {
        final List<Span> spans = new ArrayList<>();

        final long done = f.chain.writer().transferFrom((address, length) ->
        {
            spans.add(new Span(address, length));
            return spans.size() == 2 ? 2 : length;
        }, Long.MAX_VALUE);

        assertThat(done).isEqualTo(5);
        assertThat(spans).hasSize(2);
        assertThat(f.chain.writer().written()).isEqualTo(5);
        f.chain.writer().writeByte((byte)1);
        assertThat(f.read(GPA2 - 3, 1)[0]).isEqualTo((byte)1);
    }

    @Test
    void transferFromReturnsTheErrorWhenNothingWasTransferred()
    {
        assertThat(f.chain.writer().transferFrom((address, length) -> -11, 100)).isEqualTo(-11);
        assertThat(f.chain.writer().written()).isZero();
    }

    @Test
    void transferFromReturnsTheProgressWhenALaterSpanFails()
    {
        final int[] calls = {0};

        final long done = f.chain.writer().transferFrom((address, length) -> ++calls[0] == 1 ? length : -5, 100);

        assertThat(done).isEqualTo(3);
        assertThat(f.chain.writer().written()).isEqualTo(3);
    }

    @Test
    void transferFromRejectsATransferClaimingMoreThanOffered()
    {
        assertThatThrownBy(() -> f.chain.writer().transferFrom((address, length) -> length + 1, 100))
            .isInstanceOf(IllegalStateException.class);
    }

    @Test
    @SuppressWarnings("restricted") // The transfer reads through the raw host address it is given, like send(2) would.
    void transferToSplitsSpansAtDescriptorAndRegionBoundariesAndContinuesWhereItStopped() throws Exception
    {
        final List<Span> spans = new ArrayList<>();
        final ByteArrayOutputStream taken = new ByteArrayOutputStream();
        final ChainReader reader = f.chain.reader();
        reader.skip(2);

        final long done = reader.transferTo((address, length) ->
        {
            spans.add(new Span(address, length));
            taken.writeBytes(MemorySegment.ofAddress(address).reinterpret(length).toArray(ValueLayout.JAVA_BYTE));
            return length;
        }, 20);

        assertThat(done).isEqualTo(20);
        assertThat(taken.toByteArray()).isEqualTo(Arrays.copyOfRange(stream, 2, 22));
        assertThat(spans).containsExactly(
            new Span(host(f.ram0, GPA0, READ_GPAS[0] + 2), 3),
            new Span(host(f.ram0, GPA0, GPA1 - 6), 6),
            new Span(host(f.ram1, GPA1, GPA1), 10),
            new Span(host(f.ram1, GPA1, READ_GPAS[2]), 1));
        assertThat(reader.position()).isEqualTo(22);
        final byte[] rest = new byte[2];
        reader.read(MemorySegment.ofArray(rest), 0, 2);
        assertThat(rest).isEqualTo(Arrays.copyOfRange(stream, 22, 24));
    }

    @Test
    void transferToStopsAtAShortSpanAndTheNextReadStartsAfterWhatWasTaken() throws Exception
    {
        final int[] calls = {0};
        final ChainReader reader = f.chain.reader();

        final long done = reader.transferTo((address, length) -> ++calls[0] == 2 ? 4 : length, Long.MAX_VALUE);

        assertThat(done).isEqualTo(9);
        assertThat(calls[0]).isEqualTo(2);
        assertThat(reader.readByte()).isEqualTo(stream[9]);
    }

    @Test
    void transferToReturnsTheErrorWhenNothingWasTakenAndTheProgressOtherwise()
    {
        final ChainReader reader = f.chain.reader();
        assertThat(reader.transferTo((address, length) -> -11, 100)).isEqualTo(-11);
        assertThat(reader.position()).isZero();
        final int[] calls = {0};
        assertThat(reader.transferTo((address, length) -> ++calls[0] == 1 ? length : -32, 100)).isEqualTo(5);
        assertThat(reader.position()).isEqualTo(5);
        assertThatThrownBy(() -> reader.transferTo((address, length) -> length + 1, 100))
            .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void chainWithoutWritableBuffersHasNoRoom()
    {
        f.add(new long[]{READ_GPAS[0]}, new int[]{5}, 1, 0);
        assertThat(f.pop()).isTrue();

        assertThat(f.chain.writer().remaining()).isZero();
        assertThat(f.chain.writer().transferFrom((address, length) -> length, 10)).isZero();
        assertThatThrownBy(() -> f.chain.writer().writeByte((byte)0)).isInstanceOf(ChainAccessException.class);
    }

    @Test
    void popRepositionsTheCursors() throws Exception
    {
        f.chain.reader().skip(10);
        f.chain.writer().fill(10);
        f.add(new long[]{READ_GPAS[0], WRITE_GPAS[3]}, new int[]{5, 20}, 1, 1);

        assertThat(f.pop()).isTrue();

        assertThat(f.chain.reader().position()).isZero();
        assertThat(f.chain.reader().remaining()).isEqualTo(5);
        assertThat(f.chain.writer().written()).isZero();
        assertThat(f.chain.writer().remaining()).isEqualTo(20);
        assertThat(f.chain.reader().readByte()).isEqualTo(stream[0]);
    }
}
