package io.jvhost.benchmarks.gpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * GpuBench's command line. Back-end command lines are templates: {@code {socket}} stands for the socket path the
 * tool picks, {@code {java}} for the JDK running GpuBench, {@code {root}} for the jvhost checkout.
 */
final class BenchConfig
{
    static final String DEFAULT_PEER_GPU = "/usr/lib/qemu/vhost-user-gpu";
    static final String USAGE = """
        usage: GpuBench [options]
          --rounds N            rounds; each runs every back-end once, alternating which goes first (default 3)
          --warmup S            warm-up seconds before each measured workload (default 2)
          --duration S          measured seconds per workload (default 5)
          --quick               a short validation run: 2 rounds, 0.3 s warm-up, 1 s measured, short JMH
          --root DIR            jvhost checkout (default: the system property jvhost.root, else the current directory)
          --jvhost-gpu CMD      jvhost GPU back-end (default: {java} --enable-native-access=ALL-UNNAMED
                                @{root}/launcher/jvm.options -XX:AOTCache={root}/launcher/target/jvhost.aot
                                -jar {root}/launcher/target/jvhost.jar gpu --socket-path {socket}: the JVM
                                options and AOT cache ./jvhost uses)
          --peer-gpu CMD        the peer GPU back-end (default: /usr/lib/qemu/vhost-user-gpu --socket-path={socket})
          --no-peer             measure jvhost only
          --jvhost-rng CMD      jvhost rng back-end (default: as --jvhost-gpu with rng); it listens on
                                {socket} + --rng-socket-suffix
          --rng-socket-suffix S suffix the rng back-end appends to its socket path (default 0, as vhost-device-rng)
          --width W --height H  framebuffer size (default 1920 x 1080)
          --cell WxH            damage rectangle of workload (b) (default 64x16)
          --guest-ram MIB       guest RAM (default 64)
          --seed N              page scattering seed (default 1)
          --jmh REGEX           JMH benchmarks to run after the rounds (default: io.jvhost.benchmarks., all of
                                them; io.jvhost.benchmarks.gpu. for the GPU ones only)
          --jmh-quick           JMH with 1 fork, 1 short warm-up and 2 short iterations
          --no-jmh              skip JMH
          --out FILE            also write the report to FILE
          --update-doc FILE     replace the text between the GpuBench markers in FILE (BENCHMARKS.md) with the
                                report
          --work-dir DIR        sockets and back-end logs (default: a temporary directory)
          --verbose             more progress output (back-end stderr)
        Back-end commands are split on spaces (quotes group); {socket}, {java} and {root} are replaced.
        """;

    private int rounds = 3;
    private Duration warmup = Duration.ofSeconds(2);
    private Duration duration = Duration.ofSeconds(5);
    private boolean quick;
    private Path root;
    private String jvhostGpu = "{java} --enable-native-access=ALL-UNNAMED @{root}/launcher/jvm.options"
        + " -XX:AOTCache={root}/launcher/target/jvhost.aot -jar {root}/launcher/target/jvhost.jar gpu"
        + " --socket-path {socket}";
    private String peerGpu = DEFAULT_PEER_GPU + " --socket-path={socket}";
    private boolean noPeer;
    private String jvhostRng = "{java} --enable-native-access=ALL-UNNAMED @{root}/launcher/jvm.options"
        + " -XX:AOTCache={root}/launcher/target/jvhost.aot -jar {root}/launcher/target/jvhost.jar rng"
        + " --socket-path {socket}";
    private String rngSocketSuffix = "0";
    private int width = 1920;
    private int height = 1080;
    private int cellWidth = 64;
    private int cellHeight = 16;
    private long guestRamBytes = 64L << 20;
    private long seed = 1;
    private String jmh = "io.jvhost.benchmarks.";
    private boolean jmhQuick;
    private boolean noJmh;
    private Path out;
    private Path updateDoc;
    private Path workDir;
    private boolean verbose;
    private final List<String> arguments = new ArrayList<>();

    static BenchConfig parse(final String[] args)
    {
        final BenchConfig c = new BenchConfig();
        c.arguments.addAll(List.of(args));
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            switch (a)
            {
                case "--rounds" -> c.rounds = positive(a, value(args, ++i, a));
                case "--warmup" -> c.warmup = seconds(a, value(args, ++i, a));
                case "--duration" -> c.duration = seconds(a, value(args, ++i, a));
                case "--quick" ->
                {
                    c.quick = true;
                    c.rounds = 2;
                    c.warmup = Duration.ofMillis(300);
                    c.duration = Duration.ofSeconds(1);
                    c.jmhQuick = true;
                }
                case "--root" -> c.root = Path.of(value(args, ++i, a));
                case "--jvhost-gpu" -> c.jvhostGpu = value(args, ++i, a);
                case "--peer-gpu" -> c.peerGpu = value(args, ++i, a);
                case "--no-peer" -> c.noPeer = true;
                case "--jvhost-rng" -> c.jvhostRng = value(args, ++i, a);
                case "--rng-socket-suffix" -> c.rngSocketSuffix = value(args, ++i, a);
                case "--width" -> c.width = positive(a, value(args, ++i, a));
                case "--height" -> c.height = positive(a, value(args, ++i, a));
                case "--cell" ->
                {
                    final String[] wh = value(args, ++i, a).split("[xX]");
                    if (wh.length != 2)
                    {
                        throw new IllegalArgumentException("--cell takes WxH, e.g. 64x16");
                    }
                    c.cellWidth = positive(a, wh[0]);
                    c.cellHeight = positive(a, wh[1]);
                }
                case "--guest-ram" -> c.guestRamBytes = (long)positive(a, value(args, ++i, a)) << 20;
                case "--seed" -> c.seed = Long.parseLong(value(args, ++i, a));
                case "--jmh" -> c.jmh = value(args, ++i, a);
                case "--jmh-quick" -> c.jmhQuick = true;
                case "--no-jmh" -> c.noJmh = true;
                case "--out" -> c.out = Path.of(value(args, ++i, a));
                case "--update-doc" -> c.updateDoc = Path.of(value(args, ++i, a));
                case "--work-dir" -> c.workDir = Path.of(value(args, ++i, a));
                case "--verbose" -> c.verbose = true;
                case "-h", "--help" -> throw new HelpRequested();
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (null == c.root)
        {
            c.root = Path.of(System.getProperty("jvhost.root", ".")).toAbsolutePath().normalize();
        }
        if (c.cellWidth > c.width || c.cellHeight > c.height)
        {
            throw new IllegalArgumentException("--cell must fit the framebuffer");
        }
        final long pages = ((long)c.width * c.height * 4 + 4095) / 4096;
        if (c.guestRamBytes < 2 * pages * 4096 + (8L << 20))
        {
            throw new IllegalArgumentException("--guest-ram is too small for a " + c.width + "x" + c.height
                + " framebuffer's scattered pages");
        }
        return c;
    }

    /**
     * Thrown for {@code --help}.
     */
    static final class HelpRequested extends RuntimeException
    {
        HelpRequested()
        {
            super("help", null, false, false);
        }
    }

    private static String value(final String[] args, final int i, final String option)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int positive(final String option, final String text)
    {
        final int v = Integer.parseInt(text.trim());
        if (v <= 0)
        {
            throw new IllegalArgumentException(option + " must be positive, got " + text);
        }
        return v;
    }

    private static Duration seconds(final String option, final String text)
    {
        final double s = Double.parseDouble(text.trim());
        if (!(s >= 0))
        {
            throw new IllegalArgumentException(option + " must not be negative, got " + text);
        }
        return Duration.ofNanos((long)(s * 1e9));
    }

    /**
     * Splits a command template on blanks (single or double quotes group) and fills in {java} and {root}.
     */
    List<String> command(final String template)
    {
        final List<String> words = new ArrayList<>();
        final StringBuilder word = new StringBuilder();
        char quote = 0;
        boolean inWord = false;
        for (int i = 0; i < template.length(); i++)
        {
            final char ch = template.charAt(i);
            if (quote != 0)
            {
                if (ch == quote)
                {
                    quote = 0;
                }
                else
                {
                    word.append(ch);
                }
            }
            else if (ch == '\'' || ch == '"')
            {
                quote = ch;
                inWord = true;
            }
            else if (Character.isWhitespace(ch))
            {
                if (inWord)
                {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            }
            else
            {
                word.append(ch);
                inWord = true;
            }
        }
        if (quote != 0)
        {
            throw new IllegalArgumentException("unbalanced quote in " + template);
        }
        if (inWord)
        {
            words.add(word.toString());
        }
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        words.replaceAll(w -> w.replace("{java}", java).replace("{root}", root.toString()));
        return words;
    }

    /**
     * @return {@code command} with {@code {socket}} replaced by {@code socket}.
     */
    static List<String> substitute(final List<String> command, final Path socket)
    {
        return command.stream().map(w -> w.replace("{socket}", socket.toString())).toList();
    }

    int rounds()
    {
        return rounds;
    }

    Duration warmup()
    {
        return warmup;
    }

    Duration duration()
    {
        return duration;
    }

    boolean quick()
    {
        return quick;
    }

    /**
     * @return true when any setting is below the defaults the final figures are meant to be taken with.
     */
    boolean shortened()
    {
        return quick || jmhQuick || rounds < 3 || warmup.compareTo(Duration.ofSeconds(2)) < 0
            || duration.compareTo(Duration.ofSeconds(5)) < 0;
    }

    Path root()
    {
        return root;
    }

    List<String> jvhostGpu()
    {
        return command(jvhostGpu);
    }

    /**
     * @return the peer's command, or null when there is none (--no-peer, or the default binary is missing).
     */
    List<String> peerGpu()
    {
        if (noPeer)
        {
            return null;
        }
        final List<String> c = command(peerGpu);
        if (c.getFirst().equals(DEFAULT_PEER_GPU) && !Files.isExecutable(Path.of(DEFAULT_PEER_GPU)))
        {
            return null;
        }
        return c;
    }

    String peerGpuTemplate()
    {
        return peerGpu;
    }

    List<String> jvhostRng()
    {
        return command(jvhostRng);
    }

    String rngSocketSuffix()
    {
        return rngSocketSuffix;
    }

    int width()
    {
        return width;
    }

    int height()
    {
        return height;
    }

    int cellWidth()
    {
        return cellWidth;
    }

    int cellHeight()
    {
        return cellHeight;
    }

    long guestRamBytes()
    {
        return guestRamBytes;
    }

    long seed()
    {
        return seed;
    }

    String jmh()
    {
        return noJmh ? null : jmh;
    }

    boolean jmhQuick()
    {
        return jmhQuick;
    }

    Path out()
    {
        return out;
    }

    Path updateDoc()
    {
        return updateDoc;
    }

    Path workDir()
    {
        return workDir;
    }

    void workDir(final Path dir)
    {
        this.workDir = dir;
    }

    boolean verbose()
    {
        return verbose;
    }

    List<String> arguments()
    {
        return arguments;
    }
}
