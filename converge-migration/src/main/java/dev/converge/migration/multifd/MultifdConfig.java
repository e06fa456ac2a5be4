package dev.converge.migration.multifd;

import dev.converge.migration.wire.MultifdCompression;
import dev.converge.migration.wire.WireFormat;
import java.util.Objects;

/**
 * How an outgoing migration uses multifd (the capability {@code multifd} and the parameters
 * {@code multifd-channels}, {@code multifd-compression}, {@code multifd-zlib-level},
 * {@code multifd-zstd-level}), taken once at the migration's start.
 *
 * @param channels    extra connections next to the main stream, 1..255
 * @param compression how PAGES data is compressed
 * @param zlibLevel   zlib's level, 0..9 (used with zlib)
 * @param zstdLevel   zstd's level, 0..20 (used with zstd)
 */
public record MultifdConfig(int channels, MultifdCompression compression, int zlibLevel, int zstdLevel) {
    /** QEMU's defaults: multifd-channels 2, multifd-compression none, multifd-zlib-level 1, multifd-zstd-level 1. */
    public static final MultifdConfig DEFAULTS = new MultifdConfig(2, MultifdCompression.NONE, 1, 1);

    public MultifdConfig {
        Objects.requireNonNull(compression);
        if (channels < 1 || channels > WireFormat.MAX_MULTIFD_CHANNELS) {
            throw new IllegalArgumentException("multifd channels: " + channels + " (expected: 1.."
                    + WireFormat.MAX_MULTIFD_CHANNELS + ")");
        }
    }

    /** These settings with {@code n} channels. */
    public MultifdConfig withChannels(int n) {
        return new MultifdConfig(n, compression, zlibLevel, zstdLevel);
    }

    /** These settings with {@code c}. */
    public MultifdConfig withCompression(MultifdCompression c) {
        return new MultifdConfig(channels, c, zlibLevel, zstdLevel);
    }
}
