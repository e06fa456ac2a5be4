package dev.converge.qmp.sockets;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * QEMU's {@code UnixSocketAddress}: a socket file. {@code abstract} (the Linux abstract namespace)
 * is parsed and printed but refused where converge listens or connects; {@code tight} only
 * matters with it.
 *
 * @param path the socket file
 * @param abstractNamespace {@code abstract}, when given
 * @param tight {@code tight}, when given
 */
public record UnixSocketAddress(Path path, Optional<Boolean> abstractNamespace, Optional<Boolean> tight)
        implements SocketAddress {
    public UnixSocketAddress {
        Objects.requireNonNull(path);
        Objects.requireNonNull(abstractNamespace);
        Objects.requireNonNull(tight);
    }

    /** A plain socket file. */
    public UnixSocketAddress(Path path) {
        this(path, Optional.empty(), Optional.empty());
    }

    @Override
    public UnixDomainSocketAddress resolve() {
        refuseAbstract();
        return UnixDomainSocketAddress.of(path);
    }

    @Override
    public void checkListenable() {
        refuseAbstract();
    }

    private void refuseAbstract() {
        if (abstractNamespace.orElse(false)) {
            throw QmpException.generic("Parameter 'abstract' is not supported by converge");
        }
    }

    @Override
    public String uri() {
        return "unix:" + path;
    }

    @Override
    public ObjectNode toQmp() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("type", "unix");
        o.put("path", path.toString());
        abstractNamespace.ifPresent(v -> o.put("abstract", v));
        tight.ifPresent(v -> o.put("tight", v));
        return o;
    }

    @Override
    public String toString() {
        return uri();
    }
}
