package dev.microgpt.engine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Adam overlapped with the backward pass of a one-document step, by two members of a {@link ThreadTeam}. Each weight
 * tensor of microgpt is read by exactly one op of the backward, the one that also produces its gradient, so once that
 * op is done the tensor can be updated while the backward goes on. The backward {@link #publish}es such ranges in
 * order and a helper member claims them one by one as they come; once the backward has ended, its member claims what
 * is left beside the helper. Adam is elementwise, so the result is bitwise that of one update of all parameters.
 * Allocates nothing.
 */
final class OverlappedAdam {

    /** Adam on the parameters [from, to), with the step's settings: the engine's own update of a range. */
    @FunctionalInterface
    interface RangeUpdate {
        void update(int from, int to);
    }

    private final RangeUpdate adam;
    private final int[] rangeFrom; // [ranges a step] the step's published ranges, in publishing order
    private final int[] rangeTo;   // [ranges a step]
    private final AtomicInteger claimed = new AtomicInteger(); // ranges of this step taken by either member

    private volatile int published;         // ranges published so far (written by the backward's member only)
    private volatile boolean backwardEnded; // nothing more will be published this step

    OverlappedAdam(RangeUpdate adam, int rangesPerStep) {
        this.adam = adam;
        this.rangeFrom = new int[rangesPerStep];
        this.rangeTo = new int[rangesPerStep];
    }

    /** Starts a step; call before the team runs it, which hands this and the step's settings to the helper. */
    void begin() {
        claimed.set(0);
        published = 0;
        backwardEnded = false;
    }

    /** Hands the range [offset, offset + length), whose gradients are final, to whichever member claims it first. */
    void publish(int offset, int length) {
        int p = published;
        if (p == rangeFrom.length) {
            throw new IllegalStateException("more than " + rangeFrom.length + " ranges published in one step");
        }
        rangeFrom[p] = offset;
        rangeTo[p] = offset + length;
        published = p + 1; // the volatile write that makes the range and its gradients visible to the helper
    }

    /**
     * Says that the backward has ended and publishes nothing more this step; called also when it failed, since the
     * helper waits for this. The ranges it had published are updated all the same: the helper may have done so already.
     */
    void endBackward() {
        backwardEnded = true;
    }

    /** Updates ranges as they are published, until the backward has ended and none is left: either member may call it. */
    void help() {
        while (true) {
            boolean ended = backwardEnded; // read first: a range published before the end is then seen below
            if (claimAndUpdate()) {
                continue;
            }
            if (ended) {
                return;
            }
            Thread.onSpinWait();
        }
    }

    private boolean claimAndUpdate() {
        int c = claimed.get();
        if (c >= published) {
            return false;
        }
        if (!claimed.compareAndSet(c, c + 1)) {
            return true; // the other member took range c: look again
        }
        adam.update(rangeFrom[c], rangeTo[c]);
        return true;
    }
}
