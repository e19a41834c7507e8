package io.jvhost.benchmarks.gpu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the selected JMH benchmarks with the GC profiler (their own forks, settings from their annotations unless
 * {@code --jmh-quick}) and renders score, error and allocation per operation.
 */
final class JmhSection
{
    private JmhSection()
    {
    }

    static String run(final BenchConfig config, final Path log) throws Exception
    {
        return render(run(config.jmh(), config.jmhQuick(), log), config.jmhQuick());
    }

    /**
     * Runs the benchmarks matching {@code include} with the GC profiler; {@code quick}: one short fork.
     *
     * @return the results, sorted by benchmark and parameters.
     */
    static List<RunResult> run(final String include, final boolean quick, final Path log) throws Exception
    {
        Log.info("JMH: running benchmarks matching '" + include + "' with -prof gc (log: " + log + ")");
        final ChainedOptionsBuilder options = new OptionsBuilder().include(include).addProfiler(GCProfiler.class)
            .output(log.toString()).shouldFailOnError(true);
        if (quick)
        {
            options.forks(1).warmupIterations(1).warmupTime(TimeValue.milliseconds(300)).measurementIterations(2)
                .measurementTime(TimeValue.milliseconds(500));
        }
        final Collection<RunResult> runs = new Runner(options.build()).run();
        final List<RunResult> sorted = new ArrayList<>(runs);
        sorted.sort(Comparator.comparing((RunResult r) -> r.getParams().getBenchmark())
            .thenComparing(r -> params(r.getParams())));
        return sorted;
    }

    /**
     * @return the Markdown table of {@code sorted}, under its heading.
     */
    static String render(final List<RunResult> sorted, final boolean quick)
    {
        final StringBuilder md = new StringBuilder();
        md.append("#### JMH microbenchmarks (").append(quick ? "quick settings: not measurements"
            : "forks and iterations as annotated").append("; `-prof gc`)\n\n");
        md.append("| Benchmark | Parameters | Score | ± (99.9 %) | Unit | Allocated B/op |\n");
        md.append("|---|---|---:|---:|---|---:|\n");
        for (final RunResult r : sorted)
        {
            final BenchmarkParams p = r.getParams();
            final Result<?> primary = r.getPrimaryResult();
            final String name = p.getBenchmark().replaceFirst("^io\\.jvhost\\.benchmarks\\.", "");
            md.append("| ").append(name).append(" | ").append(params(p)).append(" | ")
                .append(Report.fmt(primary.getScore())).append(" | ")
                .append(Double.isNaN(primary.getScoreError()) ? "—" : Report.fmt(primary.getScoreError()))
                .append(" | ").append(primary.getScoreUnit()).append(" | ").append(allocation(r)).append(" |\n");
        }
        return md.toString();
    }

    private static String params(final BenchmarkParams p)
    {
        final List<String> kv = new ArrayList<>();
        for (final String k : p.getParamsKeys())
        {
            kv.add(k + "=" + p.getParam(k));
        }
        return String.join(", ", kv);
    }

    private static String allocation(final RunResult r)
    {
        for (final Map.Entry<String, Result> e : r.getSecondaryResults().entrySet())
        {
            if (e.getKey().endsWith("gc.alloc.rate.norm"))
            {
                return String.format(Locale.ROOT, "%.3f", e.getValue().getScore());
            }
        }
        return "—";
    }
}
