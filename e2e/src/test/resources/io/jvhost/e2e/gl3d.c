// gl3d: the 3D guest's offscreen GL client, built by Guest3d with gcc against Debian 12's Mesa.
//
//   gl3d [DEVICE]         EGL on GBM of DEVICE (default /dev/dri/renderD128)
//   gl3d --surfaceless    EGL's surfaceless platform (a host check, no GPU device)
//
// Makes a configless, surfaceless GLES2 context, draws picture3d.h's picture into a 64x64 RGBA8 framebuffer
// object, reads it back and counts. Prints "GL3D: GL_RENDERER=...", the counts and "GL3D: PASS" when every pixel
// has the colour of its place (exactly 2016 red, 2080 clear), else "GL3D: FAIL ...". The renderer is printed,
// not judged: Mesa falls back to its own llvmpipe when the device has no 3D, and the caller must catch that.
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <fcntl.h>
#include <gbm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "picture3d.h"

#define SIZE 64

static void fail(const char *what)
{
    printf("GL3D: FAIL %s (EGL error 0x%x, GL error 0x%x)\n", what, eglGetError(), glGetError());
    exit(1);
}

int main(const int argc, char **argv)
{
    const char *device = argc > 1 ? argv[1] : "/dev/dri/renderD128";
    const int surfaceless = strcmp(device, "--surfaceless") == 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    setvbuf(stdout, NULL, _IOLBF, 0);

    EGLDisplay display;
    if (surfaceless)
    {
        display = eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
    }
    else
    {
        const int fd = open(device, O_RDWR | O_CLOEXEC);
        if (fd < 0)
        {
            printf("GL3D: FAIL cannot open %s\n", device);
            return 1;
        }
        struct gbm_device *gbm = gbm_create_device(fd);
        if (gbm == NULL)
        {
            fail("gbm_create_device");
        }
        display = eglGetPlatformDisplay(EGL_PLATFORM_GBM_KHR, gbm, NULL);
    }
    EGLint major = 0;
    EGLint minor = 0;
    if (display == EGL_NO_DISPLAY || !eglInitialize(display, &major, &minor))
    {
        fail("eglInitialize");
    }
    const char *extensions = eglQueryString(display, EGL_EXTENSIONS);
    if (extensions == NULL || strstr(extensions, "EGL_KHR_no_config_context") == NULL
        || strstr(extensions, "EGL_KHR_surfaceless_context") == NULL)
    {
        fail("EGL has no EGL_KHR_no_config_context or EGL_KHR_surfaceless_context");
    }
    if (!eglBindAPI(EGL_OPENGL_ES_API))
    {
        fail("eglBindAPI");
    }
    static const EGLint context_attributes[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
    const EGLContext context = eglCreateContext(display, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, context_attributes);
    if (context == EGL_NO_CONTEXT || !eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, context))
    {
        fail("eglCreateContext/eglMakeCurrent");
    }
    printf("GL3D: GL_RENDERER=%s\n", (const char *)glGetString(GL_RENDERER));
    printf("GL3D: GL_VERSION=%s EGL %d.%d\n", (const char *)glGetString(GL_VERSION), major, minor);
    printf("GL3D: init %.3f s\n", seconds_since(&start));

    GLuint texture;
    GLuint framebuffer;
    glGenTextures(1, &texture);
    glBindTexture(GL_TEXTURE_2D, texture);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, SIZE, SIZE, 0, GL_RGBA, GL_UNSIGNED_BYTE, NULL);
    glGenFramebuffers(1, &framebuffer);
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0);
    if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
    {
        fail("framebuffer incomplete");
    }

    struct timespec frame;
    clock_gettime(CLOCK_MONOTONIC, &frame);
    draw_picture(SIZE, SIZE, "GL3D");
    static unsigned char pixels[SIZE * SIZE * 4];
    memset(pixels, 0x5a, sizeof pixels);
    glReadPixels(0, 0, SIZE, SIZE, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
    if (glGetError() != GL_NO_ERROR)
    {
        fail("glReadPixels");
    }
    printf("GL3D: frame %.3f s\n", seconds_since(&frame));

    const struct picture_counts c = check_picture(pixels, SIZE, SIZE, 0);
    printf("GL3D: red=%ld clear=%ld other=%ld misplaced=%ld\n", c.red, c.clear, c.other, c.misplaced);
    const int pass = c.red == SIZE * (SIZE - 1) / 2 && c.clear == SIZE * (SIZE + 1) / 2 && c.other == 0
        && c.misplaced == 0;
    printf("GL3D: %s\n", pass ? "PASS" : "FAIL pixels");

    eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    eglDestroyContext(display, context);
    eglTerminate(display);
    return pass ? 0 : 1;
}
