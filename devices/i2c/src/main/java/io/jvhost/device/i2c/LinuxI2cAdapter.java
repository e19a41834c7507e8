package io.jvhost.device.i2c;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Errno;
import io.jvhost.os.Ioctl;
import io.jvhost.os.IoctlCall;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A host I2C adapter through Linux's i2c-dev ({@code /dev/i2c-N}), with ioctls made through FFM: I2C_FUNCS at open
 * (plain I2C when the adapter can, else SMBus, as vhost-device-i2c chooses), I2C_SLAVE for each listed address (so an
 * address a kernel driver holds is refused at start-up, EBUSY), then per transfer one I2C_RDWR with every message (one
 * STOP at the end), or for an SMBus-only adapter one I2C_SMBUS call translated from the messages: quick (a
 * zero-length message), receive/send byte (one byte), write byte data (two bytes), write word data (three bytes), and
 * read byte/word data (a one-byte write then a one- or two-byte read). Anything else an SMBus adapter cannot express
 * fails the transfer.
 * <p>
 * The kernel structures live in native memory made once per adapter, and the message data in the transfer's native
 * staging buffer, so a transfer allocates nothing.
 */
public final class LinuxI2cAdapter implements I2cAdapter
{
    static final long I2C_SLAVE = 0x0703;
    static final long I2C_FUNCS = 0x0705;
    static final long I2C_RDWR = 0x0707;
    static final long I2C_SMBUS = 0x0720;

    static final long I2C_FUNC_I2C = 0x1;
    static final long I2C_FUNC_SMBUS_QUICK = 0x0001_0000;
    static final long I2C_FUNC_SMBUS_BYTE = 0x0006_0000;
    static final long I2C_FUNC_SMBUS_BYTE_DATA = 0x0018_0000;
    static final long I2C_FUNC_SMBUS_WORD_DATA = 0x0060_0000;
    static final long I2C_FUNC_SMBUS_ALL = I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA | I2C_FUNC_SMBUS_WORD_DATA;

    static final int I2C_M_RD = 0x1;

    static final int I2C_SMBUS_WRITE = 0;
    static final int I2C_SMBUS_READ = 1;
    static final int I2C_SMBUS_QUICK = 0;
    static final int I2C_SMBUS_BYTE = 1;
    static final int I2C_SMBUS_BYTE_DATA = 2;
    static final int I2C_SMBUS_WORD_DATA = 3;

    /** {@code struct i2c_msg}: le16 addr, le16 flags, le16 len, 2 bytes padding, u8 *buf (64-bit). */
    static final int MSG_SIZE = 16;
    /** {@code struct i2c_rdwr_ioctl_data}: struct i2c_msg *msgs, u32 nmsgs (and padding). */
    static final int RDWR_SIZE = 16;
    /** {@code struct i2c_smbus_ioctl_data}: u8 read_write, u8 command, 2 padding, u32 size, union *data. */
    static final int SMBUS_SIZE = 16;
    /** {@code union i2c_smbus_data}: byte, word or block[34]. */
    static final int SMBUS_DATA_SIZE = 34;

    private static final System.Logger LOG = System.getLogger(LinuxI2cAdapter.class.getName());
    private static final int EOPNOTSUPP = 95;

    private final String path;
    private final int fd;
    private final IoctlCall ioctl;
    private final boolean smbus;
    private final long funcs;
    private final MemorySegment msgs;
    private final MemorySegment rdwr;
    private final MemorySegment smbusArgs;
    private final MemorySegment smbusData;
    private long failures;

    LinuxI2cAdapter(final String path, final int fd, final IoctlCall ioctl, final int... addresses)
        throws IOException
    {
        this.path = path;
        this.fd = fd;
        this.ioctl = ioctl;
        final Arena arena = Arena.ofAuto();
        msgs = arena.allocate((long)MSG_SIZE * I2cTransfer.MAX_MESSAGES, 8);
        rdwr = arena.allocate(RDWR_SIZE, 8);
        smbusArgs = arena.allocate(SMBUS_SIZE, 8);
        smbusData = arena.allocate(SMBUS_DATA_SIZE + 6, 8);
        final MemorySegment f = arena.allocate(8, 8);
        int rc = ioctl.call(fd, I2C_FUNCS, f);
        if (rc < 0)
        {
            throw new IOException(path + ": I2C_FUNCS failed: " + Errno.name(-rc));
        }
        funcs = f.get(ValueLayout.JAVA_LONG, 0);
        if ((funcs & I2C_FUNC_I2C) != 0)
        {
            smbus = false;
        }
        else if ((funcs & I2C_FUNC_SMBUS_ALL) != 0)
        {
            smbus = true;
        }
        else
        {
            throw new IOException(path + " can do neither I2C nor SMBus byte/word transfers (functionality 0x"
                + Long.toHexString(funcs) + ")");
        }
        for (final int a : addresses)
        {
            rc = ioctl.call(fd, I2C_SLAVE, MemorySegment.ofAddress(a));
            if (rc < 0)
            {
                throw new IOException(path + ": address 0x" + Integer.toHexString(a) + " cannot be used: I2C_SLAVE"
                    + " failed with " + Errno.name(-rc) + (-rc == 16 ? " (a kernel driver holds it)" : ""));
            }
        }
    }

    /**
     * Opens adapter {@code bus}: a number ({@code /dev/i2c-N}) or an adapter name as in
     * {@code /sys/bus/i2c/devices/i2c-N/name}.
     *
     * @param addresses the 7-bit client addresses the guest may reach (each checked with I2C_SLAVE).
     */
    public static LinuxI2cAdapter open(final String bus, final int... addresses) throws IOException
    {
        return open(bus, Path.of("/sys/bus/i2c/devices"), Path.of("/dev"), new Ioctl(), addresses);
    }

    static LinuxI2cAdapter open(final String bus, final Path sysfs, final Path dev, final IoctlCall ioctl,
        final int... addresses) throws IOException
    {
        final int number = number(bus, sysfs);
        final String path = dev.resolve("i2c-" + number).toString();
        final int fd;
        try
        {
            fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot open I2C adapter " + path + ": " + Errno.name(e.errno())
                + (e.errno() == 2 ? " (is i2c-dev loaded, and is there an adapter " + number + "?)" : ""), e);
        }
        try
        {
            return new LinuxI2cAdapter(path, fd, ioctl, addresses);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * @return the adapter number of {@code bus} (a number, or a name looked up in {@code sysfs}).
     */
    static int number(final String bus, final Path sysfs) throws IOException
    {
        if (bus.matches("[0-9]{1,9}"))
        {
            return Integer.parseInt(bus);
        }
        Integer found = null;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(sysfs, "i2c-*"))
        {
            for (final Path entry : entries)
            {
                final Path name = entry.resolve("name");
                if (!Files.isReadable(name))
                {
                    continue;
                }
                if (Files.readString(name, StandardCharsets.UTF_8).strip().equals(bus.strip()))
                {
                    if (null != found)
                    {
                        throw new IOException("more than one I2C adapter is named '" + bus + "'; give its number");
                    }
                    found = Integer.parseInt(entry.getFileName().toString().substring(4));
                }
            }
        }
        catch (final java.nio.file.NoSuchFileException e)
        {
            throw new IOException("no I2C adapter is named '" + bus + "': " + sysfs + " does not exist", e);
        }
        catch (final NumberFormatException e)
        {
            throw new IOException("unexpected I2C adapter entry in " + sysfs + ": " + e.getMessage(), e);
        }
        if (null == found)
        {
            throw new IOException("no I2C adapter is named '" + bus + "' (see " + sysfs + "/i2c-*/name)");
        }
        return found;
    }

    /**
     * @return true when the adapter is driven with SMBus calls (it cannot do plain I2C).
     */
    public boolean isSmbus()
    {
        return smbus;
    }

    @Override
    public boolean transfer(final I2cTransfer transfer)
    {
        final int rc = smbus ? smbusTransfer(transfer) : rdwrTransfer(transfer);
        if (rc < 0)
        {
            if (LogThrottle.due(++failures))
            {
                LOG.log(Level.DEBUG, path + ": transfer of " + transfer.count() + " message(s) to 0x"
                    + Integer.toHexString(transfer.address(0)) + " failed: " + Errno.name(-rc) + " (" + failures
                    + " so far)");
            }
        }
        return rc >= 0;
    }

    private int rdwrTransfer(final I2cTransfer t)
    {
        for (int i = 0; i < t.count(); i++)
        {
            final long base = (long)i * MSG_SIZE;
            msgs.set(ValueLayout.JAVA_SHORT, base, (short)t.address(i));
            msgs.set(ValueLayout.JAVA_SHORT, base + 2, (short)(t.isRead(i) ? I2C_M_RD : 0));
            msgs.set(ValueLayout.JAVA_SHORT, base + 4, (short)t.length(i));
            msgs.set(ValueLayout.JAVA_SHORT, base + 6, (short)0);
            msgs.set(ValueLayout.JAVA_LONG, base + 8, t.dataAddress(i));
        }
        rdwr.set(ValueLayout.JAVA_LONG, 0, msgs.address());
        rdwr.set(ValueLayout.JAVA_INT, 8, t.count());
        rdwr.set(ValueLayout.JAVA_INT, 12, 0);
        return ioctl.call(fd, I2C_RDWR, rdwr);
    }

    /**
     * @return the ioctl's result, or -errno ({@code -EOPNOTSUPP} for messages SMBus cannot express).
     */
    private int smbusTransfer(final I2cTransfer t)
    {
        final int readWrite;
        final int command;
        final int size;
        smbusData.fill((byte)0);
        if (t.count() == 1)
        {
            final boolean read = t.isRead(0);
            readWrite = read ? I2C_SMBUS_READ : I2C_SMBUS_WRITE;
            final int len = t.length(0);
            final MemorySegment d = t.staging();
            final long o = t.offset(0);
            switch (len)
            {
                case 0 ->
                {
                    command = 0;
                    size = I2C_SMBUS_QUICK;
                }
                case 1 ->
                {
                    command = read ? 0 : d.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
                    size = I2C_SMBUS_BYTE;
                }
                case 2, 3 ->
                {
                    if (read)
                    {
                        return -EOPNOTSUPP;
                    }
                    command = d.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
                    smbusData.set(ValueLayout.JAVA_BYTE, 0, d.get(ValueLayout.JAVA_BYTE, o + 1));
                    if (len == 3)
                    {
                        smbusData.set(ValueLayout.JAVA_BYTE, 1, d.get(ValueLayout.JAVA_BYTE, o + 2));
                    }
                    size = len == 2 ? I2C_SMBUS_BYTE_DATA : I2C_SMBUS_WORD_DATA;
                }
                default ->
                {
                    return -EOPNOTSUPP;
                }
            }
        }
        else if (t.count() == 2 && !t.isRead(0) && t.isRead(1) && t.length(0) == 1
            && (t.length(1) == 1 || t.length(1) == 2) && t.address(0) == t.address(1))
        {
            readWrite = I2C_SMBUS_READ;
            command = t.staging().get(ValueLayout.JAVA_BYTE, t.offset(0)) & 0xFF;
            size = t.length(1) == 1 ? I2C_SMBUS_BYTE_DATA : I2C_SMBUS_WORD_DATA;
        }
        else
        {
            return -EOPNOTSUPP;
        }
        int rc = ioctl.call(fd, I2C_SLAVE, MemorySegment.ofAddress(t.address(0)));
        if (rc < 0)
        {
            return rc;
        }
        smbusArgs.set(ValueLayout.JAVA_BYTE, 0, (byte)readWrite);
        smbusArgs.set(ValueLayout.JAVA_BYTE, 1, (byte)command);
        smbusArgs.set(ValueLayout.JAVA_SHORT, 2, (short)0);
        smbusArgs.set(ValueLayout.JAVA_INT, 4, size);
        smbusArgs.set(ValueLayout.JAVA_LONG, 8, size == I2C_SMBUS_QUICK ? 0 : smbusData.address());
        rc = ioctl.call(fd, I2C_SMBUS, smbusArgs);
        if (rc < 0 || readWrite == I2C_SMBUS_WRITE)
        {
            return rc;
        }
        final int last = t.count() - 1;
        final long into = t.offset(last);
        for (int i = 0; i < t.length(last); i++)
        {
            t.staging().set(ValueLayout.JAVA_BYTE, into + i, smbusData.get(ValueLayout.JAVA_BYTE, i));
        }
        return rc;
    }

    @Override
    public String describe()
    {
        return path + (smbus ? " (SMBus)" : " (I2C)");
    }

    @Override
    public void close()
    {
        LibC.closeQuietly(fd);
    }
}
