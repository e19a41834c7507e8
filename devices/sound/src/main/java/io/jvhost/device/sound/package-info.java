/**
 * virtio-snd (virtio ID 25), a drop-in for rust-vmm's vhost-device-sound: {@link io.jvhost.device.sound.SoundDevice}
 * (queues, configuration, control requests, real-time pacing), {@link io.jvhost.device.sound.PcmState} (the PCM
 * command lifecycle) and the host sides behind {@link io.jvhost.device.sound.SoundBackend}: {@code null}, a WAV file
 * ({@link io.jvhost.device.sound.WavFileBackend}) and ALSA through libasound ({@link
 * io.jvhost.device.sound.AlsaBackend}).
 * <pre>
 *  guest --tx: held until START, then consumed in real time--> back-end (WAV file, ALSA, nothing)
 *  back-end --rx: held until START, then filled in real time--> guest
 * </pre>
 */
package io.jvhost.device.sound;
