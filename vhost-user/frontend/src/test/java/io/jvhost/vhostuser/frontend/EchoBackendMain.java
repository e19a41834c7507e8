package io.jvhost.vhostuser.frontend;

import java.nio.file.Path;

import io.jvhost.vhostuser.backend.VhostUserDaemon;

/**
 * The echo back-end as a program, for {@link BackendProcessTest}: {@code EchoBackendMain SOCKET_PATH}.
 */
public final class EchoBackendMain
{
    private EchoBackendMain()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        System.err.println("echo back-end starting on " + args[0]);
        try (VhostUserDaemon daemon = VhostUserDaemon.listen("echo", new EchoDevice(), Path.of(args[0])))
        {
            daemon.run();
        }
    }
}
