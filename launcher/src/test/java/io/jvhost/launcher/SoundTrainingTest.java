package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SoundTrainingTest
{
    @Test
    void playsEveryPeriodThroughTheSoundDevicesDataPathAsAGuestDoes() throws Exception
    {
        final SoundTraining.Result r = new SoundTraining().play(300);

        assertThat(r.completed()).isEqualTo(300);
        assertThat(r.bytes()).isEqualTo(300L * SoundTraining.PERIOD_BYTES);
        assertThat(r.refused()).isZero();
    }

    @Test
    void theAotTrainingPlaysPastTheJitsTopTierThreshold()
    {
        // C2's invocation threshold (Tier4InvocationThreshold) is 5,000 calls: the cache keeps the final profiles of
        // methods the training ran that often.
        assertThat(AotTraining.SOUND_PERIODS).isGreaterThan(5_000);
    }
}
