package io.jvhost.xen;

import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;

/**
 * A Xen device model in dom0 for one virtio-mmio device of a domU, in place of xen-vhost-frontend (Rust) and without
 * the privcmd irqfd/ioeventfd kernel support it needs: registers an IOREQ server for the device's MMIO window, serves
 * the vCPUs' accesses from the shared ioreq page when their event channels fire, emulates virtio-mmio version 2
 * ({@link VirtioMmio}), forwards the device to a vhost-user back-end that maps the domU's RAM as a Xen FOREIGN region
 * ({@link VhostUserBridge}), turns the back-end's call eventfds into the domU's SPI (XEN_DMOP_set_irq_level) and
 * QueueNotify writes into kick eventfds. One thread, one epoll loop; runs until the back-end disconnects or the
 * domain is gone (its ioreq server with it: checked after each idle second).
 */
public final class XenVhostFrontend
{
    /** Arm guests' first RAM bank (GUEST_RAM0_BASE). */
    public static final long ARM_RAM_BASE = 0x4000_0000L;

    /** What to serve. */
    public record Options(int domid, long base, int irq, int deviceId, int queues, long ramBase, long ramSize,
        Path socket)
    {
    }

    private static final long TOKEN_EVTCHN = 1;
    private static final long TOKEN_BACKEND = 2;
    private static final long TOKEN_CALL = 0x100;

    private XenVhostFrontend()
    {
    }

    /** Runs until the back-end goes away. @return 0, or 1 on a failure (logged). */
    public static int run(final Options o) throws Exception
    {
        final int privcmd = LibC.open("/dev/xen/privcmd", 2 | 0x80000);
        final DeviceModelOps dm = new DeviceModelOps(XenSyscalls.LINUX, privcmd, o.domid());
        final int vcpus = dm.vcpus();
        final int server = dm.createIoreqServer();
        log("domid " + o.domid() + ": ioreq server " + server + ", " + vcpus + " vCPUs, virtio-mmio at 0x"
            + Long.toHexString(o.base()) + " irq " + o.irq() + ", device " + o.deviceId());
        final java.lang.foreign.MemorySegment page = dm.mapIoreqPage(server);
        try (Epoll epoll = Epoll.create(8); EventChannels evtchn = EventChannels.open())
        {
            dm.mapMmio(server, o.base(), o.base() + VirtioMmio.WINDOW - 1);
            final EventFd[] calls = new EventFd[o.queues()];
            final VhostUserFrontend backend = VhostUserFrontend.connect(o.socket(), Duration.ofSeconds(30));
            final VhostUserBridge bridge = new VhostUserBridge(backend, privcmd, o.domid(), o.ramBase(), o.ramSize(),
                o.queues(), new VhostUserBridge.CallListener()
                {
                    @Override
                    public void added(final int queue, final EventFd call) throws Exception
                    {
                        calls[queue] = call;
                        epoll.add(call.fd(), LibC.EPOLLIN, TOKEN_CALL + queue);
                    }

                    @Override
                    public void removed(final int queue, final EventFd call)
                    {
                        epoll.remove(call.fd());
                        calls[queue] = null;
                    }
                });
            final int[] irqErrors = new int[1];
            final VirtioMmio mmio = new VirtioMmio(o.deviceId(), o.queues(), 256, o.ramBase(), o.ramSize(), bridge,
                level ->
                {
                    final int rc = dm.setIrqLevel(o.irq(), level);
                    if (rc < 0 && irqErrors[0]++ == 0)
                    {
                        log("XEN_DMOP_set_irq_level " + o.irq() + " failed: " + io.jvhost.os.Errno.name(-rc));
                    }
                });
            final IoreqPage ioreq = new IoreqPage(page, vcpus, o.base(), mmio);
            dm.setServerState(server, true);
            final int[] local = new int[vcpus];
            for (int v = 0; v < vcpus; v++)
            {
                local[v] = evtchn.bindInterdomain(o.domid(), ioreq.eventPort(v));
            }
            epoll.add(evtchn.fd(), LibC.EPOLLIN, TOKEN_EVTCHN);
            epoll.add(backend.socket().fd(), LibC.EPOLLRDHUP, TOKEN_BACKEND);
            log("serving: vCPU event channels " + java.util.Arrays.toString(local) + ", back-end " + o.socket());
            long ignoredSeen = 0;
            long refusedSeen = 0;
            int lastStatus = 0;
            loop:
            while (true)
            {
                final int n = epoll.await(1000);
                if (n == 0)
                {
                    // Nothing for a second: is the domain still there? Killing a domain destroys its ioreq servers
                    // (a dying domain lives on while the back-end maps its memory, so nr_vcpus would still answer);
                    // enabling an enabled server is a no-op.
                    try
                    {
                        dm.setServerState(server, true);
                    }
                    catch (final XenException e)
                    {
                        log("the domain is gone: " + e.getMessage());
                        break;
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    final long token = epoll.token(i);
                    if (token == TOKEN_BACKEND)
                    {
                        log("the back-end closed the connection");
                        break loop;
                    }
                    if (token == TOKEN_EVTCHN)
                    {
                        final int ports = evtchn.pending();
                        if (ports < 0)
                        {
                            log("reading /dev/xen/evtchn failed: " + io.jvhost.os.Errno.name(-ports));
                            break loop;
                        }
                        for (int p = 0; p < ports; p++)
                        {
                            final int port = evtchn.port(p);
                            for (int v = 0; v < vcpus; v++)
                            {
                                if (local[v] == port && ioreq.serve(v))
                                {
                                    evtchn.notify(port);
                                }
                            }
                        }
                        evtchn.unmask(ports);
                    }
                    else if (token >= TOKEN_CALL && token < TOKEN_CALL + calls.length)
                    {
                        final EventFd call = calls[(int)(token - TOKEN_CALL)];
                        if (null != call && call.drain() > 0)
                        {
                            mmio.usedBuffers();
                        }
                    }
                }
                if (ioreq.refused() != refusedSeen)
                {
                    refusedSeen = ioreq.refused();
                    log("request refused (" + refusedSeen + " so far): " + ioreq.lastRefusal());
                }
                if (mmio.ignoredAccesses() != ignoredSeen)
                {
                    ignoredSeen = mmio.ignoredAccesses();
                    log("guest access ignored (" + ignoredSeen + " so far): " + mmio.lastError());
                }
                if (mmio.status() != lastStatus)
                {
                    lastStatus = mmio.status();
                    log("status 0x" + Integer.toHexString(lastStatus) + ", features 0x"
                        + Long.toHexString(mmio.driverFeatures()) + (mmio.started() ? ", started" : "") + " ("
                        + ioreq.served() + " accesses served, " + ioreq.refused() + " refused, " + ioreq.invalidations()
                        + " map-cache invalidations)");
                }
            }
            bridge.close();
            log("served " + ioreq.served() + " accesses, refused " + ioreq.refused());
            return 0;
        }
        finally
        {
            try
            {
                dm.setServerState(server, false);
                dm.destroyServer(server);
            }
            catch (final XenException e)
            {
                log("ioreq server not destroyed (the domain's end takes it): " + e.getMessage());
            }
            dm.unmap(page);
            LibC.closeQuietly(privcmd);
        }
    }

    private static void log(final String line)
    {
        System.err.println("xen-vhost-frontend: " + line);
    }
}
