package io.jvhost.device.rtc;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.List;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.rtc.wire.AlarmNotification;
import io.jvhost.device.rtc.wire.ClockRequest;
import io.jvhost.device.rtc.wire.CrossRequest;
import io.jvhost.device.rtc.wire.RequestHead;
import io.jvhost.device.rtc.wire.Response;
import io.jvhost.device.rtc.wire.SetAlarmEnabledRequest;
import io.jvhost.device.rtc.wire.SetAlarmRequest;
import io.jvhost.os.HostClock;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-rtc (virtio ID 17): the host's clocks read by the guest, and an alarm, as rust-vmm's vhost-device-rtc offers
 * them. Queue 0 (requestq) carries requests answered at once; queue 1 (alarmq, with {@link #F_ALARM}) holds the
 * driver's buffers for alarm notifications.
 * <p>
 * Clock ids are indices into the clock list (UTC, TAI, monotonic, less those switched off). CFG, CLOCK_CAP, READ and
 * CROSS_CAP (no cross-timestamping: flags 0) are answered for any clock; READ_CROSS is {@code EOPNOTSUPP}. With
 * {@link #F_ALARM} negotiated, READ_ALARM, SET_ALARM and SET_ALARM_ENABLED work on a clock that has an alarm (UTC);
 * without it they are {@code EOPNOTSUPP}. A request shorter than its structure, a clock id out of range, an alarm
 * request for a clock without alarm, or a response that does not fit the writable part is {@code EINVAL}; an unknown
 * message type is {@code EOPNOTSUPP}; a clock the host fails to read is {@code EIO}. A chain without room for the 8-byte
 * response head is returned with nothing written. Refusals are one log line each (the first ten, then every
 * thousandth).
 * <p>
 * The alarm needs no thread: both queues are served by one worker, and when an enabled alarm is armed the alarm
 * queue asks to be served again when it is due ({@link DeviceQueue#retryAfter}, at most a second ahead, so a host
 * clock that steps is noticed). Alarm buffers are taken from the ring only when a notification is due, so none is
 * ever held by the device (a VM stop and cont cannot lose one); an expired alarm whose notification finds no buffer
 * waits for the driver's next one. After its notification the alarm stays enabled, as in vhost-device-rtc, but does
 * not fire again until it is set or enabled anew, or the device is reset: a driver reset keeps the alarm (time and
 * enabled state) and an enabled alarm that is due fires again after it (see {@link #reset()}); a new front-end finds
 * every alarm cleared.
 * <p>
 * Steady state allocates nothing: requests are copied into one scratch buffer, responses built in another.
 */
public final class RtcDevice implements VirtioDevice
{
    public static final int DEVICE_TYPE = 17;
    public static final int QUEUE_SIZE = 1024;
    public static final int REQUEST_QUEUE = 0;
    public static final int ALARM_QUEUE = 1;
    /** VIRTIO_RTC_F_ALARM. */
    public static final int F_ALARM = 0;

    public static final int REQ_READ = 0x0001;
    public static final int REQ_READ_CROSS = 0x0002;
    public static final int REQ_CFG = 0x1000;
    public static final int REQ_CLOCK_CAP = 0x1001;
    public static final int REQ_CROSS_CAP = 0x1002;
    public static final int REQ_READ_ALARM = 0x1003;
    public static final int REQ_SET_ALARM = 0x1004;
    public static final int REQ_SET_ALARM_ENABLED = 0x1005;

    public static final int S_OK = 0;
    public static final int S_EOPNOTSUPP = 2;
    public static final int S_ENODEV = 3;
    public static final int S_EINVAL = 4;
    public static final int S_EIO = 5;

    /** VIRTIO_RTC_FLAG_ALARM_CAP in CLOCK_CAP's flags, VIRTIO_RTC_FLAG_ALARM_ENABLED in the alarm requests'. */
    public static final int FLAG_ALARM = 1;

    /** The longest the alarm queue waits before it looks at the clock again. */
    static final long MAX_ALARM_WAIT_NANOS = 1_000_000_000L;

    private static final System.Logger LOG = System.getLogger(RtcDevice.class.getName());

    private final String name;
    private final RtcClock[] clocks;
    private final boolean offerAlarm;
    private final MemorySegment request = MemorySegment.ofArray(new byte[SetAlarmRequest.SIZE]);
    private final MemorySegment response = MemorySegment.ofArray(new byte[Response.MAX_SIZE]);
    private final RequestHead head = new RequestHead();
    private final ClockRequest clockRequest = new ClockRequest();
    private final CrossRequest crossRequest = new CrossRequest();
    private final SetAlarmRequest setAlarm = new SetAlarmRequest();
    private final SetAlarmEnabledRequest setAlarmEnabled = new SetAlarmEnabledRequest();
    private final Response resp = new Response();
    private final AlarmNotification notification = new AlarmNotification();
    private volatile DeviceContext context;
    private volatile boolean alarmNegotiated;
    private final Refusals refusals;
    private long alarmsNotified;

    /**
     * @param clocks     the clocks, by clock id (at most 65,535).
     * @param offerAlarm offer {@link #F_ALARM} (vhost-device-rtc's default; {@code --no-offer-alarm} clears it).
     */
    public RtcDevice(final String name, final List<RtcClock> clocks, final boolean offerAlarm)
    {
        if (clocks.size() > 0xFFFF)
        {
            throw new IllegalArgumentException("at most 65535 clocks, got " + clocks.size());
        }
        this.name = name;
        this.refusals = new Refusals(LOG, name, "request");
        this.clocks = clocks.toArray(RtcClock[]::new);
        this.offerAlarm = offerAlarm;
        head.wrap(request);
        clockRequest.wrap(request);
        crossRequest.wrap(request);
        setAlarm.wrap(request);
        setAlarmEnabled.wrap(request);
        resp.wrap(response);
        notification.wrap(response);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "rtc";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE | (offerAlarm ? 1L << F_ALARM : 0);
    }

    /**
     * A new front-end is another machine: it starts with every alarm as the spec's initial state (time 0, disabled),
     * and learns nothing of the last one's.
     */
    @Override
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
        for (final RtcClock c : clocks)
        {
            c.clearAlarm();
        }
    }

    @Override
    public void featuresAcked(final long features)
    {
        alarmNegotiated = offerAlarm && (features & 1L << F_ALARM) != 0;
    }

    /**
     * @return requests refused with an error status or returned empty.
     */
    public long refusedRequests()
    {
        return refusals.count();
    }

    /**
     * @return alarm notifications delivered.
     */
    public long alarmsNotified()
    {
        return alarmsNotified;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() == REQUEST_QUEUE)
        {
            DescriptorChain chain;
            while (null != (chain = queue.next()))
            {
                queue.complete(chain, answer(chain));
            }
        }
        else if (alarmNegotiated)
        {
            serveAlarms(queue);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // requestq

    private long answer(final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        if (out.remaining() < Response.HEAD_SIZE)
        {
            refusals.refuse(chain, "has " + out.remaining() + " writable bytes, too few for the 8-byte response head;"
                + " returned empty");
            return 0;
        }
        int size = respond(chain);
        if (size > out.remaining())
        {
            refusals.refuse(chain, "needs " + size + " writable bytes for its response, has " + out.remaining());
            size = resp.status(S_EINVAL);
        }
        try
        {
            out.write(response, 0, size);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return size;
    }

    /**
     * @return the size of the response built in {@link #response}.
     */
    private int respond(final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        final long readable = in.remaining();
        if (readable < RequestHead.SIZE)
        {
            refusals.refuse(chain, "has " + readable + " readable bytes, fewer than the 8-byte request head");
            return resp.status(S_EINVAL);
        }
        final int n = (int)Math.min(readable, request.byteSize());
        try
        {
            in.read(request, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return resp.status(S_EINVAL);
        }
        final int type = head.msgType();
        return switch (type)
        {
            case REQ_CFG -> resp.cfg(clocks.length);
            case REQ_CLOCK_CAP ->
            {
                final RtcClock c = clock(chain, type, n, ClockRequest.SIZE, clockRequest.clockId());
                yield null == c ? resp.status(S_EINVAL) : resp.clockCap(c.type(), RtcClock.SMEAR_UNSPECIFIED,
                    alarmNegotiated && c.alarmCapable() ? FLAG_ALARM : 0);
            }
            case REQ_READ ->
            {
                final RtcClock c = clock(chain, type, n, ClockRequest.SIZE, clockRequest.clockId());
                yield null == c ? resp.status(S_EINVAL) : read(chain, c);
            }
            case REQ_CROSS_CAP ->
            {
                final RtcClock c = clock(chain, type, n, CrossRequest.SIZE, crossRequest.clockId());
                yield null == c ? resp.status(S_EINVAL) : resp.crossCap(0);
            }
            case REQ_READ_CROSS -> resp.status(S_EOPNOTSUPP);
            case REQ_READ_ALARM, REQ_SET_ALARM, REQ_SET_ALARM_ENABLED -> alarmRequest(chain, type, n);
            default ->
            {
                refusals.refuse(chain, "has unknown msg_type 0x" + Integer.toHexString(type));
                yield resp.status(S_EOPNOTSUPP);
            }
        };
    }

    private int read(final DescriptorChain chain, final RtcClock c)
    {
        final long now = c.read();
        if (now == HostClock.FAILED)
        {
            refusals.refuse(chain, "reads the " + c.name() + " clock, which the host failed to read");
            return resp.status(S_EIO);
        }
        return resp.read(now);
    }

    private int alarmRequest(final DescriptorChain chain, final int type, final int length)
    {
        if (!alarmNegotiated)
        {
            refusals.refuse(chain, "is alarm request 0x" + Integer.toHexString(type)
                + " but VIRTIO_RTC_F_ALARM was not " + (offerAlarm ? "negotiated" : "offered"));
            return resp.status(S_EOPNOTSUPP);
        }
        final int size = type == REQ_SET_ALARM ? SetAlarmRequest.SIZE : ClockRequest.SIZE;
        final int id = type == REQ_SET_ALARM ? setAlarm.clockId()
            : type == REQ_SET_ALARM_ENABLED ? setAlarmEnabled.clockId() : clockRequest.clockId();
        final RtcClock c = clock(chain, type, length, size, id);
        if (null == c)
        {
            return resp.status(S_EINVAL);
        }
        if (!c.alarmCapable())
        {
            refusals.refuse(chain, "asks for the alarm of clock " + id + " (" + c.name() + "), which has none");
            return resp.status(S_EINVAL);
        }
        if (type == REQ_READ_ALARM)
        {
            return resp.readAlarm(c.alarmTime(), c.alarmEnabled() ? FLAG_ALARM : 0);
        }
        if (c.read() == HostClock.FAILED)
        {
            refusals.refuse(chain, "sets the alarm of the " + c.name() + " clock, which the host failed to read");
            return resp.status(S_EIO);
        }
        if (type == REQ_SET_ALARM)
        {
            c.setAlarm(setAlarm.alarmTime(), (setAlarm.flags() & FLAG_ALARM) != 0);
        }
        else
        {
            c.setAlarmEnabled((setAlarmEnabled.flags() & FLAG_ALARM) != 0);
        }
        final DeviceContext ctx = context;
        if (null != ctx)
        {
            ctx.wake(ALARM_QUEUE);
        }
        return resp.status(S_OK);
    }

    /**
     * @return clock {@code id} when the request holds {@code size} bytes and the clock exists; else null (logged).
     */
    private RtcClock clock(final DescriptorChain chain, final int type, final int length, final int size,
        final int id)
    {
        if (length < size)
        {
            refusals.refuse(chain, "is msg_type 0x" + Integer.toHexString(type) + " of " + length
                + " bytes, shorter than its " + size);
            return null;
        }
        if (id >= clocks.length)
        {
            refusals.refuse(chain, "names clock " + id + "; the device has " + clocks.length);
            return null;
        }
        return clocks[id];
    }

    // ---------------------------------------------------------------------------------------------------------------
    // alarmq

    private void serveAlarms(final DeviceQueue queue)
    {
        long wait = Long.MAX_VALUE;
        for (int id = 0; id < clocks.length; id++)
        {
            final RtcClock c = clocks[id];
            if (!c.alarmArmed())
            {
                continue;
            }
            final long now = c.read();
            if (now == HostClock.FAILED)
            {
                wait = Math.min(wait, MAX_ALARM_WAIT_NANOS);
            }
            else if (Long.compareUnsigned(now, c.alarmTime()) < 0)
            {
                wait = Math.min(wait, Long.compareUnsigned(c.alarmTime() - now, MAX_ALARM_WAIT_NANOS) < 0
                    ? c.alarmTime() - now : MAX_ALARM_WAIT_NANOS);
            }
            else if (!notify(queue, id))
            {
                // No buffer: the driver's next one (its kick) brings the notification.
                break;
            }
        }
        if (wait != Long.MAX_VALUE)
        {
            queue.retryAfter(wait);
        }
    }

    /**
     * @return false when the driver has no alarm buffer available.
     */
    private boolean notify(final DeviceQueue queue, final int id)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final ChainWriter out = chain.writer();
            if (chain.readableCount() > 0 || out.remaining() < AlarmNotification.SIZE)
            {
                refusals.refuse(chain, "is an alarmq buffer of " + out.remaining() + " writable and "
                    + chain.readableBytes() + " readable bytes; it needs " + AlarmNotification.SIZE
                    + " writable only. Returned empty");
                queue.complete(chain, 0);
                continue;
            }
            final int size = notification.write(id);
            try
            {
                out.write(response, 0, size);
            }
            catch (final ChainAccessException e)
            {
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, size);
            clocks[id].alarmNotified();
            alarmsNotified++;
            LOG.log(Level.INFO, name + ": alarm of clock " + id + " (" + clocks[id].name() + ") notified");
            return true;
        }
        return false;
    }

    /**
     * A driver reset (reboot, resume from sleep, driver bound again) keeps every alarm's time and enabled state, as
     * virtio-rtc allows ("the device may retain alarm times across device resets") for a driver that resumes from
     * sleep; an enabled alarm whose time has come expires again (the spec counts the reset as an expiration event)
     * and is notified once the driver has alarm buffers out. A driver that does not want an old alarm clears it,
     * as the spec advises, with SET_ALARM(0, disabled) after the reset. A VM stop and cont is no reset: nothing
     * changes.
     */
    @Override
    public void reset()
    {
        alarmNegotiated = false;
        for (final RtcClock c : clocks)
        {
            c.alarmAfterReset();
        }
    }
}
