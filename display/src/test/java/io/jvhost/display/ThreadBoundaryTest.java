package io.jvhost.display;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;

import io.jvhost.device.input.InputSink;
import io.jvhost.display.http.HttpServer;
import io.jvhost.display.rfb.InputForwarder;
import io.jvhost.display.rfb.RfbConfig;
import io.jvhost.display.rfb.RfbSession;
import io.jvhost.display.rfb.RfbTransport;
import io.jvhost.display.rfb.SocketTransport;
import io.jvhost.os.LogRecorder;
import io.jvhost.os.ThreadTop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every thread the display starts catches whatever ends it, an Error included, with one log line naming the peer: the
 * accept thread goes on accepting, and an Error in one viewer's reader, writer or HTTP thread ends that viewer only.
 * No thread dies through the default handler (the "Exception in thread" stack trace).
 */
@Timeout(60)
class ThreadBoundaryTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** X keysym 'x', which the key map turns into evdev KEY_X. */
    private static final int KEYSYM_X = 'x';
    private static final int KEY_X = 45;

    /** What a broken viewer thread meets (a stand-in for OutOfMemoryError, StackOverflowError, ...). */
    static final class InjectedError extends Error
    {
        InjectedError(final String message)
        {
            super(message);
        }
    }

    /**
     * An input device that fails with an Error on KEY_X, as a fault deep in a viewer's reader thread would.
     */
    private static final class FailingInput implements InputSink
    {
        final RecordingInput recorded = new RecordingInput();

        @Override
        public void event(final int type, final int code, final int value)
        {
            if (type == EV_KEY && code == KEY_X)
            {
                throw new InjectedError("input failed on KEY_X");
            }
            recorded.event(type, code, value);
        }
    }

    @Test
    void theAcceptThreadOutlivesAnErrorWhileHandingOverAClient() throws Exception
    {
        final AtomicInteger accepted = new AtomicInteger();
        final CountDownLatch second = new CountDownLatch(1);
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(TcpAcceptor.class);
             TcpAcceptor acceptor = new TcpAcceptor("boundary", "TEST", new InetSocketAddress("127.0.0.1", 0), 4,
                 socket ->
                 {
                     if (accepted.incrementAndGet() == 1)
                     {
                         throw new InjectedError("hand-over failed");
                     }
                     second.countDown();
                 });
             Socket first = new Socket())
        {
            first.connect(acceptor.address(), 5000);
            first.setSoTimeout(10_000);
            assertThat(first.getInputStream().read()).as("the failed client is closed").isEqualTo(-1);
            try (Socket next = new Socket())
            {
                next.connect(acceptor.address(), 5000);
                assertThat(second.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the next client is accepted").isTrue();
            }
            final LogRecorder.Entry line = log.await(WAIT, Level.SEVERE, "client /127.0.0.1:" + first.getLocalPort(),
                "InjectedError: hand-over failed");
            assertThat(line.thrown()).isNull();
            assertThat(uncaught.deaths()).isEmpty();
        }
    }

    @Test
    void anErrorInOneVncViewersThreadEndsThatViewerOnly() throws Exception
    {
        final FailingInput input = new FailingInput();
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(ThreadTop.class);
             DisplayServer server = DisplayServer.builder().name("boundary").vnc(new InetSocketAddress("127.0.0.1", 0))
                 .input(input).start())
        {
            final InetSocketAddress vnc = server.vncAddresses().getFirst();
            RfbServerTest.show(server, 0, 32, 24, Pictures.noise(32, 24, 1));
            try (RfbTestClient good = RfbTestClient.connect(vnc).handshake();
                 Socket badSocket = new Socket())
            {
                badSocket.connect(vnc, 5000);
                badSocket.setSoTimeout(10_000);
                final RfbTestClient bad = new RfbTestClient(badSocket.getInputStream(), badSocket.getOutputStream(),
                    badSocket).handshake();
                bad.key(true, KEYSYM_X);
                assertThat(bad.closedByServer()).isTrue();
                final LogRecorder.Entry line = log.await(WAIT, Level.SEVERE,
                    "VNC client /127.0.0.1:" + badSocket.getLocalPort(), "InjectedError: input failed on KEY_X");
                assertThat(line.thrown()).isNull();

                assertStillServed(server, good);
                try (RfbTestClient later = RfbTestClient.connect(vnc).handshake())
                {
                    later.key(true, 'a');
                    input.recorded.await(2, WAIT);
                }
            }
            assertThat(uncaught.deaths()).isEmpty();
        }
    }

    @Test
    void anErrorInOneWebViewersThreadEndsThatViewerOnly() throws Exception
    {
        final FailingInput input = new FailingInput();
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(HttpServer.class);
             DisplayServer server = DisplayServer.builder().name("boundary").web(new InetSocketAddress("127.0.0.1", 0))
                 .input(input).start())
        {
            final InetSocketAddress web = server.webAddresses().getFirst();
            RfbServerTest.show(server, 0, 32, 24, Pictures.noise(32, 24, 2));
            try (WsTestClient goodWs = WsTestClient.open(web, "/websockify", "");
                 WsTestClient badWs = WsTestClient.open(web, "/websockify", ""))
            {
                final RfbTestClient good = goodWs.rfb().handshake();
                final RfbTestClient bad = badWs.rfb().handshake();
                bad.key(true, KEYSYM_X);
                assertThat(badWs.eof()).isTrue();
                final LogRecorder.Entry line = log.await(WAIT, Level.SEVERE, "/websockify from /127.0.0.1:"
                    + badWs.socket.getLocalPort(), "InjectedError: input failed on KEY_X");
                assertThat(line.thrown()).isNull();

                assertStillServed(server, good);
                assertThat(WsTestClient.get(web, "127.0.0.1:" + web.getPort(), "/", "").statusLine)
                    .isEqualTo("HTTP/1.1 200 OK");
            }
            assertThat(uncaught.deaths()).isEmpty();
        }
    }

    @Test
    void anErrorInAViewersWriterThreadEndsThatViewerOnly() throws Exception
    {
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(ThreadTop.class);
             DisplayServer display = DisplayServer.builder().name("boundary").start();
             ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket client = new Socket())
        {
            RfbServerTest.show(display, 0, 32, 24, Pictures.noise(32, 24, 3));
            client.connect(listener.getLocalSocketAddress(), 5000);
            client.setSoTimeout(10_000);
            final Socket accepted = listener.accept();
            final FailingTransport transport = new FailingTransport(accepted);
            final RfbSession session = new RfbSession("writer-test", transport, display.framebuffer(0),
                new RfbConfig("boundary", null, new InputForwarder(null), new Random(1), 10_000, 0));
            final Thread reader = Thread.ofPlatform().name("test-reader").start(session::run);

            final RfbTestClient viewer = new RfbTestClient(client.getInputStream(), client.getOutputStream(), client)
                .handshake();
            transport.failWrites.set(true);
            viewer.requestUpdate(false);
            assertThat(viewer.closedByServer()).isTrue();
            final LogRecorder.Entry line = log.await(WAIT, Level.SEVERE, "writer-test writer",
                "InjectedError: write failed");
            assertThat(line.thrown()).isNull();
            reader.join(WAIT.toMillis());
            assertThat(reader.isAlive()).as("the session ended").isFalse();
            assertThat(session.isClosed()).isTrue();
            assertThat(uncaught.deaths()).isEmpty();
        }
    }

    @Test
    void anErrorInAnHttpHandlerIsA500AndTheServerGoesOn() throws Exception
    {
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(HttpServer.class);
             HttpServer http = new HttpServer("boundary", new InetSocketAddress("127.0.0.1", 0), (request, exchange) ->
             {
                 if ("/boom".equals(request.path()))
                 {
                     throw new InjectedError("handler failed");
                 }
                 exchange.respond(200, "fine");
             }))
        {
            final WsTestClient boom = WsTestClient.get(http.address(), "x", "/boom", "");
            assertThat(boom.statusLine).isEqualTo("HTTP/1.1 500 Internal Server Error");
            assertThat(boom.eof()).isTrue();
            boom.close();
            assertThat(log.matching(Level.SEVERE, "GET /boom from /127.0.0.1:" + boom.socket.getLocalPort(),
                "InjectedError: handler failed")).hasSize(1).allSatisfy(e -> assertThat(e.thrown()).isNull());
            assertThat(WsTestClient.get(http.address(), "x", "/fine", "").statusLine).isEqualTo("HTTP/1.1 200 OK");
            assertThat(uncaught.deaths()).isEmpty();
        }
    }

    /**
     * The other viewer still gets the next picture.
     */
    private static void assertStillServed(final DisplayServer server, final RfbTestClient viewer) throws IOException
    {
        viewer.setEncodings(0);
        viewer.requestUpdate(false);
        viewer.readUpdate();
        final int[] next = Pictures.noise(32, 24, 9);
        RfbServerTest.paint(server, 0, 0, 0, 32, 24, next);
        viewer.requestUpdate(true);
        while (!java.util.Arrays.equals(viewer.pixels, next))
        {
            viewer.readUpdate();
            viewer.requestUpdate(true);
        }
        assertThat(viewer.pixels).isEqualTo(next);
    }

    /**
     * RFB over a socket whose writes fail with an Error once {@link #failWrites} is set (after the handshake: then
     * only the writer thread writes).
     */
    private static final class FailingTransport implements RfbTransport
    {
        final AtomicBoolean failWrites = new AtomicBoolean();
        private final SocketTransport socket;

        FailingTransport(final Socket accepted)
        {
            this.socket = new SocketTransport(accepted, "test");
        }

        @Override
        public InputStream input() throws IOException
        {
            return socket.input();
        }

        @Override
        public OutputStream output() throws IOException
        {
            return new FilterOutputStream(socket.output())
            {
                @Override
                public void write(final byte[] b, final int off, final int len) throws IOException
                {
                    if (failWrites.get())
                    {
                        throw new InjectedError("write failed");
                    }
                    out.write(b, off, len);
                }
            };
        }

        @Override
        public void readTimeout(final int millis) throws IOException
        {
            socket.readTimeout(millis);
        }

        @Override
        public String peer()
        {
            return socket.peer();
        }

        @Override
        public void close()
        {
            socket.close();
        }
    }
}
