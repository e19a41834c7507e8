// kms3d: the 3D guest's KMS client, built by Guest3d with gcc against Debian 12's Mesa and libdrm.
//
//   kms3d [HOLD [DEVICE]]   HOLD seconds (default 5), DEVICE default /dev/dri/card0
//
// Renders picture3d.h's picture with GLES2 into an EGL window surface on a GBM surface at the first connected
// connector's preferred mode, checks it with glReadPixels, swaps, and shows the front buffer with drmModeAddFB +
// drmModeSetCrtc. Prints "KMS3D: shown WxH" once the frame is on the CRTC, then keeps it there for HOLD seconds
// or until a line arrives on standard input (a test that has taken its screenshot ends the wait), restores the
// CRTC and exits. The counts line ("KMS3D: red=... misplaced=...") judges the frame as GL drew it, with pixels
// within 2 px of the diagonal skipped, as the host-side checker (Picture3d.java) does with the displayed frame.
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <fcntl.h>
#include <gbm.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "picture3d.h"

static void fail(const char *what)
{
    printf("KMS3D: FAIL %s (EGL error 0x%x)\n", what, eglGetError());
    exit(1);
}

// Waits up to `seconds` for a line on standard input (without input to read, just the time).
static void hold(const int seconds)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;)
    {
        const double left = seconds - seconds_since(&start);
        if (left <= 0)
        {
            return;
        }
        struct pollfd in = {.fd = 0, .events = POLLIN};
        const int ready = poll(&in, 1, (int)(left * 1000) + 1);
        if (ready > 0)
        {
            char buffer[256];
            const ssize_t n = read(0, buffer, sizeof buffer);
            if (n > 0 && memchr(buffer, '\n', (size_t)n) != NULL)
            {
                return;
            }
            if (n <= 0)
            {
                // Nothing to wait for (input closed or failing): sleep the rest.
                const double rest = seconds - seconds_since(&start);
                const struct timespec pause = {(time_t)rest, (long)((rest - (double)(time_t)rest) * 1e9)};
                if (rest > 0)
                {
                    nanosleep(&pause, NULL);
                }
                return;
            }
        }
    }
}

int main(const int argc, char **argv)
{
    const int hold_seconds = argc > 1 ? atoi(argv[1]) : 5;
    const char *device = argc > 2 ? argv[2] : "/dev/dri/card0";
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const int fd = open(device, O_RDWR | O_CLOEXEC);
    if (fd < 0)
    {
        printf("KMS3D: FAIL cannot open %s\n", device);
        return 1;
    }
    drmModeRes *resources = drmModeGetResources(fd);
    if (resources == NULL)
    {
        fail("drmModeGetResources");
    }
    drmModeConnector *connector = NULL;
    for (int i = 0; i < resources->count_connectors && connector == NULL; i++)
    {
        connector = drmModeGetConnector(fd, resources->connectors[i]);
        if (connector != NULL && (connector->connection != DRM_MODE_CONNECTED || connector->count_modes == 0))
        {
            drmModeFreeConnector(connector);
            connector = NULL;
        }
    }
    if (connector == NULL)
    {
        fail("no connected connector with a mode");
    }
    drmModeModeInfo mode = connector->modes[0];
    for (int i = 0; i < connector->count_modes; i++)
    {
        if (connector->modes[i].type & DRM_MODE_TYPE_PREFERRED)
        {
            mode = connector->modes[i];
            break;
        }
    }
    uint32_t crtc_id = 0;
    drmModeEncoder *encoder = connector->encoder_id ? drmModeGetEncoder(fd, connector->encoder_id) : NULL;
    if (encoder != NULL && encoder->crtc_id)
    {
        crtc_id = encoder->crtc_id;
    }
    for (int e = 0; e < connector->count_encoders && crtc_id == 0; e++)
    {
        drmModeEncoder *candidate = drmModeGetEncoder(fd, connector->encoders[e]);
        for (int c = 0; candidate != NULL && c < resources->count_crtcs && crtc_id == 0; c++)
        {
            if (candidate->possible_crtcs & (1u << c))
            {
                crtc_id = resources->crtcs[c];
            }
        }
        drmModeFreeEncoder(candidate);
    }
    if (crtc_id == 0)
    {
        fail("no CRTC for the connector");
    }
    const int width = mode.hdisplay;
    const int height = mode.vdisplay;

    struct gbm_device *gbm = gbm_create_device(fd);
    struct gbm_surface *surface = gbm == NULL ? NULL
        : gbm_surface_create(gbm, (uint32_t)width, (uint32_t)height, GBM_FORMAT_XRGB8888,
            GBM_BO_USE_SCANOUT | GBM_BO_USE_RENDERING);
    if (surface == NULL)
    {
        fail("gbm_create_device/gbm_surface_create");
    }
    const EGLDisplay display = eglGetPlatformDisplay(EGL_PLATFORM_GBM_KHR, gbm, NULL);
    if (display == EGL_NO_DISPLAY || !eglInitialize(display, NULL, NULL) || !eglBindAPI(EGL_OPENGL_ES_API))
    {
        fail("eglInitialize");
    }
    static const EGLint config_attributes[] = {EGL_SURFACE_TYPE, EGL_WINDOW_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
        EGL_BLUE_SIZE, 8, EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_NONE};
    EGLConfig configs[64];
    EGLint count = 0;
    EGLConfig config = NULL;
    if (!eglChooseConfig(display, config_attributes, configs, 64, &count))
    {
        fail("eglChooseConfig");
    }
    for (int i = 0; i < count && config == NULL; i++)
    {
        EGLint visual = 0;
        if (eglGetConfigAttrib(display, configs[i], EGL_NATIVE_VISUAL_ID, &visual) && visual == GBM_FORMAT_XRGB8888)
        {
            config = configs[i];
        }
    }
    if (config == NULL)
    {
        fail("no EGL config for GBM_FORMAT_XRGB8888");
    }
    static const EGLint context_attributes[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
    const EGLContext context = eglCreateContext(display, config, EGL_NO_CONTEXT, context_attributes);
    const EGLSurface window = eglCreatePlatformWindowSurface(display, config, surface, NULL);
    if (context == EGL_NO_CONTEXT || window == EGL_NO_SURFACE || !eglMakeCurrent(display, window, window, context))
    {
        fail("eglCreateContext/eglCreatePlatformWindowSurface/eglMakeCurrent");
    }
    printf("KMS3D: GL_RENDERER=%s\n", (const char *)glGetString(GL_RENDERER));

    draw_picture(width, height, "KMS3D");
    unsigned char *pixels = malloc((size_t)width * (size_t)height * 4);
    if (pixels == NULL)
    {
        fail("malloc");
    }
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
    const struct picture_counts c = check_picture(pixels, width, height, 2.0);
    printf("KMS3D: red=%ld clear=%ld other=%ld misplaced=%ld skipped=%ld\n", c.red, c.clear, c.other, c.misplaced,
        c.skipped);
    free(pixels);

    if (!eglSwapBuffers(display, window))
    {
        fail("eglSwapBuffers");
    }
    struct gbm_bo *bo = gbm_surface_lock_front_buffer(surface);
    if (bo == NULL)
    {
        fail("gbm_surface_lock_front_buffer");
    }
    uint32_t framebuffer = 0;
    if (drmModeAddFB(fd, (uint32_t)width, (uint32_t)height, 24, 32, gbm_bo_get_stride(bo), gbm_bo_get_handle(bo).u32,
        &framebuffer) != 0)
    {
        fail("drmModeAddFB");
    }
    drmModeCrtc *saved = drmModeGetCrtc(fd, crtc_id);
    if (drmModeSetCrtc(fd, crtc_id, framebuffer, 0, 0, &connector->connector_id, 1, &mode) != 0)
    {
        fail("drmModeSetCrtc");
    }
    printf("KMS3D: shown %dx%d after %.3f s\n", width, height, seconds_since(&start));

    hold(hold_seconds);

    if (saved != NULL && saved->buffer_id != 0)
    {
        drmModeSetCrtc(fd, saved->crtc_id, saved->buffer_id, saved->x, saved->y, &connector->connector_id, 1,
            &saved->mode);
    }
    drmModeRmFB(fd, framebuffer);
    gbm_surface_release_buffer(surface, bo);
    eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    eglDestroySurface(display, window);
    eglDestroyContext(display, context);
    eglTerminate(display);
    gbm_surface_destroy(surface);
    gbm_device_destroy(gbm);
    printf("KMS3D: done\n");
    return c.misplaced == 0 && c.other <= c.skipped ? 0 : 1;
}
