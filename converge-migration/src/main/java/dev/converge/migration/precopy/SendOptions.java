package dev.converge.migration.precopy;

import dev.converge.migration.multifd.ChannelOpener;
import dev.converge.migration.multifd.MultifdConfig;
import dev.converge.migration.multifd.ZeroPageDetection;
import java.util.Objects;

/**
 * How a {@link PrecopySender} encodes its stream, fixed for one migration.
 *
 * @param verified          a verified stream (capability {@code x-converge-verify})
 * @param zeroPageDetection where zero pages are found (parameter {@code zero-page-detection})
 * @param multifd           multifd's settings, or null for one stream (capability {@code multifd})
 * @param opener            opens the multifd channels (null without multifd)
 * @param preempt           opens the postcopy preempt channel at the start (capability postcopy-preempt), or null
 */
public record SendOptions(boolean verified, ZeroPageDetection zeroPageDetection, MultifdConfig multifd,
        ChannelOpener opener, ChannelOpener preempt) {
    public SendOptions {
        Objects.requireNonNull(zeroPageDetection);
        if ((multifd == null) != (opener == null)) {
            throw new IllegalArgumentException("multifd needs a channel opener, and only multifd does");
        }
    }

    /** Without a preempt channel. */
    public SendOptions(boolean verified, ZeroPageDetection zeroPageDetection, MultifdConfig multifd, ChannelOpener opener) {
        this(verified, zeroPageDetection, multifd, opener, null);
    }

    /** One stream, QEMU's default zero-page detection. */
    public static SendOptions single(boolean verified) {
        return new SendOptions(verified, ZeroPageDetection.MULTIFD, null, null);
    }

    /** These options with {@code z}. */
    public SendOptions withZeroPageDetection(ZeroPageDetection z) {
        return new SendOptions(verified, z, multifd, opener, preempt);
    }

    /** Whether the migration thread itself looks for zero pages (and sends them as markers on the main stream). */
    boolean zeroPagesOnMain() {
        return zeroPageDetection == ZeroPageDetection.LEGACY
                || (zeroPageDetection == ZeroPageDetection.MULTIFD && multifd == null);
    }
}
