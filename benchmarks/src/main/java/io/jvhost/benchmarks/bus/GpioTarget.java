package io.jvhost.benchmarks.bus;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.jvhost.vhostuser.frontend.BackendProcess;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;

/**
 * One virtio-gpio back-end run as a process and driven by the in-process front-end the way Linux's gpio-virtio does:
 * one request at a time on the request queue, a chain of the 8-byte request and the 2-byte response.
 * <pre>
 *  request  (device-readable, 8 bytes)      response (device-writable, 2 bytes)
 *  +--------+--------+----------------+     +--------+--------+
 *  | type   | line   | value          |     | status | value  |
 *  | le16   | le16   | le32           |     | u8     | u8     |
 *  +--------+--------+----------------+     +--------+--------+
 *  0        2        4                8     0        1        2
 * </pre>
 * {@link #prepare} sets line {@value #LINE} to level 1 and output mode and checks that GET_VALUE reads it back, so
 * every measured {@link #getValue} must answer status 0 and value 1.
 */
final class GpioTarget implements AutoCloseable
{
    /** virtio-gpio request types and answers (virtio 1.2, 5.18.6). */
    static final int MSG_SET_DIRECTION = 3;
    static final int MSG_GET_VALUE = 4;
    static final int MSG_SET_VALUE = 5;
    static final int DIRECTION_OUT = 1;
    static final int STATUS_OK = 0;

    /** The line every request addresses. */
    static final int LINE = 3;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final byte[] UNANSWERED = {(byte)0xff, (byte)0xff};
    private static final long WAIT_NANOS = 5_000_000_000L;

    private final String name;
    private final BackendProcess process;
    private final GuestRam ram;
    private final VhostUserFrontend frontend;
    private final VirtioSession session;
    private final FrontendQueue queue;
    private final long[] getGpas;
    private final long[] setGpas;
    private final int[] lengths = {8, 2};
    private final byte[] request = new byte[8];
    private final byte[] response = new byte[2];

    private GpioTarget(final String name, final BackendProcess process, final GuestRam ram,
        final VhostUserFrontend frontend, final VirtioSession session)
    {
        this.name = name;
        this.process = process;
        this.ram = ram;
        this.frontend = frontend;
        this.session = session;
        this.queue = session.queue(0);
        this.getGpas = new long[] {ram.allocate(8, 8), ram.allocate(2, 8)};
        this.setGpas = new long[] {ram.allocate(8, 8), ram.allocate(2, 8)};
    }

    /**
     * Starts {@code command}, waits until it listens on {@code listening}, connects and starts a session with its two
     * queues (requestq, eventq).
     *
     * @param logDir where the back-end's stderr goes ({@code <name>.log}).
     */
    static GpioTarget start(final String name, final List<String> command, final Path listening, final Path logDir)
        throws IOException
    {
        final BackendProcess process = BackendProcess.start(command, listening,
            logDir.resolve(name.replaceAll("\\W", "_") + ".log"), Duration.ofSeconds(60));
        GuestRam ram = null;
        VhostUserFrontend frontend = null;
        VirtioSession session = null;
        try
        {
            ram = GuestRam.create(2L << 20, 1);
            frontend = VhostUserFrontend.connect(listening, Duration.ofSeconds(10));
            session = VirtioSession.builder(frontend, ram).queues(2, 256).build();
            session.start();
            final GpioTarget t = new GpioTarget(name, process, ram, frontend, session);
            t.prepare();
            return t;
        }
        catch (final IOException | RuntimeException e)
        {
            closeAll(session, frontend, process, ram);
            throw new IOException(name + ": " + e.getMessage() + "; stderr: " + tail(process), e);
        }
    }

    String name()
    {
        return name;
    }

    long pid()
    {
        return process.pid();
    }

    /**
     * Line {@value #LINE} to output at level 1, in Linux's order (the level first: rust-vmm's back-end refuses an
     * output direction before a level was set); a GET_VALUE must then read 1.
     */
    private void prepare() throws IOException
    {
        expect("SET_VALUE", call(MSG_SET_VALUE, 1), 0);
        expect("SET_DIRECTION", call(MSG_SET_DIRECTION, DIRECTION_OUT), 0);
        request(getGpas[0], MSG_GET_VALUE, 0);
        getValue();
        checkAnswer();
    }

    private void expect(final String what, final int answer, final int value) throws IOException
    {
        if (answer != (STATUS_OK << 8 | value))
        {
            throw new IOException(name + ": " + what + " of line " + LINE + " answered status " + (answer >>> 8)
                + " value " + (answer & 0xff) + ", expected status 0 value " + value);
        }
    }

    private int call(final int type, final int value) throws IOException
    {
        request(setGpas[0], type, value);
        ram.write(setGpas[1], UNANSWERED, 0, 2);
        queue.add(setGpas, lengths, 1, 1);
        queue.publishAndKick();
        awaitOne();
        ram.read(setGpas[1], response, 0, 2);
        return (response[0] & 0xff) << 8 | (response[1] & 0xff);
    }

    private void request(final long gpa, final int type, final int value)
    {
        final MemorySegment r = MemorySegment.ofArray(request);
        r.set(LE16, 0, (short)type);
        r.set(LE16, 2, (short)LINE);
        r.set(LE32, 4, value);
        ram.write(gpa, request, 0, 8);
    }

    /**
     * Marks the response unanswered (outside any timing: call it before taking the start time).
     */
    void clearAnswer()
    {
        ram.write(getGpas[1], UNANSWERED, 0, 2);
    }

    /**
     * One GET_VALUE round trip: place the chain, kick, wait for the used element and the call.
     */
    void getValue() throws IOException
    {
        queue.add(getGpas, lengths, 1, 1);
        queue.publishAndKick();
        awaitOne();
    }

    /**
     * @throws IOException unless the last GET_VALUE answered status 0, value 1.
     */
    void checkAnswer() throws IOException
    {
        ram.read(getGpas[1], response, 0, 2);
        if (response[0] != STATUS_OK || response[1] != 1)
        {
            throw new IOException(name + ": GET_VALUE of line " + LINE + " answered status " + (response[0] & 0xff)
                + " value " + (response[1] & 0xff) + ", expected status 0 value 1");
        }
    }

    private void awaitOne() throws IOException
    {
        if (queue.awaitUsed(WAIT_NANOS) != 1)
        {
            throw new IOException(name + ": no answer within " + WAIT_NANOS / 1_000_000 + " ms (in flight "
                + queue.inFlight() + ", back-end " + (process.isAlive() ? "running" : "exited") + ")");
        }
    }

    private static String tail(final BackendProcess process)
    {
        try
        {
            final String s = process.stderr().strip();
            return s.length() <= 1000 ? s : "..." + s.substring(s.length() - 1000);
        }
        catch (final IOException e)
        {
            return "(unreadable)";
        }
    }

    private static void closeAll(final VirtioSession session, final VhostUserFrontend frontend,
        final BackendProcess process, final GuestRam ram)
    {
        if (null != session)
        {
            session.close();
        }
        if (null != frontend)
        {
            frontend.close();
        }
        process.close();
        if (null != ram)
        {
            ram.close();
        }
    }

    @Override
    public void close()
    {
        closeAll(session, frontend, process, ram);
    }
}
