package io.jvhost.vhostuser.gpu;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.gpu.CompositeDisplay;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.display.DisplayServer;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Remote resizing through every layer in this process, the way QEMU 11's generic vhost-user device fronts the GPU (no
 * display socket: jvhost's own display is the only one): a VNC viewer's SetDesktopSize reaches the front-end as
 * BACKEND_CONFIG_CHANGE_MSG, the config then shows VIRTIO_GPU_EVENT_DISPLAY, GET_DISPLAY_INFO gives the new size,
 * events_clear clears the event, and the guest's SET_SCANOUT at that size answers the viewer.
 */
@Timeout(60)
class RemoteResizeFlowTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int XRGB = 2;
    private static final int EVENT_DISPLAY = 1;

    @Test
    void aViewersSizeReachesTheGuestAsADisplayEventAndItsSwitchAnswersTheViewer(@TempDir final Path dir)
        throws Exception
    {
        final GpuOptions options = GpuOptions.builder().defaultMode(640, 480).build();
        final GpuDevice device = new GpuDevice("gpu0", options);
        final CompositeDisplay composite = new CompositeDisplay("gpu0");
        final Path socket = dir.resolve("gpu.sock");
        try (DisplayServer server = DisplayServer.builder().name("gpu0").vnc(new InetSocketAddress("127.0.0.1", 0))
                 .memoryBudget(device.memoryBudget()).defaultMode(640, 480).start();
             VhostUserDaemon daemon = VhostUserDaemon.listen("gpu0", device, () -> new GpuSocketExtension("gpu0",
                 GpuSocketExtension.DisplayHost.of(composite), device.memoryBudget(), false,
                 VhostUserGpuDisplay.DEFAULT_REPLY_TIMEOUT), socket))
        {
            composite.add(server);
            composite.attachTo(device);
            final Thread serving = Thread.ofPlatform().daemon(true).name("gpu-daemon").start(daemon::run);
            try (GuestRam ram = GuestRam.create(48L << 20, 2);
                 VhostUserFrontend frontend = VhostUserFrontend.connect(socket);
                 VirtioSession session = VirtioSession.builder(frontend, ram).queueSizes(64, 16).build())
            {
                final GpuDriver driver = new GpuDriver(ram, session.queue(0), session.queue(1));
                session.init();
                session.start();

                // The guest boots at the default mode.
                assertThat(mode(driver.getDisplayInfo(), 0)).containsExactly(0, 0, 640, 480, 1);
                show(driver, ram, 1, 640, 480);

                try (Viewer viewer = new Viewer(server.vncAddresses().getFirst()))
                {
                    assertThat(viewer.nextExtendedDesktopSize()).as("offered").containsExactly(0, 0, 640, 480);
                    viewer.setDesktopSize(800, 600);

                    final byte[] config = session.awaitConfigChange(1, WAIT, 16);
                    assertThat(u32(config, 0)).as("events_read").isEqualTo(EVENT_DISPLAY);
                    assertThat(session.backendChannel().poll(0).flags()).as("REPLY_ACK asked for").isEqualTo(0x9);

                    assertThat(mode(driver.getDisplayInfo(), 0)).containsExactly(0, 0, 800, 600, 1);
                    frontend.setConfig(4, new byte[] {EVENT_DISPLAY, 0, 0, 0});
                    assertThat(u32(frontend.getConfig(0, 16), 0)).as("events_read after events_clear").isZero();

                    show(driver, ram, 2, 800, 600);
                    assertThat(viewer.nextExtendedDesktopSize()).as("answered: this client, no error")
                        .containsExactly(1, 0, 800, 600);
                }
                session.stop();
            }
            daemon.shutdown();
            serving.join(5000);
        }
    }

    /** The guest switches mode as Linux does: a new resource at that size, backed, shown on scanout 0. */
    private static void show(final GpuDriver driver, final GuestRam ram, final int resource, final int width,
        final int height) throws Exception
    {
        final long bytes = 4L * width * height;
        assertThat(driver.create2d(resource, XRGB, width, height)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(driver.attachBacking(resource, ram.allocate(bytes, 4096), bytes, 4)).isEqualTo(GpuDriver.OK_NODATA);
        assertThat(driver.setScanout(0, resource, 0, 0, width, height)).isEqualTo(GpuDriver.OK_NODATA);
    }

    private static int[] mode(final ByteBuffer info, final int i)
    {
        assertThat(info.getInt(0)).isEqualTo(GpuDriver.OK_DISPLAY_INFO);
        final int at = 24 + 24 * i;
        return new int[] {info.getInt(at), info.getInt(at + 4), info.getInt(at + 8), info.getInt(at + 12),
            info.getInt(at + 16)};
    }

    private static int u32(final byte[] b, final int at)
    {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
    }

    /**
     * A VNC viewer of the fewest words: RFB 3.8 without a password, Raw and ExtendedDesktopSize; it reads updates until
     * an ExtendedDesktopSize rectangle comes (Raw pixels are skipped).
     */
    private static final class Viewer implements AutoCloseable
    {
        private final Socket socket = new Socket();
        private final DataInputStream in;
        private final DataOutputStream out;

        Viewer(final InetSocketAddress address) throws IOException
        {
            socket.connect(address, 10_000);
            socket.setSoTimeout(20_000);
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            out = new DataOutputStream(socket.getOutputStream());
            in.readFully(new byte[12]);
            out.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
            in.readFully(new byte[in.readUnsignedByte()]);
            out.writeByte(1);
            assertThat(in.readInt()).as("security result").isZero();
            out.writeByte(1);
            in.readFully(new byte[20]);
            in.readFully(new byte[in.readInt()]);
            out.writeByte(2);
            out.writeByte(0);
            out.writeShort(2);
            out.writeInt(0);
            out.writeInt(-308);
            out.flush();
        }

        /**
         * Asks for updates until one carries ExtendedDesktopSize.
         *
         * @return its reason, status, width and height.
         */
        int[] nextExtendedDesktopSize() throws IOException
        {
            while (true)
            {
                out.writeByte(3);
                out.writeByte(1);
                out.writeShort(0);
                out.writeShort(0);
                out.writeShort(8192);
                out.writeShort(8192);
                out.flush();
                assertThat(in.readUnsignedByte()).as("FramebufferUpdate").isZero();
                in.readUnsignedByte();
                final int rects = in.readUnsignedShort();
                int[] found = null;
                for (int i = 0; i < rects; i++)
                {
                    final int x = in.readUnsignedShort();
                    final int y = in.readUnsignedShort();
                    final int w = in.readUnsignedShort();
                    final int h = in.readUnsignedShort();
                    final int encoding = in.readInt();
                    if (encoding == -308)
                    {
                        final int screens = in.readUnsignedByte();
                        in.readFully(new byte[3 + 16 * screens]);
                        found = new int[] {x, y, w, h};
                    }
                    else
                    {
                        assertThat(encoding).as("Raw").isZero();
                        in.readFully(new byte[4 * w * h]);
                    }
                }
                if (null != found)
                {
                    return found;
                }
            }
        }

        void setDesktopSize(final int width, final int height) throws IOException
        {
            out.writeByte(251);
            out.writeByte(0);
            out.writeShort(width);
            out.writeShort(height);
            out.writeByte(1);
            out.writeByte(0);
            out.writeInt(0);
            out.writeShort(0);
            out.writeShort(0);
            out.writeShort(width);
            out.writeShort(height);
            out.writeInt(0);
            out.flush();
        }

        @Override
        public void close() throws IOException
        {
            socket.close();
        }
    }
}
