package dev.converge.qmp.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class QmpMessagesTest {

    /** The hand-rendered greeting is byte for byte what Jackson writes for the same tree. */
    @ParameterizedTest
    @ValueSource(strings = {"converge 0.1.0", "", "a \"quoted\" \\ back", "tab\tnew\nline\rcr\bb\ff", "ctl\u0001\u001f",
        "ünïcødé €", "slash / and </script>"})
    void greetingBytesAreTheEncodedGreeting(String pkg) {
        byte[] expected = QmpJson.encode(QmpMessages.greeting(10, 2, 3, pkg, List.of()));
        byte[] actual = QmpMessages.greetingBytes(10, 2, 3, pkg);
        assertThat(new String(actual, StandardCharsets.UTF_8)).isEqualTo(new String(expected, StandardCharsets.UTF_8));
        assertThat(actual).isEqualTo(expected);
    }
}
