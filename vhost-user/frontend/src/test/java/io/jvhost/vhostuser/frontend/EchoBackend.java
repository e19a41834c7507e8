package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Our vhost-user back-end serving an {@link EchoDevice}, in this process: a {@link ServedDevice} on a socket in a
 * temporary directory, accepting one front-end after another.
 */
final class EchoBackend implements AutoCloseable
{
    private final EchoDevice device = new EchoDevice();
    private final ServedDevice served;

    private EchoBackend(final Path socket) throws IOException
    {
        this.served = ServedDevice.serve("echo", device, socket);
    }

    static EchoBackend start(final Path dir) throws IOException
    {
        return new EchoBackend(dir.resolve("echo.sock"));
    }

    Path socket()
    {
        return served.socket();
    }

    EchoDevice device()
    {
        return device;
    }

    VhostUserFrontend connect() throws IOException
    {
        return VhostUserFrontend.connect(served.socket());
    }

    boolean isRunning()
    {
        return served.isRunning();
    }

    @Override
    public void close()
    {
        served.close();
    }
}
