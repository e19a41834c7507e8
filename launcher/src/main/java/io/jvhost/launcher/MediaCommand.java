package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.media.MediaBackend;
import io.jvhost.device.media.MediaDevice;
import io.jvhost.device.media.NullMedia;
import io.jvhost.device.media.TestPatternCapture;
import io.jvhost.device.media.V4l2Proxy;
import io.jvhost.os.NativeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost media}: virtio-media (V4L2 over virtio), flag-compatible with rust-vmm's vhost-device-media.
 */
@Command(name = "media", mixinStandardHelpOptions = true,
    description = {"virtio-media back-end (virtio ID 48, V4L2 over virtio), flag-compatible with vhost-device-media:"
        + " a software camera with a test pattern (simple-capture), a host /dev/videoN (v4l2-proxy: format and"
        + " enumeration ioctls only) or a node without capabilities (null). Buffers are the guest's own (USERPTR);"
        + " MMAP buffers need vhost-user SHMEM_MAP, which jvhost does not have.",
        "QEMU 11.1 (no virtio-media device; ID 48 aborts its generic device, so squat 39 and add it to the driver's"
        + " id_table): -chardev socket,id=m0,path=PATH -device vhost-user-test-device-pci,chardev=m0,virtio-id=39,"
        + "num_vqs=2,config_size=40"})
final class MediaCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-d", "--v4l2-device"}, paramLabel = "PATH", defaultValue = "/dev/video0",
        description = "With --backend v4l2-proxy: the host V4L2 node. Default: ${DEFAULT-VALUE}.")
    private Path v4l2Device;

    @Option(names = {"-b", "--backend"}, paramLabel = "null|simple-capture|v4l2-proxy", defaultValue = "null",
        description = "The media back-end. Default: ${DEFAULT-VALUE} (as vhost-device-media's code; its README says"
            + " simple-capture). ffmpeg-decoder is not available in jvhost.")
    private String backend;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "media", false, i -> null);
        }
        switch (backend)
        {
            case "null", "simple-capture", "v4l2-proxy" ->
            {
            }
            case "ffmpeg-decoder" -> throw fail("--backend ffmpeg-decoder is not available in jvhost");
            default -> throw fail("unknown --backend '" + backend + "' (null, simple-capture or v4l2-proxy)");
        }
        final List<MediaDevice> devices = new ArrayList<>();
        try
        {
            for (int i = 0; i < Math.max(1, daemon.socketCount); i++)
            {
                devices.add(new MediaDevice("media" + i, backend()));
            }
        }
        catch (final NativeException e)
        {
            System.err.println("jvhost media: " + v4l2Device + " cannot be proxied: " + e.getMessage());
            devices.forEach(MediaDevice::close);
            return 1;
        }
        try
        {
            return DeviceRunner.run(spec, daemon, "media", false, devices::get);
        }
        finally
        {
            devices.forEach(MediaDevice::close);
        }
    }

    private MediaBackend backend() throws NativeException
    {
        return switch (backend)
        {
            case "simple-capture" -> new TestPatternCapture();
            case "v4l2-proxy" -> new V4l2Proxy(v4l2Device);
            default -> new NullMedia();
        };
    }

    private CommandLine.ParameterException fail(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
