package io.jvhost.device.input;

/**
 * Receives the events the guest sends to the device on the status queue: LED changes ({@code EV_LED}), key-repeat
 * settings ({@code EV_REP}), beeps ({@code EV_SND}).
 */
@FunctionalInterface
public interface StatusListener
{
    /**
     * Called on the device's worker thread for each event: must not block.
     */
    void status(int type, int code, int value);
}
