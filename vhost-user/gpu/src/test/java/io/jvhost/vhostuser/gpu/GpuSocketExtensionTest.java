package io.jvhost.vhostuser.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * GPU_SET_SOCKET handling on its own: replacement, EOF, headless, missing descriptor, no leaked descriptors.
 */
@Timeout(30)
class GpuSocketExtensionTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final GpuDevice device = new GpuDevice("gpu0", GpuOptions.defaults());

    private static Message setSocket(final QemuDisplayEmulator qemu) throws IOException
    {
        final Message m = new Message(64);
        m.header(FrontendRequest.GPU_SET_SOCKET, MessageHeader.VERSION, 0);
        m.fds().add(qemu.takeBackendFd());
        return m;
    }

    private static long openFds() throws IOException
    {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd")))
        {
            return fds.count();
        }
    }

    private static void awaitFds(final long baseline) throws Exception
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (openFds() > baseline && System.nanoTime() < end)
        {
            Thread.sleep(10);
        }
        assertThat(openFds()).as("open descriptors").isLessThanOrEqualTo(baseline);
    }

    @Test
    void otherRequestsAreNotHandled() throws Exception
    {
        try (GpuSocketExtension ext = new GpuSocketExtension("gpu0", device, false))
        {
            final Message m = new Message(64);
            m.header(FrontendRequest.GET_FEATURES, MessageHeader.VERSION, 0);
            assertThat(ext.handle(m)).isFalse();
            assertThat(ext.protocolFeatures()).isZero();
        }
    }

    @Test
    void aMissingDescriptorIsAnErrorNamingIt() throws Exception
    {
        try (GpuSocketExtension ext = new GpuSocketExtension("gpu0", device, false))
        {
            final Message m = new Message(64);
            m.header(FrontendRequest.GPU_SET_SOCKET, MessageHeader.VERSION, 0);
            assertThatThrownBy(() -> ext.handle(m)).isInstanceOf(IOException.class)
                .hasMessageContaining("GPU_SET_SOCKET without a descriptor");
            assertThat(ext.display()).isNull();
        }
    }

    @Test
    void aNewSocketReplacesTheOldOneWhichIsClosed() throws Exception
    {
        final long baseline = openFds();
        try (QemuDisplayEmulator first = QemuDisplayEmulator.start();
             QemuDisplayEmulator second = QemuDisplayEmulator.start();
             QemuDisplayEmulator third = QemuDisplayEmulator.start())
        {
            final GpuSocketExtension ext = new GpuSocketExtension("gpu0", device, false);
            assertThat(ext.handle(setSocket(first))).isTrue();
            final VhostUserGpuDisplay d1 = ext.display();
            assertThat(d1).isNotNull();
            assertThat(first.await(() -> first.negotiatedFeatures() == 1, WAIT)).isTrue();

            assertThat(ext.handle(setSocket(second))).isTrue();
            assertThat(ext.display()).isNotNull().isNotSameAs(d1);
            assertThat(first.awaitPeerClosed(WAIT)).as("the old display socket is closed").isTrue();
            assertThat(second.await(() -> second.negotiatedFeatures() == 1, WAIT)).isTrue();
            assertThat(ext.socketsReceived()).isEqualTo(2);

            ext.close();
            ext.close();
            assertThat(ext.display()).isNull();
            assertThat(second.awaitPeerClosed(WAIT)).isTrue();
            assertThatThrownBy(() -> ext.handle(setSocket(third))).hasMessageContaining("after the connection ended");
            assertThat(third.awaitPeerClosed(WAIT)).as("a socket arriving too late is closed").isTrue();
            assertThat(first.violations()).isEmpty();
            assertThat(second.violations()).isEmpty();
        }
        awaitFds(baseline);
    }

    @Test
    void qemuClosingTheSocketDetachesTheDisplay() throws Exception
    {
        try (GpuSocketExtension ext = new GpuSocketExtension("gpu0", device, false))
        {
            final QemuDisplayEmulator qemu = QemuDisplayEmulator.start();
            ext.handle(setSocket(qemu));
            final VhostUserGpuDisplay d = ext.display();
            qemu.close();
            final long end = System.nanoTime() + WAIT.toNanos();
            while (null != ext.display() && System.nanoTime() < end)
            {
                Thread.sleep(10);
            }
            assertThat(ext.display()).isNull();
            assertThat(d.isGone()).isTrue();
        }
    }

    @Test
    void headlessKeepsEachSocketUnusedUntilTheNextOne() throws Exception
    {
        try (QemuDisplayEmulator first = QemuDisplayEmulator.start();
             QemuDisplayEmulator second = QemuDisplayEmulator.start();
             GpuSocketExtension ext = new GpuSocketExtension("gpu0", device, true))
        {
            assertThat(ext.handle(setSocket(first))).isTrue();
            // handle() makes the display before it returns (see the test above); headless makes none, so no thread
            // exists that could write to QEMU's socket: nothing can arrive later.
            assertThat(ext.display()).isNull();
            assertThat(first.messages()).isZero();
            assertThat(first.peerClosed()).isFalse();

            assertThat(ext.handle(setSocket(second))).isTrue();
            assertThat(first.awaitPeerClosed(WAIT)).isTrue();
            assertThat(second.peerClosed()).isFalse();
            ext.close();
            assertThat(second.awaitPeerClosed(WAIT)).isTrue();
            assertThat(second.messages()).isZero();
        }
    }
}
