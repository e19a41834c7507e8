package io.jvhost.vhostuser.frontend.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.os.Errno;
import io.jvhost.os.FdList;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator.Mode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The emulator against a hand-driven back-end end: QEMU's replies byte by byte, framebuffer and cursor state, and
 * every violation it is meant to catch.
 */
@Timeout(30)
class QemuDisplayEmulatorTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final Arena arena = Arena.ofShared();
    private QemuDisplayEmulator qemu;
    private UnixSocket backend;

    private void start(final QemuDisplayEmulator.Builder builder) throws NativeException
    {
        qemu = builder.start();
        backend = UnixSocket.adopt(qemu.takeBackendFd());
        backend.setReceiveTimeout(2000);
    }

    @AfterEach
    void close()
    {
        if (null != backend)
        {
            backend.close();
        }
        if (null != qemu)
        {
            qemu.close();
        }
        arena.close();
    }

    private void send(final int request, final int flags, final int... payload) throws NativeException
    {
        final MemorySegment m = arena.allocate(12 + 4L * payload.length, 8);
        m.set(ValueLayout.JAVA_INT, 0, request);
        m.set(ValueLayout.JAVA_INT, 4, flags);
        m.set(ValueLayout.JAVA_INT, 8, 4 * payload.length);
        for (int i = 0; i < payload.length; i++)
        {
            m.set(ValueLayout.JAVA_INT, 12 + 4L * i, payload[i]);
        }
        backend.send(m, 0, m.byteSize(), null, 0);
    }

    private MemorySegment reply(final int size) throws Exception
    {
        final MemorySegment m = arena.allocate(12 + size, 8);
        assertThat(backend.receiveFully(m, 0, 12 + size, new FdList())).isTrue();
        return m;
    }

    @Test
    void answersLikeQemu10WithReplyFlagsOnly() throws Exception
    {
        start(QemuDisplayEmulator.builder().modes(Mode.of(1024, 768), new Mode(1024, 0, 800, 600, false)));
        send(1, 0);
        final MemorySegment features = reply(8);
        assertThat(features.get(ValueLayout.JAVA_INT, 0)).isEqualTo(1);
        assertThat(features.get(ValueLayout.JAVA_INT, 4)).as("REPLY only").isEqualTo(4);
        assertThat(features.get(ValueLayout.JAVA_INT, 8)).isEqualTo(8);
        assertThat(features.get(ValueLayout.JAVA_LONG_UNALIGNED, 12)).isEqualTo(3);

        send(2, 0, 1, 0);
        send(3, 0);
        final MemorySegment info = reply(408);
        assertThat(info.get(ValueLayout.JAVA_INT, 0)).isEqualTo(3);
        assertThat(info.get(ValueLayout.JAVA_INT, 4)).isEqualTo(4);
        assertThat(info.get(ValueLayout.JAVA_INT, 8)).isEqualTo(408);
        assertThat(info.get(ValueLayout.JAVA_INT, 12)).isEqualTo(0x1101);
        final int m0 = 12 + 24;
        assertThat(new int[] {info.get(ValueLayout.JAVA_INT, m0 + 8), info.get(ValueLayout.JAVA_INT, m0 + 12),
            info.get(ValueLayout.JAVA_INT, m0 + 16)}).containsExactly(1024, 768, 1);
        final int m1 = m0 + 24;
        assertThat(new int[] {info.get(ValueLayout.JAVA_INT, m1), info.get(ValueLayout.JAVA_INT, m1 + 8),
            info.get(ValueLayout.JAVA_INT, m1 + 16)}).containsExactly(1024, 800, 0);

        send(11, 0, 0);
        final MemorySegment edid = reply(1056);
        assertThat(edid.get(ValueLayout.JAVA_INT, 0)).isEqualTo(11);
        assertThat(edid.get(ValueLayout.JAVA_INT, 4)).isEqualTo(4);
        assertThat(edid.get(ValueLayout.JAVA_INT, 12)).isEqualTo(0x1104);
        assertThat(edid.get(ValueLayout.JAVA_INT, 12 + 24)).isEqualTo(128);
        final byte[] block = edid.asSlice(12 + 32, 128).toArray(ValueLayout.JAVA_BYTE);
        assertThat(block).isEqualTo(QemuDisplayEmulator.generateEdid(Mode.of(1024, 768)));
        int sum = 0;
        for (final byte b : block)
        {
            sum += b & 0xFF;
        }
        assertThat(sum % 256).as("EDID checksum").isZero();
        assertThat(block).startsWith(0, -1, -1, -1, -1, -1, -1, 0);

        assertThat(qemu.await(() -> qemu.messages() == 4, WAIT)).isTrue();
        assertThat(qemu.negotiatedFeatures()).isEqualTo(1);
        assertThat(qemu.replies()).isEqualTo(3);
        assertThat(qemu.bytes()).isEqualTo(12 + 20 + 12 + 16);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void composesUpdatesIntoBlankSurfacesLikeQemu() throws Exception
    {
        start(QemuDisplayEmulator.builder().modes(Mode.of(8, 4), Mode.of(4, 4)));
        send(7, 0, 1, 4, 2);
        send(8, 0, 1, 1, 0, 2, 2, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
        assertThat(qemu.await(() -> qemu.surfaceUpdates(1) == 1, WAIT)).isTrue();
        assertThat(qemu.surfaceSize(1)).containsExactly(4, 2);
        assertThat(qemu.pixel(1, 0, 0)).as("blank").isZero();
        assertThat(qemu.pixel(1, 1, 0)).isEqualTo(0x11111111);
        assertThat(qemu.pixel(1, 2, 0)).isEqualTo(0x22222222);
        assertThat(qemu.pixel(1, 1, 1)).isEqualTo(0x33333333);
        assertThat(qemu.pixel(1, 2, 1)).isEqualTo(0x44444444);
        assertThat(qemu.surfaceSize(0)).isNull();

        send(7, 0, 1, 4, 2);
        assertThat(qemu.await(() -> qemu.scanoutMessages(1) == 2, WAIT)).isTrue();
        assertThat(qemu.pixel(1, 1, 0)).as("a new SCANOUT starts blank").isZero();
        send(7, 0, 1, 0, 0);
        assertThat(qemu.await(() -> qemu.scanoutMessages(1) == 3, WAIT)).isTrue();
        assertThat(qemu.framebuffer(1)).isNull();
        assertThat(qemu.trace()).containsExactly("SCANOUT(1,4x2)", "UPDATE(1,1,0,2x2)", "SCANOUT(1,4x2)",
            "SCANOUT(1,0x0)");
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void keepsCursorState() throws Exception
    {
        start(QemuDisplayEmulator.builder());
        final int[] update = new int[5 + 4096];
        update[0] = 0;
        update[1] = 10;
        update[2] = 20;
        update[3] = 1;
        update[4] = 2;
        for (int i = 0; i < 4096; i++)
        {
            update[5 + i] = 0xFF000000 | i;
        }
        send(6, 0, update);
        send(4, 0, 0, 30, 40);
        send(5, 0, 0, 50, 60);
        assertThat(qemu.await(() -> qemu.messages() == 3, WAIT)).isTrue();
        final QemuDisplayEmulator.Cursor c = qemu.cursor(0);
        assertThat(new int[] {c.x(), c.y(), c.hotX(), c.hotY()}).containsExactly(50, 60, 1, 2);
        assertThat(c.visible()).isFalse();
        assertThat(c.pixel(5, 1)).isEqualTo(0xFF000000 | 69);
        assertThat(c.updates()).isEqualTo(1);
        assertThat(c.moves()).isEqualTo(2);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void recordsEveryViolation() throws Exception
    {
        start(QemuDisplayEmulator.builder());
        send(8, 0, 0, 0, 0, 1, 1, 0);
        send(7, 1, 0, 4, 4);
        send(8, 0, 0, 3, 3, 2, 2, 1, 2, 3, 4);
        send(8, 0, 0, 0, 0, 2, 2, 1);
        send(7, 0, 0, 4);
        send(7, 0, 3, 4, 4);
        send(11, 0, 5);
        send(9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        send(99, 0);
        send(3, 0);
        final MemorySegment info = reply(408);
        assertThat(info.get(ValueLayout.JAVA_INT, 0)).as("GET_EDID for scanout 5 got no reply").isEqualTo(3);
        assertThat(qemu.violations()).hasSize(9).satisfiesExactly(
            v -> assertThat(v).contains("UPDATE(0,0,0,1x1) before any SCANOUT"),
            v -> assertThat(v).contains("SCANOUT has flags 0x1"),
            v -> assertThat(v).contains("UPDATE(0,3,3,2x2) lies outside the 4x4 surface"),
            v -> assertThat(v).contains("UPDATE(0,0,0,2x2) has size 24, expected 36"),
            v -> assertThat(v).contains("SCANOUT has size 8, expected 12"),
            v -> assertThat(v).contains("SCANOUT for scanout 3 >= max_outputs 1"),
            v -> assertThat(v).contains("GET_EDID for invalid scanout 5"),
            v -> assertThat(v).contains("DMABUF_SCANOUT"),
            v -> assertThat(v).contains("UNKNOWN(99)"));
    }

    @Test
    void qemu7AnswersNoFeaturesAndNeverAnswersGetEdid() throws Exception
    {
        start(QemuDisplayEmulator.builder().protocolFeatures(0));
        send(1, 0);
        assertThat(reply(8).get(ValueLayout.JAVA_LONG_UNALIGNED, 12)).isZero();
        send(11, 0, 0);
        send(3, 0);
        assertThat(reply(408).get(ValueLayout.JAVA_INT, 0)).isEqualTo(3);
        assertThat(qemu.violations()).singleElement().asString().contains("EDID protocol feature was not offered");
    }

    @Test
    void silentNeverRepliesAndPausedReadsNothing() throws Exception
    {
        start(QemuDisplayEmulator.builder().silent(true));
        send(1, 0);
        assertThatThrownBy(() -> reply(8)).isInstanceOfSatisfying(NativeException.class,
            e -> assertThat(e.errno()).isEqualTo(Errno.EAGAIN));
        assertThat(qemu.messages(1)).isEqualTo(1);

        qemu.setSilent(false);
        qemu.pause();
        send(3, 0);
        assertThat(Await.until(() -> qemu.parkedWith(12), Duration.ofSeconds(10)))
            .as("the reader parked with the request unread").isTrue();
        assertThat(qemu.messages(3)).isZero();
        qemu.resume();
        assertThat(reply(408).get(ValueLayout.JAVA_INT, 12)).isEqualTo(0x1101);
    }

    @Test
    void closingShowsTheBackEndEndOfStream() throws Exception
    {
        start(QemuDisplayEmulator.builder());
        qemu.close();
        final MemorySegment m = arena.allocate(12, 8);
        assertThat(backend.receiveFully(m, 0, 12, new FdList())).isFalse();
        backend.close();
        backend = null;
        assertThat(qemu.peerClosed()).isTrue();
    }
}
