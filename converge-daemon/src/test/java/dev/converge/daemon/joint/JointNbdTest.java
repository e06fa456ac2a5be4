package dev.converge.daemon.joint;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The joint switchover across hosts as QEMU's users do it: the destination daemon exports its
 * disk over NBD, the source adds an {@code nbd} client node for it and mirrors into it, and the
 * destination machine runs on that disk. Nothing is shared but sockets. Same checks as
 * {@link JointTransactionTest#commitAndVerify}.
 * <p>
 * Skipped (visibly) while the daemon does not serve {@code nbd-server-start}: the integrator
 * enables it by wiring converge-nbd into the daemon; no change to this test is needed.
 */
@Tag("integration")
class JointNbdTest {
    @TempDir
    Path dir;
    final List<JointPeer> peers = new ArrayList<>();

    @AfterEach
    void close() {
        peers.reversed().forEach(JointPeer::close);
    }

    @Test
    void jointSwitchoverIntoAnNbdExportOfTheDestination() throws Exception {
        Path srcImg = dir.resolve("src.img");
        Path dstImg = dir.resolve("dst.img");
        byte[] data = new byte[JointTransactionTest.DISK];
        new Random(13).nextBytes(data);
        Files.write(srcImg, data);
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(JointTransactionTest.DISK);
        }
        MachineSpec spec = MachineSpec.parse(JointTransactionTest.SPEC);
        JointPeer dst = new JointPeer(dir, "dst", MachineConfig.of("dst", spec).withIncoming("tcp:127.0.0.1:0")
                .withStartPaused(true), JointTransactionTest.file("disk0", dstImg));
        peers.add(dst);
        assumeTrue(dst.exec("query-commands").toString().contains("\"nbd-server-start\""),
                "the daemon does not serve nbd-server-start yet (converge-nbd not wired): NBD variant skipped");
        Path nbd = dir.resolve("nbd.sock");
        dst.exec("nbd-server-start", "{'addr':{'type':'unix','data':{'path':'" + nbd + "'}}}");
        dst.exec("block-export-add", "{'type':'nbd','id':'e0','node-name':'disk0','writable':true}");

        JointPeer src = new JointPeer(dir, "src", MachineConfig.of("src", spec), JointTransactionTest.file("disk0", srcImg));
        peers.add(src);
        src.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'events','state':true}]}");
        src.exec("blockdev-add", "{'driver':'nbd','node-name':'tgt0','server':{'type':'unix','path':'" + nbd
                + "'},'export':'disk0'}");
        JointTransactionTest.transaction(src, "tgt0", dst.listeningUri(), ",'speed':2097152");
        JointTransactionTest.commitAndVerify(src, dst);
    }
}
