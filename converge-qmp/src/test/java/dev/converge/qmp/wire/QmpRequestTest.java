package dev.converge.qmp.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.ErrorClass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QmpRequestTest {

    private static JsonNode json(String s) throws Exception {
        return QmpJson.parse(s);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[1]                                         | QMP input must be a JSON object",
        "42                                          | QMP input must be a JSON object",
        "{}                                          | QMP input lacks member 'execute'",
        "{\"execute\": 1}                            | QMP input member 'execute' must be a string",
        "{\"execute\": \"x\", \"foo\": 1}            | QMP input member 'foo' is unexpected",
        "{\"execute\": \"x\", \"arguments\": []}     | QMP input member 'arguments' must be an object",
        "{\"exec-oob\": \"x\"}                       | QMP input member 'exec-oob' is unexpected",
        "{\"execute\": \"x\", \"control\": {}}       | QMP input member 'control' is unexpected",
    })
    void malformedEnvelopesGetQemuTexts(String request, String desc) throws Exception {
        QmpRequest r = QmpRequest.parse(json(request), false);
        assertThat(r).isInstanceOf(QmpRequest.Invalid.class);
        assertThat(((QmpRequest.Invalid) r).desc()).isEqualTo(desc);
    }

    @Test
    void idIsKeptEvenForInvalidRequests() throws Exception {
        QmpRequest r = QmpRequest.parse(json("{\"id\": {\"k\": [1]}, \"execute\": 5}"), false);
        assertThat(r.id()).isEqualTo(json("{\"k\": [1]}"));
    }

    @Test
    void wellFormedRequest() throws Exception {
        QmpRequest r = QmpRequest.parse(json("{\"execute\": \"job-pause\", \"arguments\": {\"id\": \"j\"}, \"id\": 7}"),
                false);
        assertThat(r).isEqualTo(new QmpRequest.Command("job-pause", (com.fasterxml.jackson.databind.node.ObjectNode)
                json("{\"id\": \"j\"}"), json("7")));
    }

    @Test
    void missingArgumentsAreTheEmptyObject() throws Exception {
        QmpRequest.Command c = (QmpRequest.Command) QmpRequest.parse(json("{\"execute\": \"x\"}"), false);
        assertThat(c.arguments()).isEmpty();
        assertThat(c.id()).isNull();
    }

    @Test
    void execOobWhenAllowedAndClashes() throws Exception {
        assertThat(QmpRequest.parse(json("{\"exec-oob\": \"x\"}"), true)).isInstanceOf(QmpRequest.Command.class);
        QmpRequest r = QmpRequest.parse(json("{\"execute\": \"x\", \"exec-oob\": \"y\"}"), true);
        assertThat(((QmpRequest.Invalid) r).desc()).isEqualTo("QMP input member 'exec-oob' clashes with 'execute'");
    }

    @Test
    void parseErrorsAreJsonParseErrors() {
        assertThatThrownBy(() -> QmpJson.parse("{\"a\": }")).isInstanceOf(QmpJson.ParseException.class)
                .hasMessageStartingWith("JSON parse error, ");
        assertThatThrownBy(() -> QmpJson.parse("{\"a\": 1, \"a\": 2}")).hasMessageContaining("Duplicate");
        assertThatThrownBy(() -> QmpJson.parse("12abc")).hasMessageStartingWith("JSON parse error, ");
    }

    @Test
    void messagesAreCompactQemuStyleWithCrLf() throws Exception {
        byte[] b = QmpJson.encode(QmpMessages.error(ErrorClass.CommandNotFound, "The command x has not been found",
                json("\"a\"")));
        assertThat(new String(b, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}, \"id\": \"a\"}\r\n");
    }

    @Test
    void eventTimestampSplitsMicroseconds() throws Exception {
        JsonNode e = QmpMessages.event("STOP", null, 1_700_000_000_123_456L);
        assertThat(QmpJson.toText(e)).isEqualTo(
                "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}}");
    }
}
