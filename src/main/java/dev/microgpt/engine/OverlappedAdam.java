package dev.microgpt.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Adam on a second core, overlapped with the backward pass. Each weight tensor of microgpt is read by exactly one op
 * of the backward, the one that also produces its gradient, so once that op is done the tensor can be updated while
 * the backward goes on. The training thread publishes such ranges in order; a worker thread and, once its backward
 * is done, the training thread itself claim them one by one, so a worker that the OS does not schedule only means the
 * training thread does the work. Adam is elementwise, so the result is bitwise that of one update of all parameters.
 * The worker spins while training keeps it busy, polls ever more slowly when training pauses, and ends when the
 * engine is closed or after {@value #EXIT_AFTER_SECONDS} s without work, so an engine left unclosed leaves no
 * thread behind either; during training it is never restarted, so a step allocates nothing.
 */
final class OverlappedAdam implements AutoCloseable {

    /** Below this many parameters Adam takes a few microseconds and a second thread is not worth its handoffs. */
    static final int MIN_PARAMETERS = 16_384;
    private static final long SPIN_NANOS = 2_000_000;
    private static final long FIRST_PARK_NANOS = 50_000;
    private static final long LONGEST_PARK_NANOS = 10_000_000;
    private static final long EXIT_AFTER_SECONDS = 10;

    private final double[] params;
    private final double[] grads;
    private final double[] m;
    private final double[] v;
    private final int[] rangeFrom; // a ring of published ranges; every step is awaited before the next one publishes,
    private final int[] rangeTo;   // so it never holds more than one step's ranges
    private final AtomicLong claimed = new AtomicLong();   // ranges taken by either thread
    private final AtomicLong completed = new AtomicLong(); // ranges updated
    private final AtomicBoolean workerRunning = new AtomicBoolean();

    // The step's settings: written before its first range is published, read after a claim sees that range.
    private AdamConfig adam;
    private int step;
    private int numSteps;

    private volatile long published; // ranges published so far (written by the training thread only)
    private volatile Throwable failure;
    private volatile boolean closed;

    OverlappedAdam(double[] params, double[] grads, double[] m, double[] v, int rangesPerStep) {
        this.params = params;
        this.grads = grads;
        this.m = m;
        this.v = v;
        this.rangeFrom = new int[rangesPerStep];
        this.rangeTo = new int[rangesPerStep];
    }

    /** Starts a step; the previous one must have been awaited. */
    void begin(AdamConfig adam, int step, int numSteps) {
        this.adam = adam;
        this.step = step;
        this.numSteps = numSteps;
    }

    /** Hands the range [offset, offset + length), whose gradients are final, to whichever thread claims it first. */
    void publish(int offset, int length) {
        long p = published;
        if (p - completed.get() >= rangeFrom.length) {
            throw new IllegalStateException("more than " + rangeFrom.length + " ranges published in one step");
        }
        int slot = (int) (p % rangeFrom.length);
        rangeFrom[slot] = offset;
        rangeTo[slot] = offset + length;
        published = p + 1; // the volatile write that makes the range, the settings and the gradients visible
        if (!workerRunning.get() && workerRunning.compareAndSet(false, true)) {
            Thread worker = new Thread(this::work, "microgpt-adam");
            worker.setDaemon(true);
            worker.start();
        }
    }

    /** Updates every published range the worker has not taken, then waits for the one it is on. */
    void await() {
        while (completed.get() != published) {
            if (!claimAndUpdate()) {
                Thread.onSpinWait();
            }
        }
        Throwable f = failure;
        if (f != null) {
            failure = null;
            throw new IllegalStateException("Adam failed: " + f, f);
        }
    }

    private boolean claimAndUpdate() {
        long c = claimed.get();
        if (c >= published || !claimed.compareAndSet(c, c + 1)) {
            return false;
        }
        int slot = (int) (c % rangeFrom.length);
        try {
            Adam.update(adam, step, numSteps, params, grads, m, v, rangeFrom[slot], rangeTo[slot]);
        } catch (Throwable e) {
            failure = e;
        }
        completed.incrementAndGet();
        return true;
    }

    private void work() {
        long lastWork = System.nanoTime();
        long park = FIRST_PARK_NANOS;
        while (!closed) {
            if (claimAndUpdate()) {
                lastWork = System.nanoTime();
                park = FIRST_PARK_NANOS;
                continue;
            }
            long idle = System.nanoTime() - lastWork;
            if (idle < SPIN_NANOS) {
                Thread.onSpinWait();
            } else if (idle < EXIT_AFTER_SECONDS * 1_000_000_000L) {
                LockSupport.parkNanos(park);
                park = Math.min(2 * park, LONGEST_PARK_NANOS);
            } else {
                workerRunning.set(false);
                // Work published after the claim above started no new worker only if this one takes it back.
                if (claimed.get() >= published || !workerRunning.compareAndSet(false, true)) {
                    return;
                }
            }
        }
        workerRunning.set(false);
    }

    /** Ends the worker; the engine is not trained any more. */
    @Override
    public void close() {
        closed = true;
    }
}
