package io.jvhost.device.sound;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ALSA back-end through alsa-lib on this host, which has no sound card: ALSA's {@code null} PCM (alsa-lib's own
 * plugin) takes the whole path (open, parameters, non-blocking writes and reads, start, drop, close) inside the
 * device; a card that does not exist fails PREPARE with IO_ERR and alsa-lib's reason, and the device serves on.
 */
class AlsaBackendTest
{
    private static final int PERIOD = 4096;

    @Test
    void playbackAndCaptureRunThroughAlsasNullDevice() throws Exception
    {
        final AlsaBackend alsa = new AlsaBackend("null");
        try (SoundRig rig = new SoundRig(alsa))
        {
            rig.prepareS16Stereo(0, 0);
            rig.prepareS16Stereo(1, 0);
            for (int i = 0; i < 4; i++)
            {
                rig.playback(0, new byte[PERIOD]);
                rig.capture(1, PERIOD);
            }
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_START, 0)));
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_START, 1)));
            rig.serve(2);
            rig.serve(3);
            rig.now += 4 * 21_333_334L;
            rig.serve(2);
            rig.serve(3);
            assertThat(rig.used(2)).hasSize(4);
            assertThat(rig.used(3)).hasSize(4);
            assertThat(rig.device.bytes(0)).isEqualTo(4 * PERIOD);
            assertThat(alsa.dropped(0)).as("the null PCM takes everything").isZero();
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_STOP, 0)));
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_RELEASE, 0)));
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_STOP, 1)));
            SoundRig.check(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_RELEASE, 1)));
        }
    }

    @Test
    void aMissingCardFailsPrepareWithIoErrAndTheDeviceServesOn() throws Exception
    {
        try (SoundRig rig = new SoundRig(new AlsaBackend("hw:7,0")))
        {
            SoundRig.check(rig.controlStatus(SoundRig.setParams(0, 16384, 4096, 0, 2, Snd.FMT_S16, Snd.RATE_48000)));
            assertThat(rig.controlStatus(SoundRig.pcm(Snd.R_PCM_PREPARE, 0))).isEqualTo(Snd.S_IO_ERR);
            assertThat(rig.device.state(0)).isEqualTo(PcmState.PARAMS_SET);
            assertThat(rig.controlStatus(SoundRig.query(Snd.R_PCM_INFO, 0, 1, 32))).isEqualTo(Snd.S_OK);
        }
    }
}
