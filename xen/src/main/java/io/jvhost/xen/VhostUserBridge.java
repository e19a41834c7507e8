package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.os.EventFd;
import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;

/**
 * The virtio-mmio registers' device: a jvhost (or any) vhost-user back-end that maps the domU's RAM itself. The
 * memory table is one Xen FOREIGN region (VHOST_USER_PROTOCOL_F_XEN_MMAP, 40-byte entry, flags 0x1, the domid)
 * covering the domU's RAM with the privcmd descriptor; its user address is the guest physical address, so ring
 * addresses are sent as the guest wrote them (as QEMU's Xen vhost-user patches do).
 * <p>
 * Features offered to the guest: the back-end's, without vhost-user's PROTOCOL_FEATURES (bit 30), ACCESS_PLATFORM
 * (33: foreign mapping uses guest physical addresses, not grants) and RING_PACKED (34: the registers offer split
 * rings).
 */
public final class VhostUserBridge implements VirtioMmio.Device, AutoCloseable
{
    /** Bits never offered to the guest. */
    public static final long HIDDEN = 1L << 30 | 1L << 33 | 1L << 34;
    public static final int FOREIGN = 0x1;

    /** Receives each started queue's call eventfd (for the event loop) and each stopped one's. */
    public interface CallListener
    {
        void added(int queue, EventFd call) throws Exception;

        void removed(int queue, EventFd call);
    }

    private final VhostUserFrontend backend;
    private final int privcmd;
    private final int domid;
    private final long ramBase;
    private final long ramSize;
    private final CallListener calls;
    private final long backendFeatures;
    private final long protocolFeatures;
    private final EventFd[] kicks;
    private final EventFd[] callFds;
    private boolean memTableSent;

    /**
     * Negotiates protocol features with {@code backend} (XEN_MMAP is required; REPLY_ACK and CONFIG when offered).
     */
    public VhostUserBridge(final VhostUserFrontend backend, final int privcmd, final int domid, final long ramBase,
        final long ramSize, final int queues, final CallListener calls) throws FrontendException, XenException
    {
        this.backend = backend;
        this.privcmd = privcmd;
        this.domid = domid;
        this.ramBase = ramBase;
        this.ramSize = ramSize;
        this.calls = calls;
        this.kicks = new EventFd[queues];
        this.callFds = new EventFd[queues];
        backend.setOwner();
        backendFeatures = backend.getFeatures();
        if ((backendFeatures & 1L << 30) == 0)
        {
            throw new XenException("the back-end does not offer VHOST_USER_F_PROTOCOL_FEATURES (features 0x"
                + Long.toHexString(backendFeatures) + "), so it cannot take Xen memory regions");
        }
        final long offered = backend.getProtocolFeatures();
        if (!ProtocolFeature.has(offered, ProtocolFeature.XEN_MMAP))
        {
            throw new XenException("the back-end does not offer VHOST_USER_PROTOCOL_F_XEN_MMAP (protocol features 0x"
                + Long.toHexString(offered) + ")");
        }
        protocolFeatures = offered & (ProtocolFeature.bit(ProtocolFeature.XEN_MMAP)
            | ProtocolFeature.bit(ProtocolFeature.REPLY_ACK) | ProtocolFeature.bit(ProtocolFeature.CONFIG)
            | ProtocolFeature.bit(ProtocolFeature.MQ));
        backend.setProtocolFeatures(protocolFeatures);
    }

    @Override
    public long features()
    {
        return backendFeatures & ~HIDDEN;
    }

    @Override
    public long readConfig(final int offset, final int size) throws Exception
    {
        if (!ProtocolFeature.has(protocolFeatures, ProtocolFeature.CONFIG))
        {
            return 0;
        }
        final byte[] b = backend.getConfig(offset, size);
        long v = 0;
        for (int i = size - 1; i >= 0; i--)
        {
            v = v << 8 | b[i] & 0xFF;
        }
        return v;
    }

    @Override
    public void writeConfig(final int offset, final int size, final long value) throws Exception
    {
        if (!ProtocolFeature.has(protocolFeatures, ProtocolFeature.CONFIG))
        {
            return;
        }
        final byte[] b = new byte[size];
        for (int i = 0; i < size; i++)
        {
            b[i] = (byte)(value >>> 8 * i);
        }
        backend.setConfig(offset, b);
    }

    @Override
    public void start(final long features, final VirtioMmio.Queue[] queues) throws Exception
    {
        backend.setFeatures(features | 1L << 30);
        if (!memTableSent)
        {
            setXenMemTable();
            memTableSent = true;
        }
        for (int i = 0; i < queues.length; i++)
        {
            final VirtioMmio.Queue q = queues[i];
            if (!q.ready)
            {
                continue;
            }
            backend.setVringNum(i, q.num);
            backend.setVringAddr(i, q.desc, q.device, q.driver);
            backend.setVringBase(i, 0);
            callFds[i] = EventFd.create();
            kicks[i] = EventFd.create();
            calls.added(i, callFds[i]);
            backend.setVringCall(i, callFds[i]);
            backend.setVringKick(i, kicks[i]);
            backend.setVringEnable(i, true);
        }
    }

    /**
     * SET_MEM_TABLE with one FOREIGN region: {@code gpa = user_addr = ramBase, size = ramSize, mmap_offset 0,
     * flags 0x1, domid}, and the privcmd descriptor.
     */
    private void setXenMemTable() throws FrontendException, XenException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment p = arena.allocate(8 + 40, 8);
            p.set(ValueLayout.JAVA_INT, 0, 1);
            p.set(ValueLayout.JAVA_LONG, 8, ramBase);
            p.set(ValueLayout.JAVA_LONG, 16, ramSize);
            p.set(ValueLayout.JAVA_LONG, 24, ramBase);
            p.set(ValueLayout.JAVA_LONG, 32, 0);
            p.set(ValueLayout.JAVA_INT, 40, FOREIGN);
            p.set(ValueLayout.JAVA_INT, 44, domid);
            backend.sendRaw(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, p,
                new int[] {privcmd});
            final VhostUserFrontend.Reply reply = backend.receiveReply();
            if (null == reply || reply.request() != FrontendRequest.SET_MEM_TABLE || reply.u64(0) != 0)
            {
                throw new XenException("the back-end refused SET_MEM_TABLE with the FOREIGN region (domid " + domid
                    + ", 0x" + Long.toHexString(ramBase) + "+0x" + Long.toHexString(ramSize) + "): "
                    + (null == reply ? "it closed the connection" : "reply " + reply.request() + " = "
                        + reply.u64(0)));
            }
        }
    }

    @Override
    public void notify(final int queue)
    {
        final EventFd kick = kicks[queue];
        if (null != kick)
        {
            kick.signal();
        }
    }

    @Override
    public void reset() throws Exception
    {
        for (int i = 0; i < kicks.length; i++)
        {
            if (null != kicks[i])
            {
                backend.getVringBase(i);
                calls.removed(i, callFds[i]);
                kicks[i].close();
                callFds[i].close();
                kicks[i] = null;
                callFds[i] = null;
            }
        }
    }

    @Override
    public void close()
    {
        for (int i = 0; i < kicks.length; i++)
        {
            if (null != kicks[i])
            {
                kicks[i].close();
                callFds[i].close();
            }
        }
        backend.close();
    }
}
