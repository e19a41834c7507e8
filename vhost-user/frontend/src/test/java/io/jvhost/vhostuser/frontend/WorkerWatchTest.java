package io.jvhost.vhostuser.frontend;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.VirtioDevice;
import io.jvhost.os.EventFd;
import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * {@link DeviceContext#watch}: a device completes requests from host input that its queue's worker reads itself.
 */
@Timeout(60)
class WorkerWatchTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);

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
        final Path socket = dir.resolve("credit.sock");
        try (VhostUserDaemon daemon = VhostUserDaemon.listen("credit", device, socket))
        {
            Thread.ofPlatform().name("credit-daemon").daemon(true).start(daemon::run);
            try (GuestRam ram = GuestRam.create(1 << 20, 1);
                 VhostUserFrontend fe = VhostUserFrontend.connect(socket);
                 VirtioSession session = VirtioSession.builder(fe, ram).queues(1, 16)
                     .driverFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)).build())
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
            }
        }
        finally
        {
            device.input.close();
        }
        OpenFds.awaitBaseline(baseline);
    }
}
