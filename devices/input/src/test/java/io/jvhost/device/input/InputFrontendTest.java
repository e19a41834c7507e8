package io.jvhost.device.input;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.input.InputCapabilities.CFG_ABS_INFO;
import static io.jvhost.device.input.InputCapabilities.CFG_EV_BITS;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_DEVIDS;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_NAME;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_SERIAL;
import static io.jvhost.device.input.InputCapabilities.CFG_PROP_BITS;
import static io.jvhost.device.input.InputSink.EV_ABS;
import static io.jvhost.device.input.InputSink.EV_KEY;
import static io.jvhost.device.input.InputSink.EV_LED;
import static io.jvhost.device.input.InputSink.EV_REL;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link InputDevice} behind the real vhost-user back-end ({@link VhostUserDaemon}), driven by the in-process
 * front-end the way QEMU 10's vhost-user-input-pci and Linux's virtio_input driver drive it.
 */
@Timeout(60)
class InputFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private record Event(int type, int code, int value)
    {
    }

    @TempDir
    Path dir;

    private final List<Event> status = Collections.synchronizedList(new ArrayList<>());
    private InputDevice device;
    private ServedDevice served;

    @BeforeEach
    void setUp() throws Exception
    {
        device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities(), 1024,
            (type, code, value) -> status.add(new Event(type, code, value)));
        served = ServedDevice.serve("input0", device, dir.resolve("input.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
    }

    /**
     * The config space as QEMU 10's vhost-user-base keeps it: a guest byte write updates QEMU's copy and sends all
     * 136 bytes with SET_CONFIG; every guest read fetches all 136 bytes with GET_CONFIG and picks its bytes.
     */
    private static final class QemuConfig
    {
        private final VhostUserFrontend frontend;
        private final byte[] copy = new byte[InputDevice.CONFIG_SIZE];
        int messages;

        QemuConfig(final VhostUserFrontend frontend)
        {
            this.frontend = frontend;
        }

        void writeb(final int offset, final int value) throws Exception
        {
            copy[offset] = (byte)value;
            frontend.setConfig(0, copy.clone());
            messages++;
        }

        private java.lang.foreign.MemorySegment fetch() throws Exception
        {
            final byte[] fresh = frontend.getConfig(0, InputDevice.CONFIG_SIZE);
            System.arraycopy(fresh, 0, copy, 0, fresh.length);
            messages++;
            return java.lang.foreign.MemorySegment.ofArray(fresh);
        }

        int readb(final int offset) throws Exception
        {
            return fetch().get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
        }

        int readw(final int offset) throws Exception
        {
            return fetch().get(LE16, offset) & 0xFFFF;
        }

        int readl(final int offset) throws Exception
        {
            return fetch().get(LE32, offset);
        }

        /**
         * Linux's virtinput_cfg_select: select, subsel, then the size byte.
         */
        int select(final int select, final int subsel) throws Exception
        {
            writeb(0, select);
            writeb(1, subsel);
            return readb(2);
        }

        /**
         * Linux's virtio_cread_bytes: one byte at a time.
         */
        byte[] bytes(final int count) throws Exception
        {
            final byte[] out = new byte[count];
            for (int i = 0; i < count; i++)
            {
                out[i] = (byte)readb(8 + i);
            }
            return out;
        }
    }

    private static boolean bit(final byte[] bitmap, final int bit)
    {
        return bit / 8 < bitmap.length && 0 != (bitmap[bit / 8] & (1 << (bit % 8)));
    }

    @Test
    void theLinuxProbeSequenceThroughQemuReadsWhatTheProfileReports() throws Exception
    {
        served.drive(4L << 20, 1, b -> b.queues(2, 4), (_, fe, session) ->
        {
            session.init();
            assertThat(session.protocolFeatures() & ProtocolFeature.bit(ProtocolFeature.CONFIG))
                .as("CONFIG negotiated").isNotZero();
            final QemuConfig cfg = new QemuConfig(fe);

            // virtinput_probe, in its order.
            int size = cfg.select(CFG_ID_NAME, 0);
            assertThat(new String(cfg.bytes(Math.min(size, 64)), StandardCharsets.US_ASCII))
                .isEqualTo(VirtualProfile.COMBINED_NAME);
            size = cfg.select(CFG_ID_SERIAL, 0);
            assertThat(new String(cfg.bytes(Math.min(size, 64)), StandardCharsets.US_ASCII)).isEqualTo("jvhost-combined");
            assertThat(cfg.select(CFG_ID_DEVIDS, 0)).isGreaterThanOrEqualTo(8);
            assertThat(cfg.readw(8)).as("bustype").isEqualTo(InputCodes.BUS_VIRTUAL);
            assertThat(cfg.readw(10)).as("vendor").isEqualTo(0x0627);
            assertThat(cfg.readw(12)).as("product").isEqualTo(VirtualProfile.COMBINED_PRODUCT);
            assertThat(cfg.readw(14)).as("version").isEqualTo(1);
            assertThat(cfg.select(CFG_PROP_BITS, 0)).as("no properties").isZero();
            assertThat(cfg.select(CFG_EV_BITS, InputCodes.EV_REP)).as("EV_REP declared").isNotZero();
            final byte[] keys = cfg.bytes(cfg.select(CFG_EV_BITS, EV_KEY));
            assertThat(bit(keys, InputCodes.KEY_ESC) && bit(keys, InputCodes.KEY_MICMUTE) && bit(keys, InputCodes.BTN_LEFT))
                .isTrue();
            assertThat(cfg.bytes(cfg.select(CFG_EV_BITS, EV_REL))).containsExactly(0, 1);
            final byte[] axes = cfg.bytes(cfg.select(CFG_EV_BITS, EV_ABS));
            assertThat(axes).containsExactly(3);
            assertThat(cfg.select(CFG_EV_BITS, InputCodes.EV_MSC)).isZero();
            assertThat(cfg.select(CFG_EV_BITS, InputCodes.EV_SW)).isZero();
            assertThat(cfg.bytes(cfg.select(CFG_EV_BITS, EV_LED))).containsExactly(7);
            assertThat(cfg.select(CFG_EV_BITS, InputCodes.EV_SND)).isZero();
            for (int axis = 0; axis < 2; axis++)
            {
                assertThat(cfg.select(CFG_ABS_INFO, axis)).isEqualTo(20);
                assertThat(cfg.readl(8)).as("min of axis %d", axis).isZero();
                assertThat(cfg.readl(12)).as("max of axis %d", axis).isEqualTo(32767);
                assertThat(cfg.readl(16)).as("fuzz").isZero();
                assertThat(cfg.readl(20)).as("flat").isZero();
                assertThat(cfg.readl(24)).as("res").isZero();
            }
            assertThat(cfg.messages).as("config messages of the whole probe").isGreaterThan(100);
        });
    }

    @Test
    void byteSizedConfigAccessesWorkToo() throws Exception
    {
        // A front-end that forwards each guest access as is (offset, size) rather than the whole space.
        served.drive(4L << 20, 1, b -> b.queues(2, 4), (_, fe, session) ->
        {
            session.init();
            fe.setConfig(0, new byte[] {(byte)CFG_ABS_INFO});
            fe.setConfig(1, new byte[] {1});
            assertThat(fe.getConfig(2, 1)).containsExactly(20);
            assertThat(java.lang.foreign.MemorySegment.ofArray(fe.getConfig(12, 4)).get(LE32, 0)).isEqualTo(32767);
            fe.setConfig(0, new byte[] {(byte)0x7f, 0});
            assertThat(fe.getConfig(0, 3)).as("unknown select").containsExactly(0x7f, 0, 0);
            assertThat(fe.getConfig(130, 6)).as("the end of the config space").containsOnly(0);
        });
    }

    /**
     * @return the event the device wrote into the 8-byte buffer at {@code gpa}.
     */
    private static Event eventAt(final GuestRam ram, final long gpa)
    {
        final byte[] b = ram.read(gpa, 8);
        final java.lang.foreign.MemorySegment s = java.lang.foreign.MemorySegment.ofArray(b);
        return new Event(s.get(LE16, 0) & 0xFFFF, s.get(LE16, 2) & 0xFFFF, s.get(LE32, 4));
    }

    /**
     * Receives {@code count} events through an event queue of 4 buffers, re-posting each used buffer as Linux does.
     */
    private static List<Event> receive(final GuestRam ram, final FrontendQueue q, final long[] buffers,
        final int count) throws Exception
    {
        final List<Event> got = new ArrayList<>();
        while (got.size() < count)
        {
            final int n = q.awaitUsed(WAIT);
            assertThat(n).as("used buffers after %d of %d events", got.size(), count).isPositive();
            final long[] free = new long[n];
            for (int i = 0; i < n; i++)
            {
                assertThat(q.usedLength(i)).isEqualTo(8);
                free[i] = buffers[q.usedHead(i)];
                got.add(eventAt(ram, free[i]));
                ram.fill(free[i], 8, (byte)0xEE);
            }
            for (final long gpa : free)
            {
                buffers[q.add(new long[] {gpa}, new int[] {8}, 0, 1)] = gpa;
            }
            q.publishAndKick();
        }
        return got;
    }

    private static long[] postEventBuffers(final GuestRam ram, final FrontendQueue q)
    {
        final long[] byHead = new long[q.size()];
        for (int i = 0; i < q.size(); i++)
        {
            final long gpa = ram.allocate(8, 8);
            byHead[q.add(new long[] {gpa}, new int[] {8}, 0, 1)] = gpa;
        }
        q.publishAndKick();
        return byHead;
    }

    @Test
    void eventsReachEventQueueBuffersInOrderAndStatusEventsAreAnswered() throws Exception
    {
        served.drive(4L << 20, 1, b -> b.queues(2, 4), (ram, _, session) ->
        {
            session.start();
            final FrontendQueue eventq = session.queue(InputDevice.EVENT_QUEUE);
            final long[] buffers = postEventBuffers(ram, eventq);

            final List<Event> sent = new ArrayList<>();
            for (int i = 0; i < 10; i++)
            {
                final Event[] report = {new Event(EV_KEY, InputCodes.KEY_A + i, 1), new Event(EV_ABS, 0, i * 1000),
                    new Event(0, 0, 0)};
                for (final Event e : report)
                {
                    device.event(e.type(), e.code(), e.value());
                    sent.add(e);
                }
            }
            assertThat(receive(ram, eventq, buffers, sent.size())).containsExactlyElementsOf(sent);
            assertThat(device.droppedEvents()).isZero();

            // The driver sets Caps Lock: one readable event on the status queue, answered with 0 bytes.
            final FrontendQueue statusq = session.queue(InputDevice.STATUS_QUEUE);
            final long led = ram.allocate(8, 8);
            final byte[] ev = new byte[8];
            final java.lang.foreign.MemorySegment s = java.lang.foreign.MemorySegment.ofArray(ev);
            s.set(LE16, 0, (short)EV_LED);
            s.set(LE16, 2, (short)InputCodes.LED_CAPSL);
            s.set(LE32, 4, 1);
            ram.write(led, ev, 0, 8);
            statusq.add(new long[] {led}, new int[] {8}, 1, 0);
            statusq.publishAndKick();
            assertThat(statusq.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(statusq.usedLength(0)).isZero();
            assertThat(status).containsExactly(new Event(EV_LED, InputCodes.LED_CAPSL, 1));

            session.stop();
        });
    }

    @Test
    void theControlSocketDrivesTheDeviceLineByLine() throws Exception
    {
        final Path control = dir.resolve("control.sock");
        try (InputControlServer server = InputControlServer.listen("input0", control, device, device.capabilities());
             SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            served.drive(4L << 20, 1, b -> b.queues(2, 4), (ram, _, session) ->
            {
                assertThat(server.path()).isEqualTo(control);
                assertThat(Files.getPosixFilePermissions(control)).as("owner only")
                    .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
                session.start();
                final FrontendQueue eventq = session.queue(InputDevice.EVENT_QUEUE);
                final long[] buffers = postEventBuffers(ram, eventq);

                client.connect(UnixDomainSocketAddress.of(control));
                final OutputStream out = Channels.newOutputStream(client);
                final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                    StandardCharsets.US_ASCII));
                final String[][] dialogue = {
                    {"key 30 1", "ok"},
                    {"key 30 0", "ok"},
                    {"# a comment, not answered", null},
                    {"", null},
                    {"btn 272 1", "ok"},
                    {"btn 0x110 0", "ok"},
                    {"abs 0 32767", "ok"},
                    {"wheel -2", "ok"},
                    {"abs 32768 5", "error abs x must be 0..32767, got 32768"},
                    {"key 30 3", "error key value must be 0..2, got 3"},
                    {"key 0 1", "error key code must be 1..767, got 0"},
                    {"key 249 1", "error key code 249 is not one '" + VirtualProfile.COMBINED_NAME + "' sends"},
                    {"btn 30 1", "error btn code must be 256..767, got 30"},
                    {"wheel", "error wheel needs one number: 'wheel'"},
                    {"key 30 1 7", "error key needs two numbers, a code and a value: 'key 30 1 7'"},
                    {"key x 1", "error key needs two numbers, a code and a value: 'key x 1'"},
                    {"press 30", "error unknown command 'press': expected key, btn, abs or wheel"},
                    {"key 48 1\r", "ok"},
                };
                for (final String[] step : dialogue)
                {
                    out.write((step[0] + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    if (null != step[1])
                    {
                        assertThat(in.readLine()).as("answer to '%s'", step[0].strip()).isEqualTo(step[1]);
                    }
                }
                final List<Event> expected = List.of(
                    new Event(EV_KEY, 30, 1), new Event(0, 0, 0),
                    new Event(EV_KEY, 30, 0), new Event(0, 0, 0),
                    new Event(EV_KEY, 272, 1), new Event(0, 0, 0),
                    new Event(EV_KEY, 272, 0), new Event(0, 0, 0),
                    new Event(EV_ABS, 0, 0), new Event(EV_ABS, 1, 32767), new Event(0, 0, 0),
                    new Event(EV_REL, 8, -2), new Event(0, 0, 0),
                    new Event(EV_KEY, 48, 1), new Event(0, 0, 0));
                assertThat(receive(ram, eventq, buffers, expected.size())).containsExactlyElementsOf(expected);

                out.write(("x".repeat(InputControlServer.MAX_LINE + 1) + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).isEqualTo("error line longer than 256 bytes; closing");
                assertThat(in.readLine()).as("the server closed the connection").isNull();
                session.stop();
            });
        }
        assertThat(control).as("socket file removed on close").doesNotExist();
    }

    @Test
    void aKeyboardControlSocketRefusesPointerCommands() throws Exception
    {
        final InputDevice keyboard = new InputDevice("kbd", VirtualKeyboard.capabilities());
        final Path control = dir.resolve("kbd.sock");
        Files.writeString(dir.resolve("not-a-socket"), "x");
        try (InputControlServer server = InputControlServer.listen("kbd", control, keyboard, keyboard.capabilities());
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(control)))
        {
            assertThat(server.path()).isEqualTo(control);
            final OutputStream out = Channels.newOutputStream(client);
            final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.US_ASCII));
            out.write("abs 1 1\nwheel 1\nbtn 272 1\nkey 1 1\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(in.readLine()).isEqualTo("error '" + VirtualKeyboard.NAME + "' has no absolute pointer axes");
            assertThat(in.readLine()).isEqualTo("error '" + VirtualKeyboard.NAME + "' has no wheel");
            assertThat(in.readLine()).isEqualTo("error btn code 272 is not one '" + VirtualKeyboard.NAME + "' sends");
            assertThat(in.readLine()).isEqualTo("ok");
            assertThat(keyboard.pendingEvents()).as("KEY_ESC and its SYN_REPORT").isEqualTo(2);
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> InputControlServer.listen("kbd",
            dir.resolve("not-a-socket"), keyboard, keyboard.capabilities()))
            .hasMessageContaining("refusing to replace control socket " + dir.resolve("not-a-socket"));
    }
}
