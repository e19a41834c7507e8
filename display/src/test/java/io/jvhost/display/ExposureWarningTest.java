package io.jvhost.display;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Listening beyond loopback is allowed, and said loudly; loopback is quiet.
 */
class ExposureWarningTest
{
    @Test
    void anAddressBeyondLoopbackIsAWarningLoopbackIsNot() throws Exception
    {
        final List<String> warnings = new ArrayList<>();
        final Logger logger = Logger.getLogger(DisplayServer.class.getName());
        final Handler handler = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                if (record.getLevel().intValue() >= Level.WARNING.intValue())
                {
                    synchronized (warnings)
                    {
                        warnings.add(record.getMessage());
                    }
                }
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        logger.addHandler(handler);
        try
        {
            try (DisplayServer quiet = DisplayServer.builder().name("lo").web(new InetSocketAddress("127.0.0.1", 0))
                .vnc(new InetSocketAddress("127.0.0.1", 0)).start())
            {
                assertThat(quiet.webUrls().getFirst()).startsWith("http://127.0.0.1:");
            }
            assertThat(warnings).isEmpty();
            try (DisplayServer exposed = DisplayServer.builder().name("all").web(new InetSocketAddress("0.0.0.0", 0))
                .vnc(new InetSocketAddress("0.0.0.0", 0)).start())
            {
                assertThat(exposed.webUrls().getFirst()).startsWith("http://127.0.0.1:");
            }
            assertThat(warnings).hasSize(2).allSatisfy(w -> assertThat(w).contains("beyond loopback",
                "0.0.0.0:", "no password"));
        }
        finally
        {
            logger.removeHandler(handler);
        }
    }
}
