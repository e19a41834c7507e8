package io.jvhost.device.video;

import io.jvhost.device.FdWatcher;
import io.jvhost.device.video.wire.Command;
import io.jvhost.device.video.wire.Response;
import io.jvhost.memory.GuestMemory;

/**
 * What decodes for a {@link VideoDevice}. The device has parsed and checked each command (its size, queue type,
 * memory types, coded format, that the stream exists and the resource was created, that the guest pages of a
 * resource are guest RAM) before it calls the back-end, which writes the response.
 * <p>
 * All calls come from the device's worker thread, and the back-end calls its {@link Host} only from that thread
 * (inside a call of the device, or from a descriptor watched through {@link Host#watcher()}).
 */
public interface VideoBackend extends AutoCloseable
{
    /** {@link #queueResource}'s answer when the back-end keeps the buffer: the device holds the command's chain. */
    int HELD = -1;

    /**
     * What the device offers its back-end.
     */
    interface Host
    {
        /**
         * A buffer the back-end held ({@link #HELD}) is done: the device answers its RESOURCE_QUEUE with
         * OK_RESOURCE_QUEUE carrying {@code flags} (VIRTIO_VIDEO_BUFFER_FLAG_*), {@code timestamp} and {@code size}
         * (the bytes the device wrote into it), on the command queue's worker, soon. A buffer that is not held (the
         * queue was cleared meanwhile) is ignored with one log line.
         */
        void completed(int streamId, int queueType, int resourceId, int flags, long timestamp, int size);

        /**
         * @return where the back-end watches its own descriptors (on the command queue's worker), or a watcher that
         *     answers null when no driver is connected or the transport cannot watch.
         */
        FdWatcher watcher();

        /**
         * @return the guest memory of the batch being served (valid during a device call; to copy through it later,
         *     e.g. from a watched descriptor's callback, take a reference with {@link GuestMemory#tryRetain()} and
         *     release it after); null before the first batch.
         */
        GuestMemory memory();
    }

    /**
     * Called once a driver connects, before any command.
     */
    default void attach(final Host host)
    {
    }

    /**
     * @return the config space's device_name (at most 31 ASCII characters are shown; rust leaves it empty).
     */
    String deviceName();

    /**
     * @return the response type: {@link VideoDevice#RESP_OK_NODATA} or an error.
     */
    int createStream(int streamId, int inMemType, int outMemType, int codedFormat);

    void destroyStream(int streamId);

    int drain(int streamId);

    /**
     * @param pages the guest pages the driver gave, checked to be guest RAM.
     */
    int createResource(int streamId, int queueType, int resourceId, VideoResource pages);

    int destroyResources(int streamId, int queueType);

    /**
     * Forgets the buffers queued on that queue: the device answers the held ones itself (flag ERR) after this returns,
     * and ignores later reports of them.
     */
    int clearQueue(int streamId, int queueType);

    /**
     * SET_PARAMS_EXT: {@code params} is the command, its virtio_video_params read with {@link Command#param}.
     */
    int setParams(int streamId, int queueType, Command params);

    /**
     * @return the size of the response written into {@code response}.
     */
    /**
     * QUERY_CAPABILITY: the descriptors ({@link Response#formatDesc}, {@link Response#formatFrame}) may fill up to
     * {@link VideoDevice#MAX_CAPS_LENGTH} bytes.
     */
    int queryCapability(int queueType, Response response);

    int queryControl(int control, Response response);

    int getParams(int streamId, int queueType, Response response);

    /**
     * Queues a resource: the back-end either answers at once (the size of the response written into
     * {@code response}) or keeps the buffer and answers {@link #HELD}, then reports it through
     * {@link Host#completed} when the host is done with it. {@code dataSizes[0..numDataSizes)} are the sizes of the
     * data in each plane (the bitstream's length for the input queue); the array is the device's scratch, valid only
     * during this call.
     */
    int queueResource(int streamId, int queueType, int resourceId, long timestamp, int[] dataSizes,
        int numDataSizes, Response response);

    @Override
    void close();
}
