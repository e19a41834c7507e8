package io.jvhost.vhostuser.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.FdWatch;
import io.jvhost.device.FdWatcher;
import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.os.Epoll;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.frontend.Await;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The display protocol byte by byte against a hand-driven QEMU end: header flags, every payload layout, the
 * feature handshake, reply matching, timeouts and end of stream.
 */
@Timeout(30)
class DisplayProtocolTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private static final long EDID = 1;
    private static final long DMABUF2 = 2;

    private RawQemu qemu;
    private VhostUserGpuDisplay display;
    private final AtomicInteger goneCalls = new AtomicInteger();
    private final CountDownLatch gone = new CountDownLatch(1);

    @BeforeEach
    void connect() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        qemu = new RawQemu(pair[1]);
        display = VhostUserGpuDisplay.builder(pair[0]).name("test").replyTimeout(Duration.ofMillis(1500))
            .onGone(d ->
            {
                goneCalls.incrementAndGet();
                gone.countDown();
            }).start();
    }

    @AfterEach
    void close()
    {
        display.close();
        qemu.close();
    }

    private static byte[] displayInfo(final int... whe)
    {
        final ByteBuffer b = ByteBuffer.allocate(408).order(ByteOrder.nativeOrder());
        b.putInt(0, 0x1101);
        for (int i = 0; i < whe.length / 3; i++)
        {
            final int o = 24 + 24 * i;
            b.putInt(o, 10 * i);
            b.putInt(o + 4, 20 * i);
            b.putInt(o + 8, whe[3 * i]);
            b.putInt(o + 12, whe[3 * i + 1]);
            b.putInt(o + 16, whe[3 * i + 2]);
        }
        return b.array();
    }

    private static byte[] edidReply(final byte[] edid)
    {
        final ByteBuffer b = ByteBuffer.allocate(1056).order(ByteOrder.nativeOrder());
        b.putInt(0, 0x1104);
        b.putInt(24, edid.length);
        b.put(32, edid);
        return b.array();
    }

    @Test
    void handshakeAsksFirstAndKeepsOnlyEdidWithNoVersionBits() throws Exception
    {
        final RawQemu.Msg get = qemu.read();
        assertThat(get.request()).isEqualTo(1);
        assertThat(get.flags()).as("no version bits").isZero();
        assertThat(get.size()).isZero();
        assertThat(display.protocolFeatures()).isEqualTo(-1);

        qemu.replyU64(1, EDID | DMABUF2 | 0x100);
        final RawQemu.Msg set = qemu.read();
        assertThat(set.request()).isEqualTo(2);
        assertThat(set.flags()).isZero();
        assertThat(set.size()).isEqualTo(8);
        assertThat(set.u64(0)).as("EDID kept, DMABUF2 and unknown bits dropped").isEqualTo(EDID);
        assertThat(display.protocolFeatures()).isEqualTo(EDID);
        assertThat(display.offeredProtocolFeatures()).isEqualTo(EDID | DMABUF2 | 0x100);
    }

    @Test
    void qemu7WithoutEdidFeatureGetsNoGetEdid() throws Exception
    {
        final CompletableFuture<byte[]> early = new CompletableFuture<>();
        assertThat(display.requestEdid(0, early::complete)).as("undecided before the handshake").isTrue();
        assertThat(qemu.handshake(0)).isZero();
        assertThat(early.get(5, TimeUnit.SECONDS)).as("answered without QEMU").isNull();
        assertThat(display.requestEdid(0, e -> { })).as("refused once QEMU offered no EDID").isFalse();

        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        assertThat(display.requestDisplayInfo(info::complete)).isTrue();
        final RawQemu.Msg m = qemu.read();
        assertThat(m.request()).as("no GET_EDID went out").isEqualTo(3);
        qemu.reply(3, displayInfo(800, 600, 1));
        assertThat(info.get(5, TimeUnit.SECONDS)[0]).isEqualTo(new DisplayMode(0, 0, 800, 600, true));
    }

    @Test
    void repliesAreMatchedInOrderAndDecoded() throws Exception
    {
        qemu.handshake(EDID | DMABUF2);
        final List<Object> results = new ArrayList<>();
        final CountDownLatch done = new CountDownLatch(3);
        assertThat(display.requestDisplayInfo(modes ->
        {
            synchronized (results)
            {
                results.add(modes);
            }
            done.countDown();
        })).isTrue();
        assertThat(display.requestEdid(1, e ->
        {
            synchronized (results)
            {
                results.add(e);
            }
            done.countDown();
        })).isTrue();
        assertThat(display.requestDisplayInfo(modes ->
        {
            synchronized (results)
            {
                results.add(modes);
            }
            done.countDown();
        })).isTrue();

        final RawQemu.Msg info1 = qemu.read();
        final RawQemu.Msg edid = qemu.read();
        final RawQemu.Msg marker = qemu.read();
        final RawQemu.Msg info2 = qemu.read();
        assertThat(marker.request()).as("GET_PROTOCOL_FEATURES behind every GET_EDID").isEqualTo(1);
        assertThat(marker.size()).isZero();
        assertThat(info1.request()).isEqualTo(3);
        assertThat(info1.flags()).isZero();
        assertThat(info1.size()).isZero();
        assertThat(edid.request()).isEqualTo(11);
        assertThat(edid.flags()).isZero();
        assertThat(edid.size()).isEqualTo(4);
        assertThat(edid.u32(0)).isEqualTo(1);
        assertThat(info2.request()).isEqualTo(3);

        final byte[] block = new byte[256];
        for (int i = 0; i < block.length; i++)
        {
            block[i] = (byte)(i * 7);
        }
        qemu.reply(3, displayInfo(1024, 768, 1, 640, 480, 0));
        qemu.reply(11, edidReply(block));
        qemu.replyU64(1, EDID | DMABUF2);
        qemu.reply(3, displayInfo(1920, 1080, 1));
        assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();

        final DisplayMode[] first = (DisplayMode[])results.get(0);
        assertThat(first).hasSize(16);
        assertThat(first[0]).isEqualTo(new DisplayMode(0, 0, 1024, 768, true));
        assertThat(first[1]).isEqualTo(new DisplayMode(10, 20, 640, 480, false));
        assertThat(first[2]).isEqualTo(new DisplayMode(0, 0, 0, 0, false));
        assertThat((byte[])results.get(1)).isEqualTo(block);
        assertThat(((DisplayMode[])results.get(2))[0].width()).isEqualTo(1920);
    }

    @Test
    void aGetEdidQemuDropsCompletesWithNullAtOnceAndDoesNotTakeTheNextReply() throws Exception
    {
        qemu.handshake(EDID);
        final CompletableFuture<byte[]> dropped = new CompletableFuture<>();
        final CompletableFuture<byte[]> answered = new CompletableFuture<>();
        assertThat(display.requestEdid(5, dropped::complete)).isTrue();
        assertThat(display.requestEdid(0, answered::complete)).isTrue();
        final long start = System.nanoTime();
        assertThat(qemu.read().u32(0)).isEqualTo(5);
        assertThat(qemu.read().request()).isEqualTo(1);
        assertThat(qemu.read().u32(0)).isZero();
        assertThat(qemu.read().request()).isEqualTo(1);
        // QEMU: "invalid scanout: 5", no reply; then it answers the rest in order.
        qemu.replyU64(1, EDID);
        final byte[] block = new byte[128];
        block[0] = 42;
        qemu.reply(11, edidReply(block));
        qemu.replyU64(1, EDID);
        assertThat(dropped.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(answered.get(5, TimeUnit.SECONDS)).isEqualTo(block);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("without waiting for the timeout")
            .isLessThan(Duration.ofMillis(1000));
        assertThat(display.protocolFeatures()).isEqualTo(EDID);
    }

    @Test
    void invalidScanoutsAreRefusedWithoutSending() throws Exception
    {
        qemu.handshake(EDID);
        assertThat(display.requestEdid(16, e -> { })).isFalse();
        assertThat(display.requestEdid(-1, e -> { })).isFalse();
        display.setScanout(16, 10, 10);
        display.setScanout(0, -1, 10);
        display.moveCursor(99, 1, 1, true);
        assertThat(display.requestDisplayInfo(m -> { })).isTrue();
        assertThat(qemu.read().request()).as("nothing before the next request").isEqualTo(3);
    }

    @Test
    void scanoutAndUpdateLayouts() throws Exception
    {
        qemu.handshake(EDID);
        display.setScanout(2, 4, 3);
        final RawQemu.Msg scanout = qemu.read();
        assertThat(scanout.request()).isEqualTo(7);
        assertThat(scanout.flags()).isZero();
        assertThat(scanout.size()).isEqualTo(12);
        assertThat(new int[] {scanout.u32(0), scanout.u32(4), scanout.u32(8)}).containsExactly(2, 4, 3);

        try (Arena arena = Arena.ofConfined())
        {
            // A 2x2 rectangle at (1, 1) in a source with a 16-byte stride and 8 bytes of leading junk.
            final MemorySegment src = arena.allocate(8 + 16 * 2);
            src.fill((byte)0x55);
            for (int row = 0; row < 2; row++)
            {
                for (int col = 0; col < 2; col++)
                {
                    final int v = 0xFF000000 | (row + 1) << 16 | (col + 1) << 8 | 0x42;
                    src.set(ValueLayout.JAVA_INT_UNALIGNED, 8 + row * 16 + col * 4L, v);
                }
            }
            display.updateScanout(2, 1, 1, 2, 2, src, 8, 16, PixelFormat.B8G8R8X8);
        }
        final RawQemu.Msg update = qemu.read();
        assertThat(update.request()).isEqualTo(8);
        assertThat(update.flags()).isZero();
        assertThat(update.size()).isEqualTo(20 + 2 * 2 * 4);
        assertThat(new int[] {update.u32(0), update.u32(4), update.u32(8), update.u32(12), update.u32(16)})
            .containsExactly(2, 1, 1, 2, 2);
        assertThat(update.u32(20) & 0xFFFFFF).isEqualTo(0x010142);
        assertThat(update.u32(24) & 0xFFFFFF).isEqualTo(0x010242);
        assertThat(update.u32(28) & 0xFFFFFF).isEqualTo(0x020142);
        assertThat(update.u32(32) & 0xFFFFFF).isEqualTo(0x020242);

        display.setScanout(2, 0, 0);
        final RawQemu.Msg disable = qemu.read();
        assertThat(disable.request()).isEqualTo(7);
        assertThat(new int[] {disable.u32(0), disable.u32(4), disable.u32(8)}).containsExactly(2, 0, 0);
    }

    @Test
    void updatesClipToTheScanoutAndAreDroppedWithoutOne() throws Exception
    {
        qemu.handshake(0);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment src = arena.allocate(4L * 8 * 8);
            display.updateScanout(0, 0, 0, 8, 8, src, 0, 32, PixelFormat.B8G8R8X8);
            assertThat(display.droppedUpdates()).isEqualTo(1);
            display.setScanout(0, 4, 4);
            display.updateScanout(0, 2, 3, 8, 8, src, 0, 32, PixelFormat.B8G8R8X8);
        }
        assertThat(qemu.read().request()).isEqualTo(7);
        final RawQemu.Msg update = qemu.read();
        assertThat(new int[] {update.u32(4), update.u32(8), update.u32(12), update.u32(16)})
            .as("clipped to the 4x4 scanout").containsExactly(2, 3, 2, 1);
        assertThat(update.size()).isEqualTo(20 + 2 * 4);
    }

    @Test
    void cursorLayouts() throws Exception
    {
        qemu.handshake(EDID);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment image = arena.allocate(64 * 64 * 4);
            for (int i = 0; i < 64 * 64; i++)
            {
                image.set(ValueLayout.JAVA_INT, 4L * i, 0x80000000 | i);
            }
            display.defineCursor(1, 100, 200, 3, 4, image);
        }
        final RawQemu.Msg update = qemu.read();
        assertThat(update.request()).isEqualTo(6);
        assertThat(update.flags()).isZero();
        assertThat(update.size()).isEqualTo(16404);
        assertThat(new int[] {update.u32(0), update.u32(4), update.u32(8), update.u32(12), update.u32(16)})
            .containsExactly(1, 100, 200, 3, 4);
        assertThat(update.u32(20)).isEqualTo(0x80000000);
        assertThat(update.u32(20 + 4 * 4095)).isEqualTo(0x80000000 | 4095);

        display.moveCursor(1, 7, 8, true);
        final RawQemu.Msg pos = qemu.read();
        assertThat(pos.request()).isEqualTo(4);
        assertThat(pos.flags()).isZero();
        assertThat(pos.size()).isEqualTo(12);
        assertThat(new int[] {pos.u32(0), pos.u32(4), pos.u32(8)}).containsExactly(1, 7, 8);

        display.moveCursor(1, 9, 10, false);
        final RawQemu.Msg hide = qemu.read();
        assertThat(hide.request()).isEqualTo(5);
        assertThat(hide.size()).isEqualTo(12);
        assertThat(new int[] {hide.u32(0), hide.u32(4), hide.u32(8)}).containsExactly(1, 9, 10);
    }

    @Test
    void endOfStreamCompletesPendingWithNullAndTellsTheListenerOnce() throws Exception
    {
        qemu.handshake(EDID);
        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        final CompletableFuture<byte[]> edid = new CompletableFuture<>();
        display.requestDisplayInfo(info::complete);
        display.requestEdid(0, edid::complete);
        assertThat(qemu.read().request()).isEqualTo(3);
        qemu.close();

        assertThat(info.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(edid.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(gone.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(display.isGone()).isTrue();
        assertThat(display.requestDisplayInfo(m -> { })).isFalse();
        display.setScanout(0, 10, 10);
        display.close();
        assertThat(goneCalls).as("once, also after close joined every thread that could call it").hasValue(1);
    }

    @Test
    void anErrorInAReplyCallbackEndsTheDisplayWithOneLineAndKillsNoThread() throws Exception
    {
        final List<String> deaths = new ArrayList<>();
        final List<String> lines = new ArrayList<>();
        final Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) ->
        {
            synchronized (deaths)
            {
                deaths.add(t.getName() + ": " + e);
            }
        });
        final Logger logger = Logger.getLogger(VhostUserGpuDisplay.class.getName());
        final Handler handler = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                if (record.getLevel().intValue() >= Level.WARNING.intValue())
                {
                    synchronized (lines)
                    {
                        lines.add(record.getLevel() + " " + record.getMessage()
                            + (null == record.getThrown() ? "" : " [with a stack trace]"));
                    }
                }
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        logger.addHandler(handler);
        try
        {
            qemu.handshake(EDID);
            display.requestDisplayInfo(modes ->
            {
                throw new StackOverflowError("injected in the callback");
            });
            assertThat(qemu.read().request()).isEqualTo(3);
            qemu.reply(3, displayInfo(1024, 768, 1));

            assertThat(gone.await(5, TimeUnit.SECONDS)).as("the display ends").isTrue();
            assertThat(display.isGone()).isTrue();
            synchronized (lines)
            {
                assertThat(lines).singleElement().asString().startsWith("SEVERE test: display reader failed:"
                    + " java.lang.StackOverflowError: injected in the callback (at io.jvhost.")
                    .doesNotContain("[with a stack trace]");
            }
            synchronized (deaths)
            {
                assertThat(deaths).isEmpty();
            }
        }
        finally
        {
            logger.removeHandler(handler);
            Thread.setDefaultUncaughtExceptionHandler(previous);
        }
    }

    @Test
    void closeCompletesPendingWithNullWithoutCallingTheListener() throws Exception
    {
        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        display.requestDisplayInfo(info::complete);
        display.close();
        assertThat(info.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(qemu.readUntil(-1)).as("QEMU sees end of stream").isNull();
        // close() returned after joining the display's threads: none of them can call the listener any more.
        assertThat(goneCalls).hasValue(0);
    }

    /**
     * Stands in for a GPU worker ({@link io.jvhost.device.DeviceContext#watch}): one thread waiting in epoll that runs
     * the callback, under a lock that {@link FdWatch#close()} takes too.
     */
    private static final class TestWorker implements FdWatcher, AutoCloseable
    {
        final Epoll epoll;
        final AtomicInteger closes = new AtomicInteger();
        /** Callbacks run to the end: the display has read what was readable then. */
        final AtomicInteger runs = new AtomicInteger();
        final Thread thread;
        private Runnable callback;
        private volatile boolean running = true;

        TestWorker() throws NativeException
        {
            epoll = Epoll.create(4);
            thread = Thread.ofPlatform().daemon(true).name("test-worker").start(this::loop);
        }

        private void loop()
        {
            try
            {
                while (running)
                {
                    final int n = epoll.await(50);
                    for (int i = 0; i < n; i++)
                    {
                        synchronized (this)
                        {
                            if (null != callback)
                            {
                                callback.run();
                                runs.incrementAndGet();
                            }
                        }
                    }
                }
            }
            catch (final NativeException e)
            {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public synchronized FdWatch watch(final int fd, final Runnable onReadable)
        {
            callback = onReadable;
            try
            {
                epoll.add(fd, LibC.EPOLLIN, 1);
            }
            catch (final NativeException e)
            {
                throw new IllegalStateException(e);
            }
            return () ->
            {
                synchronized (this)
                {
                    if (null != callback)
                    {
                        closes.incrementAndGet();
                        callback = null;
                        epoll.remove(fd);
                    }
                }
            };
        }

        @Override
        public void close() throws InterruptedException
        {
            running = false;
            thread.join(5000);
            epoll.close();
        }
    }

    @Test
    void repliesAreReadOnTheOfferedWorkerInPiecesAndOnTheReaderAgainWhenTheOfferIsTakenBack() throws Exception
    {
        qemu.handshake(EDID);
        try (TestWorker worker = new TestWorker())
        {
            display.readRepliesOn(worker);
            assertThat(display.repliesReadByWorker()).isTrue();
            final CompletableFuture<Thread> first = new CompletableFuture<>();
            final CompletableFuture<DisplayMode[]> modes = new CompletableFuture<>();
            display.requestDisplayInfo(m ->
            {
                first.complete(Thread.currentThread());
                modes.complete(m);
            });
            assertThat(qemu.read().request()).isEqualTo(3);
            // The reply arrives in three pieces: the worker keeps what it has and reads on when more comes.
            final byte[] payload = displayInfo(640, 480, 1);
            final ByteBuffer whole = ByteBuffer.allocate(12 + payload.length).order(ByteOrder.nativeOrder())
                .putInt(3).putInt(0x4).putInt(payload.length).put(payload);
            try (Arena a = Arena.ofConfined())
            {
                final MemorySegment bytes = a.allocate(whole.capacity());
                MemorySegment.copy(whole.array(), 0, bytes, ValueLayout.JAVA_BYTE, 0, whole.capacity());
                final int before = worker.runs.get();
                qemu.socket().send(bytes, 0, 7, null, 0);
                assertThat(Await.until(() -> worker.runs.get() > before, WAIT)).as("the worker read piece 1").isTrue();
                final int afterFirst = worker.runs.get();
                qemu.socket().send(bytes, 7, 100, null, 0);
                assertThat(Await.until(() -> worker.runs.get() > afterFirst, WAIT)).as("the worker read piece 2")
                    .isTrue();
                assertThat(first).isNotDone();
                qemu.socket().send(bytes, 107, whole.capacity() - 107, null, 0);
            }
            assertThat(first.get(5, TimeUnit.SECONDS)).as("completed on the worker").isSameAs(worker.thread);
            assertThat(modes.get()[0].width()).isEqualTo(640);

            display.readRepliesOn(null);
            assertThat(worker.closes).hasValue(1);
            assertThat(display.repliesReadByWorker()).isFalse();
            final CompletableFuture<Thread> second = new CompletableFuture<>();
            display.requestDisplayInfo(m -> second.complete(Thread.currentThread()));
            assertThat(qemu.read().request()).isEqualTo(3);
            qemu.reply(3, displayInfo(800, 600, 1));
            assertThat(second.get(5, TimeUnit.SECONDS).getName()).isEqualTo("test-display-reader");

            // Offered again, then QEMU hangs up: a hung-up socket stays readable, so the display ends the watch.
            display.readRepliesOn(worker);
            qemu.close();
            assertThat(gone.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(worker.closes).hasValue(2);
            assertThat(display.repliesReadByWorker()).isFalse();
        }
    }

    @Test
    void anOversizedReplyEndsTheDisplayWhoeverReads() throws Exception
    {
        qemu.handshake(EDID);
        try (TestWorker worker = new TestWorker())
        {
            display.readRepliesOn(worker);
            final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
            display.requestDisplayInfo(info::complete);
            assertThat(qemu.read().request()).isEqualTo(3);
            qemu.reply(3, new byte[64 * 1024]);
            assertThat(gone.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(info.get(5, TimeUnit.SECONDS)).isNull();
            assertThat(worker.closes).hasValue(1);
        }
    }

    @Test
    void unansweredRequestsTimeOutAndLateRepliesStayInLine() throws Exception
    {
        qemu.handshake(EDID);
        final CompletableFuture<DisplayMode[]> first = new CompletableFuture<>();
        final long start = System.nanoTime();
        display.requestDisplayInfo(first::complete);
        assertThat(qemu.read().request()).isEqualTo(3);
        assertThat(first.get(5, TimeUnit.SECONDS)).isNull();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1000),
            Duration.ofMillis(4000));

        final CompletableFuture<DisplayMode[]> second = new CompletableFuture<>();
        display.requestDisplayInfo(second::complete);
        assertThat(qemu.read().request()).isEqualTo(3);
        // The late reply to the first request must not be taken for the second's.
        qemu.reply(3, displayInfo(111, 111, 1));
        qemu.reply(3, displayInfo(222, 222, 1));
        assertThat(second.get(5, TimeUnit.SECONDS)[0].width()).isEqualTo(222);
    }

    @Test
    void silentQemuHandshakeTimesOutToNoFeatures() throws Exception
    {
        assertThat(qemu.read().request()).isEqualTo(1);
        final CompletableFuture<byte[]> edid = new CompletableFuture<>();
        display.requestEdid(0, edid::complete);
        assertThat(edid.get(5, TimeUnit.SECONDS)).isNull();
        final RawQemu.Msg set = qemu.read();
        assertThat(set.request()).isEqualTo(2);
        assertThat(set.u64(0)).isZero();
        assertThat(display.protocolFeatures()).isZero();
        // A late answer changes nothing.
        qemu.replyU64(1, EDID);
        assertThat(display.requestDisplayInfo(m -> { })).isTrue();
        assertThat(qemu.read().request()).isEqualTo(3);
        assertThat(display.protocolFeatures()).isZero();
    }

    @Test
    void unsolicitedAndMalformedRepliesAreSurvived() throws Exception
    {
        qemu.handshake(EDID);
        qemu.reply(11, edidReply(new byte[128]));
        qemu.send(4, 0, new byte[12]);
        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        display.requestDisplayInfo(info::complete);
        assertThat(qemu.read().request()).isEqualTo(3);
        qemu.reply(3, new byte[100]);
        assertThat(info.get(5, TimeUnit.SECONDS)).as("bad size decodes to null").isNull();

        final CompletableFuture<DisplayMode[]> next = new CompletableFuture<>();
        display.requestDisplayInfo(next::complete);
        assertThat(qemu.read().request()).isEqualTo(3);
        qemu.reply(3, displayInfo(5, 6, 1));
        assertThat(next.get(5, TimeUnit.SECONDS)[0].height()).isEqualTo(6);
        assertThat(display.isGone()).isFalse();
    }

    @Test
    void tooLargeAReplyDropsTheSocket() throws Exception
    {
        qemu.handshake(EDID);
        qemu.reply(3, new byte[8192]);
        assertThat(gone.await(5, TimeUnit.SECONDS)).isTrue();
    }
}
