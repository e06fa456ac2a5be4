package dev.converge.qmp.sockets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.qmp.QmpException;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SocketAddressTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void parsesUnixTcpAndPlainHostPort() {
        assertThat(SocketAddress.parse("unix:/run/c/qmp.sock")).isEqualTo(new UnixSocketAddress(Path.of("/run/c/qmp.sock")));
        assertThat(SocketAddress.parse("tcp:localhost:4444")).isEqualTo(InetSocketAddress.of("localhost", 4444));
        assertThat(SocketAddress.parse("localhost:4444")).isEqualTo(InetSocketAddress.of("localhost", 4444));
        assertThat(SocketAddress.parse("tcp:[::1]:0")).isEqualTo(InetSocketAddress.of("::1", 0));
        assertThat(SocketAddress.parse("tcp::4444")).isEqualTo(InetSocketAddress.of("", 4444));
    }

    @Test
    void parsesQemusOptionsAfterThePort() {
        assertThat(SocketAddress.parse("tcp:h:1,to=9,ipv4,ipv6=off,keep-alive=on")).isEqualTo(new InetSocketAddress(
                "h", 1, Optional.empty(), OptionalInt.of(9), Optional.of(true), Optional.of(false), Optional.of(true)));
        assertThat(SocketAddress.parse("[::1]:5,ipv6=on")).isEqualTo(new InetSocketAddress(
                "::1", 5, Optional.empty(), OptionalInt.empty(), Optional.empty(), Optional.of(true), Optional.empty()));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "unix:/tmp/x.sock",
        "tcp:127.0.0.1:4444",
        "tcp:[::1]:5",
        "tcp::80",
        "tcp:h:1,to=9,ipv4=on,ipv6=off,keep-alive=on",
    })
    void printsWhatItParses(String text) {
        assertThat(SocketAddress.parse(text).uri()).isEqualTo(text);
        assertThat(SocketAddress.parse(text).toString()).isEqualTo(text);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "unix:                | invalid Unix socket address",
        "/tmp/x.sock          | error parsing address '/tmp/x.sock'",
        "tcp:host             | error parsing address 'host'",
        "tcp:host:            | error parsing address 'host:'",
        "tcp:                 | error parsing address ''",
        "tcp::                | error parsing port in address ':'",
        "tcp:[::1]            | error parsing IPv6 address '[::1]'",
        "tcp:[]:80            | error parsing IPv6 address '[]:80'",
        "tcp:[::1]:           | error parsing IPv6 address '[::1]:'",
        "tcp:host:http        | address resolution failed for host:http: Servname not supported for ai_socktype",
        "tcp:host:-1          | address resolution failed for host:-1: Servname not supported for ai_socktype",
        "tcp:host:70000       | port 70000 out of range",
        "tcp:host:1,to=x      | error parsing to= argument",
        "tcp:host:1,ipv4=yes  | error parsing 'ipv4' flag '=yes'",
        "tcp:host:1,ipv6,,x   | error parsing 'ipv6' flag ',,x'",
        "tcp:::1:80           | error parsing address '::1:80': put an IPv6 host in brackets, as [::1]:80",
        "fe80::1:80,ipv6      | error parsing address 'fe80::1:80,ipv6': put an IPv6 host in brackets, as [fe80::1]:80",
        "vsock:3:1024         | 'vsock' sockets are not supported by converge (use inet or unix)",
        "fd:3                 | 'fd' sockets are not supported by converge (use inet or unix)",
    })
    void refusesBadAddressesWithQemusTexts(String text, String error) {
        assertThatThrownBy(() -> SocketAddress.parse(text)).isInstanceOf(QmpException.class).hasMessage(error);
    }

    @Test
    void readsAndPrintsTheFlatQmpForm() throws IOException {
        JsonNode inet = JSON.readTree("{\"type\":\"inet\",\"host\":\"::1\",\"port\":\"4444\",\"numeric\":true,"
                + "\"ipv6\":true,\"keep-alive\":false}");
        SocketAddress a = SocketAddress.fromQmp(inet, "server");
        assertThat(a).isEqualTo(new InetSocketAddress("::1", 4444, Optional.of(true), OptionalInt.empty(),
                Optional.empty(), Optional.of(true), Optional.of(false)));
        assertThat(a.toQmp()).isEqualTo(inet);
        JsonNode unix = JSON.readTree("{\"type\":\"unix\",\"path\":\"/tmp/s\",\"tight\":false}");
        assertThat(SocketAddress.fromQmp(unix, "server").toQmp()).isEqualTo(unix);
    }

    @Test
    void readsTheLegacyQmpForm() throws IOException {
        JsonNode legacy = JSON.readTree("{\"type\":\"inet\",\"data\":{\"host\":\"127.0.0.1\",\"port\":\"0\"}}");
        assertThat(SocketAddress.fromQmpLegacy(legacy, "addr")).isEqualTo(InetSocketAddress.of("127.0.0.1", 0));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{'type':'vsock','cid':'3','port':'1'}         | Parameter 'server.type': 'vsock' sockets are not supported by converge (use inet or unix)",
        "{'type':'inet','host':'h','port':'http'}      | address resolution failed for h:http: Servname not supported for ai_socktype",
        "{'type':'inet','host':'h','port':'65536'}     | port 65536 out of range",
        "{'type':'inet','host':'h'}                    | Parameter 'server.port' is missing",
        "{'type':'unix'}                               | Parameter 'server.path' is missing",
    })
    void refusesBadQmpFormsLikeTheStrings(String json, String error) throws IOException {
        JsonNode node = JSON.readTree(json.replace('\'', '"'));
        assertThatThrownBy(() -> SocketAddress.fromQmp(node, "server")).isInstanceOf(QmpException.class)
                .hasMessage(error);
    }

    @Test
    void ipv4AndIpv6SelectTheFamilyAsQemu() throws IOException {
        assertThat(((InetSocketAddress) SocketAddress.parse("localhost:1,ipv4")).resolve().getAddress())
                .isInstanceOf(Inet4Address.class);
        assertThat(((InetSocketAddress) SocketAddress.parse(":1,ipv4=on,ipv6=on")).family())
                .isEqualTo(InetSocketAddress.Family.IPV6);
        assertThat(((InetSocketAddress) SocketAddress.parse("h:1,ipv4=on,ipv6=on")).family())
                .isEqualTo(InetSocketAddress.Family.ANY);
        assertThat(((InetSocketAddress) SocketAddress.parse("h:1,ipv4=off")).family())
                .isEqualTo(InetSocketAddress.Family.IPV6);
        assertThat(((InetSocketAddress) SocketAddress.parse("[::1]:1")).resolve().getAddress())
                .isInstanceOf(Inet6Address.class);
        assertThatThrownBy(() -> SocketAddress.parse("h:1,ipv4=off,ipv6=off").resolve())
                .hasMessage("Cannot disable IPv4 and IPv6 at same time");
        assertThatThrownBy(() -> SocketAddress.parse("127.0.0.1:1,ipv6").resolve()).isInstanceOf(IOException.class)
                .hasMessage("address resolution failed for 127.0.0.1:1: Address family for hostname not supported");
    }

    @Test
    void refusesWhatCannotListen() {
        assertThatThrownBy(() -> SocketAddress.parse("h:1,keep-alive").checkListenable())
                .hasMessage("keep-alive option is not supported for passive sockets");
        assertThatThrownBy(() -> SocketAddress.parse("h:1,to=5").checkListenable())
                .hasMessage("Parameter 'to' is not supported by converge (port ranges)");
        SocketAddress.parse("h:1,keep-alive=off").checkListenable();
    }
}
