package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.video.NullVideo;
import io.jvhost.device.video.V4l2Decoder;
import io.jvhost.device.video.VideoBackend;
import io.jvhost.device.video.VideoDevice;
import io.jvhost.os.NativeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost video}: the staging virtio-video decoder, flag-compatible with rust-vmm's staging
 * vhost-device-video.
 */
@Command(name = "video", mixinStandardHelpOptions = true,
    description = {"STAGING: virtio-video decoder back-end (virtio ID 31, the draft v3 protocol of rust-vmm's staging"
        + " vhost-device-video; no Linux kernel has a driver for it), flag-compatible with vhost-device-video."
        + " Back-ends: null (streams and resources are kept, nothing is decoded) and v4l2-decoder (checks that the"
        + " node is a V4L2 memory-to-memory device and opens it per stream; decoding through it is not written).",
        "QEMU 11.1: -chardev socket,id=v0,path=PATH -device vhost-user-test-device-pci,chardev=v0,virtio-id=31,"
        + "num_vqs=2,config_size=44"})
final class VideoCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-d", "--v4l2-device"}, paramLabel = "PATH", defaultValue = "/dev/video0",
        description = "With --backend v4l2-decoder: the host V4L2 decoder node. Default: ${DEFAULT-VALUE}.")
    private Path v4l2Device;

    @Option(names = {"-b", "--backend"}, paramLabel = "null|v4l2-decoder",
        description = "The video back-end (required, as in vhost-device-video).")
    private String backend;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "video", false, i -> null);
        }
        if (null == backend)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--backend is required (null or"
                + " v4l2-decoder)");
        }
        if (!"null".equals(backend) && !"v4l2-decoder".equals(backend))
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown --backend '" + backend
                + "' (null or v4l2-decoder)");
        }
        final List<VideoDevice> devices = new ArrayList<>();
        try
        {
            for (int i = 0; i < Math.max(1, daemon.socketCount); i++)
            {
                final VideoBackend b = "null".equals(backend) ? new NullVideo() : new V4l2Decoder(v4l2Device);
                devices.add(new VideoDevice("video" + i, b));
            }
        }
        catch (final NativeException | IllegalArgumentException e)
        {
            System.err.println("jvhost video: " + v4l2Device + " cannot decode: " + e.getMessage());
            devices.forEach(VideoDevice::close);
            return 1;
        }
        try
        {
            return DeviceRunner.run(spec, daemon, "video", false, devices::get);
        }
        finally
        {
            devices.forEach(VideoDevice::close);
        }
    }
}
