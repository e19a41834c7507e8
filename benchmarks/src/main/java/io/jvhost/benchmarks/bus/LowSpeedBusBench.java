package io.jvhost.benchmarks.bus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.Locale;

import io.jvhost.benchmarks.BackendCommands;
import io.jvhost.benchmarks.CpuTime;
import io.jvhost.benchmarks.BenchOptions;
import io.jvhost.benchmarks.MachineInfo;
import io.jvhost.benchmarks.MarkdownSplice;

/**
 * Low-speed bus request round trips against the peer, process against process: {@code jvhost gpio -l s8} and rust-vmm's
 * {@code vhost-device-gpio-mock -l s8} (the gpio crate built with {@code mock_gpio}; found in the rust-peers cache,
 * see {@link BackendCommands#rustPeersBin()}) are started side by side, and the in-process front-end of this JVM sends
 * each GET_VALUE requests on one line, one in flight, as Linux's gpio-virtio does for {@code gpioget}. Rounds
 * alternate which back-end goes first; every answer is checked (status 0, the level set beforehand).
 * <p>
 * i2c has no peer run: rust-vmm's {@code vhost-device-i2c} only serves host adapters ({@code /dev/i2c-N}, opened at
 * start); its crate has no simulated adapter, and machines without i2c adapters cannot run it.
 * <p>
 * The report goes to stdout (and {@code --out}, and between the {@code busbench} markers of {@code --update-doc}).
 */
public final class LowSpeedBusBench
{
    private static final String BEGIN = "<!-- busbench:begin -->";
    private static final String END = "<!-- busbench:end -->";
    private static final String PEER_BINARY = "vhost-device-gpio-mock";
    private static final String USAGE = """
        usage: LowSpeedBusBench [options]
          --root DIR           the jvhost checkout (default: .)
          --quick              a short validation run (2 rounds of 500); its figures are not measurements
          --rounds N           rounds; each measures every back-end once, alternating which goes first (default 10)
          --requests N         measured GET_VALUE round trips per back-end and round (default 20000)
          --warmup N           unmeasured round trips before each measurement (default 2000; the first round 10x)
          --jvhost CMD         how to start jvhost (default: {java} --enable-native-access=ALL-UNNAMED
                               @{root}/launcher/jvm.options [-XX:AOTCache=...] -jar {root}/launcher/target/jvhost.jar)
          --peer-gpio CMD      a peer gpio back-end taking vhost-device-gpio's flags (-s PATH -l s8, listening on
                               PATH0); default: vhost-device-gpio-mock in $RUST_PEERS_HOME/bin (else
                               ~/.cache/jvhost/rust-peers/bin) when built; "none" measures jvhost alone
          --peer-gpio-name N   the peer's name in the report (default: CMD's program name)
          --out FILE           also write the report here
          --update-doc FILE    replace the text between the busbench markers of FILE with the report
        Commands are split on blanks (no quoting).
        """;

    private Path root = Path.of(".");
    private boolean quick;
    private int rounds = 10;
    private int requests = 20_000;
    private int warmup = 2_000;
    private String jvhost;
    private String peerGpio;
    private String peerGpioName;
    private Path out;
    private Path updateDoc;

    public static void main(final String[] args) throws Exception
    {
        final LowSpeedBusBench b = new LowSpeedBusBench();
        try
        {
            b.parse(args);
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("LowSpeedBusBench: " + e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }
        System.exit(b.run());
    }

    void parse(final String[] args)
    {
        BenchOptions.parse(args, USAGE, Set.of("--quick"), (a, v) ->
        {
            switch (a)
            {
                case "--quick" -> quick = true;
                case "--root" -> root = Path.of(v);
                case "--rounds" -> rounds = BenchOptions.positive(a, v);
                case "--requests" -> requests = BenchOptions.positive(a, v);
                case "--warmup" -> warmup = BenchOptions.positive(a, v);
                case "--jvhost" -> jvhost = v;
                case "--peer-gpio" -> peerGpio = v;
                case "--peer-gpio-name" -> peerGpioName = v;
                case "--out" -> out = Path.of(v);
                case "--update-doc" -> updateDoc = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        });
        if (quick)
        {
            rounds = Math.min(rounds, 2);
            requests = Math.min(requests, 500);
            warmup = Math.min(warmup, 200);
        }
    }

    /** What one back-end measured over all rounds. */
    private static final class Tally
    {
        final GpioTarget target;
        final long[] samples;
        final double[] perSecond;
        long cpuNanos;
        int filled;

        Tally(final GpioTarget target, final int rounds, final int requests)
        {
            this.target = target;
            this.samples = new long[rounds * requests];
            this.perSecond = new double[rounds];
        }
    }

    private int run() throws Exception
    {
        root = root.toAbsolutePath().normalize();
        if (null == jvhost)
        {
            jvhost = BackendCommands.jvhost(root);
        }
        String peerNote = null;
        if (null == peerGpio)
        {
            peerGpio = BackendCommands.rustPeer(PEER_BINARY).map(Path::toString).orElse(null);
            if (null == peerGpio)
            {
                peerNote = "not run: no " + PEER_BINARY + " in " + BackendCommands.rustPeersBin()
                    + " (build it as shared/reference/rust-peers.md describes, or give `--peer-gpio CMD`)";
            }
        }
        else if (peerGpio.equals("none"))
        {
            peerGpio = null;
            peerNote = "not run (`--peer-gpio none`)";
        }
        final Path work = Files.createDirectories(root.resolve("benchmarks/target/busbench/work"));
        final Path dir = Files.createTempDirectory(work, "run-");
        final double busy = quick ? 0 : MachineInfo.awaitQuiet(Duration.ofSeconds(30));
        final String load = MachineInfo.loadAverage();

        final List<String> jvhostCmd = new ArrayList<>(List.of(jvhost.strip().split("\\s+")));
        final Path jvhostSocket = dir.resolve("jvhost-gpio.sock");
        jvhostCmd.addAll(List.of("gpio", "-s", jvhostSocket.toString(), "-l", "s8"));
        final List<Tally> tallies = new ArrayList<>();
        // Both gpio back-ends number their sockets as rust-vmm's do: PATH0 for the first (and only) chip.
        try (GpioTarget j = GpioTarget.start("jvhost gpio", jvhostCmd, Path.of(jvhostSocket + "0"), dir))
        {
            tallies.add(new Tally(j, rounds, requests));
            if (null == peerGpio)
            {
                measure(tallies);
            }
            else
            {
                final List<String> peerCmd = new ArrayList<>(List.of(peerGpio.strip().split("\\s+")));
                final Path peerSocket = dir.resolve("peer-gpio.sock");
                peerCmd.addAll(List.of("-s", peerSocket.toString(), "-l", "s8"));
                final String name = null != peerGpioName ? peerGpioName : peerCmd.getFirst().replaceAll(".*/", "");
                try (GpioTarget p = GpioTarget.start(name, peerCmd, Path.of(peerSocket + "0"), dir))
                {
                    tallies.add(new Tally(p, rounds, requests));
                    measure(tallies);
                }
            }
        }
        final String md = report(tallies, peerNote, load, busy);
        System.out.print(md);
        if (null != out)
        {
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, md, StandardCharsets.UTF_8);
        }
        if (null != updateDoc)
        {
            MarkdownSplice.splice(updateDoc, BEGIN, END, md);
        }
        return 0;
    }

    private void measure(final List<Tally> tallies) throws IOException
    {
        for (int r = 0; r < rounds; r++)
        {
            for (int k = 0; k < tallies.size(); k++)
            {
                // Round r starts with back-end r mod n: each goes first as often as the other.
                final Tally t = tallies.get((r + k) % tallies.size());
                final int w = r == 0 ? warmup * 10 : warmup;
                for (int i = 0; i < w; i++)
                {
                    t.target.getValue();
                }
                t.target.checkAnswer();
                final long cpu0 = CpuTime.ofTree(t.target.pid());
                final long start = System.nanoTime();
                for (int i = 0; i < requests; i++)
                {
                    t.target.clearAnswer();
                    final long t0 = System.nanoTime();
                    t.target.getValue();
                    t.samples[t.filled++] = System.nanoTime() - t0;
                    t.target.checkAnswer();
                }
                final long elapsed = System.nanoTime() - start;
                t.cpuNanos += CpuTime.ofTree(t.target.pid()) - cpu0;
                t.perSecond[r] = requests / (elapsed / 1e9);
            }
            System.err.printf(Locale.ROOT, "LowSpeedBusBench: round %d/%d:%s%n", r + 1, rounds, roundLine(tallies, r));
        }
    }

    private static String roundLine(final List<Tally> tallies, final int r)
    {
        final StringBuilder s = new StringBuilder();
        for (final Tally t : tallies)
        {
            s.append(String.format(Locale.ROOT, " %s %.0f/s", t.target.name(), t.perSecond[r]));
        }
        return s.toString();
    }

    private String report(final List<Tally> tallies, final String peerNote, final String load, final double busy)
    {
        final StringBuilder md = new StringBuilder();
        md.append(BEGIN).append("\n\n### Low-speed bus round trips (LowSpeedBusBench)\n\n");
        md.append("Run ").append(Instant.now().toString(), 0, 16).append("Z on ").append(MachineInfo.cpuModel())
            .append(" (").append(MachineInfo.onlineCpus()).append(" CPUs), load average at start ").append(load)
            .append(quick ? "" : String.format(Locale.ROOT, ", other processes' CPU use in the second before %.0f %%",
                100 * busy))
            .append(quick ? ".\n\n**--quick: a validation run, its figures are not measurements.**\n" : ".\n");
        md.append("\nGET_VALUE of one line of a simulated 8-line chip (`-l s8`), one request in flight, sent by the"
            + " in-process front-end over vhost-user to each back-end process; ").append(rounds).append(" rounds of ")
            .append(requests).append(" round trips per back-end, alternating which goes first. Round trips/s: median"
                + " of the rounds; p50/p99: of all round trips; CPU: the back-end process's user + system time per"
                + " round trip (10 ms ticks). The front-end's own time is in every figure for both.\n\n");
        md.append("| Back-end | round trips/s | p50 µs | p99 µs | back-end CPU µs/round trip |\n");
        md.append("| --- | ---: | ---: | ---: | ---: |\n");
        final double[][] figures = new double[tallies.size()][];
        for (int i = 0; i < tallies.size(); i++)
        {
            final Tally t = tallies.get(i);
            final long[] sorted = Arrays.copyOf(t.samples, t.filled);
            Arrays.sort(sorted);
            figures[i] = new double[] {BenchOptions.median(t.perSecond), percentile(sorted, 0.50) / 1e3,
                percentile(sorted, 0.99) / 1e3, t.cpuNanos / 1e3 / Math.max(1, t.filled)};
            md.append("| ").append(t.target.name()).append(" | ").append(f0(figures[i][0])).append(" | ")
                .append(f1(figures[i][1])).append(" | ").append(f1(figures[i][2])).append(" | ")
                .append(f1(figures[i][3])).append(" |\n");
        }
        if (tallies.size() == 2)
        {
            md.append("| **jvhost ÷ peer** |");
            for (int c = 0; c < 4; c++)
            {
                md.append(' ').append(ratio(figures[0][c], figures[1][c])).append(" |");
            }
            md.append('\n');
        }
        else
        {
            md.append("| ").append(PEER_BINARY).append(" | ").append(peerNote).append(" | | | |\n");
        }
        md.append("\ni2c: no peer run. rust-vmm's `vhost-device-i2c` serves only host adapters (`/dev/i2c-N`, opened"
            + " at start; its crate has no simulated adapter), so it cannot be compared without i2c hardware.\n");
        md.append('\n').append(END).append('\n');
        return md.toString();
    }

    /**
     * @return the nearest-rank percentile {@code p} (0..1) of {@code sorted}, NaN when empty.
     */
    static double percentile(final long[] sorted, final double p)
    {
        if (sorted.length == 0)
        {
            return Double.NaN;
        }
        final int rank = (int)Math.ceil(p * sorted.length);
        return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
    }

    private static String f0(final double v)
    {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.0f", v);
    }

    private static String f1(final double v)
    {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String ratio(final double a, final double b)
    {
        return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "–" : String.format(Locale.ROOT, "%.2f×", a / b);
    }
}
