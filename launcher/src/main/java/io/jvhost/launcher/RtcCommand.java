package io.jvhost.launcher;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.rtc.RtcClock;
import io.jvhost.device.rtc.RtcDevice;
import io.jvhost.os.NativeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost rtc}: virtio-rtc, flag-compatible with rust-vmm's vhost-device-rtc.
 */
@Command(name = "rtc", mixinStandardHelpOptions = true,
    description = {"virtio-rtc back-end: the host's CLOCK_REALTIME (as UTC, with an alarm), CLOCK_TAI and"
        + " CLOCK_MONOTONIC, flag-compatible with vhost-device-rtc. Listens on PATH exactly (PATH0..PATH<N-1> with"
        + " --socket-count N).",
        "QEMU 11.1: -chardev socket,id=rtc0,path=PATH -device vhost-user-rtc-pci,chardev=rtc0"})
final class RtcCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = "--no-offer-alarm",
        description = "Don't offer the alarm (VIRTIO_RTC_F_ALARM) of the UTC clock.")
    private boolean noOfferAlarm;

    @Option(names = "--no-utc", description = "Don't offer the UTC clock (the host's CLOCK_REALTIME).")
    private boolean noUtc;

    @Option(names = "--no-tai", description = "Don't offer the TAI clock (the host's CLOCK_TAI).")
    private boolean noTai;

    @Option(names = "--no-monotonic", description = "Don't offer the monotonic clock (the host's CLOCK_MONOTONIC).")
    private boolean noMonotonic;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "rtc", false, i -> null);
        }
        return DeviceRunner.run(spec, daemon, "rtc", false, i -> new RtcDevice("rtc" + i, clocks(), !noOfferAlarm));
    }

    /**
     * @return fresh clocks (each device has its own alarm state), in vhost-device-rtc's order: UTC, TAI, monotonic.
     */
    private List<RtcClock> clocks()
    {
        final List<RtcClock> clocks = new ArrayList<>();
        try
        {
            if (!noUtc)
            {
                clocks.add(RtcClock.utc());
            }
            if (!noTai)
            {
                clocks.add(RtcClock.tai());
            }
            if (!noMonotonic)
            {
                clocks.add(RtcClock.monotonic());
            }
        }
        catch (final NativeException e)
        {
            throw new IllegalStateException("a host clock is not available: " + e.getMessage(), e);
        }
        return clocks;
    }
}
