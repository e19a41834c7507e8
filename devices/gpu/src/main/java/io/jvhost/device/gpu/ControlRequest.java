package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.gpu.wire.CtrlHeader;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * The request being handled, as the preamble found it: its chain (entries that follow the fixed part are read from
 * it), the guest memory snapshot, the bytes read into {@link #buffer} and the header's fence fields, which the
 * response echoes. One instance, reused for every request (worker only).
 */
final class ControlRequest
{
    /** Larger than any command's fixed part (SET_SCANOUT_BLOB, 96). */
    static final int BUFFER_SIZE = 128;

    final MemorySegment buffer = MemorySegment.ofArray(new byte[BUFFER_SIZE]);
    final CtrlHeader header = new CtrlHeader();
    DescriptorChain chain;
    GuestMemory memory;
    /** Bytes of the request read into {@link #buffer}. */
    int length;
    int flags;
    long fenceId;
    int ctxId;
    int ringIdx;
    /** The features the driver accepted (the queue's). */
    long features;

    ControlRequest()
    {
        header.wrap(buffer);
    }

    void clearHeader()
    {
        flags = 0;
        fenceId = 0;
        ctxId = 0;
        ringIdx = 0;
    }
}
