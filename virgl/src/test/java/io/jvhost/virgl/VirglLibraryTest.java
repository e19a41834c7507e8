package io.jvhost.virgl;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Loading: a missing library or symbol is an exception naming it, the version is told by symbols, and error codes
 * read as errno names whatever their sign.
 */
class VirglLibraryTest
{
    @Test
    void aMissingLibraryIsNamedWithHowToInstallIt()
    {
        assertThatThrownBy(() -> VirglLibrary.link("libvirglrenderer-does-not-exist.so.1"))
            .isInstanceOf(VirglUnavailableException.class)
            .hasMessageStartingWith("libvirglrenderer-does-not-exist.so.1 cannot be loaded")
            .hasMessageContaining("apt-get install libvirglrenderer1");
    }

    @Test
    void aLibraryWithoutTheSymbolsIsNamedWithTheFirstMissingOne()
    {
        assertThatThrownBy(() -> VirglLibrary.link("libc.so.6"))
            .isInstanceOf(VirglUnavailableException.class)
            .hasMessage("libc.so.6 has no symbol virgl_renderer_cleanup (not a virglrenderer 0.10 or later)");
    }

    @Test
    void theInstalledLibraryLinksAndItsVersionIsToldBySymbols() throws Exception
    {
        if (!VirglLibrary.available())
        {
            try
            {
                VirglLibrary.check();
            }
            catch (final VirglUnavailableException e)
            {
                VirglEnvironment.unavailable(e.getMessage());
            }
        }
        final VirglVersion version = VirglLibrary.version();
        // Debian 12's 0.10.4 has neither resource_get_info_ext (1.0) nor get_fence_fd (1.2).
        final boolean has10 = java.lang.foreign.SymbolLookup.libraryLookup(VirglLibrary.NAME,
            java.lang.foreign.Arena.global()).find("virgl_renderer_resource_get_info_ext").isPresent();
        assertThat(version.atLeast(VirglVersion.V1_0)).isEqualTo(has10);
        assertThat(version.label()).isNotBlank();
    }

    @Test
    void codesAreDescribedByErrnoNameWhateverTheirSign()
    {
        assertThat(VirglException.describe(22)).isEqualTo("EINVAL (22)");
        assertThat(VirglException.describe(-16)).isEqualTo("-EBUSY (-16)");
        assertThat(VirglException.describe(-1)).isEqualTo("code -1");
        assertThat(VirglException.describe(4242)).isEqualTo("code 4242");
        assertThat(new VirglException("virgl_renderer_context_create", 22, "ctx=0, name=x"))
            .hasMessage("virgl_renderer_context_create failed: EINVAL (22), ctx=0, name=x");
    }

    @Test
    void flagsAreDescribedByName()
    {
        assertThat(VirglFlags.describe(VirglFlags.SURFACELESS_EGL))
            .isEqualTo("USE_EGL|THREAD_SYNC|USE_SURFACELESS (0xb)");
        assertThat(VirglFlags.describe(1 << 20 | 1)).isEqualTo("USE_EGL|0x100000 (0x100001)");
        assertThat(VirglFlags.describe(0)).isEqualTo("0 (0x0)");
    }
}
