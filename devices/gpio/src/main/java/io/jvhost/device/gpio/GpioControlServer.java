package io.jvhost.device.gpio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Semaphore;

/**
 * A Unix socket (owner only) whose clients drive a {@link SimulatedGpioChip} line by line: {@code set LINE 0|1}
 * drives an input (an armed interrupt triggers on the edge or level its type asks for), {@code get LINE} prints
 * {@code LINE dir=none|out|in value=0|1 irq=TYPE} with the level the guest sees; each command is answered
 * {@code ok}, that line, or {@code error ...}. Lines over 256 bytes close the client; at most 16 clients at once,
 * each on a virtual thread. Blank lines and lines starting with {@code #} are ignored.
 */
public final class GpioControlServer implements AutoCloseable
{
    public static final int MAX_LINE = 256;
    public static final int MAX_CLIENTS = 16;

    private static final System.Logger LOG = System.getLogger(GpioControlServer.class.getName());

    private final String name;
    private final Path path;
    private final SimulatedGpioChip chip;
    private final ServerSocketChannel server;
    private final Semaphore slots = new Semaphore(MAX_CLIENTS);
    private final Thread acceptor;
    private volatile boolean closed;

    private GpioControlServer(final String name, final Path path, final SimulatedGpioChip chip,
        final ServerSocketChannel server)
    {
        this.name = name;
        this.path = path;
        this.chip = chip;
        this.server = server;
        this.acceptor = Thread.ofVirtual().name(name + "-control").start(this::acceptLoop);
    }

    public static GpioControlServer listen(final String name, final Path path, final SimulatedGpioChip chip)
        throws IOException
    {
        Files.deleteIfExists(path);
        final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            server.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        }
        catch (final IOException e)
        {
            server.close();
            throw new IOException("cannot listen on the control socket " + path + ": " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, name + ": control socket " + path);
        return new GpioControlServer(name, path, chip, server);
    }

    public Path path()
    {
        return path;
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            final SocketChannel client;
            try
            {
                client = server.accept();
            }
            catch (final IOException e)
            {
                if (!closed)
                {
                    LOG.log(Level.WARNING, name + ": control socket accept failed: " + e.getMessage());
                }
                return;
            }
            if (!slots.tryAcquire())
            {
                reply(client, "error too many clients (" + MAX_CLIENTS + ")");
                closeQuietly(client);
                continue;
            }
            Thread.ofVirtual().name(name + "-control-client").start(() ->
            {
                try
                {
                    serve(client);
                }
                finally
                {
                    closeQuietly(client);
                    slots.release();
                }
            });
        }
    }

    private void serve(final SocketChannel client)
    {
        final ByteBuffer in = ByteBuffer.allocate(MAX_LINE + 1);
        try
        {
            while (client.read(in) >= 0)
            {
                in.flip();
                int start = 0;
                for (int i = 0; i < in.limit(); i++)
                {
                    if (in.get(i) == '\n')
                    {
                        final String line = new String(in.array(), start, i - start, StandardCharsets.US_ASCII).strip();
                        start = i + 1;
                        final String answer = execute(line);
                        if (null != answer)
                        {
                            reply(client, answer);
                        }
                    }
                }
                in.position(start);
                in.compact();
                if (!in.hasRemaining())
                {
                    reply(client, "error line longer than " + MAX_LINE + " bytes; closing");
                    // Half-close first and drop what is already queued, so closing does not reset the connection
                    // (which would lose the reply).
                    client.shutdownOutput();
                    client.configureBlocking(false);
                    in.clear();
                    while (client.read(in) > 0)
                    {
                        in.clear();
                    }
                    return;
                }
            }
        }
        catch (final IOException e)
        {
            // The client went away.
        }
    }

    /**
     * @return the answer, or null for a blank line or a comment.
     */
    String execute(final String line)
    {
        if (line.isEmpty() || line.startsWith("#"))
        {
            return null;
        }
        final String[] words = line.split("\\s+");
        try
        {
            switch (words[0])
            {
                case "set":
                    if (words.length != 3)
                    {
                        return "error set needs a line and a level: '" + line + "'";
                    }
                    chip.drive(Integer.parseInt(words[1]), Integer.parseInt(words[2]));
                    return "ok";
                case "get":
                    if (words.length != 2)
                    {
                        return "error get needs a line: '" + line + "'";
                    }
                    final int n = Integer.parseInt(words[1]);
                    if (n < 0 || n >= chip.lineCount())
                    {
                        return "error line must be 0.." + (chip.lineCount() - 1) + ", got " + n;
                    }
                    final int dir = chip.direction(n);
                    return n + " dir=" + (dir == GpioChip.DIRECTION_OUT ? "out" : dir == GpioChip.DIRECTION_IN ? "in"
                        : "none") + " value=" + chip.value(n) + " irq=" + irqName(chip.irqType(n));
                default:
                    return "error unknown command '" + words[0] + "': expected set or get";
            }
        }
        catch (final NumberFormatException e)
        {
            return "error not a number in '" + line + "'";
        }
        catch (final IllegalArgumentException e)
        {
            return "error " + e.getMessage();
        }
    }

    static String irqName(final int type)
    {
        return switch (type)
        {
            case GpioChip.IRQ_NONE -> "none";
            case GpioChip.IRQ_EDGE_RISING -> "edge-rising";
            case GpioChip.IRQ_EDGE_FALLING -> "edge-falling";
            case GpioChip.IRQ_EDGE_BOTH -> "edge-both";
            case GpioChip.IRQ_LEVEL_HIGH -> "level-high";
            case GpioChip.IRQ_LEVEL_LOW -> "level-low";
            default -> "0x" + Integer.toHexString(type);
        };
    }

    private static void reply(final SocketChannel client, final String text)
    {
        try
        {
            final ByteBuffer b = ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.US_ASCII));
            while (b.hasRemaining())
            {
                client.write(b);
            }
        }
        catch (final IOException e)
        {
            // The client went away.
        }
    }

    private static void closeQuietly(final SocketChannel c)
    {
        try
        {
            c.close();
        }
        catch (final IOException e)
        {
            // Nothing to do.
        }
    }

    @Override
    public void close()
    {
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException e)
        {
            // Nothing to do.
        }
        acceptor.interrupt();
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException e)
        {
            // Nothing to do.
        }
    }
}
