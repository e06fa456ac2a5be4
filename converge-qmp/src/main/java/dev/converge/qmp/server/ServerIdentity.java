package dev.converge.qmp.server;

import java.util.Objects;

/**
 * What the server says it is: the QEMU version whose QMP it follows (greeting and
 * {@code query-version}) and the package string.
 *
 * @param major   QEMU major version followed
 * @param minor   QEMU minor version followed
 * @param micro   QEMU micro version followed
 * @param pkg     the {@code package} string, e.g. "converge 0.1.0"
 */
public record ServerIdentity(int major, int minor, int micro, String pkg) {
    /** converge 0.1.0, following QEMU 10.0's QMP. */
    public static final ServerIdentity CONVERGE = new ServerIdentity(10, 0, 0, "converge 0.1.0");

    public ServerIdentity {
        Objects.requireNonNull(pkg);
        if (major < 0 || minor < 0 || micro < 0) {
            throw new IllegalArgumentException("version numbers must not be negative: " + major + "." + minor + "." + micro);
        }
    }
}
