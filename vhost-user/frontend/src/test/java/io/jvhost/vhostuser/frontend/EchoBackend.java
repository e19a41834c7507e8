package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.nio.file.Path;

import io.jvhost.vhostuser.backend.VhostUserDaemon;

/**
 * Our vhost-user back-end serving an {@link EchoDevice}, in this process: a {@link VhostUserDaemon} listening on a
 * socket in a temporary directory, run by its own thread, accepting one front-end after another.
 */
final class EchoBackend implements AutoCloseable
{
    private final EchoDevice device = new EchoDevice();
    private final Path socket;
    private final VhostUserDaemon daemon;
    private final Thread thread;

    private EchoBackend(final Path socket) throws IOException
    {
        this.socket = socket;
        this.daemon = VhostUserDaemon.listen("echo", device, socket);
        this.thread = Thread.ofPlatform().name("echo-daemon").daemon(true).start(daemon::run);
    }

    static EchoBackend start(final Path dir) throws IOException
    {
        return new EchoBackend(dir.resolve("echo.sock"));
    }

    Path socket()
    {
        return socket;
    }

    EchoDevice device()
    {
        return device;
    }

    VhostUserFrontend connect() throws IOException
    {
        return VhostUserFrontend.connect(socket);
    }

    boolean isRunning()
    {
        return thread.isAlive();
    }

    @Override
    public void close()
    {
        daemon.close();
        try
        {
            thread.join(5000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
