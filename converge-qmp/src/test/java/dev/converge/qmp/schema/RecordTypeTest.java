package dev.converge.qmp.schema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** A record declared once gives the struct, the decoder and the encoder. */
class RecordTypeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    enum Mode {
        SLOW, WRITE_BLOCKING;

        String wire() {
            return name().toLowerCase().replace('_', '-');
        }
    }

    static final WireEnum<Mode> MODE = WireEnum.of("Mode", Mode.class, Mode::wire, "how");

    @QmpDoc("a sample")
    record Sample(@QmpDoc("the mode") Mode copyMode, @QmpDoc(value = "bytes", type = "size") long maxBytes,
            @QmpDoc("maybe") OptionalLong expectedDowntime, @QmpDoc("flag") boolean activelySynced,
            @QmpDoc("names") List<String> names, @QmpDoc("maybe a mode") Optional<Mode> next,
            @QmpDoc("rate") double rate) {
    }

    @Test
    void schemaFollowsTheComponents() {
        ObjectType t = RecordType.of(Sample.class, "SampleInfo", MODE).schema();
        assertThat(t).isEqualTo(ObjectType.struct("SampleInfo", "a sample",
                Member.required("copy-mode", MODE.type(), "the mode"),
                Member.required("max-bytes", BuiltinType.SIZE, "bytes"),
                Member.optional("expected-downtime", BuiltinType.INT, "maybe"),
                Member.required("actively-synced", BuiltinType.BOOL, "flag"),
                Member.required("names", new ArrayType(BuiltinType.STR), "names"),
                Member.optional("next", MODE.type(), "maybe a mode"),
                Member.required("rate", BuiltinType.NUMBER, "rate")));
    }

    @Test
    void encodeAndDecodeRoundTrip() throws Exception {
        RecordType<Sample> t = RecordType.of(Sample.class, "SampleInfo", MODE);
        Sample s = new Sample(Mode.WRITE_BLOCKING, 1L << 40, OptionalLong.empty(), true, List.of("a", "b"),
                Optional.of(Mode.SLOW), 1.5);
        ObjectNode o = t.encode(s);
        assertThat(o.toString()).isEqualTo("{\"copy-mode\":\"write-blocking\",\"max-bytes\":1099511627776,"
                + "\"actively-synced\":true,\"names\":[\"a\",\"b\"],\"next\":\"slow\",\"rate\":1.5}");
        assertThat(t.decode(o)).isEqualTo(s);
        assertThat(t.decode(JSON.readTree("{\"copy-mode\":\"slow\",\"max-bytes\":1,\"expected-downtime\":7,"
                + "\"actively-synced\":false,\"names\":[],\"rate\":0}")))
                .isEqualTo(new Sample(Mode.SLOW, 1, OptionalLong.of(7), false, List.of(), Optional.empty(), 0));
    }

    record Undocumented(long x) {
    }

    @QmpDoc("bad")
    record NoMapping(@QmpDoc("what") Object x) {
    }

    @QmpDoc("bad")
    record EnumWithoutBinding(@QmpDoc("what") Mode m) {
    }

    @Test
    void declarationErrorsShowWhenTheTypeIsMade() {
        assertThatThrownBy(() -> RecordType.of(Undocumented.class, "U")).hasMessageContaining("@QmpDoc");
        assertThatThrownBy(() -> RecordType.of(NoMapping.class, "N")).hasMessageContaining("no QMP type");
        assertThatThrownBy(() -> RecordType.of(EnumWithoutBinding.class, "E")).hasMessageContaining("WireEnum");
    }
}
