package io.jvhost.device.video;

import io.jvhost.device.video.wire.Command;
import io.jvhost.device.video.wire.Response;

/**
 * rust-vmm's {@code null} video back-end: streams, resources, drains, clears and SET_PARAMS succeed and do nothing;
 * QUERY_CAPABILITY lists no format, QUERY_CONTROL answers 0, GET_PARAMS and RESOURCE_QUEUE are
 * {@code ERR_INVALID_OPERATION} (nothing is ever decoded). Unlike rust's, it does not create the {@code -d} file.
 */
public final class NullVideo implements VideoBackend
{
    @Override
    public String deviceName()
    {
        return "";
    }

    @Override
    public int createStream(final int streamId, final int inMemType, final int outMemType, final int codedFormat)
    {
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public void destroyStream(final int streamId)
    {
    }

    @Override
    public int drain(final int streamId)
    {
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int createResource(final int streamId, final int queueType, final int resourceId,
        final VideoResource pages)
    {
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int destroyResources(final int streamId, final int queueType)
    {
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int clearQueue(final int streamId, final int queueType)
    {
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
        return response.header(VideoDevice.RESP_ERR_INVALID_OPERATION);
    }

    @Override
    public void close()
    {
    }
}
