package io.jvhost.device.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Whether this machine has a Vulkan driver for Venus to run on: the loader ({@code libvulkan.so.1}) and at least one
 * ICD manifest (lavapipe's {@code lvp_icd.*.json} from Mesa on a machine without a GPU).
 */
final class VulkanDriver
{
    private static final List<Path> ICD_DIRS = List.of(Path.of("/usr/share/vulkan/icd.d"),
        Path.of("/etc/vulkan/icd.d"), Path.of("/usr/local/share/vulkan/icd.d"));
    private static final List<Path> LOADERS = List.of(Path.of("/usr/lib/x86_64-linux-gnu/libvulkan.so.1"),
        Path.of("/lib/x86_64-linux-gnu/libvulkan.so.1"), Path.of("/usr/lib64/libvulkan.so.1"),
        Path.of("/usr/lib/libvulkan.so.1"));

    private VulkanDriver()
    {
    }

    /**
     * @return true with a Vulkan loader and an ICD manifest.
     */
    static boolean present()
    {
        return null == why();
    }

    /**
     * @return why Venus cannot render here, or null.
     */
    static String why()
    {
        if (LOADERS.stream().noneMatch(Files::exists))
        {
            return "no Vulkan loader (libvulkan.so.1; Debian: apt-get install libvulkan1)";
        }
        final String env = System.getenv("VK_ICD_FILENAMES");
        if (null != env && !env.isBlank())
        {
            return null;
        }
        for (final Path dir : ICD_DIRS)
        {
            try (Stream<Path> files = Files.list(dir))
            {
                if (files.anyMatch(f -> f.getFileName().toString().endsWith(".json")))
                {
                    return null;
                }
            }
            catch (final IOException e)
            {
                // Not there: look in the next one.
            }
        }
        return "no Vulkan ICD manifest in " + ICD_DIRS + " (Debian: apt-get install mesa-vulkan-drivers for"
            + " lavapipe)";
    }
}
