package dev.microgpt.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The cores a training step is spread over: the calling thread and up to {@code size - 1} worker threads, which run one
 * task at a time together, each as a member with its own index (the caller is member 0). A task takes its share of the
 * work by claiming items from a counter of its own, so a member the OS does not schedule only means the others do more;
 * a task of few items asks for few members, and the other workers are neither woken nor waited for. Handing a task out
 * allocates nothing, so a training loop on a team stays allocation-free. Between tasks a worker waits
 * {@value #SPIN_NANOS} ns for the next (a step's tasks come microseconds apart), then parks; the workers start with the
 * first task and end with {@link #close}.
 */
final class ThreadTeam implements AutoCloseable {

    /** One member's part of a task; {@code member} is 0 for the calling thread, 1 to members - 1 for the workers. */
    @FunctionalInterface
    interface Task {
        void run(int member);
    }

    private static final long SPIN_NANOS = 1_000_000;
    private static final long YIELD_AFTER_NANOS = 50_000;

    private final int size;
    private Thread[] workers;                // [size - 1] once started, with the first task that asks for a worker
    private final AtomicIntegerArray handedOut; // [size - 1] the number of the last task handed to each worker
    private final AtomicInteger workersDone = new AtomicInteger();
    private Task task;                       // written before the task is handed out
    private int tasks;                       // tasks run so far (calling thread only)
    private final AtomicReference<Throwable> workerFailure = new AtomicReference<>(); // the first, the others in it
    private volatile boolean closed;

    ThreadTeam(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("a team has at least one thread, got " + size);
        }
        this.size = size;
        this.handedOut = new AtomicIntegerArray(size - 1);
    }

    int size() {
        return size;
    }

    /**
     * Runs {@code task} on min(size, {@code wanted}) members and returns when all are done. A member's failure is
     * rethrown here as it was thrown, whichever member it was (every other member's is added to it as suppressed).
     */
    void run(Task task, int wanted) {
        if (closed) {
            throw new IllegalStateException("the thread team is closed");
        }
        int count = Math.max(1, Math.min(size, wanted));
        if (count == 1) {
            task.run(0);
            return;
        }
        if (workers == null) {
            start();
        }
        this.task = task;
        workersDone.set(0);
        tasks++;
        for (int w = 0; w < count - 1; w++) {
            handedOut.set(w, tasks); // the volatile write that hands the task to this worker alone
            LockSupport.unpark(workers[w]);
        }
        Throwable failure = null;
        try {
            task.run(0);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        long waitingSince = System.nanoTime();
        while (workersDone.get() < count - 1) {
            pause(waitingSince);
        }
        Throwable workerThrew = workerFailure.getAndSet(null);
        if (failure == null) {
            failure = workerThrew;
        } else {
            suppress(failure, workerThrew);
        }
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure != null) {
            throw (Error) failure; // a task throws nothing checked
        }
    }

    /** All workers, or none: a thread that cannot be started closes the team. */
    private void start() {
        Thread[] started = new Thread[size - 1];
        for (int i = 0; i < started.length; i++) {
            int member = i + 1;
            started[i] = new Thread(() -> work(member), "microgpt-cpu-" + member);
            started[i].setDaemon(true);
        }
        for (int i = 0; i < started.length; i++) {
            try {
                started[i].start();
            } catch (RuntimeException | Error e) {
                closed = true; // the ones already started end
                throw e;
            }
        }
        workers = started;
    }

    private void work(int member) {
        int seen = 0;
        long idleSince = System.nanoTime();
        while (!closed) {
            int handed = handedOut.get(member - 1);
            if (handed != seen) {
                seen = handed;
                try {
                    task.run(member);
                } catch (Throwable e) {
                    if (!workerFailure.compareAndSet(null, e)) {
                        suppress(workerFailure.get(), e); // Throwable.addSuppressed is synchronized
                    }
                }
                workersDone.incrementAndGet(); // the next task is handed out only after this
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                pause(idleSince);
            } else {
                LockSupport.park(this); // unparked by a task that wants this member, or by close
            }
        }
    }

    /** Adds {@code other} to {@code first} as suppressed, unless it is none or the same throwable (thrown twice). */
    private static void suppress(Throwable first, Throwable other) {
        if (other != null && other != first) {
            first.addSuppressed(other);
        }
    }

    /**
     * A moment of waiting that began at {@code since}: a spin at first, then a yield, so that a member waiting for a
     * core (more threads than cores, or a busy machine) gets this one instead of the waiting threads taking turns.
     */
    private static void pause(long since) {
        if (System.nanoTime() - since < YIELD_AFTER_NANOS) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    /** Ends the workers; the team runs no more tasks. */
    @Override
    public void close() {
        closed = true;
        if (workers != null) {
            for (Thread worker : workers) {
                LockSupport.unpark(worker);
            }
        }
    }
}
