package dev.converge.migration.job;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.sockets.SocketAddress;
import java.io.IOException;
import java.net.ProtocolFamily;
import java.util.Objects;

/**
 * Where a migration stream goes, given as QEMU's {@code uri} ({@code tcp:HOST:PORT},
 * {@code unix:PATH}) or as its {@code channels} list (QEMU 9 shape). The address itself is the
 * shared {@link SocketAddress} (one parser and one set of error texts for every socket converge
 * opens); this record adds what is migration's: the protocol check, the channel list, and
 * resolving once at the QMP boundary.
 *
 * @param socket the address as given
 * @param address the resolved address to connect to or listen on
 */
public record MigrationUri(SocketAddress socket, java.net.SocketAddress address) implements MigrationTarget {
    public MigrationUri {
        Objects.requireNonNull(socket);
        Objects.requireNonNull(address);
    }

    /** The protocol family to open a channel for this address with. */
    public ProtocolFamily family() {
        return SocketAddress.familyOf(address);
    }

    @Override
    public String toString() {
        return socket.uri();
    }

    /**
     * Parses {@code uri}.
     *
     * @throws QmpException "unknown migration protocol: URI" for other schemes, or the socket address's error
     */
    public static MigrationUri parse(String uri) {
        if (!uri.startsWith("tcp:") && !uri.startsWith("unix:")) {
            throw QmpException.generic("unknown migration protocol: %s", uri);
        }
        return of(SocketAddress.parse(uri));
    }

    /**
     * The socket of a main channel's MigrationAddress (see {@link MigrationTarget#fromChannels}):
     * transport socket, a flat SocketAddress.
     */
    static MigrationUri fromChannelAddress(JsonNode addr) {
        String transport = addr.path("transport").asText();
        if (!"socket".equals(transport)) {
            throw QmpException.generic("Migration transport '%s' is not supported (expected: socket or file)", transport);
        }
        return of(SocketAddress.fromQmp(addr, "addr"));
    }

    private static MigrationUri of(SocketAddress socket) {
        try {
            return new MigrationUri(socket, socket.resolve());
        } catch (IOException e) {
            throw QmpException.generic("%s", e.getMessage());
        }
    }
}
