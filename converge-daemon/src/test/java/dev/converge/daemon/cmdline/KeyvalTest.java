package dev.converge.daemon.cmdline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** QEMU's key=value syntax and its typing by a schema. */
class KeyvalTest {
    @Test
    void parsesImpliedKeysNestingAndDoubledCommas() {
        assertThat(Keyval.parse("file,node-name=f,filename=/a,,b,server.type=unix,server.path=/s", "driver").toString())
                .isEqualTo("{\"driver\":\"file\",\"node-name\":\"f\",\"filename\":\"/a,b\","
                        + "\"server\":{\"type\":\"unix\",\"path\":\"/s\"}}");
        assertThat(Keyval.parse("driver=raw", "driver").toString()).isEqualTo("{\"driver\":\"raw\"}");
        assertThat(Keyval.parse("", "driver").isEmpty()).isTrue();
    }

    @Test
    void refusesWhatQemuRefuses() {
        assertThatThrownBy(() -> Keyval.parse("a=1,b", null)).hasMessageContaining("'b': expected key=value");
        assertThatThrownBy(() -> Keyval.parse("file,x", "driver")).hasMessageContaining("'x'");
        assertThatThrownBy(() -> Keyval.parse("a=1,a=2", null)).hasMessageContaining("'a'");
        assertThatThrownBy(() -> Keyval.parse("a=1,a.b=2", null)).hasMessageContaining("conflicts");
        assertThatThrownBy(() -> Keyval.parse("a.=1", null)).hasMessageContaining("empty key");
    }

    @Test
    void typesFollowTheSchemaIncludingUnionVariantsAndArrays() {
        ObjectType unixAddr = ObjectType.struct("U", null, Member.required("path", BuiltinType.STR, null));
        ObjectType options = ObjectType.union("O", null, List.of(
                Member.required("driver", BuiltinType.STR, null),
                Member.optional("size", BuiltinType.SIZE, null),
                Member.optional("read-only", BuiltinType.BOOL, null),
                Member.optional("count", BuiltinType.UINT32, null),
                Member.optional("list", new ArrayType(BuiltinType.INT), null)), "driver",
                Map.of("nbd", ObjectType.struct("N", null, Member.optional("server", unixAddr, null),
                        Member.optional("reconnect-delay", BuiltinType.UINT32, null))));
        var typed = KeyvalTyping.coerce(Keyval.parse(
                "nbd,size=1G,read-only=on,count=0x10,list.0=1,list.1=-2,server.path=/s,reconnect-delay=5,other=x",
                "driver"), options);
        assertThat(typed.toString()).isEqualTo("{\"driver\":\"nbd\",\"size\":1073741824,\"read-only\":true,"
                + "\"count\":16,\"list\":[1,-2],\"server\":{\"path\":\"/s\"},\"reconnect-delay\":5,\"other\":\"x\"}");
        // What does not convert stays a string, for the validator to name.
        assertThat(KeyvalTyping.coerce(Keyval.parse("x,size=big", "driver"), options).get("size").isTextual()).isTrue();
        assertThat(KeyvalTyping.size("1.5k")).isEqualTo(1536);
        assertThat(KeyvalTyping.size("512")).isEqualTo(512);
    }

    @Test
    void qsdOptionsBecomeStartupCallsAndMonitorAddresses() {
        QsdOptions o = new QsdOptions();
        o.add("--chardev", "socket,id=mon0,path=/run/qmp.sock,server=on,wait=off");
        o.add("--monitor", "chardev=mon0");
        o.add("--nbd-server", "addr.type=inet,addr.host=127.0.0.1,addr.port=10809,max-connections=4");
        o.add("--export", "nbd,id=e0,node-name=n0,writable=on");
        o.add("--blockdev", "{\"driver\": \"null-co\", \"node-name\": \"n0\"}");
        assertThat(o.monitors()).hasToString("[unix:/run/qmp.sock]");
        assertThat(o.calls()).extracting(c -> c.command())
                .containsExactly("nbd-server-start", "block-export-add", "blockdev-add");
        assertThat(o.calls().getFirst().arguments().toString()).isEqualTo("{\"addr\":{\"type\":\"inet\",\"data\":"
                + "{\"host\":\"127.0.0.1\",\"port\":\"10809\"}},\"max-connections\":\"4\"}");
        assertThat(o.calls().get(2).keyval()).isFalse();
        assertThatThrownBy(() -> o.add("--chardev", "socket,id=c,path=/x")).hasMessageContaining("server=on");
        assertThatThrownBy(() -> o.add("--monitor", "chardev=c,mode=readline")).hasMessageContaining("mode=control");
        QsdOptions dangling = new QsdOptions();
        dangling.add("--monitor", "ghost");
        assertThatThrownBy(dangling::monitors).hasMessageContaining("chardev 'ghost' not found");
    }
}
