package io.jvhost.virgl;

import java.lang.foreign.Arena;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The command stream builder writes the layouts of virgl_protocol.h (checked dword by dword, without a renderer).
 */
class VirglCommandStreamTest
{
    @Test
    void theClearStreamIsNineteenDwordsInProtocolLayout()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream stream = new VirglCommandStream(arena, 32)
                .clearResource(3, 9, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f, 1.0f);
            final int[] dwords = stream.segment().asSlice(0, stream.dwords() * 4L).toArray(JAVA_INT);
            assertThat(dwords).containsExactly(
                1 | 8 << 8 | 5 << 16, 3, 9, 2, 0, 0,   // CREATE_OBJECT(SURFACE): handle, res, fmt, level, layers
                5 | 3 << 16, 1, 0, 3,                   // SET_FRAMEBUFFER_STATE: 1 cbuf, no zsurf, surface 3
                7 | 8 << 16, 4,                         // CLEAR: PIPE_CLEAR_COLOR0
                Float.floatToIntBits(0.25f), Float.floatToIntBits(0.5f), Float.floatToIntBits(1.0f),
                Float.floatToIntBits(1.0f),
                0, 0x3ff00000,                          // depth 1.0 as a double, low dword first
                0);                                     // stencil
        }
    }

    @Test
    void aFullStreamRefusesMoreAndResetStartsOver()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream stream = new VirglCommandStream(arena, 2).dword(1).dword(2);
            assertThatThrownBy(() -> stream.dword(3)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(stream.reset().dwords()).isZero();
            assertThat(stream.dword(7).segment().get(JAVA_INT, 0)).isEqualTo(7);
        }
    }
}
