package dev.converge.daemon.joint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.machine.kvm.KvmSystem;
import dev.converge.migration.machine.kvm.MachineOptions;
import dev.converge.migration.qmp.MachineConfig;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KVM machine (accel=kvm, the pattern guest) in the joint transaction: a mirror of a block node
 * and the migration of the guest's memory switch over together, checked by digests. The KVM
 * guest writes no disk ({@code disk=} is refused with accel=kvm), so the mirrored node is the
 * daemon's, beside the machine. Skipped where /dev/kvm is missing.
 */
@Tag("integration")
class KvmJointTransactionTest {
    static final String SPEC = "accel=kvm,memory=64M,vcpus=1,guest=pattern";

    @TempDir
    Path dir;
    Path srcImg;
    Path dstImg;
    final List<JointPeer> peers = new ArrayList<>();

    @BeforeEach
    void images() throws Exception {
        Assumptions.assumeTrue(KvmSystem.available(), "skipped: " + KvmSystem.DEVICE + " is missing or not accessible (KVM tests need it)");
        srcImg = dir.resolve("src.img");
        dstImg = dir.resolve("dst.img");
        byte[] data = new byte[JointTransactionTest.DISK];
        new Random(12).nextBytes(data);
        Files.write(srcImg, data);
        try (RandomAccessFile f = new RandomAccessFile(dstImg.toFile(), "rw")) {
            f.setLength(JointTransactionTest.DISK);
        }
    }

    @AfterEach
    void close() {
        peers.reversed().forEach(JointPeer::close);
    }

    static MachineConfig kvm(String name) {
        MachineOptions o = MachineOptions.parse(SPEC);
        return MachineConfig.of(name, o.spec()).withAccelerator(o.accelerator());
    }

    @Test
    void aKvmMachineAndAMirrorSwitchOverTogether() throws Exception {
        JointPeer dst = new JointPeer(dir, "dst", kvm("dst").withIncoming("tcp:127.0.0.1:0").withStartPaused(true));
        peers.add(dst);
        JointPeer src = new JointPeer(dir, "src", kvm("src"), JointTransactionTest.file("disk0", srcImg),
                JointTransactionTest.file("tgt0", dstImg));
        peers.add(src);
        src.exec("migrate-set-capabilities", "{'capabilities':[{'capability':'events','state':true}]}");
        // The guest dirties its 64 MiB faster than a pass sends them here: converge by the limit.
        src.exec("migrate-set-parameters", "{'downtime-limit':5000}");
        JointTransactionTest.transaction(src, "tgt0", dst.listeningUri(), "");
        src.awaitJob("mirror0", "ready");
        src.awaitJob("migration", "ready");
        src.exec("job-complete", "{'id':'migration'}");
        src.awaitJob("mirror0", "concluded");
        src.awaitJob("migration", "null");

        assertThat(JointTransactionTest.job(src, "mirror0").has("error")).isFalse();
        assertThat(src.runState()).isEqualTo("postmigrate");
        assertThat(dst.runState()).isEqualTo("paused");
        JsonNode ram = src.exec("query-machine-digest").get("ram");
        assertThat(dst.exec("query-machine-digest").get("ram")).as("guest RAM at the switchover point").isEqualTo(ram);
        assertThat(JointTransactionTest.sha256(dstImg)).as("the mirrored node").isEqualTo(JointTransactionTest.sha256(srcImg));
        dst.exec("cont");
        assertThat(dst.runState()).isEqualTo("running");
    }

    @Test
    void aDiskForTheKvmGuestIsRefusedNamingTheKey() {
        assertThatThrownBy(() -> MachineOptions.parse(SPEC + ",disk=disk0"))
                .hasMessage("machine: key 'disk' is for accel=software (with accel=kvm the guest's code runs)");
    }
}
