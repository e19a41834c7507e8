package io.jvhost.benchmarks;

import java.util.Arrays;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The command-line conventions and small statistics the stand-alone benchmark tools share (GuestBench,
 * LowSpeedBusBench): {@code --name value} options, value-less flags, {@code -h/--help}.
 */
public final class BenchOptions
{
    private BenchOptions()
    {
    }

    /**
     * Walks {@code args}: a flag in {@code flags} reaches {@code onOption} with a null value, any other
     * {@code --name} with the argument after it; {@code -h}/{@code --help} prints {@code usage} and exits 0.
     * {@code onOption} throws IllegalArgumentException for an option it does not know.
     *
     * @throws IllegalArgumentException when the last option has no value.
     */
    public static void parse(final String[] args, final String usage, final Set<String> flags,
        final BiConsumer<String, String> onOption)
    {
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            if (flags.contains(a))
            {
                onOption.accept(a, null);
                continue;
            }
            if (a.equals("-h") || a.equals("--help"))
            {
                System.out.print(usage);
                System.exit(0);
            }
            if (i + 1 == args.length)
            {
                throw new IllegalArgumentException(a + (a.startsWith("--") ? " needs a value" : ": unknown argument"));
            }
            onOption.accept(a, args[++i]);
        }
    }

    /**
     * @return {@code value} as a positive int.
     * @throws IllegalArgumentException naming {@code option} otherwise.
     */
    public static int positive(final String option, final String value)
    {
        try
        {
            final int n = Integer.parseInt(value);
            if (n > 0)
            {
                return n;
            }
        }
        catch (final NumberFormatException e)
        {
            // Below.
        }
        throw new IllegalArgumentException(option + " must be a positive number, got '" + value + "'");
    }

    /**
     * @return the median of {@code v} (the mean of the middle two for an even count); {@code v} is not changed.
     */
    public static double median(final double[] v)
    {
        final double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
