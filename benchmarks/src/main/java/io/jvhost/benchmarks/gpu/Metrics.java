package io.jvhost.benchmarks.gpu;

/**
 * Keys of the figures one round records for one back-end (or for the same-run baselines).
 */
final class Metrics
{
    /** (a) full frames counted at the display: frames/s, MB/s (10^6 bytes), per-frame latencies. */
    static final String A_FPS = "a.fps";
    static final String A_MBPS = "a.mbps";
    static final String A_USED_P50_MS = "a.used.p50.ms";
    static final String A_DISPLAY_P50_MS = "a.display.p50.ms";
    static final String A_DISPLAY_P99_MS = "a.display.p99.ms";
    static final String A_UPDATES_PER_FRAME = "a.updates.per.frame";
    /** (a') full frames, guest-paced: completions/s at the used ring, frames/s that reached the display meanwhile. */
    static final String A2_USED_PER_S = "a2.used.per.s";
    static final String A2_DISPLAY_FPS = "a2.display.fps";
    /** (b) 64x16 cell updates counted at the display. */
    static final String B_PER_S = "b.per.s";
    static final String B_USED_P50_US = "b.used.p50.us";
    static final String B_DISPLAY_P50_US = "b.display.p50.us";
    /** (c) GET_DISPLAY_INFO round trips. */
    static final String C_P50_US = "c.p50.us";
    static final String C_P99_US = "c.p99.us";
    static final String C_P999_US = "c.p999.us";
    static final String C_PER_S = "c.per.s";
    /** (d) rng requests/s (jvhost only). */
    static final String D_RNG_64_PER_S = "d.rng64.per.s";
    static final String D_RNG_4K_PER_S = "d.rng4k.per.s";
    /** (e) start-up and resident memory. */
    static final String E_LISTEN_MS = "e.listen.ms";
    static final String E_STARTUP_MS = "e.startup.ms";
    static final String E_RSS_MIB = "e.rss.mib";
    static final String E_ANON_MIB = "e.anon.mib";
    static final String E_FILE_MIB = "e.file.mib";
    static final String E_SHMEM_MIB = "e.shmem.mib";
    /** Same-run baselines. */
    static final String BASE_MEMCPY_FPS = "base.memcpy.fps";
    static final String BASE_MEMCPY_MBPS = "base.memcpy.mbps";
    static final String BASE_EVENTFD_P50_US = "base.eventfd.p50.us";
    static final String BASE_EVENTFD_P99_US = "base.eventfd.p99.us";
    static final String BASE_EVENTFD_P999_US = "base.eventfd.p999.us";
    static final String BASE_EVENTFD_PER_S = "base.eventfd.per.s";

    private Metrics()
    {
    }
}
