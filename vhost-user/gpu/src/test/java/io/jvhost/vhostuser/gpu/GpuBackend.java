package io.jvhost.vhostuser.gpu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.gpu.GpuProtocol;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.ProtocolFeature;

/**
 * {@code jvhost gpu} in this process: a {@link VhostUserDaemon} serving a {@link GpuDevice} with a
 * {@link GpuSocketExtension} per connection, and the QEMU side to drive it: front-end, guest RAM, the two queues as
 * QEMU sizes them (64 and 16), a guest driver, and a display emulator per DRIVER_OK.
 */
final class GpuBackend implements AutoCloseable
{
    private final GpuDevice device;
    private final VhostUserDaemon daemon;
    private final Thread thread;
    private final List<GpuSocketExtension> extensions = new CopyOnWriteArrayList<>();
    private final Path socket;

    private GpuBackend(final Path dir, final GpuOptions options, final boolean headless) throws IOException
    {
        this.socket = dir.resolve("gpu.sock");
        this.device = new GpuDevice("gpu0", options);
        this.daemon = VhostUserDaemon.listen("gpu0", device, () ->
        {
            final GpuSocketExtension e = new GpuSocketExtension("gpu0", device, headless);
            extensions.add(e);
            return e;
        }, socket);
        this.thread = Thread.ofPlatform().name("gpu-daemon").daemon(true).start(daemon::run);
    }

    static GpuBackend start(final Path dir, final GpuOptions options, final boolean headless) throws IOException
    {
        return new GpuBackend(dir, options, headless);
    }

    GpuDevice device()
    {
        return device;
    }

    GpuSocketExtension extension()
    {
        return extensions.getLast();
    }

    /**
     * The VMM side of one connection.
     */
    final class Vm implements AutoCloseable
    {
        final GuestRam ram;
        final VhostUserFrontend frontend;
        final VirtioSession session;
        final GpuDriver driver;

        Vm() throws IOException
        {
            ram = GuestRam.create(48L << 20, 2);
            frontend = VhostUserFrontend.connect(socket);
            // QEMU never sends SET_STATUS to vhost-user-gpu (its vq_index_end stays 0, reference §1.8): without
            // STATUS a stop is GET_VRING_BASE only, as with QEMU, and does not reset the device.
            session = VirtioSession.builder(frontend, ram).queueSizes(64, 16)
                .protocolFeatures(VirtioSession.SUPPORTED_PROTOCOL_FEATURES
                    & ~ProtocolFeature.bit(ProtocolFeature.STATUS)).build();
            driver = new GpuDriver(ram, session.queue(0), session.queue(1));
            session.init();
        }

        FrontendQueue control()
        {
            return session.queue(0);
        }

        /**
         * DRIVER_OK as QEMU does it: GPU_SET_SOCKET with {@code display}'s far end first, then the rings.
         */
        void driverOk(final QemuDisplayEmulator display) throws IOException
        {
            display.sendSocket(frontend);
            session.start();
        }

        /**
         * A guest reset or VM stop as QEMU does it: the display socket closed first, then the rings stopped.
         */
        void stop(final QemuDisplayEmulator display) throws IOException
        {
            display.close();
            session.stop();
        }

        /**
         * A guest reset as QEMU 10 does it (README, "Guest reset and VM stop/cont"): the device stopped, RESET_DEVICE,
         * the driver's probe reading the config (GET_CONFIG), the rings from index 0. DRIVER_OK follows with
         * {@link #driverOk}.
         */
        void reset(final QemuDisplayEmulator display) throws IOException
        {
            stop(display);
            session.reset(GpuProtocol.CONFIG_SIZE);
        }

        @Override
        public void close()
        {
            session.close();
            frontend.close();
            ram.close();
        }
    }

    Vm connect() throws IOException
    {
        return new Vm();
    }

    @Override
    public void close() throws InterruptedException
    {
        daemon.close();
        thread.join(5000);
    }
}
