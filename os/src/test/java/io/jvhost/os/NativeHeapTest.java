package io.jvhost.os;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NativeHeapTest
{
    @Test
    void callocGivesZeroedBlocksOfTheSizeAskedThatCanBeFreed()
    {
        for (final long size : new long[] {1, 4096, 3L << 20})
        {
            final MemorySegment block = NativeHeap.calloc(size);
            assertThat(block.byteSize()).isEqualTo(size);
            assertThat(block.get(ValueLayout.JAVA_BYTE, size - 1)).isZero();
            block.fill((byte)0x5A);
            assertThat(block.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0x5A);
            NativeHeap.free(block);
        }
    }

    @Test
    void refusesEmptyAndNegativeSizes()
    {
        assertThatThrownBy(() -> NativeHeap.calloc(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NativeHeap.calloc(-1)).hasMessageContaining("-1");
    }

    @Test
    void anImpossibleSizeIsAnOutOfMemoryError()
    {
        assertThatThrownBy(() -> NativeHeap.calloc(Long.MAX_VALUE)).isInstanceOf(OutOfMemoryError.class)
            .hasMessageContaining("NULL");
    }
}
