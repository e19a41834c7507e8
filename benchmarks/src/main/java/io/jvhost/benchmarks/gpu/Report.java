package io.jvhost.benchmarks.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Markdown GpuBench prints: machine, run, the main table (medians over rounds, jvhost ÷ C ratios, targets),
 * further figures, per-round values and notes. Every ratio is jvhost ÷ C; the "better" column says which way is
 * good for that row.
 */
final class Report
{
    static final String BEGIN_MARKER = "<!-- gpubench:begin -->";
    static final String END_MARKER = "<!-- gpubench:end -->";

    enum Better
    {
        HIGHER("higher"),
        LOWER("lower");

        final String text;

        Better(final String text)
        {
            this.text = text;
        }
    }

    /**
     * A target on the medians; {@code met} returns null when it cannot be judged (a figure is missing).
     */
    interface Target
    {
        String text();

        Boolean met(Double jvhost, Double peer);
    }

    static Target none()
    {
        return new Target()
        {
            @Override
            public String text()
            {
                return "";
            }

            @Override
            public Boolean met(final Double jvhost, final Double peer)
            {
                return null;
            }
        };
    }

    static Target ratioAtLeast(final double min)
    {
        return new Target()
        {
            @Override
            public String text()
            {
                return "jvhost ÷ C ≥ " + num(min);
            }

            @Override
            public Boolean met(final Double jvhost, final Double peer)
            {
                return null == jvhost || null == peer || peer == 0 ? null : jvhost / peer >= min;
            }
        };
    }

    static Target ratioAtMost(final double max)
    {
        return new Target()
        {
            @Override
            public String text()
            {
                return "jvhost ÷ C ≤ " + num(max);
            }

            @Override
            public Boolean met(final Double jvhost, final Double peer)
            {
                return null == jvhost || null == peer || peer == 0 ? null : jvhost / peer <= max;
            }
        };
    }

    static Target below(final double limit, final String unit)
    {
        return new Target()
        {
            @Override
            public String text()
            {
                return "jvhost < " + num(limit) + " " + unit;
            }

            @Override
            public Boolean met(final Double jvhost, final Double peer)
            {
                return null == jvhost ? null : jvhost < limit;
            }
        };
    }

    /**
     * jvhost below {@code factor} × the peer + {@code extra}.
     */
    static Target belowScaledPeer(final double factor, final double extra, final String unit)
    {
        return new Target()
        {
            @Override
            public String text()
            {
                return "jvhost < " + num(factor) + " × C + " + num(extra) + " " + unit;
            }

            @Override
            public Boolean met(final Double jvhost, final Double peer)
            {
                return null == jvhost || null == peer ? null : jvhost < factor * peer + extra;
            }
        };
    }

    /**
     * One line of a table.
     *
     * @param id           the workload letter.
     * @param workload     what was measured (empty: same as the line above).
     * @param metric       the figure and its unit.
     * @param key          its {@link Metrics} key.
     * @param hasPeer      false where no C back-end exists (rng).
     * @param baselineKey  the same-run baseline's key, or null.
     * @param baselineName what the baseline is.
     */
    record Row(String id, String workload, String metric, String key, boolean hasPeer, String baselineKey,
               String baselineName, Better better, Target target)
    {
    }

    static List<Row> mainRows(final BenchConfig c)
    {
        final String frame = c.width() + "×" + c.height();
        final String cell = c.cellWidth() + "×" + c.cellHeight();
        return List.of(
            new Row("a", frame + " full frame: TRANSFER_TO_HOST_2D + RESOURCE_FLUSH, one frame in flight, counted"
                + " when the display has consumed its UPDATE bytes", "frames/s", Metrics.A_FPS, true,
                Metrics.BASE_MEMCPY_FPS, "memcpy of a frame", Better.HIGHER, ratioAtLeast(1.0)),
            new Row("a", "", "MB/s", Metrics.A_MBPS, true, Metrics.BASE_MEMCPY_MBPS, "memcpy", Better.HIGHER, none()),
            new Row("a′", "the same, guest-paced: counted at the used ring", "frames/s completed",
                Metrics.A2_USED_PER_S, true, null, null, Better.HIGHER, none()),
            new Row("a′", "", "frames/s reaching the display", Metrics.A2_DISPLAY_FPS, true, null, null, Better.HIGHER,
                none()),
            new Row("b", cell + " cell: TRANSFER + FLUSH at moving positions, one update in flight, counted at the"
                + " display", "updates/s (2 commands each)", Metrics.B_PER_S, true, Metrics.BASE_EVENTFD_PER_S,
                "eventfd round trips/s", Better.HIGHER, ratioAtLeast(1.0)),
            new Row("c", "GET_DISPLAY_INFO round trip (guest → back-end → display → back-end → guest)", "p50 µs",
                Metrics.C_P50_US, true, Metrics.BASE_EVENTFD_P50_US, "eventfd RTT p50", Better.LOWER,
                ratioAtMost(1.2)),
            new Row("c", "", "p99 µs", Metrics.C_P99_US, true, Metrics.BASE_EVENTFD_P99_US, "eventfd RTT p99",
                Better.LOWER, none()),
            new Row("c", "", "p99.9 µs", Metrics.C_P999_US, true, Metrics.BASE_EVENTFD_P999_US, "eventfd RTT p99.9",
                Better.LOWER, none()),
            new Row("d", "jvhost rng, 64 B requests, one in flight (no C rng back-end exists)", "requests/s",
                Metrics.D_RNG_64_PER_S, false, Metrics.BASE_EVENTFD_PER_S, "eventfd round trips/s", Better.HIGHER,
                none()),
            new Row("d", "jvhost rng, 4 KiB requests", "requests/s", Metrics.D_RNG_4K_PER_S, false,
                Metrics.BASE_EVENTFD_PER_S, "eventfd round trips/s", Better.HIGHER, none()),
            new Row("e", "start-up: process start → first GET_FEATURES answered", "ms", Metrics.E_STARTUP_MS, true,
                null, null, Better.LOWER, below(500, "ms")),
            new Row("e", "resident memory (VmRSS) after (a)", "MiB", Metrics.E_RSS_MIB, true, null, null,
                Better.LOWER, belowScaledPeer(2, 64, "MiB")));
    }

    static List<Row> detailRows()
    {
        return List.of(
            new Row("a", "per frame, p50, kick → both commands used", "ms", Metrics.A_USED_P50_MS, true, null, null,
                Better.LOWER, none()),
            new Row("a", "per frame, p50, kick → display has the frame", "ms", Metrics.A_DISPLAY_P50_MS, true, null,
                null, Better.LOWER, none()),
            new Row("a", "per frame, p99, kick → display has the frame", "ms", Metrics.A_DISPLAY_P99_MS, true, null,
                null, Better.LOWER, none()),
            new Row("a", "UPDATE messages per frame", "count", Metrics.A_UPDATES_PER_FRAME, true, null, null,
                Better.LOWER, none()),
            new Row("b", "per update, p50, kick → both commands used", "µs", Metrics.B_USED_P50_US, true, null, null,
                Better.LOWER, none()),
            new Row("b", "per update, p50, kick → display has the cell", "µs", Metrics.B_DISPLAY_P50_US, true, null,
                null, Better.LOWER, none()),
            new Row("c", "GET_DISPLAY_INFO round trips", "per s", Metrics.C_PER_S, true, Metrics.BASE_EVENTFD_PER_S,
                "eventfd round trips/s", Better.HIGHER, none()),
            new Row("e", "process start → socket listening", "ms", Metrics.E_LISTEN_MS, true, null, null, Better.LOWER,
                none()),
            new Row("e", "RssAnon after (a), private memory (heap, stacks, images)", "MiB", Metrics.E_ANON_MIB, true, null,
                null, Better.LOWER, none()),
            new Row("e", "RssFile after (a), mapped files (binary, libraries, JDK modules and CDS)", "MiB", Metrics.E_FILE_MIB, true,
                null, null, Better.LOWER, none()),
            new Row("e", "RssShmem after (a), shared memory (the guest RAM pages touched)", "MiB", Metrics.E_SHMEM_MIB, true, null, null,
                Better.LOWER, none()));
    }

    private final BenchConfig config;
    private final Results results;
    private final boolean peerMeasured;

    Report(final BenchConfig config, final Results results, final boolean peerMeasured)
    {
        this.config = config;
        this.results = results;
        this.peerMeasured = peerMeasured;
    }

    /**
     * @param header  lines describing machine and run (already Markdown).
     * @param notes   anything odd seen during the run.
     * @param jmh     the JMH section, or null.
     */
    String render(final List<String> header, final List<String> notes, final String jmh)
    {
        final StringBuilder md = new StringBuilder();
        md.append(BEGIN_MARKER).append('\n');
        md.append("<!-- Generated by GpuBench (scripts/bench.sh); rerun it rather than editing by hand. -->\n\n");
        if (config.quick())
        {
            md.append("> **Quick validation run** (short warm-up and measurement): the figures show that the tool"
                + " works, they are not measurements.\n\n");
        }
        else if (config.shortened())
        {
            md.append("> **Shortened run** (fewer rounds, shorter warm-up or measurement, or quick JMH settings than"
                + " the defaults): indicative only, not the final measurement.\n\n");
        }
        md.append("#### Machine and run\n\n");
        for (final String h : header)
        {
            md.append("- ").append(h).append('\n');
        }
        md.append("\n#### GPU back-ends: jvhost against QEMU's C vhost-user-gpu (medians over rounds)\n\n");
        table(md, mainRows(config), true);
        md.append("\nRatios are always jvhost ÷ C: where higher is better a ratio above 1 favours jvhost, where lower"
            + " is better a ratio below 1 does. \"Met\" judges the medians against the targets.\n");
        md.append("\n#### Further figures (medians)\n\n");
        table(md, detailRows(), false);
        md.append("\n#### Per-round values (round 1 / round 2 / …)\n\n");
        perRound(md);
        if (!notes.isEmpty())
        {
            md.append("\n#### Notes from this run\n\n");
            for (final String n : notes)
            {
                md.append("- ").append(n).append('\n');
            }
        }
        if (null != jmh)
        {
            md.append('\n').append(jmh);
        }
        md.append('\n').append(END_MARKER).append('\n');
        return md.toString();
    }

    private void table(final StringBuilder md, final List<Row> rows, final boolean withTargets)
    {
        md.append("| | Workload | Metric | jvhost | C peer | Same-run baseline | jvhost ÷ C | Better |");
        md.append(withTargets ? " Target | Met |\n" : "\n");
        md.append("|---|---|---|---:|---:|---|---:|---|").append(withTargets ? "---|---|\n" : "\n");
        for (final Row r : rows)
        {
            final Double j = results.median(Results.JVHOST, r.key());
            final Double c = r.hasPeer() ? results.median(Results.PEER, r.key()) : null;
            final Double b = null == r.baselineKey() ? null : results.median(Results.BASE, r.baselineKey());
            final String peerCell = !r.hasPeer() ? "—" : !peerMeasured ? "not run" : fmt(c);
            final String baseCell = null == r.baselineKey() ? "" : fmt(b) + " (" + r.baselineName() + ")";
            // Rows with a ratio target get a third decimal, so a verdict is never hidden by rounding (1.203 > 1.2).
            final String ratio = null == j || null == c || c == 0 ? "—"
                : String.format(Locale.ROOT, r.target().text().contains("÷") ? "%.3f" : "%.2f", j / c);
            md.append("| ").append(r.id()).append(" | ").append(r.workload()).append(" | ").append(r.metric())
                .append(" | ").append(fmt(j)).append(" | ").append(peerCell).append(" | ").append(baseCell)
                .append(" | ").append(ratio).append(" | ").append(r.better().text).append(" |");
            if (withTargets)
            {
                final Boolean met = r.target().met(j, c);
                md.append(' ').append(r.target().text()).append(" | ")
                    .append(r.target().text().isEmpty() ? "" : null == met ? "n/a" : met ? "yes" : "**no**")
                    .append(" |");
            }
            md.append('\n');
        }
    }

    private void perRound(final StringBuilder md)
    {
        md.append("| Metric | jvhost | C peer | Baseline |\n|---|---|---|---|\n");
        final List<Row> rows = new ArrayList<>(mainRows(config));
        rows.addAll(detailRows());
        final List<String> seenBaselines = new ArrayList<>();
        String workload = "";
        for (final Row r : rows)
        {
            if (!r.workload().isEmpty())
            {
                workload = shortName(r.workload());
            }
            final String label = r.id() + ", " + workload + ": " + r.metric();
            String base = "";
            if (null != r.baselineKey() && !seenBaselines.contains(r.baselineKey()))
            {
                seenBaselines.add(r.baselineKey());
                base = rounds(results.byRound(Results.BASE, r.baselineKey())) + " (" + r.baselineName() + ")";
            }
            md.append("| ").append(label).append(" | ").append(rounds(results.byRound(Results.JVHOST, r.key())))
                .append(" | ").append(r.hasPeer() ? rounds(results.byRound(Results.PEER, r.key())) : "—")
                .append(" | ").append(base).append(" |\n");
        }
    }

    /**
     * @return the part of a workload description before its first ": ", at most 48 characters.
     */
    private static String shortName(final String workload)
    {
        final int cut = workload.indexOf(": ");
        final String s = cut > 0 ? workload.substring(0, cut) : workload;
        return s.length() > 48 ? s.substring(0, 47) + "…" : s;
    }

    private String rounds(final Map<Integer, Double> byRound)
    {
        if (byRound.isEmpty())
        {
            return "";
        }
        final List<String> cells = new ArrayList<>();
        for (int r = 1; r <= config.rounds(); r++)
        {
            cells.add(byRound.containsKey(r) ? fmt(byRound.get(r)) : "✗");
        }
        return String.join(" / ", cells);
    }

    static String fmt(final Double v)
    {
        if (null == v)
        {
            return "—";
        }
        final double a = Math.abs(v);
        if (a >= 1000)
        {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 100)
        {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 10)
        {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    static String num(final double v)
    {
        return v == Math.rint(v) ? Long.toString((long)v) : String.format(Locale.ROOT, "%.1f", v);
    }
}
