/*
 * sndplay: plays a known waveform on, or records from, an ALSA PCM device with the kernel's ioctls only (no
 * alsa-lib), for jvhost's sound guest test. S16_LE, 2 channels, 48 kHz, periods of 2048 frames, 16 periods (683 ms
 * of buffer: the guest under TCG on a loaded machine may stall for a while; virtio_snd's pcm_buffer_ms must allow it).
 *
 *   sndplay play   /dev/snd/pcmC0D0p FRAMES          frame f is L = (int16)(f * 37 + 11), R = (int16)~(f * 53)
 *   sndplay record /dev/snd/pcmC0D0c FRAMES OUTFILE  writes the frames recorded, raw
 *
 * Prints "SNDPLAY <mode> frames=N ms=T xruns=X" (T from the first transfer to the end of the drain or the last read).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <sound/asound.h>

#define RATE 48000
#define CHANNELS 2
#define PERIOD 2048
#define PERIODS 16

static void mask_only(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    struct snd_mask *m = &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
    memset(m, 0, sizeof(*m));
    m->bits[value >> 5] |= 1u << (value & 31);
}

static void interval_only(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    struct snd_interval *i = &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
    i->min = value;
    i->max = value;
    i->openmin = 0;
    i->openmax = 0;
    i->integer = 1;
    i->empty = 0;
}

static int setup(const char *path, int capture)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "sndplay: open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    struct snd_pcm_hw_params p;
    memset(&p, 0, sizeof(p));
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_MASK - SNDRV_PCM_HW_PARAM_FIRST_MASK; i++)
        memset(&p.masks[i], 0xff, sizeof(p.masks[i]));
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i++) {
        p.intervals[i].min = 0;
        p.intervals[i].max = ~0u;
    }
    p.rmask = ~0u;
    p.info = ~0u;
    mask_only(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    mask_only(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    mask_only(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    interval_only(&p, SNDRV_PCM_HW_PARAM_CHANNELS, CHANNELS);
    interval_only(&p, SNDRV_PCM_HW_PARAM_RATE, RATE);
    interval_only(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD);
    interval_only(&p, SNDRV_PCM_HW_PARAM_PERIODS, PERIODS);
    if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p) < 0) {
        fprintf(stderr, "sndplay: HW_PARAMS: %s\n", strerror(errno));
        exit(3);
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
        fprintf(stderr, "sndplay: PREPARE: %s\n", strerror(errno));
        exit(4);
    }
    (void)capture;
    return fd;
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sndplay play|record DEVICE FRAMES [OUTFILE]\n");
        return 1;
    }
    int capture = strcmp(argv[1], "record") == 0;
    long frames = atol(argv[3]);
    int16_t *buf = malloc(frames * CHANNELS * sizeof(int16_t));
    int fd = setup(argv[2], capture);
    long done = 0, start = now_ms();
    int xruns = 0;
    if (!capture)
        for (long f = 0; f < frames; f++) {
            buf[2 * f] = (int16_t)(f * 37 + 11);
            buf[2 * f + 1] = (int16_t)~(f * 53);
        }
    while (done < frames) {
        struct snd_xferi x;
        long n = frames - done < PERIOD ? frames - done : PERIOD;
        x.result = 0;
        x.buf = buf + done * CHANNELS;
        x.frames = n;
        if (ioctl(fd, capture ? SNDRV_PCM_IOCTL_READI_FRAMES : SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
            if (errno == EPIPE) {
                xruns++;
                fprintf(stderr, "sndplay: xrun (EPIPE) after %ld frames\n", done);
                if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0)
                    return 5;
                continue;
            }
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fprintf(stderr, "sndplay: transfer after %ld frames: %s\n", done, strerror(errno));
            return 6;
        }
        done += x.result;
    }
    if (!capture && ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0) {
        fprintf(stderr, "sndplay: DRAIN: %s\n", strerror(errno));
        xruns++;
    }
    long ms = now_ms() - start;
    if (capture) {
        ioctl(fd, SNDRV_PCM_IOCTL_DROP);
        FILE *out = fopen(argv[4], "wb");
        if (!out || fwrite(buf, CHANNELS * sizeof(int16_t), frames, out) != (size_t)frames) {
            fprintf(stderr, "sndplay: writing %s failed\n", argv[4]);
            return 7;
        }
        fclose(out);
    }
    close(fd);
    printf("SNDPLAY %s frames=%ld ms=%ld xruns=%d\n", argv[1], done, ms, xruns);
    fflush(stdout);
    return xruns ? 8 : 0;
}
