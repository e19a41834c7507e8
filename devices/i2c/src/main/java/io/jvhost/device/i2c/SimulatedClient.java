package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;

/**
 * A device on a {@link SimulatedAdapter}: it sees each message of a transfer in order, as a real client would between
 * a START (or repeated START) and the next.
 */
public interface SimulatedClient
{
    /**
     * The master writes the {@code length} bytes at {@code offset} of {@code data} (possibly none: a quick write, as
     * {@code i2cdetect} probes).
     *
     * @return true to acknowledge.
     */
    boolean write(MemorySegment data, long offset, int length);

    /**
     * The master reads {@code length} bytes (possibly none) into {@code into} at {@code offset}.
     *
     * @return true to acknowledge.
     */
    boolean read(MemorySegment into, long offset, int length);

    /**
     * @return what it is, for logs and the command line ({@code eeprom}, {@code lm75}).
     */
    String kind();
}
