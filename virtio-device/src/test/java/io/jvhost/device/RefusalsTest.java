package io.jvhost.device;

import java.util.ArrayList;
import java.util.List;
import java.util.ResourceBundle;

import io.jvhost.virtqueue.DescriptorChain;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Refusals}: every refusal counts, the first ten and every thousandth are logged, one WARNING line each with
 * the device, what was refused, the chain's head, why and the count.
 */
class RefusalsTest
{
    /** The lines a device's logger got. */
    private static final class Recorder implements System.Logger
    {
        final List<String> lines = new ArrayList<>();

        @Override
        public String getName()
        {
            return "recorder";
        }

        @Override
        public boolean isLoggable(final Level level)
        {
            return true;
        }

        @Override
        public void log(final Level level, final ResourceBundle bundle, final String msg, final Throwable thrown)
        {
            lines.add(level + " " + msg);
        }

        @Override
        public void log(final Level level, final ResourceBundle bundle, final String format, final Object... params)
        {
            lines.add(level + " " + format);
        }
    }

    @Test
    void theFirstTenAndEveryThousandthAreLoggedAndAllCounted()
    {
        final Recorder log = new Recorder();
        final Refusals refusals = new Refusals(log, "dev0", "request");
        final DescriptorChain chain = new DescriptorChain(1);
        for (int i = 0; i < 2500; i++)
        {
            refusals.refuse(chain, "is bad");
        }
        assertThat(refusals.count()).isEqualTo(2500);
        assertThat(log.lines).hasSize(12);
        assertThat(log.lines.getFirst()).isEqualTo("WARNING dev0: request " + chain.head()
            + " is bad (1 refused so far)");
        assertThat(log.lines.get(9)).endsWith("(10 refused so far)");
        assertThat(log.lines.get(10)).endsWith("(1000 refused so far)");
        assertThat(log.lines.get(11)).endsWith("(2000 refused so far)");
    }

    @Test
    void addCountsAndSaysWhenToLog()
    {
        final Recorder log = new Recorder();
        final Refusals refusals = new Refusals(log, "media0", "command");
        final DescriptorChain chain = new DescriptorChain(1);
        int logged = 0;
        for (int i = 1; i <= 1000; i++)
        {
            if (refusals.add())
            {
                logged++;
                refusals.log(chain, "why " + i);
            }
        }
        assertThat(logged).isEqualTo(11);
        assertThat(refusals.count()).isEqualTo(1000);
        assertThat(log.lines.getLast()).isEqualTo("WARNING media0: command " + chain.head()
            + " why 1000 (1000 refused so far)");
    }
}
