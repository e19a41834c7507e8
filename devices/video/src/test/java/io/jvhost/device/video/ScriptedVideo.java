package io.jvhost.device.video;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.jvhost.device.FdWatch;
import io.jvhost.device.video.wire.Command;
import io.jvhost.device.video.wire.Response;
import io.jvhost.os.EventFd;

/**
 * A back-end for the device's tests that keeps every queued buffer ({@link VideoBackend#HELD}) and reports it done
 * when told: on STREAM_DRAIN it reports every buffer still held (inputs with flags 0, the last output with EOS), and
 * each count written to {@link #trigger} (watched on the device's worker) reports the oldest held output buffer with
 * {@link #nextSize} bytes and the timestamp of the oldest input. It records what the device passed it.
 */
final class ScriptedVideo implements VideoBackend
{
    /** A queued buffer: stream, queue type, resource, timestamp, the first data size. */
    record Queued(int stream, int queueType, int resource, long timestamp, int dataSize)
    {
    }

    final Map<Integer, VideoResource> resources = new java.util.concurrent.ConcurrentHashMap<>();
    final List<Queued> queued = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<Queued> held = new ArrayList<>();
    final EventFd trigger;
    volatile int nextSize = 4242;
    volatile boolean watching;
    private Host host;
    private FdWatch watch;
    private final boolean recording;

    /**
     * @param recording false for the allocation test (records nothing and keeps at most one buffer per queue).
     */
    ScriptedVideo(final boolean recording) throws Exception
    {
        this.recording = recording;
        this.trigger = recording ? EventFd.create() : null;
    }

    @Override
    public void attach(final Host deviceHost)
    {
        this.host = deviceHost;
    }

    @Override
    public String deviceName()
    {
        return "scripted";
    }

    @Override
    public int createStream(final int streamId, final int inMemType, final int outMemType, final int codedFormat)
    {
        if (null != trigger && null == watch)
        {
            watch = host.watcher().watch(trigger.fd(), this::triggered);
            watching = null != watch;
        }
        return VideoDevice.RESP_OK_NODATA;
    }

    private void triggered()
    {
        long n = trigger.drain();
        while (n-- > 0)
        {
            Queued out = null;
            Queued in = null;
            for (final Queued q : held)
            {
                out = null == out && q.queueType() == VideoDevice.QUEUE_TYPE_OUTPUT ? q : out;
                in = null == in && q.queueType() == VideoDevice.QUEUE_TYPE_INPUT ? q : in;
            }
            if (null != out)
            {
                held.remove(out);
                host.completed(out.stream(), out.queueType(), out.resource(), 0, null == in ? 0 : in.timestamp(),
                    nextSize);
            }
        }
    }

    @Override
    public void destroyStream(final int streamId)
    {
        held.removeIf(q -> q.stream() == streamId);
    }

    // Allocation-free path for the allocation test: one held output per stream.
    private int heldStream = -1;
    private int heldResource;
    private long heldTimestamp;

    @Override
    public int drain(final int streamId)
    {
        if (!recording)
        {
            if (heldStream == streamId)
            {
                heldStream = -1;
                host.completed(streamId, VideoDevice.QUEUE_TYPE_OUTPUT, heldResource, VideoDevice.BUFFER_FLAG_EOS,
                    heldTimestamp, 1);
            }
            return VideoDevice.RESP_OK_NODATA;
        }
        Queued lastOut = null;
        for (final Queued q : held)
        {
            lastOut = q.stream() == streamId && q.queueType() == VideoDevice.QUEUE_TYPE_OUTPUT ? q : lastOut;
        }
        for (final Queued q : List.copyOf(held))
        {
            if (q.stream() == streamId)
            {
                held.remove(q);
                host.completed(q.stream(), q.queueType(), q.resource(), q == lastOut ? VideoDevice.BUFFER_FLAG_EOS
                    : 0, q.timestamp(), q.queueType() == VideoDevice.QUEUE_TYPE_OUTPUT ? 100 : 0);
            }
        }
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int createResource(final int streamId, final int queueType, final int resourceId,
        final VideoResource pages)
    {
        if (recording)
        {
            resources.put(resourceId, pages);
        }
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int destroyResources(final int streamId, final int queueType)
    {
        held.removeIf(q -> q.stream() == streamId && q.queueType() == queueType);
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int clearQueue(final int streamId, final int queueType)
    {
        held.removeIf(q -> q.stream() == streamId && q.queueType() == queueType);
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int setParams(final int streamId, final int queueType, final Command params)
    {
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int queryCapability(final int queueType, final Response response)
    {
        return response.queryCapability(VideoDevice.RESP_OK_QUERY_CAPABILITY, 0);
    }

    @Override
    public int queryControl(final int control, final Response response)
    {
        return response.queryControl(VideoDevice.RESP_OK_QUERY_CONTROL, 0, 0);
    }

    @Override
    public int getParams(final int streamId, final int queueType, final Response response)
    {
        return response.header(VideoDevice.RESP_ERR_INVALID_OPERATION);
    }

    @Override
    public int queueResource(final int streamId, final int queueType, final int resourceId, final long timestamp,
        final int[] dataSizes, final int numDataSizes, final Response response)
    {
        if (!recording)
        {
            heldStream = streamId;
            heldResource = resourceId;
            heldTimestamp = timestamp;
            return HELD;
        }
        final Queued q = new Queued(streamId, queueType, resourceId, timestamp, numDataSizes > 0 ? dataSizes[0] : -1);
        queued.add(q);
        held.add(q);
        return HELD;
    }

    @Override
    public void close()
    {
        if (null != watch)
        {
            watch.close();
        }
        if (null != trigger)
        {
            trigger.close();
        }
    }
}
