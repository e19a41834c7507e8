package io.jvhost.device.scmi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.scmi.ScmiPlatform.BASE;
import static io.jvhost.device.scmi.ScmiPlatform.SENSOR;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ScmiDevice} behind the real vhost-user back-end, driven by the in-process front-end as Linux's SCMI virtio
 * transport drives it (one command buffer and one 136-byte response buffer per command), with vhost-device-scmi's
 * fake accelerometer, jvhost's fake thermometer and an IIO temperature channel in a fake sysfs folder; hostile
 * commands included.
 */
@Timeout(60)
class ScmiFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(2, 64);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Linux's VIRTIO_SCMI_MAX_PDU_SIZE: 128 bytes of message and 8 of header and status. */
    private static final int PDU = 136;

    @TempDir
    Path dir;

    private ScmiDevice device;
    private ServedDevice served;

    private record Answer(int usedLength, MemorySegment bytes)
    {
        int header()
        {
            return word(0);
        }

        int status()
        {
            return bytes.get(LE32, 4);
        }

        /** Return value {@code i} (a 32-bit word after the status). */
        int value(final int i)
        {
            return word(8 + 4 * i);
        }

        int word(final int offset)
        {
            return bytes.get(LE32, offset);
        }

        String string(final int offset)
        {
            final byte[] b = bytes.asSlice(offset, 16).toArray(ValueLayout.JAVA_BYTE);
            int n = 0;
            while (n < 16 && b[n] != 0)
            {
                n++;
            }
            return new String(b, 0, n, StandardCharsets.US_ASCII);
        }
    }

    private void start(final List<ScmiSensor> sensors) throws Exception
    {
        device = new ScmiDevice("scmi0", sensors);
        served = ServedDevice.serve("scmi0", device, dir.resolve("scmi.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
        if (null != device)
        {
            device.close();
        }
    }

    private static int header(final int protocol, final int message, final int token)
    {
        return message | protocol << 10 | token << 18;
    }

    private static byte[] command(final int header, final int... params)
    {
        final byte[] b = new byte[4 + 4 * params.length];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, header);
        for (int i = 0; i < params.length; i++)
        {
            s.set(LE32, 4 + 4L * i, params[i]);
        }
        return b;
    }

    private static Answer send(final FrontendQueue q, final byte[] request, final int writable) throws Exception
    {
        final FrontendQueue.Reply r = q.exchange(request, writable, WAIT);
        return new Answer(r.usedLength(), MemorySegment.ofArray(r.bytes()));
    }

    private static Answer send(final FrontendQueue q, final int header, final int... params)
        throws Exception
    {
        final Answer a = send(q, command(header, params), PDU);
        assertThat(a.header()).as("the command's header, token included, echoed").isEqualTo(header);
        return a;
    }

    private Path iioFolder(final String raw) throws Exception
    {
        final Path iio = Files.createDirectories(dir.resolve("iio:device0"));
        Files.writeString(iio.resolve("name"), "hosttemp-sensor-long\n");
        Files.writeString(iio.resolve("in_temp_raw"), raw);
        Files.writeString(iio.resolve("in_temp_scale"), "1\n");
        Files.writeString(iio.resolve("in_temp_offset"), "500\n");
        return iio;
    }

    @Test
    void theAgentDiscoversTheProtocolsAndReadsEachSensor() throws Exception
    {
        final Path iio = iioFolder("41500\n");
        start(List.of(new FakeSensor("accel", FakeSensor.Kind.ACCELEROMETER),
            new FakeSensor("jvtemp", FakeSensor.Kind.THERMOMETER), IioSensor.open(iio, "in_temp", null)));
        served.drive(4L << 20, 1, SESSION, (_, _, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures() & 1).as("no VIRTIO_SCMI_F_P2A_CHANNELS").isZero();
            final FrontendQueue q = session.queue(ScmiDevice.COMMAND_QUEUE);

            // BASE, as Linux's scmi core probes it.
            Answer a = send(q, header(BASE, ScmiPlatform.VERSION, 1));
            assertThat(a.usedLength()).isEqualTo(12);
            assertThat(a.status()).isEqualTo(ScmiPlatform.SUCCESS);
            assertThat(a.value(0)).as("BASE v2.0").isEqualTo(0x20000);
            a = send(q, header(BASE, ScmiPlatform.PROTOCOL_ATTRIBUTES, 2));
            assertThat(a.value(0)).as("one protocol, no agents").isEqualTo(1);
            a = send(q, header(BASE, ScmiPlatform.DISCOVER_VENDOR, 3));
            assertThat(a.usedLength()).isEqualTo(24);
            assertThat(a.string(8)).isEqualTo("jvhost");
            a = send(q, header(BASE, ScmiPlatform.DISCOVER_SUB_VENDOR, 4));
            assertThat(a.string(8)).isEqualTo("vhost-user");
            a = send(q, header(BASE, ScmiPlatform.DISCOVER_IMPLEMENTATION_VERSION, 5));
            assertThat(a.value(0)).isEqualTo(ScmiPlatform.IMPLEMENTATION_VERSION);
            a = send(q, header(BASE, ScmiPlatform.DISCOVER_LIST_PROTOCOLS, 6), 0);
            assertThat(a.usedLength()).as("count and one word of protocol ids").isEqualTo(16);
            assertThat(a.value(0)).isEqualTo(1);
            assertThat(a.value(1)).as("SENSOR").isEqualTo(SENSOR);
            a = send(q, header(BASE, ScmiPlatform.DISCOVER_LIST_PROTOCOLS, 7), 1);
            assertThat(a.value(0)).as("none after skipping one").isZero();
            a = send(q, header(BASE, ScmiPlatform.MESSAGE_ATTRIBUTES, 8), ScmiPlatform.DISCOVER_SUB_VENDOR);
            assertThat(a.status()).isEqualTo(ScmiPlatform.SUCCESS);

            // SENSOR
            a = send(q, header(SENSOR, ScmiPlatform.VERSION, 9));
            assertThat(a.value(0)).as("SENSOR v3.0").isEqualTo(0x30000);
            a = send(q, header(SENSOR, ScmiPlatform.PROTOCOL_ATTRIBUTES, 10));
            assertThat(a.usedLength()).isEqualTo(24);
            assertThat(a.value(0)).as("num_sensors 3, max_requests 0").isEqualTo(3);
            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_DESCRIPTION_GET, 11), 0);
            assertThat(a.usedLength()).isEqualTo(12 + 3 * 28);
            assertThat(a.value(0)).as("3 returned, 0 remaining").isEqualTo(3);
            assertThat(a.value(1)).isEqualTo(0);
            assertThat(a.value(2)).as("attributes_low: update notify").isEqualTo(1 << 30);
            assertThat(a.value(3)).as("accelerometer: 3 axes").isEqualTo(3 << 16 | 1 << 8);
            assertThat(a.string(24)).isEqualTo("accel");
            assertThat(a.value(8)).isEqualTo(1);
            assertThat(a.value(10)).as("thermometer: degrees C, exponent 0").isEqualTo(ScmiSensor.UNIT_DEGREES_C);
            assertThat(a.string(52)).isEqualTo("jvtemp");
            assertThat(a.value(15)).isEqualTo(2);
            assertThat(a.value(17)).as("in_temp: millidegrees, exponent -3")
                .isEqualTo((-3 & 0x1F) << 11 | ScmiSensor.UNIT_DEGREES_C);
            assertThat(a.string(80)).as("the name file, cut to 15").isEqualTo("hosttemp-sensor");

            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 12), 0, 1);
            assertThat(a.usedLength()).isEqualTo(12 + 2 * 28);
            assertThat(a.value(0)).as("2 returned from axis 1").isEqualTo(2);
            assertThat(a.value(1)).isEqualTo(1);
            assertThat(a.value(3)).isEqualTo(ScmiSensor.UNIT_METERS_PER_SECOND_SQUARED);
            assertThat(a.string(24)).isEqualTo("acc_Y");
            assertThat(a.string(52)).isEqualTo("acc_Z");

            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 13), 0, 0);
            assertThat(a.usedLength()).as("3 axes of 16 bytes").isEqualTo(8 + 48);
            final int v = a.value(0);
            assertThat(new int[] {a.value(4), a.value(8)}).containsExactly(v + 100, v + 200);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 14), 0, 0).value(0))
                .as("the fake counts up").isEqualTo(v + 1);
            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 15), 1, 0);
            assertThat(a.usedLength()).isEqualTo(8 + 16);
            final int t = a.value(0);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 16), 1, 0).value(0))
                .isEqualTo(t + 1);
            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 17), 2, 0);
            assertThat(a.value(0)).as("(raw + offset) × scale").isEqualTo(42000);
            assertThat(a.value(1)).isZero();
            Files.writeString(iio.resolve("in_temp_raw"), "-1500\n");
            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 18), 2, 0);
            assertThat(a.value(0)).as("read at each command").isEqualTo(-1000);
            assertThat(a.value(1)).as("sign-extended to 64 bits").isEqualTo(-1);

            // Disabled and enabled again, as Linux's scmi_iio does.
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_GET, 19), 1).value(0)).isEqualTo(1);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_SET, 20), 1, 0).status()).isZero();
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_GET, 21), 1).value(0)).isZero();
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 22), 1, 0).status())
                .isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_SET, 23), 1, 1).status()).isZero();
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONTINUOUS_UPDATE_NOTIFY, 24), 0, 1).status())
                .isZero();
            assertThat(device.refusedMessages()).isEqualTo(1);
            session.stop();
        });
    }

    @Test
    void hostileCommandsAreAnsweredWithTheirStatusAndTheNextIsServed() throws Exception
    {
        start(List.of(new FakeSensor("a", FakeSensor.Kind.ACCELEROMETER),
            new FakeSensor("t", FakeSensor.Kind.THERMOMETER)));
        served.drive(4L << 20, 1, SESSION, (_, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(ScmiDevice.COMMAND_QUEUE);
            Answer a = send(q, header(0x14, 0, 1));
            assertThat(a.status()).as("protocol 0x14 (clock)").isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(a.usedLength()).isEqualTo(8);
            assertThat(send(q, header(BASE, 0x7, 2)).status()).as("DISCOVER_AGENT")
                .isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(send(q, header(SENSOR, 0xFF, 3)).status()).isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(send(q, header(SENSOR, ScmiPlatform.VERSION, 4) | 3 << 8).status())
                .as("a notification-type message").isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 5), 2, 0).status())
                .as("sensor 2 of 2").isEqualTo(ScmiPlatform.NOT_FOUND);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_SET, 6), -1, 1).status())
                .as("sensor 0xffffffff").isEqualTo(ScmiPlatform.NOT_FOUND);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 7), 5, 0).status())
                .isEqualTo(ScmiPlatform.NOT_FOUND);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 8), 1, 0).status())
                .as("a scalar sensor has no axes").isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 9), 0, 3).status())
                .as("axis 3 of 3").isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_DESCRIPTION_GET, 10), 2).status())
                .as("descriptions from index 2 of 2").isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 11), 0, 1).status())
                .as("asynchronous reading").isEqualTo(ScmiPlatform.NOT_SUPPORTED);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_SET, 12), 0, 0x800).status())
                .as("an update interval").isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(SENSOR, ScmiPlatform.MESSAGE_ATTRIBUTES, 13), 0x5).status())
                .as("TRIP_POINT_CONFIG").isEqualTo(ScmiPlatform.NOT_FOUND);
            assertThat(send(q, header(SENSOR, ScmiPlatform.MESSAGE_ATTRIBUTES, 14), 0x100).status())
                .isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(BASE, ScmiPlatform.DISCOVER_LIST_PROTOCOLS, 15), 2).status())
                .as("skip 2 of 1").isEqualTo(ScmiPlatform.INVALID_PARAMETERS);
            assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 16), 0).status())
                .as("READING_GET without its flags").isEqualTo(ScmiPlatform.PROTOCOL_ERROR);
            a = send(q, new byte[] {1, 2}, PDU);
            assertThat(a.status()).as("shorter than the header").isEqualTo(ScmiPlatform.PROTOCOL_ERROR);
            assertThat(a.usedLength()).isEqualTo(8);
            a = send(q, new byte[0], PDU);
            assertThat(a.status()).as("no command at all").isEqualTo(ScmiPlatform.PROTOCOL_ERROR);
            a = send(q, command(header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 17), 0, 0), 40);
            assertThat(a.status()).as("3 axes do not fit 40 bytes").isEqualTo(ScmiPlatform.COMMS_ERROR);
            assertThat(a.usedLength()).isEqualTo(8);
            a = send(q, command(header(SENSOR, ScmiPlatform.SENSOR_DESCRIPTION_GET, 18), 0), 12 + 28);
            assertThat(a.status()).as("a page of one").isEqualTo(ScmiPlatform.SUCCESS);
            assertThat(a.value(0)).as("1 returned, 1 remaining").isEqualTo(1 | 1 << 16);
            a = send(q, command(header(SENSOR, ScmiPlatform.VERSION, 19)), 7);
            assertThat(a.usedLength()).as("no room for header and status: returned empty").isZero();
            assertThat(a.bytes().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0xEE);
            assertThat(device.refusedMessages()).isEqualTo(20);

            a = send(q, header(SENSOR, ScmiPlatform.SENSOR_READING_GET, 20), 1, 0);
            assertThat(a.status()).as("served on").isEqualTo(ScmiPlatform.SUCCESS);
            session.stop();
        });
    }

    @Test
    void listensAgainForTheNextFrontEndWithTheSensorsEnabled() throws Exception
    {
        start(List.of(new FakeSensor("t", FakeSensor.Kind.THERMOMETER)));
        for (final int vm : new int[] {0, 1})
        {
            served.drive(4L << 20, 1, SESSION, (_, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(ScmiDevice.COMMAND_QUEUE);
                assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_GET, 1), 0).value(0))
                    .as("front-end %d finds the sensor enabled", vm).isEqualTo(1);
                assertThat(send(q, header(SENSOR, ScmiPlatform.SENSOR_CONFIG_SET, 2), 0, 0).status()).isZero();
            });
        }
    }
}
