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
 * With {@code grant}, the same through grants instead: the domU's granter (scripts/xen/granter.c) grants dom0 eight
 * consecutive references; the front-end maps them all through {@code /dev/xen/gntdev} for its own view, puts the
 * ring in the first page and sends it as a GRANT region (mapped in advance), the other seven as one
 * GRANT|NO_ADVANCE_MAP region (0xa, as xen-vhost-frontend sends buffers), so the back-end maps each buffer per
 * access; the buffers cross page boundaries.
 * <p>
 * Prints {@code XEN-TEST <mode> rng ok ...} on success, {@code XEN-TEST <mode> rng FAILED ...} otherwise.
 * Arguments: {@code foreign <domid> [gpa of an unused area, default 0x4e000000]} or
 * {@code grant <domid> <ref>...} (the granted references, in page order).
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
        final String mode = args[0];
        try
        {
            final int domid = Integer.parseInt(args[1]);
            if (mode.equals("grant"))
            {
                final int[] refs = new int[args.length - 2];
                for (int i = 0; i < refs.length; i++)
                {
                    refs[i] = Integer.parseInt(args[2 + i]);
                }
                System.out.println("XEN-TEST grant rng ok " + grant(domid, refs));
            }
            else
            {
                final long gpa = args.length > 2 ? Long.decode(args[2]) : 0x4E00_0000L;
                System.out.println("XEN-TEST foreign rng ok " + run(domid, gpa));
            }
        }
        catch (final Exception | AssertionError e)
        {
            System.out.println("XEN-TEST " + mode + " rng FAILED " + e);
            e.printStackTrace(System.out);
        }
        System.exit(0);
    }

    private static String grant(final int domid, final int[] refs) throws Exception
    {
        check(refs.length >= 6, refs.length + " references granted");
        boolean consecutive = true;
        for (int i = 1; i < refs.length; i++)
        {
            consecutive &= refs[i] == refs[0] + i;
        }
        check(consecutive, "references consecutive: " + java.util.Arrays.toString(refs));
        final int pages = refs.length;
        final long base = 1L << 63 | (long)refs[0] << 12;
        final int frontGntdev = LibC.open("/dev/xen/gntdev", 2 | 0x80000);
        final int backGntdev = LibC.open("/dev/xen/gntdev", 2 | 0x80000);
        final XenMappings.Mapped view = XenMappings.grant(XenSyscalls.LINUX, frontGntdev, domid, refs[0], pages);
        try
        {
            final MemorySegment granted = MemorySegment.ofAddress(view.address()).reinterpret(pages * 4096L);
            final long[] bufferGpas = new long[REQUESTS];
            for (int i = 0; i < REQUESTS; i++)
            {
                bufferGpas[i] = base + (1 + i) * 4096L + 4096 - 8; // 8 bytes on one page, 56 on the next
            }
            final String first = serve(domid, granted, base, out -> out
                .header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 2 * 40)
                .u32(0, 2).u32(4, 0)
                .u64(8, base).u64(16, 4096).u64(24, UADDR).u64(32, 0).u32(40, 0x2).u32(44, domid)
                .u64(48, base + 4096).u64(56, (pages - 1) * 4096L).u64(64, 0).u64(72, 0).u32(80, 0xa)
                .u32(84, domid), new int[] {backGntdev, backGntdev}, bufferGpas, "GRANT ring page + GRANT|0xa buffers");
            return "domid " + domid + ", refs " + refs[0] + ".." + refs[pages - 1] + ": " + first;
        }
        finally
        {
            view.unmap().run();
            LibC.closeQuietly(frontGntdev);
            LibC.closeQuietly(backGntdev);
        }
    }

    private static String run(final int domid, final long gpa) throws Exception
    {
        final int privcmd = LibC.open("/dev/xen/privcmd", 2 | 0x80000);
        // The front-end's own view of the frames, as xen-vhost-frontend keeps one.
        final XenMappings.Mapped view = XenMappings.foreign(XenSyscalls.LINUX, privcmd, domid, gpa >>> 12, SIZE);
        try
        {
            final MemorySegment ram = MemorySegment.ofAddress(view.address()).reinterpret(SIZE);
            ram.fill((byte)0);
            final long[] bufferGpas = new long[REQUESTS];
            for (int i = 0; i < REQUESTS; i++)
            {
                bufferGpas[i] = gpa + 0x1_0000 + i * 4096L - 8; // each crosses a page
            }
            final String first = serve(domid, ram, gpa, out -> out
                .header(FrontendRequest.SET_MEM_TABLE, MessageHeader.VERSION | MessageHeader.NEED_REPLY, 8 + 40)
                .u32(0, 1).u32(4, 0).u64(8, gpa).u64(16, SIZE).u64(24, UADDR).u64(32, 0).u32(40, 0x1).u32(44, domid),
                new int[] {privcmd}, bufferGpas, "FOREIGN");
            return "domid " + domid + ", frames 0x" + Long.toHexString(gpa >>> 12) + "+: " + first;
        }
        finally
        {
            view.unmap().run();
            LibC.closeQuietly(privcmd);
        }
    }

    /**
     * Runs the rng back-end over a socket pair and drives it: features, the memory table {@code table} writes (sent
     * with {@code fds}), one ring at the start of {@code ram} (guest address {@code ramGpa}, front-end address
     * UADDR), a 64-byte writable buffer at each of {@code bufferGpas}; checks the used lengths and, through
     * {@code ram}, the bytes.
     */
    private static String serve(final int domid, final MemorySegment ram, final long ramGpa,
        final java.util.function.Consumer<Message> table, final int[] fds, final long[] bufferGpas, final String what)
        throws Exception
    {
        final long gpa = ramGpa;
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
            // The Xen regions with the front-end's descriptors: the back-end maps the guest's memory itself.
            table.accept(out);
            front.send(out, fds, fds.length);
            check(front.receive(in) && in.u64(0) == 0, "SET_MEM_TABLE (" + what + ", domid " + domid + ") accepted");

            final DriverQueue driver = new DriverQueue(ram.asSlice(0, DriverQueue.ringBytes(QUEUE)), gpa, QUEUE,
                gpa);
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

            for (int i = 0; i < REQUESTS; i++)
            {
                driver.add(new long[] {bufferGpas[i]}, new int[] {LENGTH}, 0, 1);
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
                    zeros += ram.get(ValueLayout.JAVA_BYTE, bufferGpas[i] - gpa + b) == 0 ? 1 : 0;
                }
            }
            check(zeros < REQUESTS * LENGTH / 16, "random bytes in the domU's frames (" + zeros + " zero bytes of "
                + bytes + ")");
            final String first = HexFormat.of().formatHex(ram.asSlice(bufferGpas[0] - gpa, 16)
                .toArray(ValueLayout.JAVA_BYTE));
            front.shutdown();
            server.join(10_000);
            backend.close();
            return used + " requests, " + bytes + " bytes written by the back-end and read back through the "
                + "front-end's own mapping (first 16 of buffer 0: " + first + ")";
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
