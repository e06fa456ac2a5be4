package dev.converge.migration.file;

import dev.converge.migration.machine.RamBlock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The parallel part of a mapped-ram save or restore: every block's pages in ranges of
 * {@value #CHUNK_PAGES}, handed to up to 8 platform threads (file I/O pins a virtual thread's
 * carrier anyway); the first failure is thrown once all ranges ended.
 */
final class PageChunks {
    /** Pages per range: a multiple of 64, so a range of a block that starts on a word owns whole bitmap words. */
    static final long CHUNK_PAGES = 8192;

    /** One range of one block. */
    @FunctionalInterface
    interface Task {
        /**
         * @param index     the block's index
         * @param block     the block
         * @param from      first page of the range, in the block
         * @param to        end of the range (exclusive), in the block
         * @param firstPage the block's first page in the file's page numbering
         */
        void run(int index, RamBlock block, long from, long to, long firstPage) throws IOException;
    }

    private PageChunks() {
    }

    static void run(List<RamBlock> blocks, FileLayout layout, String threadName, Task task) throws IOException {
        int threads = Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors()));
        try (var pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().name(threadName, 0).factory())) {
            List<Future<?>> work = new ArrayList<>();
            for (int b = 0; b < blocks.size(); b++) {
                RamBlock block = blocks.get(b);
                long first = layout.firstPage()[b];
                int index = b;
                for (long start = 0; start < block.pages(); start += CHUNK_PAGES) {
                    long from = start;
                    long to = Math.min(block.pages(), start + CHUNK_PAGES);
                    work.add(pool.submit(() -> {
                        task.run(index, block, from, to, first);
                        return null;
                    }));
                }
            }
            await(work);
        }
    }

    private static void await(List<Future<?>> work) throws IOException {
        IOException failure = null;
        for (Future<?> f : work) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new InterruptedIOException("interrupted");
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof IOException io ? io : new IOException(e.getCause().getMessage(), e.getCause());
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
