package io.jvhost.device.scsi;

/**
 * SCSI status bytes, sense keys and additional sense codes this target reports (numbers from SPC-4/SBC-3).
 */
final class Sense
{
    static final int GOOD = 0x00;
    static final int CHECK_CONDITION = 0x02;

    static final int NO_SENSE = 0x0;
    static final int MEDIUM_ERROR = 0x3;
    static final int ILLEGAL_REQUEST = 0x5;
    static final int DATA_PROTECT = 0x7;

    /** ASC/ASCQ packed as {@code asc << 8 | ascq}. */
    static final int NONE = 0x0000;
    static final int WRITE_ERROR = 0x0C00;
    static final int UNRECOVERED_READ_ERROR = 0x1100;
    static final int PARAMETER_LIST_LENGTH_ERROR = 0x1A00;
    static final int INVALID_COMMAND_OPERATION_CODE = 0x2000;
    static final int LBA_OUT_OF_RANGE = 0x2100;
    static final int INVALID_FIELD_IN_CDB = 0x2400;
    static final int LOGICAL_UNIT_NOT_SUPPORTED = 0x2500;
    static final int INVALID_FIELD_IN_PARAMETER_LIST = 0x2600;
    static final int WRITE_PROTECTED = 0x2700;
    static final int SAVING_PARAMETERS_NOT_SUPPORTED = 0x3900;

    /** Length of fixed-format sense data as written here (additional sense length 10). */
    static final int FIXED_LENGTH = 18;

    private Sense()
    {
    }

    /**
     * Fills {@code out[0..17]} with current-error fixed-format sense data.
     */
    static void writeFixed(final byte[] out, final int key, final int code)
    {
        java.util.Arrays.fill(out, 0, FIXED_LENGTH, (byte)0);
        out[0] = 0x70;
        out[2] = (byte)key;
        out[7] = FIXED_LENGTH - 8;
        out[12] = (byte)(code >>> 8);
        out[13] = (byte)code;
    }
}
