package io.jvhost.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

class GuestMemoryAtomicTest
{
    private static final long PAGE = 4096;
    private static final int MAX = 8;

    @Test
    void startsEmptyAndAcquiringEmptyNeedsNoRelease()
    {
        final GuestMemoryAtomic atomic = new GuestMemoryAtomic();

        assertThat(atomic.peek()).isSameAs(GuestMemory.EMPTY);
        final GuestMemory snapshot = atomic.acquire();
        assertThat(snapshot).isSameAs(GuestMemory.EMPTY);
        snapshot.release();
    }

    @Test
    void replaceUnmapsTheOldSnapshotOnlyAfterItsLastReaderReleases() throws Exception
    {
        try (MemFd memFd = MemFd.create("atomic", 2 * PAGE))
        {
            final MemoryRegion oldRegion = MemoryRegion.map(memFd.fd(), 0, PAGE, 0x10_0000, 0);
            final MemoryRegion newRegion = MemoryRegion.map(memFd.fd(), 0, PAGE, 0x20_0000, PAGE);
            final GuestMemoryAtomic atomic = new GuestMemoryAtomic();
            final GuestMemory first = GuestMemory.of(List.of(oldRegion), MAX);
            atomic.replace(first);
            assertThat(atomic.peek()).isSameAs(first);

            final GuestMemory held = atomic.acquire();
            assertThat(held).isSameAs(first);

            final GuestMemory second = GuestMemory.of(List.of(newRegion), MAX);
            atomic.replace(second);
            assertThat(atomic.peek()).isSameAs(second);
            assertThat(oldRegion.bytes().scope().isAlive()).as("a reader still holds it").isTrue();
            held.read(0, Arena.global().allocate(8), 0, 8);

            final GuestMemory now = atomic.acquire();
            assertThat(now).isSameAs(second);
            now.release();

            held.release();
            assertThat(oldRegion.bytes().scope().isAlive()).isFalse();
            assertThatIllegalStateException().isThrownBy(() -> oldRegion.bytes().get(ValueLayout.JAVA_BYTE, 0));
            assertThat(first.tryRetain()).isFalse();

            atomic.replace(GuestMemory.EMPTY);
            assertThat(newRegion.bytes().scope().isAlive()).isFalse();
            assertThat(atomic.acquire()).isSameAs(GuestMemory.EMPTY);
        }
    }

    /**
     * Two readers acquire, read and release in a loop while this thread replaces the map 10,000 times, each time
     * removing the last region added and adding a fresh mapping ({@link GuestMemory#without}, then
     * {@link GuestMemory#with}). A fixed region stays in every snapshot. The readers check the bytes of both
     * regions, across their boundary, through every snapshot they hold: an unmapped region would throw
     * IllegalStateException. The run is bounded by counts: the replacer waits for the readers to make progress
     * every few replacements, and stops after 10,000.
     */
    @Test
    @Timeout(300) // a safety net against a hang, not the bound of the test
    void readersNeverSeeUnmappedMemoryWhileTheMapIsReplacedTenThousandTimes() throws Exception
    {
        final int replacements = 10_000;
        final int pool = 4;
        final long fixedUaddr = 0x7e00_0000_0000L;
        final long movingUaddrBase = 0x7f00_0000_0000L;
        final long fixedStamp = 0xF1F1_F1F1_0000_0000L;
        final long movingStamp = 0xABAB_0000_0000_0000L;

        final List<MemFd> memFds = new ArrayList<>();
        final MemFd fixedFd = MemFd.create("fixed", PAGE);
        memFds.add(fixedFd);
        try (MappedMemory fixedFile = fixedFd.map())
        {
            fixedFile.segment().set(ValueLayout.JAVA_LONG, PAGE - 8, fixedStamp);
        }
        final MemFd[] movingFds = new MemFd[pool];
        for (int k = 0; k < pool; k++)
        {
            // The moving region maps the second page of its file (mmap_offset = PAGE); its stamp names the file.
            movingFds[k] = MemFd.create("moving-" + k, 2 * PAGE);
            memFds.add(movingFds[k]);
            try (MappedMemory file = movingFds[k].map())
            {
                file.segment().set(ValueLayout.JAVA_LONG, PAGE, movingStamp + k);
            }
        }

        final MemoryRegion fixed = MemoryRegion.map(fixedFd.fd(), 0, PAGE, fixedUaddr, 0);
        MemoryRegion moving = MemoryRegion.map(movingFds[0].fd(), PAGE, PAGE, movingUaddrBase, PAGE);
        final GuestMemoryAtomic atomic = new GuestMemoryAtomic();
        atomic.replace(GuestMemory.of(List.of(fixed, moving), MAX));

        final AtomicLong[] progress = {new AtomicLong(), new AtomicLong()};
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        final Set<Long>[] seenUaddrs = newSets(2);
        final boolean[] stop = new boolean[1];
        final Object stopLock = new Object();
        final List<Thread> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++)
        {
            final int id = t;
            readers.add(Thread.ofPlatform().name("reader-" + t).start(() ->
            {
                final MemorySegment buf = Arena.ofAuto().allocate(16, 8);
                try
                {
                    while (true)
                    {
                        synchronized (stopLock)
                        {
                            if (stop[0])
                            {
                                return;
                            }
                        }
                        final GuestMemory snapshot = atomic.acquire();
                        try
                        {
                            assertThat(snapshot.regionCount()).isEqualTo(2);
                            final MemoryRegion m = snapshot.region(1);
                            final long k = (m.userAddr() - movingUaddrBase) / PAGE;
                            // 8 bytes at the end of the fixed region and 8 at the start of the moving one.
                            snapshot.read(PAGE - 8, buf, 0, 16);
                            assertThat(buf.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(fixedStamp);
                            assertThat(buf.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(movingStamp + k % pool);
                            assertThat(snapshot.sliceUser(m.userAddr(), 8).get(ValueLayout.JAVA_LONG, 0))
                                .isEqualTo(movingStamp + k % pool);
                            seenUaddrs[id].add(m.userAddr());
                        }
                        finally
                        {
                            snapshot.release();
                        }
                        progress[id].incrementAndGet();
                        Thread.yield();
                    }
                }
                catch (final Throwable e)
                {
                    failures.add(e);
                }
            }));
        }

        final List<MemoryRegion> retired = new ArrayList<>(replacements);
        long lastProgress = 0;
        for (int g = 1; g <= replacements && failures.isEmpty(); g++)
        {
            final GuestMemory current = atomic.peek();
            final int k = g % pool;
            final MemoryRegion next = MemoryRegion.map(movingFds[k].fd(), PAGE, PAGE, movingUaddrBase + g * PAGE, PAGE);
            final GuestMemory without = current.without(moving.guestPhysAddr(), moving.size(), moving.userAddr());
            final GuestMemory with = without.with(next, MAX);
            without.release();
            atomic.replace(with);
            retired.add(moving);
            moving = next;

            if (g % 8 == 0)
            {
                // Let the readers catch up, so they really run against the replacements.
                while (progress[0].get() + progress[1].get() <= lastProgress && failures.isEmpty()
                    && readers.stream().allMatch(Thread::isAlive))
                {
                    Thread.onSpinWait();
                }
                lastProgress = progress[0].get() + progress[1].get();
            }
        }
        synchronized (stopLock)
        {
            stop[0] = true;
        }
        for (final Thread reader : readers)
        {
            reader.join();
        }

        assertThat(failures).isEmpty();
        assertThat(retired).hasSize(replacements);
        assertThat(progress[0].get() + progress[1].get()).isGreaterThanOrEqualTo(replacements / 8);
        assertThat(seenUaddrs[0].size() + seenUaddrs[1].size()).as("distinct maps seen by the readers")
            .isGreaterThan(replacements / 16);
        // Every replaced region has been unmapped: no reader holds a snapshot any more.
        assertThat(retired).allSatisfy(r ->
        {
            assertThat(r.bytes().scope().isAlive()).isFalse();
            assertThatIllegalStateException().isThrownBy(() -> r.bytes().get(ValueLayout.JAVA_BYTE, 0));
        });
        assertThat(fixed.bytes().scope().isAlive()).isTrue();
        assertThat(moving.bytes().scope().isAlive()).isTrue();

        atomic.replace(GuestMemory.EMPTY);
        assertThat(fixed.bytes().scope().isAlive()).isFalse();
        assertThat(moving.bytes().scope().isAlive()).isFalse();
        memFds.forEach(MemFd::close);
    }

    @SuppressWarnings("unchecked")
    private static Set<Long>[] newSets(final int n)
    {
        final Set<Long>[] sets = new Set[n];
        for (int i = 0; i < n; i++)
        {
            sets[i] = new HashSet<>();
        }
        return sets;
    }
}
