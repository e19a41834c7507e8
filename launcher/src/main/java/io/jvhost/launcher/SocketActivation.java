package io.jvhost.launcher;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import picocli.CommandLine;

/**
 * systemd's socket activation, as {@code sd_listen_fds(3)} reads it: when {@code LISTEN_PID} is this process and
 * {@code LISTEN_FDS} is 1, the socket systemd (or {@code systemd-socket-activate}) passed is descriptor 3, and a device
 * subcommand given neither a socket path nor a descriptor serves it as if it had {@code --fd 3}: a listening socket
 * ({@code Accept=no}) is accepted on repeatedly, a connected one ({@code Accept=yes}) is served once. The variables
 * are removed from the process environment (libc's; jvhost starts no child processes from them) and descriptor 3
 * gets close-on-exec, as {@code sd_listen_fds(1)} does.
 * <p>
 * One socket per process: {@code LISTEN_FDS} above 1 is refused (one {@code ListenStream=} per {@code .socket}
 * unit; the template units are one instance per VM).
 */
final class SocketActivation
{
    /** {@code SD_LISTEN_FDS_START}. */
    static final int FIRST_FD = 3;

    /** Options that name the socket to serve, or make the command do something else: activation stands aside. */
    private static final Set<String> EXPLICIT = Set.of("--socket-path", "--socket", "--fd", "--socket-fd",
        "--print-capabilities", "--help", "--version");

    private SocketActivation()
    {
    }

    /**
     * @return how many descriptors systemd passed to {@code pid} (0: none, or not to this process).
     * @throws IllegalArgumentException naming the variable when one is malformed.
     */
    static int listenFds(final Map<String, String> env, final long pid)
    {
        final String fds = env.get("LISTEN_FDS");
        final String listenPid = env.get("LISTEN_PID");
        if (null == fds || null == listenPid)
        {
            return 0;
        }
        final long forPid;
        final int count;
        try
        {
            forPid = Long.parseLong(listenPid.strip());
            count = Integer.parseInt(fds.strip());
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("socket activation: LISTEN_PID='" + listenPid + "' and LISTEN_FDS='"
                + fds + "' must be numbers");
        }
        if (forPid != pid)
        {
            return 0;
        }
        if (count < 0)
        {
            throw new IllegalArgumentException("socket activation: LISTEN_FDS=" + count + " is negative");
        }
        return count;
    }

    /**
     * The arguments to run: {@code args} with {@code --fd 3} (or {@code --socket-fd 3}) after the subcommand when
     * systemd passed this process a socket and the arguments name none. Removes the activation variables from the
     * environment whenever {@code LISTEN_FDS} is set.
     *
     * @throws IllegalArgumentException when the variables are malformed, or pass more than one descriptor to a
     *     command that would serve them.
     */
    static String[] arguments(final String[] args, final Map<String, String> env, final long pid)
    {
        if (null == env.get("LISTEN_FDS"))
        {
            return args;
        }
        final int count;
        try
        {
            count = listenFds(env, pid);
        }
        finally
        {
            for (final String name : new String[] {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"})
            {
                unsetenv(name);
            }
        }
        final String[] out = rewrite(args, count);
        if (out != args)
        {
            try
            {
                LibC.fcntl(FIRST_FD, LibC.F_SETFD, LibC.FD_CLOEXEC);
            }
            catch (final NativeException e)
            {
                throw new IllegalArgumentException("socket activation: descriptor " + FIRST_FD + " is not usable: "
                    + e.getMessage());
            }
        }
        return out;
    }

    /**
     * @param count the descriptors passed ({@link #listenFds}).
     * @return {@code args} itself when activation does not apply, else a copy with {@code --fd 3} (or
     *     {@code --socket-fd 3}) right after the subcommand.
     * @throws IllegalArgumentException for more than one descriptor to a command that would serve them.
     */
    static String[] rewrite(final String[] args, final int count)
    {
        if (count == 0 || args.length == 0)
        {
            return args;
        }
        final String fdOption = fdOption(args);
        if (null == fdOption)
        {
            return args;
        }
        if (count != 1)
        {
            throw new IllegalArgumentException("socket activation passed LISTEN_FDS=" + count + " descriptors; jvhost "
                + args[0] + " serves one (one ListenStream= per .socket unit)");
        }
        final List<String> out = new ArrayList<>(List.of(args[0], fdOption, Integer.toString(FIRST_FD)));
        out.addAll(List.of(args).subList(1, args.length));
        return out.toArray(String[]::new);
    }

    /**
     * @return {@code --fd} or {@code --socket-fd}, whichever the subcommand in {@code args} has, when it serves an
     *     inherited descriptor and {@code args} name no socket of their own; else null (no device subcommand,
     *     arguments picocli would refuse anyway, a socket already named, --help and the like).
     */
    private static String fdOption(final String[] args)
    {
        final CommandLine.ParseResult parsed;
        try
        {
            parsed = Main.commandLine(args).parseArgs(args);
        }
        catch (final CommandLine.ParameterException e)
        {
            return null;
        }
        final CommandLine.ParseResult sub = parsed.subcommand();
        if (null == sub)
        {
            return null;
        }
        for (final CommandLine.Model.OptionSpec o : sub.matchedOptions())
        {
            for (final String name : o.names())
            {
                if (EXPLICIT.contains(name))
                {
                    return null;
                }
            }
        }
        final CommandLine.Model.CommandSpec spec = sub.commandSpec();
        return null != spec.findOption("--fd") ? "--fd" : null != spec.findOption("--socket-fd") ? "--socket-fd"
            : null;
    }

    private static void unsetenv(final String name)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final int r = (int)Unsetenv.HANDLE.invokeExact(arena.allocateFrom(name));
            assert r == 0 : "unsetenv(" + name + ") = " + r;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("unsetenv(" + name + ") failed: " + t, t);
        }
    }

    /** libc's {@code unsetenv(3)}, made on first use. */
    private static final class Unsetenv
    {
        static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("unsetenv"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    }
}
