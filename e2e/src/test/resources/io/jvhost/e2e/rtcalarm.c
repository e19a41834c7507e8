/*
 * rtcalarm DEV SECONDS: reads the RTC DEV (e.g. /dev/rtc1), sets its wake alarm SECONDS ahead with RTC_WKALM_SET
 * and waits in read(2) for the alarm interrupt, printing
 *   RTCALARM now=<epoch seconds> set=<epoch seconds>
 *   RTCALARM fired after=<milliseconds> data=0x<read value>
 * jvhost e2e test helper (RtcGuestTest), built static with gcc at test time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/rtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rtcalarm DEV SECONDS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    struct rtc_time tm;
    memset(&tm, 0, sizeof tm);
    if (ioctl(fd, RTC_RD_TIME, &tm) < 0) {
        perror("RTC_RD_TIME");
        return 1;
    }
    struct tm t;
    memset(&t, 0, sizeof t);
    t.tm_sec = tm.tm_sec; t.tm_min = tm.tm_min; t.tm_hour = tm.tm_hour;
    t.tm_mday = tm.tm_mday; t.tm_mon = tm.tm_mon; t.tm_year = tm.tm_year;
    time_t now = timegm(&t);
    time_t at = now + atoi(argv[2]);
    struct tm a;
    gmtime_r(&at, &a);
    struct rtc_wkalrm alarm;
    memset(&alarm, 0, sizeof alarm);
    alarm.enabled = 1;
    alarm.time.tm_sec = a.tm_sec; alarm.time.tm_min = a.tm_min; alarm.time.tm_hour = a.tm_hour;
    alarm.time.tm_mday = a.tm_mday; alarm.time.tm_mon = a.tm_mon; alarm.time.tm_year = a.tm_year;
    alarm.time.tm_wday = -1; alarm.time.tm_yday = -1; alarm.time.tm_isdst = -1;
    if (ioctl(fd, RTC_WKALM_SET, &alarm) < 0) {
        perror("RTC_WKALM_SET");
        return 1;
    }
    printf("RTCALARM now=%lld set=%lld\n", (long long)now, (long long)at);
    fflush(stdout);
    long long start = ms_now();
    unsigned long data = 0;
    if (read(fd, &data, sizeof data) != sizeof data) {
        perror("read");
        return 1;
    }
    printf("RTCALARM fired after=%lld data=0x%lx\n", ms_now() - start, data);
    return 0;
}
