package io.jvhost.display.rfb;

/**
 * Viewer keys to Linux evdev key codes ({@code linux/input-event-codes.h}).
 * <ul>
 * <li>{@link #keysymToEvdev}: an RFB KeyEvent's X11 keysym, for a US layout. A shifted character maps to the key that
 * types it ({@code '!'} and {@code '1'} are both KEY_1), since the viewer sends the Shift key itself; upper and lower
 * case letters map to the same key.</li>
 * <li>{@link #xtToEvdev}: the keycode of QEMU's extended key event (pseudo-encoding -258), an XT (set 1) scancode with
 * the {@code 0xE0} prefix folded into bit 7 ({@code 0xE0 0x48} is {@code 0xC8}), which is layout independent.</li>
 * </ul>
 */
public final class KeyMap
{
    public static final int KEY_ESC = 1;
    public static final int KEY_BACKSPACE = 14;
    public static final int KEY_TAB = 15;
    public static final int KEY_ENTER = 28;
    public static final int KEY_LEFTCTRL = 29;
    public static final int KEY_LEFTSHIFT = 42;
    public static final int KEY_RIGHTSHIFT = 54;
    public static final int KEY_KPASTERISK = 55;
    public static final int KEY_LEFTALT = 56;
    public static final int KEY_SPACE = 57;
    public static final int KEY_CAPSLOCK = 58;
    public static final int KEY_F1 = 59;
    public static final int KEY_F10 = 68;
    public static final int KEY_NUMLOCK = 69;
    public static final int KEY_SCROLLLOCK = 70;
    public static final int KEY_KP7 = 71;
    public static final int KEY_KP8 = 72;
    public static final int KEY_KP9 = 73;
    public static final int KEY_KPMINUS = 74;
    public static final int KEY_KP4 = 75;
    public static final int KEY_KP5 = 76;
    public static final int KEY_KP6 = 77;
    public static final int KEY_KPPLUS = 78;
    public static final int KEY_KP1 = 79;
    public static final int KEY_KP2 = 80;
    public static final int KEY_KP3 = 81;
    public static final int KEY_KP0 = 82;
    public static final int KEY_KPDOT = 83;
    public static final int KEY_102ND = 86;
    public static final int KEY_F11 = 87;
    public static final int KEY_F12 = 88;
    public static final int KEY_KPENTER = 96;
    public static final int KEY_RIGHTCTRL = 97;
    public static final int KEY_KPSLASH = 98;
    public static final int KEY_SYSRQ = 99;
    public static final int KEY_RIGHTALT = 100;
    public static final int KEY_HOME = 102;
    public static final int KEY_UP = 103;
    public static final int KEY_PAGEUP = 104;
    public static final int KEY_LEFT = 105;
    public static final int KEY_RIGHT = 106;
    public static final int KEY_END = 107;
    public static final int KEY_DOWN = 108;
    public static final int KEY_PAGEDOWN = 109;
    public static final int KEY_INSERT = 110;
    public static final int KEY_DELETE = 111;
    public static final int KEY_MUTE = 113;
    public static final int KEY_VOLUMEDOWN = 114;
    public static final int KEY_VOLUMEUP = 115;
    public static final int KEY_POWER = 116;
    public static final int KEY_KPEQUAL = 117;
    public static final int KEY_PAUSE = 119;
    public static final int KEY_LEFTMETA = 125;
    public static final int KEY_RIGHTMETA = 126;
    public static final int KEY_COMPOSE = 127;

    /** Printable ASCII 0x20..0x7E to evdev, US layout. */
    private static final int[] ASCII = new int[0x80];

    static
    {
        map("1!", 2);
        map("2@", 3);
        map("3#", 4);
        map("4$", 5);
        map("5%", 6);
        map("6^", 7);
        map("7&", 8);
        map("8*", 9);
        map("9(", 10);
        map("0)", 11);
        map("-_", 12);
        map("=+", 13);
        map("[{", 26);
        map("]}", 27);
        map(";:", 39);
        map("'\"", 40);
        map("`~", 41);
        map("\\|", 43);
        map(",<", 51);
        map(".>", 52);
        map("/?", 53);
        map(" ", KEY_SPACE);
        final String rows = "qwertyuiop";
        for (int i = 0; i < rows.length(); i++)
        {
            letter(rows.charAt(i), 16 + i);
        }
        final String home = "asdfghjkl";
        for (int i = 0; i < home.length(); i++)
        {
            letter(home.charAt(i), 30 + i);
        }
        final String bottom = "zxcvbnm";
        for (int i = 0; i < bottom.length(); i++)
        {
            letter(bottom.charAt(i), 44 + i);
        }
    }

    private KeyMap()
    {
    }

    private static void map(final String chars, final int code)
    {
        for (int i = 0; i < chars.length(); i++)
        {
            ASCII[chars.charAt(i)] = code;
        }
    }

    private static void letter(final char lower, final int code)
    {
        ASCII[lower] = code;
        ASCII[Character.toUpperCase(lower)] = code;
    }

    /**
     * @return the evdev code for X11 keysym {@code keysym}, or 0 when it has none on a US keyboard.
     */
    public static int keysymToEvdev(final int keysym)
    {
        if (keysym >= 0x20 && keysym < 0x7F)
        {
            return ASCII[keysym];
        }
        if (keysym >= 0xFFBE && keysym <= 0xFFC7)
        {
            return KEY_F1 + keysym - 0xFFBE;
        }
        if (keysym >= 0xFFB0 && keysym <= 0xFFB9)
        {
            return KEYPAD_DIGITS[keysym - 0xFFB0];
        }
        return switch (keysym)
        {
            case 0xFF08 -> KEY_BACKSPACE;
            case 0xFF09, 0xFE20 -> KEY_TAB;             // Tab, ISO_Left_Tab (Shift-Tab)
            case 0xFF0D -> KEY_ENTER;
            case 0xFF13 -> KEY_PAUSE;
            case 0xFF14 -> KEY_SCROLLLOCK;
            case 0xFF15, 0xFF61 -> KEY_SYSRQ;           // Sys_Req, Print
            case 0xFF1B -> KEY_ESC;
            case 0xFF50 -> KEY_HOME;
            case 0xFF51 -> KEY_LEFT;
            case 0xFF52 -> KEY_UP;
            case 0xFF53 -> KEY_RIGHT;
            case 0xFF54 -> KEY_DOWN;
            case 0xFF55 -> KEY_PAGEUP;
            case 0xFF56 -> KEY_PAGEDOWN;
            case 0xFF57 -> KEY_END;
            case 0xFF63 -> KEY_INSERT;
            case 0xFF67 -> KEY_COMPOSE;                 // Menu
            case 0xFF7F -> KEY_NUMLOCK;
            case 0xFF8D -> KEY_KPENTER;
            case 0xFF95 -> KEY_KP7;                     // KP_Home
            case 0xFF96 -> KEY_KP4;                     // KP_Left
            case 0xFF97 -> KEY_KP8;                     // KP_Up
            case 0xFF98 -> KEY_KP6;                     // KP_Right
            case 0xFF99 -> KEY_KP2;                     // KP_Down
            case 0xFF9A -> KEY_KP9;                     // KP_Prior
            case 0xFF9B -> KEY_KP3;                     // KP_Next
            case 0xFF9C -> KEY_KP1;                     // KP_End
            case 0xFF9D -> KEY_KP5;                     // KP_Begin
            case 0xFF9E -> KEY_KP0;                     // KP_Insert
            case 0xFF9F, 0xFFAE -> KEY_KPDOT;           // KP_Delete, KP_Decimal
            case 0xFFAA -> KEY_KPASTERISK;
            case 0xFFAB -> KEY_KPPLUS;
            case 0xFFAD -> KEY_KPMINUS;
            case 0xFFAF -> KEY_KPSLASH;
            case 0xFFBD -> KEY_KPEQUAL;
            case 0xFFC8 -> KEY_F11;
            case 0xFFC9 -> KEY_F12;
            case 0xFFE1 -> KEY_LEFTSHIFT;
            case 0xFFE2 -> KEY_RIGHTSHIFT;
            case 0xFFE3 -> KEY_LEFTCTRL;
            case 0xFFE4 -> KEY_RIGHTCTRL;
            case 0xFFE5 -> KEY_CAPSLOCK;
            case 0xFFE7, 0xFFEB -> KEY_LEFTMETA;        // Meta_L, Super_L
            case 0xFFE8, 0xFFEC -> KEY_RIGHTMETA;       // Meta_R, Super_R
            case 0xFFE9 -> KEY_LEFTALT;
            case 0xFFEA, 0xFE03 -> KEY_RIGHTALT;        // Alt_R, ISO_Level3_Shift (AltGr)
            case 0xFFFF -> KEY_DELETE;
            default -> 0;
        };
    }

    private static final int[] KEYPAD_DIGITS = {
        KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4, KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9};

    /**
     * @return the evdev code for an XT scancode as QEMU's extended key event carries it (bit 7 set for an
     *     {@code 0xE0}-prefixed key), or 0 when unknown.
     */
    public static int xtToEvdev(final int keycode)
    {
        if (keycode <= 0 || keycode > 0xFF)
        {
            return 0;
        }
        if (keycode < 0x80)
        {
            // Set 1 scancodes 0x01..0x58 are the evdev codes, but for 0x54 (Alt-SysRq) and the gap at 0x55.
            if (keycode <= 0x53 || keycode >= 0x56 && keycode <= 0x58)
            {
                return keycode;
            }
            return keycode == 0x54 ? KEY_SYSRQ : 0;
        }
        return switch (keycode)
        {
            case 0x9C -> KEY_KPENTER;
            case 0x9D -> KEY_RIGHTCTRL;
            case 0xA0 -> KEY_MUTE;
            case 0xAE -> KEY_VOLUMEDOWN;
            case 0xB0 -> KEY_VOLUMEUP;
            case 0xB5 -> KEY_KPSLASH;
            case 0xB7 -> KEY_SYSRQ;
            case 0xB8 -> KEY_RIGHTALT;
            case 0xC6 -> KEY_PAUSE;
            case 0xC7 -> KEY_HOME;
            case 0xC8 -> KEY_UP;
            case 0xC9 -> KEY_PAGEUP;
            case 0xCB -> KEY_LEFT;
            case 0xCD -> KEY_RIGHT;
            case 0xCF -> KEY_END;
            case 0xD0 -> KEY_DOWN;
            case 0xD1 -> KEY_PAGEDOWN;
            case 0xD2 -> KEY_INSERT;
            case 0xD3 -> KEY_DELETE;
            case 0xDB -> KEY_LEFTMETA;
            case 0xDC -> KEY_RIGHTMETA;
            case 0xDD -> KEY_COMPOSE;
            case 0xDE -> KEY_POWER;
            default -> 0;
        };
    }
}
