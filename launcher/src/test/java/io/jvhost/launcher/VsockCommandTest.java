package io.jvhost.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VsockCommandTest
{
    private static List<VsockCommand.Vm> parse(final String... args)
    {
        final VsockCommand command = new VsockCommand();
        new CommandLine(command).parseArgs(args);
        return command.vms();
    }

    @Test
    void printCapabilitiesPrintsTheVsockTypeAsJson()
    {
        final CliRun r = CliRun.of("vsock", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"vsock\"}");
    }

    @Test
    void helpListsVhostDeviceVsocksFlags()
    {
        final CliRun r = CliRun.of("vsock", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s+", " ")).contains("--guest-cid", "--socket", "--uds-path", "--tx-buffer-size", "--queue-size",
            "--groups", "--vm", "--config", "Default: 65536", "Default: 1024", "Default: 3");
    }

    @Test
    void singleVmFlagsTakeVhostDeviceVsocksDefaults()
    {
        assertThat(parse("--socket", "/tmp/v.sock", "--uds-path", "/tmp/vm.vsock")).containsExactly(
            new VsockCommand.Vm(3, Path.of("/tmp/v.sock"), Path.of("/tmp/vm.vsock"), 65536, 1024, List.of("default")));
        assertThat(parse("--guest-cid", "4", "--socket", "/tmp/v.sock", "--uds-path", "/tmp/vm.vsock",
            "--tx-buffer-size", "1000", "--queue-size", "256", "--groups", "a+b")).containsExactly(
            new VsockCommand.Vm(4, Path.of("/tmp/v.sock"), Path.of("/tmp/vm.vsock"), 1000, 256, List.of("a", "b")));
    }

    @Test
    void repeatedVmTakesDashOrUnderscoreKeys()
    {
        assertThat(parse("--vm", "guest-cid=4,socket=/tmp/a.sock,uds-path=/tmp/a.vsock,groups=g1+g2",
            "--vm", "guest_cid=5,socket=/tmp/b.sock,uds_path=/tmp/b.vsock,tx_buffer_size=4096,queue_size=128"))
            .containsExactly(
                new VsockCommand.Vm(4, Path.of("/tmp/a.sock"), Path.of("/tmp/a.vsock"), 65536, 1024, List.of("g1", "g2")),
                new VsockCommand.Vm(5, Path.of("/tmp/b.sock"), Path.of("/tmp/b.vsock"), 4096, 128, List.of("default")));
    }

    @Test
    void yamlConfigListsTheVms(@TempDir final Path dir) throws Exception
    {
        final Path yaml = dir.resolve("vms.yaml");
        Files.writeString(yaml, """
            vms:
              - guest_cid: 4
                socket: /tmp/vhost4.socket
                uds_path: /tmp/vm4.vsock
                tx_buffer_size: 65536
                queue_size: 1024
                groups: group1+group2
              - guest_cid: 5
                socket: /tmp/vhost5.socket
                uds_path: /tmp/vm5.vsock
            """);
        assertThat(parse("--config", yaml.toString())).containsExactly(
            new VsockCommand.Vm(4, Path.of("/tmp/vhost4.socket"), Path.of("/tmp/vm4.vsock"), 65536, 1024,
                List.of("group1", "group2")),
            new VsockCommand.Vm(5, Path.of("/tmp/vhost5.socket"), Path.of("/tmp/vm5.vsock"), 65536, 1024,
                List.of("default")));
        Files.writeString(yaml, "vms: [ {guest_cid: 4, socket: a, uds_path: b, colour: red} ]");
        assertThatThrownBy(() -> parse("--config", yaml.toString())).hasMessageContaining("unknown key 'colour'");
        Files.writeString(yaml, "vms: [ {guest_cid: 4, socket: a");
        assertThatThrownBy(() -> parse("--config", yaml.toString())).hasMessageContaining("--config " + yaml);
    }

    @Test
    void formsExcludeEachOtherAndDuplicatesAreRefused()
    {
        assertThatThrownBy(() -> parse("--socket", "/tmp/a", "--uds-path", "/tmp/b", "--vm",
            "guest-cid=4,socket=/tmp/c,uds-path=/tmp/d")).hasMessageContaining("exclude each other");
        assertThatThrownBy(() -> parse("--socket", "/tmp/a")).hasMessageContaining("--uds-path are both required");
        assertThatThrownBy(() -> parse()).hasMessageContaining("give --socket");
        assertThatThrownBy(() -> parse("--vm", "guest-cid=4,socket=/tmp/a,uds-path=/tmp/b",
            "--vm", "guest-cid=4,socket=/tmp/c,uds-path=/tmp/d")).hasMessageContaining("guest CID 4 is given to more");
        assertThatThrownBy(() -> parse("--vm", "guest-cid=4,socket=/tmp/a,uds-path=/tmp/b",
            "--vm", "guest-cid=5,socket=/tmp/a,uds-path=/tmp/d")).hasMessageContaining("/tmp/a is used more than once");
        assertThatThrownBy(() -> parse("--guest-cid", "2", "--socket", "/tmp/a", "--uds-path", "/tmp/b"))
            .hasMessageContaining("got 2");
        assertThatThrownBy(() -> parse("--queue-size", "100", "--socket", "/tmp/a", "--uds-path", "/tmp/b"))
            .hasMessageContaining("power of two");
        assertThatThrownBy(() -> parse("--vm", "guest-cid=4,socket=/tmp/a")).hasMessageContaining("required");
    }
}
