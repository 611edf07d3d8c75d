package dev.microgpt.cli;

import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Turns the first Ctrl-C (SIGINT) during training into a request to stop at the next step boundary, so that the
 * run can save a checkpoint; a second Ctrl-C ends the process at once. Outside training Ctrl-C keeps its usual
 * effect: the handler is put back when training ends.
 */
final class Interrupts implements AutoCloseable {

    /** Exit status of a process ended by SIGINT, by shell convention (128 + 2). */
    static final int EXIT_CODE = 130;

    private static final Signal INT = new Signal("INT");
    private static final AtomicBoolean REQUESTED = new AtomicBoolean();

    private final SignalHandler previous; // null where the JVM allows no handler

    private Interrupts(SignalHandler previous) {
        this.previous = previous;
    }

    /** Installs the handler for the duration of training; where the JVM does not allow it, Ctrl-C keeps its effect. */
    static Interrupts duringTraining() {
        try {
            return new Interrupts(Signal.handle(INT, signal -> {
                if (!REQUESTED.compareAndSet(false, true)) {
                    Runtime.getRuntime().halt(EXIT_CODE);
                }
            }));
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return new Interrupts(null); // no SIGINT handling in this JVM configuration (e.g. -Xrs)
        }
    }

    static boolean requested() {
        return REQUESTED.get();
    }

    @Override
    public void close() {
        if (previous != null) {
            Signal.handle(INT, previous);
        }
    }
}
