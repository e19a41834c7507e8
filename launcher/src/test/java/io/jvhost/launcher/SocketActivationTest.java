package io.jvhost.launcher;

import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * How LISTEN_FDS/LISTEN_PID become {@code --fd 3}; e2e's SocketActivationTest serves a real front-end through it.
 */
class SocketActivationTest
{
    @Test
    void listenFdsCountsOnlyForThisProcess()
    {
        assertThat(SocketActivation.listenFds(Map.of(), 42)).isZero();
        assertThat(SocketActivation.listenFds(Map.of("LISTEN_FDS", "1", "LISTEN_PID", "42"), 42)).isEqualTo(1);
        assertThat(SocketActivation.listenFds(Map.of("LISTEN_FDS", "1", "LISTEN_PID", "41"), 42))
            .as("another process's sockets").isZero();
        assertThat(SocketActivation.listenFds(Map.of("LISTEN_FDS", "2"), 42)).as("no LISTEN_PID").isZero();
        assertThatThrownBy(() -> SocketActivation.listenFds(Map.of("LISTEN_FDS", "x", "LISTEN_PID", "42"), 42))
            .hasMessageContaining("LISTEN_FDS='x'");
        assertThatThrownBy(() -> SocketActivation.listenFds(Map.of("LISTEN_FDS", "-1", "LISTEN_PID", "42"), 42))
            .hasMessageContaining("LISTEN_FDS=-1");
    }

    @Test
    void aDeviceWithoutSocketOptionsServesDescriptorThree()
    {
        assertThat(SocketActivation.rewrite(new String[] {"rng", "-p", "100"}, 1))
            .containsExactly("rng", "--fd", "3", "-p", "100");
        assertThat(SocketActivation.rewrite(new String[] {"sound", "--backend", "null"}, 1))
            .containsExactly("sound", "--socket-fd", "3", "--backend", "null");
        assertThat(SocketActivation.rewrite(new String[] {"gpu"}, 1)).containsExactly("gpu", "--fd", "3");
    }

    @Test
    void namedSocketsHelpAndOtherCommandsAreLeftAlone()
    {
        for (final String[] args : new String[][] {{"rng", "-s", "/tmp/r.sock"}, {"rng", "--fd=4"},
            {"rng", "--print-capabilities"}, {"gpu", "--help"}, {"vsock", "--vm", "guest-cid=3"}, {"--version"},
            {"rng", "--no-such-option"}})
        {
            assertThat(SocketActivation.rewrite(args, 1)).as(String.join(" ", args)).isSameAs(args);
        }
        final String[] none = {"rng"};
        assertThat(SocketActivation.rewrite(none, 0)).isSameAs(none);
    }

    @Test
    void moreThanOneDescriptorIsRefused()
    {
        assertThatThrownBy(() -> SocketActivation.rewrite(new String[] {"rng"}, 2))
            .hasMessageContaining("LISTEN_FDS=2").hasMessageContaining("jvhost rng serves one");
    }
}
