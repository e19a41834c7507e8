package io.jvhost.launcher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.Supplier;

import io.jvhost.device.VirtioDevice;
import io.jvhost.os.ThreadTop;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.backend.VhostUserExtension;
import picocli.CommandLine;

/**
 * Starts one daemon per socket for a device type, each in its own thread, and stops them all cleanly on SIGTERM or
 * SIGINT (the shutdown hook closes the listeners, which removes their socket files). The process exits 0 after such
 * a stop, and 1 once every daemon has ended when one of them ended because its socket failed for good (it logged
 * why); the others keep serving until then.
 */
final class DeviceRunner
{
    private DeviceRunner()
    {
    }

    /**
     * @param type    the device type name for --print-capabilities ({@code rng}, {@code gpu}, ...).
     * @param devices makes the device for socket {@code i}.
     * @return the process exit code.
     */
    static int run(final CommandLine.Model.CommandSpec spec, final DaemonOptions options, final String type,
        final boolean alwaysSuffix, final IntFunction<VirtioDevice> devices)
    {
        return run(spec, options, type, alwaysSuffix, devices, i -> () -> null);
    }

    /**
     * @param extensions for socket {@code i} (called after {@code devices} made its device): a supplier of one
     *                   extension per connection (see {@link VhostUserDaemon#listen(String, VirtioDevice,
     *                   Supplier, Path)}).
     * @return the process exit code.
     */
    static int run(final CommandLine.Model.CommandSpec spec, final DaemonOptions options, final String type,
        final boolean alwaysSuffix, final IntFunction<VirtioDevice> devices,
        final IntFunction<Supplier<VhostUserExtension>> extensions)
    {
        if (options.printCapabilities)
        {
            System.out.println("{\n  \"type\": \"" + type + "\"\n}");
            return 0;
        }
        if (options.verbose)
        {
            Logging.setLevel("debug");
        }
        if ((null == options.socketPath) == (null == options.fd))
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "exactly one of --socket-path and --fd is required");
        }
        if (options.socketCount < 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--socket-count must be at least 1, got " + options.socketCount);
        }
        if (null != options.fd && options.socketCount != 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--fd serves one socket: drop --socket-count");
        }
        return serve(type, null == options.fd ? options.socketPaths(alwaysSuffix) : List.of(), options.fd, devices,
            extensions);
    }

    /**
     * Serves one device per socket path (for back-ends whose paths are not PATH0..PATH<N-1>, e.g. vsock's --vm).
     *
     * @return the process exit code.
     */
    static int serve(final String type, final List<Path> paths, final IntFunction<VirtioDevice> devices)
    {
        return serve(type, paths, null, devices, i -> () -> null);
    }

    private static int serve(final String type, final List<Path> paths, final Integer fd,
        final IntFunction<VirtioDevice> devices, final IntFunction<Supplier<VhostUserExtension>> extensions)
    {
        final List<VhostUserDaemon> daemons = new ArrayList<>();
        try
        {
            if (null != fd)
            {
                final VirtioDevice device = devices.apply(0);
                daemons.add(VhostUserDaemon.inherit(type + "0", device, extensions.apply(0), fd));
            }
            else
            {
                for (int i = 0; i < paths.size(); i++)
                {
                    final VirtioDevice device = devices.apply(i);
                    daemons.add(VhostUserDaemon.listen(type + i, device, extensions.apply(i), paths.get(i)));
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            daemons.forEach(VhostUserDaemon::close);
            System.err.println("jvhost " + type + ": " + e.getMessage());
            return 1;
        }
        // SIGTERM/SIGINT stop the daemons and let run() return, so the process exits 0 after a clean stop; the
        // shutdown hook covers every other way the JVM may go down.
        final Runnable stopAll = () -> daemons.forEach(VhostUserDaemon::shutdown);
        for (final String signal : new String[] {"TERM", "INT"})
        {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), ignored -> stopAll.run());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(ThreadTop.guarded("jvhost-shutdown",
            () -> daemons.forEach(VhostUserDaemon::close)), "jvhost-shutdown"));
        final List<Thread> threads = new ArrayList<>();
        for (final VhostUserDaemon d : daemons)
        {
            final String thread = "jvhost-" + type + "-" + threads.size();
            threads.add(Thread.ofPlatform().name(thread).start(ThreadTop.guarded(thread, d::run)));
        }
        for (final Thread t : threads)
        {
            try
            {
                t.join();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                break;
            }
        }
        daemons.forEach(VhostUserDaemon::close);
        return daemons.stream().anyMatch(VhostUserDaemon::failed) ? 1 : 0;
    }
}
