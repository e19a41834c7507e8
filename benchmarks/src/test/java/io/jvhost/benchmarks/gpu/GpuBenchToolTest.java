package io.jvhost.benchmarks.gpu;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * GpuBench's plumbing: command templates, medians and ratios, target verdicts, splicing into BENCHMARKS.md.
 */
class GpuBenchToolTest
{
    @TempDir
    Path dir;

    @Test
    void commandTemplatesSplitOnBlanksHonourQuotesAndFillPlaceholders()
    {
        final BenchConfig c = BenchConfig.parse(new String[] {"--root", "/r"});
        final List<String> cmd = c.command("{java} -Dx='a b' \"c d\" -jar {root}/j.jar gpu --socket-path={socket}");
        assertThat(cmd.getFirst()).endsWith("/bin/java");
        assertThat(cmd.subList(1, cmd.size())).containsExactly("-Dx=a b", "c d", "-jar", "/r/j.jar", "gpu",
            "--socket-path={socket}");
        assertThat(BenchConfig.substitute(cmd, Path.of("/s/gpu.sock")).getLast()).isEqualTo("--socket-path=/s/gpu.sock");
        assertThatThrownBy(() -> c.command("a 'b")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void quickShortensTheRunAndBadOptionsAreRefused()
    {
        final BenchConfig q = BenchConfig.parse(new String[] {"--quick"});
        assertThat(q.rounds()).isEqualTo(2);
        assertThat(q.duration().toMillis()).isEqualTo(1000);
        assertThat(q.jmhQuick()).isTrue();
        assertThatThrownBy(() -> BenchConfig.parse(new String[] {"--rounds", "0"}))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BenchConfig.parse(new String[] {"--frobnicate"}))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BenchConfig.parse(new String[] {"--cell", "4000x16"}))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void mediansOverRounds()
    {
        final Results r = new Results();
        r.record(Results.JVHOST, 1, Map.of("k", 3.0));
        r.record(Results.JVHOST, 2, Map.of("k", 1.0));
        r.record(Results.JVHOST, 3, Map.of("k", 2.0));
        r.record(Results.PEER, 1, Map.of("k", 4.0));
        r.record(Results.PEER, 2, Map.of("k", 6.0));
        assertThat(r.median(Results.JVHOST, "k")).isEqualTo(2.0);
        assertThat(r.median(Results.PEER, "k")).isEqualTo(5.0);
        assertThat(r.median(Results.BASE, "k")).isNull();
    }

    @Test
    void theTableGivesJvhostOverCAndJudgesTheTargets()
    {
        final BenchConfig c = BenchConfig.parse(new String[] {"--rounds", "1"});
        final Results r = new Results();
        r.record(Results.JVHOST, 1, Map.of(Metrics.A_FPS, 120.0, Metrics.C_P50_US, 50.0, Metrics.E_STARTUP_MS, 600.0,
            Metrics.E_RSS_MIB, 100.0, Metrics.D_RNG_64_PER_S, 30_000.0));
        r.record(Results.PEER, 1, Map.of(Metrics.A_FPS, 100.0, Metrics.C_P50_US, 40.0, Metrics.E_STARTUP_MS, 10.0,
            Metrics.E_RSS_MIB, 30.0));
        r.record(Results.BASE, 1, Map.of(Metrics.BASE_MEMCPY_FPS, 3000.0));
        final String md = new Report(c, r, true).render(List.of("machine"), List.of("a note"), null);
        assertThat(md).startsWith(Report.BEGIN_MARKER).endsWith(Report.END_MARKER + "\n");
        assertThat(row(md, "| frames/s |")).contains("| 120 | 100 | 3,000 (memcpy of a frame) | 1.200 | higher | jvhost ÷ C ≥ 1 | yes |");
        assertThat(row(md, "| p50 µs |")).contains("| 50.0 | 40.0 |").contains("| 1.250 | lower | jvhost ÷ C ≤ 1.2 | **no** |");
        assertThat(row(md, "| ms | 600 |")).contains("jvhost < 500 ms | **no** |");
        assertThat(row(md, "| MiB | 100 |")).contains("jvhost < 2 × C + 64 MiB | yes |");
        assertThat(row(md, "64 B requests")).contains("| 30,000 | — |");
        assertThat(md).contains("- a note");
    }

    private static String row(final String md, final String containing)
    {
        return md.lines().filter(l -> l.contains(containing)).findFirst().orElseThrow();
    }

    @Test
    void theReportReplacesTheTextBetweenTheMarkersOrIsAppended() throws Exception
    {
        final Path doc = dir.resolve("BENCHMARKS.md");
        Files.writeString(doc, "# T\nbefore\n" + Report.BEGIN_MARKER + "\nold\n" + Report.END_MARKER + "\nafter\n");
        final String report = Report.BEGIN_MARKER + "\nnew\n" + Report.END_MARKER + "\n";
        GpuBench.updateDoc(doc, report);
        assertThat(Files.readString(doc, StandardCharsets.UTF_8)).isEqualTo("# T\nbefore\n" + report + "after\n");
        GpuBench.updateDoc(doc, report);
        assertThat(Files.readString(doc, StandardCharsets.UTF_8)).isEqualTo("# T\nbefore\n" + report + "after\n");
        final Path bare = dir.resolve("other.md");
        Files.writeString(bare, "text");
        GpuBench.updateDoc(bare, report);
        assertThat(Files.readString(bare, StandardCharsets.UTF_8)).isEqualTo("text\n\n" + report);
    }
}
