package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The host's EGL, asked before virglrenderer is: can it open a surfaceless display? virglrenderer 0.10.4's init
 * does not fail but crashes (SIGSEGV inside {@code virgl_renderer_init}) when EGL offers no surfaceless platform,
 * as with glvnd's {@code libEGL.so.1} but no Mesa vendor library (measured with
 * {@code __EGL_VENDOR_LIBRARY_DIRS=/nonexistent}). So init with {@link VirglFlags#USE_SURFACELESS} first checks
 * here that EGL lists {@code EGL_MESA_platform_surfaceless} and hands out a surfaceless display, and refuses with
 * the reason otherwise. The display is not initialised here: it is the one virglrenderer initialises and
 * terminates, and an extra terminate between its cleanup and its next init made a later reset crash.
 */
final class SurfacelessEgl
{
    private static final String LIBRARY = "libEGL.so.1";
    private static final int EGL_EXTENSIONS = 0x3055;
    private static final int EGL_PLATFORM_SURFACELESS_MESA = 0x31DD;
    private static final String EXTENSION = "EGL_MESA_platform_surfaceless";
    private static final String INSTALL = "; install Mesa's EGL (Debian: apt-get install libegl1 libegl-mesa0 "
        + "libgl1-mesa-dri)";

    private SurfacelessEgl()
    {
    }

    /**
     * Asks EGL for its surfaceless display on the calling thread.
     *
     * @throws VirglUnavailableException naming what EGL lacks.
     */
    static void check() throws VirglUnavailableException
    {
        final SymbolLookup egl;
        try
        {
            egl = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        }
        catch (final IllegalArgumentException e)
        {
            throw new VirglUnavailableException(LIBRARY + " cannot be loaded (" + e.getMessage() + ")" + INSTALL);
        }
        final Linker linker = Linker.nativeLinker();
        final MethodHandle queryString = linker.downcallHandle(find(egl, "eglQueryString"),
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        final MethodHandle getPlatformDisplay = linker.downcallHandle(find(egl, "eglGetPlatformDisplay"),
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        try
        {
            final MemorySegment extensions = (MemorySegment)queryString.invokeExact(MemorySegment.NULL, EGL_EXTENSIONS);
            final String list = MemorySegment.NULL.equals(extensions) ? ""
                : extensions.reinterpret(Long.MAX_VALUE).getString(0, StandardCharsets.US_ASCII);
            if (!(" " + list + " ").contains(" " + EXTENSION + " "))
            {
                throw new VirglUnavailableException("EGL has no " + EXTENSION + " (client extensions: '" + list
                    + "'; no Mesa EGL vendor?)" + INSTALL);
            }
            final MemorySegment display = (MemorySegment)getPlatformDisplay.invokeExact(EGL_PLATFORM_SURFACELESS_MESA,
                MemorySegment.NULL, MemorySegment.NULL);
            if (MemorySegment.NULL.equals(display))
            {
                throw new VirglUnavailableException("eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA) returned "
                    + "no display" + INSTALL);
            }
        }
        catch (final VirglUnavailableException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new VirglUnavailableException("EGL check failed: " + t);
        }
    }

    private static MemorySegment find(final SymbolLookup egl, final String name) throws VirglUnavailableException
    {
        return egl.find(name).orElseThrow(() -> new VirglUnavailableException(LIBRARY + " has no symbol " + name));
    }
}
