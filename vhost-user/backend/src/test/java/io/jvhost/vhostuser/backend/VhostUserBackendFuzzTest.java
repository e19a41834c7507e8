package io.jvhost.vhostuser.backend;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.fuzz.ErrorLog;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.memory.xen.FakeXen;
import io.jvhost.device.VirtioDevice;
import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the vhost-user back-end's request handling over a real socket pair: messages with any request code, flags,
 * payload and 0-3 descriptors (eventfds, a memfd of guest RAM, /dev/null), in any order, plus structured memory
 * tables and ring set-ups pointing into that memfd, whose bytes the input also writes, so workers walk fuzzed rings
 * in real mapped memory. Each message is followed by a GET_FEATURES probe that separates its replies: at most one,
 * well-formed (REPLY flag, version 1, the request's code, a bounded size), and exactly one when the request asks for
 * one (a GET that always answers, or NEED_REPLY with REPLY_ACK), unless the back-end ends the connection. The
 * messages go out without waiting for their replies (read and checked in order, at most {@link #WINDOW} behind, and
 * all of them before the input writes guest RAM and at the end), so a message costs no round trip; what the back-end
 * sees is the same stream, and a write into guest RAM still lands after every earlier message was handled.
 * <p>
 * The input's first choice is whether the connection negotiates VHOST_USER_PROTOCOL_F_XEN_MMAP: then memory tables
 * and ADD/REM_MEM_REG use 40-byte region entries with fuzzed Xen flags (the valid ones and any) and domain ids, the
 * descriptors include the in-process fake's privcmd and gntdev ({@link FakeXen}, whose guest RAM is the memory the
 * input writes, with references 0-15 granting its 16 pages), and once the connection is over every grant mapping
 * the back-end made is undone.
 * <p>
 * Each input is one connection to a serving loop that lives across inputs and does what {@link VhostUserDaemon} does
 * for each front-end: a new back-end (its worker threads and descriptors are part of what must not leak), serve until
 * the front-end leaves, close it. The negotiation's replies (the offered features, nothing else) show each new
 * connection is served. Once the front-end has left the harness waits for the back-end to have closed (serve
 * returned; workers joined; memory released), then checks no grant map or privcmd mapping is left, no mapping a
 * region made is left ({@link #noRegionStillMapped}: every mapping {@link MemoryRegion} reported during the input,
 * plain, foreign or grant, is gone or no longer guest RAM) and the process holds exactly the descriptors it held
 * before. What only drives it is built once per process and put back to a verified state per input: the guest RAM
 * memfd and the Xen fake (zeroed; still their size; the fake with no grant map or privcmd mapping left). The
 * descriptor count an input starts with is the one the previous input ended with (counted once per input, not
 * twice).
 */
class VhostUserBackendFuzzTest
{
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final long RAM = 64 * 1024;
    private static final long UADDR = 0x7F00_0000_0000L;
    private static final int DOMID = 9;
    private static final long GRANT = 1L << 63;
    private static final int[] XEN_FLAGS = {0x0, 0x1, 0x2, 0xa, 0x102};
    private static final int TIMEOUT_MS = 10_000;
    /**
     * Requests sent whose replies are not yet read, at most: with their probes and replies well within the socket
     * buffers both ways (a back-end blocked on a full buffer while we are would deadlock).
     */
    private static final int WINDOW = 32;
    private static final int[] ALWAYS_ANSWERED = {FrontendRequest.GET_FEATURES, FrontendRequest.GET_PROTOCOL_FEATURES,
        FrontendRequest.GET_QUEUE_NUM, FrontendRequest.GET_MAX_MEM_SLOTS};

    /**
     * What jvhost logs at ERROR during an input: a front-end's messages are answered (refused with a WARNING at most),
     * never an error of ours. While fuzzing ({@code JAZZER_FUZZ} set) only errors are logged at all, as in the device
     * harnesses: the back-end's WARNING per refused request, formatted and written to the test's output, was most of
     * an execution's time. Replaying leaves the levels alone.
     */
    private static final ErrorLog ERRORS = ErrorLog.install();
    /** Guest RAM without Xen; the Xen fake (its own RAM); the thread serving each connection: kept across inputs. */
    private static final MemFd GUEST_RAM;
    private static final MappedMemory GUEST_VIEW;
    private static final FakeXen XEN;
    /** What a back-end of the device offers (the same for every connection). */
    private static final long FEATURES;
    private static final long PROTOCOL_FEATURES;
    private static final ExecutorService SERVER = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform()
        .name("fuzz-serve").daemon().unstarted(r));
    /** struct stat, and where {@link #openFds()} reads in it (x86_64; else the generic layout of aarch64). */
    private static final MemorySegment STAT = Arena.global().allocate(LibC.STAT_SIZE, 8);
    private static final boolean X86_64 = "amd64".equals(System.getProperty("os.arch"));
    private static final long ST_NLINK = X86_64 ? 16 : 20;
    private static final long ST_MODE = X86_64 ? 24 : 16;
    private static final long ST_RDEV = X86_64 ? 40 : 32;
    private static final int S_IFMT = 0xF000;
    private static final int S_IFSOCK = 0xC000;
    private static final int S_IFREG = 0x8000;
    private static final int S_IFCHR = 0x2000;
    private static final long DEV_NULL = 0x103;
    /** The descriptor count the last input ended with (a passing one), or -1: count before this input. */
    private static int fdsAfterLast = -1;
    /** Every mapping the back-end's regions made during the input ({@link MemoryRegion#observeMappings}). */
    private static final Mappings MAPPINGS = new Mappings();
    /** The inodes of the two guest RAM memfds, what a region left mapped would still map. */
    private static final long RAM_INODE;
    private static final long XEN_RAM_INODE;
    private static final long ST_INO = 8;
    /** mincore(2) with errno, and its vector: one byte per page, {@link #MINCORE_PAGES} pages per call. */
    private static final MethodHandle MINCORE = Linker.nativeLinker().downcallHandle(
        Linker.nativeLinker().defaultLookup().findOrThrow("mincore"),
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
        Linker.Option.captureCallState("errno"));
    private static final MemorySegment ERRNO_STATE = Arena.global().allocate(Linker.Option.captureStateLayout());
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout()
        .varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final long MINCORE_PAGES = 4096;
    private static final MemorySegment MINCORE_VEC = Arena.global().allocate(MINCORE_PAGES);
    private static final int ENOMEM = 12;

    static
    {
        try
        {
            GUEST_RAM = MemFd.create("fuzz-ram", RAM);
            GUEST_VIEW = GUEST_RAM.map();
            XEN = new FakeXen(DOMID, RAM);
            LibC.fstat(GUEST_RAM.fd(), STAT);
            RAM_INODE = STAT.get(ValueLayout.JAVA_LONG, ST_INO);
            LibC.fstat(XEN.ramFd(), STAT);
            XEN_RAM_INODE = STAT.get(ValueLayout.JAVA_LONG, ST_INO);
            MemoryRegion.observeMappings(MAPPINGS);
            try (VhostUserBackend backend = new VhostUserBackend("fuzz", new DrainingDevice(), null, XEN))
            {
                FEATURES = backend.offeredFeatures();
                PROTOCOL_FEATURES = backend.offeredProtocolFeatures();
            }
        }
        catch (final IOException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void everyRequestGetsAtMostOneWellFormedReplyAndNothingLeaks(final FuzzedDataProvider data) throws Throwable
    {
        final int fdsBefore = fdsAfterLast >= 0 ? fdsAfterLast : openFds();
        fdsAfterLast = -1;
        ERRORS.clear();
        MAPPINGS.clear();
        final boolean xenMmap = data.consumeBoolean();
        // The state every input starts from: zeroed RAM of its size, a fake with nothing mapped and 16 pages granted.
        GUEST_VIEW.segment().fill((byte)0);
        assertThat(LibC.fileSize(GUEST_RAM.fd())).as("guest RAM size").isEqualTo(RAM);
        assertThat(LibC.fileSize(XEN.ramFd())).as("Xen guest RAM size").isEqualTo(RAM);
        XEN.reset();
        for (int ref = 0; ref < RAM / 4096; ref++)
        {
            XEN.grant(ref, FakeXen.RAM_GPA + ref * 4096L);
        }
        fuzzConnection(data, xenMmap ? XEN : null);
        // The connection is over and its back-end closed (workers joined, memory table released, descriptors closed).
        assertThat(XEN.outstandingGrantMaps()).as("grant maps after the back-end closed").isZero();
        XEN.reset(); // fails when a privcmd mapping is left
        noRegionStillMapped();
        final int fdsAfter = openFds();
        assertThat(fdsAfter).as("descriptors after the back-end closed").isEqualTo(fdsBefore);
        assertThat(ERRORS.messages()).as("errors logged while serving a front-end's messages").isEmpty();
        fdsAfterLast = fdsAfter;
    }

    /**
     * One connection, served as {@link VhostUserDaemon} serves each front-end: a new back-end on the serve thread,
     * closed when the front-end has gone. The input's messages are sent without waiting for the back-end, each
     * followed by a GET_FEATURES probe; the replies are read and checked in order, at most {@link #WINDOW} messages
     * behind, before a write into guest RAM (so it lands after every earlier message was handled, as when each
     * message was a round trip) and at the end.
     *
     * @param xen the fake when the connection negotiates XEN_MMAP, else null.
     */
    private static void fuzzConnection(final FuzzedDataProvider data, final FakeXen xen) throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        final Future<?> server = serve(pair[0]);
        final Message out = new Message(MessageHeader.MAX_PAYLOAD);
        final MemFd ram = GUEST_RAM;
        final MappedMemory view = GUEST_VIEW;
        try (UnixSocket front = pair[1])
        {
            front.setReceiveTimeout(TIMEOUT_MS);
            final VhostUserConnection conn = new VhostUserConnection(front, false);
            final Replies replies = new Replies(conn);
            boolean replyAck = negotiate(conn, out, null != xen);
            final MemorySegment guest = null != xen ? xen.ram() : view.segment();
            final int ramFd = null != xen ? xen.ramFd() : ram.fd();
            while (data.remainingBytes() > 0 && !replies.ended)
            {
                final int request = null != xen ? xenMessage(data, out, guest, replies)
                    : message(data, out, guest, replies);
                if (!replies.room())
                {
                    break;
                }
                final int[] fds = descriptors(data, ramFd, request, xen);
                final int flags = out.flags();
                if (request == FrontendRequest.SET_PROTOCOL_FEATURES || request == FrontendRequest.SET_FEATURES
                    || request == FrontendRequest.RESET_OWNER || request == FrontendRequest.RESET_DEVICE)
                {
                    replyAck = false; // no longer sure what was negotiated: check only what always holds
                }
                try
                {
                    conn.send(out, fds, fds.length);
                    out.header(FrontendRequest.GET_FEATURES, MessageHeader.VERSION, 0);
                    conn.send(out);
                }
                catch (final IOException e)
                {
                    break; // the back-end ended the connection: what follows checks it did so cleanly
                }
                finally
                {
                    for (final int fd : fds)
                    {
                        LibC.closeQuietly(fd);
                    }
                }
                replies.expect(request, flags, wantsReply(request, flags, replyAck));
            }
            // The front-end leaves; the back-end closes, then its side of the socket: end of stream after the replies.
            LibC.shutdownQuietly(front.fd(), LibC.SHUT_WR);
            replies.all();
        }
        finally
        {
            ended(server, "serve() returned after the front-end left");
        }
    }

    /**
     * The replies still due, in the order their requests were sent, checked as they are read: each request's replies
     * end at its GET_FEATURES probe's answer.
     */
    private static final class Replies
    {
        private final VhostUserConnection conn;
        private final Message in = new Message(MessageHeader.MAX_PAYLOAD);
        private final int[] requests = new int[WINDOW];
        private final int[] flags = new int[WINDOW];
        private final boolean[] wanted = new boolean[WINDOW];
        private int head;
        private int count;
        private boolean negotiated;
        /** The back-end ended the connection: what is still due is not checked. */
        boolean ended;

        Replies(final VhostUserConnection conn)
        {
            this.conn = conn;
        }

        void expect(final int request, final int requestFlags, final boolean wantsReply)
        {
            final int at = (head + count) % WINDOW;
            requests[at] = request;
            flags[at] = requestFlags;
            wanted[at] = wantsReply;
            count++;
        }

        /**
         * @return false when the connection ended while making room for one more request.
         */
        boolean room() throws IOException
        {
            while (count >= WINDOW && !ended)
            {
                next();
            }
            return !ended;
        }

        /** Reads and checks every reply due (the barrier before a write into guest RAM, and at the end). */
        void all() throws IOException
        {
            if (!negotiated && !ended)
            {
                negotiation();
            }
            while (count > 0 && !ended)
            {
                next();
            }
            count = 0;
            in.fds().closeRemaining();
        }

        /** GET_FEATURES and GET_PROTOCOL_FEATURES answer what the back-end offers, and nothing else answers. */
        private void negotiation() throws IOException
        {
            negotiated = true;
            assertThat(receive(conn, in)).as("a fresh front-end is answered").isTrue();
            assertThat(in.request()).as("first reply").isEqualTo(FrontendRequest.GET_FEATURES);
            assertThat(in.flags()).as("GET_FEATURES reply flags").isEqualTo(MessageHeader.REPLY_FLAGS);
            assertThat(in.u64(0)).as("features offered").isEqualTo(FEATURES);
            assertThat(VirtioFeatures.has(in.u64(0), VirtioFeatures.VERSION_1)).isTrue();
            in.fds().closeRemaining();
            assertThat(receive(conn, in)).as("GET_PROTOCOL_FEATURES answered").isTrue();
            assertThat(in.request()).as("second reply").isEqualTo(FrontendRequest.GET_PROTOCOL_FEATURES);
            assertThat(in.flags()).as("GET_PROTOCOL_FEATURES reply flags").isEqualTo(MessageHeader.REPLY_FLAGS);
            assertThat(in.u64(0)).as("protocol features offered").isEqualTo(PROTOCOL_FEATURES);
            assertThat(ProtocolFeature.has(in.u64(0), ProtocolFeature.XEN_MMAP)).as("XEN_MMAP offered").isTrue();
        }

        /** The oldest request's replies up to its probe's answer: at most one, exactly one when due. */
        private void next() throws IOException
        {
            if (!negotiated)
            {
                negotiation();
            }
            final int request = requests[head];
            final int requestFlags = flags[head];
            final boolean wantsReply = wanted[head];
            head = (head + 1) % WINDOW;
            count--;
            int replies = 0;
            while (true)
            {
                in.fds().closeRemaining();
                if (!receive(conn, in))
                {
                    ended = true;
                    return;
                }
                assertThat(in.flags()).as("reply flags to %s", FrontendRequest.name(request))
                    .isEqualTo(MessageHeader.REPLY_FLAGS);
                if (in.request() == FrontendRequest.GET_FEATURES && (replies > 0
                    || request != FrontendRequest.GET_FEATURES))
                {
                    break; // the probe's answer
                }
                assertThat(in.request()).as("reply to %s", FrontendRequest.name(request)).isEqualTo(request);
                replies++;
                assertThat(replies).as("replies to %s", FrontendRequest.name(request)).isEqualTo(1);
            }
            if (wantsReply)
            {
                assertThat(replies).as("replies to %s (flags 0x%x)", FrontendRequest.name(request), requestFlags)
                    .isEqualTo(1);
            }
        }
    }

    /**
     * GET_FEATURES, SET_FEATURES with what the back-end offers (PROTOCOL_FEATURES among it), GET_PROTOCOL_FEATURES,
     * then SET_PROTOCOL_FEATURES with every protocol feature offered (XEN_MMAP only when {@code xenMmap}); the
     * replies are checked by {@link Replies} before the first probe's.
     */
    private static boolean negotiate(final VhostUserConnection conn, final Message out, final boolean xenMmap)
        throws IOException
    {
        out.header(FrontendRequest.GET_FEATURES, MessageHeader.VERSION, 0);
        conn.send(out);
        out.header(FrontendRequest.SET_FEATURES, MessageHeader.VERSION, 8).u64(0, FEATURES);
        conn.send(out);
        out.header(FrontendRequest.GET_PROTOCOL_FEATURES, MessageHeader.VERSION, 0);
        conn.send(out);
        final long protocol = xenMmap ? PROTOCOL_FEATURES
            : PROTOCOL_FEATURES & ~ProtocolFeature.bit(ProtocolFeature.XEN_MMAP);
        out.header(FrontendRequest.SET_PROTOCOL_FEATURES, MessageHeader.VERSION, 8).u64(0, protocol);
        conn.send(out);
        return ProtocolFeature.has(protocol, ProtocolFeature.REPLY_ACK);
    }

    private static boolean wantsReply(final int request, final int flags, final boolean replyAck)
    {
        for (final int r : ALWAYS_ANSWERED)
        {
            if (r == request)
            {
                return true;
            }
        }
        return replyAck && (flags & MessageHeader.NEED_REPLY) != 0;
    }

    /** Fills {@code out} with the next message; may also write fuzzed bytes into guest RAM. */
    private static int message(final FuzzedDataProvider data, final Message out, final MemorySegment ram,
        final Replies replies) throws IOException
    {
        final int flags = data.consumeBoolean() ? MessageHeader.VERSION | data.consumeInt(0, 1) * MessageHeader.NEED_REPLY
            : data.consumeInt();
        switch (data.consumeInt(0, 4))
        {
            case 0 ->
            {
                final long gpa = data.consumeBoolean() ? 0 : data.consumeLong();
                final long size = data.consumeBoolean() ? RAM : data.consumeLong(0, 2 * RAM);
                final long offset = data.consumeBoolean() ? 0 : data.consumeLong(0, 2 * RAM);
                out.header(FrontendRequest.SET_MEM_TABLE, flags, 8 + 32).u32(0, 1).u32(4, 0)
                    .u64(8, gpa).u64(16, size).u64(24, UADDR).u64(32, offset);
                return FrontendRequest.SET_MEM_TABLE;
            }
            case 1 ->
            {
                final int queue = data.consumeInt(0, 2);
                final int what = data.consumeInt(0, 4);
                final int request = new int[] {FrontendRequest.SET_VRING_NUM, FrontendRequest.SET_VRING_ADDR,
                    FrontendRequest.SET_VRING_BASE, FrontendRequest.SET_VRING_KICK,
                    FrontendRequest.SET_VRING_ENABLE}[what];
                if (request == FrontendRequest.SET_VRING_ADDR)
                {
                    out.header(request, flags, 40).u32(0, queue).u32(4, data.consumeInt(0, 1))
                        .u64(8, UADDR + data.consumeLong(0, RAM)).u64(16, UADDR + data.consumeLong(0, RAM))
                        .u64(24, UADDR + data.consumeLong(0, RAM)).u64(32, 0);
                }
                else
                {
                    out.header(request, flags, 8).u32(0, queue).u32(4, data.consumeInt(0, 256));
                }
                return request;
            }
            case 2 ->
            {
                final byte[] bytes = data.consumeBytes(data.consumeInt(0, 512));
                final long at = data.consumeLong(0, RAM - bytes.length);
                replies.all(); // every earlier message handled, as if each had been a round trip
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ram, at, bytes.length);
                out.header(FrontendRequest.GET_FEATURES, MessageHeader.VERSION, 0);
                return FrontendRequest.GET_FEATURES;
            }
            default ->
            {
                final int request = data.consumeBoolean() ? data.consumeInt(1, FrontendRequest.GET_SHMEM_CONFIG)
                    : data.consumeInt();
                final byte[] payload = data.consumeBytes(data.consumeInt(0, 300));
                out.header(request, flags, payload.length);
                MemorySegment.copy(MemorySegment.ofArray(payload), 0, out.payload(0, payload.length), 0,
                    payload.length);
                return request;
            }
        }
    }

    /**
     * With XEN_MMAP: SET_MEM_TABLE (1-2 regions), ADD_MEM_REG or REM_MEM_REG in the 40-byte layout, flags and domain
     * ids valid or fuzzed, addresses in the fake guest's RAM, its grant window or anywhere; else {@link #message}.
     */
    private static int xenMessage(final FuzzedDataProvider data, final Message out, final MemorySegment ram,
        final Replies replies) throws IOException
    {
        final int what = data.consumeInt(0, 3);
        if (what == 3)
        {
            return message(data, out, ram, replies);
        }
        final int flags = data.consumeBoolean() ? MessageHeader.VERSION | data.consumeInt(0, 1) * MessageHeader.NEED_REPLY
            : data.consumeInt();
        final int regions = what == 0 ? data.consumeInt(1, 2) : 1;
        final int request = new int[] {FrontendRequest.SET_MEM_TABLE, FrontendRequest.ADD_MEM_REG,
            FrontendRequest.REM_MEM_REG}[what];
        // SET_MEM_TABLE: u32 nregions, u32 padding; ADD/REM_MEM_REG: u64 padding. Regions from byte 8.
        out.header(request, flags, 8 + 40 * regions).u64(0, what == 0 ? regions : 0);
        for (int i = 0; i < regions; i++)
        {
            final int at = 8 + 40 * i;
            final int xenFlags = data.consumeBoolean() ? XEN_FLAGS[data.consumeInt(0, XEN_FLAGS.length - 1)]
                : data.consumeInt();
            final long gpa = switch (data.consumeInt(0, 2))
            {
                case 0 -> FakeXen.RAM_GPA + data.consumeLong(0, RAM / 4096) * 4096;
                case 1 -> GRANT | data.consumeLong(0, RAM / 4096) << 12;
                default -> data.consumeLong();
            };
            final long size = data.consumeBoolean() ? 4096L * data.consumeInt(1, (int)(RAM / 4096))
                : data.consumeLong(0, 2 * RAM);
            out.u64(at, gpa).u64(at + 8, size).u64(at + 16, UADDR + 0x10_0000L * i)
                .u64(at + 24, data.consumeBoolean() ? 0 : data.consumeLong(0, 2 * RAM)).u32(at + 32, xenFlags)
                .u32(at + 36, data.consumeBoolean() ? DOMID : data.consumeInt());
        }
        return request;
    }

    /** 0-3 descriptors of ours to pass (the caller closes them after sending); with {@code xen} its devices too. */
    private static int[] descriptors(final FuzzedDataProvider data, final int ramFd, final int request,
        final FakeXen xen) throws IOException
    {
        final boolean memory = request == FrontendRequest.SET_MEM_TABLE || request == FrontendRequest.ADD_MEM_REG;
        final int count = memory && data.consumeBoolean() ? (request == FrontendRequest.SET_MEM_TABLE
            && null != xen ? data.consumeInt(1, 2) : 1) : data.consumeInt(0, 3);
        final int[] fds = new int[count];
        for (int i = 0; i < count; i++)
        {
            fds[i] = switch (data.consumeInt(0, null != xen ? 4 : 2))
            {
                // A second descriptor of the same RAM (the back-end maps what the input wrote there).
                case 0 -> LibC.open("/proc/self/fd/" + ramFd, O_RDWR | O_CLOEXEC);
                case 1 -> eventFd();
                case 3 -> xen.openPrivcmd();
                case 4 -> xen.openGntdev();
                default -> LibC.open("/dev/null", O_RDONLY | O_CLOEXEC);
            };
        }
        return fds;
    }

    /** An eventfd whose descriptor the caller closes (the EventFd object is dropped unclosed on purpose). */
    private static int eventFd() throws IOException
    {
        return EventFd.create().fd();
    }

    /**
     * Serves {@code socket}'s connection on the one serve thread as {@link VhostUserDaemon} serves a front-end: a new
     * back-end, closed (workers stopped and joined, memory released, descriptors closed) before its socket is.
     */
    private static Future<?> serve(final UnixSocket socket)
    {
        return SERVER.submit(() ->
        {
            try (VhostUserConnection conn = new VhostUserConnection(socket, true);
                 VhostUserBackend backend = new VhostUserBackend("fuzz", new DrainingDevice(), null, XEN))
            {
                backend.serve(conn);
            }
            catch (final IOException e)
            {
                // The back-end refused something and ended the connection: allowed, and what the harness checks.
            }
            return null;
        });
    }

    /**
     * Waits for {@code serve} to return (it must, the front-end has gone) and rethrows what it threw but an
     * IOException: an Error or RuntimeException of the back-end's is a finding.
     */
    private static void ended(final Future<?> server, final String what) throws Exception
    {
        try
        {
            server.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final TimeoutException e)
        {
            throw new AssertionError(what + ": still serving after " + TIMEOUT_MS + " ms", e);
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof Error error)
            {
                throw error;
            }
            throw (Exception)e.getCause();
        }
    }

    /** The mappings regions made during an input, as (address, length) pairs: told on the serve thread. */
    private static final class Mappings implements MemoryRegion.MappingObserver
    {
        private long[] ranges = new long[32];
        private int count;

        @Override
        public synchronized void mapped(final long address, final long length)
        {
            if (count == ranges.length)
            {
                ranges = Arrays.copyOf(ranges, 2 * count);
            }
            ranges[count++] = address;
            ranges[count++] = length;
        }

        synchronized void clear()
        {
            count = 0;
        }

        synchronized long[] toArray()
        {
            return Arrays.copyOf(ranges, count);
        }
    }

    /**
     * Once the back-end has closed, nothing a region mapped may still map guest RAM (a mapping holds no descriptor,
     * so the census does not see one left behind). Each mapping reported during the input is looked at with
     * mincore(2), which fails with ENOMEM when any page of the range is unmapped: a mapping left behind is whole, so
     * that settles almost every range at one system call. Only when the whole range is mapped again (the JVM may have
     * reused the address) does /proc/self/maps say what is there: a failure only when it is one of the guest RAM
     * memfds (its inode), the harness's RAM or the Xen fake's (whose pages foreign and grant regions map).
     */
    private static void noRegionStillMapped() throws Throwable
    {
        final long[] ranges = MAPPINGS.toArray();
        for (int i = 0; i < ranges.length; i += 2)
        {
            if (whollyMapped(ranges[i], ranges[i + 1]))
            {
                final String vma = guestRamIn(ranges[i], ranges[i + 1]);
                assertThat(vma).as("guest RAM still mapped where a region was mapped, at 0x%x, %d bytes, after the"
                    + " back-end closed", ranges[i], ranges[i + 1]).isNull();
            }
        }
    }

    private static boolean whollyMapped(final long address, final long length) throws Throwable
    {
        for (long at = 0; at < length; at += MINCORE_PAGES * 4096)
        {
            final long chunk = Math.min(length - at, MINCORE_PAGES * 4096);
            final int rc = (int)MINCORE.invokeExact(ERRNO_STATE, MemorySegment.ofAddress(address + at), chunk,
                MINCORE_VEC);
            if (rc != 0)
            {
                final int errno = (int)ERRNO.get(ERRNO_STATE, 0L);
                assertThat(errno).as("mincore(0x%x, %d): %s", address + at, chunk, Errno.name(errno))
                    .isEqualTo(ENOMEM);
                return false;
            }
        }
        return true;
    }

    /**
     * @return the line of /proc/self/maps of a mapping of either guest RAM memfd within {@code [address, address +
     *     length)}, or null.
     */
    private static String guestRamIn(final long address, final long length) throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc/self/maps")))
        {
            // start-end perms offset dev inode [path]
            final String[] f = line.trim().split("\\s+", 6);
            final int dash = f[0].indexOf('-');
            final long start = Long.parseUnsignedLong(f[0], 0, dash, 16);
            final long end = Long.parseUnsignedLong(f[0], dash + 1, f[0].length(), 16);
            final long inode = Long.parseLong(f[4]);
            if (Long.compareUnsigned(start, address + length) < 0 && Long.compareUnsigned(address, end) < 0
                && (inode == RAM_INODE || inode == XEN_RAM_INODE) && f.length > 5 && f[5].contains("memfd:"))
            {
                return line;
            }
        }
        return null;
    }

    private static boolean receive(final VhostUserConnection conn, final Message in) throws IOException
    {
        try
        {
            return conn.receive(in);
        }
        catch (final IOException e)
        {
            if (Objects.toString(e.getMessage(), "").contains("timed out") || e.getMessage() == null)
            {
                throw e;
            }
            return false; // reset by the back-end closing with our data unread
        }
    }

    /**
     * @return the descriptors of the kinds a back-end or this harness opens (sockets, eventfds, epoll, memfds,
     *     /dev/null): the JVM's own (jar files it opens and closes lazily) would make the count noisy. Told apart by
     *     fstat(2) into a buffer kept for the purpose (a readlink of each of the JVM's 60 descriptors was a third of
     *     an execution): a socket; an anonymous inode (no file type: eventfd, epoll); a regular file with no link (a
     *     memfd); the character device 1:3 (/dev/null).
     */
    private static int openFds()
    {
        int count = 0;
        for (final String name : Objects.requireNonNull(new File("/proc/self/fd").list()))
        {
            try
            {
                LibC.fstat(Integer.parseInt(name), STAT);
            }
            catch (final NativeException closedMeanwhile)
            {
                continue; // the listing's own descriptor, or one another thread closed
            }
            final int type = STAT.get(ValueLayout.JAVA_INT, ST_MODE) & S_IFMT;
            if (type == S_IFSOCK || type == 0 || type == S_IFREG && (X86_64 ? STAT.get(ValueLayout.JAVA_LONG, ST_NLINK)
                : STAT.get(ValueLayout.JAVA_INT, ST_NLINK)) == 0
                || type == S_IFCHR && STAT.get(ValueLayout.JAVA_LONG, ST_RDEV) == DEV_NULL)
            {
                count++;
            }
        }
        return count;
    }

    /** Takes every chain, reads it whole and returns it: the device is not under test. */
    private static final class DrainingDevice implements VirtioDevice
    {
        private final MemorySegment scratch = MemorySegment.ofArray(new byte[4096]);

        @Override
        public int deviceType()
        {
            return 4;
        }

        @Override
        public String name()
        {
            return "draining";
        }

        @Override
        public int queueCount()
        {
            return 2;
        }

        @Override
        public int maxQueueSize()
        {
            return 256;
        }

        @Override
        public long features()
        {
            return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);
        }

        @Override
        public void processQueue(final DeviceQueue queue)
        {
            for (DescriptorChain chain; (chain = queue.next()) != null; )
            {
                final ChainReader reader = chain.reader();
                try
                {
                    while (reader.remaining() > 0)
                    {
                        reader.read(scratch, 0, Math.min(reader.remaining(), scratch.byteSize()));
                    }
                }
                catch (final Exception e)
                {
                    throw new AssertionError("reading a valid chain failed: " + chain, e);
                }
                queue.complete(chain, 0);
            }
        }
    }
}
