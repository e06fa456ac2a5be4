package dev.converge.migration.multifd;

import java.io.IOException;
import java.nio.channels.GatheringByteChannel;

/**
 * Opens multifd channel {@code index} to the destination: the migration job's one way of
 * opening a connection (the same as for the main stream; where TLS wraps them all), so that
 * the channels and the main stream end up as one set that a cancel closes together.
 */
@FunctionalInterface
public interface ChannelOpener {
    GatheringByteChannel open(int index) throws IOException;
}
