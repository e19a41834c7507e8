package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StreamFdPairTest
{
    @Test
    void aPairCarriesBytesBothWaysWithoutBlockingAndEndsWithEndOfStream() throws Exception
    {
        final StreamFd[] pair = StreamFd.pair();
        try (StreamFd a = pair[0]; StreamFd b = pair[1]; Arena arena = Arena.ofConfined())
        {
            final MemorySegment buf = arena.allocate(16);
            assertThat(b.read(buf.address(), 16)).as("nothing yet: EAGAIN, not blocking").isEqualTo(-Errno.EAGAIN);
            buf.set(ValueLayout.JAVA_LONG, 0, 0x1122_3344_5566_7788L);
            assertThat(a.write(buf.address(), 8)).isEqualTo(8);
            assertThat(b.readable()).isEqualTo(8);
            buf.set(ValueLayout.JAVA_LONG, 0, 0);
            assertThat(b.read(buf.address() + 8, 8)).isEqualTo(8);
            assertThat(buf.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(0x1122_3344_5566_7788L);
            assertThat(b.write(buf.address(), 3)).as("and back").isEqualTo(3);
            assertThat(a.read(buf.address(), 16)).isEqualTo(3);
            b.shutdownOutput();
            assertThat(a.read(buf.address(), 16)).as("end of stream after shutdown").isZero();
            b.close();
            assertThat(a.write(buf.address(), 1)).as("peer gone: EPIPE, no signal").isEqualTo(-Errno.EPIPE);
        }
    }
}
