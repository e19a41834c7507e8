package io.jvhost.virgl;

/**
 * Run in a child JVM by {@link EglWithoutVendorTest}: initialises virglrenderer once and prints the outcome. A crash
 * inside C ends this process, not the test's.
 */
public final class EglWithoutVendorProbe
{
    private EglWithoutVendorProbe()
    {
    }

    public static void main(final String[] args)
    {
        try (VirglRenderer renderer = VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fence -> { }))
        {
            System.out.println("PROBE initialised " + renderer.isOpen());
        }
        catch (final VirglUnavailableException e)
        {
            System.out.println("PROBE unavailable: " + e.getMessage());
        }
        catch (final VirglException e)
        {
            System.out.println("PROBE failed: " + e.getMessage());
        }
    }
}
