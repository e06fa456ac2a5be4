package dev.converge.migration.wire;

/**
 * A verified stream's record whose CRC32C trailer does not match its bytes: they were changed
 * on the way (a faulty link, memory or proxy). The message names the record type and both
 * checksums.
 */
public final class ChecksumMismatchException extends WireFormatException {
    private static final long serialVersionUID = 1L;

    public ChecksumMismatchException(String message) {
        super(message);
    }
}
