package io.jvhost.launcher;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The demo's quiet log: {@link Logging#toFile} sends every event to the file, and only warnings and errors still to
 * the terminal's handler.
 */
class LoggingTest
{
    @AfterEach
    void restore()
    {
        Logging.setLevel("info");
    }

    @Test
    void toFileKeepsInfoOffTheTerminalAndEverythingInTheFile(@TempDir final Path dir) throws Exception
    {
        Logging.setLevel("info");
        final Path file = dir.resolve("demo.log");
        Logging.toFile(file);
        final Logger log = Logger.getLogger("io.jvhost.test");
        log.info("rng0: features negotiated 0x1");
        log.warning("gpu0: something odd");
        log.fine("not at info level");
        final String logged = Files.readString(file, StandardCharsets.UTF_8);
        assertThat(logged).contains(" INFO  rng0: features negotiated 0x1", " WARN  gpu0: something odd")
            .doesNotContain("not at info level");
        assertThat(logged.lines()).hasSize(2);
        for (final Handler h : Logger.getLogger("").getHandlers())
        {
            if (h instanceof ConsoleHandler)
            {
                assertThat(h.getLevel()).as("the terminal's handler").isEqualTo(Level.WARNING);
            }
        }
    }

    @Test
    void anUnwritableLogFileIsNamedInTheError(@TempDir final Path dir)
    {
        final Path file = dir.resolve("missing/dir/demo.log");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Logging.toFile(file))
            .hasMessageContaining("cannot write the log file " + file);
    }
}
