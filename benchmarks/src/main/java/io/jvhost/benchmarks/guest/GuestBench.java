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
 *   jvhost scsi as vhost-user-scsi-pci, by {@code qemu-storage-daemon} as vhost-user-blk-pci (the closest
 *   well-kept peer) and by a peer such as rust-vmm's vhost-device-scsi ({@code --peer-scsi}; by default the one in
 *   the rust-peers cache) as vhost-user-scsi-pci, all disks in the same guest, measured one after the other, with
 *   each back-end's CPU time per MiB;</li>
 *   <li><b>sound</b>: a 6.12 guest plays {@code --sound-seconds} of 48 kHz S16 stereo to jvhost
 *   {@code sound --backend null} and to a peer such as rust-vmm's {@code vhost-device-sound --backend null}
 *   ({@code --peer-sound}), two cards in one guest, alternately: the back-end's CPU time per second of playback and
 *   the playback's wall time.</li>
 * </ul>
 * The report goes to stdout (and {@code --out}, and between the {@code guestbench} markers of {@code --update-doc}).
 */
public final class GuestBench
{
    private static final String BEGIN = "<!-- guestbench:begin -->";
    private static final String END = "<!-- guestbench:end -->";
    private static final int VSOCK_PORT = 1234;
    private static final List<String> SECTIONS = List.of("vsock", "scsi", "sound");
    /** The guest's wait between a measurement's start line and the measurement (its scripts' "sleep 0.2"). */
    private static final long START_GAP = 200_000_000L;
    private static final String USAGE = """
        usage: GuestBench [options]
          --root DIR           the jvhost checkout (default: .)
          --sections LIST      vsock,scsi,sound (default: all three)
          --quick              a short validation run (small sizes, one repeat); its figures are not measurements
          --repeats N          measurements per figure, the median is reported (default 3)
          --vsock-mib N        MiB per vsock transfer (default 256)
          --image-mib N        the scsi image's size (default 512)
          --rand-ms N          milliseconds of random reads per measurement (default 5000)
          --sound-seconds N    seconds of audio per sound measurement (default 10)
          --jvhost CMD         how to start jvhost (default: {java} --enable-native-access=ALL-UNNAMED
                               @{root}/launcher/jvm.options [-XX:AOTCache=...] -jar {root}/launcher/target/jvhost.jar)
          --peer-vsock CMD     a peer vsock back-end taking vhost-device-vsock's flags (e.g. the path of
                               vhost-device-vsock); default: vhost-device-vsock in $RUST_PEERS_HOME/bin (else
                               ~/.cache/jvhost/rust-peers/bin) when built; "none" (or no such binary) measures
                               jvhost alone
          --peer-vsock-name N  the peer's name in the report (default: CMD's program name)
          --peer-scsi CMD      a peer scsi back-end taking vhost-device-scsi's flags (-r --socket-path S IMAGE);
                               default: vhost-device-scsi in the rust-peers cache when built; "none" leaves it out
          --peer-scsi-name N   its name in the report
          --peer-sound CMD     a peer sound back-end taking vhost-device-sound's flags (--socket S --backend null);
                               default: vhost-device-sound in the rust-peers cache when built; "none" leaves it out
          --peer-sound-name N  its name in the report
        Commands are split on blanks (no quoting).
          --accel A            QEMU's accelerator: tcg (default; what the tests use) or kvm (where KVM guests work:
                               on hosts where it does, the only setting whose figures say much about the back-ends)
          --qsd PATH           qemu-storage-daemon (default: from PATH)
          --qemu PATH          qemu-system-x86_64 (default: $JVHOST_QEMU, else from PATH)
          --guest-dir DIR      the guest kernel of scripts/setup.sh guest (default: $JVHOST_GUEST_DIR, else
                               ~/.cache/jvhost/guest)
          --guest612-dir DIR   the 6.12 guest kernel of scripts/setup.sh guest612, for sound (virtio_snd; default:
                               $JVHOST_GUEST612_DIR, else ~/.cache/jvhost/guest-6.12)
          --out FILE           also write the report here
          --update-doc FILE    replace the text between the guestbench markers of FILE with the report
        """;

    private Path root = Path.of(".");
    private final Set<String> sections = new LinkedHashSet<>(SECTIONS);
    private boolean quick;
    private int repeats = 3;
    private long vsockMib = 256;
    private long imageMib = 512;
    private long randMs = 5000;
    private long soundSeconds = 10;
    private String jvhost;
    private String peerVsock;
    private String peerVsockName;
    private String peerScsi;
    private String peerScsiName;
    private String peerSound;
    private String peerSoundName;
    private Path guest612Dir;
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
                        if (!SECTIONS.contains(s))
                        {
                            throw new IllegalArgumentException("--sections: no section '" + s + "' ("
                                + String.join(", ", SECTIONS) + ")");
                        }
                        sections.add(s);
                    }
                }
                case "--repeats" -> repeats = BenchOptions.positive(a, v);
                case "--vsock-mib" -> vsockMib = BenchOptions.positive(a, v);
                case "--image-mib" -> imageMib = BenchOptions.positive(a, v);
                case "--rand-ms" -> randMs = BenchOptions.positive(a, v);
                case "--sound-seconds" -> soundSeconds = BenchOptions.positive(a, v);
                case "--jvhost" -> jvhost = v;
                case "--peer-vsock" -> peerVsock = v;
                case "--peer-vsock-name" -> peerVsockName = v;
                case "--peer-scsi" -> peerScsi = v;
                case "--peer-scsi-name" -> peerScsiName = v;
                case "--peer-sound" -> peerSound = v;
                case "--peer-sound-name" -> peerSoundName = v;
                case "--guest612-dir" -> guest612Dir = Path.of(v);
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
            soundSeconds = Math.min(soundSeconds, 2);
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
        if (null == guest612Dir)
        {
            final String env = System.getenv("JVHOST_GUEST612_DIR");
            guest612Dir = null != env ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache/jvhost/guest-6.12");
        }
        peerVsock = peer(peerVsock, "vhost-device-vsock");
        peerScsi = peer(peerScsi, "vhost-device-scsi");
        peerSound = peer(peerSound, "vhost-device-sound");
        final List<String> missing = new ArrayList<>();
        if (null == qemu || !Files.isExecutable(qemu))
        {
            missing.add("no qemu-system-x86_64 (--qemu)");
        }
        if ((sections.contains("vsock") || sections.contains("scsi"))
            && !Files.isRegularFile(guestDir.resolve("vmlinuz")))
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
                md.append(switch (s)
                {
                    case "vsock" -> vsock(tree);
                    case "scsi" -> scsi(tree);
                    default -> sound(tree);
                });
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
            results.add(vsockRun(null != peerVsockName ? peerVsockName : programName(peerVsock), peerVsock, initrd,
                bytes));
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

    /** A disk of the scsi section: its name in the guest's script, the report's label, its back-end. */
    private record Disk(String key, String label, String pciSlot, List<String> device, List<String> command,
        Path socket)
    {
    }

    /** One disk's figures over the repeats (each list: one value per repeat). */
    private record DiskFigures(List<Double> seqMibS, List<Double> randIops, List<Double> seqCpuMsPerMib,
        List<Double> randCpuMsPerMib)
    {
        DiskFigures()
        {
            this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        }
    }

    private String scsi(final Path tree) throws Exception
    {
        final Path dir = Files.createDirectories(work.resolve("scsi"));
        final Path image = dir.resolve("disk.img");
        writeImage(image, imageMib << 20);
        final List<Disk> disks = new ArrayList<>();
        final Path scsiSocket = dir.resolve("scsi.sock");
        final List<String> scsiCmd = new ArrayList<>(List.of(jvhost.strip().split("\\s+")));
        scsiCmd.addAll(List.of("scsi", "-r", "--socket-path", scsiSocket.toString(), image.toString()));
        disks.add(new Disk("jvhost", "jvhost scsi (`vhost-user-scsi-pci`)", "04", List.of("vhost-user-scsi-pci"),
            scsiCmd, scsiSocket));
        final Path blkSocket = dir.resolve("blk.sock");
        disks.add(new Disk("qsd", "qemu-storage-daemon (`vhost-user-blk-pci`)", "05",
            List.of("vhost-user-blk-pci", "num-queues=1"), List.of(qsd.toString(),
                "--blockdev", "driver=file,node-name=disk,filename=" + image + ",read-only=on",
                "--export", "type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path=" + blkSocket),
            blkSocket));
        final String peerName = null == peerScsi ? "vhost-device-scsi" : null != peerScsiName ? peerScsiName
            : programName(peerScsi);
        String peerMissing = null;
        if (null != peerScsi)
        {
            final Path peerSocket = dir.resolve("peer-scsi.sock");
            final List<String> cmd = new ArrayList<>(List.of(peerScsi.strip().split("\\s+")));
            cmd.addAll(List.of("-r", "--socket-path", peerSocket.toString(), image.toString()));
            // vhost-device-scsi refuses SET_FEATURES with VIRTIO_SCSI_F_CHANGE, which QEMU sets unless told not to
            // (it does not offer the bit, and QEMU does not mask it): without param_change=off the guest's
            // virtio_scsi probe waits for ever. The bit only announces parameter-change events, which no back-end
            // here sends.
            disks.add(new Disk("peer", peerName + " (`vhost-user-scsi-pci,param_change=off`)", "06",
                List.of("vhost-user-scsi-pci", "param_change=off"), cmd, peerSocket));
        }
        else
        {
            peerMissing = "not run (`--peer-scsi none`, or no vhost-device-scsi in " + BackendCommands.rustPeersBin()
                + ")";
        }
        final java.util.Map<String, DiskFigures> figures = new java.util.LinkedHashMap<>();
        final java.util.Map<String, BackendProcess> backends = new java.util.HashMap<>();
        final List<String> qemuArgs = new ArrayList<>();
        final List<BackendProcess> started = new ArrayList<>();
        final StringBuilder names = new StringBuilder();
        try
        {
            for (final Disk d : disks)
            {
                final String log = d.key() + ".log";
                try
                {
                    final BackendProcess b = BackendProcess.start(d.command(), d.socket(), dir.resolve(log),
                        Duration.ofSeconds(30));
                    started.add(b);
                    backends.put(d.key(), b);
                }
                catch (final IOException e)
                {
                    if (!d.key().equals("peer"))
                    {
                        throw e;
                    }
                    peerMissing = "did not start: " + firstLine(e.getMessage());
                    continue;
                }
                figures.put(d.key(), new DiskFigures());
                names.append(' ').append(d.key()).append(':').append(d.pciSlot());
                qemuArgs.addAll(List.of("-chardev", "socket,id=" + d.key() + ",path=" + d.socket(), "-device",
                    String.join(",", d.device()) + ",chardev=" + d.key() + ",addr=0x" + d.pciSlot()));
            }
            // Each disk is found by its PCI slot; one that does not show up within a minute is reported and skipped.
            final String init = prologue() + """
                disk() { for b in /sys/block/*; do case $(readlink -f $b) in */0000:00:$1.0/*) echo ${b##*/}; return;; esac; done; }
                want="%s"
                for i in $(seq 1 600); do
                  n=0; for w in $want; do [ -n "$(disk ${w#*:})" ] && n=$((n+1)); done
                  [ $n = %d ] && break; sleep 0.1
                done
                keys=""
                for w in $want; do
                  d=$(disk ${w#*:})
                  if [ -n "$d" ]; then eval dev_${w%%%%:*}=$d; keys="$keys ${w%%%%:*}"; else echo "GB missing ${w%%%%:*} $(ls /sys/block | tr '\\n' ' ')"; fi
                done
                rev=""; for k in $keys; do rev="$k $rev"; done
                # Warm-up, not measured: a fresh back-end (a JVM's JIT above all) would charge its start to the first.
                # Each measurement starts 0.2 s after its start line, so the host reads the back-end's CPU before.
                for k in $keys; do eval d=\\$dev_$k; /bin/guestbench seq /dev/$d %d >/dev/null; /bin/guestbench rand /dev/$d 500 >/dev/null; done
                for r in $(seq %d); do
                  if [ $((r %% 2)) = 1 ]; then order="$keys"; else order="$rev"; fi
                  for k in $order; do eval d=\\$dev_$k; echo "GB begin $k seq"; sleep 0.2; echo "GB $k $(/bin/guestbench seq /dev/$d %d)"; done
                  for k in $order; do eval d=\\$dev_$k; echo "GB begin $k rand"; sleep 0.2; echo "GB $k $(/bin/guestbench rand /dev/$d %d)"; done
                done
                echo "GB done"
                poweroff -f
                """.formatted(names.toString().strip(), figures.size(), Math.min(imageMib, 64) << 20, repeats,
                    imageMib << 20, randMs);
            final Path initrd = BenchGuest.initramfs(root, guestDir, work, "scsi", init, tree, "virtio_pci", "virtio_scsi",
                "sd_mod", "virtio_blk");
            scsiGuest(dir, initrd, qemuArgs, backends, figures);
        }
        finally
        {
            for (final BackendProcess b : started.reversed())
            {
                b.close();
            }
        }
        if (null == peerMissing && figures.containsKey("peer") && figures.get("peer").seqMibS().isEmpty())
        {
            peerMissing = "no disk in the guest: " + peerFailure(dir.resolve("peer.log"), dir.resolve(
                "serial.log"));
        }
        for (final var e : figures.entrySet())
        {
            System.err.printf(Locale.ROOT,
                "GuestBench: scsi %s: seq %s MiB/s, rand %s IOPS, CPU ms/MiB seq %s rand %s%n",
                e.getKey(), e.getValue().seqMibS(), e.getValue().randIops(), e.getValue().seqCpuMsPerMib(),
                e.getValue().randCpuMsPerMib());
        }
        final StringBuilder md = new StringBuilder();
        md.append("\n#### Block reads in the guest\n\nOne ").append(imageMib).append(" MiB image (random bytes, in the"
            + " host's page cache for every back-end), read in the guest with O_DIRECT: sequentially in 1 MiB reads,"
            + " and in 4 KiB reads at random offsets one at a time (queue depth 1) for ").append(randMs).append(" ms; all"
            + " disks in the same guest, measured one after the other (the order reversed every repeat) after an"
            + " unmeasured warm-up (64 MiB sequential and 0.5 s random per disk), median of ").append(repeats)
            .append(". CPU: the back-end process's time on a CPU (its threads' nanoseconds,"
                + " `/proc/PID/task/*/schedstat`) from the guest's start line of a measurement (0.2 s before it) to its"
                + " result line, per MiB read. Peers: `qemu-storage-daemon` exporting the image read-only as vhost-user-blk (")
            .append(MachineInfo.packageOf(qsd.toString())).append(")").append(null == peerMissing ? ", and "
                + peerName + " serving it read-only as vhost-user-scsi" : "").append(".\n\n");
        md.append("| Back-end | sequential MiB/s | 4 KiB random reads/s | CPU ms/MiB sequential"
            + " | CPU ms/MiB random |\n");
        md.append("| --- | ---: | ---: | ---: | ---: |\n");
        final java.util.Map<String, double[]> medians = new java.util.LinkedHashMap<>();
        for (final Disk d : disks)
        {
            final DiskFigures f = figures.get(d.key());
            if (null == f || f.seqMibS().isEmpty())
            {
                md.append("| ").append(d.label()).append(" | ").append(null != peerMissing && d.key().equals("peer")
                    ? peerMissing : "no figures").append(" | | | |\n");
                continue;
            }
            final double[] m = {median(f.seqMibS()), median(f.randIops()), median(f.seqCpuMsPerMib()),
                median(f.randCpuMsPerMib())};
            medians.put(d.key(), m);
            md.append("| ").append(d.label()).append(" | ").append(f1(m[0])).append(" | ").append(f1(m[1]))
                .append(" | ").append(f2(m[2])).append(" | ").append(f2(m[3])).append(" |\n");
        }
        if (disks.stream().noneMatch(d -> d.key().equals("peer")))
        {
            md.append("| ").append(peerName).append(" | ").append(peerMissing).append(" | | | |\n");
        }
        final double[] j = medians.get("jvhost");
        for (final Disk d : disks)
        {
            final double[] p = medians.get(d.key());
            if (null != j && null != p && !d.key().equals("jvhost"))
            {
                md.append("| **jvhost / ").append(d.key().equals("qsd") ? "qemu-storage-daemon" : peerName)
                    .append("** | ").append(ratio(j[0], p[0])).append(" | ").append(ratio(j[1], p[1])).append(" | ")
                    .append(ratio(j[2], p[2])).append(" | ").append(ratio(j[3], p[3])).append(" |\n");
            }
        }
        return md.toString();
    }

    /** Boots the guest over the disks' back-ends and collects each measurement with its back-end's CPU time. */
    private void scsiGuest(final Path dir, final Path initrd, final List<String> qemuArgs,
        final java.util.Map<String, BackendProcess> backends, final java.util.Map<String, DiskFigures> figures)
        throws Exception
    {
        final Pattern begin = Pattern.compile("GB begin (\\w+) (seq|rand)");
        final Pattern seq = Pattern.compile("GB (\\w+) seq bytes=(\\d+) ns=(\\d+)");
        final Pattern rand = Pattern.compile("GB (\\w+) rand reads=(\\d+) ns=(\\d+)");
        try (BenchGuest guest = BenchGuest.start(qemu, accel, guestDir.resolve("vmlinuz"), initrd, "256M", qemuArgs,
            dir.resolve("serial.log")))
        {
            String current = null;
            CpuTime.Reading cpu0 = null;
            long t0 = 0;
            for (String line; !(line = guest.next(Duration.ofSeconds(600))).equals("GB done");)
            {
                final Matcher b = begin.matcher(line);
                final Matcher s = seq.matcher(line);
                final Matcher r = rand.matcher(line);
                if (b.matches() && backends.containsKey(b.group(1)))
                {
                    current = b.group(1);
                    cpu0 = CpuTime.read(backends.get(current).pid());
                    t0 = System.nanoTime();
                }
                else if ((s.matches() || r.matches()) && (s.matches() ? s : r).group(1).equals(current))
                {
                    final CpuTime.Reading cpu1 = CpuTime.read(backends.get(current).pid());
                    final double cpuMs = cpu1.nanosSince(cpu0) / 1e6;
                    final DiskFigures f = figures.get(current);
                    checkInterval("scsi " + current + (s.matches() ? " seq" : " rand"),
                        System.nanoTime() - t0 - START_GAP, Long.parseLong((s.matches() ? s : r).group(3)), cpuMs,
                        cpu1.busiestSince(cpu0, 4));
                    if (s.matches())
                    {
                        final double mib = Long.parseLong(s.group(2)) / (double)(1 << 20);
                        f.seqMibS().add(mib / (Long.parseLong(s.group(3)) / 1e9));
                        f.seqCpuMsPerMib().add(cpuMs / mib);
                    }
                    else
                    {
                        final long reads = Long.parseLong(r.group(2));
                        f.randIops().add(reads / (Long.parseLong(r.group(3)) / 1e9));
                        f.randCpuMsPerMib().add(cpuMs / (reads * 4096.0 / (1 << 20)));
                    }
                    current = null;
                }
                else if (line.startsWith("GB missing "))
                {
                    System.err.println("GuestBench: scsi: " + line.substring(3));
                }
                else
                {
                    throw new IOException("unexpected guest line: " + line + "\n" + guest.tail(10));
                }
            }
            guest.awaitExit(Duration.ofSeconds(30));
        }
    }

    /**
     * Logs one measurement's interval as the guest timed it and as the host saw it (from the guest's start line to its
     * result line, which the CPU time covers, less the 0.2 s the guest waits after the start line), and warns when the
     * host's is shorter: the start line reached the host more than 0.2 s late, so part of the back-end's work fell
     * before the CPU reading. The back-end's busiest threads say where its time went.
     */
    private static void checkInterval(final String what, final long hostNanos, final long guestNanos,
        final double cpuMs, final String busiest)
    {
        System.err.printf(Locale.ROOT, "GuestBench: %s: %.1f ms in the guest, %.1f ms seen by the host, back-end CPU"
            + " %.2f ms (%s)%s%n", what, guestNanos / 1e6, hostNanos / 1e6, cpuMs, busiest, hostNanos < guestNanos
                ? " (warning: the start line came late, the CPU figure misses part of the work)" : "");
    }

    /**
     * @return why the peer's disk or card did not appear: the last complaint of QEMU or the guest's driver on the
     *     console, and the back-end log's last error.
     */
    private static String peerFailure(final Path backendLog, final Path serialLog)
    {
        final StringBuilder why = new StringBuilder();
        for (final Path p : List.of(serialLog, backendLog))
        {
            try
            {
                Files.readAllLines(p, StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.startsWith("GB ") && (l.contains("qemu-system") || l.contains("virtio")
                        || l.contains("rror") || l.contains("nvalid")))
                    .reduce((a, b) -> b)
                    .ifPresent(l -> why.append(why.isEmpty() ? "" : "; ").append('`')
                        .append(l.strip().replace('`', '\'').replace('|', '/')).append('`'));
            }
            catch (final IOException e)
            {
                // No log: nothing to quote.
            }
        }
        return why.isEmpty() ? "no error logged" : why.toString();
    }

    // ---------------------------------------------------------------- sound

    /** One sound back-end's measurements (one value per repeat). */
    private record SoundFigures(List<Double> wallSeconds, List<Double> cpuMsPerSecond, int[] xruns)
    {
        SoundFigures()
        {
            this(new ArrayList<>(), new ArrayList<>(), new int[1]);
        }
    }

    private static final int SOUND_RATE = 48000;

    private String sound(final Path tree) throws Exception
    {
        final String peerName = null == peerSound ? "vhost-device-sound" : null != peerSoundName ? peerSoundName
            : programName(peerSound);
        final StringBuilder md = new StringBuilder("\n#### Sound playback in the guest\n\n");
        if (!Files.isRegularFile(guest612Dir.resolve("vmlinuz")))
        {
            return md.append("not run: no 6.12 guest kernel in ").append(guest612Dir)
                .append(" (`scripts/setup.sh guest612`; the 6.1 guest has no virtio_snd)\n").toString();
        }
        final Path dir = Files.createDirectories(work.resolve("sound"));
        final java.util.Map<String, List<String>> commands = new java.util.LinkedHashMap<>();
        final Path jvhostSocket = dir.resolve("jvhost-snd.sock");
        final List<String> jvhostCmd = new ArrayList<>(List.of(jvhost.strip().split("\\s+")));
        jvhostCmd.addAll(List.of("sound", "--socket", jvhostSocket.toString(), "--backend", "null"));
        commands.put("jvhost", jvhostCmd);
        final Path peerSocket = dir.resolve("peer-snd.sock");
        String peerMissing = null;
        if (null != peerSound)
        {
            final List<String> cmd = new ArrayList<>(List.of(peerSound.strip().split("\\s+")));
            cmd.addAll(List.of("--socket", peerSocket.toString(), "--backend", "null"));
            commands.put("peer", cmd);
        }
        else
        {
            peerMissing = "not run (`--peer-sound none`, or no vhost-device-sound in " + BackendCommands.rustPeersBin()
                + ")";
        }
        final java.util.Map<String, BackendProcess> backends = new java.util.HashMap<>();
        final java.util.Map<String, SoundFigures> figures = new java.util.LinkedHashMap<>();
        final List<BackendProcess> started = new ArrayList<>();
        final List<String> qemuArgs = new ArrayList<>();
        final StringBuilder want = new StringBuilder();
        try
        {
            for (final var c : commands.entrySet())
            {
                final boolean isPeer = c.getKey().equals("peer");
                final Path socket = isPeer ? peerSocket : jvhostSocket;
                try
                {
                    final BackendProcess b = BackendProcess.start(c.getValue(), socket, dir.resolve(c.getKey()
                        + ".log"), Duration.ofSeconds(30));
                    started.add(b);
                    backends.put(c.getKey(), b);
                }
                catch (final IOException e)
                {
                    if (!isPeer)
                    {
                        throw e;
                    }
                    peerMissing = "did not start: " + firstLine(e.getMessage());
                    continue;
                }
                final String slot = isPeer ? "05" : "04";
                figures.put(c.getKey(), new SoundFigures());
                want.append(' ').append(c.getKey()).append(':').append(slot);
                qemuArgs.addAll(List.of("-chardev", "socket,id=" + c.getKey() + ",path=" + socket, "-device",
                    "vhost-user-snd-pci,chardev=" + c.getKey() + ",addr=0x" + slot));
            }
            // virtio_snd's buffer may hold 2 s (default 160 ms), its periods 100 ms and a control message may take 10 s
            // (default 1 s): room for TCG's stalls on a busy host. The driver reads them at its probe, so it is loaded
            // with them, after the other modules (a re-probe instead would reset the devices once more).
            final String init = """
                #!/bin/sh
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t devtmpfs dev /dev
                snd=$(grep '/virtio_snd\\.ko$' /modules.order)
                grep -v '/virtio_snd\\.ko$' /modules.order > /tmp/modules.order; cat /tmp/modules.order > /modules.order
                /bin/load-modules || echo "guestbench: some modules failed to load (optional ones are fine)"
                insmod $snd pcm_buffer_ms=2000 pcm_period_ms_max=100 msg_timeout_ms=10000 || echo "GB error insmod $snd"
                card() { for c in /sys/class/sound/card*; do case $(readlink -f $c/device) in */0000:00:$1.0/*) echo ${c##*card}; return;; esac; done; }
                want="%s"
                keys=""
                for w in $want; do
                  i=0; while [ -z "$(card ${w#*:})" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
                  c=$(card ${w#*:})
                  if [ -n "$c" ] && [ -e /dev/snd/pcmC${c}D0p ]; then eval card_${w%%%%:*}=$c; keys="$keys ${w%%%%:*}"
                  else echo "GB missing ${w%%%%:*} $(cat /proc/asound/cards | tr '\\n' ' ')"; fi
                done
                rev=""; for k in $keys; do rev="$k $rev"; done
                # Warm-up, not measured: a fresh back-end (a JVM's JIT above all) would charge its start to the first.
                # Each measurement starts 0.2 s after its start line, so the host reads the back-end's CPU before.
                for k in $keys; do eval c=\\$card_$k; /bin/guestbench snd-play /dev/snd/pcmC${c}D0p 1 >/dev/null; done
                for r in $(seq %d); do
                  if [ $((r %% 2)) = 1 ]; then order="$keys"; else order="$rev"; fi
                  for k in $order; do eval c=\\$card_$k; echo "GB begin $k"; sleep 0.2; echo "GB $k $(/bin/guestbench snd-play /dev/snd/pcmC${c}D0p %d)"; done
                done
                echo "GB done"
                poweroff -f
                """.formatted(want.toString().strip(), repeats, soundSeconds);
            final Path initrd = BenchGuest.initramfs(root, guest612Dir, work, "sound", init, tree, "virtio_pci",
                "virtio_snd");
            soundGuest(dir, initrd, qemuArgs, backends, figures);
        }
        finally
        {
            for (final BackendProcess b : started.reversed())
            {
                b.close();
            }
        }
        if (null == peerMissing && figures.containsKey("peer") && figures.get("peer").wallSeconds().isEmpty())
        {
            peerMissing = "no sound card in the guest: " + peerFailure(dir.resolve("peer.log"),
                dir.resolve("serial.log"));
        }
        for (final var e : figures.entrySet())
        {
            System.err.printf(Locale.ROOT, "GuestBench: sound %s: wall %s s, CPU ms per s of playback %s, xruns %d%n",
                e.getKey(), e.getValue().wallSeconds(), e.getValue().cpuMsPerSecond(), e.getValue().xruns()[0]);
        }
        md.append("A 6.12 guest (`virtio_snd`, QEMU's `vhost-user-snd-pci`, one card per back-end in the same guest)"
            + " plays ").append(soundSeconds).append(" s of 48 kHz S16 stereo (periods of 4800 frames, 16 of them,"
                + " written with the kernel's ALSA ioctls) to each back-end's null output, one after the other (the"
                + " order reversed every repeat) after an unmeasured second each, median of ").append(repeats)
            .append(". Wall time: from the first write to the end of the drain, in the guest (a back-end that"
                + " consumes in real time takes about ")
            .append(soundSeconds).append(" s; one that completes buffers at once, less). CPU: the back-end process's"
                + " time on a CPU (its threads' nanoseconds, `/proc/PID/task/*/schedstat`) from the guest's start line"
                + " (0.2 s before the playback) to its result line, per second of audio played.\n\n");
        md.append("| Back-end | wall time s | CPU ms per s of playback | xruns |\n| --- | ---: | ---: | ---: |\n");
        final java.util.Map<String, double[]> medians = new java.util.HashMap<>();
        for (final String key : commands.keySet())
        {
            final String label = key.equals("peer") ? peerName + " `--backend null`" : "jvhost sound `--backend null`";
            final SoundFigures f = figures.get(key);
            if (null == f || f.wallSeconds().isEmpty())
            {
                md.append("| ").append(label).append(" | ").append(key.equals("peer") && null != peerMissing
                    ? peerMissing : "no figures").append(" | | |\n");
                continue;
            }
            final double[] m = {median(f.wallSeconds()), median(f.cpuMsPerSecond())};
            medians.put(key, m);
            md.append("| ").append(label).append(" | ").append(f2(m[0])).append(" | ").append(f2(m[1])).append(" | ")
                .append(f.xruns()[0]).append(" |\n");
        }
        if (!commands.containsKey("peer"))
        {
            md.append("| ").append(peerName).append(" | ").append(peerMissing).append(" | | |\n");
        }
        if (medians.containsKey("jvhost") && medians.containsKey("peer"))
        {
            // Wall times are not compared: they say whether a back-end paces playback, not how well.
            md.append("| **jvhost / peer** | | ").append(ratio(medians.get("jvhost")[1], medians.get("peer")[1]))
                .append(" | |\n");
        }
        return md.toString();
    }

    private void soundGuest(final Path dir, final Path initrd, final List<String> qemuArgs,
        final java.util.Map<String, BackendProcess> backends, final java.util.Map<String, SoundFigures> figures)
        throws Exception
    {
        final Pattern begin = Pattern.compile("GB begin (\\w+)");
        final Pattern played = Pattern.compile("GB (\\w+) snd frames=(\\d+) ns=(\\d+) xruns=(\\d+)");
        try (BenchGuest guest = BenchGuest.start(qemu, accel, guest612Dir.resolve("vmlinuz"), initrd, "256M",
            qemuArgs, dir.resolve("serial.log")))
        {
            String current = null;
            CpuTime.Reading cpu0 = null;
            long t0 = 0;
            for (String line; !(line = guest.next(Duration.ofSeconds(600))).equals("GB done");)
            {
                final Matcher b = begin.matcher(line);
                final Matcher p = played.matcher(line);
                if (b.matches() && backends.containsKey(b.group(1)))
                {
                    current = b.group(1);
                    cpu0 = CpuTime.read(backends.get(current).pid());
                    t0 = System.nanoTime();
                }
                else if (p.matches() && p.group(1).equals(current))
                {
                    final CpuTime.Reading cpu1 = CpuTime.read(backends.get(current).pid());
                    final double cpuMs = cpu1.nanosSince(cpu0) / 1e6;
                    final SoundFigures f = figures.get(current);
                    checkInterval("sound " + current, System.nanoTime() - t0 - START_GAP, Long.parseLong(p.group(3)),
                        cpuMs, cpu1.busiestSince(cpu0, 4));
                    f.wallSeconds().add(Long.parseLong(p.group(3)) / 1e9);
                    f.cpuMsPerSecond().add(cpuMs / (Long.parseLong(p.group(2)) / (double)SOUND_RATE));
                    f.xruns()[0] += Integer.parseInt(p.group(4));
                    current = null;
                }
                else if (line.startsWith("GB missing "))
                {
                    System.err.println("GuestBench: sound: " + line.substring(3));
                }
                else
                {
                    throw new IOException("unexpected guest line: " + line + "\n" + guest.tail(10));
                }
            }
            guest.awaitExit(Duration.ofSeconds(30));
        }
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

    /**
     * @return {@code given} ("none": null), else {@code binary} from the rust-peers cache when built, else null.
     */
    private static String peer(final String given, final String binary)
    {
        if (null == given)
        {
            return BackendCommands.rustPeer(binary).map(Path::toString).orElse(null);
        }
        return given.equals("none") ? null : given;
    }

    /** The program name of a blank-separated command line. */
    private static String programName(final String command)
    {
        return command.strip().split("\\s+")[0].replaceAll(".*/", "");
    }

    private static String firstLine(final String text)
    {
        return null == text ? "" : text.lines().findFirst().orElse("");
    }

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
