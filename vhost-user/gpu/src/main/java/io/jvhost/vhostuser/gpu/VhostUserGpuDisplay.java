package io.jvhost.vhostuser.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import io.jvhost.device.FdWatcher;
import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.device.gpu.GpuDisplay;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * QEMU's display, reached over the vhost-user-gpu socket QEMU hands the back-end with {@code GPU_SET_SOCKET}.
 * <p>
 * <b>Nothing here ever blocks on the socket</b> (a stuck QEMU must not stall the GPU worker, and the vhost-user
 * control thread must never wait for the display: QEMU may be waiting for that thread at the same moment). The
 * {@link GpuDisplay} methods record state under a short lock; then, when no message is on its way and the next one
 * is small (at most {@link #DIRECT_MAX_BYTES}: a text cell, a cursor move, a request), the calling thread sends it
 * itself with one non-blocking {@code sendmsg}, which spares the guest a thread hop; anything else, or the rest of
 * a message the socket could not take at once, is sent by a dedicated writer thread. One thread at a time owns the
 * socket's write side and the outgoing message. A reader thread takes QEMU's replies. Sends use {@code
 * MSG_DONTWAIT | MSG_NOSIGNAL}; the writer waits for writability in epoll together with a wake-up eventfd, so
 * {@link #close()} always stops it.
 * <p>
 * What the writer sends next, in priority order:
 * <ol>
 * <li>The protocol-feature handshake, then the guest's requests (GET_DISPLAY_INFO, GET_EDID) in FIFO order, each with
 * a deadline after which its callback gets null: {@link DisplayRequests}, which also matches QEMU's replies. Nothing
 * else goes before the handshake ends.</li>
 * <li>SCANOUT for every scanout whose size changed: only the latest size is sent.</li>
 * <li>Cursor: CURSOR_UPDATE for a newly defined image, then CURSOR_POS / CURSOR_POS_HIDE for the latest position.
 * Per scanout only the latest image and the latest position are kept.</li>
 * <li>Pixels, coalesced: each scanout has a BGRX shadow framebuffer that {@link #updateScanout} converts the
 * rectangle into, and one dirty rectangle (the union of what changed). The writer sends the dirty rectangle from the
 * shadow as UPDATE messages of at most {@link Builder#maxUpdateBytes} each (horizontal bands), so a slow QEMU gets
 * fewer, fresher updates, the latest pixels always win, and a request or cursor move can overtake a large frame.
 * QEMU reads each UPDATE synchronously in its main loop, which bands also keep short.</li>
 * </ol>
 * An UPDATE for a scanout is only ever sent after that scanout's SCANOUT (QEMU dereferences a NULL surface
 * otherwise), and a SCANOUT discards the scanout's dirty state and clears its shadow, as QEMU's new surface starts
 * blank: QEMU's surface equals the shadow wherever an UPDATE was sent.
 * <p>
 * UPDATE pixels are never copied into a message: the kernel gathers them from the shadow (one iovec for a band of
 * whole rows, else one per row, at most 1024 a message); the shadow is kept alive while a message
 * reads it, and pixels changed meanwhile are dirty again, so the latest follow.
 * <p>
 * Steady state allocates nothing: the shadow is allocated when a scanout changes size, the message buffers once.
 * Shadows are reserved from the device's {@link MemoryBudget} ({@link Builder#memoryBudget}) before they are
 * allocated and released when freed (a disabled scanout has none); a size whose shadow does not fit is shown
 * disabled (a 0×0 SCANOUT) and {@link #setScanout} returns false, so the device refuses the guest's SET_SCANOUT.
 * <p>
 * When QEMU closes the socket (guest reset, VM stop, QEMU exit) or a send or receive fails, every pending request
 * completes with null, later calls do nothing (requests return false), and the {@link Builder#onGone} listener runs
 * once on its own thread. Request callbacks run on the reader thread (replies), the writer thread (timeouts) or the
 * thread that closes the display: they must not block.
 */
public final class VhostUserGpuDisplay implements GpuDisplay, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserGpuDisplay.class.getName());

    /** How long a request may wait for QEMU's reply: below the 5 s a Linux guest waits for display info. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(3);
    /** Default largest UPDATE payload: 1 MiB (a 1920-pixel-wide band of 136 rows). */
    public static final int DEFAULT_MAX_UPDATE_BYTES = 1 << 20;
    /** Requests queued or awaiting a reply, at most; more are refused. */
    public static final int MAX_OUTSTANDING_REQUESTS = 64;
    /** Largest scanout width or height accepted. */
    public static final int MAX_DIMENSION = 16384;

    private static final int HEADER = MessageHeader.LENGTH;
    private static final long TOKEN_WAKE = 1;
    private static final long TOKEN_SOCKET = 2;
    private static final int MAX_WAIT_MS = 1000;
    private static final long JOIN_MS = 5000;
    /** Requested SO_SNDBUF (capped by net.core.wmem_max). */
    private static final int SEND_BUFFER_BYTES = 4 << 20;
    /**
     * Largest message a caller sends itself (non-blocking, when the socket is idle) instead of waking the writer
     * thread: small updates and requests skip a thread hop; frames go through the writer.
     */
    static final long DIRECT_MAX_BYTES = 256 << 10;

    /**
     * Options; {@link #start()} starts the display.
     */
    public static final class Builder
    {
        private final UnixSocket socket;
        private String name = "gpu";
        private Consumer<VhostUserGpuDisplay> onGone;
        private Duration replyTimeout = DEFAULT_REPLY_TIMEOUT;
        private int maxUpdateBytes = DEFAULT_MAX_UPDATE_BYTES;
        private MemoryBudget budget;

        private Builder(final UnixSocket socket)
        {
            this.socket = Objects.requireNonNull(socket, "socket");
        }

        /**
         * For logs and thread names, e.g. {@code gpu0}.
         */
        public Builder name(final String displayName)
        {
            this.name = Objects.requireNonNull(displayName, "name");
            return this;
        }

        /**
         * Called once with the display, on a thread of its own, when QEMU closed the socket or it failed (not after
         * {@link #close()}).
         */
        public Builder onGone(final Consumer<VhostUserGpuDisplay> listener)
        {
            this.onGone = listener;
            return this;
        }

        /**
         * How long a request may wait for its reply before its callback gets null. Default {@link
         * #DEFAULT_REPLY_TIMEOUT}.
         */
        public Builder replyTimeout(final Duration timeout)
        {
            if (timeout.isNegative() || timeout.isZero())
            {
                throw new IllegalArgumentException("reply timeout must be positive, got " + timeout);
            }
            this.replyTimeout = timeout;
            return this;
        }

        /**
         * The largest UPDATE payload (pixels) sent in one message; a larger dirty rectangle goes as several bands.
         * A single row is always sent whole. Default {@link #DEFAULT_MAX_UPDATE_BYTES}.
         */
        public Builder maxUpdateBytes(final int bytes)
        {
            if (bytes < 4)
            {
                throw new IllegalArgumentException("maxUpdateBytes must be at least 4, got " + bytes);
            }
            this.maxUpdateBytes = bytes;
            return this;
        }

        /**
         * The memory the shadow framebuffers are reserved from: the device's ({@link
         * io.jvhost.device.gpu.GpuDevice#memoryBudget()}). Default: a budget of its own of {@link
         * io.jvhost.device.gpu.GpuOptions#DEFAULT_MAX_HOST_MEM}.
         */
        public Builder memoryBudget(final MemoryBudget memoryBudget)
        {
            this.budget = Objects.requireNonNull(memoryBudget, "memoryBudget");
            return this;
        }

        /**
         * Starts the reader and writer threads; the display owns the socket from now on (also when this fails).
         */
        public VhostUserGpuDisplay start() throws NativeException
        {
            final VhostUserGpuDisplay display;
            try
            {
                display = new VhostUserGpuDisplay(this);
            }
            catch (final NativeException | RuntimeException e)
            {
                socket.close();
                throw e;
            }
            display.writer.start();
            display.reader.start();
            return display;
        }
    }

    private final String name;
    private final UnixSocket socket;
    private final int fd;
    private final Consumer<VhostUserGpuDisplay> onGone;
    private final long replyTimeoutNanos;
    private final int maxUpdateBytes;
    private final MemoryBudget budget;
    private final EventFd wake;
    private final Epoll epoll;
    /** Reads QEMU's replies. */
    private final ReplyReader replies;
    private final Thread reader;
    private final Thread writer;
    private final AtomicBoolean writerSleeping = new AtomicBoolean();

    private final Object lock = new Object();
    /** What QEMU is to be shown; guarded by the lock. */
    private final ShadowFramebuffers shadows;
    /** The handshake and QEMU's answers to requests; guarded by the lock. */
    private final DisplayRequests requests;
    private boolean gone;
    private boolean closed;

    /** The writer's batch of settled request callbacks, run outside the lock. */
    private final ArrayList<DisplayRequests.Pending> writerCompletions = new ArrayList<>();
    /**
     * A thread owns the socket's write side and the outgoing message: the writer, or a caller of {@link
     * #updateScanout}, {@link #moveCursor} or a request sending directly. Guarded by the lock.
     */
    private boolean sending;
    /** When the sleeping writer wakes on its own (System.nanoTime), or Long.MAX_VALUE: never. */
    private long writerWakeAt = Long.MAX_VALUE;
    /** A caller sent a request due before {@link #writerWakeAt}: the writer must re-arm its timer. */
    private boolean rearmWriter;
    /** A composed message is not completely sent: whoever takes {@link #sending} next resumes it. */
    private boolean outgoing;
    /** The outgoing message: used only by the thread holding {@link #sending} (handed over under the lock). */
    private final OutgoingMessage out;

    // Writer thread only.
    private boolean socketWatched;
    private boolean writerSends;


    /** Messages sent, by request type; guarded by the lock. */
    private final long[] sentByRequest = new long[GpuRequest.MAX_ID + 1];
    private volatile long messagesSent;
    private volatile long bytesSent;

    private VhostUserGpuDisplay(final Builder builder) throws NativeException
    {
        this.name = builder.name;
        this.socket = builder.socket;
        this.fd = socket.fd();
        this.onGone = builder.onGone;
        this.replyTimeoutNanos = builder.replyTimeout.toNanos();
        this.maxUpdateBytes = builder.maxUpdateBytes;
        this.budget = null != builder.budget ? builder.budget
            : new MemoryBudget(builder.name, GpuOptions.DEFAULT_MAX_HOST_MEM);
        this.shadows = new ShadowFramebuffers(name, budget, maxUpdateBytes);
        this.requests = new DisplayRequests(name, lock, replyTimeoutNanos, this::awaitingReply);
        this.out = new OutgoingMessage(fd);
        try
        {
            // Room for a few bands in the kernel: fewer waits for QEMU, and small updates fit at once.
            socket.setSendBufferSize(SEND_BUFFER_BYTES);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.DEBUG, () -> name + ": keeping the default send buffer: " + e.getMessage());
        }
        final List<AutoCloseable> made = new ArrayList<>();
        try
        {
            this.wake = made(made, EventFd.create());
            this.epoll = made(made, Epoll.create(4));
            epoll.add(wake.fd(), LibC.EPOLLIN, TOKEN_WAKE);
            this.replies = made(made, new ReplyReader(name, socket, new Owner()));
        }
        catch (final NativeException | RuntimeException e)
        {
            for (final AutoCloseable c : made.reversed())
            {
                try
                {
                    c.close();
                }
                catch (final Exception ignored)
                {
                    // Closing what was just made: nothing to report beyond e.
                }
            }
            out.free();
            shadows.free();
            throw e;
        }
        this.writer = Thread.ofPlatform().daemon(true).name(name + "-display-writer")
            .unstarted(ThreadTop.guarded(name + ": display writer", this::writerLoop));
        this.reader = replies.thread();
    }

    private static <T extends AutoCloseable> T made(final List<AutoCloseable> made, final T resource)
    {
        made.add(resource);
        return resource;
    }

    /**
     * @param socket the display socket QEMU sent with GPU_SET_SOCKET; the display owns it.
     */
    public static Builder builder(final UnixSocket socket)
    {
        return new Builder(socket);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // GpuDisplay: any thread, never blocks on the socket.

    /**
     * Queues GET_DISPLAY_INFO; {@code done} gets the 16 modes QEMU reports, or null on timeout or when the socket
     * went away.
     *
     * @return false when the display is closed or gone, or too many requests are outstanding.
     */
    @Override
    public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
    {
        Objects.requireNonNull(done, "done");
        return submit(GpuRequest.GET_DISPLAY_INFO, -1, done);
    }

    /**
     * Queues GET_EDID for {@code scanout}; {@code done} gets the EDID bytes, or null on timeout, when the socket went
     * away, or when QEMU turns out not to offer the EDID protocol feature (requests made before QEMU answered
     * GET_PROTOCOL_FEATURES).
     *
     * @return false when QEMU does not offer the EDID protocol feature, {@code scanout} is outside 0..15, the display
     *     is closed or gone, or too many requests are outstanding.
     */
    @Override
    public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
    {
        Objects.requireNonNull(done, "done");
        if (scanout < 0 || scanout >= GpuPayloads.MAX_SCANOUTS)
        {
            LOG.log(Level.WARNING, name + ": GET_EDID for invalid scanout " + scanout + " not sent");
            return false;
        }
        return submit(GpuRequest.GET_EDID, scanout, done);
    }

    private boolean submit(final int request, final int scanout, final Consumer<?> done)
    {
        synchronized (lock)
        {
            if (closed || gone || !requests.submitLocked(request, scanout, done, MAX_OUTSTANDING_REQUESTS))
            {
                return false;
            }
        }
        sendNowOrWake();
        return true;
    }

    @Override
    public boolean setScanout(final int scanout, final int width, final int height)
    {
        if (scanout < 0 || scanout >= GpuPayloads.MAX_SCANOUTS || width < 0 || height < 0 || width > MAX_DIMENSION
            || height > MAX_DIMENSION)
        {
            LOG.log(Level.WARNING, name + ": setScanout ignored: scanout=" + scanout + ", " + width + "x" + height
                + " (scanouts 0.." + (GpuPayloads.MAX_SCANOUTS - 1) + ", at most " + MAX_DIMENSION + " a side)");
            return false;
        }
        final boolean shown;
        synchronized (lock)
        {
            if (closed || gone)
            {
                return true;
            }
            shown = shadows.resize(scanout, width, height);
        }
        wakeWriter();
        return shown;
    }

    @Override
    public void updateScanout(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment src, final long offset, final int stride, final PixelFormat format)
    {
        if (scanout < 0 || scanout >= GpuPayloads.MAX_SCANOUTS || width <= 0 || height <= 0)
        {
            return;
        }
        synchronized (lock)
        {
            if (closed || gone)
            {
                return;
            }
            if (!shadows.paint(scanout, x, y, width, height, src, offset, stride, format))
            {
                return;
            }
        }
        sendNowOrWake();
    }

    @Override
    public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment argb64x64)
    {
        if (scanout < 0 || scanout >= GpuPayloads.MAX_SCANOUTS)
        {
            return;
        }
        synchronized (lock)
        {
            if (closed || gone)
            {
                return;
            }
            shadows.defineCursor(scanout, x, y, hotX, hotY, argb64x64);
        }
        wakeWriter();
    }

    @Override
    public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        if (scanout < 0 || scanout >= GpuPayloads.MAX_SCANOUTS)
        {
            return;
        }
        synchronized (lock)
        {
            if (closed || gone)
            {
                return;
            }
            shadows.moveCursor(scanout, x, y, visible);
        }
        sendNowOrWake();
    }

    private void wakeWriter()
    {
        if (writerSleeping.get() && writerSleeping.compareAndSet(true, false))
        {
            wake.signal();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // State for logs, tests and benchmarks.

    /**
     * @return the protocol features negotiated with QEMU, or -1 until QEMU answered GET_PROTOCOL_FEATURES.
     */
    public long protocolFeatures()
    {
        synchronized (lock)
        {
            return requests.negotiatedLocked();
        }
    }

    /**
     * @return the protocol features QEMU offered, or -1 until it answered.
     */
    public long offeredProtocolFeatures()
    {
        synchronized (lock)
        {
            return requests.offeredLocked();
        }
    }

    /**
     * @return true once QEMU closed the socket or it failed.
     */
    public boolean isGone()
    {
        synchronized (lock)
        {
            return gone;
        }
    }

    /**
     * @return how many sends found QEMU's socket full (QEMU is not reading as fast as the display sends).
     */
    public long socketFullCount()
    {
        return out.socketFullCount();
    }

    /**
     * @return messages fully handed to the socket.
     */
    public long messagesSent()
    {
        return messagesSent;
    }

    /**
     * @return messages of type {@code request} fully handed to the socket.
     */
    public long messagesSent(final int request)
    {
        synchronized (lock)
        {
            return request >= 0 && request < sentByRequest.length ? sentByRequest[request] : 0;
        }
    }

    /**
     * @return bytes (headers included) handed to the socket.
     */
    public long bytesSent()
    {
        return bytesSent;
    }

    /**
     * @return updates dropped because their scanout was not set or they lay outside it.
     */
    public long droppedUpdates()
    {
        synchronized (lock)
        {
            return shadows.droppedUpdates();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Writer thread.

    private void writerLoop()
    {
        try
        {
            while (true)
            {
                final boolean haveMessage;
                final long waitMs;
                synchronized (lock)
                {
                    if (closed || gone)
                    {
                        break;
                    }
                    requests.expireLocked(System.nanoTime());
                    haveMessage = takeMessageLocked();
                    waitMs = haveMessage ? 0 : requests.waitMillisLocked(System.nanoTime());
                    if (!haveMessage)
                    {
                        writerSleeping.set(true);
                        writerWakeAt = waitMs < 0 ? Long.MAX_VALUE : System.nanoTime() + waitMs * 1_000_000;
                    }
                    requests.takeCompletionsLocked(writerCompletions);
                }
                requests.completeAll(writerCompletions);
                if (!haveMessage)
                {
                    epoll.await((int)waitMs);
                    writerSleeping.set(false);
                    wake.drain();
                    continue;
                }
                writerSends = true;
                int result;
                while ((result = sendOutgoing()) == SEND_WOULD_BLOCK)
                {
                    if (!awaitWritable())
                    {
                        result = SEND_FAILED;
                        break;
                    }
                }
                if (socketWatched)
                {
                    epoll.remove(fd);
                    socketWatched = false;
                }
                writerSends = false;
                releaseSending(result == SEND_DONE);
                if (result == SEND_FAILED)
                {
                    break;
                }
            }
        }
        catch (final RuntimeException | NativeException | Error e)
        {
            // An Error too (a fault in a guest blob being sent, no memory): the display ends, the GPU goes on.
            if (!isClosed())
            {
                LOG.log(Level.ERROR, name + ": display writer failed: " + ThreadTop.describe(e));
                gone("writer failed: " + e);
            }
            if (writerSends)
            {
                writerSends = false;
                releaseSending(false);
            }
        }
    }

    /**
     * Sends the next message on the calling thread when the socket is idle and the message is small, else leaves it
     * to the writer thread. Never blocks: the send is non-blocking, and a message the socket cannot take at once is
     * finished by the writer.
     */
    private void sendNowOrWake()
    {
        synchronized (lock)
        {
            if (closed || gone || sending || outgoing || !takeMessageLocked())
            {
                // Busy (the owner looks for more work when it lets go), or nothing to send, or a message a caller
                // could not finish: the writer's turn.
                if (!sending && !closed && !gone && (outgoing || requests.hasCompletionsLocked()))
                {
                    wakeWriter();
                }
                return;
            }
        }
        final int result = out.remaining() <= DIRECT_MAX_BYTES ? sendOutgoing() : SEND_WOULD_BLOCK;
        releaseSending(result == SEND_DONE);
    }

    /**
     * Takes the socket for the calling thread with a message to send: one a caller left unfinished, or the next one
     * composed. Under the lock.
     *
     * @return false when another thread is sending or there is nothing to send.
     */
    private boolean takeMessageLocked()
    {
        if (sending)
        {
            return false;
        }
        if (!outgoing)
        {
            if (composeLocked() == 0)
            {
                return false;
            }
            outgoing = true;
        }
        sending = true;
        return true;
    }

    /**
     * Gives the socket back after sending; {@code complete} when the outgoing message went out whole. Wakes the writer
     * when work is left that the calling thread does not do (a caller sends one message at most).
     */
    private void releaseSending(final boolean complete)
    {
        synchronized (lock)
        {
            if (complete)
            {
                outgoing = false;
                sentByRequest[out.request()]++;
                messagesSent = messagesSent + 1;
                bytesSent = bytesSent + out.length();
                shadows.unpin();
            }
            sending = false;
            lock.notifyAll();
            if (Thread.currentThread() != writer
                && (rearmWriter || outgoing || requests.hasCompletionsLocked() || hasWorkLocked()))
            {
                rearmWriter = false;
                wakeWriter();
            }
        }
    }

    /**
     * @return true when {@link #composeLocked} would produce a message.
     */
    private boolean hasWorkLocked()
    {
        return requests.hasWorkLocked() || shadows.hasWork();
    }

    private boolean isClosed()
    {
        synchronized (lock)
        {
            return closed;
        }
    }

    /**
     * @return the length of the next message, composed as the outgoing message, or 0 when there is nothing to send.
     */
    private long composeLocked()
    {
        final long request = requests.composeLocked(out);
        if (request == DisplayRequests.HANDSHAKE_PENDING)
        {
            return 0;
        }
        return request > 0 ? request : shadows.compose(out);
    }

    /**
     * A request goes out with {@code deadline}: a sleeping writer may have no timer running (or a later one) for it,
     * so it is woken once the message is sent. Under the lock.
     */
    private void awaitingReply(final long deadline)
    {
        if (writerSleeping.get() && (writerWakeAt == Long.MAX_VALUE || deadline - writerWakeAt < 0))
        {
            rearmWriter = true;
        }
    }

    private static final int SEND_DONE = OutgoingMessage.SEND_DONE;
    private static final int SEND_WOULD_BLOCK = OutgoingMessage.SEND_WOULD_BLOCK;
    private static final int SEND_FAILED = OutgoingMessage.SEND_FAILED;

    /**
     * Sends what is left of the outgoing message without blocking; a failed socket ends the display. Only the thread
     * holding {@link #sending}.
     */
    private int sendOutgoing()
    {
        final int result = out.send();
        if (result == SEND_FAILED)
        {
            gone(out.failure());
        }
        return result;
    }

    /**
     * QEMU is not reading: wait until it does, the display closes, or a request times out meanwhile.
     *
     * @return false when the display closed or went away.
     */
    private boolean awaitWritable() throws NativeException
    {
        if (!socketWatched)
        {
            epoll.add(fd, LibC.EPOLLOUT, TOKEN_SOCKET);
            socketWatched = true;
        }
        while (true)
        {
            final long waitMs;
            synchronized (lock)
            {
                if (closed || gone)
                {
                    return false;
                }
                requests.expireLocked(System.nanoTime());
                final long w = requests.waitMillisLocked(System.nanoTime());
                waitMs = w < 0 ? MAX_WAIT_MS : w;
                requests.takeCompletionsLocked(writerCompletions);
            }
            requests.completeAll(writerCompletions);
            final int ready = epoll.await((int)waitMs);
            for (int i = 0; i < ready; i++)
            {
                if (epoll.token(i) == TOKEN_SOCKET)
                {
                    return true;
                }
                wake.drain();
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Reader thread.

    /**
     * Reads QEMU's replies from now on on the thread {@code watcher} runs callbacks on (the GPU's control-queue
     * worker), which then completes a waiting command without a hand-over from this display's reader thread; null
     * gives reading back to the reader thread. Any thread; does nothing when the display is closed or gone.
     */
    @Override
    public void readRepliesOn(final FdWatcher watcher)
    {
        replies.readRepliesOn(watcher);
    }

    /**
     * @return true while a GPU worker reads QEMU's replies ({@link #readRepliesOn}).
     */
    public boolean repliesReadByWorker()
    {
        return replies.delegated();
    }

    /**
     * What the reply reader needs of the display.
     */
    private final class Owner implements ReplyReader.Owner
    {
        @Override
        public boolean isClosed()
        {
            return VhostUserGpuDisplay.this.isClosed();
        }

        @Override
        public boolean isClosedOrGone()
        {
            return VhostUserGpuDisplay.this.isClosedOrGone();
        }

        @Override
        public void onMessage(final Message msg)
        {
            VhostUserGpuDisplay.this.onMessage(msg);
        }

        @Override
        public void gone(final String reason)
        {
            VhostUserGpuDisplay.this.gone(reason);
        }
    }

    private boolean isClosedOrGone()
    {
        synchronized (lock)
        {
            return closed || gone;
        }
    }

    private void onMessage(final Message msg)
    {
        if (requests.onReply(msg))
        {
            // The handshake ended: SET_PROTOCOL_FEATURES, and whatever waited for it, can go.
            wakeWriter();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // End of life.

    /**
     * QEMU closed the socket or it failed: complete everything pending, stop both threads, tell the listener.
     */
    private void gone(final String reason)
    {
        final List<DisplayRequests.Pending> pending;
        synchronized (lock)
        {
            if (gone || closed)
            {
                return;
            }
            gone = true;
            pending = requests.drainLocked();
        }
        LOG.log(Level.INFO, name + ": display socket gone: " + reason);
        wake.signal();
        // A hung-up socket stays readable: a worker watching it must stop (the reader thread sees gone and ends).
        readRepliesOn(null);
        replies.wake();
        socket.shutdown();
        requests.completeAll(pending);
        if (null != onGone)
        {
            Thread.ofPlatform().daemon(true).name(name + "-display-gone")
                .start(ThreadTop.guarded(name + ": display-gone listener", () -> onGone.accept(this)));
        }
    }

    /**
     * Stops both threads and any worker reading replies, completes pending requests with null and closes the socket. Idempotent; never waits for
     * QEMU. Called on one of the display's own threads (from a callback), the release finishes on another thread.
     */
    @Override
    public void close()
    {
        final List<DisplayRequests.Pending> pending;
        synchronized (lock)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            pending = requests.drainLocked();
        }
        wake.signal();
        readRepliesOn(null);
        replies.wake();
        socket.shutdown();
        requests.completeAll(pending);
        final Thread current = Thread.currentThread();
        if (current == writer || current == reader)
        {
            Thread.ofPlatform().daemon(true).name(name + "-display-close")
                .start(ThreadTop.guarded(name + ": display release", this::release));
        }
        else
        {
            release();
        }
    }

    private void release()
    {
        join(writer);
        join(reader);
        synchronized (lock)
        {
            // A caller may be in its (non-blocking) direct send, reading a shadow and the send buffers.
            final long deadline = System.nanoTime() + JOIN_MS * 1_000_000;
            long left;
            while (sending && (left = deadline - System.nanoTime()) > 0)
            {
                try
                {
                    lock.wait(Math.max(1, left / 1_000_000));
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (sending)
            {
                LOG.log(Level.ERROR, name + ": a direct send did not finish within " + JOIN_MS
                    + " ms; its buffers are not freed");
            }
            else
            {
                shadows.free();
                out.free();
            }
        }
        epoll.close();
        wake.close();
        replies.close();
        socket.close();
    }

    private void join(final Thread thread)
    {
        if (thread.getState() == Thread.State.NEW)
        {
            return;
        }
        try
        {
            thread.join(JOIN_MS);
            if (thread.isAlive())
            {
                LOG.log(Level.ERROR, name + ": " + thread.getName() + " did not stop within " + JOIN_MS + " ms");
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString()
    {
        return "VhostUserGpuDisplay[" + name + ", fd=" + fd + "]";
    }
}
