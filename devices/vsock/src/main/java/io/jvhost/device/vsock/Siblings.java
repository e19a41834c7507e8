package io.jvhost.device.vsock;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The VMs of one process that may reach each other by CID (vhost-device-vsock's sibling VMs): a guest connecting to
 * CID {@code c} reaches the sibling whose guest CID is {@code c} when the two share at least one group, and is reset
 * otherwise. Filled at start-up, before any device serves; read by every device's worker (lookups happen only when a
 * connection opens).
 */
public final class Siblings
{
    private record Member(VsockDevice device, Set<String> groups)
    {
    }

    private final Map<Long, Member> byCid = new ConcurrentHashMap<>();

    /**
     * Makes {@code device} reachable by its CID from the siblings that share one of {@code groups}.
     *
     * @throws IllegalArgumentException when its CID is taken or it names no group.
     */
    public void add(final VsockDevice device, final List<String> groups)
    {
        if (groups.isEmpty() || groups.stream().anyMatch(String::isBlank))
        {
            throw new IllegalArgumentException("guest CID " + device.guestCid() + ": groups " + groups
                + " must name at least one group, none blank");
        }
        final Member m = new Member(device, Set.copyOf(groups));
        if (null != byCid.putIfAbsent(device.guestCid(), m))
        {
            throw new IllegalArgumentException("guest CID " + device.guestCid() + " is given to more than one VM");
        }
        device.joined(this);
    }

    /**
     * @return the sibling with guest CID {@code toCid} when it shares a group with {@code fromCid}'s VM, else null
     *     (no such VM, the same VM, or no common group).
     */
    VsockDevice reachable(final long fromCid, final long toCid)
    {
        final Member from = byCid.get(fromCid);
        final Member to = byCid.get(toCid);
        if (null == from || null == to || from == to)
        {
            return null;
        }
        for (final String g : from.groups())
        {
            if (to.groups().contains(g))
            {
                return to.device();
            }
        }
        return null;
    }

    /** @return why {@link #reachable} said no, for the log. */
    String whyUnreachable(final long fromCid, final long toCid)
    {
        final Member to = byCid.get(toCid);
        if (null == to)
        {
            return "no VM of this process has CID " + toCid;
        }
        if (fromCid == toCid)
        {
            return "CID " + toCid + " is the guest itself";
        }
        final Member from = byCid.get(fromCid);
        return "CID " + toCid + " (groups " + to.groups() + ") shares no group with this VM (groups "
            + (null == from ? "none" : from.groups()) + ")";
    }
}
