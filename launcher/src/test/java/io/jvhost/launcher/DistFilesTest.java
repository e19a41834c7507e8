package io.jvhost.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The generated man pages and shell completion (DistFiles) cover every command and every option {@code --help}
 * shows: each page is rendered with {@code man -l}, each completion is run in bash (and in zsh through
 * bashcompinit).
 */
class DistFilesTest
{
    /** An option name in {@code --help}'s option lines: -s, --socket-path, --fd. */
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--?[A-Za-z][\\w-]*)");

    @Test
    void everyCommandHasAManPageListingEveryOptionOfItsHelp(@TempDir final Path dir) throws Exception
    {
        requireTool("man");
        DistFiles.write(dir);
        final Path man1 = dir.resolve("man/man1");
        final Map<String, CommandLine> subcommands = Main.commandLine().getSubcommands();
        assertThat(subcommands.keySet()).contains("rng", "gpu", "input", "console", "scsi", "vsock", "gpio", "i2c",
            "rtc", "template", "sound", "demo");
        final List<String[]> commands = new ArrayList<>();
        commands.add(new String[] {"jvhost"});
        for (final String name : subcommands.keySet())
        {
            if (!ManPages.HELP.equals(name))
            {
                commands.add(new String[] {"jvhost-" + name, name});
            }
        }
        for (final String[] command : commands)
        {
            final Path page = man1.resolve(command[0] + ".1");
            assertThat(page).as("the man page of " + command[0]).isRegularFile();
            final String rendered = render(page);
            assertThat(rendered).as(page + " rendered").startsWith(command[0].toUpperCase(java.util.Locale.ROOT)
                + "(1)").contains("NAME", "SYNOPSIS", "OPTIONS");
            final String[] helpArgs = command.length == 1 ? new String[] {"--help"}
                : new String[] {command[1], "--help"};
            final CliRun help = CliRun.of(helpArgs);
            assertThat(help.exitCode()).isZero();
            final Set<String> options = helpOptions(help.out());
            assertThat(options).as(command[0] + " --help's options").contains("--help");
            for (final String option : options)
            {
                assertThat(rendered).as(command[0] + "(1) lists " + option).containsPattern(
                    "(?m)^\\s+(\\S+, )*" + Pattern.quote(option) + "([=,\\[\\s]|$)");
            }
        }
        // jvhost(1) names each device's page.
        final String top = render(man1.resolve("jvhost.1"));
        for (final String[] command : commands.subList(1, commands.size()))
        {
            assertThat(top).contains(command[0] + "(1)");
        }
    }

    @Test
    void bashCompletesEverySubcommandAndEachOfItsOptions(@TempDir final Path dir) throws Exception
    {
        DistFiles.write(dir);
        final Path script = dir.resolve("completion/jvhost");
        final Map<String, CommandLine> subcommands = Main.commandLine().getSubcommands();
        assertThat(complete("bash", script, "jvhost", "")).containsAll(subcommands.keySet());
        for (final Map.Entry<String, CommandLine> e : subcommands.entrySet())
        {
            final List<String> offered = complete("bash", script, "jvhost", e.getKey(), "-");
            for (final CommandLine.Model.OptionSpec o : e.getValue().getCommandSpec().options())
            {
                assertThat(offered).as("jvhost " + e.getKey() + " - TAB").contains(o.names());
            }
        }
        assertThat(complete("bash", script, "jvhost", "gpu", "--socket-p")).containsExactly("--socket-path");
    }

    @Test
    void zshLoadsTheCompletionFunctionAndItCompletesThroughBashcompinit(@TempDir final Path dir) throws Exception
    {
        requireTool("zsh");
        DistFiles.write(dir);
        final Path zshFile = dir.resolve("completion/_jvhost");
        assertThat(Files.readString(zshFile)).startsWith("#compdef jvhost\n");
        // compinit reads the #compdef line from $fpath: jvhost is completed by _jvhost.
        final String registered = run(List.of("zsh", "-f", "-c", "fpath=(" + zshFile.getParent() + " $fpath);"
            + " autoload -U compinit; compinit -u -D; print -r -- \"$_comps[jvhost]\""));
        assertThat(registered.strip()).isEqualTo("_jvhost");
        // The bash script runs under zsh's bashcompinit (in its sh emulation, as _bash_complete runs it) and offers
        // rng's options; zsh itself then keeps those matching the word typed.
        final List<String> offered = complete("zsh", zshFile, "jvhost", "rng", "--rng");
        for (final CommandLine.Model.OptionSpec o : Main.commandLine().getSubcommands().get("rng").getCommandSpec()
            .options())
        {
            assertThat(offered).as("zsh: jvhost rng TAB").contains(o.names());
        }
    }

    @Test
    void everyActivatableDeviceHasTemplateUnitsThatSystemdAccepts(@TempDir final Path dir) throws Exception
    {
        DistFiles.write(dir);
        final List<String> devices = DistFiles.activatable(Main.commandLine());
        assertThat(devices).contains("rng", "gpu", "input", "console", "scsi", "gpio", "i2c", "rtc", "sound")
            .doesNotContain("vsock", "demo", ManPages.HELP);
        final Path analyze = Path.of("/usr/bin/systemd-analyze");
        for (final String device : devices)
        {
            final Path service = dir.resolve("systemd/jvhost-" + device + "@.service");
            final String unit = Files.readString(service);
            assertThat(unit).contains("ExecStart=/usr/bin/jvhost " + device + " $JVHOST_ARGS", "NoNewPrivileges=yes",
                "ProtectSystem=strict", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX")
                .doesNotContainPattern("(?m)^MemoryDenyWriteExecute");
            assertThat(unit.contains("AF_INET")).as(device + " listens on TCP").isEqualTo(
                device.equals("gpu") || device.equals("console"));
            assertThat(Files.readString(dir.resolve("systemd/jvhost-" + device + "@.socket")))
                .contains("ListenStream=/run/jvhost/" + device + "-%i.sock", "Accept=no");
            if (Files.isExecutable(analyze))
            {
                // The instance's units as systemd loads them; /usr/bin/jvhost is the package's, not on this machine.
                final Process p = new ProcessBuilder(analyze.toString(), "verify", "--man=no",
                    "./jvhost-" + device + "@vm1.service", "./jvhost-" + device + "@vm1.socket")
                    .directory(dir.resolve("systemd").toFile()).redirectErrorStream(true).start();
                final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(out.lines().filter(l -> !l.contains("Command /usr/bin/jvhost is not executable")))
                    .as("systemd-analyze verify jvhost-" + device + "@vm1.service").isEmpty();
            }
        }
    }

    @Test
    void qemuDescriptorsFollowVhostUserJsonAndMatchPrintCapabilities(@TempDir final Path dir) throws Exception
    {
        DistFiles.write(dir);
        final Path folder = dir.resolve("qemu/vhost-user");
        final List<String> expected = List.of("console", "gpu", "input", "rng", "scsi", "vsock");
        final List<String> files = new ArrayList<>();
        try (var list = Files.list(folder))
        {
            list.map(p -> p.getFileName().toString()).sorted().forEach(files::add);
        }
        assertThat(files).containsExactlyElementsOf(expected.stream().map(t -> "50-jvhost-" + t + ".json").toList());
        final Load json = new Load(LoadSettings.builder().build());
        for (final String type : expected)
        {
            @SuppressWarnings("unchecked")
            final Map<String, Object> d = (Map<String, Object>)json.loadFromString(
                Files.readString(folder.resolve("50-jvhost-" + type + ".json")));
            assertThat(d).containsOnlyKeys("description", "type", "binary", "tags");
            assertThat(d.get("type")).isEqualTo(type).isIn(DistFiles.QEMU_TYPES);
            assertThat(d.get("binary")).isEqualTo("/usr/libexec/jvhost/jvhost-" + type);
            assertThat((String)d.get("description")).startsWith("jvhost " + type + ": ");
            // What libvirt reads next: the binary's own --print-capabilities names the same type.
            final CliRun caps = CliRun.of(type, "--print-capabilities");
            assertThat(caps.exitCode()).isZero();
            @SuppressWarnings("unchecked")
            final Map<String, Object> printed = (Map<String, Object>)json.loadFromString(caps.out());
            assertThat(printed.get("type")).isEqualTo(type);
        }
    }

    /**
     * Skips without {@code tool} on PATH (scripts/setup.sh tools installs man-db and zsh), or fails under
     * JVHOST_REQUIRE_E2E=1 as the guest tests do.
     */
    private static void requireTool(final String tool)
    {
        final boolean found = java.util.Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
            .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, tool)));
        if (!found)
        {
            final String message = "no " + tool + " on PATH (scripts/setup.sh tools installs it)";
            assertThat(System.getenv("JVHOST_REQUIRE_E2E")).as(message).isNotEqualTo("1");
            org.junit.jupiter.api.Assumptions.abort(message);
        }
    }

    /**
     * Runs the completion function of {@code script} in {@code shell} for the command line {@code words} (the last
     * one is the word being completed).
     *
     * @return COMPREPLY.
     */
    private static List<String> complete(final String shell, final Path script, final String... words)
        throws IOException, InterruptedException
    {
        final StringBuilder quoted = new StringBuilder();
        for (final String w : words)
        {
            quoted.append(" '").append(w).append('\'');
        }
        final String line = String.join(" ", words);
        final String body;
        if ("zsh".equals(shell))
        {
            // The file's last line asks zle for the candidates; outside completion only its definitions count.
            body = "autoload -U +X compinit && compinit -u -D; "
                + "source <(sed '$d' '" + script + "'); ";
        }
        else
        {
            body = "source '" + script + "'; ";
        }
        final String emulate = "zsh".equals(shell) ? "emulate -L sh -o kshglob -o noshglob -o braceexpand; " : "";
        final String program = body + "t() { " + emulate + "COMP_WORDS=(" + quoted + "); COMP_CWORD=" + (words.length - 1)
            + "; COMP_LINE='" + line + "'; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); "
            + "_complete_jvhost jvhost '" + words[words.length - 1] + "' '" + words[words.length - 2]
            + "' 2>/dev/null; "
            + "printf '%s\\n' \"${COMPREPLY[@]}\"; }; t";
        final List<String> command = "zsh".equals(shell) ? List.of("zsh", "-f", "-c", program)
            : List.of("bash", "--norc", "--noprofile", "-c", program);
        return run(command).lines().map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    private static String run(final List<String> command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(command + " printed:\n" + out).isZero();
        return out;
    }

    /**
     * @return the page as {@code man} shows it (plain text, wide, so no option is split across lines).
     */
    private static String render(final Path page) throws IOException, InterruptedException
    {
        render(page, 80);
        return render(page, 250);
    }

    /**
     * @return the page as {@code man} shows it {@code width} columns wide, after checking troff had no warning.
     */
    private static String render(final Path page, final int width) throws IOException, InterruptedException
    {
        final Path errors = Files.createTempFile("jvhost-man-", ".err");
        final ProcessBuilder pb = new ProcessBuilder("man", "-l", page.toString())
            .redirectError(errors.toFile());
        pb.environment().put("MANPAGER", "cat");
        pb.environment().put("MANWIDTH", Integer.toString(width));
        pb.environment().put("LANG", "C");
        pb.environment().put("LC_ALL", "C");
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("man -l " + page + ":\n" + out).isZero();
        assertThat(Files.readString(errors)).as("man -l " + page + "'s warnings at " + width + " columns").isEmpty();
        Files.delete(errors);
        return out;
    }

    /**
     * @return the option names of {@code --help}'s option list (each line whose first column is an option).
     */
    private static Set<String> helpOptions(final String help)
    {
        final Set<String> names = new LinkedHashSet<>();
        for (final String line : help.lines().toList())
        {
            if (line.matches("^ {2,6}-.*|^ {6}--.*"))
            {
                // The names column: up to the first two spaces after the names ("-s, --socket-path=PATH   text").
                final String column = line.strip().split("\\s{2,}", 2)[0];
                final Matcher m = OPTION.matcher(column.replaceAll("=\\S*|\\[=[^]]*]", ""));
                while (m.find())
                {
                    names.add(m.group(1));
                }
            }
        }
        return names;
    }
}
