/*
 * canrt: the guest's side of CanGuestTest, a small static program on a raw CAN socket (busybox has no CAN tool).
 *   canrt send IF       send a classic frame (id 0x123, "JVHOST"), a CAN FD frame (extended id 0x1abcdef0, 64 bytes
 *                       0x00..0x3f) and a remote request (id 0x456, DLC 4), print "CAN-SENT 3", then wait up to 60 s
 *                       for one frame and print it
 *   canrt recv IF N     print "CAN-READY", receive N frames (60 s each at most) and print each, then send a
 *                       classic frame (id 0x321, "REPLY") and print "CAN-SENT 1"
 * A frame is printed as "CAN-RECV id=0x... ext=0|1 fd=0|1 rtr=0|1 len=N data=HEX" (no data for a remote request).
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/can.h>
#include <linux/can/raw.h>

static void die(const char *what)
{
    printf("CAN-ERROR %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static int open_can(const char *ifname)
{
    int s = socket(PF_CAN, SOCK_RAW, CAN_RAW);
    if (s < 0)
        die("socket");
    int on = 1;
    if (setsockopt(s, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof on) < 0)
        die("CAN_RAW_FD_FRAMES");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
        die("SIOCGIFINDEX");
    struct sockaddr_can addr;
    memset(&addr, 0, sizeof addr);
    addr.can_family = AF_CAN;
    addr.can_ifindex = ifr.ifr_ifindex;
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    return s;
}

static void receive_one(int s)
{
    struct pollfd p = {.fd = s, .events = POLLIN};
    int r = poll(&p, 1, 60000);
    if (r < 0)
        die("poll");
    if (r == 0) {
        printf("CAN-TIMEOUT\n");
        fflush(stdout);
        exit(1);
    }
    struct canfd_frame f;
    ssize_t n = read(s, &f, sizeof f);
    if (n < 0)
        die("read");
    if (n != CAN_MTU && n != CANFD_MTU) {
        printf("CAN-ERROR read %zd bytes\n", n);
        exit(1);
    }
    int rtr = n == CAN_MTU && (f.can_id & CAN_RTR_FLAG) != 0;
    printf("CAN-RECV id=0x%x ext=%d fd=%d rtr=%d len=%d data=", f.can_id & CAN_EFF_MASK, (f.can_id & CAN_EFF_FLAG) != 0,
           n == CANFD_MTU, rtr, f.len);
    for (int i = 0; !rtr && i < f.len; i++)
        printf("%02x", f.data[i]);
    printf("\n");
    fflush(stdout);
}

static void send_classic(int s, canid_t id, const char *text)
{
    struct can_frame f;
    memset(&f, 0, sizeof f);
    f.can_id = id;
    f.len = strlen(text);
    memcpy(f.data, text, f.len);
    if (write(s, &f, sizeof f) != sizeof f)
        die("write classic");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int s = open_can(argv[2]);
    if (strcmp(argv[1], "send") == 0) {
        send_classic(s, 0x123, "JVHOST");
        struct canfd_frame fd;
        memset(&fd, 0, sizeof fd);
        fd.can_id = 0x1abcdef0 | CAN_EFF_FLAG;
        fd.len = 64;
        for (int i = 0; i < 64; i++)
            fd.data[i] = i;
        if (write(s, &fd, sizeof fd) != sizeof fd)
            die("write FD");
        struct can_frame rtr;
        memset(&rtr, 0, sizeof rtr);
        rtr.can_id = 0x456 | CAN_RTR_FLAG;
        rtr.len = 4;
        if (write(s, &rtr, sizeof rtr) != sizeof rtr)
            die("write RTR");
        printf("CAN-SENT 3\n");
        fflush(stdout);
        receive_one(s);
    } else if (strcmp(argv[1], "recv") == 0 && argc == 4) {
        printf("CAN-READY\n");
        fflush(stdout);
        for (int i = atoi(argv[3]); i > 0; i--)
            receive_one(s);
        send_classic(s, 0x321, "REPLY");
        printf("CAN-SENT 1\n");
        fflush(stdout);
    } else {
        return 2;
    }
    close(s);
    return 0;
}
