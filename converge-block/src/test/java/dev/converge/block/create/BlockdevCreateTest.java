package dev.converge.block.create;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.ImageTools;
import dev.converge.block.mirror.MirrorFixture;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * blockdev-create as a job: a file, then a qcow2 image on it, checked by qemu-img (check,
 * info) and opened with blockdev-add; QEMU's statuses (the job concludes and waits for
 * job-dismiss) and QEMU's texts for options the driver refuses (the job's error).
 */
@Tag("integration")
class BlockdevCreateTest {
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    /** blockdev-create as a client runs it: the job concludes, then job-dismiss. */
    private static void create(MirrorFixture f, String id, String options) {
        f.qmp("blockdev-create", "{'job-id':'" + id + "','options':" + options + "}");
        f.events.awaitStatus(id, "concluded");
        f.qmp("job-dismiss", "{'id':'" + id + "'}");
    }

    private Path createQcow2(MirrorFixture f, String name, String extra) {
        Path p = dir.resolve(name + ".qcow2");
        create(f, name + "-file", "{'driver':'file','filename':'" + p + "','size':0}");
        f.qmp("blockdev-add", "{'driver':'file','node-name':'" + name + "-proto','filename':'" + p + "'}");
        create(f, name + "-fmt", "{'driver':'qcow2','file':'" + name + "-proto','size':" + SIZE + extra + "}");
        return p;
    }

    @Test
    void fileThenQcow2PassesQemuImgAndOpens() throws Exception {
        ImageTools.assumeInstalled();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            Path p = createQcow2(f, "img", "");
            assertThat(f.events.trace("img-fmt")).containsExactly("created", "running", "waiting", "pending",
                    "concluded", "null");
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'img','file':'img-proto'}");
            byte[] data = new byte[1 << 20];
            Arrays.fill(data, (byte) 0x5a);
            f.node("img").write(3L << 20, MemorySegment.ofArray(data));
            f.node("img").flush();
            f.qmp("blockdev-del", "{'node-name':'img'}");
            f.qmp("blockdev-del", "{'node-name':'img-proto'}");
            ImageTools.checkClean(p);
            JsonNode info = ImageTools.info(p);
            assertThat(info.path("format").asText()).isEqualTo("qcow2");
            assertThat(info.path("virtual-size").asLong()).isEqualTo(SIZE);
            assertThat(info.path("cluster-size").asLong()).isEqualTo(65536);
            assertThat(info.path("format-specific").path("data").path("compat").asText()).isEqualTo("1.1");
            byte[] all = ImageTools.contents(p, dir.resolve("out"));
            assertThat(Arrays.copyOfRange(all, 3 << 20, 4 << 20)).isEqualTo(data);
            assertThat(Arrays.copyOfRange(all, 0, 3 << 20)).containsOnly(0);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
            ",'version':'v2'",
            ",'cluster-size':4096",
            ",'cluster-size':2097152",
            ",'refcount-bits':1",
            ",'refcount-bits':64",
            ",'extended-l2':true,'cluster-size':131072",
            ",'lazy-refcounts':true",
            ",'preallocation':'metadata'",
            ",'preallocation':'falloc','cluster-size':16384",
            ",'preallocation':'full'",
            ",'cluster-size':512"})
    void optionsGiveImagesQemuImgAccepts(String extra) throws Exception {
        ImageTools.assumeInstalled();
        try (MirrorFixture f = new MirrorFixture(dir)) {
            Path p = createQcow2(f, "img", extra);
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'img','file':'img-proto'}");
            byte[] data = new byte[70000];
            Arrays.fill(data, (byte) 7);
            f.node("img").write(12345, MemorySegment.ofArray(data));
            f.node("img").flush();
            f.qmp("blockdev-del", "{'node-name':'img'}");
            f.qmp("blockdev-del", "{'node-name':'img-proto'}");
            ImageTools.checkClean(p);
            JsonNode spec = ImageTools.info(p).path("format-specific").path("data");
            if (extra.contains("v2")) {
                assertThat(spec.path("compat").asText()).isEqualTo("0.10");
            }
            if (extra.contains("refcount-bits")) {
                assertThat(spec.path("refcount-bits").asInt()).isEqualTo(extra.contains(":1") ? 1 : 64);
            }
            if (extra.contains("extended-l2")) {
                assertThat(spec.path("extended-l2").asBoolean()).isTrue();
            }
            if (extra.contains("lazy")) {
                assertThat(spec.path("lazy-refcounts").asBoolean()).isTrue();
            }
            byte[] all = ImageTools.contents(p, dir.resolve("out"));
            assertThat(Arrays.copyOfRange(all, 12345, 12345 + data.length)).isEqualTo(data);
            if (extra.contains("preallocation")) {
                assertThat(Files.size(p)).isGreaterThanOrEqualTo(SIZE);
            }
        }
    }

    @Test
    void backingFileIsRecordedAndRead() throws Exception {
        ImageTools.assumeInstalled();
        Path base = dir.resolve("base.qcow2");
        ImageTools.run(ImageTools.IMG, "create", "-q", "-f", "qcow2", base.toString(), Long.toString(SIZE));
        ImageTools.io(base, "write -P 0x41 0 1M");
        try (MirrorFixture f = new MirrorFixture(dir)) {
            Path p = createQcow2(f, "top", ",'backing-file':'base.qcow2','backing-fmt':'qcow2'");
            f.qmp("blockdev-add", "{'driver':'qcow2','node-name':'top','file':'top-proto'}");
            byte[] head = new byte[4096];
            f.node("top").read(0, MemorySegment.ofArray(head));
            assertThat(head).containsOnly(0x41);
            f.qmp("blockdev-del", "{'node-name':'top'}");
            f.qmp("blockdev-del", "{'node-name':'top-proto'}");
            ImageTools.checkClean(p);
            JsonNode info = ImageTools.info(p);
            assertThat(info.path("backing-filename").asText()).isEqualTo("base.qcow2");
            assertThat(info.path("backing-filename-format").asText()).isEqualTo("qcow2");
        }
    }

    @Test
    void driverRefusalsAreTheJobsErrorWithQemuTexts() throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            Path p = dir.resolve("x.qcow2");
            create(f, "file", "{'driver':'file','filename':'" + p + "','size':0}");
            f.qmp("blockdev-add", "{'driver':'file','node-name':'proto','filename':'" + p + "'}");
            String[][] cases = {
                    {"'size':1000", "Image size must be a multiple of 512 bytes"},
                    {"'size':1048576,'cluster-size':1000", "Cluster size must be a power of two between 512 and 2048k"},
                    {"'size':1048576,'version':'v2','lazy-refcounts':true",
                            "Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or "
                                    + "greater)"},
                    {"'size':1048576,'refcount-bits':3",
                            "Refcount width must be a power of two and may not exceed 64 bits"},
                    {"'size':1048576,'version':'v2','refcount-bits':8",
                            "Different refcount widths than 16 bits require compatibility level 1.1 or above (use "
                                    + "version=v3 or greater)"},
                    {"'size':1048576,'backing-fmt':'qcow2'", "Backing format cannot be used without backing file"},
                    {"'size':1048576,'backing-file':'b','preallocation':'metadata'",
                            "Backing file and preallocation can only be used at the same time if extended_l2 is on"},
                    {"'size':1048576,'extended-l2':true,'cluster-size':4096",
                            "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes"},
                    {"'size':1048576,'file':'nope'", "Cannot find device='nope' nor node-name='nope'"}};
            int i = 0;
            for (String[] c : cases) {
                String id = "bad" + i++;
                String opts = c[0].contains("'file'") ? c[0] : c[0] + ",'file':'proto'";
                f.qmp("blockdev-create", "{'job-id':'" + id + "','options':{'driver':'qcow2'," + opts + "}}");
                f.events.awaitStatus(id, "concluded");
                assertThat(f.queryJob(id).path("error").asText()).as(c[0]).isEqualTo(c[1]);
                f.qmp("job-dismiss", "{'id':'" + id + "'}");
            }
            f.fails("blockdev-create", "{'job-id':'r','options':{'driver':'raw','size':0}}",
                    "Driver does not support blockdev-create");
            f.qmp("blockdev-create", "{'job-id':'m','options':{'driver':'file','filename':'" + p + "','size':512,"
                    + "'preallocation':'metadata'}}");
            f.events.awaitStatus("m", "concluded");
            assertThat(f.queryJob("m").path("error").asText()).isEqualTo("Unsupported preallocation mode: metadata");
            f.qmp("blockdev-del", "{'node-name':'proto'}");
        }
    }
}
