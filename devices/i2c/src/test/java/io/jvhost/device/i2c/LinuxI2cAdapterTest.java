package io.jvhost.device.i2c;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LinuxI2cAdapter}'s ioctls as the kernel would see them: this machine has no I2C adapter, so a fake ioctl
 * decodes the native structures exactly as i2c-dev does (struct i2c_rdwr_ioctl_data, struct i2c_msg, struct
 * i2c_smbus_ioctl_data, union i2c_smbus_data, on x86-64) and answers like a client would. The adapter is opened on a
 * regular file standing in for {@code /dev/i2c-3}, found by name through a fake sysfs.
 */
class LinuxI2cAdapterTest
{
    @TempDir
    Path dir;

    private Path sysfs;
    private Path dev;
    private final List<String> calls = new ArrayList<>();
    private long funcs = LinuxI2cAdapter.I2C_FUNC_I2C;
    private int failWith;

    /** One decoded struct i2c_msg. */
    private record Message(int addr, int flags, int len, byte[] written)
    {
    }

    private final List<Message> messages = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException
    {
        sysfs = Files.createDirectories(dir.resolve("sys"));
        dev = Files.createDirectories(dir.resolve("dev"));
        Files.createDirectories(sysfs.resolve("i2c-3"));
        Files.writeString(sysfs.resolve("i2c-3/name"), "jv-adapter\n");
        Files.createDirectories(sysfs.resolve("i2c-7"));
        Files.writeString(sysfs.resolve("i2c-7/name"), "other\n");
        Files.createDirectories(sysfs.resolve("3-0050"));
        Files.write(dev.resolve("i2c-3"), new byte[0]);
    }

    private int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        if (request == LinuxI2cAdapter.I2C_FUNCS)
        {
            calls.add("FUNCS");
            arg.set(ValueLayout.JAVA_LONG, 0, funcs);
            return 0;
        }
        if (request == LinuxI2cAdapter.I2C_SLAVE)
        {
            calls.add("SLAVE 0x" + Long.toHexString(arg.address()));
            return arg.address() == 0x51 ? -16 : 0;
        }
        if (request == LinuxI2cAdapter.I2C_RDWR)
        {
            final MemorySegment data = arg.reinterpret(16);
            final int n = data.get(ValueLayout.JAVA_INT, 8);
            final MemorySegment msgs = MemorySegment.ofAddress(data.get(ValueLayout.JAVA_LONG, 0)).reinterpret(16L * n);
            calls.add("RDWR " + n);
            for (int i = 0; i < n; i++)
            {
                final int addr = msgs.get(ValueLayout.JAVA_SHORT, i * 16L) & 0xFFFF;
                final int flags = msgs.get(ValueLayout.JAVA_SHORT, i * 16L + 2) & 0xFFFF;
                final int len = msgs.get(ValueLayout.JAVA_SHORT, i * 16L + 4) & 0xFFFF;
                final MemorySegment buf = MemorySegment.ofAddress(msgs.get(ValueLayout.JAVA_LONG, i * 16L + 8))
                    .reinterpret(len);
                if ((flags & 1) != 0)
                {
                    for (int k = 0; k < len; k++)
                    {
                        buf.set(ValueLayout.JAVA_BYTE, k, (byte)(0xC0 + k));
                    }
                    messages.add(new Message(addr, flags, len, new byte[0]));
                }
                else
                {
                    messages.add(new Message(addr, flags, len, buf.toArray(ValueLayout.JAVA_BYTE)));
                }
            }
            return failWith != 0 ? -failWith : n;
        }
        if (request == LinuxI2cAdapter.I2C_SMBUS)
        {
            final MemorySegment a = arg.reinterpret(16);
            final int readWrite = a.get(ValueLayout.JAVA_BYTE, 0);
            final int command = a.get(ValueLayout.JAVA_BYTE, 1) & 0xFF;
            final int size = a.get(ValueLayout.JAVA_INT, 4);
            final long dataPtr = a.get(ValueLayout.JAVA_LONG, 8);
            final StringBuilder sb = new StringBuilder("SMBUS " + (readWrite == 1 ? "read" : "write") + " cmd=0x"
                + Integer.toHexString(command) + " size=" + size);
            if (dataPtr != 0)
            {
                final MemorySegment d = MemorySegment.ofAddress(dataPtr).reinterpret(34);
                if (readWrite == 1)
                {
                    d.set(ValueLayout.JAVA_SHORT, 0, (short)0x1234);
                }
                else
                {
                    sb.append(" data=").append(Integer.toHexString(d.get(ValueLayout.JAVA_SHORT, 0) & 0xFFFF));
                }
            }
            calls.add(sb.toString());
            return 0;
        }
        calls.add("unknown 0x" + Long.toHexString(request));
        return -25;
    }

    private LinuxI2cAdapter open(final String bus, final int... addresses) throws IOException
    {
        return LinuxI2cAdapter.open(bus, sysfs, dev, this::ioctl, addresses);
    }

    private static void put(final I2cTransfer t, final int message, final int... bytes)
    {
        for (int i = 0; i < bytes.length; i++)
        {
            t.data(message).set(ValueLayout.JAVA_BYTE, i, (byte)bytes[i]);
        }
    }

    @Test
    void anI2cAdapterGetsOneRdwrWithEveryMessageLaidOutAsTheKernelReadsIt() throws IOException
    {
        try (LinuxI2cAdapter a = open("jv-adapter", 0x50))
        {
            assertThat(a.isSmbus()).isFalse();
            assertThat(a.describe()).isEqualTo(dev.resolve("i2c-3") + " (I2C)");
            assertThat(calls).containsExactly("FUNCS", "SLAVE 0x50");
            final I2cTransfer t = new I2cTransfer();
            put(t, t.add(0x50, false, 2), 0x10, 0x77);
            t.add(0x50, true, 4);
            t.add(0x50, false, 0);
            assertThat(a.transfer(t)).isTrue();
            assertThat(calls).endsWith("RDWR 3");
            assertThat(messages.get(0)).satisfies(m ->
            {
                assertThat(m.addr()).isEqualTo(0x50);
                assertThat(m.flags()).isZero();
                assertThat(m.written()).containsExactly(0x10, 0x77);
            });
            assertThat(messages.get(1).flags()).as("I2C_M_RD").isEqualTo(1);
            assertThat(messages.get(1).len()).isEqualTo(4);
            assertThat(t.data(1).toArray(ValueLayout.JAVA_BYTE)).containsExactly(0xC0, 0xC1, 0xC2, 0xC3);
            assertThat(messages.get(2).len()).as("a quick write passes through").isZero();

            failWith = 121;
            assertThat(a.transfer(t)).as("EREMOTEIO: the client did not acknowledge").isFalse();
        }
    }

    @Test
    void anSmbusOnlyAdapterGetsTheTransfersTranslatedAndRefusesTheRest() throws IOException
    {
        funcs = LinuxI2cAdapter.I2C_FUNC_SMBUS_BYTE_DATA | LinuxI2cAdapter.I2C_FUNC_SMBUS_WORD_DATA;
        try (LinuxI2cAdapter a = open("3", 0x50, 0x52))
        {
            assertThat(a.isSmbus()).isTrue();
            calls.clear();
            final I2cTransfer t = new I2cTransfer();
            put(t, t.add(0x50, false, 2), 0x20, 0x42);
            assertThat(a.transfer(t)).isTrue();
            assertThat(calls).containsExactly("SLAVE 0x50", "SMBUS write cmd=0x20 size=2 data=42");

            calls.clear();
            t.clear();
            put(t, t.add(0x52, false, 1), 0x05);
            t.add(0x52, true, 2);
            assertThat(a.transfer(t)).isTrue();
            assertThat(calls).containsExactly("SLAVE 0x52", "SMBUS read cmd=0x5 size=3");
            assertThat(t.data(1).toArray(ValueLayout.JAVA_BYTE)).as("the word, low byte first").containsExactly(0x34,
                0x12);

            calls.clear();
            t.clear();
            t.add(0x50, false, 0);
            assertThat(a.transfer(t)).isTrue();
            assertThat(calls).containsExactly("SLAVE 0x50", "SMBUS write cmd=0x0 size=0");

            calls.clear();
            t.clear();
            t.add(0x50, true, 3);
            assertThat(a.transfer(t)).as("a 3-byte read has no SMBus form").isFalse();
            assertThat(calls).as("nothing reached the kernel").isEmpty();
        }
    }

    @Test
    void openingNamesWhatIsWrong() throws IOException
    {
        assertThatThrownBy(() -> open("nope", 0x50)).hasMessageContaining("no I2C adapter is named 'nope'");
        assertThatThrownBy(() -> open("7", 0x50)).hasMessageContaining("cannot open I2C adapter " + dev
            + "/i2c-7: ENOENT");
        assertThatThrownBy(() -> open("3", 0x50, 0x51)).hasMessageContaining("address 0x51 cannot be used")
            .hasMessageContaining("EBUSY (a kernel driver holds it)");
        funcs = 0x8;
        assertThatThrownBy(() -> open("3", 0x50)).hasMessageContaining("neither I2C nor SMBus")
            .hasMessageContaining("0x8");
        Files.createDirectories(sysfs.resolve("i2c-9"));
        Files.writeString(sysfs.resolve("i2c-9/name"), "jv-adapter\n");
        assertThatThrownBy(() -> open("jv-adapter", 0x50)).hasMessageContaining("more than one I2C adapter");
    }
}
