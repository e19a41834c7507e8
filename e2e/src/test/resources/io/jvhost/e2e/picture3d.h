// picture3d.h: the 3D guest's test picture, shared by gl3d.c and kms3d.c (built by Guest3d with gcc).
//
// The picture is asymmetric so that a flipped or mirrored frame is caught: the clear colour (0.25, 0.5, 1.0) and a
// red triangle over the lower-left half, i.e. red exactly where x/W < y/H with (x, y) a pixel centre in screen
// orientation (y down). The host-side twin of check_picture() is Picture3d.java.
#ifndef PICTURE3D_H
#define PICTURE3D_H

#include <GLES2/gl2.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CLEAR_R 64
#define CLEAR_G 128
#define CLEAR_B 255

struct picture_counts
{
    long red;       // pixels of the triangle's colour
    long clear;     // pixels of the clear colour
    long other;     // pixels of neither colour
    long misplaced; // pixels of the wrong colour for their place (those near the diagonal are not judged)
    long skipped;   // pixels whose centre is within `margin` pixels of the diagonal
};

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static GLuint compile_shader(const GLenum type, const char *source, const char *who)
{
    const GLuint shader = glCreateShader(type);
    GLint ok = 0;
    glShaderSource(shader, 1, &source, NULL);
    glCompileShader(shader);
    glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
    if (!ok)
    {
        char log[512] = "";
        glGetShaderInfoLog(shader, sizeof log, NULL, log);
        printf("%s: FAIL shader compile: %s\n", who, log);
        exit(1);
    }
    return shader;
}

// Draws the picture into the bound framebuffer of width x height pixels and waits for it (glFinish).
static void draw_picture(const int width, const int height, const char *who)
{
    static const GLfloat triangle[] = {-1.0f, 1.0f, -1.0f, -1.0f, 1.0f, -1.0f}; // top-left, bottom-left, bottom-right
    const GLuint program = glCreateProgram();
    GLint ok = 0;
    glAttachShader(program, compile_shader(GL_VERTEX_SHADER,
        "attribute vec2 pos;\nvoid main() { gl_Position = vec4(pos, 0.0, 1.0); }\n", who));
    glAttachShader(program, compile_shader(GL_FRAGMENT_SHADER,
        "precision mediump float;\nvoid main() { gl_FragColor = vec4(1.0, 0.0, 0.0, 1.0); }\n", who));
    glBindAttribLocation(program, 0, "pos");
    glLinkProgram(program);
    glGetProgramiv(program, GL_LINK_STATUS, &ok);
    if (!ok)
    {
        printf("%s: FAIL program link\n", who);
        exit(1);
    }
    glViewport(0, 0, width, height);
    glClearColor(0.25f, 0.5f, 1.0f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    glUseProgram(program);
    glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, triangle);
    glEnableVertexAttribArray(0);
    glDrawArrays(GL_TRIANGLES, 0, 3);
    glFinish();
}

static int near(const int value, const int want)
{
    return value >= want - 1 && value <= want + 1;
}

// Classifies the RGBA pixels glReadPixels returned (row 0 at the bottom). Pixels whose centre lies within `margin`
// pixels of the diagonal are counted but not judged (0: judge all; a centre exactly on it belongs to the clear side,
// as GL's fill rule gives for this triangle).
static struct picture_counts check_picture(const unsigned char *rgba, const int width, const int height,
    const double margin)
{
    struct picture_counts c = {0, 0, 0, 0, 0};
    const double length = __builtin_sqrt((double)width * width + (double)height * height);
    for (int row = 0; row < height; row++)
    {
        const int y = height - 1 - row; // screen orientation
        for (int x = 0; x < width; x++)
        {
            const unsigned char *p = rgba + ((long)row * width + x) * 4;
            const int is_red = near(p[0], 255) && near(p[1], 0) && near(p[2], 0);
            const int is_clear = near(p[0], CLEAR_R) && near(p[1], CLEAR_G) && near(p[2], CLEAR_B);
            // (x + 0.5) / W < (y + 0.5) / H, in integers: (2x + 1) H < (2y + 1) W
            const long side = (2L * x + 1) * height - (2L * y + 1) * (long)width;
            const int want_red = side < 0;
            c.red += is_red;
            c.clear += is_clear;
            c.other += !is_red && !is_clear;
            if (margin > 0 && __builtin_fabs((double)side / 2.0) / length <= margin)
            {
                c.skipped++;
            }
            else if (want_red ? !is_red : !is_clear)
            {
                c.misplaced++;
            }
        }
    }
    return c;
}

#endif
