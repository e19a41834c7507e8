package io.jvhost.device.gpu;

/**
 * One row of the {@link CommandTable}: a command type, the queue it belongs on, the length its request structure
 * needs, the response type of its success, and who handles it. A command the device knows but does not offer (a
 * feature not negotiated, 3D without a 3D renderer) has the reason instead of a handler.
 *
 * @param type         VIRTIO_GPU_CMD_*.
 * @param queue        {@link GpuProtocol#CONTROL_QUEUE} or {@link GpuProtocol#CURSOR_QUEUE}.
 * @param requestSize  bytes the request must hold (header included); shorter is ERR_UNSPEC (cursor: ignored).
 * @param okResponse   what {@link Handler#OK} answers: RESP_OK_NODATA or the type of the payload the handler wrote.
 * @param disabledWhy  null when offered; else why the command is answered ERR_UNSPEC.
 * @param handler      runs the command once the preamble passed; null when disabled.
 */
record Command(int type, int queue, int requestSize, int okResponse, String disabledWhy, Handler handler)
{
    /**
     * Runs one command whose request is in the device's request buffer (read through the flyweights).
     */
    @FunctionalInterface
    interface Handler
    {
        /** Success: the command's {@link Command#okResponse}. */
        int OK = 0;
        /** The request is held to be answered later ({@link HeldRequests}). */
        int HELD = -1;

        /**
         * @return {@link #OK}, {@link #HELD} or a RESP_ERR_* code.
         */
        int handle(ControlRequest request);
    }

    static Command offered(final int type, final int queue, final int requestSize, final int okResponse,
        final Handler handler)
    {
        return new Command(type, queue, requestSize, okResponse, null, handler);
    }

    static Command disabled(final int type, final int queue, final int requestSize, final String why)
    {
        return new Command(type, queue, requestSize, GpuProtocol.RESP_OK_NODATA, why, null);
    }
}
