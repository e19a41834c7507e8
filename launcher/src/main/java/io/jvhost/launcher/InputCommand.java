package io.jvhost.launcher;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

import io.jvhost.device.input.EvdevSource;
import io.jvhost.device.input.InputControlServer;
import io.jvhost.device.input.InputDevice;
import io.jvhost.device.input.VirtualProfile;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost input}: virtio-input behind QEMU's {@code vhost-user-input-pci}. Two kinds of device:
 * <ul>
 * <li>host evdev devices passed through, flag-compatible with rust-vmm's vhost-device-input: {@code -s PATH -e
 * /dev/input/eventA,/dev/input/eventB} serves one device per entry on {@code PATH0}, {@code PATH1}, ... (the index
 * is always appended, as vhost-device-input does);</li>
 * <li>a virtual keyboard, tablet or both ({@code --virtual}), served on {@code PATH} itself and driven by other
 * local processes through {@code --control-socket} (the line protocol of {@link InputControlServer}).</li>
 * </ul>
 */
@Command(name = "input", mixinStandardHelpOptions = true,
    description = {"virtio-input back-end: host evdev devices passed through (flag-compatible with vhost-device-input),"
        + " or a virtual keyboard/tablet driven through a control socket.",
        "With --event-list the sockets are PATH0..PATH<N-1>, one per device, as vhost-device-input names them;"
            + " with --virtual the socket is PATH.",
        "Control socket lines (each answered 'ok' or 'error <reason>', each followed by a SYN_REPORT):",
        "  key <code> <0|1|2>   a key (KEY_* code) released, pressed or repeated",
        "  btn <code> <0|1>     a button (BTN_*, e.g. 272 = left) released or pressed",
        "  abs <x> <y>          pointer position, each 0..32767",
        "  wheel <n>            wheel clicks (positive: away from the user)",
        "QEMU: -chardev socket,id=in0,path=PATH -device vhost-user-input-pci,chardev=in0"
            + " (guest RAM must be shared: -object memory-backend-memfd,...,share=on)"})
final class InputCommand implements Callable<Integer>
{
    private static final System.Logger LOG = System.getLogger(InputCommand.class.getName());

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = {"-s", "--socket-path"}, paramLabel = "PATH",
        description = "vhost-user Unix socket to listen on (with --event-list: PATH0..PATH<N-1>).")
    Path socketPath;

    @Option(names = "--fd", paramLabel = "FD",
        description = "Serve an inherited socket descriptor instead of --socket-path (one device only).")
    Integer fd;

    @Option(names = {"-e", "--event-list"}, paramLabel = "PATHS", split = ",",
        description = "Comma-separated evdev devices to pass through, e.g. /dev/input/event3,/dev/input/event4.")
    List<String> eventList;

    @Option(names = "--virtual", paramLabel = "PROFILE",
        description = "A virtual device instead of --event-list: keyboard, tablet, or combined (both on one socket).")
    VirtualProfile virtualProfile;

    @Option(names = "--control-socket", paramLabel = "PATH",
        description = "With --virtual: a Unix socket (mode 0600) on which local processes send input lines.")
    Path controlSocket;

    @Option(names = "--grab",
        description = "With --event-list: take the devices for the guest alone (EVIOCGRAB); the host stops seeing"
            + " their events.")
    boolean grab;

    @Option(names = "--buffered-events", paramLabel = "N", defaultValue = "1024",
        description = "Events held per device while the guest takes none; the oldest are dropped beyond (a power of"
            + " two, 2..1048576). Default: ${DEFAULT-VALUE}.")
    int bufferedEvents;

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message and status event (debug level).")
    boolean verbose;

    private final List<EvdevSource> sources = new ArrayList<>();
    private InputControlServer control;

    @Override
    public Integer call()
    {
        final DaemonOptions daemon = daemonOptions();
        if (printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "input", true, i -> null);
        }
        validate();
        if (verbose)
        {
            Logging.setLevel("debug");
        }
        final Thread cleanup = new Thread(ThreadTop.guarded("jvhost-input-cleanup", this::closeAll),
            "jvhost-input-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try
        {
            return null != virtualProfile ? runVirtual(daemon) : runPassthrough(daemon);
        }
        finally
        {
            closeAll();
            try
            {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            }
            catch (final IllegalStateException e)
            {
                // the JVM is already shutting down; the hook finds nothing left to close
            }
        }
    }

    private int runVirtual(final DaemonOptions daemon)
    {
        final InputDevice device = new InputDevice("input0", virtualProfile.capabilities(), bufferedEvents, null);
        LOG.log(Level.INFO, "input0: virtual " + virtualProfile.cliName() + " " + device.capabilities());
        if (null != controlSocket)
        {
            try
            {
                control = InputControlServer.listen("input0", controlSocket, device, device.capabilities());
            }
            catch (final IOException e)
            {
                System.err.println("jvhost input: " + e.getMessage());
                return 1;
            }
        }
        else
        {
            LOG.log(Level.WARNING, "input0: no --control-socket: nothing will send events to the virtual "
                + virtualProfile.cliName());
        }
        return DeviceRunner.run(spec, daemon, "input", false, i -> device);
    }

    private int runPassthrough(final DaemonOptions daemon)
    {
        for (final String path : eventList)
        {
            try
            {
                final EvdevSource source = EvdevSource.open(path, grab);
                sources.add(source);
                LOG.log(Level.INFO, "input" + (sources.size() - 1) + ": " + source);
            }
            catch (final IOException e)
            {
                System.err.println("jvhost input: " + e.getMessage());
                return 1;
            }
        }
        return DeviceRunner.run(spec, daemon, "input", true, i ->
        {
            final EvdevSource source = sources.get(i);
            final InputDevice device = new InputDevice("input" + i, source.capabilities(), bufferedEvents, source);
            try
            {
                source.start(device);
            }
            catch (final NativeException e)
            {
                throw new IllegalStateException("cannot start reading " + source.path() + ": " + e.getMessage(), e);
            }
            return device;
        });
    }

    private synchronized void closeAll()
    {
        if (null != control)
        {
            control.close();
            control = null;
        }
        sources.forEach(EvdevSource::close);
        sources.clear();
    }

    /**
     * @throws CommandLine.ParameterException naming the first bad flag or value.
     */
    void validate()
    {
        if ((null == socketPath) == (null == fd))
        {
            throw usage("exactly one of --socket-path and --fd is required");
        }
        final boolean passthrough = null != eventList && !eventList.isEmpty();
        if (passthrough == (null != virtualProfile))
        {
            throw usage(passthrough ? "--event-list and --virtual are exclusive: pass host devices through, or serve"
                + " a virtual one" : "one of --event-list (host devices) or --virtual (keyboard, tablet, combined) is"
                + " required");
        }
        if (passthrough)
        {
            final Set<String> seen = new HashSet<>();
            for (final String path : eventList)
            {
                if (path.isBlank())
                {
                    throw usage("--event-list has an empty entry: '" + String.join(",", eventList) + "'");
                }
                if (!seen.add(path))
                {
                    throw usage("--event-list names " + path + " twice");
                }
            }
            if (null != controlSocket)
            {
                throw usage("--control-socket drives a --virtual device; --event-list devices take their events from"
                    + " the host device");
            }
            if (null != fd && eventList.size() > 1)
            {
                throw usage("--fd serves one socket, --event-list names " + eventList.size() + " devices");
            }
        }
        else if (grab)
        {
            throw usage("--grab takes host devices (--event-list) for the guest; a --virtual device has none");
        }
        if (bufferedEvents < 2 || bufferedEvents > 1 << 20 || 0 != (bufferedEvents & (bufferedEvents - 1)))
        {
            throw usage("--buffered-events must be a power of two from 2 to 1048576, got " + bufferedEvents);
        }
        if (null != socketPath && null != controlSocket && socketPath.toAbsolutePath().normalize()
            .equals(controlSocket.toAbsolutePath().normalize()))
        {
            throw usage("--control-socket must differ from --socket-path, both are " + socketPath);
        }
    }

    /**
     * @return the shared daemon options these flags give (one socket per --event-list entry).
     */
    DaemonOptions daemonOptions()
    {
        return DaemonOptions.of(socketPath, fd, null != eventList && !eventList.isEmpty() ? eventList.size() : 1,
            printCapabilities, verbose);
    }

    /**
     * @return the vhost-user sockets served: {@code PATH0..PATH<N-1>} for N evdev devices, {@code PATH} for a
     *     virtual one.
     */
    List<Path> socketPaths()
    {
        return daemonOptions().socketPaths(null == virtualProfile);
    }

    private CommandLine.ParameterException usage(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
