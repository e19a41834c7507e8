package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import io.jvhost.device.VirtioDevice;
import io.jvhost.vhostuser.backend.VhostUserDaemon;

/**
 * A device served by our vhost-user back-end in this process, for the tests that drive it with the in-process
 * front-end: a {@link VhostUserDaemon} listening on a socket, run by its own thread, accepting one front-end after
 * another until {@link #close()}.
 * <p>
 * {@link #drive} is one front-end's visit: guest RAM, a connection and a {@link VirtioSession} (not started), handed
 * to the test's body and closed after it, whatever the body did.
 * <pre>{@code
 * try (ServedDevice served = ServedDevice.serve("gpio0", device, dir.resolve("gpio.sock")))
 * {
 *     served.drive(4L << 20, 1, b -> b.queues(2, 64), (ram, fe, session) ->
 *     {
 *         session.start();
 *         ...
 *     });
 * }
 * }</pre>
 */
public final class ServedDevice implements AutoCloseable
{
    /** How long a front-end waits for the daemon to accept it and answer. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);
    private static final long JOIN_MILLIS = 10_000;

    /** A test's body for one front-end: what a guest's driver does with the device. */
    @FunctionalInterface
    public interface Driver
    {
        void drive(GuestRam ram, VhostUserFrontend fe, VirtioSession session) throws Exception;
    }

    private final Path socket;
    private final VhostUserDaemon daemon;
    private final Thread thread;

    private ServedDevice(final String name, final VirtioDevice device, final Path socket) throws IOException
    {
        this.socket = socket;
        this.daemon = VhostUserDaemon.listen(name, device, socket);
        this.thread = Thread.ofPlatform().name(name + "-daemon").daemon(true).start(daemon::run);
    }

    /** Listens on {@code socket} for {@code device} (named {@code name} in the log) and serves it on a thread. */
    public static ServedDevice serve(final String name, final VirtioDevice device, final Path socket)
        throws IOException
    {
        return new ServedDevice(name, device, socket);
    }

    public Path socket()
    {
        return socket;
    }

    public VhostUserDaemon daemon()
    {
        return daemon;
    }

    /** Whether the daemon's thread still runs (it ends at {@link #close()}, or when the listening socket fails). */
    public boolean isRunning()
    {
        return thread.isAlive();
    }

    /** A front-end's connection to the daemon: the caller closes it. */
    public VhostUserFrontend connect() throws IOException
    {
        return VhostUserFrontend.connect(socket, CONNECT_TIMEOUT);
    }

    /**
     * One front-end: creates {@code ramBytes} of guest RAM in {@code regions} regions, connects, builds the session
     * {@code session} configures (not started), runs {@code body} and closes the session, the connection and the RAM.
     */
    public void drive(final long ramBytes, final int regions, final UnaryOperator<VirtioSession.Builder> session,
        final Driver body) throws Exception
    {
        try (GuestRam ram = GuestRam.create(ramBytes, regions);
             VhostUserFrontend fe = connect();
             VirtioSession s = session.apply(VirtioSession.builder(fe, ram)).build())
        {
            body.drive(ram, fe, s);
        }
    }

    /** Stops the daemon (closing its socket and any connection) and waits for its thread. */
    @Override
    public void close()
    {
        daemon.close();
        try
        {
            thread.join(JOIN_MILLIS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
