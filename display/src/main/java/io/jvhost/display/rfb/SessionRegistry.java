package io.jvhost.display.rfb;

import java.util.ArrayList;
import java.util.List;

/**
 * The open RFB sessions of one display server, bounded so that a flood of connections cannot exhaust threads or
 * memory, and closed together when the server stops. Thread-safe.
 */
public final class SessionRegistry
{
    private final int max;
    private final List<RfbSession> sessions = new ArrayList<>();
    private boolean closed;

    /**
     * @param max the most sessions open at once.
     */
    public SessionRegistry(final int max)
    {
        if (max < 1)
        {
            throw new IllegalArgumentException("max sessions must be at least 1, got " + max);
        }
        this.max = max;
    }

    /**
     * @return false when the registry is full or closed (then the caller drops the client).
     */
    public synchronized boolean add(final RfbSession session)
    {
        if (closed || sessions.size() >= max)
        {
            return false;
        }
        sessions.add(session);
        return true;
    }

    public synchronized void remove(final RfbSession session)
    {
        sessions.remove(session);
    }

    public synchronized int size()
    {
        return sessions.size();
    }

    public int max()
    {
        return max;
    }

    /**
     * @return a copy of the open sessions.
     */
    public synchronized List<RfbSession> sessions()
    {
        return List.copyOf(sessions);
    }

    /**
     * Refuses new sessions and closes the open ones.
     */
    public void closeAll()
    {
        final List<RfbSession> open;
        synchronized (this)
        {
            closed = true;
            open = List.copyOf(sessions);
            sessions.clear();
        }
        open.forEach(RfbSession::close);
    }

    /**
     * Runs {@code session} on the calling thread if there is room, then forgets it.
     *
     * @return false when it was refused (its transport is closed).
     */
    public boolean serve(final RfbSession session, final RfbTransport transport)
    {
        if (!add(session))
        {
            transport.close();
            return false;
        }
        try
        {
            session.run();
        }
        finally
        {
            remove(session);
        }
        return true;
    }
}
