package io.jvhost.device.gpu;

/**
 * One output as a display reports it (virtio_gpu_display_one): placement, preferred size, whether it is connected.
 */
public record DisplayMode(int x, int y, int width, int height, boolean enabled)
{
}
