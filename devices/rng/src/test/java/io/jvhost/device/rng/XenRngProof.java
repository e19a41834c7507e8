package io.jvhost.device.rng;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;

import io.jvhost.memory.xen.XenMappings;
import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.UnixSocket;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import io.jvhost.vhostuser.backend.VhostUserBackend;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

/**
 * Run in a Xen dom0 by scripts/xen-test.sh (not a unit test): plays xen-vhost-frontend's part against jvhost's rng
 * back-end, both in this process. It maps a piece of the domU's RAM that the domU's kernel does not use (the domU
 * boots with {@code mem=} below its memory) through {@code /dev/xen/privcmd} itself, places a virtqueue and buffers
 * there, hands the back-end the same frames as a FOREIGN region (40-byte entry, with the privcmd descriptor) over a
 * vhost-user socket, kicks, and checks through its own mapping that the back-end filled every buffer.
 * <p>
 * Prints {@code XEN-TEST foreign rng ok ...} on success, {@code XEN-TEST foreign rng FAILED ...} otherwise.
 * Arguments: the domU's domain id, the guest-physical address of the unused area (default 0x4e000000).
 */
public final class XenRngProof
{
    private static final long SIZE = 1 << 20;
    private static final int QUEUE = 16;
    private static final int REQUESTS = 4;
    private static final int LENGTH = 64;
    private static final long UADDR = 0x7E00_0000_0000L; // what the back-end translates ring addresses through

    private XenRngProof()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        try
        {
            final int domid = Integer.parseInt(args[0]);
            final long gpa = args.length > 1 ? Long.decode(args[1]) : 0x4E00_0000L;
            System.out.println("XEN-TEST foreign rng ok " + run(domid, gpa));
        }
        catch (final Exception | AssertionError e)
        {
            System.out.println("XEN-TEST foreign rng FAILED " + e);
            e.printStackTrace(System.out);
        }
        System.exit(0);
    }

    private static String run(final int domid, final long gpa) throws Exception
    {
        final int privcmd = LibC.open("/dev/xen/privcmd", 2 | 0x80000);
        // The front-end's own view of the frames, as xen-vhost-frontend keeps one.
        final XenMappings.Mapped view = XenMappings.foreign(XenSyscalls.LINUX, privcmd, domid, gpa >>> 12, SIZE);
        final MemorySegment ram = MemorySegment.ofAddress(view.address()).reinterpret(SIZE);
        ram.fill((byte)0);
        final RngDevice device = new RngDevice("rng", EntropySource.open("/dev/urandom"), 1000, Long.MAX_VALUE);
        final VhostUserBackend backend = new VhostUserBackend("rng-xen", device);
        final UnixSocket[] pair = UnixSocket.pair();
        final Thread server = Thread.ofPlatform().name("serve").start(() ->
        {
            try (VhostUserConnection conn = new VhostUserConnection(pair[0], true))
            {
                backend.serve(conn);
            }
            catch (final IOException e)
            {
                System.out.println("XEN-TEST back-end: " + e);
            }
        });
        final Message out = new Message(MessageHeader.MAX_PAYLOAD);
        final Message in = new Message(MessageHeader.MAX_PAYLOAD);
        try (VhostUserConnection front = new VhostUserConnection(pair[1], false); EventFd kick = EventFd.create();
            EventFd call = EventFd.create())
        {
            pair[1].setReceiveTimeout(30_000);
            out.header(FrontendRequest.GET_PROTOCOL_FEATURES, MessageHeader.VERSION, 0);
            front.send(out);
            check(front.receive(in) && ProtocolFeature.has(in.u64(0), ProtocolFeature.XEN_MMAP), "XEN_MMAP offered");
            out.header(FrontendRequest.SET_FEATURES, MessageHeader.VERSION, 8).u64(0,
                VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES));
            front.send(out);
            out.header(FrontendRequest.SET_PROTOCOL_FEATURES, MessageHeader.VERSION, 8).u64(0,
                ProtocolFeature.bit(ProtocolFeature.REPLY_ACK) | ProtocolFeature.bit(ProtocolFeature.XEN_MMAP));
            front.send(out);
            // One FOREIGN region, the privcmd descriptor with it: the back-end maps the frames itself.
            out.header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 40)
                .u32(0, 1).u32(4, 0).u64(8, gpa).u64(16, SIZE).u64(24, UADDR).u64(32, 0).u32(40, 0x1).u32(44, domid);
            front.send(out, new int[] {privcmd}, 1);
            check(front.receive(in) && in.u64(0) == 0, "SET_MEM_TABLE (FOREIGN, domid " + domid + ") accepted");

            final DriverQueue driver = new DriverQueue(ram, gpa, QUEUE, gpa);
            out.header(FrontendRequest.SET_VRING_NUM, MessageHeader.VERSION, 8).u32(0, 0).u32(4, QUEUE);
            front.send(out);
            out.header(FrontendRequest.SET_VRING_ADDR, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 40)
                .u32(0, 0).u32(4, 0).u64(8, UADDR).u64(16, UADDR + driver.usedGpa() - gpa)
                .u64(24, UADDR + driver.availGpa() - gpa).u64(32, 0);
            front.send(out);
            check(front.receive(in) && in.u64(0) == 0, "SET_VRING_ADDR accepted");
            out.header(FrontendRequest.SET_VRING_BASE, MessageHeader.VERSION, 8).u32(0, 0).u32(4, 0);
            front.send(out);
            out.header(FrontendRequest.SET_VRING_CALL, MessageHeader.VERSION, 8).u64(0, 0);
            front.send(out, new int[] {call.fd()}, 1);
            out.header(FrontendRequest.SET_VRING_KICK, MessageHeader.VERSION, 8).u64(0, 0);
            front.send(out, new int[] {kick.fd()}, 1);
            out.header(FrontendRequest.SET_VRING_ENABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8)
                .u32(0, 0).u32(4, 1);
            front.send(out);
            check(front.receive(in) && in.u64(0) == 0, "SET_VRING_ENABLE accepted");

            final long buffers = gpa + 0x1_0000;
            for (int i = 0; i < REQUESTS; i++)
            {
                driver.add(new long[] {buffers + i * 4096L - 8}, new int[] {LENGTH}, 0, 1); // each crosses a page
            }
            driver.publish();
            kick.signal();
            int used = 0;
            long bytes = 0;
            final long deadline = System.nanoTime() + 30_000_000_000L;
            while (used < REQUESTS)
            {
                final long u = driver.pollUsed();
                if (u == -1)
                {
                    if (System.nanoTime() > deadline)
                    {
                        throw new AssertionError("only " + used + " of " + REQUESTS + " requests used within 30 s");
                    }
                    Thread.sleep(1);
                    continue;
                }
                if ((u & 0xFFFF_FFFFL) != LENGTH)
                {
                    throw new AssertionError("used length " + (u & 0xFFFF_FFFFL) + ", expected " + LENGTH);
                }
                used++;
                bytes += LENGTH;
            }
            check(true, "all " + REQUESTS + " requests used, each " + LENGTH + " bytes");
            int zeros = 0;
            for (int i = 0; i < REQUESTS; i++)
            {
                for (int b = 0; b < LENGTH; b++)
                {
                    zeros += ram.get(ValueLayout.JAVA_BYTE, buffers - gpa + i * 4096L - 8 + b) == 0 ? 1 : 0;
                }
            }
            check(zeros < REQUESTS * LENGTH / 16, "random bytes in the domU's frames (" + zeros + " zero bytes of "
                + bytes + ")");
            final String first = HexFormat.of().formatHex(ram.asSlice(buffers - gpa - 8, 16)
                .toArray(ValueLayout.JAVA_BYTE));
            front.shutdown();
            server.join(10_000);
            backend.close();
            return "domid " + domid + ": " + used + " requests, " + bytes + " bytes written by the back-end into "
                + "frames 0x" + Long.toHexString(gpa >>> 12) + "+ and read back through the front-end's own "
                + "mapping (first 16: " + first + ")";
        }
        finally
        {
            view.unmap().run();
            LibC.closeQuietly(privcmd);
        }
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new AssertionError(what);
        }
        System.out.println("XEN-TEST   " + what);
    }
}
