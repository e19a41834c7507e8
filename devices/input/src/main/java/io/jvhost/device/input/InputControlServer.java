package io.jvhost.device.input;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.jvhost.os.ThreadTop;

/**
 * A local Unix socket through which other processes on the host (a display server, a test, {@code socat}) drive a
 * virtual input device with a line protocol. Each line is one command, ASCII, ending in {@code \n}; numbers are
 * decimal (or {@code 0x} hex); each command is followed by an implicit {@code EV_SYN/SYN_REPORT}:
 * <pre>
 *   key &lt;code&gt; &lt;0|1|2&gt;      EV_KEY: a key (linux/input-event-codes.h KEY_*, e.g. 30 = KEY_A) released (0),
 *                             pressed (1) or auto-repeated (2)
 *   btn &lt;code&gt; &lt;0|1&gt;        EV_KEY: a button (BTN_*, 0x100..0x2ff, e.g. 272 = BTN_LEFT) released or pressed
 *   abs &lt;x&gt; &lt;y&gt;            EV_ABS: ABS_X x, ABS_Y y, the pointer's position, each 0..32767 (the axis range)
 *   wheel &lt;n&gt;              EV_REL: REL_WHEEL n (positive: away from the user), -32768..32767
 * </pre>
 * Every command is answered with one line: {@code ok}, or {@code error <reason>} naming the offending value
 * (unknown command, bad number, a code or axis the device does not have). Empty lines and lines starting with
 * {@code #} are ignored and not answered. A line longer than {@value #MAX_LINE} bytes ends the connection.
 * <p>
 * The socket is created with mode 0600 (its owner alone may connect); a stale socket file is replaced. Up to
 * {@value #MAX_CLIENTS} clients at once, each served on a virtual thread; commands from different clients
 * interleave report by report.
 */
public final class InputControlServer implements AutoCloseable
{
    /** Longest command line accepted. */
    public static final int MAX_LINE = 256;
    /** Clients connected at once. */
    public static final int MAX_CLIENTS = 16;

    private static final System.Logger LOG = System.getLogger(InputControlServer.class.getName());
    private static final ByteBuffer OK = ByteBuffer.wrap("ok\n".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();

    private final String name;
    private final Path path;
    private final InputSink sink;
    private final InputCapabilities capabilities;
    private final ServerSocketChannel server;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private InputControlServer(final String name, final Path path, final InputSink sink,
        final InputCapabilities capabilities, final ServerSocketChannel server)
    {
        this.name = name;
        this.path = path;
        this.sink = sink;
        this.capabilities = capabilities;
        this.server = server;
        this.acceptor = Thread.ofPlatform().daemon(true).name(name + "-control")
            .unstarted(ThreadTop.guarded(name + ": control socket " + path, this::acceptLoop));
    }

    /**
     * Listens on {@code path} and starts accepting.
     *
     * @param sink         where the commands' events go (the device).
     * @param capabilities what the device reports: commands for codes or axes it lacks are refused.
     * @throws IOException naming the path when the socket cannot be created.
     */
    public static InputControlServer listen(final String name, final Path path, final InputSink sink,
        final InputCapabilities capabilities) throws IOException
    {
        Objects.requireNonNull(sink, "sink");
        Objects.requireNonNull(capabilities, "capabilities");
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS))
        {
            if (!isSocket(path))
            {
                throw new IOException("refusing to replace control socket " + path + ": it exists and is not a socket");
            }
            Files.delete(path);
        }
        final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            server.bind(UnixDomainSocketAddress.of(path), MAX_CLIENTS);
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        }
        catch (final IOException | RuntimeException e)
        {
            server.close();
            throw new IOException("cannot listen on control socket " + path + ": " + e.getMessage(), e);
        }
        final InputControlServer s = new InputControlServer(name, path, sink, capabilities, server);
        s.acceptor.start();
        LOG.log(Level.INFO, name + ": control socket listening on " + path);
        return s;
    }

    private static boolean isSocket(final Path path)
    {
        try
        {
            final int mode = (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & 0xF000) == 0xC000;
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            return false;
        }
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
                    LOG.log(Level.ERROR, name + ": control socket " + path + " stopped accepting: " + e.getMessage());
                }
                return;
            }
            if (clients.size() >= MAX_CLIENTS)
            {
                reply(client, "error too many control connections (" + MAX_CLIENTS + ")");
                closeQuietly(client);
                continue;
            }
            clients.add(client);
            Thread.ofVirtual().name(name + "-control-client")
                .start(ThreadTop.guarded(name + ": control client", () -> serve(client)));
        }
    }

    private void serve(final SocketChannel client)
    {
        final ByteBuffer in = ByteBuffer.allocate(4096);
        final byte[] line = new byte[MAX_LINE];
        final ByteBuffer reply = OK.duplicate();
        int length = 0;
        try
        {
            while (!closed && client.read(in) >= 0)
            {
                in.flip();
                while (in.hasRemaining())
                {
                    final byte b = in.get();
                    if (b == '\n')
                    {
                        final String error = execute(line, length);
                        length = 0;
                        if (null == error)
                        {
                            reply.rewind();
                            while (reply.hasRemaining())
                            {
                                client.write(reply);
                            }
                        }
                        else if (!error.isEmpty())
                        {
                            reply(client, "error " + error);
                        }
                    }
                    else if (length == MAX_LINE)
                    {
                        reply(client, "error line longer than " + MAX_LINE + " bytes; closing");
                        return;
                    }
                    else
                    {
                        line[length++] = b;
                    }
                }
                in.clear();
            }
        }
        catch (final IOException e)
        {
            LOG.log(Level.DEBUG, name + ": control client dropped: " + e.getMessage());
        }
        finally
        {
            clients.remove(client);
            closeQuietly(client);
        }
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
            // The client went away; its loop ends on the next read.
        }
    }

    /**
     * Runs one command line.
     *
     * @return null when done, an empty string for a line to ignore, otherwise what was wrong.
     */
    String execute(final byte[] line, final int length)
    {
        int end = length;
        if (end > 0 && line[end - 1] == '\r')
        {
            end--;
        }
        final Tokens t = new Tokens(line, end);
        if (!t.next())
        {
            return "";
        }
        if (line[t.start] == '#')
        {
            return "";
        }
        final String command = t.text();
        final String error = switch (command)
        {
            case "key" -> key(t, false);
            case "btn" -> key(t, true);
            case "abs" -> abs(t);
            case "wheel" -> wheel(t);
            default -> "unknown command '" + command + "': expected key, btn, abs or wheel";
        };
        if (null == error)
        {
            sink.sync();
        }
        return error;
    }

    private String key(final Tokens t, final boolean button)
    {
        final String what = button ? "btn" : "key";
        final long code = t.number();
        final long value = t.number();
        if (code == Tokens.BAD || value == Tokens.BAD || t.next())
        {
            return what + " needs two numbers, a code and a value: '" + t.line() + "'";
        }
        final int maxValue = button ? 1 : 2;
        if (value < 0 || value > maxValue)
        {
            return what + " value must be 0.." + maxValue + ", got " + value;
        }
        if (button ? code < InputCodes.BTN_MISC || code > InputCodes.KEY_MAX : code < 1 || code > InputCodes.KEY_MAX)
        {
            return what + " code must be " + (button ? InputCodes.BTN_MISC + ".." : "1..") + InputCodes.KEY_MAX
                + ", got " + code;
        }
        if (!capabilities.supports(InputSink.EV_KEY, (int)code))
        {
            return what + " code " + code + " is not one '" + capabilities.name() + "' sends";
        }
        sink.event(InputSink.EV_KEY, (int)code, (int)value);
        return null;
    }

    private String abs(final Tokens t)
    {
        final long x = t.number();
        final long y = t.number();
        if (x == Tokens.BAD || y == Tokens.BAD || t.next())
        {
            return "abs needs two numbers, x and y: '" + t.line() + "'";
        }
        final InputCapabilities.AbsInfo ax = capabilities.absInfo(InputSink.ABS_X);
        final InputCapabilities.AbsInfo ay = capabilities.absInfo(InputSink.ABS_Y);
        if (null == ax || null == ay)
        {
            return "'" + capabilities.name() + "' has no absolute pointer axes";
        }
        if (x < ax.min() || x > ax.max())
        {
            return "abs x must be " + ax.min() + ".." + ax.max() + ", got " + x;
        }
        if (y < ay.min() || y > ay.max())
        {
            return "abs y must be " + ay.min() + ".." + ay.max() + ", got " + y;
        }
        sink.event(InputSink.EV_ABS, InputSink.ABS_X, (int)x);
        sink.event(InputSink.EV_ABS, InputSink.ABS_Y, (int)y);
        return null;
    }

    private String wheel(final Tokens t)
    {
        final long n = t.number();
        if (n == Tokens.BAD || t.next())
        {
            return "wheel needs one number: '" + t.line() + "'";
        }
        if (n < Short.MIN_VALUE || n > Short.MAX_VALUE)
        {
            return "wheel must be " + Short.MIN_VALUE + ".." + Short.MAX_VALUE + ", got " + n;
        }
        if (!capabilities.supports(InputSink.EV_REL, InputSink.REL_WHEEL))
        {
            return "'" + capabilities.name() + "' has no wheel";
        }
        sink.event(InputSink.EV_REL, InputSink.REL_WHEEL, (int)n);
        return null;
    }

    /**
     * Stops accepting, disconnects every client and removes the socket file.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException e)
        {
            // closing anyway
        }
        clients.forEach(InputControlServer::closeQuietly);
        try
        {
            acceptor.join(java.time.Duration.ofSeconds(5));
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException e)
        {
            LOG.log(Level.WARNING, name + ": cannot remove control socket " + path + ": " + e.getMessage());
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
            // nothing more to do
        }
    }

    /**
     * Splits a line at spaces and tabs.
     */
    private static final class Tokens
    {
        static final long BAD = Long.MIN_VALUE;

        private final byte[] line;
        private final int end;
        private int start;
        private int stop;

        Tokens(final byte[] line, final int end)
        {
            this.line = line;
            this.end = end;
        }

        boolean next()
        {
            int i = stop;
            while (i < end && (line[i] == ' ' || line[i] == '\t'))
            {
                i++;
            }
            if (i == end)
            {
                start = stop = end;
                return false;
            }
            start = i;
            while (i < end && line[i] != ' ' && line[i] != '\t')
            {
                i++;
            }
            stop = i;
            return true;
        }

        String text()
        {
            return new String(line, start, stop - start, StandardCharsets.US_ASCII);
        }

        String line()
        {
            return new String(line, 0, end, StandardCharsets.US_ASCII).strip();
        }

        /**
         * @return the next token as a number (decimal, or hex after 0x, optionally negative), or {@link #BAD}.
         */
        long number()
        {
            if (!next())
            {
                return BAD;
            }
            int i = start;
            boolean negative = false;
            if (line[i] == '-')
            {
                negative = true;
                i++;
            }
            int radix = 10;
            if (i + 1 < stop && line[i] == '0' && (line[i + 1] == 'x' || line[i + 1] == 'X'))
            {
                radix = 16;
                i += 2;
            }
            if (i == stop || stop - i > 9)
            {
                return BAD;
            }
            long v = 0;
            for (; i < stop; i++)
            {
                final int d = Character.digit(line[i], radix);
                if (d < 0)
                {
                    return BAD;
                }
                v = v * radix + d;
            }
            return negative ? -v : v;
        }
    }
}
