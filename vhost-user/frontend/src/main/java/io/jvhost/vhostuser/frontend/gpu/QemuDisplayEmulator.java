package io.jvhost.vhostuser.frontend.gpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

import io.jvhost.os.Epoll;
import io.jvhost.os.FdList;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuProtocolFeature;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * QEMU's side of one vhost-user-gpu display socket ({@code hw/display/vhost-user-gpu.c}), for tests and benchmarks.
 * <p>
 * Creates a socket pair; the far end goes to the back-end with {@code GPU_SET_SOCKET} ({@link #sendSocket}), as
 * QEMU does at every DRIVER_OK. A reader thread then plays QEMU: answers GET_PROTOCOL_FEATURES (default EDID |
 * DMABUF2, like QEMU 10), GET_DISPLAY_INFO (the configured modes; default one enabled 1280×800 output) and GET_EDID
 * (configured bytes, default a generated block per output), ignores SET_PROTOCOL_FEATURES (recording it), and
 * consumes SCANOUT, UPDATE and CURSOR_* into per-scanout framebuffers (BGRX, like QEMU's x8r8g8b8 surfaces: a new
 * SCANOUT starts a blank one) and cursor state, so tests can compare pixels.
 * <p>
 * It counts messages and bytes, can be slowed down ({@link #setMessageDelay}), paused (reads nothing:
 * {@link #pause()}) or silenced (never replies: {@link #setSilent}), and records every protocol violation it sees
 * as a one-line failure ({@link #violations()}): flags other than 0, wrong payload sizes, UPDATE before SCANOUT or
 * outside the surface, scanout ids at or above {@code maxOutputs}, descriptors attached, GET_EDID without the EDID
 * feature offered, unknown ids, messages the back-end should never send here (DMABUF_*).
 * <p>
 * Where QEMU sends no reply (GET_EDID for an invalid scanout, or when it lacks the EDID feature), neither does this.
 * Thread-safe; query methods return copies.
 */
public final class QemuDisplayEmulator implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(QemuDisplayEmulator.class.getName());

    /** What QEMU 8.2 … 10 answers to GET_PROTOCOL_FEATURES. */
    public static final long QEMU10_PROTOCOL_FEATURES = GpuProtocolFeature.bit(GpuProtocolFeature.EDID)
        | GpuProtocolFeature.bit(GpuProtocolFeature.DMABUF2);
    /** QEMU's default output size (xres × yres). */
    public static final int DEFAULT_WIDTH = 1280;
    public static final int DEFAULT_HEIGHT = 800;
    /** Most trace entries kept. */
    public static final int MAX_TRACE = 100_000;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final int HEADER = MessageHeader.LENGTH;
    private static final int F_DUPFD_CLOEXEC = 1030;
    /** Refuse payloads beyond this (a 16384² UPDATE is 1 GiB): the stream is then unusable. */
    private static final long MAX_PAYLOAD = 1L << 30;

    /**
     * One output as QEMU reports it in GET_DISPLAY_INFO.
     */
    public record Mode(int x, int y, int width, int height, boolean enabled)
    {
        /**
         * An enabled output at (0, 0).
         */
        public static Mode of(final int width, final int height)
        {
            return new Mode(0, 0, width, height, true);
        }
    }

    /**
     * A scanout's cursor as QEMU's console would show it.
     *
     * @param image   the last CURSOR_UPDATE image (64×64 ARGB32, B,G,R,A in memory), or null if none came.
     * @param updates CURSOR_UPDATE messages seen for this scanout.
     * @param moves   CURSOR_POS and CURSOR_POS_HIDE messages seen for this scanout.
     */
    public record Cursor(int x, int y, boolean visible, int hotX, int hotY, byte[] image, long updates, long moves)
    {
        /**
         * @return the image pixel at (x, y) as a little-endian ARGB int, 0 without an image.
         */
        public int pixel(final int px, final int py)
        {
            if (null == image)
            {
                return 0;
            }
            final int o = (py * GpuPayloads.CURSOR_WIDTH + px) * 4;
            return (image[o] & 0xFF) | (image[o + 1] & 0xFF) << 8 | (image[o + 2] & 0xFF) << 16
                | (image[o + 3] & 0xFF) << 24;
        }
    }

    /**
     * Options; {@link #start()} creates the socket pair and starts serving.
     */
    public static final class Builder
    {
        private String name = "qemu-display";
        private long protocolFeatures = QEMU10_PROTOCOL_FEATURES;
        private Mode[] modes = {Mode.of(DEFAULT_WIDTH, DEFAULT_HEIGHT)};
        private int maxOutputs = -1;
        private byte[] edid;
        private Duration messageDelay = Duration.ZERO;
        private Duration featuresReplyDelay = Duration.ZERO;
        private boolean silent;
        private boolean trace = true;

        private Builder()
        {
        }

        public Builder name(final String emulatorName)
        {
            this.name = Objects.requireNonNull(emulatorName);
            return this;
        }

        /**
         * What GET_PROTOCOL_FEATURES answers. Default {@link #QEMU10_PROTOCOL_FEATURES}; 0 plays QEMU 7.x.
         */
        public Builder protocolFeatures(final long features)
        {
            this.protocolFeatures = features;
            return this;
        }

        /**
         * The outputs GET_DISPLAY_INFO reports (at most 16); default one enabled 1280×800.
         */
        public Builder modes(final Mode... outputModes)
        {
            if (outputModes.length > GpuPayloads.MAX_SCANOUTS)
            {
                throw new IllegalArgumentException("at most 16 modes, got " + outputModes.length);
            }
            this.modes = outputModes.clone();
            return this;
        }

        /**
         * QEMU's {@code max_outputs}: scanout ids at or above it are violations. Default: the number of modes
         * (at least 1).
         */
        public Builder maxOutputs(final int outputs)
        {
            if (outputs < 1 || outputs > GpuPayloads.MAX_SCANOUTS)
            {
                throw new IllegalArgumentException("maxOutputs must be 1..16, got " + outputs);
            }
            this.maxOutputs = outputs;
            return this;
        }

        /**
         * The EDID every GET_EDID answers (at most 1024 bytes); default a block generated per output.
         */
        public Builder edid(final byte[] bytes)
        {
            if (bytes.length > GpuPayloads.EDID_MAX_SIZE)
            {
                throw new IllegalArgumentException("EDID longer than 1024 bytes: " + bytes.length);
            }
            this.edid = bytes.clone();
            return this;
        }

        /**
         * Time spent before reading each message: a slow QEMU main loop.
         */
        public Builder messageDelay(final Duration delay)
        {
            this.messageDelay = delay;
            return this;
        }

        /**
         * Time spent before answering GET_PROTOCOL_FEATURES: a QEMU busy when the back-end connects. Messages the
         * back-end sends meanwhile queue up on the socket in the order they were sent.
         */
        public Builder featuresReplyDelay(final Duration delay)
        {
            this.featuresReplyDelay = delay;
            return this;
        }

        /**
         * Never reply to anything (a wedged QEMU), while still reading.
         */
        public Builder silent(final boolean neverReply)
        {
            this.silent = neverReply;
            return this;
        }

        /**
         * Keep a trace of message names ({@link #trace()}); default true. Benchmarks turn it off.
         */
        public Builder trace(final boolean keep)
        {
            this.trace = keep;
            return this;
        }

        public QemuDisplayEmulator start() throws NativeException
        {
            final QemuDisplayEmulator emulator = new QemuDisplayEmulator(this);
            emulator.thread.start();
            return emulator;
        }
    }

    /**
     * One scanout's surface; guarded by {@link #lock}.
     */
    private static final class Surface
    {
        final int width;
        final int height;
        final byte[] pixels;
        long updates;

        Surface(final int width, final int height)
        {
            this.width = width;
            this.height = height;
            this.pixels = new byte[width * height * 4];
        }
    }

    /**
     * One scanout's cursor; guarded by {@link #lock}.
     */
    private static final class CursorState
    {
        int x;
        int y;
        boolean visible;
        int hotX;
        int hotY;
        byte[] image;
        long updates;
        long moves;
    }

    private final String name;
    private final UnixSocket near;
    /** The back-end's end: a raw descriptor, closed without shutdown() (which would end the socket for the back-end
     * too once it holds a copy). */
    private final int far;
    private final long offeredFeatures;
    private final int maxOutputs;
    private final boolean keepTrace;
    private final Thread thread;

    private final Object lock = new Object();
    private Mode[] modes;
    private byte[] edid;
    private long messageDelayNanos;
    private final long featuresReplyDelayNanos;
    private boolean silent;
    private boolean paused;
    private boolean farHandedOut;
    private boolean peerClosed;
    private boolean closed;
    private long negotiatedFeatures = -1;
    private final Surface[] surfaces = new Surface[GpuPayloads.MAX_SCANOUTS];
    private final long[] scanoutMessages = new long[GpuPayloads.MAX_SCANOUTS];
    private final CursorState[] cursors = new CursorState[GpuPayloads.MAX_SCANOUTS];
    private final long[] messages = new long[GpuRequest.MAX_ID + 2];
    private long totalMessages;
    private long totalBytes;
    private long repliesSent;
    private final List<String> violations = new ArrayList<>();
    private final List<String> trace = new ArrayList<>();

    private QemuDisplayEmulator(final Builder builder) throws NativeException
    {
        this.name = builder.name;
        this.offeredFeatures = builder.protocolFeatures;
        this.maxOutputs = builder.maxOutputs > 0 ? builder.maxOutputs : Math.max(1, builder.modes.length);
        this.modes = builder.modes;
        this.edid = builder.edid;
        this.messageDelayNanos = builder.messageDelay.toNanos();
        this.featuresReplyDelayNanos = builder.featuresReplyDelay.toNanos();
        this.silent = builder.silent;
        this.keepTrace = builder.trace;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(8, 4);
            LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds);
            this.near = UnixSocket.adopt(fds.get(ValueLayout.JAVA_INT, 0));
            this.far = fds.get(ValueLayout.JAVA_INT, 4);
        }
        this.thread = Thread.ofPlatform().daemon(true).name(name).unstarted(ThreadTop.guarded(name, this::run));
    }

    public static Builder builder()
    {
        return new Builder();
    }

    /**
     * An emulator with QEMU 10's defaults: EDID | DMABUF2, one enabled 1280×800 output.
     */
    public static QemuDisplayEmulator start() throws NativeException
    {
        return builder().start();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Handing the socket to the back-end.

    /**
     * @return the back-end's end of the pair, to send with GPU_SET_SOCKET (still owned by this emulator).
     */
    public int backendFd()
    {
        return far;
    }

    /**
     * Sends the back-end's end with {@code GPU_SET_SOCKET} (flags = version 1, no NEED_REPLY: as QEMU sends it),
     * then closes this process's copy, as QEMU does.
     */
    public void sendSocket(final VhostUserFrontend frontend) throws FrontendException
    {
        frontend.sendRaw(FrontendRequest.GPU_SET_SOCKET, MessageHeader.VERSION, null, new int[] {far});
        releaseBackendEnd();
    }

    /**
     * Hands the back-end's end to an in-process back-end: returns a duplicate the caller owns (close-on-exec) and
     * closes this emulator's copy.
     */
    public int takeBackendFd() throws NativeException
    {
        final int fd = LibC.fcntl(far, F_DUPFD_CLOEXEC, 0);
        releaseBackendEnd();
        return fd;
    }

    /**
     * Closes this process's copy of the back-end's end (after it was passed on some other way).
     */
    public void releaseBackendEnd()
    {
        synchronized (lock)
        {
            if (farHandedOut)
            {
                return;
            }
            farHandedOut = true;
        }
        LibC.closeQuietly(far);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Behaviour.

    /**
     * Time spent before reading each message from now on.
     */
    public void setMessageDelay(final Duration delay)
    {
        synchronized (lock)
        {
            messageDelayNanos = delay.toNanos();
        }
    }

    /**
     * Stop reading (after the message being read, if any): the back-end's sends fill the socket buffer.
     */
    public void pause()
    {
        synchronized (lock)
        {
            paused = true;
        }
    }

    /**
     * @return true when {@link #pause()} holds the reader parked while {@code bytes} or more of the back-end's
     *         sends wait unread in the socket: what a paused QEMU looks like from the back-end's side.
     */
    public boolean parkedWith(final int bytes)
    {
        synchronized (lock)
        {
            if (!paused)
            {
                return false;
            }
        }
        try
        {
            return thread.getState() == Thread.State.WAITING && near.unread() >= bytes;
        }
        catch (final NativeException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Read again.
     */
    public void resume()
    {
        synchronized (lock)
        {
            paused = false;
            lock.notifyAll();
        }
    }

    /**
     * With true, requests are read but never answered.
     */
    public void setSilent(final boolean neverReply)
    {
        synchronized (lock)
        {
            silent = neverReply;
        }
    }

    /**
     * The outputs later GET_DISPLAY_INFO replies report (a host window resize).
     */
    public void setModes(final Mode... outputModes)
    {
        synchronized (lock)
        {
            modes = outputModes.clone();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // What was seen.

    /**
     * @return messages of type {@code request} received.
     */
    public long messages(final int request)
    {
        synchronized (lock)
        {
            return request > 0 && request <= GpuRequest.MAX_ID ? messages[request] : messages[messages.length - 1];
        }
    }

    /**
     * @return messages received.
     */
    public long messages()
    {
        synchronized (lock)
        {
            return totalMessages;
        }
    }

    /**
     * @return bytes received (headers included).
     */
    public long bytes()
    {
        synchronized (lock)
        {
            return totalBytes;
        }
    }

    /**
     * @return replies sent (counted just before they are written).
     */
    public long replies()
    {
        synchronized (lock)
        {
            return repliesSent;
        }
    }

    /**
     * @return SCANOUT messages received for {@code scanout}.
     */
    public long scanoutMessages(final int scanout)
    {
        synchronized (lock)
        {
            return scanoutMessages[scanout];
        }
    }

    /**
     * @return what SET_PROTOCOL_FEATURES carried, or -1 if it never came.
     */
    public long negotiatedFeatures()
    {
        synchronized (lock)
        {
            return negotiatedFeatures;
        }
    }

    /**
     * @return one line per protocol violation seen, oldest first.
     */
    public List<String> violations()
    {
        synchronized (lock)
        {
            return List.copyOf(violations);
        }
    }

    /**
     * @return message names in arrival order ({@code SCANOUT(0,640x480)}, {@code UPDATE(0,0,0,640x136)}, ...), if
     *     kept.
     */
    public List<String> trace()
    {
        synchronized (lock)
        {
            return List.copyOf(trace);
        }
    }

    /**
     * @return true once the back-end closed its end.
     */
    public boolean peerClosed()
    {
        synchronized (lock)
        {
            return peerClosed;
        }
    }

    /**
     * @return the surface size of {@code scanout} as {width, height}, or null when it has none (never announced or
     *     disabled).
     */
    public int[] surfaceSize(final int scanout)
    {
        synchronized (lock)
        {
            final Surface s = surfaces[scanout];
            return null == s ? null : new int[] {s.width, s.height};
        }
    }

    /**
     * @return UPDATE messages composited into the current surface of {@code scanout}.
     */
    public long surfaceUpdates(final int scanout)
    {
        synchronized (lock)
        {
            final Surface s = surfaces[scanout];
            return null == s ? 0 : s.updates;
        }
    }

    /**
     * @return a copy of the surface of {@code scanout} (B,G,R,X rows of width × 4 bytes), or null.
     */
    public byte[] framebuffer(final int scanout)
    {
        synchronized (lock)
        {
            final Surface s = surfaces[scanout];
            return null == s ? null : s.pixels.clone();
        }
    }

    /**
     * @return the pixel at (x, y) of {@code scanout} as a little-endian int (0xXXRRGGBB), or -1 without a surface.
     */
    public int pixel(final int scanout, final int x, final int y)
    {
        synchronized (lock)
        {
            final Surface s = surfaces[scanout];
            if (null == s)
            {
                return -1;
            }
            final int o = (y * s.width + x) * 4;
            return (s.pixels[o] & 0xFF) | (s.pixels[o + 1] & 0xFF) << 8 | (s.pixels[o + 2] & 0xFF) << 16
                | (s.pixels[o + 3] & 0xFF) << 24;
        }
    }

    /**
     * @return the cursor state of {@code scanout}, or null if no cursor message came for it.
     */
    public Cursor cursor(final int scanout)
    {
        synchronized (lock)
        {
            final CursorState c = cursors[scanout];
            return null == c ? null : new Cursor(c.x, c.y, c.visible, c.hotX, c.hotY,
                null == c.image ? null : c.image.clone(), c.updates, c.moves);
        }
    }

    /**
     * Waits until {@code condition} (evaluated under the emulator's lock after each message) holds.
     *
     * @return false if it still did not hold after {@code timeout}.
     */
    public boolean await(final BooleanSupplier condition, final Duration timeout) throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock)
        {
            while (!condition.getAsBoolean())
            {
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    return false;
                }
                lock.wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }
    }

    /**
     * Waits until at least {@code count} messages of type {@code request} arrived.
     */
    public boolean awaitMessages(final int request, final long count, final Duration timeout)
        throws InterruptedException
    {
        return await(() -> messages[request] >= count, timeout);
    }

    /**
     * Waits until the back-end closed its end.
     */
    public boolean awaitPeerClosed(final Duration timeout) throws InterruptedException
    {
        return await(() -> peerClosed, timeout);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // The QEMU side.

    private void run()
    {
        final FdList fds = new FdList();
        try (Arena arena = Arena.ofConfined();
             Epoll epoll = Epoll.create(1))
        {
            epoll.add(near.fd(), LibC.EPOLLIN, 0);
            final MemorySegment header = arena.allocate(HEADER, 8);
            final MemorySegment reply = arena.allocate(HEADER + GpuPayloads.EDID_REPLY_SIZE, 8);
            Arena payloadArena = Arena.ofConfined();
            MemorySegment payload = payloadArena.allocate(64 * 1024, 8);
            try
            {
                while (true)
                {
                    if (!waitUntilReadable(epoll))
                    {
                        return;
                    }
                    if (!near.receiveFully(header, 0, HEADER, fds))
                    {
                        return;
                    }
                    final int request = header.get(U32, MessageHeader.REQUEST_OFFSET);
                    final int flags = header.get(U32, MessageHeader.FLAGS_OFFSET);
                    final long size = Integer.toUnsignedLong(header.get(U32, MessageHeader.SIZE_OFFSET));
                    if (size > MAX_PAYLOAD)
                    {
                        violation(GpuRequest.name(request) + " declares a " + size + "-byte payload; stream abandoned");
                        return;
                    }
                    if (payload.byteSize() < size)
                    {
                        payloadArena.close();
                        payloadArena = Arena.ofConfined();
                        payload = payloadArena.allocate(Math.max(size, payload.byteSize() * 2), 8);
                    }
                    if (size > 0 && !near.receiveFully(payload, 0, size, fds))
                    {
                        violation(GpuRequest.name(request) + ": end of stream inside the payload");
                        return;
                    }
                    final int fdCount = fds.count();
                    fds.closeRemaining();
                    handle(request, flags, (int)size, fdCount, payload, reply);
                }
            }
            finally
            {
                payloadArena.close();
            }
        }
        catch (final IOException | RuntimeException e)
        {
            synchronized (lock)
            {
                if (!closed)
                {
                    LOG.log(Level.WARNING, name + ": display socket failed: " + e.getMessage());
                }
            }
        }
        finally
        {
            fds.closeRemaining();
            synchronized (lock)
            {
                peerClosed = true;
                lock.notifyAll();
            }
        }
    }

    /**
     * Waits until a message has begun to arrive while not paused, then honours the delay. Nothing is read before
     * that, so {@link #pause()} takes effect at once between messages.
     *
     * @return false when closed.
     */
    private boolean waitUntilReadable(final Epoll epoll) throws NativeException
    {
        while (true)
        {
            synchronized (lock)
            {
                while (paused && !closed)
                {
                    try
                    {
                        lock.wait();
                    }
                    catch (final InterruptedException e)
                    {
                        return false;
                    }
                }
                if (closed)
                {
                    return false;
                }
            }
            // Readable, end of stream or error: the read that follows tells which. close() shuts the socket down,
            // which makes it readable.
            if (epoll.await(100) == 0)
            {
                continue;
            }
            final long delay;
            synchronized (lock)
            {
                if (paused)
                {
                    continue;
                }
                delay = messageDelayNanos;
            }
            if (delay > 0)
            {
                try
                {
                    Thread.sleep(Duration.ofNanos(delay));
                }
                catch (final InterruptedException e)
                {
                    return false;
                }
            }
            return true;
        }
    }

    private void handle(final int request, final int flags, final int size, final int fdCount,
        final MemorySegment payload, final MemorySegment reply) throws NativeException
    {
        final String id = GpuRequest.name(request);
        int replySize = -1;
        synchronized (lock)
        {
            totalMessages++;
            totalBytes += HEADER + (long)size;
            messages[request > 0 && request <= GpuRequest.MAX_ID ? request : messages.length - 1]++;
            if (flags != GpuRequest.REQUEST_FLAGS)
            {
                violation(id + " has flags 0x" + Integer.toHexString(flags) + ", expected 0 (no version bits)");
            }
            if (fdCount > 0)
            {
                violation(id + " came with " + fdCount + " descriptors");
            }
            final int expected = GpuPayloads.requestSize(request);
            if (request != GpuRequest.UPDATE && expected >= 0 && size != expected)
            {
                violation(id + " has size " + size + ", expected " + expected);
                traceLocked(id + "(bad size)");
            }
            else
            {
                replySize = handleLocked(request, id, size, payload, reply);
            }
            if (replySize >= 0)
            {
                repliesSent++;
            }
            lock.notifyAll();
        }
        if (replySize >= 0 && request == GpuRequest.GET_PROTOCOL_FEATURES && featuresReplyDelayNanos > 0)
        {
            try
            {
                Thread.sleep(Duration.ofNanos(featuresReplyDelayNanos));
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (replySize >= 0)
        {
            near.send(reply, 0, HEADER + (long)replySize, null, 0);
        }
    }

    /**
     * @return the reply payload size composed into {@code reply}, or -1 for no reply.
     */
    private int handleLocked(final int request, final String id, final int size, final MemorySegment p,
        final MemorySegment reply)
    {
        switch (request)
        {
            case GpuRequest.GET_PROTOCOL_FEATURES ->
            {
                traceLocked(id);
                reply.set(U64, HEADER, offeredFeatures);
                return replyLocked(reply, request, GpuPayloads.U64_SIZE);
            }
            case GpuRequest.SET_PROTOCOL_FEATURES ->
            {
                final long features = p.get(U64, 0);
                traceLocked(id + "(0x" + Long.toHexString(features) + ")");
                if ((features & ~offeredFeatures) != 0)
                {
                    violation(id + "(0x" + Long.toHexString(features) + ") asks for features never offered (0x"
                        + Long.toHexString(offeredFeatures) + ")");
                }
                negotiatedFeatures = features;
                return -1;
            }
            case GpuRequest.GET_DISPLAY_INFO ->
            {
                traceLocked(id);
                reply.asSlice(HEADER, GpuPayloads.DISPLAY_INFO_SIZE).fill((byte)0);
                reply.set(U32, HEADER + GpuPayloads.CTRL_HDR_TYPE, GpuPayloads.RESP_OK_DISPLAY_INFO);
                for (int i = 0; i < modes.length; i++)
                {
                    final int o = HEADER + GpuPayloads.pmodeOffset(i);
                    final Mode m = modes[i];
                    reply.set(U32, o + GpuPayloads.PMODE_X, m.x());
                    reply.set(U32, o + GpuPayloads.PMODE_Y, m.y());
                    reply.set(U32, o + GpuPayloads.PMODE_WIDTH, m.width());
                    reply.set(U32, o + GpuPayloads.PMODE_HEIGHT, m.height());
                    reply.set(U32, o + GpuPayloads.PMODE_ENABLED, m.enabled() ? 1 : 0);
                }
                return replyLocked(reply, request, GpuPayloads.DISPLAY_INFO_SIZE);
            }
            case GpuRequest.GET_EDID ->
            {
                final int scanout = p.get(U32, GpuPayloads.EDID_REQUEST_SCANOUT_ID);
                traceLocked(id + "(" + scanout + ")");
                if (!GpuProtocolFeature.has(offeredFeatures, GpuProtocolFeature.EDID))
                {
                    violation(id + " sent although the EDID protocol feature was not offered (QEMU 7.x: unhandled,"
                        + " never answered)");
                    return -1;
                }
                if (Integer.toUnsignedLong(scanout) >= maxOutputs)
                {
                    violation(id + " for invalid scanout " + Integer.toUnsignedString(scanout) + " (max_outputs "
                        + maxOutputs + "): QEMU never answers it");
                    return -1;
                }
                final byte[] bytes = null != edid ? edid : generateEdid(scanout < modes.length && modes[scanout]
                    .enabled() ? modes[scanout] : Mode.of(1024, 768));
                reply.asSlice(HEADER, GpuPayloads.EDID_REPLY_SIZE).fill((byte)0);
                reply.set(U32, HEADER + GpuPayloads.CTRL_HDR_TYPE, GpuPayloads.RESP_OK_EDID);
                reply.set(U32, HEADER + GpuPayloads.EDID_REPLY_SIZE_FIELD, bytes.length);
                MemorySegment.copy(bytes, 0, reply, ValueLayout.JAVA_BYTE, HEADER + GpuPayloads.EDID_REPLY_DATA,
                    bytes.length);
                return replyLocked(reply, request, GpuPayloads.EDID_REPLY_SIZE);
            }
            case GpuRequest.SCANOUT ->
            {
                final int scanout = p.get(U32, GpuPayloads.SCANOUT_SCANOUT_ID);
                final int width = p.get(U32, GpuPayloads.SCANOUT_WIDTH);
                final int height = p.get(U32, GpuPayloads.SCANOUT_HEIGHT);
                traceLocked(id + "(" + scanout + "," + width + "x" + height + ")");
                if (!validScanoutLocked(id, scanout))
                {
                    return -1;
                }
                scanoutMessages[scanout]++;
                if (width == 0)
                {
                    surfaces[scanout] = null;
                }
                else if (width < 0 || height <= 0 || (long)width * height > MAX_PAYLOAD / 4)
                {
                    violation(id + "(" + scanout + ") with an impossible size " + Integer.toUnsignedString(width)
                        + "x" + Integer.toUnsignedString(height));
                }
                else
                {
                    surfaces[scanout] = new Surface(width, height);
                }
                return -1;
            }
            case GpuRequest.UPDATE ->
            {
                updateLocked(id, size, p);
                return -1;
            }
            case GpuRequest.CURSOR_POS, GpuRequest.CURSOR_POS_HIDE, GpuRequest.CURSOR_UPDATE ->
            {
                cursorLocked(request, id, p);
                return -1;
            }
            default ->
            {
                traceLocked(id);
                violation(id + " (size " + size + ") is not something a 2D back-end should send here");
                return -1;
            }
        }
    }

    private int replyLocked(final MemorySegment reply, final int request, final int size)
    {
        if (silent)
        {
            return -1;
        }
        reply.set(U32, MessageHeader.REQUEST_OFFSET, request);
        reply.set(U32, MessageHeader.FLAGS_OFFSET, GpuRequest.REPLY_FLAGS);
        reply.set(U32, MessageHeader.SIZE_OFFSET, size);
        return size;
    }

    private boolean validScanoutLocked(final String id, final int scanout)
    {
        if (Integer.toUnsignedLong(scanout) >= maxOutputs)
        {
            violation(id + " for scanout " + Integer.toUnsignedString(scanout) + " >= max_outputs " + maxOutputs);
            return false;
        }
        return true;
    }

    private void updateLocked(final String id, final int size, final MemorySegment p)
    {
        if (size < GpuPayloads.UPDATE_HEADER_SIZE)
        {
            violation(id + " has size " + size + ", shorter than its 20-byte header");
            return;
        }
        final int scanout = p.get(U32, GpuPayloads.UPDATE_SCANOUT_ID);
        final int x = p.get(U32, GpuPayloads.UPDATE_X);
        final int y = p.get(U32, GpuPayloads.UPDATE_Y);
        final int width = p.get(U32, GpuPayloads.UPDATE_WIDTH);
        final int height = p.get(U32, GpuPayloads.UPDATE_HEIGHT);
        final String what = id + "(" + scanout + "," + x + "," + y + "," + width + "x" + height + ")";
        traceLocked(what);
        final long expected = GpuPayloads.UPDATE_HEADER_SIZE + 4L * Integer.toUnsignedLong(width)
            * Integer.toUnsignedLong(height);
        if (expected != size)
        {
            violation(what + " has size " + size + ", expected " + expected);
            return;
        }
        if (!validScanoutLocked(what, scanout))
        {
            return;
        }
        final Surface s = surfaces[scanout];
        if (null == s)
        {
            violation(what + " before any SCANOUT for that scanout (QEMU dereferences a NULL surface)");
            return;
        }
        if (width <= 0 || height <= 0)
        {
            violation(what + " is empty");
            return;
        }
        if (x < 0 || y < 0 || (long)x + width > s.width || (long)y + height > s.height)
        {
            violation(what + " lies outside the " + s.width + "x" + s.height + " surface");
            return;
        }
        final int rowBytes = width * 4;
        for (int row = 0; row < height; row++)
        {
            MemorySegment.copy(p, ValueLayout.JAVA_BYTE, GpuPayloads.UPDATE_DATA + (long)row * rowBytes, s.pixels,
                ((y + row) * s.width + x) * 4, rowBytes);
        }
        s.updates++;
    }

    private void cursorLocked(final int request, final String id, final MemorySegment p)
    {
        final int scanout = p.get(U32, GpuPayloads.CURSOR_POS_SCANOUT_ID);
        final int x = p.get(U32, GpuPayloads.CURSOR_POS_X);
        final int y = p.get(U32, GpuPayloads.CURSOR_POS_Y);
        traceLocked(id + "(" + scanout + "," + x + "," + y + ")");
        if (!validScanoutLocked(id, scanout))
        {
            return;
        }
        CursorState c = cursors[scanout];
        if (null == c)
        {
            c = new CursorState();
            cursors[scanout] = c;
        }
        if (request == GpuRequest.CURSOR_UPDATE)
        {
            c.hotX = p.get(U32, GpuPayloads.CURSOR_UPDATE_HOT_X);
            c.hotY = p.get(U32, GpuPayloads.CURSOR_UPDATE_HOT_Y);
            c.image = p.asSlice(GpuPayloads.CURSOR_UPDATE_DATA, GpuPayloads.CURSOR_DATA_SIZE)
                .toArray(ValueLayout.JAVA_BYTE);
            c.updates++;
        }
        else
        {
            c.moves++;
        }
        c.x = x;
        c.y = y;
        c.visible = request != GpuRequest.CURSOR_POS_HIDE;
    }

    private void traceLocked(final String entry)
    {
        if (keepTrace && trace.size() < MAX_TRACE)
        {
            trace.add(entry);
        }
    }

    private void violation(final String what)
    {
        synchronized (lock)
        {
            violations.add(what);
        }
        LOG.log(Level.WARNING, name + ": protocol violation: " + what);
    }

    /**
     * A 128-byte EDID 1.4 base block for {@code mode}, in the spirit of QEMU's {@code qemu_edid_generate}: vendor
     * "RHT", a preferred detailed timing of the mode's size at 60 Hz, the name "QEMU Monitor", checksum.
     */
    public static byte[] generateEdid(final Mode mode)
    {
        final byte[] e = new byte[128];
        final byte[] magic = {0, (byte)0xFF, (byte)0xFF, (byte)0xFF, (byte)0xFF, (byte)0xFF, (byte)0xFF, 0};
        System.arraycopy(magic, 0, e, 0, 8);
        final int vendor = ('R' - '@') << 10 | ('H' - '@') << 5 | ('T' - '@');
        e[8] = (byte)(vendor >> 8);
        e[9] = (byte)vendor;
        e[10] = 0x34;
        e[11] = 0x12;
        e[16] = 1;
        e[17] = (byte)(2026 - 1990);
        e[18] = 1;
        e[19] = 4;
        e[20] = (byte)0xA5;
        e[23] = 120;
        e[24] = 0x06;
        for (int i = 38; i < 54; i++)
        {
            e[i] = 1;
        }
        final int w = mode.width();
        final int h = mode.height();
        final int hBlank = 160;
        final int vBlank = 30;
        final long clock10kHz = (long)(w + hBlank) * (h + vBlank) * 60 / 10_000;
        int d = 54;
        e[d] = (byte)clock10kHz;
        e[d + 1] = (byte)(clock10kHz >> 8);
        e[d + 2] = (byte)w;
        e[d + 3] = (byte)hBlank;
        e[d + 4] = (byte)((w >> 8 & 0xF) << 4 | (hBlank >> 8 & 0xF));
        e[d + 5] = (byte)h;
        e[d + 6] = (byte)vBlank;
        e[d + 7] = (byte)((h >> 8 & 0xF) << 4 | (vBlank >> 8 & 0xF));
        e[d + 8] = 48;
        e[d + 9] = 32;
        e[d + 10] = 0x35;
        e[d + 17] = 0x1E;
        d = 72;
        e[d + 3] = (byte)0xFC;
        final byte[] monitor = "QEMU Monitor\n".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(monitor, 0, e, d + 5, monitor.length);
        e[90 + 3] = 0x10;
        e[108 + 3] = 0x10;
        int sum = 0;
        for (int i = 0; i < 127; i++)
        {
            sum += e[i] & 0xFF;
        }
        e[127] = (byte)(256 - (sum & 0xFF));
        return e;
    }

    /**
     * Closes QEMU's end (the back-end sees end of stream, as after a guest reset or VM stop) and stops the reader.
     */
    @Override
    public void close()
    {
        final boolean handedOut;
        synchronized (lock)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            handedOut = farHandedOut;
            farHandedOut = true;
            lock.notifyAll();
        }
        near.shutdown();
        if (!handedOut)
        {
            LibC.closeQuietly(far);
        }
        try
        {
            thread.join(5000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        near.close();
    }

    @Override
    public String toString()
    {
        return "QemuDisplayEmulator[" + name + ", fd=" + near.fd() + ", modes=" + Arrays.toString(modes) + "]";
    }
}
