package io.jvhost.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigSpaceTest
{
    private final MemorySegment config = MemorySegment.ofArray(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});

    @Test
    void readsTheRangeAskedFor()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment dst = arena.allocate(4);
            ConfigSpace.read(config, 8, dst);
            assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).containsExactly(9, 10, 11, 12);
            ConfigSpace.read(config, 12, arena.allocate(0));
        }
    }

    @Test
    void rangesOutsideTheSpaceAreRefusedNamingOffsetLengthAndSize()
    {
        try (Arena arena = Arena.ofConfined())
        {
            assertThatThrownBy(() -> ConfigSpace.read(config, 10, arena.allocate(4)))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("config read of 4 bytes at offset 10 outside the 12-byte configuration space");
            assertThatThrownBy(() -> ConfigSpace.read(config, -1, arena.allocate(1)))
                .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> ConfigSpace.read(config, Integer.MAX_VALUE, arena.allocate(1)))
                .isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
