package io.jvhost.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the benchmarks look for the rust-vmm peers and jvhost.
 */
class BackendCommandsTest
{
    @TempDir
    Path dir;

    @Test
    void rustPeersBinIsRustPeersHomeWhenSetElseTheCacheUnderHome()
    {
        assertThat(BackendCommands.rustPeersBin(Map.of("RUST_PEERS_HOME", "/p"), "/home/u")).isEqualTo(Path.of("/p/bin"));
        assertThat(BackendCommands.rustPeersBin(Map.of(), "/home/u"))
            .isEqualTo(Path.of("/home/u/.cache/jvhost/rust-peers/bin"));
        assertThat(BackendCommands.rustPeersBin(Map.of("RUST_PEERS_HOME", " "), "/home/u"))
            .isEqualTo(Path.of("/home/u/.cache/jvhost/rust-peers/bin"));
    }

    @Test
    void rustPeerIsFoundOnlyWhenExecutable() throws Exception
    {
        final Path plain = Files.writeString(dir.resolve("vhost-device-vsock"), "");
        assertThat(BackendCommands.rustPeer(dir, "vhost-device-vsock")).isEmpty();
        Files.setPosixFilePermissions(plain, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThat(BackendCommands.rustPeer(dir, "vhost-device-vsock")).contains(plain);
        assertThat(BackendCommands.rustPeer(dir, "vhost-device-gpio-mock")).isEmpty();
    }

    @Test
    void jvhostRunsTheLauncherJarOfTheCheckoutWithItsOptions()
    {
        final String cmd = BackendCommands.jvhost(Path.of("/r"));
        assertThat(cmd.split("\\s+")).contains("--enable-native-access=ALL-UNNAMED", "@/r/launcher/jvm.options", "-jar",
            "/r/launcher/target/jvhost.jar");
    }
}
