package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class IoBuffersTest {
    private static long address(ByteBuffer b) {
        return MemorySegment.ofBuffer(b).address();
    }

    @Test
    void buffersAreDirectPageAlignedAndSizedToTheRequest() {
        IoBuffers rb = new IoBuffers(2);
        for (int len : new int[] {1, 4095, 4096, 65537, IoBuffers.POOLED, IoBuffers.POOLED + 1, 3 << 20}) {
            ByteBuffer b = rb.take(len);
            assertThat(b.isDirect()).isTrue();
            assertThat(b.position()).isZero();
            assertThat(b.limit()).isEqualTo(len);
            assertThat(address(b) % 4096).as("alignment for %d", len).isZero();
            rb.give(b);
        }
    }

    @Test
    void pooledSizesAreReusedUpToTheBoundAndLargeOnesAreNot() {
        IoBuffers rb = new IoBuffers(1);
        ByteBuffer a = rb.take(256 << 10);
        ByteBuffer b = rb.take(256 << 10);
        assertThat(a).isNotSameAs(b);
        rb.give(a);
        rb.give(b); // no room: dropped
        assertThat(rb.take(4096)).isSameAs(a);
        assertThat(rb.take(4096)).isNotSameAs(b);
        ByteBuffer big = rb.take(4 << 20);
        rb.give(big);
        assertThat(rb.take(4 << 20)).isNotSameAs(big);
    }
}
