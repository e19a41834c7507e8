/*
 * jvhost SpiGuestTest's guest client: SPI_IOC_MESSAGE on the spidevs the spi-virtio test hook makes, against jvhost
 * spi -l sim:loopback:eeprom (cs 0 a loopback, cs 1 a 25xx EEPROM). Prints SPI-... lines the test checks.
 *   spidevc loop DEV     full duplex "JVSPI-01" on the loopback
 *   spidevc eeprom DEV   WRITE 0x20 "JVHOST" (half duplex), READ it back full duplex and as a two-transfer message
 *                        (READ + address, then a half-duplex read), LOOP mode, then a clock the device refuses
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/spi/spidev.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void hex(const char *what, const uint8_t *b, int n)
{
    printf("SPI-%s", what);
    for (int i = 0; i < n; i++)
        printf(" %02x", b[i]);
    printf(" END\n");
}

static int message(int fd, struct spi_ioc_transfer *t, int n)
{
    int rc = ioctl(fd, SPI_IOC_MESSAGE(n), t);
    return rc < 0 ? -errno : rc;
}

static struct spi_ioc_transfer xfer(const void *tx, void *rx, int len, uint32_t speed)
{
    struct spi_ioc_transfer t;
    memset(&t, 0, sizeof(t));
    t.tx_buf = (uintptr_t)tx;
    t.rx_buf = (uintptr_t)rx;
    t.len = len;
    t.speed_hz = speed;
    t.bits_per_word = 8;
    return t;
}

static int loop(int fd)
{
    const char tx[8] = "JVSPI-01";
    char rx[9] = {0};
    struct spi_ioc_transfer t = xfer(tx, rx, 8, 0);
    int rc = message(fd, &t, 1);
    printf("SPI-LOOP rc=%d rx=%s END\n", rc, rx);
    return rc == 8 && memcmp(tx, rx, 8) == 0 ? 0 : 1;
}

static int eeprom(int fd)
{
    const uint8_t write[8] = {0x02, 0x20, 'J', 'V', 'H', 'O', 'S', 'T'};
    uint8_t readCmd[8] = {0x03, 0x20, 0, 0, 0, 0, 0, 0};
    uint8_t rx[8];
    struct spi_ioc_transfer t[2];
    int rc;

    t[0] = xfer(write, NULL, 8, 0);
    printf("SPI-WRITE rc=%d END\n", message(fd, t, 1));

    memset(rx, 0xEE, sizeof(rx));
    t[0] = xfer(readCmd, rx, 8, 0);
    rc = message(fd, t, 1);
    printf("SPI-READ rc=%d data=%.6s END\n", rc, (const char *)rx + 2);
    hex("READ-RAW", rx, 8);

    memset(rx, 0xEE, sizeof(rx));
    readCmd[1] = 0x22;
    t[0] = xfer(readCmd, NULL, 2, 0);
    t[1] = xfer(NULL, rx, 4, 0);
    rc = message(fd, t, 2);
    printf("SPI-READ2 rc=%d data=%.4s END\n", rc, (const char *)rx);

    uint32_t mode = SPI_MODE_0 | SPI_LOOP;
    rc = ioctl(fd, SPI_IOC_WR_MODE32, &mode);
    memset(rx, 0xEE, sizeof(rx));
    const uint8_t probe[4] = {0x05, 0xA5, 0x5A, 0x3C};
    t[0] = xfer(probe, rx, 4, 0);
    printf("SPI-LOOPMODE set=%d rc=%d END\n", rc < 0 ? -errno : rc, message(fd, t, 1));
    hex("LOOPMODE-RX", rx, 4);
    mode = SPI_MODE_0;
    ioctl(fd, SPI_IOC_WR_MODE32, &mode);

    t[0] = xfer(readCmd, rx, 8, 100000000);
    rc = message(fd, t, 1);
    printf("SPI-FAST rc=%d %s END\n", rc, rc < 0 ? strerror(-rc) : "accepted");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: spidevc loop|eeprom /dev/spidevB.C\n");
        return 2;
    }
    int fd = open(argv[2], O_RDWR);
    if (fd < 0)
    {
        printf("SPI-OPEN %s failed: %s END\n", argv[2], strerror(errno));
        return 1;
    }
    return strcmp(argv[1], "loop") == 0 ? loop(fd) : eeprom(fd);
}
