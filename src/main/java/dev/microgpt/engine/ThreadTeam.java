package dev.microgpt.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The cores a training step is spread over: the calling thread and {@code size - 1} worker threads, which run one
 * task at a time together, each as a member with its own index (the caller is member 0). A task takes its share of the
 * work by claiming items from a counter of its own, so a member the OS does not schedule only means the others do more.
 * Handing a task out allocates nothing, so a training loop on a team stays allocation-free. Between tasks a worker
 * spins for {@value #SPIN_NANOS} ns (a step's tasks come microseconds apart), then parks until the next one; the
 * workers start with the first task and end with {@link #close}.
 */
final class ThreadTeam implements AutoCloseable {

    /** One member's part of a task; {@code member} is 0 for the calling thread, 1 to size - 1 for the workers. */
    @FunctionalInterface
    interface Task {
        void run(int member);
    }

    private static final long SPIN_NANOS = 1_000_000;
    private static final long YIELD_AFTER_NANOS = 50_000;

    private final int size;
    private final Thread[] workers; // [size - 1], started with the first task
    private final AtomicInteger workersDone = new AtomicInteger();
    private Task task;                // written before the generation that hands it out
    private volatile int generation;  // tasks handed out (written by the calling thread only)
    private volatile Throwable workerFailure;
    private volatile boolean closed;

    ThreadTeam(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("a team has at least one thread, got " + size);
        }
        this.size = size;
        this.workers = new Thread[size - 1];
    }

    int size() {
        return size;
    }

    /** Runs {@code task} on every member and returns when all are done; a member's failure is rethrown here. */
    void run(Task task) {
        if (closed) {
            throw new IllegalStateException("the thread team is closed");
        }
        if (workers.length == 0) {
            task.run(0);
            return;
        }
        if (workers[0] == null) {
            start();
        }
        this.task = task;
        workersDone.set(0);
        generation = generation + 1; // the volatile write that hands the task out
        for (Thread worker : workers) {
            LockSupport.unpark(worker);
        }
        Throwable failure;
        try {
            task.run(0);
        } finally {
            long waitingSince = System.nanoTime();
            while (workersDone.get() < workers.length) {
                pause(waitingSince);
            }
            failure = workerFailure;
            workerFailure = null;
        }
        if (failure != null) {
            throw new IllegalStateException("a training thread failed: " + failure, failure);
        }
    }

    private void start() {
        for (int i = 0; i < workers.length; i++) {
            int member = i + 1;
            workers[i] = new Thread(() -> work(member), "microgpt-cpu-" + member);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    private void work(int member) {
        int seen = 0;
        long idleSince = System.nanoTime();
        while (!closed) {
            int g = generation;
            if (g != seen) {
                seen = g;
                try {
                    task.run(member);
                } catch (Throwable e) {
                    workerFailure = e;
                }
                workersDone.incrementAndGet();
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                pause(idleSince);
            } else {
                LockSupport.park(this); // unparked by the next task, or by close
            }
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
        for (Thread worker : workers) {
            if (worker != null) {
                LockSupport.unpark(worker);
            }
        }
    }
}
