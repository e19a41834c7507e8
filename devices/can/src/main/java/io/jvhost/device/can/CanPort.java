package io.jvhost.device.can;

import io.jvhost.device.DeviceContext;

/**
 * Where a {@link CanDevice}'s frames go and come from: a {@link VirtualCanBus} inside the process, or a host SocketCAN
 * interface ({@link SocketCanPort}). The device calls {@link #transmit} on its worker thread; the port hands the
 * frames it receives to the {@link Receiver} it was bound to, from any thread.
 */
public interface CanPort extends AutoCloseable
{
    /** What a port delivers to: its device. */
    interface Receiver
    {
        /**
         * A frame arrived from the bus (the receiver copies it before it returns).
         */
        void receive(CanFrame frame);

        /**
         * The controller went bus-off: it stops participating until the driver starts it again.
         */
        void busOff();
    }

    /**
     * @return the port's name for logs: the host interface, or the virtual bus and member.
     */
    String name();

    /**
     * @return true when the port carries CAN FD frames (the device then offers VIRTIO_CAN_F_CAN_FD).
     */
    boolean canFd();

    /**
     * Binds the port to the device its frames go to; called once, before anything else.
     */
    void bind(Receiver receiver);

    /**
     * Puts a valid frame on the bus. Must not block for long (runs on the device's worker).
     *
     * @return 0, or the errno with which the host refused the frame.
     */
    int transmit(CanFrame frame);

    /**
     * A driver connected: a port that reads a host descriptor watches it through {@code context} (on the RX queue's
     * worker).
     */
    default void attach(final DeviceContext context)
    {
    }

    /**
     * The driver went away (reset or disconnect): stop watching.
     */
    default void detach()
    {
    }

    @Override
    default void close()
    {
    }
}
