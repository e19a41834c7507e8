/*
 * vsockc: the guest's side of VsockGuestTest, a small static program (busybox has no vsock tool).
 *   vsockc cid                          print this guest's CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock)
 *   vsockc connect PORT IN OUT N [CID]  connect to port PORT of CID (default the host, 2; another guest: a sibling
 *                                       VM, retried while it resets, i.e. does not listen yet, for up to 60 s); send
 *                                       the N bytes of file IN while receiving N bytes into file OUT, both at once
 *                                       (poll), then close
 *   vsockc listen PORT N                listen on PORT, print "listening", accept one connection and echo N bytes
 *   vsockc serve PORT IN OUT N          listen on PORT, print "listening", accept one connection and exchange as
 *                                       connect does
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static void die(const char *what)
{
    fprintf(stderr, "vsockc: %s: %s\n", what, strerror(errno));
    exit(1);
}

static struct sockaddr_vm address(unsigned cid, unsigned port)
{
    struct sockaddr_vm a;
    memset(&a, 0, sizeof a);
    a.svm_family = AF_VSOCK;
    a.svm_cid = cid;
    a.svm_port = port;
    return a;
}

/* Sends src (n bytes) and receives n bytes into dst over s, interleaved so neither side's buffer deadlocks. */
static void exchange(int s, const char *src, char *dst, long n)
{
    long sent = 0, got = 0;
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    while (got < n) {
        struct pollfd p = { .fd = s, .events = POLLIN | (sent < n ? POLLOUT : 0) };
        if (poll(&p, 1, 60000) <= 0)
            die("poll (stalled)");
        if ((p.revents & POLLOUT) && sent < n) {
            ssize_t w = write(s, src + sent, n - sent > 65536 ? 65536 : n - sent);
            if (w < 0 && errno != EAGAIN)
                die("write");
            if (w > 0)
                sent += w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(s, dst + got, n - got);
            if (r == 0) {
                errno = ECONNRESET;
                die("read: end of stream early");
            }
            if (r < 0 && errno != EAGAIN)
                die("read");
            if (r > 0)
                got += r;
        }
    }
    while (sent < n) {
        struct pollfd p = { .fd = s, .events = POLLOUT };
        if (poll(&p, 1, 60000) <= 0)
            die("poll (stalled sending)");
        ssize_t w = write(s, src + sent, n - sent);
        if (w < 0 && errno != EAGAIN)
            die("write");
        if (w > 0)
            sent += w;
    }
}

static char *slurp(const char *path, long n)
{
    char *b = malloc(n);
    int fd = open(path, O_RDONLY);
    long at = 0;
    if (!b || fd < 0)
        die(path);
    while (at < n) {
        ssize_t r = read(fd, b + at, n - at);
        if (r <= 0)
            die(path);
        at += r;
    }
    close(fd);
    return b;
}

static void spill(const char *path, const char *b, long n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long at = 0;
    if (fd < 0)
        die(path);
    while (at < n) {
        ssize_t w = write(fd, b + at, n - at);
        if (w <= 0)
            die(path);
        at += w;
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "cid")) {
        unsigned cid;
        int fd = open("/dev/vsock", O_RDONLY);
        if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
            die("/dev/vsock");
        printf("%u\n", cid);
        return 0;
    }
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "connect")) {
        long n = atol(argv[5]);
        char *src = slurp(argv[3], n), *dst = malloc(n);
        unsigned cid = argc == 7 ? (unsigned)atol(argv[6]) : VMADDR_CID_HOST;
        struct sockaddr_vm a = address(cid, atoi(argv[2]));
        int s;
        for (int attempt = 0;; attempt++) {
            s = socket(AF_VSOCK, SOCK_STREAM, 0);
            if (s < 0)
                die("socket");
            if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
                break;
            if (cid == VMADDR_CID_HOST || (errno != ECONNRESET && errno != ECONNREFUSED) || attempt == 600)
                die("connect");
            close(s);
            usleep(100000);
        }
        exchange(s, src, dst, n);
        spill(argv[4], dst, n);
        close(s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "listen")) {
        long n = atol(argv[3]), got = 0;
        char *b = malloc(n);
        int s = socket(AF_VSOCK, SOCK_STREAM, 0), c;
        struct sockaddr_vm a = address(VMADDR_CID_ANY, atoi(argv[2]));
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0)
            die("listen");
        printf("listening\n");
        fflush(stdout);
        if ((c = accept(s, NULL, NULL)) < 0)
            die("accept");
        while (got < n) {
            ssize_t r = read(c, b + got, n - got);
            if (r <= 0)
                die("read");
            got += r;
        }
        for (long at = 0; at < n;) {
            ssize_t w = write(c, b + at, n - at);
            if (w <= 0)
                die("write");
            at += w;
        }
        close(c);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "serve")) {
        long n = atol(argv[5]);
        char *src = slurp(argv[3], n), *dst = malloc(n);
        int s = socket(AF_VSOCK, SOCK_STREAM, 0), c;
        struct sockaddr_vm a = address(VMADDR_CID_ANY, atoi(argv[2]));
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0)
            die("listen");
        printf("listening\n");
        fflush(stdout);
        if ((c = accept(s, NULL, NULL)) < 0)
            die("accept");
        exchange(c, src, dst, n);
        spill(argv[4], dst, n);
        close(c);
        return 0;
    }
    fprintf(stderr, "usage: vsockc cid | connect PORT IN OUT N [CID] | listen PORT N | serve PORT IN OUT N\n");
    return 2;
}
