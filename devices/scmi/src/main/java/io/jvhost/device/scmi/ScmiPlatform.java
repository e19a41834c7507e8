package io.jvhost.device.scmi;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import io.jvhost.device.LogThrottle;
import io.jvhost.device.scmi.wire.Request;
import io.jvhost.device.scmi.wire.Response;

/**
 * The SCMI platform (the server side of DEN0056) the guest's agent talks to, free of the transport: a command in
 * {@link #request()}, its answer built in {@link #response()}. It implements the BASE protocol 0x10 (v2.0) and the
 * SENSOR protocol 0x15 (v3.0) over the configured sensors, sensor id = index, as vhost-device-scmi does.
 * <p>
 * BASE: VERSION, PROTOCOL_ATTRIBUTES (one protocol besides BASE, no agents), MESSAGE_ATTRIBUTES, DISCOVER_VENDOR
 * ({@value #VENDOR}), DISCOVER_SUB_VENDOR ({@value #SUB_VENDOR}), DISCOVER_IMPLEMENTATION_VERSION, and
 * DISCOVER_LIST_PROTOCOLS. SENSOR: VERSION, PROTOCOL_ATTRIBUTES, MESSAGE_ATTRIBUTES, DESCRIPTION_GET (paged to the
 * room the response has), READING_GET (synchronous only), AXIS_DESCRIPTION_GET, CONFIG_GET, CONFIG_SET (bit 0, the
 * enabled state, only) and CONTINUOUS_UPDATE_NOTIFY (accepted; as vhost-device-scmi's fake sensor, no SENSOR_UPDATE is
 * ever sent: the device offers no P2A channel).
 * <p>
 * Status codes: an unknown protocol or message, a message type other than command, or an asynchronous reading is
 * NOT_SUPPORTED; a sensor id out of range NOT_FOUND (MESSAGE_ATTRIBUTES of an unknown message too); a message shorter
 * than its parameters PROTOCOL_ERROR; an index past the end, a message id above 255, configuration bits other than
 * bit 0, or reading a disabled sensor INVALID_PARAMETERS; a sensor the host fails to read GENERIC_ERROR; a response
 * that does not fit the room COMMS_ERROR. Sensors start enabled (Linux's scmi-hwmon never enables them), unlike
 * vhost-device-scmi's, which read only after CONFIG_SET.
 * <p>
 * Nothing is allocated per message.
 */
public final class ScmiPlatform
{
    public static final int BASE = 0x10;
    public static final int SENSOR = 0x15;

    public static final int BASE_VERSION_VALUE = 0x2_0000;
    public static final int SENSOR_VERSION_VALUE = 0x3_0000;
    public static final int IMPLEMENTATION_VERSION = 0x0001_0000;
    public static final String VENDOR = "jvhost";
    public static final String SUB_VENDOR = "vhost-user";

    // Messages every protocol has.
    public static final int VERSION = 0x0;
    public static final int PROTOCOL_ATTRIBUTES = 0x1;
    public static final int MESSAGE_ATTRIBUTES = 0x2;
    // BASE
    public static final int DISCOVER_VENDOR = 0x3;
    public static final int DISCOVER_SUB_VENDOR = 0x4;
    public static final int DISCOVER_IMPLEMENTATION_VERSION = 0x5;
    public static final int DISCOVER_LIST_PROTOCOLS = 0x6;
    // SENSOR
    public static final int SENSOR_DESCRIPTION_GET = 0x3;
    public static final int SENSOR_TRIP_POINT_NOTIFY = 0x4;
    public static final int SENSOR_TRIP_POINT_CONFIG = 0x5;
    public static final int SENSOR_READING_GET = 0x6;
    public static final int SENSOR_AXIS_DESCRIPTION_GET = 0x7;
    public static final int SENSOR_LIST_UPDATE_INTERVALS = 0x8;
    public static final int SENSOR_CONFIG_GET = 0x9;
    public static final int SENSOR_CONFIG_SET = 0xA;
    public static final int SENSOR_CONTINUOUS_UPDATE_NOTIFY = 0xB;

    public static final int SUCCESS = 0;
    public static final int NOT_SUPPORTED = -1;
    public static final int INVALID_PARAMETERS = -2;
    public static final int DENIED = -3;
    public static final int NOT_FOUND = -4;
    public static final int OUT_OF_RANGE = -5;
    public static final int BUSY = -6;
    public static final int COMMS_ERROR = -7;
    public static final int GENERIC_ERROR = -8;
    public static final int HARDWARE_ERROR = -9;
    public static final int PROTOCOL_ERROR = -10;

    /** SENSOR_DESCRIPTION_GET's and AXIS_DESCRIPTION_GET's descriptor: id, attributes low and high, name. */
    public static final int DESCRIPTOR_SIZE = 28;
    /** The largest response built: a description page of up to 64 descriptors. */
    public static final int MAX_RESPONSE = 12 + DESCRIPTOR_SIZE * 64;

    /** Sensor attributes_low bit 30: continuous update notifications supported (Linux's scmi_iio requires it). */
    static final int ATTR_UPDATE_NOTIFY = 1 << 30;
    /** Sensor attributes_high bit 8: multi-axis. */
    static final int ATTR_AXES = 1 << 8;

    private static final long BASE_MESSAGES = bits(VERSION, PROTOCOL_ATTRIBUTES, MESSAGE_ATTRIBUTES, DISCOVER_VENDOR,
        DISCOVER_SUB_VENDOR, DISCOVER_IMPLEMENTATION_VERSION, DISCOVER_LIST_PROTOCOLS);
    private static final long SENSOR_MESSAGES = bits(VERSION, PROTOCOL_ATTRIBUTES, MESSAGE_ATTRIBUTES,
        SENSOR_DESCRIPTION_GET, SENSOR_READING_GET, SENSOR_AXIS_DESCRIPTION_GET, SENSOR_CONFIG_GET, SENSOR_CONFIG_SET,
        SENSOR_CONTINUOUS_UPDATE_NOTIFY);

    private static final System.Logger LOG = System.getLogger(ScmiPlatform.class.getName());

    private final String name;
    private final ScmiSensor[] sensors;
    private final byte[] vendor = ScmiSensor.string16("vendor", VENDOR);
    private final byte[] subVendor = ScmiSensor.string16("sub-vendor", SUB_VENDOR);
    private final MemorySegment requestBuffer = MemorySegment.ofArray(new byte[Request.MAX_SIZE]);
    private final MemorySegment responseBuffer = MemorySegment.ofArray(new byte[MAX_RESPONSE]);
    private final Request request = new Request();
    private final Response response = new Response();
    private final long[] values = new long[ScmiSensor.MAX_AXES];
    private long refused;

    /**
     * @param name    the device's name in log lines.
     * @param sensors the SENSOR protocol's sensors, by id (at most 65,535).
     */
    public ScmiPlatform(final String name, final List<ScmiSensor> sensors)
    {
        if (sensors.size() > 0xFFFF)
        {
            throw new IllegalArgumentException("at most 65535 sensors, got " + sensors.size());
        }
        this.name = name;
        this.sensors = sensors.toArray(ScmiSensor[]::new);
        request.wrap(requestBuffer);
        response.wrap(responseBuffer);
    }

    private static long bits(final int... ids)
    {
        long b = 0;
        for (final int id : ids)
        {
            b |= 1L << id;
        }
        return b;
    }

    /**
     * @return where the transport copies a command (at most {@link Request#MAX_SIZE} bytes of it).
     */
    public MemorySegment request()
    {
        return requestBuffer;
    }

    /**
     * @return where {@link #handle} builds the response.
     */
    public MemorySegment response()
    {
        return responseBuffer;
    }

    public int sensorCount()
    {
        return sensors.length;
    }

    public ScmiSensor sensor(final int id)
    {
        return sensors[id];
    }

    /**
     * @return commands answered with an error status.
     */
    public long refusedMessages()
    {
        return refused;
    }

    /**
     * Answers the command in {@link #request()}.
     *
     * @param length the command's full length (it may be longer than what was copied).
     * @param room   the bytes the response may take, at least {@link Response#HEAD_SIZE}.
     * @return the size of the response in {@link #response()}, at most {@code room}.
     */
    public int handle(final int length, final int room)
    {
        final int limit = Math.min(room, MAX_RESPONSE);
        if (length < Request.HEADER_SIZE)
        {
            // No header to echo: what there is of it, zero-padded.
            for (int i = length; i < Request.HEADER_SIZE; i++)
            {
                requestBuffer.set(ValueLayout.JAVA_BYTE, i, (byte)0);
            }
            return refuse(request.header(), PROTOCOL_ERROR, Why.SHORT, length, 0);
        }
        final int header = request.header();
        final int params = (length - Request.HEADER_SIZE) / 4;
        if (Request.messageType(header) != 0)
        {
            return refuse(header, NOT_SUPPORTED, Why.TYPE, Request.messageType(header), 0);
        }
        final int protocol = Request.protocolId(header);
        final int message = Request.messageId(header);
        final long supported = protocol == BASE ? BASE_MESSAGES : protocol == SENSOR ? SENSOR_MESSAGES : 0;
        if (message >= 64 || (supported & 1L << message) == 0)
        {
            return refuse(header, NOT_SUPPORTED, Why.UNKNOWN, message, protocol);
        }
        final int needed = parameters(protocol, message);
        if (params < needed)
        {
            return refuse(header, PROTOCOL_ERROR, Why.PARAMETERS, message, params);
        }
        final int size = protocol == BASE ? base(header, message, limit) : sensor(header, message, limit);
        if (size > limit)
        {
            return refuse(header, COMMS_ERROR, Why.ROOM, size, limit);
        }
        return size;
    }

    private static int parameters(final int protocol, final int message)
    {
        if (message == MESSAGE_ATTRIBUTES)
        {
            return 1;
        }
        if (protocol == BASE)
        {
            return message == DISCOVER_LIST_PROTOCOLS ? 1 : 0;
        }
        return switch (message)
        {
            case SENSOR_DESCRIPTION_GET, SENSOR_CONFIG_GET -> 1;
            case SENSOR_READING_GET, SENSOR_AXIS_DESCRIPTION_GET, SENSOR_CONFIG_SET,
                 SENSOR_CONTINUOUS_UPDATE_NOTIFY -> 2;
            default -> 0;
        };
    }

    // ---------------------------------------------------------------------------------------------------------------
    // BASE

    private int base(final int header, final int message, final int limit)
    {
        return switch (message)
        {
            case VERSION -> ok(header, BASE_VERSION_VALUE);
            // bits 15..8 agents (none reported), 7..0 protocols other than BASE.
            case PROTOCOL_ATTRIBUTES -> ok(header, 1);
            case MESSAGE_ATTRIBUTES -> messageAttributes(header, BASE_MESSAGES);
            case DISCOVER_VENDOR -> response.string(response.head(header, SUCCESS), vendor);
            case DISCOVER_SUB_VENDOR -> response.string(response.head(header, SUCCESS), subVendor);
            case DISCOVER_IMPLEMENTATION_VERSION -> ok(header, IMPLEMENTATION_VERSION);
            default -> listProtocols(header);
        };
    }

    private int listProtocols(final int header)
    {
        final int skip = request.param(0);
        if (Integer.compareUnsigned(skip, 1) > 0)
        {
            return refuse(header, INVALID_PARAMETERS, Why.SKIP, Integer.toUnsignedLong(skip), 0);
        }
        if (skip == 1)
        {
            return ok(header, 0);
        }
        final int at = response.word(response.head(header, SUCCESS), 1);
        return response.word(at, SENSOR);
    }

    private int messageAttributes(final int header, final long supported)
    {
        final int id = request.param(0);
        if (Integer.compareUnsigned(id, 0xFF) > 0)
        {
            return refuse(header, INVALID_PARAMETERS, Why.MESSAGE_ID, Integer.toUnsignedLong(id), 0);
        }
        if (id >= 64 || (supported & 1L << id) == 0)
        {
            return refuse(header, NOT_FOUND, Why.NO_MESSAGE, id, 0);
        }
        return ok(header, 0);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // SENSOR

    private int sensor(final int header, final int message, final int limit)
    {
        return switch (message)
        {
            case VERSION -> ok(header, SENSOR_VERSION_VALUE);
            case PROTOCOL_ATTRIBUTES ->
            {
                // num_sensors, max_requests 0 (no asynchronous reads), no shared memory for statistics.
                int at = response.word(response.head(header, SUCCESS), sensors.length);
                at = response.word(at, 0);
                at = response.word(at, 0);
                yield response.word(at, 0);
            }
            case MESSAGE_ATTRIBUTES -> messageAttributes(header, SENSOR_MESSAGES);
            case SENSOR_DESCRIPTION_GET -> describe(header, limit);
            case SENSOR_READING_GET -> reading(header);
            case SENSOR_AXIS_DESCRIPTION_GET -> describeAxes(header, limit);
            case SENSOR_CONFIG_GET ->
            {
                final ScmiSensor s = sensorOf(header);
                yield null == s ? HEADER_WRITTEN : ok(header, s.enabled() ? 1 : 0);
            }
            case SENSOR_CONFIG_SET -> configSet(header);
            default ->
            {
                // CONTINUOUS_UPDATE_NOTIFY: accepted for an existing sensor.
                final ScmiSensor s = sensorOf(header);
                yield null == s ? HEADER_WRITTEN : response.head(header, SUCCESS);
            }
        };
    }

    /** What a handler that refused returns: the head with the status is already in the response. */
    private static final int HEADER_WRITTEN = Response.HEAD_SIZE;

    /**
     * @return the sensor parameter 0 names, or null with NOT_FOUND written.
     */
    private ScmiSensor sensorOf(final int header)
    {
        final int id = request.param(0);
        if (Integer.compareUnsigned(id, sensors.length) >= 0)
        {
            refuse(header, NOT_FOUND, Why.NO_SENSOR, Integer.toUnsignedLong(id), sensors.length);
            return null;
        }
        return sensors[id];
    }

    private int describe(final int header, final int limit)
    {
        final int first = request.param(0);
        if (Integer.compareUnsigned(first, sensors.length) > 0 || first == sensors.length && sensors.length > 0)
        {
            return refuse(header, INVALID_PARAMETERS, Why.DESCRIPTION_INDEX, Integer.toUnsignedLong(first),
                sensors.length);
        }
        final int fit = Math.max(0, (limit - Response.HEAD_SIZE - 4) / DESCRIPTOR_SIZE);
        final int n = Math.min(sensors.length - first, fit);
        if (n == 0 && sensors.length > 0)
        {
            return Response.HEAD_SIZE + 4 + DESCRIPTOR_SIZE;
        }
        final int remaining = sensors.length - first - n;
        int at = response.word(response.head(header, SUCCESS), n | remaining << 16);
        for (int id = first; id < first + n; id++)
        {
            final ScmiSensor s = sensors[id];
            at = response.word(at, id);
            at = response.word(at, ATTR_UPDATE_NOTIFY);
            at = response.word(at, s.axes() > 0 ? s.axes() << 16 | ATTR_AXES : unitAttributes(s, 0));
            at = response.string(at, s.name16());
        }
        return at;
    }

    /**
     * @return attributes_high's unit part: the exponent in bits 15..11 (5-bit two's complement), the unit in 7..0.
     */
    private static int unitAttributes(final ScmiSensor s, final int axis)
    {
        return (s.exponent(axis) & 0x1F) << 11 | s.unit() & 0xFF;
    }

    private int describeAxes(final int header, final int limit)
    {
        final ScmiSensor s = sensorOf(header);
        if (null == s)
        {
            return HEADER_WRITTEN;
        }
        if (s.axes() == 0)
        {
            return refuse(header, NOT_SUPPORTED, Why.SCALAR, request.param(0), 0);
        }
        final int first = request.param(1);
        if (Integer.compareUnsigned(first, s.axes()) >= 0)
        {
            return refuse(header, INVALID_PARAMETERS, Why.AXIS_INDEX, Integer.toUnsignedLong(first), s.axes());
        }
        final int fit = Math.max(0, (limit - Response.HEAD_SIZE - 4) / DESCRIPTOR_SIZE);
        final int n = Math.min(s.axes() - first, fit);
        if (n == 0)
        {
            return Response.HEAD_SIZE + 4 + DESCRIPTOR_SIZE;
        }
        final int remaining = s.axes() - first - n;
        int at = response.word(response.head(header, SUCCESS), n | remaining << 26);
        for (int axis = first; axis < first + n; axis++)
        {
            at = response.word(at, axis);
            at = response.word(at, 0);
            at = response.word(at, unitAttributes(s, axis));
            at = response.string(at, s.axisName16(axis));
        }
        return at;
    }

    private int reading(final int header)
    {
        final ScmiSensor s = sensorOf(header);
        if (null == s)
        {
            return HEADER_WRITTEN;
        }
        if ((request.param(1) & 1) != 0)
        {
            return refuse(header, NOT_SUPPORTED, Why.ASYNC, request.param(0), 0);
        }
        if (!s.enabled())
        {
            return refuse(header, INVALID_PARAMETERS, Why.DISABLED, request.param(0), 0);
        }
        if (!s.read(values))
        {
            return refuse(header, GENERIC_ERROR, Why.HOST, request.param(0), 0);
        }
        int at = response.head(header, SUCCESS);
        for (int i = 0; i < s.values(); i++)
        {
            at = response.word(at, (int)values[i]);
            at = response.word(at, (int)(values[i] >>> 32));
            at = response.word(at, 0);
            at = response.word(at, 0);
        }
        return at;
    }

    private int configSet(final int header)
    {
        final ScmiSensor s = sensorOf(header);
        if (null == s)
        {
            return HEADER_WRITTEN;
        }
        final int config = request.param(1);
        if ((config & ~1) != 0)
        {
            return refuse(header, INVALID_PARAMETERS, Why.CONFIG, Integer.toUnsignedLong(config),
                request.param(0));
        }
        s.enabled(config != 0);
        return response.head(header, SUCCESS);
    }

    private int ok(final int header, final int value)
    {
        return response.word(response.head(header, SUCCESS), value);
    }

    /**
     * Why a command is refused: a log line's template, with the two numbers a refusal passes ({@code %1$d},
     * {@code %2$d}, {@code %1$x}); formatted only when the line is logged, so a refusal allocates nothing.
     */
    private enum Why
    {
        SHORT("has %1$d bytes, fewer than the 4-byte header"),
        TYPE("has message type %1$d; only commands (0) are served"),
        UNKNOWN("is message 0x%1$x of protocol 0x%2$x, which is not supported"),
        PARAMETERS("is message 0x%1$x with %2$d parameter words, fewer than it needs"),
        ROOM("needs %1$d bytes for its response, has %2$d"),
        SKIP("skips %1$d protocols of 1"),
        MESSAGE_ID("asks for the attributes of message id %1$d, above 255"),
        NO_MESSAGE("asks for the attributes of message 0x%1$x, which is not supported"),
        NO_SENSOR("names sensor %1$d; the device has %2$d"),
        DESCRIPTION_INDEX("asks for sensor descriptions from index %1$d; the device has %2$d sensors"),
        SCALAR("asks for the axes of sensor %1$d, which is scalar"),
        AXIS_INDEX("asks for axis descriptions from index %1$d; the sensor has %2$d axes"),
        ASYNC("asks for an asynchronous reading of sensor %1$d; readings are synchronous only"),
        DISABLED("reads sensor %1$d, which the agent disabled"),
        HOST("reads sensor %1$d, which the host failed to read"),
        CONFIG("sets configuration 0x%1$x of sensor %2$d; only bit 0 (enabled) can be set");

        private final String template;

        Why(final String template)
        {
            this.template = template;
        }
    }

    private int refuse(final int header, final int status, final Why why, final long a, final long b)
    {
        if (LogThrottle.due(++refused))
        {
            LOG.log(Level.WARNING, name + ": SCMI message 0x" + Integer.toHexString(header) + " "
                + why.template.formatted(a, b) + "; answered " + statusName(status) + " (" + refused
                + " refused so far)");
        }
        return response.head(header, status);
    }

    /**
     * @return the name of an SCMI status, e.g. {@code NOT_FOUND}.
     */
    public static String statusName(final int status)
    {
        return switch (status)
        {
            case SUCCESS -> "SUCCESS";
            case NOT_SUPPORTED -> "NOT_SUPPORTED";
            case INVALID_PARAMETERS -> "INVALID_PARAMETERS";
            case DENIED -> "DENIED";
            case NOT_FOUND -> "NOT_FOUND";
            case OUT_OF_RANGE -> "OUT_OF_RANGE";
            case BUSY -> "BUSY";
            case COMMS_ERROR -> "COMMS_ERROR";
            case GENERIC_ERROR -> "GENERIC_ERROR";
            case HARDWARE_ERROR -> "HARDWARE_ERROR";
            case PROTOCOL_ERROR -> "PROTOCOL_ERROR";
            default -> "status " + status;
        };
    }

    /**
     * A new front-end: every sensor enabled again.
     */
    public void reset()
    {
        for (final ScmiSensor s : sensors)
        {
            s.reset();
        }
    }
}
