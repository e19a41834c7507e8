/*
 * guestbench: the guest's side of GuestBench, a small static program (busybox has neither AF_VSOCK nor O_DIRECT
 * random reads). Every result is one line on stdout, timed with CLOCK_MONOTONIC.
 *   guestbench vsock-recv PORT BYTES   connect to the host (CID 2) port PORT, read BYTES, answer one byte, close
 *   guestbench vsock-send PORT BYTES   connect to the host port PORT, write BYTES, close
 *   guestbench seq DEV BYTES           read DEV from the start with 1 MiB O_DIRECT reads:
 *                                      "seq bytes=N ns=T"
 *   guestbench rand DEV MS             4 KiB O_DIRECT reads at random 4 KiB offsets, one at a time, for MS
 *                                      milliseconds: "rand reads=N ns=T"
 *   guestbench snd-play PCM SECONDS    play SECONDS of 48 kHz S16 stereo (a quiet ramp) on the ALSA playback device
 *                                      PCM (/dev/snd/pcmCcD0p) with the kernel's ioctls, periods of 4800 frames
 *                                      (100 ms), 16 of them (1.6 s: room for TCG's stalls); from the first write
 *                                      to the end of the drain: "snd frames=N ns=T xruns=X" (a failed drain counts
 *                                      as an xrun)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/vm_sockets.h>
#include <sound/asound.h>

#define SND_RATE 48000
#define SND_CHANNELS 2
#define SND_PERIOD 4800
#define SND_PERIODS 16

static void die(const char *what)
{
    fprintf(stderr, "guestbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int vsock_connect(unsigned port)
{
    struct sockaddr_vm a;
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.svm_family = AF_VSOCK;
    a.svm_cid = VMADDR_CID_HOST;
    a.svm_port = port;
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    return s;
}

static void snd_mask(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    struct snd_mask *m = &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
    memset(m, 0, sizeof *m);
    m->bits[value >> 5] |= 1u << (value & 31);
}

static void snd_interval(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    struct snd_interval *i = &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
    memset(i, 0, sizeof *i);
    i->min = value;
    i->max = value;
    i->integer = 1;
}

/* Plays SECONDS of a quiet ramp on PCM; the time runs from the first write to the end of the drain. */
static int snd_play(const char *pcm, long seconds)
{
    static int16_t period[SND_PERIOD * SND_CHANNELS];
    struct snd_pcm_hw_params p;
    long frames = seconds * SND_RATE, done = 0;
    int xruns = 0, fd = open(pcm, O_RDWR);
    if (fd < 0)
        die(pcm);
    memset(&p, 0, sizeof p);
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_MASK - SNDRV_PCM_HW_PARAM_FIRST_MASK; i++)
        memset(&p.masks[i], 0xff, sizeof p.masks[i]);
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i++)
        p.intervals[i].max = ~0u;
    p.rmask = ~0u;
    p.info = ~0u;
    snd_mask(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    snd_mask(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    snd_mask(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    snd_interval(&p, SNDRV_PCM_HW_PARAM_CHANNELS, SND_CHANNELS);
    snd_interval(&p, SNDRV_PCM_HW_PARAM_RATE, SND_RATE);
    snd_interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SND_PERIOD);
    snd_interval(&p, SNDRV_PCM_HW_PARAM_PERIODS, SND_PERIODS);
    if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p) < 0)
        die("HW_PARAMS");
    if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0)
        die("PREPARE");
    for (int f = 0; f < SND_PERIOD; f++)
        period[2 * f] = period[2 * f + 1] = (int16_t)((f & 255) - 128);
    int64_t t0 = now();
    while (done < frames) {
        struct snd_xferi x = {0};
        x.buf = period;
        x.frames = frames - done < SND_PERIOD ? frames - done : SND_PERIOD;
        if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
            if (errno == EPIPE) {
                xruns++;
                if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0)
                    die("PREPARE after an xrun");
                continue;
            }
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("WRITEI_FRAMES");
        }
        done += x.result;
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0) {
        fprintf(stderr, "guestbench: DRAIN: %s\n", strerror(errno));
        xruns++;
    }
    int64_t t = now() - t0;
    close(fd);
    printf("snd frames=%ld ns=%lld xruns=%d\n", done, (long long)t, xruns);
    return 0;
}

int main(int argc, char **argv)
{
    static char buf[1 << 20] __attribute__((aligned(4096)));
    if (argc == 4 && !strcmp(argv[1], "vsock-recv")) {
        long long n = atoll(argv[3]), got = 0;
        int s = vsock_connect(atoi(argv[2]));
        while (got < n) {
            ssize_t r = read(s, buf, sizeof buf);
            if (r <= 0)
                die("read");
            got += r;
        }
        if (write(s, "k", 1) != 1)
            die("write");
        close(s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "vsock-send")) {
        long long n = atoll(argv[3]), sent = 0;
        int s = vsock_connect(atoi(argv[2]));
        memset(buf, 0x5a, sizeof buf);
        while (sent < n) {
            ssize_t w = write(s, buf, n - sent < (long long)sizeof buf ? n - sent : (long long)sizeof buf);
            if (w <= 0)
                die("write");
            sent += w;
        }
        close(s);
        return 0;
    }
    if (argc == 4 && (!strcmp(argv[1], "seq") || !strcmp(argv[1], "rand"))) {
        int fd = open(argv[2], O_RDONLY | O_DIRECT);
        uint64_t size;
        if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0)
            die(argv[2]);
        if (!strcmp(argv[1], "seq")) {
            long long n = atoll(argv[3]), done = 0;
            if ((uint64_t)n > size)
                n = size & ~((1LL << 20) - 1);
            int64_t t0 = now();
            while (done < n) {
                ssize_t r = pread(fd, buf, sizeof buf, done);
                if (r <= 0)
                    die("pread");
                done += r;
            }
            printf("seq bytes=%lld ns=%lld\n", done, (long long)(now() - t0));
        } else {
            int64_t limit = atoll(argv[3]) * 1000000LL, t0 = now(), t;
            uint64_t blocks = size / 4096, x = 88172645463325252ULL;
            long long reads = 0;
            do {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096)
                    die("pread");
                reads++;
                t = now() - t0;
            } while (t < limit);
            printf("rand reads=%lld ns=%lld\n", reads, (long long)t);
        }
        close(fd);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "snd-play"))
        return snd_play(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: guestbench vsock-recv|vsock-send PORT BYTES | seq DEV BYTES | rand DEV MS"
            " | snd-play PCM SECONDS\n");
    return 2;
}
