package io.jvhost.device.console;

/**
 * The host side of a console port: where the guest's output goes and its input comes from (a TCP client, this
 * terminal). Non-blocking throughout; everything but {@link #close()} runs on the device's worker thread.
 * <p>
 * The back-end reads only when the device has a guest buffer to read into ({@link #wantInput}), and takes the guest's
 * output only as fast as its host side does ({@link #write} may take less than offered), so neither direction
 * buffers anything in between.
 */
public interface ConsoleBackend extends AutoCloseable
{
    /** {@link #poll()}: input can be read. */
    int INPUT = 1;
    /** {@link #poll()}: output that was refused can be written now. */
    int OUTPUT = 2;
    /** {@link #poll()}: the host side connected or went away ({@link #connected()}). */
    int CONNECTION = 4;

    /**
     * @return what this is, for logs (e.g. {@code tcp 127.0.0.1:12345}).
     */
    String describe();

    /**
     * @return a descriptor that is readable (level-triggered) while {@link #poll()} has something to do.
     */
    int pollFd();

    /**
     * Handles what made {@link #pollFd()} readable (accepts a client, notices one that left).
     *
     * @return {@link #INPUT}, {@link #OUTPUT}, {@link #CONNECTION} bits.
     */
    int poll();

    /**
     * @return true while something on the host side reads the guest's output (the nested terminal always does).
     */
    boolean connected();

    /**
     * @return bytes that can be read now without blocking (0: none).
     */
    long readable();

    /**
     * Reads host input into native memory (a guest buffer).
     *
     * @return bytes read (0: none now), never negative.
     */
    long read(long address, long length);

    /**
     * Offers guest output. Taking less than {@code length} means the host side is full: {@link #poll()} reports
     * {@link #OUTPUT} once it can take more. Without a host side ({@code !connected()}) output is discarded: all of it
     * is taken and counted in {@link #discardedBytes()}.
     *
     * @return bytes taken, 0..length.
     */
    long write(long address, long length);

    /**
     * Whether {@link #pollFd()} should report input: on while the device holds guest buffers to read into, off while
     * it has none (input then waits in the host socket or terminal, which pushes back on the writer).
     */
    void wantInput(boolean on);

    /**
     * @return guest output discarded because nothing was connected.
     */
    long discardedBytes();

    @Override
    void close();
}
