package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link I2cDevice} with a simulated EEPROM and LM75 behind the real vhost-user back-end, driven by the in-process
 * front-end the way QEMU 10's vhost-user-i2c-pci (a 4-entry queue) and Linux's i2c-virtio driver drive it: each
 * message a chain of header, data and status, a transfer's messages flagged FAIL_NEXT but the last, sent as indirect
 * descriptors.
 */
@Timeout(60)
class I2cFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(1, 4).maxIndirect(8);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private I2cBus bus;
    private SimulatedEeprom eeprom;
    private I2cDevice device;
    private ServedDevice served;

    /** One message of a transfer: address, read length or written bytes. */
    private record Msg(int address, boolean read, byte[] data, int readLength)
    {
        static Msg write(final int address, final int... bytes)
        {
            final byte[] b = new byte[bytes.length];
            for (int i = 0; i < bytes.length; i++)
            {
                b[i] = (byte)bytes[i];
            }
            return new Msg(address, false, b, 0);
        }

        static Msg read(final int address, final int length)
        {
            return new Msg(address, true, new byte[0], length);
        }
    }

    /** What came back for one message. */
    private record Result(int status, byte[] data, int usedLength)
    {
    }

    @BeforeEach
    void setUp() throws Exception
    {
        bus = DeviceList.open(DeviceList.parse("sim:0x50=eeprom:72=lm75"));
        eeprom = (SimulatedEeprom)((SimulatedAdapter)bus.adapter(0x50)).client(0x50);
        device = new I2cDevice("i2c0", bus);
        served = ServedDevice.serve("i2c0", device, dir.resolve("i2c.sock0"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
        bus.close();
    }

    /**
     * Sends {@code msgs} as one transfer, each an indirect chain, with one kick, and returns each message's result.
     */
    private static Result[] transfer(final GuestRam ram, final FrontendQueue q, final Msg... msgs) throws Exception
    {
        final long[] status = new long[msgs.length];
        final long[] buffers = new long[msgs.length];
        final int[] heads = new int[msgs.length];
        for (int i = 0; i < msgs.length; i++)
        {
            final Msg m = msgs[i];
            final long hdr = ram.allocate(8, 8);
            final byte[] h = new byte[8];
            MemorySegment.ofArray(h).set(LE16, 0, (short)(m.address() << 1));
            MemorySegment.ofArray(h).set(LE32, 4, (i < msgs.length - 1 ? 1 : 0) | (m.read() ? 2 : 0));
            ram.write(hdr, h, 0, 8);
            status[i] = ram.allocate(1, 1);
            ram.setByte(status[i], (byte)0xEE);
            final int len = m.read() ? m.readLength() : m.data().length;
            if (len == 0)
            {
                heads[i] = q.addIndirect(new long[] {hdr, status[i]}, new int[] {8, 1}, 1, 1);
            }
            else
            {
                buffers[i] = ram.allocate(len, 8);
                if (m.read())
                {
                    ram.fill(buffers[i], len, (byte)0xEE);
                    heads[i] = q.addIndirect(new long[] {hdr, buffers[i], status[i]}, new int[] {8, len, 1}, 1, 2);
                }
                else
                {
                    ram.write(buffers[i], m.data(), 0, len);
                    heads[i] = q.addIndirect(new long[] {hdr, buffers[i], status[i]}, new int[] {8, len, 1}, 2, 1);
                }
            }
            assertThat(heads[i]).as("message %d fits the 4-entry ring as an indirect chain", i).isNotNegative();
        }
        q.publishAndKick();
        final int[] used = new int[msgs.length];
        Arrays.fill(used, -1);
        int got = 0;
        while (got < msgs.length)
        {
            final int n = q.awaitUsed(WAIT);
            assertThat(n).as("answers after %d of %d", got, msgs.length).isPositive();
            for (int k = 0; k < n; k++)
            {
                for (int i = 0; i < msgs.length; i++)
                {
                    if (heads[i] == q.usedHead(k) && used[i] < 0)
                    {
                        used[i] = q.usedLength(k);
                        got++;
                        break;
                    }
                }
            }
        }
        final Result[] results = new Result[msgs.length];
        for (int i = 0; i < msgs.length; i++)
        {
            final Msg m = msgs[i];
            final byte[] data = m.read() && m.readLength() > 0 ? ram.read(buffers[i], m.readLength()) : new byte[0];
            results[i] = new Result(ram.getByte(status[i]) & 0xFF, data, used[i]);
        }
        return results;
    }

    private static byte[] bytes(final int... values)
    {
        final byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++)
        {
            b[i] = (byte)values[i];
        }
        return b;
    }

    @Test
    void i2cToolsSequencesRoundTripTheSimulatedEepromAndReadTheSensor() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("vhost-device-i2c's features, ZERO_LENGTH_REQUEST included")
                .isEqualTo(0x1_7100_0001L);
            final FrontendQueue q = session.queue(0);

            // i2cdetect: a quick (zero-length) write to each address; only the clients answer.
            assertThat(transfer(ram, q, Msg.write(0x50))[0].status()).isEqualTo(I2cDevice.STATUS_OK);
            assertThat(transfer(ram, q, Msg.write(0x48))[0].status()).isEqualTo(I2cDevice.STATUS_OK);
            assertThat(transfer(ram, q, Msg.write(0x51))[0].status()).as("nobody at 0x51")
                .isEqualTo(I2cDevice.STATUS_ERR);

            // i2cset -y 0 0x50 0x20 0x42, then i2cget -y 0 0x50 0x20: a write and a read, one transfer.
            final Result set = transfer(ram, q, Msg.write(0x50, 0x20, 0x42))[0];
            assertThat(set.status()).isZero();
            assertThat(set.usedLength()).as("the status byte").isEqualTo(1);
            final Result[] get = transfer(ram, q, Msg.write(0x50, 0x20), Msg.read(0x50, 1));
            assertThat(get[0].status()).isZero();
            assertThat(get[1].status()).isZero();
            assertThat(get[1].data()).containsExactly(0x42);
            assertThat(get[1].usedLength()).as("data and status").isEqualTo(2);

            // i2ctransfer -y 0 w17@0x50 0x00 <16 bytes>, then w1@0x50 0x00 r16.
            final int[] page = new int[17];
            for (int i = 1; i < 17; i++)
            {
                page[i] = 0xA0 + i;
            }
            assertThat(transfer(ram, q, Msg.write(0x50, page))[0].status()).isZero();
            final Result[] dump = transfer(ram, q, Msg.write(0x50, 0x00), Msg.read(0x50, 16));
            assertThat(dump[1].data()).isEqualTo(Arrays.copyOfRange(eeprom.contents(), 0, 16));
            assertThat(dump[1].data()[0]).isEqualTo((byte)0xA1);
            assertThat(eeprom.contents()[0x20]).isEqualTo((byte)0x42);

            // i2cget -y 0 0x48 0x00 w: the LM75's temperature register, 25.0 °C.
            final Result[] temp = transfer(ram, q, Msg.write(0x48, 0x00), Msg.read(0x48, 2));
            assertThat(temp[1].data()).containsExactly(0x19, 0x00);
            assertThat(device.failedTransfers()).isEqualTo(1);
            session.stop();
        });
    }

    @Test
    void hostileRequestsFailWithTheErrorStatusAndTheDeviceServesOn() throws Exception
    {
        served.drive(4L << 20, 1, b -> b.queues(1, 64).maxIndirect(8), (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(0);

            // A transfer whose second message goes to an unrouted address fails as a whole.
            final Result[] mixed = transfer(ram, q, Msg.write(0x50, 0x10, 0x77), Msg.read(0x33, 1));
            assertThat(mixed[0].status()).isEqualTo(I2cDevice.STATUS_ERR);
            assertThat(mixed[1].status()).isEqualTo(I2cDevice.STATUS_ERR);
            assertThat(eeprom.contents()[0x10]).as("nothing of a failed transfer ran").isEqualTo((byte)0xFF);

            // A read that carries device-readable data.
            final long hdr = ram.allocate(8, 8);
            final byte[] h = new byte[8];
            MemorySegment.ofArray(h).set(LE16, 0, (short)(0x50 << 1));
            MemorySegment.ofArray(h).set(LE32, 4, 2);
            ram.write(hdr, h, 0, 8);
            final long extra = ram.allocate(4, 8);
            final long st = ram.allocate(1, 1);
            q.add(new long[] {hdr, extra, st}, new int[] {8, 4, 1}, 2, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(st)).as("read with readable data").isEqualTo((byte)I2cDevice.STATUS_ERR);

            // A header cut short.
            final long shortHdr = ram.allocate(4, 8);
            final long st2 = ram.allocate(1, 1);
            q.add(new long[] {shortHdr, st2}, new int[] {4, 1}, 1, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(st2)).as("4-byte header").isEqualTo((byte)I2cDevice.STATUS_ERR);

            // No status byte at all: returned empty.
            q.add(new long[] {hdr}, new int[] {8}, 1, 0);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(q.usedLength(0)).isZero();

            // An address field that is no 7-bit address.
            MemorySegment.ofArray(h).set(LE16, 0, (short)0x1A0);
            MemorySegment.ofArray(h).set(LE32, 4, 0);
            ram.write(hdr, h, 0, 8);
            final long st3 = ram.allocate(1, 1);
            q.add(new long[] {hdr, st3}, new int[] {8, 1}, 1, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(st3)).as("address field 0x1a0").isEqualTo((byte)I2cDevice.STATUS_ERR);

            // A read longer than a message may be.
            MemorySegment.ofArray(h).set(LE16, 0, (short)(0x50 << 1));
            MemorySegment.ofArray(h).set(LE32, 4, 2);
            ram.write(hdr, h, 0, 8);
            final long big = ram.allocate(70_000, 8);
            final long st4 = ram.allocate(1, 1);
            q.add(new long[] {hdr, big, st4}, new int[] {8, 70_000, 1}, 1, 2);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.getByte(st4)).as("a 70,000-byte read").isEqualTo((byte)I2cDevice.STATUS_ERR);
            assertThat(device.refusedRequests()).isEqualTo(5);

            final Result[] ok = transfer(ram, q, Msg.write(0x50, 0x00), Msg.read(0x50, 2));
            assertThat(ok[1].status()).as("served on").isZero();
            assertThat(ok[1].data()).containsExactly(0xFF, 0xFF);
            session.stop();
        });
    }

    @Test
    void listensAgainForTheNextFrontEndAndTheEepromKeepsItsContents() throws Exception
    {
        for (final int vm : new int[] {0, 1})
        {
            served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(0);
                if (vm == 0)
                {
                    assertThat(transfer(ram, q, Msg.write(0x50, 0x05, 0x5A))[0].status()).isZero();
                }
                else
                {
                    assertThat(transfer(ram, q, Msg.write(0x50, 0x05), Msg.read(0x50, 1))[1].data())
                        .as("the host's EEPROM outlives the guest").containsExactly(0x5A);
                }
            });
        }
        assertThat(List.of(device.transfers())).containsExactly(2L);
    }
}
