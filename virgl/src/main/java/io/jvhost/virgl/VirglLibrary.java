package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code libvirglrenderer.so.1}, looked up at run time with {@link SymbolLookup#libraryLookup(String, Arena)} so a
 * machine without it still runs every 2D device: {@link #check()} says what is missing instead of an
 * {@link UnsatisfiedLinkError} at start-up.
 * <p>
 * The library is loaded into {@link Arena#global()} and never unloaded: it keeps pointers to our callbacks, and
 * Mesa's llvmpipe leaves threads of its own in the process, so unloading it could never be safe.
 * <p>
 * The downcall handles are static finals, constants to the JIT. Pointer arguments are {@code ADDRESS}es of native
 * segments, which the linker passes without allocating and keeps alive for the call. None is a critical downcall:
 * every virglrenderer call may block in GL, and {@code virgl_renderer_poll} calls back into Java.
 */
public final class VirglLibrary
{
    /** The soname Debian and Fedora ship (0.10.x and 1.x alike). */
    public static final String NAME = "libvirglrenderer.so.1";

    private static final Linker LINKER = Linker.nativeLinker();

    /** The functions the binding cannot work without, all present since 0.10. */
    private static final Map<String, FunctionDescriptor> REQUIRED = Map.ofEntries(
        Map.entry("virgl_renderer_init", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS)),
        Map.entry("virgl_renderer_cleanup", FunctionDescriptor.ofVoid(ADDRESS)),
        Map.entry("virgl_renderer_reset", FunctionDescriptor.ofVoid()),
        Map.entry("virgl_renderer_poll", FunctionDescriptor.ofVoid()),
        Map.entry("virgl_renderer_get_poll_fd", FunctionDescriptor.of(JAVA_INT)),
        Map.entry("virgl_renderer_get_cap_set", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS)),
        Map.entry("virgl_renderer_fill_caps", FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, ADDRESS)),
        Map.entry("virgl_renderer_context_create", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS)),
        Map.entry("virgl_renderer_context_create_with_flags",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS)),
        Map.entry("virgl_renderer_context_destroy", FunctionDescriptor.ofVoid(JAVA_INT)),
        Map.entry("virgl_renderer_resource_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT)),
        Map.entry("virgl_renderer_resource_unref", FunctionDescriptor.ofVoid(JAVA_INT)),
        Map.entry("virgl_renderer_resource_attach_iov", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT)),
        Map.entry("virgl_renderer_resource_detach_iov", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS)),
        Map.entry("virgl_renderer_ctx_attach_resource", FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT)),
        Map.entry("virgl_renderer_ctx_detach_resource", FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT)),
        Map.entry("virgl_renderer_submit_cmd", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)),
        Map.entry("virgl_renderer_transfer_read_iov", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT)),
        Map.entry("virgl_renderer_transfer_write_iov", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT)),
        Map.entry("virgl_renderer_create_fence", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT)),
        Map.entry("virgl_renderer_force_ctx_0", FunctionDescriptor.ofVoid()),
        Map.entry("virgl_renderer_resource_get_info", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS)),
        Map.entry("virgl_renderer_get_cursor_data", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS)),
        Map.entry("virgl_set_debug_callback", FunctionDescriptor.of(ADDRESS, ADDRESS)));

    /**
     * Functions used when present. The ring index of {@code context_create_fence} is passed as 64 bits: some
     * releases declare it {@code uint32_t ring_idx}, others {@code uint64_t queue_id}, and in a register both read
     * the same value.
     */
    private static final Map<String, FunctionDescriptor> OPTIONAL = Map.of(
        "virgl_renderer_context_create_fence",
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
        "virgl_set_log_callback", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));

    /** Present from 1.0 on. */
    private static final String SINCE_1_0 = "virgl_renderer_resource_get_info_ext";
    /** Present from 1.2 on. */
    private static final String SINCE_1_2 = "virgl_renderer_get_fence_fd";

    /** The library's functions, or empty when it could not be linked. */
    record Linked(Map<String, MethodHandle> handles, VirglVersion version)
    {
    }

    private static final Linked LINKED;
    private static final String PROBLEM;

    static
    {
        Linked linked = null;
        String problem = null;
        try
        {
            linked = link(NAME);
        }
        catch (final VirglUnavailableException e)
        {
            problem = e.getMessage();
        }
        LINKED = linked;
        PROBLEM = problem;
    }

    static final MethodHandle INIT = handle("virgl_renderer_init");
    static final MethodHandle CLEANUP = handle("virgl_renderer_cleanup");
    static final MethodHandle RESET = handle("virgl_renderer_reset");
    static final MethodHandle POLL = handle("virgl_renderer_poll");
    static final MethodHandle GET_POLL_FD = handle("virgl_renderer_get_poll_fd");
    static final MethodHandle GET_CAP_SET = handle("virgl_renderer_get_cap_set");
    static final MethodHandle FILL_CAPS = handle("virgl_renderer_fill_caps");
    static final MethodHandle CONTEXT_CREATE = handle("virgl_renderer_context_create");
    static final MethodHandle CONTEXT_CREATE_WITH_FLAGS = handle("virgl_renderer_context_create_with_flags");
    static final MethodHandle CONTEXT_DESTROY = handle("virgl_renderer_context_destroy");
    static final MethodHandle RESOURCE_CREATE = handle("virgl_renderer_resource_create");
    static final MethodHandle RESOURCE_UNREF = handle("virgl_renderer_resource_unref");
    static final MethodHandle ATTACH_IOV = handle("virgl_renderer_resource_attach_iov");
    static final MethodHandle DETACH_IOV = handle("virgl_renderer_resource_detach_iov");
    static final MethodHandle CTX_ATTACH_RESOURCE = handle("virgl_renderer_ctx_attach_resource");
    static final MethodHandle CTX_DETACH_RESOURCE = handle("virgl_renderer_ctx_detach_resource");
    static final MethodHandle SUBMIT_CMD = handle("virgl_renderer_submit_cmd");
    static final MethodHandle TRANSFER_READ_IOV = handle("virgl_renderer_transfer_read_iov");
    static final MethodHandle TRANSFER_WRITE_IOV = handle("virgl_renderer_transfer_write_iov");
    static final MethodHandle CREATE_FENCE = handle("virgl_renderer_create_fence");
    static final MethodHandle FORCE_CTX_0 = handle("virgl_renderer_force_ctx_0");
    static final MethodHandle RESOURCE_GET_INFO = handle("virgl_renderer_resource_get_info");
    static final MethodHandle GET_CURSOR_DATA = handle("virgl_renderer_get_cursor_data");
    static final MethodHandle SET_DEBUG_CALLBACK = handle("virgl_set_debug_callback");
    /** Null when the library has no per-context fences. */
    static final MethodHandle CONTEXT_CREATE_FENCE = handle("virgl_renderer_context_create_fence");
    /** Null before 1.0. */
    static final MethodHandle SET_LOG_CALLBACK = handle("virgl_set_log_callback");

    /** libc's, for the va_list of 0.10's debug callback. */
    static final MethodHandle VSNPRINTF = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("vsnprintf"),
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    /** libc's, for the memory {@code get_cursor_data} returns. */
    static final MethodHandle FREE = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("free"),
        FunctionDescriptor.ofVoid(ADDRESS));

    private VirglLibrary()
    {
    }

    private static MethodHandle handle(final String name)
    {
        return null == LINKED ? null : LINKED.handles().get(name);
    }

    /**
     * Loads {@code library} and links every function the binding uses. Package-private so a test can show what a
     * missing library or symbol says; {@link #NAME} is linked once per process.
     *
     * @throws VirglUnavailableException naming the library and the first missing symbol, or why it did not load.
     */
    static Linked link(final String library) throws VirglUnavailableException
    {
        final SymbolLookup lookup;
        try
        {
            lookup = SymbolLookup.libraryLookup(library, Arena.global());
        }
        catch (final IllegalArgumentException e)
        {
            throw new VirglUnavailableException(library + " cannot be loaded (" + e.getMessage()
                + "); install it (Debian: apt-get install libvirglrenderer1) for 3D");
        }
        final Map<String, MethodHandle> handles = new HashMap<>();
        for (final String name : REQUIRED.keySet().stream().sorted().toList())
        {
            final Optional<MemorySegment> symbol = lookup.find(name);
            if (symbol.isEmpty())
            {
                throw new VirglUnavailableException(library + " has no symbol " + name
                    + " (not a virglrenderer 0.10 or later)");
            }
            handles.put(name, LINKER.downcallHandle(symbol.get(), REQUIRED.get(name)));
        }
        OPTIONAL.forEach((name, descriptor) -> lookup.find(name)
            .ifPresent(symbol -> handles.put(name, LINKER.downcallHandle(symbol, descriptor))));
        final VirglVersion version = lookup.find(SINCE_1_2).isPresent() ? VirglVersion.V1_2
            : lookup.find(SINCE_1_0).isPresent() ? VirglVersion.V1_0 : VirglVersion.V0_10;
        return new Linked(Map.copyOf(handles), version);
    }

    /**
     * @return true when the library is loaded and has every function the binding needs.
     */
    public static boolean available()
    {
        return null != LINKED;
    }

    /**
     * @throws VirglUnavailableException naming what is missing when the library cannot be used.
     */
    public static void check() throws VirglUnavailableException
    {
        if (null == LINKED)
        {
            throw new VirglUnavailableException(PROBLEM);
        }
    }

    /**
     * @return the API version told by the library's symbols.
     * @throws VirglUnavailableException naming what is missing when the library cannot be used.
     */
    public static VirglVersion version() throws VirglUnavailableException
    {
        check();
        return LINKED.version();
    }

    /**
     * @return true when the library can create per-context fences ({@code write_context_fence}, callbacks v3).
     */
    public static boolean hasContextFences()
    {
        return null != CONTEXT_CREATE_FENCE;
    }

    /**
     * @return true when the library can serve VIRTIO_GPU_F_CONTEXT_INIT: contexts of a given capset
     *     ({@code virgl_renderer_context_create_with_flags}) and fences per context ring
     *     ({@code virgl_renderer_context_create_fence}), both found by symbol lookup.
     */
    public static boolean hasContextInit()
    {
        return null != CONTEXT_CREATE_WITH_FLAGS && null != CONTEXT_CREATE_FENCE;
    }
}
