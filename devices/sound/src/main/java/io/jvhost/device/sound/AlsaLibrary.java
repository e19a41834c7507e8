package io.jvhost.device.sound;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The few calls of alsa-lib ({@code libasound.so.2}) a PCM stream needs, through FFM: open, the simple
 * {@code snd_pcm_set_params}, interleaved non-blocking reads and writes, recovery, start, drop, close, and error
 * strings. The library is looked up at run time; without it {@link #load()} says so and nothing else is touched.
 */
final class AlsaLibrary
{
    static final int STREAM_PLAYBACK = 0;
    static final int STREAM_CAPTURE = 1;
    static final int NONBLOCK = 1;
    static final int ACCESS_RW_INTERLEAVED = 3;
    /** {@code -EAGAIN}: a non-blocking stream has no room (playback) or no frames (capture). */
    static final int EAGAIN = -11;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout ADDRESS = ValueLayout.ADDRESS;

    final MethodHandle open;
    final MethodHandle setParams;
    final MethodHandle writei;
    final MethodHandle readi;
    final MethodHandle recover;
    final MethodHandle start;
    final MethodHandle drop;
    final MethodHandle close;
    final MethodHandle strerror;

    private static AlsaLibrary instance;

    private AlsaLibrary(final SymbolLookup lib)
    {
        open = handle(lib, "snd_pcm_open", FunctionDescriptor.of(INT, ADDRESS, ADDRESS, INT, INT));
        setParams = handle(lib, "snd_pcm_set_params", FunctionDescriptor.of(INT, ADDRESS, INT, INT, INT, INT, INT,
            INT));
        writei = handle(lib, "snd_pcm_writei", FunctionDescriptor.of(LONG, ADDRESS, ADDRESS, LONG));
        readi = handle(lib, "snd_pcm_readi", FunctionDescriptor.of(LONG, ADDRESS, ADDRESS, LONG));
        recover = handle(lib, "snd_pcm_recover", FunctionDescriptor.of(INT, ADDRESS, INT, INT));
        start = handle(lib, "snd_pcm_start", FunctionDescriptor.of(INT, ADDRESS));
        drop = handle(lib, "snd_pcm_drop", FunctionDescriptor.of(INT, ADDRESS));
        close = handle(lib, "snd_pcm_close", FunctionDescriptor.of(INT, ADDRESS));
        strerror = handle(lib, "snd_strerror", FunctionDescriptor.of(ADDRESS.withTargetLayout(
            java.lang.foreign.MemoryLayout.sequenceLayout(4096, ValueLayout.JAVA_BYTE)), INT));
    }

    private static MethodHandle handle(final SymbolLookup lib, final String symbol, final FunctionDescriptor fd)
    {
        return LINKER.downcallHandle(lib.findOrThrow(symbol), fd);
    }

    /**
     * @return the library.
     * @throws IllegalStateException when libasound.so.2 cannot be loaded.
     */
    static synchronized AlsaLibrary load()
    {
        if (null == instance)
        {
            final SymbolLookup lib;
            try
            {
                lib = SymbolLookup.libraryLookup("libasound.so.2", Arena.global());
            }
            catch (final IllegalArgumentException e)
            {
                throw new IllegalStateException("libasound.so.2 (alsa-lib) is not installed: " + e.getMessage(), e);
            }
            instance = new AlsaLibrary(lib);
        }
        return instance;
    }

    /**
     * @return alsa-lib's text for a negative error code.
     */
    String error(final int code)
    {
        try
        {
            final MemorySegment s = (MemorySegment)strerror.invokeExact(code);
            return s.getString(0) + " (" + code + ")";
        }
        catch (final Throwable t)
        {
            return "error " + code;
        }
    }

    /**
     * @return alsa-lib's {@code snd_pcm_format_t} for a virtio-snd format, or -1 when it has none.
     */
    static int format(final int virtioFormat)
    {
        return switch (virtioFormat)
        {
            case Snd.FMT_S8 -> 0;
            case Snd.FMT_U8 -> 1;
            case Snd.FMT_S16 -> 2;
            case Snd.FMT_U16 -> 4;
            case Snd.FMT_S24 -> 6;
            case Snd.FMT_U24 -> 8;
            case Snd.FMT_S32 -> 10;
            case Snd.FMT_U32 -> 12;
            case Snd.FMT_FLOAT -> 14;
            case Snd.FMT_FLOAT64 -> 16;
            default -> -1;
        };
    }
}
