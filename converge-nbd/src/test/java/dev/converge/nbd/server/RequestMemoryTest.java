package dev.converge.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestMemoryTest {
    private static final int MIB = 1 << 20;

    private static long address(ByteBuffer b) {
        return MemorySegment.ofBuffer(b).address();
    }

    @Test
    void buffersAreDirectPageAlignedAndSizedToTheRequest() {
        RequestMemory m = new RequestMemory(RequestMemory.MIN_CAPACITY, 4);
        for (int len : new int[] {1, 4095, 4096, 65537, RequestMemory.POOLED, RequestMemory.POOLED + 1, 3 << 20}) {
            ByteBuffer b = m.take(len, 0);
            assertThat(b.isDirect()).isTrue();
            assertThat(b.position()).isZero();
            assertThat(b.limit()).isEqualTo(len);
            assertThat(address(b) % 4096).as("alignment for %d", len).isZero();
            m.give(b);
        }
    }

    @Test
    void everyBufferCountsUntilFreedAndPooledOnesUntilTrimmed() {
        RequestMemory m = new RequestMemory(RequestMemory.MIN_CAPACITY, 1);
        ByteBuffer a = m.take(256 << 10, 0);
        ByteBuffer b = m.take(256 << 10, 0);
        assertThat(a).isNotSameAs(b);
        assertThat(m.used()).isEqualTo(2L * MIB);
        m.give(a);
        m.give(b); // the pool (of one) is full: freed at once
        assertThat(m.used()).isEqualTo(MIB);
        assertThat(m.take(4096, 0)).isSameAs(a);
        m.give(a);
        ByteBuffer big = m.take(5 << 20, 0);
        assertThat(m.used()).isEqualTo(6L * MIB);
        m.give(big); // large buffers are never pooled
        assertThat(m.used()).isEqualTo(MIB);
        assertThatThrownBy(() -> big.get(0)).isInstanceOf(IllegalStateException.class); // freed, not readable
        m.trim();
        assertThat(m.used()).isZero();
    }

    @Test
    void aFullBudgetAnswersNullAfterTheWaitAndServesAgainOnceMemoryIsBack() {
        RequestMemory m = new RequestMemory(RequestMemory.MIN_CAPACITY, 1);
        List<ByteBuffer> held = new ArrayList<>();
        held.add(m.take(32 << 20, 0));
        held.add(m.take(32 << 20, 0));
        assertThat(m.used()).isEqualTo(RequestMemory.MIN_CAPACITY);
        assertThat(m.take(4096, 1_000_000)).isNull();
        assertThat(m.take(32 << 20, 0)).isNull();
        m.give(held.removeFirst());
        ByteBuffer again = m.take(32 << 20, 0);
        assertThat(again).isNotNull();
        m.give(again);
        m.give(held.removeFirst());
        m.trim();
        assertThat(m.used()).isZero();
    }

    @Test
    void aConnectionsShareIsBoundedAndARefusalGivesItBack() {
        RequestMemory m = new RequestMemory(2 * RequestMemory.MIN_CAPACITY, 1);
        ConnectionMemory c = new ConnectionMemory(m, RequestMemory.MIN_CAPACITY, 0);
        ConnectionMemory other = new ConnectionMemory(m, RequestMemory.MIN_CAPACITY, 0);
        ByteBuffer x = c.take(32 << 20);
        ByteBuffer y = c.take(32 << 20);
        ByteBuffer z = other.take(32 << 20);
        ByteBuffer w = other.take(32 << 20);
        assertThat(m.take(4096, 0)).as("the budget is spent").isNull();
        c.give(x, 32 << 20);
        ByteBuffer again = c.take(32 << 20);
        assertThat(again).isNotNull();
        for (ByteBuffer b : List.of(y, again)) {
            c.give(b, 32 << 20);
        }
        other.give(z, 32 << 20);
        other.give(w, 32 << 20);
        assertThat(m.used()).isZero();
    }
}
