package io.jvhost.display.rfb;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keysyms (US layout) and XT scancodes to evdev codes, against linux/input-event-codes.h.
 */
class KeyMapTest
{
    @ParameterizedTest(name = "keysym {0} -> {1}")
    @CsvSource({
        "0x61, 30", "0x41, 30", "0x7a, 44", "0x5a, 44", "0x6d, 50", "0x70, 25",        // a A z Z m p
        "0x31, 2", "0x21, 2", "0x30, 11", "0x29, 11", "0x40, 3",                      // 1 ! 0 ) @
        "0x2d, 12", "0x5f, 12", "0x3d, 13", "0x2b, 13", "0x5b, 26", "0x7b, 26",       // - _ = + [ {
        "0x5d, 27", "0x3b, 39", "0x3a, 39", "0x27, 40", "0x22, 40", "0x60, 41",       // ] ; : ' " `
        "0x7e, 41", "0x5c, 43", "0x7c, 43", "0x2c, 51", "0x3c, 51", "0x2e, 52",       // ~ \\ | , < .
        "0x3e, 52", "0x2f, 53", "0x3f, 53", "0x20, 57",                              // > / ? space
        "0xff0d, 28", "0xff08, 14", "0xff09, 15", "0xff1b, 1",                        // Return BackSpace Tab Esc
        "0xff51, 105", "0xff52, 103", "0xff53, 106", "0xff54, 108",                   // arrows
        "0xff50, 102", "0xff57, 107", "0xff55, 104", "0xff56, 109",                   // Home End PgUp PgDn
        "0xff63, 110", "0xffff, 111",                                                 // Insert Delete
        "0xffbe, 59", "0xffc7, 68", "0xffc8, 87", "0xffc9, 88",                       // F1 F10 F11 F12
        "0xffe1, 42", "0xffe2, 54", "0xffe3, 29", "0xffe4, 97", "0xffe9, 56",         // modifiers
        "0xffea, 100", "0xfe03, 100", "0xffeb, 125", "0xffe5, 58",
        "0xffb0, 82", "0xffb9, 73", "0xff8d, 96",                                     // keypad
        "0x20ac, 0", "0x00e9, 0", "0x1234567, 0"})                                    // not on the keyboard
    void keysyms(final String keysym, final int evdev)
    {
        assertThat(KeyMap.keysymToEvdev(Integer.decode(keysym))).isEqualTo(evdev);
    }

    @ParameterizedTest(name = "XT {0} -> {1}")
    @CsvSource({"0x01, 1", "0x1e, 30", "0x1c, 28", "0x39, 57", "0x3b, 59", "0x57, 87", "0x58, 88",
        "0x9c, 96", "0x9d, 97", "0xb8, 100", "0xc8, 103", "0xcb, 105", "0xcd, 106", "0xd0, 108", "0xc7, 102",
        "0xcf, 107", "0xc9, 104", "0xd1, 109", "0xd2, 110", "0xd3, 111", "0xdb, 125", "0xb5, 98",
        "0x00, 0", "0x55, 0", "0x100, 0", "0xe048, 0"})
    void xtScancodes(final String keycode, final int evdev)
    {
        assertThat(KeyMap.xtToEvdev(Integer.decode(keycode))).isEqualTo(evdev);
    }
}
