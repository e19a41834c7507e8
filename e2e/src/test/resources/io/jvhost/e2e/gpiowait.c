/*
 * gpiowait VALUE_FILE TIMEOUT_MS: waits for an interrupt on a sysfs GPIO whose edge is set, the sysfs way (read the
 * value, then poll for POLLPRI), and prints
 *   GPIOWAIT armed value=<v>
 *   GPIOWAIT edge value=<v>   or   GPIOWAIT timeout
 * jvhost e2e test helper (GpioGuestTest), built static with gcc at test time.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int read_value(int fd)
{
    char c = '?';
    lseek(fd, 0, SEEK_SET);
    if (read(fd, &c, 1) != 1) {
        return -1;
    }
    return c - '0';
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gpiowait VALUE_FILE TIMEOUT_MS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    printf("GPIOWAIT armed value=%d\n", read_value(fd));
    fflush(stdout);
    struct pollfd p = { .fd = fd, .events = POLLPRI | POLLERR };
    int n = poll(&p, 1, atoi(argv[2]));
    if (n == 1) {
        printf("GPIOWAIT edge value=%d\n", read_value(fd));
        return 0;
    }
    printf("GPIOWAIT timeout\n");
    return 1;
}
