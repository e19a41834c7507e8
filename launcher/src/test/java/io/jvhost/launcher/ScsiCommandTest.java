package io.jvhost.launcher;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class ScsiCommandTest
{
    @Test
    void printCapabilitiesPrintsTheScsiTypeAsJson()
    {
        final CliRun r = CliRun.of("scsi", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"scsi\"}");
    }

    @Test
    void helpListsVhostDeviceScsisFlags()
    {
        final CliRun r = CliRun.of("scsi", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-r, --read-only", "--solid-state", "IMAGE...");
    }

    @Test
    void noImageOrMoreThan256AreRefused()
    {
        final CliRun none = CliRun.of("scsi", "-s", "/tmp/s.sock");
        assertThat(none.exitCode()).isEqualTo(2);
        assertThat(none.err()).contains("give 1..256 images, got 0");
        final String[] args = new String[2 + 257];
        args[0] = "scsi";
        args[1] = "-r";
        for (int i = 0; i < 257; i++)
        {
            args[2 + i] = "/tmp/image" + i;
        }
        assertThat(CliRun.of(args).err()).contains("give 1..256 images, got 257");
    }

    @Test
    void anImageThatCannotBeOpenedOrIsSmallerThanABlockIsNamed(@TempDir final Path dir) throws Exception
    {
        final CliRun missing = CliRun.of("scsi", "-s", dir.resolve("s.sock").toString(), "-r",
            dir.resolve("missing.img").toString());
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).contains("cannot open image " + dir.resolve("missing.img") + " read-only: ENOENT");
        final Path tiny = Files.write(dir.resolve("tiny.img"), new byte[100]);
        final CliRun small = CliRun.of("scsi", "-s", dir.resolve("s.sock").toString(), tiny.toString());
        assertThat(small.exitCode()).isEqualTo(1);
        assertThat(small.err()).contains("has 100 bytes, less than one 512-byte block");
    }
}
