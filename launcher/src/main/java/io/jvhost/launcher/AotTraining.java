package io.jvhost.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

/**
 * The training run behind {@code launcher/target/jvhost.aot}, the JVM's ahead-of-time cache (JDK 25: classes loaded
 * and linked, method handles resolved and profiles gathered during this run are mapped ready-made at the next
 * start). The build runs it as {@code java -XX:AOTCacheOutput=… -cp jvhost.jar io.jvhost.launcher.AotTraining};
 * {@code ./jvhost} and the benchmarks start back-ends with {@code -XX:AOTCache=…}, which takes a back-end to its
 * first answered message in about two thirds of the time.
 * <p>
 * It does what a back-end does from its start to its first answers: for the GPU and the rng back-end it parses the
 * command line, starts the daemon on a socket in a temporary directory, connects as a front-end and goes through
 * the first messages QEMU sends (features, protocol features, queue count, owner). Then it plays sound through the
 * device on in-process rings ({@link SoundTraining}): a device that serves ten periods a second would otherwise run
 * its data path interpreted for the first tens of seconds of every playback, and with the cached profiles the JIT
 * compiles those methods at their first check (128 calls) instead of after 256. Then it exits. The JVM options
 * must be those the back-ends run with ({@code --enable-native-access=ALL-UNNAMED @launcher/jvm.options}): the
 * cache is refused when they differ.
 */
public final class AotTraining
{
    private static final long TIMEOUT_MS = 60_000;
    /**
     * Sound periods the training plays: past C2's thresholds (5,000 calls) for the path's methods, so the cache holds
     * their final profiles; a few hundred milliseconds.
     */
    static final int SOUND_PERIODS = 20_000;

    private AotTraining()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Thread watchdog = Thread.ofPlatform().daemon().name("aot-training-watchdog").start(() ->
        {
            try
            {
                Thread.sleep(TIMEOUT_MS);
                System.err.println("aot-training: no result within " + TIMEOUT_MS + " ms");
                Runtime.getRuntime().halt(1);
            }
            catch (final InterruptedException e)
            {
                // Finished in time.
            }
        });
        Logging.configure();
        final Path dir = Files.createTempDirectory("jvhost-aot");
        try
        {
            train(dir, "gpu", 2);
            train(dir, "rng", 1);
            final SoundTraining.Result sound = new SoundTraining().play(SOUND_PERIODS);
            System.out.println("aot-training: sound played " + sound.completed() + " periods");
        }
        finally
        {
            deleteTree(dir);
        }
        watchdog.interrupt();
        System.out.println("aot-training: done");
        // Exiting runs the daemons' shutdown hooks; the JVM then writes the cache.
        System.exit(0);
    }

    /**
     * Starts {@code jvhost <device> --socket-path …} in this JVM and plays the first part of QEMU's start-up against
     * it.
     */
    private static void train(final Path dir, final String device, final int queues) throws Exception
    {
        final Path socket = dir.resolve(device + ".sock");
        final String[] args = {device, "--socket-path", socket.toString()};
        Thread.ofPlatform().daemon().name("aot-training-" + device)
            .start(ThreadTop.guarded("aot-training-" + device, () -> Main.commandLine(args).execute(args)));
        // rng listens on PATH0 (vhost-device-rng's naming), the GPU on the path itself.
        final Path listening = awaitSocket(socket, socket.resolveSibling(socket.getFileName() + "0"));
        try (VhostUserConnection connection = new VhostUserConnection(connect(listening), true))
        {
            final Message msg = new Message(256);
            final long features = ask(connection, msg, FrontendRequest.GET_FEATURES);
            final long protocol = ask(connection, msg, FrontendRequest.GET_PROTOCOL_FEATURES);
            msg.header(FrontendRequest.SET_PROTOCOL_FEATURES, MessageHeader.VERSION, 8)
                .u64(0, protocol & ProtocolFeature.bit(ProtocolFeature.MQ));
            connection.send(msg);
            final long count = ask(connection, msg, FrontendRequest.GET_QUEUE_NUM);
            if (count != queues)
            {
                throw new IllegalStateException(device + " reported " + count + " queues, expected " + queues);
            }
            msg.header(FrontendRequest.SET_OWNER, MessageHeader.VERSION, 0);
            connection.send(msg);
            if (features == 0)
            {
                throw new IllegalStateException(device + " offered no features");
            }
        }
    }

    private static long ask(final VhostUserConnection connection, final Message msg, final int request)
        throws IOException
    {
        msg.header(request, MessageHeader.VERSION, 0);
        connection.send(msg);
        if (!connection.receive(msg) || msg.request() != request || msg.size() != 8)
        {
            throw new IOException("no proper reply to " + FrontendRequest.name(request));
        }
        return msg.u64(0);
    }

    /**
     * Connects to a socket whose file exists: the daemon binds (creating the file) before it listens, so a connect in
     * between is refused; it is tried again for up to 10 s.
     */
    private static UnixSocket connect(final Path socket) throws Exception
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (true)
        {
            try
            {
                return UnixSocket.connect(socket);
            }
            catch (final io.jvhost.os.NativeException e)
            {
                if (e.errno() != io.jvhost.os.Errno.ECONNREFUSED || System.nanoTime() - deadline > 0)
                {
                    throw e;
                }
                Thread.sleep(5);
            }
        }
    }

    private static Path awaitSocket(final Path... candidates) throws InterruptedException
    {
        while (true)
        {
            for (final Path p : candidates)
            {
                if (Files.exists(p))
                {
                    return p;
                }
            }
            Thread.sleep(5);
        }
    }

    private static void deleteTree(final Path dir) throws IOException
    {
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path p : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(p);
            }
        }
    }
}
