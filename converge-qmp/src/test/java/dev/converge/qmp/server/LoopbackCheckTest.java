package dev.converge.qmp.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which TCP addresses get the plain-QMP warning: every one that is not only this machine. */
class LoopbackCheckTest {
    @Test
    void loopbackNamesAndAddressesAreLocalAndWildcardsAreNot() {
        assertThat(QmpServer.isLoopback("127.0.0.1")).isTrue();
        assertThat(QmpServer.isLoopback("::1")).isTrue();
        assertThat(QmpServer.isLoopback("0.0.0.0")).as("every interface").isFalse();
        assertThat(QmpServer.isLoopback("::")).isFalse();
        assertThat(QmpServer.isLoopback("192.0.2.1")).isFalse();
        assertThat(QmpServer.isLoopback("no-such-host.invalid")).as("unknown: warn").isFalse();
    }
}
