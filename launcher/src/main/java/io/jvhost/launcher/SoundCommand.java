package io.jvhost.launcher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.jvhost.device.sound.AlsaBackend;
import io.jvhost.device.sound.NullBackend;
import io.jvhost.device.sound.SoundBackend;
import io.jvhost.device.sound.SoundDevice;
import io.jvhost.device.sound.WavFileBackend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost sound}: virtio-snd, flag-compatible with rust-vmm's vhost-device-sound ({@code --socket PATH} or
 * {@code --socket-fd FD}, {@code --backend null|alsa|...}), plus a WAV file back-end for tests and recording.
 */
@Command(name = "sound", mixinStandardHelpOptions = true,
    description = {"virtio-snd back-end (1 playback and 1 capture stream, 2 jacks, 2 channel maps),"
        + " flag-compatible with vhost-device-sound.",
        "QEMU 10: -chardev socket,id=snd0,path=SOCKET -device vhost-user-snd-pci,chardev=snd0"
            + " (guest RAM must be shared: -object memory-backend-memfd,...,share=on; Linux 6.12 has virtio_snd)"})
final class SoundCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH",
        description = "vhost-user Unix socket to listen on (re-listened on after each front-end leaves).")
    Path socket;

    @Option(names = "--socket-fd", paramLabel = "FD",
        description = "Serve an inherited socket descriptor instead of --socket: a listening socket is accepted on"
            + " repeatedly, a connected one served once.")
    Integer socketFd;

    @Option(names = "--backend", paramLabel = "null|alsa|file",
        description = "Host side: null (playback discarded, capture silent, both paced in real time), alsa (a host"
            + " ALSA PCM through libasound, see --alsa-device), file (WAV files, see --playback-file and"
            + " --capture-file). pipewire and gstreamer are refused.")
    String backend;

    @Option(names = "--alsa-device", paramLabel = "NAME", defaultValue = "default",
        description = "With --backend alsa: the ALSA PCM to open (default, hw:0,0, null, ...). Default:"
            + " ${DEFAULT-VALUE}.")
    String alsaDevice;

    @Option(names = "--playback-file", paramLabel = "FILE.wav",
        description = "With --backend file: record playback into this WAV file (rewritten at the first PREPARE).")
    Path playbackFile;

    @Option(names = "--capture-file", paramLabel = "FILE.wav",
        description = "With --backend file: capture reads this WAV file (8/16/32-bit PCM or 32-bit float); the"
            + " capture stream offers exactly its format.")
    Path captureFile;

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message (debug level).")
    boolean verbose;

    @Override
    public Integer call()
    {
        final DaemonOptions daemon = DaemonOptions.of(socket, socketFd, 1, printCapabilities, verbose);
        if (printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "sound", false, i -> null);
        }
        if ((null == socket) == (null == socketFd))
        {
            throw fail("exactly one of --socket and --socket-fd is required");
        }
        if (null == backend)
        {
            throw fail("--backend is required (null, alsa or file)");
        }
        if (!"file".equals(backend) && (null != playbackFile || null != captureFile))
        {
            throw fail("--playback-file and --capture-file go with --backend file");
        }
        final SoundBackend host;
        try
        {
            host = switch (backend)
            {
                case "null" -> new NullBackend();
                case "alsa" -> new AlsaBackend(alsaDevice);
                case "file" -> new WavFileBackend(playbackFile, captureFile);
                case "pipewire", "gstreamer" -> throw fail("--backend " + backend + " is not available in jvhost"
                    + " (use alsa: PipeWire and PulseAudio serve ALSA's default device)");
                default -> throw fail("unknown --backend '" + backend + "' (null, alsa or file)");
            };
        }
        catch (final IOException | IllegalArgumentException | IllegalStateException e)
        {
            System.err.println("jvhost sound: " + e.getMessage());
            return 1;
        }
        final SoundDevice device = new SoundDevice("sound0", host);
        try
        {
            return DeviceRunner.run(spec, daemon, "sound", false, i -> device);
        }
        finally
        {
            device.close();
        }
    }

    private CommandLine.ParameterException fail(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
