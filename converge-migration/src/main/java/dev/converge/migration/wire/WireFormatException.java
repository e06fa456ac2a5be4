package dev.converge.migration.wire;

/**
 * Bytes on a migration stream or return path that break the format: bad magic or version,
 * an unknown record type, a non-zero reserved field, a length or index out of bounds. The
 * message has the form "field: actual (expected: bound)". The decoder that threw has reset
 * itself; the connection must be closed.
 */
public sealed class WireFormatException extends Exception permits ChecksumMismatchException {
    private static final long serialVersionUID = 1L;

    public WireFormatException(String message) {
        super(message);
    }
}
