package io.jvhost.benchmarks.gpu;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Every figure of every round, by subject (jvhost, the peer, the baselines) and metric key.
 */
final class Results
{
    static final String JVHOST = "jvhost";
    static final String PEER = "peer";
    static final String BASE = "baseline";

    private final Map<String, Map<String, TreeMap<Integer, Double>>> values = new HashMap<>();

    /**
     * Records what one round measured for {@code subject}.
     */
    void record(final String subject, final int round, final Map<String, Double> metrics)
    {
        final Map<String, TreeMap<Integer, Double>> bySubject = values.computeIfAbsent(subject, s -> new HashMap<>());
        metrics.forEach((key, value) -> bySubject.computeIfAbsent(key, k -> new TreeMap<>()).put(round, value));
    }

    /**
     * @return the values of {@code key} for {@code subject} by round (rounds without one are absent).
     */
    Map<Integer, Double> byRound(final String subject, final String key)
    {
        final Map<String, TreeMap<Integer, Double>> bySubject = values.get(subject);
        if (null == bySubject || !bySubject.containsKey(key))
        {
            return Map.of();
        }
        return Collections.unmodifiableMap(bySubject.get(key));
    }

    /**
     * @return the median over rounds, or null when no round measured it.
     */
    Double median(final String subject, final String key)
    {
        final List<Double> v = new ArrayList<>(byRound(subject, key).values());
        if (v.isEmpty())
        {
            return null;
        }
        Collections.sort(v);
        final int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }
}
