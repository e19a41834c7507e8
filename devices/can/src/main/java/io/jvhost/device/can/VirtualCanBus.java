package io.jvhost.device.can;

import java.util.Arrays;

/**
 * A CAN bus inside the process: every frame a member transmits reaches every other member, in one order for all of
 * them (transmissions are serialised on the bus, as arbitration serialises them on a wire). A member never receives
 * its own frames: the guest's driver echoes its transmissions to its own sockets itself (IFF_ECHO), as a SocketCAN
 * raw socket does not see its own frames either. A member whose controller is stopped drops what it receives.
 * Nothing is allocated per frame.
 */
public final class VirtualCanBus
{
    private final String name;
    private volatile Member[] members = new Member[0];
    private long frames;

    public VirtualCanBus(final String name)
    {
        this.name = name;
    }

    public String name()
    {
        return name;
    }

    /**
     * @return a new member's port.
     */
    public synchronized CanPort join()
    {
        final Member m = new Member(members.length);
        members = Arrays.copyOf(members, members.length + 1);
        members[m.index] = m;
        return m;
    }

    /**
     * @return frames transmitted on the bus so far.
     */
    public synchronized long frames()
    {
        return frames;
    }

    private synchronized void deliver(final Member from, final CanFrame frame)
    {
        frames++;
        for (final Member m : members)
        {
            if (m != from && null != m.receiver)
            {
                m.receiver.receive(frame);
            }
        }
    }

    private final class Member implements CanPort
    {
        final int index;
        volatile Receiver receiver;

        Member(final int index)
        {
            this.index = index;
        }

        @Override
        public String name()
        {
            return "bus:" + name + " member " + index;
        }

        @Override
        public boolean canFd()
        {
            return true;
        }

        @Override
        public void bind(final Receiver r)
        {
            receiver = r;
        }

        @Override
        public int transmit(final CanFrame frame)
        {
            deliver(this, frame);
            return 0;
        }
    }
}
