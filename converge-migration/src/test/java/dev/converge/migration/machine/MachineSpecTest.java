package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MachineSpecTest {
    @Test
    void parsesAllKeys() {
        MachineSpec s = MachineSpec.parse("memory=256M,vcpus=2,workload=stress,dirty-rate=10M/s,working-set=64M,disk=drive0");
        assertThat(s).isEqualTo(new MachineSpec(256L << 20, 2, WorkloadKind.STRESS, OptionalLong.of(10L << 20),
                OptionalLong.of(64L << 20), Optional.of("drive0")));
    }

    @Test
    void absentKeysDefaultAsQemus() {
        assertThat(MachineSpec.parse("workload=idle")).isEqualTo(MachineSpec.of(128L << 20, 1, WorkloadKind.IDLE));
        assertThat(MachineSpec.parse("memory=1G,workload=pattern").vcpus()).isEqualTo(1);
        assertThat(MachineSpec.parse("vcpus=4,workload=pattern").memory()).isEqualTo(128L << 20);
    }

    @ParameterizedTest
    @CsvSource({"512,536870912", "1G,1073741824", "1g,1073741824", "1.5G,1610612736", "4096k,4194304", "65536B,65536",
        ".5G,536870912", "1.M,1048576", "0x200,536870912"})
    void memorySizesFollowQemu(String text, long bytes) {
        assertThat(MachineSpec.parse("memory=" + text + ",vcpus=1,workload=idle").memory()).isEqualTo(bytes);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "memory=1G,vcpus=1|machine: missing key 'workload'",
        "memory=1GiB,workload=idle|memory: '1GiB' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)",
        "memory=1MB,workload=idle|memory: '1MB' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)",
        "memory=0x20M,workload=idle|memory: '0x20M' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)",
        "memory=1G,vcpus=1,workload=idle,color=red|machine: unknown key 'color' (expected: memory, vcpus, workload, dirty-rate, working-set, disk)",
        "memory=1G,vcpus=1,workload=idle,memory=2G|machine: key 'memory' given twice",
        "memory=lots,vcpus=1,workload=idle|memory: 'lots' is not a size (expected: a number with optional suffix B/K/M/G/T/P/E)",
        "memory=1G,vcpus=two,workload=idle|vcpus: 'two' is not an integer",
        "memory=1G,vcpus=0,workload=idle|vcpus: 0 (expected: 1..64)",
        "memory=1G,vcpus=1,workload=spin|workload: 'spin' is unknown (expected: idle, pattern, stress)",
        "memory=1000B,vcpus=1,workload=idle|memory: 1000 (expected: a multiple of 4096 in 4096..68719476736)",
        "memory=1G,vcpus=1,workload=stress,working-set=2G|working-set: 2147483648 (expected: 4096..1073741824)",
        "memory=1G,vcpus=1,workload=stress,dirty-rate=0|dirty-rate: 0 (expected: > 0)",
        "memory=1G,vcpus=1,workload=idle,disk=|disk: empty node name",
        "memory=1G,vcpus|machine: 'vcpus' is not KEY=VALUE",
        "memory=99999999999999999999,vcpus=1,workload=idle|memory: '99999999999999999999' is too large",
    })
    void badSpecsNameTheKeyOrValue(String text, String message) {
        assertThatThrownBy(() -> MachineSpec.parse(text)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }
}
