package io.jvhost.vhostuser.gpu;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.CompositeDisplay;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuDisplay;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.backend.VhostUserExtension;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;

/**
 * vhost-user-gpu's own request on one connection: {@code VHOST_USER_GPU_SET_SOCKET} (33), which QEMU sends with a
 * fresh display socket at every DRIVER_OK (first start, after a guest reset, after {@code stop}/{@code cont}).
 * <p>
 * Each socket becomes a {@link VhostUserGpuDisplay} attached to the {@link GpuDevice}, which re-announces its
 * scanouts to it. A later socket simply replaces the previous one (QEMU's contrib back-end refuses it while the old
 * one is still open, and leaves the display dead after a reboot). When QEMU closes the socket (reset, VM stop) the
 * device is detached from it and answers display requests from its defaults until the next socket arrives. Handling
 * never waits for QEMU: the handshake on the new socket runs on the display's own threads.
 * <p>
 * Headless: the socket is kept open but never used, so QEMU neither waits for anything nor sees its end closed (its
 * display-socket handler stays registered on a closed descriptor otherwise, and logs read errors); the device runs on
 * its defaults.
 * <p>
 * One instance per connection; {@link #handle} runs on the connection's control thread, the display-gone callback on
 * a display thread.
 * <p>
 * Where QEMU's display goes is a {@link DisplayHost}: straight into the device (the default), or into a
 * {@link CompositeDisplay} beside jvhost's own viewers.
 */
public final class GpuSocketExtension implements VhostUserExtension
{
    private static final System.Logger LOG = System.getLogger(GpuSocketExtension.class.getName());

    private final String name;
    private final DisplayHost host;
    private final MemoryBudget budget;
    private final boolean headless;
    private final Duration replyTimeout;
    private VhostUserGpuDisplay display;
    private UnixSocket idleSocket;
    private long sockets;
    private boolean closed;

    /**
     * @param name     for logs, e.g. {@code gpu0}.
     * @param device   the device that shows its scanouts on QEMU's display.
     * @param headless keep QEMU's sockets but show nothing.
     */
    public GpuSocketExtension(final String name, final GpuDevice device, final boolean headless)
    {
        this(name, device, headless, VhostUserGpuDisplay.DEFAULT_REPLY_TIMEOUT);
    }

    /**
     * @param replyTimeout how long display requests wait for QEMU
     *                     (see {@link VhostUserGpuDisplay.Builder#replyTimeout}).
     */
    public GpuSocketExtension(final String name, final GpuDevice device, final boolean headless,
        final Duration replyTimeout)
    {
        this(name, DisplayHost.of(device), device.memoryBudget(), headless, replyTimeout);
    }

    /**
     * @param host   where QEMU's displays are attached and detached (e.g. {@link DisplayHost#of(CompositeDisplay)}).
     * @param budget the device's memory budget, which QEMU's displays reserve their shadow framebuffers from.
     */
    public GpuSocketExtension(final String name, final DisplayHost host, final MemoryBudget budget,
        final boolean headless, final Duration replyTimeout)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.host = Objects.requireNonNull(host, "host");
        this.budget = Objects.requireNonNull(budget, "budget");
        this.headless = headless;
        this.replyTimeout = replyTimeout;
    }

    /**
     * Where QEMU's display is attached: the device itself, or a composite display that also feeds other viewers.
     * Called under the extension's lock; must not block.
     */
    public interface DisplayHost
    {
        /**
         * {@code next} replaces {@code previous} (null: there was none).
         */
        void attach(GpuDisplay previous, GpuDisplay next);

        /**
         * {@code display} went away.
         */
        void detach(GpuDisplay display);

        /**
         * @return a host that attaches QEMU's display as the device's only display.
         */
        static DisplayHost of(final GpuDevice device)
        {
            Objects.requireNonNull(device, "device");
            return new DisplayHost()
            {
                @Override
                public void attach(final GpuDisplay previous, final GpuDisplay next)
                {
                    device.setDisplay(next);
                }

                @Override
                public void detach(final GpuDisplay display)
                {
                    device.clearDisplay();
                }
            };
        }

        /**
         * @return a host that puts QEMU's display first in {@code composite} (so its display info and EDID win) and
         *     takes it out again when it goes.
         */
        static DisplayHost of(final CompositeDisplay composite)
        {
            Objects.requireNonNull(composite, "composite");
            return new DisplayHost()
            {
                @Override
                public void attach(final GpuDisplay previous, final GpuDisplay next)
                {
                    composite.replace(previous, next, true);
                }

                @Override
                public void detach(final GpuDisplay display)
                {
                    composite.remove(display);
                }
            };
        }
    }

    @Override
    public boolean handle(final Message request) throws IOException
    {
        if (request.request() != FrontendRequest.GPU_SET_SOCKET)
        {
            return false;
        }
        final int count = request.fds().count();
        final int fd = request.fds().take(0);
        if (fd < 0)
        {
            throw new IOException("GPU_SET_SOCKET without a descriptor (" + count + " came with it)");
        }
        if (count > 1)
        {
            LOG.log(Level.WARNING, name + ": GPU_SET_SOCKET came with " + count + " descriptors; using the first");
        }
        final UnixSocket socket = UnixSocket.adopt(fd);
        final VhostUserGpuDisplay previous;
        final UnixSocket previousIdle;
        synchronized (this)
        {
            if (closed)
            {
                socket.close();
                throw new IOException("GPU_SET_SOCKET after the connection ended");
            }
            sockets++;
            previous = display;
            previousIdle = idleSocket;
            display = null;
            idleSocket = null;
            if (headless)
            {
                idleSocket = socket;
                if (null != previous)
                {
                    host.detach(previous);
                }
            }
            else
            {
                final VhostUserGpuDisplay next = VhostUserGpuDisplay.builder(socket).name(name + "-display" + sockets)
                    .replyTimeout(replyTimeout).memoryBudget(budget).onGone(this::displayGone).start();
                display = next;
                // Replaces the previous display in the device before the old one is closed: the device never
                // holds a closed display, and re-announces its scanouts to the new one.
                host.attach(previous, next);
            }
        }
        LOG.log(Level.INFO, name + ": display socket " + sockets + " (fd " + fd + ")" + (headless
            ? " kept unused (headless)" : " attached") + (null != previous || null != previousIdle
            ? ", replacing the previous one" : ""));
        if (null != previous)
        {
            previous.close();
        }
        if (null != previousIdle)
        {
            previousIdle.close();
        }
        return true;
    }

    /**
     * QEMU closed a display socket: detach it from the device if it is still the current one.
     */
    private void displayGone(final VhostUserGpuDisplay gone)
    {
        synchronized (this)
        {
            if (gone != display)
            {
                return;
            }
            display = null;
            host.detach(gone);
        }
        LOG.log(Level.INFO, name + ": QEMU closed the display socket; the device runs on its defaults until the"
            + " next GPU_SET_SOCKET");
        gone.close();
    }

    /**
     * @return the display in use, or null (none yet, headless, or QEMU closed it).
     */
    public synchronized VhostUserGpuDisplay display()
    {
        return display;
    }

    /**
     * @return GPU_SET_SOCKET requests handled.
     */
    public synchronized long socketsReceived()
    {
        return sockets;
    }

    /**
     * The connection ended: detach and close the display. Idempotent.
     */
    @Override
    public void close()
    {
        final VhostUserGpuDisplay d;
        final UnixSocket idle;
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            d = display;
            idle = idleSocket;
            display = null;
            idleSocket = null;
            if (null != d)
            {
                host.detach(d);
            }
        }
        if (null != d)
        {
            d.close();
        }
        if (null != idle)
        {
            idle.close();
        }
    }
}
