package io.jvhost.device.gpu;

import java.util.Objects;

/**
 * Commands by type, without hashing: virtio-gpu numbers them in blocks of 0x100 (0x01xx 2D, 0x02xx 3D, 0x03xx
 * cursor), so a row is found by block and index. Built once per device; read by the worker only.
 */
final class CommandTable
{
    private static final int BLOCKS = 4;
    private static final int PER_BLOCK = 32;

    private final Command[][] blocks = new Command[BLOCKS][PER_BLOCK];

    void add(final Command command)
    {
        Objects.requireNonNull(command, "command");
        final int block = command.type() >>> 8;
        final int index = command.type() & 0xFF;
        if (block >= BLOCKS || index >= PER_BLOCK || null != blocks[block][index])
        {
            throw new IllegalArgumentException("command 0x" + Integer.toHexString(command.type())
                + " cannot be added");
        }
        blocks[block][index] = command;
    }

    /**
     * @return the command of this type, or null for a type the device does not know.
     */
    Command get(final int type)
    {
        final int block = type >>> 8;
        final int index = type & 0xFF;
        return block < BLOCKS && index < PER_BLOCK ? blocks[block][index] : null;
    }
}
