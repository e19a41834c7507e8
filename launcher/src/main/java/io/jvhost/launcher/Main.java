package io.jvhost.launcher;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

import io.jvhost.os.LibC;
import io.jvhost.os.ThreadTop;
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
    // Subcommands are added in commandLine(String[]).
    subcommands = {})
public final class Main implements Runnable
{
    /** The device subcommands, by name; each is a picocli command class with a no-argument constructor. */
    private static final Map<String, Supplier<Object>> SUBCOMMANDS = subcommands();

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(final String[] args)
    {
        // The FFM downcall handles take a cold JVM about as long as picocli's reflection over the options:
        // build them on a second core meanwhile. A thread that needs LibC
        // earlier simply waits for the initialisation to finish.
        Thread.ofPlatform().name("jvhost-preload").daemon()
            .start(ThreadTop.guarded("jvhost-preload", Main::preloadNativeCalls));
        Logging.configure();
        final String[] effective;
        try
        {
            // systemd's socket activation: LISTEN_FDS/LISTEN_PID for this process become --fd 3.
            effective = SocketActivation.arguments(args, System.getenv(), ProcessHandle.current().pid());
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("jvhost: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(commandLine(effective).execute(effective));
    }

    /**
     * @return the command line with every subcommand (help, tests).
     */
    public static CommandLine commandLine()
    {
        return commandLine(new String[0]);
    }

    /**
     * The command line for {@code args}: when the first argument names a device subcommand, only that one is
     * modelled (picocli reflects over every option of every subcommand it is given, a cost paid before the
     * back-end can listen); otherwise all of them, for help and error messages.
     */
    static CommandLine commandLine(final String[] args)
    {
        final CommandLine cli = new CommandLine(new Main());
        final Supplier<Object> only = args.length > 0 ? SUBCOMMANDS.get(args[0]) : null;
        if (null != only)
        {
            cli.addSubcommand(args[0], only.get());
        }
        else
        {
            SUBCOMMANDS.forEach((name, command) -> cli.addSubcommand(name, command.get()));
            cli.addSubcommand(new CommandLine.HelpCommand());
        }
        return cli.setCaseInsensitiveEnumValuesAllowed(true);
    }

    private static Map<String, Supplier<Object>> subcommands()
    {
        final Map<String, Supplier<Object>> commands = new LinkedHashMap<>();
        commands.put("rng", RngCommand::new);
        commands.put("gpu", GpuCommand::new);
        commands.put("input", InputCommand::new);
        commands.put("console", ConsoleCommand::new);
        commands.put("scsi", ScsiCommand::new);
        commands.put("vsock", VsockCommand::new);
        commands.put("gpio", GpioCommand::new);
        commands.put("i2c", I2cCommand::new);
        commands.put("spi", SpiCommand::new);
        commands.put("rtc", RtcCommand::new);
        commands.put("can", CanCommand::new);
        commands.put("scmi", ScmiCommand::new);
        commands.put("template", TemplateCommand::new);
        commands.put("sound", SoundCommand::new);
        commands.put("media", MediaCommand::new);
        commands.put("video", VideoCommand::new);
        commands.put("xen-vhost-frontend", XenVhostFrontendCommand::new);
        commands.put("demo", DemoCommand::new);
        return commands;
    }

    private static void preloadNativeCalls()
    {
        try
        {
            LibC.preload();
        }
        catch (final RuntimeException | LinkageError e)
        {
            // The main thread meets the same error where it first uses LibC, and reports it there.
        }
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
