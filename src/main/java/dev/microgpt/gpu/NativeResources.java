package dev.microgpt.gpu;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Native resources owned together (device memory, pinned memory, graphs, handles, the stream) and released in the
 * reverse order of their creation, so that nothing outlives what it was made with.
 */
final class NativeResources implements AutoCloseable {

    private final Deque<AutoCloseable> owned = new ArrayDeque<>();

    /** Takes {@code resource} over and returns it. */
    <R extends AutoCloseable> R own(R resource) {
        owned.push(resource);
        return resource;
    }

    /** Closes one resource now, ahead of the rest (a buffer being replaced by a larger one). */
    void release(AutoCloseable resource) {
        owned.remove(resource);
        try {
            resource.close();
        } catch (Exception e) {
            throw unchecked(e);
        }
    }

    /** Closes every resource, most recent first, even when one fails; then throws the first failure. */
    @Override
    public void close() {
        RuntimeException failure = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = unchecked(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException unchecked(Exception e) {
        return e instanceof RuntimeException r ? r : new CudaException(e.toString());
    }
}
