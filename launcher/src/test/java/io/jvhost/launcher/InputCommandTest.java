package io.jvhost.launcher;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.jvhost.device.input.VirtualProfile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

class InputCommandTest
{
    private static CliRun run(final String... args)
    {
        return CliRun.of(args);
    }

    private static InputCommand parse(final String... args)
    {
        final InputCommand command = new InputCommand();
        new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return command;
    }

    @Test
    void printCapabilitiesPrintsTheInputTypeAsJson()
    {
        final CliRun r = run("input", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"input\"}");
    }

    @Test
    void flagsOfVhostDeviceInputParseLongAndShort()
    {
        final InputCommand longForm = parse("--socket-path=/some/socket_path",
            "--event-list=/dev/input/event1,/dev/input/event2");
        final InputCommand shortForm = parse("-s=/some/socket_path", "-e=/dev/input/event1,/dev/input/event2");
        for (final InputCommand c : List.of(longForm, shortForm))
        {
            assertThat(c.socketPath).isEqualTo(Path.of("/some/socket_path"));
            assertThat(c.eventList).containsExactly("/dev/input/event1", "/dev/input/event2");
        }
    }

    @Test
    void evdevSocketsAreSuffixedLikeVhostDeviceInputAndAVirtualSocketIsThePathItself()
    {
        assertThat(parse("-s", "/run/vm/input.sock", "-e", "/dev/input/event14,/dev/input/event15").socketPaths())
            .containsExactly(Path.of("/run/vm/input.sock0"), Path.of("/run/vm/input.sock1"));
        assertThat(parse("-s", "/run/vm/input.sock", "-e", "/dev/input/event14").socketPaths())
            .as("suffixed even for one device, as vhost-device-input does").containsExactly(Path.of("/run/vm/input.sock0"));
        assertThat(parse("-s", "/run/vm/input.sock", "--virtual", "combined").socketPaths())
            .containsExactly(Path.of("/run/vm/input.sock"));
        assertThat(parse("-s", "x", "--virtual", "TABLET").virtualProfile).isEqualTo(VirtualProfile.TABLET);
    }

    @Test
    void exactlyOneKindOfDeviceIsRequired()
    {
        final CliRun neither = run("input", "-s", "/tmp/in.sock");
        assertThat(neither.exitCode()).isEqualTo(2);
        assertThat(neither.err()).contains("one of --event-list (host devices) or --virtual");
        final CliRun both = run("input", "-s", "/tmp/in.sock", "-e", "/dev/input/event0", "--virtual", "keyboard");
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.err()).contains("--event-list and --virtual are exclusive");
        assertThat(run("input", "--virtual", "keyboard").err()).contains("exactly one of --socket-path and --fd");
    }

    @Test
    void badValuesAreNamed()
    {
        assertThat(run("input", "-s", "/tmp/in.sock", "--virtual", "mouse").err()).contains("'mouse'")
            .contains("--virtual");
        assertThat(run("input", "-s", "/tmp/in.sock", "-e", "/dev/input/event1,,/dev/input/event2").err())
            .contains("--event-list has an empty entry: '/dev/input/event1,,/dev/input/event2'");
        assertThat(run("input", "-s", "/tmp/in.sock", "-e", "/dev/input/event1,/dev/input/event1").err())
            .contains("--event-list names /dev/input/event1 twice");
        assertThat(run("input", "-s", "/tmp/in.sock", "--virtual", "tablet", "--buffered-events", "1000").err())
            .contains("--buffered-events must be a power of two from 2 to 1048576, got 1000");
        assertThat(run("input", "-s", "/tmp/in.sock", "--virtual", "tablet", "--control-socket", "/tmp/in.sock")
            .err()).contains("--control-socket must differ from --socket-path, both are /tmp/in.sock");
    }

    @Test
    void flagsThatBelongToTheOtherKindOfDeviceAreRefused()
    {
        final CliRun control = run("input", "-s", "/tmp/in.sock", "-e", "/dev/input/event0", "--control-socket",
            "/tmp/c.sock");
        assertThat(control.exitCode()).isEqualTo(2);
        assertThat(control.err()).contains("--control-socket drives a --virtual device");
        assertThat(run("input", "-s", "/tmp/in.sock", "--virtual", "keyboard", "--grab").err())
            .contains("--grab takes host devices (--event-list)");
        assertThat(run("input", "--fd", "3", "-e", "/dev/input/event0,/dev/input/event1").err())
            .contains("--fd serves one socket, --event-list names 2 devices");
    }

    @Test
    void anEvdevDeviceThatCannotBeOpenedFailsWithItsPathAndErrno()
    {
        final CliRun missing = run("input", "-s", "/tmp/in.sock", "-e", "/nonexistent/event0");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).contains("cannot open input device /nonexistent/event0: ENOENT");
        final CliRun notEvdev = run("input", "-s", "/tmp/in.sock", "-e", "/dev/null");
        assertThat(notEvdev.exitCode()).isEqualTo(1);
        assertThat(notEvdev.err()).contains("/dev/null is not an evdev input device").contains("ENOTTY");
    }

    @Test
    void aControlSocketInAMissingDirectoryFailsWithItsPath(@TempDir final Path dir)
    {
        final Path control = dir.resolve("missing/control.sock");
        final CliRun r = run("input", "-s", dir.resolve("in.sock").toString(), "--virtual", "combined",
            "--control-socket", control.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("cannot listen on control socket " + control);
        assertThat(dir.resolve("in.sock")).doesNotExist();
    }

    @Test
    void aVhostUserSocketInAMissingDirectoryFailsAndTheControlSocketIsRemoved(@TempDir final Path dir)
        throws Exception
    {
        final Path control = dir.resolve("control.sock");
        final CliRun r = run("input", "-s", dir.resolve("missing/in.sock").toString(), "--virtual", "keyboard",
            "--control-socket", control.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("bind failed: ENOENT");
        assertThat(Files.exists(control)).as("control socket cleaned up").isFalse();
    }
}
