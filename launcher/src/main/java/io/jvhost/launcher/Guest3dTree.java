package io.jvhost.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where the 3D guest's Mesa lives: Debian 12's Mesa 22.3.6 (the virgl driver, EGL, GBM, GLES), kmscube and their
 * library closure, unpacked by {@code scripts/setup.sh guest3d} into {@code $JVHOST_GUEST3D_DIR}, else
 * {@code $JVHOST_CACHE/guest3d}, else {@code ~/.cache/jvhost/guest3d}. {@link #image()} is the tree an initramfs
 * gets (the demo's {@code --3d} guest and the e2e tests' one); {@link #root()} holds every package unpacked (the
 * headers and link libraries of the tests' clients).
 *
 * @param dir the folder {@code scripts/setup.sh guest3d} fills.
 */
public record Guest3dTree(Path dir)
{
    /** Guest RAM for a guest with this tree in its initramfs: with 512M the kernel has no room to unpack it. */
    public static final String MEMORY = "1024M";

    /** The tree of this machine, from the process's environment. */
    public static Guest3dTree detect()
    {
        return detect(System.getenv(), System.getProperty("user.home"));
    }

    /** The tree {@code env} and {@code home} point at (see the class comment). */
    static Guest3dTree detect(final Map<String, String> env, final String home)
    {
        final String explicit = env.get("JVHOST_GUEST3D_DIR");
        final String cache = env.get("JVHOST_CACHE");
        if (null != explicit && !explicit.isBlank())
        {
            return new Guest3dTree(Path.of(explicit).toAbsolutePath());
        }
        if (null != cache && !cache.isBlank())
        {
            return new Guest3dTree(Path.of(cache, "guest3d").toAbsolutePath());
        }
        return new Guest3dTree(Path.of(home, ".cache", "jvhost", "guest3d"));
    }

    /** What goes into the guest: ld-linux, the Mesa closure, kmscube, glvnd's vendor file. */
    public Path image()
    {
        return dir.resolve("image");
    }

    /** Every package unpacked: headers and link libraries. */
    public Path root()
    {
        return dir.resolve("root");
    }

    /** @return null when the tree is complete, else what is missing, as one sentence. */
    public String problem()
    {
        if (!Files.isRegularFile(dir.resolve(".complete")) || !Files.isDirectory(image())
            || !Files.isDirectory(root()))
        {
            return "no 3D guest (Debian 12's Mesa) in " + dir + " (run scripts/setup.sh guest3d)";
        }
        return null;
    }
}
