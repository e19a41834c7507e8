package io.jvhost.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes the man pages (troff, {@code man(7)} macros) of {@code jvhost} and each of its subcommands from the picocli
 * model, so a page never drifts from {@code --help}: {@code jvhost(1)}, {@code jvhost-gpu(1)}, {@code jvhost-rng(1)}
 * and so on, every option with its parameter label, description and default as {@code --help} prints them. The build
 * runs it through {@link DistFiles} into {@code launcher/target/dist/man/man1}; {@code man -l} reads the result.
 */
final class ManPages
{
    /** picocli's own help subcommand: described in jvhost(1), no page of its own. */
    static final String HELP = "help";

    private ManPages()
    {
    }

    /**
     * Writes {@code jvhost.1} and {@code jvhost-NAME.1} for every subcommand but {@value #HELP} into {@code dir}.
     *
     * @return the files written.
     */
    static List<Path> write(final CommandLine root, final Path dir) throws IOException
    {
        Files.createDirectories(dir);
        final List<Path> written = new ArrayList<>();
        final String version = version(root.getCommandSpec());
        final Path top = dir.resolve("jvhost.1");
        Files.writeString(top, page(root.getCommandSpec(), version), StandardCharsets.UTF_8);
        written.add(top);
        for (final Map.Entry<String, CommandLine> e : root.getSubcommands().entrySet())
        {
            if (HELP.equals(e.getKey()))
            {
                continue;
            }
            final Path file = dir.resolve(pageName(e.getValue().getCommandSpec()) + ".1");
            Files.writeString(file, page(e.getValue().getCommandSpec(), version), StandardCharsets.UTF_8);
            written.add(file);
        }
        return written;
    }

    /**
     * @return {@code jvhost} or {@code jvhost-gpu}: the page's name.
     */
    static String pageName(final CommandSpec spec)
    {
        return spec.qualifiedName("-");
    }

    private static String version(final CommandSpec spec)
    {
        final String[] v = spec.version();
        // "jvhost 0.1.0-SNAPSHOT (Java 25+36-LTS)": the page names jvhost's version, not the build's JDK.
        return v.length == 0 ? "jvhost" : v[0].replaceFirst(" \\(Java .*\\)$", "");
    }

    /**
     * @return the troff source of {@code spec}'s page.
     */
    static String page(final CommandSpec spec, final String version)
    {
        final StringBuilder sb = new StringBuilder(8192);
        final String name = pageName(spec);
        final String[] description = spec.usageMessage().description();
        sb.append(".\\\" Generated from jvhost's picocli model (io.jvhost.launcher.ManPages); do not edit.\n")
            .append(".TH \"").append(name.toUpperCase(Locale.ROOT)).append("\" \"1\" \"\" \"")
            .append(escape(version)).append("\" \"jvhost Manual\"\n")
            .append(".nh\n.ad l\n")
            .append(".SH NAME\n").append(escape(name)).append(" \\- ")
            .append(escape(description.length > 0 ? firstSentence(description[0]) : name)).append('\n')
            .append(".SH SYNOPSIS\n.nf\n")
            .append(escape(new CommandLine.Help(spec, CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF))
                .synopsis(0).stripTrailing()))
            .append("\n.fi\n");
        if (description.length > 0)
        {
            sb.append(".SH DESCRIPTION\n");
            for (final String line : description)
            {
                sb.append(escape(line)).append("\n.br\n");
            }
        }
        final List<OptionSpec> options = spec.options().stream().filter(o -> !o.hidden()).toList();
        if (!options.isEmpty())
        {
            sb.append(".SH OPTIONS\n");
            for (final OptionSpec o : options)
            {
                sb.append(".TP\n");
                final List<String> names = new ArrayList<>();
                for (final String n : o.names())
                {
                    names.add("\\fB" + escape(n) + "\\fR");
                }
                sb.append(String.join(", ", names));
                if (o.arity().max() > 0)
                {
                    final String label = "\\fI" + escape(o.paramLabel()) + "\\fR";
                    sb.append(o.arity().min() == 0 ? "[=" + label + "]" : "=" + label);
                }
                sb.append('\n').append(escape(String.join(" ", o.description()))).append('\n');
            }
        }
        final List<PositionalParamSpec> positionals = spec.positionalParameters().stream()
            .filter(p -> !p.hidden()).toList();
        if (!positionals.isEmpty())
        {
            sb.append(".SH ARGUMENTS\n");
            for (final PositionalParamSpec p : positionals)
            {
                sb.append(".TP\n\\fI").append(escape(p.paramLabel())).append("\\fR\n")
                    .append(escape(String.join(" ", p.description()))).append('\n');
            }
        }
        if (null == spec.parent())
        {
            sb.append(".SH COMMANDS\n");
            for (final Map.Entry<String, CommandLine> e : spec.subcommands().entrySet())
            {
                final CommandSpec sub = e.getValue().getCommandSpec();
                final String[] d = sub.usageMessage().description();
                sb.append(".TP\n\\fB").append(escape(e.getKey())).append("\\fR\n")
                    .append(escape(d.length > 0 ? d[0] : "")).append(HELP.equals(e.getKey()) ? ""
                        : " See \\fB" + escape(pageName(sub)) + "\\fR(1).").append('\n');
            }
        }
        sb.append(".SH ENVIRONMENT\n")
            .append(".TP\n\\fBJVHOST_LOG\\fR\n")
            .append(escape("error, warn, info (the default) or debug: the level of the log, one line per event on"
                + " stderr.")).append('\n')
            .append(".TP\n\\fBLISTEN_FDS\\fR, \\fBLISTEN_PID\\fR\n")
            .append(escape("systemd's socket activation: with neither --socket-path nor --fd, a device back-end"
                + " serves the listening sockets passed from descriptor 3 on, one device each.")).append('\n')
            .append(".SH EXIT STATUS\n")
            .append(escape("0 after SIGTERM or SIGINT, or when the one front-end of an inherited connected socket"
                + " disconnected; 1 when a socket failed for good or the connection ended on an error; 2 for a"
                + " usage error.")).append('\n')
            .append(".SH SEE ALSO\n");
        final List<String> seeAlso = new ArrayList<>();
        final CommandSpec top = null == spec.parent() ? spec : spec.root();
        if (spec != top)
        {
            seeAlso.add("\\fBjvhost\\fR(1)");
        }
        for (final Map.Entry<String, CommandLine> e : top.subcommands().entrySet())
        {
            final CommandSpec sub = e.getValue().getCommandSpec();
            if (!HELP.equals(e.getKey()) && sub != spec)
            {
                seeAlso.add("\\fB" + escape(pageName(sub)) + "\\fR(1)");
            }
        }
        seeAlso.add("\\fBqemu\\-system\\-x86_64\\fR(1)");
        sb.append(String.join(", ", seeAlso)).append('\n');
        return sb.toString();
    }

    private static String firstSentence(final String line)
    {
        final int dot = line.indexOf(". ");
        return (dot > 0 ? line.substring(0, dot) : line).replaceFirst("\\.$", "");
    }

    /**
     * Text as troff reads it literally: backslashes and hyphens escaped, a leading dot or quote made harmless, and a
     * break allowed after each comma that joins two words.
     */
    static String escape(final String text)
    {
        final StringBuilder sb = new StringBuilder(text.length() + 16);
        boolean lineStart = true;
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            if (lineStart && (c == '.' || c == '\''))
            {
                sb.append("\\&");
            }
            switch (c)
            {
                case '\\' -> sb.append("\\e");
                case '-' -> sb.append("\\-");
                // A possible break after a comma inside a long token (QEMU's -device a=1,b=2,...).
                case ',' -> sb.append(i + 1 < text.length() && text.charAt(i + 1) != ' ' ? ",\\:" : ",");
                default -> sb.append(c);
            }
            lineStart = c == '\n';
        }
        return sb.toString();
    }
}
