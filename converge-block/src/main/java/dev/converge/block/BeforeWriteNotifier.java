package dev.converge.block;

/**
 * Called on the writer's thread for every write, write-zeroes and discard of a node after the
 * request was admitted (counted in flight, so a drain waits for it) and before the driver runs it.
 * A write-blocking mirror copies the same data to its target here and returns when it is there.
 * <p>
 * It may block. Throwing fails the request with that error; the node's data is then unchanged
 * and its dirty bitmaps are not marked. It must not drain the node it is called for (deadlock).
 */
@FunctionalInterface
public interface BeforeWriteNotifier {
    void beforeWrite(WriteRequest request) throws BlockIOException;
}
