package dev.converge.migration.job;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpException;

/**
 * Where a migration goes or comes from: a socket ({@link MigrationUri}) or a file
 * ({@link FileTarget}), given as QEMU's {@code uri} or as its {@code channels} list.
 */
public sealed interface MigrationTarget permits MigrationUri, FileTarget {
    /**
     * Parses {@code uri}: {@code tcp:}, {@code unix:} or {@code file:}.
     *
     * @throws QmpException "unknown migration protocol: URI" for other schemes, or the address's error
     */
    static MigrationTarget parse(String uri) {
        return uri.startsWith("file:") ? FileTarget.parse(uri) : MigrationUri.parse(uri);
    }

    /**
     * The target of a QEMU 9 {@code channels} list: exactly one channel of type main, whose addr
     * is a MigrationAddress of transport socket (a flat SocketAddress) or file (filename, offset).
     */
    static MigrationTarget fromChannels(JsonNode channels) {
        if (channels.size() != 1) {
            throw QmpException.generic("Channel list must have only one entry, for type 'main'");
        }
        JsonNode c = channels.get(0);
        if (!"main".equals(c.path("channel-type").asText())) {
            throw QmpException.generic("Channel list has no main entry");
        }
        JsonNode addr = c.get("addr");
        return "file".equals(addr.path("transport").asText()) ? FileTarget.fromChannel(addr)
                : MigrationUri.fromChannelAddress(addr);
    }
}
