package io.jvhost.display.rfb;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Pattern;

import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.fuzz.ErrorLog;
import io.jvhost.device.input.InputSink;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the RFB session (the server side of jvhost's own VNC display) with any bytes from a client, handshake
 * included, against a real {@link Framebuffer} with a picture and a cursor, a host that paints, resizes and changes
 * the cursor while the client talks, and an {@link InputForwarder} into a recording {@link InputSink}.
 * <p>
 * The input's first byte chooses the set-up: bit 0 a VNC password, bit 1 a valid handshake put before the rest
 * (3.8, or 3.3 with bit 3; with the right DES answer when there is a password), bit 2 a host that acts between the
 * client's reads. The rest is the client's byte stream, served 29 bytes a read.
 * <p>
 * Checked: the session ends (the input's end or garbage closes it) with its transport closed once, its writer gone
 * and every byte of its memory budget given back; no error is logged (an unexpected exception in the reader or the
 * writer); the server's bytes are a well-formed handshake and then only FramebufferUpdates, at most one per update
 * request of the client (as an oracle parses the client's stream), with pixel rectangles inside the largest picture
 * shown and each rectangle's data of the size its encoding says (parsed whole when the client kept one pixel size);
 * every input event the guest would get is well-formed and there is at most one report per key or pointer message.
 */
class RfbSessionFuzzTest
{
    private static final String PASSWORD = "fuzzpw";
    private static final long SEED = 42;
    private static final int CHUNK = 29;
    private static final long SESSION_BUDGET = 16L << 20;
    private static final int KEY_MAX = 0x2ff;

    private static final ErrorLog ERRORS = ErrorLog.install();
    private static final Pattern VERSION = Pattern.compile("RFB 003\\.\\d{3}\n");

    @FuzzTest(maxDuration = "30s")
    void clientBytesAreServedOrTheSessionEndsCleanly(final byte[] input)
    {
        if (input.length == 0)
        {
            return;
        }
        final int flags = input[0] & 0xFF;
        final boolean password = (flags & 1) != 0;
        final boolean canned = (flags & 2) != 0;
        final boolean host = (flags & 4) != 0;
        final boolean v33 = (flags & 8) != 0;
        final byte[] client = clientStream(input, password, canned, v33);

        final MemoryBudget budget = new MemoryBudget("fuzz", SESSION_BUDGET);
        final Framebuffer framebuffer = new Framebuffer(0);
        final Host world = new Host(framebuffer);
        world.resize(64, 48);
        world.cursor(3, 5, 0x80);
        final RecordingSink sink = new RecordingSink();
        final RfbConfig config = new RfbConfig("fuzz", password ? PASSWORD : null, new InputForwarder(sink),
            new Random(SEED), 1000, 0, budget, (scanout, w, h) ->
            {
                assertThat(w).as("width asked of the guest").isBetween(1, RfbSession.MAX_DESKTOP_SIZE);
                assertThat(h).as("height asked of the guest").isBetween(1, RfbSession.MAX_DESKTOP_SIZE);
                return RfbSession.RESIZE_FORWARDED;
            }, 50);
        final FuzzTransport transport = new FuzzTransport(client, host ? world : null);
        final RfbSession session = new RfbSession("fuzz", transport, framebuffer, config);
        ERRORS.clear();

        session.run();

        assertThat(ERRORS.messages()).as("errors logged").isEmpty();
        assertThat(session.isClosed()).isTrue();
        assertThat(transport.closes).as("transport closes").isEqualTo(1);
        assertThat(budget.used()).as("budget bytes still reserved after the session").isZero();

        final ClientOracle oracle = new ClientOracle(client, password);
        final ServerChecker server = new ServerChecker(transport.output.toByteArray(), password, world);
        server.check(oracle);
        sink.check(oracle);
        framebuffer.close();
    }

    /**
     * The client's bytes: the input after its flag byte, behind a valid handshake when asked for.
     */
    private static byte[] clientStream(final byte[] input, final boolean password, final boolean canned,
        final boolean v33)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (canned)
        {
            out.writeBytes((v33 ? "RFB 003.003\n" : "RFB 003.008\n").getBytes(StandardCharsets.US_ASCII));
            if (!v33)
            {
                out.write(password ? RfbSession.SECURITY_VNC_AUTH : RfbSession.SECURITY_NONE);
            }
            if (password)
            {
                final byte[] challenge = new byte[VncAuth.CHALLENGE_LENGTH];
                new Random(SEED).nextBytes(challenge);
                out.writeBytes(VncAuth.response(PASSWORD, challenge));
            }
            out.write(1);
        }
        out.write(input, 1, input.length - 1);
        return out.toByteArray();
    }

    /**
     * The guest's side of the framebuffer: paints, resizes, cursor changes; remembers the largest picture shown.
     * <p>
     * The pictures a resize paints and the cursor images are made once per size and alpha and kept (34 sizes and 32
     * alphas at most): made per call, their loops (instrumented like all of this package, a hook per comparison and
     * division) were half of the client thread's time.
     */
    private static final class Host
    {
        private static final int PICTURE_SEED = 0x123456;
        private static final Map<Integer, int[]> PICTURES = new HashMap<>();
        private static final MemorySegment[] CURSORS = new MemorySegment[256];

        private final Framebuffer framebuffer;
        int maxWidth;
        int maxHeight;
        private int step;

        Host(final Framebuffer framebuffer)
        {
            this.framebuffer = framebuffer;
        }

        void resize(final int w, final int h)
        {
            framebuffer.resize(w, h);
            maxWidth = Math.max(maxWidth, w);
            maxHeight = Math.max(maxHeight, h);
            framebuffer.update(0, 0, w, h, PICTURES.computeIfAbsent(w << 16 | h, k -> picture(w * h, PICTURE_SEED)));
        }

        void paint(final int x, final int y, final int w, final int h, final int seed)
        {
            framebuffer.update(x, y, w, h, picture(w * h, seed));
        }

        private static int[] picture(final int pixels, final int seed)
        {
            final int[] rgb = new int[pixels];
            for (int i = 0; i < rgb.length; i++)
            {
                rgb[i] = (i % 7 == 0 ? seed : seed * 31 + i / 5) & 0xFFFFFF;
            }
            return rgb;
        }

        void cursor(final int hotX, final int hotY, final int alpha)
        {
            MemorySegment image = CURSORS[alpha];
            if (null == image)
            {
                image = MemorySegment.ofArray(new int[Cursor.PIXELS]);
                for (int i = 0; i < Cursor.PIXELS; i++)
                {
                    final int x = i % Cursor.SIZE;
                    final int y = i / Cursor.SIZE;
                    image.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i,
                        x < 12 && y < 20 && x <= y ? alpha << 24 | 0xFFFFFF : 0);
                }
                CURSORS[alpha] = image;
            }
            // Framebuffer copies the image.
            framebuffer.defineCursor(hotX, hotY, image);
        }

        /** One host action chosen by {@code b}. */
        void act(final int b)
        {
            step++;
            switch (b & 7)
            {
                case 0, 1, 2 -> paint(b % 40, b % 30, 1 + b % 23, 1 + b % 17, b * step);
                case 3 -> resize(8 + (b >> 3) * 4, 8 + (b >> 3) * 3);
                case 4 -> resize(0, 0);
                case 5 -> cursor(b % 64, (b >> 2) % 64, b & 0xF8);
                case 6 -> framebuffer.showCursor((b & 8) != 0);
                default -> resize(64, 48);
            }
        }
    }

    /**
     * The client's end of the connection: its bytes, a few at a time (the host acting before each read when asked
     * to), and whatever the session writes.
     */
    private static final class FuzzTransport implements RfbTransport
    {
        final ByteArrayOutputStream output = new ByteArrayOutputStream();
        private final byte[] client;
        private final Host host;
        int closes;
        private int at;

        FuzzTransport(final byte[] client, final Host host)
        {
            this.client = client;
            this.host = host;
        }

        @Override
        public InputStream input()
        {
            return new InputStream()
            {
                @Override
                public int read()
                {
                    final byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
                }

                @Override
                public int read(final byte[] b, final int off, final int len)
                {
                    if (at >= client.length)
                    {
                        return -1;
                    }
                    if (null != host && at > 0)
                    {
                        host.act(client[at - 1] & 0xFF);
                    }
                    final int n = Math.min(Math.min(len, CHUNK), client.length - at);
                    System.arraycopy(client, at, b, off, n);
                    at += n;
                    return n;
                }
            };
        }

        @Override
        public OutputStream output()
        {
            return new OutputStream()
            {
                @Override
                public void write(final int b)
                {
                    synchronized (output)
                    {
                        output.write(b);
                    }
                }

                @Override
                public void write(final byte[] b, final int off, final int len)
                {
                    synchronized (output)
                    {
                        output.write(b, off, len);
                    }
                }
            };
        }

        @Override
        public void readTimeout(final int millis)
        {
            // Reads never block.
        }

        @Override
        public String peer()
        {
            return "fuzz";
        }

        @Override
        public synchronized void close()
        {
            closes++;
        }
    }

    /**
     * What the session may do for the client's bytes, parsed as RFC 6143 reads them: update requests, key and pointer
     * messages, pixel sizes asked for, up to the first message the session must refuse.
     */
    private static final class ClientOracle
    {
        int updateRequests;
        int inputMessages;
        final Set<Integer> bytesPerPixel = new HashSet<>(Set.of(4));

        /** The minor version the session speaks (8, 7 or 3), or -1 when the client's version is refused. */
        int minor = -1;
        /** Whether the client chose the offered security type (always true for 3.3, where it does not choose). */
        boolean choseOffered;
        /** Whether the client's DES answer is right (when there is a password). */
        boolean answerRight;
        /** Whether the client sent ClientInit after a successful handshake. */
        boolean initialized;

        ClientOracle(final byte[] c, final boolean password)
        {
            if (c.length < 12)
            {
                return;
            }
            final String version = new String(c, 0, 12, StandardCharsets.US_ASCII);
            if (!VERSION.matcher(version).matches())
            {
                return;
            }
            final int asked = Integer.parseInt(version.substring(8, 11));
            minor = asked >= 8 ? 8 : asked == 7 ? 7 : 3;
            final ByteBuffer b = ByteBuffer.wrap(c, 12, c.length - 12);
            if (minor >= 7)
            {
                if (!b.hasRemaining())
                {
                    return;
                }
                choseOffered = b.get() == (password ? RfbSession.SECURITY_VNC_AUTH : RfbSession.SECURITY_NONE);
                if (!choseOffered)
                {
                    return;
                }
            }
            else
            {
                choseOffered = true;
            }
            if (password)
            {
                if (b.remaining() < VncAuth.CHALLENGE_LENGTH)
                {
                    return;
                }
                final byte[] challenge = new byte[VncAuth.CHALLENGE_LENGTH];
                new Random(SEED).nextBytes(challenge);
                final byte[] answer = new byte[VncAuth.CHALLENGE_LENGTH];
                b.get(answer);
                answerRight = java.util.Arrays.equals(answer, VncAuth.response(PASSWORD, challenge));
                if (!answerRight)
                {
                    return;
                }
            }
            if (!b.hasRemaining())
            {
                return;
            }
            b.get();
            initialized = true;
            parseMessages(b);
        }

        private void parseMessages(final ByteBuffer b)
        {
            while (b.hasRemaining())
            {
                final int type = b.get() & 0xFF;
                final int need = switch (type)
                {
                    case 0 -> 19;
                    case 2 -> b.remaining() >= 3 ? 3 + 4 * (b.getShort(b.position() + 1) & 0xFFFF) : 3;
                    case 3 -> 9;
                    case 4 -> 7;
                    case 5 -> 5;
                    case 6 -> 7;
                    case 251 -> b.remaining() >= 6 ? 7 + 16 * (b.get(b.position() + 5) & 0xFF) : 7;
                    case 255 -> 11;
                    default -> -1;
                };
                if (need < 0 || b.remaining() < need)
                {
                    return;
                }
                final int start = b.position();
                switch (type)
                {
                    case 0 ->
                    {
                        final int bpp = b.get(start + 3) & 0xFF;
                        if (b.get(start + 6) != 0 && (bpp == 8 || bpp == 16 || bpp == 32))
                        {
                            bytesPerPixel.add(bpp / 8);
                        }
                    }
                    case 3 -> updateRequests++;
                    case 4, 5 -> inputMessages++;
                    case 6 ->
                    {
                        final long length = b.getInt(start + 3) & 0xFFFF_FFFFL;
                        if (length > RfbSession.MAX_CUT_TEXT || b.remaining() < need + length)
                        {
                            return;
                        }
                        b.position((int)(start + need + length));
                        continue;
                    }
                    case 255 ->
                    {
                        if (b.get(start) != 0)
                        {
                            return;
                        }
                        inputMessages++;
                    }
                    default ->
                    {
                    }
                }
                b.position(start + need);
            }
        }
    }

    /**
     * Parses what the server sent.
     */
    private static final class ServerChecker
    {
        private final ByteBuffer b;
        private final boolean password;
        private final Host host;

        ServerChecker(final byte[] bytes, final boolean password, final Host host)
        {
            this.b = ByteBuffer.wrap(bytes);
            this.password = password;
            this.host = host;
        }

        void check(final ClientOracle client)
        {
            final byte[] version = new byte[12];
            b.get(version);
            assertThat(new String(version, StandardCharsets.US_ASCII)).isEqualTo("RFB 003.008\n");
            if (!b.hasRemaining())
            {
                return; // The client's version was refused.
            }
            if (client.minor < 0)
            {
                assertThat(b.remaining()).as("bytes after a refused version").isZero();
                return;
            }
            final int type = password ? RfbSession.SECURITY_VNC_AUTH : RfbSession.SECURITY_NONE;
            if (client.minor >= 7)
            {
                assertThat(b.get()).as("security types offered").isEqualTo((byte)1);
                assertThat(b.get() & 0xFF).as("security type offered").isEqualTo(type);
                if (!client.choseOffered)
                {
                    if (b.hasRemaining())
                    {
                        failure(client.minor);
                    }
                    return;
                }
            }
            else
            {
                assertThat(b.getInt()).as("3.3 security type").isEqualTo(type);
            }
            if (password)
            {
                if (!b.hasRemaining())
                {
                    return;
                }
                skip(VncAuth.CHALLENGE_LENGTH);
                if (!client.answerRight)
                {
                    if (b.hasRemaining())
                    {
                        failure(client.minor);
                    }
                    return;
                }
            }
            if (password || client.minor >= 8)
            {
                if (!b.hasRemaining())
                {
                    return;
                }
                assertThat(b.getInt()).as("SecurityResult").isZero();
            }
            if (!client.initialized)
            {
                assertThat(b.remaining()).as("bytes before ClientInit").isZero();
                return;
            }
            serverInit();
            int updates = 0;
            final int pixelBytes = client.bytesPerPixel.size() == 1 ? 4 : -1;
            while (b.hasRemaining())
            {
                assertThat(b.get() & 0xFF).as("server message type at %d", b.position() - 1).isZero();
                b.get();
                final int rects = b.getShort() & 0xFFFF;
                updates++;
                for (int i = 0; i < rects && b.hasRemaining(); i++)
                {
                    if (!rect(pixelBytes))
                    {
                        return;
                    }
                }
            }
            {
                assertThat(updates).as("updates for %d update requests", client.updateRequests)
                    .isLessThanOrEqualTo(client.updateRequests);
            }
        }

        /** A failed SecurityResult (3.8: with a reason), the last thing sent. */
        private void failure(final int minor)
        {
            assertThat(b.getInt()).as("failed SecurityResult").isEqualTo(1);
            if (minor >= 8)
            {
                final int length = b.getInt();
                skip(length);
            }
            assertThat(b.remaining()).as("bytes after a failed handshake").isZero();
        }

        private void serverInit()
        {
            final int width = b.getShort() & 0xFFFF;
            final int height = b.getShort() & 0xFFFF;
            assertThat(width).isBetween(1, host.maxWidth);
            assertThat(height).isBetween(1, host.maxHeight);
            b.position(b.position() + 16);
            final int nameLength = b.getInt();
            assertThat(nameLength).isEqualTo(4);
            b.position(b.position() + nameLength);
        }

        /**
         * Checks one rectangle and skips its data.
         *
         * @return false when the rest cannot be parsed (raw pixels of a size the client changed).
         */
        private boolean rect(final int pixelBytes)
        {
            final int x = b.getShort() & 0xFFFF;
            final int y = b.getShort() & 0xFFFF;
            final int w = b.getShort() & 0xFFFF;
            final int h = b.getShort() & 0xFFFF;
            final int encoding = b.getInt();
            switch (encoding)
            {
                case RfbSession.ENCODING_RAW, RfbSession.ENCODING_ZLIB, RfbSession.ENCODING_ZRLE ->
                {
                    assertThat(w).as("rectangle width").isPositive();
                    assertThat(h).as("rectangle height").isPositive();
                    assertThat(x + w).as("rectangle right edge").isLessThanOrEqualTo(host.maxWidth);
                    assertThat(y + h).as("rectangle bottom edge").isLessThanOrEqualTo(host.maxHeight);
                    if (encoding == RfbSession.ENCODING_RAW)
                    {
                        if (pixelBytes < 0)
                        {
                            return false;
                        }
                        skip((long)w * h * pixelBytes);
                    }
                    else
                    {
                        skip(b.getInt() & 0xFFFF_FFFFL);
                    }
                }
                case RfbSession.ENCODING_DESKTOP_SIZE ->
                {
                    assertThat(w).isBetween(1, host.maxWidth);
                    assertThat(h).isBetween(1, host.maxHeight);
                }
                case RfbSession.ENCODING_EXTENDED_DESKTOP_SIZE ->
                {
                    assertThat(x).as("reason").isBetween(0, 1);
                    assertThat(y).as("status").isBetween(0, 4);
                    final int screens = b.get() & 0xFF;
                    assertThat(screens).isEqualTo(1);
                    skip(3 + 16L * screens);
                }
                case RfbSession.ENCODING_QEMU_EXTENDED_KEY -> assertThat(w | h).isZero();
                case RfbSession.ENCODING_CURSOR ->
                {
                    assertThat(w).isBetween(1, Cursor.SIZE);
                    assertThat(h).isBetween(1, Cursor.SIZE);
                    assertThat(x).as("hotspot x").isLessThan(w);
                    assertThat(y).as("hotspot y").isLessThan(h);
                    if (pixelBytes < 0)
                    {
                        return false;
                    }
                    skip((long)w * h * pixelBytes + (long)(w + 7) / 8 * h);
                }
                case RfbSession.ENCODING_VMWARE_CURSOR ->
                {
                    assertThat(w).isBetween(1, Cursor.SIZE);
                    assertThat(h).isBetween(1, Cursor.SIZE);
                    assertThat(x).as("hotspot x").isLessThan(w);
                    assertThat(y).as("hotspot y").isLessThan(h);
                    assertThat(b.get()).as("alpha cursor type").isEqualTo((byte)1);
                    b.get();
                    skip(4L * w * h);
                }
                default -> throw new AssertionError("rectangle with encoding " + encoding);
            }
            return true;
        }

        private void skip(final long n)
        {
            assertThat(n).as("rectangle data left in the output").isLessThanOrEqualTo(b.remaining());
            b.position(b.position() + (int)n);
        }
    }

    /**
     * The guest's input device: checks each event as it comes.
     */
    private static final class RecordingSink implements InputSink
    {
        private final List<String> bad = new ArrayList<>();
        private int reports;

        @Override
        public synchronized void event(final int type, final int code, final int value)
        {
            final boolean ok = switch (type)
            {
                case EV_SYN -> code == SYN_REPORT && value == 0;
                case EV_KEY -> code > 0 && code <= KEY_MAX && (value == 0 || value == 1);
                case EV_ABS -> (code == ABS_X || code == ABS_Y) && value >= 0 && value <= ABS_MAX;
                case EV_REL -> (code == REL_WHEEL || code == InputForwarder.REL_HWHEEL) && Math.abs(value) == 1;
                default -> false;
            };
            if (!ok)
            {
                bad.add(type + "/" + code + "/" + value);
            }
            if (type == EV_SYN)
            {
                reports++;
            }
        }

        synchronized void check(final ClientOracle client)
        {
            assertThat(bad).as("malformed input events").isEmpty();
            assertThat(reports).as("input reports for %d input messages", client.inputMessages)
                .isLessThanOrEqualTo(client.inputMessages);
        }
    }

}
