package io.jvhost.memory.xen;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;

/**
 * An in-process stand-in for Xen's privcmd and gntdev devices, behind {@link XenSyscalls}: one guest (a domain id and
 * a memfd of RAM at guest-physical {@link #RAM_GPA}, like an Arm domU) with a grant table the test fills.
 * <p>
 * It keeps the kernel's rules that the back-end depends on: MMAPBATCH_V2 must cover exactly a range mmapped from the
 * privcmd descriptor and reports per-frame errors in {@code err} (the call itself succeeds); MAP_GRANT_REF answers an
 * index (a page offset, growing) and {@code mmap} of the gntdev descriptor at that index maps the granted pages, and
 * fails for a reference the guest did not grant to dom0 or for another domain; UNMAP_GRANT_REF forgets an index.
 * Guest pages are mapped with real {@code mmap MAP_FIXED} of the RAM memfd, so the back-end reads and writes real
 * shared memory. Every ioctl's argument bytes are recorded ({@link #calls()}), and {@link #outstandingGrantMaps()}
 * says whether any grant mapping was left behind.
 * <p>
 * Descriptors: {@link #openPrivcmd()} and {@link #openGntdev()} return memfds named {@code xen-privcmd} and
 * {@code xen-gntdev} (the caller closes them); a descriptor is recognised by that name, so it still is after
 * passing through a socket.
 */
public final class FakeXen implements XenSyscalls, AutoCloseable
{
    public static final long RAM_GPA = 0x4000_0000L;
    public static final long RAM_GFN = RAM_GPA >>> 12;
    private static final int ENOENT = 2;
    private static final int ESRCH = 3;
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final int ENOTTY = 25;

    /** One recorded ioctl: its request number and argument bytes. */
    public record Call(String name, long request, byte[] bytes)
    {
    }

    private record GrantMap(int count, int[] domids, int[] refs)
    {
    }

    private final int domid;
    private final MemFd ram;
    private final MappedMemory view;
    private final Map<Integer, Long> grants = new HashMap<>();
    private final Map<Long, GrantMap> grantMaps = new HashMap<>();
    private final Map<Long, Long> privcmdVmas = new HashMap<>();
    private final List<Call> calls = new ArrayList<>();
    private long nextIndex;
    private int mmapsOfGrants;

    public FakeXen(final int domid, final long ramBytes) throws NativeException
    {
        this.domid = domid;
        this.ram = MemFd.create("fake-xen-domu-ram", ramBytes);
        this.view = ram.map();
    }

    public int domid()
    {
        return domid;
    }

    /**
     * @return the descriptor of the guest's RAM memfd (owned by this fake).
     */
    public int ramFd()
    {
        return ram.fd();
    }

    /**
     * @return the guest's RAM as the guest sees it: offset 0 is {@link #RAM_GPA}.
     */
    public MemorySegment ram()
    {
        return view.segment();
    }

    /**
     * The guest grants dom0 the page at guest-physical {@code gpa} as reference {@code ref}.
     */
    public synchronized void grant(final int ref, final long gpa)
    {
        grants.put(ref, gpa);
    }

    public synchronized void revoke(final int ref)
    {
        grants.remove(ref);
    }

    public int openPrivcmd() throws NativeException
    {
        return open("xen-privcmd");
    }

    public int openGntdev() throws NativeException
    {
        return open("xen-gntdev");
    }

    /** The caller owns the descriptor. */
    private static int open(final String name) throws NativeException
    {
        return LibC.memfdCreate(name, LibC.MFD_CLOEXEC);
    }

    /**
     * Back to the state a new fake starts in (no grants, no calls recorded, indexes from 0, RAM zeroed), for a test
     * that keeps one across runs (a fuzz harness: building it is a memfd and a mapping per input). A grant map or a
     * privcmd mapping still there would carry one run into the next: then it throws instead.
     */
    public synchronized void reset()
    {
        if (!grantMaps.isEmpty() || !privcmdVmas.isEmpty())
        {
            throw new IllegalStateException("left behind: " + grantMaps.size() + " grant maps, privcmd mappings at "
                + privcmdVmas.keySet());
        }
        grants.clear();
        calls.clear();
        nextIndex = 0;
        mmapsOfGrants = 0;
        view.segment().fill((byte)0);
    }

    public synchronized List<Call> calls()
    {
        return List.copyOf(calls);
    }

    public synchronized List<Call> calls(final String name)
    {
        return calls.stream().filter(c -> c.name().equals(name)).toList();
    }

    /**
     * @return grant maps made (MAP_GRANT_REF) and not yet forgotten (UNMAP_GRANT_REF).
     */
    public synchronized int outstandingGrantMaps()
    {
        return grantMaps.size();
    }

    /**
     * @return successful mmaps of granted pages so far.
     */
    public synchronized int grantMmaps()
    {
        return mmapsOfGrants;
    }

    private static String kind(final int fd)
    {
        try
        {
            final String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            if (target.contains("xen-privcmd"))
            {
                return "privcmd";
            }
            if (target.contains("xen-gntdev"))
            {
                return "gntdev";
            }
            return target;
        }
        catch (final IOException e)
        {
            return "closed";
        }
    }

    @Override
    public synchronized long mmapShared(final long fixedAddress, final long length, final int fd, final long offset)
    {
        switch (kind(fd))
        {
            case "privcmd" ->
            {
                // A privcmd mapping has no pages until MMAPBATCH fills it.
                final long at = LINUX.reserve(fixedAddress, length);
                if (at >= 0)
                {
                    privcmdVmas.put(at, length);
                }
                return at;
            }
            case "gntdev" ->
            {
                final GrantMap map = grantMaps.get(offset);
                if (null == map || length != (long)map.count() << 12)
                {
                    return -EINVAL;
                }
                for (int i = 0; i < map.count(); i++)
                {
                    if (map.domids()[i] != domid || !grants.containsKey(map.refs()[i]))
                    {
                        return -EFAULT;
                    }
                }
                final long at = 0 != fixedAddress ? fixedAddress : LINUX.reserve(0, length);
                if (at < 0)
                {
                    return at;
                }
                for (int i = 0; i < map.count(); i++)
                {
                    final long rc = mapGuestPage(at + ((long)i << 12), grants.get(map.refs()[i]));
                    if (rc < 0)
                    {
                        return rc;
                    }
                }
                mmapsOfGrants++;
                return at;
            }
            default ->
            {
                return LINUX.mmapShared(fixedAddress, length, fd, offset);
            }
        }
    }

    private long mapGuestPage(final long at, final long gpa)
    {
        return LibC.mmapRaw(at, 4096, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_FIXED, ram.fd(),
            gpa - RAM_GPA);
    }

    @Override
    public long reserve(final long fixedAddress, final long length)
    {
        return LINUX.reserve(fixedAddress, length);
    }

    @Override
    public synchronized int munmap(final long address, final long length)
    {
        privcmdVmas.remove(address);
        return LINUX.munmap(address, length);
    }

    @Override
    public synchronized int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        final String kind = kind(fd);
        if (request == PrivcmdMmapBatchV2.IOCTL_PRIVCMD_MMAPBATCH_V2 && kind.equals("privcmd"))
        {
            return mmapBatch(arg.reinterpret(PrivcmdMmapBatchV2.SIZE));
        }
        if (request == GntdevMapGrantRef.IOCTL_GNTDEV_MAP_GRANT_REF && kind.equals("gntdev"))
        {
            final int count = arg.reinterpret(GntdevMapGrantRef.HEADER).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
            if (count <= 0 || count > 1 << 20)
            {
                return -EINVAL;
            }
            final MemorySegment s = arg.reinterpret(GntdevMapGrantRef.size(count));
            calls.add(new Call("MAP_GRANT_REF", request, s.toArray(ValueLayout.JAVA_BYTE)));
            final GntdevMapGrantRef req = new GntdevMapGrantRef().wrap(s);
            final int[] domids = new int[count];
            final int[] refs = new int[count];
            for (int i = 0; i < count; i++)
            {
                domids[i] = req.domid(i);
                refs[i] = req.ref(i);
            }
            final long index = nextIndex;
            nextIndex += (long)count << 12;
            grantMaps.put(index, new GrantMap(count, domids, refs));
            req.index(index);
            return 0;
        }
        if (request == GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF && kind.equals("gntdev"))
        {
            final MemorySegment s = arg.reinterpret(GntdevUnmapGrantRef.SIZE);
            calls.add(new Call("UNMAP_GRANT_REF", request, s.toArray(ValueLayout.JAVA_BYTE)));
            final GntdevUnmapGrantRef req = new GntdevUnmapGrantRef().wrap(s);
            final GrantMap map = grantMaps.get(req.index());
            if (null == map)
            {
                return -ENOENT;
            }
            if (map.count() != req.count())
            {
                return -EINVAL;
            }
            grantMaps.remove(req.index());
            return 0;
        }
        calls.add(new Call("other on " + kind, request, new byte[0]));
        return -ENOTTY;
    }

    private int mmapBatch(final MemorySegment s)
    {
        calls.add(new Call("MMAPBATCH_V2", PrivcmdMmapBatchV2.IOCTL_PRIVCMD_MMAPBATCH_V2,
            s.toArray(ValueLayout.JAVA_BYTE)));
        final PrivcmdMmapBatchV2 batch = new PrivcmdMmapBatchV2().wrap(s);
        final long num = Integer.toUnsignedLong(batch.num());
        final Long vma = privcmdVmas.get(batch.addr());
        if (null == vma || vma != num << 12)
        {
            return -EINVAL;
        }
        final MemorySegment arr = MemorySegment.ofAddress(batch.arr()).reinterpret(8 * num);
        final MemorySegment err = MemorySegment.ofAddress(batch.err()).reinterpret(4 * num);
        final long ramPages = view.length() >>> 12;
        for (long i = 0; i < num; i++)
        {
            final long gfn = arr.getAtIndex(ValueLayout.JAVA_LONG, i);
            final int e;
            if (batch.dom() != domid)
            {
                e = -ESRCH;
            }
            else if (gfn < RAM_GFN || gfn - RAM_GFN >= ramPages)
            {
                e = -EINVAL;
            }
            else
            {
                e = mapGuestPage(batch.addr() + (i << 12), gfn << 12) < 0 ? -EFAULT : 0;
            }
            err.setAtIndex(ValueLayout.JAVA_INT, i, e);
        }
        return 0;
    }

    @Override
    public void close()
    {
        view.close();
        ram.close();
    }
}
