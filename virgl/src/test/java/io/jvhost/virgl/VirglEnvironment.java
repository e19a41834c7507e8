package io.jvhost.virgl;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The skip rule of the virgl tests: without {@code libvirglrenderer.so.1}, or when init fails (no EGL, no
 * llvmpipe), they are skipped with the reason, unless {@code JVHOST_REQUIRE_E2E} is set (as under
 * {@code ./jvhost test}, after set-up installed the packages): then they fail with it.
 */
final class VirglEnvironment
{
    private VirglEnvironment()
    {
    }

    static boolean required()
    {
        final String value = System.getenv("JVHOST_REQUIRE_E2E");
        return null != value && !value.isBlank() && !"0".equals(value.strip());
    }

    /**
     * Skips or fails the calling test with {@code reason}.
     */
    static void unavailable(final String reason)
    {
        final String message = "virglrenderer unavailable: " + reason
            + " (Debian: apt-get install libvirglrenderer1 libegl1 libegl-mesa0 libgl1-mesa-dri, or as root"
            + " scripts/setup.sh virgl)";
        if (required())
        {
            Assertions.fail(message);
        }
        Assumptions.abort(message);
    }

    /**
     * Initialises a renderer on {@code thread} with {@code flags}, or skips (fails under JVHOST_REQUIRE_E2E).
     */
    static VirglRenderer initOrSkip(final VirglThread thread, final int flags, final FenceListener fences)
        throws Exception
    {
        if (!VirglLibrary.available())
        {
            try
            {
                VirglLibrary.check();
            }
            catch (final VirglUnavailableException e)
            {
                unavailable(e.getMessage());
            }
        }
        try
        {
            return thread.call(() -> VirglRenderer.init(flags, fences));
        }
        catch (final VirglUnavailableException e)
        {
            unavailable(e.getMessage());
            return null;
        }
        catch (final VirglException e)
        {
            unavailable(e.getMessage() + " (no EGL or llvmpipe?)");
            return null;
        }
    }
}
