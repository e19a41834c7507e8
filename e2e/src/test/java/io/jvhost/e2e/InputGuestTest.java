package io.jvhost.e2e;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real guest gets a virtio-input device from {@code jvhost input --virtual combined} through QEMU's
 * vhost-user-input-pci: Linux's virtio_input driver reads the name, serial, ids, event bits and axis ranges we
 * report, and the keys, buttons, pointer moves and wheel clicks a test sends through the control socket come out of
 * the guest's {@code /dev/input/eventN} in order. The guest's Caps Lock LED change comes back on the status queue.
 * <p>
 * The guest reads its event device with {@code evtap}, a 1.4 KB static x86-64 program built from evtap.c with gcc and carried in the
 * init script: busybox has no tool for {@code EVIOCGABS}, and reading the device from a shell loop would lose the
 * events that arrive between two reads.
 */
class InputGuestTest
{
    private static final Pattern EVENT = Pattern.compile("JVHOST-EV (\\d+) (\\d+) (-?\\d+)");

    /** gcc flags for evtap: a tiny static x86-64 program with no libc (see evtap.c). */
    private static final List<String> EVTAP_CFLAGS = List.of("-Os", "-static", "-nostdlib", "-ffreestanding",
        "-fno-builtin", "-fno-tree-loop-distribute-patterns", "-fno-stack-protector", "-fno-pie", "-no-pie",
        "-fno-asynchronous-unwind-tables", "-fno-ident", "-Wl,--build-id=none", "-Wl,-n", "-s");

    /**
     * Compiles evtap.c (a test resource) with the machine's gcc and returns the program in base64, to be carried in
     * the guest's init script. Built at test time so the repository holds only its source.
     */
    private static String buildEvtap(final Path dir) throws Exception
    {
        final Path source = dir.resolve("evtap.c");
        try (var in = InputGuestTest.class.getResourceAsStream("evtap.c"))
        {
            java.nio.file.Files.copy(in, source);
        }
        final Path binary = dir.resolve("evtap");
        final List<String> command = new java.util.ArrayList<>(List.of("gcc"));
        command.addAll(EVTAP_CFLAGS);
        command.addAll(List.of("-o", binary.toString(), source.toString()));
        final Process gcc = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(gcc.getInputStream().readAllBytes());
        if (gcc.waitFor() != 0)
        {
            throw new IllegalStateException("building the guest's evtap with gcc failed: " + output);
        }
        return java.util.Base64.getMimeEncoder(96, "\n".getBytes()).encodeToString(
            java.nio.file.Files.readAllBytes(binary));
    }

    private record Event(int type, int code, int value)
    {
    }

    @Test
    void guestReadsTheReportedDeviceAndTheEventsSentThroughTheControlSocket(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();

        final Path socket = dir.resolve("input.sock");
        final Path control = dir.resolve("input-control.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket, control), "input", "--virtual",
            "combined", "--control-socket", control.toString(), "-s", socket.toString(), "--verbose"))
        {
            final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
                base64 -d > /bin/evtap <<'B64'
                %s
                B64
                chmod 755 /bin/evtap
                dev=""
                for i in $(seq 1 100); do
                    for d in /sys/class/input/event*; do
                        if [ -r "$d/device/name" ] && [ "$(cat "$d/device/name")" = "jvhost virtual keyboard+tablet" ]
                        then
                            dev=$(basename "$d")
                        fi
                    done
                    [ -n "$dev" ] && [ -e "/dev/input/$dev" ] && break
                    usleep 100000
                done
                if [ -z "$dev" ]; then
                    echo "JVHOST-INPUT-MISSING $(cat /sys/class/input/*/name 2>&1)"
                    poweroff -f
                fi
                s=/sys/class/input/$dev/device
                echo "JVHOST-INPUT dev=$dev name=$(cat $s/name) uniq=$(cat $s/uniq) bus=$(cat $s/id/bustype)\
                 vendor=$(cat $s/id/vendor) product=$(cat $s/id/product) version=$(cat $s/id/version) END"
                echo "JVHOST-CAPS ev=$(cat $s/capabilities/ev) abs=$(cat $s/capabilities/abs)\
                 rel=$(cat $s/capabilities/rel) led=$(cat $s/capabilities/led) props=$(cat $s/properties) END"
                echo "JVHOST-KEYS $(cat $s/capabilities/key) END"
                /bin/evtap /dev/input/$dev
                echo "JVHOST-INPUT-DONE rc=$?"
                poweroff -f
                """.formatted(buildEvtap(dir)), "virtio_pci", "virtio_input", "evdev");

            try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd)
                .vhostUserDevice("vhost-user-input-pci", socket, null)
                .start())
            {
                final String info = vm.awaitSerial(Pattern.compile("JVHOST-INPUT(-MISSING| dev=.* END)"),
                    Duration.ofSeconds(180));
                assertThat(info).as("the guest found our device")
                    .contains("name=jvhost virtual keyboard+tablet uniq=jvhost-combined")
                    .contains("bus=0006 vendor=0627 product=4a01 version=0001");
                // EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_LED (0x11), EV_REP (0x14); ABS_X|ABS_Y; REL_WHEEL; 3 LEDs.
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-CAPS .* END"), Duration.ofSeconds(30)))
                    .contains("ev=12000f abs=3 rel=100 led=7 props=0 END");
                final String keys = vm.awaitSerial(Pattern.compile("JVHOST-KEYS .* END"), Duration.ofSeconds(30));
                assertThat(keyBits(keys)).as("KEY_ESC..KEY_MICMUTE less 84 and 195..199, BTN_LEFT/RIGHT/MIDDLE")
                    .isEqualTo(expectedKeyBits());
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-ABS 0 "), Duration.ofSeconds(30)))
                    .as("ABS_X: value, min, max, fuzz, flat, resolution").endsWith("JVHOST-ABS 0 0 0 32767 0 0 0");
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-ABS 1 "), Duration.ofSeconds(30)))
                    .endsWith("JVHOST-ABS 1 0 0 32767 0 0 0");
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-LED "), Duration.ofSeconds(30)))
                    .as("the guest wrote its LED event").endsWith("JVHOST-LED 48");
                vm.awaitSerial(Pattern.compile("JVHOST-EV-READY"), Duration.ofSeconds(30));

                final List<Event> sent = drive(control);

                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-INPUT-DONE rc=\\d+"), Duration.ofSeconds(120)))
                    .as("evtap saw KEY_ESC released").contains("rc=0");
                vm.serialLog().lines().filter(l -> l.startsWith("JVHOST-")).forEach(System.out::println);
                final List<Event> all = events(vm.serialLog());
                final List<Event> input = all.stream()
                    .filter(e -> e.type() != 0 && e.type() != 0x11 && !(e.type() == 1 && e.value() == 2)).toList();
                assertThat(input).as("key, button, pointer and wheel events in the order sent").isEqualTo(sent);
                assertThat(all.stream().filter(e -> e.type() == 0 && e.code() == 0).count())
                    .as("a SYN_REPORT after each command").isGreaterThanOrEqualTo(11);
                assertThat(all).as("the guest's own LED change, echoed to its readers")
                    .contains(new Event(0x11, 1, 1));
                assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
            }
            final String log = backend.log();
            System.out.println("back-end log (" + log.lines().count() + " lines), status lines:");
            log.lines().filter(l -> l.contains("status from the guest")).forEach(System.out::println);
            assertThat(log).as("Caps Lock came back on the status queue")
                .contains("status from the guest: EV_LED code 1 value 1")
                .contains("front-end disconnected")
                .doesNotContain("ERROR")
                .doesNotContain("WARN ");
            assertThat(backend.terminate(Duration.ofSeconds(10))).as("exit code after SIGTERM").isZero();
            assertThat(socket).as("vhost-user socket removed").doesNotExist();
            assertThat(control).as("control socket removed").doesNotExist();
        }
    }

    /**
     * Types "ab", Enter, clicks, moves the pointer, turns the wheel, and presses Escape (which ends evtap).
     *
     * @return the events the guest must see, without SYN_REPORTs.
     */
    private static List<Event> drive(final Path control) throws Exception
    {
        final String[] lines = {"key 30 1", "key 30 0", "key 48 1", "key 48 0", "key 28 1", "key 28 0",
            "btn 272 1", "btn 272 0", "abs 16384 8192", "wheel -1", "key 1 1", "key 1 0"};
        final List<Event> expected = List.of(new Event(1, 30, 1), new Event(1, 30, 0), new Event(1, 48, 1),
            new Event(1, 48, 0), new Event(1, 28, 1), new Event(1, 28, 0), new Event(1, 272, 1), new Event(1, 272, 0),
            new Event(3, 0, 16384), new Event(3, 1, 8192), new Event(2, 8, -1), new Event(1, 1, 1),
            new Event(1, 1, 0));
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(control)))
        {
            final OutputStream out = Channels.newOutputStream(ch);
            final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                StandardCharsets.US_ASCII));
            for (final String line : lines)
            {
                out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).as("answer to '%s'", line).isEqualTo("ok");
            }
        }
        return expected;
    }

    private static List<Event> events(final String serial)
    {
        final List<Event> events = new ArrayList<>();
        final Matcher m = EVENT.matcher(serial);
        while (m.find())
        {
            events.add(new Event(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3))));
        }
        return events;
    }

    /**
     * @return the set key codes of a sysfs key bitmap ("w3 w2 w1 w0": 64-bit words in hex, most significant first).
     */
    private static java.util.BitSet keyBits(final String line)
    {
        final String[] words = line.replace("JVHOST-KEYS", "").replace("END", "").strip().split("\\s+");
        final java.util.BitSet bits = new java.util.BitSet();
        for (int i = 0; i < words.length; i++)
        {
            final long w = Long.parseUnsignedLong(words[words.length - 1 - i], 16);
            for (int b = 0; b < 64; b++)
            {
                if (0 != (w & 1L << b))
                {
                    bits.set(i * 64 + b);
                }
            }
        }
        return bits;
    }

    private static java.util.BitSet expectedKeyBits()
    {
        final java.util.BitSet bits = new java.util.BitSet();
        bits.set(1, 249);
        bits.clear(84);
        bits.clear(195, 200);
        bits.set(0x110, 0x113);
        return bits;
    }
}
