package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
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
 * {@link SpiDevice} with a simulated controller (cs 0 a loopback, cs 1 a 25xx EEPROM) behind the real vhost-user
 * back-end, driven by the in-process front-end the way QEMU 11.1's vhost-user-spi-pci (a 4-entry queue, the config read
 * with GET_CONFIG) and Linux's spi-virtio driver drive it: one transfer per request, a chain of head, tx, rx and result
 * buffers, one request in flight.
 */
@Timeout(60)
class SpiFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(1, 4).maxIndirect(8);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private SimulatedController controller;
    private SpiDevice device;
    private ServedDevice served;

    /** What came back for one request. */
    private record Result(int result, byte[] rx, int usedLength)
    {
    }

    /** A transfer head: the fields Linux's driver fills. */
    private record Head(int cs, int bitsPerWord, int csChange, int txNbits, int rxNbits, int mode, long freq,
        long wordDelay, long csSetup, long csHold, long csInactive)
    {
        static Head of(final int cs)
        {
            return new Head(cs, 8, 0, 1, 1, 0, 1_000_000, 0, 0, 0, 0);
        }

        Head mode(final int m)
        {
            return new Head(cs, bitsPerWord, csChange, txNbits, rxNbits, m, freq, wordDelay, csSetup, csHold,
                csInactive);
        }

        byte[] bytes()
        {
            final byte[] b = new byte[TransferHead.SIZE];
            final MemorySegment s = MemorySegment.ofArray(b);
            b[0] = (byte)cs;
            b[1] = (byte)bitsPerWord;
            b[2] = (byte)csChange;
            b[3] = (byte)txNbits;
            b[4] = (byte)rxNbits;
            s.set(LE32, 8, mode);
            s.set(LE32, 12, (int)freq);
            s.set(LE32, 16, (int)wordDelay);
            s.set(LE32, 20, (int)csSetup);
            s.set(LE32, 24, (int)csHold);
            s.set(LE32, 28, (int)csInactive);
            return b;
        }
    }

    @BeforeEach
    void setUp() throws Exception
    {
        controller = (SimulatedController)ControllerSpec.open("sim:loopback:eeprom");
        device = new SpiDevice("spi0", controller);
        served = ServedDevice.serve("spi0", device, dir.resolve("spi.sock0"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
        controller.close();
    }

    /**
     * Sends one transfer as Linux's driver does (head, tx if any, rx if any, result) and waits for its answer.
     */
    private static Result transfer(final GuestRam ram, final FrontendQueue q, final byte[] head, final byte[] tx,
        final int rxLength) throws Exception
    {
        return transfer(ram, q, head, tx, rxLength, false);
    }

    /**
     * {@link #transfer(GuestRam, FrontendQueue, byte[], byte[], int)}, as an indirect chain when {@code indirect}
     * (as Linux's virtqueue_add_sgs sends a chain of several buffers once INDIRECT_DESC is negotiated).
     */
    private static Result transfer(final GuestRam ram, final FrontendQueue q, final byte[] head, final byte[] tx,
        final int rxLength, final boolean indirect) throws Exception
    {
        final long hdr = ram.allocate(head.length, 8);
        ram.write(hdr, head, 0, head.length);
        final long txBuf = null == tx ? 0 : ram.allocate(tx.length, 8);
        if (null != tx)
        {
            ram.write(txBuf, tx, 0, tx.length);
        }
        final long rxBuf = rxLength == 0 ? 0 : ram.allocate(rxLength, 8);
        if (rxLength > 0)
        {
            ram.fill(rxBuf, rxLength, (byte)0xEE);
        }
        final long result = ram.allocate(1, 1);
        ram.setByte(result, (byte)0xEE);
        final long[] gpas = new long[4];
        final int[] lengths = new int[4];
        int n = 0;
        gpas[n] = hdr;
        lengths[n++] = head.length;
        if (null != tx)
        {
            gpas[n] = txBuf;
            lengths[n++] = tx.length;
        }
        final int outs = n;
        if (rxLength > 0)
        {
            gpas[n] = rxBuf;
            lengths[n++] = rxLength;
        }
        gpas[n] = result;
        lengths[n++] = 1;
        final int headIndex = indirect ? q.addIndirect(Arrays.copyOf(gpas, n), Arrays.copyOf(lengths, n), outs, n - outs)
            : q.add(Arrays.copyOf(gpas, n), Arrays.copyOf(lengths, n), outs, n - outs);
        assertThat(headIndex).as("the request fits the 4-entry ring").isNotNegative();
        q.publishAndKick();
        assertThat(q.awaitUsed(WAIT)).as("one answer").isEqualTo(1);
        assertThat(q.usedHead(0)).isEqualTo(headIndex);
        return new Result(ram.getByte(result) & 0xFF, rxLength == 0 ? new byte[0] : ram.read(rxBuf, rxLength),
            q.usedLength(0));
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
    void theConfigSpaceIsTheSimulatedControllersAndReadsWithGetConfig() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (_, fe, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("vhost-device-spi's features").isEqualTo(0x1_7100_0000L);
            assertThat(session.offeredProtocolFeatures() & 1L << 9).as("PROTOCOL_F_CONFIG").isNotZero();
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, SpiConfig.SIZE));
            assertThat(config.get(ValueLayout.JAVA_BYTE, 0)).as("cs_max_number: two chips").isEqualTo((byte)2);
            assertThat(config.get(ValueLayout.JAVA_BYTE, 1)).as("cs_change_supported").isEqualTo((byte)1);
            assertThat(config.get(ValueLayout.JAVA_BYTE, 2)).as("tx_nbits_supported: single only").isZero();
            assertThat(config.get(ValueLayout.JAVA_BYTE, 3)).as("rx_nbits_supported").isZero();
            assertThat(config.get(LE32, 4)).as("8, 16 and 32 bits per word").isEqualTo(0x8000_8080);
            assertThat(config.get(LE32, 8)).as("every mode function").isEqualTo(0x7F);
            assertThat(config.get(LE32, 12)).as("max_freq_hz").isEqualTo(50_000_000);
            for (int offset = 16; offset < 32; offset += 4)
            {
                assertThat(config.get(LE32, offset)).as("delay limit at %d", offset).isZero();
            }
            assertThat(fe.getConfig(12, 4)).as("a partial read at an offset").containsExactly(0x80, 0xF0, 0xFA, 0x02);
            session.stop();
        });
    }

    @Test
    void loopbackAndEepromTransfersRoundTripExactly() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final byte[] hello = "JVSPI-01".getBytes(StandardCharsets.US_ASCII);

            // Full duplex on cs 0: the loopback returns exactly what was sent; data and result were written.
            final Result loop = transfer(ram, q, Head.of(0).bytes(), hello, hello.length);
            assertThat(loop.result()).isEqualTo(SpiDevice.TRANS_OK);
            assertThat(new String(loop.rx(), StandardCharsets.US_ASCII)).isEqualTo("JVSPI-01");
            assertThat(loop.usedLength()).as("rx and result").isEqualTo(hello.length + 1);
            // The same as an indirect chain, as the guest sends it.
            final Result indirect = transfer(ram, q, Head.of(0).bytes(), hello, hello.length, true);
            assertThat(indirect.result()).isEqualTo(SpiDevice.TRANS_OK);
            assertThat(indirect.rx()).isEqualTo(hello);
            // A half-duplex read of the loopback receives the zeros the controller sent.
            assertThat(transfer(ram, q, Head.of(0).bytes(), null, 4).rx()).containsExactly(0, 0, 0, 0);

            // cs 1, the EEPROM: WRITE 0x20 with four bytes (half duplex), then READ them back in one full-duplex frame.
            final Result write = transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.WRITE, 0x20, 0x42, 0x43,
                0x44, 0x45), 0);
            assertThat(write.result()).isEqualTo(SpiDevice.TRANS_OK);
            assertThat(write.usedLength()).as("the result byte").isEqualTo(1);
            final Result read = transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.READ, 0x20, 0, 0, 0, 0), 6);
            assertThat(read.result()).isEqualTo(SpiDevice.TRANS_OK);
            assertThat(read.rx()).as("command and address phases read 0xFF, then the memory")
                .containsExactly(0xFF, 0xFF, 0x42, 0x43, 0x44, 0x45);
            // As spi_write_then_read sends it: READ and address as one transfer, the data as a half-duplex read.
            assertThat(transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.READ, 0x21), 0).result()).isZero();
            assertThat(transfer(ram, q, Head.of(1).bytes(), null, 3).rx()).containsExactly(0x43, 0x44, 0x45);
            // The status register and an erased byte.
            assertThat(transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.RDSR, 0), 2).rx())
                .containsExactly(0xFF, 0x00);
            assertThat(transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.READ, 0x30, 0), 3).rx()[2])
                .isEqualTo((byte)0xFF);

            // LOOP mode: the controller receives what it sends even from the EEPROM, which still sees the frame.
            final Result looped = transfer(ram, q, Head.of(1).mode(TransferHead.MODE_LOOP).bytes(),
                bytes(SimulatedEeprom.WRITE, 0x40, 0x99), 3);
            assertThat(looped.rx()).containsExactly(SimulatedEeprom.WRITE, 0x40, 0x99);
            assertThat(((SimulatedEeprom)controller.chip(1)).contents()[0x40]).isEqualTo((byte)0x99);
            // Every mode function the controller offers is accepted.
            assertThat(transfer(ram, q, Head.of(0).mode(0xF).bytes(), hello, hello.length).result()).isZero();
            assertThat(device.transfers()).isEqualTo(11);
            assertThat(device.refusedRequests()).isZero();
            session.stop();
        });
    }

    @Test
    void unsupportedParametersAreParamErrAndTheDeviceServesOn() throws Exception
    {
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final byte[] tx = bytes(SimulatedEeprom.WRITE, 0x00, 0x11, 0x22);
            final Head ok = Head.of(1);
            final Head[] bad = {
                Head.of(2),
                new Head(1, 12, 0, 1, 1, 0, 1_000_000, 0, 0, 0, 0),
                new Head(1, 0, 0, 1, 1, 0, 1_000_000, 0, 0, 0, 0),
                new Head(1, 8, 2, 1, 1, 0, 1_000_000, 0, 0, 0, 0),
                new Head(1, 8, 0, 4, 1, 0, 1_000_000, 0, 0, 0, 0),
                new Head(1, 8, 0, 1, 3, 0, 1_000_000, 0, 0, 0, 0),
                ok.mode(0x20),
                new Head(1, 8, 0, 1, 1, 0, 50_000_001, 0, 0, 0, 0),
                new Head(1, 8, 0, 1, 1, 0, 1_000_000, 1, 0, 0, 0),
                new Head(1, 8, 0, 1, 1, 0, 1_000_000, 0, 1, 0, 0),
                new Head(1, 8, 0, 1, 1, 0, 1_000_000, 0, 0, 1, 0),
                new Head(1, 8, 0, 1, 1, 0, 1_000_000, 0, 0, 0, 1),
            };
            final String[] why = {"chip select 2 of 2", "12 bits per word", "0 bits per word", "cs_change 2",
                "quad tx", "rx_nbits 3", "mode bit 5", "1 Hz too fast", "word delay", "cs setup", "cs hold",
                "cs inactive"};
            for (int i = 0; i < bad.length; i++)
            {
                final Result r = transfer(ram, q, bad[i].bytes(), tx, 4);
                assertThat(r.result()).as(why[i]).isEqualTo(SpiDevice.PARAM_ERR);
                assertThat(r.rx()).as("%s: rx zeroed", why[i]).containsExactly(0, 0, 0, 0);
            }
            assertThat(((SimulatedEeprom)controller.chip(1)).contents()[0]).as("nothing refused reached the chip")
                .isEqualTo((byte)0xFF);
            // 16-bit words with an odd length.
            assertThat(transfer(ram, q, new Head(0, 16, 0, 1, 1, 0, 1_000_000, 0, 0, 0, 0).bytes(), bytes(1, 2, 3), 3)
                .result()).as("3 bytes of 16-bit words").isEqualTo(SpiDevice.PARAM_ERR);
            // tx and rx of different lengths.
            assertThat(transfer(ram, q, ok.bytes(), tx, 5).result()).as("4 sent, 5 received")
                .isEqualTo(SpiDevice.PARAM_ERR);
            // A head cut short.
            assertThat(transfer(ram, q, Arrays.copyOf(ok.bytes(), 31), null, 0).result()).as("31-byte head")
                .isEqualTo(SpiDevice.PARAM_ERR);
            // A transfer longer than the device stages.
            final Result huge = transfer(ram, q, ok.bytes(), null, SpiTransfer.MAX_LENGTH + 1);
            assertThat(huge.result()).as("a 65,537-byte read").isEqualTo(SpiDevice.PARAM_ERR);
            // No result byte at all: returned with nothing written.
            final long hdr = ram.allocate(32, 8);
            ram.write(hdr, ok.bytes(), 0, 32);
            q.add(new long[] {hdr}, new int[] {32}, 1, 0);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(q.usedLength(0)).isZero();
            // A zero-length transfer is checked and answered OK.
            assertThat(transfer(ram, q, ok.bytes(), null, 0).result()).isEqualTo(SpiDevice.TRANS_OK);
            assertThat(transfer(ram, q, Head.of(5).bytes(), null, 0).result()).isEqualTo(SpiDevice.PARAM_ERR);
            assertThat(device.refusedRequests()).isEqualTo(bad.length + 6);
            assertThat(device.transfers()).as("none of them ran").isZero();

            final Result next = transfer(ram, q, ok.bytes(), tx, 4);
            assertThat(next.result()).as("served on").isEqualTo(SpiDevice.TRANS_OK);
            assertThat(((SimulatedEeprom)controller.chip(1)).contents()).startsWith(0x11, 0x22);
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
                    assertThat(transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.WRITE, 0x05, 0x5A), 0)
                        .result()).isZero();
                }
                else
                {
                    assertThat(transfer(ram, q, Head.of(1).bytes(), bytes(SimulatedEeprom.READ, 0x05, 0), 3).rx()[2])
                        .as("the host's EEPROM outlives the guest").isEqualTo((byte)0x5A);
                }
            });
        }
        assertThat(device.transfers()).isEqualTo(2);
    }

    @Test
    void twoSocketsShareOneController() throws Exception
    {
        final SpiDevice second = new SpiDevice("spi1", controller);
        try (ServedDevice served1 = ServedDevice.serve("spi1", second, dir.resolve("spi.sock1")))
        {
            served.drive(4L << 20, 1, SESSION, (ram0, _, s0) -> served1.drive(4L << 20, 1, SESSION, (ram1, _, s1) ->
            {
                s0.start();
                s1.start();
                assertThat(transfer(ram0, s0.queue(0), Head.of(1).bytes(), bytes(SimulatedEeprom.WRITE, 0x70, 0x17), 0)
                    .result()).isZero();
                assertThat(transfer(ram1, s1.queue(0), Head.of(1).bytes(), bytes(SimulatedEeprom.READ, 0x70, 0), 3)
                    .rx()[2]).as("the other guest's write, on the one EEPROM").isEqualTo((byte)0x17);
            }));
        }
        assertThat(device.transfers() + second.transfers()).isEqualTo(2);
    }
}
