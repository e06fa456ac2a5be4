package dev.converge.job;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The engine's dependency rule, checked on the sources (imports and fully qualified names):
 * <ul>
 * <li>{@code dev.converge.job} and every subpackage but {@code dev.converge.job.qmp} refer to
 *     nothing of {@code dev.converge.qmp}, {@code .block}, {@code .nbd} or {@code .migration}:
 *     the engine is pure Java and knows no job kind and no protocol.</li>
 * <li>{@code dev.converge.job.qmp}, the engine's QMP binding, may use {@code dev.converge.qmp}
 *     (that is its job) but nothing of block, NBD or migration: job kinds plug in from their
 *     own modules.</li>
 * </ul>
 */
class EnginePackageDependenciesTest {
    private static final Path SOURCES = Path.of("src/main/java/dev/converge/job");
    private static final Pattern REFERENCE = Pattern.compile("\\bdev\\.converge\\.(qmp|block|nbd|migration)\\b");

    @Test
    void engineRefersToNoProtocolAndNoJobKind() throws IOException {
        List<String> violations = new ArrayList<>();
        List<Path> files = sources();
        assertThat(files).as("engine sources found").isNotEmpty();
        for (Path f : files) {
            boolean binding = SOURCES.relativize(f).startsWith("qmp");
            Matcher m = REFERENCE.matcher(withoutComments(Files.readString(f)));
            while (m.find()) {
                if (!(binding && m.group(1).equals("qmp"))) {
                    violations.add(SOURCES.relativize(f) + ": " + m.group());
                }
            }
        }
        assertThat(violations).isEmpty();
    }

    @Test
    void theRuleSeesAViolation() {
        assertThat(REFERENCE.matcher("import dev.converge.block.BlockNode;").find()).isTrue();
        assertThat(REFERENCE.matcher("import dev.converge.job.qmp.JobQmp;").find()).isFalse();
        assertThat(withoutComments("/** {@link dev.converge.qmp.X} */ // dev.converge.nbd\nint a;"))
                .doesNotContain("dev.converge");
    }

    private static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.walk(SOURCES)) {
            return s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
    }

    /** The text without comments: javadoc may name other modules, code may not. */
    private static String withoutComments(String java) {
        return java.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
    }
}
