package io.jvhost.os;

/**
 * Linux errno numbers and their symbolic names, so errors can say {@code EAGAIN} instead of {@code 11}.
 * Values are the generic Linux ones shared by x86-64 and aarch64.
 */
public final class Errno
{
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOSPC = 28;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int ENOSYS = 38;
    public static final int ENOTSUP = 95;
    public static final int EPROTO = 71;
    public static final int EMSGSIZE = 90;
    public static final int EADDRINUSE = 98;
    public static final int ECONNABORTED = 103;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int ENOTCONN = 107;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;

    private static final String[] NAMES = new String[134];

    static
    {
        final String table = "1 EPERM,2 ENOENT,3 ESRCH,4 EINTR,5 EIO,6 ENXIO,7 E2BIG,8 ENOEXEC,9 EBADF,10 ECHILD,"
            + "11 EAGAIN,12 ENOMEM,13 EACCES,14 EFAULT,15 ENOTBLK,16 EBUSY,17 EEXIST,18 EXDEV,19 ENODEV,20 ENOTDIR,"
            + "21 EISDIR,22 EINVAL,23 ENFILE,24 EMFILE,25 ENOTTY,26 ETXTBSY,27 EFBIG,28 ENOSPC,29 ESPIPE,30 EROFS,"
            + "31 EMLINK,32 EPIPE,33 EDOM,34 ERANGE,35 EDEADLK,36 ENAMETOOLONG,37 ENOLCK,38 ENOSYS,39 ENOTEMPTY,"
            + "40 ELOOP,42 ENOMSG,61 ENODATA,62 ETIME,71 EPROTO,74 EBADMSG,75 EOVERFLOW,84 EILSEQ,88 ENOTSOCK,"
            + "89 EDESTADDRREQ,90 EMSGSIZE,91 EPROTOTYPE,92 ENOPROTOOPT,93 EPROTONOSUPPORT,94 ESOCKTNOSUPPORT,"
            + "95 EOPNOTSUPP,97 EAFNOSUPPORT,98 EADDRINUSE,99 EADDRNOTAVAIL,100 ENETDOWN,101 ENETUNREACH,"
            + "103 ECONNABORTED,104 ECONNRESET,105 ENOBUFS,106 EISCONN,107 ENOTCONN,108 ESHUTDOWN,110 ETIMEDOUT,"
            + "111 ECONNREFUSED,113 EHOSTUNREACH,114 EALREADY,115 EINPROGRESS,125 ECANCELED";
        for (final String entry : table.split(","))
        {
            final int space = entry.indexOf(' ');
            NAMES[Integer.parseInt(entry.substring(0, space))] = entry.substring(space + 1);
        }
    }

    private Errno()
    {
    }

    /**
     * @param errno a positive errno value.
     * @return its symbolic name, such as {@code EAGAIN}, or {@code errno=N} when unknown.
     */
    public static String name(final int errno)
    {
        if (errno > 0 && errno < NAMES.length && null != NAMES[errno])
        {
            return NAMES[errno];
        }
        return "errno=" + errno;
    }
}
