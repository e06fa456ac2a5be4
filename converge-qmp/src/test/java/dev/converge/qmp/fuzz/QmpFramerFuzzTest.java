package dev.converge.qmp.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.converge.qmp.wire.QmpFramer;
import dev.converge.qmp.wire.QmpJson;

/**
 * The QMP framer on hostile bytes cut at arbitrary points: it never throws, never yields a frame
 * over its limit, and every message frame it yields is parsed (or refused with a parse error)
 * without anything else going wrong. Fed the same bytes in one piece it yields the same frames.
 */
class QmpFramerFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void framesAnyBytesInAnyChunking(FuzzedDataProvider data) {
        int cuts = data.consumeInt(0, 8);
        int[] sizes = new int[cuts];
        for (int i = 0; i < cuts; i++) {
            sizes[i] = data.consumeInt(0, 64);
        }
        byte[] input = data.consumeRemainingAsBytes();
        QmpFramer chunked = new QmpFramer();
        java.util.List<QmpFramer.Frame> frames = new java.util.ArrayList<>();
        int at = 0;
        for (int s : sizes) {
            int n = Math.min(s, input.length - at);
            frames.addAll(chunked.feed(input, at, n));
            at += n;
        }
        frames.addAll(chunked.feed(input, at, input.length - at));
        for (QmpFramer.Frame f : frames) {
            if (f instanceof QmpFramer.Frame.Message m) {
                assertThat(m.json().length).isLessThanOrEqualTo(QmpFramer.MAX_MESSAGE_BYTES);
                try {
                    QmpJson.parse(m.json());
                } catch (QmpJson.ParseException e) {
                    assertThat(e.getMessage()).isNotBlank();
                }
            } else {
                assertThat(((QmpFramer.Frame.Error) f).desc()).isNotBlank();
            }
        }
        assertThat(new QmpFramer().feed(input, 0, input.length)).as("chunking does not change the frames")
                .isEqualTo(frames);
    }
}
