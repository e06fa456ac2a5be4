package dev.converge.migration.qmp;

import static org.awaitility.Awaitility.await;

import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.testing.FaultProxy;
import dev.converge.testing.TestTimeouts;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The daemons (and proxies) of one migration test, closed together in reverse order: a running
 * pattern source whose guest already wrote, a destination listening on an ephemeral TCP port and
 * kept paused, and a fault proxy in front of a destination.
 */
final class Peers implements AutoCloseable {
    private final String spec;
    private final List<AutoCloseable> closing = new ArrayList<>();

    /** @param spec the machine of both sides, e.g. "memory=32M,vcpus=1,workload=pattern,dirty-rate=4M" */
    Peers(String spec) {
        this.spec = spec;
    }

    Peer peer(MachineConfig config) {
        Peer p = new Peer(config);
        closing.add(p);
        return p;
    }

    /** A running source whose pattern guest has written a thousand pages. */
    Peer source() {
        Peer p = peer(MachineConfig.of("src", MachineSpec.parse(spec)));
        PatternWorkload w = (PatternWorkload) p.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > 1000);
        return p;
    }

    /** A destination listening on tcp:127.0.0.1:0, paused once it completed. */
    Peer destination() {
        return peer(MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming("tcp:127.0.0.1:0").withStartPaused(true));
    }

    /** A fault proxy in front of {@code dst}'s listener. */
    FaultProxy proxyTo(Peer dst) throws Exception {
        String[] hostPort = dst.listeningUri().substring(4).split(":");
        FaultProxy proxy = FaultProxy.to(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])));
        closing.add(proxy);
        return proxy;
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        closing.clear();
    }
}
