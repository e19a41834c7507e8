package io.jvhost.display;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;

/**
 * HTTP Basic authentication (RFC 7617) with the display password, for the web console's routes that show the screen
 * ({@code /scanouts}, {@code /snapshot/N.png}). Any user name; the whole password (VNC Authentication counts only its
 * first 8 characters). Both sides are hashed with SHA-256 before a {@link MessageDigest#isEqual} comparison, so the
 * time taken depends neither on how much of the password was right nor on its length.
 */
final class BasicAuth
{
    /** What an Authorization header amounts to. */
    enum Result
    {
        /** The display password. */
        GRANTED,
        /** No Basic credentials (a browser's first try). */
        MISSING,
        /** Basic credentials with another password, or unreadable ones. */
        WRONG
    }

    private final byte[] passwordHash;
    private final String challenge;

    /**
     * @param password the display password (not empty).
     * @param realm    shown by browsers in their password dialog.
     */
    BasicAuth(final String password, final String realm)
    {
        this.passwordHash = sha256(password.getBytes(StandardCharsets.UTF_8));
        this.challenge = "Basic realm=\"" + realm.replaceAll("[\"\\\\]", "") + "\", charset=\"UTF-8\"";
    }

    /**
     * @return the WWW-Authenticate value of a 401.
     */
    String challenge()
    {
        return challenge;
    }

    /**
     * @param authorization the request's Authorization header, or null.
     */
    Result check(final String authorization)
    {
        if (null == authorization)
        {
            return Result.MISSING;
        }
        final String value = authorization.trim();
        if (value.length() < 6 || !"basic ".equals(value.substring(0, 6).toLowerCase(Locale.ROOT)))
        {
            return Result.MISSING;
        }
        final byte[] credentials;
        try
        {
            credentials = Base64.getDecoder().decode(value.substring(6).trim());
        }
        catch (final IllegalArgumentException e)
        {
            return Result.WRONG;
        }
        int colon = 0;
        while (colon < credentials.length && credentials[colon] != ':')
        {
            colon++;
        }
        if (colon == credentials.length)
        {
            return Result.WRONG;
        }
        final byte[] given = new byte[credentials.length - colon - 1];
        System.arraycopy(credentials, colon + 1, given, 0, given.length);
        return MessageDigest.isEqual(passwordHash, sha256(given)) ? Result.GRANTED : Result.WRONG;
    }

    private static byte[] sha256(final byte[] bytes)
    {
        try
        {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException("SHA-256 is not available in this JDK", e);
        }
    }
}
