package io.jvhost.display;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.device.gpu.EdidGenerator;
import io.jvhost.device.gpu.GpuDisplay;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.device.input.InputSink;
import io.jvhost.display.http.HttpServer;
import io.jvhost.display.rfb.Framebuffer;
import io.jvhost.display.rfb.InputForwarder;
import io.jvhost.display.rfb.RfbConfig;
import io.jvhost.display.rfb.RfbListener;
import io.jvhost.display.rfb.RfbSession;
import io.jvhost.display.rfb.SessionRegistry;

/**
 * jvhost's own display: the GPU's scanouts served to VNC viewers (RFB 3.8 on TCP) and to browsers (a web page with
 * noVNC, RFB over WebSocket, PNG snapshots), with the viewers' keyboard and pointer fed to an {@link InputSink}.
 * <p>
 * As a {@link GpuDisplay} it keeps one {@link Framebuffer} per scanout (B,G,R,X, created when first used) and never
 * blocks the GPU worker. The framebuffers' pixels and every viewer's buffers are reserved from the device's
 * {@link MemoryBudget} ({@link Builder#memoryBudget}): a scanout whose picture does not fit is shown black and the
 * device refuses the guest's SET_SCANOUT, a viewer that does not fit is disconnected: an update is a conversion into the framebuffer plus a note of the damage for each viewer,
 * who sends it at its own pace. A viewer may ask for another size (RFB SetDesktopSize, noVNC's remote resizing):
 * the size is kept per scanout, the device is told its outputs changed, and from then on this display answers
 * display-info requests with it (only when QEMU's display does not answer first; QEMU's vhost-user-gpu-pci does not
 * pass the change on to the guest either). It has no EDID (the device generates one for the mode). The guest's cursor is kept per scanout and sent to viewers
 * that draw cursors themselves (VMware's alpha cursor, as noVNC wants, or RFB's Cursor pseudo-encoding); other viewers
 * see only their own pointer.
 * <p>
 * Listens on loopback unless told otherwise; an address beyond loopback is logged as a warning, since anyone who
 * reaches it sees the guest's screen and types on its keyboard (VNC Authentication's DES challenge is no protection
 * on an untrusted network, and the page is plain HTTP).
 */
public final class DisplayServer implements GpuDisplay, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(DisplayServer.class.getName());

    /** Scanouts a GPU may have. */
    public static final int MAX_SCANOUTS = 16;
    /** Default bound on viewers connected at once, VNC and web together. */
    public static final int DEFAULT_MAX_VIEWERS = 32;
    /** Default handshake step timeout. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
    /** Default delay before a failed VNC authentication is answered. */
    public static final Duration DEFAULT_AUTH_FAILURE_DELAY = Duration.ofMillis(500);

    /**
     * A VNC (RFB over TCP) listener for one scanout.
     */
    public record VncEndpoint(InetSocketAddress address, int scanout)
    {
        public VncEndpoint
        {
            Objects.requireNonNull(address, "address");
            if (scanout < 0 || scanout >= MAX_SCANOUTS)
            {
                throw new IllegalArgumentException("scanout must be 0.." + (MAX_SCANOUTS - 1) + ", got " + scanout);
            }
        }
    }

    /**
     * A web console: its address and the Host names it answers to besides its address and localhost
     * ({@link AllowedHosts}).
     */
    public record WebEndpoint(InetSocketAddress address, List<String> allowedHosts)
    {
        public WebEndpoint
        {
            Objects.requireNonNull(address, "address");
            if (address.isUnresolved())
            {
                throw new IllegalArgumentException("the web console's address " + address + " is not resolved");
            }
            allowedHosts.forEach(AllowedHosts::normalize);
            allowedHosts = List.copyOf(allowedHosts);
        }
    }

    /**
     * Options; {@link #start()} binds every listener.
     */
    public static final class Builder
    {
        private String name = "display";
        private final List<VncEndpoint> vnc = new ArrayList<>();
        private final List<WebEndpoint> web = new ArrayList<>();
        private String password;
        private InputSink input;
        private Random random;
        private int maxViewers = DEFAULT_MAX_VIEWERS;
        private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
        private Duration authFailureDelay = DEFAULT_AUTH_FAILURE_DELAY;
        private MemoryBudget budget;
        private boolean remoteResize = true;
        private int defaultWidth = GpuOptions.DEFAULT_WIDTH;
        private int defaultHeight = GpuOptions.DEFAULT_HEIGHT;
        private Duration resizeReplyTimeout = Duration.ofMillis(RfbConfig.DEFAULT_RESIZE_REPLY_MILLIS);

        private Builder()
        {
        }

        /**
         * What the framebuffers and the viewers' buffers are reserved from: the GPU device's ({@link
         * io.jvhost.device.gpu.GpuDevice#memoryBudget()}). Default: a budget of its own of {@link
         * GpuOptions#DEFAULT_MAX_HOST_MEM}.
         */
        public Builder memoryBudget(final MemoryBudget memoryBudget)
        {
            this.budget = Objects.requireNonNull(memoryBudget, "memoryBudget");
            return this;
        }

        /**
         * For logs, thread names and the desktop name viewers show, e.g. {@code gpu0}.
         */
        public Builder name(final String displayName)
        {
            this.name = Objects.requireNonNull(displayName, "name");
            return this;
        }

        /**
         * Serves scanout 0 to VNC viewers on {@code address} (port 0: any free port).
         */
        public Builder vnc(final InetSocketAddress address)
        {
            return vnc(address, 0);
        }

        /**
         * Serves {@code scanout} to VNC viewers on {@code address}.
         */
        public Builder vnc(final InetSocketAddress address, final int scanout)
        {
            vnc.add(new VncEndpoint(address, scanout));
            return this;
        }

        /**
         * Serves the web console (page, noVNC, snapshots, WebSocket) on {@code address}.
         */
        public Builder web(final InetSocketAddress address)
        {
            return web(address, List.of());
        }

        /**
         * Serves the web console on {@code address}, answering also to requests addressed to {@code allowedHosts}
         * (DNS names or IP literals; see {@link AllowedHosts}).
         *
         * @throws IllegalArgumentException naming a value that is neither a DNS name nor an IP literal.
         */
        public Builder web(final InetSocketAddress address, final List<String> allowedHosts)
        {
            web.add(new WebEndpoint(address, allowedHosts));
            return this;
        }

        /**
         * Requires VNC Authentication with this password (its first 8 Latin-1 characters count); null: none.
         */
        public Builder password(final String vncPassword)
        {
            if (null != vncPassword && vncPassword.isEmpty())
            {
                throw new IllegalArgumentException("the VNC password must not be empty (leave it unset for none)");
            }
            this.password = vncPassword;
            return this;
        }

        /**
         * Where viewers' keys and pointer go (a virtio-input device); null drops them.
         */
        public Builder input(final InputSink sink)
        {
            this.input = sink;
            return this;
        }

        /**
         * The source of VNC Authentication challenges (default: a SecureRandom); for tests with known vectors.
         */
        public Builder random(final Random challengeSource)
        {
            this.random = Objects.requireNonNull(challengeSource, "random");
            return this;
        }

        /**
         * Whether viewers may ask the guest for another size (RFB SetDesktopSize, noVNC's remote resizing). Default:
         * yes; without it every request is answered "prohibited".
         */
        public Builder remoteResize(final boolean allowed)
        {
            this.remoteResize = allowed;
            return this;
        }

        /**
         * The size reported for outputs no viewer asked a size for, once one did: the GPU's default mode
         * ({@link GpuOptions#defaultWidth()}).
         */
        public Builder defaultMode(final int width, final int height)
        {
            if (width < 1 || height < 1 || width > GpuOptions.MAX_DEFAULT_DIMENSION
                || height > GpuOptions.MAX_DEFAULT_DIMENSION)
            {
                throw new IllegalArgumentException("default mode must be 1.." + GpuOptions.MAX_DEFAULT_DIMENSION
                    + " a side, got " + width + "x" + height);
            }
            this.defaultWidth = width;
            this.defaultHeight = height;
            return this;
        }

        /**
         * How long a viewer's SetDesktopSize waits for the guest to switch before it is answered "forwarded".
         */
        public Builder resizeReplyTimeout(final Duration timeout)
        {
            if (timeout.toMillis() < 1 || timeout.toMillis() > Integer.MAX_VALUE)
            {
                throw new IllegalArgumentException("resizeReplyTimeout must be 1 ms or more, got " + timeout);
            }
            this.resizeReplyTimeout = timeout;
            return this;
        }

        public Builder maxViewers(final int viewers)
        {
            if (viewers < 1)
            {
                throw new IllegalArgumentException("maxViewers must be at least 1, got " + viewers);
            }
            this.maxViewers = viewers;
            return this;
        }

        public Builder handshakeTimeout(final Duration timeout)
        {
            this.handshakeTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        public Builder authFailureDelay(final Duration delay)
        {
            this.authFailureDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /**
         * Binds every listener and starts serving.
         *
         * @throws IOException naming the address that could not be bound (nothing is left listening then).
         */
        public DisplayServer start() throws IOException
        {
            final DisplayServer server = new DisplayServer(this);
            try
            {
                server.bind(vnc, web);
            }
            catch (final IOException | RuntimeException e)
            {
                server.close();
                throw e;
            }
            return server;
        }
    }

    private final String name;
    private final MemoryBudget budget;
    private final AtomicReferenceArray<Framebuffer> framebuffers = new AtomicReferenceArray<>(MAX_SCANOUTS);
    private final InputForwarder input;
    private final RfbConfig config;
    private final SessionRegistry sessions;
    private final List<RfbListener> vncListeners = new ArrayList<>();
    private final List<HttpServer> webServers = new ArrayList<>();
    private final boolean passwordSet;
    private volatile boolean closed;
    /** The scanout the guest's cursor is on, -1 before it has one (GPU worker only). */
    private volatile int cursorScanout = -1;
    private final boolean remoteResize;
    private final int defaultWidth;
    private final int defaultHeight;
    /** Sizes viewers asked for, per scanout (null: none); guarded by itself. */
    private final DisplayMode[] requested = new DisplayMode[MAX_SCANOUTS];
    private volatile boolean anyRequested;
    private volatile Runnable outputsListener;

    private DisplayServer(final Builder b)
    {
        this.name = b.name;
        this.budget = null != b.budget ? b.budget : new MemoryBudget(b.name, GpuOptions.DEFAULT_MAX_HOST_MEM);
        this.input = new InputForwarder(b.input);
        this.passwordSet = null != b.password;
        this.config = new RfbConfig("jvhost " + b.name, b.password, input,
            null == b.random ? new SecureRandom() : b.random, (int)Math.min(Integer.MAX_VALUE,
            b.handshakeTimeout.toMillis()), (int)Math.min(Integer.MAX_VALUE, b.authFailureDelay.toMillis()), budget,
            this::requestSize, (int)b.resizeReplyTimeout.toMillis());
        this.remoteResize = b.remoteResize;
        this.defaultWidth = b.defaultWidth;
        this.defaultHeight = b.defaultHeight;
        this.sessions = new SessionRegistry(b.maxViewers);
    }

    public static Builder builder()
    {
        return new Builder();
    }

    private void bind(final List<VncEndpoint> vnc, final List<WebEndpoint> web) throws IOException
    {
        for (final VncEndpoint e : vnc)
        {
            final RfbListener l = new RfbListener(name, e.address(), framebuffer(e.scanout()), config, sessions);
            vncListeners.add(l);
            LOG.log(Level.INFO, name + ": VNC viewers of scanout " + e.scanout() + " on " + describe(l.address())
                + (passwordSet ? " (VNC password)" : " (no password)"));
            warnIfExposed("VNC", l.address());
        }
        for (final WebEndpoint e : web)
        {
            final InetSocketAddress a = e.address();
            final HttpServer s = new HttpServer(name, a, new WebConsole(name, this, config, sessions,
                new AllowedHosts(a.getAddress(), e.allowedHosts())));
            webServers.add(s);
            LOG.log(Level.INFO, name + ": web console at " + url(s.address()));
            warnIfExposed("web console", s.address());
        }
    }

    private void warnIfExposed(final String what, final InetSocketAddress address)
    {
        final InetAddress ip = address.getAddress();
        if (null == ip || !ip.isLoopbackAddress())
        {
            LOG.log(Level.WARNING, name + ": the " + what + " listens on " + describe(address) + ", beyond loopback:"
                + " anyone who can reach it sees the guest's screen and types on its keyboard" + (passwordSet
                ? "; a VNC password is no protection on an untrusted network (DES challenge, unencrypted traffic)"
                : " with no password (--display-password)") + ". Prefer 127.0.0.1 and an SSH tunnel.");
        }
    }

    private static String describe(final InetSocketAddress a)
    {
        final String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * @return the URL of a web console bound to {@code a}.
     */
    public static String url(final InetSocketAddress a)
    {
        final InetAddress ip = a.getAddress();
        final String host = ip.isAnyLocalAddress() ? "127.0.0.1" : describe(a).substring(0,
            describe(a).lastIndexOf(':'));
        return "http://" + host + ":" + a.getPort() + "/";
    }

    /**
     * @return the addresses VNC viewers connect to, in the order given.
     */
    public List<InetSocketAddress> vncAddresses()
    {
        return vncListeners.stream().map(RfbListener::address).toList();
    }

    /**
     * @return the addresses of the web consoles, in the order given.
     */
    public List<InetSocketAddress> webAddresses()
    {
        return webServers.stream().map(HttpServer::address).toList();
    }

    /**
     * @return the URLs of the web consoles.
     */
    public List<String> webUrls()
    {
        return webAddresses().stream().map(DisplayServer::url).toList();
    }

    /**
     * @return scanout {@code index}'s framebuffer (created black at {@link Framebuffer#DEFAULT_WIDTH}×{@link
     *     Framebuffer#DEFAULT_HEIGHT} when first asked for; black costs no memory).
     */
    public Framebuffer framebuffer(final int index)
    {
        if (index < 0 || index >= MAX_SCANOUTS)
        {
            throw new IllegalArgumentException("scanout must be 0.." + (MAX_SCANOUTS - 1) + ", got " + index);
        }
        Framebuffer fb = framebuffers.get(index);
        if (null == fb)
        {
            framebuffers.compareAndSet(index, null, new Framebuffer(index, budget));
            fb = framebuffers.get(index);
        }
        return fb;
    }

    /**
     * @return scanout {@code index}'s framebuffer if it was ever used, else null.
     */
    public Framebuffer existingFramebuffer(final int index)
    {
        return index < 0 || index >= MAX_SCANOUTS ? null : framebuffers.get(index);
    }

    /**
     * @return viewers connected now.
     */
    public int viewers()
    {
        return sessions.size();
    }

    /**
     * @return viewers whose session has been in one write for at least {@code time}: viewers that stopped reading.
     */
    public int viewersStuckFor(final Duration time)
    {
        final long nanos = time.toNanos();
        int stuck = 0;
        for (final io.jvhost.display.rfb.RfbSession s : sessions.sessions())
        {
            if (s.writingFor(nanos))
            {
                stuck++;
            }
        }
        return stuck;
    }

    /**
     * @return whether viewers' input goes anywhere.
     */
    public boolean hasInput()
    {
        return input.connected();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // GpuDisplay: the GPU worker's thread.

    /**
     * The device gave its way to hear that the outputs changed: viewers' size requests go there.
     */
    @Override
    public void setOutputsListener(final Runnable outputsChanged)
    {
        outputsListener = outputsChanged;
    }

    /**
     * Before any viewer asked for a size: false (the guest's mode comes from QEMU's display, else the GPU's defaults).
     * After: the sizes viewers asked for, the {@linkplain Builder#defaultMode default} for the other outputs, side by
     * side, answered at once.
     */
    @Override
    public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
    {
        if (!anyRequested)
        {
            return false;
        }
        final DisplayMode[] modes = new DisplayMode[MAX_SCANOUTS];
        synchronized (requested)
        {
            int x = 0;
            for (int i = 0; i < MAX_SCANOUTS; i++)
            {
                final DisplayMode r = requested[i];
                final int w = null == r ? defaultWidth : r.width();
                final int h = null == r ? defaultHeight : r.height();
                modes[i] = new DisplayMode(x, 0, w, h, true);
                x += w;
            }
        }
        done.accept(modes);
        return true;
    }

    /**
     * A viewer's SetDesktopSize (reader thread): refused when remote resizing is off or no device listens, or when the
     * new picture would not fit the memory budget twice (the guest's image of it and the viewers' copy; the scanout's
     * current picture counts as given back); otherwise kept as the scanout's size and the device is told the outputs
     * changed. The same size asked again is not passed on again (the guest was told; it chose).
     */
    private int requestSize(final int scanout, final int width, final int height)
    {
        final Runnable listener = outputsListener;
        if (!remoteResize || null == listener || closed)
        {
            return RfbSession.RESIZE_PROHIBITED;
        }
        if (width > GpuOptions.MAX_DEFAULT_DIMENSION || height > GpuOptions.MAX_DEFAULT_DIMENSION)
        {
            // The guest learns of the size through an EDID, which cannot describe more.
            return RfbSession.RESIZE_INVALID_LAYOUT;
        }
        final Framebuffer fb = framebuffer(scanout);
        final long current = fb.enabled() ? 4L * fb.width() * fb.height() : 0;
        final long need = 2 * 4L * width * height;
        final long available = budget.limit() - budget.used() + 2 * current;
        if (need > available)
        {
            LOG.log(Level.INFO, name + ": a viewer's " + width + "x" + height + " for scanout " + scanout
                + " refused: it needs " + need + " bytes, " + available + " of " + budget.name()
                + "'s memory budget are available");
            return RfbSession.RESIZE_OUT_OF_RESOURCES;
        }
        synchronized (requested)
        {
            final DisplayMode previous = requested[scanout];
            if (null != previous && previous.width() == width && previous.height() == height)
            {
                return RfbSession.RESIZE_FORWARDED;
            }
            requested[scanout] = new DisplayMode(0, 0, width, height, true);
            anyRequested = true;
        }
        LOG.log(Level.INFO, name + ": a viewer asks for " + width + "x" + height + " on scanout " + scanout);
        try
        {
            listener.run();
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.WARNING, name + ": telling the device of " + width + "x" + height + " failed: " + e, e);
        }
        return RfbSession.RESIZE_FORWARDED;
    }

    /**
     * Before any viewer asked for a size: false (the device generates an EDID for the mode it knows). After: an EDID
     * whose preferred mode is the output's size in {@link #requestDisplayInfo}, answered at once. The guest asks for
     * EDIDs before display info after a change, and Linux offers only the EDID's modes when it has one, so the EDID
     * must carry the new size itself.
     */
    @Override
    public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
    {
        if (!anyRequested || scanout < 0 || scanout >= MAX_SCANOUTS)
        {
            return false;
        }
        final DisplayMode r;
        synchronized (requested)
        {
            r = requested[scanout];
        }
        done.accept(null == r ? EdidGenerator.generate(defaultWidth, defaultHeight, scanout + 1)
            : EdidGenerator.generate(r.width(), r.height(), scanout + 1));
        return true;
    }

    /**
     * @return false when the scanout's picture does not fit the memory budget (it is shown black).
     */
    @Override
    public boolean setScanout(final int scanout, final int width, final int height)
    {
        if (closed || scanout < 0 || scanout >= MAX_SCANOUTS)
        {
            return true;
        }
        LOG.log(Level.DEBUG, () -> name + ": scanout " + scanout + " is " + width + "x" + height);
        return framebuffer(scanout).resize(width, height);
    }

    @Override
    public void updateScanout(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
    {
        if (closed || scanout < 0 || scanout >= MAX_SCANOUTS || width <= 0 || height <= 0)
        {
            return;
        }
        framebuffer(scanout).update(x, y, width, height, pixels, offset, stride, format);
    }

    /**
     * Keeps the cursor image for the scanout's viewers, who draw it themselves (VMware or RFB cursor): the
     * guest's pointer is an absolute tablet, so a viewer's local pointer is where the guest's cursor is.
     */
    @Override
    public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment argb64x64)
    {
        if (closed || scanout < 0 || scanout >= MAX_SCANOUTS)
        {
            return;
        }
        moveCursorTo(scanout);
        framebuffer(scanout).defineCursor(hotX, hotY, argb64x64);
    }

    /**
     * Viewers only hear of showing and hiding (and of the cursor moving to another scanout); positions are theirs.
     */
    @Override
    public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        if (closed || scanout < 0 || scanout >= MAX_SCANOUTS)
        {
            return;
        }
        moveCursorTo(scanout);
        framebuffer(scanout).showCursor(visible);
    }

    /**
     * The guest has one cursor: when it changes scanout, the image goes along and the old scanout's viewers lose it.
     */
    private void moveCursorTo(final int scanout)
    {
        final int previous = cursorScanout;
        cursorScanout = scanout;
        if (previous < 0 || previous == scanout)
        {
            return;
        }
        final Framebuffer from = framebuffers.get(previous);
        if (null != from)
        {
            framebuffer(scanout).copyCursorFrom(from);
            from.showCursor(false);
        }
    }

    /**
     * Stops listening, disconnects every viewer and frees the framebuffers. Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        vncListeners.forEach(RfbListener::close);
        webServers.forEach(HttpServer::close);
        sessions.closeAll();
        for (int i = 0; i < MAX_SCANOUTS; i++)
        {
            final Framebuffer fb = framebuffers.get(i);
            if (null != fb)
            {
                fb.close();
            }
        }
    }

    /**
     * @return the memory budget the framebuffers and viewers are reserved from.
     */
    public MemoryBudget memoryBudget()
    {
        return budget;
    }

    @Override
    public String toString()
    {
        return "DisplayServer[" + name + "]";
    }
}
