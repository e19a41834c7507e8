package io.jvhost.display.rfb;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

/**
 * VNC Authentication (RFC 6143 §7.2.2): the client DES-encrypts the server's 16-byte challenge (two ECB blocks) with
 * a key made of the password's first 8 bytes (Latin-1, zero-padded), each byte's bits reversed (the historical
 * quirk every VNC implementation keeps). Weak by design: use it on loopback or inside a tunnel.
 */
public final class VncAuth
{
    /** Challenge and response length. */
    public static final int CHALLENGE_LENGTH = 16;

    private VncAuth()
    {
    }

    /**
     * @return the DES key for {@code password}: up to 8 Latin-1 bytes, zero-padded, each bit-reversed.
     */
    public static byte[] key(final String password)
    {
        final byte[] text = password.getBytes(StandardCharsets.ISO_8859_1);
        final byte[] key = new byte[8];
        for (int i = 0; i < 8 && i < text.length; i++)
        {
            key[i] = (byte)(Integer.reverse(text[i] & 0xFF) >>> 24);
        }
        return key;
    }

    /**
     * @return what a client answers to {@code challenge} (16 bytes) knowing {@code password}.
     */
    public static byte[] response(final String password, final byte[] challenge)
    {
        if (challenge.length != CHALLENGE_LENGTH)
        {
            throw new IllegalArgumentException("challenge must be " + CHALLENGE_LENGTH + " bytes, got "
                + challenge.length);
        }
        final byte[] key = key(password);
        try
        {
            final Cipher des = Cipher.getInstance("DES/ECB/NoPadding");
            des.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "DES"));
            return des.doFinal(challenge);
        }
        catch (final GeneralSecurityException e)
        {
            throw new IllegalStateException("DES/ECB/NoPadding is not available in this JDK: " + e, e);
        }
        finally
        {
            Arrays.fill(key, (byte)0);
        }
    }

    /**
     * @return whether {@code answer} is the right response to {@code challenge} (constant time).
     */
    public static boolean verify(final String password, final byte[] challenge, final byte[] answer)
    {
        return MessageDigest.isEqual(response(password, challenge), answer);
    }
}
