/*
 * jvhost's LD_PRELOAD shim that lets QEMU's C vhost-user-gpu (--virgl) run 3D on a machine without a render node,
 * for Gpu3dBench's side-by-side figures only (it is compiled at bench time, never shipped).
 *
 * 1. virgl_renderer_init: QEMU's back-end passes USE_EGL | THREAD_SYNC and no render node; virglrenderer then wants a
 *    GBM device and fails. Adding USE_SURFACELESS (1 << 3) makes it use a surfaceless EGL display (llvmpipe).
 * 2. virgl_renderer_get_fd_for_texture: without dma-buf export virglrenderer answers +EINVAL, which the back-end takes
 *    for a descriptor and asserts on; any non-zero answer becomes -1, so SET_SCANOUT fails with an error response.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define JVHOST_VIRGL_USE_SURFACELESS (1 << 3)

typedef int (*jvhost_init_fn)(void *cookie, int flags, void *callbacks);
typedef int (*jvhost_texture_fd_fn)(uint32_t texture, int *fd);

static void *jvhost_next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL)
    {
        fprintf(stderr, "jvhost-shim: %s not found after the shim: %s\n", name, dlerror());
        abort();
    }
    return f;
}

int virgl_renderer_init(void *cookie, int flags, void *callbacks)
{
    jvhost_init_fn next = (jvhost_init_fn)jvhost_next("virgl_renderer_init");
    int wanted = flags | JVHOST_VIRGL_USE_SURFACELESS;
    int result = next(cookie, wanted, callbacks);
    fprintf(stderr, "jvhost-shim: virgl_renderer_init(flags 0x%x -> 0x%x) = %d\n", flags, wanted, result);
    return result;
}

int virgl_renderer_get_fd_for_texture(uint32_t texture, int *fd)
{
    jvhost_texture_fd_fn next = (jvhost_texture_fd_fn)jvhost_next("virgl_renderer_get_fd_for_texture");
    int result = next(texture, fd);
    return result == 0 ? 0 : -1;
}
