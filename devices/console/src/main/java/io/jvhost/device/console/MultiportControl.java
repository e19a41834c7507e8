package io.jvhost.device.console;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;

import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainWriter;

/**
 * The device's side of the virtio-console multiport control protocol (virtio 1.x, 5.3.6.2), without queues: what
 * the driver said ({@link #received}) and what the device still has to tell it ({@link #writeNext}).
 * <pre>
 *   driver                                   device
 *   DEVICE_READY 1          -------->
 *                           <--------        PORT_ADD           (each port)
 *   PORT_READY 1   (port)   -------->
 *                           <--------        CONSOLE_PORT 1     (console ports)
 *                           <--------        PORT_NAME + name
 *                           <--------        PORT_OPEN 0/1      (host side connected; again on every change)
 *   PORT_OPEN 1/0  (port)   -------->        (the guest opened/closed it)
 * </pre>
 * What the device owes is kept as flags per port, not as a queue of messages: however often the driver repeats
 * itself or the host connects and leaves, the state stays a few bits and the driver gets the latest one.
 * A message the device never expects (an unknown event, a port that does not exist, PORT_READY before PORT_ADD) is
 * logged once per kind and ignored.
 * <pre>
 * struct virtio_console_control (8 bytes, little-endian), followed by the name for PORT_NAME
 *  0                4          6          8
 *  +----------------+----------+----------+
 *  | id (u32 port)  | event u16| value u16|
 *  +----------------+----------+----------+
 * </pre>
 */
final class MultiportControl
{
    static final int DEVICE_READY = 0;
    static final int PORT_ADD = 1;
    static final int PORT_REMOVE = 2;
    static final int PORT_READY = 3;
    static final int CONSOLE_PORT = 4;
    static final int RESIZE = 5;
    static final int PORT_OPEN = 6;
    static final int PORT_NAME = 7;
    /** Size of struct virtio_console_control. */
    static final int HEADER_SIZE = 8;

    private static final System.Logger LOG = System.getLogger(MultiportControl.class.getName());
    private static final int OWE_ADD = 1;
    private static final int OWE_CONSOLE = 2;
    private static final int OWE_NAME = 4;
    private static final int OWE_OPEN = 8;
    /** Kinds of oddity logged once: events 0..65535, then the ones below. */
    private static final int ODD_NO_PORT = 1 << 16;
    private static final int ODD_NOT_ADDED = ODD_NO_PORT + 1;
    private static final int ODD_DEVICE_READY_AGAIN = ODD_NO_PORT + 2;
    private static final int ODD_SHORT_MESSAGE = ODD_NO_PORT + 3;
    private static final int ODD_SMALL_BUFFER = ODD_NO_PORT + 4;

    private final String name;
    private final byte[][] portNames;
    private final boolean[] consolePort;
    private final int[] owed;
    private final boolean[] added;
    private final boolean[] ready;
    private final boolean[] guestOpen;
    private final BitSet logged = new BitSet(ODD_SMALL_BUFFER + 1);
    private boolean deviceReady;
    private boolean hostConnected;
    private long ignored;

    /**
     * @param portNames  the name of each port (null: none sent).
     * @param consoles   which ports are consoles (hvc in Linux) rather than generic serial ports.
     */
    MultiportControl(final String name, final String[] portNames, final boolean[] consoles)
    {
        this.name = name;
        final int ports = portNames.length;
        this.portNames = new byte[ports][];
        for (int i = 0; i < ports; i++)
        {
            this.portNames[i] = null == portNames[i] ? null : portNames[i].getBytes(StandardCharsets.UTF_8);
        }
        this.consolePort = consoles.clone();
        this.owed = new int[ports];
        this.added = new boolean[ports];
        this.ready = new boolean[ports];
        this.guestOpen = new boolean[ports];
    }

    int ports()
    {
        return owed.length;
    }

    /**
     * The driver (re)initialises the control queues: start over, as for a new device.
     */
    void reset()
    {
        deviceReady = false;
        for (int i = 0; i < owed.length; i++)
        {
            if (guestOpen[i])
            {
                LOG.log(Level.INFO, name + ": port " + i + " closed: the driver reset the device");
            }
            owed[i] = 0;
            added[i] = false;
            ready[i] = false;
            guestOpen[i] = false;
        }
    }

    /**
     * @return true when the guest has port {@code port} open (a console port: since the driver set it up).
     */
    boolean guestOpen(final int port)
    {
        return guestOpen[port];
    }

    /**
     * @return true once the driver accepted the port (PORT_READY 1).
     */
    boolean portReady(final int port)
    {
        return ready[port];
    }

    /**
     * @return control messages ignored as unexpected or malformed.
     */
    long ignoredMessages()
    {
        return ignored;
    }

    /**
     * The host side connected or left: the ready ports owe the driver a PORT_OPEN with the new state.
     */
    void hostConnected(final boolean connected)
    {
        if (connected == hostConnected)
        {
            return;
        }
        hostConnected = connected;
        for (int i = 0; i < owed.length; i++)
        {
            if (ready[i])
            {
                owed[i] |= OWE_OPEN;
            }
        }
    }

    /**
     * A control message from the driver ({@code length} bytes were in the buffer).
     */
    void received(final long length, final int id, final int event, final int value)
    {
        if (length < HEADER_SIZE)
        {
            odd(ODD_SHORT_MESSAGE, "control message of " + length + " bytes, needs " + HEADER_SIZE);
            return;
        }
        switch (event)
        {
            case DEVICE_READY -> deviceReady(value);
            case PORT_READY ->
            {
                if (port(id, event))
                {
                    portReady(id, value);
                }
            }
            case PORT_OPEN ->
            {
                if (port(id, event))
                {
                    portOpen(id, value != 0);
                }
            }
            default -> odd(event, "control event " + event + " (" + eventName(event) + ") is not one a driver sends"
                + " (id=" + Integer.toUnsignedString(id) + ", value=" + value + ")");
        }
    }

    private boolean port(final int id, final int event)
    {
        if (id >= 0 && id < owed.length)
        {
            return true;
        }
        odd(ODD_NO_PORT, eventName(event) + " for port " + Integer.toUnsignedString(id) + ", the device has "
            + owed.length);
        return false;
    }

    private void deviceReady(final int value)
    {
        if (0 == value)
        {
            LOG.log(Level.WARNING, name + ": the driver failed to set the device up (DEVICE_READY 0)");
            return;
        }
        if (deviceReady)
        {
            odd(ODD_DEVICE_READY_AGAIN, "DEVICE_READY again without a reset; ports are not added twice");
            return;
        }
        deviceReady = true;
        for (int i = 0; i < owed.length; i++)
        {
            owed[i] |= OWE_ADD;
        }
    }

    private void portReady(final int port, final int value)
    {
        if (!added[port])
        {
            odd(ODD_NOT_ADDED, "PORT_READY for port " + port + " before the device added it");
            return;
        }
        if (0 == value)
        {
            LOG.log(Level.WARNING, name + ": the driver failed to set port " + port + " up (PORT_READY 0)");
            return;
        }
        if (ready[port])
        {
            return;
        }
        ready[port] = true;
        owed[port] |= (consolePort[port] ? OWE_CONSOLE : 0) | (null == portNames[port] ? 0 : OWE_NAME) | OWE_OPEN;
    }

    private void portOpen(final int port, final boolean open)
    {
        if (open != guestOpen[port])
        {
            guestOpen[port] = open;
            LOG.log(Level.INFO, name + ": port " + port + (open ? " opened" : " closed") + " by the guest (PORT_OPEN "
                + (open ? 1 : 0) + ")");
        }
    }

    /**
     * @return true while the device owes the driver a message.
     */
    boolean hasOwed()
    {
        for (final int o : owed)
        {
            if (0 != o)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Writes the next owed message into a driver buffer (and forgets it: a buffer too small for it is logged once
     * and answered empty; the driver gives its control buffers a page each, so that means a hostile driver).
     *
     * @return the bytes written, or -1 when nothing is owed (the buffer is left alone).
     */
    long writeNext(final ChainWriter writer)
    {
        for (int port = 0; port < owed.length; port++)
        {
            final int o = owed[port];
            if (0 == o)
            {
                continue;
            }
            final int bit = Integer.lowestOneBit(o);
            owed[port] = o & ~bit;
            final int event;
            int value = 1;
            byte[] tail = null;
            switch (bit)
            {
                case OWE_ADD ->
                {
                    event = PORT_ADD;
                    added[port] = true;
                }
                case OWE_CONSOLE -> event = CONSOLE_PORT;
                case OWE_NAME ->
                {
                    event = PORT_NAME;
                    tail = portNames[port];
                }
                default ->
                {
                    event = PORT_OPEN;
                    value = hostConnected ? 1 : 0;
                }
            }
            final long size = HEADER_SIZE + (null == tail ? 0 : tail.length);
            if (writer.remaining() < size)
            {
                odd(ODD_SMALL_BUFFER, "control buffer of " + writer.remaining() + " bytes cannot hold "
                    + eventName(event) + " (" + size + " bytes); dropped");
                return 0;
            }
            try
            {
                writer.writeInt(port);
                writer.writeShort((short)event);
                writer.writeShort((short)value);
                if (null != tail)
                {
                    for (final byte b : tail)
                    {
                        writer.writeByte(b);
                    }
                }
            }
            catch (final ChainAccessException e)
            {
                throw new IllegalStateException("checked room was not there", e);
            }
            return size;
        }
        return -1;
    }

    private void odd(final int kind, final String what)
    {
        ignored++;
        if (!logged.get(kind))
        {
            logged.set(kind);
            LOG.log(Level.WARNING, name + ": " + what + "; ignored (logged once)");
        }
    }

    static String eventName(final int event)
    {
        return switch (event)
        {
            case DEVICE_READY -> "DEVICE_READY";
            case PORT_ADD -> "PORT_ADD";
            case PORT_REMOVE -> "PORT_REMOVE";
            case PORT_READY -> "PORT_READY";
            case CONSOLE_PORT -> "CONSOLE_PORT";
            case RESIZE -> "RESIZE";
            case PORT_OPEN -> "PORT_OPEN";
            case PORT_NAME -> "PORT_NAME";
            default -> "unknown";
        };
    }
}
