package io.jvhost.virtqueue;

import java.util.List;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.os.MemFd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.GPA0;
import static io.jvhost.virtqueue.Fixture.GPA1;
import static io.jvhost.virtqueue.Fixture.END;
import static io.jvhost.virtqueue.Fixture.hex;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_INDIRECT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_NEXT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

class SplitQueuePopTest
{
    private static final int SIZE = 8;
    private static final long NO_INDIRECT = VirtioFeatures.bit(VirtioFeatures.VERSION_1);

    private Fixture f = new Fixture(SIZE, ALL);

    @AfterEach
    void close()
    {
        f.close();
    }

    private void useFeatures(final long features)
    {
        f.close();
        f = new Fixture(SIZE, features);
    }

    @Test
    void popReturnsFalseOnEmptyRing()
    {
        assertThat(f.queue.hasAvailable()).isFalse();
        assertThat(f.pop()).isFalse();
        assertThat(f.queue.nextAvail()).isZero();
    }

    @Test
    void popReturnsReadableBuffersThenWritableOnes()
    {
        final long a = f.alloc(100);
        final long b = f.alloc(20);
        final long c = f.alloc(300);
        final int head = f.add(new long[]{a, b, c}, new int[]{100, 20, 300}, 2, 1);

        assertThat(f.queue.hasAvailable()).isTrue();
        assertThat(f.pop()).isTrue();
        final DescriptorChain chain = f.chain;
        assertThat(chain.head()).isEqualTo(head);
        assertThat(chain.count()).isEqualTo(3);
        assertThat(chain.readableCount()).isEqualTo(2);
        assertThat(chain.address(0)).isEqualTo(a);
        assertThat(chain.address(2)).isEqualTo(c);
        assertThat(chain.length(1)).isEqualTo(20);
        assertThat(chain.isWritable(1)).isFalse();
        assertThat(chain.isWritable(2)).isTrue();
        assertThat(chain.readableBytes()).isEqualTo(120);
        assertThat(chain.writableBytes()).isEqualTo(300);
        assertThat(chain.reader().remaining()).isEqualTo(120);
        assertThat(chain.writer().remaining()).isEqualTo(300);
        assertThat(f.queue.nextAvail()).isEqualTo(1);
        assertThat(f.pop()).isFalse();
    }

    @Test
    void pushUsedReturnsTheChainToTheDriver()
    {
        final long a = f.alloc(16);
        final int head = f.add(new long[]{a}, new int[]{16}, 0, 1);
        assertThat(f.pop()).isTrue();
        assertThat(f.driver.pollUsed()).isEqualTo(-1);

        f.queue.pushUsed(f.chain.head(), 12);

        assertThat(f.queue.nextUsed()).isEqualTo(1);
        assertThat(f.driver.usedIdx()).isEqualTo(1);
        assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32 | 12);
        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
    }

    @Test
    void popRejectsAvailIdxMovedBeyondQueueSizeAndStaysBroken()
    {
        f.driver.setAvailIdx(SIZE + 1);

        final QueueBrokenException e = f.popBroken();

        assertThat(e.getMessage()).contains("avail.idx=" + (SIZE + 1), "next_avail=0", "size=" + SIZE);
        assertThat(f.queue.isBroken()).isTrue();
        f.driver.setAvailIdx(1);
        f.popBroken();
        f.queue.unbind();
        assertThat(f.queue.isBroken()).isFalse();
    }

    @Test
    void popChecksAvailIdxAgainAfterABrokenQueueIsRebound()
    {
        f.driver.setAvailIdx(SIZE + 1);
        f.popBroken();
        f.queue.unbind();
        f.bind();

        final QueueBrokenException e = f.popBroken();

        assertThat(e.getMessage()).contains("avail.idx=" + (SIZE + 1));
        f.queue.unbind();
        f.driver.setAvailIdx(0);
        f.bind();
        assertThat(f.pop()).isFalse();
        assertThat(f.queue.hasAvailable()).isFalse();
    }

    @Test
    void popAcceptsAvailIdxExactlyQueueSizeAhead()
    {
        final long a = f.alloc(8);
        for (int i = 0; i < SIZE; i++)
        {
            f.add(new long[]{a}, new int[]{8}, 1, 0);
        }
        for (int i = 0; i < SIZE; i++)
        {
            assertThat(f.pop()).isTrue();
        }
        assertThat(f.pop()).isFalse();
    }

    @Test
    void popRejectsAvailIdxMovedBackwards()
    {
        f.add(new long[]{f.alloc(8)}, new int[]{8}, 1, 0);
        assertThat(f.pop()).isTrue();
        f.driver.setAvailIdx(0xFFFF);

        final QueueBrokenException e = f.popBroken();

        assertThat(e.getMessage()).contains("avail.idx=65535", "next_avail=1");
    }

    @Test
    void popRejectsHeadOutOfRangeButConsumesTheSlot()
    {
        f.driver.pushAvailRaw(SIZE + 3);
        final long a = f.alloc(8);
        final int good = f.add(new long[]{a}, new int[]{8}, 1, 0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(-1);
        assertThat(e.getMessage()).contains("head=" + (SIZE + 3), "size=" + SIZE);
        assertThat(f.queue.nextAvail()).isEqualTo(1);
        assertThat(f.pop()).isTrue();
        assertThat(f.chain.head()).isEqualTo(good);
    }

    @Test
    void invalidChainCanBeReturnedWithZeroLength()
    {
        f.driver.writeDescriptor(2, END + 4096, 16, 0, 0);
        f.driver.pushAvailRaw(2);

        final InvalidChainException e = f.popInvalid();
        f.queue.pushUsed(e.head(), 0);

        assertThat(e.head()).isEqualTo(2);
        assertThat(f.driver.usedIdx()).isEqualTo(1);
        assertThat(f.chain.count()).isZero();
    }

    @Test
    void popRejectsDescriptorLoop()
    {
        final long a = f.alloc(16);
        f.driver.writeDescriptor(0, a, 16, DESC_F_NEXT, 1);
        f.driver.writeDescriptor(1, a, 16, DESC_F_NEXT, 0);
        f.driver.pushAvailRaw(0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isZero();
        assertThat(e.getMessage()).contains("loop", "head=0", "queue size=" + SIZE);
    }

    @Test
    void popRejectsDescriptorPointingAtItself()
    {
        final long a = f.alloc(16);
        f.driver.writeDescriptor(5, a, 16, DESC_F_NEXT, 5);
        f.driver.pushAvailRaw(5);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(5);
        assertThat(e.getMessage()).contains("loop", "index=5");
    }

    @Test
    void popAcceptsChainOfExactlyQueueSize()
    {
        final long a = f.alloc(16);
        for (int i = 0; i < SIZE; i++)
        {
            f.driver.writeDescriptor(i, a, 16, i < SIZE - 1 ? DESC_F_NEXT : 0, i + 1);
        }
        f.driver.pushAvailRaw(0);

        assertThat(f.pop()).isTrue();
        assertThat(f.chain.count()).isEqualTo(SIZE);
    }

    @Test
    void popRejectsNextIndexOutOfRange()
    {
        final long a = f.alloc(16);
        f.driver.writeDescriptor(3, a, 16, DESC_F_NEXT, 200);
        f.driver.pushAvailRaw(3);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(3);
        assertThat(e.getMessage()).contains("next index out of range (200", "index=3", "flags=0x1");
    }

    @Test
    void popRejectsIndirectDescriptorWithoutTheFeature()
    {
        useFeatures(NO_INDIRECT);
        final long table = f.alloc(32);
        f.driver.writeDescriptor(1, table, 32, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(1);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(1);
        assertThat(e.getMessage()).contains("INDIRECT_DESC", "addr=" + hex(table), "len=32", "flags=0x4");
    }

    @Test
    void popRejectsIndirectDescriptorWithNext()
    {
        final long table = f.alloc(32);
        f.driver.writeTableEntry(table, 0, f.alloc(8), 8, 0, 0);
        f.driver.writeDescriptor(1, table, 16, DESC_F_INDIRECT | DESC_F_NEXT, 2);
        f.driver.writeDescriptor(2, f.alloc(8), 8, 0, 0);
        f.driver.pushAvailRaw(1);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(1);
        assertThat(e.getMessage()).contains("with NEXT", "flags=0x5");
    }

    @Test
    void popRejectsNestedIndirectTable()
    {
        final long inner = f.alloc(16);
        final long outer = f.alloc(32);
        f.driver.writeTableEntry(inner, 0, f.alloc(8), 8, 0, 0);
        f.driver.writeTableEntry(outer, 0, f.alloc(8), 8, DESC_F_NEXT, 1);
        f.driver.writeTableEntry(outer, 1, inner, 16, DESC_F_INDIRECT, 0);
        f.driver.writeDescriptor(0, outer, 32, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isZero();
        assertThat(e.getMessage()).contains("nested indirect", "indirect index=1", "addr=" + hex(inner));
    }

    @Test
    void popRejectsIndirectTableOfZeroLength()
    {
        f.driver.writeDescriptor(4, f.alloc(16), 0, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(4);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(4);
        assertThat(e.getMessage()).contains("multiple of 16", "len=0");
    }

    @Test
    void popRejectsIndirectTableLengthNotMultipleOf16()
    {
        f.driver.writeDescriptor(4, f.alloc(32), 24, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(4);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(4);
        assertThat(e.getMessage()).contains("multiple of 16", "len=24");
    }

    @Test
    void popRejectsIndirectTableOutsideGuestMemory()
    {
        f.driver.writeDescriptor(4, END - 16, 32, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(4);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(4);
        assertThat(e.getMessage()).contains("indirect table outside guest memory", "addr=" + hex(END - 16));
    }

    @Test
    void popRejectsLoopInIndirectTable()
    {
        final long table = f.alloc(48);
        final long a = f.alloc(8);
        f.driver.writeTableEntry(table, 0, a, 8, DESC_F_NEXT, 1);
        f.driver.writeTableEntry(table, 1, a, 8, DESC_F_NEXT, 2);
        f.driver.writeTableEntry(table, 2, a, 8, DESC_F_NEXT, 0);
        f.driver.writeDescriptor(6, table, 48, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(6);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(6);
        assertThat(e.getMessage()).contains("longer than its table", "table addr=" + hex(table), "table size=3");
    }

    @Test
    void popRejectsIndirectNextBeyondTheTable()
    {
        final long table = f.alloc(32);
        final long a = f.alloc(8);
        f.driver.writeTableEntry(table, 0, a, 8, DESC_F_NEXT, 1);
        f.driver.writeTableEntry(table, 1, a, 8, DESC_F_NEXT, 2);
        f.driver.writeDescriptor(6, table, 32, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(6);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(6);
        assertThat(e.getMessage()).contains("next index out of range (2 >= table size 2)", "indirect index=1");
    }

    @Test
    void popFlattensIndirectTable()
    {
        final long table = f.alloc(48);
        final long a = f.alloc(10);
        final long b = f.alloc(20);
        final long c = f.alloc(30);
        final int head = f.driver.addIndirect(table, new long[]{a, b, c}, new int[]{10, 20, 30}, 1, 2);
        f.driver.publish();

        assertThat(f.pop()).isTrue();

        assertThat(f.chain.head()).isEqualTo(head);
        assertThat(f.chain.count()).isEqualTo(3);
        assertThat(f.chain.readableCount()).isEqualTo(1);
        assertThat(f.chain.address(1)).isEqualTo(b);
        assertThat(f.chain.writableBytes()).isEqualTo(50);
        f.queue.pushUsed(head, 50);
        assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32 | 50);
        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
    }

    @Test
    void popAcceptsDirectDescriptorsFollowedByIndirectTable()
    {
        final long table = f.alloc(16);
        final long a = f.alloc(8);
        final long b = f.alloc(8);
        f.driver.writeTableEntry(table, 0, b, 8, DESC_F_WRITE, 0);
        f.driver.writeDescriptor(3, a, 8, DESC_F_NEXT, 7);
        f.driver.writeDescriptor(7, table, 16, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(3);

        assertThat(f.pop()).isTrue();

        assertThat(f.chain.count()).isEqualTo(2);
        assertThat(f.chain.address(0)).isEqualTo(a);
        assertThat(f.chain.address(1)).isEqualTo(b);
        assertThat(f.chain.isWritable(1)).isTrue();
    }

    @Test
    void popIgnoresWriteFlagOnTheIndirectDescriptorItself()
    {
        final long table = f.alloc(16);
        f.driver.writeTableEntry(table, 0, f.alloc(8), 8, 0, 0);
        f.driver.writeDescriptor(0, table, 16, DESC_F_INDIRECT | DESC_F_WRITE, 0);
        f.driver.pushAvailRaw(0);

        assertThat(f.pop()).isTrue();
        assertThat(f.chain.readableCount()).isEqualTo(1);
    }

    @Test
    void popReadsIndirectTableSpanningTwoRegions()
    {
        final long table = GPA1 - 24;
        final long a = f.alloc(8);
        final long b = GPA1 + 64;
        f.driver.writeTableEntry(table, 0, a, 8, DESC_F_NEXT, 1);
        final byte[] second = new byte[16];
        final java.lang.foreign.MemorySegment entry = java.lang.foreign.MemorySegment.ofArray(second);
        entry.set(SplitRingLayout.U64_UNALIGNED, 0, b);
        entry.set(SplitRingLayout.U32_UNALIGNED, 8, 12);
        entry.set(SplitRingLayout.U16_UNALIGNED, 12, (short)DESC_F_WRITE);
        f.write(table + 16, second);
        f.driver.writeDescriptor(0, table, 32, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(0);

        assertThat(f.pop()).isTrue();

        assertThat(f.chain.count()).isEqualTo(2);
        assertThat(f.chain.address(1)).isEqualTo(b);
        assertThat(f.chain.length(1)).isEqualTo(12);
        assertThat(f.chain.isWritable(1)).isTrue();
    }

    @Test
    void popRejectsReadableDescriptorAfterWritableOne()
    {
        final long a = f.alloc(8);
        f.driver.writeDescriptor(0, a, 8, DESC_F_WRITE | DESC_F_NEXT, 1);
        f.driver.writeDescriptor(1, a + 8, 8, 0, 0);
        f.driver.pushAvailRaw(0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isZero();
        assertThat(e.getMessage()).contains("readable descriptor after a device-writable", "index=1",
            "addr=" + hex(a + 8), "flags=0x0");
    }

    @Test
    void popRejectsReadableIndirectEntryAfterWritableDirectDescriptor()
    {
        final long table = f.alloc(16);
        final long a = f.alloc(8);
        f.driver.writeTableEntry(table, 0, a, 8, 0, 0);
        f.driver.writeDescriptor(0, a, 8, DESC_F_WRITE | DESC_F_NEXT, 1);
        f.driver.writeDescriptor(1, table, 16, DESC_F_INDIRECT, 0);
        f.driver.pushAvailRaw(0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isZero();
        assertThat(e.getMessage()).contains("readable descriptor after", "indirect index=0");
    }

    @Test
    void popRejectsBufferOutsideGuestMemory()
    {
        f.driver.writeDescriptor(2, 0x1000, 64, 0, 0);
        f.driver.pushAvailRaw(2);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(2);
        assertThat(e.getMessage()).contains("outside guest memory", "addr=0x1000", "len=64", "index=2");
    }

    @Test
    void popRejectsBufferRunningPastTheEndOfMemory()
    {
        f.driver.writeDescriptor(2, END - 8, 9, DESC_F_WRITE, 0);
        f.driver.pushAvailRaw(2);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(2);
        assertThat(e.getMessage()).contains("outside guest memory", "addr=" + hex(END - 8), "len=9", "flags=0x2");
    }

    @Test
    void popRejectsBufferThatWrapsTheAddressSpace()
    {
        final long addr = 0xFFFF_FFFF_FFFF_F000L;
        f.driver.writeDescriptor(2, addr, 0x2000, 0, 0);
        f.driver.pushAvailRaw(2);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(2);
        assertThat(e.getMessage()).contains("wraps", "addr=0xfffffffffffff000", "len=8192");
    }

    @Test
    void popRejectsBufferAboveSignedRange()
    {
        f.driver.writeDescriptor(2, 0x8000_0000_0000_0000L, 16, 0, 0);
        f.driver.pushAvailRaw(2);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isEqualTo(2);
        assertThat(e.getMessage()).contains("outside guest memory", "addr=0x8000000000000000");
    }

    @Test
    void popAcceptsZeroLengthDescriptors()
    {
        final long a = f.alloc(8);
        f.driver.writeDescriptor(0, a, 0, DESC_F_NEXT, 1);
        f.driver.writeDescriptor(1, a, 8, DESC_F_NEXT, 2);
        f.driver.writeDescriptor(2, a, 0, DESC_F_WRITE, 0);
        f.driver.pushAvailRaw(0);

        assertThat(f.pop()).isTrue();

        assertThat(f.chain.count()).isEqualTo(3);
        assertThat(f.chain.readableBytes()).isEqualTo(8);
        assertThat(f.chain.writableBytes()).isZero();
    }

    @Test
    void popRejectsMoreBuffersThanTheChainHolds()
    {
        f.close();
        f = new Fixture(SIZE, ALL, 3);
        final long a = f.alloc(8);
        for (int i = 0; i < 4; i++)
        {
            f.driver.writeDescriptor(i, a, 8, i < 3 ? DESC_F_NEXT : 0, i + 1);
        }
        f.driver.pushAvailRaw(0);

        final InvalidChainException e = f.popInvalid();

        assertThat(e.head()).isZero();
        assertThat(e.getMessage()).contains("more than 3 buffers", "index=3");
    }

    @Test
    void popEnforcesTheFourGibibyteChainLimit() throws Exception
    {
        final long base = 0x1_0000_0000L;
        final long regionSize = (1L << 31) + 4096;
        try (MemFd fd = MemFd.create("virtqueue-4g", regionSize))
        {
            final MemoryRegion big = MemoryRegion.map(fd.fd(), base, regionSize, base + Fixture.UADDR_BIAS, 0);
            final GuestMemory memory = GuestMemory.of(List.of(
                MemoryRegion.ofSegment(GPA0, f.ram0, GPA0 + Fixture.UADDR_BIAS),
                MemoryRegion.ofSegment(GPA1, f.ram1, GPA1 + Fixture.UADDR_BIAS), big), 8);
            try
            {
                f.queue.bind(memory);
                final int half = 1 << 31; // 2 GiB as an unsigned u32
                f.driver.writeDescriptor(0, base, half, DESC_F_NEXT, 1);
                f.driver.writeDescriptor(1, base, half, DESC_F_WRITE, 0);
                f.driver.pushAvailRaw(0);
                assertThat(f.pop()).isTrue();
                assertThat(f.chain.readableBytes() + f.chain.writableBytes()).isEqualTo(1L << 32);

                f.driver.writeDescriptor(1, base, half, DESC_F_WRITE | DESC_F_NEXT, 2);
                f.driver.writeDescriptor(2, base, 1, DESC_F_WRITE, 0);
                f.driver.pushAvailRaw(0);
                final InvalidChainException e = f.popInvalid();
                assertThat(e.head()).isZero();
                assertThat(e.getMessage()).contains("4 GiB", "4294967297", "index=2");
            }
            finally
            {
                memory.release();
            }
        }
    }

    @Test
    void popWritesAvailEventWithEventIdx()
    {
        final long a = f.alloc(8);
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        f.add(new long[]{a}, new int[]{8}, 1, 0);

        assertThat(f.pop()).isTrue();
        assertThat(f.driver.availEvent()).isEqualTo(1);
        assertThat(f.pop()).isTrue();
        assertThat(f.driver.availEvent()).isEqualTo(2);
    }

    @Test
    void popDoesNotWriteAvailEventWithoutEventIdx()
    {
        useFeatures(NO_INDIRECT);
        f.add(new long[]{f.alloc(8)}, new int[]{8}, 1, 0);

        assertThat(f.pop()).isTrue();
        assertThat(f.driver.availEvent()).isZero();
    }

    @Test
    void popKeepsItsOwnCopyOfTheDescriptors()
    {
        final long a = f.alloc(8);
        final int head = f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.pop()).isTrue();

        f.driver.writeDescriptor(head, END + 0x10000, 0x7FFF_FFFF, DESC_F_WRITE, 0);

        assertThat(f.chain.address(0)).isEqualTo(a);
        assertThat(f.chain.length(0)).isEqualTo(8);
        assertThat(f.chain.isWritable(0)).isFalse();
    }

    @Test
    void popWorksAcrossTheU16WrapOfAvailIdx()
    {
        f.driver.reset(0xFFFE);
        f.queue.setNextAvail(0xFFFE);
        f.bind();
        final long a = f.alloc(8);
        for (int i = 0; i < 5; i++)
        {
            final int head = f.add(new long[]{a}, new int[]{8}, 1, 0);
            assertThat(f.pop()).isTrue();
            f.queue.pushUsed(f.chain.head(), 0);
            assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32);
        }
        assertThat(f.queue.nextAvail()).isEqualTo(3);
        assertThat(f.queue.nextUsed()).isEqualTo(3);
    }

    @Test
    void rewindPutsTheLastChainsTakenBackAndTheyArePoppedAgainAcrossTheU16Wrap()
    {
        f.driver.reset(0xFFFE);
        f.queue.setNextAvail(0xFFFE);
        f.bind();
        final long a = f.alloc(8);
        final int[] heads = new int[4];
        for (int i = 0; i < 4; i++)
        {
            heads[i] = f.add(new long[]{a}, new int[]{8}, 1, 0);
            assertThat(f.pop()).isTrue();
            assertThat(f.chain.availIndex()).as("chain " + i + "'s avail position").isEqualTo((0xFFFE + i) & 0xFFFF);
        }
        final DescriptorChain kept = new DescriptorChain(4);
        kept.copyFrom(f.chain);
        assertThat(kept.availIndex()).as("copied with the chain").isEqualTo(1);

        assertThat(f.queue.rewind(0xFFFF, 3)).as("the last three, across the wrap").isTrue();
        assertThat(f.queue.nextAvail()).isEqualTo(0xFFFF);
        for (int i = 1; i < 4; i++)
        {
            assertThat(f.pop()).as("chain " + i + " again").isTrue();
            assertThat(f.chain.head()).isEqualTo(heads[i]);
            assertThat(f.chain.availIndex()).isEqualTo((0xFFFE + i) & 0xFFFF);
        }
        assertThat(f.pop()).as("nothing more").isFalse();
        assertThat(f.queue.nextAvail()).isEqualTo(2);
    }

    @Test
    void rewindRefusesChainsThatAreNotTheLastOnesTaken()
    {
        final long a = f.alloc(8);
        for (int i = 0; i < 3; i++)
        {
            f.add(new long[]{a}, new int[]{8}, 1, 0);
            assertThat(f.pop()).isTrue();
        }
        assertThat(f.queue.rewind(0, 2)).as("a chain was taken after them").isFalse();
        assertThat(f.queue.rewind(1, 1)).as("not up to the last one taken").isFalse();
        assertThat(f.queue.rewind(2, 0)).as("nothing").isFalse();
        assertThat(f.queue.rewind(3, 0)).isFalse();
        assertThat(f.queue.rewind(-1, 4)).isFalse();
        assertThat(f.queue.rewind(0x10002, 1)).isFalse();
        assertThat(f.queue.nextAvail()).as("unchanged").isEqualTo(3);
        f.queue.setNextAvail(SIZE + 5);
        assertThat(f.queue.rewind(4, SIZE + 1)).as("more than the ring holds").isFalse();
        assertThat(f.queue.nextAvail()).isEqualTo(SIZE + 5);
    }

    @Test
    void popRequiresABoundQueue()
    {
        f.queue.unbind();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> f.queue.pop(f.chain))
            .isInstanceOf(IllegalStateException.class);
    }
}
