package io.jvhost.display.rfb;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.os.ThreadTop;

/**
 * One viewer of one scanout, speaking RFB 3.8 (RFC 6143; 3.3 and 3.7 clients are served too) as the server.
 * <p>
 * Two threads: the caller of {@link #run()} handshakes and then reads the client's messages (input goes straight to
 * the {@link InputForwarder}); a writer thread sends framebuffer updates. The session is a {@link Framebuffer.Listener}:
 * the GPU worker only adds damage to {@link Damage} under this session's monitor and wakes the writer, so a slow
 * client never holds up the guest or other clients; its damage just coalesces until it asks for the next update.
 * <p>
 * Each update answers one FramebufferUpdateRequest and carries only the damaged rectangles (a non-incremental request
 * damages the area it names), encoded in the first of ZRLE, Zlib and Raw the client listed. When the scanout's size
 * changes, a client that announced DesktopSize gets an update with only that pseudo-rectangle and then the whole new
 * picture; other clients keep their size and see the part that fits. A client that announced QEMU's extended key
 * events gets the -258 pseudo-rectangle in its first update, and then may send XT scancodes.
 * <p>
 * A client that announced the VMware cursor pseudo-encoding ({@code 0x574d5664}, noVNC does) or the Cursor one (-239)
 * draws the guest's cursor itself: each change of the scanout's {@link Cursor} (a new image, shown, hidden) puts one
 * cursor rectangle into its next update, and answers a pending request even without pixel damage. The VMware alpha
 * cursor is preferred when both were announced: it keeps the image's alpha and its colours do not depend on the
 * client's pixel format (noVNC 1.7.0 misreads -239 pixels). Other clients get no cursor (they see their own pointer
 * only).
 * <p>
 * Anything the client sends that breaks the protocol closes this session only, with one log line naming it.
 * <p>
 * <b>Memory.</b> Whatever the scanout's size, a rectangle is captured, encoded and sent in bands of at most
 * {@link #BAND_PIXELS} pixels (whole 64-row ZRLE tile rows where they fit), and a large update leaves in pieces of
 * about {@link #SEND_BYTES}, so a viewer's buffers stay a few MiB. They are reserved from the device's memory budget
 * ({@link RfbConfig#budget()}): {@link #SESSION_BYTES} when the viewer connects for its fixed buffers (zlib streams,
 * input), the rest as its buffers grow. A viewer the budget cannot hold is disconnected with one log line; the device
 * and the other viewers go on.
 */
public final class RfbSession implements Framebuffer.Listener
{
    private static final System.Logger LOG = System.getLogger(RfbSession.class.getName());

    public static final int SECURITY_NONE = 1;
    public static final int SECURITY_VNC_AUTH = 2;

    public static final int ENCODING_RAW = 0;
    public static final int ENCODING_COPY_RECT = 1;
    public static final int ENCODING_ZLIB = 6;
    public static final int ENCODING_ZRLE = 16;
    public static final int ENCODING_DESKTOP_SIZE = -223;
    public static final int ENCODING_CURSOR = -239;
    /** VMware's cursor pseudo-encoding ("WMVd"); only its alpha cursor type is sent. */
    public static final int ENCODING_VMWARE_CURSOR = 0x574d5664;
    /** Alpha from which a pixel of the guest's cursor counts as opaque in the RFB Cursor mask. */
    private static final int OPAQUE_ALPHA = 128;
    public static final int ENCODING_QEMU_EXTENDED_KEY = -258;
    /** rfbproto's ExtendedDesktopSize pseudo-encoding: size changes with a reason and status, and SetDesktopSize. */
    public static final int ENCODING_EXTENDED_DESKTOP_SIZE = -308;
    /** The VMware cursor type with R,G,B,A pixels (0 is the classic AND/XOR one). */
    private static final int VMWARE_CURSOR_ALPHA = 1;

    public static final int MSG_SET_PIXEL_FORMAT = 0;
    public static final int MSG_SET_ENCODINGS = 2;
    public static final int MSG_UPDATE_REQUEST = 3;
    public static final int MSG_KEY = 4;
    public static final int MSG_POINTER = 5;
    public static final int MSG_CUT_TEXT = 6;
    public static final int MSG_SET_DESKTOP_SIZE = 251;
    public static final int MSG_QEMU = 255;

    /** ExtendedDesktopSize status (its y): the size is what was asked. */
    public static final int RESIZE_OK = 0;
    /** ExtendedDesktopSize status: resizing is not allowed (no guest to ask, or one request already waits). */
    public static final int RESIZE_PROHIBITED = 1;
    /** ExtendedDesktopSize status: the picture would not fit the memory budget. */
    public static final int RESIZE_OUT_OF_RESOURCES = 2;
    /** ExtendedDesktopSize status: not one screen covering the whole picture, or a size outside 1..8192. */
    public static final int RESIZE_INVALID_LAYOUT = 3;
    /** ExtendedDesktopSize status: the guest was asked and has not switched yet; it may do so later. */
    public static final int RESIZE_FORWARDED = 4;
    /** ExtendedDesktopSize reason (its x): the size changed on the server's side (the guest switched mode). */
    public static final int REASON_SERVER = 0;
    /** ExtendedDesktopSize reason: the answer to this client's SetDesktopSize. */
    public static final int REASON_THIS_CLIENT = 1;

    /** The largest side a viewer may ask for: the GPU's largest scanout. */
    public static final int MAX_DESKTOP_SIZE = GpuDevice.MAX_SCANOUT_DIMENSION;
    /** SetDesktopSize answers a client may leave unsent (by asking for no update) before it is disconnected. */
    public static final int MAX_UNSENT_RESIZE_REPLIES = 8;
    /** The largest ClientCutText accepted (its text is read and dropped). */
    public static final int MAX_CUT_TEXT = 1 << 20;
    /** Pixels captured and encoded at a time. */
    public static final int BAND_PIXELS = 1 << 18;
    /** An update is sent in pieces of about this many bytes. */
    public static final int SEND_BYTES = 1 << 20;
    /** Reserved for a session's fixed buffers: input buffer, two zlib streams (native), cursor image. */
    public static final long SESSION_BYTES = 1L << 20;
    private static final int ZLIB_LEVEL = 1;
    private static final byte[] VERSION = "RFB 003.008\n".getBytes(StandardCharsets.US_ASCII);

    private final String name;
    private final RfbTransport transport;
    private final Framebuffer framebuffer;
    private final RfbConfig config;

    // Guarded by this.
    private final Damage damage = new Damage();
    private boolean closed;
    private boolean updateRequested;
    private boolean resizePending;
    private boolean extendedKeyAckPending;
    private ClientPixelFormat format = ClientPixelFormat.SERVER;
    private int encoding = ENCODING_RAW;
    private boolean desktopSize;
    private boolean extendedDesktopSize;
    /** An ExtendedDesktopSize rectangle is owed: the client just announced the encoding. */
    private boolean extendedSizeAnnounce;
    /** Statuses owed to this client's SetDesktopSize requests, in order. */
    private final int[] resizeReplies = new int[MAX_UNSENT_RESIZE_REPLIES];
    private int resizeReplyCount;
    /** This client's SetDesktopSize was passed to the guest: the next size change (or the deadline) answers it. */
    private boolean resizeAwaited;
    private long resizeDeadline;
    private boolean extendedKeys;
    /** How the client draws the cursor: {@link #ENCODING_VMWARE_CURSOR}, {@link #ENCODING_CURSOR}, or 0 (not). */
    private int cursorEncoding;
    private boolean cursorPending;
    private int clientWidth;
    private int clientHeight;
    private long updatesSent;
    /** When the writer's current write to the viewer began (never 0 then), or 0 when it is not writing. */
    private volatile long writingSince;
    private long bytesSent;
    /** Why the writer ended the session, when it was not the connection (for the one log line). */
    private volatile String writerFailure;

    // Reader thread only.
    private int buttons;
    private int minor;

    /**
     * @param name        for logs, e.g. {@code vnc 127.0.0.1:40000 scanout 0}.
     * @param transport   the client's streams; the session closes it.
     * @param framebuffer the scanout shown.
     */
    public RfbSession(final String name, final RfbTransport transport, final Framebuffer framebuffer,
        final RfbConfig config)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.transport = Objects.requireNonNull(transport, "transport");
        this.framebuffer = Objects.requireNonNull(framebuffer, "framebuffer");
        this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * Serves the client until it leaves, breaks the protocol or {@link #close()} is called. Never throws for the
     * client's faults.
     */
    public void run()
    {
        final MemoryBudget budget = config.budget();
        if (!budget.tryReserve(SESSION_BYTES))
        {
            LOG.log(Level.WARNING, name + ": refused: a viewer needs " + SESSION_BYTES + " bytes, but "
                + budget.used() + " of the " + budget.limit() + " bytes of " + budget.name()
                + "'s memory budget are in use");
            close();
            return;
        }
        try
        {
            serve();
        }
        finally
        {
            budget.release(SESSION_BYTES);
        }
    }

    private void serve()
    {
        Thread writer = null;
        String reason = "client closed the connection";
        Level level = Level.INFO;
        try
        {
            final DataInputStream in = new DataInputStream(new BufferedInputStream(transport.input(), 16 * 1024));
            final OutputStream out = transport.output();
            if (handshake(in, out))
            {
                writer = Thread.ofVirtual().name("rfb-writer " + name)
                    .start(ThreadTop.guarded(name + " writer", () -> writeLoop(out)));
                readLoop(in);
            }
            else
            {
                reason = "authentication failed";
                level = Level.WARNING;
            }
        }
        catch (final EOFException e)
        {
            reason = "client closed the connection";
        }
        catch (final SocketTimeoutException e)
        {
            reason = "client timed out in the handshake";
        }
        catch (final ProtocolException e)
        {
            reason = "protocol error: " + e.getMessage();
            level = Level.WARNING;
        }
        catch (final IOException e)
        {
            reason = isClosed() ? "closed" : "connection failed: " + e.getMessage();
        }
        catch (final RuntimeException e)
        {
            reason = "failed: " + e;
            level = Level.ERROR;
        }
        finally
        {
            close();
            if (null != writer)
            {
                try
                {
                    writer.join(5000);
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }
        final String failure = writerFailure;
        if (null != failure)
        {
            reason = failure;
            level = Level.WARNING;
        }
        final String why = reason;
        LOG.log(level, () -> name + ": disconnected (" + why + ") after " + updatesSent() + " updates, "
            + bytesSent() + " bytes");
    }

    /**
     * Ends the session from any thread: the transport closes, both threads stop.
     */
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            notifyAll();
        }
        framebuffer.removeListener(this);
        transport.close();
    }

    public synchronized boolean isClosed()
    {
        return closed;
    }

    /**
     * @return whether the writer has been in one write to this viewer for at least {@code nanos}: the viewer does
     *         not read (its socket is full) and only this session waits for it.
     */
    public boolean writingFor(final long nanos)
    {
        final long since = writingSince;
        return 0 != since && System.nanoTime() - since >= nanos;
    }

    public synchronized long updatesSent()
    {
        return updatesSent;
    }

    public synchronized long bytesSent()
    {
        return bytesSent;
    }

    /**
     * @return the encoding pixel rectangles are sent in now.
     */
    public synchronized int encoding()
    {
        return encoding;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Handshake (RFC 6143 §7.1, §7.2, §7.3)

    private boolean handshake(final DataInputStream in, final OutputStream out) throws IOException
    {
        transport.readTimeout(config.handshakeMillis());
        out.write(VERSION);
        out.flush();
        final byte[] version = new byte[12];
        in.readFully(version);
        minor = parseVersion(version);
        final int type = null == config.password() ? SECURITY_NONE : SECURITY_VNC_AUTH;
        final ByteSink msg = new ByteSink(64);
        if (minor >= 7)
        {
            msg.u8(1);
            msg.u8(type);
            send(out, msg);
            final int chosen = in.readUnsignedByte();
            if (chosen != type)
            {
                fail(out, msg, "security type " + chosen + " was not offered (offered " + type + ")");
                throw new ProtocolException("client chose security type " + chosen + ", offered only " + type);
            }
        }
        else
        {
            msg.u32(type);
            send(out, msg);
        }
        if (type == SECURITY_VNC_AUTH)
        {
            final byte[] challenge = new byte[VncAuth.CHALLENGE_LENGTH];
            config.random().nextBytes(challenge);
            msg.bytes(challenge);
            send(out, msg);
            final byte[] answer = new byte[VncAuth.CHALLENGE_LENGTH];
            in.readFully(answer);
            if (!VncAuth.verify(config.password(), challenge, answer))
            {
                sleep(config.authFailureDelayMillis());
                fail(out, msg, "authentication failed");
                close();
                return false;
            }
        }
        if (type == SECURITY_VNC_AUTH || minor >= 8)
        {
            msg.u32(0);
            send(out, msg);
        }
        in.readUnsignedByte(); // ClientInit shared-flag: every session is shared.
        framebuffer.addListener(this);
        final int width;
        final int height;
        synchronized (this)
        {
            width = framebuffer.width();
            height = framebuffer.height();
            clientWidth = width;
            clientHeight = height;
        }
        msg.u16(width);
        msg.u16(height);
        ClientPixelFormat.SERVER.write(msg);
        final byte[] desktop = config.desktopName().getBytes(StandardCharsets.UTF_8);
        msg.u32(desktop.length);
        msg.bytes(desktop);
        send(out, msg);
        transport.readTimeout(0);
        LOG.log(Level.INFO, name + ": connected, RFB 3." + minor + ", " + (type == SECURITY_NONE ? "no password"
            : "VNC password") + ", " + width + "x" + height);
        return true;
    }

    /**
     * @return the minor version to speak: 8 for 3.8 and later, 7, or 3 (RFC 6143 §7.1.1: others are 3.3).
     */
    private static int parseVersion(final byte[] v) throws ProtocolException
    {
        final String text = new String(v, StandardCharsets.US_ASCII);
        if (!text.matches("RFB \\d{3}\\.\\d{3}\n"))
        {
            throw new ProtocolException("bad ProtocolVersion " + printable(v));
        }
        final int major = Integer.parseInt(text.substring(4, 7));
        final int minorVersion = Integer.parseInt(text.substring(8, 11));
        if (major != 3)
        {
            throw new ProtocolException("unsupported RFB version " + major + "." + minorVersion);
        }
        return minorVersion >= 8 ? 8 : minorVersion == 7 ? 7 : 3;
    }

    private void fail(final OutputStream out, final ByteSink msg, final String reason) throws IOException
    {
        msg.reset();
        msg.u32(1);
        if (minor >= 8)
        {
            final byte[] text = reason.getBytes(StandardCharsets.UTF_8);
            msg.u32(text.length);
            msg.bytes(text);
        }
        send(out, msg);
    }

    private static void send(final OutputStream out, final ByteSink msg) throws IOException
    {
        out.write(msg.array(), 0, msg.length());
        out.flush();
        msg.reset();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Client messages (RFC 6143 §7.5)

    private void readLoop(final DataInputStream in) throws IOException
    {
        final byte[] buffer = new byte[16];
        while (true)
        {
            final int type = in.read();
            if (type < 0)
            {
                throw new EOFException();
            }
            switch (type)
            {
                case MSG_SET_PIXEL_FORMAT ->
                {
                    in.readFully(buffer, 0, 3);
                    in.readFully(buffer, 0, ClientPixelFormat.SIZE);
                    final ClientPixelFormat f;
                    try
                    {
                        f = ClientPixelFormat.read(buffer, 0);
                    }
                    catch (final IllegalArgumentException e)
                    {
                        throw new ProtocolException("SetPixelFormat: " + e.getMessage());
                    }
                    synchronized (this)
                    {
                        format = f;
                    }
                }
                case MSG_SET_ENCODINGS ->
                {
                    in.readUnsignedByte();
                    final int count = in.readUnsignedShort();
                    int chosen = -1;
                    boolean size = false;
                    boolean keys = false;
                    boolean cursor = false;
                    boolean vmwareCursor = false;
                    boolean extendedSize = false;
                    for (int i = 0; i < count; i++)
                    {
                        final int e = in.readInt();
                        if (chosen < 0 && (e == ENCODING_ZRLE || e == ENCODING_ZLIB || e == ENCODING_RAW))
                        {
                            chosen = e;
                        }
                        size |= e == ENCODING_DESKTOP_SIZE;
                        extendedSize |= e == ENCODING_EXTENDED_DESKTOP_SIZE;
                        keys |= e == ENCODING_QEMU_EXTENDED_KEY;
                        cursor |= e == ENCODING_CURSOR;
                        vmwareCursor |= e == ENCODING_VMWARE_CURSOR;
                    }
                    final int drawn = vmwareCursor ? ENCODING_VMWARE_CURSOR : cursor ? ENCODING_CURSOR : 0;
                    // A client that starts drawing the cursor (or draws it another way now) needs the current one,
                    // without waiting for a change.
                    final boolean haveCursor = drawn != 0 && framebuffer.cursor().defined();
                    synchronized (this)
                    {
                        encoding = chosen < 0 ? ENCODING_RAW : chosen;
                        desktopSize = size;
                        if (extendedSize && !extendedDesktopSize)
                        {
                            // Tells the client the server takes SetDesktopSize (noVNC waits for this).
                            extendedSizeAnnounce = true;
                        }
                        extendedDesktopSize = extendedSize;
                        if (keys && !extendedKeys)
                        {
                            extendedKeyAckPending = true;
                        }
                        extendedKeys = keys;
                        cursorPending = drawn != 0 && (cursorPending || haveCursor && cursorEncoding != drawn);
                        cursorEncoding = drawn;
                    }
                    final boolean sizeSupported = size || extendedSize;
                    final boolean keysSupported = keys;
                    LOG.log(Level.DEBUG, () -> name + ": " + count + " encodings, sending " + encodingName(encoding())
                        + (sizeSupported ? ", DesktopSize" : "") + (keysSupported ? ", QEMU extended keys" : "")
                        + (drawn != 0 ? ", " + encodingName(drawn) : ""));
                }
                case MSG_UPDATE_REQUEST ->
                {
                    final boolean incremental = in.readUnsignedByte() != 0;
                    final int x = in.readUnsignedShort();
                    final int y = in.readUnsignedShort();
                    final int w = in.readUnsignedShort();
                    final int h = in.readUnsignedShort();
                    synchronized (this)
                    {
                        updateRequested = true;
                        if (!incremental)
                        {
                            damage.add(x, y, w, h);
                        }
                        notifyAll();
                    }
                }
                case MSG_KEY ->
                {
                    final boolean down = in.readUnsignedByte() != 0;
                    in.readUnsignedShort();
                    final int keysym = in.readInt();
                    config.input().key(KeyMap.keysymToEvdev(keysym), down);
                }
                case MSG_POINTER ->
                {
                    final int mask = in.readUnsignedByte();
                    final int x = in.readUnsignedShort();
                    final int y = in.readUnsignedShort();
                    final int w;
                    final int h;
                    synchronized (this)
                    {
                        w = clientWidth;
                        h = clientHeight;
                    }
                    config.input().pointer(x, y, w, h, mask, buttons);
                    buttons = mask;
                }
                case MSG_CUT_TEXT ->
                {
                    in.readFully(buffer, 0, 3);
                    final int length = in.readInt();
                    if (length < 0 || length > MAX_CUT_TEXT)
                    {
                        throw new ProtocolException("ClientCutText of " + length + " bytes (at most " + MAX_CUT_TEXT
                            + ")");
                    }
                    in.skipNBytes(length);
                }
                case MSG_QEMU ->
                {
                    final int subtype = in.readUnsignedByte();
                    if (subtype != 0)
                    {
                        throw new ProtocolException("QEMU client message subtype " + subtype + " (only 0, extended"
                            + " key event, is known)");
                    }
                    final boolean down = in.readUnsignedShort() != 0;
                    final int keysym = in.readInt();
                    final int keycode = in.readInt();
                    final int code = KeyMap.xtToEvdev(keycode);
                    config.input().key(code != 0 ? code : KeyMap.keysymToEvdev(keysym), down);
                }
                case MSG_SET_DESKTOP_SIZE -> setDesktopSize(in, buffer);
                default -> throw new ProtocolException("unknown client message type " + type);
            }
        }
    }

    /**
     * SetDesktopSize (rfbproto): one screen covering the whole picture, 1..{@link #MAX_DESKTOP_SIZE} a side, is passed
     * to the guest through {@link RfbConfig#resizer()}; the answer (an ExtendedDesktopSize rectangle with reason 1) goes
     * when the picture changes size, or with {@link #RESIZE_FORWARDED} after {@link RfbConfig#resizeReplyMillis()}.
     * One request at a time: another while one waits is refused ({@link #RESIZE_PROHIBITED}).
     */
    private void setDesktopSize(final DataInputStream in, final byte[] buffer) throws IOException
    {
        in.readUnsignedByte();
        final int width = in.readUnsignedShort();
        final int height = in.readUnsignedShort();
        final int screens = in.readUnsignedByte();
        in.readUnsignedByte();
        boolean oneWholeScreen = screens == 1;
        for (int i = 0; i < screens; i++)
        {
            in.readFully(buffer, 0, 16);
            final int x = (buffer[4] & 0xFF) << 8 | buffer[5] & 0xFF;
            final int y = (buffer[6] & 0xFF) << 8 | buffer[7] & 0xFF;
            final int w = (buffer[8] & 0xFF) << 8 | buffer[9] & 0xFF;
            final int h = (buffer[10] & 0xFF) << 8 | buffer[11] & 0xFF;
            oneWholeScreen &= x == 0 && y == 0 && w == width && h == height;
        }
        int status;
        boolean forwarding = false;
        synchronized (this)
        {
            if (!extendedDesktopSize)
            {
                // It has no way to hear the answer (rfbproto: a client sends this only after ExtendedDesktopSize).
                LOG.log(Level.DEBUG, () -> name + ": SetDesktopSize " + width + "x" + height + " ignored: the client"
                    + " did not announce ExtendedDesktopSize");
                return;
            }
            if (!oneWholeScreen || width < 1 || height < 1 || width > MAX_DESKTOP_SIZE || height > MAX_DESKTOP_SIZE)
            {
                status = RESIZE_INVALID_LAYOUT;
            }
            else if (resizeAwaited)
            {
                status = RESIZE_PROHIBITED;
            }
            else if (width == framebuffer.width() && height == framebuffer.height() && framebuffer.enabled())
            {
                status = RESIZE_OK;
            }
            else
            {
                // Awaited before the guest is asked: its switch may come before the resizer returns.
                resizeAwaited = true;
                resizeDeadline = System.nanoTime() + config.resizeReplyMillis() * 1_000_000L;
                forwarding = true;
                status = -1;
            }
        }
        if (forwarding)
        {
            status = config.resizer().requestSize(framebuffer.index(), width, height);
            if (status == RESIZE_FORWARDED)
            {
                LOG.log(Level.INFO, name + ": asked the guest for " + width + "x" + height);
                return;
            }
        }
        final int answer = status;
        LOG.log(answer == RESIZE_OK ? Level.DEBUG : Level.INFO, () -> name + ": SetDesktopSize " + width + "x"
            + height + " (" + screens + " screen(s)) answered " + resizeStatusName(answer));
        synchronized (this)
        {
            if (forwarding)
            {
                resizeAwaited = false;
            }
            oweResizeReply(answer);
        }
    }

    /**
     * Queues an answer to a SetDesktopSize. Caller holds this.
     *
     * @throws ProtocolException when the client left too many unsent (it asks for sizes but no updates).
     */
    private void oweResizeReply(final int status) throws ProtocolException
    {
        if (resizeReplyCount == MAX_UNSENT_RESIZE_REPLIES)
        {
            throw new ProtocolException(MAX_UNSENT_RESIZE_REPLIES + " SetDesktopSize answers unsent: the client asks"
                + " for sizes but not for updates");
        }
        resizeReplies[resizeReplyCount++] = status;
        notifyAll();
    }

    /**
     * @return a readable name of an ExtendedDesktopSize status.
     */
    public static String resizeStatusName(final int status)
    {
        return switch (status)
        {
            case RESIZE_OK -> "no error";
            case RESIZE_PROHIBITED -> "resize prohibited";
            case RESIZE_OUT_OF_RESOURCES -> "out of resources";
            case RESIZE_INVALID_LAYOUT -> "invalid screen layout";
            case RESIZE_FORWARDED -> "request forwarded";
            default -> "status " + status;
        };
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Framebuffer.Listener: the GPU worker's thread; never blocks beyond this monitor.

    @Override
    public void damaged(final int x, final int y, final int width, final int height)
    {
        synchronized (this)
        {
            damage.add(x, y, width, height);
            if (updateRequested)
            {
                notifyAll();
            }
        }
    }

    @Override
    public void resized(final int width, final int height)
    {
        synchronized (this)
        {
            resizePending = true;
            if (resizeAwaited && resizeReplyCount < MAX_UNSENT_RESIZE_REPLIES)
            {
                resizeAwaited = false;
                resizeReplies[resizeReplyCount++] = RESIZE_OK;
            }
            damage.clear();
            damage.add(0, 0, width, height);
            notifyAll();
        }
    }

    @Override
    public void cursorChanged()
    {
        synchronized (this)
        {
            if (cursorEncoding == 0)
            {
                return;
            }
            cursorPending = true;
            if (updateRequested)
            {
                notifyAll();
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Updates (RFC 6143 §7.6.1): the writer thread

    private void writeLoop(final OutputStream out)
    {
        final int[] rects = new int[4 * Damage.MAX_RECTS];
        int[] cursorImage = null;
        final int[] hotspot = new int[2];
        try (WriterBuffers b = new WriterBuffers(config.budget()))
        {
            final ByteSink msg = b.msg;
            while (true)
            {
                int count;
                final ClientPixelFormat f;
                final int enc;
                boolean ackKeys = false;
                boolean sendCursor = false;
                int cursorAs = 0;
                final int maxWidth;
                final int maxHeight;
                synchronized (this)
                {
                    while (!closed && !(updateRequested && (resizePending || extendedKeyAckPending || cursorPending
                        || extendedSizeAnnounce || resizeReplyCount > 0 || !damage.isEmpty())))
                    {
                        if (!resizeAwaited)
                        {
                            wait();
                            continue;
                        }
                        final long left = resizeDeadline - System.nanoTime();
                        if (left <= 0)
                        {
                            // The guest did not switch in time; it may still do so (then REASON_SERVER follows).
                            resizeAwaited = false;
                            if (resizeReplyCount < MAX_UNSENT_RESIZE_REPLIES)
                            {
                                resizeReplies[resizeReplyCount++] = RESIZE_FORWARDED;
                            }
                            continue;
                        }
                        wait(Math.max(1, left / 1_000_000));
                    }
                    if (closed)
                    {
                        return;
                    }
                    boolean sizeChanged = false;
                    if (resizePending)
                    {
                        resizePending = false;
                        if (desktopSize || extendedDesktopSize)
                        {
                            final int w = framebuffer.width();
                            final int h = framebuffer.height();
                            sizeChanged = w != clientWidth || h != clientHeight;
                            clientWidth = w;
                            clientHeight = h;
                        }
                    }
                    if (!extendedDesktopSize)
                    {
                        extendedSizeAnnounce = false;
                        resizeReplyCount = 0;
                    }
                    if (sizeChanged || extendedSizeAnnounce || resizeReplyCount > 0)
                    {
                        // Only size rectangles: the new picture follows with the next request.
                        updateRequested = false;
                        msg.reset();
                        msg.u8(0);
                        msg.u8(0);
                        if (!extendedDesktopSize)
                        {
                            msg.u16(1);
                            rectHeader(msg, 0, 0, clientWidth, clientHeight, ENCODING_DESKTOP_SIZE);
                        }
                        else if (resizeReplyCount == 0)
                        {
                            msg.u16(1);
                            writeExtendedDesktopSize(msg, REASON_SERVER, RESIZE_OK, clientWidth, clientHeight);
                        }
                        else
                        {
                            msg.u16(resizeReplyCount);
                            for (int i = 0; i < resizeReplyCount; i++)
                            {
                                writeExtendedDesktopSize(msg, REASON_THIS_CLIENT, resizeReplies[i], clientWidth,
                                    clientHeight);
                            }
                        }
                        extendedSizeAnnounce = false;
                        resizeReplyCount = 0;
                    }
                    if (msg.length() > 0)
                    {
                        count = -1;
                        f = null;
                        enc = 0;
                        maxWidth = 0;
                        maxHeight = 0;
                    }
                    else
                    {
                        count = damage.drainTo(rects);
                        ackKeys = extendedKeyAckPending;
                        extendedKeyAckPending = false;
                        sendCursor = cursorPending;
                        cursorPending = false;
                        cursorAs = cursorEncoding;
                        f = format;
                        enc = encoding;
                        maxWidth = clientWidth;
                        maxHeight = clientHeight;
                        updateRequested = false;
                    }
                }
                if (count < 0)
                {
                    write(out, msg, true);
                    continue;
                }
                count = framebuffer.clip(rects, count, maxWidth, maxHeight);
                if (count == 0 && !ackKeys && !sendCursor)
                {
                    // Everything fell outside the client's picture: the request still waits for real damage.
                    synchronized (this)
                    {
                        updateRequested = true;
                    }
                    continue;
                }
                int bands = 0;
                for (int i = 0; i < count; i++)
                {
                    bands += ceilDiv(rects[4 * i + 3], bandRows(rects[4 * i + 2]));
                }
                msg.reset();
                msg.u8(0);
                msg.u8(0);
                msg.u16(bands + (ackKeys ? 1 : 0) + (sendCursor ? 1 : 0));
                if (ackKeys)
                {
                    rectHeader(msg, 0, 0, 0, 0, ENCODING_QEMU_EXTENDED_KEY);
                }
                if (sendCursor)
                {
                    if (null == cursorImage)
                    {
                        cursorImage = new int[Cursor.PIXELS];
                    }
                    final boolean visible = framebuffer.cursor().copyTo(cursorImage, hotspot);
                    if (cursorAs == ENCODING_VMWARE_CURSOR)
                    {
                        writeVMwareCursor(msg, visible ? cursorImage : null, hotspot[0], hotspot[1]);
                    }
                    else
                    {
                        writeCursor(msg, f, visible ? cursorImage : null, hotspot[0], hotspot[1]);
                    }
                }
                for (int i = 0; i < count; i++)
                {
                    final int x = rects[4 * i];
                    final int y = rects[4 * i + 1];
                    final int w = rects[4 * i + 2];
                    final int h = rects[4 * i + 3];
                    final int rows = bandRows(w);
                    for (int top = 0; top < h; top += rows)
                    {
                        final int bh = Math.min(rows, h - top);
                        final int[] rgb = b.pixels.ensure(w * bh);
                        framebuffer.captureRect(x, y + top, w, bh, rgb);
                        rectHeader(msg, x, y + top, w, bh, enc);
                        switch (enc)
                        {
                            case ENCODING_ZRLE -> b.zrle.encode(f, rgb, 0, w, bh, msg);
                            case ENCODING_ZLIB ->
                            {
                                b.scratch.reset();
                                f.writePixels(b.scratch, rgb, 0, w * bh);
                                b.zlib.compress(b.scratch, msg);
                            }
                            default -> f.writePixels(msg, rgb, 0, w * bh);
                        }
                        if (msg.length() >= SEND_BYTES)
                        {
                            write(out, msg, false);
                        }
                    }
                }
                write(out, msg, true);
            }
        }
        catch (final MemoryBudget.ExceededException e)
        {
            writerFailure = "no memory for its buffers: " + e.getMessage();
        }
        catch (final IOException e)
        {
            if (!isClosed())
            {
                LOG.log(Level.INFO, name + ": sending failed: " + e.getMessage());
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, name + ": writer failed: " + e, e);
        }
        finally
        {
            close();
        }
    }

    /**
     * @return the rows of a {@code width}-pixel-wide band: at most {@link #BAND_PIXELS} pixels, whole 64-row ZRLE tile
     *     rows when at least one fits.
     */
    static int bandRows(final int width)
    {
        final int rows = Math.max(1, BAND_PIXELS / width);
        return rows >= ZrleEncoder.TILE ? rows - rows % ZrleEncoder.TILE : rows;
    }

    private static int ceilDiv(final int a, final int b)
    {
        return (a + b - 1) / b;
    }

    /**
     * Sends what {@code msg} holds: a whole message, or with {@code last} false, the first part of one.
     */
    private void write(final OutputStream out, final ByteSink msg, final boolean last) throws IOException
    {
        writingSince = System.nanoTime() | 1;
        try
        {
            out.write(msg.array(), 0, msg.length());
            out.flush();
        }
        finally
        {
            writingSince = 0;
        }
        synchronized (this)
        {
            if (last)
            {
                updatesSent++;
            }
            bytesSent += msg.length();
        }
        msg.reset();
    }

    /**
     * A writer's buffers, reserved from the device's memory budget as they grow and given back when the writer ends.
     */
    private static final class WriterBuffers implements AutoCloseable
    {
        final ByteSink msg;
        final ByteSink scratch;
        final Framebuffer.IntBuffer pixels;
        final ZrleEncoder zrle;
        final ZlibStream zlib;

        /**
         * @throws MemoryBudget.ExceededException when the budget cannot hold the initial buffers (none are kept then).
         */
        WriterBuffers(final MemoryBudget budget)
        {
            pixels = new Framebuffer.IntBuffer(budget);
            msg = new ByteSink(64 * 1024, budget);
            ByteSink s = null;
            try
            {
                s = new ByteSink(64 * 1024, budget);
                zrle = new ZrleEncoder(ZLIB_LEVEL, budget);
            }
            catch (final RuntimeException e)
            {
                msg.release();
                if (null != s)
                {
                    s.release();
                }
                throw e;
            }
            scratch = s;
            zlib = new ZlibStream(ZLIB_LEVEL);
        }

        @Override
        public void close()
        {
            zlib.close();
            zrle.close();
            msg.release();
            scratch.release();
            pixels.release();
        }
    }

    /**
     * Appends a Cursor pseudo-rectangle (RFC 6143 §7.8.1): x, y the hotspot, then the pixels in the client's format
     * and a bit mask, a bit per pixel, most significant first, rows padded to whole bytes. Only the bounding box of
     * the pixels with alpha of at least 128 is sent (widened to hold the hotspot); a hidden cursor ({@code argb}
     * null) or one with nothing opaque is a single transparent pixel, which every viewer draws as "no cursor".
     * (noVNC 1.7.0 reads these pixels as B,G,R,X whatever format it asked for, which would swap red and blue; it gets
     * {@link #writeVMwareCursor} instead, as it announces VMware's cursor too.)
     */
    private static void writeCursor(final ByteSink msg, final ClientPixelFormat f, final int[] argb, final int hotX,
        final int hotY)
    {
        final int box = cursorBox(argb, OPAQUE_ALPHA, hotX, hotY);
        if (box < 0)
        {
            rectHeader(msg, 0, 0, 1, 1, ENCODING_CURSOR);
            f.writePixel(msg, 0);
            msg.u8(0);
            return;
        }
        final int x0 = box & 0xff;
        final int y0 = box >>> 8 & 0xff;
        final int x1 = box >>> 16 & 0xff;
        final int y1 = box >>> 24;
        final int w = x1 - x0 + 1;
        final int h = y1 - y0 + 1;
        rectHeader(msg, hotX - x0, hotY - y0, w, h, ENCODING_CURSOR);
        for (int y = y0; y <= y1; y++)
        {
            f.writePixels(msg, argb, y * Cursor.SIZE + x0, w);
        }
        for (int y = y0; y <= y1; y++)
        {
            int bits = 0;
            for (int x = 0; x < w; x++)
            {
                bits = bits << 1 | (opaque(argb[y * Cursor.SIZE + x0 + x]) ? 1 : 0);
                if ((x & 7) == 7)
                {
                    msg.u8(bits);
                    bits = 0;
                }
            }
            if ((w & 7) != 0)
            {
                msg.u8(bits << (8 - (w & 7)));
            }
        }
    }

    /**
     * Appends a VMware alpha cursor pseudo-rectangle: x, y the hotspot, then the cursor type (1, alpha), a padding
     * byte and a big-endian {@code R<<24|G<<16|B<<8|A} per pixel, so bytes R,G,B,A, alpha as the guest gave it. Only
     * the bounding box of the pixels that are not fully transparent is sent (widened to hold the hotspot); a hidden
     * cursor ({@code argb} null) or a fully transparent one is a single transparent pixel.
     */
    private static void writeVMwareCursor(final ByteSink msg, final int[] argb, final int hotX, final int hotY)
    {
        final int box = cursorBox(argb, 1, hotX, hotY);
        if (box < 0)
        {
            rectHeader(msg, 0, 0, 1, 1, ENCODING_VMWARE_CURSOR);
            msg.u8(VMWARE_CURSOR_ALPHA);
            msg.u8(0);
            msg.u32(0);
            return;
        }
        final int x0 = box & 0xff;
        final int y0 = box >>> 8 & 0xff;
        final int x1 = box >>> 16 & 0xff;
        final int y1 = box >>> 24;
        final int w = x1 - x0 + 1;
        final int h = y1 - y0 + 1;
        rectHeader(msg, hotX - x0, hotY - y0, w, h, ENCODING_VMWARE_CURSOR);
        msg.u8(VMWARE_CURSOR_ALPHA);
        msg.u8(0);
        msg.ensure(4 * w * h);
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                final int pixel = argb[y * Cursor.SIZE + x];
                msg.u32(pixel << 8 | pixel >>> 24);
            }
        }
    }

    /**
     * The bounding box of the cursor pixels with alpha of at least {@code minAlpha}, widened to hold the hotspot,
     * packed as {@code x0 | y0 << 8 | x1 << 16 | y1 << 24} (inclusive), or -1 when there is none (or no image).
     */
    private static int cursorBox(final int[] argb, final int minAlpha, final int hotX, final int hotY)
    {
        if (null == argb)
        {
            return -1;
        }
        int x0 = Cursor.SIZE;
        int y0 = Cursor.SIZE;
        int x1 = -1;
        int y1 = -1;
        for (int y = 0; y < Cursor.SIZE; y++)
        {
            for (int x = 0; x < Cursor.SIZE; x++)
            {
                if (argb[y * Cursor.SIZE + x] >>> 24 >= minAlpha)
                {
                    x0 = Math.min(x0, x);
                    x1 = Math.max(x1, x);
                    y0 = Math.min(y0, y);
                    y1 = Math.max(y1, y);
                }
            }
        }
        if (x1 < 0)
        {
            return -1;
        }
        return Math.min(x0, hotX) | Math.min(y0, hotY) << 8 | Math.max(x1, hotX) << 16 | Math.max(y1, hotY) << 24;
    }

    private static boolean opaque(final int argb)
    {
        return argb >>> 24 >= OPAQUE_ALPHA;
    }

    /**
     * Appends an ExtendedDesktopSize pseudo-rectangle (rfbproto): x the reason, y the status, the picture's size, then
     * one screen (id 0, flags 0) covering it.
     */
    private static void writeExtendedDesktopSize(final ByteSink msg, final int reason, final int status,
        final int width, final int height)
    {
        rectHeader(msg, reason, status, width, height, ENCODING_EXTENDED_DESKTOP_SIZE);
        msg.u8(1);
        msg.u8(0);
        msg.u16(0);
        msg.u32(0);
        msg.u16(0);
        msg.u16(0);
        msg.u16(width);
        msg.u16(height);
        msg.u32(0);
    }

    private static void rectHeader(final ByteSink msg, final int x, final int y, final int w, final int h,
        final int enc)
    {
        msg.u16(x);
        msg.u16(y);
        msg.u16(w);
        msg.u16(h);
        msg.u32(enc);
    }

    /**
     * @return a readable name of an encoding number.
     */
    public static String encodingName(final int encoding)
    {
        return switch (encoding)
        {
            case ENCODING_RAW -> "Raw";
            case ENCODING_COPY_RECT -> "CopyRect";
            case ENCODING_ZLIB -> "Zlib";
            case ENCODING_ZRLE -> "ZRLE";
            case ENCODING_DESKTOP_SIZE -> "DesktopSize";
            case ENCODING_CURSOR -> "Cursor";
            case ENCODING_VMWARE_CURSOR -> "VMwareCursor";
            case ENCODING_QEMU_EXTENDED_KEY -> "QEMUExtendedKeyEvent";
            case ENCODING_EXTENDED_DESKTOP_SIZE -> "ExtendedDesktopSize";
            default -> "encoding " + encoding;
        };
    }

    private static String printable(final byte[] bytes)
    {
        final StringBuilder sb = new StringBuilder("'");
        for (final byte b : bytes)
        {
            final int c = b & 0xFF;
            if (c >= 0x20 && c < 0x7F)
            {
                sb.append((char)c);
            }
            else
            {
                sb.append(String.format("\\x%02x", c));
            }
        }
        return sb.append('\'').toString();
    }

    private static void sleep(final int millis)
    {
        if (millis <= 0)
        {
            return;
        }
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The client broke the protocol.
     */
    static final class ProtocolException extends IOException
    {
        ProtocolException(final String message)
        {
            super(message);
        }
    }

    @Override
    public String toString()
    {
        return "RfbSession[" + name + "]";
    }
}
