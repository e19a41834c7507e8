import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;

/**
 * Lets Jazzer 0.24.0 instrument Java 25 classes for coverage-guided fuzzing. Its bundled ASM refuses class-file
 * version 69 (Java 25); the byte code the compiler emits for release 25 uses nothing that version 65 lacks, so this
 * agent, registered before Jazzer's (it is a -javaagent, Jazzer attaches later), hands every later transformer the
 * class labelled 68. Used only by {@code ./jvhost fuzz}; the unit tests replay corpora without it.
 */
public final class ClassVersionAgent implements ClassFileTransformer
{
    private static final int FROM = 69;
    private static final int TO = 65;

    public static void premain(final String args, final Instrumentation inst)
    {
        inst.addTransformer(new ClassVersionAgent(), true);
    }

    @Override
    public byte[] transform(final Module module, final ClassLoader loader, final String name, final Class<?> redefined,
        final ProtectionDomain domain, final byte[] bytes)
    {
        if (bytes.length < 8 || (bytes[6] & 0xFF) != 0 || (bytes[7] & 0xFF) != FROM)
        {
            return null;
        }
        final byte[] copy = bytes.clone();
        copy[7] = (byte)TO;
        return copy;
    }
}
