/*
 * The domU side of scripts/xen-test.sh's grant proof: grants dom0 N pages through /dev/xen/gntalloc, fills each
 * with a marker, prints "GREFS <domid-independent refs...>" on the console, then watches the pages and prints
 * "DOMU-SEES page <p>: <first 16 bytes hex>" once for each page whose bytes dom0's back-end changed.
 *
 * Freestanding (no libc: the arm64 cross compiler here has no static libc): raw aarch64 system calls.
 * Build: aarch64-linux-gnu-gcc-12 -static -nostdlib -ffreestanding -fno-stack-protector -O2 -o granter granter.c
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;

#define PAGES 8
#define IOCTL_GNTALLOC_ALLOC_GREF 0x00184705UL

struct alloc_gref {
    u16 domid;
    u16 flags;
    u32 count;
    u64 index;
    u32 gref_ids[PAGES];
};

static long sys(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}

#define SYS_openat 56
#define SYS_write 64
#define SYS_ioctl 29
#define SYS_mmap 222
#define SYS_nanosleep 101
#define SYS_exit 93

static void out(const char *s)
{
    long n = 0;
    while (s[n])
        n++;
    sys(SYS_write, 1, (long)s, n, 0, 0, 0);
}

static char *num(char *p, u64 v, int base)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

static void fail(const char *what, long rc)
{
    char b[96], *p = b;
    const char *s = "GRANTER-FAILED ";
    while (*s)
        *p++ = *s++;
    while (*what)
        *p++ = *what++;
    *p++ = ' ';
    p = num(p, (u64)-rc, 10);
    *p++ = '\n';
    *p = 0;
    out(b);
    sys(SYS_exit, 1, 0, 0, 0, 0, 0);
}

void _start(void)
{
    long fd = sys(SYS_openat, -100, (long)"/dev/xen/gntalloc", 2, 0, 0, 0);
    if (fd < 0)
        fail("open /dev/xen/gntalloc", fd);
    struct alloc_gref a = {.domid = 0, .flags = 1, .count = PAGES};
    long rc = sys(SYS_ioctl, fd, IOCTL_GNTALLOC_ALLOC_GREF, (long)&a, 0, 0, 0);
    if (rc < 0)
        fail("IOCTL_GNTALLOC_ALLOC_GREF", rc);
    unsigned char *m = (unsigned char *)sys(SYS_mmap, 0, PAGES * 4096, 3, 1, fd, (long)a.index);
    if ((long)m < 0 && (long)m > -4096)
        fail("mmap", (long)m);
    for (int i = 0; i < PAGES * 4096; i++)
        m[i] = 0;
    char b[256], *p = b;
    const char *s = "GREFS";
    while (*s)
        *p++ = *s++;
    for (int i = 0; i < PAGES; i++) {
        *p++ = ' ';
        p = num(p, a.gref_ids[i], 10);
    }
    *p++ = '\n';
    *p = 0;
    out(b);
    int seen[PAGES] = {0};
    long ts[2] = {0, 200000000};
    for (;;) {
        for (int i = 0; i < PAGES; i++) {
            if (seen[i])
                continue;
            int changed = 0;
            for (int j = 0; j < 4096 && !changed; j++)
                changed = m[i * 4096 + j] != 0;
            if (!changed)
                continue;
            seen[i] = 1;
            p = b;
            s = "DOMU-SEES page ";
            while (*s)
                *p++ = *s++;
            p = num(p, i, 10);
            *p++ = ':';
            for (int j = 0; j < 4096; j++)
                if (m[i * 4096 + j]) {
                    *p++ = ' ';
                    p = num(p, j, 10);
                    *p++ = ' ';
                    for (int k = 0; k < 16 && j + k < 4096; k++) {
                        *p++ = "0123456789abcdef"[m[i * 4096 + j + k] >> 4];
                        *p++ = "0123456789abcdef"[m[i * 4096 + j + k] & 15];
                    }
                    break;
                }
            *p++ = '\n';
            *p = 0;
            out(b);
        }
        sys(SYS_nanosleep, (long)ts, 0, 0, 0, 0, 0);
    }
}
