package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class MigrationFiguresTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** query-migrate of QEMU 7.2 (Debian 12) after migrating a 64 MiB idle guest under KVM. */
    private static final String QEMU_72_COMPLETED = """
            {"status": "completed", "setup-time": 1, "downtime": 2, "total-time": 9, "ram": {"total": 67641344,
             "postcopy-requests": 0, "dirty-sync-count": 2, "multifd-bytes": 0, "pages-per-second": 0,
             "downtime-bytes": 0, "page-size": 4096, "remaining": 0, "postcopy-bytes": 0, "mbps": 711.8,
             "transferred": 599168, "dirty-sync-missed-zero-copy": 0, "precopy-bytes": 599168, "duplicate": 16404,
             "dirty-pages-rate": 0, "skipped": 0, "normal-bytes": 450560, "normal": 110}}""";

    @Test
    void readsQemusReply() throws Exception {
        MigrationFigures f = MigrationFigures.parse(JSON.readTree(QEMU_72_COMPLETED));
        assertThat(f).isEqualTo(new MigrationFigures("completed", 9, 2, 1, 599168, 67641344, 711.8, 2));
        assertThat(f.throughputMBps()).isCloseTo(599168 / 1e6 / 0.009, within(1e-9));
        assertThat(f.transferredMiB()).isCloseTo(599168 / 1048576.0, within(1e-12));
    }

    @Test
    void activeMigrationHasNoDowntimeYet() throws Exception {
        ObjectNode n = (ObjectNode) JSON.readTree(QEMU_72_COMPLETED);
        n.put("status", "active").remove("downtime");
        n.remove("setup-time");
        MigrationFigures f = MigrationFigures.parse(n);
        assertThat(f.downtimeMs()).isEqualTo(-1);
        assertThat(f.setupTimeMs()).isEqualTo(-1);
        assertThat(f.status()).isEqualTo("active");
    }

    @Test
    void zeroTotalTimeHasZeroThroughputRatherThanInfinity() throws Exception {
        ObjectNode n = (ObjectNode) JSON.readTree(QEMU_72_COMPLETED);
        n.put("total-time", 0);
        assertThat(MigrationFigures.parse(n).throughputMBps()).isZero();
    }

    @Test
    void missingMembersAreNamed() throws Exception {
        for (String member : new String[] {"status", "total-time", "ram"}) {
            ObjectNode n = (ObjectNode) JSON.readTree(QEMU_72_COMPLETED);
            n.remove(member);
            assertThatThrownBy(() -> MigrationFigures.parse(n)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + member + "'");
        }
        for (String member : new String[] {"transferred", "total", "dirty-sync-count"}) {
            JsonNode n = JSON.readTree(QEMU_72_COMPLETED);
            ((ObjectNode) n.get("ram")).remove(member);
            assertThatThrownBy(() -> MigrationFigures.parse(n)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + member + "'");
        }
    }
}
