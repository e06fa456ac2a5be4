package dev.converge.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QmpAddressTest {
    @Test
    void parsesUnixAndTcp() {
        assertThat(QmpAddress.parse("unix:/run/c/qmp.sock")).isEqualTo(new QmpAddress.Unix(Path.of("/run/c/qmp.sock")));
        assertThat(QmpAddress.parse("tcp:localhost:4444")).isEqualTo(new QmpAddress.Tcp("localhost", 4444));
        assertThat(QmpAddress.parse("tcp:[::1]:0")).isEqualTo(new QmpAddress.Tcp("::1", 0));
    }

    @Test
    void toStringRoundTrips() {
        for (String s : new String[] {"unix:/tmp/x.sock", "tcp:127.0.0.1:4444", "tcp:[::1]:5"}) {
            assertThat(QmpAddress.parse(s).toString()).isEqualTo(s);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "/tmp/x.sock          | expected unix:PATH or tcp:HOST:PORT",
        "unix:                | empty socket path",
        "tcp:host             | expected tcp:HOST:PORT",
        "tcp:host:            | expected tcp:HOST:PORT",
        "tcp:host:http        | port 'http' is not a number",
        "tcp:host:70000       | port 70000 (expected: 0 to 65535)",
        "tcp:::1:80           | put an IPv6 host in brackets",
    })
    void refusesBadAddressesNamingTheProblem(String text, String problem) {
        assertThatThrownBy(() -> QmpAddress.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(problem).hasMessageContaining(text);
    }
}
