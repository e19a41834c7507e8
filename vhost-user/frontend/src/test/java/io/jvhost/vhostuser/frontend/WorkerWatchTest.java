package io.jvhost.vhostuser.frontend;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.VirtioDevice;
import io.jvhost.os.EventFd;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * {@link DeviceContext#watch}: a device completes requests from host input that its queue's worker reads itself.
 */
@Timeout(60)
class WorkerWatchTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(1, 16)
        .driverFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));

    @TempDir
    Path dir;

    /**
     * Requests wait for credits; the host grants them by writing to an eventfd that the device watches on the worker
     * of its queue.
     */
    static final class CreditDevice implements VirtioDevice
    {
        final EventFd input;
        final AtomicLong credits = new AtomicLong();
        final AtomicLong callbacks = new AtomicLong();
        volatile FdWatch watch;
        volatile Thread callbackThread;
        volatile Thread queueThread;

        CreditDevice() throws NativeException
        {
            input = EventFd.create();
        }

        @Override
        public void attach(final DeviceContext context)
        {
            watch = context.watch(0, input.fd(), () ->
            {
                callbackThread = Thread.currentThread();
                callbacks.incrementAndGet();
                credits.addAndGet(input.drain());
            });
        }

        @Override
        public int deviceType()
        {
            return 0xC7;
        }

        @Override
        public String name()
        {
            return "credit";
        }

        @Override
        public int queueCount()
        {
            return 1;
        }

        @Override
        public int maxQueueSize()
        {
            return 64;
        }

        @Override
        public long features()
        {
            return VirtioFeatures.bit(VirtioFeatures.VERSION_1);
        }

        @Override
        public void processQueue(final DeviceQueue queue)
        {
            queueThread = Thread.currentThread();
            DescriptorChain chain;
            while (credits.get() > 0 && null != (chain = queue.next()))
            {
                credits.decrementAndGet();
                queue.complete(chain, 0);
            }
        }
    }

    @Test
    void hostInputWatchedOnTheQueueWorkerCompletesRequestsThereUntilTheWatchIsClosed() throws Exception
    {
        final OpenFds baseline = OpenFds.snapshot();
        final CreditDevice device = new CreditDevice();
        try (ServedDevice served = ServedDevice.serve("credit", device, dir.resolve("credit.sock")))
        {
            served.drive(1 << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                assertThat(device.watch).as("the transport watches descriptors").isNotNull();
                final FrontendQueue q = session.queue(0);
                final long buffer = ram.allocate(64, 8);
                for (int i = 0; i < 3; i++)
                {
                    q.add(new long[] {buffer}, new int[] {64}, 0, 1);
                }
                q.publishAndKick();
                assertThat(q.awaitUsed(Duration.ofMillis(200))).as("no credit, no completion").isZero();

                device.input.signal();
                device.input.signal();
                int used = 0;
                final long end = System.nanoTime() + WAIT.toNanos();
                while (used < 2 && System.nanoTime() < end)
                {
                    used += q.awaitUsed(WAIT);
                }
                assertThat(used).as("two credits, two completions, without a kick").isEqualTo(2);
                assertThat(device.callbackThread).as("the callback ran on the queue's worker")
                    .isSameAs(device.queueThread);
                assertThat(device.callbackThread.getName()).startsWith("credit");

                device.watch.close();
                final long callbacks = device.callbacks.get();
                device.input.signal();
                assertThat(q.awaitUsed(Duration.ofMillis(300))).as("a closed watch is not read").isZero();
                assertThat(device.callbacks.get()).isEqualTo(callbacks);
                device.watch.close();
            });
        }
        finally
        {
            device.input.close();
        }
        OpenFds.awaitBaseline(baseline);
    }
    /**
     * One queue whose chains are completed at once, and a watch on {@code fd} whose callback is the test's.
     */
    static final class WatchingDevice implements VirtioDevice
    {
        final int fd;
        final Runnable callback;
        final AtomicLong callbacks = new AtomicLong();
        volatile FdWatch watch;

        WatchingDevice(final int fd, final Runnable callback)
        {
            this.fd = fd;
            this.callback = callback;
        }

        @Override
        public void attach(final DeviceContext context)
        {
            watch = context.watch(0, fd, () ->
            {
                callbacks.incrementAndGet();
                callback.run();
            });
        }

        @Override
        public int deviceType()
        {
            return 0xC8;
        }

        @Override
        public String name()
        {
            return "watching";
        }

        @Override
        public int queueCount()
        {
            return 1;
        }

        @Override
        public int maxQueueSize()
        {
            return 64;
        }

        @Override
        public long features()
        {
            return VirtioFeatures.bit(VirtioFeatures.VERSION_1);
        }

        @Override
        public void processQueue(final DeviceQueue queue)
        {
            DescriptorChain chain;
            while (null != (chain = queue.next()))
            {
                queue.complete(chain, 0);
            }
        }
    }

    private static void serveOne(final GuestRam ram, final FrontendQueue q) throws Exception
    {
        q.add(new long[] {ram.allocate(64, 8)}, new int[] {64}, 0, 1);
        q.publishAndKick();
        assertThat(q.awaitUsed(WAIT)).as("a request is still served").isEqualTo(1);
    }

    @Test
    void watchedDescriptorThatHangsUpGetsABoundedNumberOfCallbacksAndNeverSpinsTheWorker() throws Exception
    {
        // A device that never notices its descriptor ended (it reads nothing and keeps its watch open).
        final UnixSocket[] pair = UnixSocket.pair();
        final WatchingDevice device = new WatchingDevice(pair[0].fd(), () -> { });
        try (ServedDevice served = ServedDevice.serve("watching", device, dir.resolve("watching.sock")))
        {
            served.drive(1 << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                serveOne(ram, session.queue(0));
                assertThat(device.callbacks.get()).isZero();

                pair[1].close();
                // Worker.HANGUP_CALLBACKS: enough calls to read what is left, then the descriptor is not watched.
                assertThat(Await.until(() -> device.callbacks.get() >= 64, WAIT)).as("the worker saw the hang-up")
                    .isTrue();
                assertThat(PeerDescriptorTest.cpuNanosOver("watching-worker0", Duration.ofMillis(500)))
                    .as("the worker's CPU time over 500 ms").isLessThan(50_000_000L);
                assertThat(device.callbacks.get()).as("callbacks after the hang-up").isEqualTo(64);
                serveOne(ram, session.queue(0));
                device.watch.close();
            });
        }
        finally
        {
            pair[0].close();
        }
    }

    @Test
    void ringDescriptorsLetGoWhileTheWorkerIsInACallbackAreClosedOnlyAfterIt() throws Exception
    {
        final EventFd input = EventFd.create();
        final CountDownLatch inCallback = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final WatchingDevice device = new WatchingDevice(input.fd(), () ->
        {
            input.drain();
            inCallback.countDown();
            try
            {
                release.await();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        });
        try (ServedDevice served = ServedDevice.serve("watching", device, dir.resolve("watching.sock")))
        {
            served.drive(1 << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                serveOne(ram, session.queue(0));
                final FrontendQueue q = session.queue(0);
                final int[] ring = {q.kickFd().fd(), q.callFd().fd(), q.errFd().fd()};
                // The session sent the call descriptor twice (at init and with the ring): the back-end's first copy is
                // retired and closed by its worker when it next wakes, so six copies are a state to wait for.
                assertThat(Await.until(() -> copiesOf(ring) == 6, WAIT))
                    .as("the front-end's kick, call and err and the back-end's copies: 6, not %d", copiesOf(ring))
                    .isTrue();
                final long withRing = 6;

                input.signal();
                assertThat(inCallback.await(5, TimeUnit.SECONDS)).as("the worker runs the callback").isTrue();
                // GET_VRING_BASE stops the ring: the back-end lets go of its kick, call and err descriptors while
                // its worker is busy (and could be about to read the kick).
                session.stop();
                assertThat(copiesOf(ring)).as("the ring's eventfds open while the worker is in the callback")
                    .isEqualTo(withRing);

                release.countDown();
                assertThat(Await.until(() -> copiesOf(ring) == 3, WAIT))
                    .as("the worker closed the ring's kick, call and err once past the callback (open: %d of %d)",
                        copiesOf(ring), withRing).isTrue();
                device.watch.close();
            });
        }
        finally
        {
            release.countDown();
            input.close();
        }
    }

    /**
     * @return descriptors open in this process that are the same eventfds as {@code fds} (by fdinfo's eventfd-id),
     *         {@code fds} themselves included: the front-end's ring eventfds and the back-end's copies of them, and
     *         nothing another test's threads may still be closing.
     */
    private static long copiesOf(final int... fds)
    {
        final java.util.Set<String> ids = new java.util.HashSet<>();
        for (final int fd : fds)
        {
            ids.add(eventfdId(Path.of("/proc/self/fdinfo/" + fd)));
        }
        try (Stream<Path> all = Files.list(Path.of("/proc/self/fdinfo")))
        {
            return all.filter(info -> ids.contains(eventfdId(info))).count();
        }
        catch (final IOException e)
        {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * @return the eventfd-id line of a descriptor's fdinfo, or "" when it is no eventfd (or already closed).
     */
    private static String eventfdId(final Path fdinfo)
    {
        try
        {
            return Files.readAllLines(fdinfo).stream().filter(l -> l.startsWith("eventfd-id:")).findFirst()
                .orElse("");
        }
        catch (final IOException gone)
        {
            return "";
        }
    }
}
