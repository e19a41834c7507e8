package io.jvhost.device.video;

import io.jvhost.device.video.wire.Response;

/**
 * What decodes for a {@link VideoDevice}. The device has parsed and checked each command (its size, queue type,
 * memory types, coded format, that the stream exists and the resource was created, that the guest pages of a
 * resource are guest RAM) before it calls the back-end, which writes the response.
 * <p>
 * All calls come from the device's worker thread.
 */
public interface VideoBackend extends AutoCloseable
{
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

    int createResource(int streamId, int queueType, int resourceId);

    int destroyResources(int streamId, int queueType);

    int clearQueue(int streamId, int queueType);

    int setParams(int streamId, int queueType);

    /**
     * @return the size of the response written into {@code response}.
     */
    int queryCapability(int queueType, Response response);

    int queryControl(int control, Response response);

    int getParams(int streamId, int queueType, Response response);

    int queueResource(int streamId, int queueType, int resourceId, long timestamp, Response response);

    @Override
    void close();
}
