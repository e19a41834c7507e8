package io.jvhost.launcher;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * One line per event on stderr: {@code 2026-11-21T05:33:19.123Z INFO  rng0: queue 0 started ...}; or, for the demo,
 * into a file, with only warnings and errors also on stderr ({@link #toFile(Path)}).
 */
final class Logging
{
    private Logging()
    {
    }

    static void configure()
    {
        final String level = System.getenv().getOrDefault("JVHOST_LOG", "info");
        setLevel(level);
    }

    static void setLevel(final String name)
    {
        final Level level = switch (name.toLowerCase(java.util.Locale.ROOT))
        {
            case "error" -> Level.SEVERE;
            case "warn", "warning" -> Level.WARNING;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> Level.INFO;
        };
        final Logger root = Logger.getLogger("");
        for (final Handler h : root.getHandlers())
        {
            root.removeHandler(h);
        }
        final ConsoleHandler handler = new ConsoleHandler();
        handler.setLevel(level);
        handler.setFormatter(new OneLine());
        root.addHandler(handler);
        root.setLevel(level);
    }

    /**
     * Every event at the configured level ({@code JVHOST_LOG}, default info) goes to {@code file} (created or
     * truncated), one line each, flushed as written; warnings and errors also go to stderr.
     *
     * @throws IOException naming the file when it cannot be written.
     */
    static void toFile(final Path file) throws IOException
    {
        final Logger root = Logger.getLogger("");
        final Level level = root.getLevel();
        final OutputStream out;
        try
        {
            out = Files.newOutputStream(file);
        }
        catch (final IOException e)
        {
            throw new IOException("cannot write the log file " + file + ": " + e, e);
        }
        for (final Handler h : root.getHandlers())
        {
            h.setLevel(level.intValue() > Level.WARNING.intValue() ? level : Level.WARNING);
        }
        final StreamHandler handler = new StreamHandler(out, new OneLine())
        {
            @Override
            public synchronized void publish(final LogRecord record)
            {
                super.publish(record);
                flush();
            }
        };
        handler.setEncoding(StandardCharsets.UTF_8.name());
        handler.setLevel(level);
        root.addHandler(handler);
    }

    private static final class OneLine extends Formatter
    {
        @Override
        public String format(final LogRecord record)
        {
            final String level = switch (record.getLevel().intValue())
            {
                case 1000 -> "ERROR";
                case 900 -> "WARN ";
                case 800 -> "INFO ";
                default -> "DEBUG";
            };
            final StringBuilder sb = new StringBuilder(128)
                .append(Instant.ofEpochMilli(record.getMillis())).append(' ').append(level).append(' ')
                .append(formatMessage(record).replace('\n', ' '));
            final Throwable t = record.getThrown();
            if (null != t && record.getLevel().intValue() >= Level.SEVERE.intValue())
            {
                sb.append(" [").append(t).append(" at ");
                final StackTraceElement[] st = t.getStackTrace();
                sb.append(st.length > 0 ? st[0] : "?").append(']');
            }
            return sb.append(System.lineSeparator()).toString();
        }
    }
}
