package io.jvhost.e2e.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.opentest4j.AssertionFailedError;

/**
 * A QEMU x86_64 guest under TCG for end-to-end tests.
 *
 * <p>Guest RAM is a shared memfd (as vhost-user needs), there is no display (unless one is asked for), no network
 * and no reboot, the serial console is captured to {@code serial.log} in the work folder (QEMU's own
 * messages go to {@code qemu.log}), and an HMP monitor listens on a unix socket for
 * {@link #hmp(String)}.
 *
 * <pre>{@code
 * try (QemuVm vm = QemuVm.builder(dir).initrd(initrd)
 *         .vhostUserDevice("vhost-user-rng-pci", socket, null).start()) {
 *     vm.awaitSerial(Pattern.compile("RNG-OK"), Duration.ofSeconds(60));
 *     vm.awaitExit(Duration.ofSeconds(30));
 * }
 * }</pre>
 */
public final class QemuVm implements AutoCloseable {

    /**
     * The kernel command line used unless {@link Builder#append(String)} replaces it. {@code no_timer_check}: on a
     * loaded host TCG can fail the kernel's IO-APIC timer check, a panic before the guest is up.
     */
    public static final String DEFAULT_APPEND = "console=ttyS0 quiet panic=-1 no_timer_check";
    /** Guest RAM unless {@link Builder#memory(String)} says otherwise. */
    public static final String DEFAULT_MEMORY = "512M";

    private static final int TAIL_LINES = 40;
    private static final Pattern ANSI = Pattern.compile("\u001b\\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]");
    private static final String HMP_PROMPT = "(qemu) ";

    /** Guests still running when the JVM exits (a test that forgot close()) are stopped. */
    private static final Set<QemuVm> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(QemuVm::close), "qemu-vm-reaper"));
    }

    private final Path workDir;
    private final List<String> command;
    private final Map<String, String> environment;
    private final Path serialLogFile;
    private final Path qemuLogFile;
    private final Path monitorSocket;
    private final Path monitorTempDir;

    private final Object lock = new Object();
    private final List<String> lines = new ArrayList<>();
    private final StringBuilder partial = new StringBuilder();
    private final StringBuilder fullLog = new StringBuilder();
    private int cursor;
    private boolean serialClosed;

    private Process process;
    private Thread reader;
    private OutputStream serialIn;

    private QemuVm(Builder b, List<String> command, Path monitorSocket, Path monitorTempDir) {
        this.workDir = b.workDir;
        this.command = List.copyOf(command);
        this.environment = Map.copyOf(b.environment);
        this.serialLogFile = b.workDir.resolve(b.name + "-serial.log");
        this.qemuLogFile = b.workDir.resolve(b.name + "-qemu.log");
        this.monitorSocket = monitorSocket;
        this.monitorTempDir = monitorTempDir;
    }

    /** A builder for a guest whose logs and sockets go into {@code workDir}. */
    public static Builder builder(Path workDir) {
        return new Builder(workDir);
    }

    /** The full QEMU command line. */
    public List<String> command() {
        return command;
    }

    /** The work folder. */
    public Path workDir() {
        return workDir;
    }

    /** The file the serial console is written to. */
    public Path serialLogFile() {
        return serialLogFile;
    }

    /** The file QEMU's own standard error goes to. */
    public Path qemuLogFile() {
        return qemuLogFile;
    }

    /** The HMP monitor's unix socket. */
    public Path monitorSocket() {
        return monitorSocket;
    }

    /** Starts QEMU. */
    public QemuVm start() {
        if (process != null) {
            throw new IllegalStateException("already started");
        }
        try {
            Files.deleteIfExists(monitorSocket);
            Files.writeString(serialLogFile, "");
            Files.writeString(qemuLogFile, String.join(" ", command) + System.lineSeparator());
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectError(ProcessBuilder.Redirect.appendTo(qemuLogFile.toFile()));
            pb.environment().putAll(environment);
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command.getFirst(), e);
        }
        RUNNING.add(this);
        serialIn = process.getOutputStream();
        reader = Thread.ofPlatform().daemon().name("qemu-serial-" + process.pid()).start(this::pumpSerial);
        return this;
    }

    /** Whether QEMU is still running. */
    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** QEMU's process, once started. */
    public Process process() {
        return process;
    }

    private void pumpSerial() {
        byte[] buf = new byte[8192];
        try (InputStream in = process.getInputStream();
             OutputStream log = Files.newOutputStream(serialLogFile, StandardOpenOption.APPEND)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                log.write(buf, 0, n);
                log.flush();
                String text = new String(buf, 0, n, StandardCharsets.UTF_8);
                synchronized (lock) {
                    for (int i = 0; i < text.length(); i++) {
                        char c = text.charAt(i);
                        if (c == '\n') {
                            lines.add(partial.toString());
                            partial.setLength(0);
                        } else if (c != '\r') {
                            partial.append(c);
                        }
                    }
                    fullLog.append(text.replace("\r", ""));
                    lock.notifyAll();
                }
            }
        } catch (IOException e) {
            // QEMU went away; fall through
        } finally {
            synchronized (lock) {
                if (!partial.isEmpty()) {
                    lines.add(partial.toString());
                    partial.setLength(0);
                }
                serialClosed = true;
                lock.notifyAll();
            }
        }
    }

    /**
     * Waits for a serial console line in which {@code pattern} is found, and returns that line.
     * The search starts after the line the previous call matched (expect-style), so a sequence of
     * calls follows the console in order. Only complete lines are searched: a line still being printed could
     * match a prefix of the pattern's intent (e.g. a number cut short). Fails the test,
     * with the last 40 console lines, on timeout or when QEMU exits first.
     */
    public String awaitSerial(Pattern pattern, Duration timeout) {
        Objects.requireNonNull(pattern, "pattern");
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (true) {
                for (; cursor < lines.size(); cursor++) {
                    String line = lines.get(cursor);
                    if (pattern.matcher(line).find()) {
                        cursor++;
                        return line;
                    }
                }
                if (serialClosed) {
                    awaitQuietly(process, Duration.ofSeconds(2));
                    throw failure("QEMU's serial console closed (" + exitDescription() + ") before a line matched /"
                            + pattern + "/");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw failure("no serial console line matched /" + pattern + "/ within " + timeout
                            + " (" + exitDescription() + ")");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for /" + pattern + "/", e);
                }
            }
        }
    }

    /** Everything the serial console printed so far (carriage returns removed). */
    public String serialLog() {
        synchronized (lock) {
            return fullLog.toString();
        }
    }

    /** The last {@code n} lines of the serial console. */
    public List<String> serialTail(int n) {
        synchronized (lock) {
            List<String> all = new ArrayList<>(lines);
            if (!partial.isEmpty()) {
                all.add(partial.toString());
            }
            return List.copyOf(all.subList(Math.max(0, all.size() - n), all.size()));
        }
    }

    /** Types {@code text} on the serial console (the guest reads it from ttyS0). */
    public void sendSerial(String text) {
        try {
            serialIn.write(text.getBytes(StandardCharsets.UTF_8));
            serialIn.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to QEMU's serial console", e);
        }
    }

    /**
     * Waits for QEMU to exit and returns its exit code; fails the test, with the last 40 console
     * lines, when it is still running after {@code timeout}.
     */
    public int awaitExit(Duration timeout) {
        if (process == null) {
            throw new IllegalStateException("not started");
        }
        try {
            if (!process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw failure("QEMU did not exit within " + timeout);
            }
            reader.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for QEMU to exit", e);
        }
        return process.exitValue();
    }

    /**
     * Sends one command to QEMU's human monitor (HMP) and returns what it printed, without the
     * echo of the command and the prompt. Example: {@code hmp("screendump /tmp/s.ppm")}.
     */
    public String hmp(String command) {
        return hmp(command, Duration.ofSeconds(60));
    }

    /** {@link #hmp(String)} with a time limit. */
    public synchronized String hmp(String command, Duration timeout) {
        if (process == null) {
            throw new IllegalStateException("not started");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel ch = connectMonitor(deadline); Selector selector = Selector.open()) {
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            StringBuilder in = new StringBuilder();
            if (!readUntilPrompt(ch, selector, in, 0, deadline)) {
                throw new IllegalStateException("QEMU's monitor closed before its prompt; got: " + in);
            }
            int start = in.length();
            ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                ch.write(out);
            }
            readUntilPrompt(ch, selector, in, start, deadline);
            String reply = ANSI.matcher(in.substring(start)).replaceAll("").replace("\r", "");
            int nl = reply.indexOf('\n');
            reply = nl < 0 ? "" : reply.substring(nl + 1);         // drop the echoed command line
            if (reply.endsWith(HMP_PROMPT)) {
                reply = reply.substring(0, reply.length() - HMP_PROMPT.length());
            }
            return reply;
        } catch (IOException e) {
            throw new UncheckedIOException("HMP command '" + command + "' failed", e);
        }
    }

    private SocketChannel connectMonitor(long deadline) throws IOException {
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(monitorSocket);
        while (true) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(address);
                return ch;
            } catch (IOException e) {
                ch.close();
                if (!process.isAlive()) {
                    throw new IOException("QEMU is not running (" + exitDescription() + ")", e);
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("cannot connect to QEMU's monitor at " + monitorSocket, e);
                }
                sleep(50);
            }
        }
    }

    /** Reads into {@code in} until the text after {@code from} ends with the prompt; false on EOF. */
    private boolean readUntilPrompt(SocketChannel ch, Selector selector, StringBuilder in, int from, long deadline)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        while (true) {
            String seen = ANSI.matcher(in.substring(from)).replaceAll("");
            if (seen.endsWith(HMP_PROMPT) && (from == 0 || seen.indexOf('\n') >= 0)) {
                return true;
            }
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new IOException("QEMU's monitor did not answer in time; got: " + in.substring(from));
            }
            selector.select(left);
            selector.selectedKeys().clear();
            buf.clear();
            int n = ch.read(buf);
            if (n < 0) {
                return false;
            }
            in.append(new String(buf.array(), 0, n, StandardCharsets.UTF_8));
        }
    }

    /** Stops QEMU (SIGTERM, then SIGKILL) and everything it started. */
    @Override
    public void close() {
        RUNNING.remove(this);
        if (process != null) {
            List<ProcessHandle> children = process.descendants().toList();
            if (process.isAlive()) {
                process.destroy();
                try {
                    if (!process.waitFor(3, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        process.waitFor(10, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
            for (ProcessHandle child : children) {
                child.destroyForcibly();
            }
            try {
                serialIn.close();
            } catch (IOException ignored) {
                // QEMU is gone
            }
            try {
                reader.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            Files.deleteIfExists(monitorSocket);
            if (monitorTempDir != null) {
                Files.deleteIfExists(monitorTempDir);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    private String exitDescription() {
        if (process == null) {
            return "not started";
        }
        return process.isAlive() ? "QEMU still running" : "QEMU exited with code " + process.exitValue();
    }

    private AssertionError failure(String message) {
        StringBuilder sb = new StringBuilder(message);
        sb.append("\n--- last ").append(TAIL_LINES).append(" lines of the serial console (")
                .append(serialLogFile).append(") ---\n");
        for (String line : serialTail(TAIL_LINES)) {
            sb.append(line).append('\n');
        }
        try {
            List<String> qemuLog = Files.readAllLines(qemuLogFile);
            if (qemuLog.size() > 1) {
                sb.append("--- QEMU's messages (").append(qemuLogFile).append(") ---\n");
                for (String line : qemuLog.subList(Math.max(1, qemuLog.size() - 20), qemuLog.size())) {
                    sb.append(line).append('\n');
                }
            }
        } catch (IOException ignored) {
            // no log
        }
        return new AssertionFailedError(sb.toString());
    }

    private static void awaitQuietly(Process p, Duration timeout) {
        try {
            p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** QEMU option values escape a comma by doubling it. */
    static String escape(String value) {
        return value.replace(",", ",,");
    }

    /** Collects the options of a {@link QemuVm}. */
    public static final class Builder {
        private final Path workDir;
        private Path qemu;
        private Path kernel;
        private Path initrd;
        private String append = DEFAULT_APPEND;
        private String memory = DEFAULT_MEMORY;
        private String name = "vm";
        private String display = "none";
        private final Map<String, String> environment = new LinkedHashMap<>();
        private final List<String> deviceArgs = new ArrayList<>();
        private final List<String> extraArgs = new ArrayList<>();
        private int chardevs;
        private boolean arm64;

        private Builder(Path workDir) {
            this.workDir = workDir.toAbsolutePath();
        }

        /**
         * The QEMU binary and the kernel of {@code env}, e.g. {@code GuestEnvironment.detect().withQemu11()}; without
         * it (or {@link #qemu}/{@link #kernel}) those of {@link GuestEnvironment#detect()}.
         */
        public Builder environment(GuestEnvironment env) {
            this.qemu = env.qemu();
            this.kernel = env.kernel();
            this.arm64 = env.arm64();
            return this;
        }

        /** The QEMU binary; default {@link GuestEnvironment#qemu()}. */
        public Builder qemu(Path qemu) {
            this.qemu = qemu;
            return this;
        }

        /** The kernel; default {@link GuestEnvironment#kernel()}. */
        public Builder kernel(Path kernel) {
            this.kernel = kernel;
            return this;
        }

        /** The initramfs, e.g. from {@link Initramfs#build}. */
        public Builder initrd(Path initrd) {
            this.initrd = initrd;
            return this;
        }

        /** The kernel command line; default {@value #DEFAULT_APPEND}. */
        public Builder append(String append) {
            this.append = append;
            return this;
        }

        /** Guest RAM as QEMU writes sizes (e.g. {@code 512M}, {@code 1G}); default {@value #DEFAULT_MEMORY}. */
        public Builder memory(String memory) {
            this.memory = memory;
            return this;
        }

        /**
         * QEMU's {@code -display} value; default {@code none}. A GL display (e.g. {@code sdl,gl=on} for
         * {@code virtio-gpu-gl-pci}) usually needs {@link #environment} too (SDL wants {@code XDG_RUNTIME_DIR}).
         */
        public Builder display(String display) {
            this.display = display;
            return this;
        }

        /** Sets a variable in QEMU's environment (the rest is inherited). */
        public Builder environment(String name, String value) {
            environment.put(name, value);
            return this;
        }

        /** A name for the log files ({@code NAME-serial.log}, {@code NAME-qemu.log}); default {@code vm}. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /**
         * Adds a vhost-user device served on the unix socket {@code socket}:
         * {@code -chardev socket,id=vhuN,path=SOCKET -device TYPE,chardev=vhuN[,EXTRA]}.
         * The backend must already listen on {@code socket} when {@link #start()} runs: QEMU connects
         * once at start-up and exits if nobody answers (see {@link QemuVm#qemuLogFile()}).
         *
         * @param deviceType e.g. {@code vhost-user-rng-pci}
         * @param extraProps more device properties (e.g. {@code xres=1024,yres=768}), or null
         */
        public Builder vhostUserDevice(String deviceType, Path socket, String extraProps) {
            String id = "vhu" + chardevs++;
            deviceArgs.add("-chardev");
            deviceArgs.add("socket,id=" + id + ",path=" + escape(socket.toAbsolutePath().toString()));
            deviceArgs.add("-device");
            deviceArgs.add(deviceType + ",chardev=" + id
                    + (extraProps == null || extraProps.isBlank() ? "" : "," + extraProps));
            return this;
        }

        /** Adds raw QEMU arguments, after all others. */
        public Builder args(String... args) {
            extraArgs.addAll(List.of(args));
            return this;
        }

        /** Builds the guest without starting it. */
        public QemuVm build() {
            GuestEnvironment env = null;
            if (qemu == null || kernel == null) {
                env = GuestEnvironment.detect();
            }
            Path qemuBin = qemu != null ? qemu : env.qemu();
            if (qemuBin == null) {
                throw new IllegalStateException("no QEMU binary (set JVHOST_QEMU or put qemu-system-x86_64 on PATH)");
            }
            Path kernelImage = kernel != null ? kernel : env.kernel();
            try {
                Files.createDirectories(workDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path monitor = workDir.resolve(name + "-monitor.sock");
            Path monitorTempDir = null;
            if (monitor.toString().getBytes(StandardCharsets.UTF_8).length > 100) {
                try {
                    monitorTempDir = Files.createTempDirectory(Path.of("/tmp"), "jvhost-mon-");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                monitor = monitorTempDir.resolve("monitor.sock");
            }

            List<String> cmd = new ArrayList<>();
            cmd.add(qemuBin.toString());
            cmd.addAll(List.of(
                    "-nodefaults",
                    "-object", "memory-backend-memfd,id=mem,size=" + memory + ",share=on",
                    "-machine", (arm64 ? "virt" : "pc") + ",memory-backend=mem,accel=tcg",
                    "-m", memory,
                    "-display", display));
            if (arm64) {
                cmd.addAll(List.of("-cpu", "max"));
            } else {
                cmd.addAll(List.of("-vga", "none"));
            }
            cmd.addAll(List.of(
                    "-nic", "none",
                    "-no-reboot",
                    "-serial", "stdio",
                    "-monitor", "unix:" + escape(monitor.toString()) + ",server=on,wait=off",
                    "-kernel", kernelImage.toString()));
            if (initrd != null) {
                cmd.add("-initrd");
                cmd.add(initrd.toAbsolutePath().toString());
            }
            if (append != null && !append.isBlank()) {
                cmd.add("-append");
                cmd.add(append);
            }
            cmd.addAll(deviceArgs);
            cmd.addAll(extraArgs);
            return new QemuVm(this, cmd, monitor, monitorTempDir);
        }

        /** Builds and starts the guest. */
        public QemuVm start() {
            return build().start();
        }
    }
}
