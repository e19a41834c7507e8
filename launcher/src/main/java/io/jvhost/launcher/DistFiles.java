package io.jvhost.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * The files an installation needs besides the jar, generated from the picocli model so they never drift from
 * {@code --help}: man pages ({@link ManPages}), bash and zsh completion ({@link #bashCompletion},
 * {@link #zshCompletion}). The build runs {@code DistFiles launcher/target/dist} after compiling; the package
 * ({@code scripts/package.sh}) installs the result.
 * <pre>
 * dist/man/man1/jvhost.1, jvhost-gpu.1, ...
 * dist/completion/jvhost      bash (bash-completion's completions/ directory)
 * dist/completion/_jvhost     zsh (a vendor-completions function)
 * dist/systemd/jvhost-gpu@.socket, jvhost-gpu@.service, ...   socket-activated template units, one pair per
 *                             device whose command serves an inherited descriptor
 * dist/qemu/vhost-user/50-jvhost-gpu.json, ...   QEMU's vhost-user back-end descriptors (docs/interop/vhost-user.json)
 *                             for the device types that schema knows, naming {@link #LIBEXEC}/jvhost-DEVICE
 * </pre>
 */
public final class DistFiles
{
    /** Where the package puts one executable per device ({@code jvhost-gpu} runs {@code jvhost gpu "$@"}). */
    static final String LIBEXEC = "/usr/libexec/jvhost";

    /** QEMU's {@code VHostUserBackendType}s (docs/interop/vhost-user.json); libvirt refuses any other type. */
    static final List<String> QEMU_TYPES = List.of("9p", "balloon", "block", "caif", "console", "crypto", "gpu",
        "input", "net", "rng", "rpmsg", "rproc-serial", "scsi", "vsock", "fs");

    private DistFiles()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        if (args.length != 1)
        {
            System.err.println("usage: DistFiles OUTPUT-DIR");
            System.exit(2);
        }
        write(Path.of(args[0]));
    }

    /**
     * Writes every generated file under {@code out}.
     */
    static void write(final Path out) throws IOException
    {
        ManPages.write(Main.commandLine(), out.resolve("man/man1"));
        final Path completion = Files.createDirectories(out.resolve("completion"));
        Files.writeString(completion.resolve("jvhost"), bashCompletion(Main.commandLine()), StandardCharsets.UTF_8);
        Files.writeString(completion.resolve("_jvhost"), zshCompletion(Main.commandLine()), StandardCharsets.UTF_8);
        final Path qemu = Files.createDirectories(out.resolve("qemu/vhost-user"));
        for (final var e : Main.commandLine().getSubcommands().entrySet())
        {
            if (QEMU_TYPES.contains(e.getKey()))
            {
                Files.writeString(qemu.resolve("50-jvhost-" + e.getKey() + ".json"),
                    qemuDescriptor(e.getKey(), e.getValue()), StandardCharsets.UTF_8);
            }
        }
        final Path systemd = Files.createDirectories(out.resolve("systemd"));
        for (final String device : activatable(Main.commandLine()))
        {
            Files.writeString(systemd.resolve("jvhost-" + device + "@.socket"), socketUnit(device),
                StandardCharsets.UTF_8);
            Files.writeString(systemd.resolve("jvhost-" + device + "@.service"), serviceUnit(device),
                StandardCharsets.UTF_8);
        }
    }

    /**
     * QEMU's {@code VhostUserBackend} for a device: its type, a description and the executable libvirt runs (with
     * {@code --print-capabilities} for the features, e.g. gpu's render-node and virgl, then {@code --fd=N}).
     */
    static String qemuDescriptor(final String type, final CommandLine command)
    {
        final String[] d = command.getCommandSpec().usageMessage().description();
        final String description = "jvhost " + type + ": " + (d.length > 0 ? d[0] : "vhost-user back-end");
        return "{\n  \"description\": \"" + jsonEscape(description) + "\",\n  \"type\": \"" + type
            + "\",\n  \"binary\": \"" + LIBEXEC + "/jvhost-" + type + "\",\n  \"tags\": [\n    \"jvhost\"\n  ]\n}\n";
    }

    private static String jsonEscape(final String s)
    {
        final StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (c == '"' || c == '\\')
            {
                sb.append('\\').append(c);
            }
            else if (c < 0x20)
            {
                sb.append(String.format("\\u%04x", (int)c));
            }
            else
            {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /**
     * @return the device subcommands that serve an inherited descriptor ({@code --fd} or {@code --socket-fd}), and
     *     so a socket systemd passes (vsock's sockets are per guest, demo is no back-end).
     */
    static List<String> activatable(final CommandLine cli)
    {
        final List<String> devices = new ArrayList<>();
        cli.getSubcommands().forEach((name, sub) ->
        {
            final CommandLine.Model.CommandSpec spec = sub.getCommandSpec();
            if (null != spec.findOption("--fd") || null != spec.findOption("--socket-fd"))
            {
                devices.add(name);
            }
        });
        return devices;
    }

    /**
     * The socket of instance {@code %i}: {@code /run/jvhost/DEVICE-%i.sock}, for QEMU (group kvm, as Debian's
     * libvirt-qemu user is) to connect to.
     */
    static String socketUnit(final String device)
    {
        return """
            # Generated by io.jvhost.launcher.DistFiles; change with a drop-in (systemctl edit jvhost-@DEV@@NAME.socket).
            [Unit]
            Description=jvhost @DEV@ back-end socket (vhost-user), instance %i
            Documentation=man:jvhost-@DEV@(1)

            [Socket]
            ListenStream=/run/jvhost/@DEV@-%i.sock
            SocketMode=0660
            SocketGroup=kvm
            DirectoryMode=0755
            RemoveOnStop=yes
            Accept=no

            [Install]
            WantedBy=sockets.target
            """.replace("@DEV@", device);
    }

    /**
     * The back-end of instance {@code %i}: started by its socket's first connection, it serves the listening socket
     * (descriptor 3, LISTEN_FDS) to one front-end after another. Arguments come from {@code JVHOST_ARGS} in
     * {@code /etc/jvhost/DEVICE-%i.conf}. Hardened as far as a JVM allows: no MemoryDenyWriteExecute (the JIT writes
     * code), /tmp private (the JVM's perf data), the devices and address families the device needs.
     */
    static String serviceUnit(final String device)
    {
        final String devices = switch (device)
        {
            case "gpu" -> """
                # virglrenderer's EGL renders on /dev/dri (llvmpipe needs none).
                DevicePolicy=closed
                DeviceAllow=char-drm rw
                SupplementaryGroups=render video
                """;
            case "input" -> """
                # --event-list passes host evdev devices through.
                DevicePolicy=closed
                DeviceAllow=char-input rw
                SupplementaryGroups=input
                """;
            case "sound" -> """
                DevicePolicy=closed
                DeviceAllow=char-alsa rw
                SupplementaryGroups=audio
                """;
            case "gpio" -> """
                DevicePolicy=closed
                DeviceAllow=char-gpiochip rw
                """;
            case "i2c" -> """
                DevicePolicy=closed
                DeviceAllow=char-i2c rw
                """;
            default -> "PrivateDevices=yes\n";
        };
        final String families = switch (device)
        {
            case "gpu" -> "# The web console and VNC (--display) listen on TCP.\n"
                + "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n";
            case "console" -> "# The network back-end listens on TCP.\n"
                + "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n";
            default -> "RestrictAddressFamilies=AF_UNIX\n";
        };
        return """
            # Generated by io.jvhost.launcher.DistFiles; change it with a drop-in (systemctl edit jvhost-@DEV@@NAME).
            # Options for instance NAME: JVHOST_ARGS="..." in /etc/jvhost/@DEV@-NAME.conf (see jvhost-@DEV@(1));
            # without --socket-path or --fd the back-end serves the socket systemd passes (LISTEN_FDS).
            [Unit]
            Description=jvhost @DEV@ back-end (vhost-user), instance %i
            Documentation=man:jvhost-@DEV@(1)
            Requires=jvhost-@DEV@@%i.socket
            After=jvhost-@DEV@@%i.socket

            [Service]
            Type=exec
            EnvironmentFile=-/etc/jvhost/@DEV@-%i.conf
            ExecStart=/usr/bin/jvhost @DEV@ $JVHOST_ARGS
            DynamicUser=yes
            NoNewPrivileges=yes
            ProtectSystem=strict
            ProtectHome=yes
            PrivateTmp=yes
            ProtectKernelTunables=yes
            ProtectKernelModules=yes
            ProtectKernelLogs=yes
            ProtectControlGroups=yes
            ProtectClock=yes
            ProtectHostname=yes
            ProtectProc=invisible
            RestrictNamespaces=yes
            RestrictRealtime=yes
            RestrictSUIDSGID=yes
            LockPersonality=yes
            SystemCallArchitectures=native
            CapabilityBoundingSet=
            UMask=0077
            # No MemoryDenyWriteExecute=: the JVM's JIT compiler writes and runs code.
            """.replace("@DEV@", device) + devices + families;
    }

    /**
     * @return picocli's bash completion script for {@code jvhost} and every subcommand's options.
     */
    static String bashCompletion(final CommandLine cli)
    {
        return AutoComplete.bash("jvhost", cli);
    }

    /**
     * zsh runs the bash script through its {@code bashcompinit} (the script supports it), as the body of an
     * autoloaded {@code _jvhost}: the first TAB defines the completion and answers it, later ones go straight to it.
     *
     * @return a zsh completion function file ({@code #compdef jvhost}).
     */
    static String zshCompletion(final CommandLine cli)
    {
        return "#compdef jvhost\n"
            + "# jvhost's zsh completion: the bash completion picocli generates from the same model, through zsh's\n"
            + "# bashcompinit. Generated by io.jvhost.launcher.DistFiles; do not edit.\n"
            + "autoload -U +X bashcompinit && bashcompinit\n"
            + bashCompletion(cli).replaceFirst("^#!.*\n", "")
            + "\n_bash_complete -F _complete_jvhost -o default \"$@\"\n";
    }
}
