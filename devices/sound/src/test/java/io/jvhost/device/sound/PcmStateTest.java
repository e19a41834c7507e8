package io.jvhost.device.sound;

import java.util.EnumMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The PCM command lifecycle of virtio 1.2 (5.14.6.6.1), request by request and state by state.
 */
class PcmStateTest
{
    private static final int[] REQUESTS = {Snd.R_PCM_SET_PARAMS, Snd.R_PCM_PREPARE, Snd.R_PCM_START, Snd.R_PCM_STOP,
        Snd.R_PCM_RELEASE};

    @Test
    void eachStateAcceptsExactlyTheRequestsTheSpecAllows()
    {
        final Map<PcmState, String> accepted = new EnumMap<>(PcmState.class);
        for (final PcmState s : PcmState.values())
        {
            final StringBuilder b = new StringBuilder();
            for (final int code : REQUESTS)
            {
                if (s.accepts(code))
                {
                    b.append(b.isEmpty() ? "" : " ").append(Snd.requestName(code).substring(4));
                }
            }
            accepted.put(s, b.toString());
        }
        assertThat(accepted).containsExactlyInAnyOrderEntriesOf(Map.of(
            PcmState.IDLE, "SET_PARAMS",
            PcmState.PARAMS_SET, "SET_PARAMS PREPARE",
            PcmState.PREPARED, "SET_PARAMS PREPARE START RELEASE",
            PcmState.RUNNING, "STOP",
            PcmState.STOPPED, "START RELEASE",
            PcmState.RELEASED, "SET_PARAMS PREPARE"));
    }

    @Test
    void eachRequestLeadsToItsState()
    {
        assertThat(PcmState.IDLE.after(Snd.R_PCM_SET_PARAMS)).isEqualTo(PcmState.PARAMS_SET);
        assertThat(PcmState.PARAMS_SET.after(Snd.R_PCM_PREPARE)).isEqualTo(PcmState.PREPARED);
        assertThat(PcmState.PREPARED.after(Snd.R_PCM_START)).isEqualTo(PcmState.RUNNING);
        assertThat(PcmState.RUNNING.after(Snd.R_PCM_STOP)).isEqualTo(PcmState.STOPPED);
        assertThat(PcmState.STOPPED.after(Snd.R_PCM_START)).isEqualTo(PcmState.RUNNING);
        assertThat(PcmState.STOPPED.after(Snd.R_PCM_RELEASE)).isEqualTo(PcmState.RELEASED);
        assertThat(PcmState.RELEASED.after(Snd.R_PCM_PREPARE)).isEqualTo(PcmState.PREPARED);
        assertThatThrownBy(() -> PcmState.IDLE.after(Snd.R_PCM_INFO)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("PCM_INFO");
    }

    @Test
    void ioIsTakenFromPrepareUntilRelease()
    {
        assertThat(PcmState.values()).filteredOn(PcmState::takesIo)
            .containsExactly(PcmState.PREPARED, PcmState.RUNNING, PcmState.STOPPED);
        assertThat(PcmState.IDLE.accepts(0x7777)).isFalse();
    }
}
