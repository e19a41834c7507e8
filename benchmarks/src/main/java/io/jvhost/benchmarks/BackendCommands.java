package io.jvhost.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where the benchmarks find the back-ends they start as processes: jvhost's launcher jar in the checkout, and
 * rust-vmm's {@code vhost-device-*} peers in the rust-peers cache ({@code $RUST_PEERS_HOME/bin}, by default
 * {@code ~/.cache/jvhost/rust-peers/bin}; built as {@code shared/reference/rust-peers.md} describes, never part of the
 * repository).
 */
public final class BackendCommands
{
    /** The environment variable naming the rust-peers cache. */
    public static final String RUST_PEERS_HOME = "RUST_PEERS_HOME";

    private BackendCommands()
    {
    }

    /**
     * @return how to start jvhost from the checkout {@code root}: this JVM's java with the launcher's options and its
     *     AOT cache when built (blank-separated, for {@code split("\\s+")}).
     */
    public static String jvhost(final Path root)
    {
        final Path aot = root.resolve("launcher/target/jvhost.aot");
        return ProcessHandle.current().info().command().orElse("java") + " --enable-native-access=ALL-UNNAMED @"
            + root.resolve("launcher/jvm.options") + (Files.isRegularFile(aot) ? " -XX:AOTCache=" + aot : "")
            + " -jar " + root.resolve("launcher/target/jvhost.jar");
    }

    /**
     * @return the rust-peers cache's bin folder for this process's environment.
     */
    public static Path rustPeersBin()
    {
        return rustPeersBin(System.getenv(), System.getProperty("user.home"));
    }

    /**
     * @return {@code $RUST_PEERS_HOME/bin} when {@code environment} sets it, else {@code home/.cache/jvhost/rust-peers/bin}.
     */
    public static Path rustPeersBin(final Map<String, String> environment, final String home)
    {
        final String set = environment.get(RUST_PEERS_HOME);
        return (null != set && !set.isBlank() ? Path.of(set) : Path.of(home, ".cache/jvhost/rust-peers")).resolve("bin");
    }

    /**
     * @return the executable {@code binary} (e.g. {@code vhost-device-vsock}) in the rust-peers cache, if built.
     */
    public static Optional<Path> rustPeer(final String binary)
    {
        return rustPeer(rustPeersBin(), binary);
    }

    /**
     * @return the executable {@code binary} in {@code bin}, if there.
     */
    public static Optional<Path> rustPeer(final Path bin, final String binary)
    {
        final Path p = bin.resolve(binary);
        return Files.isRegularFile(p) && Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }
}
