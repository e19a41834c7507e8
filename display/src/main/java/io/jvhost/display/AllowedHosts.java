package io.jvhost.display;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names under which a web console may be addressed: its defence against DNS rebinding. A page at
 * {@code http://evil.example:8080} whose name the attacker re-points at 127.0.0.1 is same-origin with itself, so its
 * requests carry {@code Host: evil.example:8080} (and a matching Origin); only the Host tells them apart from the
 * console's own page. Allowed are
 * <ul>
 * <li>the listen address as an IP literal ({@code 127.0.0.1}, {@code [::1]}); for a wildcard listen address
 * ({@code 0.0.0.0}, {@code ::}) every loopback literal, while the machine's other addresses must be allowed by
 * name,</li>
 * <li>{@code localhost} (and {@code localhost.}), which browsers resolve to loopback themselves,</li>
 * <li>the names and addresses the user allows ({@code --display web=...,allow-host=NAME}).</li>
 * </ul>
 * The port is not compared: an SSH tunnel or a port forward changes it, and a rebinding page is told apart by its name.
 * DNS names are compared case-insensitively and without their final dot; IPv4 literals must be dotted-quad decimal
 * (what browsers send), IPv6 literals are compared as addresses.
 */
public final class AllowedHosts
{
    /** The Host syntax accepted (RFC 9110 §7.2, reg-name without escapes or sub-delims): name or literal, port. */
    private static final Pattern HOST = Pattern.compile("(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._~-]+)(?::(\\d{0,5}))?");
    private static final Pattern DNS_NAME = Pattern.compile(
        "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\\.?");
    private static final Pattern IPV4 = Pattern.compile("(?:0|[1-9]\\d{0,2})(?:\\.(?:0|[1-9]\\d{0,2})){3}");
    private static final Pattern IPV6 = Pattern.compile("\\[?([0-9A-Fa-f:.]+)]?");

    private final InetAddress listen;
    private final Set<String> names = new LinkedHashSet<>();
    private final Set<InetAddress> addresses = new LinkedHashSet<>();

    /**
     * @param listen the address the console is bound to (a wildcard one accepts loopback literals).
     * @param extra  names or IP literals the user allows as well (see {@link #normalize}).
     * @throws IllegalArgumentException naming a value that is neither a DNS name nor an IP literal.
     */
    public AllowedHosts(final InetAddress listen, final List<String> extra)
    {
        this.listen = Objects.requireNonNull(listen, "listen");
        names.add("localhost");
        for (final String name : extra)
        {
            final InetAddress ip = literal(name);
            if (null != ip)
            {
                addresses.add(ip);
            }
            else
            {
                names.add(normalize(name));
            }
        }
    }

    /**
     * @return {@code name} as compared: a DNS name lower-cased without its final dot, or an IP literal as given.
     * @throws IllegalArgumentException when it is neither a DNS name nor an IP literal (an allow-host value).
     */
    public static String normalize(final String name)
    {
        final String n = name.trim().toLowerCase(Locale.ROOT);
        if (null != literal(n))
        {
            return n;
        }
        if (n.length() > 254 || !DNS_NAME.matcher(n).matches() || n.matches("[0-9.]+"))
        {
            throw new IllegalArgumentException("'" + name + "' is neither a DNS name nor an IP address");
        }
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }

    /**
     * @return the address {@code text} spells as a dotted-quad IPv4 or an IPv6 literal (brackets optional), else
     *     null. Never resolves a name.
     */
    private static InetAddress literal(final String text)
    {
        final String t = text.trim();
        if (IPV4.matcher(t).matches())
        {
            return parse(t);
        }
        final Matcher v6 = IPV6.matcher(t);
        if (t.indexOf(':') >= 0 && v6.matches() && t.startsWith("[") == t.endsWith("]"))
        {
            return parse(v6.group(1));
        }
        return null;
    }

    private static InetAddress parse(final String literal)
    {
        try
        {
            return InetAddress.ofLiteral(literal);
        }
        catch (final IllegalArgumentException e)
        {
            return null;
        }
    }

    /**
     * @param host a request's Host header (null when it had none; several are joined with commas).
     * @return 0 when it names this console, 400 when it is missing or malformed (RFC 9112 §3.2), 421 (Misdirected
     *     Request) when it names another host.
     */
    public int refusal(final String host)
    {
        if (null == host)
        {
            return 400;
        }
        final Matcher m = HOST.matcher(host.trim());
        if (!m.matches() || null != m.group(2) && !m.group(2).isEmpty() && Integer.parseInt(m.group(2)) > 65535)
        {
            return 400;
        }
        final String name = m.group(1);
        if (name.startsWith("["))
        {
            final InetAddress ip = literal(name);
            return null == ip ? 400 : allows(ip) ? 0 : 421;
        }
        return allowsName(name) ? 0 : 421;
    }

    /**
     * @return whether {@code name} (a DNS name, or an IP literal with or without brackets) is allowed.
     */
    public boolean allowsName(final String name)
    {
        final InetAddress ip = literal(name);
        if (null != ip)
        {
            return allows(ip);
        }
        final String n = name.trim().toLowerCase(Locale.ROOT);
        return names.contains(n.endsWith(".") ? n.substring(0, n.length() - 1) : n);
    }

    private boolean allows(final InetAddress ip)
    {
        return listen.isAnyLocalAddress() ? ip.isLoopbackAddress() || addresses.contains(ip)
            : ip.equals(listen) || addresses.contains(ip);
    }

    /**
     * @return what is allowed, for messages, e.g. {@code [127.0.0.1, localhost, console.example]}.
     */
    @Override
    public String toString()
    {
        final List<String> all = new ArrayList<>();
        all.add(listen.isAnyLocalAddress() ? "loopback addresses" : describe(listen));
        all.addAll(names);
        addresses.forEach(a -> all.add(describe(a)));
        return all.toString();
    }

    private static String describe(final InetAddress ip)
    {
        final String text = ip.getHostAddress();
        return text.contains(":") ? "[" + text + "]" : text;
    }
}
