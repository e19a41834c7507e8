package io.jvhost.device.rtc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

import io.jvhost.os.HostClock;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link RtcDevice} behind the real vhost-user back-end, driven by the in-process front-end as Linux's virtio_rtc
 * driver drives it (one request and one response buffer per request; alarmq buffers of 16 bytes), hostile requests
 * included.
 */
@Timeout(60)
class RtcFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(2, 64);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long SECOND = 1_000_000_000L;

    @TempDir
    Path dir;

    private RtcDevice device;
    private ServedDevice served;

    private record Answer(int usedLength, MemorySegment bytes)
    {
        int status()
        {
            return bytes.get(ValueLayout.JAVA_BYTE, 0) & 0xFF;
        }

        int u8(final int offset)
        {
            return bytes.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
        }

        int u16(final int offset)
        {
            return bytes.get(LE16, offset) & 0xFFFF;
        }

        long u64(final int offset)
        {
            return bytes.get(LE64, offset);
        }
    }

    private void start(final List<RtcClock> clocks, final boolean offerAlarm) throws Exception
    {
        device = new RtcDevice("rtc0", clocks, offerAlarm);
        served = ServedDevice.serve("rtc0", device, dir.resolve("rtc.sock"));
    }

    private void startHostClocks(final boolean offerAlarm) throws Exception
    {
        start(List.of(RtcClock.utc(), RtcClock.tai(), RtcClock.monotonic()), offerAlarm);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
    }

    private static byte[] req(final int type, final int size)
    {
        final byte[] b = new byte[size];
        MemorySegment.ofArray(b).set(LE16, 0, (short)type);
        return b;
    }

    private static byte[] clockReq(final int type, final int clockId)
    {
        final byte[] b = req(type, 16);
        MemorySegment.ofArray(b).set(LE16, 8, (short)clockId);
        return b;
    }

    private static byte[] setAlarm(final int clockId, final long time, final boolean enabled)
    {
        final byte[] b = req(RtcDevice.REQ_SET_ALARM, 24);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE64, 8, time);
        s.set(LE16, 16, (short)clockId);
        b[18] = (byte)(enabled ? 1 : 0);
        return b;
    }

    private static byte[] setAlarmEnabled(final int clockId, final boolean enabled)
    {
        final byte[] b = clockReq(RtcDevice.REQ_SET_ALARM_ENABLED, clockId);
        b[10] = (byte)(enabled ? 1 : 0);
        return b;
    }

    /**
     * One request as Linux sends it: the request in one readable buffer (none when empty), the response buffer.
     */
    private static Answer send(final FrontendQueue q, final byte[] request, final int writable) throws Exception
    {
        final FrontendQueue.Reply r = q.exchange(request, writable, WAIT);
        return new Answer(r.usedLength(), MemorySegment.ofArray(r.bytes()));
    }

    private static long postAlarmBuffer(final GuestRam ram, final FrontendQueue alarmq, final int size)
    {
        final long gpa = ram.allocate(size, 8);
        ram.fill(gpa, size, (byte)0xEE);
        assertThat(alarmq.add(new long[] {gpa}, new int[] {size}, 0, 1)).isNotNegative();
        alarmq.publishAndKick();
        return gpa;
    }

    @Test
    void theGuestReadsTheHostsClocksThroughTheBackEnd() throws Exception
    {
        startHostClocks(true);
        served.drive(4L << 20, 1, SESSION, (_, _, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("vhost-device-rtc's features with the alarm")
                .isEqualTo(0x1_7100_0001L);
            final FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);

            final Answer cfg = send(q, req(RtcDevice.REQ_CFG, 8), 16);
            assertThat(cfg.usedLength()).isEqualTo(16);
            assertThat(cfg.status()).isEqualTo(RtcDevice.S_OK);
            assertThat(cfg.u16(8)).as("num_clocks").isEqualTo(3);

            final int[] types = {RtcClock.TYPE_UTC_SMEARED, RtcClock.TYPE_TAI, RtcClock.TYPE_MONOTONIC};
            for (int id = 0; id < 3; id++)
            {
                final Answer cap = send(q, clockReq(RtcDevice.REQ_CLOCK_CAP, id), 16);
                assertThat(cap.usedLength()).isEqualTo(16);
                assertThat(cap.status()).isEqualTo(RtcDevice.S_OK);
                assertThat(cap.u8(8)).as("type of clock %d", id).isEqualTo(types[id]);
                assertThat(cap.u8(9)).as("smearing unspecified").isZero();
                assertThat(cap.u8(10)).as("alarm flag of clock %d", id).isEqualTo(id == 0 ? RtcDevice.FLAG_ALARM : 0);
                final Answer cross = send(q, clockReq(RtcDevice.REQ_CROSS_CAP, id), 16);
                assertThat(cross.status()).isEqualTo(RtcDevice.S_OK);
                assertThat(cross.u8(8)).as("no cross-timestamping").isZero();
            }

            final long before = System.currentTimeMillis() * 1_000_000L;
            final Answer utc = send(q, clockReq(RtcDevice.REQ_READ, 0), 16);
            final long after = System.currentTimeMillis() * 1_000_000L;
            assertThat(utc.usedLength()).isEqualTo(16);
            assertThat(utc.status()).isEqualTo(RtcDevice.S_OK);
            assertThat(utc.u64(8)).as("UTC within the host's wall clock").isBetween(before - SECOND, after + SECOND);

            final Answer tai = send(q, clockReq(RtcDevice.REQ_READ, 1), 16);
            assertThat(tai.u64(8)).as("TAI: UTC plus the host's TAI offset (0 to 37 s)")
                .isBetween(before - SECOND, after + 38 * SECOND);

            final long monoBefore = System.nanoTime();
            final Answer mono = send(q, clockReq(RtcDevice.REQ_READ, 2), 16);
            final long monoAfter = System.nanoTime();
            assertThat(mono.u64(8)).as("CLOCK_MONOTONIC, which System.nanoTime reads on Linux")
                .isBetween(monoBefore - SECOND, monoAfter + SECOND);

            assertThat(send(q, clockReq(RtcDevice.REQ_READ_CROSS, 0), 24).status())
                .as("no cross-timestamping").isEqualTo(RtcDevice.S_EOPNOTSUPP);
            assertThat(device.refusedRequests()).isZero();
            session.stop();
        });
    }

    @Test
    void anAlarmIsNotifiedOnTheAlarmQueueWhenItIsDueAndNotWhenDisabled() throws Exception
    {
        startHostClocks(true);
        final HostClock realtime = HostClock.open(HostClock.CLOCK_REALTIME);
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);
            final FrontendQueue alarmq = session.queue(RtcDevice.ALARM_QUEUE);
            final long small = postAlarmBuffer(ram, alarmq, 8);
            final long buffer = postAlarmBuffer(ram, alarmq, 16);

            final long at = realtime.nanos() + 300_000_000L;
            assertThat(send(q, setAlarm(0, at, true), 8).status()).isEqualTo(RtcDevice.S_OK);
            final Answer read = send(q, clockReq(RtcDevice.REQ_READ_ALARM, 0), 24);
            assertThat(read.usedLength()).isEqualTo(24);
            assertThat(read.u64(8)).isEqualTo(at);
            assertThat(read.u8(16)).as("enabled").isEqualTo(RtcDevice.FLAG_ALARM);

            assertThat(alarmq.awaitUsed(WAIT)).as("the short buffer refused, then the notification").isEqualTo(2);
            final long firedAt = realtime.nanos();
            assertThat(firedAt).as("not before the alarm time").isGreaterThanOrEqualTo(at);
            assertThat(alarmq.usedLength(0)).as("8-byte buffer returned empty").isZero();
            assertThat(ram.read(small, 8)).containsOnly((byte)0xEE);
            assertThat(alarmq.usedLength(1)).isEqualTo(16);
            final MemorySegment notif = MemorySegment.ofArray(ram.read(buffer, 16));
            assertThat(notif.get(LE16, 0) & 0xFFFF).as("VIRTIO_RTC_NOTIF_ALARM").isEqualTo(0x2000);
            assertThat(notif.get(LE16, 8) & 0xFFFF).as("clock id").isZero();
            assertThat(device.alarmsNotified()).isEqualTo(1);

            // An alarm already past fires at once; a disabled one not at all.
            postAlarmBuffer(ram, alarmq, 16);
            assertThat(send(q, setAlarm(0, realtime.nanos() + 200_000_000L, false), 8).status()).isZero();
            assertThat(send(q, setAlarmEnabled(0, true), 8).status()).isZero();
            assertThat(send(q, setAlarmEnabled(0, false), 8).status()).isZero();
            assertThat(alarmq.awaitUsed(Duration.ofMillis(600))).as("disabled: no notification").isZero();
            assertThat(send(q, setAlarm(0, 1, true), 8).status()).isZero();
            assertThat(alarmq.awaitUsed(WAIT)).as("an alarm in the past fires at once").isEqualTo(1);
            assertThat(device.alarmsNotified()).isEqualTo(2);
            session.stop();
        });
    }

    @Test
    void hostileRequestsAreAnsweredWithTheirStatusAndTheNextIsServed() throws Exception
    {
        startHostClocks(true);
        served.drive(4L << 20, 1, SESSION, (_, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);

            Answer a = send(q, req(0x7777, 8), 16);
            assertThat(a.status()).as("unknown msg_type").isEqualTo(RtcDevice.S_EOPNOTSUPP);
            assertThat(a.usedLength()).isEqualTo(8);
            a = send(q, new byte[] {0, 0x10, 0}, 16);
            assertThat(a.status()).as("shorter than the head").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, new byte[0], 16);
            assertThat(a.status()).as("no request at all").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, clockReq(RtcDevice.REQ_READ, 3), 16);
            assertThat(a.status()).as("clock 3 of 3").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, clockReq(RtcDevice.REQ_CLOCK_CAP, 0xFFFF), 16);
            assertThat(a.status()).as("clock 65535").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, req(RtcDevice.REQ_READ, 8), 16);
            assertThat(a.status()).as("READ without its clock id").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, clockReq(RtcDevice.REQ_SET_ALARM, 0), 16);
            assertThat(a.status()).as("SET_ALARM of 16 bytes, not 24").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, setAlarm(1, 5, true), 8);
            assertThat(a.status()).as("TAI has no alarm").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, setAlarmEnabled(2, true), 8);
            assertThat(a.status()).as("monotonic has no alarm").isEqualTo(RtcDevice.S_EINVAL);
            a = send(q, clockReq(RtcDevice.REQ_READ, 0), 12);
            assertThat(a.status()).as("response does not fit").isEqualTo(RtcDevice.S_EINVAL);
            assertThat(a.usedLength()).isEqualTo(8);
            a = send(q, clockReq(RtcDevice.REQ_READ, 0), 7);
            assertThat(a.usedLength()).as("no room for the head: returned empty").isZero();
            assertThat(a.u8(0)).isEqualTo(0xEE);
            assertThat(device.refusedRequests()).isEqualTo(11);

            a = send(q, clockReq(RtcDevice.REQ_READ, 0), 16);
            assertThat(a.status()).as("served on").isEqualTo(RtcDevice.S_OK);
            assertThat(a.u64(8)).isPositive();
            session.stop();
        });
    }

    @Test
    void withoutTheAlarmOfferedAlarmRequestsAreNotSupportedAndAFailingClockIsEio() throws Exception
    {
        final RtcClock broken = new RtcClock("broken", RtcClock.TYPE_UTC_SMEARED, () -> HostClock.FAILED, true);
        start(List.of(RtcClock.monotonic(), broken), false);
        served.drive(4L << 20, 1, SESSION, (_, _, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures() & 1).as("no VIRTIO_RTC_F_ALARM").isZero();
            final FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);
            assertThat(send(q, req(RtcDevice.REQ_CFG, 8), 16).u16(8)).isEqualTo(2);
            assertThat(send(q, clockReq(RtcDevice.REQ_CLOCK_CAP, 1), 16).u8(10)).as("no alarm flag").isZero();
            assertThat(send(q, clockReq(RtcDevice.REQ_READ_ALARM, 1), 24).status())
                .isEqualTo(RtcDevice.S_EOPNOTSUPP);
            assertThat(send(q, setAlarm(1, 5, true), 8).status()).isEqualTo(RtcDevice.S_EOPNOTSUPP);
            assertThat(send(q, clockReq(RtcDevice.REQ_READ, 1), 16).status()).isEqualTo(RtcDevice.S_EIO);
            assertThat(send(q, clockReq(RtcDevice.REQ_READ, 0), 16).status()).isEqualTo(RtcDevice.S_OK);
            session.stop();
        });
    }

    @Test
    void aVmStopAndContKeepsAPendingAlarmAndADriverResetKeepsItAndFiresItAgain() throws Exception
    {
        startHostClocks(true);
        final HostClock realtime = HostClock.open(HostClock.CLOCK_REALTIME);
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);
            final FrontendQueue alarmq = session.queue(RtcDevice.ALARM_QUEUE);
            final long at = realtime.nanos() + 500_000_000L;
            assertThat(send(q, setAlarm(0, at, true), 8).status()).isEqualTo(RtcDevice.S_OK);

            // VM stop and cont (GET_VRING_BASE per ring, then each ring from its base, no reset): the alarm waits on.
            session.stop();
            session.start();
            q = session.queue(RtcDevice.REQUEST_QUEUE);
            final Answer kept = send(q, clockReq(RtcDevice.REQ_READ_ALARM, 0), 24);
            assertThat(kept.u64(8)).as("alarm time after stop/cont").isEqualTo(at);
            assertThat(kept.u8(16)).as("still enabled").isEqualTo(RtcDevice.FLAG_ALARM);
            postAlarmBuffer(ram, alarmq, 16);
            assertThat(alarmq.awaitUsed(WAIT)).as("the alarm fires after the cont").isEqualTo(1);
            assertThat(realtime.nanos()).as("not before its time").isGreaterThanOrEqualTo(at);
            assertThat(device.alarmsNotified()).isEqualTo(1);

            // A driver reset (RESET_DEVICE, the probe's config read, rings from 0): the alarm is retained and, enabled
            // and due, expires again once the driver has a buffer out.
            session.stop();
            session.reset(0);
            session.start();
            q = session.queue(RtcDevice.REQUEST_QUEUE);
            final Answer retained = send(q, clockReq(RtcDevice.REQ_READ_ALARM, 0), 24);
            assertThat(retained.u64(8)).as("alarm time after the reset").isEqualTo(at);
            assertThat(retained.u8(16)).as("enabled after the reset").isEqualTo(RtcDevice.FLAG_ALARM);
            final FrontendQueue alarmq2 = session.queue(RtcDevice.ALARM_QUEUE);
            postAlarmBuffer(ram, alarmq2, 16);
            assertThat(alarmq2.awaitUsed(WAIT)).as("the due alarm expires again at the reset").isEqualTo(1);
            assertThat(device.alarmsNotified()).isEqualTo(2);

            // The spec's way for a driver that does not want an old alarm: SET_ALARM(0, disabled).
            assertThat(send(q, setAlarm(0, 0, false), 8).status()).isZero();
            session.stop();
            session.reset(0);
            session.start();
            final FrontendQueue alarmq3 = session.queue(RtcDevice.ALARM_QUEUE);
            postAlarmBuffer(ram, alarmq3, 16);
            assertThat(alarmq3.awaitUsed(Duration.ofMillis(300))).as("a cleared alarm does not fire at the reset")
                .isZero();
            assertThat(device.alarmsNotified()).isEqualTo(2);
            session.stop();
        });
    }

    @Test
    void listensAgainForTheNextFrontEndWithTheAlarmCleared() throws Exception
    {
        startHostClocks(true);
        for (final int vm : new int[] {0, 1})
        {
            served.drive(4L << 20, 1, SESSION, (_, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(RtcDevice.REQUEST_QUEUE);
                final Answer alarm = send(q, clockReq(RtcDevice.REQ_READ_ALARM, 0), 24);
                assertThat(alarm.status()).isEqualTo(RtcDevice.S_OK);
                assertThat(alarm.u64(8)).as("front-end %d finds no alarm set", vm).isZero();
                assertThat(alarm.u8(16)).isZero();
                assertThat(send(q, setAlarm(0, Long.MAX_VALUE, true), 8).status()).isZero();
            });
        }
    }
}
