package io.jvhost.device.console;

import java.lang.System.Logger.Level;

import io.jvhost.os.Epoll;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.StreamFd;
import io.jvhost.os.Terminal;

/**
 * {@code --backend nested}: this process's terminal. Standard input, when it is a terminal, is put in raw mode (see
 * {@link Terminal}: Ctrl-C still stops the process, as in vhost-device-console) and restored on exit; the guest's
 * output goes to standard output as it is, byte for byte.
 * <p>
 * Both are re-opened through {@code /proc/self/fd}, so the non-blocking mode is set on descriptions of our own and the
 * shell that started us never finds its terminal non-blocking. Input that cannot be watched (a regular file,
 * {@code /dev/null}) is not read; output that cannot be watched (a regular file) never blocks anyway.
 */
public final class NestedBackend implements ConsoleBackend
{
    private static final System.Logger LOG = System.getLogger(NestedBackend.class.getName());
    private static final long TOKEN_IN = 1;
    private static final long TOKEN_OUT = 2;

    private final String name;
    private final Epoll epoll;
    private final Terminal terminal;
    private StreamFd in;
    private StreamFd out;
    private boolean outWatched;
    private boolean wantInput;
    private boolean wantOutput;
    private long discarded;

    private NestedBackend(final String name, final Epoll epoll, final Terminal terminal, final StreamFd in,
        final StreamFd out, final boolean outWatched)
    {
        this.name = name;
        this.epoll = epoll;
        this.terminal = terminal;
        this.in = in;
        this.out = out;
        this.outWatched = outWatched;
    }

    /**
     * Takes over standard input and output.
     */
    public static NestedBackend open(final String name) throws NativeException
    {
        final Epoll epoll = Epoll.create(4);
        StreamFd in = null;
        StreamFd out = null;
        Terminal terminal = null;
        try
        {
            in = watched(name, epoll, 0, TOKEN_IN);
            out = StreamFd.reopen(1, true);
            boolean outWatched = true;
            try
            {
                epoll.add(out.fd(), 0, TOKEN_OUT);
            }
            catch (final NativeException e)
            {
                // A regular file: always writable, never EAGAIN.
                outWatched = false;
            }
            if (null != in && Terminal.isTerminal(0))
            {
                terminal = Terminal.raw(0);
            }
            LOG.log(Level.INFO, name + ": console on this terminal" + (null == terminal ? " (stdin is no terminal)"
                : " (raw mode; Ctrl-C stops jvhost)"));
            return new NestedBackend(name, epoll, terminal, in, out, outWatched);
        }
        catch (final NativeException | RuntimeException e)
        {
            if (null != in)
            {
                in.close();
            }
            if (null != out)
            {
                out.close();
            }
            epoll.close();
            throw e;
        }
    }

    private static StreamFd watched(final String name, final Epoll epoll, final int fd, final long token)
    {
        final StreamFd s;
        try
        {
            s = StreamFd.reopen(fd, false);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, name + ": standard input cannot be re-opened, the guest gets no input: "
                + e.getMessage());
            return null;
        }
        try
        {
            epoll.add(s.fd(), 0, token);
            return s;
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, name + ": standard input cannot be watched (a file?), the guest gets no input: "
                + e.getMessage());
            s.close();
            return null;
        }
    }

    @Override
    public String describe()
    {
        return "this terminal";
    }

    @Override
    public int pollFd()
    {
        return epoll.fd();
    }

    @Override
    public int poll()
    {
        final int n;
        try
        {
            n = epoll.await(0);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.ERROR, name + ": epoll_wait on the terminal failed: " + e.getMessage());
            return 0;
        }
        int result = 0;
        for (int i = 0; i < n; i++)
        {
            final int mask = epoll.readyMask(i);
            if (epoll.token(i) == TOKEN_IN && null != in)
            {
                if ((mask & LibC.EPOLLERR) != 0 || (mask & LibC.EPOLLHUP) != 0 && readable() == 0)
                {
                    inputGone("closed");
                }
                else if ((mask & LibC.EPOLLIN) != 0)
                {
                    result |= INPUT;
                }
            }
            else if (epoll.token(i) == TOKEN_OUT && null != out)
            {
                if ((mask & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
                {
                    outputGone("closed");
                }
                wantOutput = false;
                result |= OUTPUT;
            }
        }
        updateInterest();
        return result;
    }

    private void updateInterest()
    {
        try
        {
            if (null != in)
            {
                epoll.modify(in.fd(), wantInput ? LibC.EPOLLIN : 0, TOKEN_IN);
            }
            if (null != out && outWatched)
            {
                epoll.modify(out.fd(), wantOutput ? LibC.EPOLLOUT : 0, TOKEN_OUT);
            }
        }
        catch (final NativeException e)
        {
            LOG.log(Level.ERROR, name + ": cannot watch the terminal: " + e.getMessage());
        }
    }

    private void inputGone(final String why)
    {
        epoll.remove(in.fd());
        in.close();
        in = null;
        LOG.log(Level.INFO, name + ": standard input " + why + "; the guest gets no more input");
    }

    private void outputGone(final String why)
    {
        epoll.remove(out.fd());
        out.close();
        out = null;
        LOG.log(Level.WARNING, name + ": standard output " + why + "; the guest's output is discarded from now on");
    }

    @Override
    public boolean connected()
    {
        return true;
    }

    @Override
    public long readable()
    {
        return null == in ? 0 : Math.max(0, in.readable());
    }

    @Override
    public long read(final long address, final long length)
    {
        if (null == in)
        {
            return 0;
        }
        final long n = in.read(address, length);
        if (n > 0)
        {
            return n;
        }
        if (0 == n)
        {
            inputGone("ended");
        }
        else if (n != -Errno.EAGAIN)
        {
            inputGone("failed: read " + Errno.name((int)-n));
        }
        return 0;
    }

    @Override
    public long write(final long address, final long length)
    {
        if (null == out)
        {
            discarded += length;
            return length;
        }
        final long n = out.write(address, length);
        if (n >= 0)
        {
            if (n < length && outWatched)
            {
                wantOutput = true;
                updateInterest();
            }
            return n;
        }
        if (n == -Errno.EAGAIN && outWatched)
        {
            wantOutput = true;
            updateInterest();
            return 0;
        }
        outputGone("failed: write " + Errno.name((int)-n));
        discarded += length;
        return length;
    }

    @Override
    public void wantInput(final boolean on)
    {
        if (on != wantInput)
        {
            wantInput = on;
            updateInterest();
        }
    }

    @Override
    public long discardedBytes()
    {
        return discarded;
    }

    @Override
    public synchronized void close()
    {
        if (null != terminal)
        {
            terminal.close();
        }
        if (null != in)
        {
            in.close();
        }
        if (null != out)
        {
            out.close();
        }
        epoll.close();
    }
}
