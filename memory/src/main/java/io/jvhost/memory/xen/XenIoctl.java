package io.jvhost.memory.xen;

/**
 * Linux's {@code _IOC} encoding (asm-generic/ioctl.h, used by x86-64 and arm64): direction in bits 30-31, size in
 * bits 16-29, type in bits 8-15, number in bits 0-7. The privcmd and gntdev requests use {@code _IOC_NONE} (0)
 * although they pass a struct.
 */
final class XenIoctl
{
    private XenIoctl()
    {
    }

    static long ioc(final char type, final int nr, final int size)
    {
        return (long)size << 16 | (long)type << 8 | nr;
    }
}
