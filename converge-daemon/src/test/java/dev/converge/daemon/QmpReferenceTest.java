package dev.converge.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/qmp.md is generated from the registry; this fails when a declaration changed without it. */
class QmpReferenceTest {
    @Test
    void docsMatchTheDeclarations() throws Exception {
        Path docs = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/qmp.md");
        String expected = Daemon.qmpReference();
        assertThat(expected).contains("## Commands").contains("job-change").contains("JOB_STATUS_CHANGE");
        assertThat(docs).as("regenerate with ./bin/converged --qmp-reference > docs/qmp.md").exists();
        assertThat(Files.readString(docs)).as("docs/qmp.md is stale: run ./bin/converged --qmp-reference > docs/qmp.md")
                .isEqualTo(expected);
    }
}
