package dev.converge.daemon.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify against a fake systemd socket, and the pid file's lock. */
class ServiceSupportTest {
    @TempDir
    Path dir;

    @Test
    void readinessReachesTheNotifySocket() throws Throwable {
        Path socket = dir.resolve("notify");
        try (DatagramReceiver systemd = new DatagramReceiver(socket, 10)) {
            assertThat(SystemdNotify.to(socket.toString()).notify("READY=1\nSTATUS=serving")).isEmpty();
            assertThat(systemd.receive()).isEqualTo("READY=1\nSTATUS=serving");
        }
    }

    @Test
    void withoutNotifySocketNothingIsSentAndABadOneIsReported() {
        assertThat(SystemdNotify.to(null).enabled()).isFalse();
        assertThat(SystemdNotify.to(null).notify("READY=1")).isEmpty();
        assertThat(SystemdNotify.to("relative/path").notify("READY=1")).get().asString().contains("absolute");
        assertThat(SystemdNotify.to(dir.resolve("nobody").toString()).notify("READY=1")).get().asString()
                .contains("sendto");
    }

    @Test
    void thePidFileHoldsThePidIsLockedAndGoesAway() throws IOException {
        Path file = dir.resolve("converged.pid");
        try (PidFile pid = PidFile.write(file, 4242)) {
            assertThat(Files.readString(file)).isEqualTo("4242\n");
            // Another JVM would get the POSIX lock refused; in this one the JDK refuses the overlap.
            assertThatThrownBy(() -> PidFile.write(file, 1)).isInstanceOf(Exception.class);
            assertThat(pid.path()).isEqualTo(file);
        }
        assertThat(file).doesNotExist();
        assertThatThrownBy(() -> PidFile.write(dir.resolve("no/such/dir/pid"), 1))
                .hasMessage("Cannot open pid file: No such file or directory");
    }
}
