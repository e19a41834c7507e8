// evtap: the guest-side helper of InputGuestTest, compiled by the test with gcc (flags in InputGuestTest).
// evtap DEVICE: prints the ranges of ABS_X and ABS_Y, turns the Caps Lock LED on, then prints each event read
// ("JVHOST-EV type code value") until KEY_ESC is released. x86-64 Linux, raw system calls, no libc.
static long sys(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static char line[160];
static int len;

static void put(const char *s)
{
    while (*s) line[len++] = *s++;
}

static void num(long v)
{
    char d[24];
    int n = 0;
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    if (v < 0) line[len++] = '-';
    do { d[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    while (n) line[len++] = d[--n];
}

static void flush(void)
{
    line[len++] = '\n';
    sys(1, 1, (long)line, len);
    len = 0;
}

void cmain(long *sp)
{
    char **argv = (char **)(sp + 1);
    int abs[6];
    unsigned char ev[24 * 16];
    long fd = sys(2, (long)argv[1], 2, 0); // O_RDWR
    if (fd < 0) { put("JVHOST-EV-ERROR open "); num(fd); flush(); sys(60, 1, 0, 0); }
    for (int axis = 0; axis < 2; axis++)
    {
        long r = sys(16, fd, 0x80184540L + axis, (long)abs); // EVIOCGABS(axis)
        put("JVHOST-ABS "); num(axis);
        if (r < 0) { put(" error "); num(r); }
        else for (int i = 0; i < 6; i++) { put(" "); num(abs[i]); }
        flush();
    }
    for (int i = 0; i < 48; i++) ev[i] = 0;
    ev[16] = 0x11; ev[18] = 1; ev[20] = 1; // EV_LED LED_CAPSL 1, then EV_SYN SYN_REPORT 0
    put("JVHOST-LED "); num(sys(1, fd, (long)ev, 48)); flush();
    put("JVHOST-EV-READY"); flush();
    for (;;)
    {
        long n = sys(0, fd, (long)ev, sizeof ev);
        if (n <= 0) { put("JVHOST-EV-ERROR read "); num(n); flush(); sys(60, 2, 0, 0); }
        for (long at = 0; at + 24 <= n; at += 24)
        {
            int type = ev[at + 16] | ev[at + 17] << 8;
            int code = ev[at + 18] | ev[at + 19] << 8;
            int value = *(int *)(ev + at + 20);
            put("JVHOST-EV "); num(type); put(" "); num(code); put(" "); num(value); flush();
            if (type == 1 && code == 1 && value == 0) sys(60, 0, 0, 0);
        }
    }
}

__asm__(".text\n.global _start\n_start:\n xor %ebp, %ebp\n mov %rsp, %rdi\n and $-16, %rsp\n call cmain\n hlt\n");
