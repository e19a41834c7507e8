package io.jvhost.benchmarks.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.benchmarks.BackendCommands;
import io.jvhost.benchmarks.CpuTime;
import io.jvhost.benchmarks.BenchOptions;
import io.jvhost.benchmarks.MachineInfo;
import io.jvhost.benchmarks.MarkdownSplice;
import io.jvhost.vhostuser.frontend.BackendProcess;

/**
 * Guest-level benchmarks: jvhost's back-ends against their peers, each pair measured in one run, through a real QEMU
 * guest (KVM when the host has it).
 * <ul>
 *   <li><b>vsock</b>: host to guest and guest to host throughput over hybrid vsock (one connection, {@code --vsock-mib}
 *   MiB each way, repeated), and the back-end's CPU time per MiB, jvhost vsock and, given {@code --peer-vsock CMD},
 *   a peer such as rust-vmm's vhost-device-vsock (same flags; by default the one in the rust-peers cache, see
 *   {@link BackendCommands#rustPeersBin()}, when it has been built);</li>
 *   <li><b>scsi</b>: sequential (1 MiB) and 4 KiB random O_DIRECT reads in the guest of one image file, served by
 *   jvhost scsi as vhost-user-scsi-pci and by {@code qemu-storage-daemon} as vhost-user-blk-pci (the closest
 *   well-kept peer), both disks in the same guest, measured alternately.</li>
 * </ul>
 * The report goes to stdout (and {@code --out}, and between the {@code guestbench} markers of {@code --update-doc}).
 */
public final class GuestBench
{
    private static final String BEGIN = "<!-- guestbench:begin -->";
    private static final String END = "<!-- guestbench:end -->";
    private static final int VSOCK_PORT = 1234;
    private static final String USAGE = """
        usage: GuestBench [options]
          --root DIR           the jvhost checkout (default: .)
          --sections LIST      vsock,scsi (default: both)
          --quick              a short validation run (small sizes, one repeat); its figures are not measurements
          --repeats N          measurements per figure, the median is reported (default 3)
          --vsock-mib N        MiB per vsock transfer (default 256)
          --image-mib N        the scsi image's size (default 512)
          --rand-ms N          milliseconds of random reads per measurement (default 5000)
          --jvhost CMD         how to start jvhost (default: {java} --enable-native-access=ALL-UNNAMED
                               @{root}/launcher/jvm.options [-XX:AOTCache=...] -jar {root}/launcher/target/jvhost.jar)
          --peer-vsock CMD     a peer vsock back-end taking vhost-device-vsock's flags (e.g. the path of
                               vhost-device-vsock); default: vhost-device-vsock in $RUST_PEERS_HOME/bin (else
                               ~/.cache/jvhost/rust-peers/bin) when built; "none" (or no such binary) measures
                               jvhost alone
          --peer-vsock-name N  the peer's name in the report (default: CMD's program name)
        Commands are split on blanks (no quoting).
          --accel A            QEMU's accelerator: tcg (default; what the tests use) or kvm (where KVM guests work:
                               on hosts where it does, the only setting whose figures say much about the back-ends)
          --qsd PATH           qemu-storage-daemon (default: from PATH)
          --qemu PATH          qemu-system-x86_64 (default: $JVHOST_QEMU, else from PATH)
          --guest-dir DIR      the guest kernel of scripts/setup.sh guest (default: $JVHOST_GUEST_DIR, else
                               ~/.cache/jvhost/guest)
          --out FILE           also write the report here
          --update-doc FILE    replace the text between the guestbench markers of FILE with the report
        """;

    private Path root = Path.of(".");
    private final Set<String> sections = new LinkedHashSet<>(List.of("vsock", "scsi"));
    private boolean quick;
    private int repeats = 3;
    private long vsockMib = 256;
    private long imageMib = 512;
    private long randMs = 5000;
    private String jvhost;
    private String peerVsock;
    private String peerVsockName;
    private Path qsd;
    private String accel = "tcg";
    private Path qemu;
    private Path guestDir;
    private Path out;
    private Path updateDoc;
    private Path work;

    public static void main(final String[] args) throws Exception
    {
        final GuestBench b = new GuestBench();
        try
        {
            b.parse(args);
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("GuestBench: " + e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }
        System.exit(b.run());
    }

    private void parse(final String[] args)
    {
        BenchOptions.parse(args, USAGE, Set.of("--quick"), (a, v) ->
        {
            switch (a)
            {
                case "--quick" -> quick = true;
                case "--root" -> root = Path.of(v);
                case "--sections" ->
                {
                    sections.clear();
                    for (final String s : v.split(","))
                    {
                        if (!s.equals("vsock") && !s.equals("scsi"))
                        {
                            throw new IllegalArgumentException("--sections: no section '" + s + "' (vsock, scsi)");
                        }
                        sections.add(s);
                    }
                }
                case "--repeats" -> repeats = BenchOptions.positive(a, v);
                case "--vsock-mib" -> vsockMib = BenchOptions.positive(a, v);
                case "--image-mib" -> imageMib = BenchOptions.positive(a, v);
                case "--rand-ms" -> randMs = BenchOptions.positive(a, v);
                case "--jvhost" -> jvhost = v;
                case "--peer-vsock" -> peerVsock = v;
                case "--peer-vsock-name" -> peerVsockName = v;
                case "--qsd" -> qsd = Path.of(v);
                case "--accel" ->
                {
                    if (!v.equals("tcg") && !v.equals("kvm"))
                    {
                        throw new IllegalArgumentException("--accel must be tcg or kvm, got '" + v + "'");
                    }
                    accel = v;
                }
                case "--qemu" -> qemu = Path.of(v);
                case "--guest-dir" -> guestDir = Path.of(v);
                case "--out" -> out = Path.of(v);
                case "--update-doc" -> updateDoc = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        });
        if (quick)
        {
            repeats = 1;
            vsockMib = Math.min(vsockMib, 8);
            imageMib = Math.min(imageMib, 32);
            randMs = Math.min(randMs, 1000);
        }
    }

    private int run() throws Exception
    {
        root = root.toAbsolutePath().normalize();
        if (null == guestDir)
        {
            final String env = System.getenv("JVHOST_GUEST_DIR");
            guestDir = null != env ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache/jvhost/guest");
        }
        if (null == qemu)
        {
            final String env = System.getenv("JVHOST_QEMU");
            qemu = null != env ? Path.of(env) : onPath("qemu-system-x86_64");
        }
        if (null == qsd)
        {
            qsd = onPath("qemu-storage-daemon");
        }
        if (null == jvhost)
        {
            jvhost = BackendCommands.jvhost(root);
        }
        if (null == peerVsock)
        {
            peerVsock = BackendCommands.rustPeer("vhost-device-vsock").map(Path::toString).orElse(null);
        }
        else if (peerVsock.equals("none"))
        {
            peerVsock = null;
        }
        final List<String> missing = new ArrayList<>();
        if (null == qemu || !Files.isExecutable(qemu))
        {
            missing.add("no qemu-system-x86_64 (--qemu)");
        }
        if (!Files.isRegularFile(guestDir.resolve("vmlinuz")))
        {
            missing.add("no guest kernel in " + guestDir + " (scripts/setup.sh guest)");
        }
        if (sections.contains("scsi") && (null == qsd || !Files.isExecutable(qsd)))
        {
            missing.add("no qemu-storage-daemon (Debian: qemu-utils; --qsd)");
        }
        if (!missing.isEmpty())
        {
            System.err.println("GuestBench: " + String.join("; ", missing));
            return 2;
        }
        work = root.resolve("benchmarks/target/guestbench/work");
        Files.createDirectories(work);
        final Path tree = work.resolve("tree");
        BenchGuest.compile("guestbench.c", tree, "guestbench");

        final StringBuilder md = new StringBuilder();
        md.append(BEGIN).append("\n\n### Guest I/O (GuestBench)\n\n");
        md.append("Run ").append(Instant.now().toString(), 0, 16).append("Z on ").append(MachineInfo.cpuModel())
            .append(" (").append(MachineInfo.onlineCpus()).append(" CPUs), ").append(qemuVersion()).append(", guest ")
            .append(accel.equals("kvm") ? "KVM" : "**TCG** (the emulated guest bounds every figure; `--accel kvm` where"
                + " KVM works)")
            .append(", load average at start ").append(MachineInfo.loadAverage()).append(quick
                ? ".\n\n**--quick: a validation run, its figures are not measurements.**\n" : ".\n");
        int status = 0;
        for (final String s : sections)
        {
            try
            {
                md.append(s.equals("vsock") ? vsock(tree) : scsi(tree));
            }
            catch (final IOException | RuntimeException e)
            {
                status = 1;
                System.err.println("GuestBench: section " + s + " failed: " + e.getMessage());
                md.append("\n#### ").append(s).append("\n\nfailed: ").append(e.getMessage().lines().findFirst()
                    .orElse("")).append('\n');
            }
        }
        md.append('\n').append(END).append('\n');
        System.out.print(md);
        if (null != out)
        {
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, md, StandardCharsets.UTF_8);
        }
        if (null != updateDoc)
        {
            MarkdownSplice.splice(updateDoc, BEGIN, END, md.toString());
        }
        return status;
    }

    // ---------------------------------------------------------------- vsock

    /** One back-end's vsock figures: medians over the repeats. */
    private record VsockResult(String name, double toGuestMibS, double toHostMibS, double toGuestCpuMsPerMib,
        double toHostCpuMsPerMib)
    {
    }

    private String vsock(final Path tree) throws Exception
    {
        final long bytes = vsockMib << 20;
        final String init = prologue() + """
            i=0; while [ ! -e /dev/vsock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            for r in $(seq %d); do
              /bin/guestbench vsock-recv %d %d || echo "GB error recv"
              /bin/guestbench vsock-send %d %d || echo "GB error send"
            done
            echo "GB done"
            poweroff -f
            """.formatted(repeats, VSOCK_PORT, bytes, VSOCK_PORT, bytes);
        final Path initrd = BenchGuest.initramfs(root, guestDir, work, "vsock", init, tree, "virtio_pci",
            "vmw_vsock_virtio_transport");
        final List<VsockResult> results = new ArrayList<>();
        results.add(vsockRun("jvhost vsock", jvhost + " vsock", initrd, bytes));
        if (null != peerVsock)
        {
            results.add(vsockRun(null != peerVsockName ? peerVsockName
                : peerVsock.strip().split("\\s+")[0].replaceAll(".*/", ""), peerVsock, initrd, bytes));
        }
        final StringBuilder md = new StringBuilder();
        md.append("\n#### vsock, host ↔ guest\n\nOne stream over hybrid vsock (`--uds-path`), ").append(vsockMib)
            .append(" MiB each way, median of ").append(repeats).append(". Throughput from the host's accept to the"
                + " last byte (host to guest: to the guest's one-byte answer after it read everything); CPU: the back-end"
                + " process's user + system time over the same interval, per MiB moved.\n\n");
        md.append("| Back-end | host → guest MiB/s | guest → host MiB/s | CPU ms/MiB host → guest | CPU ms/MiB guest → host |\n");
        md.append("| --- | ---: | ---: | ---: | ---: |\n");
        for (final VsockResult r : results)
        {
            md.append("| ").append(r.name()).append(" | ").append(f1(r.toGuestMibS())).append(" | ")
                .append(f1(r.toHostMibS())).append(" | ").append(f2(r.toGuestCpuMsPerMib())).append(" | ")
                .append(f2(r.toHostCpuMsPerMib())).append(" |\n");
        }
        if (results.size() == 2)
        {
            final VsockResult j = results.get(0);
            final VsockResult p = results.get(1);
            md.append("| **jvhost / peer** | ").append(ratio(j.toGuestMibS(), p.toGuestMibS())).append(" | ")
                .append(ratio(j.toHostMibS(), p.toHostMibS())).append(" | ")
                .append(ratio(j.toGuestCpuMsPerMib(), p.toGuestCpuMsPerMib())).append(" | ")
                .append(ratio(j.toHostCpuMsPerMib(), p.toHostCpuMsPerMib())).append(" |\n");
        }
        else
        {
            md.append("| peer | not run (`--peer-vsock none`, or no vhost-device-vsock in ")
                .append(BackendCommands.rustPeersBin()).append(") | | | |\n");
        }
        return md.toString();
    }

    private VsockResult vsockRun(final String name, final String command, final Path initrd, final long bytes)
        throws Exception
    {
        final Path dir = Files.createDirectories(work.resolve("vsock-" + name.replaceAll("\\W", "_")));
        final Path socket = dir.resolve("vhost.sock");
        final Path uds = dir.resolve("vm.vsock");
        Files.deleteIfExists(Path.of(uds + "_" + VSOCK_PORT));
        final List<String> cmd = new ArrayList<>(List.of(command.strip().split("\\s+")));
        cmd.addAll(List.of("--guest-cid", "3", "--socket", socket.toString(), "--uds-path", uds.toString()));
        final double[] toGuest = new double[repeats];
        final double[] toHost = new double[repeats];
        final double[] toGuestCpu = new double[repeats];
        final double[] toHostCpu = new double[repeats];
        final double mib = bytes / (double)(1 << 20);
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + VSOCK_PORT)));
            try (BackendProcess backend = BackendProcess.start(cmd, socket, dir.resolve("backend.log"),
                Duration.ofSeconds(30));
                BenchGuest guest = BenchGuest.start(qemu, accel, guestDir.resolve("vmlinuz"), initrd, "256M",
                    List.of("-chardev", "socket,id=v,path=" + socket, "-device", "vhost-user-vsock-pci,chardev=v"),
                    dir.resolve("serial.log")))
            {
                final ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
                for (int r = 0; r < repeats; r++)
                {
                    try (SocketChannel c = accept(listener, guest))
                    {
                        final long cpu0 = CpuTime.ofTree(backend.pid());
                        final long t0 = System.nanoTime();
                        for (long sent = 0; sent < bytes;)
                        {
                            block.clear().limit((int)Math.min(block.capacity(), bytes - sent));
                            sent += c.write(block);
                        }
                        final ByteBuffer ack = ByteBuffer.allocate(1);
                        while (ack.hasRemaining() && c.read(ack) >= 0)
                        {
                            // The guest's answer once it read everything.
                        }
                        final long t = System.nanoTime() - t0;
                        toGuestCpu[r] = (CpuTime.ofTree(backend.pid()) - cpu0) / 1e6 / mib;
                        toGuest[r] = mib / (t / 1e9);
                    }
                    try (SocketChannel c = accept(listener, guest))
                    {
                        final long cpu0 = CpuTime.ofTree(backend.pid());
                        final long t0 = System.nanoTime();
                        long got = 0;
                        for (long n; (n = c.read(block.clear())) >= 0;)
                        {
                            got += n;
                        }
                        final long t = System.nanoTime() - t0;
                        if (got != bytes)
                        {
                            throw new IOException(name + ": guest to host moved " + got + " of " + bytes + " bytes");
                        }
                        toHostCpu[r] = (CpuTime.ofTree(backend.pid()) - cpu0) / 1e6 / mib;
                        toHost[r] = mib / (t / 1e9);
                    }
                }
                guest.next(Duration.ofSeconds(120));
                guest.awaitExit(Duration.ofSeconds(30));
            }
        }
        System.err.printf(Locale.ROOT, "GuestBench: %s: host->guest %s MiB/s, guest->host %s MiB/s%n", name,
            Arrays.toString(toGuest), Arrays.toString(toHost));
        return new VsockResult(name, BenchOptions.median(toGuest), BenchOptions.median(toHost),
            BenchOptions.median(toGuestCpu), BenchOptions.median(toHostCpu));
    }

    /**
     * @return the back-end's connection for the guest's next stream, within 10 minutes (a boot under TCG on a busy
     *     machine takes one or two).
     */
    private static SocketChannel accept(final ServerSocketChannel listener, final BenchGuest guest)
        throws IOException
    {
        listener.configureBlocking(false);
        try (Selector s = Selector.open())
        {
            listener.register(s, SelectionKey.OP_ACCEPT);
            if (s.select(Duration.ofMinutes(10).toMillis()) == 0)
            {
                throw new IOException("the guest did not connect within 10 minutes; its console ended with:\n"
                    + guest.tail(15));
            }
            final SocketChannel c = listener.accept();
            c.configureBlocking(true);
            return c;
        }
        finally
        {
            listener.configureBlocking(true);
        }
    }

    // ---------------------------------------------------------------- scsi

    private String scsi(final Path tree) throws Exception
    {
        final Path dir = Files.createDirectories(work.resolve("scsi"));
        final Path image = dir.resolve("disk.img");
        writeImage(image, imageMib << 20);
        final Path scsiSocket = dir.resolve("scsi.sock");
        final Path blkSocket = dir.resolve("blk.sock");
        final String init = prologue() + """
            for i in $(seq 1 300); do [ -e /sys/block/sda ] && [ -e /sys/block/vda ] && break; sleep 0.1; done
            [ -e /sys/block/sda ] && [ -e /sys/block/vda ] || echo "GB error no disks: $(ls /sys/block)"
            for r in $(seq %d); do
              if [ $((r %% 2)) = 1 ]; then order="sda vda"; else order="vda sda"; fi
              for d in $order; do echo "GB $d $(/bin/guestbench seq /dev/$d %d)"; done
              for d in $order; do echo "GB $d $(/bin/guestbench rand /dev/$d %d)"; done
            done
            echo "GB done"
            poweroff -f
            """.formatted(repeats, imageMib << 20, randMs);
        final Path initrd = BenchGuest.initramfs(root, guestDir, work, "scsi", init, tree, "virtio_pci", "virtio_scsi",
            "sd_mod", "virtio_blk");
        final List<String> scsiCmd = new ArrayList<>(List.of(jvhost.strip().split("\\s+")));
        scsiCmd.addAll(List.of("scsi", "-r", "--socket-path", scsiSocket.toString(), image.toString()));
        final List<String> qsdCmd = List.of(qsd.toString(),
            "--blockdev", "driver=file,node-name=disk,filename=" + image + ",read-only=on",
            "--export", "type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path=" + blkSocket);
        final List<Double> seqScsi = new ArrayList<>();
        final List<Double> seqBlk = new ArrayList<>();
        final List<Double> randScsi = new ArrayList<>();
        final List<Double> randBlk = new ArrayList<>();
        try (BackendProcess scsi = BackendProcess.start(scsiCmd, scsiSocket, dir.resolve("jvhost-scsi.log"),
            Duration.ofSeconds(30));
            BackendProcess blk = BackendProcess.start(qsdCmd, blkSocket, dir.resolve("qsd.log"),
                Duration.ofSeconds(30));
            BenchGuest guest = BenchGuest.start(qemu, accel, guestDir.resolve("vmlinuz"), initrd, "256M", List.of(
                "-chardev", "socket,id=s,path=" + scsiSocket, "-device", "vhost-user-scsi-pci,chardev=s",
                "-chardev", "socket,id=b,path=" + blkSocket, "-device", "vhost-user-blk-pci,chardev=b,num-queues=1"),
                dir.resolve("serial.log")))
        {
            final Pattern seq = Pattern.compile("GB (sda|vda) seq bytes=(\\d+) ns=(\\d+)");
            final Pattern rand = Pattern.compile("GB (sda|vda) rand reads=(\\d+) ns=(\\d+)");
            for (String line; !(line = guest.next(Duration.ofSeconds(600))).equals("GB done");)
            {
                final Matcher s = seq.matcher(line);
                final Matcher r = rand.matcher(line);
                if (s.matches())
                {
                    final double mibS = Long.parseLong(s.group(2)) / (double)(1 << 20)
                        / (Long.parseLong(s.group(3)) / 1e9);
                    (s.group(1).equals("sda") ? seqScsi : seqBlk).add(mibS);
                }
                else if (r.matches())
                {
                    final double iops = Long.parseLong(r.group(2)) / (Long.parseLong(r.group(3)) / 1e9);
                    (r.group(1).equals("sda") ? randScsi : randBlk).add(iops);
                }
                else
                {
                    throw new IOException("unexpected guest line: " + line + "\n" + guest.tail(10));
                }
            }
            guest.awaitExit(Duration.ofSeconds(30));
        }
        System.err.printf(Locale.ROOT, "GuestBench: scsi seq %s MiB/s rand %s IOPS; blk seq %s MiB/s rand %s IOPS%n",
            seqScsi, randScsi, seqBlk, randBlk);
        final double[] s = {median(seqScsi), median(randScsi)};
        final double[] b = {median(seqBlk), median(randBlk)};
        return "\n#### Block reads in the guest\n\nOne " + imageMib + " MiB image (random bytes, in the host's page cache"
            + " for both), read in the guest with O_DIRECT: sequentially in 1 MiB reads, and in 4 KiB reads at random"
            + " offsets one at a time (queue depth 1) for " + randMs + " ms; both disks in the same guest, measured"
            + " alternately, median of " + repeats + ". Peer: `qemu-storage-daemon` exporting the image read-only as"
            + " vhost-user-blk (" + MachineInfo.packageOf(qsd.toString()) + ").\n\n"
            + "| Back-end | sequential MiB/s | 4 KiB random reads/s |\n| --- | ---: | ---: |\n"
            + "| jvhost scsi (`vhost-user-scsi-pci`) | " + f1(s[0]) + " | " + f1(s[1]) + " |\n"
            + "| qemu-storage-daemon (`vhost-user-blk-pci`) | " + f1(b[0]) + " | " + f1(b[1]) + " |\n"
            + "| **jvhost / peer** | " + ratio(s[0], b[0]) + " | " + ratio(s[1], b[1]) + " |\n";
    }

    private static void writeImage(final Path image, final long size) throws IOException
    {
        if (Files.isRegularFile(image) && Files.size(image) == size)
        {
            return;
        }
        final Random random = new Random(7);
        final byte[] block = new byte[1 << 20];
        try (OutputStream o = Files.newOutputStream(image))
        {
            for (long at = 0; at < size; at += block.length)
            {
                random.nextBytes(block);
                o.write(block, 0, (int)Math.min(block.length, size - at));
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String prologue()
    {
        return """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            /bin/load-modules || echo "guestbench: some modules failed to load (optional ones are fine)"
            """;
    }

    private String qemuVersion()
    {
        try
        {
            final Process p = new ProcessBuilder(qemu.toString(), "--version").redirectErrorStream(true).start();
            final String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().findFirst()
                .orElse("QEMU ?");
            p.waitFor();
            return v.replace("QEMU emulator version", "QEMU").strip();
        }
        catch (final IOException | InterruptedException e)
        {
            return "QEMU (version unknown)";
        }
    }

    private static Path onPath(final String name)
    {
        for (final String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":"))
        {
            final Path p = Path.of(d, name);
            if (Files.isExecutable(p))
            {
                return p;
            }
        }
        return null;
    }

    private static double median(final List<Double> v)
    {
        return v.isEmpty() ? Double.NaN : BenchOptions.median(v.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static String f1(final double v)
    {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String f2(final double v)
    {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String ratio(final double a, final double b)
    {
        return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "–" : String.format(Locale.ROOT, "%.2f×", a / b);
    }
}
