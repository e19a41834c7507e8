package io.jvhost.os;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class MemFdMappedMemoryTest
{
    private static final int PAGE = 4096;

    @Test
    void memFdHasTheRequestedSizeAndStartsZeroed() throws NativeException
    {
        try (MemFd memFd = MemFd.create("zeroed", 3 * PAGE + 123);
             MappedMemory map = memFd.map())
        {
            assertThat(memFd.size()).isEqualTo(3 * PAGE + 123);
            assertThat(LibC.fileSize(memFd.fd())).isEqualTo(3 * PAGE + 123);
            assertThat(LibC.fileMode(memFd.fd()) & LibC.S_IFMT).isEqualTo(0x8000); // S_IFREG
            assertThat(OpenFds.isCloseOnExec(memFd.fd())).isTrue();
            assertThat(map.length()).isEqualTo(3 * PAGE + 123);
            assertThat(map.segment().byteSize()).isEqualTo(3 * PAGE + 123);
            assertThat(map.segment().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte)0);
        }
    }

    @Test
    void twoMappingsOfTheSameMemFdSeeEachOthersWrites() throws NativeException
    {
        try (MemFd memFd = MemFd.create("shared", 2 * PAGE);
             MappedMemory a = memFd.map();
             MappedMemory b = memFd.map())
        {
            assertThat(a.segment().address()).isNotEqualTo(b.segment().address());

            a.segment().set(ValueLayout.JAVA_LONG, 8, 0x1122334455667788L);
            b.segment().set(ValueLayout.JAVA_INT, PAGE + 4, 0xCAFEBABE);

            assertThat(b.segment().get(ValueLayout.JAVA_LONG, 8)).isEqualTo(0x1122334455667788L);
            assertThat(a.segment().get(ValueLayout.JAVA_INT, PAGE + 4)).isEqualTo(0xCAFEBABE);
        }
    }

    @Test
    void mappingAtAnOffsetStartsAtThatFileOffset() throws NativeException
    {
        try (MemFd memFd = MemFd.create("offset", 3 * PAGE);
             MappedMemory whole = memFd.map();
             MappedMemory tail = MappedMemory.map(memFd.fd(), 2 * PAGE, PAGE))
        {
            whole.segment().set(ValueLayout.JAVA_LONG, 2 * PAGE, 42L);

            assertThat(tail.length()).isEqualTo(PAGE);
            assertThat(tail.segment().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(42L);
        }
    }

    @Test
    void mappingOutlivesTheClosedDescriptor() throws NativeException
    {
        final MemFd memFd = MemFd.create("outlive", PAGE);
        try (MappedMemory a = memFd.map(); MappedMemory b = memFd.map())
        {
            final int fd = memFd.fd();
            memFd.close();
            assertThat(LibC.isOpen(fd)).isFalse();

            a.segment().set(ValueLayout.JAVA_INT, 0, 7);
            assertThat(b.segment().get(ValueLayout.JAVA_INT, 0)).isEqualTo(7);
        }
    }

    @Test
    void accessAfterCloseThrowsIllegalStateExceptionInsteadOfCrashing() throws NativeException
    {
        try (MemFd memFd = MemFd.create("closed", PAGE))
        {
            final MappedMemory map = memFd.map();
            final MemorySegment segment = map.segment();
            final MemorySegment slice = segment.asSlice(96, 8);
            map.close();

            assertThat(segment.scope().isAlive()).isFalse();
            assertThatIllegalStateException().isThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0));
            assertThatIllegalStateException().isThrownBy(() -> segment.set(ValueLayout.JAVA_LONG, 8, 1L));
            assertThatIllegalStateException().isThrownBy(() -> slice.get(ValueLayout.JAVA_LONG, 0));
            assertThatIllegalStateException().isThrownBy(() -> segment.fill((byte)1));
            assertThatNoException().as("close is idempotent").isThrownBy(map::close);
        }
    }

    @Test
    void nonPositiveMappingLengthIsRefused() throws NativeException
    {
        try (MemFd memFd = MemFd.create("len", PAGE))
        {
            assertThatIllegalArgumentException().isThrownBy(() -> MappedMemory.map(memFd.fd(), 0, 0))
                .withMessageContaining("length=0");
            assertThatIllegalArgumentException().isThrownBy(() -> MappedMemory.map(memFd.fd(), 0, -1));
        }
    }

    @Test
    void unalignedOffsetIsRefusedByTheKernel() throws NativeException
    {
        try (MemFd memFd = MemFd.create("unaligned", 2 * PAGE))
        {
            final NativeException e =
                catchThrowableOfType(NativeException.class, () -> MappedMemory.map(memFd.fd(), 100, PAGE));
            assertThat(e.call()).isEqualTo("mmap");
            assertThat(e.errno()).isEqualTo(Errno.EINVAL);
            assertThat(e).hasMessageContaining("fd=" + memFd.fd()).hasMessageContaining("offset=100");
        }
    }

    @Test
    void memFdOfImpossibleSizeFailsWithoutLeakingTheDescriptor() throws NativeException
    {
        MemFd.create("warm-up", 1).close();
        final OpenFds before = OpenFds.snapshot();

        final NativeException e = catchThrowableOfType(NativeException.class, () -> MemFd.create("negative", -1));

        assertThat(e.call()).isEqualTo("ftruncate");
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void memFdCloseIsIdempotent() throws NativeException
    {
        final MemFd memFd = MemFd.create("twice", PAGE);
        final int fd = memFd.fd();
        memFd.close();
        memFd.close();
        assertThat(LibC.isOpen(fd)).isFalse();
    }
}
