package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine.Option;

/**
 * The options every device back-end shares, following QEMU's vhost-user "back-end program conventions" and
 * rust-vmm's vhost-device flags.
 */
public final class DaemonOptions
{
    @Option(names = {"-s", "--socket-path"}, paramLabel = "PATH",
        description = "vhost-user Unix socket to listen on (with --socket-count N: PATH0..PATH<N-1>).")
    Path socketPath;

    @Option(names = {"--fd", "--socket-fd"}, paramLabel = "FD",
        description = "Serve an inherited socket descriptor instead of --socket-path: a listening socket is accepted"
            + " on repeatedly, a connected one is served once. --socket-fd is rust-vmm's name for it.")
    Integer fd;

    @Option(names = {"-c", "--socket-count"}, paramLabel = "N", defaultValue = "1",
        description = "Number of guests (sockets), one device each. Default: ${DEFAULT-VALUE}.")
    int socketCount;

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message (debug level).")
    boolean verbose;

    /**
     * @return the options of a command that spells these flags its own way (a flag set kept compatible with another
     *     back-end program) instead of mixing them in.
     */
    static DaemonOptions of(final Path socketPath, final Integer fd, final int socketCount,
        final boolean printCapabilities, final boolean verbose)
    {
        final DaemonOptions daemon = new DaemonOptions();
        daemon.socketPath = socketPath;
        daemon.fd = fd;
        daemon.socketCount = socketCount;
        daemon.printCapabilities = printCapabilities;
        daemon.verbose = verbose;
        return daemon;
    }

    /**
     * @param alwaysSuffix true to append the index even for one socket (vhost-device-rng does).
     * @return the socket paths to listen on.
     */
    List<Path> socketPaths(final boolean alwaysSuffix)
    {
        final List<Path> paths = new ArrayList<>();
        if (socketCount == 1 && !alwaysSuffix)
        {
            paths.add(socketPath);
            return paths;
        }
        for (int i = 0; i < socketCount; i++)
        {
            paths.add(socketPath.resolveSibling(socketPath.getFileName().toString() + i));
        }
        return paths;
    }
}
