package io.jvhost.os;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class FdListTest
{
    // Every test closes what it opens itself (through the list or by hand): closing a descriptor twice could hit
    // one that another thread of the JVM opened in between.
    private static int eventFd() throws NativeException
    {
        return LibC.eventfd(0, LibC.EFD_CLOEXEC);
    }

    @Test
    void newListIsEmpty()
    {
        final FdList fds = new FdList();

        assertThat(fds.count()).isZero();
        assertThat(fds.dropped()).isZero();
        assertThat(fds.peek(0)).isEqualTo(-1);
        assertThat(fds.take(0)).isEqualTo(-1);
        assertThat(fds).hasToString("FdList[]");
    }

    @Test
    void addKeepsThirtyTwoAndClosesTheRestAtOnce() throws NativeException
    {
        final FdList fds = new FdList();
        final int[] all = new int[FdList.MAX_FDS + 3];
        for (int i = 0; i < all.length; i++)
        {
            all[i] = eventFd();
            fds.add(all[i]);
        }

        assertThat(fds.count()).isEqualTo(32);
        assertThat(fds.dropped()).isEqualTo(3);
        for (int i = 0; i < 32; i++)
        {
            assertThat(fds.peek(i)).isEqualTo(all[i]);
            assertThat(LibC.isOpen(all[i])).isTrue();
        }
        for (int i = 32; i < all.length; i++)
        {
            assertThat(LibC.isOpen(all[i])).as("fd %d beyond the limit", i).isFalse();
        }
        fds.closeRemaining();
    }

    @Test
    void takeTransfersOwnershipAndPeekShowsItTaken() throws NativeException
    {
        final FdList fds = new FdList();
        final int first = eventFd();
        final int second = eventFd();
        fds.add(first);
        fds.add(second);
        assertThat(fds).hasToString("FdList[" + first + ", " + second + "]");

        assertThat(fds.take(0)).isEqualTo(first);
        assertThat(fds.take(0)).isEqualTo(-1);
        assertThat(fds.peek(0)).isEqualTo(-1);
        assertThat(fds.peek(1)).isEqualTo(second);
        assertThat(fds.take(2)).isEqualTo(-1);

        fds.closeRemaining();

        assertThat(LibC.isOpen(first)).isTrue();
        assertThat(LibC.isOpen(second)).isFalse();
        assertThat(fds.count()).isZero();
        assertThat(fds.peek(1)).isEqualTo(-1);
        LibC.close(first);
    }

    @Test
    void closeRemainingResetsCountsForReuse() throws NativeException
    {
        final FdList fds = new FdList();
        fds.add(eventFd());
        fds.markTruncated();
        assertThat(fds.dropped()).isEqualTo(1);

        fds.closeRemaining();
        assertThat(fds.count()).isZero();
        assertThat(fds.dropped()).isZero();

        final int again = eventFd();
        fds.add(again);
        assertThat(fds.count()).isEqualTo(1);
        assertThat(fds.peek(0)).isEqualTo(again);
        fds.closeRemaining();
    }
}
