package io.jvhost.launcher;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jvhost} command: one subcommand per device back-end.
 */
@Command(
    name = "jvhost",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "vhost-user device back-ends in Java. Each subcommand serves one device type on a vhost-user socket.",
    subcommands = {RngCommand.class, GpuCommand.class, InputCommand.class, DemoCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(final String[] args)
    {
        Logging.configure();
        System.exit(commandLine().execute(args));
    }

    /**
     * @return the configured command line (also used by tests).
     */
    public static CommandLine commandLine()
    {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run()
    {
        spec.commandLine().usage(System.out);
    }

    /**
     * Reads the version Maven wrote into the jar.
     */
    static final class Version implements CommandLine.IVersionProvider
    {
        @Override
        public String[] getVersion() throws Exception
        {
            final java.util.Properties p = new java.util.Properties();
            try (var in = Main.class.getResourceAsStream("version.properties"))
            {
                if (null != in)
                {
                    p.load(in);
                }
            }
            return new String[] {"jvhost " + p.getProperty("version", "unknown") + " (Java "
                + Runtime.version() + ")"};
        }
    }
}
