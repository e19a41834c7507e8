package io.jvhost.benchmarks.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds the {@code LD_PRELOAD} shim that lets QEMU's C {@code vhost-user-gpu --virgl} start 3D on a machine without
 * a render node (surfaceless EGL added to {@code virgl_renderer_init}'s flags; a failed dma-buf export answered as
 * -1 instead of +EINVAL, which the C back-end would assert on). Its source is our own
 * ({@code virgl-surfaceless-shim.c} next to this class); it is compiled with the host's gcc at bench time and never
 * shipped.
 */
final class VirglShim
{
    private static final String SOURCE = "virgl-surfaceless-shim.c";

    private VirglShim()
    {
    }

    /**
     * Compiles the shim into {@code dir}.
     *
     * @return the shared object to preload.
     * @throws IOException when gcc is missing or fails (the message carries its output).
     */
    static Path build(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve(SOURCE);
        try (InputStream in = VirglShim.class.getResourceAsStream(SOURCE))
        {
            if (null == in)
            {
                throw new IOException(SOURCE + " is not on the class path");
            }
            Files.write(source, in.readAllBytes());
        }
        final Path library = dir.resolve("libjvhost-virgl-shim.so");
        final Path log = dir.resolve("virgl-shim-gcc.log");
        final Process gcc;
        try
        {
            gcc = new ProcessBuilder(List.of("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", library.toString(),
                source.toString(), "-ldl")).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }
        catch (final IOException e)
        {
            throw new IOException("cannot run gcc to build the C back-end's virgl shim: " + e.getMessage(), e);
        }
        if (!gcc.waitFor(60, TimeUnit.SECONDS))
        {
            gcc.destroyForcibly();
            throw new IOException("gcc did not build the virgl shim within 60 s");
        }
        if (gcc.exitValue() != 0)
        {
            throw new IOException("gcc failed (exit " + gcc.exitValue() + ") building the virgl shim: "
                + Files.readString(log, StandardCharsets.UTF_8).strip());
        }
        return library;
    }
}
