package dev.converge.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RenderingTest {
    @Test
    void progressBarFillsInProportionAndClamps() {
        assertThat(ProgressBar.render("m0", 4, 10, 50, 100, "running"))
                .startsWith("m0   [#####-----]  50%").endsWith("running");
        assertThat(ProgressBar.render("m0", 2, 4, 7, 5, "ready")).contains("[####] 100%");
        assertThat(ProgressBar.render("m0", 2, 4, 3, 0, "created")).contains("[----]   0%");
    }

    @Test
    void unitsAreBinaryForSizesAndDecimalForRates() {
        assertThat(Units.bytes(512)).isEqualTo("512 B");
        assertThat(Units.bytes(1536)).isEqualTo("1.5 KiB");
        assertThat(Units.bytes(4L << 30)).isEqualTo("4.0 GiB");
        assertThat(Units.throughput(1_000_000_000L, 2_000_000_000L)).isEqualTo("500.0 MB/s");
        assertThat(Units.throughput(1, 0)).isEqualTo("-");
    }

    @Test
    void tableAlignsColumnsToTheWidestCell() {
        String out = new Table("ID", "STATUS").row("mirror0", "ready").row("m", "running").render();
        assertThat(out).isEqualTo("ID       STATUS\nmirror0  ready\nm        running\n");
    }

    @Test
    void tableRefusesRowsOfTheWrongWidth() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Table("A", "B").row("x"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
