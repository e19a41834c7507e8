package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * One I/O message kept past the batch that took it: a copy of its chain (the queue reuses its own) and its payload
 * size. It may be kept across batches and memory-map changes, so its bytes are reached through the memory of the
 * batch that completes it, never through the snapshot it was popped under (that one may be unmapped by then).
 * <p>
 * Layout of a message: readable {@code virtio_snd_pcm_xfer} (4 bytes: stream id), then for playback the frames;
 * writable: for capture the frames, then {@code virtio_snd_pcm_status} (8 bytes) at the very end.
 */
final class HeldIo
{
    /** {@code virtio_snd_pcm_xfer}: the stream id ahead of the playback frames. */
    static final int XFER_HEADER = 4;

    final DescriptorChain chain;
    long payload;

    HeldIo(final int maxDescriptors)
    {
        this.chain = new DescriptorChain(maxDescriptors);
    }

    /**
     * Copies {@code length} playback bytes starting {@code offset} bytes into the frames into {@code dst}.
     */
    void readFrames(final GuestMemory memory, final long offset, final MemorySegment dst, final long length)
        throws GuestMemoryException
    {
        copy(memory, 0, chain.readableCount(), XFER_HEADER + offset, dst, length, false);
    }

    /**
     * Copies {@code length} capture bytes from {@code src} into the frames, starting {@code offset} bytes in.
     */
    void writeFrames(final GuestMemory memory, final long offset, final MemorySegment src, final long length)
        throws GuestMemoryException
    {
        copy(memory, chain.readableCount(), chain.count(), offset, src, length, true);
    }

    /**
     * Writes the 8-byte status {@code src} at the end of the writable part.
     */
    void writeStatus(final GuestMemory memory, final MemorySegment src) throws GuestMemoryException
    {
        copy(memory, chain.readableCount(), chain.count(), chain.writableBytes() - 8, src, 8, true);
    }

    /**
     * Copies between {@code host} and the bytes {@code [offset, offset + length)} of descriptors {@code [first,
     * end)} taken as one run.
     */
    private void copy(final GuestMemory memory, final int first, final int end, final long offset,
        final MemorySegment host, final long length, final boolean toGuest) throws GuestMemoryException
    {
        long skip = offset;
        long done = 0;
        for (int i = first; i < end && done < length; i++)
        {
            final long len = Integer.toUnsignedLong(chain.length(i));
            if (skip >= len)
            {
                skip -= len;
                continue;
            }
            final long n = Math.min(len - skip, length - done);
            if (toGuest)
            {
                memory.write(chain.address(i) + skip, host, done, n);
            }
            else
            {
                memory.read(chain.address(i) + skip, host, done, n);
            }
            done += n;
            skip = 0;
        }
        if (done < length)
        {
            throw new GuestMemoryException("message " + chain.head() + " has " + done + " of the " + length
                + " bytes asked for at offset " + offset);
        }
    }
}
